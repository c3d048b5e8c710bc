//! The report for people (tables) and for programs (JSON).

use std::fmt::Write as _;

use super::check::{FileStatus, Report};

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
                    format!(
                        "PROBLEM: {}",
                        l.problems
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
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
