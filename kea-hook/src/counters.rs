//! Decision counters and the names of the Kea statistics they mirror.
//!
//! Lock-free (`AtomicU64`, relaxed: they are tallies, nothing is ordered by them) so Kea's
//! packet threads can bump them concurrently. Statistic names are constants, plus per-family
//! names built once at load (`stat_names`), so the per-packet path never formats.

#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde_json::{Map, Value};

use crate::engine::Engine;
use crate::matching::FamilyId;

/// Prefix of every statistic this hook creates.
pub const STAT_PREFIX: &str = "cisco-tftp";
/// Option 150 sent, all families.
pub const STAT_SENT: &str = "cisco-tftp.option-150-sent";
/// Cisco clients skipped because their family is in `disabled-families`.
pub const STAT_SKIPPED_FAMILY_DISABLED: &str = "cisco-tftp.skipped.family-disabled";
/// Cisco clients skipped because no server list applies to them.
pub const STAT_SKIPPED_NO_POLICY: &str = "cisco-tftp.skipped.no-policy";
/// Contained errors (caught panics and C++ exceptions).
pub const STAT_ERRORS: &str = "cisco-tftp.errors";

/// `cisco-tftp.option-150-sent.<family>`; call at load, not per packet.
pub fn stat_sent_family(family: &str) -> String {
    format!("{STAT_SENT}.{family}")
}

/// Every statistic name for an engine (totals first, then one per family, in family-table
/// order), to create them all at load.
pub fn stat_names(engine: &Engine) -> Vec<String> {
    [
        STAT_SENT,
        STAT_SKIPPED_FAMILY_DISABLED,
        STAT_SKIPPED_NO_POLICY,
        STAT_ERRORS,
    ]
    .into_iter()
    .map(str::to_string)
    .chain(engine.families().map(|(_, name)| stat_sent_family(name)))
    .collect()
}

/// One tally per family, indexed by `FamilyId`.
#[derive(Debug)]
struct PerFamily(Box<[AtomicU64]>);

impl PerFamily {
    fn new(n: usize) -> Self {
        PerFamily((0..n).map(|_| AtomicU64::new(0)).collect())
    }

    fn bump(&self, family: FamilyId) {
        // An id from another engine is ignored rather than trusted as an index.
        if let Some(c) = self.0.get(family.index()) {
            c.fetch_add(1, Relaxed);
        }
    }

    fn get(&self, family: FamilyId) -> u64 {
        self.0.get(family.index()).map_or(0, |c| c.load(Relaxed))
    }

    fn non_zero(&self) -> impl Iterator<Item = (FamilyId, u64)> + '_ {
        self.0
            .iter()
            .enumerate()
            .map(|(i, c)| (FamilyId(i as u16), c.load(Relaxed)))
            .filter(|(_, v)| *v > 0)
    }
}

/// Counts of what the hook decided, since load.
#[derive(Debug)]
pub struct Counters {
    sent: AtomicU64,
    sent_by_family: PerFamily,
    skipped_family_disabled: AtomicU64,
    skipped_no_policy: AtomicU64,
    skipped_by_family: PerFamily,
    errors: AtomicU64,
}

impl Counters {
    /// Counters sized for the engine's family table.
    pub fn new(engine: &Engine) -> Counters {
        Self::with_families(engine.families().count())
    }

    pub fn with_families(n: usize) -> Counters {
        Counters {
            sent: AtomicU64::new(0),
            sent_by_family: PerFamily::new(n),
            skipped_family_disabled: AtomicU64::new(0),
            skipped_no_policy: AtomicU64::new(0),
            skipped_by_family: PerFamily::new(n),
            errors: AtomicU64::new(0),
        }
    }

    /// Counts an option 150 sent (STAT_SENT and `stat_sent_family`).
    pub fn sent(&self, family: FamilyId) {
        self.sent.fetch_add(1, Relaxed);
        self.sent_by_family.bump(family);
    }

    /// Counts a Cisco client skipped because its family is disabled.
    pub fn skipped_family_disabled(&self, family: FamilyId) {
        self.skipped_family_disabled.fetch_add(1, Relaxed);
        self.skipped_by_family.bump(family);
    }

    /// Counts a Cisco client skipped because no list applies to it.
    pub fn skipped_no_policy(&self, family: FamilyId) {
        self.skipped_no_policy.fetch_add(1, Relaxed);
        self.skipped_by_family.bump(family);
    }

    /// Counts a contained error (a caught panic or C++ exception).
    pub fn error(&self) {
        self.errors.fetch_add(1, Relaxed);
    }

    pub fn sent_total(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    pub fn sent_for(&self, family: FamilyId) -> u64 {
        self.sent_by_family.get(family)
    }

    pub fn skipped_for(&self, family: FamilyId) -> u64 {
        self.skipped_by_family.get(family)
    }

    pub fn skipped_family_disabled_total(&self) -> u64 {
        self.skipped_family_disabled.load(Relaxed)
    }

    pub fn skipped_no_policy_total(&self) -> u64 {
        self.skipped_no_policy.load(Relaxed)
    }

    pub fn errors_total(&self) -> u64 {
        self.errors.load(Relaxed)
    }

    /// Counters keyed by Kea statistic name (per-family entries only when non-zero), plus
    /// `skipped-by-family` (family name -> Cisco clients skipped, for any reason).
    pub fn snapshot(&self, engine: &Engine) -> Value {
        let mut m = Map::new();
        m.insert(STAT_SENT.into(), self.sent_total().into());
        for (id, v) in self.sent_by_family.non_zero() {
            m.insert(stat_sent_family(engine.family_name(id)), v.into());
        }
        m.insert(
            STAT_SKIPPED_FAMILY_DISABLED.into(),
            self.skipped_family_disabled_total().into(),
        );
        m.insert(
            STAT_SKIPPED_NO_POLICY.into(),
            self.skipped_no_policy_total().into(),
        );
        m.insert(STAT_ERRORS.into(), self.errors_total().into());
        let skipped: Map<String, Value> = self
            .skipped_by_family
            .non_zero()
            .map(|(id, v)| (engine.family_name(id).to_string(), v.into()))
            .collect();
        m.insert("skipped-by-family".into(), Value::Object(skipped));
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn engine() -> Engine {
        Engine::from_json(
            r#"{"servers": ["10.0.0.1"], "patterns": [{"regex": "^Acme", "family": "acme"}]}"#,
        )
        .unwrap()
    }

    #[test]
    fn names() {
        let e = engine();
        assert_eq!(STAT_SENT, "cisco-tftp.option-150-sent");
        assert_eq!(stat_sent_family("79xx"), "cisco-tftp.option-150-sent.79xx");
        assert_eq!(
            STAT_SKIPPED_FAMILY_DISABLED,
            "cisco-tftp.skipped.family-disabled"
        );
        assert_eq!(STAT_SKIPPED_NO_POLICY, "cisco-tftp.skipped.no-policy");
        assert_eq!(STAT_ERRORS, "cisco-tftp.errors");
        let names = stat_names(&e);
        assert_eq!(names.len(), 4 + e.families().count());
        assert!(names.contains(&"cisco-tftp.option-150-sent.88xx".to_string()));
        assert_eq!(names.last().unwrap(), "cisco-tftp.option-150-sent.acme");
        assert!(names.iter().all(|n| n.starts_with(STAT_PREFIX)));
    }

    #[test]
    fn counting_and_snapshot() {
        let e = engine();
        let c = Counters::new(&e);
        let f79 = FamilyId::numeric(79);
        c.sent(f79);
        c.sent(f79);
        c.sent(e.matcher().family_id("acme").unwrap());
        // An unknown id still counts in the total, without a per-family entry.
        c.sent(FamilyId(999));
        c.skipped_no_policy(FamilyId::GENERIC);
        c.skipped_family_disabled(FamilyId::SPA);
        c.skipped_family_disabled(FamilyId::SPA);
        c.error();
        assert_eq!(c.sent_for(f79), 2);
        assert_eq!(c.skipped_for(FamilyId::SPA), 2);
        assert_eq!(
            c.snapshot(&e),
            json!({
                "cisco-tftp.option-150-sent": 4,
                "cisco-tftp.option-150-sent.79xx": 2,
                "cisco-tftp.option-150-sent.acme": 1,
                "cisco-tftp.skipped.family-disabled": 2,
                "cisco-tftp.skipped.no-policy": 1,
                "cisco-tftp.errors": 1,
                "skipped-by-family": {"spa": 2, "generic": 1}
            })
        );
    }

    #[test]
    fn concurrent_bumps_are_not_lost() {
        let c = Arc::new(Counters::with_families(104));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = Arc::clone(&c);
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        c.sent(FamilyId::numeric(88));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.sent_total(), 40_000);
        assert_eq!(c.sent_for(FamilyId::numeric(88)), 40_000);
    }
}
