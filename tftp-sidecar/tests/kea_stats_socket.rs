//! The Kea exporter in the real binary, against a stand-in for Kea's control socket (a unix
//! socket answering `statistic-get-all` like Kea 2.2): values appear as `tftp_kea_*`, a
//! restart that lowers a value restarts the counter, a socket that goes away makes
//! `tftp_kea_up` 0 (reason `not_found`, reported in `/readyz`, still 200) while TFTP is
//! still served, and a bad `[kea]` table is a config error. A stand-in for Kea 3.0's HTTP
//! control socket with basic auth: two `[[kea]]` sources labelled by `server`, one with the
//! right password (values exported), one with a wrong one (`unauthorized`).

use std::io::{Read, Write};
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[path = "../../tests/src/http.rs"]
mod http;
#[path = "../../tests/src/metrics.rs"]
mod metrics_text;

fn get_status(port: u16, path: &str) -> Option<(u16, String)> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let r = http::get_on(TcpStream::connect(addr).ok()?, addr, path).ok()?;
    Some((r.status, r.text()))
}

fn get(port: u16, path: &str) -> Option<String> {
    get_status(port, path).map(|(_, body)| body)
}

/// The value of `sample` (`name{labels}`, labels sorted by name as the sidecar renders them).
fn value(text: &str, sample: &str) -> Option<f64> {
    metrics_text::series(text).get(sample).copied()
}

fn wait_for(port: u16, sample: &str, want: f64) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let t = get(port, "/metrics").unwrap_or_default();
        if value(&t, sample) == Some(want) || Instant::now() > deadline {
            return t;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Answers every connection with Kea-shaped statistics; `n` is the 79xx value.
fn fake_kea(path: &Path, n: Arc<AtomicU64>) {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let mut buf = [0u8; 4096];
            let got = c.read(&mut buf).unwrap_or(0);
            let req = String::from_utf8_lossy(&buf[..got]).to_string();
            let v = n.load(Ordering::SeqCst);
            let answer = if req.contains("statistic-get-all") {
                serde_json::json!({"result": 0, "arguments": {
                    "cisco-tftp.option-150-sent": [[v, "2026-11-25 15:00:00.000001"]],
                    "cisco-tftp.option-150-sent.79xx": [[v, "2026-11-25 15:00:00.000001"], [0, "x"]],
                    "cisco-tftp.skipped.family-disabled": [[2, "x"]],
                    "cisco-tftp.errors": [[1, "x"]],
                    "pkt4-discover-received": [[v + 10, "x"]],
                    "pkt4-ack-sent": [[v, "x"]],
                    "subnet[1].total-addresses": [[100, "x"]]
                }})
            } else {
                serde_json::json!({"result": 2, "text": "unknown command"})
            };
            let _ = c.write_all(answer.to_string().as_bytes());
        }
    });
}

#[test]
fn exporter_follows_the_socket_and_tftp_does_not_care() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.sbn"), b"firmware").unwrap();
    let sock = dir.path().join("kea4.sock");
    let n = Arc::new(AtomicU64::new(3));
    fake_kea(&sock, n.clone());
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        format!("[kea]\ncontrol-socket = {sock:?}\npoll-interval = 0.1\n"),
    )
    .unwrap();
    let (tftp_port, http_port) = (free_port(), free_port());
    let _s = Kill(
        Command::new(env!("CARGO_BIN_EXE_tftp-sidecar"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--root", dir.path().to_str().unwrap()])
            .args(["--listen", &format!("127.0.0.1:{tftp_port}")])
            .args(["--http-listen", "off"])
            .args(["--metrics-listen", &format!("127.0.0.1:{http_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = wait_for(http_port, "tftp_kea_up", 1.0);
    assert_eq!(value(&t, "tftp_kea_up"), Some(1.0), "{t}");
    let t = wait_for(
        http_port,
        r#"tftp_kea_option150_sent_total{family="79xx"}"#,
        3.0,
    );
    for (sample, want) in [
        (r#"tftp_kea_option150_sent_total{family="79xx"}"#, 3.0),
        (r#"tftp_kea_option150_sent_total{family="88xx"}"#, 0.0),
        (r#"tftp_kea_skipped_total{reason="family_disabled"}"#, 2.0),
        (r#"tftp_kea_skipped_total{reason="no_policy"}"#, 0.0),
        ("tftp_kea_hook_errors_total", 1.0),
        (
            r#"tftp_kea_packets_total{direction="received",type="discover"}"#,
            13.0,
        ),
        (
            r#"tftp_kea_packets_total{direction="sent",type="ack"}"#,
            3.0,
        ),
    ] {
        assert_eq!(value(&t, sample), Some(want), "{sample}\n{t}");
    }
    assert!(!t.contains("total-addresses") && !t.contains("family=\"\""));

    // Kea counts on; then "restarts" with lower values.
    n.store(7, Ordering::SeqCst);
    wait_for(
        http_port,
        r#"tftp_kea_option150_sent_total{family="79xx"}"#,
        7.0,
    );
    n.store(1, Ordering::SeqCst);
    let t = wait_for(
        http_port,
        r#"tftp_kea_option150_sent_total{family="79xx"}"#,
        1.0,
    );
    assert_eq!(
        value(&t, r#"tftp_kea_option150_sent_total{family="79xx"}"#),
        Some(1.0)
    );

    // The socket goes away: down, and TFTP still answers.
    std::fs::remove_file(&sock).unwrap();
    let t = wait_for(http_port, "tftp_kea_up", 0.0);
    assert_eq!(value(&t, "tftp_kea_up"), Some(0.0), "{t}");
    assert_eq!(
        value(&t, r#"tftp_kea_last_error{reason="not_found"}"#),
        Some(1.0),
        "{t}"
    );
    // Still ready (TFTP works), and /readyz says what is wrong with Kea.
    let (status, body) = get_status(http_port, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("ready\n"), "{body}");
    assert!(
        body.contains(&format!(
            "kea unix:{}: down (not_found): no socket",
            sock.display()
        )),
        "{body}"
    );
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    c.send_to(b"\x00\x01a.sbn\x00octet\x00", ("127.0.0.1", tftp_port))
        .unwrap();
    let mut buf = [0u8; 600];
    let (len, from) = c.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..len], b"\x00\x03\x00\x01firmware");
    c.send_to(b"\x00\x04\x00\x01", from).unwrap();
}

#[test]
fn bad_kea_table_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    for (toml, key) in [
        (
            "[kea]\ncontrol-socket = \"/x\"\npoll-interval = 0\n",
            "poll-interval",
        ),
        ("[kea]\npoll-interval = 1\n", "control-socket"),
        ("[kea]\ncontrol-socket = \"/x\"\nbogus = 1\n", "bogus"),
        (
            "[kea]\nhttp-url = \"http://127.0.0.1:8000/\"\nhttp-user = \"u\"\n",
            "http-password-file",
        ),
        (
            "[[kea]]\ncontrol-socket = \"/a\"\n[[kea]]\ncontrol-socket = \"/b\"\n",
            "server",
        ),
    ] {
        let cfg = dir.path().join("s.toml");
        std::fs::write(&cfg, toml).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_tftp-sidecar"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--root", dir.path().to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0", "--check-config"])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(key), "{toml}: {err}");
    }
}

/// A stand-in for kea-dhcp4's HTTP control socket (Kea 3.0) with basic auth for
/// `stats:secret`: 401 without it, Kea-shaped statistics with it. Records the request bodies.
fn fake_http_kea(bodies: Arc<std::sync::Mutex<Vec<String>>>) -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { return };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // Headers, then Content-Length bytes of body.
                let (head, mut body) = loop {
                    let n = c.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let t = String::from_utf8_lossy(&buf).to_string();
                    if let Some((h, b)) = t.split_once("\r\n\r\n") {
                        break (h.to_string(), b.to_string());
                    }
                };
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                while body.len() < len {
                    let n = c.read(&mut chunk).unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    body.push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
                bodies.lock().unwrap().push(body);
                let authorized = head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case("authorization: basic c3RhdHM6c2VjcmV0"));
                let (status, answer) = if authorized {
                    (
                        "200 OK",
                        serde_json::json!([{"result": 0, "arguments": {
                            "cisco-tftp.option-150-sent.88xx": [[6, "2026-11-25 15:00:00.000001"]],
                            "pkt4-offer-sent": [[9, "x"]]
                        }}])
                        .to_string(),
                    )
                } else {
                    (
                        "401 Unauthorized",
                        r#"{ "result": 401, "text": "Unauthorized" }"#.to_string(),
                    )
                };
                let _ = write!(
                    c,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            });
        }
    });
    port
}

#[test]
fn http_sources_with_basic_auth_each_labelled_by_server() {
    let dir = tempfile::tempdir().unwrap();
    let bodies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let kea_port = fake_http_kea(bodies.clone());
    let (good, bad) = (dir.path().join("good-pw"), dir.path().join("bad-pw"));
    std::fs::write(&good, "secret\n").unwrap();
    std::fs::write(&bad, "wrong\n").unwrap();
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[kea]]\nserver = \"dhcp1\"\nhttp-url = \"http://127.0.0.1:{kea_port}/\"\nhttp-user = \"stats\"\nhttp-password-file = {good:?}\npoll-interval = 0.1\n\n\
             [[kea]]\nserver = \"dhcp2\"\nhttp-url = \"http://127.0.0.1:{kea_port}/\"\nhttp-user = \"stats\"\nhttp-password-file = {bad:?}\npoll-interval = 0.1\n"
        ),
    )
    .unwrap();
    let http_port = free_port();
    let _s = Kill(
        Command::new(env!("CARGO_BIN_EXE_tftp-sidecar"))
            .args(["--config", cfg.to_str().unwrap()])
            .args(["--root", dir.path().to_str().unwrap()])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--http-listen", "off"])
            .args(["--metrics-listen", &format!("127.0.0.1:{http_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let t = wait_for(http_port, r#"tftp_kea_up{server="dhcp1"}"#, 1.0);
    let t2 = wait_for(
        http_port,
        r#"tftp_kea_last_error{reason="unauthorized",server="dhcp2"}"#,
        1.0,
    );
    for (text, sample, want) in [
        (&t, r#"tftp_kea_up{server="dhcp1"}"#, 1.0),
        (
            &t,
            r#"tftp_kea_option150_sent_total{family="88xx",server="dhcp1"}"#,
            6.0,
        ),
        (
            &t,
            r#"tftp_kea_packets_total{direction="sent",server="dhcp1",type="offer"}"#,
            9.0,
        ),
        (&t2, r#"tftp_kea_up{server="dhcp2"}"#, 0.0),
        (
            &t2,
            r#"tftp_kea_last_error{reason="unauthorized",server="dhcp2"}"#,
            1.0,
        ),
        (
            &t2,
            r#"tftp_kea_last_error{reason="unauthorized",server="dhcp1"}"#,
            0.0,
        ),
        (
            &t2,
            r#"tftp_kea_option150_sent_total{family="88xx",server="dhcp2"}"#,
            0.0,
        ),
    ] {
        assert_eq!(value(text, sample), Some(want), "{sample}\n{text}");
    }
    let (status, body) = get_status(http_port, "/readyz").unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains(&format!(
            "kea server=dhcp1 http://127.0.0.1:{kea_port}/ (user stats): up"
        )),
        "{body}"
    );
    assert!(
        body.contains("kea server=dhcp2")
            && body.contains("down (unauthorized): Kea refused the credentials")
            && body.contains("bad-pw"),
        "{body}"
    );
    assert!(
        !body.contains("secret") && !body.contains("wrong"),
        "{body}"
    );
    // The command is statistic-get-all, with no `service` (kea-dhcp4 answers itself).
    let b = bodies.lock().unwrap();
    assert!(!b.is_empty());
    for body in b.iter() {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v, serde_json::json!({"command": "statistic-get-all"}));
    }
}
