//! What the engine reports as it runs. Metrics (and tests) implement [`Events`]; the engine
//! never depends on how they are counted.

use std::net::SocketAddr;
use std::time::Duration;

use crate::file_class::FileClass;

/// How a transfer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Completed,
    /// The client sent an ERROR (or refused our OACK).
    ClientError,
    /// No ACK after the retry limit.
    TimedOut,
    NotFound,
    AccessDenied,
    Unavailable,
    /// Cut short by shutdown.
    Aborted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::ClientError => "client_error",
            Outcome::TimedOut => "timed_out",
            Outcome::NotFound => "not_found",
            Outcome::AccessDenied => "access_denied",
            Outcome::Unavailable => "unavailable",
            Outcome::Aborted => "aborted",
        }
    }
}

/// Why a request was refused before a session started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    Busy,
    PerClientBusy,
    Path,
    Write,
    Netascii,
    Malformed,
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

impl From<Outcome> for crate::metrics::Outcome {
    fn from(o: Outcome) -> Self {
        use crate::metrics::Outcome as M;
        match o {
            Outcome::Completed => M::Completed,
            Outcome::ClientError => M::ClientError,
            Outcome::TimedOut => M::TimedOut,
            Outcome::NotFound => M::NotFound,
            Outcome::AccessDenied => M::AccessDenied,
            Outcome::Unavailable => M::Unavailable,
            Outcome::Aborted => M::Aborted,
        }
    }
}

impl From<RejectReason> for crate::metrics::RejectReason {
    fn from(r: RejectReason) -> Self {
        use crate::metrics::RejectReason as M;
        match r {
            RejectReason::Busy => M::Busy,
            RejectReason::PerClientBusy => M::PerClientBusy,
            RejectReason::Path => M::Path,
            RejectReason::Write => M::Write,
            RejectReason::Netascii => M::Netascii,
            RejectReason::Malformed => M::Malformed,
        }
    }
}

/// The Prometheus metrics and the phone table are fed from engine events.
impl Events for crate::metrics::Metrics {
    fn session_opened(&self) {
        crate::metrics::Metrics::session_opened(self)
    }
    fn session_closed(&self) {
        crate::metrics::Metrics::session_closed(self)
    }
    fn transfer_started(&self, class: FileClass) {
        crate::metrics::Metrics::transfer_started(self, class)
    }
    fn transfer_finished(&self, r: &TransferReport<'_>) {
        let outcome = r.outcome.into();
        crate::metrics::Metrics::transfer_finished(self, r.class, outcome, r.bytes, r.duration);
        self.phones()
            .observe(r.file, r.client, r.class, r.bytes, outcome);
    }
    fn retransmits(&self, n: u64) {
        crate::metrics::Metrics::retransmits(self, n)
    }
    fn error_sent(&self, code: u16) {
        crate::metrics::Metrics::error_sent(self, code)
    }
    fn request_rejected(&self, reason: RejectReason) {
        crate::metrics::Metrics::request_rejected(self, reason.into())
    }
}
