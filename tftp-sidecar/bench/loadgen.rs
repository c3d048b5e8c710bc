//! tftp-loadgen: a one-thread, epoll-driven TFTP read load generator.
//!
//! Every transfer has its own UDP socket (servers tell clients apart by address), all
//! driven by one level-triggered epoll loop: one recvfrom + at most one sendto per DATA,
//! no per-packet allocation, no async runtime. It also samples the server's CPU time and
//! memory from /proc and the drops counter of the server's listening socket.
//!
//! Usage:
//!   tftp-loadgen --server 127.0.0.1:69 --files LIST --count N --concurrency C
//!                [--blksize B] [--windowsize W] [--tsize] [--expect-size BYTES]
//!                [--pid PID] [--tree] [--timeout-ms 1000] [--retries 10] [--label TEXT]
//! LIST is a file of names (one per line) or `name:NAME`; transfer i asks for name i % len.
//! Prints one JSON object.

use std::collections::HashMap;
use std::fs;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

struct Args {
    server: SocketAddr,
    names: Vec<String>,
    count: usize,
    concurrency: usize,
    blksize: Option<u16>,
    windowsize: Option<u16>,
    tsize: bool,
    expect_size: Option<u64>,
    pid: Option<u32>,
    tree: bool,
    timeout: Duration,
    retries: u32,
    label: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        server: "127.0.0.1:69".parse().unwrap(),
        names: Vec::new(),
        count: 1,
        concurrency: 1,
        blksize: None,
        windowsize: None,
        tsize: false,
        expect_size: None,
        pid: None,
        tree: false,
        timeout: Duration::from_millis(1000),
        retries: 10,
        label: String::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--server" => a.server = v().parse().expect("--server ADDR:PORT"),
            "--files" => {
                let f = v();
                a.names = match f.strip_prefix("name:") {
                    Some(n) => vec![n.to_string()],
                    None => fs::read_to_string(&f)
                        .expect("--files")
                        .lines()
                        .filter(|l| !l.is_empty())
                        .map(String::from)
                        .collect(),
                }
            }
            "--count" => a.count = v().parse().unwrap(),
            "--concurrency" => a.concurrency = v().parse().unwrap(),
            "--blksize" => a.blksize = Some(v().parse().unwrap()),
            "--windowsize" => a.windowsize = Some(v().parse().unwrap()),
            "--tsize" => a.tsize = true,
            "--expect-size" => a.expect_size = Some(v().parse().unwrap()),
            "--pid" => a.pid = Some(v().parse().unwrap()),
            "--tree" => a.tree = true,
            "--timeout-ms" => a.timeout = Duration::from_millis(v().parse().unwrap()),
            "--retries" => a.retries = v().parse().unwrap(),
            "--label" => a.label = v(),
            other => panic!("unknown argument {other}"),
        }
    }
    assert!(!a.names.is_empty(), "--files is required");
    a
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
    let mut p = vec![0, 1];
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(b"\0octet\0");
    let mut opt = |k: &str, v: String| {
        p.extend_from_slice(k.as_bytes());
        p.push(0);
        p.extend_from_slice(v.as_bytes());
        p.push(0);
    };
    if let Some(b) = a.blksize {
        opt("blksize", b.to_string());
    }
    if let Some(w) = a.windowsize {
        opt("windowsize", w.to_string());
    }
    if a.tsize {
        opt("tsize", "0".into());
    }
    p
}

fn ack(x: &Xfer, block: u16) {
    let p = [0, 4, (block >> 8) as u8, block as u8];
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
    let a = parse_args();
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let bind: SocketAddr = if a.server.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    }
    .parse()
    .unwrap();
    let rrqs: Vec<Vec<u8>> = a.names.iter().map(|n| rrq(&a, n)).collect();
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
            match op {
                6 if x.tid.is_none() => {
                    x.tid = Some(from);
                    let mut fields = buf[2..len].split(|&b| b == 0);
                    while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
                        let v: u64 = std::str::from_utf8(v)
                            .ok()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        match k.to_ascii_lowercase().as_slice() {
                            b"blksize" => x.blksize = v as usize,
                            b"windowsize" => x.window = v as u32,
                            _ => {}
                        }
                    }
                    ack(x, 0);
                }
                3 => {
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
                5 => {
                    let msg = String::from_utf8_lossy(&buf[4..len])
                        .trim_end_matches('\0')
                        .to_string();
                    let code = u16::from_be_bytes([buf[2], buf[3]]);
                    let _ = x.name;
                    finish!(i, Err(format!("ERROR {code}: {msg}")));
                }
                _ => {}
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
