#!/usr/bin/env python3
"""HTTP benchmark (issue 10): tftp-sidecar's HTTP file listener against nginx (Debian's
package) serving the same directory, same load generator (bench/http_loadgen.rs), one run.

    sudo tftp-sidecar/bench/http_run.py [--quick] [--out FILE.md]

Everything runs in a network namespace of its own, on its loopback. Each server is started
fresh per run with one worker (sidecar: its default one thread; nginx: worker_processes 1,
sendfile on, access log off) and warmed (the firmware and every config read once), then:

- single:  one 7.1 MB file, asked 100 times in a row, a new connection each (a lone phone)
- storm:   200 concurrent 7.1 MB downloads (a boot storm on HTTP)
- configs: 5000 x 4 KB distinct files over 500 concurrent kept-alive connections

Rows: sidecar (defaults: large bodies sent with sendfile from unlinked copies in the
temporary directory), sidecar-memfd (the same from memfds), nginx. Server CPU seconds are the
scheduler's run time of every thread of the server's processes (nginx: master and worker;
/proc/PID/task/*/schedstat, nanoseconds), over the load only; peak RSS is VmHWM (nginx: the
sum of its processes). Medians of REPS runs (5; --quick: 1), interleaved per scenario with
the order rotating. Environment: SCENARIOS="configs" (a subset), SERVERS="sidecar nginx",
STORM, CFG_N, CFG_C, LOG=1 (per-transfer logs on both). The generator is single-threaded and
shares the 2 cores with the servers: compare CPU per GB more than wall time.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WS = HERE.parent.parent
FW = "SIP88xx.14-2-1-0001-14.loads"
FW_SIZE = 7_100_000

quick = "--quick" in sys.argv
out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else None
REPS = int(os.environ.get("REPS", "1" if quick else "5"))
STORM = int(os.environ.get("STORM", "50" if quick else "200"))
CFG_N = int(os.environ.get("CFG_N", "1000" if quick else "5000"))
CFG_C = int(os.environ.get("CFG_C", "200" if quick else "500"))
LOG = os.environ.get("LOG") == "1"
SINGLE_N = 100  # enough bytes for 10 ms CPU ticks to resolve
PORTS = {"sidecar": 16970, "sidecar-memfd": 16971, "nginx": 16980}
# sidecar: its defaults, so large bodies go out with sendfile from unlinked copies in the
# temporary directory; sidecar-memfd: the same from memfds (--http-sendfile-dir memory), the
# design this replaced, measured in the same run so the choice stays checked.
SERVERS = os.environ.get("SERVERS", "sidecar sidecar-memfd nginx").split()

if os.geteuid() != 0:
    sys.exit("http_run.py needs root (it creates a network namespace)")
if not shutil.which("nginx"):
    sys.exit("nginx not found: apt-get install nginx (Debian's package is the peer)")

print("building release binaries...", file=sys.stderr)
subprocess.run(["cargo", "build", "--release", "-q", "-p", "tftp-sidecar", "--bin", "tftp-sidecar",
                "--example", "http-loadgen"], cwd=WS, check=True)
BIN = WS / "target" / "release"
LOADGEN = BIN / "examples" / "http-loadgen"

ns = f"httpbench{os.getpid()}"
work = Path(tempfile.mkdtemp(prefix="httpbench."))
subprocess.run(["ip", "netns", "add", ns], check=True)
subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)


def nsx(args, **kw):
    return ["ip", "netns", "exec", ns] + [str(a) for a in args]


root = work / "root"
root.mkdir()
(root / FW).write_bytes(os.urandom(FW_SIZE))
configs = []
for i in range(CFG_N):
    name = "SEP%012X.cnf.xml" % (0x001122000000 + i)
    (root / name).write_bytes(os.urandom(4096))
    configs.append(name)
(work / "configs.list").write_text("\n".join(configs) + "\n")
subprocess.run(["chmod", "-R", "a+rX", str(work)], check=True)
(work / "nginx.conf").write_text(f"""
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 8192; }}
http {{
    access_log {"%s/access.log" % work if LOG else "off"};
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    keepalive_timeout 60s;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{PORTS["nginx"]};
        root {root};
    }}
}}
""")


def start(server):
    if server.startswith("sidecar"):
        cmd = [BIN / "tftp-sidecar", "--root", root, "--listen", "127.0.0.1:0",
               "--http-listen", f"127.0.0.1:{PORTS[server]}", "--http-per-client-max", "100000",
               "--http-max-connections", "100000", "--drain-deadline", "0"]
        if server == "sidecar-memfd":
            cmd += ["--http-sendfile-dir", "memory"]
    else:
        cmd = ["nginx", "-c", work / "nginx.conf"]
    # Equal work: nginx runs with its access log off, so the sidecar runs without its
    # per-transfer log line (RUST_LOG=warn); LOG=1 keeps it (and gives nginx an access log).
    env = dict(os.environ, RUST_LOG="info" if LOG else "warn")
    p = subprocess.Popen(nsx(cmd), stdout=subprocess.DEVNULL, stderr=open(work / f"{server}.log", "w"),
                         env=env)
    for _ in range(100):
        if load(server, ["--name", FW, "--count", "1"]) is not None:
            return p
        time.sleep(0.1)
    p.kill()
    raise SystemExit(f"{server} did not come up: {(work / f'{server}.log').read_text()}")


def load(server, args):
    r = subprocess.run(nsx([LOADGEN, "--addr", f"127.0.0.1:{PORTS[server]}"] + args),
                       capture_output=True, text=True)
    if r.returncode != 0:
        return None
    v = json.loads(r.stdout)
    return v if v["errors"] == 0 else None


def pids(p):
    kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
    return [p.pid] + [int(k) for k in kids]


def cpu(ps):
    """CPU seconds of every thread of these processes, from the scheduler's nanosecond
    counters (/proc/PID/task/TID/schedstat): utime/stime tick at 10 ms, too coarse for
    loads that take a fraction of a second."""
    total = 0
    for pid in ps:
        try:
            for task in Path(f"/proc/{pid}/task").iterdir():
                total += int((task / "schedstat").read_text().split()[0])
        except OSError:
            pass
    return total / 1e9


def hwm_kib(ps):
    total = 0
    for pid in ps:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


SCENARIOS = {
    "single": ["--name", FW, "--count", SINGLE_N, "--concurrency", 1, "--new-connection"],
    "storm": ["--name", FW, "--count", STORM, "--concurrency", STORM, "--new-connection"],
    "configs": ["--names", work / "configs.list", "--count", CFG_N, "--concurrency", CFG_C],
}
if os.environ.get("SCENARIOS"):
    SCENARIOS = {k: v for k, v in SCENARIOS.items() if k in os.environ["SCENARIOS"].split()}
results = []
try:
    # Interleaved: every scenario runs each server in turn, the order rotating per rep, so a
    # machine that drifts (a shared VM does) drifts under all of them alike.
    for scenario, args in SCENARIOS.items():
        for rep in range(REPS):
            for server in SERVERS[rep % len(SERVERS):] + SERVERS[:rep % len(SERVERS)]:
                p = start(server)
                load(server, ["--names", work / "configs.list", "--count", CFG_N, "--concurrency", 20])
                ps = pids(p)
                c0 = cpu(ps)
                v = load(server, [str(a) for a in args])
                c1 = cpu(ps)
                hwm = hwm_kib(ps)
                p.terminate()
                p.wait(timeout=30)
                if v is None:
                    print(f"{server}/{scenario}: errors", file=sys.stderr)
                    continue
                v.update(server=server, scenario=scenario, rep=rep, cpu_s=round(c1 - c0, 3),
                         cpu_s_per_gb=round((c1 - c0) / (v["bytes"] / 1e9), 3), peak_rss_mib=round(hwm / 1024, 1))
                print(json.dumps(v), file=sys.stderr)
                results.append(v)
finally:
    subprocess.run(["ip", "netns", "del", ns])


def med(server, scenario, key):
    vals = [r[key] for r in results if r["server"] == server and r["scenario"] == scenario]
    return statistics.median(vals) if vals else None


lines = [f"# HTTP benchmark: tftp-sidecar vs nginx ({time.strftime('%Y-%m-%d')})", "",
         f"Medians of {REPS} interleaved run(s); sendfile copies in {tempfile.gettempdir()} "
         f"({subprocess.run(['findmnt', '-no', 'FSTYPE', '-T', tempfile.gettempdir()], capture_output=True, text=True).stdout.strip()}); single = {SINGLE_N} x one 7.1 MB file, one connection each; "
         f"storm = {STORM} concurrent 7.1 MB; configs = {CFG_N} x 4 KB over {CFG_C} kept-alive connections. "
         "Targets (issue 10): server CPU per GB <= 1.25x nginx's, throughput >= 0.8x nginx's.", "",
         "| scenario | server | MB/s | p50 ms | p99 ms | server CPU s | CPU s/GB | peak RSS MiB |",
         "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
for scenario in SCENARIOS:
    for server in SERVERS:
        if med(server, scenario, "mb_s") is None:
            continue
        lines.append(f"| {scenario} | {server} | {med(server, scenario, 'mb_s'):.0f} | {med(server, scenario, 'p50_ms'):.1f} | "
                     f"{med(server, scenario, 'p99_ms'):.1f} | {med(server, scenario, 'cpu_s'):.2f} | "
                     f"{med(server, scenario, 'cpu_s_per_gb'):.2f} | {med(server, scenario, 'peak_rss_mib'):.1f} |")
lines += ["", "| scenario | row | throughput /nginx (>= 0.8) | CPU per GB /nginx (<= 1.25) | peak RSS /nginx |",
          "| --- | --- | ---: | ---: | ---: |"]
for scenario in SCENARIOS:
    for row in [s for s in SERVERS if s != "nginx"]:
        vals = [med(s, scenario, k) for s in (row, "nginx") for k in ("mb_s", "cpu_s_per_gb", "peak_rss_mib")]
        if None in vals:
            continue
        ts, cs, rs, tn, cn, rn = vals
        ratio = lambda a, b: f"{a / b:.2f}" if b else "-"
        lines.append(f"| {scenario} | {row} | {ratio(ts, tn)} | {ratio(cs, cn)} | {ratio(rs, rn)} |")
report = "\n".join(lines) + "\n"
print(report)
if out:
    Path(out).write_text(report)
    Path(out).with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
shutil.rmtree(work, ignore_errors=True)
