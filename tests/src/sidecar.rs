//! Runs the real `tftp-sidecar` binary in a network namespace, and GETs its status listener
//! (and Prometheus) from inside a namespace.

use std::fs;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::http;
use crate::netns::{run_in, Netns};

/// `$TFTP_SIDECAR_BIN`, else `${CARGO_TARGET_DIR:-<workspace>/target}/debug/tftp-sidecar`.
pub fn sidecar_binary_path() -> PathBuf {
    if let Some(p) = std::env::var_os("TFTP_SIDECAR_BIN") {
        return PathBuf::from(p);
    }
    let p = target_dir().join("debug/tftp-sidecar");
    if !p.exists() {
        panic!(
            "{} not found: run `cargo build -p tftp-sidecar` first (or set TFTP_SIDECAR_BIN)",
            p.display()
        );
    }
    p.canonicalize().unwrap_or(p)
}

/// `target/debug/phone-sim` (built with the tests crate).
pub fn phone_sim_path() -> PathBuf {
    target_dir().join("debug/phone-sim")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

/// A running sidecar; killed on drop. Its stderr goes to `log_path()`.
#[derive(Debug)]
pub struct Sidecar {
    child: Child,
    ns: String,
    pub metrics: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

/// Where the end-to-end tests' sidecars answer HTTP status (inside their namespace).
pub const STATUS_ADDR: &str = "127.0.0.1:9169";

impl Sidecar {
    /// The sidecar as the end-to-end tests run it: TFTP on port 69 of every address of `ns`
    /// serving `root`, status on [`STATUS_ADDR`]; `extra_toml` is appended to the config.
    pub fn serve_root(ns: &Netns, root: &Path, extra_toml: &str) -> Result<Sidecar, String> {
        let toml = format!("root = {root:?}\nlisten = \"0.0.0.0:69\"\n{extra_toml}\n");
        Sidecar::start(ns, &toml, &[], STATUS_ADDR.parse().unwrap())
    }

    /// Starts `tftp-sidecar --config FILE` in `ns` with `toml` as the config file and extra
    /// flags; waits until `/readyz` at `metrics` answers 200.
    pub fn start(
        ns: &Netns,
        toml: &str,
        args: &[&str],
        metrics: SocketAddr,
    ) -> Result<Sidecar, String> {
        let dir = tempfile::Builder::new()
            .prefix("ctt-sidecar")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let cfg = dir.path().join("sidecar.toml");
        fs::write(&cfg, toml).map_err(|e| e.to_string())?;
        let log = dir.path().join("sidecar.log");
        let err = fs::File::create(&log).map_err(|e| e.to_string())?;
        let child = ns
            .command(sidecar_binary_path().to_str().unwrap())
            .arg("--config")
            .arg(&cfg)
            .arg("--metrics-listen")
            .arg(metrics.to_string())
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start tftp-sidecar: {e}"))?;
        let mut s = Sidecar {
            child,
            ns: ns.name().to_string(),
            metrics,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(st)) = s.child.try_wait() {
                return Err(format!("tftp-sidecar exited ({st}):\n{}", s.log_text()));
            }
            if let Ok((200, _)) = s.get("/readyz") {
                return Ok(s);
            }
            if Instant::now() > deadline {
                let _ = s.child.kill();
                return Err(format!("tftp-sidecar not ready in 10 s:\n{}", s.log_text()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET `path` from the status listener (inside the namespace).
    pub fn get(&self, path: &str) -> io::Result<(u16, String)> {
        http_get_in(&self.ns, self.metrics, path)
    }

    /// The `/metrics` text.
    pub fn metrics_text(&self) -> String {
        self.get("/metrics").map(|(_, b)| b).unwrap_or_default()
    }

    /// Waits (10 s at most) until `name{labels}` is `want`; returns the last scrape.
    pub fn wait_metric(&self, name: &str, labels: &str, want: f64) -> String {
        crate::metrics::wait_metric(|| self.metrics_text(), name, labels, want)
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GET from inside namespace `ns`: (status, body).
pub fn http_get_in(ns: &str, addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let stream = run_in(ns, move || {
        TcpStream::connect_timeout(&addr, Duration::from_secs(3))
    })??;
    let r = http::get_on(stream, addr, path)?;
    Ok((r.status, r.text()))
}

/// GET in the current namespace: (status, body).
pub fn http_get(addr: SocketAddr, path: &str) -> io::Result<(u16, String)> {
    let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
    let r = http::get_on(stream, addr, path)?;
    Ok((r.status, r.text()))
}
