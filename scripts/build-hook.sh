#!/usr/bin/env bash
# Builds the hook (libdhcp_cisco_tftp.so) and cisco-tftp-check for one Kea release series and
# prints the directory holding them:
#
#   scripts/build-hook.sh 3.0            # debug build   -> target/kea-3.0/debug
#   scripts/build-hook.sh 3.0 --release  # release build -> target/kea-3.0/release
#
# The host's series builds on the host into target/ as usual. Any other series builds inside
# its Debian root (scripts/kea-root.sh), against that root's Kea headers and libraries, with
# this machine's Rust tool chain and crate cache (scripts/in-kea-root.sh). kea-hook-sys/build.rs
# reads the series from the headers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/kea-series.sh"

series=${1:?usage: build-hook.sh SERIES [--release]}
shift
profile=debug
cargo_args=()
for a in "$@"; do
  case "$a" in
    --release) profile=release; cargo_args+=(--release) ;;
    *) echo "build-hook.sh: unknown argument $a" >&2; exit 2 ;;
  esac
done
CARGO=${CARGO:-cargo}
suite=$(kea_suite "$series")

if [ "$suite" = host ]; then
  (cd "$repo" && "$CARGO" build "${cargo_args[@]}" -p kea-hook --lib --bin cisco-tftp-check >&2)
  echo "${CARGO_TARGET_DIR:-$repo/target}/$profile"
  exit 0
fi

target="$repo/target/kea-$series"
# Inside the root there is no network: every crate must be in the host's cache first.
(cd "$repo" && "$CARGO" fetch >&2)
CARGO_TARGET_DIR="$target" "$here/in-kea-root.sh" "$series" \
  cargo build --offline "${cargo_args[@]}" -p kea-hook --lib --bin cisco-tftp-check >&2
echo "$target/$profile"
