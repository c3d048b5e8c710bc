//! The receive loop of one listening socket: admits requests, refuses what must be refused,
//! and in single-port mode forwards every known client's packets to its session.
//!
//! A wildcard listener (`0.0.0.0`, `[::]`) learns each datagram's destination address
//! (IP_PKTINFO) and answers from it: transfer sockets are bound to it, and its own ERRORs
//! and single-port replies carry it as their source. A client drops replies from another
//! address than it asked, and the kernel's default would be the host's primary address.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::events::RejectReason;
use super::limits::Admit;
use super::ports::{PortMode, SessionIo};
use super::session::{self, SessionRequest};
use super::socket::{self, bind_udp};
use super::Shared;
use crate::filename;
use crate::packet::{code, error_packet, Mode, Packet, Request};

/// Packets queued per single-port session before further ones are dropped.
const INBOX_DEPTH: usize = 32;

/// Who sent a datagram, and which of our addresses it was sent to.
#[derive(Clone, Copy)]
struct Peer {
    addr: SocketAddr,
    /// The datagram's destination (port 0), where every reply must come from; learnt on
    /// wildcard listeners only (`None` elsewhere: the socket's own address is the source).
    local: Option<SocketAddr>,
}

/// `pktinfo`: the socket has `socket::enable_pktinfo` (wildcard listeners); others keep
/// plain `recv_from`, with no control messages to parse.
pub(super) async fn run(shared: Arc<Shared>, sock: Arc<UdpSocket>, pktinfo: bool) {
    // Requests are small; anything longer is truncated and then refused as malformed.
    let mut buf = vec![0u8; 4096];
    let single_port = shared.cfg.port_mode == PortMode::SinglePort;
    loop {
        let received = if pktinfo {
            socket::recv_with_dst(&sock, &mut buf).await
        } else {
            sock.recv_from(&mut buf)
                .await
                .map(|(n, from)| (n, from, None))
        };
        let (n, from, local) = match received {
            Ok(x) => x,
            Err(e) => {
                tracing::debug!(error = %e, "listener receive error");
                continue;
            }
        };
        let peer = Peer { addr: from, local };
        let pkt = &buf[..n];
        if single_port {
            if let Some(inbox) = shared.admission.inbox(&from) {
                // A full inbox means the session is behind: dropping is what UDP would do.
                let _ = inbox.try_send(Bytes::copy_from_slice(pkt));
                continue;
            }
        }
        match Packet::decode(pkt) {
            Ok(Packet::Rrq(req)) => handle_rrq(&shared, &sock, peer, req).await,
            Ok(Packet::Wrq(_)) => {
                shared.events.request_rejected(RejectReason::Write);
                reply(
                    &shared,
                    &sock,
                    peer,
                    code::ACCESS_VIOLATION,
                    "writes are disabled on this server",
                )
                .await;
            }
            // Never answer an ERROR, to avoid ping-pong between two servers.
            Ok(Packet::Error { .. }) => {}
            Ok(_) => {
                reply(
                    &shared,
                    &sock,
                    peer,
                    code::UNKNOWN_TID,
                    "unknown transfer ID",
                )
                .await
            }
            Err(e) => {
                shared.events.request_rejected(RejectReason::Malformed);
                reply(
                    &shared,
                    &sock,
                    peer,
                    code::ILLEGAL_OPERATION,
                    &format!("malformed request: {e}"),
                )
                .await;
            }
        }
    }
}

async fn reply(shared: &Shared, sock: &UdpSocket, to: Peer, c: u16, msg: &str) {
    let pkt = error_packet(c, msg);
    let sent = match to.local {
        Some(local) => socket::send_from(sock, &pkt, to.addr, local).await,
        None => sock.send_to(&pkt, to.addr).await,
    };
    if sent.is_ok() {
        shared.events.error_sent(c);
    }
}

async fn handle_rrq(shared: &Arc<Shared>, sock: &Arc<UdpSocket>, peer: Peer, req: Request) {
    let from = peer.addr;
    if !shared.accepting.load(Ordering::Relaxed) {
        reply(
            shared,
            sock,
            peer,
            code::NOT_DEFINED,
            "server shutting down",
        )
        .await;
        return;
    }
    let netascii = match Mode::parse(&req.mode) {
        Some(Mode::Octet) => false,
        Some(Mode::Netascii) => true,
        Some(Mode::Mail) | None => {
            shared.events.request_rejected(RejectReason::Malformed);
            let msg = format!("unsupported transfer mode {:?}", req.mode);
            reply(shared, sock, peer, code::ILLEGAL_OPERATION, &msg).await;
            return;
        }
    };
    let name = match filename::validate(&req.filename) {
        Ok(n) => n,
        Err(e) => {
            shared.events.request_rejected(RejectReason::Path);
            tracing::info!(client = %from, file = %String::from_utf8_lossy(&req.filename), reason = %e, "request refused");
            reply(shared, sock, peer, code::ACCESS_VIOLATION, &e.to_string()).await;
            return;
        }
    };
    let (inbox_tx, inbox_rx) = if shared.cfg.port_mode == PortMode::SinglePort {
        let (tx, rx) = mpsc::channel(INBOX_DEPTH);
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let permit = match shared.admission.try_admit(from, &name, inbox_tx) {
        Ok(p) => p,
        Err(Admit::Duplicate) => return,
        Err(Admit::Rejected(reason)) => {
            shared.events.request_rejected(reason);
            let msg = if reason == RejectReason::PerClientBusy {
                "server busy: too many transfers from this address"
            } else {
                "server busy"
            };
            reply(shared, sock, peer, code::NOT_DEFINED, msg).await;
            return;
        }
    };
    // Where the transfer's own socket goes: the asked address, else the listener's.
    let local = peer.local.or_else(|| {
        let mut a = sock.local_addr().ok()?;
        a.set_port(0);
        Some(a)
    });
    let io = match (shared.cfg.port_mode, inbox_rx) {
        (PortMode::SinglePort, Some(inbox)) => Some(SessionIo::Shared {
            sock: sock.clone(),
            inbox,
            local: peer.local,
        }),
        (PortMode::Range { .. }, _) => local
            .and_then(|a| shared.range.as_ref()?.bind(a))
            .map(SessionIo::Own),
        _ => local
            .and_then(|a| bind_udp(a, None).ok())
            .map(SessionIo::Own),
    };
    let Some(io) = io else {
        drop(permit);
        shared.events.request_rejected(RejectReason::Busy);
        reply(
            shared,
            sock,
            peer,
            code::NOT_DEFINED,
            "server busy: no free transfer port",
        )
        .await;
        return;
    };
    let request = SessionRequest {
        client: from,
        name,
        netascii,
        options: req.options,
    };
    tokio::spawn(session::run(shared.session.clone(), request, io, permit));
}
