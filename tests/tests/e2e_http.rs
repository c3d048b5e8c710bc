//! End to end in namespaces, phones asking over HTTP on 6970 first (issue 10): an 8841 boots
//! over HTTP and a 7941 over TFTP from the same sidecar, and the metrics and
//! `/api/v1/phones` tell them apart; with the sidecar's HTTP listener off, the 8841 falls
//! back to TFTP file by file and still boots, and the metrics and phones table say TFTP.
//!
//! Needs root, `cargo build -p kea-hook` and `cargo build -p tftp-sidecar` (`make test` does).

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use cisco_tftp_tests::boot::{boot_many, summary, BootConfig, BootPhone, BootResult};
use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::firmware::{self, generate, RootSpec, M7941, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::metrics::metric_sum;
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;
use tftp_sidecar::file_class::FileClass;

const P8841: [u8; 6] = [0x00, 0x1e, 0x4a, 0x88, 0x41, 0x10];
const P7941: [u8; 6] = [0x00, 0x1e, 0x4a, 0x79, 0x41, 0x10];

struct Run {
    results: Vec<BootResult>,
    metrics: String,
    phones: Value,
    report: String,
}

/// Kea + hook + the sidecar (extra TOML lines `sidecar_toml`), then boot `phones`.
fn boot_through(sidecar_toml: &str, phones: &[BootPhone]) -> Run {
    let topo = Topology::new(1).expect("topology");
    let link = topo.link(1);
    let server_ip = link.server_addr;
    let root_dir = tempfile::tempdir().unwrap();
    let mut spec = RootSpec::new().load_bytes(300_000);
    for p in phones {
        spec = spec.phone(p.mac, p.model);
    }
    let root = generate(root_dir.path(), &spec).unwrap();
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [server_ip.to_string()]}),
        )
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).expect("kea starts");
    let sidecar =
        Sidecar::serve_root(&topo.server, root_dir.path(), sidecar_toml).expect("sidecar starts");
    let lines = Mutex::new(Vec::<String>::new());
    let log = |_: usize, l: &str| lines.lock().unwrap().push(l.to_string());
    let mut bcfg = BootConfig::broadcast_on(link);
    bcfg.keep_data = true;
    bcfg.retry_delay = Duration::from_millis(300);
    let t = std::time::Instant::now();
    let results = boot_many(phones, &bcfg, &log);
    let report = format!(
        "{}\n{}\n--- sidecar log ---\n{}",
        lines.lock().unwrap().join("\n"),
        summary(&results, t.elapsed()),
        sidecar.log_text()
    );
    eprintln!("{report}");
    for r in &results {
        assert!(r.ok(), "{} failed: {:?}\n{report}", r.model, r.failure);
        for f in r.files.iter().filter(|f| f.outcome == "ok") {
            assert!(
                f.data.as_ref() == Some(&root.read(&f.name).unwrap()),
                "{} {}: bytes differ",
                r.model,
                f.name
            );
        }
    }
    let (status, body) = sidecar.get("/api/v1/phones").unwrap();
    assert_eq!(status, 200);
    Run {
        results,
        metrics: sidecar.metrics_text(),
        phones: serde_json::from_str(&body).unwrap(),
        report,
    }
}

fn phone(v: &Value, mac: &[u8; 6]) -> Value {
    let mac = firmware::mac_text(mac).replace(':', "").to_uppercase();
    v["phones"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["mac"] == mac)
        .unwrap_or_else(|| panic!("{mac} not in {v}"))
        .clone()
}

fn fw_bytes(m: &str, protocol: &str) -> f64 {
    let p = format!("protocol=\"{protocol}\"");
    metric_sum(m, "tftp_bytes_sent_total", &[r#"class="firmware""#, &p])
}

#[test]
fn an_8841_boots_over_http_and_a_7941_over_tftp_from_one_sidecar() {
    let run = boot_through(
        "",
        &[
            BootPhone {
                mac: P8841,
                model: M8841,
            },
            BootPhone {
                mac: P7941,
                model: M7941,
            },
        ],
    );
    let r = &run.report;
    let by_model = |m: &str| run.results.iter().find(|x| x.model == m).unwrap();
    let (p88, p79) = (by_model("8841"), by_model("7941"));
    assert_eq!(p88.via(), "http", "{r}");
    assert!(p88.files.iter().all(|f| f.protocol == "http"), "{r}");
    assert_eq!(p79.via(), "tftp", "{r}");
    assert!(p79.files.iter().all(|f| f.protocol == "tftp"), "{r}");
    // The bytes each sent, by protocol: all of the 8841's over HTTP, the 7941's over TFTP.
    let fw = |p: &BootResult| {
        p.files
            .iter()
            .filter(|f| FileClass::of(&f.name) == FileClass::Firmware)
            .map(|f| f.bytes)
            .sum::<u64>() as f64
    };
    assert_eq!(fw_bytes(&run.metrics, "http"), fw(p88), "{}", run.metrics);
    assert_eq!(fw_bytes(&run.metrics, "tftp"), fw(p79), "{}", run.metrics);
    assert_eq!(
        phone(&run.phones, &P8841)["protocol"],
        "http",
        "{}",
        run.phones
    );
    assert_eq!(phone(&run.phones, &P7941)["protocol"], "tftp");
}

#[test]
fn with_http_off_the_8841_falls_back_to_tftp_and_the_sidecar_says_so() {
    let run = boot_through(
        "http_listen = \"off\"",
        &[BootPhone {
            mac: P8841,
            model: M8841,
        }],
    );
    let r = &run.report;
    let p = &run.results[0];
    assert_eq!(p.via(), "tftp (fell back)", "{r}");
    // Every file: HTTP refused, then TFTP.
    for f in &p.files {
        assert_eq!(f.protocol, "tftp", "{f:?}");
        assert!(f.http_failed.is_some(), "{f:?}");
    }
    assert!(r.contains("HTTP on"), "the transcript shows the fallback");
    let m = &run.metrics;
    assert_eq!(
        metric_sum(m, "tftp_transfers_started_total", &[r#"protocol="http""#]),
        0.0,
        "{m}"
    );
    assert!(fw_bytes(m, "tftp") > 300_000.0, "{m}");
    assert_eq!(
        metric_sum(m, "tftp_phones_by_protocol", &[r#"protocol="tftp""#]),
        1.0
    );
    assert_eq!(
        metric_sum(m, "tftp_phones_by_protocol", &[r#"protocol="http""#]),
        0.0
    );
    assert_eq!(phone(&run.phones, &P8841)["protocol"], "tftp");
}
