//! The in-memory tier: whole files as `Bytes`, least recently used dropped first to stay within
//! a byte budget. Every session reading a file slices the same `Bytes`, so a firmware image is
//! held once however many phones fetch it.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use lru::LruCache;

use super::events::{StoreEvents, Tier};
use super::local::LocalFile;
use crate::content::{Content, FileMeta};

/// What a cached copy is checked against when it is no longer fresh.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Validator {
    /// From the local root: the same path, length and mtime mean the same file.
    Local(LocalFile),
    /// From the origin: sent back as `If-None-Match` / `If-Modified-Since`.
    Origin {
        etag: Option<String>,
        last_modified: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct CachedFile {
    pub bytes: Bytes,
    pub validator: Validator,
    /// When the copy was last fetched or confirmed (304); fresh for the TTL after this.
    pub validated_at: Instant,
    /// Set after an origin failure: serve this copy without retrying the origin until then.
    pub stale_until: Option<Instant>,
    /// Last-Modified and the lazily computed ETag of these bytes; kept while the bytes are.
    pub meta: Arc<FileMeta>,
}

impl CachedFile {
    /// A content over the cached bytes (no copy), sharing this copy's metadata.
    pub fn content(&self) -> Content {
        Content::complete(self.bytes.clone()).with_meta(self.meta.clone())
    }
}

struct Lru {
    map: LruCache<String, CachedFile>,
    bytes: u64,
}

pub struct MemoryCache {
    max_bytes: u64,
    lru: Mutex<Lru>,
    events: Arc<dyn StoreEvents>,
}

impl MemoryCache {
    pub fn new(max_bytes: u64, events: Arc<dyn StoreEvents>) -> MemoryCache {
        MemoryCache {
            max_bytes,
            lru: Mutex::new(Lru {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
            events,
        }
    }

    /// A copy of the entry (cheap: `Bytes` is reference counted), marked as recently used.
    pub fn get(&self, key: &str) -> Option<CachedFile> {
        self.lru.lock().unwrap().map.get(key).cloned()
    }

    /// Insert or replace, then evict least recently used entries until within budget. A file
    /// larger than the whole budget is not kept (it is still served to its readers).
    pub fn insert(&self, key: String, file: CachedFile) {
        let size = file.bytes.len() as u64;
        let mut lru = self.lru.lock().unwrap();
        if let Some(old) = lru.map.pop(&key) {
            lru.bytes -= old.bytes.len() as u64;
        }
        if size > self.max_bytes {
            self.events.cache_bytes(Tier::Memory, lru.bytes);
            return;
        }
        let mut evicted = 0;
        while lru.bytes + size > self.max_bytes {
            match lru.map.pop_lru() {
                Some((_, old)) => {
                    lru.bytes -= old.bytes.len() as u64;
                    evicted += 1;
                }
                None => break,
            }
        }
        lru.bytes += size;
        lru.map.put(key, file);
        if evicted > 0 {
            self.events.cache_evicted(Tier::Memory, evicted);
        }
        self.events.cache_bytes(Tier::Memory, lru.bytes);
    }

    pub fn remove(&self, key: &str) {
        let mut lru = self.lru.lock().unwrap();
        if let Some(old) = lru.map.pop(key) {
            lru.bytes -= old.bytes.len() as u64;
            self.events.cache_bytes(Tier::Memory, lru.bytes);
        }
    }

    pub fn bytes(&self) -> u64 {
        self.lru.lock().unwrap().bytes
    }

    pub fn len(&self) -> usize {
        self.lru.lock().unwrap().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lru.lock().unwrap().map.contains(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(n: usize) -> CachedFile {
        CachedFile {
            bytes: Bytes::from(vec![0u8; n]),
            validator: Validator::Origin {
                etag: None,
                last_modified: None,
            },
            validated_at: Instant::now(),
            stale_until: None,
            meta: Arc::default(),
        }
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let c = MemoryCache::new(100, Arc::new(super::super::events::NoStoreEvents));
        c.insert("a".into(), file(40));
        c.insert("b".into(), file(40));
        assert!(c.get("a").is_some()); // b is now least recently used
        c.insert("c".into(), file(40));
        assert!(c.contains("a") && c.contains("c") && !c.contains("b"));
        assert_eq!(c.bytes(), 80);
        c.insert("a".into(), file(10)); // replace shrinks
        assert_eq!(c.bytes(), 50);
        c.insert("huge".into(), file(101));
        assert!(!c.contains("huge"));
        assert_eq!(c.bytes(), 50);
        c.remove("a");
        assert_eq!(c.bytes(), 40);
    }
}
