//! Runs the real kea-dhcp4 inside a network namespace and talks to its
//! control socket: the host's Kea, or the Kea of another release series in a Debian root
//! (`KEA_SERIES`, see [`KeaInstall`]).
//!
//! Everything Kea writes (config, control socket, log, lock and pid files) has a name of its
//! own per server, so servers can run in parallel.

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

/// A Kea version as `kea-dhcp4 -V` prints it, e.g. 3.0.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeaVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KeaVersion {
    /// Parses the first line of `kea-dhcp4 -V` ("2.6.3 (tarball)", "3.0.4").
    pub fn parse(text: &str) -> Option<KeaVersion> {
        let word = text.split_whitespace().next()?;
        let mut parts = word.split('.').map(|p| p.parse::<u32>().ok());
        Some(KeaVersion {
            major: parts.next()??,
            minor: parts.next()??,
            patch: parts.next().flatten().unwrap_or(0),
        })
    }

    /// `major.minor`, the release series a hook build is bound to.
    pub fn series(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    pub fn at_least(&self, major: u32, minor: u32, patch: u32) -> bool {
        (self.major, self.minor, self.patch) >= (major, minor, patch)
    }
}

impl std::fmt::Display for KeaVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// The Kea the tests run against, with the hook built for its release series.
///
/// `KEA_SERIES` unset: the host's `kea-dhcp4`, the hook from
/// `${CARGO_TARGET_DIR:-target}/debug`. `KEA_SERIES=3.0`: the Kea in the Debian root that
/// `scripts/kea-root.sh 3.0` prints (made there if missing), run with `chroot`, the hook from
/// `target/kea-3.0/debug` (`scripts/build-hook.sh 3.0`) installed into that root's hooks
/// directory and named by its bare file name, as Kea 2.6.3+ requires. `CISCO_TFTP_HOOK`
/// overrides the hook file in both cases.
#[derive(Debug)]
pub struct KeaInstall {
    /// `/` for the host's Kea.
    root: PathBuf,
    version: KeaVersion,
    /// What a configuration's `library` says: an absolute path on the host, the bare file
    /// name (resolved in the hooks directory) in a root.
    hook_library: PathBuf,
    /// The build directory of the hook; `cisco-tftp-check` is built beside it.
    build_dir: PathBuf,
    /// Kea's hooks directory, as Kea sees it (`kea-dhcp4 -W`).
    hooks_dir: PathBuf,
}

/// The file name Kea loads.
pub const HOOK_FILE: &str = "libdhcp_cisco_tftp.so";

/// The Kea under test (see [`KeaInstall`]); set up once per test binary.
pub fn install() -> &'static KeaInstall {
    static INSTALL: std::sync::OnceLock<KeaInstall> = std::sync::OnceLock::new();
    INSTALL.get_or_init(|| KeaInstall::from_env().unwrap_or_else(|e| panic!("{e}")))
}

/// What a configuration's `library` should say to load the hook (see [`KeaInstall`]).
pub fn hook_library_path() -> PathBuf {
    install().hook_library.clone()
}

/// [`KeaInstall::kea_hook_library`] of the Kea under test.
pub fn kea_hook_library(file: &str) -> PathBuf {
    install().kea_hook_library(file)
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

impl KeaInstall {
    fn from_env() -> Result<KeaInstall, String> {
        let series = std::env::var("KEA_SERIES").ok().filter(|s| !s.is_empty());
        let root = match &series {
            None => PathBuf::from("/"),
            Some(series) => {
                let script = workspace().join("scripts/kea-root.sh");
                let out = Command::new(&script)
                    .arg(series)
                    .stderr(Stdio::inherit())
                    .output()
                    .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
                if !out.status.success() {
                    return Err(format!("{} {series} failed", script.display()));
                }
                PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
            }
        };
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace().join("target"));
        let hook = match (std::env::var_os("CISCO_TFTP_HOOK"), &series) {
            (Some(p), _) => PathBuf::from(p),
            (None, Some(s)) if root != Path::new("/") => {
                target.join(format!("kea-{s}/debug")).join(HOOK_FILE)
            }
            _ => target.join("debug").join(HOOK_FILE),
        };
        if !hook.exists() {
            return Err(format!(
                "hook library {} not found: build it first (`scripts/build-hook.sh {}`, or \
                 set CISCO_TFTP_HOOK to the .so)",
                hook.display(),
                series.as_deref().unwrap_or("2.2")
            ));
        }
        let hook = hook.canonicalize().unwrap_or(hook);
        let build_dir = hook.parent().unwrap().to_path_buf();
        let mut install = KeaInstall {
            root,
            version: KeaVersion {
                major: 0,
                minor: 0,
                patch: 0,
            },
            hook_library: hook.clone(),
            build_dir,
            hooks_dir: PathBuf::new(),
        };
        let v = install
            .command(None, "kea-dhcp4")
            .arg("-V")
            .output()
            .map_err(|e| format!("cannot run kea-dhcp4 -V: {e}"))?;
        install.version = KeaVersion::parse(&String::from_utf8_lossy(&v.stdout))
            .ok_or_else(|| format!("kea-dhcp4 -V: {}", String::from_utf8_lossy(&v.stdout)))?;
        if let Some(s) = &series {
            if *s != install.version.series() {
                return Err(format!(
                    "KEA_SERIES={s} but the Kea in {} is {}",
                    install.root.display(),
                    install.version
                ));
            }
        }
        install.hooks_dir = install.read_hooks_dir()?;
        if install.in_root() {
            install.prepare_root(&hook)?;
            install.hook_library = PathBuf::from(HOOK_FILE);
        }
        Ok(install)
    }

    /// Puts the hook into the root's hooks directory and makes the directories Kea 2.6.3+
    /// insists on: `/run/kea` (mode 0750) for control sockets, `/var/log/kea` for logs.
    fn prepare_root(&self, hook: &Path) -> Result<(), String> {
        let dest = self.host_path(&self.hooks_dir).join(HOOK_FILE);
        // Copy, then rename: a Kea of another test binary may be loading the old file.
        let tmp = dest.with_extension(format!("so.{}", std::process::id()));
        fs::copy(hook, &tmp)
            .map_err(|e| format!("copy {} -> {}: {e}", hook.display(), tmp.display()))?;
        fs::rename(&tmp, &dest).map_err(|e| format!("install {}: {e}", dest.display()))?;
        // cisco-tftp-check too, when built: it is linked against the root's libraries.
        let checker = self.build_dir.join("cisco-tftp-check");
        if checker.exists() {
            let dest = self.host_path(Path::new(CHECKER_IN_ROOT));
            let tmp = dest.with_extension(std::process::id().to_string());
            fs::create_dir_all(dest.parent().unwrap()).map_err(|e| e.to_string())?;
            fs::copy(&checker, &tmp).map_err(|e| format!("copy {}: {e}", checker.display()))?;
            fs::rename(&tmp, &dest).map_err(|e| format!("install {}: {e}", dest.display()))?;
        }
        let run = self.host_path(Path::new(RUN_DIR));
        fs::create_dir_all(&run).map_err(|e| format!("{}: {e}", run.display()))?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&run, fs::Permissions::from_mode(0o750))
            .map_err(|e| format!("{}: {e}", run.display()))?;
        let log = self.host_path(Path::new(LOG_DIR));
        fs::create_dir_all(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        Ok(())
    }

    fn read_hooks_dir(&self) -> Result<PathBuf, String> {
        let w = self
            .command(None, "kea-dhcp4")
            .arg("-W")
            .output()
            .map_err(|e| format!("kea-dhcp4 -W: {e}"))?;
        let text = String::from_utf8_lossy(&w.stdout);
        text.lines()
            .find_map(|l| l.trim().strip_prefix("Hooks directory:"))
            .map(|d| PathBuf::from(d.trim()))
            .ok_or_else(|| "kea-dhcp4 -W names no hooks directory".to_string())
    }

    /// What a configuration's `library` says for one of Kea's own hooks (e.g.
    /// `libdhcp_ha.so`): its path in the hooks directory, or the bare name in a root.
    pub fn kea_hook_library(&self, file: &str) -> PathBuf {
        if self.in_root() {
            PathBuf::from(file)
        } else {
            self.hooks_dir.join(file)
        }
    }

    pub fn version(&self) -> KeaVersion {
        self.version
    }

    /// True when Kea runs in a Debian root (chroot), not on the host.
    pub fn in_root(&self) -> bool {
        self.root != Path::new("/")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a path inside the root is on the host.
    pub fn host_path(&self, inside: &Path) -> PathBuf {
        self.root.join(inside.strip_prefix("/").unwrap_or(inside))
    }

    /// Where a host path under the root is, seen from inside it.
    pub fn inside_path(&self, host: &Path) -> PathBuf {
        match host.strip_prefix(&self.root) {
            Ok(rel) if self.in_root() => Path::new("/").join(rel),
            _ => host.to_path_buf(),
        }
    }

    /// `program` of this Kea (e.g. `kea-dhcp4`, `perfdhcp`), in namespace `ns` if given.
    pub fn command(&self, ns: Option<&str>, program: &str) -> Command {
        let mut argv: Vec<String> = Vec::new();
        if let Some(ns) = ns {
            argv.extend(["ip", "netns", "exec", ns].map(String::from));
        }
        if self.in_root() {
            argv.push("chroot".into());
            argv.push(self.root.to_string_lossy().into_owned());
        }
        argv.push(program.into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd
    }

    /// `cisco-tftp-check` built for this series; in a root it is copied there and run with
    /// `chroot` (it was linked against that root's libraries). Give it a file from
    /// [`Self::scratch_dir`], named with [`Self::inside_path`].
    pub fn checker(&self) -> Command {
        if !self.in_root() {
            return Command::new(self.build_dir.join("cisco-tftp-check"));
        }
        let mut cmd = Command::new("chroot");
        cmd.arg(&self.root).arg(CHECKER_IN_ROOT);
        cmd
    }

    /// A temporary directory this Kea can read (under the root's /tmp in a root).
    pub fn scratch_dir(&self) -> io::Result<TempDir> {
        tempfile::Builder::new()
            .prefix("ctt-kea")
            .tempdir_in(self.host_path(Path::new("/tmp")))
    }
}

/// Where Kea 2.6.3+ accepts control sockets and log files (its build's runstatedir and
/// logdir); used in the roots. The host's Kea 2.2 has no such rule: its files stay in the
/// per-server temporary directory.
const RUN_DIR: &str = "/run/kea";
/// Where the series' cisco-tftp-check is put in a root.
const CHECKER_IN_ROOT: &str = "/usr/local/bin/cisco-tftp-check";
const LOG_DIR: &str = "/var/log/kea";

/// Kea's `result` field of a command answer (also accepts a one-element list).
pub fn result_code(answer: &Value) -> Option<i64> {
    let a = match answer {
        Value::Array(v) if !v.is_empty() => &v[0],
        a => a,
    };
    a.get("result").and_then(Value::as_i64)
}

/// Files of one Kea instance: config, lock and pid files in a temporary directory (in the
/// root's /tmp for a root); the control socket and the log there too on the host, in
/// `/run/kea` and `/var/log/kea` in a root, where Kea 2.6.3+ requires them.
#[derive(Debug)]
struct Paths {
    dir: TempDir,
    socket: PathBuf,
    log: PathBuf,
}

impl Paths {
    fn new() -> io::Result<Paths> {
        let kea = install();
        // Short prefix under /tmp: unix socket paths are limited to 107 bytes.
        let dir = kea.scratch_dir()?;
        let (socket, log) = if kea.in_root() {
            let name = dir
                .path()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (
                kea.host_path(&Path::new(RUN_DIR).join(format!("{name}.sock"))),
                kea.host_path(&Path::new(LOG_DIR).join(format!("{name}.log"))),
            )
        } else {
            (dir.path().join("kea4.sock"), dir.path().join("kea4.log"))
        };
        Ok(Paths { dir, socket, log })
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// The socket as the host sees it (to connect to).
    fn socket(&self) -> PathBuf {
        self.socket.clone()
    }
    /// The log as the host sees it (to read).
    fn log(&self) -> PathBuf {
        self.log.clone()
    }
    /// A path as Kea sees it (to write into its configuration or command line).
    fn inside(&self, host: &Path) -> PathBuf {
        install().inside_path(host)
    }
}

impl Drop for Paths {
    fn drop(&mut self) {
        // In a root these live outside the temporary directory.
        if install().in_root() {
            let _ = fs::remove_file(&self.socket);
            let _ = fs::remove_file(self.socket.with_extension("sock.lock"));
            let _ = fs::remove_file(&self.log);
        }
    }
}

/// Fills in the per-instance paths: control socket (always), and memfile
/// lease database and loggers unless the config sets them.
fn fill(config: &Value, paths: &Paths, opts: &KeaOptions) -> Value {
    let mut d = match config.get("Dhcp4") {
        Some(inner) => inner.clone(),
        None => config.clone(),
    };
    let log = paths.inside(&paths.log()).to_string_lossy().into_owned();
    let obj = d
        .as_object_mut()
        .expect("Dhcp4 config must be a JSON object");
    obj.insert(
        "control-socket".into(),
        json!({"socket-type": "unix", "socket-name": paths.inside(&paths.socket())}),
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

/// Writes `config` to `file` and runs `kea-dhcp4 FLAG` on it (`-t`, or `-T` on 2.6+;
/// optionally in `ns`).
fn run_check(
    ns: Option<&str>,
    flag: &str,
    paths: &Paths,
    file: &Path,
    config: &Value,
) -> (bool, String) {
    if let Err(e) = fs::write(file, serde_json::to_vec_pretty(config).unwrap()) {
        return (false, format!("cannot write {}: {e}", file.display()));
    }
    let out = install()
        .command(ns, "kea-dhcp4")
        .arg(flag)
        .arg(paths.inside(file))
        .env("KEA_LOCKFILE_DIR", paths.inside(paths.dir.path()))
        .env("KEA_PIDFILE_DIR", paths.inside(paths.dir.path()))
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
    run_check(
        Some(ns.name()),
        "-t",
        &paths,
        &paths.path("check.json"),
        &filled,
    )
}

/// `kea-dhcp4 -T` (Kea 2.6 on: checks the configuration *and* loads its hooks, running their
/// `load()`) inside `ns`. Returns (accepted, Kea's output); None on Kea 2.2, which has no `-T`.
pub fn check_config_with_hooks(ns: &Netns, config: &Value) -> Option<(bool, String)> {
    if !install().version().at_least(2, 6, 0) {
        return None;
    }
    let paths = match Paths::new() {
        Ok(p) => p,
        Err(e) => return Some((false, format!("tempdir: {e}"))),
    };
    let filled = fill(config, &paths, &KeaOptions::default());
    Some(run_check(
        Some(ns.name()),
        "-T",
        &paths,
        &paths.path("check.json"),
        &filled,
    ))
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
        let child = install()
            .command(Some(ns.name()), "kea-dhcp4")
            .arg("-c")
            .arg(paths.inside(&file))
            .env("KEA_LOCKFILE_DIR", paths.inside(paths.dir.path()))
            .env("KEA_PIDFILE_DIR", paths.inside(paths.dir.path()))
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
            // Kea 2.6+ opens the control socket before it loads the hooks, so an answer alone
            // does not mean the configuration was accepted: DHCP4_STARTED comes after both.
            match self.command("list-commands", None) {
                Ok(_) if self.log().contains("DHCP4_STARTED") => return Ok(()),
                Ok(_) => last = "no DHCP4_STARTED in the log yet".into(),
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
        run_check(Some(&self.ns), "-t", &self.paths, &file, &filled)
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
