//! The phone-sim binary against the real kea-dhcp4 (no hook), as the demo
//! script and benchmarks use it.

use std::process::Command;

use cisco_tftp_tests::config::{option150_def, Dhcp4Config};
use cisco_tftp_tests::kea::KeaServer;
use cisco_tftp_tests::netns::Topology;
use serde_json::{json, Value};

fn phone_sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_phone-sim"))
        .args(args)
        .output()
        .expect("run phone-sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn dhcp_broadcast_and_relay_print_decoded_options() {
    let topo = Topology::new(1).expect("topology");
    let cfg = Dhcp4Config::for_topology(&topo)
        .option_def(option150_def())
        .option_data(json!({"name": "tftp-servers", "data": "10.201.1.10, 10.201.1.11"}))
        .build();
    let kea = KeaServer::start(&topo.server, cfg).unwrap();
    let link = topo.link(1);
    let ns = link.ns.name();

    let (code, out, err) = phone_sim(&[
        "dhcp",
        "--netns",
        ns,
        "--iface",
        "eth0",
        "--mac",
        "00:11:22:33:44:55",
        "--vendor-class",
        "Cisco Systems, Inc. IP Phone CP-7941G",
        "--nul",
    ]);
    assert_eq!(code, 0, "{out}{err}\n{}", kea.diagnostics());
    assert!(out.contains("OFFER xid"), "{out}");
    assert!(out.contains("ACK xid"), "{out}");
    assert!(
        out.contains("option 150 (  8 bytes): 10.201.1.10, 10.201.1.11"),
        "{out}"
    );
    assert!(
        out.contains("option   1 (  4 bytes): 255.255.255.0"),
        "{out}"
    );

    let relay = link.relay_addr.to_string();
    let server = link.server_addr.to_string();
    let (code, out, err) = phone_sim(&[
        "dhcp",
        "--netns",
        ns,
        "--json",
        "--relay",
        &relay,
        "--server",
        &server,
        "--mac",
        "00:11:22:33:44:56",
        "--vendor-class-hex",
        "",
        "--prl",
        "1,3,150",
    ]);
    assert_eq!(code, 0, "{out}{err}\n{}", kea.diagnostics());
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert!(
        v["ack"]["yiaddr"]
            .as_str()
            .unwrap()
            .starts_with("10.211.1."),
        "{v}"
    );
    assert_eq!(
        v["ack"]["option150"],
        json!(["10.201.1.10", "10.201.1.11"]),
        "{v}"
    );
}

#[test]
fn dhcp_without_server_exits_2() {
    let topo = Topology::new(1).expect("topology");
    let (code, out, err) = phone_sim(&[
        "dhcp",
        "--netns",
        topo.link(1).ns.name(),
        "--iface",
        "eth0",
        "--mac",
        "00:11:22:33:44:57",
        "--timeout-ms",
        "200",
        "--attempts",
        "1",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("no DHCPOFFER"), "{err}");
}

#[test]
fn fuzz_gets_offers_and_kea_survives() {
    let topo = Topology::new(1).expect("topology");
    let kea = KeaServer::start(&topo.server, Dhcp4Config::for_topology(&topo).build()).unwrap();
    let link = topo.link(1);
    let (relay, server) = (link.relay_addr.to_string(), link.server_addr.to_string());
    let (code, out, err) = phone_sim(&[
        "fuzz",
        "--netns",
        link.ns.name(),
        "--json",
        "--relay",
        &relay,
        "--server",
        &server,
        "--count",
        "300",
        "--seed",
        "7",
        "--rate",
        "1000",
        "--drain-ms",
        "500",
    ]);
    assert_eq!(code, 0, "{out}{err}\n{}", kea.diagnostics());
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["sent"], 300, "{v}");
    // Without a hook Kea ignores option 60's content: every DISCOVER is offered.
    assert_eq!(v["offers"], 300, "{v}");
    assert!(kea.is_running());
}
