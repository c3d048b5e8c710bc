//! What the engine reports as it runs. Metrics (and tests) implement [`Events`]; the engine
//! never depends on how they are counted.

use std::net::SocketAddr;
use std::time::Duration;

use crate::file_class::FileClass;
use crate::metrics::Protocol;

pub use super::outcome::{Outcome, RejectReason};

/// One finished transfer.
#[derive(Clone, Debug)]
pub struct TransferReport<'a> {
    pub client: SocketAddr,
    pub file: &'a str,
    pub class: FileClass,
    pub bytes: u64,
    pub duration: Duration,
    pub outcome: Outcome,
}

pub trait Events: Send + Sync + 'static {
    fn session_opened(&self) {}
    fn session_closed(&self) {}
    fn transfer_started(&self, _class: FileClass) {}
    fn transfer_finished(&self, _report: &TransferReport<'_>) {}
    fn retransmits(&self, _n: u64) {}
    fn error_sent(&self, _code: u16) {}
    fn request_rejected(&self, _reason: RejectReason) {}
}

/// Counts nothing.
pub struct NoEvents;
impl Events for NoEvents {}

/// The Prometheus metrics and the phone table are fed from engine events (the TFTP engine's;
/// the HTTP listener reports to `Metrics` directly with `Protocol::Http`).
impl Events for crate::metrics::Metrics {
    fn session_opened(&self) {
        crate::metrics::Metrics::session_opened(self)
    }
    fn session_closed(&self) {
        crate::metrics::Metrics::session_closed(self)
    }
    fn transfer_started(&self, class: FileClass) {
        crate::metrics::Metrics::transfer_started(self, Protocol::Tftp, class)
    }
    fn transfer_finished(&self, r: &TransferReport<'_>) {
        crate::metrics::Metrics::transfer_finished(
            self,
            Protocol::Tftp,
            r.class,
            r.outcome,
            r.bytes,
            r.duration,
        );
        self.phones().observe(
            r.file,
            r.client,
            Protocol::Tftp,
            r.class,
            r.bytes,
            r.outcome,
        );
    }
    fn retransmits(&self, n: u64) {
        crate::metrics::Metrics::retransmits(self, n)
    }
    fn error_sent(&self, code: u16) {
        crate::metrics::Metrics::error_sent(self, code)
    }
    fn request_rejected(&self, reason: RejectReason) {
        crate::metrics::Metrics::request_rejected(self, Protocol::Tftp, reason)
    }
}
