//! One read transfer: open, negotiate, send windows of DATA, retransmit only on timeout.
//!
//! Memory per session is one window of `Bytes` slices (of the shared file bytes when the
//! content is complete) plus one datagram-sized send buffer and one small receive buffer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use std::pin::Pin;
use tokio::sync::watch;

use tokio::time::{Instant, Sleep};

use super::batch_io;
use super::events::{Events, Outcome, Protocol, TransferProgress, TransferReport, PROGRESS_STEP};
use super::limits::Permit;
use super::options::{self, negotiate};
use super::ports::{Received, SessionIo};
use crate::content::{Content, ContentError, FileSource, OpenError};
use crate::file_class::FileClass;
use crate::netascii;
use crate::packet::{code, encode_data, error_packet, Packet};

/// Engine parameters shared by all sessions.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub limits: options::Limits,
    /// Base retransmit timeout (a client's `timeout` option replaces it).
    pub timeout: Duration,
    /// Retransmits of one window before giving up.
    pub retries: u32,
    /// Retransmits of the OACK or first DATA before the client has ACKed anything: kept
    /// low so a spoofed request cannot make us send much.
    pub first_block_retries: u32,
}

/// What the listener hands a new session.
pub struct SessionRequest {
    pub client: SocketAddr,
    pub name: String,
    pub netascii: bool,
    pub options: Vec<(String, String)>,
}

pub struct SessionCtx {
    pub cfg: EngineConfig,
    pub source: Arc<dyn FileSource>,
    pub events: Arc<dyn Events>,
    /// Flips to true when the drain deadline passes.
    pub abort: watch::Receiver<bool>,
}

enum Reader {
    Octet { content: Content, offset: u64 },
    Netascii(netascii::BlockReader),
}

impl Reader {
    async fn next(&mut self, blksize: usize) -> Result<Bytes, ContentError> {
        match self {
            Reader::Octet { content, offset } => {
                let b = content.read_at(*offset, blksize).await?;
                *offset += b.len() as u64;
                Ok(b)
            }
            Reader::Netascii(r) => r.next_block(blksize).await,
        }
    }
}

enum Wait {
    Ack(u16),
    ClientError(u16, String),
    Timeout,
    Abort,
}

struct Session {
    client: SocketAddr,
    io: SessionIo,
    events: Arc<dyn Events>,
    abort: watch::Receiver<bool>,
    recv_buf: [u8; 1024],
    send_buf: Vec<u8>,
    retransmits: u64,
    /// One timer per session, re-armed lazily: arming a timer per packet costs more than
    /// the packet itself.
    timer: Pin<Box<Sleep>>,
    timer_at: Instant,
    /// Windows go out as one GSO send until the kernel refuses one.
    gso: bool,
    /// The file's name when it is firmware: its progress is reported while it runs.
    firmware: Option<String>,
}

/// How often a waiting session looks at the abort flag (drain deadline).
const ABORT_POLL: Duration = Duration::from_millis(500);

/// Run one transfer to its end; the permit frees the session slot when this returns.
pub async fn run(ctx: Arc<SessionCtx>, req: SessionRequest, io: SessionIo, permit: Permit) {
    let start = std::time::Instant::now();
    let class = FileClass::of(&req.name);
    ctx.events.session_opened();
    ctx.events.transfer_started(Protocol::Tftp, class);
    let mut s = Session {
        client: req.client,
        io,
        events: ctx.events.clone(),
        abort: ctx.abort.clone(),
        recv_buf: [0; 1024],
        send_buf: Vec::new(),
        retransmits: 0,
        timer: Box::pin(tokio::time::sleep(ABORT_POLL)),
        timer_at: Instant::now() + ABORT_POLL,
        gso: true,
        firmware: (class == FileClass::Firmware).then(|| req.name.clone()),
    };
    let (outcome, bytes, detail) = s.serve(&ctx, &req).await;
    let duration = start.elapsed();
    tracing::info!(
        client = %req.client,
        file = %req.name,
        class = class.as_str(),
        bytes,
        duration_ms = duration.as_millis() as u64,
        outcome = outcome.as_str(),
        retransmits = s.retransmits,
        detail = detail.as_deref().unwrap_or(""),
        protocol = "tftp",
        "transfer finished"
    );
    if s.retransmits > 0 {
        ctx.events.retransmits(s.retransmits);
    }
    ctx.events.transfer_finished(&TransferReport {
        protocol: Protocol::Tftp,
        client: req.client,
        file: &req.name,
        class,
        bytes,
        duration,
        outcome,
    });
    drop(permit);
    ctx.events.session_closed();
}

/// Resolves when the abort flag is raised; never if its sender is gone.
async fn aborted(rx: &mut watch::Receiver<bool>) {
    if rx.wait_for(|&v| v).await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Session {
    fn report_progress(&self, bytes: u64) {
        if let Some(file) = &self.firmware {
            self.events.transfer_progress(&TransferProgress {
                protocol: Protocol::Tftp,
                client: self.client,
                file,
                bytes,
            });
        }
    }

    async fn serve(
        &mut self,
        ctx: &SessionCtx,
        req: &SessionRequest,
    ) -> (Outcome, u64, Option<String>) {
        let opened = tokio::select! {
            r = ctx.source.open(&req.name) => r,
            _ = aborted(&mut self.abort) => {
                self.send_error(code::NOT_DEFINED, "server shutting down").await;
                return (Outcome::Aborted, 0, None);
            }
        };
        let content = match opened {
            Ok(c) => c,
            Err(OpenError::NotFound) => {
                self.send_error(code::FILE_NOT_FOUND, "file not found")
                    .await;
                return (Outcome::NotFound, 0, None);
            }
            Err(OpenError::AccessDenied(why)) => {
                self.send_error(code::ACCESS_VIOLATION, &format!("access violation: {why}"))
                    .await;
                return (Outcome::AccessDenied, 0, Some(why));
            }
            Err(OpenError::Unavailable(why)) => {
                self.send_error(code::NOT_DEFINED, "file temporarily unavailable")
                    .await;
                return (Outcome::Unavailable, 0, Some(why));
            }
        };
        // Netascii output length is unknown up front: no tsize for it.
        let size = if req.netascii {
            None
        } else {
            content.size_hint()
        };
        let neg = negotiate(&req.options, ctx.cfg.limits, size);
        let base = neg.timeout.unwrap_or(ctx.cfg.timeout);
        let mut reader = if req.netascii {
            Reader::Netascii(netascii::BlockReader::new(content))
        } else {
            Reader::Octet { content, offset: 0 }
        };
        if !neg.oack.is_empty() {
            let oack = Packet::Oack(neg.oack.clone()).encode();
            let mut tries = 0;
            let _ = self.io.send(&oack, self.client).await;
            let mut deadline = Instant::now() + base;
            loop {
                match self.wait(deadline).await {
                    Wait::Ack(0) => break,
                    Wait::Ack(_) => {}
                    Wait::ClientError(c, m) => {
                        return (
                            Outcome::ClientError,
                            0,
                            Some(format!("client error {c}: {m}")),
                        )
                    }
                    Wait::Abort => {
                        self.send_error(code::NOT_DEFINED, "server shutting down")
                            .await;
                        return (Outcome::Aborted, 0, None);
                    }
                    Wait::Timeout => {
                        tries += 1;
                        if tries > ctx.cfg.first_block_retries.min(ctx.cfg.retries) {
                            return (Outcome::TimedOut, 0, Some("no ACK of OACK".into()));
                        }
                        self.retransmits += 1;
                        let _ = self.io.send(&oack, self.client).await;
                        deadline = Instant::now() + backoff(base, tries);
                    }
                }
            }
        }
        self.send_file(
            ctx,
            &mut reader,
            neg.blksize as usize,
            neg.windowsize as usize,
            base,
            neg.oack.is_empty(),
        )
        .await
    }

    async fn send_file(
        &mut self,
        ctx: &SessionCtx,
        reader: &mut Reader,
        blksize: usize,
        wsize: usize,
        base_timeout: Duration,
        first_unacked: bool,
    ) -> (Outcome, u64, Option<String>) {
        self.send_buf = Vec::with_capacity(4 + blksize);
        let mut window: VecDeque<Bytes> = VecDeque::with_capacity(wsize);
        // Index (from 1, never wrapping) of window[0].
        let mut base: u64 = 1;
        let mut sent = 0usize;
        let mut eof = false;
        let mut acked_bytes = 0u64;
        let mut next_progress = PROGRESS_STEP;
        let mut tries = 0u32;
        // Until the client ACKs something its address is unproven: fewer retries.
        let mut unproven = first_unacked;
        let mut deadline = Instant::now() + base_timeout;
        loop {
            while window.len() < wsize && !eof {
                let block = match reader.next(blksize).await {
                    Ok(b) => b,
                    Err(e) => {
                        self.send_error(code::NOT_DEFINED, "file read failed").await;
                        return (Outcome::Unavailable, acked_bytes, Some(e.0));
                    }
                };
                eof = block.len() < blksize;
                window.push_back(block);
            }
            self.send_blocks(base, &window, sent, blksize).await;
            sent = window.len();
            match self.wait(deadline).await {
                Wait::Ack(a) => {
                    let k = a.wrapping_sub(((base - 1) & 0xffff) as u16) as usize;
                    // k == 0 is a duplicate ACK: never resend on it (Sorcerer's Apprentice).
                    if k == 0 || k > sent {
                        continue;
                    }
                    for b in window.drain(..k) {
                        acked_bytes += b.len() as u64;
                    }
                    base += k as u64;
                    unproven = false;
                    tries = 0;
                    if window.is_empty() && eof {
                        return (Outcome::Completed, acked_bytes, None);
                    }
                    if acked_bytes >= next_progress {
                        next_progress = (acked_bytes / PROGRESS_STEP + 1) * PROGRESS_STEP;
                        self.report_progress(acked_bytes);
                    }
                    // A partial ACK means the client saw a gap: resend from there.
                    if k < sent {
                        self.retransmits += (sent - k) as u64;
                    }
                    sent = 0;
                    deadline = Instant::now() + base_timeout;
                }
                Wait::ClientError(c, m) => {
                    return (
                        Outcome::ClientError,
                        acked_bytes,
                        Some(format!("client error {c}: {m}")),
                    )
                }
                Wait::Abort => {
                    self.send_error(code::NOT_DEFINED, "server shutting down")
                        .await;
                    return (Outcome::Aborted, acked_bytes, None);
                }
                Wait::Timeout => {
                    tries += 1;
                    let limit = if unproven {
                        ctx.cfg.first_block_retries.min(ctx.cfg.retries)
                    } else {
                        ctx.cfg.retries
                    };
                    if tries > limit {
                        return (
                            Outcome::TimedOut,
                            acked_bytes,
                            Some(format!("no ACK after {limit} retransmits")),
                        );
                    }
                    self.retransmits += window.len() as u64;
                    sent = 0;
                    deadline = Instant::now() + backoff(base_timeout, tries);
                }
            }
        }
    }

    /// Send `window[from..]` (block `base` is `window[0]`). Runs of full-size blocks go out
    /// as one GSO send each; where the kernel refuses GSO (e.g. a block larger than the
    /// path MTU) this session falls back to one send per block.
    async fn send_blocks(
        &mut self,
        base: u64,
        window: &VecDeque<Bytes>,
        from: usize,
        blksize: usize,
    ) {
        let wire = |i: usize| ((base + i as u64) & 0xffff) as u16;
        let segment = 4 + blksize;
        let mut i = from;
        while i < window.len() {
            let n = (window.len() - i).min(batch_io::segments_per_send(segment));
            // GSO cuts at `segment` bytes: every block but the run's last must be full.
            let uniform = window.range(i..i + n - 1).all(|b| b.len() == blksize);
            // n > 1 implies segment <= MAX_GSO_BYTES / 2, which fits a u16.
            if self.gso && n > 1 && uniform {
                self.send_buf.clear();
                for (k, block) in window.range(i..i + n).enumerate() {
                    encode_data(wire(i + k), block, &mut self.send_buf);
                }
                match self
                    .io
                    .send_segmented(&self.send_buf, segment as u16, self.client)
                    .await
                {
                    Ok(()) => {
                        i += n;
                        continue;
                    }
                    Err(e) => {
                        tracing::debug!(client = %self.client, error = %e, "GSO send refused; sending block by block");
                        self.gso = false;
                    }
                }
            }
            self.send_buf.clear();
            encode_data(wire(i), &window[i], &mut self.send_buf);
            // A failed send is a lost packet: the timeout covers it.
            let _ = self.io.send(&self.send_buf, self.client).await;
            i += 1;
        }
    }

    /// Wait for the peer's next ACK or ERROR until `deadline`. Packets from other addresses
    /// get ERROR 5 and do not disturb the transfer; anything else from the peer is ignored.
    async fn wait(&mut self, deadline: Instant) -> Wait {
        if deadline < self.timer_at {
            self.timer.as_mut().reset(deadline);
            self.timer_at = deadline;
        }
        loop {
            let Session {
                io,
                recv_buf,
                client,
                timer,
                ..
            } = self;
            let r = tokio::select! {
                biased;
                r = io.recv(recv_buf, *client) => r,
                _ = timer.as_mut() => {
                    if *self.abort.borrow() {
                        return Wait::Abort;
                    }
                    let now = Instant::now();
                    // The timer may be armed for an older, earlier deadline: re-arm.
                    let next = deadline.min(now + ABORT_POLL);
                    self.timer.as_mut().reset(next);
                    self.timer_at = next;
                    if now >= deadline {
                        return Wait::Timeout;
                    }
                    continue;
                }
            };
            match r {
                Ok(Received::FromPeer(p)) => match Packet::decode(p) {
                    Ok(Packet::Ack(n)) => return Wait::Ack(n),
                    Ok(Packet::Error { code, message }) => return Wait::ClientError(code, message),
                    _ => continue,
                },
                Ok(Received::Foreign(from)) => {
                    // Never answer an ERROR with an ERROR.
                    let is_error = self.recv_buf.get(..2) == Some(&[0, 5]);
                    if !is_error {
                        let pkt = error_packet(code::UNKNOWN_TID, "unknown transfer ID");
                        if self.io.send(&pkt, from).await.is_ok() {
                            self.events.error_sent(code::UNKNOWN_TID);
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(client = %self.client, error = %e, "receive error");
                    if matches!(e.kind(), std::io::ErrorKind::BrokenPipe) {
                        return Wait::Abort;
                    }
                    // Transient (ICMP-induced) errors: keep waiting for the deadline.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }
    }

    async fn send_error(&mut self, c: u16, msg: &str) {
        if self
            .io
            .send(&error_packet(c, msg), self.client)
            .await
            .is_ok()
        {
            self.events.error_sent(c);
        }
    }
}

/// Exponential backoff: base, 2x, 4x, ... capped at 8x the base.
fn backoff(base: Duration, tries: u32) -> Duration {
    base * (1u32 << tries.min(3))
}
