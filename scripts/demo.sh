#!/usr/bin/env bash
# The README's first command (via `make demo`): Kea with the cisco-tftp hook and tftp-sidecar
# in a network namespace; simulated phones (and a PC) ask for DHCP and get option 150; the
# hook's dry run and statistics; then phones of four models boot for real from the sidecar
# (trust lists, config, load, firmware images: placeholder files with Cisco's names and sizes),
# one of them stuck on a missing image; the firmware check that would have caught it; and where
# the metrics are. Removes everything it made.
#   DEMO_LOAD_BYTES=300000 make demo    # smaller firmware (default 7100000, as in the field)
#   KEA_SERIES=3.0 make demo              # Kea 3.0 (or 2.6): from its Debian root, see below
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

SIM=$PWD/target/debug/phone-sim
SIDECAR=$PWD/target/debug/tftp-sidecar
[ -x "$SIM" ] && [ -x "$SIDECAR" ] || { echo "demo: build first: make build" >&2; exit 1; }
LOAD_BYTES=${DEMO_LOAD_BYTES:-7100000}

WORK=$(mktemp -d /tmp/cisco-tftp-demo.XXXXXX)

# Which Kea: the host's (Debian 12: 2.2), or KEA_SERIES's from a Debian root made by
# scripts/kea-root.sh and run with chroot, the hook built inside it (scripts/build-hook.sh).
# Kea 2.6.3+ and 3.0 load hooks only from their hooks directory (named by the bare file name),
# keep control sockets in /run/kea (mode 0750) and log files in /var/log/kea: the demo puts
# them there. Kea 2.2 has no such rules; its files stay in the demo's directory.
KEA_ROOT=/
if [ -n "${KEA_SERIES:-}" ]; then KEA_ROOT=$(./scripts/kea-root.sh "$KEA_SERIES"); fi
if [ "$KEA_ROOT" = / ]; then
  KEA=(kea-dhcp4)
  LIBRARY=$PWD/target/debug/libdhcp_cisco_tftp.so
  [ -f "$LIBRARY" ] || { echo "demo: build first: make build" >&2; exit 1; }
  KWORK=$WORK                                    # Kea's files, as Kea sees them
  SOCK=$WORK/kea.sock KEA_LOG=$WORK/kea.log HOOK_LOG=$WORK/hook.log
else
  echo "demo: building the hook for Kea $KEA_SERIES in $KEA_ROOT"
  built=$(./scripts/build-hook.sh "$KEA_SERIES")
  hooks_dir=$(chroot "$KEA_ROOT" kea-dhcp4 -W | awk '/Hooks directory/{print $3}')
  install -m 0644 "$built/libdhcp_cisco_tftp.so" "$KEA_ROOT$hooks_dir/libdhcp_cisco_tftp.so"
  install -d -m 0750 "$KEA_ROOT/run/kea"
  install -d "$KEA_ROOT/var/log/kea"
  KEA=(chroot "$KEA_ROOT" kea-dhcp4)
  LIBRARY=libdhcp_cisco_tftp.so
  KWORK=$(mktemp -d "$KEA_ROOT/tmp/cisco-tftp-demo.XXXXXX")
  SOCK=/run/kea/cisco-tftp-demo.sock KEA_LOG=/var/log/kea/cisco-tftp-demo.log
  HOOK_LOG=/var/log/kea/cisco-tftp-demo-hook.log
  KWORK=${KWORK#"$KEA_ROOT"}
fi
# The same files as the host sees them.
host() { if [ "$KEA_ROOT" = / ]; then echo "$1"; else echo "$KEA_ROOT$1"; fi; }
SRV=ctdemo-srv PHONES=ctdemo-phones BRANCH=ctdemo-branch
KEA_PID= SIDECAR_PID=
cleanup() {
  [ -n "$SIDECAR_PID" ] && kill "$SIDECAR_PID" 2>/dev/null && wait "$SIDECAR_PID" 2>/dev/null || true
  [ -n "$KEA_PID" ] && kill "$KEA_PID" 2>/dev/null && wait "$KEA_PID" 2>/dev/null || true
  for ns in $SRV $PHONES $BRANCH; do ip netns del "$ns" 2>/dev/null || true; done
  if [ "$KEA_ROOT" != / ]; then
    rm -rf "$(host "$KWORK")" "$(host "$SOCK")" "$(host "$SOCK").lock" "$(host "$KEA_LOG")" "$(host "$HOOK_LOG")"
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
cleanup_quiet() { for ns in $SRV $PHONES $BRANCH; do ip netns del "$ns" 2>/dev/null || true; done; }
cleanup_quiet

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Network: a server namespace, a phone LAN (broadcast) and a branch behind a relay"
ip netns add $SRV; ip netns add $PHONES; ip netns add $BRANCH
ip link add srv-lan netns $SRV type veth peer name eth0 netns $PHONES
ip link add srv-wan netns $SRV type veth peer name eth0 netns $BRANCH
ip -n $SRV addr add 10.60.1.1/24 dev srv-lan
ip -n $SRV addr add 10.60.9.1/24 dev srv-wan
ip -n $PHONES addr add 10.60.1.2/24 dev eth0
ip -n $BRANCH addr add 10.60.9.2/24 dev eth0
ip -n $BRANCH addr add 10.62.0.1/24 dev eth0        # the branch router's giaddr
for ns in $SRV $PHONES $BRANCH; do
  ip -n $ns link set lo up
  for dev in $(ip -n $ns -o link show | awk -F': ' '$2 !~ /^lo/ {sub(/@.*/, "", $2); print $2}'); do
    ip -n $ns link set "$dev" up
  done
done
ip -n $SRV route add 10.62.0.0/24 via 10.60.9.2
echo "  $SRV: 10.60.1.1 (phone LAN), 10.60.9.1 (to the branch)"
echo "  $PHONES: phones on 10.60.1.0/24, broadcasting"
echo "  $BRANCH: relay 10.62.0.1 for branch phones on 10.62.0.0/24"

step "Kea $("${KEA[@]}" -v) with libdhcp_cisco_tftp.so"
cat > "$(host "$KWORK")/kea.json" <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv-lan", "srv-wan"], "dhcp-socket-type": "raw"},
  "control-socket": {"socket-type": "unix", "socket-name": "$SOCK"},
  "lease-database": {"type": "memfile", "persist": false},
  "valid-lifetime": 3600,
  "subnet4": [
    {"id": 1, "subnet": "10.60.1.0/24", "pools": [{"pool": "10.60.1.100 - 10.60.1.199"}]},
    {"id": 62, "subnet": "10.62.0.0/24", "pools": [{"pool": "10.62.0.100 - 10.62.0.199"}]}
  ],
  "hooks-libraries": [{
    "library": "$LIBRARY",
    "parameters": {
      "servers": ["10.60.1.10", "10.60.1.11"],
      "families": {"88xx": ["10.60.1.20", "10.60.1.10"]},
      "sites": [{"name": "branch", "relays": ["10.62.0.1"], "servers": ["10.62.0.5", "10.60.1.10"]}],
      "option-66": {"enabled": true}
    }
  }],
  "loggers": [
    {"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$KEA_LOG"}]},
    {"name": "kea-dhcp4.cisco-tftp", "severity": "DEBUG", "debuglevel": 40,
     "output_options": [{"output": "$HOOK_LOG"}]}
  ]
}}
JSON
sed -n '/"library"/,/^    }/p' "$(host "$KWORK")/kea.json"
KEA_LOCKFILE_DIR=$KWORK KEA_PIDFILE_DIR=$KWORK ip netns exec $SRV "${KEA[@]}" -c "$KWORK/kea.json" \
  >"$WORK/kea.out" 2>&1 &
KEA_PID=$!
HOST_SOCK=$(host "$SOCK")
for _ in $(seq 1 50); do grep -qs "CISCO_TFTP_LOADED" "$(host "$HOOK_LOG")" && [ -S "$HOST_SOCK" ] && break; sleep 0.1; done
[ -S "$HOST_SOCK" ] || { echo "demo: Kea did not start:"; cat "$WORK/kea.out" "$(host "$KEA_LOG")"; exit 1; }
grep -h "CISCO_TFTP_LOADED" "$(host "$HOOK_LOG")" | sed 's/^.*CISCO_TFTP_LOADED /  /'

kea_cmd() { # $1 command, $2 arguments JSON (optional)
  python3 - "$HOST_SOCK" "$1" "${2:-}" <<'PY'
import json, socket, sys
sock, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3]
req = {"command": cmd}
if args:
    req["arguments"] = json.loads(args)
s = socket.socket(socket.AF_UNIX)
s.connect(sock)
s.sendall(json.dumps(req).encode())
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
    try:
        answer = json.loads(buf)
        break
    except ValueError:
        continue
print(json.dumps(answer, indent=2))
PY
}

phone() { # $1 title, then phone-sim dhcp arguments
  local title=$1; shift
  printf '\n-- %s\n' "$title"
  "$SIM" dhcp "$@" | sed 's/^/   /' || echo "   (no answer)"
}

step "Phones boot: DISCOVER, OFFER, REQUEST, ACK (options decoded)"
phone "Cisco 7941 on the LAN (option 60 ends in a NUL, as real phones send it)" \
  --netns $PHONES --iface eth0 --mac 00:1e:4a:79:41:01 --nul \
  --vendor-class "Cisco Systems, Inc. IP Phone CP-7941G"
phone "Cisco 8841 on the LAN: the 88xx family has its own list" \
  --netns $PHONES --iface eth0 --mac 00:1e:4a:88:41:01 \
  --vendor-class "Cisco Systems, Inc. IP Phone CP-8841"
phone "Cisco 7921 wireless phone at the branch, through relay 10.62.0.1: the branch's list" \
  --netns $BRANCH --relay 10.62.0.1 --server 10.60.9.1 --mac 00:1e:4a:79:21:01 \
  --vendor-class "Cisco Systems Inc. Wireless Phone 7921"
phone "A Windows PC on the LAN: not a phone, so no option 150" \
  --netns $PHONES --iface eth0 --mac 00:50:56:00:00:01 --vendor-class "MSFT 5.0"

step "What the hook logged (kea-dhcp4.cisco-tftp at debug level 40)"
grep -h "CISCO_TFTP_OPTION150" "$(host "$HOOK_LOG")" | sed 's/^.*CISCO_TFTP_OPTION150[_A-Z0-9]* /  /' | sort -u

step "Dry run over Kea's control socket: what would a 7961 at the branch get?"
kea_cmd cisco-tftp-dry-run '{"vendor-class": "Cisco Systems, Inc. IP Phone CP-7961G", "relay": "10.62.0.1"}'

step "The hook's statistics (statistic-get-all, cisco-tftp.*)"
kea_cmd statistic-get-all | python3 -c '
import json, sys
args = json.load(sys.stdin)["arguments"]
for name in sorted(args):
    if name.startswith("cisco-tftp") and args[name][0][0]:
        print(f"  {name:45} {args[name][0][0]}")
'

step "An example TFTP root: placeholder firmware with Cisco's file names and sizes"
# One phone's config names a load whose first image was never copied to the server: the
# classic "stuck on Upgrading".
"$SIM" firmware "$WORK/tftp" --load-bytes "$LOAD_BYTES" \
  --phone 7941=00:1e:4a:79:41:01,7961=00:1e:4a:79:61:01,8841=00:1e:4a:88:41:01,7921=00:1e:4a:79:21:01 \
  --broken-phone 7941=00:1e:4a:79:41:ee | sed 's/^/  /'
echo "  (never Cisco's binaries: every image is filler headed 'cisco-tftp placeholder image')"

step "tftp-sidecar check: would every phone find its firmware?"
set +e
"$SIDECAR" check "$WORK/tftp" --model 7941,7961,8841,7921 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
echo "  exit status $rc: the check names the missing image before any phone asks for it"

step "tftp-sidecar in the server namespace: TFTP on port 69, HTTP on TCP 6970, metrics on 127.0.0.1:9169"
# Option 150 points at 10.60.1.10/.11 (and .20 first for 88xx): all addresses of the server
# namespace, where one sidecar listens on each of them (replies leave from the address the
# phone asked). The branch's own server 10.62.0.5 is down: branch phones move on to the next
# server of their list, across the WAN link.
for a in 10.60.1.10 10.60.1.11 10.60.1.20; do ip -n $SRV addr add $a/24 dev srv-lan; done
ip -n $BRANCH route add 10.60.1.0/24 via 10.60.9.1
cat > "$WORK/sidecar.toml" <<TOML
root = "$WORK/tftp"
listen = ["10.60.1.10:69", "10.60.1.11:69", "10.60.1.20:69"]
metrics_listen = "127.0.0.1:9169"

[kea]
control-socket = "$HOST_SOCK"
poll-interval = 1.0
TOML
sed 's/^/  /' "$WORK/sidecar.toml"
ip netns exec $SRV "$SIDECAR" --config "$WORK/sidecar.toml" >"$WORK/sidecar.log" 2>&1 &
SIDECAR_PID=$!
for _ in $(seq 1 50); do
  ip netns exec $SRV curl -sf http://127.0.0.1:9169/readyz >/dev/null 2>&1 && break; sleep 0.1
done
ip netns exec $SRV curl -sf http://127.0.0.1:9169/readyz >/dev/null \
  || { echo "demo: the sidecar did not start:"; cat "$WORK/sidecar.log"; exit 1; }
echo "  ready"

step "Phones boot: DHCP, then their files: 79xx over TFTP (512-byte blocks), the 8841 over HTTP on 6970"
echo "  On the LAN: 7941, 7961, 8841, and a 7941 whose load names a missing image"
set +e
"$SIM" --netns $PHONES boot --iface eth0 \
  --phone 7941=00:1e:4a:79:41:01,7961=00:1e:4a:79:61:01,8841=00:1e:4a:88:41:01,7941=00:1e:4a:79:41:ee \
  2>&1 | sed 's/^/  /'
echo
echo "  At the branch, behind relay 10.62.0.1: a 7921 whose first server (10.62.0.5) is down"
"$SIM" --netns $BRANCH boot --relay 10.62.0.1 --server 10.60.9.1 \
  --phone 7921=00:1e:4a:79:21:01 --timeout-ms 250 --retries 1 --file-attempts 1 2>&1 | sed 's/^/  /'
set -e

sleep 1.2   # one more poll of Kea's statistics
step "What the sidecar saw: GET /api/v1/phones (a phone stuck on a missing file shows here)"
ip netns exec $SRV curl -s http://127.0.0.1:9169/api/v1/phones > "$WORK/phones.json"
python3 - "$WORK/phones.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
print(f"  {'mac':14} {'address':13} {'protocol':9} {'last file':32} {'outcome':10} {'firmware bytes':>14}")
for p in t["phones"]:
    print(f"  {p['mac']:14} {p['address']:13} {p['protocol']:9} {p['last_file']:32} {p['last_outcome']:10} {p['firmware_bytes']:>14}")
PY

step "The operator's page: GET / (the same phones, with state, firmware progress and the check)"
ip netns exec $SRV curl -s "http://127.0.0.1:9169/page/fragment" > "$WORK/page.html"
PAGE_SUMMARY=$(python3 - "$WORK/page.html" <<'PY'
import html, re, sys
page = open(sys.argv[1]).read()
counts = dict(re.findall(r'>(all|stuck|failed|booting|up) (\d+)</a>', page))
stuck = [html.unescape(f) for s, f in re.findall(
    r'data-state="(stuck|failed)">.*?<td class="file"><code>(.*?)</code>', page, re.S)]
problems = len(re.findall(r'<li class="problem">', page))
line = (f"{counts.get('all', 0)} phones: {counts.get('up', 0)} up, {counts.get('booting', 0)} booting, "
        f"{counts.get('stuck', 0)} stuck, {counts.get('failed', 0)} failed")
if stuck:
    line += " (stuck on " + ", ".join(sorted(set(stuck))) + ")"
line += f"; the firmware check lists {problems} problem(s) beside them"
print(line)
PY
)
echo "  $PAGE_SUMMARY"

step "GET /metrics: both sides of a boot in one scrape (lines of interest, non-zero)"
ip netns exec $SRV curl -s http://127.0.0.1:9169/metrics | grep -E \
  '^tftp_(kea_up|kea_option150_sent_total|kea_packets_total|transfers_completed_total|transfers_failed_total|bytes_sent_total|phones_tracked|phones_unfinished|phones_by_protocol)' \
  | awk '$2 != 0 || /kea_up/' | sed 's/^/  /'

step "Where the metrics are"
echo "  Here: inside namespace $SRV, http://127.0.0.1:9169/metrics and /api/v1/phones"
echo "  (also /healthz, /readyz). In production: --metrics-listen 0.0.0.0:9169 (or"
echo "  metrics_listen in the config file) and scrape it with Prometheus; [kea] control-socket"
echo "  makes the same target carry Kea's and the hook's counters (tftp_kea_*)."
echo "  Grafana: import helm/cisco-tftp/dashboards/cisco-tftp.json (uid cisco-tftp-boot)."
echo "  Firmware check: tftp-sidecar check /srv/tftp (docs: tftp-sidecar/docs/firmware-check.md)."

step "Done"
echo "  Phones that are Cisco got option 150 as binary addresses (4 bytes each), in order;"
echo "  the PC got none. Four phones booted from the sidecar; the one whose load names a"
echo "  missing image failed, and the check, /api/v1/phones and the metrics all say which file."
echo "  Everything this demo created is being removed."
echo
echo "  The operator's page: http://127.0.0.1:9169/ in namespace $SRV (in production: the"
echo "  sidecar's metrics_listen address, e.g. http://<host>:9169/). It showed: $PAGE_SUMMARY"
