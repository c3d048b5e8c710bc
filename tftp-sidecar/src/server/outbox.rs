//! Single-port mode's send path: every session's replies leave the listening socket, so
//! they are queued here and the listener sends them with one `sendmmsg` per batch, after
//! the sessions woken by a received batch have run. In a boot storm that turns hundreds of
//! `sendto` calls (and as many wake-ups of the receiving side) into a few.

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::batch_io::SendQueue;

#[derive(Default)]
pub struct Outbox {
    queue: Mutex<SendQueue>,
    /// Raised when a packet lands in an empty queue outside a listener batch (a retransmit
    /// timer, a session that just opened its file): the listener flushes.
    pub(super) pending: Notify,
}

impl Outbox {
    /// Queue one datagram; it leaves at the listener's next flush.
    pub fn push(&self, packet: &[u8], peer: SocketAddr, src: Option<SocketAddr>) {
        let mut q = self.queue.lock().unwrap();
        let was_empty = q.is_empty();
        q.push(packet, peer, src);
        drop(q);
        if was_empty {
            self.pending.notify_one();
        }
    }

    /// Send everything queued, waiting while the socket's send buffer is full.
    pub async fn flush(&self, sock: &UdpSocket) {
        loop {
            let r = sock.try_io(Interest::WRITABLE, || {
                let mut q = self.queue.lock().unwrap();
                if q.is_empty() {
                    return Ok(0);
                }
                q.flush(sock)
            });
            match r {
                Ok(_) => return,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if sock.writable().await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "batched send failed");
                    return;
                }
            }
        }
    }
}
