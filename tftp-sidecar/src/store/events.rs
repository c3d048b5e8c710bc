//! What the store reports as it serves: cache hits and misses, evictions, origin requests.
//! Metrics (and tests) implement [`StoreEvents`]; the store never depends on how they are
//! counted.

use std::time::Duration;

/// A cache tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tier {
    Memory,
    Disk,
}

impl Tier {
    pub const ALL: [Tier; 2] = [Tier::Memory, Tier::Disk];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Memory => "memory",
            Tier::Disk => "disk",
        }
    }
}

/// How one request to the HTTP origin ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OriginOutcome {
    /// 2xx with a body.
    Ok,
    /// 304: the cached copy is still good.
    NotModified,
    /// 404 or 410.
    NotFound,
    /// Another status, a connection or body error.
    Error,
    Timeout,
}

impl OriginOutcome {
    pub const ALL: [OriginOutcome; 5] = [
        OriginOutcome::Ok,
        OriginOutcome::NotModified,
        OriginOutcome::NotFound,
        OriginOutcome::Error,
        OriginOutcome::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OriginOutcome::Ok => "ok",
            OriginOutcome::NotModified => "not_modified",
            OriginOutcome::NotFound => "not_found",
            OriginOutcome::Error => "error",
            OriginOutcome::Timeout => "timeout",
        }
    }
}

pub trait StoreEvents: Send + Sync + 'static {
    /// An open served from a cache tier without asking the origin.
    fn cache_hit(&self, _tier: Tier) {}
    /// An open that had to load from the local root or the origin.
    fn cache_miss(&self) {}
    /// An open that joined a load already in flight.
    fn coalesced_wait(&self) {}
    /// `n` entries dropped to stay within a tier's byte budget.
    fn cache_evicted(&self, _tier: Tier, _n: u64) {}
    /// The bytes a tier holds now.
    fn cache_bytes(&self, _tier: Tier, _bytes: u64) {}
    /// A disk cache entry failed its checksum and was deleted.
    fn cache_corrupt(&self) {}
    /// An expired copy served because the origin failed.
    fn stale_served(&self) {}
    /// A "not found" answered from the negative cache.
    fn negative_hit(&self) {}
    /// One origin request, with the time to its response headers.
    fn origin_request(&self, _outcome: OriginOutcome, _latency: Duration) {}
}

/// Counts nothing.
pub struct NoStoreEvents;
impl StoreEvents for NoStoreEvents {}
