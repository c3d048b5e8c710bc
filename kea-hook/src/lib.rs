//! libdhcp_cisco_tftp: a Kea DHCPv4 hook that gives Cisco IP phones a correct option 150.
//!
//! Pure logic (no FFI, unit-tested): `matching`, `config`, `policy`, `encoding`, `engine`,
//! `counters`. The edge Kea calls (`extern "C"` exports, panic containment) is in `exports`
//! and `callouts`; the C++ shim under `kea-hook-sys` does what only C++ can.

pub mod config;
pub mod counters;
pub mod encoding;
pub mod engine;
pub mod matching;
pub mod policy;
