#!/usr/bin/env bash
# Makes (once) and prints the root of a Kea release series: `scripts/kea-root.sh 3.0`.
# The host's series prints `/`. Others are Debian roots made by debootstrap from Debian's
# mirror, with Debian's Kea, its headers and a C++/libclang tool chain to build the hook
# inside; they are cached in $KEA_ROOTS_DIR (default /var/cache/cisco-tftp/kea-roots) and
# reused while their stamp matches the package list below. Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/kea-series.sh"

series=${1:?usage: kea-root.sh SERIES (one of: $(kea_all_series | tr '\n' ' '))}
suite=$(kea_suite "$series")
root=$(kea_root "$series")
if [ "$suite" = host ]; then echo /; exit 0; fi

MIRROR=${KEA_ROOT_MIRROR:-http://deb.debian.org/debian}
# Kea with headers and perfdhcp; what the shim and bindgen need; valgrind for bench-hook;
# dpkg-dev for cargo-deb's `$auto` Depends (dpkg-shlibdeps, run in the root).
PACKAGES="kea-dhcp4-server kea-dev kea-admin libboost-dev libclang-dev clang g++ pkg-config
iproute2 valgrind ca-certificates dpkg-dev"
stamp_want=$(printf '%s %s %s\n' "$suite" "$MIRROR" "$PACKAGES" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$root/.cisco-tftp-root" 2>/dev/null)" = "$stamp_want" ]; then
  echo "$root"
  exit 0
fi

if [ "$(id -u)" != 0 ]; then
  echo "kea-root.sh: making a Kea $series root needs root (debootstrap, chroot)" >&2
  exit 1
fi
# Two runs making the same root at once (parallel builds) would share one .partial: the
# second waits for the first and then finds its stamp.
if [ -z "${KEA_ROOT_LOCKED:-}" ] && command -v flock >/dev/null; then
  mkdir -p "$(dirname "$root")"
  KEA_ROOT_LOCKED=1 exec flock "$root.lock" "$0" "$@"
fi

if ! command -v debootstrap >/dev/null; then
  echo "kea-root.sh: installing debootstrap" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >&2
fi

{
  echo "kea-root.sh: making the Kea $series root ($suite) in $root"
  partial="$root.partial"
  rm -rf "$partial"
  mkdir -p "$(dirname "$root")"
  debootstrap --variant=minbase "$suite" "$partial" "$MIRROR"
  # A frozen mirror snapshot of sid can be past its Release file's Valid-Until date.
  echo 'Acquire::Check-Valid-Until "false";' >"$partial/etc/apt/apt.conf.d/99no-check-valid-until"
  # Services must not start inside the root at install time.
  printf '#!/bin/sh\nexit 101\n' >"$partial/usr/sbin/policy-rc.d"
  chmod +x "$partial/usr/sbin/policy-rc.d"
  # Maintainer scripts (kea-common's systemd-tmpfiles on sid) need /proc: mounted in a private
  # mount namespace, so nothing stays mounted afterwards.
  unshare --mount --propagation private -- bash -euo pipefail -c '
    mount -t proc proc "$1/proc"
    chroot "$1" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive chroot "$1" apt-get install -y -qq --no-install-recommends $2
    chroot "$1" apt-get clean
  ' kea-root "$partial" "$PACKAGES"
  rm -rf "$root"
  mv "$partial" "$root"
  echo "$stamp_want" >"$root/.cisco-tftp-root"
  echo "kea-root.sh: Kea $series root ready: $(chroot "$root" kea-dhcp4 -V | head -1)"
} >&2
echo "$root"
