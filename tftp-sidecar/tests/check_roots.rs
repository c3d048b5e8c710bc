//! `tftp-sidecar check ROOT [--json]` on roots made here: a good one, and broken ones (a load
//! naming a missing image, a zero-size image, a config whose loadInformation does not
//! resolve, a model without its term file). Table for humans, JSON, exit status.

use std::fs;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

const SIP41: &str = "SIP41.9-4-2SR3-1S";
const IMAGES: [&str; 5] = [
    "apps41.9-4-2ES26.sbn",
    "cnu41.9-4-2ES26.sbn",
    "cvm41sip.9-4-2ES26.sbn",
    "dsp41.9-4-2ES26.sbn",
    "jar41sip.9-4-2ES26.sbn",
];

fn load_text(load: &str, images: &[&str]) -> String {
    let mut t = format!("# cisco-tftp placeholder load\nload {load}\n");
    for i in images {
        t.push_str(&format!("image {i} 1000\n"));
    }
    t
}

fn config(load: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n<device>\n  <loadInformation model=\"Cisco 7941\">{load}</loadInformation>\n</device>\n"
    )
}

/// A good root: SIP41 load, term41/term61, five images, two phone configs.
fn good_root(dir: &Path) {
    for i in IMAGES {
        fs::write(dir.join(i), vec![7u8; 1000]).unwrap();
    }
    let l = load_text(SIP41, &IMAGES);
    fs::write(dir.join(format!("{SIP41}.loads")), &l).unwrap();
    fs::write(dir.join("term41.default.loads"), &l).unwrap();
    fs::write(dir.join("term61.default.loads"), &l).unwrap();
    fs::write(dir.join("SEP001E4A794101.cnf.xml"), config(SIP41)).unwrap();
    fs::write(dir.join("SEP001E4A796101.cnf.xml"), config(SIP41)).unwrap();
}

fn check(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tftp-sidecar"))
        .arg("check")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn good_root_passes_with_table_and_json() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    let (code, out, err) = check(d.path(), &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(": 10 files, OK"), "{out}");
    assert!(
        out.contains("MODEL") && out.contains("term41.default.loads"),
        "{out}"
    );
    assert!(out.contains("7961"), "{out}");
    let (code, out, _) = check(d.path(), &["--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    let models: Vec<&str> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, vec!["7941", "7961"]);
    let sip = v["loads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["file"] == format!("{SIP41}.loads"))
        .unwrap();
    assert_eq!(sip["images"].as_array().unwrap().len(), 5);
    assert!(sip["images"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["status"] == "ok" && i["size"] == 1000));
    assert_eq!(v["configs"].as_array().unwrap().len(), 2);
}

#[test]
fn missing_image_is_reported_per_load_config_and_model() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    fs::remove_file(d.path().join("cvm41sip.9-4-2ES26.sbn")).unwrap();
    let (code, out, _) = check(d.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cvm41sip.9-4-2ES26.sbn missing"), "{out}");
    assert!(
        out.contains(&format!(
            "{SIP41}.loads names cvm41sip.9-4-2ES26.sbn, which is missing"
        )),
        "{out}"
    );
    let (_, out, _) = check(d.path(), &["--json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    let m41 = &v["models"][0];
    assert_eq!(m41["model"], "7941");
    assert_eq!(m41["ok"], false);
    let cfg = &v["configs"][0];
    assert_eq!(cfg["loads"][0]["exists"], true);
    assert_eq!(cfg["loads"][0]["complete"], false);
}

#[test]
fn zero_size_image_is_a_problem() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    fs::write(d.path().join("dsp41.9-4-2ES26.sbn"), b"").unwrap();
    let (code, out, _) = check(d.path(), &["--json"]);
    assert_eq!(code, 1);
    let v: Value = serde_json::from_str(&out).unwrap();
    let problems = v["problems"].to_string();
    assert!(
        problems.contains("dsp41.9-4-2ES26.sbn, which is empty (0 bytes)"),
        "{problems}"
    );
    let img = v["loads"][0]["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "dsp41.9-4-2ES26.sbn")
        .unwrap()
        .clone();
    assert_eq!(img["status"], "empty");
}

#[test]
fn unresolved_load_information_and_missing_term_file() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    fs::write(
        d.path().join("SEP001E4A7941EE.cnf.xml"),
        config("SIP41.9-4-3ES1"),
    )
    .unwrap();
    let (code, out, _) = check(d.path(), &["--model", "7962,8841"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("SEP001E4A7941EE.cnf.xml: loadInformation for Cisco 7941 SIP41.9-4-3ES1 does not resolve: SIP41.9-4-3ES1.loads is missing"),
        "{out}"
    );
    assert!(
        out.contains("model 7962: term62.default.loads is missing"),
        "{out}"
    );
    assert!(
        out.contains("model 8841: term8841.default.loads is missing"),
        "{out}"
    );
    // The good phones' rows still say ok.
    assert!(out
        .lines()
        .any(|l| l.starts_with("SEP001E4A794101.cnf.xml") && l.ends_with("ok")));
}

#[test]
fn binary_load_file_and_unreadable_root() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    // A signed-looking binary load: names between length bytes and NULs.
    let mut bin = vec![0x30, 0x82, 0x02, 0x00, 0x00, 0x01];
    for i in IMAGES {
        bin.push(i.len() as u8);
        bin.extend_from_slice(i.as_bytes());
        bin.extend_from_slice(&[0, 0xff, 0x13]);
    }
    bin.extend_from_slice(b"garbage \x00\x00 .sbn \x00");
    fs::write(d.path().join(format!("{SIP41}.loads")), &bin).unwrap();
    let (code, out, _) = check(d.path(), &["--json"]);
    assert_eq!(code, 0, "{out}");
    let (code, _, err) = check(&d.path().join("nope"), &[]);
    assert_eq!(code, 2);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn case_insensitive_lookup_matches_the_server_option() {
    let d = tempfile::tempdir().unwrap();
    good_root(d.path());
    // A load that spells an image in upper case, as some guides do.
    let mut names: Vec<String> = IMAGES.iter().map(|s| s.to_string()).collect();
    names[4] = "JAR41SIP.9-4-2ES26.SBN".into();
    let refs: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
    fs::write(
        d.path().join(format!("{SIP41}.loads")),
        load_text(SIP41, &refs),
    )
    .unwrap();
    let (code, out, _) = check(d.path(), &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("JAR41SIP.9-4-2ES26.SBN missing"), "{out}");
    let (code, out, _) = check(d.path(), &["--case-insensitive"]);
    assert_eq!(code, 0, "{out}");
}
