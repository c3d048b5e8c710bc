//! Settings: defaults, then the TOML file, then environment and flags (merged by clap).
//! Every error names the key it is about.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::Cli;
use crate::http_files::HttpConfig;
use crate::server::{PortMode, ServerConfig};
use crate::store::StoreConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The effective configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    pub server: ServerConfig,
    /// File sources and caches; the top-level `root`/`case_insensitive` are copied in here.
    pub store: StoreConfig,
    pub metrics_listen: Option<SocketAddr>,
    /// The phone-file HTTP listener (TCP 6970); off when None.
    pub http: Option<HttpConfig>,
    pub log_format: LogFormat,
    pub drain_deadline: Duration,
    /// Kea statistics sources (`[kea]` or `[[kea]]`, `--kea-control-socket`); off when empty.
    pub kea: Vec<crate::kea_stats::KeaConfig>,
    /// Runtime worker threads (0: one per CPU).
    pub threads: usize,
    /// The operator's page (`[page]`).
    pub page: crate::page::PageConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config key `{key}`: {msg}")]
    Key { key: &'static str, msg: String },
    #[error("config file {path}: {msg}")]
    File { path: PathBuf, msg: String },
}

fn key_err(key: &'static str, msg: impl Into<String>) -> ConfigError {
    ConfigError::Key {
        key,
        msg: msg.into(),
    }
}

#[derive(Deserialize, Default, Debug)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

/// The TOML file: the same keys as the flags, all optional. Keys may be written with `_`
/// or `-` (the `[store]` table uses `-`).
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    listen: OneOrMany,
    root: Option<PathBuf>,
    #[serde(alias = "port-mode")]
    port_mode: Option<String>,
    #[serde(alias = "port-range")]
    port_range: Option<String>,
    #[serde(alias = "blksize-max")]
    blksize_max: Option<u16>,
    #[serde(alias = "windowsize-max")]
    windowsize_max: Option<u16>,
    timeout: Option<f64>,
    retries: Option<u32>,
    #[serde(alias = "first-block-retries")]
    first_block_retries: Option<u32>,
    #[serde(alias = "max-sessions")]
    max_sessions: Option<usize>,
    #[serde(alias = "per-client-max")]
    per_client_max: Option<u32>,
    #[serde(alias = "write-enabled")]
    write_enabled: Option<bool>,
    #[serde(alias = "case-insensitive")]
    case_insensitive: Option<bool>,
    #[serde(alias = "metrics-listen")]
    metrics_listen: Option<String>,
    /// Phone files over HTTP (see `http_files::HttpConfig`); "off" or [] disables.
    #[serde(default, alias = "http-listen")]
    http_listen: OneOrMany,
    #[serde(alias = "http-max-connections")]
    http_max_connections: Option<usize>,
    #[serde(alias = "http-per-client-max")]
    http_per_client_max: Option<u32>,
    #[serde(alias = "http-header-timeout")]
    http_header_timeout: Option<f64>,
    #[serde(alias = "http-idle-timeout")]
    http_idle_timeout: Option<f64>,
    #[serde(alias = "http-max-header-bytes")]
    http_max_header_bytes: Option<usize>,
    #[serde(alias = "log-format")]
    log_format: Option<String>,
    #[serde(alias = "drain-deadline")]
    drain_deadline: Option<f64>,
    #[serde(alias = "recv-buffer")]
    recv_buffer: Option<usize>,
    /// Kea statistics polling: one `[kea]` table or several `[[kea]]` (see
    /// `kea_stats::KeaConfig`).
    #[serde(default)]
    kea: Option<crate::kea_stats::KeaTables>,
    threads: Option<usize>,
    /// Cache and origin settings (see `store::StoreConfig`).
    #[serde(default)]
    store: Option<StoreConfig>,
    /// The operator's page (see `page::PageConfig`).
    #[serde(default)]
    page: Option<crate::page::PageConfig>,
}

pub fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.into(),
        msg: e.to_string(),
    })?;
    parse_file(&text).map_err(|msg| ConfigError::File {
        path: path.into(),
        msg,
    })
}

pub fn parse_file(text: &str) -> Result<FileConfig, String> {
    toml::from_str(text).map_err(|e| e.to_string().trim().to_string())
}

/// Merge flags/env over the file over defaults, and validate.
pub fn load(cli: &Cli) -> Result<Settings, ConfigError> {
    let file = match &cli.config {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    resolve(cli, file)
}

fn secs(key: &'static str, v: f64, min: f64, max: f64) -> Result<Duration, ConfigError> {
    if !(v.is_finite() && v >= min && v <= max) {
        return Err(key_err(
            key,
            format!("must be between {min} and {max} seconds, got {v}"),
        ));
    }
    Ok(Duration::from_secs_f64(v))
}

/// The HTTP file listener's settings, or None when `http_listen` is off.
fn resolve_http(cli: &Cli, f: &mut FileConfig) -> Result<Option<HttpConfig>, ConfigError> {
    let d = HttpConfig::default();
    let raw: Vec<String> = match (&cli.http_listen, std::mem::take(&mut f.http_listen)) {
        (Some(v), _) => v.clone(),
        (None, OneOrMany::One(s)) => vec![s],
        (None, OneOrMany::Many(v)) => v,
        (None, OneOrMany::None) => d.listen.iter().map(|a| a.to_string()).collect(),
    };
    let raw: Vec<&str> = raw
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .collect();
    if raw.is_empty() || raw == ["off"] {
        return Ok(None);
    }
    let mut listen = Vec::new();
    for s in raw {
        listen.push(s.parse::<SocketAddr>().map_err(|_| {
            key_err(
                "http_listen",
                format!("{s:?} is not ADDR:PORT (IPv6: [::]:6970) or \"off\""),
            )
        })?);
    }
    let max_connections = cli
        .http_max_connections
        .or(f.http_max_connections)
        .unwrap_or(d.max_connections);
    if max_connections == 0 {
        return Err(key_err("http_max_connections", "must be at least 1"));
    }
    let per_client_max = cli
        .http_per_client_max
        .or(f.http_per_client_max)
        .unwrap_or(d.per_client_max);
    if per_client_max == 0 {
        return Err(key_err("http_per_client_max", "must be at least 1"));
    }
    let header_timeout = match cli.http_header_timeout.or(f.http_header_timeout) {
        Some(v) => secs("http_header_timeout", v, 0.01, 3600.0)?,
        None => d.header_timeout,
    };
    let idle_timeout = match cli.http_idle_timeout.or(f.http_idle_timeout) {
        Some(v) => secs("http_idle_timeout", v, 0.01, 3600.0)?,
        None => d.idle_timeout,
    };
    let max_header_bytes = cli
        .http_max_header_bytes
        .or(f.http_max_header_bytes)
        .unwrap_or(d.max_header_bytes);
    if !(1024..=1 << 20).contains(&max_header_bytes) {
        return Err(key_err(
            "http_max_header_bytes",
            format!("must be 1024..1048576, got {max_header_bytes}"),
        ));
    }
    Ok(Some(HttpConfig {
        listen,
        max_connections,
        per_client_max,
        header_timeout,
        idle_timeout,
        max_header_bytes,
    }))
}

pub fn resolve(cli: &Cli, mut f: FileConfig) -> Result<Settings, ConfigError> {
    let http = resolve_http(cli, &mut f)?;
    let d = ServerConfig::default();
    let listen_raw = match (&cli.listen, f.listen) {
        (Some(v), _) => v.clone(),
        (None, OneOrMany::One(s)) => vec![s],
        (None, OneOrMany::Many(v)) => v,
        (None, OneOrMany::None) => d.listen.iter().map(|a| a.to_string()).collect(),
    };
    let mut listen = Vec::new();
    for s in listen_raw
        .iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    {
        listen.push(
            s.parse::<SocketAddr>().map_err(|_| {
                key_err("listen", format!("{s:?} is not ADDR:PORT (IPv6: [::]:69)"))
            })?,
        );
    }
    if listen.is_empty() {
        return Err(key_err("listen", "at least one address is required"));
    }

    let mut store = f.store.unwrap_or_default();
    if let Some(url) = cli.origin_url.clone() {
        store.origin_url = Some(url).filter(|u| !u.is_empty());
    }
    if let Some(dir) = cli.disk_dir.clone() {
        store.disk_dir = Some(dir);
    }
    if let Some(b) = cli.memory_cache_bytes {
        store.memory_cache_bytes = b;
    }
    if let Some(root) = cli.root.clone().or(f.root) {
        store.root = Some(root);
    }
    match &store.root {
        Some(root) if !root.is_dir() => {
            return Err(key_err(
                "root",
                format!("{} is not a readable directory", root.display()),
            ))
        }
        None if store.origin_url.is_none() => {
            return Err(key_err(
                "root",
                "required: the directory to serve (or set store.origin-url / --origin-url)",
            ))
        }
        _ => {}
    }

    let mode = cli.port_mode.clone().or(f.port_mode);
    let range = cli.port_range.clone().or(f.port_range);
    let port_mode = match mode.as_deref().unwrap_or("ephemeral") {
        "ephemeral" => PortMode::Ephemeral,
        "single-port" => PortMode::SinglePort,
        "range" => {
            let r = range.ok_or_else(|| {
                key_err(
                    "port_range",
                    "required when port_mode = \"range\" (e.g. 50000-50100)",
                )
            })?;
            r.parse::<PortMode>()
                .map_err(|e| key_err("port_range", e))?
        }
        other => {
            return Err(key_err(
                "port_mode",
                format!("{other:?}: expected \"ephemeral\", \"single-port\" or \"range\""),
            ))
        }
    };

    let blksize_max = cli.blksize_max.or(f.blksize_max).unwrap_or(d.blksize_max);
    if !(8..=65464).contains(&blksize_max) {
        return Err(key_err(
            "blksize_max",
            format!("must be 8..65464, got {blksize_max}"),
        ));
    }
    let windowsize_max = cli
        .windowsize_max
        .or(f.windowsize_max)
        .unwrap_or(d.windowsize_max);
    if windowsize_max == 0 {
        return Err(key_err("windowsize_max", "must be 1..65535"));
    }
    let timeout = match cli.timeout.or(f.timeout) {
        Some(v) => secs("timeout", v, 0.01, 255.0)?,
        None => d.timeout,
    };
    let retries = cli.retries.or(f.retries).unwrap_or(d.retries);
    if retries > 100 {
        return Err(key_err("retries", format!("must be 0..100, got {retries}")));
    }
    let first_block_retries = cli
        .first_block_retries
        .or(f.first_block_retries)
        .unwrap_or(d.first_block_retries);
    let max_sessions = cli
        .max_sessions
        .or(f.max_sessions)
        .unwrap_or(d.max_sessions);
    if max_sessions == 0 {
        return Err(key_err("max_sessions", "must be at least 1"));
    }
    let per_client_max = cli
        .per_client_max
        .or(f.per_client_max)
        .unwrap_or(d.per_client_max);
    if per_client_max == 0 {
        return Err(key_err("per_client_max", "must be at least 1"));
    }
    if cli.write_enabled.or(f.write_enabled).unwrap_or(false) {
        return Err(key_err(
            "write_enabled",
            "uploads are not implemented; write requests are always refused with ERROR 2 (set false)",
        ));
    }
    if let Some(ci) = cli.case_insensitive.or(f.case_insensitive) {
        store.case_insensitive = ci;
    }
    let metrics_listen = match cli.metrics_listen.clone().or(f.metrics_listen) {
        None => None,
        Some(s) if s.is_empty() || s == "off" => None,
        Some(s) => Some(
            s.parse::<SocketAddr>()
                .map_err(|_| key_err("metrics_listen", format!("{s:?} is not ADDR:PORT")))?,
        ),
    };
    let log_format = match cli.log_format.clone().or(f.log_format).as_deref() {
        None | Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(key_err(
                "log_format",
                format!("{other:?}: expected \"text\" or \"json\""),
            ))
        }
    };
    let drain_deadline = match cli.drain_deadline.or(f.drain_deadline) {
        Some(v) => secs("drain_deadline", v, 0.0, 3600.0)?,
        None => Duration::from_secs(30),
    };
    let recv_buffer = cli.recv_buffer.or(f.recv_buffer).unwrap_or(d.recv_buffer);

    let mut kea = f.kea.map(|t| t.0).unwrap_or_default();
    if let Some(sock) = cli.kea_control_socket.clone() {
        match kea.as_mut_slice() {
            [] => kea.push(crate::kea_stats::KeaConfig::new(sock)),
            [k] => {
                k.control_socket = Some(sock);
                k.http_url = None;
                k.http_user = None;
                k.http_password_file = None;
            }
            _ => {
                return Err(key_err(
                    "kea",
                    "--kea-control-socket cannot choose among several [[kea]] sources",
                ))
            }
        }
    }
    crate::kea_stats::validate_all(&kea).map_err(|e| key_err("kea", e))?;
    let page = f.page.unwrap_or_default();
    page.validate().map_err(|e| key_err("page", e))?;

    Ok(Settings {
        server: ServerConfig {
            listen,
            port_mode,
            blksize_max,
            windowsize_max,
            timeout,
            retries,
            first_block_retries,
            max_sessions,
            per_client_max,
            recv_buffer,
        },
        store,
        metrics_listen,
        http,
        log_format,
        drain_deadline,
        kea,
        threads: cli.threads.or(f.threads).unwrap_or(1),
        page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli_with_root() -> Cli {
        Cli {
            root: Some(std::env::temp_dir()),
            ..Cli::default()
        }
    }

    fn err(cli: &Cli, toml: &str) -> String {
        resolve(cli, parse_file(toml).unwrap())
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_and_overrides() {
        let s = resolve(
            &cli_with_root(),
            parse_file("blksize_max = 1428\nlisten = \"127.0.0.1:6969\"").unwrap(),
        )
        .unwrap();
        assert_eq!(s.server.blksize_max, 1428);
        assert_eq!(s.server.listen, vec!["127.0.0.1:6969".parse().unwrap()]);
        let mut cli = cli_with_root();
        cli.blksize_max = Some(512);
        let s = resolve(&cli, parse_file("blksize_max = 1428").unwrap()).unwrap();
        assert_eq!(s.server.blksize_max, 512);
    }

    #[test]
    fn http_listener_defaults_overrides_and_off() {
        let s = resolve(&cli_with_root(), FileConfig::default()).unwrap();
        assert_eq!(s.http, Some(HttpConfig::default()));
        let s = resolve(
            &cli_with_root(),
            parse_file("http_listen = \"127.0.0.1:16970\"\nhttp-idle-timeout = 5.5").unwrap(),
        )
        .unwrap();
        let h = s.http.unwrap();
        assert_eq!(h.listen, vec!["127.0.0.1:16970".parse().unwrap()]);
        assert_eq!(h.idle_timeout, Duration::from_secs_f64(5.5));
        for off in ["http_listen = \"off\"", "http_listen = []"] {
            let s = resolve(&cli_with_root(), parse_file(off).unwrap()).unwrap();
            assert_eq!(s.http, None, "{off}");
        }
        let mut cli = cli_with_root();
        cli.http_listen = Some(vec!["off".into()]);
        let s = resolve(&cli, parse_file("http_listen = \"0.0.0.0:6970\"").unwrap()).unwrap();
        assert_eq!(s.http, None);
        let c = cli_with_root();
        assert!(err(&c, "http_listen = \"nope\"").contains("`http_listen`"));
        assert!(err(&c, "http_max_connections = 0").contains("`http_max_connections`"));
        assert!(err(&c, "http_per_client_max = 0").contains("`http_per_client_max`"));
        assert!(err(&c, "http_header_timeout = 0.0").contains("`http_header_timeout`"));
        assert!(err(&c, "http_idle_timeout = -1.0").contains("`http_idle_timeout`"));
        assert!(err(&c, "http_max_header_bytes = 10").contains("`http_max_header_bytes`"));
    }

    #[test]
    fn errors_name_the_key() {
        let c = cli_with_root();
        assert!(err(&c, "blksize_max = 4").contains("`blksize_max`"));
        assert!(err(&c, "port_mode = \"range\"").contains("`port_range`"));
        assert!(err(&c, "port_mode = \"x\"").contains("`port_mode`"));
        assert!(err(&c, "timeout = 0.0").contains("`timeout`"));
        assert!(err(&c, "write_enabled = true").contains("`write_enabled`"));
        assert!(err(&c, "listen = [\"nope\"]").contains("`listen`"));
        assert!(err(&c, "log_format = \"xml\"").contains("`log_format`"));
        assert!(parse_file("bogus_key = 1")
            .unwrap_err()
            .contains("bogus_key"));
        assert!(parse_file("retries = \"x\"")
            .unwrap_err()
            .contains("retries"));
        let e = resolve(&Cli::default(), FileConfig::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("`root`"));
    }
}
