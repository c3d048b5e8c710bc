//! Helpers the parts share: a flag-or-file choice, address lists, bounded numbers.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::error::{KeyError, Problem};

/// A key that takes one string or a list (`listen`, `http_listen`).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
    #[default]
    None,
}

impl OneOrMany {
    /// The flag's list if given, else the file's, else `default`; blanks dropped.
    pub fn or_flag(&self, flag: &Option<Vec<String>>, default: &[SocketAddr]) -> Vec<String> {
        let raw: Vec<String> = match (flag, self) {
            (Some(v), _) => v.clone(),
            (None, OneOrMany::One(s)) => vec![s.clone()],
            (None, OneOrMany::Many(v)) => v.clone(),
            (None, OneOrMany::None) => default.iter().map(|a| a.to_string()).collect(),
        };
        raw.iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

/// Each entry as ADDR:PORT.
pub fn addresses(
    key: &'static str,
    raw: &[String],
    hint: &'static str,
) -> Result<Vec<SocketAddr>, KeyError> {
    raw.iter()
        .map(|s| {
            s.parse::<SocketAddr>().map_err(|_| {
                KeyError::new(
                    key,
                    Problem::NotAddress {
                        value: s.clone(),
                        hint,
                    },
                )
            })
        })
        .collect()
}

/// `v` seconds as a duration when within `min..=max`.
pub fn seconds(key: &'static str, v: f64, min: f64, max: f64) -> Result<Duration, KeyError> {
    if !(v.is_finite() && v >= min && v <= max) {
        return Err(KeyError::new(key, Problem::Seconds { min, max, got: v }));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Optional seconds, or the default.
pub fn seconds_or(
    key: &'static str,
    v: Option<f64>,
    min: f64,
    max: f64,
    default: Duration,
) -> Result<Duration, KeyError> {
    v.map_or(Ok(default), |v| seconds(key, v, min, max))
}

/// At least 1.
pub fn at_least_one<T: PartialEq + Default>(key: &'static str, v: T) -> Result<T, KeyError> {
    if v == T::default() {
        return Err(KeyError::new(key, Problem::Zero));
    }
    Ok(v)
}

/// Within `min..=max`.
pub fn within(key: &'static str, got: u64, min: u64, max: u64) -> Result<(), KeyError> {
    if !(min..=max).contains(&got) {
        return Err(KeyError::new(key, Problem::Range { min, max, got }));
    }
    Ok(())
}
