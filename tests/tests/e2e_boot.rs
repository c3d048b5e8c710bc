//! End to end in namespaces: simulated 7941, 7961, 8841 and 7921 phones get DHCP from the real
//! Kea with the cisco-tftp hook, then fetch their whole boot sequence from the real
//! `tftp-sidecar` binary in the server namespace. The fetched bytes equal the served files; a
//! phone whose load names a missing image fails, and the simulator, `/api/v1/phones` and the
//! metrics all say so.
//!
//! Needs root, `cargo build -p kea-hook` and `cargo build -p tftp-sidecar` (`make test` does).

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use cisco_tftp_tests::boot::{boot, boot_many, summary, BootConfig, BootPhone, Stage};
use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::dhcp::Transport;
use cisco_tftp_tests::firmware::{self, generate, RootSpec, M7921, M7941, M7961, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::metrics::metric_sum;
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;

const BROKEN_LOAD: &str = "SIP41.9-4-3ES1";
const MISSING_IMAGE: &str = "apps41.9-4-3ES1.sbn";

#[test]
fn phones_of_four_models_boot_through_kea_hook_and_sidecar() {
    let started = Instant::now();
    let topo = Topology::new(1).expect("topology");
    let link = topo.link(1);
    let server_ip = link.server_addr; // 10.201.1.1: option 150 points here

    // The TFTP root: placeholder firmware, a config per phone, and one broken load.
    let root_dir = tempfile::tempdir().unwrap();
    let macs = [
        ([0x00, 0x1e, 0x4a, 0x79, 0x41, 0x01], M7941),
        ([0x00, 0x1e, 0x4a, 0x79, 0x61, 0x01], M7961),
        ([0x00, 0x1e, 0x4a, 0x88, 0x41, 0x01], M8841),
    ];
    let relay_phone = ([0x00, 0x1e, 0x4a, 0x79, 0x21, 0x01], M7921);
    let broken = [0x00, 0x1e, 0x4a, 0x79, 0x41, 0xee];
    let mut spec = RootSpec::new().load_bytes(300_000);
    for (mac, m) in macs.iter().chain([&relay_phone]) {
        spec = spec.phone(*mac, *m);
    }
    spec = spec.phone_with_load(broken, M7941, BROKEN_LOAD);
    let root = generate(root_dir.path(), &spec).unwrap();
    // The broken load: one image it names was never put on the server.
    let mut images: Vec<(String, Option<u64>)> = M7941
        .image_sizes(300_000)
        .iter()
        .skip(1)
        .map(|(n, s)| (n.to_string(), Some(*s)))
        .collect();
    images.insert(0, (MISSING_IMAGE.to_string(), Some(90_000)));
    firmware::write_load(
        root_dir.path(),
        &format!("{BROKEN_LOAD}.loads"),
        BROKEN_LOAD,
        &images,
    )
    .unwrap();

    // Kea with the hook: every Cisco phone gets option 150 = the sidecar's address.
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [server_ip.to_string()]}),
        )
        .build();
    let kea = KeaServer::start(&topo.server, cfg).expect("kea starts");

    // The sidecar in the server namespace, on port 69 like a real TFTP server.
    let sidecar = Sidecar::serve_root(&topo.server, root_dir.path(), "").expect("sidecar starts");

    let lines = Mutex::new(Vec::<String>::new());
    let log = |_: usize, l: &str| lines.lock().unwrap().push(l.to_string());
    let mut bcfg = BootConfig::broadcast_on(link);
    bcfg.keep_data = true;
    bcfg.retry_delay = Duration::from_millis(300);
    let mut phones: Vec<BootPhone> = macs
        .iter()
        .map(|(mac, model)| BootPhone {
            mac: *mac,
            model: *model,
        })
        .collect();
    phones.push(BootPhone {
        mac: broken,
        model: M7941,
    });
    let t = Instant::now();
    let mut results = boot_many(&phones, &bcfg, &log);
    // The 7921 is at a branch behind the relay of link 1.
    let mut rcfg = BootConfig::new(Transport::Relay {
        relay: link.relay_addr,
        server: link.server_addr,
    });
    rcfg.netns = bcfg.netns.clone();
    rcfg.keep_data = true;
    results.push(boot(
        &BootPhone {
            mac: relay_phone.0,
            model: relay_phone.1,
        },
        &rcfg,
        &log,
    ));
    let wall = t.elapsed();
    let report = format!(
        "{}\n{}\n--- sidecar log ---\n{}",
        lines.lock().unwrap().join("\n"),
        summary(&results, wall),
        sidecar.log_text()
    );
    eprintln!("{report}");

    // Every good phone is up, fetched exactly the served bytes, in the phone's order.
    for r in results
        .iter()
        .filter(|r| r.mac != firmware::mac_text(&broken))
    {
        assert!(
            r.ok(),
            "{} {} failed: {:?}\n{report}",
            r.model,
            r.mac,
            r.failure
        );
        assert_eq!(r.option150, Some(vec![server_ip]), "{report}");
        assert_eq!(r.tftp_server, Some(IpAddr::V4(server_ip)));
        let model = firmware::Model::by_name(&r.model).unwrap();
        let sep = &r.name;
        let mut expected = vec![
            format!("CTL{sep}.tlv"),
            format!("ITL{sep}.tlv"),
            "ITLFile.tlv".to_string(),
            format!("{sep}.cnf.xml"),
            model.load_file(),
        ];
        expected.extend(model.images.iter().map(|(n, _)| n.to_string()));
        let asked: Vec<&str> = r.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(asked, expected, "{report}");
        for f in &r.files[..3] {
            assert_eq!(f.outcome, "absent", "trust lists are absent: {f:?}");
        }
        for f in &r.files[3..] {
            let served = root.read(&f.name).unwrap();
            assert_eq!(f.outcome, "ok", "{f:?}");
            assert!(
                f.data.as_ref() == Some(&served),
                "{} {}: bytes differ",
                r.model,
                f.name
            );
        }
        let image_bytes: u64 = model.image_sizes(300_000).iter().map(|(_, s)| s).sum();
        assert!(r.bytes > image_bytes, "{}: {} bytes", r.model, r.bytes);
    }

    // The broken phone: the simulator says which image is missing.
    let b = results
        .iter()
        .find(|r| r.mac == firmware::mac_text(&broken))
        .unwrap();
    assert!(!b.ok(), "{report}");
    assert_eq!(b.failed_stage, Some(Stage::Image));
    let why = b.failure.as_deref().unwrap();
    assert!(
        why.contains(MISSING_IMAGE) && why.contains("not found"),
        "{why}"
    );
    assert_eq!(b.load.as_deref(), Some(BROKEN_LOAD));

    // /api/v1/phones: every phone seen, the broken one stuck on the missing image.
    let (status, body) = sidecar.get("/api/v1/phones").unwrap();
    assert_eq!(status, 200);
    let v: Value = serde_json::from_str(&body).unwrap();
    let phones_json = v["phones"].as_array().unwrap();
    let entry = |sep: &str| {
        phones_json
            .iter()
            .find(|p| p["mac"] == sep.trim_start_matches("SEP"))
            .unwrap_or_else(|| panic!("{sep} not in {body}"))
    };
    for r in &results {
        let e = entry(&r.name);
        assert_eq!(e["address"], r.address.unwrap().to_string(), "{e}");
        if r.ok() {
            assert_eq!(e["last_outcome"], "completed", "{e}");
            assert!(e["firmware_bytes"].as_u64().unwrap() > 0, "{e}");
        }
    }
    let e = entry(&firmware::sep_name(&broken));
    assert_eq!(e["last_outcome"], "not_found", "{e}");
    assert_eq!(e["last_file"], MISSING_IMAGE, "{e}");

    // The metrics: one firmware transfer not found (the broken phone's image), every good
    // phone's images completed, trust lists not found as expected.
    let m = sidecar.metrics_text();
    assert_eq!(
        // Summed over protocols: 88xx phones may use HTTP.
        metric_sum(
            &m,
            "tftp_transfers_failed_total",
            &[r#"class="firmware""#, r#"outcome="not_found""#]
        ),
        1.0,
        "{m}"
    );
    let good_images: usize = results
        .iter()
        .filter(|r| r.ok())
        .map(|r| firmware::Model::by_name(&r.model).unwrap().images.len() + 1)
        .sum();
    // Plus the broken phone's load file.
    assert_eq!(
        metric_sum(
            &m,
            "tftp_transfers_completed_total",
            &[r#"class="firmware""#]
        ),
        good_images as f64 + 1.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(
            &m,
            "tftp_transfers_failed_total",
            &[r#"class="trust_list""#, r#"outcome="not_found""#]
        ),
        3.0 * results.len() as f64
    );
    assert!(kea.is_running());
    assert!(
        started.elapsed() < Duration::from_secs(90),
        "took {:?}",
        started.elapsed()
    );
}
