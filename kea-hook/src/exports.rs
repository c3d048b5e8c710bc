//! The hook's edge, like Kea's `*_callouts.cc`: the symbols Kea looks up with `dlsym`, and
//! `load()` registering the callouts and commands only some configurations need. Each entry
//! point is a thin `extern "C"` wrapper: it contains any panic (logged and counted; the packet
//! goes out untouched) and calls plain Rust (`lifecycle`, `callouts`, `commands`).

use std::ffi::{c_int, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::kea::{self, ck_callout_handle, ck_library_handle, messages as msg, Level};
use crate::kea::{CalloutHandle, LibraryHandle};
use crate::{callouts, commands, lifecycle, state};

pub const CONFIG_GET: &CStr = c"cisco-tftp-config-get";
pub const DRY_RUN: &CStr = c"cisco-tftp-dry-run";

/// Runs `f`, turning a panic into a logged, counted error and `on_panic`.
fn contain<R>(what: &str, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            // The panic hook installed at load has already logged the message.
            state::count_contained_error();
            kea::log(Level::Error, msg::CISCO_TFTP_PANIC_CONTAINED, &[&what]);
            on_panic
        }
    }
}

/// Kea refuses a library whose hooks API version differs from its own.
#[no_mangle]
pub extern "C" fn version() -> c_int {
    kea::hooks_version()
}

/// Builds the state from the parameters, registers what it needs, then publishes it. Non-zero
/// (the reason logged) makes Kea reject the configuration.
///
/// # Safety
/// `handle` is the `LibraryHandle&` Kea passes, valid for the duration of this call.
#[no_mangle]
pub unsafe extern "C" fn load(handle: *mut ck_library_handle) -> c_int {
    contain("load", 1, || {
        // SAFETY: Kea passes its LibraryHandle for the duration of this call.
        let handle = unsafe { LibraryHandle::from_raw(handle) };
        let Some(state) = lifecycle::load(&handle) else {
            return 1;
        };
        if register(&handle, state.wants_subnet_id) {
            lifecycle::start(state);
            0
        } else {
            1
        }
    })
}

/// Registers the control commands, and `subnet4_select` when sites match on Kea subnet ids
/// and `pkt4_send` does not carry the subnet itself (Kea 2.2): otherwise that hook point stays
/// free for everyone else. `false` when Kea refused (logged).
fn register(handle: &LibraryHandle, wants_subnet_id: bool) -> bool {
    if wants_subnet_id
        && !kea::pkt4_send_has_subnet()
        && !handle.register_callout(c"subnet4_select", subnet4_select)
    {
        kea::log(
            Level::Error,
            msg::CISCO_TFTP_LOAD_REGISTER_CALLOUT_FAILED,
            &[&"subnet4_select"],
        );
        return false;
    }
    if !handle.register_command(CONFIG_GET, config_get_command)
        || !handle.register_command(DRY_RUN, dry_run_command)
    {
        kea::log(
            Level::Error,
            msg::CISCO_TFTP_LOAD_REGISTER_COMMANDS_FAILED,
            &[],
        );
        return false;
    }
    true
}

#[no_mangle]
pub extern "C" fn unload() -> c_int {
    contain("unload", 0, lifecycle::unload)
}

/// The hook keeps no per-thread state and its shared state is behind a lock.
#[no_mangle]
pub extern "C" fn multi_threading_compatible() -> c_int {
    1
}

/// Registered by `load()` only when needed (see [`register`]), not looked up by name.
///
/// # Safety
/// `handle` is the `CalloutHandle&` Kea passes, valid for the duration of this call.
pub unsafe extern "C" fn subnet4_select(handle: *mut ck_callout_handle) -> c_int {
    contain("subnet4_select", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        callouts::subnet4_select(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

/// # Safety
/// `handle` is the `CalloutHandle&` Kea passes, valid for the duration of this call.
#[no_mangle]
pub unsafe extern "C" fn pkt4_send(handle: *mut ck_callout_handle) -> c_int {
    contain("pkt4_send", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        callouts::pkt4_send(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

/// `cisco-tftp-config-get`: registered in `load()`, not looked up by name.
///
/// # Safety
/// `handle` is the `CalloutHandle&` Kea passes, valid for the duration of this call.
pub unsafe extern "C" fn config_get_command(handle: *mut ck_callout_handle) -> c_int {
    contain("cisco-tftp-config-get", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        commands::config_get(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

/// `cisco-tftp-dry-run`: registered in `load()`.
///
/// # Safety
/// `handle` is the `CalloutHandle&` Kea passes, valid for the duration of this call.
pub unsafe extern "C" fn dry_run_command(handle: *mut ck_callout_handle) -> c_int {
    contain("cisco-tftp-dry-run", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        commands::dry_run(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_contained_counted_and_answered_with_the_fallback() {
        let before = state::contained_errors();
        let r = contain("test", 7, || -> i32 { panic!("boom") });
        assert_eq!(r, 7);
        assert_eq!(state::contained_errors(), before + 1);
        assert_eq!(contain("test", 7, || 3), 3);
    }

    #[test]
    fn declares_multi_threading_and_the_headers_hooks_version() {
        assert_eq!(multi_threading_compatible(), 1);
        assert!(version() >= 20200);
    }
}
