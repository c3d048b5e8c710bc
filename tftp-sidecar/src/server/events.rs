//! What the engine reports as it runs. Metrics (and tests) implement [`Events`]; the engine
//! never depends on how they are counted.

use std::net::SocketAddr;
use std::time::Duration;

use crate::file_class::FileClass;

pub use super::outcome::{Outcome, RejectReason};

/// Which listener served a transfer: every transfer metric carries it as `protocol`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    Tftp,
    /// The phone-file HTTP listener (TCP 6970), not the status listener.
    Http,
}

impl Protocol {
    pub const ALL: [Protocol; 2] = [Protocol::Tftp, Protocol::Http];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tftp => "tftp",
            Protocol::Http => "http",
        }
    }
}

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

/// The Prometheus metrics are fed from engine events (the TFTP engine's; the HTTP listener
/// reports to `Metrics` directly with `Protocol::Http`). The phone table listens on its own
/// (`phones.rs`); [`Both`] hands one event stream to two listeners.
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

/// Two listeners for one event stream (the metrics and the phone table).
pub struct Both<A, B>(pub A, pub B);

impl<A: Events, B: Events> Events for Both<A, B> {
    fn session_opened(&self) {
        self.0.session_opened();
        self.1.session_opened();
    }
    fn session_closed(&self) {
        self.0.session_closed();
        self.1.session_closed();
    }
    fn transfer_started(&self, class: FileClass) {
        self.0.transfer_started(class);
        self.1.transfer_started(class);
    }
    fn transfer_finished(&self, report: &TransferReport<'_>) {
        self.0.transfer_finished(report);
        self.1.transfer_finished(report);
    }
    fn retransmits(&self, n: u64) {
        self.0.retransmits(n);
        self.1.retransmits(n);
    }
    fn error_sent(&self, code: u16) {
        self.0.error_sent(code);
        self.1.error_sent(code);
    }
    fn request_rejected(&self, reason: RejectReason) {
        self.0.request_rejected(reason);
        self.1.request_rejected(reason);
    }
}

impl<T: Events + ?Sized> Events for std::sync::Arc<T> {
    fn session_opened(&self) {
        (**self).session_opened()
    }
    fn session_closed(&self) {
        (**self).session_closed()
    }
    fn transfer_started(&self, class: FileClass) {
        (**self).transfer_started(class)
    }
    fn transfer_finished(&self, report: &TransferReport<'_>) {
        (**self).transfer_finished(report)
    }
    fn retransmits(&self, n: u64) {
        (**self).retransmits(n)
    }
    fn error_sent(&self, code: u16) {
        (**self).error_sent(code)
    }
    fn request_rejected(&self, reason: RejectReason) {
        (**self).request_rejected(reason)
    }
}
