//! The binary's command line: --help, config errors naming the key, env overrides, JSON logs.

mod support;

use std::process::Command;
use std::time::Duration;

use support::*;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(bin_path());
    c.args(args).env_remove("TFTP_SIDECAR_CONFIG");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_explains_the_settings() {
    let (code, out, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    for needle in [
        "--root",
        "--listen",
        "single-port",
        "--port-range",
        "--blksize-max",
        "--windowsize-max",
        "--max-sessions",
        "--per-client-max",
        "--drain-deadline",
        "--metrics-listen",
        "--http-listen",
        "TFTP_SIDECAR_HTTP_LISTEN",
        "SIGTERM",
        "TFTP_SIDECAR_ROOT",
        "--config",
        "write",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

#[test]
fn config_errors_exit_nonzero_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("blksize_max = 4", "blksize_max"),
        ("port_mode = \"range\"", "port_range"),
        ("port_mode = \"range\"\nport_range = \"9-1\"", "port_range"),
        ("retries = \"many\"", "retries"),
        ("no_such_key = 1", "no_such_key"),
        ("write_enabled = true", "write_enabled"),
        ("listen = [\"localhost\"]", "listen"),
        ("timeout = -1.0", "timeout"),
        ("http_listen = \"nope\"", "http_listen"),
        ("log_format = \"xml\"", "log_format"),
        ("metrics_listen = \"nope\"", "metrics_listen"),
        ("[store]\nno-such-store-key = 1", "no-such-store-key"),
        ("[store]\nnegative-ttl-secs = -1.0", "negative-ttl-secs"),
    ];
    for (toml, key) in cases {
        let f = dir.path().join("c.toml");
        std::fs::write(&f, format!("root = \"{root}\"\n{toml}\n")).unwrap();
        let (code, _, err) = run(&["--config", f.to_str().unwrap(), "--check-config"], &[]);
        assert_eq!(code, 2, "{toml}: {err}");
        assert!(
            err.contains(key),
            "{toml}: error does not name {key}: {err}"
        );
    }
    let (code, _, err) = run(&["--root", "/nonexistent/dir"], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("root"), "{err}");
    let (code, _, err) = run(
        &["--check-config"],
        &[
            ("TFTP_SIDECAR_BLKSIZE_MAX", "3"),
            ("TFTP_SIDECAR_ROOT", root),
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("blksize_max"), "{err}");
}

#[test]
fn flags_override_env_override_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(
        &f,
        format!(
            "root = \"{}\"\nblksize_max = 1000\nwindowsize_max = 4\nretries = 7\n",
            dir.path().display()
        ),
    )
    .unwrap();
    let (code, out, err) = run(
        &[
            "--config",
            f.to_str().unwrap(),
            "--check-config",
            "--blksize-max",
            "900",
        ],
        &[
            ("TFTP_SIDECAR_BLKSIZE_MAX", "800"),
            ("TFTP_SIDECAR_WINDOWSIZE_MAX", "2"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("blksize_max: 900"), "{out}");
    assert!(out.contains("windowsize_max: 2"), "{out}");
    assert!(out.contains("retries: 7"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_one_line_per_transfer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SEP001122334455.cnf.xml"), b"<device/>").unwrap();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        dir.path().to_str().unwrap(),
        "--log-format",
        "json",
    ]);
    // The JSON "listening" line carries the address too.
    let c = Client::new(bin.addr).await;
    let got = c
        .get(
            "SEP001122334455.cnf.xml",
            &[("tsize", "0")],
            Duration::from_secs(2),
            3,
        )
        .await
        .unwrap();
    assert_eq!(got.data, b"<device/>");
    let c = Client::new(bin.addr).await;
    assert!(c
        .get("CTLSEP001122334455.tlv", &[], Duration::from_secs(2), 3)
        .await
        .is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines: Vec<serde_json::Value> = bin
        .log_text()
        .lines()
        .filter(|l| l.contains("transfer finished"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", bin.log_text());
    assert_eq!(lines[0]["outcome"], "completed");
    assert_eq!(lines[0]["class"], "config");
    assert_eq!(lines[0]["bytes"], 9);
    assert_eq!(lines[0]["file"], "SEP001122334455.cnf.xml");
    assert!(lines[0]["client"]
        .as_str()
        .unwrap()
        .starts_with("127.0.0.1:"));
    assert!(lines[0]["duration_ms"].is_u64());
    assert_eq!(lines[1]["outcome"], "not_found");
    assert_eq!(lines[1]["class"], "trust_list");
}

fn http_get(addr: &str, path: &str) -> String {
    let o = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("http://{addr}{path}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_transfers_that_happened() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("SEP001122334455.cnf.xml"), vec![b'x'; 1000]).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let maddr = format!("127.0.0.1:{port}");
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        dir.path().to_str().unwrap(),
        "--metrics-listen",
        &maddr,
    ]);
    for _ in 0..50 {
        if http_get(&maddr, "/readyz").contains("ready")
            || http_get(&maddr, "/healthz").contains("ok")
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    for _ in 0..2 {
        let c = Client::new(bin.addr).await;
        c.get("SEP001122334455.cnf.xml", &[], Duration::from_secs(2), 3)
            .await
            .unwrap();
    }
    let c = Client::new(bin.addr).await;
    assert!(c
        .get("CTLSEP001122334455.tlv", &[], Duration::from_secs(2), 3)
        .await
        .is_err());
    let c = Client::new(bin.addr).await;
    assert!(c.get("../x", &[], Duration::from_secs(2), 3).await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = http_get(&maddr, "/metrics");
    assert_eq!(
        metric(
            &m,
            "tftp_transfers_completed_total{class=\"config\",protocol=\"tftp\"}"
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            "tftp_bytes_sent_total{class=\"config\",protocol=\"tftp\"}"
        ),
        2000.0
    );
    assert_eq!(
        metric(
            &m,
            "tftp_transfers_started_total{class=\"trust_list\",protocol=\"tftp\"}"
        ),
        1.0
    );
    assert_eq!(metric(&m, "tftp_active_sessions"), 0.0);
    assert!(
        m.contains("tftp_requests_rejected_total{protocol=\"tftp\",reason=\"path\"} 1"),
        "{m}"
    );
    let phones = http_get(&maddr, "/api/v1/phones");
    assert!(phones.contains("001122334455"), "{phones}");
}

#[test]
fn example_config_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/tftp-sidecar.toml");
    let (code, out, err) = run(
        &[
            "--config",
            example,
            "--root",
            dir.path().to_str().unwrap(),
            "--check-config",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("blksize_max: 1468"), "{out}");
    // Kebab-case keys work at the top level too.
    let f = dir.path().join("k.toml");
    std::fs::write(&f, "blksize-max = 1000\nport-mode = \"single-port\"\n").unwrap();
    let (code, out, err) = run(
        &[
            "--config",
            f.to_str().unwrap(),
            "--root",
            dir.path().to_str().unwrap(),
            "--check-config",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("blksize_max: 1000") && out.contains("SinglePort"),
        "{out}"
    );
}
