//! The contract between the transfer engine and wherever file bytes come from.
//!
//! The engine only ever sees [`FileSource::open`] and [`Content::read_at`]. A `Content` is either
//! complete (one shared `Bytes`, sliced without copying by every session) or still filling from
//! an origin, so a transfer can start before the origin fetch finishes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a file could not be opened; each maps to one TFTP error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// TFTP error 1.
    NotFound,
    /// TFTP error 2; the text says why (path rule, symlink escape, ...).
    AccessDenied(String),
    /// TFTP error 0: origin down with nothing cached, I/O error, ...
    Unavailable(String),
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::NotFound => f.write_str("file not found"),
            OpenError::AccessDenied(why) => write!(f, "access violation: {why}"),
            OpenError::Unavailable(why) => write!(f, "file unavailable: {why}"),
        }
    }
}

/// Where files come from: a local root, a cache over an HTTP origin, ...
/// `name` has already passed the filename rules (relative, normalised, no `..`).
pub trait FileSource: Send + Sync + 'static {
    fn open<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Content, OpenError>>;
}

/// A read failed because the fill behind it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentError(pub String);

impl std::fmt::Display for ContentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "content unavailable: {}", self.0)
    }
}

/// State of a content that is still being filled.
#[derive(Clone, Debug)]
enum FillState {
    /// This many bytes are readable so far.
    Filling(usize),
    Done,
    Failed(String),
}

struct Filling {
    /// Appended to by the filler; readers copy out of it until the fill is done.
    buf: Mutex<BytesMut>,
    /// Once complete, the frozen bytes every reader slices.
    done: Mutex<Option<Bytes>>,
    state: watch::Sender<FillState>,
    size_hint: Option<u64>,
}

/// What HTTP clients are told about a file besides its bytes. One per cached copy, shared
/// by every `Content` handed out for it, so the content's digest is computed once per copy
/// rather than once per request.
#[derive(Debug, Default)]
pub struct FileMeta {
    /// Last-Modified: the local file's mtime, the origin's Last-Modified, or when the copy
    /// was fetched.
    pub modified: Option<SystemTime>,
    /// Strong validator derived from the bytes (see `http_files::etag`), set on first use.
    pub etag: OnceLock<String>,
    /// Whatever must live exactly as long as this copy: the HTTP listener's zero-copy memfd
    /// of a large file (`http_files::zero_copy`), made on first use.
    pub keep: OnceLock<Option<Box<dyn std::any::Any + Send + Sync>>>,
}

impl FileMeta {
    pub fn new(modified: Option<SystemTime>) -> Arc<FileMeta> {
        Arc::new(FileMeta {
            modified,
            etag: OnceLock::new(),
            keep: OnceLock::new(),
        })
    }
}

/// File bytes shared by every session reading the same file.
#[derive(Clone)]
pub struct Content {
    inner: ContentInner,
    meta: Arc<FileMeta>,
}

#[derive(Clone)]
enum ContentInner {
    Complete(Bytes),
    Filling(Arc<Filling>),
}

impl std::fmt::Debug for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Content")
            .field("size_hint", &self.size_hint())
            .finish()
    }
}

impl Content {
    /// A file whose bytes are all here.
    pub fn complete(bytes: Bytes) -> Content {
        Content {
            inner: ContentInner::Complete(bytes),
            meta: Arc::default(),
        }
    }

    /// The same content described by `meta` (shared with the cache entry it came from).
    pub fn with_meta(mut self, meta: Arc<FileMeta>) -> Content {
        self.meta = meta;
        self
    }

    pub fn meta(&self) -> &Arc<FileMeta> {
        &self.meta
    }

    /// A file still arriving; the returned [`ContentFiller`] appends to it.
    /// `size_hint` is the expected length (an origin's Content-Length), if known.
    pub fn filling(size_hint: Option<u64>) -> (Content, ContentFiller) {
        let (state, _) = watch::channel(FillState::Filling(0));
        let inner = Arc::new(Filling {
            buf: Mutex::new(BytesMut::new()),
            done: Mutex::new(None),
            state,
            size_hint,
        });
        (
            Content {
                inner: ContentInner::Filling(inner.clone()),
                meta: Arc::default(),
            },
            ContentFiller { inner },
        )
    }

    /// Total size if known (for the `tsize` option).
    pub fn size_hint(&self) -> Option<u64> {
        match &self.inner {
            ContentInner::Complete(b) => Some(b.len() as u64),
            ContentInner::Filling(f) => match f.done.lock().unwrap().as_ref() {
                Some(b) => Some(b.len() as u64),
                None => f.size_hint,
            },
        }
    }

    /// The complete bytes, if the fill has finished.
    pub fn as_complete(&self) -> Option<Bytes> {
        match &self.inner {
            ContentInner::Complete(b) => Some(b.clone()),
            ContentInner::Filling(f) => f.done.lock().unwrap().clone(),
        }
    }

    /// Bytes `[offset, offset + len)`, waiting for a fill in progress. Shorter (possibly
    /// empty) only at end of file.
    pub async fn read_at(&self, offset: u64, len: usize) -> Result<Bytes, ContentError> {
        let f = match &self.inner {
            ContentInner::Complete(b) => return Ok(slice(b, offset, len)),
            ContentInner::Filling(f) => f,
        };
        let want_end = offset.saturating_add(len as u64);
        let mut rx = f.state.subscribe();
        loop {
            let state = rx.borrow_and_update().clone();
            match state {
                FillState::Done => {
                    let b = f.done.lock().unwrap().clone().unwrap_or_default();
                    return Ok(slice(&b, offset, len));
                }
                FillState::Failed(why) => return Err(ContentError(why)),
                FillState::Filling(have) if have as u64 >= want_end => {
                    let buf = f.buf.lock().unwrap();
                    // finish() may have moved the bytes to `done` since we read the state;
                    // then its Done is about to arrive: wait for it below.
                    if buf.len() as u64 >= want_end {
                        let start = offset as usize;
                        return Ok(Bytes::copy_from_slice(&buf[start..start + len]));
                    }
                }
                FillState::Filling(_) => {}
            }
            if rx.changed().await.is_err() {
                // Filler dropped without finishing.
                if !matches!(*rx.borrow(), FillState::Done) {
                    return Err(ContentError("fill abandoned".into()));
                }
            }
        }
    }
}

fn slice(b: &Bytes, offset: u64, len: usize) -> Bytes {
    let start = (offset.min(b.len() as u64)) as usize;
    let end = start.saturating_add(len).min(b.len());
    b.slice(start..end)
}

/// The writing side of a filling [`Content`]. Dropping it unfinished fails the readers.
pub struct ContentFiller {
    inner: Arc<Filling>,
}

impl ContentFiller {
    pub fn append(&self, chunk: &[u8]) {
        let have = {
            let mut buf = self.inner.buf.lock().unwrap();
            buf.extend_from_slice(chunk);
            buf.len()
        };
        self.inner.state.send_replace(FillState::Filling(have));
    }

    /// Mark the content complete and return the frozen bytes (for the cache).
    pub fn finish(self) -> Bytes {
        let bytes = std::mem::take(&mut *self.inner.buf.lock().unwrap()).freeze();
        *self.inner.done.lock().unwrap() = Some(bytes.clone());
        self.inner.state.send_replace(FillState::Done);
        bytes
    }

    pub fn fail(self, why: String) {
        self.inner.state.send_replace(FillState::Failed(why));
    }
}

impl Drop for ContentFiller {
    fn drop(&mut self) {
        if matches!(*self.inner.state.borrow(), FillState::Filling(_)) {
            self.inner
                .state
                .send_replace(FillState::Failed("fill abandoned".into()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn complete_content_slices() {
        let c = Content::complete(Bytes::from_static(b"hello world"));
        assert_eq!(
            c.read_at(6, 512).await.unwrap(),
            Bytes::from_static(b"world")
        );
        assert_eq!(c.read_at(11, 512).await.unwrap().len(), 0);
        assert_eq!(c.read_at(99, 512).await.unwrap().len(), 0);
        assert_eq!(c.size_hint(), Some(11));
    }

    #[tokio::test]
    async fn reader_waits_for_filler() {
        let (c, filler) = Content::filling(Some(6));
        let reader = tokio::spawn({
            let c = c.clone();
            async move { c.read_at(2, 3).await }
        });
        filler.append(b"ab");
        tokio::task::yield_now().await;
        filler.append(b"cdef");
        assert_eq!(reader.await.unwrap().unwrap(), Bytes::from_static(b"cde"));
        let all = filler.finish();
        assert_eq!(all, Bytes::from_static(b"abcdef"));
        assert_eq!(c.read_at(4, 10).await.unwrap(), Bytes::from_static(b"ef"));
    }

    /// Readers racing finish() must never index the emptied fill buffer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn readers_racing_finish_get_the_bytes() {
        for _ in 0..2000 {
            let (c, filler) = Content::filling(Some(4096));
            filler.append(&[7u8; 4096]);
            let readers: Vec<_> = (0..4)
                .map(|i| {
                    let c = c.clone();
                    tokio::spawn(async move { c.read_at(i * 512, 512).await })
                })
                .collect();
            filler.finish();
            for r in readers {
                assert_eq!(r.await.unwrap().unwrap(), Bytes::from(vec![7u8; 512]));
            }
        }
    }

    #[tokio::test]
    async fn failed_fill_fails_readers() {
        let (c, filler) = Content::filling(None);
        filler.append(b"ab");
        drop(filler);
        assert!(c.read_at(0, 10).await.is_err());
    }
}
