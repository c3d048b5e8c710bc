//! A sidecar listening on the wildcard address of a host with several addresses must answer
//! from the address the phone asked (option 150 often names a secondary address or a VIP).
//! TFTP clients, phones included, drop a reply from another address.
//!
//! The server namespace has a primary and a secondary address on the phone's link; the
//! phone asks the secondary one. Each test fetches a one-block file (bare RRQ, as a 79xx
//! phone asks), a multi-block file with options (OACK, blksize, tsize), and a name the
//! listener refuses itself (its ERROR must come from the asked address too, or the phone
//! times out instead of seeing it). With the kernel's default source address the replies
//! would come from the primary address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;
use cisco_tftp_tests::tftp::{Client, ClientConfig, TftpError, TftpOptions};

const SMALL: &str = "SEP001E4A794101.cnf.xml";
const BIG: &str = "P0030801SR02.sbn";

#[derive(Clone, Copy)]
enum Family {
    V4,
    V6,
}

/// The phone's view of its three requests.
struct Answers {
    small: Result<Vec<u8>, String>,
    big: Result<Vec<u8>, String>,
    refused: Result<Vec<u8>, TftpError>,
}

fn big_file() -> Vec<u8> {
    (0..5000u32).map(|i| (i % 251) as u8).collect()
}

/// Start a sidecar with `listen = LISTEN` plus `extra` TOML, and ask it for the files at
/// the secondary address of link 1 (10.201.1.10), or for `Family::V6` at a VIP (fd00:99::10).
fn ask_secondary(family: Family, listen: &str, extra: &str) -> Answers {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let (to, bind): (IpAddr, SocketAddr) = match family {
        Family::V4 => {
            topo.server
                .ip(&["addr", "add", "10.201.1.10/24", "dev", &link.server_if])
                .unwrap();
            (
                Ipv4Addr::new(10, 201, 1, 10).into(),
                (Ipv4Addr::UNSPECIFIED, 0).into(),
            )
        }
        Family::V6 => {
            // Linux has no primary/secondary v6 addresses (a second address in the same
            // /64 may well be the kernel's choice), so the asked address is a VIP in
            // another prefix: for the phone at fd00:201:1::2 the kernel would pick
            // fd00:201:1::1 (longest matching prefix). `nodad`: usable at once.
            for a in ["fd00:201:1::1/64", "fd00:99::10/128"] {
                topo.server
                    .ip(&["-6", "addr", "add", a, "dev", &link.server_if, "nodad"])
                    .unwrap();
            }
            link.ns
                .ip(&[
                    "-6",
                    "addr",
                    "add",
                    "fd00:201:1::2/64",
                    "dev",
                    &link.client_if,
                    "nodad",
                ])
                .unwrap();
            link.ns
                .ip(&[
                    "-6",
                    "route",
                    "add",
                    "fd00:99::10/128",
                    "via",
                    "fd00:201:1::1",
                ])
                .unwrap();
            (
                "fd00:99::10".parse::<Ipv6Addr>().unwrap().into(),
                (Ipv6Addr::UNSPECIFIED, 0).into(),
            )
        }
    };
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join(SMALL), b"<device/>").unwrap();
    std::fs::write(root.path().join(BIG), big_file()).unwrap();
    let toml = format!("root = {:?}\nlisten = {listen}\n{extra}", root.path());
    let s = Sidecar::start(&topo.server, &toml, &[], "127.0.0.1:9169".parse().unwrap()).unwrap();
    let to = SocketAddr::new(to, 69);
    let answers = link
        .ns
        .run(move || {
            let cfg = ClientConfig {
                timeout: Duration::from_millis(300),
                retries: 2,
                ..ClientConfig::default()
            };
            let with_options = ClientConfig {
                options: TftpOptions {
                    blksize: Some(1024),
                    tsize: true,
                    ..TftpOptions::default()
                },
                ..cfg.clone()
            };
            let get = |cfg: &ClientConfig, file: &str| {
                Client::bind(bind, cfg.clone())
                    .unwrap()
                    .get(to, file)
                    .map(|t| t.data)
            };
            Answers {
                small: get(&cfg, SMALL).map_err(|e| e.to_string()),
                big: get(&with_options, BIG).map_err(|e| e.to_string()),
                refused: get(&cfg, "../etc/passwd"),
            }
        })
        .unwrap();
    if answers.small.is_err() || answers.big.is_err() {
        eprintln!("sidecar log:\n{}", s.log_text());
    }
    answers
}

fn assert_answered_from_secondary(a: Answers) {
    assert_eq!(a.small.as_deref(), Ok(&b"<device/>"[..]), "one-block file");
    assert_eq!(a.big, Ok(big_file()), "multi-block file with options");
    match a.refused {
        Err(TftpError::Server { code: 2, .. }) => {}
        other => panic!("the listener's refusal should arrive as ERROR 2, got {other:?}"),
    }
}

#[test]
fn explicit_listen_addresses_answer_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(
        Family::V4,
        r#"["10.201.1.1:69", "10.201.1.10:69"]"#,
        "",
    ));
}

#[test]
fn wildcard_listener_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(Family::V4, "\"0.0.0.0:69\"", ""));
}

#[test]
fn wildcard_single_port_listener_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(
        Family::V4,
        "\"0.0.0.0:69\"",
        "port-mode = \"single-port\"\n",
    ));
}

#[test]
fn wildcard_range_listener_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(
        Family::V4,
        "\"0.0.0.0:69\"",
        "port-mode = \"range\"\nport-range = \"50000-50010\"\n",
    ));
}

#[test]
fn v6_wildcard_listener_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(Family::V6, "\"[::]:69\"", ""));
}

#[test]
fn v6_wildcard_single_port_listener_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(
        Family::V6,
        "\"[::]:69\"",
        "port-mode = \"single-port\"\n",
    ));
}

#[test]
fn v6_explicit_listen_address_answers_from_the_asked_address() {
    assert_answered_from_secondary(ask_secondary(Family::V6, "\"[fd00:99::10]:69\"", ""));
}
