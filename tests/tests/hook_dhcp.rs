//! The hook loaded into the real kea-dhcp4, phones talking DHCP to it over veth pairs.
//! Every scenario runs with Kea single-threaded and multi-threaded.
//! Needs root and `cargo build -p kea-hook` (make test does both).

use cisco_tftp_tests::config::{option150_def, relay_subnet_id, Dhcp4Config};
use cisco_tftp_tests::dhcp::{Client, Dora, Phone};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::netns::Topology;
use serde_json::{json, Value};

const VC_7941: &[u8] = b"Cisco Systems, Inc. IP Phone CP-7941G\0";
const VC_8841: &[u8] = b"Cisco Systems, Inc. IP Phone CP-8841";
const VC_7921: &[u8] = b"Cisco Systems Inc. Wireless Phone 7921";
const VC_SPA: &[u8] = b"CISCO SPA122";

fn mac(last: u8) -> [u8; 6] {
    [0x00, 0x1e, 0x4a, 0x10, 0x20, last]
}

fn start(
    topo: &Topology,
    mt: bool,
    params: Value,
    extra: impl FnOnce(Dhcp4Config) -> Dhcp4Config,
) -> KeaServer {
    let cfg = extra(Dhcp4Config::for_topology(topo).multi_threading(mt))
        .hook(&hook_library_path(), params)
        .build();
    KeaServer::start(&topo.server, cfg).unwrap_or_else(|e| panic!("kea did not start: {e}"))
}

fn broadcast_dora(topo: &Topology, kea: &KeaServer, k: u8, phone: &Phone) -> Dora {
    let link = topo.link(k);
    let client = Client::on_link(link).unwrap();
    client
        .dora(phone)
        .unwrap_or_else(|e| panic!("link {k}: {e}\n{}", kea.diagnostics()))
}

fn relay_dora(topo: &Topology, kea: &KeaServer, k: u8, phone: &Phone) -> Dora {
    let link = topo.link(k);
    let (relay, server) = (link.relay_addr, link.server_addr);
    let client = link
        .ns
        .run(|| Client::relay(relay, server))
        .unwrap()
        .unwrap();
    client
        .dora(phone)
        .unwrap_or_else(|e| panic!("relay {k}: {e}\n{}", kea.diagnostics()))
}

/// Option 150 exactly once in both OFFER and ACK, with these bytes.
fn assert_150(dora: &Dora, expected: &[u8]) {
    for (what, reply) in [("OFFER", &dora.offer), ("ACK", &dora.ack)] {
        assert_eq!(reply.option_count(150), 1, "{what}: {:?}", reply.options);
        assert_eq!(reply.option(150), Some(expected), "{what}");
    }
}

fn both_modes(f: impl Fn(bool)) {
    f(false);
    f(true);
}

#[test]
fn broadcast_7941_gets_exact_option_150_bytes() {
    both_modes(|mt| {
        let topo = Topology::new(1).unwrap();
        let kea = start(
            &topo,
            mt,
            json!({"servers": ["10.201.1.10", "192.0.2.7"]}),
            |c| c,
        );
        let dora = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(1), VC_7941));
        assert_150(&dora, &[10, 201, 1, 10, 192, 0, 2, 7]);
        assert_eq!(dora.ack.option_count(66), 0, "66 is off by default");
        assert_eq!(
            kea.statistic("cisco-tftp.option-150-sent.79xx").unwrap(),
            Some(2)
        );
        // The total is in cisco-tftp-config-get, not a Kea statistic (one fewer StatsMgr
        // update per packet): exporters sum the families.
        assert_eq!(kea.statistic("cisco-tftp.option-150-sent").unwrap(), None);
        let cfg = kea.command("cisco-tftp-config-get", None).unwrap();
        assert_eq!(
            cfg["arguments"]["counters"]["cisco-tftp.option-150-sent"],
            2
        );
        assert_eq!(kea.statistic("cisco-tftp.errors").unwrap(), Some(0));
        // The decision is logged under its own message id (kea-hook/docs/MESSAGES.md).
        assert!(kea
            .log()
            .lines()
            .any(|l| l.contains("CISCO_TFTP_OPTION150_SENT ")
                && l.contains("model 7941G family 79xx -> option 150 [10.201.1.10, 192.0.2.7]")));
    });
}

#[test]
fn non_cisco_clients_get_no_option_150() {
    both_modes(|mt| {
        let topo = Topology::new(1).unwrap();
        let kea = start(&topo, mt, json!({"servers": ["10.201.1.10"]}), |c| c);
        let clients: [&[u8]; 4] = [
            b"MSFT 5.0",
            b"PXEClient:Arch:00000:UNDI:002001",
            b"udhcp 1.36.1",
            b"android-dhcp-13",
        ];
        for (i, vc) in clients.iter().enumerate() {
            let dora = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(10 + i as u8), vc));
            assert_eq!(
                dora.ack.option_count(150),
                0,
                "{}",
                String::from_utf8_lossy(vc)
            );
            assert_eq!(dora.offer.option_count(150), 0);
        }
        // No option 60 at all, but asking for 150 in the PRL.
        let dora = broadcast_dora(&topo, &kea, 1, &Phone::new(mac(20)));
        assert_eq!(dora.ack.option_count(150), 0);
        for family in ["79xx", "88xx", "generic"] {
            let name = format!("cisco-tftp.option-150-sent.{family}");
            assert_eq!(kea.statistic(&name).unwrap(), Some(0), "{name}");
        }
        assert_eq!(
            kea.statistic("cisco-tftp.skipped.no-policy").unwrap(),
            Some(0)
        );
    });
}

/// Each way of choosing a site (Kea's subnet id, the relay, the client's prefix) gives that
/// site's list, on every Kea series: on 3.0 the subnet arrives as a `ConstSubnet4Ptr`, and a
/// shim reading it as 2.x's `Subnet4Ptr` sent the global list instead.
#[test]
fn sites_by_subnet_id_relay_and_prefix_get_their_own_lists() {
    both_modes(|mt| {
        let topo = Topology::new(3).unwrap();
        let params = json!({
            "servers": ["192.0.2.1"],
            "sites": [
                {"name": "branch-1", "relays": ["10.211.1.1"], "servers": ["10.211.1.5", "192.0.2.1"]},
                {"name": "branch-2", "relays": ["10.211.2.0/24"], "servers": ["10.211.2.5"],
                 "families": {"88xx": ["10.211.2.88"]}},
                {"name": "by-subnet", "subnet-ids": [relay_subnet_id(3)], "servers": ["10.211.3.5"]},
                {"name": "by-prefix", "prefixes": ["10.201.2.0/24"], "servers": ["10.201.2.5"]}
            ]
        });
        let kea = start(&topo, mt, params, |c| c);
        let d1 = relay_dora(&topo, &kea, 1, &Phone::cisco(mac(1), VC_7941));
        assert_150(&d1, &[10, 211, 1, 5, 192, 0, 2, 1]);
        let d2 = relay_dora(&topo, &kea, 2, &Phone::cisco(mac(2), VC_7941));
        assert_150(&d2, &[10, 211, 2, 5]);
        // Within a site, a family list beats the site's list.
        let d2b = relay_dora(&topo, &kea, 2, &Phone::cisco(mac(3), VC_8841));
        assert_150(&d2b, &[10, 211, 2, 88]);
        // Matched by Kea's subnet id (subnet4_select's on 2.2, pkt4_send's own from 2.6).
        let d3 = relay_dora(&topo, &kea, 3, &Phone::cisco(mac(4), VC_7941));
        assert_150(&d3, &[10, 211, 3, 5]);
        // Matched by the address being offered (10.201.2.x on link 2).
        let dp = broadcast_dora(&topo, &kea, 2, &Phone::cisco(mac(6), VC_7941));
        assert_150(&dp, &[10, 201, 2, 5]);
        // A broadcast phone on link 1 matches no site: the global list.
        let d0 = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(5), VC_7941));
        assert_150(&d0, &[192, 0, 2, 1]);
        assert!(
            kea.log().contains("site branch-2"),
            "decision log names the site"
        );
    });
}

#[test]
fn option_66_when_enabled() {
    both_modes(|mt| {
        let topo = Topology::new(1).unwrap();
        let params = json!({
            "servers": ["10.201.1.10", "10.201.1.11"],
            "option-66": {"enabled": true},
            "sites": [{"name": "named", "relays": ["10.211.1.1"], "servers": ["10.211.1.5"],
                       "option-66-name": "tftp-a.example.com"}]
        });
        let kea = start(&topo, mt, params, |c| c);
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(1), VC_7941));
        assert_eq!(d.ack.option_count(66), 1);
        assert_eq!(
            d.ack.option(66),
            Some(&b"10.201.1.10"[..]),
            "first server as text"
        );
        let d = relay_dora(&topo, &kea, 1, &Phone::cisco(mac(2), VC_7941));
        assert_eq!(d.ack.option(66), Some(&b"tftp-a.example.com"[..]));
        assert_eq!(d.offer.option(66), Some(&b"tftp-a.example.com"[..]));
        // Not for non-Cisco clients.
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(3), b"MSFT 5.0"));
        assert_eq!(d.ack.option_count(66), 0);
    });
}

#[test]
fn existing_option_data_150_is_replaced_not_duplicated() {
    both_modes(|mt| {
        let topo = Topology::new(1).unwrap();
        let kea = start(&topo, mt, json!({"servers": ["10.201.1.10"]}), |c| {
            c.option_def(option150_def()).option_data(json!({
                "name": "tftp-servers", "code": 150, "space": "dhcp4",
                "data": "192.0.2.99", "always-send": true,
            }))
        });
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(1), VC_7941));
        assert_150(&d, &[10, 201, 1, 10]);
        // A non-Cisco client keeps what Kea's configuration says.
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(2), b"MSFT 5.0"));
        assert_eq!(d.ack.option_count(150), 1);
        assert_eq!(d.ack.option(150), Some(&[192, 0, 2, 99][..]));
    });
}

#[test]
fn models_families_and_disabled_families() {
    both_modes(|mt| {
        let topo = Topology::new(1).unwrap();
        let params = json!({
            "servers": ["10.201.1.10"],
            "models": {"7941g": ["10.201.1.41"]},
            "families": {"wireless": ["10.201.1.21", "10.201.1.22"]},
            "disabled-families": ["spa"]
        });
        let kea = start(&topo, mt, params, |c| c);
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(1), VC_7941));
        assert_150(&d, &[10, 201, 1, 41]);
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(2), VC_7921));
        assert_150(&d, &[10, 201, 1, 21, 10, 201, 1, 22]);
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(3), VC_8841));
        assert_150(&d, &[10, 201, 1, 10]);
        let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(4), VC_SPA));
        assert_eq!(d.ack.option_count(150), 0, "spa is switched off");
        assert_eq!(
            kea.statistic("cisco-tftp.skipped.family-disabled").unwrap(),
            Some(2)
        );
        assert_eq!(
            kea.statistic("cisco-tftp.option-150-sent.wireless")
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            kea.statistic("cisco-tftp.option-150-sent.88xx").unwrap(),
            Some(2)
        );
    });
}

#[test]
fn user_pattern_matches_a_vendor_class_the_catalogue_does_not() {
    let topo = Topology::new(1).unwrap();
    let params = json!({
        "servers": ["10.201.1.10"],
        "patterns": [{"regex": "^Acme VoIP (?P<model>\\S+)", "family": "acme"}],
        "families": {"acme": ["10.201.1.77"]}
    });
    let kea = start(&topo, true, params, |c| c);
    let d = broadcast_dora(&topo, &kea, 1, &Phone::cisco(mac(1), b"Acme VoIP X100"));
    assert_150(&d, &[10, 201, 1, 77]);
    assert!(kea.log().contains("model X100 family acme"));
}
