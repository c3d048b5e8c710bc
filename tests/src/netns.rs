//! Network namespaces and veth links for integration tests.
//!
//! Layout built by [`Topology::new`] for `n` links (k = 1..=n):
//!
//! ```text
//!  server ns                          client ns k
//!  srv{k}  10.201.k.1/24  <--veth-->  eth0  10.201.k.2/24   (broadcast phones)
//!                                           10.211.k.1/24   (relay / giaddr)
//!  route 10.211.k.0/24 via 10.201.k.2
//! ```
//!
//! Addresses are only ever configured inside namespaces created here, so every
//! topology can reuse the same subnets. Namespace names carry the pid and a
//! counter so parallel tests (threads) and parallel test binaries never clash.

use std::ffi::CString;
use std::io;
use std::net::Ipv4Addr;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;

/// Every namespace created here starts with this prefix (used by stale cleanup).
pub const PREFIX: &str = "ctt";

static COUNTER: AtomicUsize = AtomicUsize::new(0);
static CLEAN_ONCE: Once = Once::new();

/// Panics with a clear message unless running as root (netns needs CAP_SYS_ADMIN).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        panic!(
            "these integration tests create network namespaces and run kea-dhcp4: \
             run them as root (e.g. `sudo -E cargo test -p cisco-tftp-tests`); euid is {euid}"
        );
    }
}

/// Runs `ip ARGS`, returning an error with stderr when it fails.
pub fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "ip {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Deletes namespaces with our prefix whose creating process is gone (crashed
/// runs), killing what still runs inside them. Runs once per process
/// automatically; also `phone-sim cleanup`.
pub fn cleanup_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            // Kea servers of a killed test run outlive it: stop them first.
            if let Ok(o) = Command::new("ip").args(["netns", "pids", name]).output() {
                for p in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    if let Ok(p) = p.parse::<libc::pid_t>() {
                        // SAFETY: kill(2) on a pid found inside our own stale namespace.
                        unsafe { libc::kill(p, libc::SIGKILL) };
                    }
                }
            }
            let _ = ip(&["netns", "del", name]);
        }
    }
}

/// A named network namespace, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a uniquely named namespace `ctt<pid>-<n>-<role>` with `lo` up.
    pub fn new(role: &str) -> io::Result<Netns> {
        require_root();
        CLEAN_ONCE.call_once(cleanup_stale);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{PREFIX}{}-{n}-{role}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NS ARGS`.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut full = vec!["-n", &self.name];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// A `Command` for `ip netns exec NS program`; add args, then spawn or output.
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name, program]);
        cmd
    }

    /// Runs `program args` in the namespace and returns its output (any exit status).
    pub fn exec(&self, program: &str, args: &[&str]) -> io::Result<Output> {
        self.command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
    }

    /// Runs `f` on a fresh thread that has joined this namespace.
    ///
    /// Sockets keep the namespace they were created in, so this is how a test
    /// process opens a socket "inside" a namespace and then uses it from anywhere.
    pub fn run<F, R>(&self, f: F) -> io::Result<R>
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        run_in(&self.name, f)
    }
}

/// Runs `f` on a fresh thread that has joined the namespace named `name`
/// (as listed by `ip netns`); see [`Netns::run`].
pub fn run_in<F, R>(name: &str, f: F) -> io::Result<R>
where
    F: FnOnce() -> R + Send,
    R: Send,
{
    let path = format!("/run/netns/{name}");
    // A scoped, short-lived thread: setns only affects the calling thread
    // and the thread dies afterwards, so no other thread changes namespace.
    std::thread::scope(|s| {
        s.spawn(move || -> io::Result<R> {
            let cpath = CString::new(path).expect("no NUL in path");
            // SAFETY: plain syscalls on a path we own; fd closed below.
            let fd = unsafe { libc::open(cpath.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let rc = unsafe { libc::setns(fd, libc::CLONE_NEWNET) };
            let err = io::Error::last_os_error();
            unsafe { libc::close(fd) };
            if rc != 0 {
                return Err(err);
            }
            Ok(f())
        })
        .join()
        .expect("netns thread panicked")
    })
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting the namespace also destroys the veth ends inside it.
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// One server<->client veth link and the addresses on it.
#[derive(Debug)]
pub struct Link {
    /// 1-based link number `k`.
    pub index: u8,
    /// The client-side namespace (phones and the relay live here).
    pub ns: Netns,
    /// Interface name inside the server namespace (`srv{k}`).
    pub server_if: String,
    /// Interface name inside the client namespace (`eth0`).
    pub client_if: String,
    /// 10.201.k.1: the server's address on the link (relays send here).
    pub server_addr: Ipv4Addr,
    /// 10.201.k.2: the client namespace's address on the link.
    pub client_addr: Ipv4Addr,
    /// 10.211.k.1: the relay address (giaddr) in the client namespace.
    pub relay_addr: Ipv4Addr,
}

impl Link {
    /// The directly attached subnet (served to broadcast clients): 10.201.k.0/24.
    pub fn subnet(&self) -> String {
        format!("10.201.{}.0/24", self.index)
    }

    /// The subnet behind the relay (selected by giaddr): 10.211.k.0/24.
    pub fn relay_subnet(&self) -> String {
        format!("10.211.{}.0/24", self.index)
    }
}

/// A server namespace plus `n` client namespaces, each on its own veth link.
///
/// Drop order: keep any `KeaServer` declared *after* the topology so it stops first.
#[derive(Debug)]
pub struct Topology {
    pub links: Vec<Link>,
    // Declared last: dropped after the links' namespaces (order is not critical).
    pub server: Netns,
}

impl Topology {
    /// Builds `n` links (1..=200). See the module docs for the addressing.
    pub fn new(n: u8) -> io::Result<Topology> {
        assert!((1..=200).contains(&n), "1..=200 links");
        let server = Netns::new("s")?;
        let mut links = Vec::new();
        for k in 1..=n {
            let ns = Netns::new(&format!("c{k}"))?;
            let server_if = format!("srv{k}");
            let client_if = "eth0".to_string();
            // Created directly inside the namespaces: interface names never
            // appear in the root namespace, so parallel tests cannot collide.
            server.ip(&[
                "link",
                "add",
                &server_if,
                "type",
                "veth",
                "peer",
                "name",
                &client_if,
                "netns",
                ns.name(),
            ])?;
            let server_addr = Ipv4Addr::new(10, 201, k, 1);
            let client_addr = Ipv4Addr::new(10, 201, k, 2);
            let relay_addr = Ipv4Addr::new(10, 211, k, 1);
            server.ip(&[
                "addr",
                "add",
                &format!("{server_addr}/24"),
                "dev",
                &server_if,
            ])?;
            server.ip(&["link", "set", &server_if, "up"])?;
            ns.ip(&[
                "addr",
                "add",
                &format!("{client_addr}/24"),
                "dev",
                &client_if,
            ])?;
            ns.ip(&[
                "addr",
                "add",
                &format!("{relay_addr}/24"),
                "dev",
                &client_if,
            ])?;
            ns.ip(&["link", "set", &client_if, "up"])?;
            // Kea answers a relay at giaddr: route the relay subnet back over the link.
            server.ip(&[
                "route",
                "add",
                &format!("10.211.{k}.0/24"),
                "via",
                &client_addr.to_string(),
            ])?;
            links.push(Link {
                index: k,
                ns,
                server_if,
                client_if,
                server_addr,
                client_addr,
                relay_addr,
            });
        }
        Ok(Topology { links, server })
    }

    /// The server-side interface names, for Kea's `interfaces-config`.
    pub fn server_ifaces(&self) -> Vec<String> {
        self.links.iter().map(|l| l.server_if.clone()).collect()
    }

    /// Link `k` (1-based).
    pub fn link(&self, k: u8) -> &Link {
        &self.links[usize::from(k) - 1]
    }
}
