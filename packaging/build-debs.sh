#!/usr/bin/env bash
# Builds the Debian packages from their Cargo metadata ([package.metadata.deb] in
# kea-hook/Cargo.toml and tftp-sidecar/Cargo.toml; cargo-deb's keys) with packaging/debbuild.py.
# Needs cargo, dpkg-deb, readelf (binutils) and python3; no cargo plugin.
#
#   packaging/build-debs.sh [OUT_DIR]              # default target/debian
#   KEA_SERIES="2.2 3.0" packaging/build-debs.sh   # only these Kea series' hook packages
#   KEA_SERIES= packaging/build-debs.sh            # the sidecar alone
#   SIDECAR=0 packaging/build-debs.sh              # the hook packages alone
#   NO_BUILD=1 packaging/build-debs.sh             # reuse what is built as it is
#   PROFILE=debug packaging/build-debs.sh          # the hooks' debug builds (tests: the builds
#                                                  # the integration tests make anyway)
#
# One hook package per Kea release series (scripts/kea-series.sh: KEA_SERIES defaults to all
# of them): cisco-tftp-kea-hook-<SERIES>, built by scripts/build-hook.sh (inside the series'
# Debian root for every series but the host's), its `$auto` dependencies and its Kea release
# read from that root. Prints the paths of the .deb files it wrote, one a line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/kea-series.sh
out=${1:-target/debian}
series_list=${KEA_SERIES-$(kea_all_series | tr '\n' ' ')}
profile=${PROFILE:-release}
case "$profile" in
    release) release_flag=--release ;;
    debug) release_flag= ;;
    *) echo "build-debs.sh: PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac

for series in $series_list; do
    root=$(scripts/kea-root.sh "$series")
    if [ "${NO_BUILD:-0}" = 1 ]; then
        if [ "$(kea_suite "$series")" = host ]; then dir=target/$profile; else dir=target/kea-$series/$profile; fi
    else
        dir=$(scripts/build-hook.sh "$series" ${release_flag})
    fi
    python3 packaging/debbuild.py --out "$out" --kea-series "$series" --target-dir "$dir" \
        --root "$root" kea-hook
done

if [ "${SIDECAR:-1}" != 0 ]; then
    if [ "${NO_BUILD:-0}" != 1 ]; then
        cargo build --release -p tftp-sidecar >&2
    fi
    python3 packaging/debbuild.py --out "$out" tftp-sidecar
fi
