//! A small blocking HTTP/1.1 client for tests: requests go on the wire exactly as given (real
//! clients normalise paths), one response is read back (status, headers, body by
//! Content-Length or to the end). The one HTTP client of the tests: the harness's GETs of
//! status listeners and Prometheus, Kea's HTTP control socket, and `tftp-sidecar`'s listener
//! tests.
//!
//! Plain `std` only, so `tftp-sidecar`'s own tests include this file too (`#[path]`): they
//! cannot depend on this crate, which depends on `tftp-sidecar`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
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

    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
        .ok_or_else(|| std::io::Error::other(format!("bad HTTP status line in {text:?}")))?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = Vec::new();
    let no_body = head || status == 304 || (100..200).contains(&status);
    if !no_body {
        match headers.get("content-length") {
            Some(n) => {
                let n = n
                    .parse()
                    .map_err(|_| std::io::Error::other(format!("bad Content-Length {n:?}")))?;
                body.resize(n, 0);
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

/// `GET path` on a connected `stream`, as HTTP/1.0 (so no server answers chunked); 10 s read
/// timeout.
pub fn get_on(mut stream: TcpStream, host: SocketAddr, path: &str) -> std::io::Result<Reply> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    request_on(&mut stream, request.as_bytes(), false)
}

/// Sends `raw` on `stream` and reads one response (10 s read timeout).
pub fn request_on(stream: &mut TcpStream, raw: &[u8], head: bool) -> std::io::Result<Reply> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(raw)?;
    read_reply(stream, head)
}
