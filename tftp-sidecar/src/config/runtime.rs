//! The process part: log format, worker threads, the drain deadline after SIGTERM.

use std::time::Duration;

use serde::Deserialize;

use super::error::KeyError;
use super::value::seconds_or;
use super::FileConfig;
use crate::cli::Cli;

/// Running transfers may take this long to finish after SIGTERM.
pub const DEFAULT_DRAIN_DEADLINE: Duration = Duration::from_secs(30);
/// One thread is the most CPU-efficient on small machines (no cross-thread wake-ups).
pub const DEFAULT_THREADS: usize = 1;

/// `log_format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

pub fn log_format(cli: &Cli, f: &FileConfig) -> LogFormat {
    cli.log_format.or(f.log_format).unwrap_or_default()
}

pub fn drain_deadline(cli: &Cli, f: &FileConfig) -> Result<Duration, KeyError> {
    seconds_or(
        "drain_deadline",
        cli.drain_deadline.or(f.drain_deadline),
        0.0,
        3600.0,
        DEFAULT_DRAIN_DEADLINE,
    )
}

pub fn threads(cli: &Cli, f: &FileConfig) -> usize {
    cli.threads.or(f.threads).unwrap_or(DEFAULT_THREADS)
}
