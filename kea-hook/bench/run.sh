#!/usr/bin/env bash
# Benchmark: Kea's instructions per DORA (callgrind) and perfdhcp's sustained rate, with no
# hook, this hook, the hand-written option-def + client-class configuration, Kea's own
# flex_option hook doing the same job, and a minimal C++ callout (alone, and with one
# StatsMgr::addValue per option sent), all measured in this one run on one Kea release series.
#
# Kea runs in network namespace ckb-srv on a veth (10.77.0.1/16); perfdhcp runs in ckb-cli
# (10.77.0.2) as a relay, sending option 60 = a 7941's vendor class. Instructions are counted
# by callgrind over a fixed number of exchanges after a warm-up (counters are dumped and
# zeroed between phases), so other load on the machine does not change them.
#
# The series (scripts/kea-series.sh) is the host's Kea by default; any other runs from its
# Debian root (scripts/kea-root.sh) with chroot: Kea, valgrind and the minimal callout's
# compiler come from the root, the hook is built inside it (scripts/build-hook.sh), and the
# hook libraries are copied into the root's hooks directory (Kea 2.6.3+ loads them only from
# there). perfdhcp is always the host's: the same client sends the same packets to every series.
#
# Usage: kea-hook/bench/run.sh [--series S] [--exchanges N] [--rate-seconds S]
#                              [--variants "none class flex minimal minstat hook"]
# KEEP_WORK=1 keeps the work directory (the measured callgrind dumps, per variant).
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/kea-series.sh

EXCHANGES=1000
RATE_SECONDS=8
SERIES=$(awk 'NF==2 && $2=="host"{print $1}' <<<"$KEA_SERIES_TABLE")
while [ $# -gt 0 ]; do
  case "$1" in
    --series) SERIES=$2; shift 2 ;;
    --exchanges) EXCHANGES=$2; shift 2 ;;
    --rate-seconds) RATE_SECONDS=$2; shift 2 ;;
    --variants) VARIANTS=$2; shift 2 ;;
    *) echo "usage: $0 [--series S] [--exchanges N] [--rate-seconds S] [--variants LIST]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces)" >&2; exit 1; }
command -v perfdhcp >/dev/null || { echo "bench: perfdhcp missing: run ./scripts/setup.sh" >&2; exit 1; }
kea_suite "$SERIES" >/dev/null
ROOT=$(./scripts/kea-root.sh "$SERIES")
# R = prefix of a path inside the root as seen from here ("" for the host's series).
R=${ROOT%/}
for tool in kea-dhcp4 valgrind callgrind_control g++; do
  chroot "$ROOT" sh -c "command -v $tool" >/dev/null \
    || { echo "bench: $tool missing in $ROOT: run ./scripts/setup.sh (host) or scripts/kea-root.sh" >&2; exit 1; }
done

HOOK_DIR=$(./scripts/build-hook.sh "$SERIES" --release)
HOOKS_DIR=$(chroot "$ROOT" kea-dhcp4 -W | awk '/Hooks directory/{print $3}')
KEA_VERSION=$(chroot "$ROOT" kea-dhcp4 -v)
# The DHCP library is libkea-dhcp++ in Kea 2.x and libkea-dhcp from 3.0.
if chroot "$ROOT" sh -c 'ls /usr/lib/*/libkea-dhcp++.so' >/dev/null 2>&1; then DHCP_LIB=kea-dhcp++; else DHCP_LIB=kea-dhcp; fi
# BENCH_VENDOR: another option 60 (e.g. "MSFT 5.0": the hook loaded but matching nothing).
VENDOR=${BENCH_VENDOR:-"Cisco Systems, Inc. IP Phone CP-7941G"}
VENDOR_HEX=$(printf '%s' "$VENDOR" | od -An -tx1 | tr -d ' \n')

# The work directory is inside the root, so Kea there reads its configuration: $W is its path
# in the root, $R$W the same directory from here.
W=$(mktemp -d "$R/tmp/ckbench.XXXXXX"); W=${W#"$R"}
INSTALLED=()
cleanup() {
  [ -n "${KEA_PID:-}" ] && kill "$KEA_PID" 2>/dev/null && wait "$KEA_PID" 2>/dev/null || true
  ip netns del ckb-srv 2>/dev/null || true
  ip netns del ckb-cli 2>/dev/null || true
  for f in "${INSTALLED[@]}"; do rm -f "$f"; done
  if [ -n "${KEEP_WORK:-}" ]; then echo "bench: kept $R$W" >&2; else rm -rf "$R${W:?}"; fi
}
trap cleanup EXIT

# Runs a command inside the root with /proc mounted (valgrind needs it), in network namespace
# $1; the mount lives only in `ip netns exec`'s private mount namespace.
in_root() {
  local ns=$1; shift
  if [ -z "$R" ]; then exec ip netns exec "$ns" "$@"; fi
  exec ip netns exec "$ns" sh -c 'mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' "$ROOT" "$@"
}

# The floor: a minimal C++ pkt4_send callout doing the same job (see minimal_callout.cc), built
# against this series' headers, and the same with one StatsMgr::addValue per option sent.
cp kea-hook/bench/minimal_callout.cc "$R$W/"
chroot "$ROOT" g++ -std=c++17 -O2 -shared -fPIC -I/usr/include/kea -Wno-deprecated-declarations \
  -o "$W/libckbench_minimal.so" "$W/minimal_callout.cc" -l$DHCP_LIB -lkea-hooks -lkea-exceptions
chroot "$ROOT" g++ -std=c++17 -O2 -shared -fPIC -I/usr/include/kea -Wno-deprecated-declarations \
  -DCOUNT_STATISTIC -o "$W/libckbench_minstat.so" "$W/minimal_callout.cc" \
  -l$DHCP_LIB -lkea-stats -lkea-hooks -lkea-exceptions
cp "$HOOK_DIR/libdhcp_cisco_tftp.so" "$R$W/libckbench_cisco_tftp.so"
# Kea 2.6.3+ and 3.0 load hook libraries only from their hooks directory.
# (Not called in $(...): the list of installed files must outlive it, for cleanup.)
lib() { # $1 file name in the work directory; sets LIB to the path Kea is given
  if [ -z "$R" ]; then LIB=$W/$1; return; fi
  INSTALLED+=("$R$HOOKS_DIR/$1")
  cp "$R$W/$1" "$R$HOOKS_DIR/$1"
  LIB=$HOOKS_DIR/$1
}
lib libckbench_minimal.so; MINIMAL=$LIB
lib libckbench_minstat.so; MINSTAT=$LIB
lib libckbench_cisco_tftp.so; HOOK=$LIB
FLEX=$HOOKS_DIR/libdhcp_flex_option.so

ip netns del ckb-srv 2>/dev/null || true
ip netns del ckb-cli 2>/dev/null || true
ip netns add ckb-srv
ip netns add ckb-cli
ip link add ckb0 netns ckb-srv type veth peer name ckb1 netns ckb-cli
ip -n ckb-srv addr add 10.77.0.1/16 dev ckb0
ip -n ckb-cli addr add 10.77.0.2/16 dev ckb1
for ns in ckb-srv ckb-cli; do ip -n $ns link set lo up; done
ip -n ckb-srv link set ckb0 up
ip -n ckb-cli link set ckb1 up

# $1 = variant; prints a Dhcp4 config on stdout.
config() {
  # Kea 2.2's parser refuses empty lists for these keys: add each only when used.
  local extra=''
  case "$1" in
    none) ;;
    minimal)
      extra="\"hooks-libraries\": [{\"library\": \"$MINIMAL\"}]," ;;
    minstat)
      extra="\"hooks-libraries\": [{\"library\": \"$MINSTAT\"}]," ;;
    hook)
      extra="\"hooks-libraries\": [{\"library\": \"$HOOK\", \"parameters\": {\"servers\": [\"10.0.0.10\", \"10.0.0.11\"]}}]," ;;
    class)
      extra="\"option-def\": [{\"name\": \"cisco-tftp\", \"code\": 150, \"type\": \"ipv4-address\", \"array\": true, \"space\": \"dhcp4\"}],
  \"client-classes\": [{\"name\": \"cisco\", \"test\": \"substring(option[60].text,0,19) == 'Cisco Systems, Inc.'\",
                     \"option-data\": [{\"name\": \"cisco-tftp\", \"data\": \"10.0.0.10, 10.0.0.11\", \"always-send\": true}]}]," ;;
    flex)
      extra="\"hooks-libraries\": [{\"library\": \"$FLEX\", \"parameters\": {\"options\": [{\"code\": 150,
               \"add\": \"ifelse(substring(option[60].text,0,19) == 'Cisco Systems, Inc.', 0x0a00000a0a00000b, '')\"}]}}]," ;;
  esac
  cat <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["ckb0"]},
  "lease-database": {"type": "memfile", "persist": false, "lfc-interval": 0},
  "valid-lifetime": 3600,
  "expired-leases-processing": {"reclaim-timer-wait-time": 0, "flush-reclaimed-timer-wait-time": 0},
  $extra
  "subnet4": [{"id": 1, "subnet": "10.77.0.0/16", "pools": [{"pool": "10.77.1.0 - 10.77.250.255"}]}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "stdout"}]}]
}}
JSON
}

start_kea() { # $1 variant, $2 "callgrind" or "plain"
  config "$1" > "$R$W/kea.json"
  rm -f "$R$W"/callgrind.out.*
  local env=(env KEA_LOCKFILE_DIR="$W" KEA_PIDFILE_DIR="$W")
  if [ "$2" = callgrind ]; then
    # callgrind_control (run in the root, like valgrind) reaches the process through vgdb.
    (in_root ckb-srv "${env[@]}" valgrind --tool=callgrind --dump-instr=no \
       --callgrind-out-file="$W/callgrind.out.%p" kea-dhcp4 -c "$W/kea.json" \
       >"$R$W/kea.stdout" 2>&1) &
  else
    (in_root ckb-srv "${env[@]}" kea-dhcp4 -c "$W/kea.json" >"$R$W/kea.stdout" 2>&1) &
  fi
  KEA_PID=$!
  # Wait until Kea answers a DORA.
  for _ in $(seq 1 120); do
    # perfdhcp exits non-zero when anything was dropped: read its report, not its status.
    local probe
    probe=$(ip netns exec ckb-cli perfdhcp -4 -l 10.77.0.2 -n 1 -r 1 -W 1000000 10.77.0.1 2>/dev/null || true)
    if grep -q 'received packets: 1' <<<"$probe"; then
      return 0
    fi
    kill -0 "$KEA_PID" 2>/dev/null || break
    sleep 1
  done
  echo "bench: Kea ($1) did not answer; its output:" >&2
  cat "$R$W/kea.stdout" >&2 || true
  exit 1
}

stop_kea() {
  kill "$KEA_PID" 2>/dev/null || true
  wait "$KEA_PID" 2>/dev/null || true
  KEA_PID=
}

perf() { # perfdhcp arguments...; its report on stdout (its exit status says "drops")
  ip netns exec ckb-cli perfdhcp -4 -l 10.77.0.2 -o "60,$VENDOR_HEX" "$@" 10.77.0.1 2>&1 || true
}

# One DORA (same option 60) that waits up to a minute for its answer, so every packet queued
# before it has been processed.
drain() { # $1 MAC
  perf -r 1 -n 1 -R 1 -W 60000000 -b "mac=$1" >/dev/null
}

# From a callgrind dump: its total instructions, the responses Kea packed (calls of
# isc::dhcp::Pkt4::pack(): one per OFFER and per ACK), and the instructions inside calls of
# pkt4_send callouts named "pkt4_send" in a given library (0 if none).
dump_figures() { # $1 dump, $2 library file name
  python3 - "$1" "$2" <<'PY'
import re, sys
path, lib = sys.argv[1], sys.argv[2]
names, files = {}, {}
def name(spec, table):
    m = re.match(r"\((\d+)\)(?:\s+(.*))?$", spec)
    if not m:
        return spec
    if m.group(2) is not None:
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), spec)
total = packs = own = 0
cfn = cob = ob = None
calls = None
with open(path, errors="replace") as f:
    for line in f:
        line = line.rstrip("\n")
        if line.startswith(("summary:", "totals:")) and not total:
            total = int(line.split()[1])
        elif line.startswith("ob="):
            ob = cob = name(line[3:], files)
        elif line.startswith("cob="):
            cob = name(line[4:], files)
        elif line.startswith("fn="):
            name(line[3:], names)
            cob = ob
        elif line.startswith("cfn="):
            cfn = name(line[4:], names)
        elif line.startswith("calls="):
            calls = int(line[6:].split()[0])
        elif calls is not None and line[:1] in "0123456789+-*":
            parts = line.split()
            if cfn == "isc::dhcp::Pkt4::pack()":
                packs += calls
            elif cfn == "pkt4_send" and cob and cob.endswith("/" + lib):
                own += int(parts[1]) if len(parts) > 1 else 0
            calls = None
            cob = ob
print(total, packs, own)
PY
}

# Prints instructions per DORA for a variant: callgrind's total over the measured phase
# divided by the DORAs Kea answered in it (responses packed / 2: every packet Kea processed in
# the phase counts, answered in time for perfdhcp or not). Under contention Kea-under-valgrind
# can fall behind perfdhcp; a phase with more than 1 % lost is measured again at half the rate.
instructions_per_dora() {
  local variant=$1 rate=40 attempt
  for attempt in 1 2 3; do
    start_kea "$variant" callgrind
    # Fixed seeds: perfdhcp draws its clients' MACs at random from -R of them, and how many
    # come back (a renewal, not a new lease) changes Kea's work; seeded, every variant and every
    # run sees the same clients in the same order.
    perf -r 100 -n 300 -R 300 -s 1 -b mac=02:00:00:00:00:00 >/dev/null
    # Kea under valgrind may still be working through the warm-up's queued packets: drain
    # them before the counters are zeroed, or they are counted in the measured phase.
    drain 02:30:00:00:00:00
    (in_root ckb-srv callgrind_control -d "$KEA_PID" >/dev/null 2>&1) || true
    local out acks last total packs own
    out=$(perf -r "$rate" -n "$EXCHANGES" -R "$EXCHANGES" -s 2 -b mac=02:10:00:00:00:00)
    acks=$(printf '%s\n' "$out" | awk '/REQUEST-ACK/{ra=1} ra && /received packets:/{print $3; exit}')
    # The same at the end: what perfdhcp gave up on is still processed (and counted).
    drain 02:40:00:00:00:00
    (in_root ckb-srv callgrind_control -d "$KEA_PID" >/dev/null 2>&1) || true
    stop_kea
    # Dumps are numbered .1, .2: the last one is the measured phase.
    last=$(ls -1 "$R$W"/callgrind.out.*.* | sort -V | tail -n 1)
    read -r total packs own < <(dump_figures "$last" libckbench_cisco_tftp.so)
    if [ -n "${KEEP_WORK:-}" ]; then mkdir -p "$R$W/$variant" && cp "$last" "$R$W/$variant/"; fi
    if [ "${acks:-0}" -ge $(( EXCHANGES * 99 / 100 )) ] && [ "$packs" -gt 0 ]; then
      # The hook's own share: everything under its pkt4_send export (Kea's callout plumbing
      # around it is in the total, not here).
      [ "$variant" = hook ] && echo $(( 2 * own / packs )) > "$R$W/hook-own"
      echo $(( 2 * total / packs ))
      return 0
    fi
    echo "bench: $variant: ${acks:-0} of $EXCHANGES exchanges completed at $rate/s; again slower" >&2
    rate=$(( rate / 2 ))
  done
  echo "bench: $variant: could not complete $EXCHANGES exchanges under callgrind" >&2
  exit 1
}

rate() { # prints DORA/s sustained for a variant
  start_kea "$1" plain
  local out
  out=$(perf -r 40000 -p "$RATE_SECONDS" -R 1000000 -b mac=02:20:00:00:00:00)
  stop_kea
  printf '%s\n' "$out" | awk '/^Rate:/{print $2; exit}'
}

echo "kea-hook benchmark: Kea $KEA_VERSION (series $SERIES) on $(nproc) cores, $EXCHANGES DORA exchanges per variant"
declare -A INS RATE
VARIANTS=${VARIANTS:-none class flex minimal minstat hook}
for v in $VARIANTS; do
  INS[$v]=$(instructions_per_dora $v)
  echo "  callgrind  $v: ${INS[$v]} instructions per DORA"
done
# Wall-clock rates drift with whatever else the machine does: alternate the variants three
# times and keep each one's median (--rate-seconds 0: no rates).
declare -A RUNS
RATED=""
if [ "$RATE_SECONDS" -gt 0 ]; then
  for v in none minimal hook; do [[ " $VARIANTS " == *" $v "* ]] && RATED="$RATED $v"; done
fi
for round in 1 2 3; do
  for v in $RATED; do
    r=$(rate $v)
    RUNS[$v]="${RUNS[$v]:-} $r"
    echo "  perfdhcp   $v (round $round): $r DORA/s"
  done
done
for v in $RATED; do
  RATE[$v]=$(printf '%s\n' ${RUNS[$v]} | sort -g | sed -n 2p)
done

[ -s "$R$W/hook-own" ] && echo "  of which inside the hook's pkt4_send (shim + Rust): $(cat "$R$W/hook-own") instructions per DORA"
echo
ins_args=() rate_args=()
for v in $VARIANTS; do ins_args+=("$v=${INS[$v]}"); done
for v in $RATED; do rate_args+=("$v=${RATE[$v]}"); done
python3 - "$SERIES" "$KEA_VERSION" "${ins_args[*]}" "${rate_args[*]}" <<'PY'
import sys
series, version = sys.argv[1], sys.argv[2]
ins = {k: int(v) for k, v in (x.split("=") for x in sys.argv[3].split())}
rate = {k: float(v) for k, v in (x.split("=") for x in sys.argv[4].split()) if v}
none = ins.get("none")
print(f"Kea {version} (series {series}):")
print()
print("| configuration | instructions / DORA | added over no hook |")
print("| --- | --- | --- |")
for k, v in ins.items():
    print(f"| {k} | {v} | {'-' if k == 'none' or none is None else f'+{v - none}'} |")
print()
if none is None or "hook" not in ins:
    sys.exit(0)
a = lambda k: ins[k] - none
hook = a("hook")
print(f"hook adds {hook / 1000:.1f} k instructions per DORA (Kea 2.2 era target <= 20 k): "
      f"{'MET' if hook <= 20000 else 'MISSED'}")
peers = [("class", "option-def+class"), ("flex", "flex_option"), ("minimal", "minimal C++ callout"),
         ("minstat", "minimal C++ callout + 1 StatsMgr::addValue")]
ratios = [f"{name}: {hook / max(a(k), 1):.2f}" for k, name in peers if k in ins]
if ratios:
    print("ratio hook/" + "; hook/".join(ratios))
if "minimal" in ins:
    r = hook / max(a("minimal"), 1)
    print(f"hook/minimal C++ callout {r:.2f} (target <= 1.10): {'MET' if r <= 1.10 else 'MISSED'}")
if "none" in rate:
    for k in ("minimal", "hook"):
        if k in rate:
            print(f"perfdhcp rate with {k}: {100.0 * rate[k] / rate['none']:.1f} % of no-hook "
                  "(wall-clock on shared cores is noisy; instructions are the firm figure)")
PY
