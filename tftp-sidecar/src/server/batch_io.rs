//! Batched UDP system calls (Linux): the kernel's per-datagram work cannot be avoided, but
//! one system call per batch instead of one per datagram can.
//!
//! - [`send_segmented`]: one `sendmsg` with `UDP_SEGMENT` (GSO) sends a whole TFTP window
//!   to one client; the kernel cuts it into datagrams of `segment` bytes.
//! - [`RecvBatch`]: one `recvmmsg` reads up to [`BATCH`] datagrams from a listening socket.
//! - [`SendQueue`]: datagrams for many clients, sent with one `sendmmsg` (single-port mode,
//!   where every reply leaves the listening socket).
//!
//! Everything here is non-blocking and returns `WouldBlock` like the plain calls, so tokio's
//! `try_io` drives it. The only `unsafe` of the batching lives in this file.

use std::io;
use std::mem::{size_of, zeroed, MaybeUninit};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

use socket2::SockAddr;

use super::socket::{build_pktinfo, parse_pktinfo};

/// Datagrams per `recvmmsg`/`sendmmsg`.
pub const BATCH: usize = 64;
/// Most datagrams the kernel accepts in one GSO send (`UDP_MAX_SEGMENTS` before Linux 6.10).
pub const MAX_SEGMENTS: usize = 64;
/// Largest GSO payload: one IP datagram's worth, less the IPv6 and UDP headers.
pub const MAX_GSO_BYTES: usize = 65535 - 40 - 8;

/// How many datagrams of `segment` bytes fit one GSO send.
pub fn segments_per_send(segment: usize) -> usize {
    if segment == 0 {
        return 1;
    }
    (MAX_GSO_BYTES / segment).clamp(1, MAX_SEGMENTS)
}

fn cvt(rc: libc::c_int) -> io::Result<usize> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// Send `buf` to `peer` as datagrams of `segment` bytes (the last may be shorter) in one
/// system call. Fails with the kernel's error where GSO does not apply (old kernels, a
/// segment larger than the route's MTU, devices without checksum offload): the caller then
/// sends the datagrams one by one.
pub fn send_segmented(
    sock: &impl AsRawFd,
    buf: &[u8],
    segment: u16,
    peer: SocketAddr,
) -> io::Result<usize> {
    let addr = SockAddr::from(peer);
    let mut iov = libc::iovec {
        iov_base: buf.as_ptr() as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // Room for one cmsg carrying a u16, aligned as the kernel wants.
    let mut control = [0u64; 4];
    // SAFETY: msghdr is plain data; every pointer set below outlives the sendmsg call,
    // and the cmsg is written inside `control`, whose length CMSG_SPACE(2) never exceeds.
    unsafe {
        let mut msg: libc::msghdr = zeroed();
        msg.msg_name = addr.as_ptr() as *mut libc::c_void;
        msg.msg_namelen = addr.len();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr() as *mut libc::c_void;
        msg.msg_controllen = libc::CMSG_SPACE(size_of::<u16>() as u32) as usize;
        let cm = libc::CMSG_FIRSTHDR(&msg);
        (*cm).cmsg_level = libc::SOL_UDP;
        (*cm).cmsg_type = libc::UDP_SEGMENT;
        (*cm).cmsg_len = libc::CMSG_LEN(size_of::<u16>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cm) as *mut u16, segment);
        let rc = libc::sendmsg(sock.as_raw_fd(), &msg, libc::MSG_DONTWAIT);
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc as usize)
        }
    }
}

/// One datagram of a [`RecvBatch`].
pub struct Datagram<'a> {
    pub data: &'a [u8],
    /// `None` for a sender that is not an IP address.
    pub from: Option<SocketAddr>,
    /// The address it was sent to (port 0), when the batch asks (wildcard listeners; the
    /// socket needs `socket::enable_pktinfo`). `None` for a broadcast or multicast
    /// destination, which is no address to answer from.
    pub dst: Option<SocketAddr>,
    /// It filled its slot and may have been cut.
    pub truncated: bool,
}

/// Control-message room per datagram: one in6_pktinfo (the larger) with its header.
const CONTROL_WORDS: usize = 8;
const CONTROL_BYTES: usize = CONTROL_WORDS * 8;

/// Buffers for one `recvmmsg`: [`BATCH`] datagrams of up to `slot` bytes each.
pub struct RecvBatch {
    slot: usize,
    data: Vec<u8>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
    addr_lens: Vec<libc::socklen_t>,
    truncated: Vec<bool>,
    /// Per-datagram control buffers, only when destinations are wanted.
    control: Vec<[u64; CONTROL_WORDS]>,
    dsts: Vec<Option<SocketAddr>>,
    count: usize,
}

impl RecvBatch {
    pub fn new(slot: usize, want_dst: bool) -> Self {
        RecvBatch {
            slot,
            data: vec![0; slot * BATCH],
            // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
            addrs: vec![unsafe { zeroed() }; BATCH],
            lens: vec![0; BATCH],
            addr_lens: vec![0; BATCH],
            truncated: vec![false; BATCH],
            control: if want_dst {
                vec![[0; CONTROL_WORDS]; BATCH]
            } else {
                Vec::new()
            },
            dsts: vec![None; BATCH],
            count: 0,
        }
    }

    /// Read what the socket holds, up to [`BATCH`] datagrams; `WouldBlock` when none.
    pub fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        self.count = 0;
        let want_dst = !self.control.is_empty();
        let mut iovs: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
        // SAFETY: mmsghdr is plain data (all-zero is valid); each one points into this
        // batch's own buffers, which outlive the call; the kernel writes at most slot bytes
        // per iovec, sizeof(sockaddr_storage) per name and msg_controllen per control buffer.
        let n = unsafe {
            let mut msgs: [libc::mmsghdr; BATCH] = zeroed();
            for (i, m) in msgs.iter_mut().enumerate() {
                iovs[i].write(libc::iovec {
                    iov_base: self.data.as_mut_ptr().add(i * self.slot) as *mut libc::c_void,
                    iov_len: self.slot,
                });
                m.msg_hdr.msg_iov = iovs[i].as_mut_ptr();
                m.msg_hdr.msg_iovlen = 1;
                m.msg_hdr.msg_name = &mut self.addrs[i] as *mut _ as *mut libc::c_void;
                m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                if want_dst {
                    m.msg_hdr.msg_control = self.control[i].as_mut_ptr() as *mut libc::c_void;
                    m.msg_hdr.msg_controllen = size_of::<[u64; CONTROL_WORDS]>() as _;
                }
            }
            let n = cvt(libc::recvmmsg(
                sock.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            ))?;
            for (i, m) in msgs.iter().take(n).enumerate() {
                self.lens[i] = m.msg_len as usize;
                self.addr_lens[i] = m.msg_hdr.msg_namelen;
                self.truncated[i] = m.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
                self.dsts[i] = if want_dst {
                    #[allow(clippy::unnecessary_cast)] // size_t in glibc, socklen_t in musl
                    let len = (m.msg_hdr.msg_controllen as usize).min(CONTROL_BYTES);
                    let control =
                        std::slice::from_raw_parts(self.control[i].as_ptr() as *const u8, len);
                    parse_pktinfo(control)
                } else {
                    None
                };
            }
            n
        };
        self.count = n;
        Ok(n)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Datagram `i` of the last receive.
    pub fn get(&self, i: usize) -> Datagram<'_> {
        let start = i * self.slot;
        // SAFETY: the kernel filled addrs[i] and reported its length in addr_lens[i].
        let from = unsafe { SockAddr::new(self.addrs[i], self.addr_lens[i]) }.as_socket();
        Datagram {
            data: &self.data[start..start + self.lens[i].min(self.slot)],
            from,
            dst: self.dsts[i],
            truncated: self.truncated[i],
        }
    }
}

/// Datagrams waiting to leave one socket, for many peers.
#[derive(Default)]
pub struct SendQueue {
    bytes: Vec<u8>,
    /// (peer, source address or None for the kernel's choice, start, len) into `bytes`.
    packets: Vec<(SockAddr, Option<SocketAddr>, usize, usize)>,
    /// Index of the first packet not yet sent.
    sent: usize,
    /// Control messages (source addresses) of one sendmmsg, allocated at the first flush.
    control: Vec<[u64; CONTROL_WORDS]>,
}

impl SendQueue {
    /// Queue `packet` for `peer`, from `src` when given (a wildcard socket answering from
    /// the address the client asked), else from the kernel's choice.
    pub fn push(&mut self, packet: &[u8], peer: SocketAddr, src: Option<SocketAddr>) {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(packet);
        self.packets
            .push((SockAddr::from(peer), src, start, packet.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.sent == self.packets.len()
    }

    pub fn len(&self) -> usize {
        self.packets.len() - self.sent
    }

    /// Send queued datagrams, [`BATCH`] per system call, until the queue is empty
    /// (`Ok`) or the socket would block (`WouldBlock`; the rest stays queued). A datagram
    /// the kernel refuses (e.g. no route to its peer) is dropped, as a failed `send_to`
    /// would be: the sender's retransmit timer covers it. Returns datagrams sent.
    pub fn flush(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        let mut total = 0;
        if self.control.is_empty() {
            self.control = vec![[0; CONTROL_WORDS]; BATCH];
        }
        while !self.is_empty() {
            let pending = &self.packets[self.sent..];
            let n = pending.len().min(BATCH);
            let mut iovs: [MaybeUninit<libc::iovec>; BATCH] = [MaybeUninit::uninit(); BATCH];
            // build_pktinfo writes (and zero-pads) all of each message it uses.
            let control = &mut self.control;
            // SAFETY: as in RecvBatch::recv; the kernel only reads these buffers, and each
            // control message is written inside its own `control` entry.
            let rc = unsafe {
                let mut msgs: [libc::mmsghdr; BATCH] = zeroed();
                for (i, (peer, src, start, len)) in pending.iter().take(n).enumerate() {
                    iovs[i].write(libc::iovec {
                        iov_base: self.bytes.as_ptr().add(*start) as *mut libc::c_void,
                        iov_len: *len,
                    });
                    let m = &mut msgs[i].msg_hdr;
                    m.msg_iov = iovs[i].as_mut_ptr();
                    m.msg_iovlen = 1;
                    m.msg_name = peer.as_ptr() as *mut libc::c_void;
                    m.msg_namelen = peer.len();
                    if let Some(src) = src {
                        let buf = std::slice::from_raw_parts_mut(
                            control[i].as_mut_ptr() as *mut u8,
                            CONTROL_BYTES,
                        );
                        m.msg_controllen = build_pktinfo(*src, buf) as _;
                        m.msg_control = control[i].as_mut_ptr() as *mut libc::c_void;
                    }
                }
                libc::sendmmsg(
                    sock.as_raw_fd(),
                    msgs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            match cvt(rc) {
                Ok(0) => self.sent += 1,
                Ok(k) => {
                    self.sent += k;
                    total += k;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.compact();
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The first datagram failed: drop it and go on with the rest.
                Err(_) => self.sent += 1,
            }
        }
        self.bytes.clear();
        self.packets.clear();
        self.sent = 0;
        Ok(total)
    }

    /// Drop the sent prefix, so a queue that stays blocked holds only what is unsent (its
    /// size is bounded by the sessions: each queues at most one window before it waits).
    fn compact(&mut self) {
        if self.sent == 0 {
            return;
        }
        let first = self.packets[self.sent].2;
        self.bytes.drain(..first);
        self.packets.drain(..self.sent);
        for p in &mut self.packets {
            p.2 -= first;
        }
        self.sent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn pair() -> (UdpSocket, UdpSocket) {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        (a, b)
    }

    #[test]
    fn segments_per_send_respects_both_limits() {
        assert_eq!(segments_per_send(516), 64);
        assert_eq!(segments_per_send(1472), 44);
        assert_eq!(segments_per_send(8196), 7);
        assert_eq!(segments_per_send(65464 + 4), 1);
        assert_eq!(segments_per_send(0), 1);
    }

    #[test]
    fn segmented_send_arrives_as_separate_datagrams() {
        let (a, b) = pair();
        let mut buf = Vec::new();
        for i in 0..3u8 {
            buf.extend(std::iter::repeat_n(i, 100));
        }
        buf.extend_from_slice(&[9; 40]); // short last segment
        let sent = send_segmented(&a, &buf, 100, b.local_addr().unwrap()).unwrap();
        assert_eq!(sent, buf.len());
        let mut got = [0u8; 200];
        for i in 0..3u8 {
            let (n, _) = b.recv_from(&mut got).unwrap();
            assert_eq!(&got[..n], &[i; 100][..]);
        }
        let (n, _) = b.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], &[9; 40][..]);
    }

    #[test]
    fn queue_sends_to_many_peers_and_batch_receives() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peers: Vec<UdpSocket> = (0..3)
            .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
            .collect();
        let mut q = SendQueue::default();
        for _ in 0..50 {
            for (i, p) in peers.iter().enumerate() {
                q.push(&[i as u8; 7], p.local_addr().unwrap(), None);
            }
        }
        assert_eq!(q.len(), 150);
        assert_eq!(q.flush(&a).unwrap(), 150);
        assert!(q.is_empty());
        for (i, p) in peers.iter().enumerate() {
            p.set_nonblocking(true).unwrap();
            let mut batch = RecvBatch::new(16, false);
            let mut seen = 0;
            while let Ok(n) = batch.recv(p) {
                for k in 0..n {
                    let d = batch.get(k);
                    assert_eq!(d.data, &[i as u8; 7][..]);
                    assert_eq!(d.from, Some(a.local_addr().unwrap()));
                    assert_eq!(d.dst, None);
                    assert!(!d.truncated);
                }
                seen += n;
            }
            assert_eq!(seen, 50);
        }
    }

    #[test]
    fn receive_reports_truncation() {
        let (a, b) = pair();
        b.set_nonblocking(true).unwrap();
        a.send_to(&[1; 32], b.local_addr().unwrap()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut batch = RecvBatch::new(8, false);
        assert_eq!(batch.recv(&b).unwrap(), 1);
        let d = batch.get(0);
        assert_eq!(d.data.len(), 8);
        assert!(d.truncated);
    }

    /// A wildcard socket learns each datagram's destination and answers from it: here
    /// 127.0.0.2, which the kernel would not pick by itself for a reply to 127.0.0.1.
    #[tokio::test]
    async fn wildcard_socket_sees_destination_and_answers_from_it() {
        use super::super::socket::{bind_udp, enable_pktinfo};
        let server = bind_udp("0.0.0.0:0".parse().unwrap(), None).unwrap();
        enable_pktinfo(&server).unwrap();
        let port = server.local_addr().unwrap().port();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        client.send_to(b"hi", ("127.0.0.2", port)).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let mut batch = RecvBatch::new(64, true);
        assert_eq!(batch.recv(&server).unwrap(), 1);
        let d = batch.get(0);
        assert_eq!(d.data, b"hi");
        assert_eq!(d.dst, Some("127.0.0.2:0".parse().unwrap()));
        let (from, dst) = (d.from.unwrap(), d.dst);
        let mut q = SendQueue::default();
        q.push(b"re", from, dst);
        q.flush(&server).unwrap();
        let mut got = [0u8; 8];
        let (n, replier) = client.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], b"re");
        assert_eq!(replier, SocketAddr::new("127.0.0.2".parse().unwrap(), port));
    }

    #[test]
    fn empty_socket_would_block() {
        let (_a, b) = pair();
        b.set_nonblocking(true).unwrap();
        let err = RecvBatch::new(8, false).recv(&b).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    #[test]
    fn unreachable_peer_is_dropped_not_stuck() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let good = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut q = SendQueue::default();
        // An IPv6 destination on an IPv4 socket: EAFNOSUPPORT for that datagram only.
        q.push(b"x", "[::1]:9".parse().unwrap(), None);
        q.push(b"y", good.local_addr().unwrap(), None);
        q.flush(&a).unwrap();
        assert!(q.is_empty());
        good.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut got = [0u8; 4];
        let (n, _) = good.recv_from(&mut got).unwrap();
        assert_eq!(&got[..n], b"y");
    }
}
