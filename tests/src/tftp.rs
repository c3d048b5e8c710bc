//! A blocking TFTP read client that behaves like a Cisco phone (RFC 1350, RFC 2347-2349, 7440).
//!
//! By default it sends a bare RRQ (file name + `octet`, no options) and receives 512-byte
//! blocks in lock-step, as a 79xx phone does. Options (`blksize`, `tsize`, `timeout`,
//! `windowsize`) can be asked for. On silence it resends its last packet (the RRQ before the
//! server answered, the last ACK afterwards) up to `retries` times; it never answers a
//! duplicate DATA with anything but the ACK it already sent (no Sorcerer's Apprentice).
//!
//! Create a [`Client`] inside the network namespace you want (`Netns::run`), bound to the
//! phone's own address, then call [`Client::get`] from any thread.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use tftp_sidecar::packet::{self, error_packet, Packet};

/// The options a request asks for; all `None`/false is a bare RRQ (79xx phones).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TftpOptions {
    pub blksize: Option<u16>,
    /// Ask `tsize=0` (the server answers the file size).
    pub tsize: bool,
    /// Ask the server to use this retransmit timeout (seconds).
    pub timeout: Option<u8>,
    pub windowsize: Option<u16>,
}

impl TftpOptions {
    pub fn is_empty(&self) -> bool {
        *self == TftpOptions::default()
    }
}

/// How a client waits and retries.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub options: TftpOptions,
    /// Wait for the next packet before resending the last one.
    pub timeout: Duration,
    /// Resends of one packet before giving up.
    pub retries: u32,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            options: TftpOptions::default(),
            timeout: Duration::from_secs(1),
            retries: 5,
        }
    }
}

/// Why a read failed.
#[derive(Debug)]
pub enum TftpError {
    /// ERROR 1 from the server.
    NotFound(String),
    /// Any other ERROR packet from the server.
    Server {
        code: u16,
        message: String,
    },
    /// Nothing (or nothing useful) arrived after every retry.
    Timeout {
        block: u16,
        retries: u32,
    },
    /// The server broke the protocol (bad OACK, block from the future, ...).
    Protocol(String),
    Io(io::Error),
}

impl fmt::Display for TftpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TftpError::NotFound(m) => write!(f, "file not found (ERROR 1: {m})"),
            TftpError::Server { code, message } => write!(f, "ERROR {code}: {message}"),
            TftpError::Timeout { block, retries } => {
                write!(
                    f,
                    "timed out waiting for block {block} after {retries} retries"
                )
            }
            TftpError::Protocol(m) => write!(f, "protocol error: {m}"),
            TftpError::Io(e) => write!(f, "I/O error: {e}"),
        }
    }
}

impl std::error::Error for TftpError {}

impl From<io::Error> for TftpError {
    fn from(e: io::Error) -> Self {
        TftpError::Io(e)
    }
}

impl TftpError {
    /// Worth another attempt later (a phone retries these), unlike "not found".
    pub fn is_transient(&self) -> bool {
        match self {
            TftpError::Timeout { .. } | TftpError::Io(_) => true,
            // ERROR 0 is what servers send when busy; 4/5 are protocol mixups.
            TftpError::Server { code, .. } => *code == 0,
            _ => false,
        }
    }
}

/// One finished read.
#[derive(Clone, Debug)]
pub struct Transfer {
    pub data: Vec<u8>,
    /// The block size in use (512 unless negotiated).
    pub blksize: u16,
    pub windowsize: u16,
    /// `tsize` from the OACK, if the server sent it.
    pub tsize: Option<u64>,
    /// Options the server acknowledged (name lower-case, value).
    pub oack: Vec<(String, String)>,
    /// DATA packets received (including duplicates).
    pub packets: u64,
    /// Packets this client sent again after a timeout.
    pub resent: u64,
    pub elapsed: Duration,
    /// The server's transfer port (TID).
    pub server_tid: SocketAddr,
}

/// A bound UDP socket speaking TFTP; one transfer at a time.
#[derive(Debug)]
pub struct Client {
    sock: UdpSocket,
    cfg: ClientConfig,
}

impl Client {
    /// Binds `local` (port 0 for any); create it inside the namespace you want.
    pub fn bind(local: SocketAddr, cfg: ClientConfig) -> io::Result<Client> {
        let sock = UdpSocket::bind(local)?;
        Ok(Client { sock, cfg })
    }

    /// Binds 0.0.0.0:0.
    pub fn any(cfg: ClientConfig) -> io::Result<Client> {
        Client::bind((Ipv4Addr::UNSPECIFIED, 0).into(), cfg)
    }

    pub fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Reads `file` from `server` (usually port 69).
    pub fn get(&self, server: SocketAddr, file: &str) -> Result<Transfer, TftpError> {
        let start = Instant::now();
        // Drop anything left from an earlier transfer on this socket.
        self.sock.set_nonblocking(true)?;
        let mut junk = [0u8; 2048];
        while self.sock.recv_from(&mut junk).is_ok() {}
        self.sock.set_nonblocking(false)?;

        let opts = &self.cfg.options;
        let rrq = build_rrq(file, opts);
        self.sock.send_to(&rrq, server)?;
        let mut last_sent = rrq;
        let mut last_dest = server;
        let mut tid: Option<SocketAddr> = None;
        let mut blksize: u16 = 512;
        let mut windowsize: u16 = 1;
        let mut tsize = None;
        let mut oack = Vec::new();
        let mut data = Vec::new();
        // The last block received in order (0 = none yet).
        let mut last_block: u16 = 0;
        let mut since_ack: u16 = 0;
        let mut packets = 0u64;
        let mut resent = 0u64;
        let mut tries = 0u32;
        let mut buf = vec![0u8; 65536 + 4];
        // Once per transfer: with a setsockopt per packet (and an ACK allocated per block)
        // the simulator took most of a boot storm's CPU (scripts/bench-storm.sh 100: machine
        // CPU 55 s before, 17.5 s after).
        self.sock.set_read_timeout(Some(self.cfg.timeout))?;
        loop {
            let (n, from) = match self.sock.recv_from(&mut buf) {
                Ok(x) => x,
                // A signal (SIGCHLD of a child another thread started) is not silence.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    if tries >= self.cfg.retries {
                        return Err(TftpError::Timeout {
                            block: last_block.wrapping_add(1),
                            retries: tries,
                        });
                    }
                    tries += 1;
                    resent += 1;
                    self.sock.send_to(&last_sent, last_dest)?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let pkt = &buf[..n];
            match tid {
                Some(t) if t != from => {
                    // RFC 1350: a packet from a stranger gets ERROR 5; our transfer goes on.
                    let _ = self.sock.send_to(
                        &error_packet(packet::code::UNKNOWN_TID, "unknown transfer ID"),
                        from,
                    );
                    continue;
                }
                None if from.ip() != server.ip() => continue,
                _ => {}
            }
            // The sidecar's own codec; what it cannot decode is ignored, as garbage is.
            let Ok(pkt) = Packet::decode(pkt) else {
                continue;
            };
            match pkt {
                Packet::Error { code, message } => {
                    return Err(if code == packet::code::FILE_NOT_FOUND {
                        TftpError::NotFound(message)
                    } else {
                        TftpError::Server { code, message }
                    });
                }
                Packet::Oack(options) if tid.is_none() => {
                    if opts.is_empty() {
                        let _ = self.sock.send_to(
                            &error_packet(packet::code::OPTION_REFUSED, "no options asked"),
                            from,
                        );
                        return Err(TftpError::Protocol(
                            "OACK to a request without options".into(),
                        ));
                    }
                    tid = Some(from);
                    // Option names are case-insensitive (RFC 2347).
                    oack = options
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect();
                    for (k, v) in &oack {
                        match k.as_str() {
                            "blksize" => blksize = v.parse().unwrap_or(0),
                            "windowsize" => windowsize = v.parse().unwrap_or(0),
                            "tsize" => tsize = v.parse().ok(),
                            _ => {}
                        }
                    }
                    let bad_blk = !(8..=65464).contains(&blksize)
                        || opts.blksize.is_some_and(|b| blksize > b);
                    let bad_win =
                        windowsize == 0 || opts.windowsize.is_some_and(|w| windowsize > w);
                    if bad_blk || bad_win {
                        let _ = self.sock.send_to(
                            &error_packet(packet::code::OPTION_REFUSED, "bad option value"),
                            from,
                        );
                        return Err(TftpError::Protocol(format!("bad OACK {oack:?}")));
                    }
                    set_ack(&mut last_sent, 0);
                    last_dest = from;
                    self.sock.send_to(&last_sent, from)?;
                    tries = 0;
                }
                Packet::Data {
                    block,
                    data: payload,
                } => {
                    if tid.is_none() {
                        // No OACK: the server ignored our options (or we sent none).
                        tid = Some(from);
                        last_dest = from;
                    }
                    packets += 1;
                    if block == last_block.wrapping_add(1) {
                        if payload.len() > blksize as usize {
                            return Err(TftpError::Protocol(format!(
                                "block {block} has {} bytes, blksize is {blksize}",
                                payload.len()
                            )));
                        }
                        data.extend_from_slice(&payload);
                        last_block = block;
                        since_ack += 1;
                        tries = 0;
                        let last = payload.len() < blksize as usize;
                        if last || since_ack >= windowsize {
                            set_ack(&mut last_sent, block);
                            self.sock.send_to(&last_sent, from)?;
                            since_ack = 0;
                        }
                        if last {
                            return Ok(Transfer {
                                data,
                                blksize,
                                windowsize,
                                tsize,
                                oack,
                                packets,
                                resent,
                                elapsed: start.elapsed(),
                                server_tid: from,
                            });
                        }
                    } else if windowsize > 1 && block != last_block {
                        // A gap inside a window: ask again from the last good block.
                        set_ack(&mut last_sent, last_block);
                        self.sock.send_to(&last_sent, from)?;
                        since_ack = 0;
                    } else if block == last_block && last_block != 0 {
                        // The server timed out and resent: our ACK was lost. ACK it again
                        // (the receiver may; only a sender must not answer duplicates).
                        self.sock.send_to(&last_sent, from)?;
                    }
                }
                _ => {}
            }
        }
    }
}

/// The RRQ for `file` in octet mode with the options asked for, in RFC order.
pub fn build_rrq(file: &str, opts: &TftpOptions) -> Vec<u8> {
    let mut options = Vec::new();
    if let Some(b) = opts.blksize {
        options.push(("blksize".into(), b.to_string()));
    }
    if opts.tsize {
        options.push(("tsize".into(), "0".into()));
    }
    if let Some(t) = opts.timeout {
        options.push(("timeout".into(), t.to_string()));
    }
    if let Some(w) = opts.windowsize {
        options.push(("windowsize".into(), w.to_string()));
    }
    Packet::Rrq(packet::Request {
        filename: file.as_bytes().to_vec(),
        mode: "octet".into(),
        options,
    })
    .encode()
}

/// The ACK of `block` into `p`, reusing its allocation (one per transfer, not per block).
fn set_ack(p: &mut Vec<u8>, block: u16) {
    p.clear();
    Packet::Ack(block).encode_into(p);
}

/// The server address for TFTP at `ip` (port 69).
pub fn server_at(ip: IpAddr) -> SocketAddr {
    SocketAddr::new(ip, 69)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    /// A tiny lock-step server on loopback for `file`, sending `data`; `drop_first` DATA
    /// packets of block 2 are "lost" once.
    fn serve_once(data: Vec<u8>, lose_block2: bool, oack: bool) -> SocketAddr {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = s.local_addr().unwrap();
        thread::spawn(move || {
            let mut buf = [0u8; 2048];
            let (n, client) = s.recv_from(&mut buf).unwrap();
            assert!(matches!(Packet::decode(&buf[..n]), Ok(Packet::Rrq(_))));
            let t = UdpSocket::bind("127.0.0.1:0").unwrap();
            t.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
            let mut blk = 512usize;
            if oack {
                blk = 1024;
                let p = Packet::Oack(vec![
                    ("blksize".into(), "1024".into()),
                    ("tsize".into(), data.len().to_string()),
                ]);
                t.send_to(&p.encode(), client).unwrap();
                let (n, _) = t.recv_from(&mut buf).unwrap();
                assert_eq!(Packet::decode(&buf[..n]), Ok(Packet::Ack(0)));
            }
            let mut lost = !lose_block2;
            let chunks: Vec<&[u8]> = data.chunks(blk).collect();
            let mut blocks: Vec<&[u8]> = chunks.clone();
            if data.len() % blk == 0 {
                blocks.push(&[]);
            }
            for (i, c) in blocks.iter().enumerate() {
                let no = (i + 1) as u16;
                let mut p = Vec::new();
                packet::encode_data(no, c, &mut p);
                loop {
                    if no == 2 && !lost {
                        lost = true;
                    } else {
                        t.send_to(&p, client).unwrap();
                    }
                    match t.recv_from(&mut buf) {
                        Ok((n, _)) if Packet::decode(&buf[..n]) == Ok(Packet::Ack(no)) => break,
                        Ok(_) => {}
                        Err(_) => {}
                    }
                }
            }
        });
        addr
    }

    fn fast() -> ClientConfig {
        ClientConfig {
            timeout: Duration::from_millis(200),
            ..ClientConfig::default()
        }
    }

    #[test]
    fn lock_step_512_with_a_lost_block_and_exact_multiple() {
        for len in [0usize, 511, 512, 1500, 2048] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let srv = serve_once(data.clone(), len > 600, false);
            let c = Client::bind("127.0.0.1:0".parse().unwrap(), fast()).unwrap();
            let t = c.get(srv, "f.bin").unwrap();
            assert_eq!(t.data, data, "len {len}");
            assert_eq!(t.blksize, 512);
        }
    }

    #[test]
    fn negotiates_options() {
        let data = vec![9u8; 3000];
        let srv = serve_once(data.clone(), false, true);
        let mut cfg = fast();
        cfg.options.blksize = Some(1468);
        cfg.options.tsize = true;
        let c = Client::bind("127.0.0.1:0".parse().unwrap(), cfg).unwrap();
        let t = c.get(srv, "f.bin").unwrap();
        assert_eq!(t.data, data);
        assert_eq!(t.blksize, 1024);
        assert_eq!(t.tsize, Some(3000));
    }

    #[test]
    fn silence_is_a_timeout_after_retries() {
        let quiet = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut cfg = fast();
        cfg.timeout = Duration::from_millis(50);
        cfg.retries = 2;
        let c = Client::bind("127.0.0.1:0".parse().unwrap(), cfg).unwrap();
        let e = c.get(quiet.local_addr().unwrap(), "x").unwrap_err();
        assert!(matches!(e, TftpError::Timeout { retries: 2, .. }), "{e}");
        let mut buf = [0u8; 100];
        quiet.set_nonblocking(true).unwrap();
        let mut rrqs = 0;
        while quiet.recv_from(&mut buf).is_ok() {
            rrqs += 1;
        }
        assert_eq!(rrqs, 3, "the RRQ and two resends");
    }

    #[test]
    fn rrq_bytes() {
        assert_eq!(
            build_rrq("a", &TftpOptions::default()),
            b"\x00\x01a\x00octet\x00"
        );
        let o = TftpOptions {
            blksize: Some(1428),
            tsize: true,
            ..Default::default()
        };
        assert_eq!(
            build_rrq("a", &o),
            b"\x00\x01a\x00octet\x00blksize\x001428\x00tsize\x000\x00"
        );
    }
}
