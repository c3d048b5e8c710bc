//! Settings: defaults, then the TOML file, then environment and flags (merged by clap).
//!
//! Each part is resolved on its own from its low-level inputs (the flag, else the file key,
//! else the part's default): `listen` (TFTP), `store`, `http` (phone files), `status`,
//! `kea`, `runtime` (logging, threads, draining). Every error is a [`KeyError`] naming the
//! key.
//!
//! Keys are snake_case (the long flag names with `_`). The kebab-case spelling is accepted
//! everywhere as an alias: the chart, the Ansible role and the packaged files write it in
//! `[store]` and `[kea]`, and older files at the top level.

pub mod error;
mod http;
mod kea;
mod listen;
mod runtime;
mod status;
mod store;
mod value;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::Cli;
use crate::http_files::HttpConfig;
use crate::server::ServerConfig;
use crate::store::StoreConfig;

pub use error::{Key, KeyError, Problem};
pub use listen::PortModeName;
pub use runtime::{LogFormat, DEFAULT_DRAIN_DEADLINE, DEFAULT_THREADS};
use value::OneOrMany;

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
    /// The operator's page on the status listener (`[page]`).
    pub page: crate::page::PageConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The file cannot be read or is not TOML of the expected shape (serde's message names
    /// the key and shows the line).
    #[error("config file {path}: {msg}")]
    File { path: PathBuf, msg: String },
}

/// The TOML file: the same keys as the flags, all optional. Each key also accepts its
/// kebab-case spelling.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    listen: OneOrMany,
    root: Option<PathBuf>,
    #[serde(alias = "port-mode")]
    port_mode: Option<PortModeName>,
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
    #[serde(alias = "http-sendfile-dir")]
    http_sendfile_dir: Option<PathBuf>,
    #[serde(alias = "log-format")]
    log_format: Option<LogFormat>,
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
    parse_file(&text).map_err(|e| ConfigError::File {
        path: path.into(),
        msg: e.message,
    })
}

/// The file is not TOML of the expected shape.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

pub fn parse_file(text: &str) -> Result<FileConfig, ParseError> {
    toml::from_str(text).map_err(|e| ParseError {
        message: e.to_string().trim().to_string(),
    })
}

/// Merge flags/env over the file over defaults, and validate.
pub fn load(cli: &Cli) -> Result<Settings, ConfigError> {
    let file = match &cli.config {
        Some(p) => read_file(p)?,
        None => FileConfig::default(),
    };
    Ok(resolve(cli, file)?)
}

/// Every part, resolved and checked (the store's keys included, without opening its disk
/// cache).
pub fn resolve(cli: &Cli, f: FileConfig) -> Result<Settings, KeyError> {
    let store = store::resolve(cli, &f)?;
    Ok(Settings {
        server: listen::resolve(cli, &f)?,
        http: http::resolve(cli, &f)?,
        metrics_listen: status::resolve(cli, &f)?,
        kea: kea::resolve(cli, &f)?,
        log_format: runtime::log_format(cli, &f),
        drain_deadline: runtime::drain_deadline(cli, &f)?,
        threads: runtime::threads(cli, &f),
        page: status::page(&f)?,
        store,
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

    use crate::server::PortMode;

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
        assert_eq!(h.sendfile_dir, Some(std::env::temp_dir()));
        let s = resolve(
            &cli_with_root(),
            parse_file("http_sendfile_dir = \"memory\"").unwrap(),
        );
        assert_eq!(s.unwrap().http.unwrap().sendfile_dir, None);
        let s = resolve(
            &cli_with_root(),
            parse_file("http-sendfile-dir = \"/\"").unwrap(),
        );
        assert_eq!(s.unwrap().http.unwrap().sendfile_dir, Some("/".into()));
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
        let e = err(&c, "http_sendfile_dir = \"/nonexistent/dir\"");
        assert!(
            e.contains("`http_sendfile_dir`") && e.contains("/nonexistent/dir"),
            "{e}"
        );
    }

    /// The key a file's error names (`resolve`'s, or serde's when the file does not parse).
    fn key_of(cli: &Cli, toml: &str) -> String {
        match parse_file(toml) {
            Ok(f) => resolve(cli, f).unwrap_err().key.0.to_string(),
            Err(e) => e.message,
        }
    }

    #[test]
    fn errors_name_the_key() {
        let c = cli_with_root();
        assert_eq!(key_of(&c, "blksize_max = 4"), "blksize_max");
        assert_eq!(key_of(&c, "port_mode = \"range\""), "port_range");
        assert_eq!(
            key_of(&c, "port_mode = \"range\"\nport_range = \"9-1\""),
            "port_range"
        );
        assert_eq!(key_of(&c, "timeout = 0.0"), "timeout");
        assert_eq!(key_of(&c, "write_enabled = true"), "write_enabled");
        assert_eq!(key_of(&c, "listen = [\"nope\"]"), "listen");
        assert_eq!(key_of(&c, "metrics_listen = \"nope\""), "metrics_listen");
        assert_eq!(key_of(&c, "drain_deadline = -1.0"), "drain_deadline");
        assert_eq!(
            key_of(&c, "[store]\nnegative_ttl_secs = -1.0"),
            "store.negative_ttl_secs"
        );
        // Mode and format names are checked while parsing: serde names the key and the
        // accepted values.
        for (toml, key, values) in [
            ("port_mode = \"x\"", "port_mode", "`single-port`"),
            ("log_format = \"xml\"", "log_format", "`json`"),
        ] {
            let e = key_of(&c, toml);
            assert!(e.contains(key) && e.contains(values), "{e}");
        }
        assert!(parse_file("bogus_key = 1")
            .unwrap_err()
            .message
            .contains("bogus_key"));
        assert!(parse_file("retries = \"x\"")
            .unwrap_err()
            .message
            .contains("retries"));
        let e = resolve(&Cli::default(), FileConfig::default()).unwrap_err();
        assert_eq!(e.key.0, "root");
    }

    #[test]
    fn both_spellings_are_one_key() {
        let c = cli_with_root();
        for toml in [
            "port_mode = \"single-port\"\nblksize_max = 1000\n[store]\nnegative_ttl_secs = 2.0",
            "port-mode = \"single-port\"\nblksize-max = 1000\n[store]\nnegative-ttl-secs = 2.0",
        ] {
            let s = resolve(&c, parse_file(toml).unwrap()).unwrap();
            assert_eq!(s.server.port_mode, PortMode::SinglePort, "{toml}");
            assert_eq!(s.server.blksize_max, 1000, "{toml}");
            assert_eq!(s.store.negative_ttl_secs, 2.0, "{toml}");
        }
    }

    #[test]
    fn modes_and_formats() {
        let c = cli_with_root();
        let s = resolve(
            &c,
            parse_file(
                "port_mode = \"range\"\nport_range = \"50000-50100\"\nlog_format = \"json\"",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            s.server.port_mode,
            PortMode::Range {
                first: 50000,
                last: 50100
            }
        );
        assert_eq!(s.log_format, LogFormat::Json);
        let s = resolve(&c, FileConfig::default()).unwrap();
        assert_eq!(s.server.port_mode, PortMode::Ephemeral);
        assert_eq!(s.log_format, LogFormat::Text);
        assert_eq!(s.drain_deadline, DEFAULT_DRAIN_DEADLINE);
        assert_eq!(s.threads, DEFAULT_THREADS);
    }

    /// The defaults live in the parts' `Default`s (and `runtime`'s constants); `--help`
    /// repeats them in words, so this keeps the two from drifting apart.
    #[test]
    fn help_states_the_real_defaults() {
        use clap::CommandFactory;
        use std::collections::BTreeMap;
        let s = resolve(&cli_with_root(), FileConfig::default()).unwrap();
        let (srv, http) = (&s.server, s.http.clone().unwrap());
        let secs = |d: Duration| d.as_secs_f64().to_string();
        let list = |v: &[SocketAddr]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let port_mode = match srv.port_mode {
            PortMode::Ephemeral => "ephemeral",
            other => panic!("default port mode {other:?}"),
        };
        let expected: BTreeMap<&str, String> = [
            ("listen", list(&srv.listen)),
            ("port_mode", port_mode.to_string()),
            ("blksize_max", srv.blksize_max.to_string()),
            ("windowsize_max", srv.windowsize_max.to_string()),
            ("timeout", secs(srv.timeout)),
            ("retries", srv.retries.to_string()),
            ("first_block_retries", srv.first_block_retries.to_string()),
            ("max_sessions", srv.max_sessions.to_string()),
            ("per_client_max", srv.per_client_max.to_string()),
            ("write_enabled", "false".to_string()),
            ("case_insensitive", s.store.case_insensitive.to_string()),
            ("disk_dir", format!("{:?}", s.store.disk_dir).to_lowercase()),
            ("memory_cache_bytes", s.store.memory_cache_bytes.to_string()),
            ("metrics_listen", "off".to_string()),
            ("http_listen", list(&http.listen)),
            ("http_max_connections", http.max_connections.to_string()),
            ("http_per_client_max", http.per_client_max.to_string()),
            ("http_header_timeout", secs(http.header_timeout)),
            ("http_idle_timeout", secs(http.idle_timeout)),
            ("http_max_header_bytes", http.max_header_bytes.to_string()),
            ("log_format", format!("{:?}", s.log_format).to_lowercase()),
            ("drain_deadline", secs(s.drain_deadline)),
            ("threads", s.threads.to_string()),
            ("recv_buffer", srv.recv_buffer.to_string()),
        ]
        .into_iter()
        .collect();
        assert_eq!(s.metrics_listen, None);
        let mut seen = BTreeMap::new();
        for arg in Cli::command().get_arguments() {
            let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
            if let Some((_, rest)) = help.split_once("[default: ") {
                let stated = rest.rsplit_once(']').unwrap().0.to_string();
                seen.insert(arg.get_id().as_str().to_string(), stated);
            }
        }
        for (key, value) in &expected {
            assert_eq!(
                seen.get(*key),
                Some(value),
                "--{} states a default other than the real one",
                key.replace('_', "-")
            );
        }
        assert_eq!(
            seen.len(),
            expected.len(),
            "a flag states a default not checked here: {seen:?}"
        );
    }
}
