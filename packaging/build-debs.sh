#!/usr/bin/env bash
# Builds the two Debian packages from their Cargo metadata ([package.metadata.deb] in
# kea-hook/Cargo.toml and tftp-sidecar/Cargo.toml; cargo-deb's keys, so `cargo deb` reads them
# too). Needs cargo, dpkg-deb, readelf (binutils) and python3; no cargo plugin.
#
#   packaging/build-debs.sh [OUT_DIR]      # default target/debian
#   NO_BUILD=1 packaging/build-debs.sh     # reuse target/release as it is
#
# Prints the paths of the .deb files it wrote, one a line, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/debian}
if [ "${NO_BUILD:-0}" != 1 ]; then
    cargo build --release -p kea-hook -p tftp-sidecar >&2
fi
exec python3 packaging/debbuild.py --out "$out" kea-hook tftp-sidecar
