//! Proves the harness against the real kea-dhcp4 with no hook loaded, so these
//! stay green whatever state the hook is in. Needs root (network namespaces).

use std::net::Ipv4Addr;

use cisco_tftp_tests::config::{option150_def, Dhcp4Config};
use cisco_tftp_tests::dhcp::{Client, Phone};
use cisco_tftp_tests::kea::{check_config, install, result_code, KeaServer};
use cisco_tftp_tests::netns::Topology;
use serde_json::json;

const VC_7941: &[u8] = b"Cisco Systems, Inc. IP Phone CP-7941G\0";

#[test]
fn broadcast_dora_gets_address_from_pool() {
    let topo = Topology::new(1).expect("topology");
    let kea = KeaServer::start(&topo.server, Dhcp4Config::for_topology(&topo).build()).unwrap();
    let link = topo.link(1);
    let client = link
        .ns
        .run(|| Client::broadcast(&link.client_if))
        .unwrap()
        .unwrap();

    let dora = client
        .dora(&Phone::cisco([0, 0x11, 0x22, 0x33, 0x44, 0x55], VC_7941))
        .unwrap_or_else(|e| panic!("{e}\n{}", kea.diagnostics()));

    let ip = dora.yiaddr().octets();
    assert_eq!(&ip[..3], &[10, 201, 1], "{}", dora.yiaddr());
    assert!((100..=199).contains(&ip[3]), "{}", dora.yiaddr());
    assert_eq!(dora.offer.yiaddr, dora.ack.yiaddr);
    assert_eq!(dora.ack.server_id(), Some(link.server_addr));
    // Kea broadcast the reply because the phone set the broadcast flag.
    assert_eq!(dora.ack.flags & 0x8000, 0x8000);
    assert_eq!(dora.ack.option(1), Some(&[255, 255, 255, 0][..]));
    assert_eq!(dora.ack.option(3), Some(&link.server_addr.octets()[..]));
    assert_eq!(
        dora.ack.option_count(150),
        0,
        "no 150 without a hook or config"
    );
}

#[test]
fn relayed_dora_selects_the_relay_subnet() {
    let topo = Topology::new(2).expect("topology");
    let cfg = Dhcp4Config::for_topology(&topo)
        .multi_threading(true)
        .build();
    let kea = KeaServer::start(&topo.server, cfg).unwrap();

    for k in 1..=2u8 {
        let link = topo.link(k);
        let (relay, server) = (link.relay_addr, link.server_addr);
        let client = link
            .ns
            .run(|| Client::relay(relay, server))
            .unwrap()
            .unwrap();
        let dora = client
            .dora(&Phone::cisco([0, 0x11, 0x22, 0x33, 0x44, k], VC_7941))
            .unwrap_or_else(|e| panic!("link {k}: {e}\n{}", kea.diagnostics()));
        let ip = dora.yiaddr().octets();
        assert_eq!(&ip[..3], &[10, 211, k], "link {k}: {}", dora.yiaddr());
        assert_eq!(dora.ack.giaddr, relay);
        assert_eq!(dora.ack.option(3), Some(&relay.octets()[..]));
    }
}

#[test]
fn configured_option150_is_sent_once_with_exact_bytes() {
    let topo = Topology::new(1).expect("topology");
    let cfg = Dhcp4Config::for_topology(&topo)
        .option_def(option150_def())
        .option_data(json!({
            "name": "tftp-servers", "code": 150, "space": "dhcp4",
            "data": "10.201.1.10, 192.0.2.7", "always-send": true,
        }))
        .build();
    let kea = KeaServer::start(&topo.server, cfg).unwrap();
    let link = topo.link(1);
    let client = link
        .ns
        .run(|| Client::broadcast(&link.client_if))
        .unwrap()
        .unwrap();

    let dora = client
        .dora(&Phone::cisco([0, 0x11, 0x22, 0x33, 0x44, 0x66], VC_7941))
        .unwrap_or_else(|e| panic!("{e}\n{}", kea.diagnostics()));

    for reply in [&dora.offer, &dora.ack] {
        assert_eq!(reply.option_count(150), 1);
        assert_eq!(reply.option(150), Some(&[10, 201, 1, 10, 192, 0, 2, 7][..]));
        assert_eq!(
            reply.option150().unwrap(),
            Some(vec![
                Ipv4Addr::new(10, 201, 1, 10),
                Ipv4Addr::new(192, 0, 2, 7)
            ])
        );
    }
}

#[test]
fn control_socket_answers_list_commands() {
    let topo = Topology::new(1).expect("topology");
    let kea = KeaServer::start(&topo.server, Dhcp4Config::for_topology(&topo).build()).unwrap();
    let answer = kea.command("list-commands", None).unwrap();
    assert_eq!(result_code(&answer), Some(0), "{answer}");
    let cmds = answer["arguments"].as_array().expect("arguments list");
    for c in ["config-set", "statistic-get-all", "list-commands"] {
        assert!(cmds.iter().any(|v| v == c), "{c} missing from {answer}");
    }
    assert!(kea.is_running());
    // No packets yet: Kea's own counter exists and is zero.
    assert_eq!(kea.statistic("pkt4-received"), Ok(Some(0)));
    assert_eq!(kea.statistic("no-such-statistic"), Ok(None));
}

#[test]
fn failed_start_reports_kea_log() {
    let topo = Topology::new(1).expect("topology");
    let mut cfg = Dhcp4Config::for_topology(&topo).build();
    cfg["subnet4"][0]["pools"] = json!([{"pool": "192.0.2.1 - 192.0.2.9"}]);
    let err = KeaServer::start(&topo.server, cfg).expect_err("Kea must refuse this config");
    assert!(err.contains("exited during start-up"), "{err}");
    assert!(err.contains("192.0.2.1-192.0.2.9"), "{err}");
}

#[test]
fn config_check_rejects_a_broken_config() {
    let topo = Topology::new(1).expect("topology");
    let good = Dhcp4Config::for_topology(&topo).build();
    let (ok, out) = check_config(&topo.server, &good);
    assert!(ok, "a good config was rejected:\n{out}");

    // An address outside its subnet's range is an error Kea names.
    let mut bad = Dhcp4Config::for_topology(&topo);
    bad.json_mut()["subnet4"][0]["pools"] = json!([{"pool": "192.0.2.1 - 192.0.2.9"}]);
    let (ok, out) = check_config(&topo.server, &bad.build());
    assert!(!ok, "a broken config was accepted:\n{out}");
    assert!(out.contains("192.0.2.1"), "{out}");
}

/// Kea 2.2 does not restore the old configuration when `config-set` fails
/// (DHCP4_CONFIG_UNRECOVERABLE_ERROR): `config-test` first, then `config-set`. Kea 2.6 and
/// 3.0 do, when the failure is Kea's own (not a hook's: see hook_lifecycle.rs).
#[test]
fn reload_config_test_and_recovery() {
    let topo = Topology::new(1).expect("topology");
    let cfg = Dhcp4Config::for_topology(&topo).build();
    let mut kea = KeaServer::start(&topo.server, cfg.clone()).unwrap();
    let link = topo.link(1);
    let client = link
        .ns
        .run(|| Client::broadcast(&link.client_if))
        .unwrap()
        .unwrap();
    let mut phone = Phone::new([0, 0x11, 0x22, 0x33, 0x44, 0x77]);
    phone.timeout = std::time::Duration::from_millis(500);
    phone.attempts = 2;

    let answer = kea.reload(cfg.clone()).unwrap();
    assert_eq!(result_code(&answer), Some(0), "{answer}");
    client
        .dora(&phone)
        .unwrap_or_else(|e| panic!("{e}\n{}", kea.diagnostics()));

    let mut bad = cfg.clone();
    bad["subnet4"][0]["pools"] = json!([{"pool": "192.0.2.1 - 192.0.2.9"}]);
    let answer = kea.config_test(bad.clone()).unwrap();
    assert_eq!(result_code(&answer), Some(1), "{answer}");
    client
        .dora(&phone)
        .unwrap_or_else(|e| panic!("after config-test: {e}\n{}", kea.diagnostics()));

    let answer = kea.reload(bad).unwrap();
    assert_eq!(result_code(&answer), Some(1), "{answer}");
    assert!(kea.is_running());
    if install().version().at_least(2, 6, 0) {
        // Kea 2.6 and 3.0 roll back a config-set that fails for a reason of its own (a
        // pool outside its subnet): the old configuration keeps serving.
        client
            .dora(&phone)
            .unwrap_or_else(|e| panic!("2.6+ keeps the old config: {e}\n{}", kea.diagnostics()));
    } else {
        // Kea 2.2: no DHCP until a good config-set.
        assert!(
            client.dora(&phone).is_err(),
            "Kea 2.2 now keeps serving after a failed config-set: update the hook tests' assumptions"
        );
    }

    let answer = kea.reload(cfg).unwrap();
    assert_eq!(result_code(&answer), Some(0), "{answer}");
    client
        .dora(&phone)
        .unwrap_or_else(|e| panic!("after recovery: {e}\n{}", kea.diagnostics()));
}
