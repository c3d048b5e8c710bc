//! For the HTTP file listener tests: the tests' raw HTTP/1.1 client and metrics parser
//! (shared with the tests crate, included from `tests/src/`), real-client runners (curl,
//! wget), the sidecar's status port, metric lookups. Needs `mod support;` beside it.
#![allow(dead_code)]

#[path = "../../../tests/src/http.rs"]
mod http;
#[path = "../../../tests/src/metrics.rs"]
mod metrics_text;

// Each test file uses its own part of these.
#[allow(unused_imports)]
pub use crate::support::{have, run};
#[allow(unused_imports)]
pub use http::{get, read_reply, Conn, Reply};

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::Command;

pub fn curl(url: &str, out: &Path) -> String {
    run(Command::new("timeout")
        .args(["120", "curl", "-sS", "--fail", "--max-time", "100", "-o"])
        .arg(out)
        .arg(url))
}

pub fn wget(url: &str, out: &Path) {
    run(Command::new("timeout")
        .args(["120", "wget", "-q", "--tries=1", "-O"])
        .arg(out)
        .arg(url));
}

pub fn same_file(a: &Path, b: &[u8]) {
    let x = std::fs::read(a).unwrap();
    assert!(
        x == b,
        "{} differs ({} vs {} bytes)",
        a.display(),
        x.len(),
        b.len()
    );
}

/// A port free right now on 127.0.0.1 (for the status listener, whose address is not logged
/// in a form the runner reads).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `name{labels}` -> value from the status listener, labels sorted by name (as rendered).
pub fn metrics(status: SocketAddr) -> BTreeMap<String, f64> {
    let r = get(status, "/metrics", &[]);
    assert_eq!(r.status, 200);
    metrics_text::series(&r.text())
}

pub fn metric(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no series {key}; have {:#?}", m.keys()))
}
