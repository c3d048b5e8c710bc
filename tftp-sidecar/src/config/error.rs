//! What can be wrong with a setting, and which key it is about. Every part of the
//! configuration (listen/TFTP, store, HTTP files, status, Kea, logging) reports a
//! [`KeyError`]; `main` prints it as is.

use std::fmt;

/// A config key by its canonical name (snake_case, `store.` for the `[store]` table).
/// Messages show the kebab-case spelling too: both are accepted in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key(pub &'static str);

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`", self.0)?;
        if self.0.contains('_') {
            write!(f, " (or `{}`)", self.0.replace('_', "-"))?;
        }
        Ok(())
    }
}

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("{value:?} is not ADDR:PORT{hint}")]
    NotAddress { value: String, hint: &'static str },
    #[error("must be between {min} and {max} seconds, got {got}")]
    Seconds { min: f64, max: f64, got: f64 },
    #[error("must be a number of seconds {want}, got {got}")]
    NotSeconds { want: &'static str, got: f64 },
    #[error("must be {min}..{max}, got {got}")]
    Range { min: u64, max: u64, got: u64 },
    #[error("must be at least 1")]
    Zero,
    /// A rule between keys or a fixed refusal, explained.
    #[error("{0}")]
    Rule(&'static str),
    /// A `[kea]` source that does not hold together.
    #[error(transparent)]
    Kea(#[from] crate::kea_stats::KeaConfigError),
    /// A parser's own explanation (port ranges, URLs, I/O on the disk cache, Kea sources).
    #[error("{0}")]
    Invalid(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("config key {key}: {problem}")]
pub struct KeyError {
    pub key: Key,
    pub problem: Problem,
}

impl KeyError {
    pub fn new(key: &'static str, problem: Problem) -> KeyError {
        KeyError {
            key: Key(key),
            problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_key_in_both_spellings() {
        let e = KeyError::new("store.negative_ttl_secs", Problem::Zero).to_string();
        assert_eq!(
            e,
            "config key `store.negative_ttl_secs` (or `store.negative-ttl-secs`): must be at least 1"
        );
        assert_eq!(
            KeyError::new("root", Problem::Rule("x")).to_string(),
            "config key `root`: x"
        );
    }
}
