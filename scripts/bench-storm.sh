#!/usr/bin/env bash
# Whole-system boot storm (a benchmark, not a test): N simulated phones each do DHCP through
# Kea + the cisco-tftp hook, then the full TFTP boot a 79xx does (trust lists, config, load,
# every image: 7.1 MB of firmware at 512-byte lock-step blocks), all at once; first against
# tftp-sidecar, then with tftp-hpa (in.tftpd) in its place. Prints the time until the last
# phone is up, per-phone boot time percentiles, failures, and the ratio.
#
#   scripts/bench-storm.sh                 # N = 100 500 1000; sidecar (default ports),
#                                          # sidecar-single (--port-mode single-port), tftp-hpa,
#                                          # http-88xx and tftp-88xx (below)
#   SERVERS="http-88xx tftp-88xx" scripts/bench-storm.sh 500   # HTTP on 6970 against TFTP
#   scripts/bench-storm.sh 50 200          # other sizes
#   LOAD_BYTES=300000 SERVERS=sidecar scripts/bench-storm.sh 20   # quick look
#   KEEP=1 ...: keep the work directory (out-<server>-<N>.json: every phone's transcript)
#
# Phones sit behind a relay (one ARP entry on the server side however many phones), each with
# its own leased address as TFTP source. DHCP goes one DORA at a time (a relay socket), so
# phones start their TFTP boot within the first seconds, as when power comes back. Both
# servers run in the same namespace on port 69 with their defaults (tftp-hpa: --secure).
# CPU: the whole machine's busy time during the storm (simulator, kernel and server), and
# the server process's own (not measurable for tftp-hpa, whose forked children are not
# counted in its parent). Needs root; builds release binaries of tftp-sidecar and phone-sim (the hook: debug).
#
# The 79xx rows boot over TFTP only (phone-sim --http-port 0). http-88xx: N 8841s booting as
# they do, every file over HTTP on TCP 6970 from the sidecar; tftp-88xx: the same N 8841s from
# the same sidecar over TFTP only (as when 6970 is blocked). The target: HTTP brings all N up
# in at most a fifth of TFTP's time at N=500.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench-storm: run as root (network namespaces)" >&2; exit 1; }
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(100 500 1000)
SERVERS=${SERVERS:-"sidecar sidecar-single tftp-hpa http-88xx tftp-88xx"}
LOAD_BYTES=${LOAD_BYTES:-7100000}
MODELS=${MODELS:-7941,7961,8841,7921}
TIMEOUT_MS=${TIMEOUT_MS:-1000}

cargo build --release -q -p tftp-sidecar -p cisco-tftp-tests --bins
[ -f target/debug/libdhcp_cisco_tftp.so ] || cargo build -q -p kea-hook
HOOK=$PWD/target/debug/libdhcp_cisco_tftp.so
SIM=$PWD/target/release/phone-sim
SIDECAR=$PWD/target/release/tftp-sidecar
command -v in.tftpd >/dev/null || [[ "$SERVERS" != *tftp-hpa* ]] || {
  echo "bench-storm: in.tftpd missing (apt-get install tftpd-hpa, or SERVERS=sidecar)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cisco-tftp-storm.XXXXXX)
SRV=ctstorm-srv PH=ctstorm-phones
KEA_PID= SERVER_PID=
stop() { # pid
  [ -n "${1:-}" ] || return 0
  kill "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
}
cleanup() {
  stop "$SERVER_PID"; stop "$KEA_PID"
  # in.tftpd forks a child per transfer: end what is left in our namespace.
  for p in $(ip netns pids $SRV 2>/dev/null); do kill -9 "$p" 2>/dev/null || true; done
  ip netns del $SRV 2>/dev/null || true; ip netns del $PH 2>/dev/null || true
  if [ -n "${KEEP:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
ip netns del $SRV 2>/dev/null || true; ip netns del $PH 2>/dev/null || true

ip netns add $SRV; ip netns add $PH
ip link add srv-lan netns $SRV type veth peer name eth0 netns $PH
ip -n $SRV addr add 10.70.0.1/24 dev srv-lan
ip -n $PH addr add 10.70.0.2/24 dev eth0
ip -n $PH addr add 10.72.0.1/16 dev eth0              # the relay (giaddr)
for ns in $SRV $PH; do ip -n $ns link set lo up; done
ip -n $SRV link set srv-lan up; ip -n $PH link set eth0 up
ip -n $SRV route add 10.72.0.0/16 via 10.70.0.2

MAXN=$(printf '%s\n' "${SIZES[@]}" | sort -n | tail -1)
"$SIM" firmware "$WORK/root" --load-bytes "$LOAD_BYTES" --count "$MAXN" --models "$MODELS" >/dev/null
echo "TFTP root: $(du -sh "$WORK/root" | cut -f1) ($LOAD_BYTES image bytes per load, 512-byte blocks)"

cat > "$WORK/kea.json" <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv-lan"], "dhcp-socket-type": "raw"},
  "control-socket": {"socket-type": "unix", "socket-name": "$WORK/kea.sock"},
  "lease-database": {"type": "memfile", "persist": false},
  "valid-lifetime": 3600,
  "subnet4": [
    {"id": 70, "subnet": "10.70.0.0/24"},
    {"id": 72, "subnet": "10.72.0.0/16", "pools": [{"pool": "10.72.1.0 - 10.72.15.255"}]}
  ],
  "hooks-libraries": [{"library": "$HOOK", "parameters": {"servers": ["10.70.0.1"]}}],
  "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$WORK/kea.log"}]}]
}}
JSON

start_kea() {
  rm -f "$WORK/kea.sock"
  KEA_LOCKFILE_DIR=$WORK KEA_PIDFILE_DIR=$WORK ip netns exec $SRV kea-dhcp4 -c "$WORK/kea.json" \
    >"$WORK/kea.out" 2>&1 &
  KEA_PID=$!
  for _ in $(seq 1 100); do [ -S "$WORK/kea.sock" ] && return 0; sleep 0.1; done
  echo "Kea did not start:"; cat "$WORK/kea.out"; exit 1
}

start_server() { # name
  case $1 in
    sidecar|http-88xx|tftp-88xx)
      ip netns exec $SRV "$SIDECAR" --root "$WORK/root" --listen 0.0.0.0:69 \
        --max-sessions 8000 >"$WORK/server.log" 2>&1 &
      ;;
    sidecar-single)
      ip netns exec $SRV "$SIDECAR" --root "$WORK/root" --listen 0.0.0.0:69 \
        --port-mode single-port --max-sessions 8000 >"$WORK/server.log" 2>&1 &
      ;;
    tftp-hpa)
      ip netns exec $SRV in.tftpd --listen --foreground --address 0.0.0.0:69 --secure \
        "$WORK/root" >"$WORK/server.log" 2>&1 &
      ;;
  esac
  SERVER_PID=$!
  sleep 0.5
  kill -0 "$SERVER_PID" || { echo "$1 did not start:"; cat "$WORK/server.log"; exit 1; }
}

RESULTS=$WORK/results.txt
: > "$RESULTS"
for n in "${SIZES[@]}"; do
  for server in $SERVERS; do
    start_kea
    start_server "$server"
    printf '%-8s N=%-5s ' "$server" "$n"
    busy0=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
    set +e
    case $server in
      http-88xx) phones=(--models 8841 --http-port 6970) ;;
      tftp-88xx) phones=(--models 8841 --http-port 0) ;;
      *) phones=(--models "$MODELS" --http-port 0) ;;
    esac
    ip netns exec $PH "$SIM" --json boot --relay 10.72.0.1 --server 10.70.0.1 --count "$n" \
      "${phones[@]}" --timeout-ms "$TIMEOUT_MS" --quiet >"$WORK/out.json" 2>"$WORK/sim.err"
    rc=$?
    set -e
    cp "$WORK/out.json" "$WORK/out-$server-$n.json"
    busy1=$(awk '/^cpu /{print $2+$3+$4+$7+$8}' /proc/stat)
    # The server's own CPU (utime+stime; tftp-hpa's forked children are not counted there).
    srv_ticks=$(awk '{print $14+$15}' /proc/"$SERVER_PID"/stat 2>/dev/null || echo 0)
    stop "$SERVER_PID"; SERVER_PID=
    for p in $(ip netns pids $SRV 2>/dev/null); do [ "$p" = "$KEA_PID" ] || kill -9 "$p" 2>/dev/null || true; done
    stop "$KEA_PID"; KEA_PID=
    python3 - "$WORK/out.json" "$server" "$n" "$rc" "$(( (busy1 - busy0) ))" "$srv_ticks" >>"$RESULTS" <<'PY'
import json, sys
path, server, n, rc, ticks, srv_ticks = sys.argv[1:7]
if server == "tftp-hpa":
    srv_ticks = "-1"
try:
    s = json.loads(open(path).readline())["summary"]
except Exception as e:
    print(f"{server} {n} error {e}")
    sys.exit(0)
import re
fails = {}
for p in json.loads(open(path).readline())["phones"]:
    if p["failure"]:
        why = re.sub(r"\d+", "N", p["failure"].split(": ", 1)[-1])
        fails[why] = fails.get(why, 0) + 1
print(server, n, s["up"], s["failed"], round(s["wall_ms"] / 1000, 2), round(s["boot_ms_p50"] / 1000, 2),
      round(s["boot_ms_p90"] / 1000, 2), round(s["boot_ms_p99"] / 1000, 2), round(s["boot_ms_max"] / 1000, 2),
      round(s["bytes"] / 1e6, 1), int(ticks) / 100, json.dumps(fails).replace(" ", "_"),
      "n/a" if srv_ticks == "-1" else int(srv_ticks) / 100)
PY
    tail -1 "$RESULTS" | awk '{printf "up %s failed %s, last phone up after %s s (p50 %s, p90 %s, p99 %s s), %s MB, machine CPU %s s (server %s s) %s\n", $3, $4, $5, $6, $7, $8, $10, $11, $13, ($12 == "{}" ? "" : $12)}'
  done
done

echo
python3 - "$RESULTS" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1]) if len(l.split()) >= 11]
print(f"{'server':9} {'N':>5} {'up':>5} {'failed':>6} {'last up s':>9} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'max s':>7} {'MB':>8} {'CPU s':>7} {'server CPU s':>12}")
for r in rows:
    print(f"{r[0]:9} {r[1]:>5} {r[2]:>5} {r[3]:>6} {r[4]:>9} {r[5]:>7} {r[6]:>7} {r[7]:>7} {r[8]:>7} {r[9]:>8} {r[10]:>7} {r[12] if len(r) > 12 else '-':>12}")
    if r[11] != "{}":
        print(f"          failures: {r[11].replace('_', ' ')}")
by = {(r[0], r[1]): r for r in rows}
for n, ours in [(n, o) for n in sorted({r[1] for r in rows}, key=int) for o in ("sidecar", "sidecar-single")]:
    a, b = by.get((ours, n)), by.get(("tftp-hpa", n))
    if a and b and float(b[4]) > 0:
        ratio = float(a[4]) / float(b[4])
        verdict = "meets" if ratio <= 1 / 3 and a[3] == "0" else "misses"
        note = ""
        if b[3] != "0":
            note = f"; tftp-hpa left {b[3]} phones not booted, so its time is that of the last phone that did"
        print(f"N={n}: {ours}/tftp-hpa time until the last phone is up = {ratio:.2f} "
              f"({verdict} the target: <= 0.33 with no phone failing{note})")
for n in sorted({r[1] for r in rows}, key=int):
    a, b = by.get(("http-88xx", n)), by.get(("tftp-88xx", n))
    if a and b and float(b[4]) > 0:
        ratio = float(a[4]) / float(b[4])
        verdict = "meets" if ratio <= 1 / 5 and a[3] == "0" else "misses"
        print(f"N={n}: 88xx over HTTP/over TFTP, time until the last phone is up = {ratio:.2f} "
              f"({verdict} the target: <= 0.20 with no phone failing)")
PY
