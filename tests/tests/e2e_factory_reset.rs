//! Phones after a factory reset, end to end: a 7961 asks for `term61.default.loads` and its
//! images first, then the usual sequence without asking those images again; an 8841 whose
//! term file is missing stays "Upgrading" (the boot fails and says why).

use serde_json::json;

use cisco_tftp_tests::boot::{boot_many, BootConfig, BootPhone, Stage};
use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::firmware::{generate, RootSpec, M7961, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::netns::Topology;
use cisco_tftp_tests::sidecar::Sidecar;

#[test]
fn factory_reset_phones_fetch_their_term_file_first() {
    let topo = Topology::new(1).unwrap();
    let link = topo.link(1);
    let root = tempfile::tempdir().unwrap();
    let m7961 = [0, 0x1e, 0x4a, 0x79, 0x61, 0x0f];
    let m8841 = [0, 0x1e, 0x4a, 0x88, 0x41, 0x0f];
    let spec = RootSpec::new()
        .load_bytes(50_000)
        .phone(m7961, M7961)
        .phone(m8841, M8841);
    let gen = generate(root.path(), &spec).unwrap();
    std::fs::remove_file(root.path().join(M8841.term_file)).unwrap();
    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [link.server_addr.to_string()]}),
        )
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).unwrap();
    let _s = Sidecar::serve_root(&topo.server, root.path(), "").unwrap();
    let mut c = BootConfig::broadcast_on(link);
    c.factory_reset = true;
    c.keep_data = true;
    let results = boot_many(
        &[
            BootPhone {
                mac: m7961,
                model: M7961,
            },
            BootPhone {
                mac: m8841,
                model: M8841,
            },
        ],
        &c,
        &|_, _| {},
    );
    let (a, b) = (&results[0], &results[1]);
    let ta = a.transcript.join("\n");
    assert!(a.ok(), "{:?}\n{ta}", a.failure);
    let asked: Vec<&str> = a.files.iter().map(|f| f.name.as_str()).collect();
    let mut want = vec!["term61.default.loads"];
    want.extend(M7961.images.iter().map(|(n, _)| *n));
    want.extend([
        "CTLSEP001E4A79610F.tlv",
        "ITLSEP001E4A79610F.tlv",
        "ITLFile.tlv",
        "SEP001E4A79610F.cnf.xml",
        "SIP41.9-4-2SR3-1S.loads",
    ]);
    assert_eq!(asked, want, "{ta}");
    for f in a.files.iter().filter(|f| f.outcome == "ok") {
        assert_eq!(f.data.as_deref(), Some(&gen.read(&f.name).unwrap()[..]));
    }
    assert!(ta.contains("apps41.9-4-2ES26.sbn: already loaded"), "{ta}");

    let tb = b.transcript.join("\n");
    assert!(!b.ok(), "{tb}");
    assert_eq!(b.failed_stage, Some(Stage::Load));
    assert!(
        b.failure
            .as_deref()
            .unwrap()
            .contains("term8841.default.loads not found"),
        "{tb}"
    );
}
