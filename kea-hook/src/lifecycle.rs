//! What `load()` and `unload()` do, without the hook plumbing (that is `exports`): build the
//! engine, its statistics and options from the parameters, publish them; on unload, drop
//! everything.

use std::ffi::CString;
use std::sync::Arc;

use crate::counters::{self, Counters};
use crate::engine::Engine;
use crate::kea::{self, messages as msg, Level, LibraryHandle};
use crate::state::{self, HookState, ListOptions, Stats};

/// Builds the hook's state from the parameters: the engine, its statistics and prebuilt
/// options. `None` (the reason logged) makes Kea reject the configuration.
pub fn load(handle: &LibraryHandle) -> Option<HookState> {
    match kea::process_name() {
        Some(name) if name == "kea-dhcp4" => {}
        other => {
            let other = other.unwrap_or_else(|| "an unknown process".into());
            kea::log(Level::Error, msg::CISCO_TFTP_LOAD_WRONG_PROCESS, &[&other]);
            return None;
        }
    }
    let Some(params) = handle.parameters_json() else {
        kea::log(Level::Error, msg::CISCO_TFTP_LOAD_NO_PARAMETERS, &[]);
        return None;
    };
    let engine = match Engine::from_json(&params) {
        Ok(engine) => engine,
        Err(e) => {
            kea::log(Level::Error, msg::CISCO_TFTP_CONFIG_REJECTED, &[&e]);
            return None;
        }
    };

    let Some(stats) = make_stats(&engine) else {
        kea::log(Level::Error, msg::CISCO_TFTP_LOAD_STATS_FAILED, &[]);
        return None;
    };
    kea::stat_add_named(state::STAT_ERRORS, 0);

    let Some(options) = make_options(&engine) else {
        kea::log(Level::Error, msg::CISCO_TFTP_LOAD_OPTIONS_FAILED, &[]);
        return None;
    };

    Some(HookState {
        wants_subnet_id: engine.uses_subnet_ids(),
        wants_addresses: engine.uses_addresses(),
        counters: Counters::new(&engine),
        engine,
        stats,
        options,
    })
}

/// Makes `state` the one callouts and commands see.
pub fn start(state: HookState) {
    install_panic_hook();
    let summary = state.engine.summary();
    state::publish(Some(Arc::new(state)));
    kea::log(Level::Info, msg::CISCO_TFTP_LOADED, &[&summary]);
}

pub fn unload() -> i32 {
    state::publish(None);
    // Back to std's own hook: ours lives in this library's code, which is about to go.
    let _ = std::panic::take_hook();
    kea::log(Level::Info, msg::CISCO_TFTP_UNLOADED, &[]);
    0
}

/// One prebuilt option 150 (and 66) per server list.
fn make_options(engine: &Engine) -> Option<Vec<ListOptions>> {
    engine
        .lists()
        .map(|list| {
            Some(ListOptions {
                option150: kea::SharedOption::new(150, &list.option150)?,
                option66: match &list.option66 {
                    Some(o) => Some(kea::SharedOption::new(66, o)?),
                    None => None,
                },
            })
        })
        .collect()
}

/// Phone series Cisco sells, plus every non-numeric family (ata, spa, wireless, generic and
/// user patterns), start at 0 so exporters see them; the other `NNxx` families appear on
/// first use, which keeps `statistic-get-all` readable.
fn precreate_family_stat(family: &str) -> bool {
    const SERIES: [&str; 10] = [
        "39xx", "68xx", "69xx", "78xx", "79xx", "88xx", "89xx", "98xx", "99xx", "80xx",
    ];
    let numeric = family.len() == 4 && family.as_bytes()[..2].iter().all(u8::is_ascii_digit);
    !numeric || SERIES.contains(&family)
}

fn make_stats(engine: &Engine) -> Option<Stats> {
    let stat = |name: &str, at_zero: bool| {
        kea::Stat::new(
            &CString::new(name).expect("statistic names have no NUL"),
            at_zero,
        )
    };
    let mut sent_by_family = Vec::new();
    for (_, family) in engine.families() {
        sent_by_family.push(stat(
            &counters::stat_sent_family(family),
            precreate_family_stat(family),
        )?);
    }
    Some(Stats {
        sent_by_family,
        skipped_family_disabled: stat(counters::STAT_SKIPPED_FAMILY_DISABLED, true)?,
        skipped_no_policy: stat(counters::STAT_SKIPPED_NO_POLICY, true)?,
    })
}

/// Panics are logged through Kea's logger; std's default hook would write to stderr and ask
/// for the thread's name (a thread-local with a destructor, which pins the library in memory).
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        kea::log(Level::Error, msg::CISCO_TFTP_PANIC, &[info]);
    }));
}
