//! Builds `Dhcp4` configurations for a [`Topology`].
//!
//! Per link k: subnet id k = 10.201.k.0/24 (broadcast phones on the link),
//! subnet id 100+k = 10.211.k.0/24 (phones behind the relay at 10.211.k.1).
//! Pools are .100-.199. Control socket, lease database and loggers are filled
//! in by `KeaServer`.

use std::path::Path;

use serde_json::{json, Value};

use crate::netns::Topology;

/// Subnet id of link k's relay subnet is this + k.
pub const RELAY_SUBNET_ID_OFFSET: u32 = 100;

/// Subnet id of link k's directly attached subnet (broadcast phones).
pub fn subnet_id(k: u8) -> u32 {
    u32::from(k)
}

/// Subnet id of the subnet behind link k's relay (giaddr 10.211.k.1).
pub fn relay_subnet_id(k: u8) -> u32 {
    RELAY_SUBNET_ID_OFFSET + u32::from(k)
}

/// Kea's hook-free Dhcp4 config under construction; `build()` gives the JSON.
#[derive(Clone, Debug)]
pub struct Dhcp4Config {
    value: Value,
}

impl Dhcp4Config {
    /// Raw sockets on every server-side interface, two subnets per link.
    pub fn for_topology(topo: &Topology) -> Dhcp4Config {
        let mut subnets = Vec::new();
        for l in &topo.links {
            let k = l.index;
            subnets.push(json!({
                "id": subnet_id(k),
                "subnet": l.subnet(),
                "pools": [{"pool": format!("10.201.{k}.100 - 10.201.{k}.199")}],
                "option-data": [{"name": "routers", "data": l.server_addr.to_string()}],
            }));
            subnets.push(json!({
                "id": relay_subnet_id(k),
                "subnet": l.relay_subnet(),
                "pools": [{"pool": format!("10.211.{k}.100 - 10.211.{k}.199")}],
                "option-data": [{"name": "routers", "data": l.relay_addr.to_string()}],
            }));
        }
        Dhcp4Config {
            value: json!({
                "interfaces-config": {
                    "interfaces": topo.server_ifaces(),
                    "dhcp-socket-type": "raw",
                },
                "valid-lifetime": 3600,
                "renew-timer": 900,
                "rebind-timer": 1800,
                "subnet4": subnets,
                "multi-threading": {"enable-multi-threading": false},
            }),
        }
    }

    /// No subnets yet, raw sockets on `ifaces`: for topologies of their own (see `ha.rs`).
    pub fn empty(ifaces: &[String]) -> Dhcp4Config {
        Dhcp4Config {
            value: json!({
                "interfaces-config": {"interfaces": ifaces, "dhcp-socket-type": "raw"},
                "valid-lifetime": 3600,
                "renew-timer": 900,
                "rebind-timer": 1800,
                "subnet4": [],
                "multi-threading": {"enable-multi-threading": false},
            }),
        }
    }

    /// Kea's multi-threaded mode (2 threads, queue of 16) or single-threaded.
    pub fn multi_threading(mut self, on: bool) -> Self {
        self.value["multi-threading"] = if on {
            json!({"enable-multi-threading": true, "thread-pool-size": 2, "packet-queue-size": 16})
        } else {
            json!({"enable-multi-threading": false})
        };
        self
    }

    /// Appends a `hooks-libraries` entry.
    pub fn hook(mut self, library: &Path, parameters: Value) -> Self {
        let entry = json!({"library": library, "parameters": parameters});
        self.push("hooks-libraries", entry);
        self
    }

    /// Appends a global `option-def` entry.
    pub fn option_def(mut self, def: Value) -> Self {
        self.push("option-def", def);
        self
    }

    /// Appends a global `option-data` entry.
    pub fn option_data(mut self, data: Value) -> Self {
        self.push("option-data", data);
        self
    }

    /// Sets any top-level key (escape hatch).
    pub fn set(mut self, key: &str, value: Value) -> Self {
        self.value[key] = value;
        self
    }

    /// Mutable access to the JSON for anything the builder does not cover.
    pub fn json_mut(&mut self) -> &mut Value {
        &mut self.value
    }

    pub fn build(self) -> Value {
        self.value
    }

    fn push(&mut self, key: &str, v: Value) {
        let slot = &mut self.value[key];
        if !slot.is_array() {
            *slot = json!([]);
        }
        slot.as_array_mut().unwrap().push(v);
    }
}

/// The `option-def` that makes Kea accept option 150 as an address list.
pub fn option150_def() -> Value {
    json!({"name": "tftp-servers", "code": 150, "type": "ipv4-address", "array": true, "space": "dhcp4"})
}
