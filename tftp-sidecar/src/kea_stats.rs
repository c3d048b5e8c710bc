//! Kea's statistics in the sidecar's scrape: polls Kea (`statistic-get-all`) every
//! `poll-interval`, over its unix control socket or, on Kea 3.0, kea-dhcp4's own HTTP control
//! socket, and exports the cisco-tftp hook's counters and Kea's DHCPv4 packet counters, so one
//! scrape target shows both sides of a phone's boot.
//!
//! | metric | from Kea statistic |
//! | --- | --- |
//! | `tftp_kea_up` | 1 when the last poll got an answer, else 0 |
//! | `tftp_kea_last_error{reason}` | 1 for why the last poll failed (all 0 when up) |
//! | `tftp_kea_option150_sent_total{family}` | `cisco-tftp.option-150-sent.<family>` |
//! | `tftp_kea_skipped_total{reason}` | `cisco-tftp.skipped.<reason>` (`-` becomes `_`) |
//! | `tftp_kea_hook_errors_total` | `cisco-tftp.errors` |
//! | `tftp_kea_packets_total{direction,type}` | `pkt4-<type>-received` / `pkt4-<type>-sent`, `pkt4-parse-failed` (received, `parse_failed`), `pkt4-receive-drop` (received, `dropped`) |
//!
//! Counters mirror Kea's values exactly; when Kea restarts (or a statistic is reset) and a
//! value goes down, the counter restarts from it, which `rate()` reads as a counter reset.
//! Kea down, the socket missing or refused: `tftp_kea_up` is 0, `tftp_kea_last_error` says
//! why, the counters keep their last values, one log line gives the reason and the fix (once
//! per change, not per poll), `/readyz` shows it, and TFTP serving is not affected (each
//! source is one task doing nothing else).
//!
//! Several sources (`[[kea]]` tables, e.g. the two servers of an HA pair) each carry a
//! `server` label (a constant label on every `tftp_kea_*` series of that source).

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::config::error::Key;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// One `[kea]` table (or one entry of `[[kea]]`): where Kea answers, and how often to ask.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeaConfig {
    /// Kea's unix control socket (`control-socket`/`control-sockets` `socket-name`; Kea
    /// 2.6.3+/3.0 only allow it in `/run/kea`).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "control-socket"
    )]
    pub control_socket: Option<PathBuf>,
    /// kea-dhcp4's own HTTP control socket (Kea 3.0 `control-sockets`, `socket-type` `http`
    /// or `https`), e.g. `http://127.0.0.1:8000/`. Not the Control Agent.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "http-url")]
    pub http_url: Option<String>,
    /// Basic-auth user (`authentication` `clients` `user`), with `http-password-file`.
    #[serde(default, skip_serializing_if = "Option::is_none", alias = "http-user")]
    pub http_user: Option<String>,
    /// File holding that user's password (read at every poll; one trailing newline is
    /// ignored). Never a password in the config or on the command line.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        alias = "http-password-file"
    )]
    pub http_password_file: Option<PathBuf>,
    /// The `server` label of this source's series (required with several sources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Seconds between polls.
    #[serde(default = "default_poll_interval", alias = "poll-interval")]
    pub poll_interval: f64,
}

fn default_poll_interval() -> f64 {
    5.0
}

/// Where one source's answers come from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Unix(PathBuf),
    Http {
        url: reqwest::Url,
        user: Option<String>,
        password_file: Option<PathBuf>,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Unix(p) => write!(f, "unix:{}", p.display()),
            Source::Http { url, user, .. } => match user {
                Some(u) => write!(f, "{url} (user {u})"),
                None => write!(f, "{url}"),
            },
        }
    }
}

impl KeaConfig {
    /// A unix-socket source with the default interval.
    pub fn new(control_socket: impl Into<PathBuf>) -> KeaConfig {
        KeaConfig {
            control_socket: Some(control_socket.into()),
            http_url: None,
            http_user: None,
            http_password_file: None,
            server: None,
            poll_interval: default_poll_interval(),
        }
    }

    /// An HTTP source (Kea 3.0's `control-sockets` `http` entry) with the default interval.
    pub fn http(url: &str) -> KeaConfig {
        KeaConfig {
            control_socket: None,
            http_url: Some(url.to_string()),
            ..KeaConfig::new("")
        }
    }

    /// The interval, checked (0.05 s .. 1 hour).
    pub fn interval(&self) -> Result<Duration, KeaConfigError> {
        let v = self.poll_interval;
        if !(v.is_finite() && (0.05..=3600.0).contains(&v)) {
            return Err(KeaConfigError::Interval(v));
        }
        Ok(Duration::from_secs_f64(v))
    }

    /// The source, checked: exactly one of `control_socket` and `http_url`; `http_user` and
    /// `http_password_file` together and only with `http_url`.
    pub fn source(&self) -> Result<Source, KeaConfigError> {
        use KeaConfigError as E;
        match (&self.control_socket, &self.http_url) {
            (Some(_), Some(_)) => Err(E::BothSources),
            (None, None) => Err(E::NoSource),
            (Some(p), None) => {
                if self.http_user.is_some() || self.http_password_file.is_some() {
                    return Err(E::AuthWithoutUrl);
                }
                if p.as_os_str().is_empty() {
                    return Err(E::EmptySocket);
                }
                Ok(Source::Unix(p.clone()))
            }
            (None, Some(u)) => {
                let bad = |why: String| E::Url {
                    url: u.clone(),
                    why,
                };
                let url = reqwest::Url::parse(u).map_err(|e| bad(e.to_string()))?;
                if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
                    return Err(bad(
                        "expected http://HOST:PORT/ or https://HOST:PORT/".into()
                    ));
                }
                if !url.username().is_empty() || url.password().is_some() {
                    return Err(bad(format!(
                        "no credentials in the URL; use {HTTP_USER} and {HTTP_PASSWORD_FILE}"
                    )));
                }
                match (&self.http_user, &self.http_password_file) {
                    (Some(_), None) => return Err(E::UserWithoutPasswordFile),
                    (None, Some(_)) => return Err(E::PasswordFileWithoutUser),
                    _ => {}
                }
                Ok(Source::Http {
                    url,
                    user: self.http_user.clone(),
                    password_file: self.http_password_file.clone(),
                })
            }
        }
    }

    /// Everything checked: source, interval, `server` label.
    pub fn validate(&self) -> Result<(), KeaConfigError> {
        self.source()?;
        self.interval()?;
        if let Some(s) = &self.server {
            if !label_ok(s) {
                return Err(KeaConfigError::ServerLabel(s.clone()));
            }
        }
        Ok(())
    }
}

const CONTROL_SOCKET: Key = Key("control_socket");
const HTTP_URL: Key = Key("http_url");
const HTTP_USER: Key = Key("http_user");
const HTTP_PASSWORD_FILE: Key = Key("http_password_file");
const POLL_INTERVAL: Key = Key("poll_interval");
const SERVER: Key = Key("server");

/// What is wrong with a `[kea]` source; each names its key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeaConfigError {
    #[error(
        "set one of {CONTROL_SOCKET} (unix) and {HTTP_URL} (Kea 3.0 HTTP control socket), not both"
    )]
    BothSources,
    #[error("{CONTROL_SOCKET} (Kea's unix control socket, e.g. /run/kea/kea4-ctrl-socket) or {HTTP_URL} (Kea 3.0's HTTP control socket) is required")]
    NoSource,
    #[error("{HTTP_USER}/{HTTP_PASSWORD_FILE} go with {HTTP_URL}")]
    AuthWithoutUrl,
    #[error("{CONTROL_SOCKET} is empty")]
    EmptySocket,
    #[error("{HTTP_URL} {url:?}: {why}")]
    Url { url: String, why: String },
    #[error("{HTTP_USER} needs {HTTP_PASSWORD_FILE}")]
    UserWithoutPasswordFile,
    #[error("{HTTP_PASSWORD_FILE} needs {HTTP_USER}")]
    PasswordFileWithoutUser,
    #[error("{POLL_INTERVAL} must be between 0.05 and 3600 seconds, got {0}")]
    Interval(f64),
    #[error("{SERVER} {0:?}: 1-{MAX_LABEL_LEN} characters of A-Z a-z 0-9 _ -")]
    ServerLabel(String),
    #[error(
        "{SERVER} is required with several [[kea]] sources (the label telling their series apart)"
    )]
    ServerRequired,
    #[error("{SERVER} {0:?} is used twice")]
    ServerTwice(String),
    /// One of several `[[kea]]` sources (numbered from 1).
    #[error("source {index}: {error}")]
    Source {
        index: usize,
        error: Box<KeaConfigError>,
    },
}

/// Checks a list of sources: each valid; with several, each has a distinct `server`.
pub fn validate_all(cfgs: &[KeaConfig]) -> Result<(), KeaConfigError> {
    let numbered = |index: usize, error: KeaConfigError| {
        if cfgs.len() > 1 {
            KeaConfigError::Source {
                index: index + 1,
                error: Box::new(error),
            }
        } else {
            error
        }
    };
    for (i, c) in cfgs.iter().enumerate() {
        c.validate().map_err(|e| numbered(i, e))?;
    }
    if cfgs.len() > 1 {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in cfgs.iter().enumerate() {
            match &c.server {
                None => return Err(numbered(i, KeaConfigError::ServerRequired)),
                Some(s) if !seen.insert(s.clone()) => {
                    return Err(KeaConfigError::ServerTwice(s.clone()))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The `kea` key of the config file: one `[kea]` table or several `[[kea]]` tables.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeaTables(pub Vec<KeaConfig>);

impl<'de> Deserialize<'de> for KeaTables {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    KeaConfig::deserialize(v)
                        .map_err(|e| D::Error::custom(format!("kea #{}: {e}", i + 1)))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(KeaTables),
            v @ toml::Value::Table(_) => KeaConfig::deserialize(v)
                .map(|c| KeaTables(vec![c]))
                .map_err(|e| D::Error::custom(format!("kea: {e}"))),
            _ => Err(D::Error::custom(
                "kea: expected a [kea] table or [[kea]] tables",
            )),
        }
    }
}

/// Families whose series exist from the start (others appear once Kea counts them).
pub const FAMILIES: [&str; 10] = [
    "79xx", "78xx", "88xx", "89xx", "99xx", "69xx", "wireless", "generic", "spa", "ata",
];
pub const SKIP_REASONS: [&str; 2] = ["family_disabled", "no_policy"];
pub const PACKETS: [(&str, &str); 11] = [
    ("received", "discover"),
    ("received", "request"),
    ("received", "release"),
    ("received", "decline"),
    ("received", "inform"),
    ("received", "unknown"),
    ("received", "parse_failed"),
    ("received", "dropped"),
    ("sent", "offer"),
    ("sent", "ack"),
    ("sent", "nak"),
];

/// Labels are bounded: a family or packet type must look like Kea's names.
const MAX_LABEL_LEN: usize = 32;

/// Why a poll failed: the `reason` label of `tftp_kea_last_error` (a fixed set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The socket or its directory does not exist.
    NotFound,
    /// EACCES/EPERM on the socket's directory or the socket.
    PermissionDenied,
    /// Nothing listens (stale unix socket, closed TCP port).
    Refused,
    /// No answer within the poll's time limit.
    Timeout,
    /// HTTP 401/403: Kea refused the credentials.
    Unauthorized,
    /// The `http-password-file` cannot be read.
    PasswordFile,
    /// Another HTTP status than 200.
    HttpStatus,
    /// An answer that is not Kea's JSON.
    BadAnswer,
    /// Kea answered with a result other than 0.
    CommandFailed,
    /// Any other I/O error.
    Other,
}

impl Reason {
    pub const ALL: [Reason; 10] = [
        Reason::NotFound,
        Reason::PermissionDenied,
        Reason::Refused,
        Reason::Timeout,
        Reason::Unauthorized,
        Reason::PasswordFile,
        Reason::HttpStatus,
        Reason::BadAnswer,
        Reason::CommandFailed,
        Reason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotFound => "not_found",
            Reason::PermissionDenied => "permission_denied",
            Reason::Refused => "refused",
            Reason::Timeout => "timeout",
            Reason::Unauthorized => "unauthorized",
            Reason::PasswordFile => "password_file",
            Reason::HttpStatus => "http_status",
            Reason::BadAnswer => "bad_answer",
            Reason::CommandFailed => "command_failed",
            Reason::Other => "other",
        }
    }
}

/// A failed poll: the reason label, what happened, and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollError {
    pub reason: Reason,
    pub what: String,
    pub fix: String,
}

impl PollError {
    fn new(reason: Reason, what: impl Into<String>, fix: impl Into<String>) -> PollError {
        PollError {
            reason,
            what: what.into(),
            fix: fix.into(),
        }
    }
}

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.fix.is_empty() {
            write!(f, "{}", self.what)
        } else {
            write!(f, "{}; fix: {}", self.what, self.fix)
        }
    }
}

impl std::error::Error for PollError {}

/// Where a source stands, for logs and `/readyz`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not polled yet.
    Unknown,
    Up,
    Down(PollError),
}

/// The exported metrics of one source, and where it stands.
pub struct KeaStats {
    source: Source,
    server: Option<String>,
    http: Option<reqwest::Client>,
    up: IntGauge,
    last_error: IntGaugeVec,
    option150_sent: IntCounterVec,
    skipped: IntCounterVec,
    hook_errors: IntCounter,
    packets: IntCounterVec,
    polls: IntCounterVec,
    status: Mutex<Status>,
}

impl KeaStats {
    /// Creates the metrics of a unix-socket source without a `server` label and registers
    /// them on `registry` (the sidecar's).
    pub fn register(registry: &Registry) -> prometheus::Result<KeaStats> {
        Self::register_source(registry, Source::Unix(PathBuf::new()), None)
    }

    /// Creates the metrics of `source` (with a constant `server` label when `server` is set)
    /// and registers them on `registry`. Sources with distinct `server` values share the
    /// registry: their series differ by that label.
    pub fn register_source(
        registry: &Registry,
        source: Source,
        server: Option<&str>,
    ) -> prometheus::Result<KeaStats> {
        let opts = |name: &str, help: &str| {
            let o = Opts::new(name, help);
            match server {
                Some(s) => o.const_label("server", s),
                None => o,
            }
        };
        let up = IntGauge::with_opts(opts(
            "tftp_kea_up",
            "1 when the last poll of Kea's control socket answered, else 0.",
        ))?;
        let last_error = IntGaugeVec::new(
            opts(
                "tftp_kea_last_error",
                "1 for the reason the last poll of Kea failed (all 0 while Kea answers); the log and /readyz give the details and the fix.",
            ),
            &["reason"],
        )?;
        let option150_sent = IntCounterVec::new(
            opts(
                "tftp_kea_option150_sent_total",
                "DHCP answers the cisco-tftp hook added option 150 to, by phone family (Kea statistic cisco-tftp.option-150-sent.<family>).",
            ),
            &["family"],
        )?;
        let skipped = IntCounterVec::new(
            opts(
                "tftp_kea_skipped_total",
                "Cisco clients the hook left without option 150, by reason (cisco-tftp.skipped.<reason>).",
            ),
            &["reason"],
        )?;
        let hook_errors = IntCounter::with_opts(opts(
            "tftp_kea_hook_errors_total",
            "Errors the hook contained (panics, C++ exceptions; cisco-tftp.errors): the packet went out untouched.",
        ))?;
        let packets = IntCounterVec::new(
            opts(
                "tftp_kea_packets_total",
                "Kea DHCPv4 packets by direction and type (pkt4-<type>-received/-sent).",
            ),
            &["direction", "type"],
        )?;
        let polls = IntCounterVec::new(
            opts(
                "tftp_kea_polls_total",
                "Polls of Kea's control socket, by result (ok, error).",
            ),
            &["result"],
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(last_error.clone()))?;
        registry.register(Box::new(option150_sent.clone()))?;
        registry.register(Box::new(skipped.clone()))?;
        registry.register(Box::new(hook_errors.clone()))?;
        registry.register(Box::new(packets.clone()))?;
        registry.register(Box::new(polls.clone()))?;
        for r in Reason::ALL {
            last_error.with_label_values(&[r.as_str()]);
        }
        for f in FAMILIES {
            option150_sent.with_label_values(&[f]);
        }
        for r in SKIP_REASONS {
            skipped.with_label_values(&[r]);
        }
        for (d, t) in PACKETS {
            packets.with_label_values(&[d, t]);
        }
        polls.with_label_values(&["ok"]);
        polls.with_label_values(&["error"]);
        let http = match &source {
            Source::Http { .. } => Some(
                reqwest::Client::builder()
                    // Kea's control socket is local or in-cluster: never through a proxy.
                    .no_proxy()
                    .build()
                    .map_err(|e| prometheus::Error::Msg(format!("HTTP client: {e}")))?,
            ),
            Source::Unix(_) => None,
        };
        Ok(KeaStats {
            source,
            server: server.map(str::to_string),
            http,
            up,
            last_error,
            option150_sent,
            skipped,
            hook_errors,
            packets,
            polls,
            status: Mutex::new(Status::Unknown),
        })
    }

    /// Applies the `arguments` of a `statistic-get-all` answer.
    pub fn apply(&self, arguments: &Value) {
        let Some(map) = arguments.as_object() else {
            return;
        };
        for (name, samples) in map {
            // [[value, "timestamp"], ...], newest first.
            let Some(v) = samples
                .get(0)
                .and_then(|s| s.get(0))
                .and_then(Value::as_i64)
            else {
                continue;
            };
            let v = v.max(0) as u64;
            if let Some(family) = name.strip_prefix("cisco-tftp.option-150-sent.") {
                if label_ok(family) {
                    mirror(&self.option150_sent.with_label_values(&[family]), v);
                }
            } else if let Some(reason) = name.strip_prefix("cisco-tftp.skipped.") {
                let reason = reason.replace('-', "_");
                if label_ok(&reason) {
                    mirror(&self.skipped.with_label_values(&[&reason]), v);
                }
            } else if name == "cisco-tftp.errors" {
                mirror(&self.hook_errors, v);
            } else if let Some((dir, ty)) = packet_labels(name) {
                mirror(&self.packets.with_label_values(&[dir, &ty]), v);
            }
        }
    }

    pub fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    pub fn is_up(&self) -> bool {
        self.up.get() == 1
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn server(&self) -> Option<&str> {
        self.server.as_deref()
    }

    pub fn status(&self) -> Status {
        self.status.lock().unwrap().clone()
    }

    /// Why the last poll failed (None after a good one or before the first).
    pub fn last_error(&self) -> Option<String> {
        match &*self.status.lock().unwrap() {
            Status::Down(e) => Some(e.to_string()),
            _ => None,
        }
    }

    /// One line for `/readyz`: `kea [server=NAME ]SOURCE: up` or `...: down (REASON): WHAT;
    /// fix: FIX`.
    pub fn status_line(&self) -> String {
        let who = match &self.server {
            Some(s) => format!("kea server={s} {}", self.source),
            None => format!("kea {}", self.source),
        };
        match self.status() {
            Status::Unknown => format!("{who}: not polled yet"),
            Status::Up => format!("{who}: up"),
            Status::Down(e) => format!("{who}: down ({}): {e}", e.reason.as_str()),
        }
    }

    /// One poll: ask Kea, apply the answer, set `tftp_kea_up` and `tftp_kea_last_error`; log
    /// when the state changes (up, down, or down for another reason), not at every poll.
    pub async fn poll(&self, timeout: Duration) {
        let got = match &self.source {
            Source::Unix(socket) => statistic_get_all(socket, timeout)
                .await
                .map_err(|e| diagnose_unix(socket, e, timeout)),
            Source::Http {
                url,
                user,
                password_file,
            } => {
                let client = self.http.as_ref().expect("HTTP source has a client");
                http_statistic_get_all(
                    client,
                    url,
                    user.as_deref(),
                    password_file.as_deref(),
                    timeout,
                )
                .await
            }
        };
        match got {
            Ok(args) => {
                self.apply(&args);
                self.record(Ok(()));
            }
            Err(e) => self.record(Err(e)),
        }
    }

    /// Sets the metrics and status from a poll's outcome (logging a change).
    pub fn record(&self, outcome: Result<(), PollError>) {
        let (new, result) = match outcome {
            Ok(()) => (Status::Up, "ok"),
            Err(e) => (Status::Down(e), "error"),
        };
        self.set_up(new == Status::Up);
        for r in Reason::ALL {
            let on = matches!(&new, Status::Down(e) if e.reason == r);
            self.last_error
                .with_label_values(&[r.as_str()])
                .set(i64::from(on));
        }
        self.polls.with_label_values(&[result]).inc();
        let mut status = self.status.lock().unwrap();
        if *status != new {
            let server = self.server.as_deref().unwrap_or("");
            let source = self.source.to_string();
            match (&*status, &new) {
                (Status::Down(_), Status::Up) => {
                    tracing::info!(server, source, "Kea answers again; tftp_kea_up = 1")
                }
                (_, Status::Up) => tracing::info!(server, source, "Kea answers; tftp_kea_up = 1"),
                (_, Status::Down(e)) => tracing::warn!(
                    server,
                    source,
                    reason = e.reason.as_str(),
                    "Kea statistics unavailable, tftp_kea_up = 0 (TFTP is not affected): {}; fix: {}",
                    e.what,
                    e.fix
                ),
                (_, Status::Unknown) => {}
            }
            *status = new;
        }
    }
}

/// Registers the metrics of every source on `registry` and starts polling each on the
/// current tokio runtime.
/// Why polling could not start.
#[derive(Debug, thiserror::Error)]
pub enum KeaStartError {
    #[error(transparent)]
    Config(#[from] KeaConfigError),
    #[error("cannot register the tftp_kea_* metrics: {0}")]
    Register(#[from] prometheus::Error),
}

pub fn start_all(
    cfgs: &[KeaConfig],
    registry: &Registry,
) -> Result<Vec<Arc<KeaStats>>, KeaStartError> {
    validate_all(cfgs)?;
    let mut out = Vec::new();
    for cfg in cfgs {
        let interval = cfg.interval()?;
        let source = cfg.source()?;
        let stats = Arc::new(KeaStats::register_source(
            registry,
            source,
            cfg.server.as_deref(),
        )?);
        tracing::info!(
            server = cfg.server.as_deref().unwrap_or(""),
            source = %stats.source,
            interval_s = interval.as_secs_f64(),
            "polling Kea statistics"
        );
        let s = stats.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let timeout = interval.clamp(Duration::from_millis(50), Duration::from_secs(5));
            loop {
                tick.tick().await;
                s.poll(timeout).await;
            }
        });
        out.push(stats);
    }
    Ok(out)
}

/// Registers the metrics on `registry` and starts polling one source.
pub fn start(cfg: &KeaConfig, registry: &Registry) -> Result<Arc<KeaStats>, KeaStartError> {
    Ok(start_all(std::slice::from_ref(cfg), registry)?.remove(0))
}

fn label_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_LABEL_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `pkt4-discover-received` -> (received, discover); totals and non-packet stats -> None.
fn packet_labels(name: &str) -> Option<(&'static str, String)> {
    let rest = name.strip_prefix("pkt4-")?;
    match rest {
        "parse-failed" => return Some(("received", "parse_failed".into())),
        "receive-drop" => return Some(("received", "dropped".into())),
        _ => {}
    }
    let (ty, dir) = if let Some(t) = rest.strip_suffix("-received") {
        (t, "received")
    } else if let Some(t) = rest.strip_suffix("-sent") {
        (t, "sent")
    } else {
        return None;
    };
    let ty = ty.replace('-', "_");
    label_ok(&ty).then_some((dir, ty))
}

/// Sets a counter to Kea's value: up by the difference, or restart from it when Kea's value
/// went down (Kea restarted or the statistic was reset).
fn mirror(c: &IntCounter, v: u64) {
    let cur = c.get();
    if v >= cur {
        c.inc_by(v - cur);
    } else {
        c.reset();
        c.inc_by(v);
    }
}

/// The `arguments` of a Kea answer (an object, or a one-element list of them) when its
/// result is 0.
fn answer_arguments(answer: &Value) -> Result<Value, PollError> {
    let a = match answer {
        Value::Array(v) if !v.is_empty() => &v[0],
        a => a,
    };
    match a.get("result").and_then(Value::as_i64) {
        Some(0) => Ok(a.get("arguments").cloned().unwrap_or(Value::Null)),
        None => Err(PollError::new(
            Reason::BadAnswer,
            format!(
                "answer without a result: {}",
                truncate(&answer.to_string(), 200)
            ),
            "is this Kea's control socket?",
        )),
        Some(r) => {
            let text = a.get("text").and_then(Value::as_str).unwrap_or("");
            let fix = if r == 2 {
                "Kea does not know statistic-get-all here: point the sidecar at kea-dhcp4's own control socket (not the Control Agent, not another daemon)"
            } else {
                "see Kea's log"
            };
            Err(PollError::new(
                Reason::CommandFailed,
                format!("Kea answered result {r}: {text}"),
                fix,
            ))
        }
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.len() <= n {
        return s.to_string();
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// `statistic-get-all` over Kea's unix control socket; returns the `arguments` map. The
/// error is the raw I/O error ([`diagnose_unix`] explains it).
pub async fn statistic_get_all(socket: &Path, timeout: Duration) -> io::Result<Value> {
    let answer = tokio::time::timeout(timeout, command(socket, "statistic-get-all"))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))??;
    answer_arguments(&answer).map_err(io::Error::other)
}

async fn command(socket: &Path, name: &str) -> io::Result<Value> {
    let mut s = UnixStream::connect(socket).await?;
    let req = serde_json::json!({ "command": name }).to_string();
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > 64 << 20 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "answer larger than 64 MiB",
            ));
        }
        // Kea closes after answering, but the JSON may be complete before that.
        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
            return Ok(v);
        }
    }
    serde_json::from_slice(&buf)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad answer: {e}")))
}

/// `statistic-get-all` POSTed to kea-dhcp4's HTTP control socket (Kea 3.0), with basic
/// auth when a user is set. No `service` parameter: kea-dhcp4 answers itself (from 3.2 it
/// would no longer ignore one).
pub async fn http_statistic_get_all(
    client: &reqwest::Client,
    url: &reqwest::Url,
    user: Option<&str>,
    password_file: Option<&Path>,
    timeout: Duration,
) -> Result<Value, PollError> {
    let mut req = client
        .post(url.clone())
        .timeout(timeout)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(r#"{"command": "statistic-get-all"}"#);
    if let (Some(user), Some(file)) = (user, password_file) {
        let password = read_password(file)?;
        req = req.basic_auth(user, Some(password));
    }
    let resp = req
        .send()
        .await
        .map_err(|e| diagnose_http(url, e, timeout))?;
    let status = resp.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        let what = format!("Kea refused the credentials at {url} (HTTP {status})");
        let fix = match user {
            Some(u) => format!(
                "the user {u:?} and the password in {} must match a client of Kea's control-sockets http entry (authentication, clients: user and password or password-file)",
                password_file.map(|p| p.display().to_string()).unwrap_or_default()
            ),
            None => "Kea's HTTP control socket requires basic authentication: set [kea] http-user and http-password-file".to_string(),
        };
        return Err(PollError::new(Reason::Unauthorized, what, fix));
    }
    if resp.content_length().is_some_and(|n| n > 64 << 20) {
        return Err(PollError::new(
            Reason::BadAnswer,
            format!("{url} answered more than 64 MiB"),
            "http-url must be kea-dhcp4's HTTP control socket",
        ));
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| diagnose_http(url, e, timeout))?;
    if !status.is_success() {
        return Err(PollError::new(
            Reason::HttpStatus,
            format!(
                "{url} answered HTTP {status}: {}",
                truncate(&String::from_utf8_lossy(&body), 200)
            ),
            "http-url must be kea-dhcp4's HTTP control socket (Kea 3.0 control-sockets, socket-type http)",
        ));
    }
    let answer: Value = serde_json::from_slice(&body).map_err(|e| {
        PollError::new(
            Reason::BadAnswer,
            format!("{url} answered something that is not JSON ({e})"),
            "http-url must be kea-dhcp4's HTTP control socket (Kea 3.0 control-sockets, socket-type http)",
        )
    })?;
    answer_arguments(&answer)
}

fn read_password(file: &Path) -> Result<String, PollError> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        let fix = if e.kind() == io::ErrorKind::PermissionDenied {
            "make the file readable by the sidecar's user (e.g. owner root, group the sidecar's group, mode 0640)"
        } else {
            "create the file with the password of http-user (one line), readable by the sidecar's user only"
        };
        PollError::new(
            Reason::PasswordFile,
            format!("cannot read http-password-file {}: {e}", file.display()),
            fix,
        )
    })?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    Ok(text.to_string())
}

fn diagnose_http(url: &reqwest::Url, e: reqwest::Error, timeout: Duration) -> PollError {
    if e.is_timeout() {
        return PollError::new(
            Reason::Timeout,
            format!("no answer from {url} within {timeout:?}"),
            "Kea is busy or hung, or http-url is not Kea's HTTP control socket",
        );
    }
    // The innermost I/O error says most (connection refused, ...).
    let mut io_kind = None;
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = src {
        if let Some(ioe) = s.downcast_ref::<io::Error>() {
            io_kind = Some(ioe.kind());
        }
        src = s.source();
    }
    let detail = error_chain(&e);
    if io_kind == Some(io::ErrorKind::ConnectionRefused) {
        return PollError::new(
            Reason::Refused,
            format!("nothing listens at {url} ({detail})"),
            "start Kea, and give kea-dhcp4 (Kea 3.0) an HTTP control socket at this address and port: control-sockets [{socket-type: http, socket-address, socket-port}] (Kea 2.x's kea-dhcp4 has none: use control-socket)",
        );
    }
    if e.is_connect() {
        return PollError::new(
            Reason::Other,
            format!("cannot connect to {url}: {detail}"),
            "check http-url (address, port, TLS) against Kea's control-sockets http entry",
        );
    }
    PollError::new(
        Reason::Other,
        format!("request to {url} failed: {detail}"),
        "check http-url against Kea's control-sockets http entry",
    )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !out.contains(&t) {
            out.push_str(": ");
            out.push_str(&t);
        }
        src = s.source();
    }
    out
}

/// Turns a failed unix-socket poll into the reason, a description naming the path, the
/// modes and owners involved, and the fix.
pub fn diagnose_unix(socket: &Path, e: io::Error, timeout: Duration) -> PollError {
    let sock = socket.display();
    let dir = socket.parent().unwrap_or(Path::new("/"));
    match e.kind() {
        io::ErrorKind::NotFound => {
            if std::fs::metadata(dir).is_err() {
                PollError::new(
                    Reason::NotFound,
                    format!("directory {} does not exist (control-socket {sock})", dir.display()),
                    "start Kea (it creates its socket; Kea 2.6.3+/3.0 only in /run/kea), check [kea] control-socket against Kea's control-socket socket-name, and in a container share Kea's /run/kea with the sidecar",
                )
            } else {
                PollError::new(
                    Reason::NotFound,
                    format!("no socket {sock}"),
                    "Kea is not running, or its control-socket socket-name is another path: set [kea] control-socket to it",
                )
            }
        }
        io::ErrorKind::PermissionDenied => diagnose_permission(socket),
        io::ErrorKind::ConnectionRefused if !is_socket(socket) => PollError::new(
            Reason::Other,
            format!("{sock} is not a socket"),
            "set [kea] control-socket to Kea's control-socket socket-name",
        ),
        io::ErrorKind::ConnectionRefused => PollError::new(
            Reason::Refused,
            format!("nothing listens on {sock} (a socket left behind: Kea stopped or is restarting)"),
            "start Kea (systemctl status kea-dhcp4-server, or isc-kea-dhcp4-server with ISC's packages)",
        ),
        io::ErrorKind::TimedOut => PollError::new(
            Reason::Timeout,
            format!("no answer on {sock} within {timeout:?}"),
            "Kea is busy or hung, or this is not Kea's control socket",
        ),
        io::ErrorKind::InvalidData => PollError::new(
            Reason::BadAnswer,
            format!("{sock}: {e}"),
            "control-socket must be kea-dhcp4's control socket",
        ),
        _ => match e.get_ref().and_then(|i| i.downcast_ref::<PollError>()) {
            Some(p) => p.clone(),
            None => PollError::new(
                Reason::Other,
                format!("{sock}: {e}"),
                "control-socket must be kea-dhcp4's unix control socket",
            ),
        },
    }
}

fn is_socket(p: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

/// EACCES on connect: the directory (no search permission) or the socket (no write).
fn diagnose_permission(socket: &Path) -> PollError {
    use std::os::unix::fs::MetadataExt;
    let me = whoami();
    let dir = socket.parent().unwrap_or(Path::new("/"));
    match std::fs::metadata(socket) {
        Err(_) => {
            // The socket cannot even be looked at: the directory is closed to us.
            let (desc, gid) = match std::fs::metadata(dir) {
                Ok(m) => (describe(&m), Some(m.gid())),
                Err(_) => (String::new(), None),
            };
            let group = gid.map(group_name).unwrap_or_else(|| "Kea's group".into());
            PollError::new(
                Reason::PermissionDenied,
                format!(
                    "permission denied on directory {}{desc}: the sidecar runs as {me}",
                    dir.display()
                ),
                add_to_group_fix(&group, gid.is_some_and(in_group)),
            )
        }
        Ok(m) => {
            let group = group_name(m.gid());
            let member = in_group(m.gid());
            let group_write = m.mode() & 0o020 != 0;
            let what = format!(
                "permission denied on {}{}: the sidecar runs as {me}",
                socket.display(),
                describe(&m)
            );
            let umask = "the socket has no group write: Kea before 2.6.5/3.0.3 creates it under umask 0027, so members of its group cannot connect; upgrade Kea (2.6.5+, 3.0.3+), or on Kea 3.0 use its HTTP control socket ([kea] http-url, http-user, http-password-file), or run the sidecar as Kea's user";
            let fix = match (member, group_write) {
                (true, false) => umask.to_string(),
                (false, true) => add_to_group_fix(&group, false),
                (false, false) => format!("{}; and {umask}", add_to_group_fix(&group, false)),
                // In the group, group-writable, and still refused (an LSM, ACLs, ...).
                (true, true) => "something other than the file modes refuses access (SELinux/AppArmor, ACLs, a read-only mount in the sidecar's sandbox): check the audit log".to_string(),
            };
            PollError::new(Reason::PermissionDenied, what, fix)
        }
    }
}

fn add_to_group_fix(group: &str, already: bool) -> String {
    // SAFETY: geteuid cannot fail.
    let user = user_name(unsafe { libc::geteuid() });
    if already {
        return format!(
            "the sidecar is in group {group} but is still refused: check the directory's mode (Kea needs 0750) and any sandboxing (SELinux/AppArmor, the unit's ProtectSystem/InaccessiblePaths)"
        );
    }
    format!(
        "add the sidecar's user to Kea's group {group} (usermod -aG {group} {user}; the Ansible role does it when Kea statistics are on) and restart the sidecar; in Kubernetes give the sidecar container that group id in supplementalGroups"
    )
}

/// ` (owner USER:GROUP, mode 0750)`.
fn describe(m: &std::fs::Metadata) -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        " (owner {}:{}, mode {:04o})",
        user_name(m.uid()),
        group_name(m.gid()),
        m.mode() & 0o7777
    )
}

/// `user NAME (uid N), groups A, B`.
fn whoami() -> String {
    // SAFETY: getuid/getegid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let groups = groups()
        .into_iter()
        .map(group_name)
        .collect::<Vec<_>>()
        .join(", ");
    format!("user {} (uid {uid}), groups {groups}", user_name(uid))
}

/// The effective group and the supplementary groups.
fn groups() -> Vec<libc::gid_t> {
    // SAFETY: getegid cannot fail; getgroups writes at most `n` entries into a buffer of n.
    let mut out = vec![unsafe { libc::getegid() }];
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    if n > 0 {
        let mut v = vec![0 as libc::gid_t; n as usize];
        let got = unsafe { libc::getgroups(n, v.as_mut_ptr()) };
        if got > 0 {
            v.truncate(got as usize);
            for g in v {
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
    }
    out
}

fn in_group(gid: libc::gid_t) -> bool {
    groups().contains(&gid)
}

fn user_name(uid: libc::uid_t) -> String {
    let mut buf = vec![0u8; 4096];
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: buffers are ours and sized as passed; the name is read before they are dropped.
    let rc =
        unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr().cast(), buf.len(), &mut res) };
    if rc == 0 && !res.is_null() && !pw.pw_name.is_null() {
        // SAFETY: pw_name points into buf, NUL-terminated.
        return unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
            .to_string_lossy()
            .into_owned();
    }
    uid.to_string()
}

fn group_name(gid: libc::gid_t) -> String {
    let mut buf = vec![0u8; 4096];
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut res: *mut libc::group = std::ptr::null_mut();
    // SAFETY: as in user_name.
    let rc =
        unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr().cast(), buf.len(), &mut res) };
    if rc == 0 && !res.is_null() && !gr.gr_name.is_null() {
        // SAFETY: gr_name points into buf, NUL-terminated.
        return unsafe { std::ffi::CStr::from_ptr(gr.gr_name) }
            .to_string_lossy()
            .into_owned();
    }
    gid.to_string()
}

/// Per-family values of the last `apply` (for tests and debugging).
pub fn option150_by_family(arguments: &Value) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    if let Some(map) = arguments.as_object() {
        for (k, v) in map {
            if let Some(f) = k.strip_prefix("cisco-tftp.option-150-sent.") {
                if let Some(n) = v.get(0).and_then(|s| s.get(0)).and_then(Value::as_u64) {
                    out.insert(f.to_string(), n);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(r: &Registry) -> String {
        use prometheus::Encoder;
        let mut b = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&r.gather(), &mut b)
            .unwrap();
        String::from_utf8(b).unwrap()
    }

    fn unix(r: &Registry, path: &str) -> KeaStats {
        KeaStats::register_source(r, Source::Unix(path.into()), None).unwrap()
    }

    #[test]
    fn maps_kea_statistics_to_metrics() {
        let r = Registry::new();
        let k = KeaStats::register(&r).unwrap();
        let t = text(&r);
        assert!(t.contains("tftp_kea_up 0"), "{t}");
        assert!(t.contains("tftp_kea_option150_sent_total{family=\"79xx\"} 0"));
        assert!(t.contains("tftp_kea_packets_total{direction=\"sent\",type=\"offer\"} 0"));
        assert!(t.contains("tftp_kea_last_error{reason=\"permission_denied\"} 0"));
        k.apply(&json!({
            "cisco-tftp.option-150-sent": [[5, "t"]],
            "cisco-tftp.option-150-sent.79xx": [[3, "t2"], [2, "t1"]],
            "cisco-tftp.option-150-sent.88xx": [[2, "t"]],
            "cisco-tftp.option-150-sent.a b": [[9, "t"]],
            "cisco-tftp.skipped.no-policy": [[1, "t"]],
            "cisco-tftp.errors": [[0, "t"]],
            "pkt4-received": [[40, "t"]],
            "pkt4-discover-received": [[20, "t"]],
            "pkt4-offer-sent": [[19, "t"]],
            "pkt4-parse-failed": [[1, "t"]],
            "pkt4-receive-drop": [[2, "t"]],
            "subnet[1].assigned-addresses": [[7, "t"]],
        }));
        k.set_up(true);
        let t = text(&r);
        assert!(t.contains("tftp_kea_up 1"));
        assert!(
            t.contains("tftp_kea_option150_sent_total{family=\"79xx\"} 3"),
            "{t}"
        );
        assert!(t.contains("tftp_kea_option150_sent_total{family=\"88xx\"} 2"));
        assert!(!t.contains("a b"));
        assert!(t.contains("tftp_kea_skipped_total{reason=\"no_policy\"} 1"));
        assert!(t.contains("tftp_kea_hook_errors_total 0"));
        assert!(t.contains("tftp_kea_packets_total{direction=\"received\",type=\"discover\"} 20"));
        assert!(t.contains("tftp_kea_packets_total{direction=\"sent\",type=\"offer\"} 19"));
        assert!(
            t.contains("tftp_kea_packets_total{direction=\"received\",type=\"parse_failed\"} 1")
        );
        assert!(t.contains("tftp_kea_packets_total{direction=\"received\",type=\"dropped\"} 2"));
        assert!(!t.contains("assigned"));
        // Kea restarted: values went down, counters restart from them.
        k.apply(&json!({"cisco-tftp.option-150-sent.79xx": [[1, "t"]]}));
        assert!(text(&r).contains("tftp_kea_option150_sent_total{family=\"79xx\"} 1"));
    }

    #[test]
    fn interval_bounds_and_config_keys() {
        assert!(KeaConfig::new("/x").interval().is_ok());
        let mut c = KeaConfig::new("/x");
        c.poll_interval = 0.0;
        assert!(c
            .interval()
            .unwrap_err()
            .to_string()
            .contains("poll-interval"));
        let snake: KeaConfig =
            toml::from_str("control_socket = \"/s\"\npoll_interval = 2.5").unwrap();
        assert_eq!(snake.control_socket, Some(PathBuf::from("/s")));
        assert_eq!(snake.poll_interval, 2.5);
        let c: KeaConfig =
            toml::from_str("control-socket = \"/run/kea/kea4.sock\"\npoll-interval = 2.5").unwrap();
        assert_eq!(c.control_socket, Some(PathBuf::from("/run/kea/kea4.sock")));
        assert_eq!(c.poll_interval, 2.5);
        assert!(toml::from_str::<KeaConfig>("control-socket = \"/x\"\nbogus = 1").is_err());
    }

    #[test]
    fn sources_are_checked() {
        let ok = |t: &str| toml::from_str::<KeaConfig>(t).unwrap().validate();
        assert!(ok("control-socket = \"/run/kea/s\"").is_ok());
        assert!(ok("http-url = \"http://127.0.0.1:8000/\"").is_ok());
        let src = toml::from_str::<KeaConfig>(
            "http-url = \"https://kea:8443/\"\nhttp-user = \"stats\"\nhttp-password-file = \"/etc/tftp-sidecar/kea-pw\"",
        )
        .unwrap()
        .source()
        .unwrap();
        assert_eq!(src.to_string(), "https://kea:8443/ (user stats)");
        for (t, needle) in [
            ("poll-interval = 1", "control-socket"),
            (
                "control-socket = \"/s\"\nhttp-url = \"http://a:1/\"",
                "not both",
            ),
            ("http-url = \"ftp://a/\"", "http-url"),
            ("http-url = \"nope\"", "http-url"),
            ("http-url = \"http://u:p@a:1/\"", "http-password-file"),
            (
                "http-url = \"http://a:1/\"\nhttp-user = \"u\"",
                "http-password-file",
            ),
            (
                "http-url = \"http://a:1/\"\nhttp-password-file = \"/f\"",
                "http-user",
            ),
            (
                "control-socket = \"/s\"\nhttp-user = \"u\"\nhttp-password-file = \"/f\"",
                "http-url",
            ),
            ("control-socket = \"/s\"\nserver = \"a b\"", "server"),
        ] {
            let e = ok(t).unwrap_err().to_string();
            assert!(e.contains(needle), "{t}: {e}");
        }
    }

    #[test]
    fn one_table_or_several() {
        #[derive(Deserialize)]
        struct F {
            kea: KeaTables,
        }
        let f: F = toml::from_str("[kea]\ncontrol-socket = \"/s\"\n").unwrap();
        assert_eq!(f.kea.0, vec![KeaConfig::new("/s")]);
        let f: F = toml::from_str(
            "[[kea]]\nserver = \"a\"\ncontrol-socket = \"/a\"\n[[kea]]\nserver = \"b\"\nhttp-url = \"http://b:8000/\"\n",
        )
        .unwrap();
        assert_eq!(f.kea.0.len(), 2);
        assert!(validate_all(&f.kea.0).is_ok());
        let e = toml::from_str::<F>("[kea]\ncontrol-socket = \"/s\"\nbogus = 1\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bogus"), "{e}");
        let e = toml::from_str::<F>("[[kea]]\ncontrol-socket = \"/s\"\n[[kea]]\nbogux = 1\n")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("bogux") && e.contains("kea #2"), "{e}");
        // Several sources need distinct server labels.
        let mut two = vec![KeaConfig::new("/a"), KeaConfig::new("/b")];
        assert_eq!(
            validate_all(&two).unwrap_err().to_string(),
            "source 1: `server` is required with several [[kea]] sources (the label telling their series apart)"
        );
        two[0].server = Some("x".into());
        two[1].server = Some("x".into());
        assert_eq!(
            validate_all(&two).unwrap_err(),
            KeaConfigError::ServerTwice("x".into())
        );
    }

    #[test]
    fn several_sources_share_a_registry_by_server_label() {
        let r = Registry::new();
        let a = KeaStats::register_source(&r, Source::Unix("/a".into()), Some("dhcp1")).unwrap();
        let b = KeaStats::register_source(&r, Source::Unix("/b".into()), Some("dhcp2")).unwrap();
        a.apply(&json!({"cisco-tftp.option-150-sent.79xx": [[3, "t"]]}));
        b.apply(&json!({"cisco-tftp.option-150-sent.79xx": [[5, "t"]]}));
        a.record(Ok(()));
        let t = text(&r);
        assert!(
            t.contains(r#"tftp_kea_option150_sent_total{family="79xx",server="dhcp1"} 3"#),
            "{t}"
        );
        assert!(t.contains(r#"tftp_kea_option150_sent_total{family="79xx",server="dhcp2"} 5"#));
        assert!(t.contains(r#"tftp_kea_up{server="dhcp1"} 1"#));
        assert!(t.contains(r#"tftp_kea_up{server="dhcp2"} 0"#));
        assert_eq!(t.matches("# TYPE tftp_kea_up gauge").count(), 1, "{t}");
        assert!(b
            .status_line()
            .starts_with("kea server=dhcp2 unix:/b: not polled yet"));
    }

    #[tokio::test]
    async fn missing_socket_means_down_with_reason_and_fix() {
        let r = Registry::new();
        let k = unix(&r, "/nonexistent/kea.sock");
        k.set_up(true);
        k.poll(Duration::from_millis(200)).await;
        assert!(!k.is_up());
        let Status::Down(e) = k.status() else {
            panic!("{:?}", k.status())
        };
        assert_eq!(e.reason, Reason::NotFound);
        assert!(
            e.what.contains("directory /nonexistent does not exist"),
            "{e}"
        );
        assert!(e.fix.contains("control-socket"), "{e}");
        let t = text(&r);
        assert!(t.contains("tftp_kea_polls_total{result=\"error\"} 1"));
        assert!(
            t.contains("tftp_kea_last_error{reason=\"not_found\"} 1"),
            "{t}"
        );
        assert!(t.contains("tftp_kea_last_error{reason=\"refused\"} 0"));
        assert!(k.status_line().contains("down (not_found)"));
        // The socket's directory exists, the socket does not.
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("kea4.sock");
        let k = unix(&r2(), sock.to_str().unwrap());
        k.poll(Duration::from_millis(200)).await;
        let Status::Down(e) = k.status() else {
            panic!()
        };
        assert_eq!(e.reason, Reason::NotFound);
        assert!(e.what.starts_with("no socket "), "{e}");
    }

    fn r2() -> Registry {
        Registry::new()
    }

    #[tokio::test]
    async fn stale_socket_is_refused_and_recovery_clears_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("kea4.sock");
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        let r = Registry::new();
        let k = unix(&r, sock.to_str().unwrap());
        k.poll(Duration::from_millis(200)).await;
        let Status::Down(e) = k.status() else {
            panic!()
        };
        assert_eq!(e.reason, Reason::Refused, "{e}");
        std::fs::remove_file(&sock).unwrap();
        // A regular file where the socket should be.
        std::fs::write(&sock, b"").unwrap();
        k.poll(Duration::from_millis(200)).await;
        let Status::Down(e) = k.status() else {
            panic!()
        };
        assert!(e.what.ends_with("is not a socket"), "{e}");
        std::fs::remove_file(&sock).unwrap();
        let l = tokio::net::UnixListener::bind(&sock).unwrap();
        tokio::spawn(async move {
            loop {
                let (mut c, _) = l.accept().await.unwrap();
                let mut b = [0u8; 256];
                let _ = c.read(&mut b).await;
                let _ = c
                    .write_all(br#"[{"result": 0, "arguments": {"pkt4-ack-sent": [[4, "t"]]}}]"#)
                    .await;
            }
        });
        k.poll(Duration::from_secs(2)).await;
        assert_eq!(k.status(), Status::Up, "{}", k.status_line());
        let t = text(&r);
        assert!(
            t.contains("tftp_kea_last_error{reason=\"refused\"} 0"),
            "{t}"
        );
        assert!(t.contains("tftp_kea_packets_total{direction=\"sent\",type=\"ack\"} 4"));
    }

    #[test]
    fn kea_errors_and_bad_answers() {
        let e = answer_arguments(
            &json!({"result": 2, "text": "'statistic-get-all' command not supported."}),
        )
        .unwrap_err();
        assert_eq!(e.reason, Reason::CommandFailed);
        assert!(e.fix.contains("Control Agent"));
        let e = answer_arguments(&json!({"hello": 1})).unwrap_err();
        assert_eq!(e.reason, Reason::BadAnswer);
        assert_eq!(
            answer_arguments(&json!([{"result": 0, "arguments": {"a": 1}}])).unwrap(),
            json!({"a": 1})
        );
    }

    #[tokio::test]
    async fn http_source_errors_say_why() {
        let r = Registry::new();
        // A closed port: refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = reqwest::Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let k = KeaStats::register_source(
            &r,
            Source::Http {
                url: url.clone(),
                user: Some("stats".into()),
                password_file: Some("/nonexistent/pw".into()),
            },
            None,
        )
        .unwrap();
        k.poll(Duration::from_millis(500)).await;
        let Status::Down(e) = k.status() else {
            panic!()
        };
        assert_eq!(e.reason, Reason::PasswordFile, "{e}");
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "secret\n").unwrap();
        assert_eq!(read_password(&pw).unwrap(), "secret");
        let k = KeaStats::register_source(
            &Registry::new(),
            Source::Http {
                url,
                user: Some("stats".into()),
                password_file: Some(pw),
            },
            None,
        )
        .unwrap();
        k.poll(Duration::from_millis(500)).await;
        let Status::Down(e) = k.status() else {
            panic!()
        };
        assert_eq!(e.reason, Reason::Refused, "{e}");
        assert!(e.fix.contains("control-sockets"), "{e}");
    }
}
