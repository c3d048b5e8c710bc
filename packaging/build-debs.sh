#!/usr/bin/env bash
# Builds the Debian packages with cargo-deb (`cargo deb`, installed by scripts/setup.sh) from
# their Cargo metadata ([package.metadata.deb] in kea-hook/Cargo.toml and tftp-sidecar/Cargo.toml).
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
# of them): cisco-tftp-kea-hook-<SERIES> (cargo-deb's variant kea-<SERIES>), built by
# scripts/build-hook.sh (inside the series' Debian root for every series but the host's) and
# packaged there too, so that `$auto` (dpkg-shlibdeps) reads that root's libraries. Its version
# says the Kea release of that root (0.1.0-1+kea2.6.3) and its Depends pin kea-dhcp4-server to
# it: `kea-dhcp4-server (>= 2.6.3), kea-dhcp4-server (<< 2.6.4~)` (the hook's Kea sonames are
# that release's). Prints the paths of the .deb files it wrote, one a line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/kea-series.sh
out=${1:-target/debian}
mkdir -p "$out"
out=$(cd "$out" && pwd)
series_list=${KEA_SERIES-$(kea_all_series | tr '\n' ' ')}
profile=${PROFILE:-release}
case "$profile" in
    release) release_flag=--release; deb_profile=() ;;
    # cargo-deb warns that it is meant for release builds; the tests' debug builds are enough
    # for what they check (names, Depends, sonames, install, load).
    debug) release_flag=; deb_profile=(--profile dev) ;;
    *) echo "build-debs.sh: PROFILE is release or debug, not $profile" >&2; exit 2 ;;
esac
if ! cargo deb --version >/dev/null 2>&1; then
    echo "build-debs.sh: cargo-deb is missing (scripts/setup.sh installs it)" >&2
    exit 1
fi

# The upstream Kea release installed in the series' root, checked to be of that series.
kea_release() {
    local series=$1 root v
    root=$(scripts/kea-root.sh "$series")
    if [ "$root" = / ]; then
        v=$(dpkg-query -W -f='${Version}' kea-dhcp4-server)
    else
        v=$(chroot "$root" dpkg-query -W -f='${Version}' kea-dhcp4-server)
    fi
    v=${v#*:}
    v=$(grep -oE '^[0-9]+\.[0-9]+\.[0-9]+' <<<"$v") || true
    if [ "${v%.*}" != "$series" ]; then
        echo "build-debs.sh: $root has Kea '${v:-?}', not of the $series series" >&2
        return 1
    fi
    echo "$v"
}

# cargo-deb's Depends say the series (>= 2.6.0, << 2.7); narrow them to the exact release.
pin_kea_release() {
    local deb=$1 release=$2 dir next
    next="${release%.*}.$(( ${release##*.} + 1 ))"
    dir=$(mktemp -d)
    dpkg-deb --raw-extract "$deb" "$dir/pkg"
    sed -i -E "/^Depends:/{
        s/kea-dhcp4-server \([^)]*\)(, )?//g
        s/, *$//
        s/$/, kea-dhcp4-server (>= $release), kea-dhcp4-server (<< $next~)/
    }" "$dir/pkg/DEBIAN/control"
    dpkg-deb --root-owner-group -Zxz --build "$dir/pkg" "$deb" >/dev/null
    rm -rf "$dir"
}

for series in $series_list; do
    release=$(kea_release "$series")
    if [ "${NO_BUILD:-0}" != 1 ]; then
        scripts/build-hook.sh "$series" ${release_flag} >/dev/null
    fi
    deb_args=(deb -p kea-hook --no-build --offline --strip "${deb_profile[@]}" --variant "kea-$series"
              --deb-revision "1+kea$release")
    if [ "$(kea_suite "$series")" = host ]; then
        deb=$(cargo "${deb_args[@]}" -o "$out")
    else
        # Written under target/ (the root sees the repository, not OUT_DIR), then moved.
        stage=$PWD/target/kea-$series/debian
        deb=$(CARGO_TARGET_DIR="$PWD/target/kea-$series" scripts/in-kea-root.sh "$series" \
              cargo "${deb_args[@]}" -o "$stage")
        mv "$deb" "$out/" && deb=$out/$(basename "$deb")
    fi
    pin_kea_release "$deb" "$release"
    echo "$deb"
done

if [ "${SIDECAR:-1}" != 0 ]; then
    if [ "${NO_BUILD:-0}" = 1 ]; then no_build=(--no-build); else no_build=(); fi
    cargo deb -p tftp-sidecar --strip "${no_build[@]}" -o "$out"
fi
