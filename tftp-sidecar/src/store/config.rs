//! The `[store]` table of the config file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::disk_cache::DiskCache;
use super::events::StoreEvents;
use super::local::LocalRoot;
use super::origin::Origin;
use super::tiered::{Store, StoreParts};
use crate::config::error::{KeyError, Problem};

/// Where files come from and how they are cached. At least one of `root` and `origin_url`.
/// Keys are snake_case like the rest of the file; the kebab-case spelling (`origin-url`),
/// which the chart, the Ansible role and older files write, is accepted too.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Local directory served first; names resolving outside it are refused.
    pub root: Option<PathBuf>,
    /// Match names ignoring ASCII case (phones and guides disagree on case).
    #[serde(alias = "case-insensitive")]
    pub case_insensitive: bool,
    /// HTTP(S) base URL asked for files not under `root`: `<origin_url>/<name>`.
    #[serde(alias = "origin-url")]
    pub origin_url: Option<String>,
    /// Seconds to set up a connection to the origin.
    #[serde(alias = "origin-connect-timeout-secs")]
    pub origin_connect_timeout_secs: f64,
    /// Seconds for a whole origin request, body included.
    #[serde(alias = "origin-timeout-secs")]
    pub origin_timeout_secs: f64,
    /// Origin requests in flight at once; more wait their turn.
    #[serde(alias = "origin-max-concurrent")]
    pub origin_max_concurrent: usize,
    /// Byte budget of the in-memory cache.
    #[serde(alias = "memory-cache-bytes")]
    pub memory_cache_bytes: u64,
    /// Directory of the disk cache (origin files, kept across restarts); none if unset.
    #[serde(alias = "disk-dir")]
    pub disk_dir: Option<PathBuf>,
    /// Byte budget of the disk cache.
    #[serde(alias = "disk-max-bytes")]
    pub disk_max_bytes: u64,
    /// Seconds a cached copy is served before its source is asked again (ETag/Last-Modified).
    #[serde(alias = "fresh-ttl-secs")]
    pub fresh_ttl_secs: f64,
    /// Seconds a "file not found" is remembered; 0 disables.
    #[serde(alias = "negative-ttl-secs")]
    pub negative_ttl_secs: f64,
    /// Seconds a stale copy is served after an origin failure before the origin is retried.
    #[serde(alias = "stale-retry-secs")]
    pub stale_retry_secs: f64,
    /// Larger origin files are refused.
    #[serde(alias = "max-file-bytes")]
    pub max_file_bytes: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            root: None,
            case_insensitive: false,
            origin_url: None,
            origin_connect_timeout_secs: 5.0,
            origin_timeout_secs: 120.0,
            origin_max_concurrent: 64,
            memory_cache_bytes: 256 << 20,
            disk_dir: None,
            disk_max_bytes: 4 << 30,
            fresh_ttl_secs: 60.0,
            negative_ttl_secs: 10.0,
            stale_retry_secs: 10.0,
            max_file_bytes: 1 << 30,
        }
    }
}

/// Seconds, at most 1e9; zero only where `allow_zero`.
fn secs(key: &'static str, v: f64, allow_zero: bool) -> Result<Duration, KeyError> {
    if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) || v > 1e9 {
        let want = if allow_zero { ">= 0" } else { "> 0" };
        return Err(KeyError::new(key, Problem::NotSeconds { want, got: v }));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The checked durations of a [`StoreConfig`].
struct Timings {
    connect: Duration,
    total: Duration,
    fresh_ttl: Duration,
    negative_ttl: Duration,
    stale_retry: Duration,
}

impl StoreConfig {
    /// Check every key without touching the disk cache or the network (`--check-config`
    /// and start-up both call it). Errors name the key at fault (`store.origin_url`).
    pub fn check(&self) -> Result<(), KeyError> {
        self.check_values().map(|_| ())
    }

    fn check_values(&self) -> Result<(Option<LocalRoot>, Option<Origin>, Timings), KeyError> {
        if self.root.is_none() && self.origin_url.is_none() {
            return Err(KeyError::new(
                "store.root",
                Problem::Rule("set `root`, `store.origin_url` or both"),
            ));
        }
        let local = match &self.root {
            Some(root) => {
                let local = LocalRoot::new(root.clone(), self.case_insensitive);
                local
                    .check()
                    .map_err(|e| KeyError::new("store.root", Problem::Invalid(e.to_string())))?;
                Some(local)
            }
            None => None,
        };
        let t = Timings {
            connect: secs(
                "store.origin_connect_timeout_secs",
                self.origin_connect_timeout_secs,
                false,
            )?,
            total: secs("store.origin_timeout_secs", self.origin_timeout_secs, false)?,
            fresh_ttl: secs("store.fresh_ttl_secs", self.fresh_ttl_secs, true)?,
            negative_ttl: secs("store.negative_ttl_secs", self.negative_ttl_secs, true)?,
            stale_retry: secs("store.stale_retry_secs", self.stale_retry_secs, true)?,
        };
        if self.origin_max_concurrent == 0 {
            return Err(KeyError::new("store.origin_max_concurrent", Problem::Zero));
        }
        let origin = match &self.origin_url {
            Some(url) => Some(
                Origin::new(url, t.connect, t.total, self.origin_max_concurrent).map_err(|e| {
                    KeyError::new("store.origin_url", Problem::Invalid(e.to_string()))
                })?,
            ),
            None => None,
        };
        if self.max_file_bytes == 0 {
            return Err(KeyError::new("store.max_file_bytes", Problem::Zero));
        }
        if self.disk_dir.is_some() && origin.is_none() {
            return Err(KeyError::new(
                "store.disk_dir",
                Problem::Rule("only caches origin files; set store.origin_url too"),
            ));
        }
        Ok((local, origin, t))
    }

    /// Check every key and assemble the store, reporting to `events`. Blocks briefly
    /// (opens and indexes the disk cache).
    pub fn build(&self, events: Arc<dyn StoreEvents>) -> Result<Store, KeyError> {
        let (local, origin, t) = self.check_values()?;
        let disk = match &self.disk_dir {
            Some(dir) => Some(
                DiskCache::open(dir.clone(), self.disk_max_bytes, events.clone()).map_err(|e| {
                    KeyError::new(
                        "store.disk_dir",
                        Problem::Invalid(format!("{}: {e}", dir.display())),
                    )
                })?,
            ),
            None => None,
        };
        Ok(Store::new(
            StoreParts {
                local,
                origin,
                memory_bytes: self.memory_cache_bytes,
                disk,
                fresh_ttl: t.fresh_ttl,
                negative_ttl: t.negative_ttl,
                stale_retry: t.stale_retry,
                case_insensitive: self.case_insensitive,
                max_file_bytes: self.max_file_bytes,
            },
            events,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kebab_case_with_defaults() {
        let c: StoreConfig = toml::from_str(
            r#"
            root = "/srv/tftp"
            case-insensitive = true
            origin-url = "http://127.0.0.1:8080/files/"
            negative-ttl-secs = 2.5
            "#,
        )
        .unwrap();
        assert_eq!(c.root, Some(PathBuf::from("/srv/tftp")));
        assert!(c.case_insensitive);
        assert_eq!(c.negative_ttl_secs, 2.5);
        assert_eq!(c.fresh_ttl_secs, StoreConfig::default().fresh_ttl_secs);
    }

    #[test]
    fn snake_case_is_the_same_key() {
        let c: StoreConfig =
            toml::from_str("origin_url = \"http://x/\"\nnegative_ttl_secs = 2.5").unwrap();
        assert_eq!(c.origin_url.as_deref(), Some("http://x/"));
        assert_eq!(c.negative_ttl_secs, 2.5);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let e = toml::from_str::<StoreConfig>("orgin-url = \"x\"").unwrap_err();
        assert!(e.to_string().contains("orgin-url"), "{e}");
        let events = || -> Arc<dyn StoreEvents> { Arc::new(super::super::events::NoStoreEvents) };
        let key = |c: StoreConfig| c.build(events()).err().unwrap().key.0;
        assert_eq!(key(StoreConfig::default()), "store.root");
        let with_url = |u: &str| StoreConfig {
            origin_url: Some(u.to_string()),
            ..Default::default()
        };
        assert_eq!(key(with_url("ftp://x/")), "store.origin_url");
        let slow = StoreConfig {
            origin_timeout_secs: 0.0,
            ..with_url("http://127.0.0.1/")
        };
        assert_eq!(key(slow.clone()), "store.origin_timeout_secs");
        assert_eq!(slow.check().unwrap_err().key.0, "store.origin_timeout_secs");
        assert_eq!(
            key(StoreConfig {
                root: Some("/nonexistent/root".into()),
                ..Default::default()
            }),
            "store.root"
        );
        assert_eq!(
            key(StoreConfig {
                disk_dir: Some("/tmp/x".into()),
                root: Some(std::env::temp_dir()),
                ..Default::default()
            }),
            "store.disk_dir"
        );
        assert!(with_url("http://127.0.0.1:1/").build(events()).is_ok());
    }
}
