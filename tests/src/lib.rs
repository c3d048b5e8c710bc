//! Phone simulator and harness for integration tests with the real kea-dhcp4.
//!
//! - [`netns`]: namespaces and veth links ([`netns::Topology`])
//! - [`kea`]: run kea-dhcp4 in a namespace, control socket, `-t` checks
//! - [`config`]: Dhcp4 configurations matching a topology
//! - [`dhcp`]: a DHCPv4 client speaking as a Cisco phone (broadcast or relay)
//! - [`fuzz`]: random option 60 DISCOVERs at a bounded rate
//! - [`tftp`]: a TFTP read client (bare 512-byte lock-step like a 79xx, or with options)
//! - [`http_fetch`]: the HTTP-on-6970 client 78xx/88xx phones try before TFTP
//! - [`firmware`]: an example TFTP root with placeholder firmware and per-phone configs
//! - [`boot`]: a phone's whole boot (DHCP, trust lists, config, load, images), many at once
//! - [`sidecar`]: run the real `tftp-sidecar` in a namespace; HTTP GET from a namespace
//! - [`http`]: the one raw HTTP/1.1 client of the tests; [`metrics`]: the one `/metrics` parser
//!   (both shared with `tftp-sidecar`'s tests)

pub mod boot;
pub mod config;
pub mod dhcp;
pub mod firmware;
pub mod fuzz;
pub mod ha;
pub mod http;
pub mod http_fetch;
pub mod kea;
pub mod metrics;
pub mod netns;
pub mod sidecar;
pub mod tftp;
