//! UDP socket setup: big receive buffers (a boot storm's RRQs arrive at once), v6-only
//! wildcard binds so `0.0.0.0` and `[::]` can both listen, and on wildcard listeners each
//! datagram's destination address (IP_PKTINFO / IPV6_RECVPKTINFO), so that replies leave
//! from the address a phone asked rather than from the kernel's choice of source.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

pub(crate) use pktinfo::{build_pktinfo, parse_pktinfo};
pub use pktinfo::{enable_pktinfo, send_from};

/// Bind a non-blocking UDP socket. `recv_buffer` asks for that SO_RCVBUF; as root we
/// force past `net.core.rmem_max`, otherwise the kernel's cap applies.
pub fn bind_udp(addr: SocketAddr, recv_buffer: Option<usize>) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    if let Some(size) = recv_buffer {
        set_recv_buffer(&sock, size);
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

fn set_recv_buffer(sock: &Socket, size: usize) {
    let _ = sock.set_recv_buffer_size(size);
    // The kernel reports double the usable size.
    if sock.recv_buffer_size().unwrap_or(0) >= size {
        return;
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let v = size.min(i32::MAX as usize) as libc::c_int;
        // SAFETY: setsockopt on an owned fd with a correctly sized int.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                &v as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            tracing::warn!(
                wanted = size,
                got = sock.recv_buffer_size().unwrap_or(0),
                "could not raise SO_RCVBUF (raise net.core.rmem_max); bursts of requests may be dropped"
            );
        }
    }
}

/// Destination addresses of received datagrams, and source addresses of sent ones, through
/// `recvmsg`/`sendmsg` control messages. Used only by wildcard listeners: a socket bound to
/// one address needs none of it and keeps plain `recv_from`/`send_to`.
mod pktinfo {
    use std::io::{self, IoSlice};
    use std::mem::size_of;
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
    use std::os::fd::AsRawFd;

    use socket2::{MsgHdr, SockAddr, SockRef};
    use tokio::io::Interest;
    use tokio::net::UdpSocket;

    /// Ask the kernel to report each datagram's destination address (IP_PKTINFO, or
    /// IPV6_RECVPKTINFO on a v6 socket); read it with `batch_io::RecvBatch`.
    pub fn enable_pktinfo(sock: &UdpSocket) -> io::Result<()> {
        let (level, name) = match sock.local_addr()? {
            SocketAddr::V4(_) => (libc::IPPROTO_IP, libc::IP_PKTINFO),
            SocketAddr::V6(_) => (libc::IPPROTO_IPV6, libc::IPV6_RECVPKTINFO),
        };
        let on: libc::c_int = 1;
        // SAFETY: setsockopt on a live fd with a correctly sized int.
        let rc = unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                level,
                name,
                &on as *const _ as *const libc::c_void,
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Send `buf` to `to` from the listening socket `sock`, with `local`'s address as the
    /// source (an IP_PKTINFO / IPV6_PKTINFO control message), as `batch_io::RecvBatch` gave it.
    pub async fn send_from(
        sock: &UdpSocket,
        buf: &[u8],
        to: SocketAddr,
        local: SocketAddr,
    ) -> io::Result<usize> {
        let mut control = CmsgBuf([0; CMSG_BUF]);
        let len = build_pktinfo(local, &mut control.0);
        let to = SockAddr::from(to);
        let bufs = [IoSlice::new(buf)];
        sock.async_io(Interest::WRITABLE, || {
            let msg = MsgHdr::new()
                .with_addr(&to)
                .with_buffers(&bufs)
                .with_control(&control.0[..len]);
            SockRef::from(sock).sendmsg(&msg, 0)
        })
        .await
    }

    /// Room for one control message; IPV6_PKTINFO (the larger) needs 40 bytes on 64-bit.
    const CMSG_BUF: usize = 64;
    const _: () = assert!(cmsg_space(size_of::<libc::in6_pktinfo>()) <= CMSG_BUF);

    /// A control-message buffer aligned as `cmsghdr` wants.
    #[repr(C, align(8))]
    struct CmsgBuf([u8; CMSG_BUF]);

    const fn cmsg_len(data: usize) -> usize {
        // SAFETY: pure arithmetic (the unsafe is libc's signature).
        unsafe { libc::CMSG_LEN(data as libc::c_uint) as usize }
    }

    const fn cmsg_space(data: usize) -> usize {
        // SAFETY: as above.
        unsafe { libc::CMSG_SPACE(data as libc::c_uint) as usize }
    }

    /// Copy a C struct out of `bytes` at `off`, if it fits. Only for libc's plain structs
    /// below (integers and byte arrays: any bit pattern is a valid value).
    fn read_pod<T: Copy>(bytes: &[u8], off: usize) -> Option<T> {
        let src = bytes.get(off..off.checked_add(size_of::<T>())?)?;
        // SAFETY: `src` holds size_of::<T>() readable bytes; read_unaligned needs no
        // alignment; T is plain old data (see above).
        Some(unsafe { std::ptr::read_unaligned(src.as_ptr().cast::<T>()) })
    }

    /// Copy a C struct into `bytes` at `off`. Panics if it does not fit.
    fn write_pod<T: Copy>(bytes: &mut [u8], off: usize, v: &T) {
        let dst = &mut bytes[off..off + size_of::<T>()];
        // SAFETY: `dst` holds size_of::<T>() writable bytes; no alignment needed.
        unsafe { std::ptr::write_unaligned(dst.as_mut_ptr().cast::<T>(), *v) }
    }

    /// The reply address in a received control buffer: the first IP_PKTINFO or
    /// IPV6_PKTINFO message, as a `SocketAddr` with port 0. Malformed input gives `None`.
    pub(crate) fn parse_pktinfo(control: &[u8]) -> Option<SocketAddr> {
        let hdr_len = cmsg_len(0);
        let mut off = 0;
        while let Some(hdr) = read_pod::<libc::cmsghdr>(control, off) {
            #[allow(clippy::unnecessary_cast)] // size_t in glibc, socklen_t in musl
            let len = hdr.cmsg_len as usize;
            if len < hdr_len || len > control.len() - off {
                return None;
            }
            let data = &control[off + hdr_len..off + len];
            match (hdr.cmsg_level, hdr.cmsg_type) {
                (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                    return read_pod::<libc::in_pktinfo>(data, 0).and_then(v4_local)
                }
                (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                    return read_pod::<libc::in6_pktinfo>(data, 0).and_then(v6_local)
                }
                _ => off += cmsg_space(len - hdr_len),
            }
        }
        None
    }

    /// `ipi_spec_dst` is the local address the kernel would answer from: the destination
    /// itself for a unicast datagram, the interface's address for a broadcast one.
    fn v4_local(pi: libc::in_pktinfo) -> Option<SocketAddr> {
        let spec = Ipv4Addr::from(u32::from_be(pi.ipi_spec_dst.s_addr));
        let dst = Ipv4Addr::from(u32::from_be(pi.ipi_addr.s_addr));
        let ip = if !spec.is_unspecified() {
            spec
        } else if !(dst.is_unspecified() || dst.is_broadcast() || dst.is_multicast()) {
            dst
        } else {
            return None;
        };
        Some(SocketAddrV4::new(ip, 0).into())
    }

    fn v6_local(pi: libc::in6_pktinfo) -> Option<SocketAddr> {
        let ip = Ipv6Addr::from(pi.ipi6_addr.s6_addr);
        if ip.is_unspecified() || ip.is_multicast() {
            return None;
        }
        // A link-local address means nothing without its interface.
        let link_local = ip.segments()[0] & 0xffc0 == 0xfe80;
        let scope = if link_local { pi.ipi6_ifindex } else { 0 };
        Some(SocketAddrV6::new(ip, 0, 0, scope).into())
    }

    /// Write the control message that makes `local` (its address; for v6 its scope as the
    /// interface) a datagram's source into `buf`; returns the bytes used.
    pub(crate) fn build_pktinfo(local: SocketAddr, buf: &mut [u8]) -> usize {
        match local {
            SocketAddr::V4(a) => {
                let pi = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(*a.ip()).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                put_cmsg(buf, libc::IPPROTO_IP, libc::IP_PKTINFO, &pi)
            }
            SocketAddr::V6(a) => {
                let pi = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    ipi6_ifindex: a.scope_id(),
                };
                put_cmsg(buf, libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, &pi)
            }
        }
    }

    pub(super) fn put_cmsg<T: Copy>(
        buf: &mut [u8],
        level: libc::c_int,
        ty: libc::c_int,
        v: &T,
    ) -> usize {
        let space = cmsg_space(size_of::<T>());
        buf[..space].fill(0);
        // SAFETY: an all-zero cmsghdr is valid (some libcs have private padding fields).
        let mut hdr: libc::cmsghdr = unsafe { std::mem::zeroed() };
        hdr.cmsg_len = cmsg_len(size_of::<T>()) as _;
        hdr.cmsg_level = level;
        hdr.cmsg_type = ty;
        write_pod(buf, 0, &hdr);
        write_pod(buf, cmsg_len(0), v);
        space
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV6};
    use std::time::Duration;

    use super::pktinfo::{build_pktinfo, parse_pktinfo, put_cmsg};
    use super::*;

    fn roundtrip(a: SocketAddr) -> Option<SocketAddr> {
        let mut buf = [0u8; 64];
        let n = build_pktinfo(a, &mut buf);
        parse_pktinfo(&buf[..n])
    }

    fn v6(ip: &str, scope: u32) -> SocketAddr {
        SocketAddrV6::new(ip.parse().unwrap(), 0, 0, scope).into()
    }

    fn in_pktinfo(spec_dst: Ipv4Addr, addr: Ipv4Addr) -> Vec<u8> {
        let pi = libc::in_pktinfo {
            ipi_ifindex: 2,
            ipi_spec_dst: libc::in_addr {
                s_addr: u32::from(spec_dst).to_be(),
            },
            ipi_addr: libc::in_addr {
                s_addr: u32::from(addr).to_be(),
            },
        };
        let mut buf = vec![0u8; 64];
        let n = put_cmsg(&mut buf, libc::IPPROTO_IP, libc::IP_PKTINFO, &pi);
        buf.truncate(n);
        buf
    }

    #[test]
    fn pktinfo_roundtrips() {
        let a: SocketAddr = "10.201.1.10:0".parse().unwrap();
        assert_eq!(roundtrip(a), Some(a));
        assert_eq!(roundtrip(v6("fd00:99::10", 0)), Some(v6("fd00:99::10", 0)));
        // A link-local address keeps its interface; a global one has no scope.
        assert_eq!(roundtrip(v6("fe80::1", 3)), Some(v6("fe80::1", 3)));
        assert_eq!(roundtrip(v6("fd00:99::10", 3)), Some(v6("fd00:99::10", 0)));
    }

    #[test]
    fn v4_prefers_spec_dst_and_never_answers_from_broadcast() {
        let local = Ipv4Addr::new(10, 201, 1, 10);
        let bcast = Ipv4Addr::new(10, 201, 1, 255);
        let got = |buf: Vec<u8>| parse_pktinfo(&buf).map(|a| a.ip());
        assert_eq!(got(in_pktinfo(local, bcast)), Some(local.into()));
        assert_eq!(
            got(in_pktinfo(Ipv4Addr::UNSPECIFIED, local)),
            Some(local.into())
        );
        assert_eq!(
            got(in_pktinfo(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST)),
            None
        );
        assert_eq!(
            got(in_pktinfo(
                Ipv4Addr::UNSPECIFIED,
                Ipv4Addr::new(224, 0, 0, 1)
            )),
            None
        );
    }

    #[test]
    fn v6_multicast_destination_is_no_reply_address() {
        assert_eq!(roundtrip(v6("ff02::1", 2)), None);
        assert_eq!(roundtrip(v6("::", 0)), None);
    }

    #[test]
    fn other_control_messages_are_skipped() {
        let mut buf = vec![0u8; 128];
        // An odd-sized message first, so the next one starts after padding.
        let n = put_cmsg(&mut buf, libc::SOL_SOCKET, libc::SO_TIMESTAMP, &[7u8; 13]);
        let m = build_pktinfo("192.0.2.7:0".parse().unwrap(), &mut buf[n..]);
        assert_eq!(
            parse_pktinfo(&buf[..n + m]),
            Some("192.0.2.7:0".parse().unwrap())
        );
        assert_eq!(parse_pktinfo(&buf[..n]), None);
    }

    #[test]
    fn malformed_control_buffers_give_none() {
        assert_eq!(parse_pktinfo(&[]), None);
        assert_eq!(parse_pktinfo(&[0; 64]), None, "cmsg_len 0");
        let good = in_pktinfo(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 1));
        assert!(parse_pktinfo(&good).is_some());
        // Cut short: the header claims more than the buffer holds.
        assert_eq!(parse_pktinfo(&good[..good.len() - 8]), None);
        // Too little data for an in_pktinfo.
        let mut short = vec![0u8; 64];
        let n = put_cmsg(&mut short, libc::IPPROTO_IP, libc::IP_PKTINFO, &[10u8; 4]);
        assert_eq!(parse_pktinfo(&short[..n]), None);
    }

    proptest::proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let _ = parse_pktinfo(&bytes);
        }
    }

    /// Wildcard socket on loopback: the destination is reported, and a reply can be sent
    /// from any local address. `peer` sends to `asked`; the reply comes from `from`.
    async fn loopback(wild: SocketAddr, peer: SocketAddr, asked: IpAddr, from: IpAddr) {
        let sock = bind_udp(wild, None).unwrap();
        enable_pktinfo(&sock).unwrap();
        let port = sock.local_addr().unwrap().port();
        let client = tokio::net::UdpSocket::bind(peer).await.unwrap();
        client.send_to(b"hello", (asked, port)).await.unwrap();
        let mut batch = crate::server::batch_io::RecvBatch::new(16, true);
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                sock.readable().await.unwrap();
                match sock.try_io(tokio::io::Interest::READABLE, || batch.recv(&sock)) {
                    Ok(_) => return,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
        })
        .await
        .unwrap();
        let d = batch.get(0);
        assert_eq!(d.data, b"hello");
        let src = d.from.unwrap();
        assert_eq!(src, client.local_addr().unwrap());
        assert_eq!(d.dst, Some(SocketAddr::new(asked, 0)));
        let mut buf = [0u8; 16];
        send_from(&sock, b"world", src, SocketAddr::new(from, 0))
            .await
            .unwrap();
        let (n, src) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"world");
        assert_eq!(src, SocketAddr::new(from, port));
    }

    #[tokio::test]
    async fn wildcard_v4_socket_learns_and_sets_the_local_address() {
        // All of 127.0.0.0/8 is local on Linux.
        loopback(
            "0.0.0.0:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
            Ipv4Addr::new(127, 0, 0, 2).into(),
            Ipv4Addr::new(127, 0, 0, 3).into(),
        )
        .await;
    }

    #[tokio::test]
    async fn wildcard_v6_socket_learns_and_sets_the_local_address() {
        // Only ::1 is local here (the e2e tests use two v6 addresses in a netns).
        if std::net::UdpSocket::bind("[::1]:0").is_err() {
            eprintln!("no IPv6 loopback: skipped");
            return;
        }
        loopback(
            "[::]:0".parse().unwrap(),
            "[::1]:0".parse().unwrap(),
            Ipv6Addr::LOCALHOST.into(),
            Ipv6Addr::LOCALHOST.into(),
        )
        .await;
    }
}
