//! Decision counters and the names of the Kea statistics they mirror.
//!
//! Lock-free (`AtomicU64`, relaxed: they are tallies, nothing is ordered by them) so Kea's
//! packet threads can bump them concurrently. Statistic names are built once at load so the
//! per-packet path hands out `&str`s and never formats.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use serde_json::{Map, Value};

use crate::matching::FamilyId;

/// Prefix of every statistic this hook creates.
pub const STAT_PREFIX: &str = "cisco-tftp";

/// Kea statistic names, built once.
#[derive(Clone, Debug)]
pub struct StatNames {
    sent: String,
    sent_by_family: Vec<String>,
    skipped_family_disabled: String,
    skipped_no_policy: String,
    errors: String,
}

impl StatNames {
    /// `families` as from `Matcher::families()`: ids are dense indexes.
    pub fn new<'f>(families: impl IntoIterator<Item = (FamilyId, &'f str)>) -> StatNames {
        let mut sent_by_family: Vec<String> = Vec::new();
        for (id, name) in families {
            if sent_by_family.len() <= id.index() {
                sent_by_family.resize(id.index() + 1, String::new());
            }
            sent_by_family[id.index()] = format!("{STAT_PREFIX}.option-150-sent.{name}");
        }
        StatNames {
            sent: format!("{STAT_PREFIX}.option-150-sent"),
            sent_by_family,
            skipped_family_disabled: format!("{STAT_PREFIX}.skipped.family-disabled"),
            skipped_no_policy: format!("{STAT_PREFIX}.skipped.no-policy"),
            errors: format!("{STAT_PREFIX}.errors"),
        }
    }

    /// `cisco-tftp.option-150-sent`
    pub fn sent(&self) -> &str {
        &self.sent
    }

    /// `cisco-tftp.option-150-sent.<family>`; `None` for an id not in the table.
    pub fn sent_family(&self, family: FamilyId) -> Option<&str> {
        self.sent_by_family
            .get(family.index())
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// `cisco-tftp.skipped.family-disabled`
    pub fn skipped_family_disabled(&self) -> &str {
        &self.skipped_family_disabled
    }

    /// `cisco-tftp.skipped.no-policy`
    pub fn skipped_no_policy(&self) -> &str {
        &self.skipped_no_policy
    }

    /// `cisco-tftp.errors`
    pub fn errors(&self) -> &str {
        &self.errors
    }

    /// Every name, e.g. to create the statistics at load (totals first, then per family).
    pub fn all(&self) -> impl Iterator<Item = &str> + '_ {
        [
            self.sent.as_str(),
            &self.skipped_family_disabled,
            &self.skipped_no_policy,
            &self.errors,
        ]
        .into_iter()
        .chain(
            self.sent_by_family
                .iter()
                .map(String::as_str)
                .filter(|s| !s.is_empty()),
        )
    }
}

/// Counts of what the hook decided, since load.
#[derive(Debug)]
pub struct Counters {
    names: StatNames,
    sent: AtomicU64,
    sent_by_family: Box<[AtomicU64]>,
    skipped_family_disabled: AtomicU64,
    skipped_no_policy: AtomicU64,
    errors: AtomicU64,
}

impl Counters {
    pub fn new<'f>(families: impl IntoIterator<Item = (FamilyId, &'f str)>) -> Counters {
        let names = StatNames::new(families);
        let sent_by_family = (0..names.sent_by_family.len())
            .map(|_| AtomicU64::new(0))
            .collect();
        Counters {
            names,
            sent: AtomicU64::new(0),
            sent_by_family,
            skipped_family_disabled: AtomicU64::new(0),
            skipped_no_policy: AtomicU64::new(0),
            errors: AtomicU64::new(0),
        }
    }

    pub fn names(&self) -> &StatNames {
        &self.names
    }

    /// Counts an option 150 sent; returns the statistic names to bump by 1 in Kea.
    pub fn sent(&self, family: FamilyId) -> [Option<&str>; 2] {
        self.sent.fetch_add(1, Relaxed);
        if let Some(c) = self.sent_by_family.get(family.index()) {
            c.fetch_add(1, Relaxed);
        }
        [Some(self.names.sent()), self.names.sent_family(family)]
    }

    /// Counts a Cisco client skipped because its family is disabled.
    pub fn skipped_family_disabled(&self) -> &str {
        self.skipped_family_disabled.fetch_add(1, Relaxed);
        self.names.skipped_family_disabled()
    }

    /// Counts a Cisco client skipped because no list applies to it.
    pub fn skipped_no_policy(&self) -> &str {
        self.skipped_no_policy.fetch_add(1, Relaxed);
        self.names.skipped_no_policy()
    }

    /// Counts a contained error (a caught panic or C++ exception).
    pub fn error(&self) -> &str {
        self.errors.fetch_add(1, Relaxed);
        self.names.errors()
    }

    pub fn sent_total(&self) -> u64 {
        self.sent.load(Relaxed)
    }

    pub fn sent_for(&self, family: FamilyId) -> u64 {
        self.sent_by_family
            .get(family.index())
            .map_or(0, |c| c.load(Relaxed))
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

    /// Counters keyed by statistic name; per-family entries only when non-zero.
    pub fn snapshot(&self) -> Value {
        let mut m = Map::new();
        let n = &self.names;
        m.insert(n.sent().into(), self.sent_total().into());
        for (i, c) in self.sent_by_family.iter().enumerate() {
            let v = c.load(Relaxed);
            if v > 0 {
                if let Some(name) = n.sent_family(FamilyId(i as u16)) {
                    m.insert(name.into(), v.into());
                }
            }
        }
        m.insert(
            n.skipped_family_disabled().into(),
            self.skipped_family_disabled_total().into(),
        );
        m.insert(
            n.skipped_no_policy().into(),
            self.skipped_no_policy_total().into(),
        );
        m.insert(n.errors().into(), self.errors_total().into());
        Value::Object(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::Matcher;
    use serde_json::json;
    use std::sync::Arc;

    #[test]
    fn names() {
        let m = Matcher::builtin();
        let c = Counters::new(m.families());
        let n = c.names();
        assert_eq!(n.sent(), "cisco-tftp.option-150-sent");
        assert_eq!(
            n.sent_family(FamilyId::numeric(79)),
            Some("cisco-tftp.option-150-sent.79xx")
        );
        assert_eq!(
            n.sent_family(FamilyId::SPA),
            Some("cisco-tftp.option-150-sent.spa")
        );
        assert_eq!(n.sent_family(FamilyId(500)), None);
        assert_eq!(
            n.skipped_family_disabled(),
            "cisco-tftp.skipped.family-disabled"
        );
        assert_eq!(n.skipped_no_policy(), "cisco-tftp.skipped.no-policy");
        assert_eq!(n.errors(), "cisco-tftp.errors");
        assert_eq!(n.all().count(), 4 + m.family_count());
    }

    #[test]
    fn counting_and_snapshot() {
        let c = Counters::new(Matcher::builtin().families());
        let f79 = FamilyId::numeric(79);
        assert_eq!(
            c.sent(f79),
            [
                Some("cisco-tftp.option-150-sent"),
                Some("cisco-tftp.option-150-sent.79xx")
            ]
        );
        c.sent(f79);
        c.sent(FamilyId::SPA);
        // An unknown id still counts in the total, without a per-family name.
        assert_eq!(
            c.sent(FamilyId(999)),
            [Some("cisco-tftp.option-150-sent"), None]
        );
        c.skipped_no_policy();
        c.skipped_family_disabled();
        c.skipped_family_disabled();
        assert_eq!(c.error(), "cisco-tftp.errors");
        assert_eq!(c.sent_for(f79), 2);
        assert_eq!(
            c.snapshot(),
            json!({
                "cisco-tftp.option-150-sent": 4,
                "cisco-tftp.option-150-sent.79xx": 2,
                "cisco-tftp.option-150-sent.spa": 1,
                "cisco-tftp.skipped.family-disabled": 2,
                "cisco-tftp.skipped.no-policy": 1,
                "cisco-tftp.errors": 1
            })
        );
    }

    #[test]
    fn concurrent_bumps_are_not_lost() {
        let c = Arc::new(Counters::new(Matcher::builtin().families()));
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
