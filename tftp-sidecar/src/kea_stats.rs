//! Kea's statistics in the sidecar's scrape: polls Kea's control socket (`statistic-get-all`)
//! every `poll-interval` and exports the cisco-tftp hook's counters and Kea's DHCPv4 packet
//! counters, so one scrape target shows both sides of a phone's boot.
//!
//! | metric | from Kea statistic |
//! | --- | --- |
//! | `tftp_kea_up` | 1 when the last poll got an answer, else 0 |
//! | `tftp_kea_option150_sent_total{family}` | `cisco-tftp.option-150-sent.<family>` |
//! | `tftp_kea_skipped_total{reason}` | `cisco-tftp.skipped.<reason>` (`-` becomes `_`) |
//! | `tftp_kea_hook_errors_total` | `cisco-tftp.errors` |
//! | `tftp_kea_packets_total{direction,type}` | `pkt4-<type>-received` / `pkt4-<type>-sent`, `pkt4-parse-failed` (received, `parse_failed`), `pkt4-receive-drop` (received, `dropped`) |
//!
//! Counters mirror Kea's values exactly; when Kea restarts (or a statistic is reset) and a
//! value goes down, the counter restarts from it, which `rate()` reads as a counter reset.
//! Kea down or the socket missing: `tftp_kea_up` is 0, the counters keep their last values,
//! and TFTP serving is not affected (the poller is one task doing nothing else).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

/// The `[kea]` table of the config file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KeaConfig {
    /// Kea's `control-socket` `socket-name` (a unix socket).
    pub control_socket: PathBuf,
    /// Seconds between polls.
    #[serde(default = "default_poll_interval")]
    pub poll_interval: f64,
}

fn default_poll_interval() -> f64 {
    5.0
}

impl KeaConfig {
    pub fn new(control_socket: impl Into<PathBuf>) -> KeaConfig {
        KeaConfig {
            control_socket: control_socket.into(),
            poll_interval: default_poll_interval(),
        }
    }

    /// The interval, checked (0.05 s .. 1 hour).
    pub fn interval(&self) -> Result<Duration, String> {
        let v = self.poll_interval;
        if !(v.is_finite() && (0.05..=3600.0).contains(&v)) {
            return Err(format!(
                "`poll-interval` must be between 0.05 and 3600 seconds, got {v}"
            ));
        }
        Ok(Duration::from_secs_f64(v))
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

/// The exported metrics.
pub struct KeaStats {
    up: IntGauge,
    option150_sent: IntCounterVec,
    skipped: IntCounterVec,
    hook_errors: IntCounter,
    packets: IntCounterVec,
    polls: IntCounterVec,
    last_error: Mutex<Option<String>>,
}

impl KeaStats {
    /// Creates the metrics and registers them on `registry` (the sidecar's).
    pub fn register(registry: &Registry) -> prometheus::Result<KeaStats> {
        let up = IntGauge::new(
            "tftp_kea_up",
            "1 when the last poll of Kea's control socket answered, else 0.",
        )?;
        let option150_sent = IntCounterVec::new(
            Opts::new(
                "tftp_kea_option150_sent_total",
                "DHCP answers the cisco-tftp hook added option 150 to, by phone family (Kea statistic cisco-tftp.option-150-sent.<family>).",
            ),
            &["family"],
        )?;
        let skipped = IntCounterVec::new(
            Opts::new(
                "tftp_kea_skipped_total",
                "Cisco clients the hook left without option 150, by reason (cisco-tftp.skipped.<reason>).",
            ),
            &["reason"],
        )?;
        let hook_errors = IntCounter::new(
            "tftp_kea_hook_errors_total",
            "Errors the hook contained (panics, C++ exceptions; cisco-tftp.errors): the packet went out untouched.",
        )?;
        let packets = IntCounterVec::new(
            Opts::new(
                "tftp_kea_packets_total",
                "Kea DHCPv4 packets by direction and type (pkt4-<type>-received/-sent).",
            ),
            &["direction", "type"],
        )?;
        let polls = IntCounterVec::new(
            Opts::new(
                "tftp_kea_polls_total",
                "Polls of Kea's control socket, by result (ok, error).",
            ),
            &["result"],
        )?;
        registry.register(Box::new(up.clone()))?;
        registry.register(Box::new(option150_sent.clone()))?;
        registry.register(Box::new(skipped.clone()))?;
        registry.register(Box::new(hook_errors.clone()))?;
        registry.register(Box::new(packets.clone()))?;
        registry.register(Box::new(polls.clone()))?;
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
        Ok(KeaStats {
            up,
            option150_sent,
            skipped,
            hook_errors,
            packets,
            polls,
            last_error: Mutex::new(None),
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

    /// Why the last poll failed (None after a good one).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap().clone()
    }

    /// One poll: ask Kea, apply the answer, set `tftp_kea_up`.
    pub async fn poll(&self, socket: &Path, timeout: Duration) {
        match statistic_get_all(socket, timeout).await {
            Ok(args) => {
                self.apply(&args);
                self.set_up(true);
                self.polls.with_label_values(&["ok"]).inc();
                *self.last_error.lock().unwrap() = None;
            }
            Err(e) => {
                self.set_up(false);
                self.polls.with_label_values(&["error"]).inc();
                let mut last = self.last_error.lock().unwrap();
                if last.is_none() {
                    tracing::warn!(socket = %socket.display(), error = %e, "Kea control socket not answering; tftp_kea_up = 0");
                }
                *last = Some(e.to_string());
            }
        }
    }
}

/// Registers the metrics on `registry` and starts polling on the current tokio runtime.
pub fn start(cfg: &KeaConfig, registry: &Registry) -> Result<std::sync::Arc<KeaStats>, String> {
    let interval = cfg.interval()?;
    let stats = std::sync::Arc::new(KeaStats::register(registry).map_err(|e| e.to_string())?);
    let s = stats.clone();
    let socket = cfg.control_socket.clone();
    tracing::info!(socket = %socket.display(), interval_s = interval.as_secs_f64(), "polling Kea statistics");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let timeout = interval.clamp(Duration::from_millis(50), Duration::from_secs(5));
        loop {
            tick.tick().await;
            s.poll(&socket, timeout).await;
        }
    });
    Ok(stats)
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

/// `statistic-get-all` over Kea's unix control socket; returns the `arguments` map.
pub async fn statistic_get_all(socket: &Path, timeout: Duration) -> io::Result<Value> {
    let answer = tokio::time::timeout(timeout, command(socket, "statistic-get-all"))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))??;
    // Kea answers an object (or a one-element list of them).
    let a = match &answer {
        Value::Array(v) if !v.is_empty() => &v[0],
        a => a,
    };
    match a.get("result").and_then(Value::as_i64) {
        Some(0) => Ok(a.get("arguments").cloned().unwrap_or(Value::Null)),
        r => Err(io::Error::other(format!(
            "Kea answered result {r:?}: {}",
            a.get("text").and_then(Value::as_str).unwrap_or("")
        ))),
    }
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
            return Err(io::Error::other("answer larger than 64 MiB"));
        }
        // Kea closes after answering, but the JSON may be complete before that.
        if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
            return Ok(v);
        }
    }
    serde_json::from_slice(&buf).map_err(|e| io::Error::other(format!("bad answer: {e}")))
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

    #[test]
    fn maps_kea_statistics_to_metrics() {
        let r = Registry::new();
        let k = KeaStats::register(&r).unwrap();
        let t = text(&r);
        assert!(t.contains("tftp_kea_up 0"), "{t}");
        assert!(t.contains("tftp_kea_option150_sent_total{family=\"79xx\"} 0"));
        assert!(t.contains("tftp_kea_packets_total{direction=\"sent\",type=\"offer\"} 0"));
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
        assert!(c.interval().unwrap_err().contains("poll-interval"));
        let c: KeaConfig =
            toml::from_str("control-socket = \"/run/kea/kea4.sock\"\npoll-interval = 2.5").unwrap();
        assert_eq!(c.control_socket, PathBuf::from("/run/kea/kea4.sock"));
        assert_eq!(c.poll_interval, 2.5);
        assert!(toml::from_str::<KeaConfig>("control-socket = \"/x\"\nbogus = 1").is_err());
    }

    #[tokio::test]
    async fn missing_socket_means_down() {
        let r = Registry::new();
        let k = KeaStats::register(&r).unwrap();
        k.set_up(true);
        k.poll(
            Path::new("/nonexistent/kea.sock"),
            Duration::from_millis(200),
        )
        .await;
        assert!(!k.is_up());
        assert!(k.last_error().is_some());
        assert!(text(&r).contains("tftp_kea_polls_total{result=\"error\"} 1"));
    }
}
