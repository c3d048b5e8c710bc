#!/usr/bin/env bash
# Installs everything the demo, the tests and the benchmarks need on Debian 12. Idempotent:
# apt-get runs only when a package is missing. Needs root (or sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  # Kea with its headers and perfdhcp; Kea's headers include Boost.
  kea-dhcp4-server kea-dev kea-admin libboost-dev
  # bindgen needs libclang; the shim is C++.
  libclang-dev clang g++ pkg-config
  # Network namespaces for the DHCP tests; real TFTP peers and clients.
  iproute2 tftpd-hpa tftp-hpa atftp dnsmasq-base curl
  # Real HTTP clients for the sidecar's HTTP file listener (curl above, wget); nginx is the
  # HTTP benchmark's peer (make bench-http; never started as a service).
  wget nginx
  # Prometheus for the dashboard tests; valgrind for the instruction-count benchmark.
  prometheus valgrind python3 python3-venv
  # Package and Ansible tests: dpkg-deb/dpkg-shlibdeps (cargo-deb), strip/readelf,
  # systemd-analyze, the apt module's bindings.
  dpkg-dev binutils systemd python3-apt
  # The chart's pods (tests/deploy/test_pods.py): podman 4.3 with runc (crun refuses this
  # machine's cgroup layout), catatonit for the pods' local pause image (no registry pulls),
  # debootstrap for the images' Debian base, uidmap for podman.
  podman runc catatonit debootstrap uidmap
  # The operator's page in a real browser (tests/tests/e2e_page.rs, tests/browser/).
  chromium chromium-driver
)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  # Debian starts services on install; none of them may hold ports the tests use.
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $SUDO rm -f /usr/sbin/policy-rc.d
fi

# Services a package may have started on an earlier install would answer on the tests' ports.
for svc in kea-dhcp4-server tftpd-hpa prometheus; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$svc" 2>/dev/null; then
    $SUDO systemctl stop "$svc" || true
  fi
done

if ! command -v cargo >/dev/null 2>&1; then
  echo "setup: cargo not found. Install Rust (rustup, stable >= 1.77) and re-run." >&2
  exit 1
fi

# cargo-deb builds the Debian packages (packaging/build-debs.sh); compiled once from crates.io
# (about 3 minutes on 2 busy cores), skipped when present.
if ! cargo deb --version >/dev/null 2>&1; then
  echo "setup: installing cargo-deb (cargo install, a few minutes)"
  cargo install cargo-deb --locked
fi

# Python tools for the deployment tests, in a project-local virtualenv; reinstalled only when
# tests/requirements.txt changes.
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum tests/requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r tests/requirements.txt
  echo "$want" > "$stamp"
fi
