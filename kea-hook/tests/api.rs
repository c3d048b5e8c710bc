//! The public API as the FFI edge uses it: parameters in, decisions and command answers out.

use std::net::Ipv4Addr;

use dhcp_cisco_tftp::config::{self, ConfigError};
use dhcp_cisco_tftp::counters::{self, Counters};
use dhcp_cisco_tftp::encoding;
use dhcp_cisco_tftp::engine::{Decision, Engine, Request};
use proptest::prelude::*;
use serde_json::json;

/// The example from docs/PARAMETERS.md.
const PARAMS: &str = r#"{
    "servers": ["10.0.0.10", "10.0.0.11"],
    "families": {"88xx": ["10.0.0.20"]},
    "models": {"7941G": ["10.0.0.30"]},
    "disabled-families": ["spa", "ata"],
    "patterns": [{"regex": "^Acme Phone (?P<model>\\S+)", "family": "acme"}],
    "option-66": {"enabled": true, "name": "tftp.example.com"},
    "sites": [{"name": "branch-a", "subnet-ids": [10], "relays": ["10.2.0.1", "10.3.0.0/24"],
               "prefixes": ["10.2.0.0/16"], "servers": ["10.2.0.5"],
               "families": {"88xx": ["10.2.0.6"]}, "models": {"7941G": ["10.2.0.7"]},
               "option-66-name": "tftp-a.example.com"}]
}"#;

#[test]
fn the_documented_example_loads_and_answers() {
    let engine = Engine::from_json(PARAMS).unwrap();
    let counters = Counters::new(&engine);
    let vc = b"Cisco Systems, Inc. IP Phone CP-7941G".to_vec();
    let req = Request {
        vendor_class: Some(&vc),
        subnet_id: None,
        giaddr: Some(Ipv4Addr::new(10, 3, 0, 1)),
        client_addr: Some(Ipv4Addr::new(10, 3, 0, 50)),
    };
    let Decision::Send(answer) = engine.decide(&req) else {
        panic!("no answer");
    };
    assert_eq!(answer.rule.to_string(), "site branch-a, model 7941G");
    assert_eq!(answer.option150, [10, 2, 0, 7]);
    assert_eq!(answer.option66, Some(&b"tftp-a.example.com"[..]));
    counters.sent(answer.family);
    let snap = counters.snapshot(&engine);
    assert_eq!(snap[counters::STAT_SENT], 1);
    assert_eq!(snap["cisco-tftp.option-150-sent.79xx"], 1);

    // The answer shown in docs/PARAMETERS.md.
    let out = engine
        .dry_run(
            &json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-7941G",
                         "subnet-id": 10, "relay": "10.2.0.1", "client-address": "10.2.3.4"}),
        )
        .unwrap();
    assert_eq!(
        out,
        json!({"matched": true, "kind": "ip-phone", "model": "7941G", "family": "79xx",
               "rule": "site branch-a, model 7941G", "servers": ["10.2.0.7"],
               "option-150-hex": "0a020007", "option-66": "tftp-a.example.com"})
    );
    let out = engine
        .dry_run(&json!({"vendor-class": "Cisco Systems, Inc. IP Phone CP-8841", "subnet-id": 10}))
        .unwrap();
    assert_eq!(out["rule"], "site branch-a, family 88xx");
    assert_eq!(out["option-150-hex"], "0a020006");
    assert!(engine.summary().contains("1 sites"));
}

#[test]
fn config_error_is_a_std_error() {
    let e: Box<dyn std::error::Error> = Box::new(config::parse("{}").unwrap_err());
    assert!(e.to_string().starts_with("parameters: no server list"));
    let ConfigError { path, .. } = config::parse(r#"{"sites": [1]}"#).unwrap_err();
    assert_eq!(path, "sites[0]");
}

fn opt_ip() -> impl Strategy<Value = Option<Ipv4Addr>> {
    prop_oneof![
        Just(None),
        any::<u32>().prop_map(|n| Some(Ipv4Addr::from(n))),
        (0u8..=255).prop_map(|h| Some(Ipv4Addr::new(10, 2, 0, h))),
        (0u8..=255).prop_map(|h| Some(Ipv4Addr::new(10, 3, 0, h))),
    ]
}

fn vendor_class() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=255),
        (
            prop_oneof![
                Just(&b"Cisco Systems, Inc. IP Phone "[..]),
                Just(&b"Cisco Systems Inc. Wireless Phone "[..]),
                Just(&b"CISCO "[..]),
                Just(&b"Acme Phone "[..]),
            ],
            proptest::collection::vec(any::<u8>(), 0..=64)
        )
            .prop_map(|(head, tail)| [head, &tail].concat()),
    ]
}

proptest! {
    #[test]
    fn decide_never_panics_and_answers_are_well_formed(
        vc in vendor_class(),
        subnet_id in proptest::option::of(prop_oneof![Just(10u32), any::<u32>()]),
        giaddr in opt_ip(),
        client_addr in opt_ip(),
    ) {
        let engine = Engine::from_json(PARAMS).unwrap();
        let req = Request { vendor_class: Some(&vc), subnet_id, giaddr, client_addr };
        if let Decision::Send(a) = engine.decide(&req) {
            prop_assert_eq!(a.option150.len(), 4 * a.servers.len());
            let decoded = encoding::decode_option150(a.option150);
            prop_assert_eq!(decoded.as_deref(), Some(a.servers));
            prop_assert!(a.option66.is_some());
            if let Some(m) = a.model {
                prop_assert!(m.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c)));
            }
        }
        // The dry run agrees with decide on arbitrary bytes.
        let out = engine.dry_run(&json!({"vendor-class-hex": encoding::hex(&vc)})).unwrap();
        let plain = Request { vendor_class: Some(&vc), ..Request::default() };
        prop_assert_eq!(
            out["matched"].as_bool(),
            Some(matches!(engine.decide(&plain), Decision::Send(_)))
        );
    }
}

/// The JSON blocks of docs/PARAMETERS.md that are whole configurations must load.
#[test]
fn documented_examples_load() {
    let doc = include_str!("../docs/PARAMETERS.md");
    let blocks: Vec<&str> = doc
        .split("```json\n")
        .skip(1)
        .map(|b| b.split("```").next().unwrap())
        .collect();
    let wrap = |b: &str| serde_json::from_str::<serde_json::Value>(&format!("{{{b}}}"));
    // The hooks-libraries entry.
    let entry = wrap(blocks[0]).unwrap();
    let params = &entry["hooks-libraries"][0]["parameters"];
    let engine = Engine::from_json(&params.to_string()).unwrap();
    assert_eq!(
        params,
        &serde_json::from_str::<serde_json::Value>(PARAMS).unwrap()
    );
    assert_eq!(engine.config().sites.len(), 1);
    // The minimal one and the sites example.
    Engine::from_json(&wrap(blocks[1]).unwrap()["parameters"].to_string()).unwrap();
    let sites = blocks.iter().find(|b| b.starts_with("\"sites\"")).unwrap();
    Engine::from_json(&wrap(sites).unwrap().to_string()).unwrap();
}
