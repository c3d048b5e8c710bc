//! How a phone finds its TFTP server, end to end: option 66 when there is no option 150 (Kea
//! without the hook, 66 configured by hand), and the next server of option 150 when the first
//! does not answer (the hook lists a dead address first).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde_json::json;

use cisco_tftp_tests::boot::{boot, BootConfig, BootPhone};
use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::firmware::{generate, RootSpec, M7941, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;

fn root() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &RootSpec::new().load_bytes(30_000)).unwrap();
    d
}

#[test]
fn without_option_150_the_phone_uses_option_66() {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let root = root();
    // No hook: option 66 (tftp-server-name) by hand, as text.
    let cfg = Dhcp4Config::for_topology(&topo)
        .option_data(json!({"name": "tftp-server-name", "data": link.server_addr.to_string()}))
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).unwrap();
    let _s = Sidecar::serve_root(&topo.server, root.path(), "").unwrap();
    let c = BootConfig::broadcast_on(link);
    let r = boot(
        &BootPhone {
            mac: [0, 0x1e, 0x4a, 0x79, 0x41, 0x66],
            model: M7941,
        },
        &c,
        &|_, _| {},
    );
    assert!(r.ok(), "{:?}\n{}", r.failure, r.transcript.join("\n"));
    assert_eq!(r.option150, None);
    assert_eq!(r.option66.as_deref(), Some("10.201.1.1"));
    assert_eq!(r.tftp_server, Some(IpAddr::V4(link.server_addr)));
    assert_eq!(r.config_file.as_deref(), Some("XMLDefault.cnf.xml"));
}

#[test]
fn a_dead_first_server_makes_the_phone_try_the_next() {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let root = root();
    let dead = Ipv4Addr::new(10, 201, 1, 99); // on the link, nobody answers
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"families": {"88xx": [dead.to_string(), link.server_addr.to_string()]},
                   "servers": [link.server_addr.to_string()]}),
        )
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).unwrap();
    let _s = Sidecar::serve_root(&topo.server, root.path(), "").unwrap();
    let mut c = BootConfig::broadcast_on(link);
    c.tftp.timeout = Duration::from_millis(200);
    c.tftp.retries = 1;
    c.file_attempts = 2;
    c.retry_delay = Duration::from_millis(100);
    let r = boot(
        &BootPhone {
            mac: [0, 0x1e, 0x4a, 0x88, 0x41, 0x99],
            model: M8841,
        },
        &c,
        &|_, _| {},
    );
    let t = r.transcript.join("\n");
    assert!(r.ok(), "{:?}\n{t}", r.failure);
    assert_eq!(r.option150, Some(vec![dead, link.server_addr]));
    assert_eq!(r.tftp_server, Some(IpAddr::V4(link.server_addr)));
    assert!(
        t.contains("no answer from 10.201.1.99") && t.contains("trying the next server 10.201.1.1"),
        "{t}"
    );
    // The first request went to the dead server twice (two attempts), then on.
    let first = &r.files[0];
    assert_eq!(first.server, Some(IpAddr::V4(dead)));
    assert_eq!(first.attempts, 2);
    assert!(r.files[1..]
        .iter()
        .all(|f| f.server == Some(IpAddr::V4(link.server_addr))));
}
