//! The page's view model: a pure function from the phone table's records, the firmware
//! check's result and a query (filter, state, sort, page) to what the templates show. No I/O,
//! no clock of its own (`now` is an argument), so every rule here is unit-tested.
//!
//! States (the page prints [`DEFINITIONS`]):
//! - **stuck**: its last config or firmware transfer failed and it asked for a file within
//!   `stuck_after`; or it is booting and made no progress (no transfer completed, no firmware
//!   bytes moved) for `stuck_after`.
//! - **failed**: its last config or firmware transfer failed and it has asked for nothing
//!   since, for `stuck_after` (it gave up, or lost power).
//! - **up**: it fetched its config, and every image of the load it asked for (when the check
//!   knows the load) completely.
//! - **booting**: everything else: it is fetching files.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use crate::file_class::FileClass;
use crate::phones::{rfc3339, PhoneRecord, Transfer};
use crate::server::events::Outcome;

/// Rows per page: the page's size stays bounded however many phones are tracked.
pub const PER_PAGE: usize = 100;
/// Check problems and warnings shown, at most (those with phones stuck on them first); the
/// page says how many more `tftp-sidecar check` lists.
pub const MAX_PROBLEMS: usize = 50;
pub const MAX_WARNINGS: usize = 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Stuck,
    Failed,
    Booting,
    Up,
}

impl State {
    pub const ALL: [State; 4] = [State::Stuck, State::Failed, State::Booting, State::Up];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Stuck => "stuck",
            State::Failed => "failed",
            State::Booting => "booting",
            State::Up => "up",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The definitions the page states, with `stuck_after` filled in.
pub fn definitions(stuck_after: Duration) -> Vec<(State, String)> {
    let n = human_duration(stuck_after);
    vec![
        (
            State::Stuck,
            format!(
                "its last config or firmware transfer failed (reason shown) and it asked for a file in the last {n}; or it is booting and has made no progress (no transfer completed, no firmware bytes moved) for {n}"
            ),
        ),
        (
            State::Failed,
            format!("its last config or firmware transfer failed and it has asked for nothing since, for {n}"),
        ),
        (
            State::Booting,
            "it is fetching files (trust lists, config, load, images)".to_string(),
        ),
        (
            State::Up,
            "it fetched its config and every image of the load it asked for".to_string(),
        ),
    ]
}

/// Images of each `.loads` file in the served root, from the firmware check, keyed by the
/// load file's base name in lower case.
/// An image's size is None when it is not in the root.
pub type LoadImages = HashMap<String, Vec<(String, Option<u64>)>>;

/// What the firmware check found, as the page needs it.
#[derive(Clone, Debug, Default)]
pub struct CheckFacts {
    /// One line on the check itself (when, which root, how many files; or why not).
    pub status: String,
    /// Problem text and the file it names as missing, empty or unreadable.
    pub problems: Vec<(String, Option<String>)>,
    pub warnings: Vec<String>,
    pub loads: LoadImages,
}

/// The request's choices, already parsed; unknown values fall back to the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub q: String,
    pub state: Option<State>,
    pub sort: SortKey,
    pub desc: bool,
    /// 1-based.
    pub page: usize,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Stuck and failed first, then booting, then up; most recently seen first within.
    #[default]
    State,
    Mac,
    Model,
    Address,
    Protocol,
    File,
    Progress,
    Seen,
}

impl SortKey {
    pub const ALL: [SortKey; 8] = [
        SortKey::State,
        SortKey::Mac,
        SortKey::Model,
        SortKey::Address,
        SortKey::Protocol,
        SortKey::File,
        SortKey::Progress,
        SortKey::Seen,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SortKey::State => "state",
            SortKey::Mac => "mac",
            SortKey::Model => "model",
            SortKey::Address => "address",
            SortKey::Protocol => "protocol",
            SortKey::File => "file",
            SortKey::Progress => "progress",
            SortKey::Seen => "seen",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Firmware progress: bytes fetched of the load's total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    /// The `.loads` file whose images are counted; None when the load is unknown.
    pub load: Option<String>,
    pub fetched: u64,
    /// None when the check does not know the load's images (no local root, or not in it).
    pub total: Option<u64>,
    /// Images the load names that are not in the root (their size is unknown).
    pub missing_images: usize,
}

impl Progress {
    /// 0..=100, when the total is known.
    pub fn percent(&self) -> Option<u64> {
        // A load of 0 bytes is all there.
        self.total
            .map(|t| (self.fetched.min(t) * 100).checked_div(t).unwrap_or(100))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub mac: String,
    pub model: String,
    pub address: String,
    pub protocol: &'static str,
    pub fell_back: bool,
    /// The file it is on: the failed one when stuck or failed, else the last it asked for.
    pub file: String,
    pub state: State,
    pub reason: Option<String>,
    /// The firmware check lists `file` as missing, empty or unreadable.
    pub file_in_problems: bool,
    pub progress: Option<Progress>,
    pub last_seen: String,
    pub seen_ago: String,
    last_seen_at: SystemTime,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub stuck: usize,
    pub failed: usize,
    pub booting: usize,
    pub up: usize,
}

impl Counts {
    pub fn of(&self, s: State) -> usize {
        match s {
            State::Stuck => self.stuck,
            State::Failed => self.failed,
            State::Booting => self.booting,
            State::Up => self.up,
        }
    }

    fn add(&mut self, s: State) {
        self.total += 1;
        match s {
            State::Stuck => self.stuck += 1,
            State::Failed => self.failed += 1,
            State::Booting => self.booting += 1,
            State::Up => self.up += 1,
        }
    }
}

/// A problem of the check, with the phones stuck or failed on the file it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProblemRow {
    pub text: String,
    pub file: Option<String>,
    pub phones_on_it: usize,
}

#[derive(Clone, Debug)]
pub struct PageView {
    pub counts: Counts,
    /// Phones that pass the filter (all pages).
    pub matching: usize,
    pub rows: Vec<Row>,
    pub query: Query,
    pub page: usize,
    pub pages: usize,
    pub capacity: usize,
    pub check_status: String,
    /// At most [`MAX_PROBLEMS`], most phones on them first.
    pub problems: Vec<ProblemRow>,
    pub problems_total: usize,
    /// At most [`MAX_WARNINGS`].
    pub warnings: Vec<String>,
    pub warnings_total: usize,
    pub definitions: Vec<(State, String)>,
    pub generated_at: String,
}

/// The page for `records` (the phone table, any order) under `query`.
pub fn build(
    records: &[PhoneRecord],
    check: &CheckFacts,
    query: &Query,
    now: SystemTime,
    stuck_after: Duration,
    capacity: usize,
) -> PageView {
    let missing: HashMap<String, usize> = check
        .problems
        .iter()
        .filter_map(|(_, f)| f.as_deref())
        .map(|f| (base_lower(f), 0))
        .collect();
    let mut missing = missing;
    let mut counts = Counts::default();
    let mut rows: Vec<Row> = Vec::new();
    let needle = query.q.trim().to_lowercase();
    for r in records {
        let row = row_of(r, check, now, stuck_after);
        counts.add(row.state);
        if matches!(row.state, State::Stuck | State::Failed) {
            if let Some(n) = missing.get_mut(&base_lower(&row.file)) {
                *n += 1;
            }
        }
        if query.state.is_some_and(|s| s != row.state) || !matches_filter(&row, &needle) {
            continue;
        }
        rows.push(row);
    }
    let file_in_problems = |f: &str| missing.contains_key(&base_lower(f));
    for row in &mut rows {
        row.file_in_problems =
            matches!(row.state, State::Stuck | State::Failed) && file_in_problems(&row.file);
    }
    sort_rows(&mut rows, query.sort, query.desc);
    let matching = rows.len();
    let pages = matching.div_ceil(PER_PAGE).max(1);
    let page = query.page.clamp(1, pages);
    let rows: Vec<Row> = rows
        .into_iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .collect();
    let mut problems: Vec<ProblemRow> = check
        .problems
        .iter()
        .map(|(text, file)| ProblemRow {
            text: text.clone(),
            file: file.clone(),
            phones_on_it: file
                .as_deref()
                .and_then(|f| missing.get(&base_lower(f)).copied())
                .unwrap_or(0),
        })
        .collect();
    // Stable: the check's order among problems with as many phones on them.
    problems.sort_by_key(|p| std::cmp::Reverse(p.phones_on_it));
    problems.truncate(MAX_PROBLEMS);
    PageView {
        counts,
        matching,
        rows,
        query: query.clone(),
        page,
        pages,
        capacity,
        check_status: check.status.clone(),
        problems,
        problems_total: check.problems.len(),
        warnings: check.warnings.iter().take(MAX_WARNINGS).cloned().collect(),
        warnings_total: check.warnings.len(),
        definitions: definitions(stuck_after),
        generated_at: rfc3339(now),
    }
}

/// One phone's row: its state, the file it is on and its firmware progress.
pub fn row_of(r: &PhoneRecord, check: &CheckFacts, now: SystemTime, stuck_after: Duration) -> Row {
    let images = r
        .load_file
        .as_deref()
        .and_then(|l| check.loads.get(&base_lower(l)));
    let (state, reason) = state_of(r, images.map(Vec::as_slice), now, stuck_after);
    let file = match (state, &r.last_key) {
        (State::Stuck | State::Failed, Some(k)) if k.outcome != Outcome::Completed => {
            k.file.clone()
        }
        _ => r.last_file.clone(),
    };
    Row {
        mac: r.mac.clone(),
        model: r.model.clone().unwrap_or_default(),
        address: r.address.to_string(),
        protocol: r.protocol.as_str(),
        fell_back: r.fell_back,
        file,
        state,
        reason,
        file_in_problems: false,
        progress: progress_of(r, images.map(Vec::as_slice)),
        last_seen: rfc3339(r.last_seen),
        seen_ago: ago(now, r.last_seen),
        last_seen_at: r.last_seen,
    }
}

/// The phone's state and, when stuck or failed, why.
pub fn state_of(
    r: &PhoneRecord,
    images: Option<&[(String, Option<u64>)]>,
    now: SystemTime,
    stuck_after: Duration,
) -> (State, Option<String>) {
    let since = |t: SystemTime| now.duration_since(t).unwrap_or_default();
    if r.unfinished {
        let (file, outcome) = match &r.last_key {
            Some(Transfer { file, outcome, .. }) if *outcome != Outcome::Completed => {
                (file.as_str(), *outcome)
            }
            _ => (r.last_file.as_str(), r.last_outcome),
        };
        let reason = format!("{}: {}", file, outcome_text(outcome));
        let state = if since(r.last_seen) >= stuck_after {
            State::Failed
        } else {
            State::Stuck
        };
        return (state, Some(reason));
    }
    let load_complete = match (&r.load_file, images) {
        (None, _) => true,
        (Some(_), Some(images)) => images.iter().all(|(name, _)| {
            r.firmware
                .iter()
                .any(|f| f.completed && f.file.eq_ignore_ascii_case(name))
        }),
        // The check does not know the load: the last config or firmware transfer completed.
        (Some(_), None) => true,
    };
    if r.config_fetched && load_complete {
        return (State::Up, None);
    }
    let progressed = r.last_progress.unwrap_or(r.first_seen);
    if since(progressed) >= stuck_after {
        let reason = format!("no progress for {}", human_duration(since(progressed)));
        return (State::Stuck, Some(reason));
    }
    (State::Booting, None)
}

/// Bytes of the load's images fetched (each image counted up to its size, its best transfer),
/// of the load's total. Without a known load: the firmware bytes sent, total unknown.
pub fn progress_of(r: &PhoneRecord, images: Option<&[(String, Option<u64>)]>) -> Option<Progress> {
    match images {
        Some(images) => {
            let total: u64 = images.iter().filter_map(|(_, s)| *s).sum();
            let fetched = images
                .iter()
                .filter_map(|(name, size)| size.map(|s| (name, s)))
                .map(|(name, size)| {
                    r.firmware
                        .iter()
                        .filter(|f| f.file.eq_ignore_ascii_case(name))
                        .map(|f| f.bytes.min(size))
                        .max()
                        .unwrap_or(0)
                })
                .sum();
            Some(Progress {
                load: r.load_file.clone(),
                fetched,
                total: Some(total),
                missing_images: images.iter().filter(|(_, s)| s.is_none()).count(),
            })
        }
        None if r.firmware_bytes > 0 || r.load_file.is_some() || r.in_flight.is_some() => {
            Some(Progress {
                load: r.load_file.clone(),
                fetched: r.firmware_bytes + r.in_flight.as_ref().map_or(0, |f| f.bytes),
                total: None,
                missing_images: 0,
            })
        }
        None => None,
    }
}

/// Words for how a transfer ended.
pub fn outcome_text(o: Outcome) -> &'static str {
    match o {
        Outcome::Completed => "completed",
        Outcome::NotFound => "file not found",
        Outcome::TimedOut => "timed out (the phone stopped answering)",
        Outcome::ClientError => "client aborted",
        Outcome::AccessDenied => "access denied",
        Outcome::Unavailable => "the server could not deliver it (origin or disk)",
        Outcome::Aborted => "ended by the server",
    }
}

fn matches_filter(row: &Row, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let mac_needle: String = needle
        .chars()
        .filter(|c| !matches!(c, ':' | '-' | '.'))
        .collect();
    (!mac_needle.is_empty() && row.mac.to_lowercase().contains(&mac_needle))
        || row.model.to_lowercase().contains(needle)
        || row.address.contains(needle)
        || row.file.to_lowercase().contains(needle)
        || row.state.as_str() == needle
        || row
            .reason
            .as_deref()
            .is_some_and(|r| r.to_lowercase().contains(needle))
}

fn sort_rows(rows: &mut [Row], key: SortKey, desc: bool) {
    let pct = |r: &Row| {
        r.progress
            .as_ref()
            .and_then(Progress::percent)
            .map_or(-1, |p| p as i64)
    };
    rows.sort_by(|a, b| {
        let o = match key {
            SortKey::State => a.state.cmp(&b.state),
            SortKey::Mac => a.mac.cmp(&b.mac),
            SortKey::Model => a.model.cmp(&b.model),
            SortKey::Address => a.address.cmp(&b.address),
            SortKey::Protocol => a.protocol.cmp(b.protocol),
            SortKey::File => a.file.cmp(&b.file),
            SortKey::Progress => pct(a).cmp(&pct(b)),
            SortKey::Seen => b.last_seen_at.cmp(&a.last_seen_at),
        };
        let o = if desc { o.reverse() } else { o };
        // Ties: most recently seen first, then by MAC, so the order is stable between refreshes.
        o.then_with(|| b.last_seen_at.cmp(&a.last_seen_at))
            .then_with(|| a.mac.cmp(&b.mac))
    });
}

fn base_lower(name: &str) -> String {
    name.rsplit('/').next().unwrap_or(name).to_ascii_lowercase()
}

/// `45 s`, `3 min`, `2 h 5 min`.
pub fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {} min", s / 3600, (s / 60) % 60)
    }
}

fn ago(now: SystemTime, t: SystemTime) -> String {
    format!(
        "{} ago",
        human_duration(now.duration_since(t).unwrap_or_default())
    )
}

/// A transcript line's class in words.
pub fn class_text(c: FileClass) -> &'static str {
    match c {
        FileClass::Firmware => "firmware",
        FileClass::Config => "config",
        FileClass::TrustList => "trust list",
        FileClass::Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::phones::PhoneTable;
    use crate::server::events::{Protocol, TransferReport};
    use std::net::SocketAddr;

    const MAC: &str = "001E4A794101";
    const MIN5: Duration = Duration::from_secs(300);

    fn table_with(files: &[(&str, u64, Outcome)]) -> PhoneTable {
        let t = PhoneTable::new(16);
        let client: SocketAddr = "10.0.0.5:5000".parse().unwrap();
        for (file, bytes, outcome) in files {
            t.record(&TransferReport {
                protocol: Protocol::Tftp,
                client,
                file,
                class: FileClass::of(file),
                bytes: *bytes,
                duration: Duration::from_millis(20),
                outcome: *outcome,
            });
        }
        t
    }

    fn check_with_load() -> CheckFacts {
        let mut loads = LoadImages::new();
        loads.insert(
            "sip41.9-4-2sr3-1s.loads".into(),
            vec![
                ("apps41.sbn".into(), Some(1000)),
                ("dsp41.sbn".into(), Some(3000)),
            ],
        );
        CheckFacts {
            status: "checked".into(),
            problems: vec![(
                "SIP41.x.loads names apps41.x.sbn, which is missing".into(),
                Some("apps41.x.sbn".into()),
            )],
            warnings: vec![],
            loads,
        }
    }

    fn one(t: &PhoneTable) -> PhoneRecord {
        t.records().pop().unwrap()
    }

    const CFG: &str = "SEP001E4A794101.cnf.xml";
    const LOAD: &str = "SIP41.9-4-2SR3-1S.loads";

    #[test]
    fn a_phone_halfway_through_its_load_is_booting_with_progress_of_the_loads_total() {
        let t = table_with(&[
            ("CTLSEP001E4A794101.tlv", 0, Outcome::NotFound),
            (CFG, 900, Outcome::Completed),
            (LOAD, 300, Outcome::Completed),
            ("apps41.sbn", 1000, Outcome::Completed),
        ]);
        let r = one(&t);
        let now = SystemTime::now();
        let row = row_of(&r, &check_with_load(), now, MIN5);
        assert_eq!(row.state, State::Booting);
        assert_eq!(row.model, "7941/7961");
        let p = row.progress.unwrap();
        assert_eq!(
            (p.fetched, p.total, p.percent()),
            (1000, Some(4000), Some(25))
        );
        assert_eq!(p.load.as_deref(), Some(LOAD));
    }

    #[test]
    fn an_image_still_downloading_counts_its_bytes_so_far() {
        let t = table_with(&[
            (CFG, 900, Outcome::Completed),
            (LOAD, 300, Outcome::Completed),
            ("apps41.sbn", 1000, Outcome::Completed),
        ]);
        t.progress(&crate::server::events::TransferProgress {
            protocol: Protocol::Tftp,
            client: "10.0.0.5:5000".parse().unwrap(),
            file: "dsp41.sbn",
            bytes: 1500,
        });
        let row = row_of(&one(&t), &check_with_load(), SystemTime::now(), MIN5);
        assert_eq!(row.state, State::Booting);
        assert_eq!(row.file, "dsp41.sbn");
        let p = row.progress.unwrap();
        assert_eq!((p.fetched, p.percent()), (2500, Some(62)));
    }

    #[test]
    fn a_phone_with_every_image_of_its_load_is_up_and_a_partial_image_counts_its_bytes() {
        let t = table_with(&[
            (CFG, 900, Outcome::Completed),
            (LOAD, 300, Outcome::Completed),
            ("apps41.sbn", 1000, Outcome::Completed),
            ("dsp41.sbn", 1200, Outcome::TimedOut),
        ]);
        let now = SystemTime::now();
        let row = row_of(&one(&t), &check_with_load(), now, MIN5);
        assert_eq!(row.state, State::Stuck);
        assert_eq!(row.file, "dsp41.sbn");
        assert!(row.reason.as_deref().unwrap().contains("timed out"));
        assert_eq!(row.progress.unwrap().fetched, 2200);

        t.observe(
            "dsp41.sbn",
            "10.0.0.5:5001".parse().unwrap(),
            Protocol::Tftp,
            FileClass::Firmware,
            3000,
            Outcome::Completed,
        );
        let row = row_of(&one(&t), &check_with_load(), now, MIN5);
        assert_eq!(row.state, State::Up);
        assert_eq!(row.progress.unwrap().percent(), Some(100));
    }

    #[test]
    fn a_missing_image_is_stuck_while_the_phone_retries_and_failed_once_it_goes_quiet() {
        let t = table_with(&[
            (CFG, 900, Outcome::Completed),
            (LOAD, 300, Outcome::Completed),
            ("apps41.x.sbn", 0, Outcome::NotFound),
            // A later trust-list request does not hide what it is stuck on.
            ("ITLFile.tlv", 0, Outcome::NotFound),
        ]);
        let r = one(&t);
        let check = check_with_load();
        let row = row_of(&r, &check, SystemTime::now(), MIN5);
        assert_eq!(row.state, State::Stuck);
        assert_eq!(row.file, "apps41.x.sbn");
        assert_eq!(row.reason.as_deref(), Some("apps41.x.sbn: file not found"));
        let later = SystemTime::now() + Duration::from_secs(301);
        assert_eq!(row_of(&r, &check, later, MIN5).state, State::Failed);

        let view = build(&[r], &check, &Query::default(), SystemTime::now(), MIN5, 16);
        assert!(view.rows[0].file_in_problems);
        assert_eq!(view.problems[0].phones_on_it, 1);
        assert_eq!((view.counts.stuck, view.counts.total), (1, 1));
    }

    #[test]
    fn a_booting_phone_without_progress_for_stuck_after_is_stuck() {
        let t = table_with(&[("CTLSEP001E4A794101.tlv", 0, Outcome::NotFound)]);
        let r = one(&t);
        let facts = CheckFacts::default();
        assert_eq!(
            state_of(&r, None, SystemTime::now(), MIN5).0,
            State::Booting
        );
        let (s, why) = state_of(&r, None, SystemTime::now() + MIN5, MIN5);
        assert_eq!(s, State::Stuck);
        assert_eq!(why.as_deref(), Some("no progress for 5 min"));
        // Without the check, a load's progress is its bytes, total unknown.
        let t = table_with(&[
            (CFG, 1, Outcome::Completed),
            ("x.sbn", 77, Outcome::Completed),
        ]);
        let row = row_of(&one(&t), &facts, SystemTime::now(), MIN5);
        assert_eq!(row.state, State::Up);
        assert_eq!(
            row.progress,
            Some(Progress {
                load: None,
                fetched: 77,
                total: None,
                missing_images: 0
            })
        );
    }

    fn many(n: usize) -> Vec<PhoneRecord> {
        let t = PhoneTable::new(n);
        for i in 0..n {
            let client: SocketAddr = format!("10.1.{}.{}:5000", i / 250, i % 250 + 1)
                .parse()
                .unwrap();
            let outcome = if i % 10 == 0 {
                Outcome::NotFound
            } else {
                Outcome::Completed
            };
            t.observe(
                &format!("SEP0000000{i:05X}.cnf.xml"),
                client,
                Protocol::Tftp,
                FileClass::Config,
                10,
                outcome,
            );
        }
        t.records()
    }

    #[test]
    fn filters_by_state_and_text_counts_all_and_pages_in_bounded_rows() {
        let recs = many(1000);
        let facts = CheckFacts::default();
        let now = SystemTime::now();
        let v = build(&recs, &facts, &Query::default(), now, MIN5, 1000);
        assert_eq!(
            (v.counts.total, v.counts.stuck, v.counts.up),
            (1000, 100, 900)
        );
        assert_eq!((v.rows.len(), v.pages, v.matching), (PER_PAGE, 10, 1000));
        assert!(v.rows.iter().all(|r| r.state == State::Stuck) || v.rows[0].state == State::Stuck);

        let q = Query {
            state: Some(State::Stuck),
            page: 99,
            ..Query::default()
        };
        let v = build(&recs, &facts, &q, now, MIN5, 1000);
        assert_eq!((v.matching, v.page, v.rows.len()), (100, 1, 100));
        assert!(v.rows.iter().all(|r| r.state == State::Stuck));

        // A MAC typed with colons, in lower case.
        let q = Query {
            q: "00:00:00:00:00:0a".into(),
            ..Query::default()
        };
        let v = build(&recs, &facts, &q, now, MIN5, 1000);
        assert_eq!(v.matching, 1);
        assert_eq!(v.rows[0].mac, "00000000000A");
    }

    #[test]
    fn problems_with_phones_on_them_come_first_and_the_lists_are_bounded() {
        let mut facts = CheckFacts::default();
        for i in 0..200 {
            facts
                .problems
                .push((format!("problem {i}"), Some(format!("f{i}.sbn"))));
            facts.warnings.push(format!("warning {i}"));
        }
        let t = table_with(&[
            (CFG, 1, Outcome::Completed),
            ("f150.sbn", 0, Outcome::NotFound),
        ]);
        let v = build(
            &t.records(),
            &facts,
            &Query::default(),
            SystemTime::now(),
            MIN5,
            16,
        );
        assert_eq!((v.problems.len(), v.problems_total), (MAX_PROBLEMS, 200));
        assert_eq!((v.warnings.len(), v.warnings_total), (MAX_WARNINGS, 200));
        assert_eq!(v.problems[0].text, "problem 150");
        assert_eq!(v.problems[0].phones_on_it, 1);
        assert_eq!(v.problems[1].text, "problem 0");
    }

    #[test]
    fn sorts_by_the_chosen_column_either_way() {
        let recs = many(30);
        let facts = CheckFacts::default();
        let now = SystemTime::now();
        let q = Query {
            sort: SortKey::Mac,
            ..Query::default()
        };
        let v = build(&recs, &facts, &q, now, MIN5, 30);
        let macs: Vec<&str> = v.rows.iter().map(|r| r.mac.as_str()).collect();
        let mut sorted = macs.clone();
        sorted.sort();
        assert_eq!(macs, sorted);
        let q = Query {
            sort: SortKey::Mac,
            desc: true,
            ..Query::default()
        };
        let v = build(&recs, &facts, &q, now, MIN5, 30);
        assert_eq!(v.rows[0].mac, *sorted.last().unwrap());
        // The default: stuck first.
        let v = build(&recs, &facts, &Query::default(), now, MIN5, 30);
        assert_eq!(v.rows[0].state, State::Stuck);
        assert_eq!(v.rows[29].state, State::Up);
        let _ = MAC;
    }
}
