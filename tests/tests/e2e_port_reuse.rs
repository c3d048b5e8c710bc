//! A client that asks for its next file from the same source port right after the previous
//! transfer ended (the last ACK sent, or an ERROR received) must be answered at once, not
//! taken for a retransmission of the transfer that just ended.
//!
//! (A regression test: the sidecar once dropped such a request as a duplicate of the live
//! session, and about 1 in 50 back-to-back requests waited for the client's 1 s retransmit.
//! The phone simulator uses a new port per file anyway, as tftp-hpa's client does.)

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use cisco_tftp_tests::netns::Netns;
use cisco_tftp_tests::sidecar::Sidecar;
use cisco_tftp_tests::tftp::{Client, ClientConfig, TftpError};

#[test]
fn back_to_back_requests_from_one_port_are_answered_at_once() {
    let ns = Netns::new("reuse").unwrap();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.sbn"), vec![7u8; 1500]).unwrap();
    let toml = format!("root = {:?}\nlisten = \"127.0.0.1:69\"\n", root.path());
    let _s = Sidecar::start(&ns, &toml, &[], "127.0.0.1:9169".parse().unwrap()).unwrap();
    let slow = ns
        .run(|| {
            let cfg = ClientConfig {
                timeout: Duration::from_millis(500),
                ..ClientConfig::default()
            };
            let c = Client::bind((Ipv4Addr::LOCALHOST, 0).into(), cfg).unwrap();
            let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 69);
            let mut slow = Vec::new();
            for i in 0..200 {
                let name = if i % 2 == 0 {
                    "CTLSEP001E4A794101.tlv"
                } else {
                    "a.sbn"
                };
                let t = Instant::now();
                match c.get(to, name) {
                    Ok(_) | Err(TftpError::NotFound(_)) => {}
                    Err(e) => panic!("{name}: {e}"),
                }
                if t.elapsed() > Duration::from_millis(300) {
                    slow.push((i, name, t.elapsed()));
                }
            }
            slow
        })
        .unwrap();
    assert!(
        slow.is_empty(),
        "requests that waited for a retransmit: {slow:?}"
    );
}
