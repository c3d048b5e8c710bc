//! The symbols Kea looks up with `dlsym`. Each is a thin `extern "C"` wrapper: it contains any
//! panic (logged and counted; the packet goes out untouched) and calls plain Rust.

use std::ffi::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::kea::{self, ck_callout_handle, ck_library_handle, CalloutHandle, LibraryHandle};
use crate::{callouts, commands, lifecycle, state};

/// Runs `f`, turning a panic into a logged, counted error and `on_panic`.
fn contain<R>(what: &str, on_panic: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(_) => {
            // The panic hook installed at load has already logged the message.
            state::count_contained_error();
            kea::log(kea::Level::Error, &format!("contained a panic in {what}"));
            on_panic
        }
    }
}

/// Kea refuses a library whose hooks API version differs from its own.
#[no_mangle]
pub extern "C" fn version() -> c_int {
    kea::hooks_version()
}

/// Parses and checks the parameters; non-zero makes Kea reject the configuration.
#[no_mangle]
pub extern "C" fn load(handle: *mut ck_library_handle) -> c_int {
    contain("load", 1, || {
        // SAFETY: Kea passes its LibraryHandle for the duration of this call.
        let handle = unsafe { LibraryHandle::from_raw(handle) };
        lifecycle::load(&handle)
    })
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

/// Registered by `load()` only when a site matches on Kea subnet ids (not looked up by name,
/// so Kea skips that hook point otherwise).
pub extern "C" fn subnet4_select(handle: *mut ck_callout_handle) -> c_int {
    contain("subnet4_select", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        callouts::subnet4_select(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

#[no_mangle]
pub extern "C" fn pkt4_send(handle: *mut ck_callout_handle) -> c_int {
    contain("pkt4_send", 0, || {
        // SAFETY: Kea passes its CalloutHandle for the duration of this call.
        callouts::pkt4_send(&unsafe { CalloutHandle::from_raw(handle) })
    })
}

/// `cisco-tftp-config-get`: registered in `load()`, not looked up by name.
pub extern "C" fn config_get_command(handle: *mut ck_callout_handle) -> c_int {
    let handle = unsafe { CalloutHandle::from_raw(handle) };
    contain("cisco-tftp-config-get", 0, || commands::config_get(&handle))
}

/// `cisco-tftp-dry-run`: registered in `load()`.
pub extern "C" fn dry_run_command(handle: *mut ck_callout_handle) -> c_int {
    let handle = unsafe { CalloutHandle::from_raw(handle) };
    contain("cisco-tftp-dry-run", 0, || commands::dry_run(&handle))
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
