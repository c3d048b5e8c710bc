//! A Kea High Availability pair for the tests: two server namespaces behind one relay.
//!
//! ```text
//!  server ns 1                     relay ns                        server ns 2
//!  ha1 10.230.1.1/24 <--veth--> r1 10.230.1.2/24                   ha2 10.230.2.1/24
//!                                  r2 10.230.2.2/24 <--veth------>
//!                                  lo 10.211.1.1/32 (giaddr; forwards between the servers)
//! ```
//!
//! Phones are relayed from 10.211.1.1 to both servers (two helper addresses); the servers
//! talk HA to each other through the relay namespace, each on its own HTTP listener.

use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::Dhcp4Config;
use crate::kea::{self, KeaServer};
use crate::netns::Netns;

/// The relay (giaddr) the phones sit behind.
pub const RELAY: Ipv4Addr = Ipv4Addr::new(10, 211, 1, 1);
/// The phones' subnet (Kea subnet id 1), selected by the relay's address.
pub const PHONE_SUBNET: &str = "10.211.1.0/24";
/// The HA listener's port on both servers.
const HA_PORT: u16 = 8001;

/// How the pair shares the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaMode {
    /// One server answers; the standby takes over when the primary fails.
    HotStandby,
    /// Both answer, each for its half of the clients (by MAC hash).
    LoadBalancing,
}

impl HaMode {
    fn name(self) -> &'static str {
        match self {
            HaMode::HotStandby => "hot-standby",
            HaMode::LoadBalancing => "load-balancing",
        }
    }
    /// The `role` of the second server.
    fn second_role(self) -> &'static str {
        match self {
            HaMode::HotStandby => "standby",
            HaMode::LoadBalancing => "secondary",
        }
    }
}

/// The three namespaces and their links; see the module docs.
#[derive(Debug)]
pub struct HaTopology {
    pub relay: Netns,
    /// Server namespaces 1 and 2.
    pub servers: [Netns; 2],
}

impl HaTopology {
    pub fn new() -> io::Result<HaTopology> {
        let relay = Netns::new("har")?;
        let servers = [Netns::new("ha1")?, Netns::new("ha2")?];
        for (i, server) in servers.iter().enumerate() {
            let n = i + 1;
            let (r_if, s_if) = (format!("r{n}"), format!("ha{n}"));
            relay.ip(&[
                "link",
                "add",
                &r_if,
                "type",
                "veth",
                "peer",
                "name",
                &s_if,
                "netns",
                server.name(),
            ])?;
            relay.ip(&["addr", "add", &format!("10.230.{n}.2/24"), "dev", &r_if])?;
            relay.ip(&["link", "set", &r_if, "up"])?;
            server.ip(&["addr", "add", &format!("10.230.{n}.1/24"), "dev", &s_if])?;
            server.ip(&["link", "set", &s_if, "up"])?;
            // Everything else (the partner, the relay's giaddr) is behind the relay.
            server.ip(&["route", "add", "default", "via", &format!("10.230.{n}.2")])?;
        }
        // Kea opens no DHCP socket on a link whose carrier is not up yet (the kernel
        // reports it asynchronously): wait for it.
        for (i, server) in servers.iter().enumerate() {
            wait_link_up(server, &Self::server_iface(i))?;
        }
        relay.ip(&["addr", "add", &format!("{RELAY}/32"), "dev", "lo"])?;
        let out = relay.exec("sysctl", &["-qw", "net.ipv4.ip_forward=1"])?;
        if !out.status.success() {
            return Err(io::Error::other("sysctl net.ipv4.ip_forward=1 failed"));
        }
        Ok(HaTopology { relay, servers })
    }

    /// Server `i`'s (0 or 1) address, where the relay sends and the partner connects.
    pub fn server_addr(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 230, i as u8 + 1, 1)
    }

    /// Server `i`'s interface name inside its namespace.
    pub fn server_iface(i: usize) -> String {
        format!("ha{}", i + 1)
    }

    /// Server `i`'s Dhcp4 configuration: the phones' subnet, lease_cmds, the HA hook in `mode`
    /// with fast failure detection, and `hook_params` for the cisco-tftp hook (the same on
    /// both: in production one source, see the Ansible role).
    pub fn config(&self, i: usize, mode: HaMode, hook_params: &Value) -> Value {
        let name = |j: usize| format!("server{}", j + 1);
        let peers: Vec<Value> = (0..2)
            .map(|j| {
                json!({
                    "name": name(j),
                    "url": format!("http://{}:{HA_PORT}/", Self::server_addr(j)),
                    "role": if j == 0 { "primary" } else { mode.second_role() },
                    "auto-failover": true,
                })
            })
            .collect();
        let ha = json!({"high-availability": [{
            "this-server-name": name(i),
            "mode": mode.name(),
            "heartbeat-delay": 500,
            "max-response-delay": 1500,
            "max-ack-delay": 500,
            // Partner down as soon as it stops answering: no wait for unanswered clients.
            "max-unacked-clients": 0,
            // Kea's own HTTP listener for the pair (no Control Agent), which needs Kea's
            // multi-threading.
            "multi-threading": {
                "enable-multi-threading": true,
                "http-dedicated-listener": true,
                "http-listener-threads": 1,
                "http-client-threads": 1,
            },
            "peers": peers,
        }]});
        let mut cfg = Dhcp4Config::empty(&[Self::server_iface(i)])
            .multi_threading(true)
            .hook(&kea::kea_hook_library("libdhcp_lease_cmds.so"), json!({}))
            .hook(&kea::kea_hook_library("libdhcp_ha.so"), ha)
            .hook(&kea::hook_library_path(), hook_params.clone())
            .build();
        cfg["interfaces-config"]["dhcp-socket-type"] = json!("udp");
        cfg["subnet4"] = json!([{
            "id": 1,
            "subnet": PHONE_SUBNET,
            "pools": [{"pool": "10.211.1.100 - 10.211.1.199"}],
            "option-data": [{"name": "routers", "data": RELAY.to_string()}],
        }]);
        cfg
    }

    /// Starts both servers and waits until the pair is in `mode`'s normal state.
    pub fn start(&self, mode: HaMode, hook_params: &Value) -> Result<[KeaServer; 2], String> {
        let a = KeaServer::start(&self.servers[0], self.config(0, mode, hook_params))?;
        let b = KeaServer::start(&self.servers[1], self.config(1, mode, hook_params))?;
        for kea in [&a, &b] {
            wait_state(kea, mode.name(), Duration::from_secs(30))?;
        }
        Ok([a, b])
    }
}

/// Waits (up to 5 s) until `iface` in `ns` reports operational state UP.
fn wait_link_up(ns: &Netns, iface: &str) -> io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let out = ns.exec("ip", &["-o", "link", "show", "dev", iface])?;
        if String::from_utf8_lossy(&out.stdout).contains("state UP") {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(io::Error::other(format!(
                "{iface} in {} is not up",
                ns.name()
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The server's HA state (`ha-heartbeat`), e.g. "hot-standby", "partner-down".
pub fn state(kea: &KeaServer) -> Result<String, String> {
    let answer = kea.command("ha-heartbeat", None)?;
    let a = match &answer {
        Value::Array(v) if !v.is_empty() => &v[0],
        a => a,
    };
    a["arguments"]["state"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("ha-heartbeat: {answer}"))
}

/// Waits until `kea` reports HA state `want`.
pub fn wait_state(kea: &KeaServer, want: &str, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match state(kea) {
            Ok(s) if s == want => return Ok(()),
            Ok(s) => last = s,
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "HA state {want:?} not reached in {timeout:?} (last: {last})\n{}",
        kea.diagnostics()
    ))
}
