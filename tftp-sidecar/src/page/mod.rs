//! The operator's page, on the status listener: `/` lists the phones of the phone table with
//! their state and firmware progress beside the firmware check's problems; `/phones/<MAC>`
//! shows one phone's boot transcript.
//!
//! - `model.rs`: the pure view model (states, progress, filter, sort, pages), unit-tested.
//! - `watch.rs`: the firmware check of the served root, in the background.
//! - `view.rs`: the askama templates (HTML-escaped by default) and the routes.
//! - `assets/`: the CSS and script, embedded in the binary; nothing is fetched from elsewhere.
//!
//! Data: the phone table (`phones.rs`, fed by the TFTP engine's events and the HTTP listener)
//! and the check's report (`firmware_check`), both bounded; the page holds nothing of its own.

pub mod model;
mod view;
pub mod watch;

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::phones::PhoneTable;

pub use view::routes;
pub use watch::RootCheck;

/// `[page]` in the config file.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PageConfig {
    /// Seconds without progress (or since a failed transfer) before a phone counts as stuck
    /// (see `model.rs` for the states).
    #[serde(alias = "stuck-after")]
    pub stuck_after: f64,
    /// Seconds between looks at the served root for changes (then the check runs again).
    #[serde(alias = "check-interval")]
    pub check_interval: f64,
    /// Seconds between the page's own refreshes in the browser.
    pub refresh: f64,
    /// Phones the recently-seen table holds (for the page, `/api/v1/phones` and the
    /// `tftp_phones_*` gauges); the least recently seen is dropped first.
    #[serde(alias = "phone-capacity")]
    pub phone_capacity: usize,
}

impl Default for PageConfig {
    fn default() -> Self {
        PageConfig {
            stuck_after: 300.0,
            check_interval: 10.0,
            refresh: 5.0,
            phone_capacity: crate::phones::DEFAULT_CAPACITY,
        }
    }
}

impl PageConfig {
    /// Every time must be a positive number of seconds, at most a day; the table must hold
    /// 1 to 1,000,000 phones.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1_000_000).contains(&self.phone_capacity) {
            return Err(format!(
                "page.phone_capacity: {} is not in 1..=1000000",
                self.phone_capacity
            ));
        }
        for (key, v) in [
            ("page.stuck_after", self.stuck_after),
            ("page.check_interval", self.check_interval),
            ("page.refresh", self.refresh),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
                return Err(format!(
                    "{key}: {v} is not a number of seconds in (0, 86400]"
                ));
            }
        }
        Ok(())
    }

    pub fn stuck_after(&self) -> Duration {
        Duration::from_secs_f64(self.stuck_after)
    }

    pub fn check_interval(&self) -> Duration {
        Duration::from_secs_f64(self.check_interval)
    }
}

/// What the page's routes read from.
pub struct Page {
    pub phones: Arc<PhoneTable>,
    pub check: Arc<RootCheck>,
    pub config: PageConfig,
}

impl Page {
    pub fn new(phones: Arc<PhoneTable>, check: Arc<RootCheck>, config: PageConfig) -> Arc<Page> {
        Arc::new(Page {
            phones,
            check,
            config,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_table_reads_both_spellings_and_refuses_nonsense_naming_the_key() {
        let c: PageConfig = toml::from_str("stuck-after = 60\nrefresh = 2").unwrap();
        assert_eq!(c.stuck_after(), Duration::from_secs(60));
        assert_eq!((c.refresh, c.check_interval), (2.0, 10.0));
        assert!(c.validate().is_ok());
        let bad: PageConfig = toml::from_str("stuck_after = 0").unwrap();
        assert!(bad.validate().unwrap_err().contains("page.stuck_after"));
        assert!(toml::from_str::<PageConfig>("stuck = 1").is_err());
        let big: PageConfig = toml::from_str("phone_capacity = 0").unwrap();
        assert!(big.validate().unwrap_err().contains("page.phone_capacity"));
    }
}
