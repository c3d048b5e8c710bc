//! Where a session's replies come from: a new ephemeral port (RFC 1350 default), a port
//! from a fixed range, or the listening socket itself (single-port mode, sessions keyed by
//! client address and fed by the listener's receive loop).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::batch_io;
use super::outbox::Outbox;
use super::socket::bind_udp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortMode {
    Ephemeral,
    SinglePort,
    Range { first: u16, last: u16 },
}

/// A `port_range` that is not FIRST-LAST with 1 <= FIRST <= LAST.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortRangeError {
    #[error("expected FIRST-LAST (e.g. 50000-50100), got {0:?}")]
    Shape(String),
    #[error("bad port {0:?}")]
    Port(String),
    #[error("bad port range {0}-{1}")]
    Order(u16, u16),
}

impl PortMode {
    /// `FIRST-LAST` (or `range:FIRST-LAST`) as a range mode.
    pub fn range(s: &str) -> Result<PortMode, PortRangeError> {
        let r = s.strip_prefix("range:").unwrap_or(s);
        let (a, b) = r
            .split_once('-')
            .ok_or_else(|| PortRangeError::Shape(s.to_string()))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| PortRangeError::Port(p.to_string()))
        };
        let (first, last) = (port(a)?, port(b)?);
        if first == 0 || first > last {
            return Err(PortRangeError::Order(first, last));
        }
        Ok(PortMode::Range { first, last })
    }
}

impl std::str::FromStr for PortMode {
    type Err = PortRangeError;
    fn from_str(s: &str) -> Result<Self, PortRangeError> {
        match s {
            "ephemeral" => Ok(PortMode::Ephemeral),
            "single-port" | "single" => Ok(PortMode::SinglePort),
            _ => PortMode::range(s),
        }
    }
}

/// Hands out ports of a range round-robin, skipping ports in use.
pub struct RangeAllocator {
    first: u16,
    len: u32,
    cursor: AtomicU32,
}

impl RangeAllocator {
    pub fn new(first: u16, last: u16) -> Self {
        RangeAllocator {
            first,
            len: (last - first) as u32 + 1,
            cursor: AtomicU32::new(0),
        }
    }

    /// Bind a free port of the range on `local`'s address (its port is ignored); `None`
    /// when every port is taken.
    pub fn bind(&self, mut local: SocketAddr) -> Option<UdpSocket> {
        for _ in 0..self.len {
            let i = self.cursor.fetch_add(1, Ordering::Relaxed) % self.len;
            local.set_port(self.first + i as u16);
            if let Ok(s) = bind_udp(local, None) {
                return Some(s);
            }
        }
        None
    }
}

/// A session's channel to its client.
pub enum SessionIo {
    /// Own socket (ephemeral or range port): packets from other addresses are foreign TIDs.
    Own(UdpSocket),
    /// Single-port: replies are queued in the listener's `outbox` and leave the listening
    /// socket in batches; the listener forwards this client's packets into `inbox`. On a
    /// wildcard listener `local` is the address the client asked (port 0), set as each
    /// reply's source; `None` on a listener bound to one address.
    Shared {
        outbox: Arc<Outbox>,
        inbox: mpsc::Receiver<Bytes>,
        local: Option<SocketAddr>,
    },
}

/// A packet received by a session.
pub enum Received<'a> {
    FromPeer(&'a [u8]),
    /// A packet from another address reached our own socket: answer ERROR 5.
    Foreign(SocketAddr),
}

impl SessionIo {
    pub async fn send(&self, buf: &[u8], peer: SocketAddr) -> io::Result<()> {
        match self {
            SessionIo::Own(s) => s.send_to(buf, peer).await.map(|_| ()),
            SessionIo::Shared { outbox, local, .. } => {
                outbox.push(buf, peer, *local);
                Ok(())
            }
        }
    }

    /// Send `buf`, DATA packets of `segment` bytes each (the last may be shorter), in one
    /// system call (UDP GSO). Own sockets only; `Unsupported` otherwise, and the kernel's
    /// error where GSO does not apply: the caller then sends packet by packet.
    pub async fn send_segmented(
        &self,
        buf: &[u8],
        segment: u16,
        peer: SocketAddr,
    ) -> io::Result<()> {
        match self {
            SessionIo::Own(s) => s
                .async_io(tokio::io::Interest::WRITABLE, || {
                    batch_io::send_segmented(s, buf, segment, peer)
                })
                .await
                .map(|_| ()),
            SessionIo::Shared { .. } => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    pub async fn recv<'a>(
        &mut self,
        buf: &'a mut [u8],
        peer: SocketAddr,
    ) -> io::Result<Received<'a>> {
        match self {
            SessionIo::Own(s) => {
                let (n, from) = s.recv_from(buf).await?;
                if from == peer {
                    Ok(Received::FromPeer(&buf[..n]))
                } else {
                    Ok(Received::Foreign(from))
                }
            }
            SessionIo::Shared { inbox, .. } => match inbox.recv().await {
                Some(p) => {
                    let n = p.len().min(buf.len());
                    buf[..n].copy_from_slice(&p[..n]);
                    Ok(Received::FromPeer(&buf[..n]))
                }
                None => Err(io::Error::new(io::ErrorKind::BrokenPipe, "listener gone")),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_modes() {
        assert_eq!("ephemeral".parse(), Ok(PortMode::Ephemeral));
        assert_eq!("single-port".parse(), Ok(PortMode::SinglePort));
        assert_eq!(
            "50000-50100".parse(),
            Ok(PortMode::Range {
                first: 50000,
                last: 50100
            })
        );
        assert!("50100-50000".parse::<PortMode>().is_err());
        assert!("bogus".parse::<PortMode>().is_err());
    }
}
