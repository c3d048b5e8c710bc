#!/usr/bin/env bash
# The README's first command (via `make demo`): Kea with the cisco-tftp hook in a network
# namespace, simulated phones (and a PC) asking it for DHCP, the option 150 each one got,
# the hook's dry run and statistics over Kea's control socket. Removes everything it made.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }

HOOK=$PWD/target/debug/libdhcp_cisco_tftp.so
SIM=$PWD/target/debug/phone-sim
[ -f "$HOOK" ] && [ -x "$SIM" ] || { echo "demo: build first: make build" >&2; exit 1; }

WORK=$(mktemp -d /tmp/cisco-tftp-demo.XXXXXX)
SRV=ctdemo-srv PHONES=ctdemo-phones BRANCH=ctdemo-branch
KEA_PID=
cleanup() {
  [ -n "$KEA_PID" ] && kill "$KEA_PID" 2>/dev/null && wait "$KEA_PID" 2>/dev/null || true
  for ns in $SRV $PHONES $BRANCH; do ip netns del "$ns" 2>/dev/null || true; done
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

step "Kea 2.2 with libdhcp_cisco_tftp.so"
cat > "$WORK/kea.json" <<JSON
{"Dhcp4": {
  "interfaces-config": {"interfaces": ["srv-lan", "srv-wan"], "dhcp-socket-type": "raw"},
  "control-socket": {"socket-type": "unix", "socket-name": "$WORK/kea.sock"},
  "lease-database": {"type": "memfile", "persist": false},
  "valid-lifetime": 3600,
  "subnet4": [
    {"id": 1, "subnet": "10.60.1.0/24", "pools": [{"pool": "10.60.1.100 - 10.60.1.199"}]},
    {"id": 62, "subnet": "10.62.0.0/24", "pools": [{"pool": "10.62.0.100 - 10.62.0.199"}]}
  ],
  "hooks-libraries": [{
    "library": "$HOOK",
    "parameters": {
      "servers": ["10.60.1.10", "10.60.1.11"],
      "families": {"88xx": ["10.60.1.20", "10.60.1.10"]},
      "sites": [{"name": "branch", "relays": ["10.62.0.1"], "servers": ["10.62.0.5", "10.60.1.10"]}],
      "option-66": {"enabled": true}
    }
  }],
  "loggers": [
    {"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": "$WORK/kea.log"}]},
    {"name": "kea-dhcp4.cisco-tftp", "severity": "DEBUG", "debuglevel": 40,
     "output_options": [{"output": "$WORK/hook.log"}]}
  ]
}}
JSON
sed -n '/"parameters"/,/^    }/p' "$WORK/kea.json"
KEA_LOCKFILE_DIR=$WORK KEA_PIDFILE_DIR=$WORK ip netns exec $SRV kea-dhcp4 -c "$WORK/kea.json" \
  >"$WORK/kea.out" 2>&1 &
KEA_PID=$!
for _ in $(seq 1 50); do [ -S "$WORK/kea.sock" ] && break; sleep 0.1; done
[ -S "$WORK/kea.sock" ] || { echo "demo: Kea did not start:"; cat "$WORK/kea.out" "$WORK/kea.log"; exit 1; }
grep -h "loaded" "$WORK/hook.log" | sed 's/^.*CISCO_TFTP_INFO /  /'

kea_cmd() { # $1 command, $2 arguments JSON (optional)
  python3 - "$WORK/kea.sock" "$1" "${2:-}" <<'PY'
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
grep -h "option 150" "$WORK/hook.log" | sed 's/^.*CISCO_TFTP_DEBUG cisco-tftp: /  /' | sort -u

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

step "Done"
echo "  Phones that are Cisco got option 150 as binary addresses (4 bytes each), in order;"
echo "  the PC got none. Everything this demo created is being removed."
