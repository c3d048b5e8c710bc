//! Prometheus metrics for the sidecar, in a registry of its own (no global state, so tests can
//! build as many as they like). Every label is from a fixed set and every label set is
//! created at zero, so dashboards and alerts see the series before the first event.

use std::time::Duration;

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::file_class::FileClass;
use crate::store::StoreEvents;

/// The label vocabularies live with the parts that speak them (the engine, the store); they
/// are re-exported here because every one of them is also a metric label.
pub use crate::server::{Outcome, RejectReason};
pub use crate::store::{OriginOutcome, Tier};

/// Which listener served a transfer: defined with the engine's events, re-exported here.
pub use crate::server::events::Protocol;

/// TFTP error codes 0..=8 get their own label; anything else is `other`.
const ERROR_CODES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "other"];

pub struct Metrics {
    registry: Registry,
    transfers_started: IntCounterVec,
    transfers_completed: IntCounterVec,
    transfers_failed: IntCounterVec,
    bytes_sent: IntCounterVec,
    transfer_duration: HistogramVec,
    retransmits: IntCounter,
    errors_sent: IntCounterVec,
    active_sessions: IntGauge,
    http_connections: IntGauge,
    requests_rejected: IntCounterVec,
    cache_hits: IntCounterVec,
    cache_misses: IntCounter,
    cache_coalesced: IntCounter,
    cache_evictions: IntCounterVec,
    cache_bytes: IntGaugeVec,
    cache_corrupt: IntCounter,
    stale_served: IntCounter,
    negative_hits: IntCounter,
    origin_requests: IntCounterVec,
    origin_duration: Histogram,
    /// Kea statistics sources, for `/readyz` (set once at start-up).
    kea: std::sync::OnceLock<Vec<std::sync::Arc<crate::kea_stats::KeaStats>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The registry with every transfer, cache and origin series at zero. The phone table's
    /// gauges join it when the table is made (`PhoneTable::registered`).
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let r = &registry;
        let transfers_started = counter_vec(
            r,
            "tftp_transfers_started_total",
            "Read transfers started, by protocol and file class.",
            &["protocol", "class"],
        );
        let transfers_completed = counter_vec(
            r,
            "tftp_transfers_completed_total",
            "Read transfers that completed (TFTP: last block acknowledged; HTTP: whole response body sent), by protocol and file class.",
            &["protocol", "class"],
        );
        let transfers_failed = counter_vec(
            r,
            "tftp_transfers_failed_total",
            "Read transfers that did not complete, by protocol, file class and outcome.",
            &["protocol", "class", "outcome"],
        );
        let bytes_sent = counter_vec(
            r,
            "tftp_bytes_sent_total",
            "File bytes sent in finished transfers, by protocol and file class.",
            &["protocol", "class"],
        );
        let transfer_duration = HistogramVec::new(
            HistogramOpts::new(
                "tftp_transfer_duration_seconds",
                "Time from request to the end of a transfer, by protocol and file class.",
            )
            .buckets(vec![
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
                300.0, 600.0,
            ]),
            &["protocol", "class"],
        )
        .unwrap();
        r.register(Box::new(transfer_duration.clone())).unwrap();
        let retransmits = counter(r, "tftp_retransmits_total", "DATA packets sent again.");
        let errors_sent = counter_vec(
            r,
            "tftp_errors_sent_total",
            "TFTP ERROR packets sent, by error code.",
            &["code"],
        );
        let active_sessions =
            IntGauge::new("tftp_active_sessions", "Transfers running now.").unwrap();
        r.register(Box::new(active_sessions.clone())).unwrap();
        let http_connections = IntGauge::new(
            "tftp_http_connections",
            "Open connections on the phone-file HTTP listener.",
        )
        .unwrap();
        r.register(Box::new(http_connections.clone())).unwrap();
        let requests_rejected = counter_vec(
            r,
            "tftp_requests_rejected_total",
            "Requests (HTTP: also connections) refused before a transfer started, by protocol and reason.",
            &["protocol", "reason"],
        );
        let cache_hits = counter_vec(
            r,
            "tftp_cache_hits_total",
            "Opens served from a cache tier without asking the origin.",
            &["tier"],
        );
        let cache_misses = counter(
            r,
            "tftp_cache_misses_total",
            "Opens that had to load from the local root or the origin.",
        );
        let cache_coalesced = counter(
            r,
            "tftp_cache_coalesced_waits_total",
            "Opens that joined a load already in flight instead of starting one.",
        );
        let cache_evictions = counter_vec(
            r,
            "tftp_cache_evictions_total",
            "Entries dropped to stay within a tier's byte budget.",
            &["tier"],
        );
        let cache_bytes = IntGaugeVec::new(
            Opts::new("tftp_cache_bytes", "File bytes held, by cache tier."),
            &["tier"],
        )
        .unwrap();
        r.register(Box::new(cache_bytes.clone())).unwrap();
        let cache_corrupt = counter(
            r,
            "tftp_cache_corrupt_entries_total",
            "Disk cache entries that failed their checksum and were deleted.",
        );
        let stale_served = counter(
            r,
            "tftp_cache_stale_served_total",
            "Opens served from an expired cached copy because the origin failed.",
        );
        let negative_hits = counter(
            r,
            "tftp_negative_cache_hits_total",
            "Opens answered 'not found' from the negative cache.",
        );
        let origin_requests = counter_vec(
            r,
            "tftp_origin_requests_total",
            "Requests to the HTTP origin, by outcome.",
            &["outcome"],
        );
        let origin_duration = Histogram::with_opts(
            HistogramOpts::new(
                "tftp_origin_request_duration_seconds",
                "Time to the origin's response headers, including any wait for a free request slot.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ]),
        )
        .unwrap();
        r.register(Box::new(origin_duration.clone())).unwrap();
        // Every label set starts at zero.
        for p in Protocol::ALL.map(Protocol::as_str) {
            for class in FileClass::ALL {
                let c = class.as_str();
                transfers_started.with_label_values(&[p, c]);
                transfers_completed.with_label_values(&[p, c]);
                bytes_sent.with_label_values(&[p, c]);
                transfer_duration.with_label_values(&[p, c]);
                for o in Outcome::ALL {
                    if o != Outcome::Completed {
                        transfers_failed.with_label_values(&[p, c, o.as_str()]);
                    }
                }
            }
            for reason in RejectReason::ALL {
                requests_rejected.with_label_values(&[p, reason.as_str()]);
            }
        }
        for code in ERROR_CODES {
            errors_sent.with_label_values(&[code]);
        }
        for tier in Tier::ALL {
            cache_hits.with_label_values(&[tier.as_str()]);
            cache_evictions.with_label_values(&[tier.as_str()]);
            cache_bytes.with_label_values(&[tier.as_str()]);
        }
        for o in OriginOutcome::ALL {
            origin_requests.with_label_values(&[o.as_str()]);
        }

        Metrics {
            registry,
            transfers_started,
            transfers_completed,
            transfers_failed,
            bytes_sent,
            transfer_duration,
            retransmits,
            errors_sent,
            active_sessions,
            http_connections,
            requests_rejected,
            cache_hits,
            cache_misses,
            cache_coalesced,
            cache_evictions,
            cache_bytes,
            cache_corrupt,
            stale_served,
            negative_hits,
            origin_requests,
            origin_duration,
            kea: std::sync::OnceLock::new(),
        }
    }

    /// Records the Kea statistics sources (their metrics are on this registry already), so
    /// `/readyz` can report them. Only the first call counts.
    pub fn set_kea_sources(&self, sources: Vec<std::sync::Arc<crate::kea_stats::KeaStats>>) {
        let _ = self.kea.set(sources);
    }

    /// The Kea statistics sources (empty without `[kea]`).
    pub fn kea_sources(&self) -> &[std::sync::Arc<crate::kea_stats::KeaStats>] {
        self.kea.get().map_or(&[], Vec::as_slice)
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The text exposition format served at `/metrics`.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding to a Vec cannot fail");
        String::from_utf8(buf).expect("exposition text is UTF-8")
    }

    // --- transfer engine ---

    pub fn transfer_started(&self, protocol: Protocol, class: FileClass) {
        self.transfers_started
            .with_label_values(&[protocol.as_str(), class.as_str()])
            .inc();
    }

    pub fn transfer_finished(
        &self,
        protocol: Protocol,
        class: FileClass,
        outcome: Outcome,
        bytes: u64,
        duration: Duration,
    ) {
        let (p, c) = (protocol.as_str(), class.as_str());
        match outcome {
            Outcome::Completed => self.transfers_completed.with_label_values(&[p, c]).inc(),
            o => self
                .transfers_failed
                .with_label_values(&[p, c, o.as_str()])
                .inc(),
        }
        self.bytes_sent.with_label_values(&[p, c]).inc_by(bytes);
        self.transfer_duration
            .with_label_values(&[p, c])
            .observe(duration.as_secs_f64());
    }

    pub fn retransmits(&self, n: u64) {
        self.retransmits.inc_by(n);
    }

    pub fn error_sent(&self, code: u16) {
        let label = if code <= 8 {
            ERROR_CODES[code as usize]
        } else {
            "other"
        };
        self.errors_sent.with_label_values(&[label]).inc();
    }

    pub fn session_opened(&self) {
        self.active_sessions.inc();
    }

    pub fn session_closed(&self) {
        self.active_sessions.dec();
    }

    pub fn request_rejected(&self, protocol: Protocol, reason: RejectReason) {
        self.requests_rejected
            .with_label_values(&[protocol.as_str(), reason.as_str()])
            .inc();
    }

    pub fn http_connection_opened(&self) {
        self.http_connections.inc();
    }

    pub fn http_connection_closed(&self) {
        self.http_connections.dec();
    }
}

/// The store's events, counted.
impl StoreEvents for Metrics {
    fn cache_hit(&self, tier: Tier) {
        self.cache_hits.with_label_values(&[tier.as_str()]).inc();
    }

    fn cache_miss(&self) {
        self.cache_misses.inc();
    }

    fn coalesced_wait(&self) {
        self.cache_coalesced.inc();
    }

    fn cache_evicted(&self, tier: Tier, n: u64) {
        self.cache_evictions
            .with_label_values(&[tier.as_str()])
            .inc_by(n);
    }

    fn cache_bytes(&self, tier: Tier, bytes: u64) {
        self.cache_bytes
            .with_label_values(&[tier.as_str()])
            .set(bytes as i64);
    }

    fn cache_corrupt(&self) {
        self.cache_corrupt.inc();
    }

    fn stale_served(&self) {
        self.stale_served.inc();
    }

    fn negative_hit(&self) {
        self.negative_hits.inc();
    }

    fn origin_request(&self, outcome: OriginOutcome, latency: Duration) {
        self.origin_requests
            .with_label_values(&[outcome.as_str()])
            .inc();
        self.origin_duration.observe(latency.as_secs_f64());
    }
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let c = IntCounter::new(name, help).unwrap();
    r.register(Box::new(c.clone())).unwrap();
    c
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).unwrap();
    r.register(Box::new(c.clone())).unwrap();
    c
}
