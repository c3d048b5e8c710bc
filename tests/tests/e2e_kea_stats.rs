//! The sidecar's Kea exporter against the real Kea with the cisco-tftp hook: after phones of
//! three families and a PC get DHCP, `tftp_kea_*` metrics equal Kea's own statistics and what
//! the hook did; with Kea stopped, `tftp_kea_up` is 0 and TFTP is still served.

use std::net::{IpAddr, SocketAddr};

use serde_json::json;

use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::dhcp::{Client, Phone};
use cisco_tftp_tests::firmware::{generate, RootSpec, M7921, M7941, M7961, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::metrics::{metric_sum, metric_value};
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;
use cisco_tftp_tests::tftp::{self, ClientConfig};

#[test]
fn kea_counters_in_the_sidecar_scrape_and_kea_down() {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let root = tempfile::tempdir().unwrap();
    generate(root.path(), &RootSpec::new().load_bytes(20_000)).unwrap();
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [link.server_addr.to_string()]}),
        )
        .build();
    let mut kea = KeaServer::start(&topo.server, cfg).unwrap();
    let kea_toml = format!(
        "\n[kea]\ncontrol-socket = {:?}\npoll-interval = 0.2",
        kea.socket_path()
    );
    let sidecar = Sidecar::serve_root(&topo.server, root.path(), &kea_toml).unwrap();
    let m = sidecar.wait_metric("tftp_kea_up", "", 1.0);
    assert_eq!(
        metric_value(&m, "tftp_kea_up", ""),
        Some(1.0),
        "{m}\n{}",
        sidecar.log_text()
    );

    // Two 79xx phones, an 88xx, a 7921 (wireless) and a PC.
    let client = Client::on_link(link).unwrap();
    let phones = [
        ([0, 0x1e, 0x4a, 0x79, 0x41, 1], M7941.vendor_class),
        ([0, 0x1e, 0x4a, 0x79, 0x61, 1], M7961.vendor_class),
        ([0, 0x1e, 0x4a, 0x88, 0x41, 1], M8841.vendor_class),
        ([0, 0x1e, 0x4a, 0x79, 0x21, 1], M7921.vendor_class),
        ([0, 0x50, 0x56, 0, 0, 1], &b"MSFT 5.0"[..]),
    ];
    for (mac, vc) in phones {
        let d = client.dora(&Phone::cisco(mac, vc)).unwrap();
        let want = if vc.starts_with(b"MSFT") { 0 } else { 1 };
        assert_eq!(d.ack.option_count(150), want);
    }

    // Each phone got option 150 in its OFFER and its ACK: the hook counted 2 per phone.
    let stat = |n: &str| kea.statistic(n).unwrap().unwrap_or(0) as f64;
    assert_eq!(stat("cisco-tftp.option-150-sent.79xx"), 4.0);
    let m = sidecar.wait_metric(
        "tftp_kea_packets_total",
        r#"direction="sent",type="ack""#,
        stat("pkt4-ack-sent"),
    );
    for (family, want) in [
        ("79xx", 4.0),
        ("88xx", 2.0),
        ("wireless", 2.0),
        ("spa", 0.0),
    ] {
        assert_eq!(
            metric_value(
                &m,
                "tftp_kea_option150_sent_total",
                &format!("family=\"{family}\"")
            ),
            Some(want),
            "{family}: {m}"
        );
        assert_eq!(
            stat(&format!("cisco-tftp.option-150-sent.{family}")),
            want,
            "{family}"
        );
    }
    assert_eq!(
        metric_value(&m, "tftp_kea_hook_errors_total", ""),
        Some(0.0)
    );
    assert_eq!(
        metric_value(&m, "tftp_kea_skipped_total", r#"reason="no_policy""#),
        Some(stat("cisco-tftp.skipped.no-policy"))
    );
    for (dir, ty, kea_name) in [
        ("received", "discover", "pkt4-discover-received"),
        ("received", "request", "pkt4-request-received"),
        ("sent", "offer", "pkt4-offer-sent"),
        ("sent", "ack", "pkt4-ack-sent"),
    ] {
        let labels = format!("direction=\"{dir}\",type=\"{ty}\"");
        assert_eq!(
            metric_value(&m, "tftp_kea_packets_total", &labels),
            Some(stat(kea_name)),
            "{labels}: {m}"
        );
        assert_eq!(stat(kea_name), 5.0, "{kea_name}");
    }

    // Kea stops: tftp_kea_up drops to 0, the counters stay, TFTP goes on.
    kea.stop();
    let m = sidecar.wait_metric("tftp_kea_up", "", 0.0);
    assert_eq!(metric_value(&m, "tftp_kea_up", ""), Some(0.0), "{m}");
    assert_eq!(
        metric_value(&m, "tftp_kea_option150_sent_total", r#"family="79xx""#),
        Some(4.0)
    );
    let server = SocketAddr::new(IpAddr::V4(link.server_addr), 69);
    let got = link
        .ns
        .run(move || {
            tftp::Client::any(ClientConfig::default())
                .unwrap()
                .get(server, "SIP41.9-4-2SR3-1S.loads")
        })
        .unwrap()
        .expect("TFTP still served with Kea down");
    assert_eq!(
        got.data,
        std::fs::read(root.path().join("SIP41.9-4-2SR3-1S.loads")).unwrap()
    );
    let m = sidecar.metrics_text();
    assert!(
        metric_value(&m, "tftp_kea_polls_total", r#"result="error""#).unwrap() >= 1.0,
        "{m}"
    );
    assert_eq!(
        metric_sum(
            &m,
            "tftp_transfers_completed_total",
            &[r#"class="firmware""#]
        ),
        1.0
    );
}
