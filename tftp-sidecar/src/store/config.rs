//! The `[store]` table of the config file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::disk_cache::DiskCache;
use super::local::LocalRoot;
use super::origin::Origin;
use super::tiered::{Store, StoreParts};
use crate::metrics::Metrics;

/// Where files come from and how they are cached. At least one of `root` and `origin-url`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case", default)]
pub struct StoreConfig {
    /// Local directory served first; names resolving outside it are refused.
    pub root: Option<PathBuf>,
    /// Match names ignoring ASCII case (phones and guides disagree on case).
    pub case_insensitive: bool,
    /// HTTP(S) base URL asked for files not under `root`: `<origin-url>/<name>`.
    pub origin_url: Option<String>,
    /// Seconds to set up a connection to the origin.
    pub origin_connect_timeout_secs: f64,
    /// Seconds for a whole origin request, body included.
    pub origin_timeout_secs: f64,
    /// Origin requests in flight at once; more wait their turn.
    pub origin_max_concurrent: usize,
    /// Byte budget of the in-memory cache.
    pub memory_cache_bytes: u64,
    /// Directory of the disk cache (origin files, kept across restarts); none if unset.
    pub disk_dir: Option<PathBuf>,
    /// Byte budget of the disk cache.
    pub disk_max_bytes: u64,
    /// Seconds a cached copy is served before its source is asked again (ETag/Last-Modified).
    pub fresh_ttl_secs: f64,
    /// Seconds a "file not found" is remembered; 0 disables.
    pub negative_ttl_secs: f64,
    /// Seconds a stale copy is served after an origin failure before the origin is retried.
    pub stale_retry_secs: f64,
    /// Larger origin files are refused.
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

fn secs(key: &str, v: f64, allow_zero: bool) -> Result<Duration, String> {
    if !v.is_finite() || v < 0.0 || (!allow_zero && v == 0.0) || v > 1e9 {
        let want = if allow_zero { ">= 0" } else { "> 0" };
        return Err(format!(
            "store.{key}: must be a number of seconds {want}, got {v}"
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

impl StoreConfig {
    /// Check every key and assemble the store. Errors name the key at fault
    /// (`store.origin-url: ...`). Blocks briefly (indexes the disk cache).
    pub fn build(&self, metrics: Arc<Metrics>) -> Result<Store, String> {
        if self.root.is_none() && self.origin_url.is_none() {
            return Err("store: set `root`, `origin-url` or both".to_string());
        }
        let local = match &self.root {
            Some(root) => {
                let local = LocalRoot::new(root.clone(), self.case_insensitive);
                local.check().map_err(|e| format!("store.root: {e}"))?;
                Some(local)
            }
            None => None,
        };
        let connect = secs(
            "origin-connect-timeout-secs",
            self.origin_connect_timeout_secs,
            false,
        )?;
        let total = secs("origin-timeout-secs", self.origin_timeout_secs, false)?;
        let fresh_ttl = secs("fresh-ttl-secs", self.fresh_ttl_secs, true)?;
        let negative_ttl = secs("negative-ttl-secs", self.negative_ttl_secs, true)?;
        let stale_retry = secs("stale-retry-secs", self.stale_retry_secs, true)?;
        if self.origin_max_concurrent == 0 {
            return Err("store.origin-max-concurrent: must be > 0".to_string());
        }
        let origin = match &self.origin_url {
            Some(url) => Some(
                Origin::new(url, connect, total, self.origin_max_concurrent.max(1))
                    .map_err(|e| format!("store.origin-url: {e}"))?,
            ),
            None => None,
        };
        if self.max_file_bytes == 0 {
            return Err("store.max-file-bytes: must be > 0".to_string());
        }
        let disk = match &self.disk_dir {
            Some(_) if origin.is_none() => {
                return Err(
                    "store.disk-dir: only caches origin files; set store.origin-url too"
                        .to_string(),
                )
            }
            Some(dir) => Some(
                DiskCache::open(dir.clone(), self.disk_max_bytes, metrics.clone())
                    .map_err(|e| format!("store.disk-dir: {}: {e}", dir.display()))?,
            ),
            None => None,
        };
        Ok(Store::new(
            StoreParts {
                local,
                origin,
                memory_bytes: self.memory_cache_bytes,
                disk,
                fresh_ttl,
                negative_ttl,
                stale_retry,
                case_insensitive: self.case_insensitive,
                max_file_bytes: self.max_file_bytes,
            },
            metrics,
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
    fn unknown_keys_and_bad_values_are_named() {
        let e = toml::from_str::<StoreConfig>("orgin-url = \"x\"").unwrap_err();
        assert!(e.to_string().contains("orgin-url"), "{e}");
        let m = Arc::new(Metrics::new());
        let err = |c: StoreConfig| c.build(m.clone()).err().unwrap();
        assert!(err(StoreConfig::default()).contains("root"));
        let with_url = |u: &str| StoreConfig {
            origin_url: Some(u.to_string()),
            ..Default::default()
        };
        assert!(err(with_url("ftp://x/")).starts_with("store.origin-url:"));
        assert!(err(StoreConfig {
            origin_timeout_secs: 0.0,
            ..with_url("http://127.0.0.1/")
        })
        .starts_with("store.origin-timeout-secs:"));
        assert!(err(StoreConfig {
            root: Some("/nonexistent/root".into()),
            ..Default::default()
        })
        .starts_with("store.root:"));
        assert!(with_url("http://127.0.0.1:1/").build(m.clone()).is_ok());
    }
}
