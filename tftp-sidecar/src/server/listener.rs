//! The receive loop of one listening socket: reads datagrams in batches (`recvmmsg`), admits
//! requests, refuses what must be refused, and in single-port mode forwards every known
//! client's packets to its session and sends the sessions' queued replies (`sendmmsg`).
//!
//! A wildcard listener (`0.0.0.0`, `[::]`) learns each datagram's destination address
//! (IP_PKTINFO) and answers from it: transfer sockets are bound to it, and its own ERRORs
//! and single-port replies carry it as their source. A client drops replies from another
//! address than it asked, and the kernel's default would be the host's primary address.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::batch_io::RecvBatch;
use super::events::{Protocol, RejectReason};
use super::limits::Admit;
use super::outbox::Outbox;
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

/// Largest datagram the listener reads; requests are small, anything longer is refused as
/// malformed.
const MAX_REQUEST: usize = 4096;

/// One listening socket and what its receive loop needs to know about it.
#[derive(Clone)]
pub(super) struct Listening {
    pub sock: Arc<UdpSocket>,
    /// The socket has `socket::enable_pktinfo` (wildcard listeners) and each datagram's
    /// destination is read; others get no control messages to parse.
    pub pktinfo: bool,
    /// Single-port mode's queue of the sessions' replies, which the loop sends.
    pub outbox: Option<Arc<Outbox>>,
}

pub(super) async fn run(shared: Arc<Shared>, l: Listening) {
    let Listening {
        sock,
        pktinfo,
        outbox,
    } = l;
    let mut batch = RecvBatch::new(MAX_REQUEST, pktinfo);
    // Single-port: RRQs from an address whose session is still live, looked at again once
    // the sessions of this batch have run (see `forward`).
    let mut held: Vec<(Peer, Vec<u8>)> = Vec::new();
    loop {
        // Replies queued by the sessions that the last batch woke leave in one sendmmsg.
        if let Some(out) = &outbox {
            out.flush(&sock).await;
        }
        match sock.try_io(Interest::READABLE, || batch.recv(&*sock)) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                match &outbox {
                    Some(out) => {
                        tokio::select! {
                            r = sock.readable() => if r.is_err() { return },
                            _ = out.pending.notified() => {}
                        }
                    }
                    None => {
                        if sock.readable().await.is_err() {
                            return;
                        }
                    }
                }
                continue;
            }
            Err(e) => {
                tracing::debug!(error = %e, "listener receive error");
                continue;
            }
        }
        if let Some(out) = &outbox {
            out.begin_batch();
        }
        for i in 0..batch.len() {
            let d = batch.get(i);
            let Some(addr) = d.from else { continue };
            let peer = Peer { addr, local: d.dst };
            if d.truncated {
                // What was read may still decode, minus what was cut: refuse it whole.
                shared
                    .events
                    .request_rejected(Protocol::Tftp, RejectReason::Malformed);
                let msg = format!("malformed request: longer than {MAX_REQUEST} bytes");
                reply(&shared, &sock, peer, code::ILLEGAL_OPERATION, &msg).await;
                continue;
            }
            if outbox.is_some() && forward(&shared, peer, d.data, &mut held) {
                continue;
            }
            handle_datagram(&shared, &sock, outbox.as_ref(), peer, d.data).await;
        }
        if let Some(out) = &outbox {
            // Let the sessions this batch woke run and queue their replies before the flush.
            tokio::task::yield_now().await;
            out.end_batch();
            for (peer, pkt) in std::mem::take(&mut held) {
                match shared.admission.inbox(&peer.addr) {
                    // Still live: a retransmitted request; the session ignores it.
                    Some(inbox) => {
                        let _ = inbox.try_send(Bytes::from(pkt));
                    }
                    // Its session ended (the last ACK was in the same batch): a new transfer.
                    None => handle_datagram(&shared, &sock, outbox.as_ref(), peer, &pkt).await,
                }
            }
        }
    }
}

/// Single-port: hand a datagram from a client with a live session to that session. An RRQ
/// is held instead: a client that finished a transfer asks for its next file from the same
/// port, often in the same batch as its last ACK, while the old session is still
/// registered. Returns false when the address has no session.
fn forward(shared: &Shared, peer: Peer, pkt: &[u8], held: &mut Vec<(Peer, Vec<u8>)>) -> bool {
    let Some(inbox) = shared.admission.inbox(&peer.addr) else {
        return false;
    };
    if pkt.starts_with(&[0, 1]) {
        held.push((peer, pkt.to_vec()));
    } else {
        // A full inbox means the session is behind: dropping is what UDP would do.
        let _ = inbox.try_send(Bytes::copy_from_slice(pkt));
    }
    true
}

async fn handle_datagram(
    shared: &Arc<Shared>,
    sock: &Arc<UdpSocket>,
    outbox: Option<&Arc<Outbox>>,
    peer: Peer,
    pkt: &[u8],
) {
    match Packet::decode(pkt) {
        Ok(Packet::Rrq(req)) => handle_rrq(shared, sock, outbox, peer, req).await,
        Ok(Packet::Wrq(_)) => {
            shared
                .events
                .request_rejected(Protocol::Tftp, RejectReason::Write);
            reply(
                shared,
                sock,
                peer,
                code::ACCESS_VIOLATION,
                "writes are disabled on this server",
            )
            .await;
        }
        // Never answer an ERROR, to avoid ping-pong between two servers.
        Ok(Packet::Error { .. }) => {}
        Ok(_) => reply(shared, sock, peer, code::UNKNOWN_TID, "unknown transfer ID").await,
        Err(e) => {
            shared
                .events
                .request_rejected(Protocol::Tftp, RejectReason::Malformed);
            reply(
                shared,
                sock,
                peer,
                code::ILLEGAL_OPERATION,
                &format!("malformed request: {e}"),
            )
            .await;
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

async fn handle_rrq(
    shared: &Arc<Shared>,
    sock: &Arc<UdpSocket>,
    outbox: Option<&Arc<Outbox>>,
    peer: Peer,
    req: Request,
) {
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
            shared
                .events
                .request_rejected(Protocol::Tftp, RejectReason::Malformed);
            let msg = format!("unsupported transfer mode {:?}", req.mode);
            reply(shared, sock, peer, code::ILLEGAL_OPERATION, &msg).await;
            return;
        }
    };
    let name = match filename::validate(&req.filename) {
        Ok(n) => n,
        Err(e) => {
            shared
                .events
                .request_rejected(Protocol::Tftp, RejectReason::Path);
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
            shared.events.request_rejected(Protocol::Tftp, reason);
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
    let io = match (shared.cfg.port_mode, inbox_rx, outbox) {
        (PortMode::SinglePort, Some(inbox), Some(outbox)) => Some(SessionIo::Shared {
            outbox: outbox.clone(),
            inbox,
            local: peer.local,
        }),
        (PortMode::Range { .. }, _, _) => local
            .and_then(|a| shared.range.as_ref()?.bind(a))
            .map(SessionIo::Own),
        _ => local
            .and_then(|a| bind_udp(a, None).ok())
            .map(SessionIo::Own),
    };
    let Some(io) = io else {
        drop(permit);
        shared
            .events
            .request_rejected(Protocol::Tftp, RejectReason::Busy);
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
