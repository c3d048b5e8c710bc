#!/usr/bin/env bash
# Builds both images with podman on a Debian base made by debootstrap (no registry pulls) and
# checks them the way Kubernetes will run them. Not part of `make test` (tests/deploy/test_pods.py
# builds the same Dockerfiles and plays the chart's pods there): it needs network
# access to Debian's archive and a few minutes the first time.
#
#   apt-get install podman runc debootstrap
#   KEA_SERIES=3.0 packaging/build-debs.sh && packaging/docker/check-podman.sh 3.0
#
# The argument is the Kea release series (default 3.0): the Kea image is built on the Debian
# release that ships it (2.2 bookworm, 2.6 trixie, 3.0 sid) with that series' hook package.
#
# What it shows:
#   - both Dockerfiles build (the sidecar's distroless stage on the Debian base instead);
#   - kea-dhcp4 loads the hook and starts with every capability dropped and no_new_privs
#     (relay mode, -p 6067); tftp-sidecar serves on :6969 the same way;
#   - with the capability in the bounding set but not ambient (as Kubernetes gives it to a
#     non-root container) the plain binaries cannot bind ports 67/69 and the *-caps copies
#     can: the file capabilities survive COPY --from.
set -euo pipefail
cd "$(dirname "$0")/../.."
P=(podman --runtime /usr/sbin/runc --cgroup-manager cgroupfs)
# Podman's defaults are above some machines' hard limits.
RUN=("${P[@]}" run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024
     --read-only --sysctl net.ipv4.ip_unprivileged_port_start=1024)
SERIES=${1:-3.0}
case "$SERIES" in
    2.2) SUITE=bookworm ;;
    2.6) SUITE=trixie ;;
    3.0) SUITE=sid ;;
    *) echo "check-podman.sh: unknown Kea series $SERIES (2.2, 2.6, 3.0)" >&2; exit 2 ;;
esac
BASE=localhost/debian:bookworm-slim
KEA_BASE=localhost/debian:$SUITE-slim
KEA_IMAGE=localhost/cisco-tftp/kea-dhcp4:0.1.0-kea$SERIES
work=$(mktemp -d /var/tmp/cisco-tftp-podman.XXXXXX)
trap 'rm -rf "$work"' EXIT

for suite in bookworm "$SUITE"; do
    if ! "${P[@]}" image exists "localhost/debian:$suite-slim"; then
        mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
        debootstrap --variant=minbase "$suite" "$work/rootfs" ${mirror:+"$mirror"} >/dev/null
        # A frozen mirror snapshot of sid can be past its Release file's Valid-Until date.
        echo 'Acquire::Check-Valid-Until "false";' >"$work/rootfs/etc/apt/apt.conf.d/99no-check-valid-until"
        tar -C "$work/rootfs" -c . | "${P[@]}" import - "localhost/debian:$suite-slim" >/dev/null
        rm -rf "$work/rootfs"
    fi
done

build() { "${P[@]}" build -q --network host --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@" target/debian; }
build --build-arg BASE=$KEA_BASE --build-arg KEA_SERIES=$SERIES -f packaging/docker/kea-dhcp4.Dockerfile -t $KEA_IMAGE
build --build-arg BUILD_BASE=$BASE --build-arg RUNTIME=$BASE -f packaging/docker/tftp-sidecar.Dockerfile \
    -t localhost/cisco-tftp/tftp-sidecar:0.1.0

cat > "$work/kea.conf" <<'JSON'
{"Dhcp4": {"interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
 "lease-database": {"type": "memfile", "persist": false},
 "subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "pools": [{"pool": "192.0.2.10 - 192.0.2.20"}]}],
 "hooks-libraries": [{"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so",
                      "parameters": {"servers": ["10.0.0.10"]}}],
 "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": "stdout"}]}]}}
JSON
chmod 644 "$work/kea.conf"
KEA=("${RUN[@]}" -v "$work/kea.conf:/etc/kea/kea-dhcp4.conf:ro" --tmpfs /tmp --tmpfs /run/kea:mode=0750,uid=65532,gid=65532 --tmpfs /var/lib/kea:mode=0750,uid=65532,gid=65532)
# Kubernetes-like: uid 65532, the capability in the bounding set, none ambient.
K8S=(--user 0 --cap-drop ALL --cap-add NET_BIND_SERVICE,NET_RAW,SETUID,SETGID --entrypoint /usr/bin/setpriv)
DROP=(--reuid 65532 --regid 65532 --clear-groups --bounding-set -all,+net_bind_service,+net_raw --inh-caps -all --)

fail=0
check() { if grep -q -- "$2" <<<"$3"; then echo "ok: $1"; else echo "FAILED: $1"; echo "$3" | tail -5; fail=1; fi; }

out=$("${KEA[@]}" --cap-drop ALL --security-opt no-new-privileges --entrypoint /usr/bin/timeout \
      $KEA_IMAGE 3 kea-dhcp4 -c /etc/kea/kea-dhcp4.conf -p 6067 2>&1 || true)
check "kea relay mode (no capabilities, no_new_privs): hook loaded, started" "DHCP4_STARTED" "$out"
check "kea relay mode: cisco-tftp loaded" "cisco-tftp: loaded" "$out"
out=$("${KEA[@]}" "${K8S[@]}" $KEA_IMAGE "${DROP[@]}" \
      timeout 3 kea-dhcp4-caps -c /etc/kea/kea-dhcp4.conf 2>&1 || true)
check "kea-dhcp4-caps on port 67 as uid 65532" "DHCP4_STARTED" "$out"
if grep -q "OPEN_SOCKET_FAIL\|Permission denied" <<<"$out"; then echo "FAILED: kea-dhcp4-caps could not open port 67"; fail=1; fi
out=$("${KEA[@]}" "${K8S[@]}" $KEA_IMAGE "${DROP[@]}" \
      timeout 3 kea-dhcp4 -c /etc/kea/kea-dhcp4.conf 2>&1 || true)
check "plain kea-dhcp4 cannot open port 67 without file capabilities" "OPEN_SOCKET_FAIL\|ermission denied" "$out"

out=$("${RUN[@]}" --cap-drop ALL --security-opt no-new-privileges --entrypoint /usr/bin/timeout \
      localhost/cisco-tftp/tftp-sidecar:0.1.0 2 /usr/bin/tftp-sidecar 2>&1 || true)
check "tftp-sidecar service mode (no capabilities, no_new_privs) on :6969" '"addr":"0.0.0.0:6969"' "$out"
out=$("${RUN[@]}" "${K8S[@]}" localhost/cisco-tftp/tftp-sidecar:0.1.0 "${DROP[@]}" \
      /usr/bin/timeout 2 /usr/bin/tftp-sidecar-caps --listen 127.0.0.1:69 2>&1 || true)
check "tftp-sidecar-caps on port 69 as uid 65532" '"addr":"127.0.0.1:69"' "$out"
out=$("${RUN[@]}" "${K8S[@]}" localhost/cisco-tftp/tftp-sidecar:0.1.0 "${DROP[@]}" \
      /usr/bin/timeout 2 /usr/bin/tftp-sidecar --listen 127.0.0.1:69 2>&1 || true)
check "plain tftp-sidecar cannot bind port 69" "Permission denied" "$out"
exit $fail
