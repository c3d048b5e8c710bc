//! Phone simulator and harness for integration tests with the real kea-dhcp4.
//!
//! - [`netns`]: namespaces and veth links ([`netns::Topology`])
//! - [`kea`]: run kea-dhcp4 in a namespace, control socket, `-t` checks
//! - [`config`]: Dhcp4 configurations matching a topology
//! - [`dhcp`]: a DHCPv4 client speaking as a Cisco phone (broadcast or relay)
//! - [`fuzz`]: random option 60 DISCOVERs at a bounded rate
//! - [`tftp`]: a TFTP read client (bare 512-byte lock-step like a 79xx, or with options)
//! - [`firmware`]: an example TFTP root with placeholder firmware and per-phone configs
//! - [`boot`]: a phone's whole boot (DHCP, trust lists, config, load, images), many at once
//! - [`sidecar`]: run the real `tftp-sidecar` in a namespace; HTTP GET and metric parsing

pub mod boot;
pub mod config;
pub mod dhcp;
pub mod firmware;
pub mod fuzz;
pub mod ha;
pub mod kea;
pub mod netns;
pub mod sidecar;
pub mod tftp;
