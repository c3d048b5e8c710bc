//! A DHCPv4 client that speaks like a Cisco IP phone (DISCOVER/OFFER/REQUEST/ACK).
//!
//! Requests are built with dhcproto; replies are parsed by hand from the raw
//! bytes so duplicated options stay visible (dhcproto merges them).

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use dhcproto::v4::{self, DhcpOption, Flags, Message, MessageType, OptionCode};
use dhcproto::{Encodable, Encoder};
use socket2::{Domain, Protocol, Socket, Type};

/// Cisco IP phones' parameter request list (option 55).
pub const CISCO_PRL: [u8; 7] = [1, 66, 6, 3, 15, 150, 35];

pub const MSG_DISCOVER: u8 = 1;
pub const MSG_OFFER: u8 = 2;
pub const MSG_REQUEST: u8 = 3;
pub const MSG_ACK: u8 = 5;
pub const MSG_NAK: u8 = 6;

/// Offset of the options area (fixed BOOTP header + magic cookie).
const OPTIONS_OFFSET: usize = 240;
const MAGIC: [u8; 4] = [99, 130, 83, 99];

/// What a phone sends.
#[derive(Clone, Debug)]
pub struct Phone {
    pub mac: [u8; 6],
    /// Option 60, any bytes (0..=255 long); `None` leaves the option out.
    pub vendor_class: Option<Vec<u8>>,
    /// Option 55; empty leaves the option out.
    pub prl: Vec<u8>,
    /// More raw options appended verbatim (code, bytes), e.g. 61 or 82.
    pub extra_options: Vec<(u8, Vec<u8>)>,
    /// Wait per attempt before retransmitting.
    pub timeout: Duration,
    /// Attempts per stage (DISCOVER, REQUEST).
    pub attempts: u32,
}

impl Phone {
    /// A phone with Cisco's PRL, no option 60, 1 s timeout and 3 attempts.
    pub fn new(mac: [u8; 6]) -> Phone {
        Phone {
            mac,
            vendor_class: None,
            prl: CISCO_PRL.to_vec(),
            extra_options: Vec::new(),
            timeout: Duration::from_secs(1),
            attempts: 3,
        }
    }

    /// A phone sending `vendor_class` as option 60 (add the trailing NUL yourself).
    pub fn cisco(mac: [u8; 6], vendor_class: &[u8]) -> Phone {
        Phone {
            vendor_class: Some(vendor_class.to_vec()),
            ..Phone::new(mac)
        }
    }
}

/// Parses `00:11:22:33:44:55` (also `-` separated or bare 12 hex digits).
pub fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let hex: String = s.chars().filter(|c| *c != ':' && *c != '-').collect();
    let bytes = parse_hex(&hex)?;
    bytes
        .try_into()
        .map_err(|_| format!("MAC {s:?}: need 6 bytes"))
}

/// Parses hex digits (whitespace and `:` ignored) into bytes.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !b.is_ascii_whitespace() && *b != b':')
        .collect();
    if digits.len() % 2 != 0 {
        return Err(format!("hex {s:?}: odd number of digits"));
    }
    digits
        .chunks(2)
        .map(|p| {
            let t = std::str::from_utf8(p).map_err(|_| format!("hex {s:?}: not ASCII"))?;
            u8::from_str_radix(t, 16).map_err(|_| format!("hex {s:?}: bad digits {t:?}"))
        })
        .collect()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug)]
pub enum DhcpError {
    Io(io::Error),
    /// No matching reply after all attempts.
    Timeout {
        stage: &'static str,
        attempts: u32,
    },
    /// The server answered the REQUEST with a NAK.
    Nak(Box<Reply>),
    Malformed(String),
}

impl fmt::Display for DhcpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DhcpError::Io(e) => write!(f, "socket error: {e}"),
            DhcpError::Timeout { stage, attempts } => {
                write!(f, "no {stage} after {attempts} attempt(s)")
            }
            DhcpError::Nak(r) => write!(f, "got DHCPNAK: {:?}", r.option_text(56)),
            DhcpError::Malformed(m) => write!(f, "malformed reply: {m}"),
        }
    }
}

impl std::error::Error for DhcpError {}

impl From<io::Error> for DhcpError {
    fn from(e: io::Error) -> Self {
        DhcpError::Io(e)
    }
}

/// A decoded server reply. `options` keeps wire order and duplicates.
#[derive(Clone, Debug)]
pub struct Reply {
    pub msg_type: u8,
    pub xid: u32,
    pub flags: u16,
    pub hops: u8,
    pub yiaddr: Ipv4Addr,
    pub siaddr: Ipv4Addr,
    pub giaddr: Ipv4Addr,
    pub chaddr: [u8; 6],
    pub options: Vec<(u8, Vec<u8>)>,
    /// The whole UDP payload as received.
    pub raw: Vec<u8>,
}

impl Reply {
    /// Parses a BOOTREPLY; options are walked by hand (pad skipped, stops at end).
    pub fn parse(raw: &[u8]) -> Result<Reply, DhcpError> {
        if raw.len() < OPTIONS_OFFSET {
            return Err(DhcpError::Malformed(format!("{} bytes", raw.len())));
        }
        if raw[0] != 2 {
            return Err(DhcpError::Malformed(format!(
                "op {} is not BOOTREPLY",
                raw[0]
            )));
        }
        if raw[236..240] != MAGIC {
            return Err(DhcpError::Malformed("bad magic cookie".into()));
        }
        let options = parse_options(&raw[OPTIONS_OFFSET..])?;
        let ip = |o: usize| Ipv4Addr::new(raw[o], raw[o + 1], raw[o + 2], raw[o + 3]);
        let msg_type = options
            .iter()
            .find(|(c, v)| *c == 53 && v.len() == 1)
            .map(|(_, v)| v[0])
            .ok_or_else(|| DhcpError::Malformed("no option 53".into()))?;
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&raw[28..34]);
        Ok(Reply {
            msg_type,
            xid: u32::from_be_bytes([raw[4], raw[5], raw[6], raw[7]]),
            hops: raw[3],
            flags: u16::from_be_bytes([raw[10], raw[11]]),
            yiaddr: ip(16),
            siaddr: ip(20),
            giaddr: ip(24),
            chaddr,
            options,
            raw: raw.to_vec(),
        })
    }

    /// The first instance of option `code`.
    pub fn option(&self, code: u8) -> Option<&[u8]> {
        self.options
            .iter()
            .find(|(c, _)| *c == code)
            .map(|(_, v)| v.as_slice())
    }

    /// How many times option `code` appears on the wire.
    pub fn option_count(&self, code: u8) -> usize {
        self.options.iter().filter(|(c, _)| *c == code).count()
    }

    /// Option 150 as addresses; an error if its length is 0 or not a multiple of 4.
    pub fn option150(&self) -> Result<Option<Vec<Ipv4Addr>>, String> {
        self.option(150).map(decode_ipv4_list).transpose()
    }

    /// Option 66 as text (lossy UTF-8, trailing NULs stripped).
    pub fn option66(&self) -> Option<String> {
        self.option_text(66)
    }

    /// Any option as text (lossy UTF-8, trailing NULs stripped).
    pub fn option_text(&self, code: u8) -> Option<String> {
        self.option(code).map(|v| {
            let end = v.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
    }

    /// Option 54 (server identifier).
    pub fn server_id(&self) -> Option<Ipv4Addr> {
        match self.option(54) {
            Some(&[a, b, c, d]) => Some(Ipv4Addr::new(a, b, c, d)),
            _ => None,
        }
    }

    /// Human-readable lines, one per option, in wire order.
    pub fn describe(&self) -> Vec<String> {
        self.options
            .iter()
            .map(|(c, v)| {
                format!(
                    "option {c:>3} ({:>3} bytes): {}",
                    v.len(),
                    describe_option(*c, v)
                )
            })
            .collect()
    }
}

/// Walks an options area into (code, bytes), keeping order and duplicates.
pub fn parse_options(mut area: &[u8]) -> Result<Vec<(u8, Vec<u8>)>, DhcpError> {
    let mut out = Vec::new();
    while let Some((&code, rest)) = area.split_first() {
        match code {
            0 => area = rest,
            255 => return Ok(out),
            _ => {
                let (&len, rest) = rest
                    .split_first()
                    .ok_or_else(|| DhcpError::Malformed(format!("option {code} has no length")))?;
                let len = usize::from(len);
                if rest.len() < len {
                    return Err(DhcpError::Malformed(format!(
                        "option {code} claims {len} bytes, {} left",
                        rest.len()
                    )));
                }
                out.push((code, rest[..len].to_vec()));
                area = &rest[len..];
            }
        }
    }
    // Kea always writes an end option; tolerate its absence anyway.
    Ok(out)
}

/// N x 4 network-order bytes -> addresses.
pub fn decode_ipv4_list(v: &[u8]) -> Result<Vec<Ipv4Addr>, String> {
    if v.is_empty() || v.len() % 4 != 0 {
        return Err(format!(
            "address list of {} bytes ({}) is not a positive multiple of 4",
            v.len(),
            hex(v)
        ));
    }
    Ok(v.chunks(4)
        .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
        .collect())
}

/// One option's value, decoded where we know the type, else hex.
pub fn describe_option(code: u8, v: &[u8]) -> String {
    let addrs = |v: &[u8]| match decode_ipv4_list(v) {
        Ok(a) => a
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Err(e) => format!("INVALID {e}"),
    };
    let text = |v: &[u8]| format!("{:?}", String::from_utf8_lossy(v));
    match code {
        1 | 3 | 6 | 28 | 54 | 150 => addrs(v),
        51 | 58 | 59 if v.len() == 4 => {
            format!("{} s", u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
        }
        53 if v.len() == 1 => match v[0] {
            1 => "DISCOVER".into(),
            2 => "OFFER".into(),
            3 => "REQUEST".into(),
            4 => "DECLINE".into(),
            5 => "ACK".into(),
            6 => "NAK".into(),
            7 => "RELEASE".into(),
            8 => "INFORM".into(),
            n => format!("type {n}"),
        },
        12 | 15 | 56 | 60 | 66 | 67 => text(v),
        _ => hex(v),
    }
}

/// Builds a request: `msg` is DISCOVER or REQUEST (then pass the OFFER for
/// options 50 and 54). Broadcast sets the broadcast flag; relay sets giaddr, hops 1.
pub fn build_request(
    transport: &Transport,
    phone: &Phone,
    xid: u32,
    msg: u8,
    offer: Option<&Reply>,
) -> Vec<u8> {
    let mut m = Message::default();
    m.set_xid(xid)
        .set_chaddr(&phone.mac)
        .set_opcode(v4::Opcode::BootRequest);
    match transport {
        Transport::Broadcast { .. } => {
            m.set_flags(Flags::default().set_broadcast());
        }
        Transport::Relay { relay, .. } | Transport::RelayToAll { relay, .. } => {
            m.set_giaddr(*relay).set_hops(1);
        }
    }
    let opts = m.opts_mut();
    opts.insert(DhcpOption::MessageType(MessageType::from(msg)));
    if !phone.prl.is_empty() {
        opts.insert(DhcpOption::ParameterRequestList(
            phone.prl.iter().map(|c| OptionCode::from(*c)).collect(),
        ));
    }
    if let Some(o) = offer {
        opts.insert(DhcpOption::RequestedIpAddress(o.yiaddr));
        if let Some(sid) = o.server_id() {
            opts.insert(DhcpOption::ServerIdentifier(sid));
        }
    }
    let mut buf = Vec::with_capacity(576);
    m.encode(&mut Encoder::new(&mut buf))
        .expect("encoding a request cannot fail");
    // dhcproto ends with the end option; drop it to append raw options:
    // it would omit a zero-length option 60, and we want exact bytes.
    assert_eq!(buf.pop(), Some(255), "dhcproto ends options with end");
    let raw = phone.vendor_class.iter().map(|v| (60u8, v));
    for (code, v) in raw.chain(phone.extra_options.iter().map(|(c, v)| (*c, v))) {
        assert!(v.len() <= 255, "option {code} longer than 255 bytes");
        buf.push(code);
        buf.push(v.len() as u8);
        buf.extend_from_slice(v);
    }
    buf.push(255);
    // BOOTP minimum size; some servers drop shorter packets.
    if buf.len() < 300 {
        buf.resize(300, 0);
    }
    buf
}

/// How requests reach the server.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Broadcast from 0.0.0.0:68 on `iface`, broadcast flag set.
    Broadcast { iface: String },
    /// Unicast from `relay`:67 to `server`:67 with giaddr = relay, hops = 1.
    Relay { relay: Ipv4Addr, server: Ipv4Addr },
    /// Like `Relay`, to every one of `servers`: a relay with several helper addresses, as in
    /// front of a Kea High Availability pair.
    RelayToAll {
        relay: Ipv4Addr,
        servers: Vec<Ipv4Addr>,
    },
}

/// A bound DHCP client socket. Create it inside the namespace you want
/// (see `Netns::run`); it can be used from any thread afterwards.
#[derive(Debug)]
pub struct Client {
    sock: UdpSocket,
    transport: Transport,
}

/// The result of a full DORA exchange.
#[derive(Clone, Debug)]
pub struct Dora {
    pub xid: u32,
    pub offer: Reply,
    pub ack: Reply,
}

impl Dora {
    /// The address the ACK assigned.
    pub fn yiaddr(&self) -> Ipv4Addr {
        self.ack.yiaddr
    }
}

impl Client {
    /// Binds 0.0.0.0:68 on `iface` (SO_BINDTODEVICE, SO_BROADCAST, SO_REUSEADDR).
    pub fn broadcast(iface: &str) -> io::Result<Client> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.set_broadcast(true)?;
        s.bind_device(Some(iface.as_bytes()))?;
        s.bind(&SocketAddr::from((Ipv4Addr::UNSPECIFIED, 68)).into())?;
        Ok(Client {
            sock: s.into(),
            transport: Transport::Broadcast {
                iface: iface.to_string(),
            },
        })
    }

    /// Binds `relay`:67; requests go to `server`:67 with giaddr = `relay`.
    pub fn relay(relay: Ipv4Addr, server: Ipv4Addr) -> io::Result<Client> {
        let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_address(true)?;
        s.bind(&SocketAddr::from((relay, 67)).into())?;
        Ok(Client {
            sock: s.into(),
            transport: Transport::Relay { relay, server },
        })
    }

    /// Binds `relay`:67; requests go to every one of `servers`, with giaddr = `relay`.
    pub fn relay_to_all(relay: Ipv4Addr, servers: Vec<Ipv4Addr>) -> io::Result<Client> {
        let mut c = Client::relay(relay, Ipv4Addr::UNSPECIFIED)?;
        c.transport = Transport::RelayToAll { relay, servers };
        Ok(c)
    }

    /// Any transport.
    pub fn new(transport: &Transport) -> io::Result<Client> {
        match transport {
            Transport::Broadcast { iface } => Client::broadcast(iface),
            Transport::Relay { relay, server } => Client::relay(*relay, *server),
            Transport::RelayToAll { relay, servers } => {
                Client::relay_to_all(*relay, servers.clone())
            }
        }
    }

    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    fn dests(&self) -> Vec<SocketAddrV4> {
        match &self.transport {
            Transport::Broadcast { .. } => vec![SocketAddrV4::new(Ipv4Addr::BROADCAST, 67)],
            Transport::Relay { server, .. } => vec![SocketAddrV4::new(*server, 67)],
            Transport::RelayToAll { servers, .. } => {
                servers.iter().map(|s| SocketAddrV4::new(*s, 67)).collect()
            }
        }
    }

    /// Builds a request (DISCOVER or REQUEST) for this client's transport.
    pub fn build(&self, phone: &Phone, xid: u32, msg: u8, offer: Option<&Reply>) -> Vec<u8> {
        build_request(&self.transport, phone, xid, msg, offer)
    }

    /// Sends raw bytes to the server(s) (or broadcast).
    pub fn send_raw(&self, bytes: &[u8]) -> io::Result<()> {
        for dest in self.dests() {
            self.sock.send_to(bytes, dest)?;
        }
        Ok(())
    }

    /// Waits until `deadline` for a reply with `xid` of one of `types`.
    pub fn recv_reply(
        &self,
        xid: u32,
        types: &[u8],
        deadline: Instant,
    ) -> io::Result<Option<Reply>> {
        // Replies to other xids (other phones in the namespace) are skipped.
        while let Some(r) = self.recv_any(deadline)? {
            if r.xid == xid && types.contains(&r.msg_type) {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The next parseable BOOTREPLY before `deadline`; junk is skipped. Once the
    /// deadline has passed it still returns replies already queued (no waiting),
    /// so a fast sender can drain the socket between sends.
    pub fn recv_any(&self, deadline: Instant) -> io::Result<Option<Reply>> {
        let mut buf = [0u8; 2048];
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            let got = if wait.is_zero() {
                self.sock.set_nonblocking(true)?;
                let r = self.sock.recv_from(&mut buf);
                self.sock.set_nonblocking(false)?;
                r
            } else {
                self.sock.set_read_timeout(Some(wait))?;
                self.sock.recv_from(&mut buf)
            };
            match got {
                Ok((n, _)) => {
                    if let Ok(r) = Reply::parse(&buf[..n]) {
                        return Ok(Some(r));
                    }
                }
                Err(e)
                    if e.kind() == io::ErrorKind::WouldBlock
                        || e.kind() == io::ErrorKind::TimedOut =>
                {
                    return Ok(None)
                }
                // A signal (e.g. SIGCHLD of a child another thread started): wait on.
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn exchange(
        &self,
        phone: &Phone,
        xid: u32,
        msg: u8,
        offer: Option<&Reply>,
        want: &[u8],
        stage: &'static str,
    ) -> Result<Reply, DhcpError> {
        let pkt = self.build(phone, xid, msg, offer);
        let attempts = phone.attempts.max(1);
        for _ in 0..attempts {
            self.send_raw(&pkt)?;
            if let Some(r) = self.recv_reply(xid, want, Instant::now() + phone.timeout)? {
                return Ok(r);
            }
        }
        Err(DhcpError::Timeout { stage, attempts })
    }

    /// DISCOVER -> OFFER only.
    pub fn discover(&self, phone: &Phone, xid: u32) -> Result<Reply, DhcpError> {
        self.exchange(phone, xid, MSG_DISCOVER, None, &[MSG_OFFER], "DHCPOFFER")
    }

    /// Full DISCOVER -> OFFER -> REQUEST -> ACK with a random xid.
    pub fn dora(&self, phone: &Phone) -> Result<Dora, DhcpError> {
        self.dora_xid(phone, rand::random())
    }

    /// Full DORA with a given xid.
    pub fn dora_xid(&self, phone: &Phone, xid: u32) -> Result<Dora, DhcpError> {
        let offer = self.discover(phone, xid)?;
        let ack = self.exchange(
            phone,
            xid,
            MSG_REQUEST,
            Some(&offer),
            &[MSG_ACK, MSG_NAK],
            "DHCPACK",
        )?;
        if ack.msg_type == MSG_NAK {
            return Err(DhcpError::Nak(Box::new(ack)));
        }
        Ok(Dora { xid, offer, ack })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay() -> Transport {
        Transport::Relay {
            relay: Ipv4Addr::new(10, 211, 1, 1),
            server: Ipv4Addr::new(10, 201, 1, 1),
        }
    }

    fn request_options(pkt: &[u8]) -> Vec<(u8, Vec<u8>)> {
        assert_eq!(pkt[236..240], MAGIC);
        parse_options(&pkt[OPTIONS_OFFSET..]).unwrap()
    }

    #[test]
    fn option60_bytes_go_out_exactly_even_empty_or_binary() {
        let mut binary: Vec<u8> = (0..=254u8).collect();
        binary[3] = 0;
        for vc in [
            vec![],
            b"Cisco Systems, Inc. IP Phone CP-7941G\0".to_vec(),
            binary,
        ] {
            let phone = Phone::cisco([0, 1, 2, 3, 4, 5], &vc);
            let pkt = build_request(&relay(), &phone, 7, MSG_DISCOVER, None);
            let opts = request_options(&pkt);
            let got: Vec<_> = opts.iter().filter(|(c, _)| *c == 60).collect();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].1, vc);
            assert!(pkt.len() >= 300);
        }
    }

    #[test]
    fn relay_sets_giaddr_hops_and_broadcast_sets_flag() {
        let phone = Phone::new([0, 1, 2, 3, 4, 5]);
        let pkt = build_request(&relay(), &phone, 0x01020304, MSG_DISCOVER, None);
        assert_eq!(pkt[3], 1, "hops");
        assert_eq!(pkt[4..8], [1, 2, 3, 4], "xid");
        assert_eq!(pkt[24..28], [10, 211, 1, 1], "giaddr");
        assert_eq!(pkt[28..34], [0, 1, 2, 3, 4, 5], "chaddr");
        let b = Transport::Broadcast {
            iface: "eth0".into(),
        };
        let pkt = build_request(&b, &phone, 1, MSG_DISCOVER, None);
        assert_eq!(pkt[10] & 0x80, 0x80, "broadcast flag");
        assert_eq!(pkt[24..28], [0, 0, 0, 0]);
        let opts = request_options(&pkt);
        assert!(opts.contains(&(53, vec![MSG_DISCOVER])));
        assert!(opts.contains(&(55, CISCO_PRL.to_vec())));
        assert!(!opts.iter().any(|(c, _)| *c == 60));
    }

    #[test]
    fn request_carries_requested_ip_and_server_id() {
        let offer = reply_with(&[(53, vec![MSG_OFFER]), (54, vec![10, 201, 1, 1])]);
        let pkt = build_request(&relay(), &Phone::new([0; 6]), 1, MSG_REQUEST, Some(&offer));
        let opts = request_options(&pkt);
        assert!(opts.contains(&(50, vec![10, 201, 1, 150])));
        assert!(opts.contains(&(54, vec![10, 201, 1, 1])));
    }

    fn reply_with(options: &[(u8, Vec<u8>)]) -> Reply {
        let mut raw = vec![0u8; OPTIONS_OFFSET];
        raw[0] = 2;
        raw[4..8].copy_from_slice(&[0, 0, 0, 1]);
        raw[16..20].copy_from_slice(&[10, 201, 1, 150]);
        raw[236..240].copy_from_slice(&MAGIC);
        raw.push(0); // pad
        for (c, v) in options {
            raw.push(*c);
            raw.push(v.len() as u8);
            raw.extend_from_slice(v);
        }
        raw.push(255);
        Reply::parse(&raw).unwrap()
    }

    #[test]
    fn duplicates_stay_visible() {
        let r = reply_with(&[
            (53, vec![MSG_ACK]),
            (150, vec![10, 0, 0, 1]),
            (150, vec![10, 0, 0, 2]),
        ]);
        assert_eq!(r.option_count(150), 2);
        assert_eq!(
            r.option150().unwrap(),
            Some(vec![Ipv4Addr::new(10, 0, 0, 1)])
        );
        assert_eq!(r.yiaddr, Ipv4Addr::new(10, 201, 1, 150));
        assert_eq!(r.msg_type, MSG_ACK);
    }

    #[test]
    fn option150_must_be_positive_multiple_of_4() {
        for bad in [
            vec![],
            vec![1, 2, 3, 4, 5],
            b"10.0.0.1".to_vec()[..7].to_vec(),
        ] {
            let r = reply_with(&[(53, vec![MSG_ACK]), (150, bad.clone())]);
            assert!(r.option150().is_err(), "{bad:?}");
        }
        let r = reply_with(&[(53, vec![MSG_ACK])]);
        assert_eq!(r.option150(), Ok(None));
    }

    #[test]
    fn option66_text_and_truncated_options() {
        let r = reply_with(&[(53, vec![MSG_ACK]), (66, b"tftp.example\0".to_vec())]);
        assert_eq!(r.option66().as_deref(), Some("tftp.example"));
        assert!(matches!(
            parse_options(&[150, 8, 1, 2]),
            Err(DhcpError::Malformed(_))
        ));
        assert!(matches!(
            parse_options(&[150]),
            Err(DhcpError::Malformed(_))
        ));
    }

    #[test]
    fn mac_and_hex_parsing() {
        assert_eq!(
            parse_mac("00:11:22:aa:BB:cc"),
            Ok([0, 0x11, 0x22, 0xaa, 0xbb, 0xcc])
        );
        assert_eq!(
            parse_mac("001122aabbcc"),
            Ok([0, 0x11, 0x22, 0xaa, 0xbb, 0xcc])
        );
        assert!(parse_mac("00:11:22").is_err());
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert!(parse_hex("abc").is_err());
    }
}
