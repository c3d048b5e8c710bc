//! Response bodies: slices of the shared cached `Bytes` (no copy per connection), or a
//! stream out of a `Content` still filling from the origin. A body that carries a
//! [`Report`] counts its transfer when it is dropped: completed if every byte was handed to
//! the connection, `client_error` (the client went away) otherwise.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::content::{BoxFuture, Content, ContentError};
use crate::file_class::FileClass;
use crate::server::events::{
    Events, Outcome, Protocol, TransferProgress, TransferReport, PROGRESS_STEP,
};

/// Frames handed to hyper at a time: slices, so a bound on queued bytes, not a copy.
const CHUNK: usize = 256 << 10;

/// One HTTP transfer, reported once (to the metrics and the phone table).
pub struct Report {
    pub events: Arc<dyn Events>,
    pub name: String,
    pub class: FileClass,
    pub client: SocketAddr,
    pub started: Instant,
}

impl Report {
    /// A firmware body's bytes handed over so far, every [`PROGRESS_STEP`].
    fn progress(&self, before: u64, sent: u64) {
        if self.class == FileClass::Firmware && sent / PROGRESS_STEP != before / PROGRESS_STEP {
            self.events.transfer_progress(&TransferProgress {
                protocol: Protocol::Http,
                client: self.client,
                file: &self.name,
                bytes: sent,
            });
        }
    }

    pub fn finish(self, outcome: Outcome, bytes: u64) {
        // The same line TFTP sessions log per transfer, with the protocol.
        tracing::info!(
            client = %self.client,
            file = %self.name,
            class = self.class.as_str(),
            bytes,
            duration_ms = self.started.elapsed().as_millis() as u64,
            outcome = outcome.as_str(),
            protocol = "http",
            "transfer finished"
        );
        let duration = self.started.elapsed();
        self.events.transfer_finished(&TransferReport {
            protocol: Protocol::Http,
            client: self.client,
            file: &self.name,
            class: self.class,
            bytes,
            duration,
            outcome,
        });
    }
}

enum Kind {
    Bytes(Bytes),
    Stream {
        content: Content,
        offset: u64,
        /// Expected length, if known (origin Content-Length).
        len: Option<u64>,
        pending: Option<BoxFuture<'static, Result<Bytes, ContentError>>>,
        eof: bool,
    },
}

pub struct FileBody {
    kind: Kind,
    sent: u64,
    failed: bool,
    report: Option<Report>,
}

impl FileBody {
    pub fn empty() -> FileBody {
        FileBody::bytes(Bytes::new(), None)
    }

    /// A whole body from memory: `bytes` is a slice of the cached copy.
    pub fn bytes(bytes: Bytes, report: Option<Report>) -> FileBody {
        FileBody {
            kind: Kind::Bytes(bytes),
            sent: 0,
            failed: false,
            report,
        }
    }

    /// A body read from `content` as it fills; `len` is its expected size if known.
    pub fn stream(content: Content, len: Option<u64>, report: Option<Report>) -> FileBody {
        FileBody {
            kind: Kind::Stream {
                content,
                offset: 0,
                len,
                pending: None,
                eof: false,
            },
            sent: 0,
            failed: false,
            report,
        }
    }

    fn advance(&mut self, n: usize) {
        let before = self.sent;
        self.sent += n as u64;
        if let Some(r) = &self.report {
            r.progress(before, self.sent);
        }
    }

    /// Every byte handed over. hyper stops polling once a known length is reached, so the
    /// end of a stream of known length is not always seen as an empty read.
    fn finished(&self) -> bool {
        match &self.kind {
            Kind::Bytes(b) => b.is_empty(),
            Kind::Stream {
                eof, offset, len, ..
            } => *eof || len.is_some_and(|n| *offset >= n),
        }
    }
}

impl Drop for FileBody {
    fn drop(&mut self) {
        if let Some(r) = self.report.take() {
            let outcome = if self.failed {
                Outcome::Unavailable
            } else if self.finished() {
                Outcome::Completed
            } else {
                Outcome::ClientError
            };
            r.finish(outcome, self.sent);
        }
    }
}

impl http_body::Body for FileBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Bytes(b) => {
                if b.is_empty() {
                    return Poll::Ready(None);
                }
                let chunk = b.split_to(CHUNK.min(b.len()));
                this.advance(chunk.len());
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Kind::Stream {
                content,
                offset,
                len,
                pending,
                eof,
            } => {
                if *eof {
                    return Poll::Ready(None);
                }
                let fut = pending.get_or_insert_with(|| {
                    let (c, at) = (content.clone(), *offset);
                    Box::pin(async move { c.read_at(at, CHUNK).await })
                });
                let r = std::task::ready!(fut.as_mut().poll(cx));
                *pending = None;
                match r {
                    Ok(chunk) if chunk.is_empty() => {
                        *eof = true;
                        if len.is_some_and(|n| n != *offset) {
                            // Content-Length was promised; the client must see a short body.
                            this.failed = true;
                            return Poll::Ready(Some(Err(std::io::Error::other("short file"))));
                        }
                        Poll::Ready(None)
                    }
                    Ok(chunk) => {
                        *offset += chunk.len() as u64;
                        this.advance(chunk.len());
                        Poll::Ready(Some(Ok(Frame::data(chunk))))
                    }
                    Err(e) => {
                        this.failed = true;
                        Poll::Ready(Some(Err(std::io::Error::other(e.to_string()))))
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Bytes(b) => SizeHint::with_exact(b.len() as u64),
            Kind::Stream {
                len: Some(n),
                offset,
                ..
            } => SizeHint::with_exact(n.saturating_sub(*offset)),
            Kind::Stream { .. } => SizeHint::default(),
        }
    }
}
