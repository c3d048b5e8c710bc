//! A phone's boot, as a 79xx does it: DHCP, then TFTP from the first server of option 150
//! (falling back to option 66), in order:
//!
//! 1. `CTLSEP<MAC>.tlv`, 2. `ITLSEP<MAC>.tlv`, 3. `ITLFile.tlv` (absent is normal for all
//!    three),
//! 4. `SEP<MAC>.cnf.xml`, or `XMLDefault.cnf.xml` when the phone has no config of its own,
//! 5. the load its config names in `<loadInformation>` plus `.loads`,
//! 6. every image that load names.
//!
//! With `factory_reset`, the phone first asks for its `termXX.default.loads` and the images it
//! names (then the usual sequence, without asking those images again).
//!
//! 78xx/88xx phones ask for each file over HTTP on TCP 6970 first (one kept-alive
//! connection, [`crate::http_fetch`]) and over TFTP when that fails (refused, reset, timed out,
//! a 5xx); a 404 over HTTP is "not found" as it is. 79xx phones use TFTP only.
//!
//! Retries like a phone: each packet is resent on silence (see [`crate::tftp`]); a file that
//! timed out or got "busy" is asked again after a pause (`file_attempts`); a server that never
//! answers the first request makes the phone move on to the next server of option 150.
//! "Not found" for a config, a load or an image, and an empty image, fail the boot.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::dhcp::{Client as DhcpClient, Phone, Transport};
use crate::firmware::{sep_name, Model};
use crate::http_fetch::{HttpFetcher, HttpReply};
use crate::netns::run_in;
use crate::tftp::{Client as TftpClient, ClientConfig, TftpError};

/// One simulated phone.
#[derive(Clone, Debug)]
pub struct BootPhone {
    pub mac: [u8; 6],
    pub model: Model,
}

/// Where to put the leased address so TFTP goes out from it (each phone its own source
/// address, as on a real LAN).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeaseAddr {
    /// Use whatever address the namespace already has.
    Off,
    /// `ip addr add <yiaddr>/32 dev IFACE` for the boot, removed afterwards.
    AddTo(String),
}

/// How phones boot.
#[derive(Clone, Debug)]
pub struct BootConfig {
    pub transport: Transport,
    /// Network namespace to run in (`ip netns` name); `None`: the current one.
    pub netns: Option<String>,
    pub lease_addr: LeaseAddr,
    /// Packet-level TFTP behaviour (options, per-packet timeout, resends).
    pub tftp: ClientConfig,
    /// Attempts per file on a timeout or "busy" before the boot fails.
    pub file_attempts: u32,
    /// Pause before asking a file again.
    pub retry_delay: Duration,
    pub tftp_port: u16,
    /// HTTP port phones that ask over HTTP first use (6970); 0: every phone uses TFTP only.
    pub http_port: u16,
    /// Connect and read timeout of an HTTP attempt, before falling back to TFTP.
    pub http_timeout: Duration,
    /// Ignore option 150/66 and use this server.
    pub server_override: Option<IpAddr>,
    /// DHCP wait per attempt and attempts per stage.
    pub dhcp_timeout: Duration,
    pub dhcp_attempts: u32,
    /// DORAs in flight at once (broadcast); relays always do one at a time.
    pub dhcp_parallel: usize,
    /// Keep each file's bytes in the result (tests compare them with the served files).
    pub keep_data: bool,
    /// Start phone k after k x `stagger`.
    pub stagger: Duration,
    /// Boot as after a factory reset: `termXX.default.loads` and its images first.
    pub factory_reset: bool,
}

impl BootConfig {
    /// Phones on `link` that ask by broadcast, run in the link's client namespace.
    pub fn broadcast_on(link: &crate::netns::Link) -> BootConfig {
        let mut c = BootConfig::new(Transport::Broadcast {
            iface: link.client_if.clone(),
        });
        c.netns = Some(link.ns.name().to_string());
        c
    }

    pub fn new(transport: Transport) -> BootConfig {
        let lease_addr = match &transport {
            Transport::Broadcast { iface } => LeaseAddr::AddTo(iface.clone()),
            Transport::Relay { .. } | Transport::RelayToAll { .. } => LeaseAddr::AddTo("lo".into()),
        };
        BootConfig {
            transport,
            netns: None,
            lease_addr,
            tftp: ClientConfig::default(),
            file_attempts: 3,
            retry_delay: Duration::from_secs(1),
            tftp_port: 69,
            http_port: 6970,
            http_timeout: Duration::from_secs(2),
            server_override: None,
            dhcp_timeout: Duration::from_secs(1),
            dhcp_attempts: 4,
            dhcp_parallel: 16,
            keep_data: false,
            stagger: Duration::ZERO,
            factory_reset: false,
        }
    }
}

/// The step a file belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    Dhcp,
    TrustList,
    Config,
    Load,
    Image,
}

/// One file the phone asked for.
#[derive(Clone, Debug, Serialize)]
pub struct FileRecord {
    pub name: String,
    pub stage: Stage,
    /// `ok`, `absent` (not found, and that is normal), or the error.
    pub outcome: String,
    pub bytes: u64,
    pub ms: f64,
    /// Requests made for this file (1 unless retried).
    pub attempts: u32,
    /// Packets resent on timeouts, over all attempts.
    pub resent: u64,
    pub server: Option<IpAddr>,
    /// `http` or `tftp`: how the file (or its absence) came.
    pub protocol: &'static str,
    /// Why the HTTP attempt failed before TFTP was used, if there was one.
    pub http_failed: Option<String>,
    #[serde(skip)]
    pub data: Option<Vec<u8>>,
}

/// How one phone's boot went.
#[derive(Clone, Debug, Serialize)]
pub struct BootResult {
    pub model: String,
    pub mac: String,
    /// `SEP<MAC>`.
    pub name: String,
    pub address: Option<Ipv4Addr>,
    pub option150: Option<Vec<Ipv4Addr>>,
    pub option66: Option<String>,
    /// The server the files came from.
    pub tftp_server: Option<IpAddr>,
    pub config_file: Option<String>,
    pub load: Option<String>,
    pub dhcp_ms: f64,
    pub tftp_ms: f64,
    pub total_ms: f64,
    /// File bytes received.
    pub bytes: u64,
    pub files: Vec<FileRecord>,
    /// Files that came over HTTP, and files fetched over TFTP after HTTP failed.
    pub http_files: usize,
    pub fell_back_files: usize,
    /// Why the boot failed; `None`: the phone is up.
    pub failure: Option<String>,
    pub failed_stage: Option<Stage>,
    /// Timestamped lines of what happened.
    pub transcript: Vec<String>,
}

impl BootResult {
    pub fn ok(&self) -> bool {
        self.failure.is_none()
    }

    /// How the files came: `http`, `tftp`, `tftp (fell back)` (HTTP tried and failed) or
    /// `http+tftp`.
    pub fn via(&self) -> &'static str {
        match (self.http_files, self.files.len() - self.http_files) {
            (0, _) if self.fell_back_files > 0 => "tftp (fell back)",
            (0, _) => "tftp",
            (_, 0) => "http",
            _ => "http+tftp",
        }
    }

    pub fn file(&self, name: &str) -> Option<&FileRecord> {
        self.files
            .iter()
            .find(|f| f.name == name && f.outcome == "ok")
    }
}

/// Receives each transcript line as it happens (phone index, line).
pub type Logger<'a> = &'a (dyn Fn(usize, &str) + Sync);

struct Gate {
    free: Mutex<usize>,
    cv: Condvar,
}

impl Gate {
    fn new(n: usize) -> Gate {
        Gate {
            free: Mutex::new(n.max(1)),
            cv: Condvar::new(),
        }
    }
    fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        {
            let mut free = self.free.lock().unwrap();
            while *free == 0 {
                free = self.cv.wait(free).unwrap();
            }
            *free -= 1;
        }
        let r = f();
        *self.free.lock().unwrap() += 1;
        self.cv.notify_one();
        r
    }
}

/// Boots every phone at once (one thread each) and returns the results in input order.
pub fn boot_many(phones: &[BootPhone], cfg: &BootConfig, log: Logger) -> Vec<BootResult> {
    let parallel = match cfg.transport {
        Transport::Relay { .. } | Transport::RelayToAll { .. } => 1,
        Transport::Broadcast { .. } => cfg.dhcp_parallel,
    };
    let gate = Gate::new(parallel);
    std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let gate = &gate;
                s.spawn(move || {
                    std::thread::sleep(cfg.stagger * i as u32);
                    boot_in_ns(i, p, cfg, gate, log)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("boot thread panicked"))
            .collect()
    })
}

/// Boots one phone.
pub fn boot(phone: &BootPhone, cfg: &BootConfig, log: Logger) -> BootResult {
    boot_in_ns(0, phone, cfg, &Gate::new(1), log)
}

fn boot_in_ns(
    i: usize,
    phone: &BootPhone,
    cfg: &BootConfig,
    gate: &Gate,
    log: Logger,
) -> BootResult {
    match &cfg.netns {
        None => Booter::new(i, phone, cfg, log).run(gate),
        Some(ns) => match run_in(ns, || Booter::new(i, phone, cfg, log).run(gate)) {
            Ok(r) => r,
            Err(e) => {
                let mut b = Booter::new(i, phone, cfg, log);
                b.fail(Stage::Dhcp, format!("cannot enter netns {ns}: {e}"));
                b.finish()
            }
        },
    }
}

struct Booter<'a> {
    index: usize,
    phone: &'a BootPhone,
    cfg: &'a BootConfig,
    log: Logger<'a>,
    start: Instant,
    /// The phone's address (port 0) for TFTP sockets.
    bind: SocketAddr,
    /// Its HTTP client (78xx/88xx), created at the first file.
    http: Option<HttpFetcher>,
    r: BootResult,
}

impl<'a> Booter<'a> {
    fn new(index: usize, phone: &'a BootPhone, cfg: &'a BootConfig, log: Logger<'a>) -> Self {
        let name = sep_name(&phone.mac);
        Booter {
            index,
            phone,
            cfg,
            log,
            start: Instant::now(),
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            http: None,
            r: BootResult {
                model: phone.model.name.to_string(),
                mac: crate::firmware::mac_text(&phone.mac),
                name,
                address: None,
                option150: None,
                option66: None,
                tftp_server: None,
                config_file: None,
                load: None,
                dhcp_ms: 0.0,
                tftp_ms: 0.0,
                total_ms: 0.0,
                bytes: 0,
                files: Vec::new(),
                http_files: 0,
                fell_back_files: 0,
                failure: None,
                failed_stage: None,
                transcript: Vec::new(),
            },
        }
    }

    fn say(&mut self, msg: String) {
        let line = format!(
            "[{:>8.3}s] {} {:<5} {}",
            self.start.elapsed().as_secs_f64(),
            self.r.name,
            self.r.model,
            msg
        );
        (self.log)(self.index, &line);
        self.r.transcript.push(line);
    }

    fn fail(&mut self, stage: Stage, why: String) {
        self.say(format!("FAILED: {why}"));
        self.r.failure = Some(why);
        self.r.failed_stage = Some(stage);
    }

    fn finish(mut self) -> BootResult {
        self.r.total_ms = ms(self.start.elapsed());
        self.r.bytes = self.r.files.iter().map(|f| f.bytes).sum();
        self.r.http_files = self.r.files.iter().filter(|f| f.protocol == "http").count();
        self.r.fell_back_files = self
            .r
            .files
            .iter()
            .filter(|f| f.http_failed.is_some())
            .count();
        if self.r.ok() {
            let msg = format!(
                "UP in {:.2} s ({} files, {} bytes)",
                self.r.total_ms / 1000.0,
                self.r.files.iter().filter(|f| f.outcome == "ok").count(),
                self.r.bytes
            );
            self.say(msg);
        }
        self.r
    }

    fn run(mut self, gate: &Gate) -> BootResult {
        // --- DHCP ---
        let mut p = Phone::cisco(self.phone.mac, self.phone.model.vendor_class);
        p.timeout = self.cfg.dhcp_timeout;
        p.attempts = self.cfg.dhcp_attempts;
        let t0 = Instant::now();
        let dora = gate.run(|| {
            DhcpClient::new(&self.cfg.transport)
                .map_err(|e| format!("DHCP socket: {e}"))
                .and_then(|c| c.dora(&p).map_err(|e| format!("DHCP: {e}")))
        });
        self.r.dhcp_ms = ms(t0.elapsed());
        let dora = match dora {
            Ok(d) => d,
            Err(e) => {
                self.fail(Stage::Dhcp, e);
                return self.finish();
            }
        };
        let addr = dora.ack.yiaddr;
        self.r.address = Some(addr);
        self.r.option150 = dora.ack.option150().ok().flatten();
        self.r.option66 = dora.ack.option66();
        let o150 = match &self.r.option150 {
            Some(l) => l
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            None => match dora.ack.option150() {
                Err(e) => format!("malformed ({e})"),
                Ok(_) => "none".into(),
            },
        };
        let o66 = self.r.option66.clone().unwrap_or_else(|| "none".into());
        self.say(format!(
            "DHCP ACK {addr} in {:.0} ms: option 150 = {o150}; option 66 = {o66}",
            self.r.dhcp_ms
        ));

        // --- which TFTP servers ---
        let servers: Vec<IpAddr> = if let Some(s) = self.cfg.server_override {
            vec![s]
        } else if let Some(l) = self.r.option150.clone().filter(|l| !l.is_empty()) {
            l.into_iter().map(IpAddr::V4).collect()
        } else if let Some(name) = self.r.option66.clone() {
            resolve(&name).into_iter().collect()
        } else {
            Vec::new()
        };
        if servers.is_empty() {
            self.fail(
                Stage::Dhcp,
                "no TFTP server: DHCP gave neither option 150 nor a usable option 66".into(),
            );
            return self.finish();
        }

        // --- the phone's own address ---
        let mut added = None;
        if let LeaseAddr::AddTo(dev) = &self.cfg.lease_addr {
            match add_addr(addr, dev) {
                Ok(true) => added = Some(dev.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.fail(
                        Stage::Dhcp,
                        format!("cannot configure {addr} on {dev}: {e}"),
                    );
                    return self.finish();
                }
            }
        }
        let bind_ip = if self.cfg.lease_addr == LeaseAddr::Off {
            Ipv4Addr::UNSPECIFIED
        } else {
            addr
        };
        let t1 = Instant::now();
        self.bind = SocketAddr::new(IpAddr::V4(bind_ip), 0);
        self.tftp_boot(&servers);
        self.r.tftp_ms = ms(t1.elapsed());
        if let Some(dev) = added {
            let _ = del_addr(addr, &dev);
        }
        self.finish()
    }

    fn tftp_boot(&mut self, servers: &[IpAddr]) {
        let sep = self.r.name.clone();
        let mut server_idx = 0;
        let mut have: Vec<String> = Vec::new();
        // 0 (after a factory reset): termXX.default.loads and its images first.
        if self.cfg.factory_reset {
            let term = self.phone.model.term_file.to_string();
            self.say(format!("factory reset: asking for {term} first"));
            let bytes = loop {
                let server = servers[server_idx];
                match self.fetch(server, &term, Stage::Load) {
                    Fetch::Ok(b) => break b,
                    Fetch::Absent => {
                        self.fail(
                            Stage::Load,
                            format!(
                                "{term} not found: a factory-reset phone stays on \"Upgrading\""
                            ),
                        );
                        return;
                    }
                    Fetch::Failed(e) if server_idx + 1 < servers.len() => {
                        server_idx += 1;
                        self.say(format!(
                            "no answer from {server} ({e}); trying the next server {}",
                            servers[server_idx]
                        ));
                    }
                    Fetch::Failed(e) => {
                        self.fail(Stage::Load, format!("{term}: {e}"));
                        return;
                    }
                }
            };
            match self.fetch_images(servers[server_idx], &term, &bytes, &[]) {
                Some(images) => have = images,
                None => return,
            }
        }
        // 1-3: trust lists. The first request also finds a server that answers.
        for name in [
            format!("CTL{sep}.tlv"),
            format!("ITL{sep}.tlv"),
            "ITLFile.tlv".into(),
        ] {
            loop {
                let server = servers[server_idx];
                match self.fetch(server, &name, Stage::TrustList) {
                    Fetch::Ok(_) | Fetch::Absent => break,
                    Fetch::Failed(e)
                        if server_idx + 1 < servers.len() && self.r.tftp_server.is_none() =>
                    {
                        server_idx += 1;
                        self.say(format!(
                            "no answer from {server} ({e}); trying the next server {}",
                            servers[server_idx]
                        ));
                    }
                    Fetch::Failed(e) => {
                        self.fail(Stage::TrustList, format!("{name}: {e}"));
                        return;
                    }
                }
            }
        }
        let server = servers[server_idx];
        self.r.tftp_server = Some(server);
        // 4: the config.
        let own = format!("{sep}.cnf.xml");
        let (cfg_name, cfg_bytes) = match self.fetch(server, &own, Stage::Config) {
            Fetch::Ok(b) => (own, b),
            Fetch::Absent => {
                self.say("no config of its own: asking for XMLDefault.cnf.xml".into());
                match self.fetch(server, "XMLDefault.cnf.xml", Stage::Config) {
                    Fetch::Ok(b) => ("XMLDefault.cnf.xml".to_string(), b),
                    Fetch::Absent => {
                        self.fail(
                            Stage::Config,
                            format!("neither {sep}.cnf.xml nor XMLDefault.cnf.xml exists"),
                        );
                        return;
                    }
                    Fetch::Failed(e) => {
                        self.fail(Stage::Config, format!("XMLDefault.cnf.xml: {e}"));
                        return;
                    }
                }
            }
            Fetch::Failed(e) => {
                self.fail(Stage::Config, format!("{own}: {e}"));
                return;
            }
        };
        self.r.config_file = Some(cfg_name.clone());
        // 5: the load.
        let text = String::from_utf8_lossy(&cfg_bytes);
        let Some(load) = load_information(&text, &self.phone.model.config_model()) else {
            self.fail(
                Stage::Config,
                format!("{cfg_name} has no <loadInformation> for this model"),
            );
            return;
        };
        self.r.load = Some(load.clone());
        let load_file = format!("{load}.loads");
        let load_bytes = match self.fetch(server, &load_file, Stage::Load) {
            Fetch::Ok(b) => b,
            Fetch::Absent => {
                self.fail(
                    Stage::Load,
                    format!("load {load_file} named by {cfg_name} not found"),
                );
                return;
            }
            Fetch::Failed(e) => {
                self.fail(Stage::Load, format!("{load_file}: {e}"));
                return;
            }
        };
        // 6: the images (those a factory reset already loaded are not asked again).
        self.fetch_images(server, &load_file, &load_bytes, &have);
    }

    /// Fetches every image `load_file` names, skipping those in `have`. Fails the boot (and
    /// returns None) on a missing or empty image.
    fn fetch_images(
        &mut self,
        server: IpAddr,
        load_file: &str,
        load_bytes: &[u8],
        have: &[String],
    ) -> Option<Vec<String>> {
        let images = load_images(load_bytes, load_file);
        if images.is_empty() {
            self.fail(Stage::Load, format!("{load_file} names no image"));
            return None;
        }
        for img in &images {
            if have.contains(img) {
                self.say(format!("{img}: already loaded"));
                continue;
            }
            match self.fetch(server, img, Stage::Image) {
                Fetch::Ok(b) if b.is_empty() => {
                    self.fail(Stage::Image, format!("image {img} is empty (0 bytes)"));
                    return None;
                }
                Fetch::Ok(_) => {}
                Fetch::Absent => {
                    self.fail(
                        Stage::Image,
                        format!("image {img} named by {load_file} not found"),
                    );
                    return None;
                }
                Fetch::Failed(e) => {
                    self.fail(Stage::Image, format!("image {img}: {e}"));
                    return None;
                }
            }
        }
        Some(images)
    }

    fn fetch(&mut self, server: IpAddr, name: &str, stage: Stage) -> Fetch {
        let t = Instant::now();
        let mut http_failed = None;
        if self.phone.model.asks_http_first() && self.cfg.http_port != 0 {
            let to = SocketAddr::new(server, self.cfg.http_port);
            let (bind, timeout) = (self.bind, self.cfg.http_timeout);
            let http = self
                .http
                .get_or_insert_with(|| HttpFetcher::new(bind, timeout));
            match http.get(to, name) {
                Ok(reply) => {
                    let (res, outcome) = match reply {
                        HttpReply::Ok(b) => (Fetch::Ok(b), "ok".to_string()),
                        HttpReply::NotFound => (Fetch::Absent, "absent".to_string()),
                    };
                    self.record(name, stage, server, t, "http", None, &res, outcome, 1, 0);
                    return res;
                }
                Err(e) => {
                    self.say(format!(
                        "{name}: HTTP on {to} failed ({e}); asking over TFTP"
                    ));
                    http_failed = Some(e.to_string());
                }
            }
        }
        let (res, outcome, attempts, resent) = self.fetch_tftp(server, name);
        self.record(
            name,
            stage,
            server,
            t,
            "tftp",
            http_failed,
            &res,
            outcome,
            attempts,
            resent,
        );
        res
    }

    /// One file over TFTP with the phone's retries: (result, outcome, requests, resent).
    fn fetch_tftp(&mut self, server: IpAddr, name: &str) -> (Fetch, String, u32, u64) {
        let to = SocketAddr::new(server, self.cfg.tftp_port);
        let mut attempts = 0;
        let mut resent = 0;
        let attempts_max = self.cfg.file_attempts.max(1);
        let (res, outcome) = loop {
            attempts += 1;
            // A new socket (source port) per request, as TFTP clients do: a server may take
            // a request from a port whose previous transfer it has not closed yet as a
            // retransmission of that transfer.
            let got = TftpClient::bind(self.bind, self.cfg.tftp.clone())
                .map_err(TftpError::Io)
                .and_then(|c| c.get(to, name));
            match got {
                Ok(tr) => {
                    resent += tr.resent;
                    break (Fetch::Ok(tr.data), "ok".to_string());
                }
                Err(TftpError::NotFound(_)) => break (Fetch::Absent, "absent".to_string()),
                Err(e) if e.is_transient() && attempts < attempts_max => {
                    if let TftpError::Timeout { retries, .. } = e {
                        resent += u64::from(retries);
                    }
                    self.say(format!(
                        "{name}: {e}; asking again (attempt {})",
                        attempts + 1
                    ));
                    std::thread::sleep(self.cfg.retry_delay);
                }
                Err(e) => {
                    let s = e.to_string();
                    break (Fetch::Failed(s.clone()), s);
                }
            }
        };
        (res, outcome, attempts, resent)
    }

    /// Logs and records one file.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        name: &str,
        stage: Stage,
        server: IpAddr,
        t: Instant,
        protocol: &'static str,
        http_failed: Option<String>,
        res: &Fetch,
        outcome: String,
        attempts: u32,
        resent: u64,
    ) {
        let elapsed = t.elapsed();
        let bytes = match res {
            Fetch::Ok(b) => b.len() as u64,
            _ => 0,
        };
        let line = match res {
            Fetch::Ok(_) => format!(
                "{name}: {bytes} bytes in {:.0} ms over {}",
                ms(elapsed),
                protocol.to_uppercase()
            ),
            Fetch::Absent if stage == Stage::TrustList => {
                format!("{name}: not found (normal without security)")
            }
            Fetch::Absent => format!("{name}: not found"),
            Fetch::Failed(e) => format!("{name}: {e}"),
        };
        self.say(line);
        let data = match (res, self.cfg.keep_data) {
            (Fetch::Ok(b), true) => Some(b.clone()),
            _ => None,
        };
        self.r.files.push(FileRecord {
            name: name.to_string(),
            stage,
            outcome,
            bytes,
            ms: ms(elapsed),
            attempts,
            resent,
            server: Some(server),
            protocol,
            http_failed,
            data,
        });
    }
}

enum Fetch {
    Ok(Vec<u8>),
    Absent,
    Failed(String),
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn resolve(name: &str) -> Option<IpAddr> {
    if let Ok(ip) = name.trim().parse::<IpAddr>() {
        return Some(ip);
    }
    (name.trim(), 69)
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.next())
        .map(|a| a.ip())
}

/// `ip addr add A/32 dev DEV` in the current namespace. Ok(false): already there.
fn add_addr(a: Ipv4Addr, dev: &str) -> io::Result<bool> {
    let out = Command::new("ip")
        .args(["addr", "add", &format!("{a}/32"), "dev", dev])
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        return Ok(true);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("File exists") || err.contains("already assigned") {
        return Ok(false);
    }
    Err(io::Error::other(err.trim().to_string()))
}

fn del_addr(a: Ipv4Addr, dev: &str) -> io::Result<()> {
    Command::new("ip")
        .args(["addr", "del", &format!("{a}/32"), "dev", dev])
        .stdin(Stdio::null())
        .output()
        .map(|_| ())
}

/// The load a config names for `model` (`Cisco 7941`): a `<loadInformation...>` element whose
/// `model` attribute matches, else the first one without a `model` attribute. Element names
/// `loadInformation` and CUCM's numbered `loadInformation115` both count.
pub fn load_information(xml: &str, model: &str) -> Option<String> {
    // Parsed by the sidecar's own rule (what `tftp-sidecar check` reads); the phone only picks.
    let infos = tftp_sidecar::firmware_check::load_information(xml);
    let mine = infos.iter().find(|i| {
        i.model
            .as_deref()
            .is_some_and(|m| m.eq_ignore_ascii_case(model))
    });
    mine.or_else(|| infos.iter().find(|i| i.model.is_none()))
        .map(|i| i.load.clone())
}

/// File names a `.loads` file names, as a phone reads them: every maximal run of file-name
/// characters (`A-Z a-z 0-9 . _ - +`) in the bytes that ends in `.sbn`, `.bin`, `.zz`, `.sgn`,
/// `.img`, `.tar` or `.loads` (any case), in order, without repeats and without the file's own
/// name. Works on our placeholder text and on signed binary files alike (see
/// `tftp-sidecar/docs/firmware-check.md`). Other `.loads` names are returned too.
pub fn load_images(bytes: &[u8], own_name: &str) -> Vec<String> {
    // The same rule `tftp-sidecar check` applies, so the simulator and the check agree.
    tftp_sidecar::firmware_check::load_names(bytes, own_name)
}

/// Percentile (0..=100) of sorted values, nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A human summary of many boots: one line per phone, then totals and percentiles.
pub fn summary(results: &[BootResult], wall: Duration) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "{:<16} {:<6} {:<16} {:<15} {:<24} {:>8} {:>9} {:>10}  {}\n",
        "phone", "model", "via", "address", "load", "dhcp ms", "boot s", "bytes", "result"
    ));
    for r in results {
        s.push_str(&format!(
            "{:<16} {:<6} {:<16} {:<15} {:<24} {:>8.0} {:>9.2} {:>10}  {}\n",
            r.name,
            r.model,
            r.via(),
            r.address.map_or("-".into(), |a| a.to_string()),
            r.load.as_deref().unwrap_or("-"),
            r.dhcp_ms,
            r.total_ms / 1000.0,
            r.bytes,
            match &r.failure {
                None => "UP".to_string(),
                Some(f) => format!("FAILED: {f}"),
            }
        ));
    }
    let up = results.iter().filter(|r| r.ok()).count();
    let mut times: Vec<f64> = results
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.total_ms / 1000.0)
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    let bytes: u64 = results.iter().map(|r| r.bytes).sum();
    s.push_str(&format!(
        "\n{up} of {} phones up, {} failed; {bytes} bytes in {:.2} s",
        results.len(),
        results.len() - up,
        wall.as_secs_f64()
    ));
    if !times.is_empty() {
        s.push_str(&format!(
            "; boot time p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s",
            percentile(&times, 50.0),
            percentile(&times, 90.0),
            percentile(&times, 99.0),
            times[times.len() - 1]
        ));
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::{config_text, load_text};

    #[test]
    fn reads_load_information_by_model() {
        let xml = config_text(&[
            (Some("Cisco 7941".into()), "SIP41.9-4-2SR3-1S".into()),
            (Some("Cisco 8841".into()), "sip88xx.12-8-1-0001-455".into()),
        ]);
        assert_eq!(
            load_information(&xml, "Cisco 8841").as_deref(),
            Some("sip88xx.12-8-1-0001-455")
        );
        assert_eq!(load_information(&xml, "Cisco 7921"), None);
        let cucm = "<device><loadInformation434 model=\"Cisco 7961\">SIP41.x</loadInformation434>\
                    <loadInformation>SCCP41.y</loadInformation><loadInformationX>no</loadInformationX></device>";
        assert_eq!(
            load_information(cucm, "Cisco 7961").as_deref(),
            Some("SIP41.x")
        );
        assert_eq!(
            load_information(cucm, "Cisco 7941").as_deref(),
            Some("SCCP41.y")
        );
        assert_eq!(
            load_information("<loadInformation></loadInformation>", "x"),
            None
        );
    }

    #[test]
    fn reads_image_names_from_text_and_binary_loads() {
        let t = load_text(
            "SIP41.9-4-2SR3-1S",
            &[
                ("apps41.9-4-2ES26.sbn".into(), Some(5)),
                ("dsp41.9-4-2ES26.sbn".into(), None),
            ],
        );
        assert_eq!(
            load_images(t.as_bytes(), "SIP41.9-4-2SR3-1S.loads"),
            vec!["apps41.9-4-2ES26.sbn", "dsp41.9-4-2ES26.sbn"]
        );
        let mut bin = vec![0x30u8, 0x82, 0x01, 0xff, 0x00];
        bin.extend_from_slice(b"\x01\x14jar41sip.9-4-2ES26.sbn\x00\x10CNU41.9-4-2ES26.SBN\x00");
        bin.extend_from_slice(b"term41.default.loads\xff\x00.sbn\x00apps41.9-4-2ES26.sbn.sig");
        assert_eq!(
            load_images(&bin, "term41.default.loads"),
            vec!["jar41sip.9-4-2ES26.sbn", "CNU41.9-4-2ES26.SBN"]
        );
    }

    #[test]
    fn percentiles() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 50.0), 5.0);
        assert_eq!(percentile(&v, 90.0), 9.0);
        assert_eq!(percentile(&v, 99.0), 10.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
