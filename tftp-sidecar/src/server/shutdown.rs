//! Graceful shutdown: stop admitting, let running transfers finish up to a deadline, then
//! abort the rest (each aborted client gets ERROR 0).

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::Shared;

/// Resolves on SIGTERM or SIGINT. The handlers are installed when this is called (not when
/// first polled), so a SIGTERM right after start-up is not fatal.
pub fn signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let mut term = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::terminate()).expect("SIGTERM handler")
    };
    #[cfg(unix)]
    let mut int = {
        use tokio::signal::unix::{signal, SignalKind};
        signal(SignalKind::interrupt()).expect("SIGINT handler")
    };
    async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
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
