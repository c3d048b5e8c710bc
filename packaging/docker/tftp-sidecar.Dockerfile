# tftp-sidecar, from its .deb, on a distroless base (glibc and libgcc only, no shell).
#
#   packaging/build-debs.sh                                     # -> target/debian/*.deb
#   docker build -f packaging/docker/tftp-sidecar.Dockerfile -t cisco-tftp/tftp-sidecar:0.1.0 target/debian
#
# Runs as uid/gid 65532 (distroless "nonroot", the Helm chart's runAsUser). Two entry points:
#   /usr/bin/tftp-sidecar       no file capabilities: behind a Service on an unprivileged
#                               port; runs with every capability dropped and no_new_privs.
#   /usr/bin/tftp-sidecar-caps  the same binary with the file capability cap_net_bind_service,
#                               for port 69 on a node's network. The container must have
#                               NET_BIND_SERVICE and no no_new_privs (allowPrivilegeEscalation
#                               true): the kernel refuses to exec a binary with file
#                               capabilities it cannot grant.
# The default listens on 0.0.0.0:6969 in single-port mode; mount a config at
# /etc/tftp-sidecar/tftp-sidecar.toml (the Helm chart's path) or set TFTP_SIDECAR_* variables.
ARG BUILD_BASE=debian:bookworm-slim
ARG RUNTIME=gcr.io/distroless/cc-debian12:nonroot

FROM ${BUILD_BASE} AS unpack
ARG SIDECAR_DEB=cisco-tftp-sidecar_0.1.0-1_amd64.deb
COPY ${SIDECAR_DEB} /tmp/sidecar.deb
RUN set -eux; \
    apt-get update; \
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libcap2-bin; \
    dpkg-deb -x /tmp/sidecar.deb /out; \
    cp /out/usr/bin/tftp-sidecar /out/usr/bin/tftp-sidecar-caps; \
    setcap cap_net_bind_service=+ep /out/usr/bin/tftp-sidecar-caps; \
    install -d -o 65532 -g 65532 -m 0750 /out/var/cache/tftp-sidecar; \
    install -d -m 0755 /out/srv/tftp

FROM ${RUNTIME}
COPY --from=unpack /out/usr/bin/tftp-sidecar /out/usr/bin/tftp-sidecar-caps /usr/bin/
COPY --from=unpack --chown=65532:65532 /out/var/cache/tftp-sidecar /var/cache/tftp-sidecar
COPY --from=unpack /out/srv/tftp /srv/tftp
ENV TFTP_SIDECAR_LISTEN=0.0.0.0:6969 \
    TFTP_SIDECAR_PORT_MODE=single-port \
    TFTP_SIDECAR_ROOT=/srv/tftp \
    TFTP_SIDECAR_METRICS_LISTEN=0.0.0.0:9169 \
    TFTP_SIDECAR_LOG_FORMAT=json
USER 65532:65532
EXPOSE 6969/udp 9169/tcp
ENTRYPOINT ["/usr/bin/tftp-sidecar"]
