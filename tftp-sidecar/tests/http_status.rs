//! The status listener over real HTTP on 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tftp_sidecar::file_class::FileClass;
use tftp_sidecar::http;
use tftp_sidecar::metrics::{Metrics, Outcome, Protocol, RejectReason};
use tftp_sidecar::phones::PhoneTable;
use tokio::sync::{oneshot, watch};

async fn start(
    metrics: Arc<Metrics>,
    phones: Arc<PhoneTable>,
) -> (
    String,
    watch::Sender<bool>,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (ready_tx, ready_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        http::serve_with_shutdown(listener, metrics, phones, ready_rx, async {
            let _ = stop_rx.await;
        })
        .await
        .unwrap();
    });
    (base, ready_tx, stop_tx, task)
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn health_readiness_metrics_and_phones() {
    let metrics = Arc::new(Metrics::new());
    let phones = Arc::new(PhoneTable::registered(16, metrics.registry()));
    let (base, ready, stop, task) = start(metrics.clone(), phones.clone()).await;
    let c = client();

    let r = c.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503, "not ready before the TFTP socket is bound");
    ready.send(true).unwrap();
    let r = c.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    ready.send(false).unwrap();
    let r = c.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);

    let phone: SocketAddr = "10.9.8.7:4444".parse().unwrap();
    metrics.transfer_started(Protocol::Tftp, FileClass::Config);
    metrics.transfer_finished(
        Protocol::Tftp,
        FileClass::Config,
        Outcome::Completed,
        777,
        Duration::from_millis(5),
    );
    metrics.request_rejected(Protocol::Tftp, RejectReason::Path);
    phones.observe(
        "SEPAABBCCDDEEFF.cnf.xml",
        phone,
        Protocol::Tftp,
        FileClass::Config,
        777,
        Outcome::Completed,
    );

    let r = c.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = r.text().await.unwrap();
    for line in [
        "tftp_transfers_completed_total{class=\"config\",protocol=\"tftp\"} 1",
        "tftp_bytes_sent_total{class=\"config\",protocol=\"tftp\"} 777",
        "tftp_requests_rejected_total{protocol=\"tftp\",reason=\"path\"} 1",
        "tftp_requests_rejected_total{protocol=\"tftp\",reason=\"busy\"} 0",
        "tftp_phones_tracked 1",
        "tftp_active_sessions 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }

    let r = c.get(format!("{base}/api/v1/phones")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["count"], 1);
    assert_eq!(v["phones"][0]["mac"], "AABBCCDDEEFF");
    assert_eq!(v["phones"][0]["address"], "10.9.8.7");
    assert_eq!(v["phones"][0]["last_file"], "SEPAABBCCDDEEFF.cnf.xml");

    let r = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("graceful shutdown")
        .unwrap();
}
