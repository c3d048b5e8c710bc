//! The packet path: what `subnet4_select` and `pkt4_send` do, on top of the safe wrappers.

use std::fmt::Write as _;

use crate::engine::{Decision, Request};
use crate::kea::{self, CalloutHandle, Level, Pkt4SendView};
use crate::state::{self, HookState};

const DHCPOFFER: u8 = 2;
const DHCPACK: u8 = 5;

/// Notes the selected subnet's id for `pkt4_send`, which Kea 2.2 gives no subnet (registered
/// only there: from 2.6 `pkt4_send` has it).
pub fn subnet4_select(handle: &CalloutHandle) -> i32 {
    let wanted = state::with_current(|s| s.wants_subnet_id).unwrap_or(false);
    if wanted && !handle.remember_subnet() {
        state::count_contained_error();
    }
    0
}

/// Adds option 150 (and 66 when configured) to OFFERs and ACKs for matched Cisco clients.
pub fn pkt4_send(handle: &CalloutHandle) -> i32 {
    state::with_current(|s| {
        // Asked once per packet: the MAC is read, and a line formatted, only for the debug log.
        let debug = kea::log_enabled(Level::Debug);
        let Some(view) = handle.pkt4_send_view(s.wants_subnet_id, s.wants_addresses, debug) else {
            state::count_contained_error();
            return;
        };
        // NAKs and other responses are left alone, as are packets another hook dropped or
        // already packed (SKIP).
        if !view.is_continue()
            || !view.has_response()
            || !matches!(view.response_type(), DHCPOFFER | DHCPACK)
        {
            return;
        }
        apply(s, &view, debug);
    });
    0
}

fn apply(s: &HookState, view: &Pkt4SendView<'_>, debug: bool) {
    let req = Request {
        vendor_class: view.vendor_class(),
        subnet_id: view.subnet_id(),
        giaddr: view.giaddr(),
        client_addr: view.client_addr(),
    };
    match s.engine.decide(&req) {
        Decision::NotCisco => {}
        Decision::FamilyDisabled { family } => {
            s.counters.skipped_family_disabled(family);
            s.stats.skipped_family_disabled.add(1);
            if debug {
                log_skip(view, "family disabled", s.engine.family_name(family));
            }
        }
        Decision::NoPolicy { family } => {
            s.counters.skipped_no_policy(family);
            s.stats.skipped_no_policy.add(1);
            if debug {
                log_skip(view, "no server list applies", s.engine.family_name(family));
            }
        }
        Decision::Send(answer) => {
            // Every list has its options, built at load; one call puts them in, all or none,
            // so an error can only leave the response as Kea built it.
            let ok = s
                .options
                .get(answer.list_id)
                .is_some_and(|o| match &o.option66 {
                    Some(o66) => view.replace_options(&[&o.option150, o66]),
                    None => view.replace_options(&[&o.option150]),
                });
            if !ok {
                state::count_contained_error();
                return;
            }
            s.counters.sent(answer.family);
            if let Some(stat) = s.stats.sent_by_family.get(answer.family.index()) {
                stat.add(1);
            }
            if debug {
                let mut msg = String::with_capacity(160);
                let _ = write!(
                    msg,
                    "cisco-tftp: {} model {} family {} -> option 150 [",
                    mac(view.hwaddr()),
                    answer.model.unwrap_or("-"),
                    s.engine.family_name(answer.family),
                );
                for (i, a) in answer.servers.iter().enumerate() {
                    let _ = write!(msg, "{}{a}", if i > 0 { ", " } else { "" });
                }
                let _ = write!(msg, "] ({})", answer.rule);
                if let Some(o) = answer.option66 {
                    let _ = write!(msg, ", option 66 {}", String::from_utf8_lossy(o));
                }
                kea::log(Level::Debug, &msg);
            }
        }
    }
}

fn log_skip(view: &Pkt4SendView<'_>, why: &str, family: &str) {
    kea::log(
        Level::Debug,
        &format!(
            "cisco-tftp: {} family {family} skipped: {why}",
            mac(view.hwaddr())
        ),
    );
}

fn mac(hw: &[u8]) -> String {
    let mut s = String::with_capacity(hw.len() * 3);
    for (i, b) in hw.iter().enumerate() {
        let _ = write!(s, "{}{b:02x}", if i > 0 { ":" } else { "" });
    }
    s
}
