//! The operator's page in a real browser. Phones boot through the real Kea + hook and the real
//! sidecar (a 7941 over TFTP, an 8841 over HTTP on 6970, a 7941 whose load names a missing
//! image), real TFTP clients (tftp-hpa, atftp, curl) and curl over HTTP fetch configs, some
//! with hostile names; then headless Chromium (Debian's, driven by chromium-driver through
//! selenium: `tests/browser/operator_page.py`) checks what the page shows: each phone's state
//! and progress, the stuck phone's file beside the check's problem, the filter, a refresh
//! when a new transfer completes, the boot transcript, the plain table without script, and
//! that no hostile name runs or breaks the page. Screenshots: target/test-artifacts/page/.
//!
//! Needs root, `cargo build -p kea-hook -p tftp-sidecar`, chromium, chromium-driver and
//! selenium in .venv (`scripts/setup.sh`; `make test` does all of it). Runs in the host's
//! pass of `make test` only: the page does not depend on the Kea series.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use cisco_tftp_tests::boot::{boot_many, summary, BootConfig, BootPhone};
use cisco_tftp_tests::config::Dhcp4Config;
use cisco_tftp_tests::firmware::{self, generate, RootSpec, M7941, M7961, M8841};
use cisco_tftp_tests::kea::{hook_library_path, KeaServer};
use cisco_tftp_tests::netns::{Netns, Topology};
use cisco_tftp_tests::sidecar::{Sidecar, STATUS_ADDR};

const BROKEN_LOAD: &str = "SIP41.9-4-3ES1";
const MISSING_IMAGE: &str = "apps41.9-4-3ES1.sbn";

/// File names with markup, fetched over TFTP from an address tied to a phone (so each lands
/// in that phone's transcript and as its current file), and MAC-named ones that make phones
/// of their own. None holds `/` after the MAC (that would hide the MAC from the table).
const HOSTILE_TFTP: &[&str] = &[
    "<script>window.__pwned=1</script>.sbn",
    "\"><img src=x onerror=\"window.__pwned=1\">.sbn",
    "'><svg onload=window.__pwned=1>.loads",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn sep(mac: &[u8; 6]) -> String {
    firmware::sep_name(mac)
        .trim_start_matches("SEP")
        .to_string()
}

/// The project's Python (selenium) once Chromium and its driver are there; `None` in the
/// per-series passes (`KEA_SERIES` set): the page does not depend on Kea's release.
fn browser_python() -> Option<std::path::PathBuf> {
    if std::env::var("KEA_SERIES").is_ok_and(|s| !s.is_empty()) {
        eprintln!("run in the host's pass (KEA_SERIES unset): the page does not depend on Kea");
        return None;
    }
    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run scripts/setup.sh (it installs selenium from tests/requirements.txt)",
        python.display()
    );
    for bin in ["/usr/bin/chromium", "/usr/bin/chromedriver"] {
        assert!(
            std::path::Path::new(bin).exists(),
            "{bin} missing: scripts/setup.sh installs chromium and chromium-driver"
        );
    }
    Some(python)
}

/// The browser script's output shown, and its verdict asserted (with `context` on failure).
fn browser_passed(out: std::process::Output, context: &str) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(
        out.status.success(),
        "browser checks failed:\n{text}\n{context}"
    );
}

#[test]
fn the_operators_page_in_a_real_browser() {
    let Some(python) = browser_python() else {
        return;
    };
    let started = Instant::now();
    let topo = Topology::new(1).expect("topology");
    let link = topo.link(1);
    let server_ip = link.server_addr;

    let root_dir = tempfile::tempdir().unwrap();
    let ok7941 = [0x00, 0x1e, 0x4a, 0x79, 0x41, 0x01];
    let ok8841 = [0x00, 0x1e, 0x4a, 0x88, 0x41, 0x01];
    let broken = [0x00, 0x1e, 0x4a, 0x79, 0x41, 0xee];
    // Configs fetched by the plain TFTP clients and curl (no firmware).
    let by_hpa = [0x00, 0x1e, 0x4a, 0x79, 0x61, 0x01];
    let by_atftp = [0x00, 0x1e, 0x4a, 0x79, 0x61, 0x02];
    let by_curl_http = [0x00, 0x1e, 0x4a, 0x79, 0x61, 0x03];
    let later = [0x00, 0x1e, 0x4a, 0x79, 0x61, 0x04];
    let spec = [by_hpa, by_atftp, by_curl_http, later].iter().fold(
        RootSpec::new()
            .load_bytes(300_000)
            .phone(ok7941, M7941)
            .phone(ok8841, M8841)
            .phone_with_load(broken, M7941, BROKEN_LOAD),
        |s, mac| s.phone(*mac, M7961),
    );
    generate(root_dir.path(), &spec).unwrap();
    let images: Vec<(String, Option<u64>)> = M7941
        .image_sizes(300_000)
        .iter()
        .enumerate()
        .map(|(i, (n, s))| {
            let name = if i == 0 {
                MISSING_IMAGE.to_string()
            } else {
                n.to_string()
            };
            (name, Some(*s))
        })
        .collect();
    firmware::write_load(
        root_dir.path(),
        &format!("{BROKEN_LOAD}.loads"),
        BROKEN_LOAD,
        &images,
    )
    .unwrap();

    let cfg = Dhcp4Config::for_topology(&topo)
        .hook(
            &hook_library_path(),
            json!({"servers": [server_ip.to_string()]}),
        )
        .build();
    let _kea = KeaServer::start(&topo.server, cfg).expect("kea starts");

    // The status listener on 127.0.0.1 in the server namespace: the browser runs there too.
    let metrics_addr: SocketAddr = STATUS_ADDR.parse().unwrap();
    let sidecar = Sidecar::serve_root(
        &topo.server,
        root_dir.path(),
        "http_listen = \"0.0.0.0:6970\"\n[page]\nstuck_after = 600\nrefresh = 1\ncheck_interval = 1",
    )
    .expect("sidecar starts");

    let log = |_: usize, _: &str| {};
    let mut bcfg = BootConfig::broadcast_on(link);
    bcfg.retry_delay = Duration::from_millis(300);
    let phones: Vec<BootPhone> = [(ok7941, M7941), (ok8841, M8841), (broken, M7941)]
        .iter()
        .map(|(mac, model)| BootPhone {
            mac: *mac,
            model: *model,
        })
        .collect();
    let t = Instant::now();
    let results = boot_many(&phones, &bcfg, &log);
    eprintln!("{}", summary(&results, t.elapsed()));
    assert_eq!(
        results.iter().filter(|r| r.ok()).count(),
        2,
        "the 7941 and the 8841 boot, the broken one does not"
    );

    // Real clients from the phones' namespace (its own address, 10.201.1.2).
    let server = server_ip.to_string();
    let ns = link.ns.name().to_string();
    let run = |args: &[&str]| {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns])
            .args(args)
            .output()
            .expect("client runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let dir = tempfile::tempdir().unwrap();
    let sink = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let hpa_cfg = format!("SEP{}.cnf.xml", sep(&by_hpa));
    let (ok, err) = run(&["tftp", &server, "-c", "get", &hpa_cfg, &sink("hpa")]);
    assert!(ok, "tftp-hpa: {err}");
    // Hostile names from the same address: they land on the tftp-hpa phone's row (atftp
    // takes the name as one argument; tftp-hpa's -c would split it at spaces).
    for (i, name) in HOSTILE_TFTP.iter().enumerate() {
        let local = sink(&format!("h{i}"));
        let _ = run(&["atftp", "--get", "-r", name, "-l", &local, &server]);
    }
    let atftp_cfg = format!("SEP{}.cnf.xml", sep(&by_atftp));
    let (ok, err) = run(&[
        "atftp",
        "--get",
        "-r",
        &atftp_cfg,
        "-l",
        &sink("atftp"),
        &server,
    ]);
    assert!(ok, "atftp: {err}");
    let curl_cfg = format!("SEP{}.cnf.xml", sep(&by_curl_http));
    let (ok, err) = run(&[
        "curl",
        "-sS",
        "--fail",
        "-o",
        &sink("curl"),
        &format!("http://{server}:6970/{curl_cfg}"),
    ]);
    assert!(ok, "curl over HTTP: {err}");
    // MAC-named hostile names over TFTP (curl) and HTTP paths (curl): phones of their own.
    let hostile_tftp_mac = "SEP0A0B0C0D0E01.cnf.xml\"><img src=x onerror=window.__pwned=1>";
    let _ = run(&[
        "curl",
        "-sS",
        "-o",
        &sink("c1"),
        &format!(
            "tftp://{server}/{}",
            hostile_tftp_mac.replace('"', "%22").replace(' ', "%20")
        ),
    ]);
    let hostile_http_mac = "SEP0A0B0C0D0E02.cnf.xml<svg onload=window.__pwned=1>";
    let _ = run(&[
        "curl",
        "-sS",
        "-o",
        &sink("c2"),
        &format!("http://{server}:6970/SEP0A0B0C0D0E02.cnf.xml%3Csvg%20onload=window.__pwned=1%3E"),
    ]);
    let (_, body) = sidecar.get("/api/v1/phones").unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    let macs: Vec<&str> = v["phones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["mac"].as_str().unwrap())
        .collect();
    assert_eq!(macs.len(), 8, "phones in the table: {body}");

    // Screenshots of this run only (README's docs/operator-page.png is a copy of overview.png).
    let artifacts = repo().join("target/test-artifacts/page");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let bar = |pct: u64| json!({"state": "up", "percent": pct});
    let expect = json!({
        "rows": 8,
        "phones": {
            sep(&ok7941): bar(100),
            sep(&ok8841): {"state": "up", "percent": 100, "protocol": "http"},
            sep(&broken): {"state": "stuck", "file": MISSING_IMAGE, "reason": "file not found"},
            sep(&by_hpa): {"state": "stuck", "file": HOSTILE_TFTP[HOSTILE_TFTP.len() - 1]},
            sep(&by_atftp): {"state": "up"},
            sep(&by_curl_http): {"state": "up", "protocol": "http"},
            // Not a config name (it does not end in .cnf.xml): these phones are still booting.
            "0A0B0C0D0E01": {"state": "booting", "file": hostile_tftp_mac},
            "0A0B0C0D0E02": {"state": "booting", "file": hostile_http_mac, "protocol": "http"},
        },
        "stuck_mac": sep(&broken),
        "problem": format!("{BROKEN_LOAD}.loads names {MISSING_IMAGE}, which is missing"),
        "filter_mac": "00:1e:4a:88:41:01",
        "later_mac": sep(&later),
        "hostile_names": HOSTILE_TFTP,
    });
    let later_cmd = format!(
        "ip netns exec {ns} tftp {server} -c get SEP{}.cnf.xml {}",
        sep(&later),
        sink("later")
    );
    let out = topo
        .server
        .command(python.to_str().unwrap())
        .arg(repo().join("tests/browser/operator_page.py"))
        .args(["--url", &format!("http://{metrics_addr}")])
        .args(["--expect", &expect.to_string()])
        .args(["--artifacts", artifacts.to_str().unwrap()])
        .args(["--new-transfer", &later_cmd])
        .output()
        .expect("the browser script runs");
    browser_passed(out, &format!("--- sidecar log ---\n{}", sidecar.log_text()));
    eprintln!("e2e_page took {:?}", started.elapsed());
}

/// 10,000 phones (each a real RRQ for its `SEP<MAC>.cnf.xml`, one in ten of them served):
/// the browser gets one page of 100 rows in a bounded document, counts over all 10,000, and
/// pages and filters through them.
#[test]
fn ten_thousand_phones_in_the_browser() {
    let Some(python) = browser_python() else {
        return;
    };
    let ns = Netns::new("page10k").expect("namespace");
    let root = tempfile::tempdir().unwrap();
    const N: u32 = 10_000;
    let mac = |i: u32| format!("00BB{i:08X}");
    for i in (0..N).step_by(10) {
        std::fs::write(
            root.path().join(format!("SEP{}.cnf.xml", mac(i))),
            b"<device/>",
        )
        .unwrap();
    }
    let metrics_addr: SocketAddr = STATUS_ADDR.parse().unwrap();
    let toml = format!(
        "root = {:?}\nlisten = \"127.0.0.1:69\"\nhttp_listen = \"off\"\n[page]\nphone_capacity = {N}\n",
        root.path().to_str().unwrap()
    );
    let sidecar = Sidecar::start(&ns, &toml, &[], metrics_addr).expect("sidecar starts");
    let t = Instant::now();
    let answered = ns
        .run(move || {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = [0u8; 1024];
            let mut answered = 0;
            for i in 0..N {
                let rrq = tftp_sidecar::packet::Packet::Rrq(tftp_sidecar::packet::Request {
                    filename: format!("SEP{}.cnf.xml", mac(i)).into_bytes(),
                    mode: "octet".into(),
                    options: Vec::new(),
                })
                .encode();
                sock.send_to(&rrq, "127.0.0.1:69").unwrap();
                // One at a time (the session cap would refuse a flood): DATA (then ACK it) or
                // ERROR 1 is the answer.
                if let Ok((n, from)) = sock.recv_from(&mut buf) {
                    answered += 1;
                    if buf[..n].starts_with(&[0, 3]) {
                        let ack = tftp_sidecar::packet::Packet::Ack(1).encode();
                        sock.send_to(&ack, from).unwrap();
                    }
                }
            }
            answered
        })
        .unwrap();
    assert_eq!(answered, N, "every request answered");
    eprintln!("{N} requests in {:?}", t.elapsed());
    // The last ACKs land a moment later.
    let text = sidecar.wait_metric("tftp_phones_tracked", "", N as f64);
    assert_eq!(
        cisco_tftp_tests::metrics::metric_value(&text, "tftp_phones_tracked", ""),
        Some(N as f64)
    );

    let artifacts = repo().join("target/test-artifacts/page-10k");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let out = ns
        .command(python.to_str().unwrap())
        .arg(repo().join("tests/browser/operator_page.py"))
        .args(["--url", &format!("http://{metrics_addr}")])
        .args(["--bulk", &N.to_string()])
        .args(["--bulk-mac", &mac(4321)])
        .args(["--artifacts", artifacts.to_str().unwrap()])
        .output()
        .expect("the browser script runs");
    browser_passed(out, "");
}
