//! UDP socket setup: big receive buffers (a boot storm's RRQs arrive at once) and v6-only
//! wildcard binds so `0.0.0.0` and `[::]` can both listen.

use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;

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
