//! tftp-sidecar: a TFTP server for Cisco phone files.
//!
//! Request path: socket (`server`) -> session (`session`) -> content store (`store`: cache,
//! local root, HTTP origin) -> bytes back through the session. Pure parts (`packet`,
//! `filename`, `file_class`) have no I/O so tests and fuzzers reach them directly.

pub mod cli;
pub mod config;
pub mod content;
pub mod file_class;
pub mod filename;
pub mod firmware_check;
pub mod http;
pub mod http_files;
pub mod kea_stats;
pub mod metrics;
pub mod netascii;
pub mod packet;
pub mod page;
pub mod phones;
pub mod server;
pub mod store;
