//! Safe wrappers over the C++ shim (`kea-hook-sys`). The only `unsafe` in the hook is here.
//!
//! Handles are raw pointers Kea owns; a wrapper is only built inside a call Kea made with that
//! handle and never outlives it.

use std::ffi::{c_int, CStr};
use std::net::Ipv4Addr;

use kea_hook_sys as sys;

pub use sys::{ck_callout_handle, ck_library_handle, messages, Message};

/// A Kea command handler or callout, as Kea calls it.
pub type RawCallout = unsafe extern "C" fn(*mut ck_callout_handle) -> c_int;

/// `KEA_HOOKS_VERSION` of the headers the shim was built against.
pub fn hooks_version() -> i32 {
    // SAFETY: returns a constant.
    unsafe { sys::ck_hooks_version() }
}

/// Whether `pkt4_send` itself carries the selected subnet (Kea 2.6 on), so `subnet4_select`
/// is not needed to match sites on subnet ids.
pub fn pkt4_send_has_subnet() -> bool {
    // SAFETY: returns a constant.
    unsafe { sys::ck_pkt4_send_has_subnet() != 0 }
}

/// Name of the process that loaded the hook (`kea-dhcp4`, ...).
pub fn process_name() -> Option<String> {
    take_string(|out| unsafe { sys::ck_process_name(out) })
}

/// Copies a shim-allocated string into Rust and frees it.
fn take_string(fill: impl FnOnce(*mut sys::ck_string) -> c_int) -> Option<String> {
    let mut s = sys::ck_string {
        ptr: std::ptr::null_mut(),
        len: 0,
    };
    if fill(&mut s) != sys::CK_OK as c_int || s.ptr.is_null() {
        return None;
    }
    // SAFETY: the shim wrote `len` bytes at `ptr` (malloc'd); we copy them, then free.
    let text = unsafe {
        let bytes = std::slice::from_raw_parts(s.ptr as *const u8, s.len);
        let text = String::from_utf8_lossy(bytes).into_owned();
        sys::ck_string_free(&mut s);
        text
    };
    Some(text)
}

/// The `LibraryHandle&` Kea passes to `load()`.
pub struct LibraryHandle(*mut ck_library_handle);

impl LibraryHandle {
    /// # Safety
    /// `raw` must be the handle Kea passed to the running `load()` call.
    pub unsafe fn from_raw(raw: *mut ck_library_handle) -> LibraryHandle {
        LibraryHandle(raw)
    }

    /// The hook's `parameters` map as JSON text.
    pub fn parameters_json(&self) -> Option<String> {
        take_string(|out| unsafe { sys::ck_library_parameters_json(self.0, out) })
    }

    pub fn register_callout(&self, hook_point: &CStr, callout: RawCallout) -> bool {
        // SAFETY: as for register_command.
        unsafe { sys::ck_register_callout(self.0, hook_point.as_ptr(), Some(callout)) == 0 }
    }

    pub fn register_command(&self, name: &CStr, handler: RawCallout) -> bool {
        // SAFETY: `handler` has the ABI of Kea's CalloutPtr; the name is copied by Kea.
        unsafe { sys::ck_register_command(self.0, name.as_ptr(), Some(handler)) == 0 }
    }
}

/// The `CalloutHandle&` Kea passes to a callout or command handler.
pub struct CalloutHandle(*mut ck_callout_handle);

/// What `pkt4_send` reads from the response and the query. Borrowed from the handle.
pub struct Pkt4SendView<'h> {
    raw: sys::ck_pkt4_send_view,
    _handle: std::marker::PhantomData<&'h CalloutHandle>,
}

impl<'h> Pkt4SendView<'h> {
    /// Kea's next-step status was CONTINUE (not SKIP: already packed; not DROP).
    pub fn is_continue(&self) -> bool {
        self.raw.next_step == sys::CK_NEXT_STEP_CONTINUE as c_int
    }

    pub fn has_response(&self) -> bool {
        !self.raw.response.is_null()
    }

    pub fn response_type(&self) -> u8 {
        self.raw.response_type
    }

    pub fn vendor_class(&self) -> Option<&'h [u8]> {
        if self.raw.vendor_class.is_null() {
            return None;
        }
        // SAFETY: points into the query's option buffer, alive for the callout.
        Some(unsafe {
            std::slice::from_raw_parts(self.raw.vendor_class, self.raw.vendor_class_len)
        })
    }

    pub fn giaddr(&self) -> Option<Ipv4Addr> {
        nonzero_addr(self.raw.giaddr)
    }

    /// The address being handed out (yiaddr), else the client's own (ciaddr).
    pub fn client_addr(&self) -> Option<Ipv4Addr> {
        nonzero_addr(self.raw.yiaddr).or_else(|| nonzero_addr(self.raw.ciaddr))
    }

    pub fn hwaddr(&self) -> &[u8] {
        &self.raw.hwaddr[..self.raw.hwaddr_len as usize]
    }

    pub fn subnet_id(&self) -> Option<u32> {
        (self.raw.has_subnet_id != 0).then_some(self.raw.subnet_id)
    }

    /// Puts `options` into the response, each replacing every option of its code there. All
    /// or nothing: on `false` the response is exactly as Kea built it.
    pub fn replace_options(&self, options: &[&SharedOption]) -> bool {
        let mut raw = [std::ptr::null::<sys::ck_option>(); sys::CK_MAX_SHARED_OPTIONS as usize];
        if options.len() > raw.len() {
            return false;
        }
        for (slot, o) in raw.iter_mut().zip(options) {
            *slot = o.0.as_ptr();
        }
        // SAFETY: `response` is non-null (checked by callers via has_response) and alive; the
        // options outlive the call.
        unsafe {
            sys::ck_pkt4_replace_options_shared(self.raw.response, raw.as_ptr(), options.len()) == 0
        }
    }
}

/// A Kea option built once (at load) and added to every response that needs it.
pub struct SharedOption(std::ptr::NonNull<sys::ck_option>);

// SAFETY: never modified after creation; Kea only reads it when packing, and its reference
// count is atomic.
unsafe impl Send for SharedOption {}
unsafe impl Sync for SharedOption {}

impl SharedOption {
    pub fn new(code: u16, data: &[u8]) -> Option<SharedOption> {
        let raw = unsafe { sys::ck_option_new(code, data.as_ptr(), data.len()) };
        std::ptr::NonNull::new(raw).map(SharedOption)
    }
}

impl Drop for SharedOption {
    fn drop(&mut self) {
        // Responses still holding it keep the option itself alive (shared_ptr).
        unsafe { sys::ck_option_free(self.0.as_ptr()) }
    }
}

fn nonzero_addr(host_order: u32) -> Option<Ipv4Addr> {
    (host_order != 0).then(|| Ipv4Addr::from(host_order))
}

impl CalloutHandle {
    /// # Safety
    /// `raw` must be the handle Kea passed to the running callout.
    pub unsafe fn from_raw(raw: *mut ck_callout_handle) -> CalloutHandle {
        CalloutHandle(raw)
    }

    /// Reads the response and query; the subnet id, the addresses (giaddr, yiaddr, ciaddr)
    /// and the MAC only when asked (each costs Kea work per packet).
    pub fn pkt4_send_view(
        &self,
        subnet_id: bool,
        addresses: bool,
        hwaddr: bool,
    ) -> Option<Pkt4SendView<'_>> {
        let want = (if subnet_id { sys::CK_VIEW_SUBNET_ID } else { 0 })
            | (if addresses { sys::CK_VIEW_ADDRESSES } else { 0 })
            | (if hwaddr { sys::CK_VIEW_HWADDR } else { 0 });
        // SAFETY: an all-zero view is valid (null pointers, zero lengths).
        let mut raw: sys::ck_pkt4_send_view = unsafe { std::mem::zeroed() };
        let rc = unsafe { sys::ck_pkt4_send_view_get(self.0, want as c_int, &mut raw) };
        (rc == 0).then_some(Pkt4SendView {
            raw,
            _handle: std::marker::PhantomData,
        })
    }

    pub fn remember_subnet(&self) -> bool {
        unsafe { sys::ck_subnet4_select_remember(self.0) == 0 }
    }

    /// The command's `arguments` as JSON text ("null" when absent).
    pub fn command_arguments_json(&self) -> Option<String> {
        take_string(|out| unsafe { sys::ck_command_arguments_json(self.0, out) })
    }

    /// Sets the command's answer: result 0 = success, 1 = error, 3 = empty.
    pub fn respond(&self, result: i32, text: &CStr, args_json: Option<&str>) -> bool {
        let (ptr, len) = match args_json {
            Some(a) => (a.as_ptr() as *const std::ffi::c_char, a.len()),
            None => (std::ptr::null(), 0),
        };
        unsafe { sys::ck_command_respond(self.0, result, text.as_ptr(), ptr, len) == 0 }
    }
}

/// A Kea statistic whose name was turned into a C++ string once, at load.
pub struct Stat(std::ptr::NonNull<sys::ck_stat>);

// SAFETY: the shim only reads the name after creation; StatsMgr is thread-safe.
unsafe impl Send for Stat {}
unsafe impl Sync for Stat {}

impl Stat {
    /// `create_at_zero`: make it visible at 0 now (a reload keeps existing counts).
    pub fn new(name: &CStr, create_at_zero: bool) -> Option<Stat> {
        let raw = unsafe { sys::ck_stat_new(name.as_ptr(), create_at_zero as c_int) };
        std::ptr::NonNull::new(raw).map(Stat)
    }

    pub fn add(&self, value: i64) {
        unsafe {
            sys::ck_stat_add(self.0.as_ptr(), value);
        }
    }
}

impl Drop for Stat {
    fn drop(&mut self) {
        unsafe { sys::ck_stat_free(self.0.as_ptr()) }
    }
}

/// Adds to a statistic by name: for rare events only (builds a string per call).
pub fn stat_add_named(name: &CStr, value: i64) {
    unsafe {
        sys::ck_stat_add_named(name.as_ptr(), value);
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Level {
    Debug,
    Info,
    Error,
}

impl Level {
    fn raw(self) -> c_int {
        (match self {
            Level::Debug => sys::CK_LOG_DEBUG,
            Level::Info => sys::CK_LOG_INFO,
            Level::Error => sys::CK_LOG_ERROR,
        }) as c_int
    }
}

/// Whether Kea's `kea-dhcp4.cisco-tftp` logger would print at this level; check before
/// formatting a per-packet message.
pub fn log_enabled(level: Level) -> bool {
    unsafe { sys::ck_log_enabled(level.raw()) != 0 }
}

/// Logs `message` (an id of `shim/cisco_tftp_messages.mes`) with its arguments, which fill
/// `%1`, `%2`, ... in the message's text. A wrong number of arguments is a bug in the caller:
/// Kea would print the text with placeholders left or a warning.
pub fn log(level: Level, message: Message, args: &[&dyn std::fmt::Display]) {
    debug_assert_eq!(args.len(), message.args, "arguments of {:?}", message.id);
    let texts: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let raw: Vec<sys::ck_str> = texts
        .iter()
        .map(|t| sys::ck_str {
            ptr: t.as_ptr() as *const std::ffi::c_char,
            len: t.len(),
        })
        .collect();
    // SAFETY: the id is a NUL-terminated string of the table the shim registered; the
    // arguments are borrowed for the call.
    unsafe { sys::ck_log(level.raw(), message.id.as_ptr(), raw.as_ptr(), raw.len()) }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// Every message of the table is logged somewhere (the Rust side or the shim): the
    /// documented list is the list of what the hook can say.
    #[test]
    fn every_message_is_used() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut code = std::fs::read_to_string(dir.join("kea-hook-sys/shim/shim.cc")).unwrap();
        for entry in std::fs::read_dir(dir.join("src")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("kea.rs") {
                code += &std::fs::read_to_string(path).unwrap();
            }
        }
        for m in super::messages::ALL {
            let id = m.id.to_str().unwrap();
            assert!(
                code.contains(&format!("{id},")) || code.contains(&format!("{id})")),
                "{id} is in cisco_tftp_messages.mes but never logged"
            );
        }
    }
}
