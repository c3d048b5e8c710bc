//! The operator's page over real HTTP on 127.0.0.1: bounded size under 10,000 phones, hostile
//! file names as text, the phone detail's transcript, the firmware check beside the phones.
//! (The browser test, with real clients and phones, is tests/deploy/test_operator_page.py.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tftp_sidecar::file_class::FileClass;
use tftp_sidecar::http;
use tftp_sidecar::metrics::Metrics;
use tftp_sidecar::page::{Page, PageConfig, RootCheck};
use tftp_sidecar::phones::PhoneTable;
use tftp_sidecar::server::events::{Events, Outcome, Protocol, TransferReport};
use tokio::sync::watch;

async fn serve(page: Arc<Page>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (_ready_tx, ready_rx) = watch::channel(true);
    tokio::spawn(async move {
        let _keep = _ready_tx;
        http::serve_with_page(listener, Arc::new(Metrics::new()), ready_rx, page)
            .await
            .unwrap();
    });
    base
}

async fn get(url: &str) -> (u16, String, reqwest::header::HeaderMap) {
    let r = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
        .get(url)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, r.text().await.unwrap(), headers)
}

fn tftp(t: &PhoneTable, client: SocketAddr, file: &str, bytes: u64, outcome: Outcome) {
    t.transfer_finished(&TransferReport {
        protocol: Protocol::Tftp,
        client,
        file,
        class: FileClass::of(file),
        bytes,
        duration: Duration::from_millis(12),
        outcome,
    });
}

fn rows(html: &str) -> usize {
    html.matches("<tr class=\"phone ").count()
}

#[tokio::test]
async fn ten_thousand_phones_render_in_pages_of_bounded_size() {
    let table = Arc::new(PhoneTable::new(10_000));
    for i in 0..10_000u32 {
        let client = SocketAddr::from(([10, 9, (i / 250) as u8, (i % 250 + 1) as u8], 50000));
        let mac = format!("00AA{i:08X}");
        tftp(
            &table,
            client,
            &format!("CTLSEP{mac}.tlv"),
            0,
            Outcome::NotFound,
        );
        tftp(
            &table,
            client,
            &format!("SEP{mac}.cnf.xml"),
            2000,
            Outcome::Completed,
        );
        let outcome = if i % 7 == 0 {
            Outcome::NotFound
        } else {
            Outcome::Completed
        };
        tftp(&table, client, "SIP41.9-4-2SR3-1S.loads", 600, outcome);
    }
    assert_eq!(table.len(), 10_000);
    let page = Page::new(table, RootCheck::none(), PageConfig::default());
    let base = serve(page).await;

    let started = Instant::now();
    let (status, body, _) = get(&format!("{base}/")).await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert_eq!(rows(&body), 100, "one page of rows");
    assert!(
        body.len() < 100_000,
        "page of {} bytes for 10,000 phones",
        body.len()
    );
    assert!(body.contains("all 10000"), "counts cover every phone");
    assert!(body.contains("stuck 1429"), "1 in 7 stuck on its load");
    assert!(body.contains("page 1 of 100"));
    println!("10,000 phones: / is {} bytes, {took:?}", body.len());

    let (_, last, _) = get(&format!("{base}/?page=100&sort=mac&order=desc")).await;
    assert_eq!(rows(&last), 100);
    assert!(last.contains("page 100 of 100"));
    let (_, frag, _) = get(&format!("{base}/page/fragment?state=stuck&page=15")).await;
    assert_eq!(rows(&frag), 29, "1429 stuck phones: 14 full pages, then 29");
    assert!(!frag.contains("<html"), "a fragment, not a page");
    // Nonsense in the query is the default, not an error.
    let (status, _, _) = get(&format!("{base}/?page=x&sort=%3Cb%3E&state=zzz")).await;
    assert_eq!(status, 200);
}

/// Names a phone can send (TFTP file names are any bytes but NUL; HTTP paths are decoded).
const HOSTILE: &[&str] = &[
    "<script>window.__pwned=1</script>.sbn",
    "\"><img src=x onerror=\"window.__pwned=1\">.sbn",
    "'><svg/onload=window.__pwned=1>.loads",
    "</td></tr></tbody></table><h1>owned</h1>.sbn",
    "&lt;already-escaped&gt;.sbn",
    "javascript:window.__pwned=1//.sbn",
];

#[tokio::test]
async fn hostile_file_names_are_shown_as_text() {
    let table = Arc::new(PhoneTable::new(64));
    let client: SocketAddr = "10.0.0.9:1000".parse().unwrap();
    tftp(
        &table,
        client,
        "SEP001122334455.cnf.xml",
        100,
        Outcome::Completed,
    );
    for name in HOSTILE {
        tftp(&table, client, name, 0, Outcome::NotFound);
    }
    // A MAC-named file with markup after the MAC's suffix counts for that phone.
    table.record(&TransferReport {
        protocol: Protocol::Http,
        client: "10.0.0.10:1000".parse().unwrap(),
        file: "SEP0011223344AA.cnf.xml\"><img src=x onerror=window.__pwned=1>",
        class: FileClass::Config,
        bytes: 0,
        duration: Duration::ZERO,
        outcome: Outcome::NotFound,
    });
    let base = serve(Page::new(table, RootCheck::none(), PageConfig::default())).await;
    for path in [
        "/",
        "/page/fragment",
        "/phones/001122334455",
        "/phones/0011223344AA",
        "/?q=%3Cscript%3E",
    ] {
        let (status, body, headers) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}");
        for bad in ["<script>window", "<img src=x", "<svg/", "<h1>owned"] {
            assert!(!body.contains(bad), "{path} carries {bad:?} as markup");
        }
        if path.starts_with("/phones/0011223344AA") || path == "/" {
            assert!(
                body.contains("&lt;img src=x onerror=window.__pwned=1&gt;"),
                "{path}"
            );
        }
        assert!(
            headers["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'"),
            "{path}"
        );
    }
    let (_, detail, _) = get(&format!("{base}/phones/001122334455")).await;
    assert!(detail.contains("&amp;lt;already-escaped&amp;gt;.sbn"));
    assert_eq!(
        detail.matches("<tr class=\"failed\">").count(),
        HOSTILE.len()
    );
    // An unknown phone: 404, the path echoed as text.
    let (status, body, _) = get(&format!("{base}/phones/%3Cb%3Ehi")).await;
    assert_eq!(status, 404);
    assert!(body.contains("&lt;b&gt;hi") && !body.contains("<b>hi"));
}

#[tokio::test]
async fn the_page_puts_a_stuck_phone_beside_the_check_problem_that_explains_it() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("SIP41.x.loads"),
        b"image apps41.x.sbn 1000\nimage dsp41.x.sbn 3000\n",
    )
    .unwrap();
    std::fs::write(root.path().join("dsp41.x.sbn"), vec![7u8; 3000]).unwrap();
    let check = RootCheck::spawn(root.path().to_path_buf(), false, Duration::from_secs(60));
    let table = Arc::new(PhoneTable::new(16));
    let (stuck, up): (SocketAddr, SocketAddr) =
        ("10.0.0.1:1".parse().unwrap(), "10.0.0.2:1".parse().unwrap());
    tftp(
        &table,
        stuck,
        "SEP00000000000A.cnf.xml",
        900,
        Outcome::Completed,
    );
    tftp(&table, stuck, "SIP41.x.loads", 50, Outcome::Completed);
    tftp(&table, stuck, "dsp41.x.sbn", 3000, Outcome::Completed);
    tftp(&table, stuck, "apps41.x.sbn", 0, Outcome::NotFound);
    tftp(
        &table,
        up,
        "SEP00000000000B.cnf.xml",
        900,
        Outcome::Completed,
    );
    let base = serve(Page::new(table, check.clone(), PageConfig::default())).await;
    for _ in 0..200 {
        if check.facts().status.contains("checked") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body, _) = get(&format!("{base}/")).await;
    assert!(body.contains("SIP41.x.loads names apps41.x.sbn, which is missing"));
    assert!(body.contains("1 phone(s) stuck or failed on it"));
    assert!(body.contains("apps41.x.sbn: file not found"));
    assert!(body.contains("missing from the root, see the check"));
    assert!(
        body.contains("3.0 kB of 3.0 kB (100 %)") || body.contains("of 3.0 kB"),
        "{body}"
    );
    assert!(body.contains("stuck 1") && body.contains("up 1"));
    let (_, detail, _) = get(&format!("{base}/phones/00:00:00:00:00:0a")).await;
    for f in [
        "SEP00000000000A.cnf.xml",
        "SIP41.x.loads",
        "dsp41.x.sbn",
        "apps41.x.sbn",
    ] {
        assert!(detail.contains(f), "transcript lists {f}");
    }
    assert!(detail.contains("file not found") && detail.contains("12 ms"));
}
