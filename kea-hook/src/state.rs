//! The loaded hook's state, shared by every Kea thread.
//!
//! `load()` builds a [`HookState`] and publishes it; callouts read it under a read lock (no
//! contention in the packet path: writers are only `load`/`unload`). `unload()` drops it, so
//! nothing of ours outlives the library: no threads, no thread-locals with destructors.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::counters::Counters;
use crate::engine::Engine;
use crate::kea;

pub struct HookState {
    pub engine: Engine,
    pub counters: Counters,
    pub stats: Stats,
    /// One prebuilt option 150 (and 66) per server list, indexed by `Answer::list_id`.
    pub options: Vec<ListOptions>,
    /// Only then does pkt4_send look up the subnet noted by subnet4_select.
    pub wants_subnet_id: bool,
    /// Only then does pkt4_send read giaddr, yiaddr and ciaddr (sites by relay or prefix).
    pub wants_addresses: bool,
}

pub struct ListOptions {
    pub option150: kea::SharedOption,
    pub option66: Option<kea::SharedOption>,
}

/// The hook's Kea statistics, names made once at load (not per packet).
pub struct Stats {
    /// Indexed like the engine's family table.
    pub sent_by_family: Vec<kea::Stat>,
    pub skipped_family_disabled: kea::Stat,
    pub skipped_no_policy: kea::Stat,
}

pub const STAT_ERRORS: &std::ffi::CStr = c"cisco-tftp.errors";

static STATE: RwLock<Option<Arc<HookState>>> = RwLock::new(None);

/// Panics and C++ exceptions contained since the library was loaded (survives a bad config).
static CONTAINED_ERRORS: AtomicU64 = AtomicU64::new(0);

pub fn publish(state: Option<Arc<HookState>>) {
    // A poisoned lock only means a panic happened while it was held; the data is a plain
    // Option we overwrite, so take it anyway.
    *STATE.write().unwrap_or_else(|p| p.into_inner()) = state;
}

pub fn current() -> Option<Arc<HookState>> {
    STATE.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Runs `f` with the current state, without cloning the Arc (the packet path).
pub fn with_current<R>(f: impl FnOnce(&HookState) -> R) -> Option<R> {
    let guard = STATE.read().unwrap_or_else(|p| p.into_inner());
    guard.as_deref().map(f)
}

pub fn count_contained_error() {
    CONTAINED_ERRORS.fetch_add(1, Ordering::Relaxed);
    kea::stat_add_named(STAT_ERRORS, 1);
}

pub fn contained_errors() -> u64 {
    CONTAINED_ERRORS.load(Ordering::Relaxed)
}
