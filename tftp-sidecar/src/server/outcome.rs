//! The engine's vocabulary: how a transfer ended and why a request was refused. Both
//! listeners (TFTP and the phone-file HTTP listener) speak it; metrics use it as labels.

/// How a transfer ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Completed,
    /// The client sent an ERROR or something it should not have.
    ClientError,
    /// The client stopped answering (retry limit reached).
    TimedOut,
    NotFound,
    AccessDenied,
    /// The store could not deliver the bytes (origin down, I/O error, ...).
    Unavailable,
    /// Ended by the server (shutdown deadline, ...).
    Aborted,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Completed,
        Outcome::ClientError,
        Outcome::TimedOut,
        Outcome::NotFound,
        Outcome::AccessDenied,
        Outcome::Unavailable,
        Outcome::Aborted,
    ];

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

/// Why a request was refused before a transfer started.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Over the concurrent-transfer cap.
    Busy,
    /// Over the per-client-address cap.
    PerClientBusy,
    /// The file name broke a path rule.
    Path,
    /// A write request while writes are disabled.
    Write,
    /// Netascii mode refused.
    Netascii,
    /// A packet or request head that does not parse (HTTP: also over the header size bound).
    Malformed,
    /// HTTP: a method other than GET or HEAD.
    Method,
    /// HTTP: the request head did not arrive within the header timeout (slowloris), or the
    /// connection stalled past the idle timeout.
    Timeout,
}

impl RejectReason {
    pub const ALL: [RejectReason; 8] = [
        RejectReason::Busy,
        RejectReason::PerClientBusy,
        RejectReason::Path,
        RejectReason::Write,
        RejectReason::Netascii,
        RejectReason::Malformed,
        RejectReason::Method,
        RejectReason::Timeout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::Busy => "busy",
            RejectReason::PerClientBusy => "per_client_busy",
            RejectReason::Path => "path",
            RejectReason::Write => "write",
            RejectReason::Netascii => "netascii",
            RejectReason::Malformed => "malformed",
            RejectReason::Method => "method",
            RejectReason::Timeout => "timeout",
        }
    }
}
