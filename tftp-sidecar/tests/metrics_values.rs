//! Metrics: exact values after a known sequence, every label set present at zero, phone table.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tftp_sidecar::file_class::FileClass;
use tftp_sidecar::metrics::{Metrics, OriginOutcome, Outcome, Protocol, RejectReason, Tier};
use tftp_sidecar::phones::PhoneTable;
use tftp_sidecar::store::StoreEvents;

#[path = "../../tests/src/metrics.rs"]
mod metrics_text;

/// `name{k="v",...}` (labels sorted) -> value, from the text exposition format.
fn parse(text: &str) -> BTreeMap<String, f64> {
    metrics_text::series(text)
}

fn get(m: &BTreeMap<String, f64>, key: &str) -> f64 {
    *m.get(key)
        .unwrap_or_else(|| panic!("series {key} missing; have {:#?}", m.keys()))
}

/// The metrics and a phone table whose gauges are registered in them, as `main` wires them.
fn with_phones(capacity: usize) -> (Metrics, PhoneTable) {
    let metrics = Metrics::new();
    let phones = PhoneTable::registered(capacity, metrics.registry());
    (metrics, phones)
}

#[test]
fn every_label_set_starts_at_zero() {
    let (metrics, _phones) = with_phones(16);
    let m = parse(&metrics.render());
    // Labels sort alphabetically in these keys: class < outcome < protocol < reason.
    for protocol in ["tftp", "http"] {
        let p = format!("protocol=\"{protocol}\"");
        for class in ["firmware", "config", "trust_list", "other"] {
            let c = format!("class=\"{class}\"");
            for name in [
                "tftp_transfers_started_total",
                "tftp_transfers_completed_total",
                "tftp_bytes_sent_total",
                "tftp_transfer_duration_seconds_count",
            ] {
                assert_eq!(get(&m, &format!("{name}{{{c},{p}}}")), 0.0);
            }
            for outcome in [
                "client_error",
                "timed_out",
                "not_found",
                "access_denied",
                "unavailable",
                "aborted",
            ] {
                let key = format!("tftp_transfers_failed_total{{{c},outcome=\"{outcome}\",{p}}}");
                assert_eq!(get(&m, &key), 0.0);
            }
        }
        for reason in [
            "busy",
            "per_client_busy",
            "path",
            "write",
            "netascii",
            "malformed",
            "method",
            "timeout",
        ] {
            let key = format!("tftp_requests_rejected_total{{{p},reason=\"{reason}\"}}");
            assert_eq!(get(&m, &key), 0.0);
        }
        let key = format!("tftp_phones_by_protocol{{{p}}}");
        assert_eq!(get(&m, &key), 0.0);
    }
    for code in ["0", "1", "2", "3", "4", "5", "6", "7", "8", "other"] {
        assert_eq!(
            get(&m, &format!("tftp_errors_sent_total{{code=\"{code}\"}}")),
            0.0
        );
    }
    for tier in ["memory", "disk"] {
        assert_eq!(
            get(&m, &format!("tftp_cache_hits_total{{tier=\"{tier}\"}}")),
            0.0
        );
        assert_eq!(
            get(
                &m,
                &format!("tftp_cache_evictions_total{{tier=\"{tier}\"}}")
            ),
            0.0
        );
        assert_eq!(
            get(&m, &format!("tftp_cache_bytes{{tier=\"{tier}\"}}")),
            0.0
        );
    }
    for o in ["ok", "not_modified", "not_found", "error", "timeout"] {
        assert_eq!(
            get(
                &m,
                &format!("tftp_origin_requests_total{{outcome=\"{o}\"}}")
            ),
            0.0
        );
    }
    for name in [
        "tftp_retransmits_total",
        "tftp_active_sessions",
        "tftp_cache_misses_total",
        "tftp_cache_coalesced_waits_total",
        "tftp_cache_corrupt_entries_total",
        "tftp_cache_stale_served_total",
        "tftp_negative_cache_hits_total",
        "tftp_origin_request_duration_seconds_count",
        "tftp_phones_tracked",
        "tftp_phones_fell_back",
        "tftp_http_connections",
    ] {
        assert_eq!(get(&m, name), 0.0, "{name}");
    }
    // Label sets are fixed: 2 protocols x 4 classes x 6 failure outcomes, no more.
    let failed = m
        .keys()
        .filter(|k| k.starts_with("tftp_transfers_failed_total{"))
        .count();
    assert_eq!(failed, 48);
}

#[test]
fn values_after_a_known_sequence() {
    let (metrics, phones) = with_phones(16);
    let phone: SocketAddr = "10.0.0.7:50000".parse().unwrap();
    // A phone boots: trust lists absent, config, then one firmware image.
    for name in ["CTLSEP00AABBCCDDEE.tlv", "ITLSEP00AABBCCDDEE.tlv"] {
        metrics.error_sent(1);
        phones.observe(
            name,
            phone,
            Protocol::Tftp,
            FileClass::TrustList,
            0,
            Outcome::NotFound,
        );
    }
    metrics.session_opened();
    metrics.transfer_started(Protocol::Tftp, FileClass::Config);
    metrics.transfer_finished(
        Protocol::Tftp,
        FileClass::Config,
        Outcome::Completed,
        4096,
        Duration::from_millis(20),
    );
    metrics.session_closed();
    phones.observe(
        "SEP00AABBCCDDEE.cnf.xml",
        phone,
        Protocol::Tftp,
        FileClass::Config,
        4096,
        Outcome::Completed,
    );
    metrics.session_opened();
    metrics.transfer_started(Protocol::Tftp, FileClass::Firmware);
    metrics.retransmits(3);
    metrics.transfer_finished(
        Protocol::Tftp,
        FileClass::Firmware,
        Outcome::Completed,
        7_100_000,
        Duration::from_secs(9),
    );
    metrics.session_closed();
    phones.observe(
        "Jar41sip.9-4-2ES26.sbn",
        SocketAddr::new(phone.ip(), 50001),
        Protocol::Tftp,
        FileClass::Firmware,
        7_100_000,
        Outcome::Completed,
    );
    // A second firmware transfer, still running.
    metrics.session_opened();
    metrics.transfer_started(Protocol::Tftp, FileClass::Firmware);
    // Another client vanishes mid-transfer; one more is refused.
    metrics.transfer_started(Protocol::Tftp, FileClass::Firmware);
    metrics.transfer_finished(
        Protocol::Tftp,
        FileClass::Firmware,
        Outcome::TimedOut,
        1024,
        Duration::from_secs(700),
    );
    metrics.error_sent(0);
    metrics.error_sent(2);
    metrics.error_sent(42);
    metrics.request_rejected(Protocol::Tftp, RejectReason::Busy);
    metrics.request_rejected(Protocol::Tftp, RejectReason::Write);
    metrics.request_rejected(Protocol::Tftp, RejectReason::Write);
    metrics.cache_hit(Tier::Memory);
    metrics.cache_miss();
    metrics.coalesced_wait();
    metrics.cache_evicted(Tier::Memory, 2);
    metrics.cache_bytes(Tier::Memory, 12345);
    metrics.stale_served();
    metrics.negative_hit();
    metrics.origin_request(OriginOutcome::Ok, Duration::from_millis(3));
    metrics.origin_request(OriginOutcome::NotFound, Duration::from_millis(2));

    let m = parse(&metrics.render());
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_started_total{class="firmware",protocol="tftp"}"#
        ),
        3.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_started_total{class="config",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_started_total{class="trust_list",protocol="tftp"}"#
        ),
        0.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_completed_total{class="firmware",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_completed_total{class="config",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfers_failed_total{class="firmware",outcome="timed_out",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_bytes_sent_total{class="firmware",protocol="tftp"}"#
        ),
        7_101_024.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_bytes_sent_total{class="config",protocol="tftp"}"#
        ),
        4096.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_count{class="firmware",protocol="tftp"}"#
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_sum{class="firmware",protocol="tftp"}"#
        ),
        709.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_bucket{class="firmware",le="10",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_bucket{class="firmware",le="600",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_bucket{class="firmware",le="+Inf",protocol="tftp"}"#
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_transfer_duration_seconds_bucket{class="config",le="0.025",protocol="tftp"}"#
        ),
        1.0
    );
    assert_eq!(get(&m, "tftp_retransmits_total"), 3.0);
    assert_eq!(get(&m, "tftp_active_sessions"), 1.0);
    assert_eq!(get(&m, r#"tftp_errors_sent_total{code="0"}"#), 1.0);
    assert_eq!(get(&m, r#"tftp_errors_sent_total{code="1"}"#), 2.0);
    assert_eq!(get(&m, r#"tftp_errors_sent_total{code="2"}"#), 1.0);
    assert_eq!(get(&m, r#"tftp_errors_sent_total{code="other"}"#), 1.0);
    assert_eq!(
        get(
            &m,
            r#"tftp_requests_rejected_total{protocol="tftp",reason="busy"}"#
        ),
        1.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_requests_rejected_total{protocol="tftp",reason="write"}"#
        ),
        2.0
    );
    assert_eq!(
        get(
            &m,
            r#"tftp_requests_rejected_total{protocol="tftp",reason="path"}"#
        ),
        0.0
    );
    assert_eq!(get(&m, r#"tftp_cache_hits_total{tier="memory"}"#), 1.0);
    assert_eq!(get(&m, r#"tftp_cache_hits_total{tier="disk"}"#), 0.0);
    assert_eq!(get(&m, "tftp_cache_misses_total"), 1.0);
    assert_eq!(get(&m, "tftp_cache_coalesced_waits_total"), 1.0);
    assert_eq!(get(&m, r#"tftp_cache_evictions_total{tier="memory"}"#), 2.0);
    assert_eq!(get(&m, r#"tftp_cache_bytes{tier="memory"}"#), 12345.0);
    assert_eq!(get(&m, "tftp_cache_stale_served_total"), 1.0);
    assert_eq!(get(&m, "tftp_negative_cache_hits_total"), 1.0);
    assert_eq!(get(&m, r#"tftp_origin_requests_total{outcome="ok"}"#), 1.0);
    assert_eq!(
        get(&m, r#"tftp_origin_requests_total{outcome="not_found"}"#),
        1.0
    );
    assert_eq!(get(&m, "tftp_origin_request_duration_seconds_count"), 2.0);
    assert_eq!(get(&m, "tftp_phones_tracked"), 1.0);

    let snap = phones.snapshot();
    assert_eq!(snap["count"], 1);
    let p = &snap["phones"][0];
    assert_eq!(p["mac"], "00AABBCCDDEE");
    assert_eq!(p["address"], "10.0.0.7");
    assert_eq!(p["last_file"], "Jar41sip.9-4-2ES26.sbn");
    assert_eq!(p["last_firmware"], "Jar41sip.9-4-2ES26.sbn");
    assert_eq!(p["firmware_bytes"], 7_100_000);
    assert_eq!(p["last_outcome"], "completed");
    assert_eq!(p["transfers"], 4);
    let seen = p["last_seen"].as_str().unwrap();
    assert!(
        seen.len() == 24 && seen.ends_with('Z') && &seen[10..11] == "T",
        "{seen}"
    );
}

#[test]
fn phone_table_is_bounded_and_evicts_least_recent() {
    let (metrics, t) = with_phones(8);
    let t = &t;
    for i in 0..100u32 {
        let addr: SocketAddr = format!("10.1.{}.{}:1000", i / 256, i % 256)
            .parse()
            .unwrap();
        let name = format!("SEP{:012X}.cnf.xml", i);
        t.observe(
            &name,
            addr,
            Protocol::Tftp,
            FileClass::Config,
            100,
            Outcome::Completed,
        );
        assert!(t.len() <= 8);
    }
    assert_eq!(t.len(), 8);
    let snap = t.snapshot();
    assert_eq!(snap["capacity"], 8);
    let macs: Vec<&str> = snap["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mac"].as_str().unwrap())
        .collect();
    assert_eq!(macs[0], format!("{:012X}", 99));
    assert_eq!(macs[7], format!("{:012X}", 92));
    let m = parse(&metrics.render());
    assert_eq!(get(&m, "tftp_phones_tracked"), 8.0);

    // An evicted phone's address no longer attributes firmware bytes to it.
    let old: SocketAddr = "10.1.0.0:1000".parse().unwrap();
    t.observe(
        "fw.sbn",
        old,
        Protocol::Tftp,
        FileClass::Firmware,
        5,
        Outcome::Completed,
    );
    assert_eq!(t.len(), 8);
    let total: u64 = t.snapshot()["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["firmware_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 0);
}

#[test]
fn phone_moves_address() {
    let t = PhoneTable::new(16);
    let a: SocketAddr = "192.0.2.1:1".parse().unwrap();
    let b: SocketAddr = "[2001:db8::5]:2".parse().unwrap();
    t.observe(
        "SEP0000000000AA.cnf.xml",
        a,
        Protocol::Tftp,
        FileClass::Config,
        1,
        Outcome::Completed,
    );
    t.observe(
        "SEP0000000000AA.cnf.xml",
        b,
        Protocol::Tftp,
        FileClass::Config,
        1,
        Outcome::Completed,
    );
    // The old address no longer belongs to the phone.
    t.observe(
        "fw.loads",
        a,
        Protocol::Tftp,
        FileClass::Firmware,
        10,
        Outcome::Completed,
    );
    t.observe(
        "fw.loads",
        b,
        Protocol::Tftp,
        FileClass::Firmware,
        20,
        Outcome::ClientError,
    );
    let snap = t.snapshot();
    assert_eq!(snap["count"], 1);
    let p = &snap["phones"][0];
    assert_eq!(p["address"], "2001:db8::5");
    assert_eq!(p["firmware_bytes"], 20);
    assert_eq!(p["last_outcome"], "client_error");
    assert_eq!(p["transfers"], 3);
    // Unknown address, no MAC in the name: not tracked.
    t.observe(
        "fw.loads",
        "192.0.2.9:1".parse().unwrap(),
        Protocol::Tftp,
        FileClass::Firmware,
        1,
        Outcome::Completed,
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn phones_by_protocol_and_fallback_to_tftp() {
    let (metrics, t) = with_phones(16);
    let t = &t;
    let a: SocketAddr = "10.0.0.1:1".parse().unwrap();
    let b: SocketAddr = "10.0.0.2:1".parse().unwrap();
    let cfg = |mac: &str| format!("SEP{mac}.cnf.xml");
    // Phone A: config over HTTP, then firmware over TFTP (its HTTP attempt failed).
    t.observe(
        &cfg("0000000000AA"),
        a,
        Protocol::Http,
        FileClass::Config,
        10,
        Outcome::Completed,
    );
    t.observe(
        "fw.sbn",
        a,
        Protocol::Tftp,
        FileClass::Firmware,
        99,
        Outcome::Completed,
    );
    // Phone B: everything over HTTP.
    t.observe(
        &cfg("0000000000BB"),
        b,
        Protocol::Http,
        FileClass::Config,
        10,
        Outcome::Completed,
    );
    t.observe(
        "fw.sbn",
        b,
        Protocol::Http,
        FileClass::Firmware,
        99,
        Outcome::Completed,
    );
    let m = parse(&metrics.render());
    assert_eq!(get(&m, r#"tftp_phones_by_protocol{protocol="http"}"#), 1.0);
    assert_eq!(get(&m, r#"tftp_phones_by_protocol{protocol="tftp"}"#), 1.0);
    assert_eq!(get(&m, "tftp_phones_fell_back"), 1.0);
    let snap = t.snapshot();
    assert_eq!(snap["fell_back"], 1);
    let by_mac = |mac: &str| {
        snap["phones"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["mac"] == mac)
            .unwrap()
            .clone()
    };
    assert_eq!(by_mac("0000000000AA")["protocol"], "tftp");
    assert_eq!(by_mac("0000000000AA")["fell_back"], true);
    assert_eq!(by_mac("0000000000BB")["protocol"], "http");
    // A fell-back phone that gets HTTP working again is no longer counted.
    t.observe(
        &cfg("0000000000AA"),
        a,
        Protocol::Http,
        FileClass::Config,
        10,
        Outcome::Completed,
    );
    let m = parse(&metrics.render());
    assert_eq!(get(&m, "tftp_phones_fell_back"), 0.0);
    assert_eq!(get(&m, r#"tftp_phones_by_protocol{protocol="http"}"#), 2.0);
    assert_eq!(get(&m, r#"tftp_phones_by_protocol{protocol="tftp"}"#), 0.0);
}
