//! Shared test support: an in-memory FileSource, an in-process server, a packet-level TFTP
//! client, a seeded lossy UDP relay and a runner for the real binary.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

use tftp_sidecar::content::{BoxFuture, Content, FileSource, OpenError};
use tftp_sidecar::packet::{Packet, Request};
use tftp_sidecar::server::{
    Events, Outcome, PortMode, Protocol, RejectReason, Server, ServerConfig, ServerHandle,
    TransferProgress, TransferReport,
};

/// Deterministic test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x: u32 = 0x9e3779b9 ^ seed as u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Files from a map; names listed in `filling` are served as a `Content` still filling
/// (size unknown), fed by a background task.
#[derive(Default, Clone)]
pub struct MapSource {
    pub files: HashMap<String, Bytes>,
    pub unknown_size: Vec<String>,
}

impl MapSource {
    pub fn with(files: &[(&str, Vec<u8>)]) -> Self {
        MapSource {
            files: files
                .iter()
                .map(|(k, v)| (k.to_string(), Bytes::from(v.clone())))
                .collect(),
            unknown_size: Vec::new(),
        }
    }
}

impl FileSource for MapSource {
    fn open<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Content, OpenError>> {
        Box::pin(async move {
            let b = self.files.get(name).cloned().ok_or(OpenError::NotFound)?;
            if self.unknown_size.iter().any(|n| n == name) {
                let (c, filler) = Content::filling(None);
                tokio::spawn(async move {
                    for chunk in b.chunks(1000) {
                        filler.append(chunk);
                        tokio::task::yield_now().await;
                    }
                    filler.finish();
                });
                return Ok(c);
            }
            Ok(Content::complete(b))
        })
    }
}

/// Records engine events for exact assertions.
#[derive(Default)]
pub struct Recorder {
    pub finished: Mutex<Vec<(String, Outcome, u64)>>,
    /// (protocol, file, bytes so far) of every progress report.
    pub progress: Mutex<Vec<(Protocol, String, u64)>>,
    pub rejected: Mutex<Vec<RejectReason>>,
    pub errors: Mutex<Vec<u16>>,
    pub retransmits: AtomicU64,
    pub opened: AtomicU64,
    pub closed: AtomicU64,
}

impl Events for Recorder {
    fn session_opened(&self) {
        self.opened.fetch_add(1, Ordering::SeqCst);
    }
    fn session_closed(&self) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
    fn transfer_finished(&self, r: &TransferReport<'_>) {
        self.finished
            .lock()
            .unwrap()
            .push((r.file.to_string(), r.outcome, r.bytes));
    }
    fn transfer_progress(&self, p: &TransferProgress<'_>) {
        self.progress
            .lock()
            .unwrap()
            .push((p.protocol, p.file.to_string(), p.bytes));
    }
    fn retransmits(&self, n: u64) {
        self.retransmits.fetch_add(n, Ordering::SeqCst);
    }
    fn error_sent(&self, code: u16) {
        self.errors.lock().unwrap().push(code);
    }
    fn request_rejected(&self, _protocol: Protocol, reason: RejectReason) {
        self.rejected.lock().unwrap().push(reason);
    }
}

impl Recorder {
    pub fn outcomes(&self) -> Vec<(String, Outcome, u64)> {
        self.finished.lock().unwrap().clone()
    }
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        port_mode: PortMode::Ephemeral,
        timeout: Duration::from_millis(200),
        retries: 5,
        first_block_retries: 2,
        recv_buffer: 1 << 20,
        // Every test client is 127.0.0.1.
        per_client_max: 10_000,
        ..ServerConfig::default()
    }
}

pub struct Running {
    pub addr: SocketAddr,
    pub handle: ServerHandle,
    pub events: Arc<Recorder>,
    stop: Option<oneshot::Sender<()>>,
    join: Option<tokio::task::JoinHandle<usize>>,
}

impl Running {
    /// Stop (SIGTERM-like) and return how many transfers were aborted at the deadline.
    pub async fn stop(mut self) -> usize {
        let _ = self.stop.take().unwrap().send(());
        self.join.take().unwrap().await.unwrap()
    }
}

pub async fn start(cfg: ServerConfig, source: impl FileSource) -> Running {
    start_with_drain(cfg, source, Duration::from_secs(5)).await
}

pub async fn start_with_drain(
    cfg: ServerConfig,
    source: impl FileSource,
    drain: Duration,
) -> Running {
    let events = Arc::new(Recorder::default());
    let server = Server::bind(cfg, Arc::new(source), events.clone()).unwrap();
    let addr = server.local_addrs()[0];
    let handle = server.handle();
    let (tx, rx) = oneshot::channel::<()>();
    let join = tokio::spawn(server.run(
        async move {
            let _ = rx.await;
        },
        drain,
    ));
    Running {
        addr,
        handle,
        events,
        stop: Some(tx),
        join: Some(join),
    }
}

pub fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A packet-level TFTP client.
pub struct Client {
    pub sock: UdpSocket,
    pub server: SocketAddr,
}

#[derive(Debug, Default)]
pub struct Got {
    pub data: Vec<u8>,
    pub oack: Option<Vec<(String, String)>>,
    pub tid: Option<SocketAddr>,
    pub acks_sent: u64,
}

impl Client {
    pub async fn new(server: SocketAddr) -> Client {
        let bind: SocketAddr = if server.is_ipv6() {
            "[::1]:0".parse().unwrap()
        } else {
            "127.0.0.1:0".parse().unwrap()
        };
        Client {
            sock: UdpSocket::bind(bind).await.unwrap(),
            server,
        }
    }

    pub async fn send(&self, p: &Packet, to: SocketAddr) {
        self.sock.send_to(&p.encode(), to).await.unwrap();
    }

    pub async fn rrq(&self, name: &[u8], options: &[(&str, &str)]) {
        let p = Packet::Rrq(Request {
            filename: name.to_vec(),
            mode: "octet".into(),
            options: opts(options),
        });
        self.send(&p, self.server).await;
    }

    pub async fn ack(&self, block: u16, to: SocketAddr) {
        self.send(&Packet::Ack(block), to).await;
    }

    /// Next packet within `t`, or None.
    pub async fn recv(&self, t: Duration) -> Option<(Packet, SocketAddr)> {
        let mut buf = vec![0u8; 70000];
        match tokio::time::timeout(t, self.sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => Some((
                Packet::decode(&buf[..n]).expect("server sent garbage"),
                from,
            )),
            _ => None,
        }
    }

    /// A whole read, RFC 1350 client rules: re-ACK on timeout, ACK the last in-order block
    /// on a gap, dally after the last block so a lost final ACK is repeated.
    pub async fn get(
        &self,
        name: &str,
        options: &[(&str, &str)],
        t: Duration,
        max_tries: u32,
    ) -> Result<Got, String> {
        let mut got = Got::default();
        self.rrq(name.as_bytes(), options).await;
        let mut expected: u64 = 1;
        let mut blksize = 512usize;
        let mut window = 1u64;
        let mut since_ack = 0u64;
        let mut tries = 0;
        loop {
            let Some((p, from)) = self.recv(t).await else {
                tries += 1;
                if tries > max_tries {
                    return Err(format!("timed out waiting for block {expected}"));
                }
                match got.tid {
                    None => self.rrq(name.as_bytes(), options).await,
                    Some(tid) => {
                        self.ack(((expected - 1) & 0xffff) as u16, tid).await;
                        got.acks_sent += 1;
                    }
                }
                continue;
            };
            if let Some(tid) = got.tid {
                if from != tid {
                    continue;
                }
            }
            match p {
                Packet::Oack(o) if got.tid.is_none() => {
                    got.tid = Some(from);
                    for (k, v) in &o {
                        match k.to_ascii_lowercase().as_str() {
                            "blksize" => blksize = v.parse().unwrap(),
                            "windowsize" => window = v.parse().unwrap(),
                            _ => {}
                        }
                    }
                    got.oack = Some(o);
                    self.ack(0, from).await;
                    got.acks_sent += 1;
                }
                Packet::Data { block, data } => {
                    got.tid.get_or_insert(from);
                    tries = 0;
                    if block == (expected & 0xffff) as u16 {
                        got.data.extend_from_slice(&data);
                        expected += 1;
                        since_ack += 1;
                        if data.len() < blksize {
                            self.ack(block, from).await;
                            got.acks_sent += 1;
                            self.dally(from, block, t).await;
                            return Ok(got);
                        }
                        if since_ack >= window {
                            self.ack(block, from).await;
                            got.acks_sent += 1;
                            since_ack = 0;
                        }
                    } else {
                        // A duplicate or a gap: tell the server where we are.
                        self.ack(((expected - 1) & 0xffff) as u16, from).await;
                        got.acks_sent += 1;
                        since_ack = 0;
                    }
                }
                Packet::Error { code, message } => return Err(format!("ERROR {code}: {message}")),
                other => return Err(format!("unexpected {other:?}")),
            }
        }
    }

    async fn dally(&self, tid: SocketAddr, last: u16, t: Duration) {
        while let Some((p, from)) = self.recv(t * 3).await {
            if from == tid && matches!(p, Packet::Data { .. }) {
                self.ack(last, tid).await;
            }
        }
    }
}

/// Seeded xorshift: reproducible drops.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A UDP relay for one client that drops `loss` of the packets in each direction.
/// Returns the address clients should use as the server; counts of dropped packets.
pub async fn lossy_relay(server: SocketAddr, loss: f64, seed: u64) -> (SocketAddr, Arc<AtomicU64>) {
    let front = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let back = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let dropped = Arc::new(AtomicU64::new(0));
    let d = dropped.clone();
    tokio::spawn(async move {
        let mut rng = Rng::new(seed);
        let mut client: Option<SocketAddr> = None;
        let mut tid = server;
        let mut a = vec![0u8; 70000];
        let mut b = vec![0u8; 70000];
        loop {
            tokio::select! {
                r = front.recv_from(&mut a) => {
                    let Ok((n, from)) = r else { return };
                    client = Some(from);
                    if rng.next_f64() < loss { d.fetch_add(1, Ordering::Relaxed); continue; }
                    let _ = back.send_to(&a[..n], tid).await;
                }
                r = back.recv_from(&mut b) => {
                    let Ok((n, from)) = r else { return };
                    tid = from;
                    if rng.next_f64() < loss { d.fetch_add(1, Ordering::Relaxed); continue; }
                    if let Some(c) = client { let _ = front.send_to(&b[..n], c).await; }
                }
                // Bounded: relays die with the test, at the latest after this.
                _ = tokio::time::sleep(Duration::from_secs(120)) => return,
            }
        }
    });
    (addr, dropped)
}

/// The real binary, killed on drop.
pub struct Bin {
    pub child: Child,
    pub addr: SocketAddr,
    /// The HTTP file listener's addresses (with `--http-listen`).
    pub http: Vec<SocketAddr>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Bin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bin {
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Send SIGTERM and wait (bounded) for exit.
    pub fn terminate(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let until = std::time::Instant::now() + within;
        while std::time::Instant::now() < until {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

pub fn bin_path() -> &'static str {
    env!("CARGO_BIN_EXE_tftp-sidecar")
}

/// Start the binary listening on an OS-chosen port (read back from its log).
pub fn spawn_bin(args: &[&str]) -> Bin {
    // The HTTP file listener defaults to port 6970 on every address: tests that do not ask
    // for it turn it off, so that parallel tests do not fight over the port.
    let mut args: Vec<&str> = args.to_vec();
    if !args.contains(&"--http-listen") {
        args.extend(["--http-listen", "off"]);
    }
    let mut child = Command::new(bin_path())
        .args(&args)
        .env("RUST_LOG", "info")
        .env_remove("TFTP_SIDECAR_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tftp-sidecar");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let (http_tx, http_rx) = std::sync::mpsc::channel();
    let l = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(a) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("http_addr="))
            {
                let _ = http_tx.send(a.parse::<SocketAddr>().unwrap());
            }
            if line.contains("listening") {
                // Text (`addr=A`) or JSON (`"addr":"A"`) logs.
                let a = line
                    .split_whitespace()
                    .find_map(|w| w.strip_prefix("addr="))
                    .map(str::to_string)
                    .or_else(|| {
                        let v: serde_json::Value = serde_json::from_str(&line).ok()?;
                        Some(v["addr"].as_str()?.to_string())
                    });
                if let Some(a) = a {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                }
            }
            l.lock().unwrap().push(line);
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("server did not start: {}", log.lock().unwrap().join("\n")));
    // The HTTP listeners log before the TFTP ones: whatever arrived is all there is.
    let http = http_rx.try_iter().collect();
    Bin {
        child,
        addr,
        http,
        log,
    }
}

/// Whether `tool` is on the PATH (real-client tests skip when it is not).
pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Runs a client, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
