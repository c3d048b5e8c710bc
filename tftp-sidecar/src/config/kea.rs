//! The Kea statistics bridge part: `[kea]`/`[[kea]]` sources, `--kea-control-socket`.

use super::error::{KeyError, Problem};
use super::FileConfig;
use crate::cli::Cli;
use crate::kea_stats::KeaConfig;

/// The sources, checked; empty when Kea's statistics are not polled.
pub fn resolve(cli: &Cli, f: &FileConfig) -> Result<Vec<KeaConfig>, KeyError> {
    let mut kea = f.kea.clone().map(|t| t.0).unwrap_or_default();
    if let Some(sock) = cli.kea_control_socket.clone() {
        match kea.as_mut_slice() {
            [] => kea.push(KeaConfig::new(sock)),
            [k] => {
                k.control_socket = Some(sock);
                k.http_url = None;
                k.http_user = None;
                k.http_password_file = None;
            }
            _ => {
                return Err(KeyError::new(
                    "kea",
                    Problem::Rule(
                        "--kea-control-socket cannot choose among several [[kea]] sources",
                    ),
                ))
            }
        }
    }
    crate::kea_stats::validate_all(&kea).map_err(|e| KeyError::new("kea", e.into()))?;
    Ok(kea)
}
