//! The checker's reader agrees with the real kea-dhcp4 of every supported series: for each
//! file of the shared corpus (`kea-hook/tests/kea-config-corpus/`), `kea-dhcp4 -d -t FILE`
//! says "Syntax check OK" exactly when `cisco-tftp-check --syntax-only FILE` accepts it.
//! Hand-made cases run on every series; each `shipped-kea-SERIES-...conf` on its own series
//! (a newer shipped file uses keywords an older Kea does not know: schema, not syntax). The
//! hand-made accepted cases must pass `-t` entirely, so that they test syntax and nothing else.
//!
//! The series come from `scripts/kea-series.sh`: the host's Kea, and the others' from the
//! roots `scripts/kea-root.sh SERIES` makes in `$KEA_ROOTS_DIR` (default
//! /var/cache/cisco-tftp/kea-roots), run with `chroot`. Needs root and
//! `cargo build -p kea-hook --bin cisco-tftp-check` (`make test` does both).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn corpus() -> PathBuf {
    workspace().join("kea-hook/tests/kea-config-corpus")
}

fn checker() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target"));
    let p = target.join("debug/cisco-tftp-check");
    assert!(
        p.exists(),
        "{} not found: run `cargo build -p kea-hook --bin cisco-tftp-check` first",
        p.display()
    );
    p
}

/// (series, root): `/` for the host's Kea. From scripts/kea-series.sh (which honours
/// KEA_ROOTS_DIR).
fn series() -> Vec<(String, PathBuf)> {
    let script = workspace().join("scripts/kea-series.sh");
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#". "$1" && for s in $(kea_all_series); do echo "$s $(kea_root "$s")"; done"#)
        .arg("bash")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(s, r)| (s.to_string(), PathBuf::from(r)))
        .collect()
}

/// These tests go through every series themselves: once is enough, in the host's pass of
/// `make test`, not again in each `KEA_SERIES` pass.
fn covered_by_host_pass() -> bool {
    std::env::var("KEA_SERIES").is_ok_and(|s| !s.is_empty())
}

fn cases(dir: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| format!("{dir}/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    v.sort();
    v
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// One series' Kea, run on copies of the corpus from the corpus' top directory (included
/// files are named relative to it, and Kea opens them relative to its working directory).
struct Kea {
    series: String,
    root: PathBuf,
    /// The corpus copy, as seen from inside `root`.
    inside: PathBuf,
    _copy: tempfile::TempDir,
}

impl Kea {
    fn new(series: &str, root: &Path) -> Kea {
        let host = root == Path::new("/");
        if !host {
            assert!(
                root.join(".cisco-tftp-root").exists(),
                "the Kea {series} root {} is missing or unfinished: run `scripts/kea-root.sh {series}` \
                 (as root) to make it",
                root.display()
            );
        }
        let copy = tempfile::Builder::new()
            .prefix("ctt-corpus")
            .tempdir_in(root.join("tmp"))
            .unwrap();
        copy_dir(&corpus(), copy.path());
        let inside = Path::new("/").join(copy.path().strip_prefix(root).unwrap());
        Kea {
            series: series.into(),
            root: root.into(),
            inside,
            _copy: copy,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = if self.root == Path::new("/") {
            let mut c = Command::new("kea-dhcp4");
            c.args(args).current_dir(&self.inside);
            c
        } else {
            let mut c = Command::new("chroot");
            c.arg(&self.root)
                .args(["/bin/sh", "-c", r#"cd "$0" && exec kea-dhcp4 "$@""#])
                .arg(&self.inside)
                .args(args);
            c
        };
        c.env("KEA_LOCKFILE_DIR", &self.inside)
            .env("KEA_PIDFILE_DIR", &self.inside)
            .stdin(Stdio::null());
        c
    }

    fn version(&self) -> String {
        let out = self.command(&["-V"]).output().expect("run kea-dhcp4 -V");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_string()
    }

    /// (syntax accepted, whole check passed, Kea's message).
    fn check(&self, case: &str) -> (bool, bool, String) {
        let out = self
            .command(&["-d", "-t", case])
            .output()
            .expect("run kea-dhcp4 -t");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let syntax_ok = text.lines().any(|l| l.trim() == "Syntax check OK");
        let why = text
            .lines()
            .filter(|l| l.contains("Syntax check failed") || l.contains("Error encountered"))
            .collect::<Vec<_>>()
            .join(" | ");
        (syntax_ok, out.status.success(), why)
    }
}

fn checker_accepts(case: &str) -> (bool, String) {
    let out = Command::new(checker())
        .args(["--syntax-only", case])
        .current_dir(corpus())
        .output()
        .expect("run cisco-tftp-check");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

#[test]
fn checker_and_kea_agree_on_every_corpus_file_on_every_series() {
    if covered_by_host_pass() {
        eprintln!("checked for every series in the host's pass (KEA_SERIES unset)");
        return;
    }
    assert!(
        is_root(),
        "needs root (chroot into the Kea roots; kea-dhcp4 -t)"
    );
    let accepted = cases("accepted");
    let rejected = cases("rejected");
    let mut disagreements = Vec::new();
    let mut runs = 0;
    for (series, root) in series() {
        let kea = Kea::new(&series, &root);
        let version = kea.version();
        assert!(
            version.starts_with(&format!("{series}.")),
            "the Kea of series {series} ({}) says it is {version:?}",
            root.display()
        );
        let shipped_prefix = "accepted/shipped-kea-";
        let own_shipped = format!("{shipped_prefix}{series}.");
        assert!(
            accepted.iter().any(|c| c.starts_with(&own_shipped)),
            "no shipped kea-dhcp4.conf of Kea {series} in the corpus: copy that series' \
             /etc/kea/kea-dhcp4.conf to kea-hook/tests/kea-config-corpus/{own_shipped}X-debian-SUITE.conf"
        );
        for case in accepted.iter().chain(&rejected) {
            if case.starts_with(shipped_prefix) && !case.starts_with(&own_shipped) {
                continue;
            }
            runs += 1;
            let (kea_syntax, kea_whole, why) = kea.check(case);
            let (checker, said) = checker_accepts(case);
            let want = case.starts_with("accepted/");
            if kea_syntax != want || checker != want {
                disagreements.push(format!(
                    "Kea {version}: {case}: corpus says {}, kea-dhcp4 -t {} ({why}), checker {} ({said})",
                    verdict(want),
                    verdict(kea_syntax),
                    verdict(checker)
                ));
            } else if want && !kea_whole && !case.starts_with(shipped_prefix) {
                disagreements.push(format!(
                    "Kea {version}: {case}: syntax ok but `kea-dhcp4 -t` fails ({why}): \
                     hand-made cases must be valid configurations for every series"
                ));
            }
        }
        eprintln!("Kea {version} ({}): checked", kea.series);
    }
    assert!(runs > 0);
    assert!(
        disagreements.is_empty(),
        "{} disagreement(s):\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
}

fn verdict(accepted: bool) -> &'static str {
    if accepted {
        "accept"
    } else {
        "reject"
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A parameter with non-ASCII text: the checker's message is the one the hook's load() logs in
/// the host's real Kea, character for character (Kea hands load() its bytes one character
/// each, through `Element::str()`; `kea_config::kea_element_json` does the same).
#[test]
fn checker_message_equals_load_for_non_ascii_parameters() {
    use cisco_tftp_tests::config::Dhcp4Config;
    use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
    use cisco_tftp_tests::netns::Topology;
    use serde_json::json;

    let topo = Topology::new(1).unwrap();
    let params = json!({"servers": ["10.201.1.10"], "sites": [{"name": "café", "relays": ["10.0.0.é"], "servers": ["10.201.1.11"]}]});
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(&hook_library_path(), params)
        .build();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kea-dhcp4.conf");
    fs::write(&file, serde_json::to_vec(&json!({ "Dhcp4": cfg })).unwrap()).unwrap();
    let out = Command::new(checker()).arg(&file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(!out.status.success(), "{text}");
    let message = text
        .split("invalid: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no verdict on the entry: {text}"))
        .trim()
        .to_string();
    assert!(message.contains("10.0.0.Ã©"), "{message}");
    let log = match KeaServer::start(&topo.server, cfg) {
        Ok(_) => panic!("Kea loaded the hook with {message}"),
        Err(log) => log,
    };
    assert!(
        log.contains(&message),
        "Kea's log lacks {message:?}:\n{log}"
    );
}
