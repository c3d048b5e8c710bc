//! The phone-file HTTP listener part (`http_*` keys): None when `http_listen` is off.

use super::error::{KeyError, Problem};
use super::value::{addresses, at_least_one, seconds_or, within};
use super::FileConfig;
use crate::cli::Cli;
use crate::http_files::HttpConfig;
use std::path::PathBuf;

pub fn resolve(cli: &Cli, f: &FileConfig) -> Result<Option<HttpConfig>, KeyError> {
    let d = HttpConfig::default();
    let raw = f.http_listen.or_flag(&cli.http_listen, &d.listen);
    if raw.is_empty() || raw == ["off"] {
        return Ok(None);
    }
    let listen = addresses("http_listen", &raw, " (IPv6: [::]:6970) or \"off\"")?;
    let max_header_bytes = cli
        .http_max_header_bytes
        .or(f.http_max_header_bytes)
        .unwrap_or(d.max_header_bytes);
    within(
        "http_max_header_bytes",
        max_header_bytes as u64,
        1024,
        1 << 20,
    )?;
    Ok(Some(HttpConfig {
        listen,
        max_connections: at_least_one(
            "http_max_connections",
            cli.http_max_connections
                .or(f.http_max_connections)
                .unwrap_or(d.max_connections),
        )?,
        per_client_max: at_least_one(
            "http_per_client_max",
            cli.http_per_client_max
                .or(f.http_per_client_max)
                .unwrap_or(d.per_client_max),
        )?,
        header_timeout: seconds_or(
            "http_header_timeout",
            cli.http_header_timeout.or(f.http_header_timeout),
            0.01,
            3600.0,
            d.header_timeout,
        )?,
        idle_timeout: seconds_or(
            "http_idle_timeout",
            cli.http_idle_timeout.or(f.http_idle_timeout),
            0.01,
            3600.0,
            d.idle_timeout,
        )?,
        max_header_bytes,
        sendfile_dir: sendfile_dir(
            cli.http_sendfile_dir
                .as_ref()
                .or(f.http_sendfile_dir.as_ref()),
            d.sendfile_dir,
        )?,
    }))
}

/// "memory" -> None; a directory named here must exist (the default may not: the copies
/// then fall back to memory, with a warning).
fn sendfile_dir(
    set: Option<&PathBuf>,
    default: Option<PathBuf>,
) -> Result<Option<PathBuf>, KeyError> {
    let Some(dir) = set else {
        return Ok(default);
    };
    if dir.as_os_str() == "memory" {
        return Ok(None);
    }
    if !dir.is_dir() {
        return Err(KeyError::new(
            "http_sendfile_dir",
            Problem::Invalid(format!(
                "{}: not a directory (or \"memory\")",
                dir.display()
            )),
        ));
    }
    Ok(Some(dir.clone()))
}
