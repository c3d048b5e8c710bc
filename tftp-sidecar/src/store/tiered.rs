//! The content store the engine opens files through: negative cache -> memory -> (one load per
//! name at a time: disk -> local root -> origin).
//!
//! A miss starts one load task per name; concurrent opens of that name join it instead of
//! starting their own (coalescing). The load publishes a [`Content`] as soon as it can (for the
//! origin: when the response headers arrive) and keeps filling it, so transfers start while
//! the body streams in. The only shared lock on the miss path guards the map of loads in
//! flight and is never held across an await, so unique per-phone files don't queue behind
//! each other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::sync::watch;

use super::disk_cache::{DiskCache, DiskEntry};
use super::events::{OriginOutcome, StoreEvents, Tier};
use super::local::LocalRoot;
use super::memory_cache::{CachedFile, MemoryCache, Validator};
use super::negative::NegativeCache;
use super::origin::{Origin, OriginFailure, OriginReply};
use crate::content::{BoxFuture, Content, FileMeta, FileSource, OpenError};

type LoadResult = Option<Result<Content, OpenError>>;

/// What a [`Store`] is made of; see `StoreConfig::build` for the usual way to get one.
pub struct StoreParts {
    pub local: Option<LocalRoot>,
    pub origin: Option<Origin>,
    pub memory_bytes: u64,
    pub disk: Option<DiskCache>,
    /// How long a cached copy is served without asking its source again.
    pub fresh_ttl: Duration,
    /// How long a "not found" is remembered.
    pub negative_ttl: Duration,
    /// After an origin failure, how long a stale copy is served before the origin is retried.
    pub stale_retry: Duration,
    /// Cache keys ignore ASCII case (set with case-insensitive lookup).
    pub case_insensitive: bool,
    /// Larger origin responses are refused.
    pub max_file_bytes: u64,
}

struct Inner {
    local: Option<LocalRoot>,
    origin: Option<Origin>,
    memory: MemoryCache,
    disk: Option<Arc<DiskCache>>,
    negative: NegativeCache,
    fresh_ttl: Duration,
    stale_retry: Duration,
    case_insensitive: bool,
    max_file_bytes: u64,
    inflight: Mutex<HashMap<String, Arc<watch::Sender<LoadResult>>>>,
    events: Arc<dyn StoreEvents>,
}

/// Cheap to clone; every clone shares the caches.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    pub fn new(parts: StoreParts, events: Arc<dyn StoreEvents>) -> Store {
        Store {
            inner: Arc::new(Inner {
                local: parts.local,
                origin: parts.origin,
                memory: MemoryCache::new(parts.memory_bytes, events.clone()),
                disk: parts.disk.map(Arc::new),
                negative: NegativeCache::new(parts.negative_ttl, super::negative::DEFAULT_CAPACITY),
                fresh_ttl: parts.fresh_ttl,
                stale_retry: parts.stale_retry,
                case_insensitive: parts.case_insensitive,
                max_file_bytes: parts.max_file_bytes,
                inflight: Mutex::new(HashMap::new()),
                events,
            }),
        }
    }

    pub fn has_local(&self) -> bool {
        self.inner.local.is_some()
    }

    pub fn has_origin(&self) -> bool {
        self.inner.origin.is_some()
    }

    /// Bytes held by the memory tier.
    pub fn memory_bytes(&self) -> u64 {
        self.inner.memory.bytes()
    }

    /// Loads in flight now.
    pub fn loads_in_flight(&self) -> usize {
        self.inner.inflight.lock().unwrap().len()
    }

    fn key(&self, name: &str) -> String {
        if self.inner.case_insensitive {
            name.to_ascii_lowercase()
        } else {
            name.to_string()
        }
    }

    pub async fn open_file(&self, name: &str) -> Result<Content, OpenError> {
        let inner = &self.inner;
        let key = self.key(name);
        if inner.negative.contains(&key) {
            inner.events.negative_hit();
            return Err(OpenError::NotFound);
        }
        let now = Instant::now();
        let mut stale = None;
        if let Some(f) = inner.memory.get(&key) {
            if now.duration_since(f.validated_at) < inner.fresh_ttl {
                inner.events.cache_hit(Tier::Memory);
                return Ok(f.content());
            }
            if f.stale_until.is_some_and(|t| now < t) {
                inner.events.stale_served();
                return Ok(f.content());
            }
            stale = Some(f);
        }
        let (mut rx, load) = {
            let mut inflight = inner.inflight.lock().unwrap();
            if let Some(tx) = inflight.get(&key) {
                inner.events.coalesced_wait();
                (tx.subscribe(), None)
            } else {
                // A load may have finished between the memory check and taking this lock: it
                // fills the memory tier before leaving the map, so look again.
                if let Some(f) = inner.memory.get(&key) {
                    if Instant::now().duration_since(f.validated_at) < inner.fresh_ttl {
                        inner.events.cache_hit(Tier::Memory);
                        return Ok(f.content());
                    }
                    stale = Some(f);
                }
                let (tx, rx) = watch::channel(None);
                let tx = Arc::new(tx);
                inflight.insert(key.clone(), tx.clone());
                let load = Load {
                    inner: inner.clone(),
                    key,
                    tx,
                };
                (rx, Some(load))
            }
        };
        // Spawned outside the lock: a load dropped unrun (runtime shutting down) takes it.
        if let Some(load) = load {
            tokio::spawn(load.run(name.to_string(), stale));
        }
        let result = match rx.wait_for(Option::is_some).await {
            Ok(v) => v.clone().expect("waited for Some"),
            Err(_) => Err(OpenError::Unavailable("load abandoned".to_string())),
        };
        result
    }
}

impl FileSource for Store {
    fn open<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Content, OpenError>> {
        Box::pin(self.open_file(name))
    }
}

/// One load of one name. Leaves the in-flight map when dropped (even on panic); waiters that
/// got nothing then see the sender gone.
struct Load {
    inner: Arc<Inner>,
    key: String,
    tx: Arc<watch::Sender<LoadResult>>,
}

impl Drop for Load {
    fn drop(&mut self) {
        let mut inflight = self.inner.inflight.lock().unwrap();
        if inflight
            .get(&self.key)
            .is_some_and(|tx| Arc::ptr_eq(tx, &self.tx))
        {
            inflight.remove(&self.key);
        }
    }
}

impl Load {
    fn publish(&self, r: Result<Content, OpenError>) {
        self.tx.send_replace(Some(r));
    }

    fn fresh(&self, validated_at: Instant) -> bool {
        validated_at.elapsed() < self.inner.fresh_ttl
    }

    async fn run(self, name: String, mut stale: Option<CachedFile>) {
        let inner = self.inner.clone();
        let key = self.key.clone();

        // Disk tier (origin files only).
        if stale.is_none() {
            if let Some(disk) = &inner.disk {
                let d = disk.clone();
                let k = key.clone();
                if let Ok(Some(e)) = tokio::task::spawn_blocking(move || d.load(&k)).await {
                    let age = SystemTime::now()
                        .duration_since(e.validated_at)
                        .unwrap_or_default();
                    let validated_at = Instant::now().checked_sub(age).unwrap_or_else(Instant::now);
                    let meta = FileMeta::new(Some(origin_modified(
                        e.last_modified.as_deref(),
                        e.validated_at,
                    )));
                    let file = CachedFile {
                        bytes: e.bytes,
                        validator: Validator::Origin {
                            etag: e.etag,
                            last_modified: e.last_modified,
                        },
                        validated_at,
                        stale_until: None,
                        meta,
                    };
                    if self.fresh(validated_at) {
                        inner.events.cache_hit(Tier::Disk);
                        inner.memory.insert(key.clone(), file.clone());
                        self.publish(Ok(file.content()));
                        return;
                    }
                    stale = Some(file);
                }
            }
        }

        inner.events.cache_miss();

        if let Some(local) = &inner.local {
            // A cached local file unchanged on disk (same path, size, mtime) is reused.
            if let Some(CachedFile {
                validator: Validator::Local(was),
                ..
            }) = &stale
            {
                if local.resolve(&name).await.as_ref() == Ok(was) {
                    let mut file = stale.clone().unwrap();
                    file.validated_at = Instant::now();
                    let content = file.content();
                    inner.memory.insert(key.clone(), file);
                    self.publish(Ok(content));
                    return;
                }
            }
            match local.read(&name).await {
                Ok((lf, bytes)) => {
                    let file = CachedFile {
                        bytes,
                        meta: FileMeta::new(lf.modified),
                        validator: Validator::Local(lf),
                        validated_at: Instant::now(),
                        stale_until: None,
                    };
                    let content = file.content();
                    inner.memory.insert(key.clone(), file);
                    self.publish(Ok(content));
                    return;
                }
                Err(OpenError::NotFound) => {}
                Err(e) => {
                    self.publish(Err(e));
                    return;
                }
            }
        }
        if matches!(
            &stale,
            Some(CachedFile {
                validator: Validator::Local(_),
                ..
            })
        ) {
            // Gone from the local root: that copy is no longer anyone's.
            inner.memory.remove(&key);
            stale = None;
        }

        let Some(origin) = &inner.origin else {
            inner.negative.insert(&key);
            self.publish(Err(OpenError::NotFound));
            return;
        };
        self.load_from_origin(origin, &name, stale).await;
    }

    async fn load_from_origin(&self, origin: &Origin, name: &str, stale: Option<CachedFile>) {
        let inner = &self.inner;
        let key = &self.key;
        let (etag, last_modified) = match &stale {
            Some(CachedFile {
                validator:
                    Validator::Origin {
                        etag,
                        last_modified,
                    },
                ..
            }) => (etag.clone(), last_modified.clone()),
            _ => (None, None),
        };
        let started = Instant::now();
        let reply = origin
            .get(name, etag.as_deref(), last_modified.as_deref())
            .await;
        let latency = started.elapsed();
        match reply {
            Ok(OriginReply::NotModified) => {
                inner
                    .events
                    .origin_request(OriginOutcome::NotModified, latency);
                let mut file = stale.expect("304 only answers a conditional request");
                file.validated_at = Instant::now();
                file.stale_until = None;
                inner.memory.insert(key.clone(), file.clone());
                self.publish(Ok(file.content()));
                if let Some(disk) = &inner.disk {
                    let d = disk.clone();
                    let k = key.clone();
                    let _ =
                        tokio::task::spawn_blocking(move || d.touch(&k, SystemTime::now())).await;
                }
            }
            Ok(OriginReply::NotFound) => {
                inner
                    .events
                    .origin_request(OriginOutcome::NotFound, latency);
                inner.memory.remove(key);
                inner.negative.insert(key);
                self.publish(Err(OpenError::NotFound));
                if let Some(disk) = &inner.disk {
                    let d = disk.clone();
                    let k = key.clone();
                    let _ = tokio::task::spawn_blocking(move || d.remove(&k)).await;
                }
            }
            Ok(OriginReply::Body(mut body)) => {
                if body
                    .content_length
                    .is_some_and(|n| n > inner.max_file_bytes)
                {
                    inner.events.origin_request(OriginOutcome::Error, latency);
                    let why = format!(
                        "origin file is {} bytes, over the {} byte limit",
                        body.content_length.unwrap(),
                        inner.max_file_bytes
                    );
                    self.serve_stale_or(stale, OpenError::Unavailable(why));
                    return;
                }
                let (content, filler) = Content::filling(body.content_length);
                let meta = FileMeta::new(Some(origin_modified(
                    body.last_modified.as_deref(),
                    SystemTime::now(),
                )));
                self.publish(Ok(content.with_meta(meta.clone())));
                let mut total: u64 = 0;
                let failure = loop {
                    match body.chunk().await {
                        Ok(Some(chunk)) => {
                            total += chunk.len() as u64;
                            if total > inner.max_file_bytes {
                                break Some(OriginFailure::Error(format!(
                                    "origin file over the {} byte limit",
                                    inner.max_file_bytes
                                )));
                            }
                            filler.append(&chunk);
                        }
                        Ok(None) => break None,
                        Err(e) => break Some(e),
                    }
                };
                let failure = failure.or_else(|| match body.content_length {
                    Some(n) if n != total => Some(OriginFailure::Error(format!(
                        "body was {total} bytes, Content-Length said {n}"
                    ))),
                    _ => None,
                });
                if let Some(f) = failure {
                    inner.events.origin_request(outcome_of(&f), latency);
                    tracing::warn!(file = name, error = %f, "origin body failed");
                    filler.fail(f.to_string());
                    return;
                }
                inner.events.origin_request(OriginOutcome::Ok, latency);
                let bytes: Bytes = filler.finish();
                inner.negative.remove(key);
                inner.memory.insert(
                    key.clone(),
                    CachedFile {
                        bytes: bytes.clone(),
                        validator: Validator::Origin {
                            etag: body.etag.clone(),
                            last_modified: body.last_modified.clone(),
                        },
                        validated_at: Instant::now(),
                        stale_until: None,
                        meta,
                    },
                );
                if let Some(disk) = &inner.disk {
                    let d = disk.clone();
                    let k = key.clone();
                    let entry = DiskEntry {
                        bytes,
                        etag: body.etag,
                        last_modified: body.last_modified,
                        validated_at: SystemTime::now(),
                    };
                    match tokio::task::spawn_blocking(move || d.store(&k, &entry)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => {
                            tracing::warn!(file = name, error = %e, "disk cache write failed")
                        }
                        Err(e) => {
                            tracing::warn!(file = name, error = %e, "disk cache write failed")
                        }
                    }
                }
            }
            Err(f) => {
                inner.events.origin_request(outcome_of(&f), latency);
                tracing::warn!(file = name, error = %f, "origin request failed");
                self.serve_stale_or(stale, OpenError::Unavailable(f.to_string()));
            }
        }
    }

    /// stale-if-error: a copy we hold beats an error; keep serving it for `stale_retry`
    /// before asking the origin again.
    fn serve_stale_or(&self, stale: Option<CachedFile>, err: OpenError) {
        match stale {
            Some(mut file) => {
                self.inner.events.stale_served();
                file.stale_until = Some(Instant::now() + self.inner.stale_retry);
                self.inner.memory.insert(self.key.clone(), file.clone());
                self.publish(Ok(file.content()));
            }
            None => self.publish(Err(err)),
        }
    }
}

/// Last-Modified for an origin file: the origin's own, else when we fetched it.
fn origin_modified(last_modified: Option<&str>, fetched: SystemTime) -> SystemTime {
    last_modified
        .and_then(|s| httpdate::parse_http_date(s).ok())
        .unwrap_or(fetched)
}

fn outcome_of(f: &OriginFailure) -> OriginOutcome {
    match f {
        OriginFailure::Timeout(_) => OriginOutcome::Timeout,
        OriginFailure::Error(_) => OriginOutcome::Error,
    }
}
