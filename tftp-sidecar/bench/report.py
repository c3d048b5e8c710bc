#!/usr/bin/env python3
"""Turn tftp-loadgen JSON lines (label server/scenario/rep) into a markdown report with
medians and ratios of tftp-sidecar against the best peer."""
import json
import statistics
import sys
from collections import defaultdict

path, storm, cfg_n, cfg_c, quick = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5] == "1"
runs = defaultdict(list)
for line in open(path):
    line = line.strip()
    if not line:
        continue
    r = json.loads(line)
    server, scenario, _ = r["label"].split("/")
    runs[(server, scenario)].append(r)

OURS = ["sidecar", "sidecar-single"]
PEERS = ["tftp-hpa", "dnsmasq", "async-tftp"]
# Not servers: the kernel's cost of the same datagrams (bench/floor_server.c).
FLOORS = ["floor", "floor-batched"]
servers = [s for s in OURS + PEERS + FLOORS if any(k[0] == s for k in runs)]
ours_present = [s for s in OURS if s in servers]
peers = [s for s in servers if s in PEERS]


def med(server, scenario, key):
    rs = runs.get((server, scenario))
    if not rs:
        return None
    vals = [r[key] for r in rs if key in r]
    return statistics.median(vals) if vals else None


def failed(server, scenario):
    rs = runs.get((server, scenario)) or []
    return sum(r["failed"] for r in rs)


def fmt(v, spec="{:.1f}"):
    return "-" if v is None else spec.format(v)


def cpu_s(server, scenario):
    # tftp-hpa's per-transfer children are sampled from /proc; short-lived ones can be
    # missed, so use whichever is larger of that and machine busy time minus the client's.
    v = med(server, scenario, "server_cpu_s")
    if server == "tftp-hpa":
        w = med(server, scenario, "machine_busy_minus_client_s")
        if v is not None and w is not None:
            v = max(v, w)
    return v


out = []
out.append(f"# TFTP benchmark ({'quick' if quick else 'full'}: medians of runs; loopback in a private netns)\n")
scen = [
    ("single512", "one 7.1 MB transfer, 512-byte blocks (server and generator on one core)", "mb_per_s", "MB/s"),
    ("single512split", "one 7.1 MB transfer, 512-byte blocks (server and generator on two cores: wake-up bound)", "mb_per_s", "MB/s"),
    ("single1428w16", "one 7.1 MB transfer, blksize 1428 + windowsize 16 (one core)", "mb_per_s", "MB/s"),
    ("storm", f"storm: {storm} x 7.1 MB concurrent, 512-byte blocks", "mb_per_s", "MB/s"),
    ("configs", f"config storm: {cfg_n} x 4 KB, {cfg_c} concurrent", "transfers_per_s", "transfers/s"),
]
for key, title, metric, unit in scen:
    out.append(f"## {title}\n")
    out.append(f"| server | {unit} | wall s | best wall s | p50 ms | p90 ms | p99 ms | max ms | server CPU s | CPU s/GB | peak RSS MB | listen drops | backlog drops | client timeouts | failed |")
    out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for s in servers:
        if (s, key) not in runs:
            continue
        b = med(s, key, "bytes") or 0
        c = cpu_s(s, key)
        per_gb = c / (b / 1e9) if c is not None and b else None
        best_wall = min(r["wall_s"] for r in runs[(s, key)])
        out.append("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            s, fmt(med(s, key, metric)), fmt(med(s, key, "wall_s"), "{:.2f}"), fmt(best_wall, "{:.2f}"),
            fmt(med(s, key, "p50_ms")), fmt(med(s, key, "p90_ms")), fmt(med(s, key, "p99_ms")),
            fmt(med(s, key, "max_ms")), fmt(c, "{:.2f}"), fmt(per_gb, "{:.2f}"),
            fmt((med(s, key, "server_peak_rss_kb") or 0) / 1024), fmt(med(s, key, "listen_drops"), "{:.0f}"),
            fmt(med(s, key, "softnet_drops"), "{:.0f}"),
            fmt(med(s, key, "client_timeouts"), "{:.0f}"), failed(s, key)))
    def cpg(s):
        c, b = cpu_s(s, key), med(s, key, "bytes")
        return c / (b / 1e9) if c is not None and b else None

    present = [p for p in peers if (p, key) in runs]
    for o in [o for o in ours_present if (o, key) in runs]:
        if not present:
            break
        ours = med(o, key, metric)
        best = max(((med(p, key, metric) or 0), p) for p in present)
        if ours and best[0]:
            out.append(f"\n{o} / best peer ({best[1]}) {unit}: **{ours / best[0]:.2f}x**")
        if key == "storm":
            peer_cpg = [(cpg(p), p) for p in present if cpg(p)]
            if peer_cpg and cpg(o):
                bp = min(peer_cpg)
                out.append(f"; CPU s/GB {o} / best peer ({bp[1]}): **{cpg(o) / bp[0]:.2f}x** (target <= 0.33)")
            walls = [(med(p, key, "wall_s"), p) for p in present if med(p, key, "wall_s")]
            if walls:
                bw = min(walls)
                out.append(f"; median wall {o} / best peer ({bw[1]}): **{med(o, key, 'wall_s') / bw[0]:.2f}x** (target <= 1)")
    if key == "storm":
        peer_cpg = [(cpg(p), p) for p in present if cpg(p)]
        for f in FLOORS:
            if (f, key) in runs and peer_cpg and cpg(f):
                bp = min(peer_cpg)
                out.append(f"\nreference: CPU s/GB {f} / best peer ({bp[1]}): **{cpg(f) / bp[0]:.2f}x** "
                           f"(the cheapest way found to move these datagrams here)")
        out.append("")
    out.append("")
out.append("sidecar: default port mode (a new port per transfer); sidecar-single: `--port-mode single-port` "
           "(batched recvmmsg/sendmmsg). floor / floor-batched: bench/floor_server.c, the same datagrams with "
           "nothing else done (no options, timers, limits or metrics), per-socket and batched: a lower bound "
           "for any server on this kernel, not a peer.\n")
out.append("Server CPU: utime+stime of the server process from /proc (tftp-hpa: its process tree sampled, "
           "or machine busy time minus the load generator's, whichever is larger: other load on the "
           "machine inflates the latter). Peak RSS: VmHWM (tftp-hpa: sampled sum over its processes). "
           "Listen drops: the drops counter of the listening socket in /proc/net/udp. Backlog drops: "
           "/proc/net/softnet_stat (loopback input backlog full, machine-wide). Client timeouts: "
           "1 s waits of the load generator (each adds ~1 s to a storm's wall time).")
print("\n".join(out))
