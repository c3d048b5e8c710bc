"""The chart's pods, run: every helm/cisco-tftp/ci/*-values.yaml rendered with the Helm SDK and
played with podman (`podman kube play`, Debian 12's podman 4.3), then phones boot through it.

Images: built with podman from packaging/docker/ on a debootstrap'd Debian base, from the .deb
files packaging/build-debs.sh makes (pod_images.py; cached between runs by an inputs label).
The Kea image is the chart's default series, 3.0 (CISCO_TFTP_PODS_KEA_SERIES=2.2 or 2.6 picks
another, not run so far): one Kea series here keeps the run short; the chart's per-series differences are
rendered and checked by test_helm.py on every series.

The network: a namespace `cpods-node` stands for the Kubernetes node (podman runs inside it,
so a pod's hostNetwork is that namespace and podman's bridge and NAT rules live there), and
`cpods-ph` holds the phones, the DHCP relay and the HTTP origin, linked to the node by a veth
(node 10.231.7.1 = the Service's address, phones' side 10.231.7.2). What podman cannot play
is converted (kube_to_podman.py: DaemonSet -> Pod, Service -> host ports on 10.231.7.1,
replicas -> 1, subPath -> own volumes; ServiceAccount, PodDisruptionBudget and the Prometheus
Operator's monitors are left out), each change printed.

Per values file:
- every container's security settings, as the chart declares them, are what its process runs
  with, read from inside (/proc/1/status of the container: Uid, Gid, CapEff, CapBnd,
  NoNewPrivs, Seccomp; a write to / fails);
- phones (7941, 7961, 8841, 7921) boot: DHCP from the Kea pod (kea-relay: through a relay to
  the Service's port 67, NATed to Kea's 6067 and back; kea-hostnetwork: broadcast on the
  node's eth1), or, where the chart has no Kea, from the host's kea-dhcp4 on the node's
  segment; option 150 names the Service's/node's address; files over TFTP (single-port
  through the Service's NAT in the Service modes) and HTTP 6970 from the sidecar pod, with the
  firmware from the HTTP origin or the hostPath/ConfigMap root;
- the sidecar's /metrics (scraped through the metrics Service's port) counts the transfers,
  and in the Kea modes reads the hook's statistics over Kea's control socket in the pod.

Test-only values (an overlay on each ci file, printed): the images' repository, the phones'
subnet and the hook's server lists (the node's address instead of example addresses), the
origin URL (also where the values leave the root empty) and hostPath root (this test's).
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk (tests/requirements.txt)")

from kube_to_podman import convert  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "cisco-tftp"
CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
SERIES = os.environ.get("CISCO_TFTP_PODS_KEA_SERIES", "3.0")
RELEASE = "cpods"
NODE_NS, PHONES_NS = "cpods-node", "cpods-ph"
NODE, PHONES = "10.231.7.1", "10.231.7.2"
SUBNET, POOL = "10.231.7.0/24", "10.231.7.100 - 10.231.7.150"
ORIGIN_PORT = 8080
PHONE_SIM = REPO / "target" / "debug" / "phone-sim"
TOOLS = ["podman", "debootstrap", "runc", "catatonit", "nsenter", "curl"]
CAP_BITS = {"CHOWN": 0, "DAC_OVERRIDE": 1, "FOWNER": 3, "KILL": 5, "SETGID": 6, "SETUID": 7,
            "NET_BIND_SERVICE": 10, "NET_ADMIN": 12, "NET_RAW": 13, "SYS_CHROOT": 18}


def _missing_tools() -> list[str]:
    found = {t: shutil.which(t) or (Path("/usr/bin") / t).exists() or (Path("/usr/sbin") / t).exists()
             for t in TOOLS}
    if not Path("/usr/libexec/podman/catatonit").exists() and not shutil.which("catatonit"):
        found["catatonit"] = False
    return [t for t, ok in found.items() if not ok]


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="podman pods, namespaces and debootstrap: needs root"),
    pytest.mark.skipif(bool(_missing_tools()),
                       reason=f"needs {', '.join(_missing_tools())} (scripts/setup.sh installs them)"),
]


def run(cmd, check=True, timeout=300, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} -> {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


# ---------------------------------------------------------------- images (once per session)


@pytest.fixture(scope="module")
def images():
    import pod_images
    from test_packages import HOST_SERIES, HOOK_PKG, SIDECAR_PKG, build_debs, build_hook_deb

    t = time.monotonic()
    debs = build_debs()  # the sidecar package (and the host's hook), shared with test_packages
    hook = debs[HOOK_PKG] if SERIES == HOST_SERIES else build_hook_deb(SERIES)
    kea, kea_built = pod_images.kea_image(SERIES, hook)
    sidecar, sidecar_built = pod_images.sidecar_image(SERIES, debs[SIDECAR_PKG])
    print(f"images: {kea} ({'built' if kea_built else 'cached'}), {sidecar} "
          f"({'built' if sidecar_built else 'cached'}) in {time.monotonic() - t:.0f} s")
    return {"kea": kea, "sidecar": sidecar}


# ---------------------------------------------------------------- the node and the phones' side


def ns(name, *cmd, check=True, timeout=60):
    return run(["ip", "netns", "exec", name, *cmd], check=check, timeout=timeout)


@contextlib.contextmanager
def network():
    for n in (NODE_NS, PHONES_NS):
        run(["ip", "netns", "del", n], check=False)
    run(["ip", "netns", "add", NODE_NS])
    run(["ip", "netns", "add", PHONES_NS])
    try:
        run(["ip", "link", "add", "eth1", "netns", NODE_NS, "type", "veth", "peer", "name", "ph0",
             "netns", PHONES_NS])
        ns(NODE_NS, "ip", "addr", "add", f"{NODE}/24", "dev", "eth1")
        ns(PHONES_NS, "ip", "addr", "add", f"{PHONES}/24", "dev", "ph0")
        for n, dev in ((NODE_NS, "eth1"), (PHONES_NS, "ph0")):
            ns(n, "ip", "link", "set", "lo", "up")
            ns(n, "ip", "link", "set", dev, "up")
        ns(NODE_NS, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        yield
    finally:
        for n in (NODE_NS, PHONES_NS):
            run(["ip", "netns", "del", n], check=False)


@contextlib.contextmanager
def origin(root: Path):
    """The phones' HTTP file origin, in the phones' namespace (pods reach it through the node)."""
    p = subprocess.Popen(["ip", "netns", "exec", PHONES_NS, "python3", "-m", "http.server", "-b",
                          PHONES, "-d", str(root), str(ORIGIN_PORT)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while ns(PHONES_NS, "curl", "-sf", "-o", "/dev/null", f"http://{PHONES}:{ORIGIN_PORT}/",
                 check=False).returncode != 0:
            assert time.monotonic() < deadline and p.poll() is None, "the origin did not start"
            time.sleep(0.2)
        yield f"http://{PHONES}:{ORIGIN_PORT}/"
    finally:
        p.terminate()
        p.wait(10)


@contextlib.contextmanager
def segment_dhcp(tmp: Path):
    """For the sidecar-only modes: the site's DHCP server on the node's segment (the host's
    kea-dhcp4 in the node namespace, on eth1), option 150 = the node's address."""
    conf = {"Dhcp4": {
        "interfaces-config": {"interfaces": ["eth1"]},
        "lease-database": {"type": "memfile", "persist": False},
        "option-def": [{"name": "tftp-servers", "code": 150, "type": "ipv4-address", "array": True}],
        "subnet4": [{"id": 1, "subnet": SUBNET, "pools": [{"pool": POOL}],
                     "option-data": [{"name": "tftp-servers", "data": NODE, "always-send": True}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "INFO",
                     "output_options": [{"output": str(tmp / "segment-kea.log")}]}]}}
    path = tmp / "segment-kea.conf"
    path.write_text(json.dumps(conf))
    env = {**os.environ, "KEA_PIDFILE_DIR": str(tmp), "KEA_LOCKFILE_DIR": "none"}
    p = subprocess.Popen(["ip", "netns", "exec", NODE_NS, "kea-dhcp4", "-c", str(path)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "DHCP4_STARTED" in (tmp / "segment-kea.log").read_text()
                 if (tmp / "segment-kea.log").exists() else False, 20, "the segment's Kea to start")
        yield
    finally:
        p.terminate()
        p.wait(10)


def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)


# ---------------------------------------------------------------- podman in the node


def podman_env(tmp: Path) -> dict:
    # podman kube play has no --ulimit; podman's defaults are above this machine's hard limits.
    conf = tmp / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n')
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(*args, env=None, check=True, timeout=300, in_node=False):
    import pod_images
    cmd = [*pod_images.PODMAN, *args]
    if in_node:
        # nsenter, not `ip netns exec`: that remounts /sys, and podman needs the cgroup tree.
        cmd = ["nsenter", f"--net=/run/netns/{NODE_NS}", *cmd]
    return run(cmd, check=check, timeout=timeout, env=env)


@contextlib.contextmanager
def played(manifest: Path, env: dict, volumes: list[str]):
    before = set(podman("volume", "ls", "-q", env=env).stdout.split())
    try:
        # --replace: a pod a killed run left behind is taken down first.
        r = podman("kube", "play", "--replace", str(manifest), env=env, in_node=True, check=False,
                   timeout=600)
        assert r.returncode == 0, f"podman kube play failed:\n{r.stdout}\n{r.stderr}"
        yield
    finally:
        podman("kube", "down", str(manifest), env=env, in_node=True, check=False, timeout=300)
        after = set(podman("volume", "ls", "-q", env=env).stdout.split())
        for v in sorted((after - before) | (after & set(volumes))):
            podman("volume", "rm", "-f", v, env=env, check=False)


def container_name(pod: str, container: str) -> str:
    return f"{pod}-{container}"


def pod_name(doc: dict) -> str:
    return doc["metadata"]["name"] + ("-pod-0" if doc["kind"] == "Deployment" else "")


# ---------------------------------------------------------------- what the pods run with


def proc_status(ct: str, env) -> dict[str, str]:
    out = podman("exec", ct, "cat", "/proc/1/status", env=env).stdout
    return dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)


def cap_set(hexmask: str) -> set[str]:
    mask = int(hexmask.strip(), 16)
    names = {bit: name for name, bit in CAP_BITS.items()}
    return {names.get(b, f"cap{b}") for b in range(64) if mask >> b & 1}


def check_security(pod_spec: dict, pod: str, env) -> list[str]:
    """Each container's declared security context against its running process. Returns the
    lines of what was checked (printed)."""
    psc = pod_spec.get("securityContext", {})
    seen = []
    for c in pod_spec["containers"]:
        sc = c.get("securityContext", {})
        ct = container_name(pod, c["name"])
        st = proc_status(ct, env)
        cmdline = podman("exec", ct, "cat", "/proc/1/cmdline", env=env).stdout.replace("\0", " ")
        assert Path(c["command"][0]).name in cmdline, f"{ct}: pid 1 is {cmdline!r}, not {c['command']}"
        uid = int(st["Uid"].split()[0])
        gid = int(st["Gid"].split()[0])
        want_uid = sc.get("runAsUser", psc.get("runAsUser"))
        want_gid = sc.get("runAsGroup", psc.get("runAsGroup"))
        if want_uid is not None:
            assert uid == want_uid, f"{ct}: uid {uid}, the chart says {want_uid}"
        if want_gid is not None:
            assert gid == want_gid, f"{ct}: gid {gid}, the chart says {want_gid}"
        if sc.get("runAsNonRoot", psc.get("runAsNonRoot")):
            assert uid != 0 and gid != 0, f"{ct}: runs as {uid}:{gid}"
        added = set(sc.get("capabilities", {}).get("add", []))
        assert sc.get("capabilities", {}).get("drop") == ["ALL"], f"{ct}: the chart drops {sc.get('capabilities')}"
        bnd, eff = cap_set(st["CapBnd"]), cap_set(st["CapEff"])
        assert bnd == added, f"{ct}: bounding set {sorted(bnd)}, the chart adds {sorted(added)}"
        assert eff <= added, f"{ct}: effective {sorted(eff)} beyond {sorted(added)}"
        nnp = st["NoNewPrivs"].strip() == "1"
        assert nnp == (sc.get("allowPrivilegeEscalation") is False), \
            f"{ct}: NoNewPrivs {nnp}, allowPrivilegeEscalation {sc.get('allowPrivilegeEscalation')}"
        seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
        if seccomp == "RuntimeDefault":
            assert st["Seccomp"].strip() == "2", f"{ct}: Seccomp {st['Seccomp']} (2 = filter)"
        if sc.get("readOnlyRootFilesystem"):
            w = podman("exec", ct, "sh", "-c", "echo x > /cisco-tftp-probe", env=env, check=False)
            assert w.returncode != 0 and "Read-only file system" in w.stderr, f"{ct}: / is writable: {w}"
        seen.append(f"{ct}: uid {uid} gid {gid} CapEff {sorted(eff)} CapBnd {sorted(bnd)} "
                    f"NoNewPrivs {int(nnp)} Seccomp {st['Seccomp'].strip()} "
                    f"read-only / {bool(sc.get('readOnlyRootFilesystem'))}")
    # podman removes an init container once it has run: what it made is the evidence. The
    # chart's makes Kea's socket directory (`install -d -m 0750 /run/kea`) in a shared volume.
    for c in pod_spec.get("initContainers", []):
        cmd = c["command"]
        assert cmd[:3] == ["install", "-d", "-m"], f"no check for init container {c['name']}: {cmd}"
        vols = {m["name"] for m in c["volumeMounts"]}
        user = next(m for m in pod_spec["containers"] if vols & {v["name"] for v in m.get("volumeMounts", [])})
        ct = container_name(pod, user["name"])
        uid = c.get("securityContext", {}).get("runAsUser", psc.get("runAsUser"))
        got = podman("exec", ct, "stat", "-c", "%a %u", cmd[-1], env=env).stdout.split()
        assert got == [cmd[3].lstrip("0"), str(uid)], f"{cmd[-1]} in {ct}: mode/uid {got}, {c['name']} runs {cmd}"
        seen.append(f"init container {c['name']}: {cmd[-1]} is {got[0]}, uid {got[1]} (seen from {user['name']})")
    return seen


# ---------------------------------------------------------------- values and manifests


def overlay_values(values: dict, images: dict, root: Path, origin_url: str) -> dict:
    """The overlay on a ci file (see the module's docstring)."""
    v = copy.deepcopy(values)
    v.setdefault("kea", {})["image"] = {"repository": images["kea"].rsplit(":", 1)[0]}
    v.setdefault("sidecar", {})["image"] = {"repository": images["sidecar"].rsplit(":", 1)[0],
                                            "tag": images["sidecar"].rsplit(":", 1)[1]}
    if v.get("mode", "sidecar-service").startswith("kea-"):
        v["kea"]["version"] = SERIES
        hp = v["kea"]["hookParameters"]
        hp["servers"] = [NODE]
        for key in ("families", "models"):
            for name in hp.get(key, {}):
                hp[key][name] = [NODE]
        v["kea"]["subnets"] = [{"id": 31, "subnet": SUBNET, "pools": [{"pool": POOL}]}]
    # The files come from this test's origin where the values name one or leave the root
    # empty (tftpRoot emptyDir or none: "use with origin.url").
    if v.get("origin", {}).get("url") or v.get("tftpRoot", {}).get("type", "emptyDir") in ("emptyDir", "none"):
        v.setdefault("origin", {})["url"] = origin_url
    if v.get("tftpRoot", {}).get("type") == "hostPath":
        v["tftpRoot"]["hostPath"] = str(root)
    return v


def rendered(values: dict) -> list[dict]:
    with helm.Chart.load(CHART) as c:
        out = c.render(values, name=RELEASE, namespace="telephony")
    return [d for p, t in sorted(out.items()) if not p.endswith("NOTES.txt")
            for d in yaml.safe_load_all(t) if d]


def external_configmaps(values: dict, root: Path) -> list[dict]:
    """What a cluster admin supplies: the ConfigMap a `tftpRoot.type: configMap` names (the
    phones' config files; firmware comes from the origin)."""
    if values.get("tftpRoot", {}).get("type") != "configMap":
        return []
    files = {p.name: p.read_text() for p in sorted(root.glob("*.cnf.xml"))}
    return [{"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": values["tftpRoot"]["configMap"]}, "data": files}]


@pytest.fixture(scope="module")
def firmware():
    """An example TFTP root, readable by the pods' users (hostPath), and the phones' MACs."""
    if not PHONE_SIM.exists():
        pytest.skip(f"needs {PHONE_SIM} (make build)")
    root = Path(tempfile.mkdtemp(prefix="cisco-tftp-pods-root-", dir="/var/tmp"))
    run([str(PHONE_SIM), "firmware", str(root), "--count", "4", "--load-bytes", "400000"])
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    yield root
    shutil.rmtree(root, ignore_errors=True)


# ---------------------------------------------------------------- the test


@pytest.fixture
def pods_lock():
    """One session at a time plays these pods (fixed namespace and pod names)."""
    import fcntl
    with open("/run/lock/cisco-tftp-pods.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def boot_phones(relay: bool) -> dict:
    how = ["--relay", PHONES, "--server", NODE] if relay else ["--iface", "ph0"]
    r = ns(PHONES_NS, str(PHONE_SIM), "--json", "boot", *how, "--count", "4", "--timeout-ms", "500",
           "--dhcp-timeout-ms", "1000", check=False, timeout=240)
    try:
        return json.loads(r.stdout)
    except ValueError:
        raise AssertionError(f"phone-sim: {r.returncode}\n{r.stdout}\n{r.stderr}")


TFTP_REPLY_SOURCE = r"""
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 0)); s.settimeout(3)
s.sendto(b"\0\1XMLDefault.cnf.xml\0octet\0", (sys.argv[2], 69))
data, src = s.recvfrom(2048)
s.sendto(struct.pack("!HH", 5, 0) + b"done\0", src)  # ERROR: stop the transfer
print(f"{src[0]}:{src[1]} {struct.unpack('!H', data[:2])[0]}")
"""


def tftp_reply_source() -> str:
    """Where a phone sees the first DATA come from (address:port, opcode)."""
    return ns(PHONES_NS, "python3", "-c", TFTP_REPLY_SOURCE, PHONES, NODE).stdout.strip()


def metrics() -> str:
    return ns(PHONES_NS, "curl", "-sf", f"http://{NODE}:9169/metrics").stdout


def metric_sum(text: str, name: str, **labels) -> float:
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{name}(\{{[^}}]*\}})?\s+(\S+)$", line)
        if m and all(f'{k}="{v}"' in (m[1] or "") for k, v in labels.items()):
            total += float(m[2])
    return total


@pytest.mark.parametrize("ci", CI_FILES, ids=[p.name.removesuffix("-values.yaml") for p in CI_FILES])
def test_chart_pods_boot_phones(ci, images, firmware, tmp_path, pods_lock):
    t0 = time.monotonic()
    values = yaml.safe_load(ci.read_text()) or {}
    mode = values.get("mode", "sidecar-service")
    env = podman_env(tmp_path)
    with network(), origin(firmware) as origin_url:
        v = overlay_values(values, images, firmware, origin_url)
        docs = rendered(v) + external_configmaps(v, firmware)
        play, notes = convert(docs, NODE)
        manifest = tmp_path / "play.yaml"
        manifest.write_text(yaml.safe_dump_all(play, sort_keys=False))
        print(f"\n== {ci.name} (mode {mode}, Kea {SERIES}); converted for podman 4.3:")
        for n in notes:
            print("  ", n)
        workload = next(d for d in play if d["kind"] in ("Pod", "Deployment"))
        spec = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
        pod = pod_name(workload)
        volumes = [d["metadata"]["name"] for d in play if d["kind"] == "PersistentVolumeClaim"]
        volumes += [vol["name"] for vol in spec.get("volumes", []) if "emptyDir" in vol]
        has_kea = any(c["name"] == "kea-dhcp4" for c in spec["containers"])
        with contextlib.ExitStack() as stack:
            if not has_kea:
                stack.enter_context(segment_dhcp(tmp_path))
            stack.enter_context(played(manifest, env, volumes))
            if has_kea:
                kea_ct = container_name(pod, "kea-dhcp4")
                wait_for(lambda: "DHCP4_STARTED" in podman("logs", kea_ct, env=env, check=False).stdout
                         + podman("logs", kea_ct, env=env, check=False).stderr, 60, "Kea in the pod")
            wait_for(lambda: ns(PHONES_NS, "curl", "-sf", f"http://{NODE}:9169/readyz",
                                check=False).returncode == 0, 60, "the sidecar's /readyz")
            for line in check_security(spec, pod, env):
                print("  ", line)

            if not spec.get("hostNetwork"):
                # Behind the Service's NAT only single-port replies find their way back as
                # Kubernetes does it: from the Service's address and port 69.
                assert tftp_reply_source() == f"{NODE}:69 3", tftp_reply_source()
            result = boot_phones(relay=(mode == "kea-relay"))
            summary = result["summary"]
            failures = {p["name"]: (p["failure"], p["transcript"][-5:]) for p in result["phones"] if p["failure"]}
            assert summary["up"] == 4 and not failures, failures
            for p in result["phones"]:
                assert p["option150"] == [NODE], (p["name"], p["option150"])
                assert p["tftp_server"] == NODE, (p["name"], p["tftp_server"])
            via = {p["model"]: p["http_files"] for p in result["phones"]}
            assert via["8841"] > 0, f"the 8841 fetched nothing over HTTP 6970: {via}"
            assert via["7941"] == 0
            print(f"   phones up: {summary['up']}/4, {summary['bytes']} bytes, "
                  f"boot p50 {summary['boot_ms_p50']:.0f} ms")

            text = metrics()
            done_tftp = metric_sum(text, "tftp_transfers_completed_total", protocol="tftp")
            done_http = metric_sum(text, "tftp_transfers_completed_total", protocol="http")
            assert done_tftp > 0 and done_http > 0, (done_tftp, done_http)
            if has_kea:
                # The sidecar reads the hook's statistics over Kea's socket in /run/kea.
                def kea_seen():
                    t = metrics()
                    return metric_sum(t, "tftp_kea_up") == 1 and metric_sum(t, "tftp_kea_option150_sent_total") >= 4
                wait_for(kea_seen, 20, "tftp_kea_up 1 and the hook's option 150 count in /metrics")
            print(f"   /metrics: {done_tftp:.0f} TFTP and {done_http:.0f} HTTP transfers"
                  + (", Kea's hook statistics bridged" if has_kea else ""))
    print(f"   {ci.name}: {time.monotonic() - t0:.0f} s")
