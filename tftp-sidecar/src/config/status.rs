//! The status listener part (`metrics_listen`: /metrics, /healthz, /readyz, /api/v1/phones,
//! and the operator's page with its `[page]` table).

use std::net::SocketAddr;

use super::error::{KeyError, Problem};
use super::FileConfig;
use crate::cli::Cli;

/// None when unset, empty or "off".
pub fn resolve(cli: &Cli, f: &FileConfig) -> Result<Option<SocketAddr>, KeyError> {
    match cli.metrics_listen.as_ref().or(f.metrics_listen.as_ref()) {
        None => Ok(None),
        Some(s) if s.is_empty() || s == "off" => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            KeyError::new(
                "metrics_listen",
                Problem::NotAddress {
                    value: s.clone(),
                    hint: "",
                },
            )
        }),
    }
}

/// `[page]`, checked (defaults when absent).
pub fn page(f: &FileConfig) -> Result<crate::page::PageConfig, KeyError> {
    let page = f.page.clone().unwrap_or_default();
    page.validate()
        .map_err(|e| KeyError::new("page", Problem::Invalid(e)))?;
    Ok(page)
}
