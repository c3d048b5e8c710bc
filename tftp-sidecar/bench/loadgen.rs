//! tftp-loadgen: a one-thread, epoll-driven TFTP read load generator.
//!
//! Every transfer has its own UDP socket (servers tell clients apart by address), all
//! driven by one level-triggered epoll loop: one recvfrom + at most one sendto per DATA,
//! no per-packet allocation, no async runtime. It also samples the server's CPU time and
//! memory from /proc and the drops counter of the server's listening socket.
//!
//! Packets are made and read with the sidecar's own codec (`tftp_sidecar::packet`), except
//! DATA, whose header is read in place (decoding would copy every block).
//!
//! Usage: `tftp-loadgen --files LIST [--server ADDR] [--count N] [--concurrency C] ...`
//! (`--help` lists every flag). Prints one JSON object.

use std::collections::HashMap;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use clap::Parser;
use tftp_sidecar::packet::{self, Packet, Request};

/// A one-thread, epoll-driven TFTP read load generator; prints one JSON object.
#[derive(Parser)]
#[command(name = "tftp-loadgen")]
struct Args {
    /// The server's TFTP address.
    #[arg(long, default_value = "127.0.0.1:69")]
    server: SocketAddr,
    /// A file of names (one per line), or `name:NAME`; transfer i asks for name i % len.
    #[arg(long = "files", value_name = "LIST", value_parser = parse_names)]
    names: Names,
    /// Transfers in all.
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Transfers at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    #[arg(long)]
    blksize: Option<u16>,
    #[arg(long)]
    windowsize: Option<u16>,
    /// Ask `tsize=0`.
    #[arg(long)]
    tsize: bool,
    /// Fail a transfer whose size differs.
    #[arg(long, value_name = "BYTES")]
    expect_size: Option<u64>,
    /// The server's pid: sample its CPU time and memory from /proc.
    #[arg(long)]
    pid: Option<u32>,
    /// With --pid: sample the pid's whole process tree.
    #[arg(long)]
    tree: bool,
    /// Resend after this much silence.
    #[arg(long = "timeout-ms", value_name = "MS", default_value = "1000", value_parser = parse_ms)]
    timeout: Duration,
    #[arg(long, default_value_t = 10)]
    retries: u32,
    /// Copied into the JSON output.
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Clone)]
struct Names(Vec<String>);

fn parse_names(list: &str) -> Result<Names, String> {
    let names: Vec<String> = match list.strip_prefix("name:") {
        Some(n) => vec![n.to_string()],
        None => fs::read_to_string(list)
            .map_err(|e| format!("{list}: {e}"))?
            .lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect(),
    };
    if names.is_empty() {
        return Err(format!("{list} names no file"));
    }
    Ok(Names(names))
}

fn parse_ms(ms: &str) -> Result<Duration, String> {
    ms.parse()
        .map(Duration::from_millis)
        .map_err(|e| format!("{ms:?}: {e}"))
}

struct Xfer {
    sock: UdpSocket,
    tid: Option<SocketAddr>,
    expected: u64,
    blksize: usize,
    window: u32,
    since_ack: u32,
    bytes: u64,
    start: Instant,
    last: Instant,
    tries: u32,
    name: usize,
}

fn rrq(a: &Args, name: &str) -> Vec<u8> {
    let mut options = Vec::new();
    if let Some(b) = a.blksize {
        options.push(("blksize".into(), b.to_string()));
    }
    if let Some(w) = a.windowsize {
        options.push(("windowsize".into(), w.to_string()));
    }
    if a.tsize {
        options.push(("tsize".into(), "0".into()));
    }
    Packet::Rrq(Request {
        filename: name.as_bytes().to_vec(),
        mode: "octet".into(),
        options,
    })
    .encode()
}

fn ack(x: &Xfer, block: u16) {
    // Four bytes on the stack: no allocation per packet.
    let mut p = [0u8; 4];
    p[..2].copy_from_slice(&packet::OP_ACK.to_be_bytes());
    p[2..].copy_from_slice(&block.to_be_bytes());
    if let Some(tid) = x.tid {
        let _ = x.sock.send_to(&p, tid);
    }
}

// ---- /proc sampling ----

fn clk_tck() -> f64 {
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) as f64 }
}

/// (utime+stime ticks, ppid) of a pid.
fn stat_of(pid: u32) -> Option<(u64, u32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let ut: u64 = f.get(11)?.parse().ok()?;
    let st: u64 = f.get(12)?.parse().ok()?;
    Some((ut + st, ppid))
}

fn status_kb(pid: u32, key: &str) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// The pid and its descendants.
fn tree(root: u32) -> Vec<u32> {
    let mut parent: HashMap<u32, u32> = HashMap::new();
    if let Ok(d) = fs::read_dir("/proc") {
        for e in d.flatten() {
            if let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                if let Some((_, pp)) = stat_of(pid) {
                    parent.insert(pid, pp);
                }
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        let p = out[i];
        out.extend(parent.iter().filter(|(_, &pp)| pp == p).map(|(&c, _)| c));
        i += 1;
    }
    out
}

fn machine_busy_ticks() -> u64 {
    let s = fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = f.iter().take(8).sum();
    total - f.get(3).copied().unwrap_or(0) - f.get(4).copied().unwrap_or(0)
}

fn self_cpu_s() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Drops counted on UDP sockets bound to `port` (the listening socket).
fn udp_drops(port: u16) -> u64 {
    let mut total = 0;
    for f in ["/proc/net/udp", "/proc/net/udp6"] {
        for l in fs::read_to_string(f).unwrap_or_default().lines().skip(1) {
            let c: Vec<&str> = l.split_whitespace().collect();
            let Some(local) = c.get(1) else { continue };
            let p = local
                .rsplit(':')
                .next()
                .and_then(|h| u16::from_str_radix(h, 16).ok());
            if p == Some(port) {
                total += c.last().and_then(|d| d.parse::<u64>().ok()).unwrap_or(0);
            }
        }
    }
    total
}

/// Packets the kernel dropped from full per-CPU input backlogs (loopback delivery).
fn softnet_drops() -> u64 {
    fs::read_to_string("/proc/net/softnet_stat")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(|h| u64::from_str_radix(h, 16).ok())
        .sum()
}

struct Sampler {
    pid: Option<u32>,
    tree: bool,
    /// Highest CPU ticks seen per pid (children of a forking server come and go).
    cpu: HashMap<u32, u64>,
    start_cpu: HashMap<u32, u64>,
    peak_rss_kb: u64,
}

impl Sampler {
    fn sample(&mut self) {
        let Some(pid) = self.pid else { return };
        let pids = if self.tree { tree(pid) } else { vec![pid] };
        let mut rss = 0;
        for p in pids {
            if let Some((t, _)) = stat_of(p) {
                let e = self.cpu.entry(p).or_insert(0);
                *e = (*e).max(t);
            }
            rss += status_kb(p, "VmRSS:");
        }
        self.peak_rss_kb = self.peak_rss_kb.max(rss);
    }

    fn cpu_s(&self) -> f64 {
        let ticks: u64 = self
            .cpu
            .iter()
            .map(|(p, t)| t - self.start_cpu.get(p).copied().unwrap_or(0))
            .sum();
        ticks as f64 / clk_tck()
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[allow(clippy::needless_range_loop)] // slots are taken out by index while iterating
fn main() {
    let a = Args::parse();
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let bind: SocketAddr = if a.server.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .unwrap();
    let rrqs: Vec<Vec<u8>> = a.names.0.iter().map(|n| rrq(&a, n)).collect();
    let mut slots: Vec<Option<Xfer>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut durations: Vec<f64> = Vec::with_capacity(a.count);
    let (mut started, mut done, mut ok, mut active) = (0usize, 0usize, 0usize, 0usize);
    let mut failures: HashMap<String, usize> = HashMap::new();
    let mut bytes_total = 0u64;
    let mut client_timeouts = 0u64;
    let mut buf = vec![0u8; 65536 + 8];
    let mut events: Vec<libc::epoll_event> = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];

    let mut sampler = Sampler {
        pid: a.pid,
        tree: a.tree,
        cpu: HashMap::new(),
        start_cpu: HashMap::new(),
        peak_rss_kb: 0,
    };
    sampler.sample();
    sampler.start_cpu = sampler.cpu.clone();
    let drops0 = udp_drops(a.server.port());
    let softnet0 = softnet_drops();
    let busy0 = machine_busy_ticks();
    let self0 = self_cpu_s();
    let t0 = Instant::now();
    let mut last_sweep = t0;
    let mut last_sample = t0;

    macro_rules! finish {
        ($i:expr, $res:expr) => {{
            let x = slots[$i].take().unwrap();
            unsafe {
                libc::epoll_ctl(
                    ep,
                    libc::EPOLL_CTL_DEL,
                    x.sock.as_raw_fd(),
                    std::ptr::null_mut(),
                );
            }
            free.push($i);
            active -= 1;
            done += 1;
            let r: Result<(), String> = $res;
            match r {
                Ok(()) => {
                    ok += 1;
                    bytes_total += x.bytes;
                    durations.push(x.start.elapsed().as_secs_f64() * 1000.0);
                }
                Err(e) => *failures.entry(e).or_insert(0) += 1,
            }
        }};
    }

    while done < a.count {
        let now = Instant::now();
        while active < a.concurrency && started < a.count {
            let sock = UdpSocket::bind(bind).expect("bind client socket");
            sock.set_nonblocking(true).unwrap();
            let name = started % rrqs.len();
            let _ = sock.send_to(&rrqs[name], a.server);
            let i = free.pop().unwrap_or_else(|| {
                slots.push(None);
                slots.len() - 1
            });
            let mut ev = libc::epoll_event {
                events: libc::EPOLLIN as u32,
                u64: i as u64,
            };
            unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, sock.as_raw_fd(), &mut ev) };
            slots[i] = Some(Xfer {
                sock,
                tid: None,
                expected: 1,
                blksize: 512,
                window: 1,
                since_ack: 0,
                bytes: 0,
                start: now,
                last: now,
                tries: 0,
                name,
            });
            started += 1;
            active += 1;
        }
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, 5) };
        let now = Instant::now();
        for ev in events.iter().take(n.max(0) as usize) {
            let i = ev.u64 as usize;
            let Some(x) = slots[i].as_mut() else { continue };
            // Level-triggered: one datagram per event saves the EAGAIN read.
            let Ok((len, from)) = x.sock.recv_from(&mut buf) else {
                continue;
            };
            if len < 4 {
                continue;
            }
            if let Some(tid) = x.tid {
                if from != tid {
                    continue;
                }
            }
            x.last = now;
            x.tries = 0;
            let op = u16::from_be_bytes([buf[0], buf[1]]);
            if op != packet::OP_DATA {
                match Packet::decode(&buf[..len]) {
                    Ok(Packet::Oack(options)) if x.tid.is_none() => {
                        x.tid = Some(from);
                        for (k, v) in options {
                            let v: u64 = v.parse().unwrap_or(0);
                            match k.to_ascii_lowercase().as_str() {
                                "blksize" => x.blksize = v as usize,
                                "windowsize" => x.window = v as u32,
                                _ => {}
                            }
                        }
                        ack(x, 0);
                    }
                    Ok(Packet::Error { code, message }) => {
                        finish!(i, Err(format!("ERROR {code}: {message}")));
                    }
                    _ => {}
                }
                continue;
            }
            // DATA: the header read in place.
            if x.tid.is_none() {
                x.tid = Some(from);
            }
            let block = u16::from_be_bytes([buf[2], buf[3]]);
            let data = len - 4;
            if block == (x.expected & 0xffff) as u16 {
                x.bytes += data as u64;
                x.expected += 1;
                x.since_ack += 1;
                if data < x.blksize {
                    ack(x, block);
                    let res = match a.expect_size {
                        Some(s) if s != x.bytes => Err(format!("size {} != {s}", x.bytes)),
                        _ => Ok(()),
                    };
                    finish!(i, res);
                } else if x.since_ack >= x.window {
                    ack(x, block);
                    x.since_ack = 0;
                }
            } else {
                // Duplicate or gap: say where we are.
                ack(x, ((x.expected - 1) & 0xffff) as u16);
                x.since_ack = 0;
            }
        }
        if now.duration_since(last_sweep) >= Duration::from_millis(20) {
            last_sweep = now;
            for i in 0..slots.len() {
                let Some(x) = slots[i].as_mut() else { continue };
                if now.duration_since(x.last) < a.timeout {
                    continue;
                }
                x.tries += 1;
                x.last = now;
                client_timeouts += 1;
                if x.tries > a.retries {
                    finish!(i, Err("timed out".to_string()));
                    continue;
                }
                match x.tid {
                    None => {
                        let _ = x.sock.send_to(&rrqs[x.name], a.server);
                    }
                    Some(_) => ack(x, ((x.expected - 1) & 0xffff) as u16),
                }
            }
        }
        if now.duration_since(last_sample) >= Duration::from_millis(if a.tree { 200 } else { 100 })
        {
            last_sample = now;
            sampler.sample();
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    sampler.sample();
    let client_cpu = self_cpu_s() - self0;
    let busy = (machine_busy_ticks() - busy0) as f64 / clk_tck();
    let drops = udp_drops(a.server.port()) - drops0;
    let softnet = softnet_drops() - softnet0;
    // A single process's own high-water mark beats sampling.
    if let (Some(pid), false) = (a.pid, a.tree) {
        sampler.peak_rss_kb = sampler.peak_rss_kb.max(status_kb(pid, "VmHWM:"));
    }
    durations.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let fails: Vec<String> = failures.iter().map(|(k, v)| format!("{v}x {k}")).collect();
    println!(
        "{{\"label\":{:?},\"count\":{},\"ok\":{},\"failed\":{},\"wall_s\":{:.3},\"bytes\":{},\"mb_per_s\":{:.2},\"transfers_per_s\":{:.1},\"p50_ms\":{:.1},\"p90_ms\":{:.1},\"p99_ms\":{:.1},\"max_ms\":{:.1},\"client_timeouts\":{},\"listen_drops\":{},\"softnet_drops\":{},\"server_cpu_s\":{:.2},\"server_peak_rss_kb\":{},\"client_cpu_s\":{:.2},\"machine_busy_minus_client_s\":{:.2},\"failures\":{:?}}}",
        a.label,
        a.count,
        ok,
        a.count - ok,
        wall,
        bytes_total,
        bytes_total as f64 / wall / 1e6,
        ok as f64 / wall,
        pct(&durations, 0.5),
        pct(&durations, 0.9),
        pct(&durations, 0.99),
        pct(&durations, 1.0),
        client_timeouts,
        drops,
        softnet,
        sampler.cpu_s(),
        sampler.peak_rss_kb,
        client_cpu,
        (busy - client_cpu).max(0.0),
        fails.join("; "),
    );
}
