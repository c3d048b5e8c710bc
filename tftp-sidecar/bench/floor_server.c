// floor_server: the least work a TFTP read server can do per block on this kernel, as a
// reference row in the benchmark (not a real server: no options, no retransmits, no
// timeouts, no limits, no metrics; files read into memory once and kept).
//
//   floor_server ROOT PORT ephemeral   one socket per transfer, epoll, recv + sendto per block
//   floor_server ROOT PORT batched     every reply from the listening socket, recvmmsg +
//                                      sendmmsg batches of up to 256 datagrams
//
// Only 512-byte lock-step (RFC 1350) transfers; an RRQ's options are ignored. Its CPU
// seconds per GB are what the kernel's UDP path costs: a server's own logic comes on top.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLK 512
#define MAXB 256

struct xfer {
    int fd;                  // ephemeral mode: the transfer's socket; batched: -1
    struct sockaddr_in peer;
    char *data;
    size_t size;
    uint32_t block;          // block in flight (1-based, not wrapped)
    int used;
    int ever;                // batched: slot was used once (probe chains go past it)
};

static const char *root;
static struct xfer *xf;
static int nxf = 65536;

// Files are read once and kept (open addressing by name): the benchmark's files are
// cached for every server.
#define FILES 16384
static struct file { char *name; char *data; size_t size; } files[FILES];

static uint32_t hash(const char *s) {
    uint32_t h = 2166136261u;
    while (*s) h = (h ^ (uint8_t)*s++) * 16777619u;
    return h;
}

static char *load(const char *name, size_t *size) {
    if (strstr(name, "..") || name[0] == '/') return NULL;
    uint32_t h = hash(name);
    struct file *f = NULL;
    for (int i = 0; i < FILES; i++) {
        f = &files[(h + i) % FILES];
        if (!f->name) break;
        if (strcmp(f->name, name) == 0) { *size = f->size; return f->data; }
    }
    if (!f || f->name) return NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", root, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    fstat(fd, &st);
    char *d = malloc(st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, d + got, st.st_size - got);
        if (r <= 0) break;
        got += r;
    }
    close(fd);
    f->name = strdup(name);
    f->data = d;
    f->size = got;
    *size = got;
    return d;
}

// DATA for x->block into out; returns its length.
static size_t data_pkt(struct xfer *x, char *out) {
    size_t off = (size_t)(x->block - 1) * BLK;
    size_t n = off >= x->size ? 0 : (x->size - off < BLK ? x->size - off : BLK);
    out[0] = 0; out[1] = 3; out[2] = (x->block >> 8) & 0xff; out[3] = x->block & 0xff;
    memcpy(out + 4, x->data + off, n);
    return n + 4;
}

static int last_block(struct xfer *x) { return (size_t)x->block * BLK > x->size; }

static struct xfer *new_xfer(struct xfer *slot) {
    if (!slot)
        for (int i = 0; i < nxf && !slot; i++)
            if (!xf[i].used) slot = &xf[i];
    if (!slot) return NULL;
    memset(slot, 0, sizeof *slot);
    slot->used = slot->ever = 1;
    slot->fd = -1;
    return slot;
}

static void finish(struct xfer *x) {
    if (x->fd >= 0) close(x->fd);
    x->used = 0;
}

// RRQ -> transfer, or NULL (the request is dropped: this is a floor, not a server).
static struct xfer *start(const char *pkt, ssize_t n, struct sockaddr_in *from, struct xfer *slot) {
    if (n < 4 || pkt[0] != 0 || pkt[1] != 1 || memchr(pkt + 2, 0, n - 2) == NULL) return NULL;
    size_t size;
    char *d = load(pkt + 2, &size);
    if (!d) return NULL;
    struct xfer *x = new_xfer(slot);
    if (!x) return NULL;
    x->data = d; x->size = size; x->peer = *from; x->block = 1;
    return x;
}

static int ack_of(const char *p, ssize_t n) {
    return (n >= 4 && p[0] == 0 && p[1] == 4) ? (((uint8_t)p[2] << 8) | (uint8_t)p[3]) : -1;
}

static int run_ephemeral(int lfd) {
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    struct epoll_event ev[MAXB];
    char buf[1024], out[BLK + 4];
    for (;;) {
        int n = epoll_wait(ep, ev, MAXB, -1);
        for (int k = 0; k < n; k++) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            if (ev[k].data.u64 == UINT64_MAX) {
                ssize_t r;
                while ((r = recvfrom(lfd, buf, sizeof buf - 1, MSG_DONTWAIT, (void *)&from, &fl)) > 0) {
                    buf[r] = 0;
                    struct xfer *x = start(buf, r, &from, NULL);
                    fl = sizeof from;
                    if (!x) continue;
                    x->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
                    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
                    bind(x->fd, (void *)&a, sizeof a);
                    struct epoll_event xe = {.events = EPOLLIN, .data.u64 = (uint64_t)(x - xf)};
                    epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &xe);
                    sendto(x->fd, out, data_pkt(x, out), 0, (void *)&x->peer, sizeof x->peer);
                }
                continue;
            }
            struct xfer *x = &xf[ev[k].data.u64];
            ssize_t r = recvfrom(x->fd, buf, sizeof buf, MSG_DONTWAIT, (void *)&from, &fl);
            if (ack_of(buf, r) != (int)(x->block & 0xffff)) continue;
            if (last_block(x)) { finish(x); continue; }
            x->block++;
            sendto(x->fd, out, data_pkt(x, out), 0, (void *)&x->peer, sizeof x->peer);
        }
    }
    return 0;
}

// Batched single-port: transfers keyed by client address (linear probe table).
static struct xfer *by_peer(struct sockaddr_in *a) {
    uint32_t h = (a->sin_addr.s_addr * 2654435761u) ^ (a->sin_port * 40503u);
    for (int i = 0; i < nxf; i++) {
        struct xfer *x = &xf[(h + i) % nxf];
        if (!x->ever) return NULL;
        if (x->used && x->peer.sin_port == a->sin_port && x->peer.sin_addr.s_addr == a->sin_addr.s_addr) return x;
    }
    return NULL;
}

static struct xfer *slot_for(struct sockaddr_in *a) {
    uint32_t h = (a->sin_addr.s_addr * 2654435761u) ^ (a->sin_port * 40503u);
    for (int i = 0; i < nxf; i++) {
        struct xfer *x = &xf[(h + i) % nxf];
        if (!x->used) return x;
    }
    return NULL;
}

static int run_batched(int lfd) {
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLET};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e);
    static char in[MAXB][1024], out[MAXB][BLK + 4];
    static struct sockaddr_in from[MAXB];
    struct mmsghdr rm[MAXB], sm[MAXB];
    struct iovec ri[MAXB], si[MAXB];
    for (;;) {
        for (int k = 0; k < MAXB; k++) {
            ri[k] = (struct iovec){in[k], sizeof in[k] - 1};
            rm[k].msg_hdr = (struct msghdr){.msg_name = &from[k], .msg_namelen = sizeof from[k], .msg_iov = &ri[k], .msg_iovlen = 1};
        }
        int n = recvmmsg(lfd, rm, MAXB, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN) return 1;
            epoll_wait(ep, &e, 1, -1);
            continue;
        }
        int m = 0;
        for (int k = 0; k < n; k++) {
            ssize_t r = rm[k].msg_len;
            struct xfer *x = by_peer(&from[k]);
            if (!x) {
                in[k][r] = 0;
                struct xfer *slot = slot_for(&from[k]);
                x = slot ? start(in[k], r, &from[k], slot) : NULL;
                if (!x) continue;
            } else {
                if (ack_of(in[k], r) != (int)(x->block & 0xffff)) continue;
                if (last_block(x)) { finish(x); continue; }
                x->block++;
            }
            si[m] = (struct iovec){out[m], data_pkt(x, out[m])};
            sm[m].msg_hdr = (struct msghdr){.msg_name = &x->peer, .msg_namelen = sizeof x->peer, .msg_iov = &si[m], .msg_iovlen = 1};
            m++;
        }
        for (int done = 0; done < m;) {
            int s = sendmmsg(lfd, sm + done, m - done, 0);
            if (s <= 0) break;
            done += s;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: floor_server ROOT PORT ephemeral|batched\n");
        return 2;
    }
    root = argv[1];
    xf = calloc(nxf, sizeof *xf);
    int lfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    int rb = 4 << 20;
    setsockopt(lfd, SOL_SOCKET, SO_RCVBUFFORCE, &rb, sizeof rb);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2])),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    if (strcmp(argv[3], "batched") == 0) return run_batched(lfd);
    return run_ephemeral(lfd);
}
