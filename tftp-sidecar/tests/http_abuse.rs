//! The HTTP file listener under abuse: the traversal corpus as raw requests (percent-encoded
//! and mixed-separator variants too), a slowloris client and 2,000 idle connections.

mod http_support;
mod support;
mod traversal_support;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use http_support::*;
use support::spawn_bin;
use traversal_support::SECRET;

/// Every byte outside unreserved characters (and `keep`) as %XX.
fn encode(name: &[u8], keep: &[u8]) -> String {
    name.iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-_~".contains(&b) || keep.contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn traversal_corpus_over_raw_http_is_refused() {
    let top = tempfile::tempdir().unwrap();
    let root = traversal_support::make_tree(top.path());
    let secret_abs = top.path().join("secret.txt");
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
    ]);
    let http = bin.http[0];
    let top_s = top.path().to_str().unwrap().to_string();
    let mut targets: Vec<Vec<u8>> = Vec::new();
    for name in traversal_support::corpus(&secret_abs) {
        // As sent, then percent-encoded (separators kept, then everything), then with the
        // separators swapped.
        targets.push([b"/".as_slice(), &name].concat());
        targets.push(format!("/{}", encode(&name, b"/\\.")).into_bytes());
        targets.push(format!("/{}", encode(&name, b"")).into_bytes());
        let swapped: Vec<u8> = name
            .iter()
            .map(|&b| match b {
                b'/' => b'\\',
                b'\\' => b'/',
                b => b,
            })
            .collect();
        targets.push([b"/".as_slice(), &swapped].concat());
        targets.push(format!("/{}", encode(&swapped, b"/\\")).into_bytes());
    }
    for extra in [
        "/%252e%252e/secret.txt",
        "/..%c0%afsecret.txt",
        "/%2e%2e%5csecret.txt",
        "/.%2e/secret.txt",
        "//etc/passwd",
        "/sub/..%2f..%2fsecret.txt",
        "/up%2fsecret.txt",
    ] {
        targets.push(extra.as_bytes().to_vec());
    }
    for target in &targets {
        let mut raw = b"GET ".to_vec();
        raw.extend_from_slice(target);
        raw.extend_from_slice(b" HTTP/1.1\r\nHost: x\r\n\r\n");
        let shown = String::from_utf8_lossy(target);
        let mut c = Conn::open(http);
        let r = c
            .raw(&raw, false)
            .unwrap_or_else(|e| panic!("{shown:?}: {e}"));
        assert!(
            [400, 403, 404].contains(&r.status),
            "{shown:?} was not refused: {} {:?}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
        assert!(
            !r.body.windows(SECRET.len()).any(|w| w == SECRET),
            "{shown:?}"
        );
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(&top_s) && !body.contains("/tmp"),
            "{shown:?}: {body}"
        );
        assert!(r.body.len() < 64, "{shown:?}: {body}");
    }
    assert_eq!(get(http, "/ok.cnf", &[]).body, b"fine");
    assert_eq!(get(http, "/sub/../ok.cnf", &[]).status, 400);
    assert!(!bin.log_text().contains("TOP-SECRET"));
}

/// A TCP connection from a given loopback address (127.0.0.0/8 is all local on Linux).
fn connect_from(ip: IpAddr, to: SocketAddr) -> TcpStream {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    s.connect(&to.into()).unwrap();
    s.into()
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Polls the metrics until `pred` holds (bounded).
fn wait_metrics(
    status: SocketAddr,
    what: &str,
    pred: impl Fn(&std::collections::BTreeMap<String, f64>) -> bool,
) -> std::collections::BTreeMap<String, f64> {
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let m = metrics(status);
        if pred(&m) {
            return m;
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {what}: {m:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn slowloris_and_two_thousand_idle_connections() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("SEP001122334455.cnf.xml"), b"<cfg/>").unwrap();
    let status: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let status_s = status.to_string();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--root",
        root.path().to_str().unwrap(),
        "--http-listen",
        "127.0.0.1:0",
        "--metrics-listen",
        &status_s,
        "--http-max-connections",
        "300",
        "--http-per-client-max",
        "100",
        "--http-header-timeout",
        "3",
    ]);
    let http = bin.http[0];
    let pid = bin.child.id();
    let honest = || get(http, "/SEP001122334455.cnf.xml", &[]);
    assert_eq!(honest().status, 200);
    let rss_before = rss_kib(pid);
    let key = |reason: &str| {
        format!(r#"tftp_requests_rejected_total{{protocol="http",reason="{reason}"}}"#)
    };

    // 2,000 idle connections from one address: 100 held, 1,900 refused at once.
    let attacker: IpAddr = "127.0.0.2".parse().unwrap();
    let idle: Vec<TcpStream> = (0..2000).map(|_| connect_from(attacker, http)).collect();
    wait_metrics(status, "2000 connections handled", |m| {
        metric(m, &key("per_client_busy")) == 1900.0 && metric(m, "tftp_http_connections") == 100.0
    });
    // The honest phone (another address) is still served, at once.
    let t = Instant::now();
    assert_eq!(honest().status, 200);
    assert!(t.elapsed() < Duration::from_secs(1));

    // Fill the global cap (300) from five more addresses: 200 held, 50 refused as busy.
    let more: Vec<TcpStream> = (0..250)
        .map(|i| connect_from(format!("127.0.1.{}", 1 + i / 50).parse().unwrap(), http))
        .collect();
    let m = wait_metrics(status, "global cap", |m| {
        metric(m, &key("busy")) == 50.0 && metric(m, "tftp_http_connections") == 300.0
    });
    assert_eq!(metric(&m, &key("per_client_busy")), 1900.0);
    // Memory stays bounded: 300 open connections and 2,250 refused cost little.
    let grown = rss_kib(pid).saturating_sub(rss_before);
    assert!(grown < 64 * 1024, "RSS grew {grown} KiB");
    // A refused connection is told why.
    let mut s = connect_from("127.0.2.1".parse().unwrap(), http);
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply:?}");

    // Nobody sent a request: the header timeout frees every slot within seconds, and the
    // honest phone gets in again.
    let m = wait_metrics(status, "idle connections timed out", |m| {
        metric(m, "tftp_http_connections") == 0.0
    });
    assert_eq!(metric(&m, &key("timeout")), 300.0);
    assert_eq!(honest().status, 200);
    drop((idle, more));

    // Slowloris: a header byte every 200 ms keeps bytes moving but never finishes the head;
    // the connection is closed at the header timeout, not held forever.
    let mut s = TcpStream::connect(http).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let t = Instant::now();
    s.write_all(b"GET /SEP001122334455.cnf.xml HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let closed_after = loop {
        if s.write_all(b"X").is_err() {
            break t.elapsed();
        }
        match s.read(&mut buf) {
            Ok(0) => break t.elapsed(),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => break t.elapsed(),
        }
        assert!(t.elapsed() < Duration::from_secs(15), "slowloris held on");
    };
    assert!(
        closed_after >= Duration::from_millis(2500) && closed_after < Duration::from_secs(6),
        "closed after {closed_after:?}"
    );
    wait_metrics(status, "slowloris counted", |m| {
        metric(m, &key("timeout")) == 301.0
    });
    assert_eq!(honest().status, 200);
}
