//! The command-line tools end to end: `phone-sim boot` boots phones of every model through
//! Kea + hook + tftp-sidecar and says so (text and JSON, exit status); `tftp-sidecar check`
//! passes the generated example root and fails it once an image is gone.

use std::process::Command;

use serde_json::{json, Value};

use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::firmware::{generate, RootSpec, M7941};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::{phone_sim_path, sidecar_binary_path, Sidecar};

#[test]
fn phone_sim_boot_many_phones_text_and_json() {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let root = tempfile::tempdir().unwrap();
    generate(root.path(), &RootSpec::new().load_bytes(200_000)).unwrap();
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [link.server_addr.to_string()]}),
        )
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).unwrap();
    let sidecar = Sidecar::serve_root(&topo.server, root.path(), "").unwrap();

    // Eight phones, two of each model; no per-phone configs: XMLDefault.cnf.xml.
    let out = Command::new(phone_sim_path())
        .args(["--netns", link.ns.name(), "boot", "--iface", "eth0"])
        .args(["--count", "8", "--models", "7941,7961,8841,7921"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        sidecar.log_text()
    );
    assert!(text.contains("8 of 8 phones up, 0 failed"), "{text}");
    assert!(
        text.contains("SEP001E4A794101.cnf.xml: not found"),
        "{text}"
    );
    assert!(text.contains("XMLDefault.cnf.xml"), "{text}");
    assert!(
        text.contains("SEP001E4A884102  8841"),
        "generated MACs carry the model: {text}"
    );

    // JSON, one phone behind the relay, and a model-less MAC given by hand.
    let out = Command::new(phone_sim_path())
        .args(["--netns", link.ns.name(), "--json", "boot"])
        .args(["--relay", &link.relay_addr.to_string()])
        .args(["--server", &link.server_addr.to_string()])
        .args([
            "--phone",
            "7921=00:1e:4a:00:00:21",
            "--blksize",
            "1428",
            "--tsize",
        ])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    assert_eq!(out.status.code(), Some(0), "{v}");
    assert_eq!(v["summary"]["up"], 1);
    let p = &v["phones"][0];
    assert_eq!(p["model"], "7921");
    assert_eq!(p["load"], "CP7921G-1.4.6.3");
    assert!(p["address"].as_str().unwrap().starts_with("10.211.1."));
    assert!(p["bytes"].as_u64().unwrap() > 190_000, "{p}");
}

#[test]
fn phone_sim_boot_reports_failure_with_exit_4() {
    // No TFTP server at all: option 150 points at an address nobody answers on.
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(&hook_library_path(), json!({"servers": ["10.201.1.77"]}))
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).unwrap();
    let out = Command::new(phone_sim_path())
        .args(["--netns", link.ns.name(), "boot", "--iface", "eth0"])
        .args(["--phone", "7941=00:1e:4a:79:41:09"])
        .args([
            "--timeout-ms",
            "100",
            "--retries",
            "1",
            "--file-attempts",
            "1",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{text}");
    assert!(text.contains("0 of 1 phones up, 1 failed"), "{text}");
    assert!(text.contains("CTLSEP001E4A794109.tlv: timed out"), "{text}");
}

#[test]
fn tftp_sidecar_check_on_the_generated_example_root() {
    let root = tempfile::tempdir().unwrap();
    let spec = RootSpec::new()
        .load_bytes(50_000)
        .phone([0, 0x1e, 0x4a, 0x79, 0x41, 1], M7941);
    generate(root.path(), &spec).unwrap();
    let run = |extra: &[&str]| {
        Command::new(sidecar_binary_path())
            .arg("check")
            .arg(root.path())
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&["--model", "7941,7961,8841,7921"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for m in ["7941", "7961", "8841", "7921"] {
        assert!(
            text.lines().any(|l| l.starts_with(m) && l.ends_with("ok")),
            "{m}: {text}"
        );
    }
    std::fs::remove_file(root.path().join("rootfs88xx.12-8-1-0001-455.sbn")).unwrap();
    let out = run(&["--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m88 = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["model"] == "8841")
        .unwrap();
    assert_eq!(m88["ok"], false, "{m88}");
    assert!(v["problems"]
        .to_string()
        .contains("rootfs88xx.12-8-1-0001-455.sbn, which is missing"));
}
