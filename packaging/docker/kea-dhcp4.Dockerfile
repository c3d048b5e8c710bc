# Kea DHCPv4 of one Kea release series with the cisco-tftp hook, from that series' hook .deb.
# A hook binary loads only into the Kea release it was built for, so there is one image per
# series, on the Debian release that ships it (the Helm chart's kea.version picks the tag):
#
#   | KEA_SERIES | BASE                 | tag                 |
#   | 2.2        | debian:bookworm-slim | 0.1.0-kea2.2        |
#   | 2.6        | debian:trixie-slim   | 0.1.0-kea2.6        |
#   | 3.0        | debian:sid-slim      | 0.1.0-kea3.0        |
#
#   KEA_SERIES=3.0 packaging/build-debs.sh                     # -> target/debian/cisco-tftp-kea-hook-3.0_*.deb
#   docker build -f packaging/docker/kea-dhcp4.Dockerfile --build-arg KEA_SERIES=3.0 \
#       --build-arg BASE=debian:sid-slim -t cisco-tftp/kea-dhcp4:0.1.0-kea3.0 target/debian
#
# Runs as uid/gid 65532 (the Helm chart's runAsUser). Two entry points:
#   kea-dhcp4       no file capabilities: relayed unicast on an unprivileged port
#                   (-p 6067); runs with every capability dropped and no_new_privs.
#   kea-dhcp4-caps  the same binary with the file capabilities cap_net_bind_service and
#                   cap_net_raw (port 67, raw sockets for directly connected clients) for the
#                   node's network. The container must have both capabilities in its bounding
#                   set and no no_new_privs (Kubernetes: add NET_BIND_SERVICE and NET_RAW,
#                   allowPrivilegeEscalation true): the kernel refuses to exec a binary with
#                   file capabilities it cannot grant ("operation not permitted"), which is
#                   why the plain binary has none.
# Writable paths: /var/lib/kea (leases), /run/kea (control socket; Kea 2.6.3+ and 3.0 accept it
# only there, in a directory no more open than 0750), /tmp (pid and lock files).
ARG BASE=debian:sid-slim
FROM ${BASE}

ARG KEA_SERIES=3.0
# The package's Depends pins the Kea release it was built against: apt refuses a base whose
# kea-dhcp4-server is another one.
COPY cisco-tftp-kea-hook-${KEA_SERIES}_*.deb /tmp/hook.deb
RUN set -eux; \
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        kea-dhcp4-server libcap2-bin /tmp/hook.deb; \
    cp /usr/sbin/kea-dhcp4 /usr/sbin/kea-dhcp4-caps; \
    setcap cap_net_bind_service,cap_net_raw=+ep /usr/sbin/kea-dhcp4-caps; \
    apt-get purge -y libcap2-bin; apt-get autoremove -y; \
    rm -rf /var/lib/apt/lists/* /tmp/hook.deb /usr/sbin/policy-rc.d; \
    groupadd --system --gid 65532 kea; \
    useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --shell /usr/sbin/nologin kea; \
    install -d -o 65532 -g 65532 -m 0750 /var/lib/kea /run/kea; \
    test -f /usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so; \
    cisco-tftp-check --help >/dev/null

ENV KEA_PIDFILE_DIR=/tmp KEA_LOCKFILE_DIR=/tmp
USER 65532:65532
EXPOSE 67/udp
# Mount the configuration at /etc/kea/kea-dhcp4.conf (the Helm chart's ConfigMap does).
ENTRYPOINT ["kea-dhcp4"]
CMD ["-c", "/etc/kea/kea-dhcp4.conf"]
