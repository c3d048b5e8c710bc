//! Single-port mode's send path: every session's replies leave the listening socket, so
//! they are queued here and the listener sends them with one `sendmmsg` per batch, after
//! the sessions woken by a received batch have run. In a boot storm of 200 transfers that
//! is ~63 datagrams per system call instead of one (counted with perf's syscall tracepoints).

use std::io;
use std::net::SocketAddr;
use std::sync::Mutex;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::sync::Notify;

use super::batch_io::SendQueue;

#[derive(Default)]
pub struct Outbox {
    state: Mutex<State>,
    /// Raised when a packet lands in an empty queue outside a listener batch (a retransmit
    /// timer, a session that just opened its file): the listener flushes.
    pub(super) pending: Notify,
}

#[derive(Default)]
struct State {
    queue: SendQueue,
    /// The listener is dispatching a batch and flushes when it is done: pushes need not
    /// wake it (a wake-up would only cost it an extra empty receive).
    in_batch: bool,
}

impl Outbox {
    /// Queue one datagram; it leaves at the listener's next flush.
    pub fn push(&self, packet: &[u8], peer: SocketAddr, src: Option<SocketAddr>) {
        let mut st = self.state.lock().unwrap();
        let wake = st.queue.is_empty() && !st.in_batch;
        st.queue.push(packet, peer, src);
        drop(st);
        if wake {
            self.pending.notify_one();
        }
    }

    /// The listener starts dispatching a received batch (it flushes after
    /// [`Outbox::end_batch`]).
    pub(super) fn begin_batch(&self) {
        self.state.lock().unwrap().in_batch = true;
    }

    pub(super) fn end_batch(&self) {
        self.state.lock().unwrap().in_batch = false;
    }

    /// Send everything queued, waiting while the socket's send buffer is full.
    pub async fn flush(&self, sock: &UdpSocket) {
        loop {
            let r = sock.try_io(Interest::WRITABLE, || {
                let mut st = self.state.lock().unwrap();
                if st.queue.is_empty() {
                    return Ok(0);
                }
                st.queue.flush(sock)
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
