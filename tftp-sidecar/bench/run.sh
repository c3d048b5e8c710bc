#!/usr/bin/env bash
# TFTP benchmark: tftp-sidecar against tftp-hpa, dnsmasq and async-tftp's directory server,
# same load generator (bench/loadgen.rs), same files, one run. Everything runs inside a
# network namespace this script creates (dnsmasq's TFTP port cannot leave 69), so nothing
# collides with the host. Needs root (ip netns).
#
#   bench/run.sh [--quick] [--out FILE] [--servers "sidecar sidecar-single tftp-hpa dnsmasq async-tftp floor floor-batched"]
#
# sidecar is the default (one ephemeral port per transfer), sidecar-single its single-port
# mode (batched system calls). floor / floor-batched (bench/floor_server.c) are not servers
# but references: the kernel's cost of the same datagrams with nothing else done.
#
# Scenarios (issue 3): one 7.1 MB transfer at 512-byte blocks; one at blksize 1428 +
# windowsize 16; a storm of 200 concurrent 7.1 MB transfers at 512; 5000 x 4 KB transfers,
# 500 concurrent. Each server is restarted for every run so peak RSS is per scenario, and
# warmed with one transfer first (cached files). Medians of REPS runs (default 3; --quick 1
# with smaller storms).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
crate="$(dirname "$here")"
ws="$(dirname "$crate")"
quick=0
out=""
servers="sidecar sidecar-single tftp-hpa dnsmasq async-tftp floor floor-batched"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --out) out="$2"; shift ;;
        --servers) servers="$2"; shift ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

if [ "$quick" = 1 ]; then
    REPS=${REPS:-1}; STORM=${STORM:-50}; CFG_N=${CFG_N:-1000}; CFG_C=${CFG_C:-200}
else
    REPS=${REPS:-3}; STORM=${STORM:-200}; CFG_N=${CFG_N:-5000}; CFG_C=${CFG_C:-500}
fi
FW_SIZE=7100000

if [ "$(id -u)" != 0 ]; then
    echo "bench/run.sh needs root (it creates a network namespace)" >&2
    exit 1
fi

echo "building release binaries..." >&2
(cd "$ws" && cargo build --release -q -p tftp-sidecar --bin tftp-sidecar \
    --example tftp-loadgen --example async_tftp_peer)
bin="$ws/target/release"

ns="tftpbench$$"
pin=""
work="$(mktemp -d /tmp/tftpbench.XXXXXX)"
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
nsx() { ip netns exec "$ns" "$@"; }

# Files, world-readable (tftp-hpa and dnsmasq drop privileges).
root="$work/root"
mkdir -p "$root"
head -c "$FW_SIZE" /dev/urandom > "$root/SIP88xx.14-2-1-0001-14.loads"
fw="SIP88xx.14-2-1-0001-14.loads"
python3 - "$root" "$CFG_N" > "$work/configs.list" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    name = "SEP%012X.cnf.xml" % (0x001122000000 + i)
    with open(os.path.join(root, name), "wb") as f:
        f.write(os.urandom(4096))
    print(name)
PY
chmod -R a+rX "$work"
cc -O2 -o "$work/floor_server" "$here/floor_server.c"

start_server() { # name [scenario] -> sets server_pid, port
    local name="$1"
    case "$name" in
        sidecar)
            port=6901
            RUST_LOG=info ip netns exec "$ns" $pin "$bin/tftp-sidecar" --root "$root" --listen "127.0.0.1:$port" \
                --max-sessions 10000 --per-client-max 100000 --drain-deadline 0 \
                2>"$work/sidecar.log" &
            ;;
        sidecar-single)
            port=6906
            RUST_LOG=info ip netns exec "$ns" $pin "$bin/tftp-sidecar" --root "$root" --listen "127.0.0.1:$port" \
                --port-mode single-port --max-sessions 10000 --per-client-max 100000 --drain-deadline 0 \
                2>"$work/sidecar-single.log" &
            ;;
        floor|floor-batched)
            port=6907
            local how=ephemeral
            [ "$name" = floor-batched ] && how=batched
            ip netns exec "$ns" $pin "$work/floor_server" "$root" "$port" "$how" 2>"$work/floor.log" &
            ;;
        tftp-hpa)
            port=6902
            # glibc's AI_ADDRCONFIG ignores loopback, so in a namespace with only `lo`
            # in.tftpd cannot resolve 127.0.0.1: bind the wildcard (the namespace is ours).
            ip netns exec "$ns" $pin in.tftpd --listen --foreground --address ":$port" --secure "$root" \
                2>"$work/hpa.log" &
            ;;
        dnsmasq)
            port=69
            ip netns exec "$ns" $pin dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --enable-tftp \
                --tftp-root="$root" --listen-address=127.0.0.1 --bind-interfaces \
                --tftp-max=1000 --pid-file= --log-facility=- 2>"$work/dnsmasq.log" &
            ;;
        async-tftp)
            port=6904
            ip netns exec "$ns" $pin "$bin/examples/async_tftp_peer" "$root" "127.0.0.1:$port" 2>"$work/async.log" &
            ;;
    esac
    local wrapper=$!
    # `ip netns exec` execs the server in place: $! is the server's pid.
    server_pid=$wrapper
    for _ in $(seq 1 100); do
        if nsx "$bin/examples/tftp-loadgen" --server "127.0.0.1:$port" --files "name:$fw" \
            --count 1 --concurrency 1 --timeout-ms 200 --retries 2 >/dev/null 2>&1; then
            # Cached files: before the config storm every config is read once (page
            # cache for the others, memory cache for the sidecar).
            local warm=1
            [ "${2:-}" = configs ] && warm="$CFG_N"
            nsx "$bin/examples/tftp-loadgen" --server "127.0.0.1:$port" \
                --files "$work/configs.list" --count "$warm" --concurrency 20 >/dev/null 2>&1 || true
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not come up" >&2
    return 1
}

stop_server() {
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
    # tftp-hpa's children may linger briefly.
    sleep 0.2
}

results="$work/results.jsonl"
: > "$results"
SCENARIOS=${SCENARIOS:-"single512 single512split single1428w16 storm configs"}
# Where a scenario's processes run. A lone lock-step transfer is a ping-pong: on separate
# vCPUs each block waits for two idle-vCPU wake-ups (~10x slower here than on one core), and
# unpinned the scheduler picks either at random per run. So single transfers run with server
# and generator on one core (the server's own cost per block) and on two (the wake-up-bound
# case); storms are not pinned.
placement() { # scenario -> "server-cpu client-cpu" or ""
    case "$1" in
        single512|single1428w16) echo "0 0" ;;
        single512split) echo "0 1" ;;
        *) echo "" ;;
    esac
}
run_scenario() { # server scenario rep args...
    local server="$1" scenario="$2" rep="$3"
    shift 3
    case " $SCENARIOS " in *" $scenario "*) ;; *) return 0 ;; esac
    # The floor server speaks only 512-byte lock-step TFTP.
    case "$server/$scenario" in floor*/single1428w16) return 0 ;; esac
    local cpus cpin=""
    cpus=$(placement "$scenario")
    pin=""
    if [ -n "$cpus" ]; then
        pin="taskset -c ${cpus% *}"
        cpin="taskset -c ${cpus#* }"
    fi
    start_server "$server" "$scenario" || return 0
    local tree=""
    [ "$server" = tftp-hpa ] && tree="--tree"
    local line
    line=$(nsx $cpin "$bin/examples/tftp-loadgen" --server "127.0.0.1:$port" --pid "$server_pid" $tree \
        --label "$server/$scenario/$rep" "$@") || line=""
    stop_server
    if [ -n "$line" ]; then
        echo "$line" >> "$results"
        echo "$line" >&2
    fi
}

for rep in $(seq 1 "$REPS"); do
    for s in $servers; do
        run_scenario "$s" single512 "$rep" --files "name:$fw" --count 1 --concurrency 1 \
            --expect-size "$FW_SIZE"
        run_scenario "$s" single512split "$rep" --files "name:$fw" --count 1 --concurrency 1 \
            --expect-size "$FW_SIZE"
        run_scenario "$s" single1428w16 "$rep" --files "name:$fw" --count 1 --concurrency 1 \
            --blksize 1428 --windowsize 16 --tsize --expect-size "$FW_SIZE"
        run_scenario "$s" storm "$rep" --files "name:$fw" --count "$STORM" \
            --concurrency "$STORM" --expect-size "$FW_SIZE" --timeout-ms 1000 --retries 10
        run_scenario "$s" configs "$rep" --files "$work/configs.list" --count "$CFG_N" \
            --concurrency "$CFG_C" --expect-size 4096 --timeout-ms 1000 --retries 10
    done
done

report=$(python3 "$here/report.py" "$results" "$STORM" "$CFG_N" "$CFG_C" "$quick")
echo "$report"
if [ -n "$out" ]; then
    echo "$report" > "$out"
    cp "$results" "${out%.md}.jsonl"
fi
