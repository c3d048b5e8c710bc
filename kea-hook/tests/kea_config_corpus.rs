//! The shared corpus of Kea configuration files (`tests/kea-config-corpus/`): every file in
//! `accepted/` is read, every file in `rejected/` is refused at the position its
//! `// error at [FILE:]LINE:COLUMN` line names. The Ansible filter plugin's test
//! (`tests/deploy/test_ansible_filters.py`) holds its reader to the same files, and
//! `tests/tests/checker_vs_kea.rs` holds both verdicts to the real kea-dhcp4 of each series.

use std::path::{Path, PathBuf};

use dhcp_cisco_tftp::kea_config::{check_config, parse_config, SyntaxError};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kea-config-corpus")
}

fn cases(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no cases in {dir}/");
    names
}

/// Reads a case as kea-dhcp4 would from the corpus directory (included files are named
/// relative to it, as Kea opens them relative to its working directory).
fn read(name: &str) -> Result<serde_json::Value, SyntaxError> {
    let root = corpus();
    let text = std::fs::read(root.join(name)).unwrap();
    parse_config(&text, name, &mut |inc: &str| {
        std::fs::read(root.join(inc)).map_err(|e| e.to_string())
    })
}

#[test]
fn accepted_files_are_read() {
    for name in cases("accepted") {
        let config = read(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        // None of them loads the hook: the checker finds nothing to check, and says so.
        assert!(check_config(&config).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn every_shipped_series_is_in_the_corpus() {
    let names = cases("accepted");
    for series in ["2.2", "2.6", "3.0"] {
        let prefix = format!("accepted/shipped-kea-{series}.");
        assert!(
            names.iter().any(|n| n.starts_with(&prefix)),
            "no shipped kea-dhcp4.conf of Kea {series} in the corpus"
        );
    }
}

#[test]
fn rejected_files_are_refused_where_they_say() {
    for name in cases("rejected") {
        let text =
            String::from_utf8_lossy(&std::fs::read(corpus().join(&name)).unwrap()).into_owned();
        let want = text
            .lines()
            .find_map(|l| l.strip_prefix("// error at "))
            .unwrap_or_else(|| panic!("{name}: no `// error at` line"));
        let e = read(&name).expect_err(&name);
        let got = if e.file == name {
            format!("{}:{}", e.line, e.column)
        } else {
            format!("{}:{}:{}", e.file, e.line, e.column)
        };
        assert_eq!(got, want, "{name}: {e}");
    }
}
