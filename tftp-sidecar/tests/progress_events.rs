//! A firmware transfer reports its progress while it runs (every `PROGRESS_STEP` bytes), over
//! TFTP and over HTTP, so the operator's page can show a 7 MB image moving; config files and
//! other small files report none.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{pattern, start, test_config, Client, MapSource, Recorder};
use tftp_sidecar::http_files::{HttpConfig, HttpFiles};
use tftp_sidecar::server::events::PROGRESS_STEP;
use tftp_sidecar::server::Protocol;

const IMAGE: &str = "apps41.9-4-3ES1.sbn";
const CONFIG: &str = "SEP001122334455.cnf.xml";
/// Three whole steps and a bit: three reports, none at the end (the finish reports that).
const IMAGE_LEN: usize = 3 * PROGRESS_STEP as usize + 4321;

fn source() -> MapSource {
    MapSource::with(&[
        (IMAGE, pattern(IMAGE_LEN, 1)),
        (CONFIG, pattern(2 * PROGRESS_STEP as usize, 2)),
    ])
}

fn reports(r: &Recorder) -> Vec<(Protocol, String, u64)> {
    r.progress.lock().unwrap().clone()
}

fn assert_steps(got: &[(Protocol, String, u64)], protocol: Protocol) {
    assert_eq!(got.len(), 3, "one report per step: {got:?}");
    for (i, (p, file, bytes)) in got.iter().enumerate() {
        assert_eq!((*p, file.as_str()), (protocol, IMAGE));
        let step = (i as u64 + 1) * PROGRESS_STEP;
        assert!(
            *bytes >= step && *bytes < step + PROGRESS_STEP,
            "report {i} at {bytes} bytes, step {step}"
        );
    }
}

#[tokio::test]
async fn tftp_firmware_reports_progress_and_configs_do_not() {
    let srv = start(test_config(), source()).await;
    let client = Client::new(srv.addr).await;
    let got = client
        .get(CONFIG, &[], Duration::from_millis(500), 5)
        .await
        .unwrap();
    assert_eq!(got.data.len(), 2 * PROGRESS_STEP as usize);
    assert!(
        reports(&srv.events).is_empty(),
        "a config reports no progress"
    );
    let got = client
        .get(IMAGE, &[("blksize", "1428")], Duration::from_millis(500), 5)
        .await
        .unwrap();
    assert_eq!(got.data.len(), IMAGE_LEN);
    assert_steps(&reports(&srv.events), Protocol::Tftp);
    srv.stop().await;
}

#[tokio::test]
async fn http_firmware_reports_progress_and_configs_do_not() {
    let events = Arc::new(Recorder::default());
    let cfg = HttpConfig {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        ..HttpConfig::default()
    };
    let files = HttpFiles::bind(cfg, Arc::new(source()), events.clone()).unwrap();
    let addr = files.local_addrs()[0];
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    files.spawn(stop);
    let get = |name: &'static str| async move {
        let body = reqwest::get(format!("http://{addr}/{name}"))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        body.len()
    };
    assert_eq!(get(CONFIG).await, 2 * PROGRESS_STEP as usize);
    assert_eq!(get(IMAGE).await, IMAGE_LEN);
    // The body reports its end when hyper drops it, just after the last byte.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_steps(&reports(&events), Protocol::Http);
    let finished = events.outcomes();
    assert_eq!(finished.len(), 2, "{finished:?}");
}
