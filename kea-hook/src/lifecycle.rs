//! `load()` and `unload()`: build the engine from the parameters, publish it, register the
//! control commands and statistics; on unload, drop everything.

use std::ffi::CString;
use std::sync::Arc;

use crate::counters::Counters;
use crate::engine::Engine;
use crate::kea::{self, Level, LibraryHandle};
use crate::state::{self, HookState, ListOptions, Stats};
use crate::{counters, exports};

pub const CONFIG_GET: &std::ffi::CStr = c"cisco-tftp-config-get";
pub const DRY_RUN: &std::ffi::CStr = c"cisco-tftp-dry-run";

/// Returns 0 on success; 1 (with the reason logged) makes Kea reject the configuration.
pub fn load(handle: &LibraryHandle) -> i32 {
    match kea::process_name() {
        Some(name) if name == "kea-dhcp4" => {}
        other => {
            kea::log(
                Level::Error,
                &format!(
                    "cisco-tftp: this hook works only in kea-dhcp4, not in {}",
                    other.as_deref().unwrap_or("an unknown process")
                ),
            );
            return 1;
        }
    }
    let Some(params) = handle.parameters_json() else {
        kea::log(
            Level::Error,
            "cisco-tftp: could not read the hook's parameters",
        );
        return 1;
    };
    let engine = match Engine::from_json(&params) {
        Ok(engine) => engine,
        Err(e) => {
            kea::log(
                Level::Error,
                &format!("cisco-tftp: configuration rejected: {e}"),
            );
            return 1;
        }
    };

    let Some(stats) = make_stats(&engine) else {
        kea::log(Level::Error, "cisco-tftp: could not create the statistics");
        return 1;
    };
    kea::stat_add_named(state::STAT_ERRORS, 0);

    // subnet4_select is needed only to match sites on Kea subnet ids, and only where pkt4_send
    // does not carry the subnet itself (Kea 2.2); registering it only then keeps that hook
    // point free for everyone else.
    let wants_subnet_id = engine.uses_subnet_ids();
    let wants_addresses = engine.uses_addresses();
    if wants_subnet_id
        && !kea::pkt4_send_has_subnet()
        && !handle.register_callout(c"subnet4_select", exports::subnet4_select)
    {
        kea::log(
            Level::Error,
            "cisco-tftp: could not register the subnet4_select callout",
        );
        return 1;
    }

    if !handle.register_command(CONFIG_GET, exports::config_get_command)
        || !handle.register_command(DRY_RUN, exports::dry_run_command)
    {
        kea::log(
            Level::Error,
            "cisco-tftp: could not register the control commands",
        );
        return 1;
    }

    let mut options = Vec::new();
    for list in engine.lists() {
        let option150 = kea::SharedOption::new(150, &list.option150);
        let option66 = list
            .option66
            .as_ref()
            .map(|o| kea::SharedOption::new(66, o));
        match (option150, option66) {
            (Some(option150), None) => options.push(ListOptions {
                option150,
                option66: None,
            }),
            (Some(option150), Some(Some(o66))) => options.push(ListOptions {
                option150,
                option66: Some(o66),
            }),
            _ => {
                kea::log(Level::Error, "cisco-tftp: could not build the options");
                return 1;
            }
        }
    }

    install_panic_hook();
    let summary = engine.summary();
    let counters = Counters::new(&engine);
    state::publish(Some(Arc::new(HookState {
        engine,
        counters,
        stats,
        options,
        wants_subnet_id,
        wants_addresses,
    })));
    kea::log(Level::Info, &format!("cisco-tftp: loaded: {summary}"));
    0
}

pub fn unload() -> i32 {
    state::publish(None);
    // Back to std's own hook: ours lives in this library's code, which is about to go.
    let _ = std::panic::take_hook();
    kea::log(Level::Info, "cisco-tftp: unloaded");
    0
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
        kea::log(Level::Error, &format!("cisco-tftp: panic: {info}"));
    }));
}
