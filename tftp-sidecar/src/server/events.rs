//! What the engines report as they run: the TFTP engine (`server/`) and the HTTP file
//! listener (`http_files/`) both report through [`Events`], each event naming its protocol.
//! Metrics, the phone table (and tests) implement it; no engine depends on how they count.

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
    pub protocol: Protocol,
    pub client: SocketAddr,
    pub file: &'a str,
    pub class: FileClass,
    pub bytes: u64,
    pub duration: Duration,
    pub outcome: Outcome,
}

/// A firmware transfer still running: `bytes` delivered so far (TFTP: acknowledged; HTTP:
/// handed to the connection). Sent every [`PROGRESS_STEP`] bytes, so the operator's page can
/// show a 7 MB image moving, and a slow download is not taken for a stuck phone.
#[derive(Clone, Debug)]
pub struct TransferProgress<'a> {
    pub protocol: Protocol,
    pub client: SocketAddr,
    pub file: &'a str,
    pub bytes: u64,
}

/// Bytes between two [`Events::transfer_progress`] reports of one transfer (14 for a 7 MB
/// image: nothing next to its 14,000 TFTP blocks).
pub const PROGRESS_STEP: u64 = 512 << 10;

pub trait Events: Send + Sync + 'static {
    /// A TFTP session took a slot.
    fn session_opened(&self) {}
    fn session_closed(&self) {}
    /// An HTTP connection took a slot (it may carry several transfers, keep-alive).
    fn http_connection_opened(&self) {}
    fn http_connection_closed(&self) {}
    fn transfer_started(&self, _protocol: Protocol, _class: FileClass) {}
    fn transfer_finished(&self, _report: &TransferReport<'_>) {}
    /// A firmware transfer moved on (see [`TransferProgress`]).
    fn transfer_progress(&self, _progress: &TransferProgress<'_>) {}
    /// TFTP blocks sent again after a timeout.
    fn retransmits(&self, _n: u64) {}
    /// A TFTP ERROR packet with this code went out.
    fn error_sent(&self, _code: u16) {}
    fn request_rejected(&self, _protocol: Protocol, _reason: RejectReason) {}
}

/// Counts nothing.
pub struct NoEvents;
impl Events for NoEvents {}

/// The Prometheus metrics are fed from both engines' events. The phone table listens on its
/// own (`phones.rs`); [`Both`] hands one event stream to two listeners.
impl Events for crate::metrics::Metrics {
    fn session_opened(&self) {
        crate::metrics::Metrics::session_opened(self)
    }
    fn session_closed(&self) {
        crate::metrics::Metrics::session_closed(self)
    }
    fn http_connection_opened(&self) {
        crate::metrics::Metrics::http_connection_opened(self)
    }
    fn http_connection_closed(&self) {
        crate::metrics::Metrics::http_connection_closed(self)
    }
    fn transfer_started(&self, protocol: Protocol, class: FileClass) {
        crate::metrics::Metrics::transfer_started(self, protocol, class)
    }
    fn transfer_finished(&self, r: &TransferReport<'_>) {
        crate::metrics::Metrics::transfer_finished(
            self, r.protocol, r.class, r.outcome, r.bytes, r.duration,
        );
    }
    fn retransmits(&self, n: u64) {
        crate::metrics::Metrics::retransmits(self, n)
    }
    fn error_sent(&self, code: u16) {
        crate::metrics::Metrics::error_sent(self, code)
    }
    fn request_rejected(&self, protocol: Protocol, reason: RejectReason) {
        crate::metrics::Metrics::request_rejected(self, protocol, reason)
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
    fn http_connection_opened(&self) {
        self.0.http_connection_opened();
        self.1.http_connection_opened();
    }
    fn http_connection_closed(&self) {
        self.0.http_connection_closed();
        self.1.http_connection_closed();
    }
    fn transfer_started(&self, protocol: Protocol, class: FileClass) {
        self.0.transfer_started(protocol, class);
        self.1.transfer_started(protocol, class);
    }
    fn transfer_finished(&self, report: &TransferReport<'_>) {
        self.0.transfer_finished(report);
        self.1.transfer_finished(report);
    }
    fn transfer_progress(&self, progress: &TransferProgress<'_>) {
        self.0.transfer_progress(progress);
        self.1.transfer_progress(progress);
    }
    fn retransmits(&self, n: u64) {
        self.0.retransmits(n);
        self.1.retransmits(n);
    }
    fn error_sent(&self, code: u16) {
        self.0.error_sent(code);
        self.1.error_sent(code);
    }
    fn request_rejected(&self, protocol: Protocol, reason: RejectReason) {
        self.0.request_rejected(protocol, reason);
        self.1.request_rejected(protocol, reason);
    }
}

impl<T: Events + ?Sized> Events for std::sync::Arc<T> {
    fn session_opened(&self) {
        (**self).session_opened()
    }
    fn session_closed(&self) {
        (**self).session_closed()
    }
    fn http_connection_opened(&self) {
        (**self).http_connection_opened()
    }
    fn http_connection_closed(&self) {
        (**self).http_connection_closed()
    }
    fn transfer_started(&self, protocol: Protocol, class: FileClass) {
        (**self).transfer_started(protocol, class)
    }
    fn transfer_finished(&self, report: &TransferReport<'_>) {
        (**self).transfer_finished(report)
    }
    fn transfer_progress(&self, progress: &TransferProgress<'_>) {
        (**self).transfer_progress(progress)
    }
    fn retransmits(&self, n: u64) {
        (**self).retransmits(n)
    }
    fn error_sent(&self, code: u16) {
        (**self).error_sent(code)
    }
    fn request_rejected(&self, protocol: Protocol, reason: RejectReason) {
        (**self).request_rejected(protocol, reason)
    }
}
