//! The firmware check in the background: once at start, then again whenever the served root
//! changes. Change is seen by polling a fingerprint of the root (every file's path, size and
//! mtime: one `stat` per file, at most [`MAX_ENTRIES`] entries), and the check runs only once
//! the fingerprint has held still for one poll, so a copy in progress does not trigger a
//! check per poll. Both run on the blocking pool, never on the runtime's threads.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::firmware_check::{check_root, CheckOptions, Report};
use crate::phones::rfc3339;

use super::model::{CheckFacts, LoadImages};

/// Files and directories looked at per poll, at most (a fingerprint's bounded cost).
pub const MAX_ENTRIES: usize = 200_000;

/// The latest check of the served root, shared with the page.
pub struct RootCheck {
    root: Option<PathBuf>,
    facts: RwLock<Arc<CheckFacts>>,
}

impl RootCheck {
    /// No root to check (origin only, or a test): the page says so.
    pub fn none() -> Arc<RootCheck> {
        Arc::new(RootCheck {
            root: None,
            facts: RwLock::new(Arc::new(CheckFacts {
                status: "not run: the sidecar serves no local root (origin only)".into(),
                ..CheckFacts::default()
            })),
        })
    }

    /// Checks `root` now and whenever it changes (polled every `poll`), on the current tokio
    /// runtime, until the process ends.
    pub fn spawn(root: PathBuf, case_insensitive: bool, poll: Duration) -> Arc<RootCheck> {
        let check = Arc::new(RootCheck {
            root: Some(root.clone()),
            facts: RwLock::new(Arc::new(CheckFacts {
                status: format!("checking {} ...", root.display()),
                ..CheckFacts::default()
            })),
        });
        let me = check.clone();
        tokio::spawn(async move {
            let opts = CheckOptions {
                models: Vec::new(),
                case_insensitive,
            };
            let mut checked: Option<u64> = None;
            let mut previous: Option<u64> = None;
            loop {
                let r = root.clone();
                let fp = tokio::task::spawn_blocking(move || fingerprint(&r))
                    .await
                    .ok()
                    .flatten();
                // First poll: check at once. Later: once a change has held still one poll.
                let due = checked.is_none() || (fp != checked && fp == previous);
                if due {
                    let (r, o) = (root.clone(), opts.clone());
                    let facts = tokio::task::spawn_blocking(move || run_check(&r, &o))
                        .await
                        .unwrap_or_else(|e| CheckFacts {
                            status: format!("check failed: {e}"),
                            ..CheckFacts::default()
                        });
                    tracing::info!(
                        root = %root.display(),
                        problems = facts.problems.len(),
                        "firmware check of the served root (for the operator's page)"
                    );
                    *me.facts.write().unwrap() = Arc::new(facts);
                    checked = Some(fp.unwrap_or_default());
                }
                previous = fp;
                tokio::time::sleep(poll).await;
            }
        });
        check
    }

    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// The latest result (cheap: shared, not copied).
    pub fn facts(&self) -> Arc<CheckFacts> {
        self.facts.read().unwrap().clone()
    }
}

/// The check of `root` as the page needs it.
pub fn run_check(root: &Path, opts: &CheckOptions) -> CheckFacts {
    match check_root(root, opts) {
        Ok(report) => facts_of(&report, SystemTime::now()),
        Err(e) => CheckFacts {
            status: format!("cannot read the root {}: {e}", root.display()),
            ..CheckFacts::default()
        },
    }
}

/// A check report, reduced to the page's facts.
pub fn facts_of(report: &Report, at: SystemTime) -> CheckFacts {
    let mut loads = LoadImages::new();
    for l in &report.loads {
        let base = l
            .file
            .rsplit('/')
            .next()
            .unwrap_or(&l.file)
            .to_ascii_lowercase();
        let images = l
            .images
            .iter()
            // Only images: a `.loads` file naming another `.loads` is not a download to count.
            .filter(|i| !i.name.to_ascii_lowercase().ends_with(".loads"))
            .map(|i| (i.name.clone(), i.size))
            .collect();
        loads.insert(base, images);
    }
    CheckFacts {
        status: format!(
            "{} checked at {}: {} files, {} problem(s), {} warning(s)",
            report.root.display(),
            rfc3339(at),
            report.files,
            report.problems.len(),
            report.warnings.len()
        ),
        problems: report
            .problems
            .iter()
            .map(|p| (p.to_string(), p.missing_file().map(str::to_string)))
            .collect(),
        warnings: report.warnings.iter().map(|w| w.to_string()).collect(),
        loads,
    }
}

/// A hash of every entry's path, size and mtime under `root` (None: unreadable).
pub fn fingerprint(root: &Path) -> Option<u64> {
    let mut h = DefaultHasher::new();
    let mut stack = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir).ok()?.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen > MAX_ENTRIES {
                return Some(h.finish());
            }
            let Ok(meta) = std::fs::metadata(e.path()) else {
                continue;
            };
            e.path().hash(&mut h);
            meta.len().hash(&mut h);
            meta.modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .hash(&mut h);
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    Some(h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_changes_with_a_new_file_or_a_new_size() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("a.sbn"), b"12").unwrap();
        let a = fingerprint(d.path()).unwrap();
        assert_eq!(fingerprint(d.path()), Some(a));
        std::fs::write(d.path().join("a.sbn"), b"123").unwrap();
        let b = fingerprint(d.path()).unwrap();
        assert_ne!(a, b);
        std::fs::create_dir(d.path().join("sub")).unwrap();
        std::fs::write(d.path().join("sub/b.sbn"), b"1").unwrap();
        assert_ne!(fingerprint(d.path()), Some(b));
        assert_eq!(fingerprint(&d.path().join("nope")), None);
    }

    #[test]
    fn facts_carry_problems_with_their_file_and_each_loads_images() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("SIP41.x.loads"),
            b"image apps41.x.sbn 10\nimage dsp41.x.sbn 5\n",
        )
        .unwrap();
        std::fs::write(d.path().join("dsp41.x.sbn"), b"12345").unwrap();
        let f = run_check(d.path(), &CheckOptions::default());
        assert!(f.status.contains("1 problem(s)"), "{}", f.status);
        assert_eq!(f.problems[0].1.as_deref(), Some("apps41.x.sbn"));
        let images = &f.loads["sip41.x.loads"];
        assert_eq!(
            images,
            &vec![
                ("apps41.x.sbn".to_string(), None),
                ("dsp41.x.sbn".to_string(), Some(5))
            ]
        );
    }

    #[tokio::test]
    async fn rechecks_after_the_root_changes_and_holds_still() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("SIP41.x.loads"), b"image apps41.x.sbn 10\n").unwrap();
        let c = RootCheck::spawn(d.path().to_path_buf(), false, Duration::from_millis(50));
        let wait = |want: usize| {
            let c = c.clone();
            async move {
                for _ in 0..100 {
                    if c.facts().problems.len() == want && c.facts().status.contains("checked") {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                false
            }
        };
        assert!(wait(1).await, "{:?}", c.facts());
        std::fs::write(d.path().join("apps41.x.sbn"), b"0123456789").unwrap();
        assert!(wait(0).await, "{:?}", c.facts());
    }
}
