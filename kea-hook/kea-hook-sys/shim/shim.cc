// The C++ side of the hook: only what needs Kea's C++ API. Every entry point catches every
// exception, logs it through Kea's logger and returns CK_ERROR; the logic lives in Rust.

#include "shim.h"

#include <cc/command_interpreter.h>
#include <cc/data.h>
#include <dhcp/dhcp4.h>
#include <dhcp/option.h>
#include <dhcp/option_int.h>
#include <dhcp/pkt4.h>
#include <dhcpsrv/subnet.h>
#include <hooks/hooks.h>
#include <log/logger.h>
#include <log/macros.h>
#include <log/message_initializer.h>
#include <process/daemon.h>
#include <stats/stats_mgr.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <vector>

using namespace isc;
using namespace isc::hooks;

namespace {

// Debian ships no kea-msg-compiler, so the message table is written by hand: one message per
// level, the text formed in Rust.
const log::MessageID CISCO_TFTP_DEBUG = "CISCO_TFTP_DEBUG";
const log::MessageID CISCO_TFTP_INFO = "CISCO_TFTP_INFO";
const log::MessageID CISCO_TFTP_WARN = "CISCO_TFTP_WARN";
const log::MessageID CISCO_TFTP_ERROR = "CISCO_TFTP_ERROR";
const char* message_table[] = {
    "CISCO_TFTP_DEBUG", "%1", "CISCO_TFTP_INFO", "%1",
    "CISCO_TFTP_WARN",  "%1", "CISCO_TFTP_ERROR", "%1", nullptr,
};
const log::MessageInitializer message_initializer(message_table);

log::Logger cisco_tftp_logger("cisco-tftp");

// What differs between Kea release series, decided at compile time from the headers' own
// KEA_HOOKS_VERSION (a const int, so no #if): the rest of the shim is the same for every series.
//
// The "subnet4" callout argument is a Subnet4Ptr in Kea 2.x and a ConstSubnet4Ptr from 3.0.
// getArgument() is an exact-type any_cast: the wrong type throws.
using Subnet4Argument = std::conditional_t<(KEA_HOOKS_VERSION >= 30000), dhcp::ConstSubnet4Ptr,
                                           dhcp::Subnet4Ptr>;
// From Kea 2.6 pkt4_send carries the "subnet4" argument (the subnet the lease came from);
// before, the hook notes subnet4_select's choice in the per-request context.
constexpr bool PKT4_SEND_HAS_SUBNET = KEA_HOOKS_VERSION >= 20600;

// The per-request context key shared by subnet4_select and pkt4_send.
const std::string SUBNET_CONTEXT = "cisco-tftp-subnet-id";
// Stored by subnet4_select until it has read the subnet: if reading fails, pkt4_send sees this
// and leaves the response alone (a phone must never get another site's list). Kea's subnet ids
// stop at 4294967294.
const uint32_t SUBNET_UNREADABLE = 0xFFFFFFFFu;

// Callout argument names, made once (not a std::string per packet).
const std::string ARG_RESPONSE4 = "response4";
const std::string ARG_QUERY4 = "query4";
const std::string ARG_SUBNET4 = "subnet4";

// The response's DHCP message type (option 53), read in place: Kea's Pkt4::getType() copies
// the option's shared pointer and dynamic_casts it. Kea stores option 53 as an
// OptionInt<uint8_t>; anything else (another hook replaced it) goes through getType().
uint8_t message_type(const dhcp::Pkt4& pkt) {
    auto it = pkt.options_.find(dhcp::DHO_DHCP_MESSAGE_TYPE);
    if (it != pkt.options_.end() && it->second &&
        typeid(*it->second) == typeid(dhcp::OptionInt<uint8_t>)) {
        return static_cast<const dhcp::OptionInt<uint8_t>&>(*it->second).getValue();
    }
    return pkt.getType();
}

void log_exception(const char* where, const char* what) {
    try {
        LOG_ERROR(cisco_tftp_logger, CISCO_TFTP_ERROR)
            .arg(std::string("C++ exception in ") + where + ": " + what);
    } catch (...) {
        // Logging itself failed: nothing more can be done safely.
    }
}

// Runs `body`, turning any exception into a logged CK_ERROR.
template <typename F>
int guarded(const char* where, F body) {
    try {
        return body();
    } catch (const std::exception& ex) {
        log_exception(where, ex.what());
    } catch (...) {
        log_exception(where, "unknown exception");
    }
    return CK_ERROR;
}

int to_ck_string(const std::string& text, ck_string* out) {
    char* p = static_cast<char*>(std::malloc(text.size() + 1));
    if (p == nullptr) {
        return CK_ERROR;
    }
    std::memcpy(p, text.data(), text.size());
    p[text.size()] = '\0';
    out->ptr = p;
    out->len = text.size();
    return CK_OK;
}

LibraryHandle& library(ck_library_handle* h) { return *reinterpret_cast<LibraryHandle*>(h); }
CalloutHandle& callout(ck_callout_handle* h) { return *reinterpret_cast<CalloutHandle*>(h); }

}  // namespace

extern "C" {

void ck_string_free(ck_string* s) {
    if (s != nullptr) {
        std::free(s->ptr);
        s->ptr = nullptr;
        s->len = 0;
    }
}

int ck_hooks_version(void) { return KEA_HOOKS_VERSION; }

int ck_pkt4_send_has_subnet(void) { return PKT4_SEND_HAS_SUBNET ? 1 : 0; }

int ck_process_name(ck_string* out) {
    return guarded("ck_process_name",
                   [&] { return to_ck_string(process::Daemon::getProcName(), out); });
}

int ck_library_parameters_json(ck_library_handle* h, ck_string* out) {
    return guarded("ck_library_parameters_json", [&] {
        data::ConstElementPtr params = library(h).getParameters();
        return to_ck_string(params ? params->str() : std::string("{}"), out);
    });
}

int ck_register_command(ck_library_handle* h, const char* name, ck_callout_fn cb) {
    return guarded("ck_register_command", [&] {
        library(h).registerCommandCallout(name, reinterpret_cast<CalloutPtr>(cb));
        return CK_OK;
    });
}

int ck_register_callout(ck_library_handle* h, const char* name, ck_callout_fn cb) {
    return guarded("ck_register_callout", [&] {
        library(h).registerCallout(name, reinterpret_cast<CalloutPtr>(cb));
        return CK_OK;
    });
}

int ck_pkt4_send_view_get(ck_callout_handle* h, int want, ck_pkt4_send_view* out) {
    return guarded("ck_pkt4_send_view_get", [&] {
        std::memset(out, 0, sizeof(*out));
        CalloutHandle& handle = callout(h);
        out->next_step = static_cast<int>(handle.getStatus());

        dhcp::Pkt4Ptr response;
        dhcp::Pkt4Ptr query;
        handle.getArgument(ARG_RESPONSE4, response);
        handle.getArgument(ARG_QUERY4, query);
        if (!response || !query) {
            return CK_OK;
        }
        out->response = reinterpret_cast<ck_pkt4*>(response.get());
        out->response_type = message_type(*response);

        // Read the option in place: during pkt4_send Kea makes getOption() clone every option
        // it returns (so hooks cannot alter its configuration); we only read.
        auto vendor = query->options_.find(dhcp::DHO_VENDOR_CLASS_IDENTIFIER);
        if (vendor != query->options_.end() && vendor->second) {
            // Option::getData() returns a reference to the option's own buffer, which lives
            // as long as the query does.
            const dhcp::OptionBuffer& data = vendor->second->getData();
            out->vendor_class = data.empty() ? reinterpret_cast<const uint8_t*>("") : data.data();
            out->vendor_class_len = data.size();
        }
        if (want & CK_VIEW_ADDRESSES) {
            out->giaddr = query->getGiaddr().toUint32();
            out->ciaddr = query->getCiaddr().toUint32();
            out->yiaddr = response->getYiaddr().toUint32();
        }

        dhcp::HWAddrPtr hw = (want & CK_VIEW_HWADDR) ? query->getHWAddr() : dhcp::HWAddrPtr();
        if (hw) {
            size_t n = std::min(hw->hwaddr_.size(), sizeof(out->hwaddr));
            std::memcpy(out->hwaddr, hw->hwaddr_.data(), n);
            out->hwaddr_len = static_cast<uint8_t>(n);
        }

        if (want & CK_VIEW_SUBNET_ID) {
            // An exception here fails the whole view: the caller leaves the response alone.
            uint32_t id = 0;
            if (PKT4_SEND_HAS_SUBNET) {
                Subnet4Argument subnet;
                handle.getArgument(ARG_SUBNET4, subnet);
                id = subnet ? static_cast<uint32_t>(subnet->getID()) : 0;
            } else {
                try {
                    handle.getContext(SUBNET_CONTEXT, id);
                } catch (const NoSuchCalloutContext&) {
                    // subnet4_select did not run for this packet (no subnet): not an error.
                }
                if (id == SUBNET_UNREADABLE) {
                    log_exception("ck_pkt4_send_view_get",
                                  "subnet4_select could not read the subnet");
                    return CK_ERROR;
                }
            }
            if (id != 0) {
                out->subnet_id = id;
                out->has_subnet_id = 1;
            }
        }
        return CK_OK;
    });
}

int ck_subnet4_select_remember(ck_callout_handle* h) {
    return guarded("ck_subnet4_select_remember", [&] {
        CalloutHandle& handle = callout(h);
        // Set first: if reading the argument throws, pkt4_send knows the subnet is unknown.
        handle.setContext(SUBNET_CONTEXT, SUBNET_UNREADABLE);
        Subnet4Argument subnet;
        handle.getArgument(ARG_SUBNET4, subnet);
        // Always set, so pkt4_send normally finds the key without an exception.
        uint32_t id = subnet ? static_cast<uint32_t>(subnet->getID()) : 0;
        handle.setContext(SUBNET_CONTEXT, id);
        return CK_OK;
    });
}

}  // extern "C"

struct ck_stat {
    std::string name;
};

struct ck_option {
    dhcp::OptionPtr option;
};

extern "C" {

ck_stat* ck_stat_new(const char* name, int create_at_zero) {
    try {
        ck_stat* stat = new ck_stat{name};
        stats::StatsMgr& mgr = stats::StatsMgr::instance();
        if (create_at_zero && !mgr.getObservation(stat->name)) {
            mgr.setValue(stat->name, static_cast<int64_t>(0));
        }
        return stat;
    } catch (const std::exception& ex) {
        log_exception("ck_stat_new", ex.what());
    } catch (...) {
        log_exception("ck_stat_new", "unknown exception");
    }
    return nullptr;
}

void ck_stat_free(ck_stat* stat) { delete stat; }

ck_option* ck_option_new(uint16_t code, const uint8_t* data, size_t len) {
    try {
        dhcp::OptionBuffer buf(data, data + len);
        return new ck_option{dhcp::OptionPtr(new dhcp::Option(dhcp::Option::V4, code, buf))};
    } catch (const std::exception& ex) {
        log_exception("ck_option_new", ex.what());
    } catch (...) {
        log_exception("ck_option_new", "unknown exception");
    }
    return nullptr;
}

void ck_option_free(ck_option* option) { delete option; }

int ck_pkt4_replace_options_shared(ck_pkt4* pkt, const ck_option* const* options, size_t n) {
    dhcp::Pkt4* response = reinterpret_cast<dhcp::Pkt4*>(pkt);
    dhcp::OptionCollection& all = response->options_;
    // All or nothing: first insert ours (the only step that can throw: allocation), then erase
    // every other copy of their codes (erase cannot throw). If an insert fails, the ones made
    // are taken out again and the response is exactly as Kea built it.
    dhcp::OptionCollection::iterator added[CK_MAX_SHARED_OPTIONS];
    size_t inserted = 0;
    if (n > CK_MAX_SHARED_OPTIONS) {
        log_exception("ck_pkt4_replace_options_shared", "too many options");
        return CK_ERROR;
    }
    try {
        for (; inserted < n; ++inserted) {
            const dhcp::OptionPtr& opt = options[inserted]->option;
            added[inserted] = all.insert(std::make_pair(opt->getType(), opt));
        }
    } catch (const std::exception& ex) {
        for (size_t i = 0; i < inserted; ++i) {
            all.erase(added[i]);
        }
        log_exception("ck_pkt4_replace_options_shared", ex.what());
        return CK_ERROR;
    } catch (...) {
        for (size_t i = 0; i < inserted; ++i) {
            all.erase(added[i]);
        }
        log_exception("ck_pkt4_replace_options_shared", "unknown exception");
        return CK_ERROR;
    }
    for (size_t i = 0; i < n; ++i) {
        auto range = all.equal_range(options[i]->option->getType());
        for (auto it = range.first; it != range.second;) {
            bool ours = false;
            for (size_t j = 0; j < n; ++j) {
                ours = ours || it == added[j];
            }
            it = ours ? std::next(it) : all.erase(it);
        }
    }
    return CK_OK;
}

int ck_stat_add_named(const char* name, int64_t value) {
    return guarded("ck_stat_add_named", [&] {
        stats::StatsMgr::instance().addValue(name, value);
        return CK_OK;
    });
}

int ck_stat_add(const ck_stat* stat, int64_t value) {
    return guarded("ck_stat_add", [&] {
        stats::StatsMgr::instance().addValue(stat->name, value);
        return CK_OK;
    });
}

int ck_log_enabled(int level) {
    try {
        switch (level) {
        case CK_LOG_DEBUG:
            return cisco_tftp_logger.isDebugEnabled(CK_DEBUG_LEVEL) ? 1 : 0;
        case CK_LOG_INFO:
            return cisco_tftp_logger.isInfoEnabled() ? 1 : 0;
        case CK_LOG_WARN:
            return cisco_tftp_logger.isWarnEnabled() ? 1 : 0;
        default:
            return 1;
        }
    } catch (...) {
        return 0;
    }
}

void ck_log(int level, const char* msg, size_t len) {
    try {
        std::string text(msg, len);
        switch (level) {
        case CK_LOG_DEBUG:
            LOG_DEBUG(cisco_tftp_logger, CK_DEBUG_LEVEL, CISCO_TFTP_DEBUG).arg(text);
            break;
        case CK_LOG_INFO:
            LOG_INFO(cisco_tftp_logger, CISCO_TFTP_INFO).arg(text);
            break;
        case CK_LOG_WARN:
            LOG_WARN(cisco_tftp_logger, CISCO_TFTP_WARN).arg(text);
            break;
        default:
            LOG_ERROR(cisco_tftp_logger, CISCO_TFTP_ERROR).arg(text);
            break;
        }
    } catch (...) {
        // A failing logger must not take the packet path down.
    }
}

int ck_command_arguments_json(ck_callout_handle* h, ck_string* out) {
    return guarded("ck_command_arguments_json", [&] {
        data::ConstElementPtr command;
        callout(h).getArgument("command", command);
        data::ConstElementPtr args = command ? command->get("arguments") : data::ConstElementPtr();
        return to_ck_string(args ? args->str() : std::string("null"), out);
    });
}

int ck_command_respond(ck_callout_handle* h, int result, const char* text, const char* args_json,
                       size_t args_len) {
    return guarded("ck_command_respond", [&] {
        data::ConstElementPtr args;
        if (args_json != nullptr) {
            args = data::Element::fromJSON(std::string(args_json, args_len));
        }
        data::ConstElementPtr answer = args ? config::createAnswer(result, text, args)
                                            : config::createAnswer(result, text);
        callout(h).setArgument("response", answer);
        return CK_OK;
    });
}

}  // extern "C"
