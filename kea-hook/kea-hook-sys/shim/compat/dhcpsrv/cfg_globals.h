// Compatibility declaration for Debian's kea-dev 2.2.0, which ships dhcpsrv/network.h but not
// the dhcpsrv/cfg_globals.h it includes. Written for this project from what network.h uses:
// the shim only needs Subnet4::getID() (an inline read of Subnet::id_), whose layout does not
// depend on this class. build.rs adds this directory after Kea's own include directory, so a
// real cfg_globals.h, where Kea ships one, always wins.
#ifndef KEA_HOOK_COMPAT_CFG_GLOBALS_H
#define KEA_HOOK_COMPAT_CFG_GLOBALS_H

#include <cc/data.h>
#include <boost/shared_ptr.hpp>

namespace isc {
namespace dhcp {

class CfgGlobals {
public:
    // Index names network.h refers to; their values are never used by the shim.
    enum Index {
        AUTHORITATIVE,
        BOOT_FILE_NAME,
        CACHE_MAX_AGE,
        CACHE_THRESHOLD,
        CALCULATE_TEE_TIMES,
        DDNS_GENERATED_PREFIX,
        DDNS_OVERRIDE_CLIENT_UPDATE,
        DDNS_OVERRIDE_NO_UPDATE,
        DDNS_QUALIFYING_SUFFIX,
        DDNS_REPLACE_CLIENT_NAME,
        DDNS_SEND_UPDATES,
        DDNS_UPDATE_ON_RENEW,
        DDNS_USE_CONFLICT_RESOLUTION,
        HOSTNAME_CHAR_REPLACEMENT,
        HOSTNAME_CHAR_SET,
        MATCH_CLIENT_ID,
        MAX_PREFERRED_LIFETIME,
        MAX_VALID_LIFETIME,
        MIN_PREFERRED_LIFETIME,
        MIN_VALID_LIFETIME,
        NEXT_SERVER,
        PREFERRED_LIFETIME,
        REBIND_TIMER,
        RENEW_TIMER,
        RESERVATIONS_GLOBAL,
        RESERVATIONS_IN_SUBNET,
        RESERVATIONS_OUT_OF_POOL,
        SERVER_HOSTNAME,
        STORE_EXTENDED_INFO,
        T1_PERCENT,
        T2_PERCENT,
        VALID_LIFETIME,
        SIZE
    };
    isc::data::ConstElementPtr get(int index) const;
};

typedef boost::shared_ptr<CfgGlobals> CfgGlobalsPtr;
typedef boost::shared_ptr<const CfgGlobals> ConstCfgGlobalsPtr;

}  // namespace dhcp
}  // namespace isc

#endif
