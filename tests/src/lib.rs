//! Phone simulator and harness for integration tests with the real kea-dhcp4.
//!
//! - [`netns`]: namespaces and veth links ([`netns::Topology`])
//! - [`kea`]: run kea-dhcp4 in a namespace, control socket, `-t` checks
//! - [`config`]: Dhcp4 configurations matching a topology
//! - [`dhcp`]: a DHCPv4 client speaking as a Cisco phone (broadcast or relay)
//! - [`fuzz`]: random option 60 DISCOVERs at a bounded rate

pub mod config;
pub mod dhcp;
pub mod fuzz;
pub mod kea;
pub mod netns;
