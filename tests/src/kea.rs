//! Runs the real kea-dhcp4 inside a network namespace and talks to its
//! control socket.
//!
//! Everything Kea writes (config, control socket, log, lock and pid files)
//! lives in a per-server temporary directory, so servers can run in parallel.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use crate::netns::Netns;

/// How a server is started.
#[derive(Clone, Debug)]
pub struct KeaOptions {
    /// Loggers set to DEBUG at `debuglevel` (the rest of kea-dhcp4 logs at INFO).
    pub debug_loggers: Vec<String>,
    pub debuglevel: u32,
    /// How long to wait for the control socket to answer.
    pub start_timeout: Duration,
}

impl Default for KeaOptions {
    fn default() -> Self {
        KeaOptions {
            debug_loggers: vec!["kea-dhcp4.cisco-tftp".into()],
            debuglevel: 99,
            start_timeout: Duration::from_secs(10),
        }
    }
}

/// The hook library to load: `$CISCO_TFTP_HOOK`, else
/// `${CARGO_TARGET_DIR:-<workspace>/target}/debug/libdhcp_cisco_tftp.so`.
pub fn hook_library_path() -> PathBuf {
    if let Some(p) = std::env::var_os("CISCO_TFTP_HOOK") {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let p = target.join("debug/libdhcp_cisco_tftp.so");
    if !p.exists() {
        panic!(
            "hook library {} not found: run `cargo build -p kea-hook` first \
             (or set CISCO_TFTP_HOOK to the .so)",
            p.display()
        );
    }
    p.canonicalize().unwrap_or(p)
}

/// Kea's `result` field of a command answer (also accepts a one-element list).
pub fn result_code(answer: &Value) -> Option<i64> {
    let a = match answer {
        Value::Array(v) if !v.is_empty() => &v[0],
        a => a,
    };
    a.get("result").and_then(Value::as_i64)
}

/// Files of one Kea instance.
#[derive(Debug)]
struct Paths {
    dir: TempDir,
}

impl Paths {
    fn new() -> io::Result<Paths> {
        // Short prefix under /tmp: unix socket paths are limited to 107 bytes.
        let dir = tempfile::Builder::new().prefix("ctt-kea").tempdir()?;
        Ok(Paths { dir })
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn socket(&self) -> PathBuf {
        self.path("kea4.sock")
    }
    fn log(&self) -> PathBuf {
        self.path("kea4.log")
    }
}

/// Fills in the per-instance paths: control socket (always), and memfile
/// lease database and loggers unless the config sets them.
fn fill(config: &Value, paths: &Paths, opts: &KeaOptions) -> Value {
    let mut d = match config.get("Dhcp4") {
        Some(inner) => inner.clone(),
        None => config.clone(),
    };
    let log = paths.log().to_string_lossy().into_owned();
    let obj = d
        .as_object_mut()
        .expect("Dhcp4 config must be a JSON object");
    obj.insert(
        "control-socket".into(),
        json!({"socket-type": "unix", "socket-name": paths.socket()}),
    );
    obj.entry("lease-database")
        .or_insert_with(|| json!({"type": "memfile", "persist": false, "lfc-interval": 0}));
    obj.entry("loggers").or_insert_with(|| {
        let out = json!([{"output": log, "flush": true, "maxsize": 0}]);
        let mut loggers =
            vec![json!({"name": "kea-dhcp4", "severity": "INFO", "output_options": out})];
        for name in &opts.debug_loggers {
            loggers.push(json!({
                "name": name,
                "severity": "DEBUG",
                "debuglevel": opts.debuglevel,
                "output_options": out,
            }));
        }
        Value::Array(loggers)
    });
    json!({ "Dhcp4": d })
}

/// Writes `config` to `file` and runs `kea-dhcp4 -t` on it (optionally in `ns`).
fn run_check(ns: Option<&str>, paths: &Paths, file: &Path, config: &Value) -> (bool, String) {
    if let Err(e) = fs::write(file, serde_json::to_vec_pretty(config).unwrap()) {
        return (false, format!("cannot write {}: {e}", file.display()));
    }
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "kea-dhcp4"]);
            c
        }
        None => Command::new("kea-dhcp4"),
    };
    let out = cmd
        .arg("-t")
        .arg(file)
        .env("KEA_LOCKFILE_DIR", paths.dir.path())
        .env("KEA_PIDFILE_DIR", paths.dir.path())
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => {
            let mut text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.success(), text)
        }
        Err(e) => (false, format!("cannot run kea-dhcp4: {e}")),
    }
}

/// `kea-dhcp4 -t` on a config (filled like `KeaServer::start` would) inside
/// `ns`, whose interfaces Kea checks. Returns (accepted, Kea's output).
pub fn check_config(ns: &Netns, config: &Value) -> (bool, String) {
    let paths = match Paths::new() {
        Ok(p) => p,
        Err(e) => return (false, format!("tempdir: {e}")),
    };
    let filled = fill(config, &paths, &KeaOptions::default());
    run_check(Some(ns.name()), &paths, &paths.path("check.json"), &filled)
}

/// A running kea-dhcp4; SIGTERM (then SIGKILL) on drop.
#[derive(Debug)]
pub struct KeaServer {
    child: Mutex<Child>,
    paths: Paths,
    opts: KeaOptions,
    ns: String,
    config: Value,
}

impl KeaServer {
    /// Starts Kea in `ns` with default options (see [`KeaOptions`]).
    pub fn start(ns: &Netns, config: Value) -> Result<KeaServer, String> {
        Self::start_with(ns, config, KeaOptions::default())
    }

    /// Starts Kea with `config` (the `Dhcp4` map, or `{"Dhcp4": ...}`) and waits
    /// until its control socket answers.
    pub fn start_with(ns: &Netns, config: Value, opts: KeaOptions) -> Result<KeaServer, String> {
        let paths = Paths::new().map_err(|e| format!("tempdir: {e}"))?;
        let config = fill(&config, &paths, &opts);
        let file = paths.path("kea-dhcp4.json");
        fs::write(&file, serde_json::to_vec_pretty(&config).unwrap())
            .map_err(|e| format!("write {}: {e}", file.display()))?;
        let out = fs::File::create(paths.path("stdout.txt")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // `ip netns exec` execs kea-dhcp4, so the child's pid is Kea's.
        let child = ns
            .command("kea-dhcp4")
            .arg("-c")
            .arg(&file)
            .env("KEA_LOCKFILE_DIR", paths.dir.path())
            .env("KEA_PIDFILE_DIR", paths.dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start kea-dhcp4: {e}"))?;
        let server = KeaServer {
            child: Mutex::new(child),
            paths,
            opts,
            ns: ns.name().to_string(),
            config,
        };
        server.wait_ready()?;
        Ok(server)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + self.opts.start_timeout;
        let mut last = String::new();
        while Instant::now() < deadline {
            if !self.is_running() {
                return Err(format!(
                    "kea-dhcp4 exited during start-up\n{}",
                    self.diagnostics()
                ));
            }
            match self.command("list-commands", None) {
                Ok(_) => return Ok(()),
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "kea-dhcp4 control socket did not answer within {:?} ({last})\n{}",
            self.opts.start_timeout,
            self.diagnostics()
        ))
    }

    /// Log file plus console output, for error messages.
    pub fn diagnostics(&self) -> String {
        let console = fs::read_to_string(self.paths.path("stdout.txt")).unwrap_or_default();
        format!(
            "--- kea log ({}) ---\n{}\n--- kea stdout/stderr ---\n{}",
            self.paths.log().display(),
            self.log(),
            console
        )
    }

    /// Sends a command over the control socket and returns Kea's answer.
    pub fn command(&self, name: &str, arguments: Option<Value>) -> Result<Value, String> {
        let mut req = json!({ "command": name });
        if let Some(a) = arguments {
            req["arguments"] = a;
        }
        send_command(&self.paths.socket(), &req)
    }

    /// The current value of statistic `name` (`statistic-get`), None if unknown.
    pub fn statistic(&self, name: &str) -> Result<Option<i64>, String> {
        let answer = self.command("statistic-get", Some(json!({ "name": name })))?;
        // Kea answers {"arguments": {name: [[value, timestamp], ...]}}, newest first.
        Ok(answer["arguments"][name][0][0].as_i64())
    }

    /// Replaces the configuration with `config-set` (paths filled in as at
    /// start); returns Kea's answer. Kea keeps the old config on failure.
    pub fn reload(&mut self, config: Value) -> Result<Value, String> {
        let filled = fill(&config, &self.paths, &self.opts);
        let answer = self.command("config-set", Some(filled.clone()))?;
        if result_code(&answer) == Some(0) {
            self.config = filled;
        }
        Ok(answer)
    }

    /// Asks the running server to check `config` (`config-test`) without applying it.
    pub fn config_test(&self, config: Value) -> Result<Value, String> {
        let filled = fill(&config, &self.paths, &self.opts);
        self.command("config-test", Some(filled))
    }

    /// `kea-dhcp4 -t` on `config` in this server's namespace: (accepted, output).
    pub fn check_config(&self, config: &Value) -> (bool, String) {
        let filled = fill(config, &self.paths, &self.opts);
        let file = self.paths.path("check.json");
        run_check(Some(&self.ns), &self.paths, &file, &filled)
    }

    /// The full configuration Kea was last given successfully (`{"Dhcp4": ...}`).
    pub fn config(&self) -> &Value {
        &self.config
    }

    pub fn is_running(&self) -> bool {
        matches!(self.child.lock().unwrap().try_wait(), Ok(None))
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    /// The Kea log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.paths.log()).unwrap_or_default()
    }

    pub fn log_path(&self) -> PathBuf {
        self.paths.log()
    }

    pub fn socket_path(&self) -> PathBuf {
        self.paths.socket()
    }

    /// Polls the log until it contains `needle`.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then SIGKILL after 5 s. Returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap();
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        // SAFETY: signalling our own child, which has not been reaped yet.
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = child.try_wait() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for KeaServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One request/answer over Kea's unix control socket (Kea closes after answering).
pub fn send_command(socket: &Path, request: &Value) -> Result<Value, String> {
    let ctx = |e: io::Error| format!("control socket {}: {e}", socket.display());
    let mut s = UnixStream::connect(socket).map_err(ctx)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(ctx)?;
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(ctx)?;
    s.write_all(request.to_string().as_bytes()).map_err(ctx)?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 65536];
    loop {
        let n = s.read(&mut chunk).map_err(ctx)?;
        if n > 0 {
            buf.extend_from_slice(&chunk[..n]);
            // Large answers arrive in pieces: done once the JSON is complete.
            if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                return Ok(v);
            }
            continue;
        }
        return serde_json::from_slice(&buf).map_err(|e| {
            format!(
                "control socket {}: bad answer ({e}): {}",
                socket.display(),
                String::from_utf8_lossy(&buf)
            )
        });
    }
}
