//! The packet path: what `subnet4_select` and `pkt4_send` do, on top of the safe wrappers.

use std::fmt::Write as _;

use crate::engine::{Answer, Decision, Request};
use crate::kea::{self, messages as msg, CalloutHandle, Level, Message, Pkt4SendView};
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
                log_skip(
                    view,
                    msg::CISCO_TFTP_SKIPPED_FAMILY_DISABLED,
                    s.engine.family_name(family),
                );
            }
        }
        Decision::NoPolicy { family } => {
            s.counters.skipped_no_policy(family);
            s.stats.skipped_no_policy.add(1);
            if debug {
                log_skip(
                    view,
                    msg::CISCO_TFTP_SKIPPED_NO_POLICY,
                    s.engine.family_name(family),
                );
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
                log_sent(s, view, &answer);
            }
        }
    }
}

fn log_sent(s: &HookState, view: &Pkt4SendView<'_>, answer: &Answer<'_>) {
    let mut servers = String::with_capacity(64);
    for (i, a) in answer.servers.iter().enumerate() {
        let _ = write!(servers, "{}{a}", if i > 0 { ", " } else { "" });
    }
    let mac = mac(view.hwaddr());
    let model = answer.model.unwrap_or("-");
    let family = s.engine.family_name(answer.family);
    match answer.option66 {
        None => kea::log(
            Level::Debug,
            msg::CISCO_TFTP_OPTION150_SENT,
            &[&mac, &model, &family, &servers, &answer.rule],
        ),
        Some(o66) => kea::log(
            Level::Debug,
            msg::CISCO_TFTP_OPTION150_66_SENT,
            &[
                &mac,
                &model,
                &family,
                &servers,
                &answer.rule,
                &String::from_utf8_lossy(o66),
            ],
        ),
    }
}

fn log_skip(view: &Pkt4SendView<'_>, message: Message, family: &str) {
    kea::log(Level::Debug, message, &[&mac(view.hwaddr()), &family]);
}

fn mac(hw: &[u8]) -> String {
    let mut s = String::with_capacity(hw.len() * 3);
    for (i, b) in hw.iter().enumerate() {
        let _ = write!(s, "{}{b:02x}", if i > 0 { ":" } else { "" });
    }
    s
}
