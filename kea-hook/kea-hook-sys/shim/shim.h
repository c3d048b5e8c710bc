/* A plain C view of the parts of Kea's C++ hooks API the Rust hook needs.
 *
 * Every function catches every C++ exception: nothing thrown by Kea crosses into Rust.
 * Errors come back as CK_ERROR; the shim has already logged the exception's text through
 * Kea's logger. Kea passes its handles by reference, which is a pointer at the ABI level, so
 * the opaque pointer types below are exactly what Kea hands to `load()` and to callouts. */
#ifndef KEA_HOOK_SHIM_H
#define KEA_HOOK_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ck_library_handle ck_library_handle; /* isc::hooks::LibraryHandle */
typedef struct ck_callout_handle ck_callout_handle; /* isc::hooks::CalloutHandle */
typedef struct ck_pkt4 ck_pkt4;                     /* isc::dhcp::Pkt4 */

enum { CK_OK = 0, CK_ERROR = 1 };

/* Text handed from the shim to Rust; free with ck_string_free. */
typedef struct {
    char* ptr;
    size_t len;
} ck_string;
void ck_string_free(ck_string* s);

/* KEA_HOOKS_VERSION of the headers the shim was compiled against. */
int ck_hooks_version(void);

/* 1 when pkt4_send carries the selected subnet (Kea 2.6 on): subnet4_select is then not needed
 * to match sites on subnet ids. 0 on Kea 2.2, where ck_subnet4_select_remember notes it. */
int ck_pkt4_send_has_subnet(void);

/* Name of the process loading the hook ("kea-dhcp4", ...); CK_ERROR if unknown. */
int ck_process_name(ck_string* out);

/* The hook's whole `parameters` map as JSON text ("{}" when absent). */
int ck_library_parameters_json(ck_library_handle* h, ck_string* out);

/* Registers `cb` as the handler of control command `name`. Kea calls a command handler as
 * `int (*)(CalloutHandle&)`, which is ABI-identical to `cb`. */
typedef int (*ck_callout_fn)(ck_callout_handle*);
int ck_register_command(ck_library_handle* h, const char* name, ck_callout_fn cb);

/* Registers `cb` on hook point `name` (e.g. "subnet4_select") from load(), for callouts that
 * are only needed with some configurations: an unused hook point then costs Kea nothing. */
int ck_register_callout(ck_library_handle* h, const char* name, ck_callout_fn cb);

/* isc::hooks::CalloutHandle::CalloutNextStep */
enum { CK_NEXT_STEP_CONTINUE = 0, CK_NEXT_STEP_SKIP = 1, CK_NEXT_STEP_DROP = 2, CK_NEXT_STEP_PARK = 3 };

/* What pkt4_send needs to decide, read from `response4` and `query4`. Pointers stay valid
 * for the rest of the callout (Kea holds the packets in the handle's arguments). */
typedef struct {
    int next_step;               /* the handle's status on entry */
    ck_pkt4* response;           /* for ck_pkt4_replace_options_shared; NULL if absent */
    uint8_t response_type;       /* DHCP message type of the response (2 OFFER, 5 ACK, 6 NAK) */
    const uint8_t* vendor_class; /* query's option 60 bytes; NULL if absent */
    size_t vendor_class_len;
    uint32_t giaddr;             /* with CK_VIEW_ADDRESSES: IPv4 addresses in host order, 0 when unset */
    uint32_t yiaddr;
    uint32_t ciaddr;
    uint8_t hwaddr[20];          /* with CK_VIEW_HWADDR */
    uint8_t hwaddr_len;
    uint8_t has_subnet_id;       /* set with CK_VIEW_SUBNET_ID when the response has a subnet */
    uint32_t subnet_id;
} ck_pkt4_send_view;

/* What to read beyond the basics: each costs Kea-side work per packet. */
enum { CK_VIEW_SUBNET_ID = 1, CK_VIEW_HWADDR = 2, CK_VIEW_ADDRESSES = 4 };
int ck_pkt4_send_view_get(ck_callout_handle* h, int want, ck_pkt4_send_view* out);

/* An option built once at load and shared by every response it goes into, as Kea shares the
 * options of its own option-data (read-only once built; pack() only reads it). */
typedef struct ck_option ck_option;
ck_option* ck_option_new(uint16_t code, const uint8_t* data, size_t len); /* NULL on failure */
void ck_option_free(ck_option* option);
/* Puts the `n` shared options into `pkt`, each replacing every option of its code there.
 * All or nothing: on CK_ERROR the packet is exactly as it was. */
enum { CK_MAX_SHARED_OPTIONS = 4 };
int ck_pkt4_replace_options_shared(ck_pkt4* pkt, const ck_option* const* options, size_t n);

/* subnet4_select: remember the selected subnet's id in the per-request context. */
int ck_subnet4_select_remember(ck_callout_handle* h);

/* Statistics (isc::stats::StatsMgr, visible through statistic-get / statistic-get-all).
 * A ck_stat holds the statistic's name as a std::string made once at load, so the packet
 * path builds no string. Read-only after creation: safe to share between threads. */
typedef struct ck_stat ck_stat;
ck_stat* ck_stat_new(const char* name, int create_at_zero); /* NULL on failure */
void ck_stat_free(ck_stat* stat);
int ck_stat_add(const ck_stat* stat, int64_t value);
/* By name, for rare events (contained errors). */
int ck_stat_add_named(const char* name, int64_t value);

/* Logging through Kea's logger "cisco-tftp" (configured as kea-dhcp4.cisco-tftp). */
enum { CK_LOG_DEBUG = 0, CK_LOG_INFO = 1, CK_LOG_WARN = 2, CK_LOG_ERROR = 3 };
/* Debug level used for per-packet decisions (Kea's DBGLVL_TRACE_BASIC). */
enum { CK_DEBUG_LEVEL = 40 };
int ck_log_enabled(int level);
/* Text borrowed from the caller for the duration of a call. */
typedef struct {
    const char* ptr;
    size_t len;
} ck_str;
/* Logs message `id` (one of shim/cisco_tftp_messages.mes, registered with Kea's message
 * dictionary) with its `n` arguments filling %1, %2, ... */
void ck_log(int level, const char* id, const ck_str* args, size_t n);

/* Command handlers: the command's `arguments` as JSON text ("null" when absent), and the
 * answer (`args_json` may be NULL). */
int ck_command_arguments_json(ck_callout_handle* h, ck_string* out);
int ck_command_respond(ck_callout_handle* h, int result, const char* text, const char* args_json,
                       size_t args_len);

#ifdef __cplusplus
}
#endif

#endif
