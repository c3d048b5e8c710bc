//! A socket wrapper that remembers when bytes last moved either way, so the listener can
//! close a connection that stalls (a client that stopped reading its response) after the
//! idle timeout (hyper's header-read timeout covers the time before a request head), and
//! that sends slices of large cached files with `sendfile` (`zero_copy`).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use super::zero_copy;

/// Milliseconds since `base` of the last read or write that moved bytes.
#[derive(Clone)]
pub struct Activity {
    base: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Activity {
        Activity {
            base: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let ms = self.base.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// When the connection last moved bytes (or was opened).
    pub fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

impl Default for Activity {
    fn default() -> Self {
        Activity::new()
    }
}

pub struct ActivityIo<T> {
    inner: T,
    activity: Activity,
}

impl<T> ActivityIo<T> {
    pub fn new(inner: T, activity: Activity) -> Self {
        ActivityIo { inner, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ActivityIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl ActivityIo<TcpStream> {
    /// `sendfile` of `len` bytes at `offset` of `file`, when the socket takes them.
    fn poll_sendfile(
        &mut self,
        cx: &mut Context<'_>,
        file: &std::fs::File,
        offset: u64,
        len: usize,
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.inner.poll_write_ready(cx))?;
            let sock = &self.inner;
            match sock.try_io(Interest::WRITABLE, || {
                zero_copy::sendfile(sock, file, offset, len)
            }) {
                Ok(n) => {
                    if n > 0 {
                        self.activity.touch();
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl ActivityIo<TcpStream> {
    /// `sendmsg` with `MSG_MORE`, when the socket takes it.
    fn poll_send_more(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.inner.poll_write_ready(cx))?;
            let sock = &self.inner;
            match sock.try_io(Interest::WRITABLE, || {
                socket2::SockRef::from(sock).send_vectored_with_flags(bufs, libc::MSG_MORE)
            }) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                r => return Poll::Ready(r),
            }
        }
    }
}

/// Writes go out as they come, except that a buffer lying within a large cached file with a
/// memfd copy (`zero_copy`) is sent with `sendfile` from that copy. A write that mixes both
/// stops at the boundary (a short write: hyper sends the rest next).
impl AsyncWrite for ActivityIo<TcpStream> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some((file, off)) = zero_copy::lookup(buf) {
            return self.poll_sendfile(cx, &file, off, buf.len());
        }
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(first) = bufs.iter().position(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        if let Some((file, off)) = zero_copy::lookup(&bufs[first]) {
            return self.poll_sendfile(cx, &file, off, bufs[first].len());
        }
        // Copy up to the first buffer that can go by sendfile.
        let end = bufs[first..]
            .iter()
            .position(|b| zero_copy::lookup(b).is_some())
            .map_or(bufs.len(), |k| first + k);
        let r = if end < bufs.len() {
            // A sendfile body follows this head: MSG_MORE holds it back so it leaves with the
            // body's first segment (nginx corks for the same reason); pushed alone under
            // TCP_NODELAY it costs a segment, a delivery and a wake-up of the client (one
            // download at a time: ~15% more throughput, run 5 in bench/results).
            self.poll_send_more(cx, &bufs[first..end])
        } else {
            Pin::new(&mut self.inner).poll_write_vectored(cx, &bufs[first..end])
        };
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
