//! tftp-sidecar: a TFTP server for Cisco phone files.
//!
//! Request path: socket (`server`) -> session (`session`) -> content store (`store`: cache,
//! local root, HTTP origin) -> bytes back through the session. Pure parts (`packet`,
//! `filename`, `file_class`) have no I/O so tests and fuzzers reach them directly.

pub mod content;
pub mod file_class;
pub mod store;
pub mod metrics;
pub mod phones;
pub mod filename;
pub mod netascii;
pub mod packet;
pub mod server;
pub mod cli;
pub mod config;
pub mod http;
pub mod firmware_check;
pub mod kea_stats;
