//! The store part: the `[store]` table with the top-level `root`/`case_insensitive` and the
//! `--origin-url`/`--disk-dir`/`--memory-cache-bytes` flags merged in, then checked.

use super::error::{KeyError, Problem};
use super::FileConfig;
use crate::cli::Cli;
use crate::store::StoreConfig;

pub fn resolve(cli: &Cli, f: &FileConfig) -> Result<StoreConfig, KeyError> {
    let mut store = f.store.clone().unwrap_or_default();
    if let Some(url) = cli.origin_url.clone() {
        store.origin_url = Some(url).filter(|u| !u.is_empty());
    }
    if let Some(dir) = cli.disk_dir.clone() {
        store.disk_dir = Some(dir);
    }
    if let Some(b) = cli.memory_cache_bytes {
        store.memory_cache_bytes = b;
    }
    if let Some(root) = cli.root.clone().or(f.root.clone()) {
        store.root = Some(root);
    }
    if let Some(ci) = cli.case_insensitive.or(f.case_insensitive) {
        store.case_insensitive = ci;
    }
    match &store.root {
        Some(root) if !root.is_dir() => {
            return Err(KeyError::new(
                "root",
                Problem::Invalid(format!("{} is not a readable directory", root.display())),
            ))
        }
        None if store.origin_url.is_none() => {
            return Err(KeyError::new(
                "root",
                Problem::Rule(
                    "required: the directory to serve (or set store.origin_url / --origin-url)",
                ),
            ))
        }
        _ => {}
    }
    store.check()?;
    Ok(store)
}
