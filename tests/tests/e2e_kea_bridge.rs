//! The sidecar's Kea statistics bridge under Kea 2.6.3+/3.0's hardening, with real Kea:
//!
//! - Kea 2.2 (the host's) with its control socket in a 0750 directory of Kea's group, the
//!   sidecar as an unprivileged user: outside the group it is refused and says so (metric,
//!   `/readyz`, one log line with the fix); in the group it exports Kea's values; a socket
//!   without group write (Kea before 2.6.5/3.0.3, umask 0027) is reported as such.
//! - Kea 2.6.3 and 3.0.4 (Debian trixie and sid roots, `scripts/kea-root.sh 2.6` / `3.0`) run
//!   as `_kea`, creating their own socket under the hardening (`KEA_CONTROL_SOCKET_DIR`, 0750):
//!   on 3.0.4 the group is enough; on 2.6.3 the socket has no group write and the sidecar says
//!   so, and works as Kea's user.
//! - Kea 3.0.4's HTTP control socket with basic auth, after DHCP traffic: the exported
//!   `tftp_kea_*` values equal Kea's own `statistic-get-all`; a wrong password is reported.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::dhcp::{Client, Phone};
use cisco_tftp_tests::firmware::M7941;
use cisco_tftp_tests::http;
use cisco_tftp_tests::kea::{send_command, KeaServer};
use cisco_tftp_tests::metrics::{metric_value, wait_metric};
use cisco_tftp_tests::netns::{run_in, Netns, Topology};
use cisco_tftp_tests::sidecar::{http_get, http_get_in, sidecar_binary_path};
use tftp_sidecar::kea_stats::PACKETS;

/// `_kea`'s gid on this host (Debian's kea-common creates it).
fn host_kea_gid() -> u32 {
    group_gid(Path::new("/etc/group"), "_kea")
        .expect("group _kea missing on the host: install Kea (scripts/setup.sh)")
}

fn group_gid(group_file: &Path, name: &str) -> Option<u32> {
    fs::read_to_string(group_file).ok()?.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name)).then(|| f.get(2)?.parse().ok())?
    })
}

fn user_uid(passwd_file: &Path, name: &str) -> Option<u32> {
    group_gid(passwd_file, name)
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {}: {e}", path.display()));
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A process killed on drop; its stdout and stderr go to `log`.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling our own child, not reaped yet.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The real `tftp-sidecar` as another user, through `setpriv` (`groups`: supplementary
/// groups, none when empty), in the host's network namespace; waits for `/readyz` 200.
struct NobodySidecar {
    proc_: Proc,
    metrics: SocketAddr,
    _dir: tempfile::TempDir,
}

impl NobodySidecar {
    /// As `nobody`.
    fn start(kea_toml: &str, groups: &[u32]) -> NobodySidecar {
        Self::start_as("nobody", "nogroup", kea_toml, groups)
    }

    /// As `user`:`group` (names or numbers).
    fn start_as(user: &str, group: &str, kea_toml: &str, groups: &[u32]) -> NobodySidecar {
        let dir = tempfile::Builder::new()
            .prefix("ctt-bridge-sc")
            .tempdir()
            .unwrap();
        chmod(dir.path(), 0o755);
        let root = dir.path().join("root");
        fs::create_dir(&root).unwrap();
        fs::write(root.join("a.sbn"), b"firmware").unwrap();
        let cfg = dir.path().join("sidecar.toml");
        fs::write(
            &cfg,
            format!(
                "root = {root:?}\nlisten = \"127.0.0.1:0\"\nhttp_listen = \"off\"\n\n{kea_toml}"
            ),
        )
        .unwrap();
        let log = dir.path().join("sidecar.log");
        let out = fs::File::create(&log).unwrap();
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={user}"))
            .arg(format!("--regid={group}"));
        if groups.is_empty() {
            cmd.arg("--clear-groups");
        } else {
            let g: Vec<String> = groups.iter().map(u32::to_string).collect();
            cmd.arg(format!("--groups={}", g.join(",")));
        }
        let child = cmd
            .arg("--")
            .arg(sidecar_binary_path())
            .arg("--config")
            .arg(&cfg)
            .arg("--metrics-listen")
            .arg(metrics.to_string())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("setpriv");
        let mut s = NobodySidecar {
            proc_: Proc { child, log },
            metrics,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = s.proc_.child.try_wait() {
                panic!("tftp-sidecar exited ({st}):\n{}", s.proc_.log_text());
            }
            if let Ok((200, _)) = s.get("/readyz") {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "tftp-sidecar not ready:\n{}",
                s.proc_.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn get(&self, path: &str) -> io::Result<(u16, String)> {
        http_get(self.metrics, path)
    }

    fn metrics_text(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// Waits until `name{labels}` is `want`; returns the last scrape.
    fn wait_metric(&self, name: &str, labels: &str, want: f64) -> String {
        wait_metric(|| self.metrics_text(), name, labels, want)
    }

    fn log(&self) -> String {
        self.proc_.log_text()
    }
}

/// Polls `f` for 10 s until it says done; returns its last value.
fn wait_until<T>(mut f: impl FnMut() -> (bool, T)) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (done, v) = f();
        if done || Instant::now() > deadline {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kea's name of the statistic behind `tftp_kea_packets_total{direction,type}`.
fn kea_packet_stat(direction: &str, ty: &str) -> String {
    match ty {
        "parse_failed" => "pkt4-parse-failed".into(),
        "dropped" => "pkt4-receive-drop".into(),
        t => format!("pkt4-{}-{direction}", t.replace('_', "-")),
    }
}

/// Every `tftp_kea_packets_total` series equals Kea's statistic in `all` (the `arguments`
/// of Kea's own `statistic-get-all`); `labels_extra` is e.g. `server="x",` (sorted before
/// `type`).
fn assert_packets_match(metrics: &str, all: &Value, extra: &str) {
    for (dir, ty) in PACKETS {
        let name = kea_packet_stat(dir, ty);
        let kea = all[&name][0][0].as_f64().unwrap_or(0.0);
        let labels = format!("direction=\"{dir}\",{extra}type=\"{ty}\"");
        assert_eq!(
            metric_value(metrics, "tftp_kea_packets_total", &labels),
            Some(kea),
            "{labels} vs Kea's {name}\n{metrics}"
        );
    }
}

/// The warning lines the bridge logged (one per change of state).
fn unavailable_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| l.contains("Kea statistics unavailable"))
        .collect()
}

#[test]
fn kea22_unix_socket_in_keas_group_directory() {
    if covered_by_host_pass() {
        return;
    }
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let mut kea = KeaServer::start(&topo.server, Dhcp4Config::for_topology(&topo).build()).unwrap();
    // One DHCP exchange, so there are values to compare.
    let client = Client::on_link(link).unwrap();
    client
        .dora(&Phone::cisco(
            [0, 0x1e, 0x4a, 0x79, 0x41, 7],
            M7941.vendor_class,
        ))
        .unwrap();

    // What Kea 2.6.5+/3.0.3+ on Debian gives: /run/kea 0750 and a group-writable socket, both
    // Kea's group (Kea 2.2 itself runs as root here and does not care where its socket is).
    let socket = kea.socket_path();
    let dir = socket.parent().unwrap().to_path_buf();
    let gid = host_kea_gid();
    chown(&dir, 0, gid);
    chmod(&dir, 0o750);
    chown(&socket, 0, gid);
    chmod(&socket, 0o770);
    let kea_toml = format!("[kea]\ncontrol-socket = {socket:?}\npoll-interval = 0.1\n");

    // nobody, not in _kea: refused at the directory.
    let s = NobodySidecar::start(&kea_toml, &[]);
    let m = s.wait_metric("tftp_kea_last_error", r#"reason="permission_denied""#, 1.0);
    assert_eq!(metric_value(&m, "tftp_kea_up", ""), Some(0.0), "{m}");
    assert_eq!(
        metric_value(&m, "tftp_kea_last_error", r#"reason="not_found""#),
        Some(0.0)
    );
    let (status, body) = s.get("/readyz").unwrap();
    eprintln!("/readyz, nobody outside _kea:\n{body}");
    assert_eq!(status, 200, "TFTP works without Kea: {body}");
    for needle in [
        "ready\n",
        "down (permission_denied)",
        &format!("permission denied on directory {}", dir.display()),
        "mode 0750",
        "user nobody",
        "add the sidecar's user to Kea's group _kea",
    ] {
        assert!(body.contains(needle), "{needle:?} not in /readyz:\n{body}");
    }
    // Many polls, one log line, with the same reason and fix.
    std::thread::sleep(Duration::from_millis(600));
    let log = s.log();
    let lines = unavailable_lines(&log);
    assert_eq!(lines.len(), 1, "{log}");
    assert!(
        lines[0].contains("permission denied on directory")
            && lines[0].contains("usermod -aG _kea nobody"),
        "{log}"
    );
    let m = s.metrics_text();
    assert!(metric_value(&m, "tftp_kea_polls_total", r#"result="error""#).unwrap() >= 4.0);
    drop(s);

    // nobody in _kea: Kea's values.
    let s = NobodySidecar::start(&kea_toml, &[gid]);
    let m = s.wait_metric("tftp_kea_up", "", 1.0);
    assert_eq!(
        metric_value(&m, "tftp_kea_up", ""),
        Some(1.0),
        "{}",
        s.log()
    );
    let all = kea.command("statistic-get-all", None).unwrap()["arguments"].clone();
    assert_eq!(all["pkt4-ack-sent"][0][0], 1, "{all}");
    assert_packets_match(&m, &all, "");
    let (status, body) = s.get("/readyz").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains(&format!("kea unix:{}: up", socket.display())),
        "{body}"
    );
    assert!(
        m.lines()
            .filter(|l| l.starts_with("tftp_kea_last_error{"))
            .all(|l| l.ends_with(" 0")),
        "{m}"
    );

    // The socket loses group write (Kea before 2.6.5/3.0.3 creates it under umask 0027).
    chmod(&socket, 0o750);
    s.wait_metric("tftp_kea_up", "", 0.0);
    let (_, body) = s.get("/readyz").unwrap();
    for needle in [
        &format!("permission denied on {}", socket.display()),
        "mode 0750",
        "no group write",
        "2.6.5/3.0.3",
        "http-url",
    ] {
        assert!(body.contains(needle), "{needle:?} not in /readyz:\n{body}");
    }
    chmod(&socket, 0o770);
    s.wait_metric("tftp_kea_up", "", 1.0);
    let log = s.log();
    assert_eq!(unavailable_lines(&log).len(), 1, "{log}");
    assert!(log.contains("Kea answers again"), "{log}");

    // Kea dies (SIGKILL): its socket is left behind with nobody listening.
    // SAFETY: signalling the Kea child this test started (reaped by kea.stop() below).
    unsafe { libc::kill(kea.pid() as libc::pid_t, libc::SIGKILL) };
    let m = s.wait_metric("tftp_kea_last_error", r#"reason="refused""#, 1.0);
    assert_eq!(
        metric_value(&m, "tftp_kea_last_error", r#"reason="refused""#),
        Some(1.0),
        "{m}\n{}",
        s.log()
    );
    let (status, body) = s.get("/readyz").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("down (refused): nothing listens on"),
        "{body}"
    );
    kea.stop();
}

// --- Kea 2.6 and 3.0 (Debian trixie and sid roots) ---

/// The root of Kea `series`, made by scripts/kea-root.sh if missing.
fn kea_root(series: &str) -> PathBuf {
    cisco_tftp_tests::kea::series_root(series).unwrap_or_else(|e| panic!("{e}"))
}

fn kea30_root() -> PathBuf {
    kea_root("3.0")
}

/// These tests pick their Kea series themselves: once is enough, in the host's pass of
/// `make test`, not again in each `KEA_SERIES` pass.
fn covered_by_host_pass() -> bool {
    let covered = std::env::var("KEA_SERIES").is_ok_and(|s| !s.is_empty());
    if covered {
        eprintln!("run in the host's pass (KEA_SERIES unset): these tests choose their Kea series");
    }
    covered
}

/// kea-dhcp4 run with `chroot` in a Kea root; its files in a directory of the root's /tmp.
struct RootKea {
    proc_: Proc,
    dir: tempfile::TempDir,
}

impl RootKea {
    fn new_dir(root: &Path) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::Builder::new()
            .prefix("ctt-kea3")
            .tempdir_in(root.join("tmp"))
            .unwrap();
        chmod(dir.path(), 0o755);
        let inner = Path::new("/tmp").join(dir.path().file_name().unwrap());
        (dir, inner)
    }

    /// Starts Kea with `dhcp4` (a Dhcp4 map; loggers to stdout and a non-persistent memfile
    /// added), run as `user` inside the root when set, in `ns` when set.
    fn start(
        root: &Path,
        (dir, inner): (tempfile::TempDir, PathBuf),
        mut dhcp4: Value,
        user: Option<&str>,
        ns: Option<&Netns>,
        env: &[(&str, String)],
    ) -> RootKea {
        dhcp4["lease-database"] = json!({"type": "memfile", "persist": false, "lfc-interval": 0});
        dhcp4["loggers"] = json!([{"name": "kea-dhcp4", "severity": "INFO",
            "output-options": [{"output": "stdout"}]}]);
        let file = dir.path().join("kea-dhcp4.json");
        fs::write(&file, json!({ "Dhcp4": dhcp4 }).to_string()).unwrap();
        let log = dir.path().join("kea.log");
        let out = fs::File::create(&log).unwrap();
        let mut cmd = match ns {
            Some(ns) => ns.command("chroot"),
            None => Command::new("chroot"),
        };
        if let Some(u) = user {
            cmd.arg(format!("--userspec={u}:{u}"));
        }
        cmd.arg(root)
            .arg("kea-dhcp4")
            .arg("-c")
            .arg(inner.join("kea-dhcp4.json"))
            .env("KEA_LOCKFILE_DIR", &inner)
            .env("KEA_PIDFILE_DIR", &inner);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("chroot kea-dhcp4");
        RootKea {
            proc_: Proc { child, log },
            dir,
        }
    }

    fn log(&self) -> String {
        self.proc_.log_text()
    }

    fn wait_started(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.log().contains("DHCP4_STARTED") {
            if let Ok(Some(st)) = self.proc_.child.try_wait() {
                panic!("kea-dhcp4 3.0 exited ({st}):\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "kea-dhcp4 3.0 not started:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let b = [c[0], *c.get(1).unwrap_or(&0), *c.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// POSTs `command` to Kea's HTTP control socket from inside `ns`, with basic auth; returns
/// (HTTP status, body).
fn kea_http(
    ns: &str,
    addr: SocketAddr,
    user: &str,
    password: &str,
    command: &Value,
) -> (u16, String) {
    let body = command.to_string();
    let mut s = run_in(ns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(3))
    })
    .unwrap()
    .unwrap();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        base64(format!("{user}:{password}").as_bytes()),
        body.len()
    );
    match http::request_on(&mut s, request.as_bytes(), false) {
        Ok(r) => (r.status, r.text()),
        Err(_) => (0, String::new()),
    }
}

/// Kea of `series` run as `_kea` in its root makes its own socket under the hardening
/// (`KEA_CONTROL_SOCKET_DIR` standing for /run/kea, 0750). Outside Kea's group the sidecar is
/// refused at the directory; in the group it gets Kea's values from 2.6.5/3.0.3 on, and before
/// (socket 0750, umask 0027) it is refused at the socket and says why; as Kea's user it works.
fn unix_socket_made_by_kea_as_its_user(series: &str, group_writable: bool) {
    if covered_by_host_pass() {
        return;
    }
    let root = kea_root(series);
    let uid = user_uid(&root.join("etc/passwd"), "_kea").expect("_kea in the root");
    let gid = group_gid(&root.join("etc/group"), "_kea").expect("_kea group in the root");
    let (dir, inner) = RootKea::new_dir(&root);
    // Kea only opens its socket in /run/kea (here KEA_CONTROL_SOCKET_DIR) and wants that
    // directory at 0750: Debian's kea-common makes it _kea:_kea 0750.
    let sockdir = dir.path().join("kea");
    fs::create_dir(&sockdir).unwrap();
    chown(dir.path(), uid, gid);
    chown(&sockdir, uid, gid);
    chmod(&sockdir, 0o750);
    let inner_sock = inner.join("kea/kea4-ctrl-socket");
    let dhcp4 = json!({
        "interfaces-config": {"interfaces": []},
        "control-socket": {"socket-type": "unix", "socket-name": inner_sock},
        "subnet4": [],
    });
    let env = [(
        "KEA_CONTROL_SOCKET_DIR",
        inner.join("kea").display().to_string(),
    )];
    let mut kea = RootKea::start(&root, (dir, inner), dhcp4, Some("_kea"), None, &env);
    kea.wait_started();
    let socket = kea.dir.path().join("kea/kea4-ctrl-socket");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() {
        assert!(Instant::now() < deadline, "no socket:\n{}", kea.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let meta = fs::metadata(&socket).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (uid, gid));
    // 2.6.5+/3.0.3+: group-writable; before, umask 0027 leaves it 0750.
    let mode = if group_writable { 0o770 } else { 0o750 };
    assert_eq!(meta.mode() & 0o777, mode, "Kea {series}'s socket mode");
    let kea_toml = format!("[kea]\ncontrol-socket = {socket:?}\npoll-interval = 0.1\n");

    let s = NobodySidecar::start(&kea_toml, &[]);
    let body = readyz_when_denied(&s);
    assert!(
        body.contains("permission denied on directory")
            && body.contains("mode 0750")
            && body.contains("add the sidecar's user to Kea's group"),
        "{body}"
    );
    drop(s);

    let s = NobodySidecar::start(&kea_toml, &[gid]);
    if group_writable {
        assert_exports_kea(&s, &socket);
        assert!(unavailable_lines(&s.log()).is_empty(), "{}", s.log());
        return;
    }
    // Kea's group is not enough: the socket itself has no group write.
    let body = readyz_when_denied(&s);
    eprintln!("/readyz, nobody in Kea {series}'s group:\n{body}");
    for needle in [
        &format!("permission denied on {}", socket.display()),
        "mode 0750",
        "no group write",
        "2.6.5/3.0.3",
        "run the sidecar as Kea's user",
    ] {
        assert!(body.contains(needle), "{needle:?} not in /readyz:\n{body}");
    }
    drop(s);
    // The fix that works on this Kea: the sidecar as Kea's user.
    let s = NobodySidecar::start_as(&uid.to_string(), &gid.to_string(), &kea_toml, &[gid]);
    assert_exports_kea(&s, &socket);
}

/// Waits until `s` is up on Kea's socket, then checks every packet counter against Kea's own.
fn assert_exports_kea(s: &NobodySidecar, socket: &Path) {
    let m = s.wait_metric("tftp_kea_up", "", 1.0);
    assert_eq!(
        metric_value(&m, "tftp_kea_up", ""),
        Some(1.0),
        "{}",
        s.log()
    );
    let all = send_command(socket, &json!({"command": "statistic-get-all"})).unwrap();
    assert_packets_match(&m, &all["arguments"], "");
}

/// Waits until `s` reports `permission_denied` on Kea's socket (and is down); returns its
/// `/readyz` body, which still answers 200.
fn readyz_when_denied(s: &NobodySidecar) -> String {
    let m = s.wait_metric("tftp_kea_last_error", r#"reason="permission_denied""#, 1.0);
    assert_eq!(metric_value(&m, "tftp_kea_up", ""), Some(0.0), "{m}");
    let (status, body) = s.get("/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[test]
fn kea26_unix_socket_made_by_kea_as_its_user() {
    unix_socket_made_by_kea_as_its_user("2.6", false);
}

#[test]
fn kea30_unix_socket_made_by_kea_as_its_user() {
    unix_socket_made_by_kea_as_its_user("3.0", true);
}

#[test]
fn kea30_http_control_socket_with_basic_auth() {
    if covered_by_host_pass() {
        return;
    }
    let root = kea30_root();
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let (dir, inner) = RootKea::new_dir(&root);
    let mut dhcp4 = Dhcp4Config::for_topology(&topo).build();
    dhcp4["control-sockets"] = json!([{
        "socket-type": "http",
        "socket-address": "127.0.0.1",
        "socket-port": 8000,
        "authentication": {"type": "basic", "realm": "kea-dhcp4",
            "clients": [{"user": "stats", "password": "s3cret-Pw"}]},
    }]);
    let mut kea = RootKea::start(&root, (dir, inner), dhcp4, None, Some(&topo.server), &[]);
    kea.wait_started();
    let kea_addr: SocketAddr = "127.0.0.1:8000".parse().unwrap();
    let stats = || {
        let (code, body) = kea_http(
            topo.server.name(),
            kea_addr,
            "stats",
            "s3cret-Pw",
            &json!({"command": "statistic-get-all"}),
        );
        assert_eq!(code, 200, "{body}\n{}", kea.log());
        let v: Value = serde_json::from_str(&body).unwrap();
        v[0]["arguments"].clone()
    };
    assert_eq!(
        kea_http(
            topo.server.name(),
            kea_addr,
            "stats",
            "nope",
            &json!({"command": "statistic-get-all"})
        )
        .0,
        401
    );

    // DHCP through Kea 3.0: two phones and a PC.
    let client = Client::on_link(link).unwrap();
    for mac in [
        [0, 0x1e, 0x4a, 0x79, 0x41, 1],
        [0, 0x1e, 0x4a, 0x79, 0x41, 2],
    ] {
        client.dora(&Phone::cisco(mac, M7941.vendor_class)).unwrap();
    }
    client.dora(&Phone::new([0, 0x50, 0x56, 0, 0, 1])).unwrap();
    assert_eq!(stats()["pkt4-ack-sent"][0][0], 3, "{}", kea.log());

    let sdir = tempfile::tempdir().unwrap();
    let troot = sdir.path().join("root");
    fs::create_dir(&troot).unwrap();
    let (good, bad) = (sdir.path().join("kea-good"), sdir.path().join("kea-bad"));
    fs::write(&good, "s3cret-Pw\n").unwrap();
    fs::write(&bad, "s3cret-pw\n").unwrap();
    let toml = |pw: &Path| {
        format!(
            "root = {troot:?}\nlisten = \"127.0.0.1:0\"\nhttp_listen = \"off\"\n\n[kea]\nserver = \"dhcp-a\"\nhttp-url = \"http://127.0.0.1:8000/\"\nhttp-user = \"stats\"\nhttp-password-file = {pw:?}\npoll-interval = 0.1\n"
        )
    };
    let ok = cisco_tftp_tests::sidecar::Sidecar::start(
        &topo.server,
        &toml(&good),
        &[],
        "127.0.0.1:9169".parse().unwrap(),
    )
    .unwrap();
    let wrong = cisco_tftp_tests::sidecar::Sidecar::start(
        &topo.server,
        &toml(&bad),
        &[],
        "127.0.0.1:9170".parse().unwrap(),
    )
    .unwrap();

    let m = wait_until(|| {
        let m = ok.metrics_text();
        let want = r#"direction="sent",server="dhcp-a",type="ack""#;
        (
            metric_value(&m, "tftp_kea_packets_total", want) == Some(3.0),
            m,
        )
    });
    assert_eq!(
        metric_value(&m, "tftp_kea_up", r#"server="dhcp-a""#),
        Some(1.0),
        "{m}\n{}",
        ok.log_text()
    );
    assert_packets_match(&m, &stats(), "server=\"dhcp-a\",");
    assert_eq!(
        metric_value(
            &m,
            "tftp_kea_packets_total",
            r#"direction="received",server="dhcp-a",type="discover""#
        ),
        Some(3.0)
    );
    let (status, body) = ok.get("/readyz").unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("kea server=dhcp-a http://127.0.0.1:8000/ (user stats): up"),
        "{body}"
    );

    let m = wait_until(|| {
        let m = wrong.metrics_text();
        let l = r#"reason="unauthorized",server="dhcp-a""#;
        (metric_value(&m, "tftp_kea_last_error", l) == Some(1.0), m)
    });
    assert_eq!(
        metric_value(
            &m,
            "tftp_kea_last_error",
            r#"reason="unauthorized",server="dhcp-a""#
        ),
        Some(1.0),
        "{m}\n{}",
        wrong.log_text()
    );
    assert_eq!(
        metric_value(&m, "tftp_kea_up", r#"server="dhcp-a""#),
        Some(0.0)
    );
    let (status, body) = http_get_in(topo.server.name(), wrong.metrics, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    for needle in [
        "down (unauthorized)",
        "Kea refused the credentials at http://127.0.0.1:8000/ (HTTP 401 Unauthorized)",
        "\"stats\"",
        &bad.display().to_string(),
    ] {
        assert!(body.contains(needle), "{needle:?} not in /readyz:\n{body}");
    }
    assert!(!body.contains("s3cret"), "no password in /readyz: {body}");
    std::thread::sleep(Duration::from_millis(500));
    let log = wrong.log_text();
    let lines = unavailable_lines(&log);
    assert_eq!(lines.len(), 1, "one line per change:\n{log}");
    assert!(lines[0].contains("Kea refused the credentials"), "{log}");
    assert!(!log.contains("s3cret"), "{log}");
}
