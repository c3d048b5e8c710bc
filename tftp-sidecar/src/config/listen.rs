//! The TFTP part: listening addresses, where replies come from, negotiation bounds,
//! retransmits and admission caps.

use serde::Deserialize;

use super::error::{KeyError, Problem};
use super::value::{addresses, at_least_one, seconds_or, within};
use super::FileConfig;
use crate::cli::Cli;
use crate::server::{PortMode, ServerConfig};

/// `port_mode`: where replies come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum PortModeName {
    /// A new port per transfer (RFC 1350).
    Ephemeral,
    /// Every reply from the listening port: behind NAT or a Kubernetes Service.
    SinglePort,
    /// A port from `port_range`.
    Range,
}

pub fn resolve(cli: &Cli, f: &FileConfig) -> Result<ServerConfig, KeyError> {
    let d = ServerConfig::default();
    let listen = addresses(
        "listen",
        &f.listen.or_flag(&cli.listen, &d.listen),
        " (IPv6: [::]:69)",
    )?;
    if listen.is_empty() {
        return Err(KeyError::new(
            "listen",
            Problem::Rule("at least one address is required"),
        ));
    }
    let blksize_max = cli.blksize_max.or(f.blksize_max).unwrap_or(d.blksize_max);
    within("blksize_max", blksize_max.into(), 8, 65464)?;
    let windowsize_max = cli
        .windowsize_max
        .or(f.windowsize_max)
        .unwrap_or(d.windowsize_max);
    within("windowsize_max", windowsize_max.into(), 1, 65535)?;
    let retries = cli.retries.or(f.retries).unwrap_or(d.retries);
    within("retries", retries.into(), 0, 100)?;
    if cli.write_enabled.or(f.write_enabled).unwrap_or(false) {
        return Err(KeyError::new(
            "write_enabled",
            Problem::Rule(
                "uploads are not implemented; write requests are always refused with ERROR 2 (set false)",
            ),
        ));
    }
    Ok(ServerConfig {
        listen,
        port_mode: port_mode(cli, f)?,
        blksize_max,
        windowsize_max,
        timeout: seconds_or("timeout", cli.timeout.or(f.timeout), 0.01, 255.0, d.timeout)?,
        retries,
        first_block_retries: cli
            .first_block_retries
            .or(f.first_block_retries)
            .unwrap_or(d.first_block_retries),
        max_sessions: at_least_one(
            "max_sessions",
            cli.max_sessions
                .or(f.max_sessions)
                .unwrap_or(d.max_sessions),
        )?,
        per_client_max: at_least_one(
            "per_client_max",
            cli.per_client_max
                .or(f.per_client_max)
                .unwrap_or(d.per_client_max),
        )?,
        recv_buffer: cli.recv_buffer.or(f.recv_buffer).unwrap_or(d.recv_buffer),
    })
}

fn port_mode(cli: &Cli, f: &FileConfig) -> Result<PortMode, KeyError> {
    let name = cli
        .port_mode
        .or(f.port_mode)
        .unwrap_or(PortModeName::Ephemeral);
    Ok(match name {
        PortModeName::Ephemeral => PortMode::Ephemeral,
        PortModeName::SinglePort => PortMode::SinglePort,
        PortModeName::Range => {
            let range = cli.port_range.as_ref().or(f.port_range.as_ref());
            let range = range.ok_or(KeyError::new(
                "port_range",
                Problem::Rule("required when port_mode = \"range\" (e.g. 50000-50100)"),
            ))?;
            PortMode::range(range)
                .map_err(|e| KeyError::new("port_range", Problem::Invalid(e.to_string())))?
        }
    })
}
