//! How 78xx/88xx phones fetch a file first: `GET /<name>` over HTTP/1.1 on TCP 6970 of the
//! option-150 server, one kept-alive connection for the whole boot. Anything but an answer
//! (refused, reset, timed out, a 5xx) is a failure the phone follows with TFTP for that file.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

/// What the server said.
#[derive(Debug, PartialEq, Eq)]
pub enum HttpReply {
    Ok(Vec<u8>),
    /// 404: the file does not exist (no TFTP retry: the server answered).
    NotFound,
}

/// One phone's HTTP client: keeps its connection between files.
pub struct HttpFetcher {
    /// The phone's address (port 0).
    bind: SocketAddr,
    timeout: Duration,
    conn: Option<(SocketAddr, BufReader<TcpStream>)>,
}

impl HttpFetcher {
    pub fn new(bind: SocketAddr, timeout: Duration) -> HttpFetcher {
        HttpFetcher {
            bind,
            timeout,
            conn: None,
        }
    }

    /// `GET /<name>` from `to`. A kept-alive connection the server has since closed is
    /// reopened once.
    pub fn get(&mut self, to: SocketAddr, name: &str) -> io::Result<HttpReply> {
        let reused = matches!(&self.conn, Some((a, _)) if *a == to);
        match self.try_get(to, name) {
            Err(_) if reused => {
                self.conn = None;
                self.try_get(to, name)
            }
            r => r,
        }
    }

    fn try_get(&mut self, to: SocketAddr, name: &str) -> io::Result<HttpReply> {
        if !matches!(&self.conn, Some((a, _)) if *a == to) {
            self.conn = Some((to, BufReader::new(self.connect(to)?)));
        }
        let (_, r) = self.conn.as_mut().expect("just connected");
        let req = format!("GET /{name} HTTP/1.1\r\nHost: {to}\r\nConnection: keep-alive\r\n\r\n");
        let res = exchange(r, req.as_bytes());
        if !matches!(&res, Ok((_, true))) {
            self.conn = None;
        }
        res.map(|(reply, _)| reply)
    }

    fn connect(&self, to: SocketAddr) -> io::Result<TcpStream> {
        let s = Socket::new(Domain::for_address(to), Type::STREAM, None)?;
        if self.bind.is_ipv4() == to.is_ipv4() {
            s.bind(&self.bind.into())?;
        }
        s.connect_timeout(&to.into(), self.timeout)?;
        let s: TcpStream = s.into();
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        s.set_nodelay(true)?;
        Ok(s)
    }
}

/// Sends `req`, reads one response: the reply and whether the connection stays open.
fn exchange(r: &mut BufReader<TcpStream>, req: &[u8]) -> io::Result<(HttpReply, bool)> {
    r.get_mut().write_all(req)?;
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "closed"));
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad status line"))?;
    let mut len: Option<usize> = None;
    let mut close = false;
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "headers cut"));
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().ok(),
                "connection" => close |= v.trim().eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    let len = len.ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no length"))?;
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    match status {
        200 => Ok((HttpReply::Ok(body), !close)),
        404 => Ok((HttpReply::NotFound, !close)),
        s => Err(io::Error::other(format!("HTTP {s}"))),
    }
}
