//! Transfers through a seeded lossy UDP relay (drops both ways) still complete
//! byte-identical, lock-step and windowed, with a new port per transfer and in single-port
//! mode (where a retransmit leaves through the listener's batched send queue).

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::*;
use tftp_sidecar::server::{Outcome, PortMode};

async fn lossy_run(loss: f64, seed: u64, size: usize, options: &[(&str, &str)]) {
    lossy_run_in(PortMode::Ephemeral, loss, seed, size, options).await
}

async fn lossy_run_in(mode: PortMode, loss: f64, seed: u64, size: usize, options: &[(&str, &str)]) {
    let file = pattern(size, seed as u8);
    let mut cfg = test_config();
    cfg.port_mode = mode;
    cfg.timeout = Duration::from_millis(40);
    cfg.retries = 40;
    cfg.first_block_retries = 40;
    let srv = start(cfg, MapSource::with(&[("fw.sbn", file.clone())])).await;
    let (relay, dropped) = lossy_relay(srv.addr, loss, seed).await;
    let c = Client::new(relay).await;
    let got = tokio::time::timeout(
        Duration::from_secs(60),
        c.get("fw.sbn", options, Duration::from_millis(60), 60),
    )
    .await
    .expect("transfer finished in time")
    .unwrap_or_else(|e| panic!("loss {loss} {options:?}: {e}"));
    assert!(got.data == file, "loss {loss} {options:?}: data differs");
    assert!(
        dropped.load(Ordering::Relaxed) > 0,
        "the relay dropped nothing"
    );
    // The server saw the last ACK (the client dallies) or timed out after the data was in.
    for _ in 0..200 {
        if srv.handle.active_sessions() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let outcomes = srv.events.outcomes();
    assert_eq!(outcomes.len(), 1);
    assert!(
        matches!(outcomes[0].1, Outcome::Completed | Outcome::TimedOut),
        "{outcomes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_lockstep() {
    lossy_run(0.05, 11, 200_000, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_windowed() {
    lossy_run(
        0.05,
        12,
        600_000,
        &[("blksize", "1428"), ("windowsize", "16"), ("tsize", "0")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_loss_lockstep() {
    lossy_run(0.20, 13, 64_000, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_loss_windowed() {
    lossy_run(
        0.20,
        14,
        200_000,
        &[("blksize", "1024"), ("windowsize", "8")],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_percent_loss_lockstep_single_port() {
    lossy_run_in(PortMode::SinglePort, 0.20, 15, 64_000, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_percent_loss_windowed_single_port() {
    lossy_run_in(
        PortMode::SinglePort,
        0.05,
        16,
        600_000,
        &[("blksize", "1428"), ("windowsize", "16"), ("tsize", "0")],
    )
    .await;
}

/// The current-thread runtime (the binary's default): sessions and the listener share one
/// thread. (That a timer's retransmit wakes the listener by itself is shown by
/// `protocol_engine::single_port_retransmits_without_client_traffic`: here the client's own
/// retries would also get the transfer through.)
#[tokio::test(flavor = "current_thread")]
async fn twenty_percent_loss_lockstep_single_port_one_thread() {
    lossy_run_in(PortMode::SinglePort, 0.20, 17, 64_000, &[]).await;
}
