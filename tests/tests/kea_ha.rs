//! A Kea High Availability pair (libdhcp_ha.so + libdhcp_lease_cmds.so), both servers with the
//! hook and the same parameters, phones behind a relay that forwards to both: the phones get
//! the same option 150 whichever server answers, and still get it from the partner after the
//! answering server dies. Runs on every Kea series (`KEA_SERIES`). Needs root.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use cisco_tftp_tests::dhcp::{Client, Dora, Phone};
use cisco_tftp_tests::ha::{self, HaMode, HaTopology, RELAY};
use serde_json::{json, Value};

const VC_7941: &[u8] = b"Cisco Systems, Inc. IP Phone CP-7941G\0";

fn params() -> Value {
    json!({
        "servers": ["10.50.0.10", "10.50.0.11"],
        "families": {"88xx": ["10.50.0.20"]},
        "sites": [{"name": "relayed", "relays": [RELAY.to_string()], "servers": ["10.211.1.5", "10.50.0.10"]}]
    })
}

fn phone(i: u8, vc: &[u8]) -> Phone {
    let mut p = Phone::cisco([0, 0x1e, 0x4a, 0x11, 0x22, i], vc);
    p.timeout = Duration::from_millis(700);
    p.attempts = 2;
    p
}

fn client(topo: &HaTopology) -> Client {
    let servers = vec![HaTopology::server_addr(0), HaTopology::server_addr(1)];
    topo.relay
        .run(move || Client::relay_to_all(RELAY, servers))
        .unwrap()
        .unwrap()
}

/// The option 150 the site's list encodes: the relayed phones' expected bytes.
const SITE_150: [u8; 8] = [10, 211, 1, 5, 10, 50, 0, 10];

fn assert_site_150(d: &Dora) {
    for (what, r) in [("OFFER", &d.offer), ("ACK", &d.ack)] {
        assert_eq!(r.option_count(150), 1, "{what}: {:?}", r.describe());
        assert_eq!(r.option(150), Some(&SITE_150[..]), "{what}");
    }
}

/// Who answered (option 54).
fn server_of(d: &Dora) -> Ipv4Addr {
    d.ack.server_id().expect("option 54")
}

/// Retries a DORA until it succeeds or `timeout` passes (failover takes a few heartbeats).
fn dora_within(client: &Client, p: &Phone, timeout: Duration) -> Dora {
    let deadline = Instant::now() + timeout;
    loop {
        match client.dora(p) {
            Ok(d) => return d,
            Err(e) if Instant::now() >= deadline => panic!("no lease within {timeout:?}: {e}"),
            Err(_) => {}
        }
    }
}

#[test]
fn hot_standby_primary_answers_then_the_standby_after_failover() {
    let topo = HaTopology::new().unwrap();
    let [primary, standby] = topo.start(HaMode::HotStandby, &params()).unwrap();
    let client = client(&topo);

    for i in 1..=3 {
        let d = client.dora(&phone(i, VC_7941)).unwrap_or_else(|e| {
            panic!("{e}\n{}\n{}", primary.diagnostics(), standby.diagnostics())
        });
        assert_site_150(&d);
        assert_eq!(
            server_of(&d),
            HaTopology::server_addr(0),
            "the primary answers"
        );
    }

    let mut primary = primary;
    primary.stop();
    // The standby notices within max-response-delay and serves everyone.
    let d = dora_within(&client, &phone(4, VC_7941), Duration::from_secs(20));
    assert_site_150(&d);
    assert_eq!(
        server_of(&d),
        HaTopology::server_addr(1),
        "the standby answers"
    );
    assert_eq!(ha::state(&standby).unwrap(), "partner-down");
    assert_eq!(
        standby
            .statistic("cisco-tftp.option-150-sent.79xx")
            .unwrap(),
        Some(2),
        "the standby's hook counted its OFFER and ACK for phone 4"
    );
}

#[test]
fn load_balancing_both_answer_the_same_and_one_takes_all_after_failover() {
    let topo = HaTopology::new().unwrap();
    let [first, second] = topo.start(HaMode::LoadBalancing, &params()).unwrap();
    let client = client(&topo);

    // Enough phones that both servers' halves are hit (by MAC hash).
    let mut answered = BTreeSet::new();
    for i in 1..=12 {
        let d = client
            .dora(&phone(i, VC_7941))
            .unwrap_or_else(|e| panic!("{e}\n{}\n{}", first.diagnostics(), second.diagnostics()));
        assert_site_150(&d);
        answered.insert(server_of(&d));
    }
    assert_eq!(
        answered,
        BTreeSet::from([HaTopology::server_addr(0), HaTopology::server_addr(1)]),
        "both servers answered some phones"
    );

    let mut first = first;
    first.stop();
    let mut served_by_second = 0;
    for i in 13..=20 {
        let d = dora_within(&client, &phone(i, VC_7941), Duration::from_secs(20));
        assert_site_150(&d);
        assert_eq!(server_of(&d), HaTopology::server_addr(1));
        served_by_second += 1;
    }
    assert_eq!(served_by_second, 8);
    assert_eq!(ha::state(&second).unwrap(), "partner-down");
}
