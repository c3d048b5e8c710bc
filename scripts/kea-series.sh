#!/usr/bin/env bash
# The Kea release series this project builds and tests, and where each one comes from.
# Sourced by kea-root.sh, the Makefile's per-series targets and demo.sh.
#
# Adding a Kea release series is one line here: "SERIES DEBIAN-SUITE" (and its package's
# cargo-deb variant, [package.metadata.deb.variants.kea-SERIES] in kea-hook/Cargo.toml). `host`
# means the machine's own Kea (Debian 12: 2.2); any other suite is a root made by debootstrap
# (scripts/kea-root.sh) and cached outside the repository.
KEA_SERIES_TABLE="
2.2 host
2.6 trixie
3.0 sid
"

# Where the debootstrap roots are kept between runs (outside the repository).
KEA_ROOTS_DIR=${KEA_ROOTS_DIR:-/var/cache/cisco-tftp/kea-roots}

# kea_suite SERIES -> the Debian suite (or `host`); fails for an unknown series.
kea_suite() {
  local s suite
  while read -r s suite; do
    if [ -n "$s" ] && [ "$s" = "$1" ]; then echo "$suite"; return 0; fi
  done <<<"$KEA_SERIES_TABLE"
  echo "unknown Kea series '$1' (supported: $(kea_all_series | tr '\n' ' '))" >&2
  return 1
}

# kea_all_series -> every supported series, one a line.
kea_all_series() {
  awk 'NF==2{print $1}' <<<"$KEA_SERIES_TABLE"
}

# kea_root_series -> the series that run from a Debian root (all but the host's), one a line.
kea_root_series() {
  awk 'NF==2 && $2!="host"{print $1}' <<<"$KEA_SERIES_TABLE"
}

# kea_root SERIES -> the root directory of that series' Kea (`/` for the host's).
kea_root() {
  local suite
  suite=$(kea_suite "$1") || return 1
  if [ "$suite" = host ]; then echo /; else echo "$KEA_ROOTS_DIR/$suite"; fi
}
