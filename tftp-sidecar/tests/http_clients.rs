//! The HTTP file listener against real clients (curl, wget) and a raw HTTP/1.1 client:
//! byte-identical files from the local root and from an origin (cold and warm cache), ranges,
//! conditional requests, keep-alive, and the metrics after a known mix of HTTP and TFTP.

mod http_support;
mod store_support;
mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use http_support::*;
use support::{pattern, spawn_bin, Bin};
use tftp_sidecar::file_class::FileClass;

const SIZES: &[(&str, usize)] = &[
    ("empty.bin", 0),
    ("one.bin", 1),
    ("SEP001122334455.cnf.xml", 4096),
    ("apps41.9-4-2ES26.sbn", 7_100_000),
    ("big.sbn", 32 * 1024 * 1024 + 1),
];

fn make_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (i, (name, size)) in SIZES.iter().enumerate() {
        std::fs::write(dir.path().join(name), pattern(*size, i as u8)).unwrap();
    }
    dir
}

/// The sidecar with TFTP and HTTP on 127.0.0.1, the status listener on a free port.
fn start(source: &[&str]) -> (Bin, SocketAddr, SocketAddr) {
    let status: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let status_s = status.to_string();
    let mut args = vec![
        "--listen",
        "127.0.0.1:0",
        "--http-listen",
        "127.0.0.1:0",
        "--metrics-listen",
        &status_s,
    ];
    args.extend_from_slice(source);
    let bin = spawn_bin(&args);
    let http = bin.http[0];
    (bin, http, status)
}

fn url(http: SocketAddr, name: &str) -> String {
    format!("http://{http}/{name}")
}

fn both_clients_byte_identical(http: SocketAddr, out: &Path) {
    for (i, (name, size)) in SIZES.iter().enumerate() {
        let want = pattern(*size, i as u8);
        let f = out.join(format!("curl-{name}"));
        curl(&url(http, name), &f);
        same_file(&f, &want);
        if have("wget") {
            let f = out.join(format!("wget-{name}"));
            wget(&url(http, name), &f);
            same_file(&f, &want);
        }
    }
}

#[test]
fn curl_and_wget_byte_identical_from_the_local_root() {
    assert!(
        have("curl"),
        "curl is required (scripts/setup.sh installs it)"
    );
    let root = make_root();
    // Large bodies go out with sendfile from an unlinked file in this directory...
    let copies = tempfile::tempdir().unwrap();
    let (bin, http, _) = start(&[
        "--root",
        root.path().to_str().unwrap(),
        "--http-sendfile-dir",
        copies.path().to_str().unwrap(),
    ]);
    let out = tempfile::tempdir().unwrap();
    both_clients_byte_identical(http, out.path());
    // ...one per large file (7.1 MB and 32 MiB + 1), held open and nameless there.
    let held = open_files_under(bin.child.id(), copies.path());
    assert_eq!(held.len(), 2, "sendfile copies held: {held:?}");
    assert!(held.iter().all(|l| l.ends_with("(deleted)")), "{held:?}");
    assert_eq!(std::fs::read_dir(copies.path()).unwrap().count(), 0);
    drop(bin);

    // ...or from memfds when told "memory": the same bytes.
    let (bin, http, _) = start(&[
        "--root",
        root.path().to_str().unwrap(),
        "--http-sendfile-dir",
        "memory",
    ]);
    let out = tempfile::tempdir().unwrap();
    both_clients_byte_identical(http, out.path());
    let memfds = open_files_under(bin.child.id(), Path::new("/memfd:tftp-sidecar-file"));
    assert_eq!(memfds.len(), 2, "memfd copies held: {memfds:?}");
}

/// The targets of a process's open descriptors that start with `prefix`.
fn open_files_under(pid: u32, prefix: &Path) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .map(|t| t.to_string_lossy().into_owned())
        .filter(|t| t.starts_with(&*prefix.to_string_lossy()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn byte_identical_from_the_origin_cold_then_warm() {
    let origin = store_support::TestOrigin::start().await;
    for (i, (name, size)) in SIZES.iter().enumerate() {
        origin.put(name, pattern(*size, i as u8), Some(&format!("\"v{i}\"")));
    }
    let (_bin, http, status) = start(&["--origin-url", &origin.url]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_path_buf();
    // Cold: every name fetched once from the origin while curl reads it; warm: from memory.
    tokio::task::spawn_blocking(move || {
        both_clients_byte_identical(http, &dir);
        both_clients_byte_identical(http, &dir);
    })
    .await
    .unwrap();
    for (name, _) in SIZES {
        assert_eq!(origin.requests_for(name), 1, "{name}: one origin fetch");
    }
    let m = metrics(status);
    assert_eq!(metric(&m, "tftp_cache_misses_total"), SIZES.len() as f64);
    // Every transfer, cold (streamed while the origin fill ran) or warm, counted completed.
    for (k, v) in &m {
        if k.starts_with("tftp_transfers_failed_total") {
            assert_eq!(*v, 0.0, "{k}");
        }
    }
    let clients = if have("wget") { 2.0 } else { 1.0 };
    let firmware = SIZES
        .iter()
        .filter(|(n, _)| FileClass::of(n) == FileClass::Firmware)
        .count() as f64;
    let k = r#"tftp_transfers_completed_total{class="firmware",protocol="http"}"#;
    assert_eq!(metric(&m, k), 2.0 * firmware * clients);
}

#[test]
fn ranges_conditionals_head_and_errors() {
    let root = make_root();
    let (_bin, http, _) = start(&["--root", root.path().to_str().unwrap()]);
    let fw = pattern(7_100_000, 3);
    let name = "/apps41.9-4-2ES26.sbn";
    let mut c = Conn::open(http);

    let full = c.req("GET", name, &[]);
    assert_eq!(full.status, 200);
    assert_eq!(full.body, fw);
    assert_eq!(
        full.header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let etag = full.header("etag").unwrap().to_string();
    assert!(etag.starts_with('"') && !etag.starts_with("W/"), "{etag}");
    let lm = full.header("last-modified").unwrap().to_string();

    let r = c.req("GET", name, &["Range: bytes=100-199"]);
    assert_eq!(r.status, 206);
    assert_eq!(r.header("content-range"), Some("bytes 100-199/7100000"));
    assert_eq!(r.body, &fw[100..200]);
    let r = c.req("GET", name, &["Range: bytes=-10"]);
    assert_eq!((r.status, &r.body[..]), (206, &fw[fw.len() - 10..]));
    let r = c.req("GET", name, &["Range: bytes=7000000-"]);
    assert_eq!((r.status, &r.body[..]), (206, &fw[7_000_000..]));
    let r = c.req("GET", name, &["Range: bytes=7100000-"]);
    assert_eq!(r.status, 416);
    assert_eq!(r.header("content-range"), Some("bytes */7100000"));
    // Several ranges are not done: the whole file.
    let r = c.req("GET", name, &["Range: bytes=0-1,5-6"]);
    assert_eq!((r.status, r.body.len()), (200, fw.len()));
    // If-Range with another version: the whole file; with this one: the range.
    let r = c.req("GET", name, &["Range: bytes=0-9", "If-Range: \"other\""]);
    assert_eq!((r.status, r.body.len()), (200, fw.len()));
    let if_range = format!("If-Range: {etag}");
    let r = c.req("GET", name, &["Range: bytes=0-9", &if_range]);
    assert_eq!((r.status, &r.body[..]), (206, &fw[..10]));

    let inm = format!("If-None-Match: {etag}");
    let r = c.req("GET", name, &[&inm]);
    assert_eq!((r.status, r.body.len()), (304, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = c.req("GET", name, &["If-None-Match: \"stale\""]);
    assert_eq!(r.status, 200);
    let ims = format!("If-Modified-Since: {lm}");
    assert_eq!(c.req("GET", name, &[&ims]).status, 304);
    let old = "If-Modified-Since: Mon, 01 Jan 2001 00:00:00 GMT";
    assert_eq!(c.req("GET", name, &[old]).status, 200);

    let h = c.req("HEAD", name, &[]);
    assert_eq!(h.status, 200);
    assert_eq!(h.header("content-length"), Some("7100000"));
    assert_eq!(h.header("etag"), Some(etag.as_str()));
    let cfg = c.req("GET", "/SEP001122334455.cnf.xml", &[]);
    assert_eq!(cfg.header("content-type"), Some("text/xml; charset=utf-8"));

    // Errors: short, no path; the connection stays usable.
    let root_s = root.path().to_str().unwrap();
    for (method, target, want) in [
        ("GET", "/missing.sbn", 404),
        ("GET", "/../etc/passwd", 400),
        ("POST", name, 405),
        ("PUT", name, 405),
        ("DELETE", name, 405),
    ] {
        let r = c.req(method, target, &["Content-Length: 0"]);
        assert_eq!(r.status, want, "{method} {target}");
        assert!(r.body.len() < 64, "{method} {target}: {:?}", r.body);
        assert!(!String::from_utf8_lossy(&r.body).contains(root_s));
        if want == 405 {
            assert_eq!(r.header("allow"), Some("GET, HEAD"));
        }
    }
    assert_eq!(
        c.req("GET", name, &[]).body,
        fw,
        "same connection still serves"
    );
}

#[test]
fn keep_alive_sequence_on_one_connection() {
    let root = make_root();
    let (_bin, http, _) = start(&["--root", root.path().to_str().unwrap()]);
    let out = tempfile::tempdir().unwrap();
    // A phone's boot order on one connection: configs, then firmware.
    let names = [
        "SEP001122334455.cnf.xml",
        "one.bin",
        "apps41.9-4-2ES26.sbn",
        "empty.bin",
    ];
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--fail", "-w", "%{num_connects}\\n"]);
    for n in names {
        cmd.arg("-o").arg(out.path().join(n)).arg(url(http, n));
    }
    let connects = run(&mut cmd);
    assert_eq!(connects.lines().collect::<Vec<_>>(), ["1", "0", "0", "0"]);
    for n in names {
        let i = SIZES.iter().position(|(s, _)| *s == n).unwrap();
        same_file(&out.path().join(n), &pattern(SIZES[i].1, i as u8));
    }
    // The raw client too: several requests, one socket.
    let mut c = Conn::open(http);
    for _ in 0..20 {
        assert_eq!(c.req("GET", "/one.bin", &[]).body, pattern(1, 1));
    }
}

/// Metrics are exactly what happened, per protocol.
#[test]
fn metrics_after_a_known_mix_of_http_and_tftp() {
    let root = make_root();
    let (bin, http, status) = start(&["--root", root.path().to_str().unwrap()]);
    let mut c = Conn::open(http);
    // HTTP: a config and a firmware image served, a 304, a file not found, a bad name, a POST.
    let cfg = c.req("GET", "/SEP001122334455.cnf.xml", &[]);
    assert_eq!(cfg.status, 200);
    assert_eq!(c.req("GET", "/apps41.9-4-2ES26.sbn", &[]).status, 200);
    let inm = format!("If-None-Match: {}", cfg.header("etag").unwrap());
    assert_eq!(
        c.req("GET", "/SEP001122334455.cnf.xml", &[&inm]).status,
        304
    );
    assert_eq!(c.req("GET", "/CTLSEP001122334455.tlv", &[]).status, 404);
    assert_eq!(c.req("GET", "/%2e%2e/x", &[]).status, 400);
    assert_eq!(c.req("POST", "/x", &["Content-Length: 0"]).status, 405);
    assert_eq!(c.req("HEAD", "/one.bin", &[]).status, 200);
    // TFTP (curl's tftp://): the 4 KB config and a missing file.
    let out = tempfile::tempdir().unwrap();
    curl(
        &format!(
            "tftp://127.0.0.1:{}/SEP001122334455.cnf.xml",
            bin.addr.port()
        ),
        &out.path().join("cfg"),
    );
    let _ = Command::new("curl")
        .args(["-sS", "-o", "/dev/null"])
        .arg(format!("tftp://127.0.0.1:{}/nothere.sbn", bin.addr.port()))
        .output();
    // TFTP counts a transfer when the client's last ACK arrives; give it a moment.
    std::thread::sleep(std::time::Duration::from_millis(300));

    let m = metrics(status);
    let k = |name: &str, labels: &str| metric(&m, &format!("{name}{{{labels}}}"));
    let h = r#"protocol="http""#;
    let t = r#"protocol="tftp""#;
    // Each series and its value after the exchanges above.
    #[rustfmt::skip]
    let expected = [
        ("tftp_transfers_started_total", format!(r#"class="config",{h}"#), 2.0),
        ("tftp_transfers_completed_total", format!(r#"class="config",{h}"#), 2.0),
        ("tftp_transfers_started_total", format!(r#"class="firmware",{h}"#), 1.0),
        ("tftp_transfers_completed_total", format!(r#"class="firmware",{h}"#), 1.0),
        ("tftp_bytes_sent_total", format!(r#"class="firmware",{h}"#), 7_100_000.0),
        ("tftp_bytes_sent_total", format!(r#"class="config",{h}"#), 4096.0),
        ("tftp_transfers_failed_total", format!(r#"class="trust_list",outcome="not_found",{h}"#), 1.0),
        ("tftp_transfer_duration_seconds_count", format!(r#"class="config",{h}"#), 2.0),
        ("tftp_requests_rejected_total", format!(r#"{h},reason="path""#), 1.0),
        ("tftp_requests_rejected_total", format!(r#"{h},reason="method""#), 1.0),
        // HEAD is answered, not counted as a transfer.
        ("tftp_transfers_started_total", format!(r#"class="other",{h}"#), 0.0),
        ("tftp_transfers_completed_total", format!(r#"class="config",{t}"#), 1.0),
        ("tftp_bytes_sent_total", format!(r#"class="config",{t}"#), 4096.0),
        ("tftp_bytes_sent_total", format!(r#"class="firmware",{t}"#), 0.0),
        ("tftp_transfers_failed_total", format!(r#"class="firmware",outcome="not_found",{t}"#), 1.0),
        ("tftp_transfers_completed_total", format!(r#"class="firmware",{t}"#), 0.0),
    ];
    for (name, labels, want) in expected {
        assert_eq!(k(name, &labels), want, "{name}{{{labels}}}");
    }
    assert_eq!(metric(&m, "tftp_http_connections"), 1.0);

    // The phone (seen over both): its last transfer was TFTP, after HTTP.
    let r = get(status, "/api/v1/phones", &[]);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let p = &v["phones"][0];
    assert_eq!(p["mac"], "001122334455");
    assert_eq!(p["protocol"], "tftp");
    assert_eq!(p["firmware_bytes"], 7_100_000);
    drop(c);
}
