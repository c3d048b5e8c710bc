#!/usr/bin/env bash
# Runs a command in a Kea release series' Debian root (scripts/kea-root.sh), in the
# repository, with this machine's Rust tool chain and crate cache:
#
#   scripts/in-kea-root.sh 3.0 cargo build --offline -p kea-hook
#
# The repository, CARGO_HOME and RUSTUP_HOME are bind-mounted at the same absolute paths
# inside the root (so messages and paths agree), in a private mount namespace: nothing stays
# mounted afterwards. The environment is empty but for PATH, HOME, CARGO_HOME, RUSTUP_HOME and
# CARGO_TARGET_DIR (when set). There is no network inside: fetch crates first. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)

series=${1:?usage: in-kea-root.sh SERIES COMMAND...}
shift
root=$("$here/kea-root.sh" "$series")
cargo_home=${CARGO_HOME:-$HOME/.cargo}
rustup_home=${RUSTUP_HOME:-$HOME/.rustup}

unshare --mount --propagation private -- bash -euo pipefail -c '
  root=$1 repo=$2 cargo_home=$3 rustup_home=$4 target=$5; shift 5
  for d in "$repo" "$cargo_home" "$rustup_home"; do
    mkdir -p "$root$d"
    mount --bind "$d" "$root$d"
  done
  mount -t proc proc "$root/proc"
  exec chroot "$root" env -i PATH="$cargo_home/bin:/usr/bin:/bin:/usr/sbin:/sbin" HOME="$HOME" \
    CARGO_HOME="$cargo_home" RUSTUP_HOME="$rustup_home" ${target:+CARGO_TARGET_DIR="$target"} \
    bash -c "cd \"$repo\" && exec \"\$@\"" in-kea-root "$@"
' in-kea-root "$root" "$repo" "$cargo_home" "$rustup_home" "${CARGO_TARGET_DIR:-}" "$@"
