//! A boot storm across both protocols for one file not yet cached: phones asking over HTTP
//! and over TFTP at once share one origin fetch, and every one gets the same bytes.

mod http_support;
mod store_support;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use http_support::*;
use support::{spawn_bin, Client};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storm_over_http_and_tftp_makes_one_origin_fetch() {
    let origin = store_support::TestOrigin::start().await;
    let body = support::pattern(2_000_000, 9);
    let name = "SIP88xx.12-8-1-0001-455.loads.sbn";
    origin.put(name, body.clone(), Some("\"fw\""));
    // Slow enough that every request arrives while the one fetch is in flight.
    origin.set_delay(Duration::from_millis(1500));
    let status: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let status_s = status.to_string();
    let bin = spawn_bin(&[
        "--listen",
        "127.0.0.1:0",
        "--origin-url",
        &origin.url,
        "--http-listen",
        "127.0.0.1:0",
        "--metrics-listen",
        &status_s,
    ]);
    let (http, tftp) = (bin.http[0], bin.addr);

    let mut tasks = Vec::new();
    for _ in 0..16 {
        let want = body.clone();
        tasks.push(tokio::task::spawn_blocking(move || {
            let r = get(http, &format!("/{name}"), &[]);
            assert_eq!(r.status, 200);
            assert!(r.body == want, "HTTP body differs");
        }));
        let want = body.clone();
        tasks.push(tokio::spawn(async move {
            let c = Client::new(tftp).await;
            let got = c
                .get(
                    name,
                    &[("blksize", "1468"), ("windowsize", "16")],
                    Duration::from_secs(2),
                    5,
                )
                .await
                .unwrap();
            assert!(got.data == want, "TFTP body differs");
        }));
    }
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(origin.requests_for(name), 1, "exactly one origin fetch");
    let m = tokio::task::spawn_blocking(move || metrics(status))
        .await
        .unwrap();
    assert_eq!(metric(&m, "tftp_cache_misses_total"), 1.0);
    assert_eq!(
        metric(&m, "tftp_cache_coalesced_waits_total")
            + metric(&m, r#"tftp_cache_hits_total{tier="memory"}"#),
        31.0
    );
    for p in ["http", "tftp"] {
        let k = format!(r#"tftp_transfers_completed_total{{class="firmware",protocol="{p}"}}"#);
        assert_eq!(metric(&m, &k), 16.0, "{p}");
    }
}
