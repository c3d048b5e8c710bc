//! For the HTTP file listener tests: a raw HTTP/1.1 client (bytes on the wire exactly as
//! given: real clients normalise paths), real-client runners (curl, wget), the sidecar's
//! status port, metric lookups.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Read one response from `s` (HEAD: `head` true, no body follows).
pub fn read_reply(s: &mut TcpStream, head: bool) -> std::io::Result<Reply> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("closed after {} header bytes", buf.len()),
            ));
        }
        buf.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = Vec::new();
    let no_body = head || status == 304 || (100..200).contains(&status);
    if !no_body {
        match headers.get("content-length") {
            Some(n) => {
                body.resize(n.parse().unwrap(), 0);
                s.read_exact(&mut body)?;
            }
            None => {
                s.read_to_end(&mut body)?;
            }
        }
    }
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A connection for sending raw requests, one after another (keep-alive).
pub struct Conn {
    pub s: TcpStream,
}

impl Conn {
    pub fn open(addr: SocketAddr) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        Conn { s }
    }

    /// Send `raw` as it is, read one response.
    pub fn raw(&mut self, raw: &[u8], head: bool) -> std::io::Result<Reply> {
        self.s.write_all(raw)?;
        read_reply(&mut self.s, head)
    }

    /// `METHOD target HTTP/1.1` with a Host and the extra header lines.
    pub fn req(&mut self, method: &str, target: &str, extra: &[&str]) -> Reply {
        let mut r = format!("{method} {target} HTTP/1.1\r\nHost: sidecar\r\n");
        for h in extra {
            r.push_str(h);
            r.push_str("\r\n");
        }
        r.push_str("\r\n");
        self.raw(r.as_bytes(), method == "HEAD").unwrap()
    }
}

pub fn get(addr: SocketAddr, target: &str, extra: &[&str]) -> Reply {
    Conn::open(addr).req("GET", target, extra)
}

pub fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Run a client, panicking with its output when it fails; returns stdout.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run client");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

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

/// `name{labels}` -> value from the status listener, labels exactly as rendered.
pub fn metrics(status: SocketAddr) -> BTreeMap<String, f64> {
    let r = get(status, "/metrics", &[]);
    assert_eq!(r.status, 200);
    String::from_utf8(r.body)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .map(|(k, v)| (k.to_string(), v.parse().unwrap()))
        .collect()
}

pub fn metric(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("no series {key}; have {:#?}", m.keys()))
}
