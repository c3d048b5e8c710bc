// The benchmark's floor: the least a pkt4_send callout can do for the same job (substring test
// on option 60, a raw option 150 added), in plain C++. Not shipped; built by bench/run.sh.
//
// Built with -DCOUNT_STATISTIC (the "minstat" variant) it also counts each option sent in one
// Kea statistic (StatsMgr::addValue, name made once at load), as the hook counts per family:
// what keeping a statistic costs any callout.
#include <dhcp/option.h>
#include <dhcp/pkt4.h>
#include <hooks/hooks.h>
#ifdef COUNT_STATISTIC
#include <stats/stats_mgr.h>
#endif

#include <cstring>
#include <string>

using namespace isc::dhcp;
using namespace isc::hooks;

#ifdef COUNT_STATISTIC
static const std::string statistic = "minimal.option-150-sent.79xx";
#endif

extern "C" {

int version() { return KEA_HOOKS_VERSION; }
int load(LibraryHandle&) {
#ifdef COUNT_STATISTIC
    isc::stats::StatsMgr::instance().setValue(statistic, static_cast<int64_t>(0));
#endif
    return 0;
}
int unload() { return 0; }
int multi_threading_compatible() { return 1; }

int pkt4_send(CalloutHandle& handle) {
    try {
        Pkt4Ptr response;
        Pkt4Ptr query;
        handle.getArgument("response4", response);
        handle.getArgument("query4", query);
        auto vc = query->options_.find(DHO_VENDOR_CLASS_IDENTIFIER);
        if (vc == query->options_.end()) {
            return 0;
        }
        const OptionBuffer& data = vc->second->getData();
        static const char prefix[] = "Cisco Systems";
        if (data.size() < sizeof(prefix) - 1 || std::memcmp(data.data(), prefix, sizeof(prefix) - 1) != 0) {
            return 0;
        }
        static const uint8_t servers[] = {10, 0, 0, 10, 10, 0, 0, 11};
        while (response->delOption(150)) {
        }
        response->addOption(OptionPtr(new Option(Option::V4, 150, OptionBuffer(servers, servers + 8))));
#ifdef COUNT_STATISTIC
        isc::stats::StatsMgr::instance().addValue(statistic, static_cast<int64_t>(1));
#endif
    } catch (...) {
    }
    return 0;
}
}
