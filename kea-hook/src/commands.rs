//! Control commands, reached through Kea's control socket:
//! `cisco-tftp-config-get` (effective configuration and counters) and `cisco-tftp-dry-run`
//! (what a given vendor class, subnet or relay would get, without a packet).

use serde_json::json;

use crate::kea::CalloutHandle;
use crate::state;

const RESULT_SUCCESS: i32 = 0;
const RESULT_ERROR: i32 = 1;

pub fn config_get(handle: &CalloutHandle) -> i32 {
    match state::current() {
        Some(s) => {
            let mut counters = s.counters.snapshot(&s.engine);
            // Contained errors are counted outside the state: they can happen while none is
            // loaded.
            counters[crate::counters::STAT_ERRORS] = json!(state::contained_errors());
            let args = json!({
                "config": s.engine.effective_config(),
                "counters": counters,
                "multi-threading-compatible": true,
            });
            respond(
                handle,
                RESULT_SUCCESS,
                c"cisco-tftp configuration",
                Some(&args),
            );
        }
        None => respond(handle, RESULT_ERROR, c"cisco-tftp is not loaded", None),
    }
    0
}

pub fn dry_run(handle: &CalloutHandle) -> i32 {
    let Some(s) = state::current() else {
        respond(handle, RESULT_ERROR, c"cisco-tftp is not loaded", None);
        return 0;
    };
    let args_text = handle
        .command_arguments_json()
        .unwrap_or_else(|| "null".into());
    let args: serde_json::Value =
        serde_json::from_str(&args_text).unwrap_or(serde_json::Value::Null);
    match s.engine.dry_run(&args) {
        Ok(result) => respond(handle, RESULT_SUCCESS, c"cisco-tftp dry run", Some(&result)),
        Err(why) => {
            let text = std::ffi::CString::new(format!("cisco-tftp-dry-run: {why}"))
                .unwrap_or_else(|_| c"cisco-tftp-dry-run: bad arguments".into());
            respond(handle, RESULT_ERROR, &text, None)
        }
    }
    0
}

fn respond(
    handle: &CalloutHandle,
    result: i32,
    text: &std::ffi::CStr,
    args: Option<&serde_json::Value>,
) {
    let args_text = args.map(|a| a.to_string());
    if !handle.respond(result, text, args_text.as_deref()) {
        // The answer could not be built (already logged by the shim): send a bare error.
        state::count_contained_error();
        handle.respond(
            RESULT_ERROR,
            c"cisco-tftp: could not build the answer",
            None,
        );
    }
}
