//! Reads Prometheus text exposition (`/metrics`) for assertions: the one parser of the tests.
//!
//! Plain `std` only, so `tftp-sidecar`'s own tests include this file too (`#[path]`): they
//! cannot depend on this crate, which depends on `tftp-sidecar`.
#![allow(dead_code)]

use std::collections::BTreeMap;

/// One sample line: `name{k="v",...} value`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In the order written; values unescaped.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    /// `name{k="v",...}` with the labels sorted by name (the key of [`series`]).
    pub fn key(&self) -> String {
        let mut labels = self.labels.clone();
        labels.sort();
        let mut key = self.name.clone();
        if !labels.is_empty() {
            let l: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            key = format!("{key}{{{}}}", l.join(","));
        }
        key
    }

    fn has(&self, label: &str, value: &str) -> bool {
        self.labels.iter().any(|(k, v)| k == label && v == value)
    }
}

/// Every sample of `text`; comments, blank lines and lines that are not samples are skipped.
pub fn parse(text: &str) -> Vec<Sample> {
    text.lines().filter_map(parse_line).collect()
}

/// `name{labels sorted}` -> value (see [`Sample::key`]).
pub fn series(text: &str) -> BTreeMap<String, f64> {
    parse(text)
        .into_iter()
        .map(|s| (s.key(), s.value))
        .collect()
}

/// The value of `name{labels}` (labels as written in a selector, `k="v",...`, in any order;
/// empty for none). `None` if there is no such sample.
pub fn metric_value(text: &str, name: &str, labels: &str) -> Option<f64> {
    let want = parse_labels(labels)?;
    parse(text).into_iter().find_map(|s| {
        (s.name == name && s.labels.len() == want.len() && want.iter().all(|(k, v)| s.has(k, v)))
            .then_some(s.value)
    })
}

/// Sum of every sample of `name` that has all the labels of `must` (`k="v"` strings).
pub fn metric_sum(text: &str, name: &str, must: &[&str]) -> f64 {
    let must: Vec<(String, String)> = must
        .iter()
        .flat_map(|m| parse_labels(m).unwrap_or_default())
        .collect();
    parse(text)
        .iter()
        .filter(|s| s.name == name && must.iter().all(|(k, v)| s.has(k, v)))
        .map(|s| s.value)
        .sum()
}

/// Scrapes with `scrape` every 100 ms until `name{labels}` is `want` or 10 s have passed;
/// returns the last scrape (for the assertion's message).
pub fn wait_metric(
    mut scrape: impl FnMut() -> String,
    name: &str,
    labels: &str,
    want: f64,
) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = scrape();
        if metric_value(&text, name, labels) == Some(want) || std::time::Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn parse_line(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let (labels, rest) = if line[name_end..].starts_with('{') {
        let close = closing_brace(&line[name_end..])? + name_end;
        (
            parse_labels(&line[name_end + 1..close])?,
            &line[close + 1..],
        )
    } else {
        (Vec::new(), &line[name_end..])
    };
    // A timestamp may follow the value.
    let value = rest.split_whitespace().next()?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    Some(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

/// Index of the `}` closing the label set that `s` starts with (braces in values skipped).
fn closing_brace(s: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '}' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// `k="v",k2="v2"` (a trailing comma allowed) -> pairs, values unescaped.
fn parse_labels(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (k, r) = rest.split_once('=')?;
        let r = r.trim_start().strip_prefix('"')?;
        let mut v = String::new();
        let mut chars = r.char_indices();
        let end = loop {
            match chars.next()? {
                (i, '"') => break i,
                (_, '\\') => match chars.next()?.1 {
                    'n' => v.push('\n'),
                    c => v.push(c),
                },
                (_, c) => v.push(c),
            }
        };
        out.push((k.trim().to_string(), v));
        rest = r[end + 1..].trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
    Some(out)
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP x_total X.\n# TYPE x_total counter\n\
        x_total{b=\"2\",a=\"1\"} 3\nx_total{a=\"1\",b=\"3\"} 4\n\
        y 5 1700000000\nz{m=\"a,b=\\\"c}\"} 6\nh_bucket{le=\"+Inf\"} 7\n\n";

    #[test]
    fn reads_samples_with_labels_in_any_order_and_escapes() {
        assert_eq!(metric_value(TEXT, "x_total", "a=\"1\",b=\"2\""), Some(3.0));
        assert_eq!(metric_value(TEXT, "x_total", "b=\"2\",a=\"1\""), Some(3.0));
        assert_eq!(
            metric_value(TEXT, "x_total", "a=\"1\""),
            None,
            "labels must match exactly"
        );
        assert_eq!(
            metric_value(TEXT, "y", ""),
            Some(5.0),
            "a timestamp is not the value"
        );
        assert_eq!(metric_value(TEXT, "z", "m=\"a,b=\\\"c}\""), Some(6.0));
        assert_eq!(metric_value(TEXT, "h_bucket", "le=\"+Inf\""), Some(7.0));
        assert_eq!(metric_sum(TEXT, "x_total", &["a=\"1\""]), 7.0);
        assert_eq!(metric_sum(TEXT, "x_total", &[]), 7.0);
        assert_eq!(metric_sum(TEXT, "x_total", &["b=\"3\""]), 4.0);
    }

    #[test]
    fn series_keys_sort_the_labels() {
        let s = series(TEXT);
        assert_eq!(s["x_total{a=\"1\",b=\"2\"}"], 3.0);
        assert_eq!(s["y"], 5.0);
        assert_eq!(s["z{m=\"a,b=\\\"c}\"}"], 6.0);
        assert_eq!(s.len(), 5);
    }
}
