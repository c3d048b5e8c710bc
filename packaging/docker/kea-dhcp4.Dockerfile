# Kea DHCPv4 (Debian 12's kea-dhcp4-server 2.2) with the cisco-tftp hook, from the hook's .deb.
#
#   packaging/build-debs.sh                                     # -> target/debian/*.deb
#   docker build -f packaging/docker/kea-dhcp4.Dockerfile -t cisco-tftp/kea-dhcp4:0.1.0 target/debian
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
# Writable paths: /var/lib/kea (leases), /run/kea (control socket), /tmp (pid and lock files).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ARG HOOK_DEB=cisco-tftp-kea-hook_0.1.0-1_amd64.deb
COPY ${HOOK_DEB} /tmp/hook.deb
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
