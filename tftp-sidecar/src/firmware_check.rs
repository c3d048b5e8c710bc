//! `tftp-sidecar check ROOT`: does a TFTP root hold what phones need to boot?
//!
//! Per phone model: does `termXX.default.loads` exist; for every `.loads` file: does every
//! image it names exist and is it non-empty; for every `SEP*.cnf.xml` (and
//! `XMLDefault.cnf.xml`): does each `<loadInformation>` resolve to a `.loads` file whose
//! images are all there. Missing or zero-size files are the classic cause of phones stuck on
//! "Upgrading".
//!
//! The `.loads` format is not public. Names are read from a load file's bytes as a phone
//! would need them: every maximal run of file-name characters (`A-Z a-z 0-9 . _ - +`) that
//! ends in `.sbn`, `.bin`, `.zz`, `.sgn`, `.img`, `.tar` or `.loads` (any case), except the
//! file's own name. That reads signed binary load files and our placeholder text
//! (`image NAME SIZE` lines) alike. See `docs/firmware-check.md`.
//!
//! Parsing is pure (`load_names`, `load_information`, `term_file_for`); `check_root` walks a
//! directory.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Extensions of names a `.loads` file refers to (lower case).
pub const IMAGE_EXTENSIONS: [&str; 7] = [".sbn", ".bin", ".zz", ".sgn", ".img", ".tar", ".loads"];

/// The file names a `.loads` file names, in order of first appearance, without repeats and
/// without `own_name` (compared case-insensitively).
pub fn load_names(bytes: &[u8], own_name: &str) -> Vec<String> {
    let own = own_name.rsplit('/').next().unwrap_or(own_name);
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+');
    let mut out: Vec<String> = Vec::new();
    for tok in bytes.split(|b| !is_name(*b)) {
        if tok.len() < 5 || tok.len() > 128 || tok[0] == b'.' {
            continue;
        }
        // Only ASCII bytes reach here, so this is lossless.
        let s = String::from_utf8_lossy(tok).into_owned();
        let lower = s.to_ascii_lowercase();
        if !IMAGE_EXTENSIONS
            .iter()
            .any(|e| lower.ends_with(e) && lower.len() > e.len())
        {
            continue;
        }
        if s.eq_ignore_ascii_case(own) || out.contains(&s) {
            continue;
        }
        out.push(s);
    }
    out
}

/// One `<loadInformation>` of a phone config.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LoadInfo {
    /// The `model` attribute (`Cisco 7941`), if any.
    pub model: Option<String>,
    /// The load name, without `.loads`.
    pub load: String,
}

/// Every non-empty `<loadInformation>` (or CUCM's numbered `<loadInformation434 ...>`)
/// element of a config, in order.
pub fn load_information(xml: &str) -> Vec<LoadInfo> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<loadInformation") {
        rest = &rest[i + 1..];
        let Some(end_tag) = rest.find('>') else { break };
        let tag = &rest[..end_tag];
        let name_len = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let elem = &tag[..name_len];
        if !elem["loadInformation".len()..]
            .bytes()
            .all(|b| b.is_ascii_digit())
            || tag.ends_with('/')
        {
            continue;
        }
        let body = &rest[end_tag + 1..];
        let close = format!("</{elem}>");
        let Some(len) = body.find(&close) else {
            continue;
        };
        let load = body[..len].trim();
        if load.is_empty() {
            continue;
        }
        out.push(LoadInfo {
            model: attr(tag, "model"),
            load: load.to_string(),
        });
    }
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!("{name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')?;
    Some(tag[i..i + j].trim().to_string())
}

/// The term file a factory-reset phone of `model` asks for: `termNN.default.loads` for 79xx
/// (`7941` -> `term41`), `term<model>.default.loads` for others (our convention: unverified
/// for models other than 79xx).
pub fn term_file_for(model: &str) -> String {
    let m = normalize_model(model);
    if m.len() == 4 && m.starts_with("79") && m.bytes().all(|b| b.is_ascii_digit()) {
        format!("term{}.default.loads", &m[2..])
    } else {
        format!("term{m}.default.loads")
    }
}

/// The model a term file belongs to (`term41.default.loads` -> `7941`).
pub fn model_of_term_file(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let mid = lower.strip_prefix("term")?.strip_suffix(".default.loads")?;
    if mid.is_empty() {
        return None;
    }
    let orig = &name[4..4 + mid.len()];
    if mid.len() == 2 && mid.bytes().all(|b| b.is_ascii_digit()) {
        Some(format!("79{mid}"))
    } else {
        Some(orig.to_string())
    }
}

/// `Cisco 7941`, `CP-7941G`, `7941G` -> `7941`.
pub fn normalize_model(model: &str) -> String {
    let mut m = model.trim();
    for p in ["Cisco ", "cisco ", "CP-", "cp-"] {
        m = m.strip_prefix(p).unwrap_or(m);
    }
    let m = m.trim();
    let m = m
        .strip_suffix('G')
        .filter(|r| r.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or(m);
    m.to_string()
}

/// What to check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// Models whose term file must exist (besides those found in the root).
    pub models: Vec<String>,
    /// Match names case-insensitively (as the server does with `case_insensitive`).
    pub case_insensitive: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    Ok,
    Missing,
    Empty,
}

#[derive(Clone, Debug, Serialize)]
pub struct ImageCheck {
    pub name: String,
    pub status: FileStatus,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoadCheck {
    /// The `.loads` file (path relative to the root).
    pub file: String,
    pub size: u64,
    /// Images (and other `.loads` files) it names.
    pub images: Vec<ImageCheck>,
    pub ok: bool,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ModelCheck {
    pub model: String,
    pub term_file: String,
    pub term_file_exists: bool,
    /// Loads that configs name for this model.
    pub config_loads: Vec<String>,
    pub ok: bool,
    pub problems: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigLoadCheck {
    pub model: Option<String>,
    pub load: String,
    /// `<load>.loads`
    pub load_file: String,
    pub exists: bool,
    /// The load file exists and every image it names is there and non-empty.
    pub complete: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct ConfigCheck {
    pub file: String,
    pub loads: Vec<ConfigLoadCheck>,
    pub ok: bool,
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub root: PathBuf,
    pub ok: bool,
    pub files: usize,
    pub models: Vec<ModelCheck>,
    pub loads: Vec<LoadCheck>,
    pub configs: Vec<ConfigCheck>,
    /// Every problem, one line each.
    pub problems: Vec<String>,
    pub warnings: Vec<String>,
}

/// The files of a root: relative name (`/`-separated) -> size.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    files: BTreeMap<String, u64>,
    lower: BTreeMap<String, String>,
    case_insensitive: bool,
}

impl Listing {
    pub fn new(files: BTreeMap<String, u64>, case_insensitive: bool) -> Listing {
        let lower = files
            .keys()
            .map(|k| (k.to_ascii_lowercase(), k.clone()))
            .collect();
        Listing {
            files,
            lower,
            case_insensitive,
        }
    }

    /// Walks `root` recursively (symlinks followed, dot-files skipped, as the server would
    /// not serve them).
    pub fn walk(root: &Path, case_insensitive: bool) -> io::Result<Listing> {
        let mut files = BTreeMap::new();
        let mut stack = vec![(root.to_path_buf(), String::new())];
        while let Some((dir, prefix)) = stack.pop() {
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                let rel = format!("{prefix}{name}");
                let md = match std::fs::metadata(e.path()) {
                    Ok(m) => m,
                    Err(_) => continue, // dangling symlink: as good as absent
                };
                if md.is_dir() {
                    if stack.len() < 10_000 {
                        stack.push((e.path(), format!("{rel}/")));
                    }
                } else if md.is_file() {
                    files.insert(rel, md.len());
                }
            }
        }
        Ok(Listing::new(files, case_insensitive))
    }

    /// The stored name a request for `name` finds.
    pub fn find(&self, name: &str) -> Option<&str> {
        if let Some((k, _)) = self.files.get_key_value(name) {
            return Some(k);
        }
        if self.case_insensitive {
            return self
                .lower
                .get(&name.to_ascii_lowercase())
                .map(|s| s.as_str());
        }
        None
    }

    pub fn size(&self, name: &str) -> Option<u64> {
        self.find(name).and_then(|k| self.files.get(k).copied())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(|s| s.as_str())
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

fn base(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn is_config(name: &str) -> bool {
    let b = base(name).to_ascii_lowercase();
    (b.starts_with("sep") && b.ends_with(".cnf.xml")) || b == "xmldefault.cnf.xml"
}

/// Checks the root directory `root`.
pub fn check_root(root: &Path, opts: &CheckOptions) -> io::Result<Report> {
    let listing = Listing::walk(root, opts.case_insensitive)?;
    let read = |name: &str| std::fs::read(root.join(name));
    Ok(check(root, &listing, &read, opts))
}

/// Checks a listing; `read` gives a file's bytes (only `.loads` and configs are read).
pub fn check(
    root: &Path,
    listing: &Listing,
    read: &dyn Fn(&str) -> io::Result<Vec<u8>>,
    opts: &CheckOptions,
) -> Report {
    let mut problems = Vec::new();
    let mut warnings = Vec::new();

    // Every .loads file.
    let mut loads = Vec::new();
    let load_files: Vec<String> = listing
        .names()
        .filter(|n| n.to_ascii_lowercase().ends_with(".loads"))
        .map(str::to_string)
        .collect();
    for file in &load_files {
        let size = listing.size(file).unwrap_or(0);
        let mut lp = Vec::new();
        let bytes = match read(file) {
            Ok(b) => b,
            Err(e) => {
                lp.push(format!("{file}: cannot read: {e}"));
                Vec::new()
            }
        };
        if size == 0 {
            lp.push(format!("{file} is empty (0 bytes)"));
        }
        let names = load_names(&bytes, base(file));
        // Names are relative to the load's own directory, which is the root for phones.
        let mut images = Vec::new();
        for n in &names {
            let status = match listing.size(n) {
                None => {
                    lp.push(format!("{file} names {n}, which is missing"));
                    FileStatus::Missing
                }
                Some(0) => {
                    lp.push(format!("{file} names {n}, which is empty (0 bytes)"));
                    FileStatus::Empty
                }
                Some(_) => FileStatus::Ok,
            };
            images.push(ImageCheck {
                name: n.clone(),
                size: listing.size(n),
                status,
            });
        }
        if size > 0 && names.is_empty() {
            lp.push(format!("{file} names no image file"));
        }
        problems.extend(lp.iter().cloned());
        loads.push(LoadCheck {
            file: file.clone(),
            size,
            ok: lp.is_empty(),
            images,
            problems: lp,
        });
    }
    let load_ok = |name: &str| -> Option<bool> {
        let found = listing.find(name)?;
        Some(loads.iter().any(|l| l.file == found && l.ok))
    };

    // Every config.
    let mut configs = Vec::new();
    let mut loads_by_model: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in listing.names().filter(|n| is_config(n)) {
        let mut cp = Vec::new();
        let mut cw = Vec::new();
        let text = match read(file) {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(e) => {
                cp.push(format!("{file}: cannot read: {e}"));
                String::new()
            }
        };
        let infos = load_information(&text);
        if infos.is_empty() && cp.is_empty() {
            cw.push(format!(
                "{file} has no <loadInformation>: phones keep the firmware they have"
            ));
        }
        let mut lc = Vec::new();
        for info in infos {
            let load_file = format!("{}.loads", info.load);
            let (exists, complete) = match load_ok(&load_file) {
                None => {
                    cp.push(format!(
                        "{file}: loadInformation{} {} does not resolve: {load_file} is missing",
                        info.model
                            .as_deref()
                            .map(|m| format!(" for {m}"))
                            .unwrap_or_default(),
                        info.load
                    ));
                    (false, false)
                }
                Some(false) => {
                    cp.push(format!(
                        "{file}: loadInformation {} names {load_file}, which is incomplete",
                        info.load
                    ));
                    (true, false)
                }
                Some(true) => (true, true),
            };
            if let Some(m) = &info.model {
                loads_by_model
                    .entry(normalize_model(m))
                    .or_default()
                    .insert(info.load.clone());
            }
            lc.push(ConfigLoadCheck {
                model: info.model,
                load: info.load,
                load_file,
                exists,
                complete,
            });
        }
        problems.extend(cp.iter().cloned());
        warnings.extend(cw.iter().cloned());
        configs.push(ConfigCheck {
            file: file.to_string(),
            ok: cp.is_empty(),
            loads: lc,
            problems: cp,
            warnings: cw,
        });
    }

    // Per model: the models asked for, those with a term file, those configs name.
    let mut model_names: BTreeSet<String> =
        opts.models.iter().map(|m| normalize_model(m)).collect();
    for n in listing.names() {
        if let Some(m) = model_of_term_file(base(n)) {
            if !n.contains('/') {
                model_names.insert(m);
            }
        }
    }
    model_names.extend(loads_by_model.keys().cloned());
    let mut models = Vec::new();
    for model in model_names {
        let term_file = term_file_for(&model);
        let mut mp = Vec::new();
        let term_exists = listing.find(&term_file).is_some();
        if !term_exists {
            mp.push(format!(
                "model {model}: {term_file} is missing (a factory-reset phone cannot upgrade)"
            ));
        } else if load_ok(&term_file) == Some(false) {
            mp.push(format!("model {model}: {term_file} is incomplete"));
        }
        let config_loads: Vec<String> = loads_by_model
            .get(&model)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default();
        for l in &config_loads {
            if load_ok(&format!("{l}.loads")) != Some(true) {
                mp.push(format!(
                    "model {model}: load {l} named by configs is missing or incomplete"
                ));
            }
        }
        problems.extend(
            mp.iter()
                .filter(|p| !p.contains("named by configs"))
                .cloned(),
        );
        models.push(ModelCheck {
            model,
            term_file,
            term_file_exists: term_exists,
            config_loads,
            ok: mp.is_empty(),
            problems: mp,
        });
    }

    Report {
        root: root.to_path_buf(),
        ok: problems.is_empty(),
        files: listing.len(),
        models,
        loads,
        configs,
        problems,
        warnings,
    }
}

impl Report {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("report serializes")
    }

    /// Tables for humans.
    pub fn to_table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "tftp-sidecar check {}: {} files, {}",
            self.root.display(),
            self.files,
            if self.ok {
                "OK".to_string()
            } else {
                format!("{} problem(s)", self.problems.len())
            }
        );
        let mut rows = vec![vec![
            "MODEL".to_string(),
            "TERM FILE".into(),
            "LOADS IN CONFIGS".into(),
            "STATUS".into(),
        ]];
        for m in &self.models {
            rows.push(vec![
                m.model.clone(),
                format!(
                    "{}{}",
                    m.term_file,
                    if m.term_file_exists { "" } else { " (missing)" }
                ),
                if m.config_loads.is_empty() {
                    "-".into()
                } else {
                    m.config_loads.join(" ")
                },
                status(m.ok, m.problems.len()),
            ]);
        }
        table(&mut s, &rows);
        let mut rows = vec![vec![
            "LOAD FILE".to_string(),
            "IMAGES".into(),
            "BYTES".into(),
            "STATUS".into(),
        ]];
        for l in &self.loads {
            let bytes: u64 = l.images.iter().filter_map(|i| i.size).sum();
            let bad: Vec<String> = l
                .images
                .iter()
                .filter(|i| i.status != FileStatus::Ok)
                .map(|i| {
                    format!(
                        "{} {}",
                        i.name,
                        if i.status == FileStatus::Missing {
                            "missing"
                        } else {
                            "empty"
                        }
                    )
                })
                .collect();
            rows.push(vec![
                l.file.clone(),
                l.images.len().to_string(),
                bytes.to_string(),
                if l.ok {
                    "ok".into()
                } else if bad.is_empty() {
                    format!("PROBLEM: {}", l.problems.join("; "))
                } else {
                    format!("PROBLEM: {}", bad.join(", "))
                },
            ]);
        }
        table(&mut s, &rows);
        let mut rows = vec![vec![
            "CONFIG".to_string(),
            "MODEL".into(),
            "LOAD".into(),
            "STATUS".into(),
        ]];
        for c in &self.configs {
            if c.loads.is_empty() {
                rows.push(vec![
                    c.file.clone(),
                    "-".into(),
                    "-".into(),
                    if c.ok {
                        "no loadInformation".into()
                    } else {
                        "PROBLEM".into()
                    },
                ]);
            }
            for l in &c.loads {
                rows.push(vec![
                    c.file.clone(),
                    l.model.clone().unwrap_or_else(|| "-".into()),
                    l.load.clone(),
                    if l.complete {
                        "ok".into()
                    } else if l.exists {
                        format!("PROBLEM: {} incomplete", l.load_file)
                    } else {
                        format!("PROBLEM: {} missing", l.load_file)
                    },
                ]);
            }
        }
        table(&mut s, &rows);
        if !self.problems.is_empty() {
            s.push_str("\nProblems:\n");
            for p in &self.problems {
                let _ = writeln!(s, "  - {p}");
            }
        }
        if !self.warnings.is_empty() {
            s.push_str("\nWarnings:\n");
            for w in &self.warnings {
                let _ = writeln!(s, "  - {w}");
            }
        }
        s
    }
}

fn status(ok: bool, n: usize) -> String {
    if ok {
        "ok".into()
    } else {
        format!("PROBLEM ({n})")
    }
}

fn table(s: &mut String, rows: &[Vec<String>]) {
    if rows.len() <= 1 {
        return;
    }
    let cols = rows[0].len();
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0))
        .collect();
    s.push('\n');
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<w$}  ", w = widths[c]);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
}

/// `tftp-sidecar check` entry point: prints the report, returns the exit status
/// (0 no problems, 1 problems, 2 the root cannot be read).
pub fn run(root: &Path, json: bool, opts: &CheckOptions) -> u8 {
    match check_root(root, opts) {
        Ok(r) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&r.to_json()).expect("json")
                );
            } else {
                print!("{}", r.to_table());
            }
            if r.ok {
                0
            } else {
                1
            }
        }
        Err(e) => {
            eprintln!("tftp-sidecar check: {}: {e}", root.display());
            2
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_placeholder_text_and_binary() {
        let t = b"# placeholder\nload SIP41.9-4-2SR3-1S\nimage apps41.9-4-2ES26.sbn 100\nimage dsp41.9-4-2ES26.sbn\n";
        assert_eq!(
            load_names(t, "SIP41.9-4-2SR3-1S.loads"),
            vec!["apps41.9-4-2ES26.sbn", "dsp41.9-4-2ES26.sbn"]
        );
        let mut bin = vec![0x30, 0x82, 0x04, 0x10, 0x00, 0xff];
        bin.extend_from_slice(b"\x14jar41sip.9-4-2ES26.sbn\x00\x00CNU41.9-4-2ES26.SBN\x00");
        bin.extend_from_slice(b"term41.default.loads\x00.sbn\x00jar41sip.9-4-2ES26.sbn\x00");
        bin.extend_from_slice(b"other.loads\x00kern.img\x00x.tar.gz\x00");
        assert_eq!(
            load_names(&bin, "dir/term41.default.loads"),
            vec![
                "jar41sip.9-4-2ES26.sbn",
                "CNU41.9-4-2ES26.SBN",
                "other.loads",
                "kern.img"
            ]
        );
    }

    #[test]
    fn load_information_variants() {
        let xml = r#"<device><loadInformation model="Cisco 7941">SIP41.a</loadInformation>
            <loadInformation434 model="Cisco 7961"> SIP41.b </loadInformation434>
            <loadInformation></loadInformation><loadInformation/>
            <loadInformationX>no</loadInformationX><loadInformation>bare</loadInformation></device>"#;
        assert_eq!(
            load_information(xml),
            vec![
                LoadInfo {
                    model: Some("Cisco 7941".into()),
                    load: "SIP41.a".into()
                },
                LoadInfo {
                    model: Some("Cisco 7961".into()),
                    load: "SIP41.b".into()
                },
                LoadInfo {
                    model: None,
                    load: "bare".into()
                },
            ]
        );
        assert!(load_information("<loadInformation>unterminated").is_empty());
    }

    #[test]
    fn term_files_and_models() {
        assert_eq!(term_file_for("7941"), "term41.default.loads");
        assert_eq!(term_file_for("Cisco 7961"), "term61.default.loads");
        assert_eq!(term_file_for("CP-7962G"), "term62.default.loads");
        assert_eq!(term_file_for("8841"), "term8841.default.loads");
        assert_eq!(
            model_of_term_file("term41.default.loads").as_deref(),
            Some("7941")
        );
        assert_eq!(
            model_of_term_file("TERM70.DEFAULT.LOADS").as_deref(),
            Some("7970")
        );
        assert_eq!(
            model_of_term_file("term8841.default.loads").as_deref(),
            Some("8841")
        );
        assert_eq!(model_of_term_file("term.default.loads"), None);
        assert_eq!(model_of_term_file("SIP41.loads"), None);
        assert_eq!(normalize_model("Cisco 8841"), "8841");
    }

    fn listing(files: &[(&str, u64)]) -> Listing {
        Listing::new(
            files.iter().map(|(n, s)| (n.to_string(), *s)).collect(),
            false,
        )
    }

    #[test]
    fn check_finds_missing_empty_and_unresolved() {
        let l = listing(&[
            ("term41.default.loads", 60),
            ("SIP41.x.loads", 60),
            ("a.sbn", 10),
            ("b.sbn", 0),
            ("SEP001122334455.cnf.xml", 100),
            ("SEP001122334466.cnf.xml", 100),
        ]);
        let read = |n: &str| -> io::Result<Vec<u8>> {
            Ok(match n {
                "term41.default.loads" => b"image a.sbn 10\n".to_vec(),
                "SIP41.x.loads" => b"image a.sbn\nimage b.sbn\nimage c.sbn\n".to_vec(),
                "SEP001122334455.cnf.xml" => {
                    b"<loadInformation model=\"Cisco 7941\">SIP41.x</loadInformation>".to_vec()
                }
                _ => b"<loadInformation>SIP41.gone</loadInformation>".to_vec(),
            })
        };
        let opts = CheckOptions {
            models: vec!["7961".into()],
            ..Default::default()
        };
        let r = check(Path::new("/r"), &l, &read, &opts);
        assert!(!r.ok);
        let joined = r.problems.join("\n");
        assert!(
            joined.contains("SIP41.x.loads names b.sbn, which is empty"),
            "{joined}"
        );
        assert!(
            joined.contains("SIP41.x.loads names c.sbn, which is missing"),
            "{joined}"
        );
        assert!(joined.contains("SIP41.gone.loads is missing"), "{joined}");
        assert!(
            joined.contains("model 7961: term61.default.loads is missing"),
            "{joined}"
        );
        assert!(joined.contains("SEP001122334455.cnf.xml: loadInformation SIP41.x names SIP41.x.loads, which is incomplete"), "{joined}");
        let m41 = r.models.iter().find(|m| m.model == "7941").unwrap();
        assert!(m41.term_file_exists);
        assert_eq!(m41.config_loads, vec!["SIP41.x"]);
        assert!(!m41.ok);
        let term = r
            .loads
            .iter()
            .find(|x| x.file == "term41.default.loads")
            .unwrap();
        assert!(term.ok);
        let t = r.to_table();
        assert!(
            t.contains("b.sbn empty") && t.contains("c.sbn missing"),
            "{t}"
        );
    }
}
