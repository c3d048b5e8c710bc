//! The disk tier: origin files kept across restarts.
//!
//! Each entry is two files named by the SHA-256 of its key: `<hash>.data` (the bytes) and
//! `<hash>.meta` (JSON: key, length, SHA-256 of the data, ETag, Last-Modified, when last
//! validated). Both are written to a temp file and renamed into place, data first. A load
//! checks the key, the length and the checksum; any mismatch (a torn update, a flipped bit)
//! deletes the entry so it is fetched again, never served. All methods block: call them from
//! `spawn_blocking`.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lru::LruCache;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::events::{StoreEvents, Tier};

const META_VERSION: u32 = 1;

#[derive(Clone, Debug)]
pub struct DiskEntry {
    pub bytes: Bytes,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub validated_at: SystemTime,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    version: u32,
    key: String,
    len: u64,
    sha256: String,
    etag: Option<String>,
    last_modified: Option<String>,
    /// Seconds since the Unix epoch.
    validated_at: f64,
}

struct Index {
    /// Entry hash -> data size; least recently used first out.
    lru: LruCache<String, u64>,
    bytes: u64,
}

pub struct DiskCache {
    dir: PathBuf,
    max_bytes: u64,
    index: Mutex<Index>,
    tmp_seq: AtomicU64,
    events: Arc<dyn StoreEvents>,
}

pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl DiskCache {
    /// Create the directory if needed, drop leftover temp files, and index what is there
    /// (oldest first by modification time). Checksums are verified on load, not here.
    pub fn open(
        dir: PathBuf,
        max_bytes: u64,
        events: Arc<dyn StoreEvents>,
    ) -> io::Result<DiskCache> {
        fs::create_dir_all(&dir)?;
        let mut found: Vec<(SystemTime, String, u64)> = Vec::new();
        let mut data_files: Vec<String> = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") {
                let _ = fs::remove_file(entry.path());
                continue;
            }
            if let Some(hash) = name.strip_suffix(".data") {
                data_files.push(hash.to_string());
                continue;
            }
            let Some(hash) = name.strip_suffix(".meta") else {
                continue;
            };
            let data = dir.join(format!("{hash}.data"));
            match (read_meta(&entry.path()), fs::metadata(&data)) {
                (Some(meta), Ok(dm)) if dm.len() == meta.len => {
                    let mtime = entry.metadata().and_then(|m| m.modified());
                    found.push((mtime.unwrap_or(UNIX_EPOCH), hash.to_string(), meta.len));
                }
                _ => {
                    let _ = fs::remove_file(entry.path());
                    let _ = fs::remove_file(&data);
                }
            }
        }
        // Data without metadata is a write that never finished.
        for hash in data_files {
            if !found.iter().any(|(_, h, _)| *h == hash) {
                let _ = fs::remove_file(dir.join(format!("{hash}.data")));
            }
        }
        found.sort();
        let mut index = Index {
            lru: LruCache::unbounded(),
            bytes: 0,
        };
        for (_, hash, len) in found {
            index.bytes += len;
            index.lru.put(hash, len);
        }
        let cache = DiskCache {
            dir,
            max_bytes,
            index: Mutex::new(index),
            tmp_seq: AtomicU64::new(0),
            events,
        };
        // The budget may have shrunk since the last run.
        cache.evict_to_fit(0);
        cache
            .events
            .cache_bytes(Tier::Disk, cache.index.lock().unwrap().bytes);
        Ok(cache)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bytes(&self) -> u64 {
        self.index.lock().unwrap().bytes
    }

    pub fn len(&self) -> usize {
        self.index.lock().unwrap().lru.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn paths(&self, hash: &str) -> (PathBuf, PathBuf) {
        (
            self.dir.join(format!("{hash}.data")),
            self.dir.join(format!("{hash}.meta")),
        )
    }

    /// The entry for `key` if present and intact; a damaged entry is deleted and counted.
    pub fn load(&self, key: &str) -> Option<DiskEntry> {
        let hash = sha256_hex(key.as_bytes());
        let (data_path, meta_path) = self.paths(&hash);
        let meta = match fs::read(&meta_path) {
            Ok(raw) => serde_json::from_slice::<Meta>(&raw).ok(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
            Err(_) => None,
        };
        let data = fs::read(&data_path).ok();
        let intact = match (&meta, &data) {
            (Some(m), Some(d)) => {
                m.version == META_VERSION
                    && m.key == key
                    && m.len == d.len() as u64
                    && m.sha256 == sha256_hex(d)
            }
            _ => false,
        };
        if !intact {
            self.events.cache_corrupt();
            tracing::warn!(key, dir = %self.dir.display(), "disk cache entry failed verification; deleted");
            self.remove_hash(&hash);
            return None;
        }
        let meta = meta.unwrap();
        self.index.lock().unwrap().lru.get(&hash);
        Some(DiskEntry {
            bytes: Bytes::from(data.unwrap()),
            etag: meta.etag,
            last_modified: meta.last_modified,
            validated_at: from_unix(meta.validated_at),
        })
    }

    /// Write an entry atomically, then evict older entries past the budget. An entry larger
    /// than the whole budget is not stored.
    pub fn store(&self, key: &str, entry: &DiskEntry) -> io::Result<()> {
        let len = entry.bytes.len() as u64;
        if len > self.max_bytes {
            return Ok(());
        }
        let hash = sha256_hex(key.as_bytes());
        let (data_path, meta_path) = self.paths(&hash);
        let meta = Meta {
            version: META_VERSION,
            key: key.to_string(),
            len,
            sha256: sha256_hex(&entry.bytes),
            etag: entry.etag.clone(),
            last_modified: entry.last_modified.clone(),
            validated_at: to_unix(entry.validated_at),
        };
        self.write_atomic(&hash, &data_path, &entry.bytes)?;
        self.write_atomic(&hash, &meta_path, &serde_json::to_vec(&meta).unwrap())?;
        {
            let mut index = self.index.lock().unwrap();
            if let Some(old) = index.lru.put(hash.clone(), len) {
                index.bytes -= old;
            }
            index.bytes += len;
        }
        self.evict_to_fit(0);
        self.events.cache_bytes(Tier::Disk, self.bytes());
        Ok(())
    }

    /// After a 304: rewrite only the metadata with a new validation time.
    pub fn touch(&self, key: &str, validated_at: SystemTime) -> io::Result<()> {
        let hash = sha256_hex(key.as_bytes());
        let (_, meta_path) = self.paths(&hash);
        let raw = fs::read(&meta_path)?;
        let mut meta: Meta = serde_json::from_slice(&raw)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        meta.validated_at = to_unix(validated_at);
        self.write_atomic(&hash, &meta_path, &serde_json::to_vec(&meta).unwrap())
    }

    pub fn remove(&self, key: &str) {
        self.remove_hash(&sha256_hex(key.as_bytes()));
    }

    fn remove_hash(&self, hash: &str) {
        let (data_path, meta_path) = self.paths(hash);
        // Meta first: without it the data file is ignored.
        let _ = fs::remove_file(&meta_path);
        let _ = fs::remove_file(&data_path);
        let mut index = self.index.lock().unwrap();
        if let Some(len) = index.lru.pop(hash) {
            index.bytes -= len;
        }
        self.events.cache_bytes(Tier::Disk, index.bytes);
    }

    fn evict_to_fit(&self, extra: u64) {
        let mut evicted = 0;
        loop {
            let victim = {
                let mut index = self.index.lock().unwrap();
                if index.bytes + extra <= self.max_bytes {
                    break;
                }
                match index.lru.pop_lru() {
                    Some((hash, len)) => {
                        index.bytes -= len;
                        hash
                    }
                    None => break,
                }
            };
            let (data_path, meta_path) = self.paths(&victim);
            let _ = fs::remove_file(&meta_path);
            let _ = fs::remove_file(&data_path);
            evicted += 1;
        }
        if evicted > 0 {
            self.events.cache_evicted(Tier::Disk, evicted);
        }
    }

    fn write_atomic(&self, hash: &str, dest: &Path, data: &[u8]) -> io::Result<()> {
        let seq = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        let tmp = self
            .dir
            .join(format!(".tmp-{hash}-{}-{seq}", std::process::id()));
        let result = (|| {
            let mut f = fs::File::create(&tmp)?;
            f.write_all(data)?;
            f.sync_all()?;
            fs::rename(&tmp, dest)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

fn read_meta(path: &Path) -> Option<Meta> {
    let raw = fs::read(path).ok()?;
    let meta: Meta = serde_json::from_slice(&raw).ok()?;
    (meta.version == META_VERSION).then_some(meta)
}

fn to_unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

fn from_unix(secs: f64) -> SystemTime {
    UNIX_EPOCH + Duration::try_from_secs_f64(secs).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(data: &[u8]) -> DiskEntry {
        DiskEntry {
            bytes: Bytes::copy_from_slice(data),
            etag: Some("\"e1\"".into()),
            last_modified: None,
            validated_at: SystemTime::now(),
        }
    }

    #[test]
    fn round_trip_evict_and_reopen() {
        use crate::metrics::Metrics;
        let dir = tempfile::tempdir().unwrap();
        let m = Arc::new(Metrics::new());
        let c = DiskCache::open(dir.path().to_path_buf(), 10, m.clone()).unwrap();
        c.store("a", &entry(b"12345")).unwrap();
        c.store("b", &entry(b"12345")).unwrap();
        assert_eq!(c.load("a").unwrap().bytes, Bytes::from_static(b"12345")); // b is LRU now
        c.store("c", &entry(b"123")).unwrap();
        assert!(c.load("b").is_none());
        assert_eq!(c.bytes(), 8);
        drop(c);
        let c = DiskCache::open(dir.path().to_path_buf(), 10, m).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c.load("c").unwrap().etag.as_deref(), Some("\"e1\""));
        // A smaller budget after restart evicts at open.
        drop(c);
        let m = Arc::new(Metrics::new());
        let c = DiskCache::open(dir.path().to_path_buf(), 4, m.clone()).unwrap();
        // Which goes first depends on mtime granularity; the budget holds either way.
        assert!(c.bytes() <= 4 && c.len() <= 1, "{} bytes", c.bytes());
        assert!(m
            .render()
            .contains("tftp_cache_evictions_total{tier=\"disk\"} "));
    }
}
