//! A sidecar listening on the wildcard address of a host with several addresses must answer
//! from the address the phone asked (option 150 often names a secondary address or a VIP).
//! TFTP clients, phones included, drop a reply from another address.
//!
//! Ignored while tftp-sidecar binds each transfer's socket to the listening socket's address
//! (0.0.0.0), so the kernel picks the primary address as the source; run with `--ignored`.
//! Listening on each address explicitly (`listen = ["10.201.1.10:69", ...]`) works today.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;
use cisco_tftp_tests::tftp::{Client, ClientConfig};

fn fetch_from_secondary(listen: &str) -> Result<Vec<u8>, String> {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let secondary = Ipv4Addr::new(10, 201, 1, 10);
    topo.server
        .ip(&["addr", "add", "10.201.1.10/24", "dev", &link.server_if])
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("SEP001E4A794101.cnf.xml"), b"<device/>").unwrap();
    let toml = format!("root = {:?}\nlisten = {listen}\n", root.path());
    let _s = Sidecar::start(&topo.server, &toml, &[], "127.0.0.1:9169".parse().unwrap()).unwrap();
    let to = SocketAddr::new(IpAddr::V4(secondary), 69);
    link.ns
        .run(move || {
            let cfg = ClientConfig {
                timeout: Duration::from_millis(300),
                retries: 2,
                ..ClientConfig::default()
            };
            Client::any(cfg)
                .unwrap()
                .get(to, "SEP001E4A794101.cnf.xml")
                .map(|t| t.data)
                .map_err(|e| e.to_string())
        })
        .unwrap()
}

#[test]
fn explicit_listen_addresses_answer_from_the_asked_address() {
    let got = fetch_from_secondary(r#"["10.201.1.1:69", "10.201.1.10:69"]"#);
    assert_eq!(got.as_deref(), Ok(&b"<device/>"[..]));
}

#[test]
#[ignore = "tftp-sidecar on 0.0.0.0 replies from the primary address (no IP_PKTINFO)"]
fn wildcard_listener_answers_from_the_asked_address() {
    let got = fetch_from_secondary("\"0.0.0.0:69\"");
    assert_eq!(got.as_deref(), Ok(&b"<device/>"[..]));
}
