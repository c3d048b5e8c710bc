//! Graceful shutdown: stop admitting, let running transfers finish up to a deadline, then
//! abort the rest (each aborted client gets ERROR 0).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;

/// Resolves on SIGTERM or SIGINT.
pub async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Returns how many transfers were still running at the deadline (and were aborted).
pub(super) async fn drain(shared: &Shared, deadline: Duration) -> usize {
    shared.accepting.store(false, Ordering::Relaxed);
    let active = shared.admission.active();
    tracing::info!(
        active,
        deadline_s = deadline.as_secs_f64(),
        "draining transfers"
    );
    let until = tokio::time::Instant::now() + deadline;
    while shared.admission.active() > 0 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left = shared.admission.active();
    if left > 0 {
        tracing::warn!(left, "drain deadline passed: aborting transfers");
        let _ = shared.abort.send(true);
        // Give aborted sessions a moment to send their ERROR and report.
        let grace = tokio::time::Instant::now() + Duration::from_secs(1);
        while shared.admission.active() > 0 && tokio::time::Instant::now() < grace {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    left
}
