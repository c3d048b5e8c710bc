//! libdhcp_cisco_tftp: a Kea DHCPv4 hook that gives Cisco IP phones a correct option 150.
//!
//! Pure logic (no FFI, unit-tested): `matching`, `config`, `policy`, `encoding`, `engine`,
//! `counters`. The edge Kea calls: `exports` (the `extern "C"` symbols, panic containment),
//! `lifecycle` (load/unload), `callouts` (the packet path), `commands`, `state`, and `kea`
//! (safe wrappers over the C++ shim in `kea-hook-sys`, the only `unsafe`).

pub mod config;
pub mod counters;
pub mod encoding;
pub mod engine;
pub mod kea_config;
pub mod matching;
pub mod policy;

mod callouts;
mod commands;
pub mod exports;
mod kea;
mod lifecycle;
mod state;
