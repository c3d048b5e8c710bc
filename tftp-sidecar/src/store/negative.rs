//! Names the sources said do not exist, remembered for a short time. Every phone asks for
//! `CTLSEP<MAC>.tlv`, which is usually absent: without this each boot would cost origin trips.

use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lru::LruCache;

/// Bounded so a flood of random names cannot grow it without limit.
pub const DEFAULT_CAPACITY: usize = 65_536;

pub struct NegativeCache {
    ttl: Duration,
    map: Mutex<LruCache<String, Instant>>,
}

impl NegativeCache {
    /// `ttl` zero disables it.
    pub fn new(ttl: Duration, capacity: usize) -> NegativeCache {
        NegativeCache {
            ttl,
            map: Mutex::new(LruCache::new(NonZeroUsize::new(capacity.max(1)).unwrap())),
        }
    }

    pub fn contains(&self, key: &str) -> bool {
        if self.ttl.is_zero() {
            return false;
        }
        let mut map = self.map.lock().unwrap();
        match map.peek(key) {
            Some(expires) if *expires > Instant::now() => true,
            Some(_) => {
                map.pop(key);
                false
            }
            None => false,
        }
    }

    pub fn insert(&self, key: &str) {
        if !self.ttl.is_zero() {
            let expires = Instant::now() + self.ttl;
            self.map.lock().unwrap().put(key.to_string(), expires);
        }
    }

    pub fn remove(&self, key: &str) {
        self.map.lock().unwrap().pop(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let n = NegativeCache::new(Duration::from_millis(30), 2);
        n.insert("a");
        assert!(n.contains("a"));
        n.insert("b");
        n.insert("c");
        assert!(!n.contains("a"), "oldest dropped at capacity");
        std::thread::sleep(Duration::from_millis(40));
        assert!(!n.contains("b") && !n.contains("c"));
        let off = NegativeCache::new(Duration::ZERO, 2);
        off.insert("a");
        assert!(!off.contains("a"));
    }
}
