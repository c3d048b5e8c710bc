"""The cisco-tftp Helm chart, rendered offline with the real Helm SDK (helm-python-sdk bundles
Helm v4's Go code as a shared library: no helm binary, no cluster).

Every ci/*-values.yaml is schema-checked, rendered, linted, validated against Kubernetes'
schemas (kubernetes-validate --strict), and checked for what matters: single-port mode behind a
Service, the hook's parameters in Kea's JSON, the dashboard ConfigMap, security contexts,
probes, checksum annotations. Where the tools are on the machine, the rendered Kea and sidecar
configurations are also fed to the real kea-dhcp4 -t, cisco-tftp-check and
tftp-sidecar --check-config.

Not exercised here: a live cluster (the pods run under podman in test_pods.py).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest
import yaml

helm = pytest.importorskip("helm_python", reason="pip install helm-python-sdk (tests/requirements.txt)")

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cisco-tftp"
DASHBOARD = CHART / "dashboards" / "cisco-tftp.json"
CI_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
CI_IDS = [p.name.removesuffix("-values.yaml") for p in CI_FILES]
MODES = {"kea-hostnetwork", "kea-relay", "sidecar-service", "sidecar-daemonset"}
SERVICE_MODES = {"kea-relay", "sidecar-service"}
HOSTNET_MODES = {"kea-hostnetwork", "sidecar-daemonset"}
HOOK_SO = "libdhcp_cisco_tftp.so"
HOOKS_DIR = "/usr/lib/x86_64-linux-gnu/kea/hooks"
# The Kea release series the chart supports (kea.version) and the host's (Debian 12: 2.2).
KEA_VERSIONS = ["2.2", "2.6", "3.0"]
HOST_KEA = "2.2"
# Kubernetes versions validated against: the chart's floor and the newest bundled schemas.
KUBE_VERSIONS = ["1.25.0", "1.37.0"]
# The Prometheus Operator's kinds: kubernetes-validate has no schemas for CRDs, so these are
# checked structurally in test_monitors_structure instead.
CRD_API_GROUPS = ("monitoring.coreos.com/",)
RELEASE, NAMESPACE = "voice", "telephony"
# Capabilities each container may hold, per mode: Kea needs raw sockets and port 67 only on
# the node's network; the sidecar needs NET_BIND_SERVICE only when it binds port 69 there.
EXPECTED_CAPS = {
    "kea-hostnetwork": {"kea-dhcp4": {"NET_BIND_SERVICE", "NET_RAW"}, "tftp-sidecar": {"NET_BIND_SERVICE"}},
    "kea-relay": {"kea-dhcp4": set(), "tftp-sidecar": set()},
    "sidecar-service": {"tftp-sidecar": set()},
    "sidecar-daemonset": {"tftp-sidecar": {"NET_BIND_SERVICE"}},
}


# ---------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def chart():
    with helm.Chart.load(CHART) as c:
        yield c


def load_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@functools.lru_cache(maxsize=None)
def _render_cached(values_json: str) -> dict[str, str]:
    with helm.Chart.load(CHART) as c:
        return c.render(json.loads(values_json), name=RELEASE, namespace=NAMESPACE)


def render(values: dict | None = None) -> dict[str, str]:
    """Template path -> rendered text (cached per distinct values)."""
    return _render_cached(json.dumps(values or {}, sort_keys=True))


def docs_of(rendered: dict[str, str]) -> list[dict]:
    out = []
    for path, text in sorted(rendered.items()):
        if path.endswith("NOTES.txt"):
            continue
        out.extend(d for d in yaml.safe_load_all(text) if d)
    return out


def one(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def workload(docs: list[dict]) -> dict:
    found = [d for d in docs if d["kind"] in ("Deployment", "DaemonSet")]
    assert len(found) == 1
    return found[0]


def containers(docs: list[dict]) -> dict[str, dict]:
    return {c["name"]: c for c in workload(docs)["spec"]["template"]["spec"]["containers"]}


def chart_configmap(docs: list[dict]) -> dict:
    return one(
        [d for d in docs if d["kind"] == "ConfigMap" and "tftp-sidecar.toml" in d.get("data", {})],
        "ConfigMap",
    )


def sidecar_toml(docs: list[dict]) -> dict:
    return tomllib.loads(chart_configmap(docs)["data"]["tftp-sidecar.toml"])


def kea_json(docs: list[dict]) -> dict:
    return json.loads(chart_configmap(docs)["data"]["kea-dhcp4.conf"])


def our_hook(kea: dict) -> dict:
    hooks = [h for h in kea["Dhcp4"]["hooks-libraries"] if Path(h["library"]).name == HOOK_SO]
    assert len(hooks) == 1, kea["Dhcp4"]["hooks-libraries"]
    return hooks[0]


def merged_values(chart, values: dict) -> dict:
    return chart.merge_values(values)


def ci_params():
    return pytest.mark.parametrize("ci", CI_FILES, ids=CI_IDS)


def checksum(docs: list[dict]) -> str:
    return workload(docs)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def render_error(values: dict) -> str:
    with pytest.raises(helm.HelmError) as e:
        with helm.Chart.load(CHART) as c:
            c.render(values, name=RELEASE, namespace=NAMESPACE)
    return str(e.value)


# ---------------------------------------------------------------- chart and schema


def test_ci_values_cover_every_mode():
    modes = {load_values(p).get("mode", "sidecar-service") for p in CI_FILES}
    assert modes == MODES, f"ci/*-values.yaml cover {sorted(modes)}, not every mode {sorted(MODES)}"


def test_chart_metadata_and_fixed_image_tags(chart):
    meta = chart.metadata
    assert meta["apiVersion"] == "v2" and meta["name"] == "cisco-tftp"
    values = chart.values
    tag = str(values["sidecar"]["image"]["tag"])
    assert tag and tag.lower() != "latest", f"sidecar.image.tag must be fixed, got {tag!r}"
    assert tag == str(meta["appVersion"]), "default image tags follow appVersion"
    # Kea's image follows appVersion and kea.version (one image per Kea series).
    assert values["kea"]["image"]["tag"] == "" and values["kea"]["version"] == "3.0"


def _walk_schema(node, path="$"):
    if isinstance(node, dict):
        yield path, node
        for k, v in node.items():
            yield from _walk_schema(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_schema(v, f"{path}[{i}]")


# Objects passed through to Kea verbatim (Kea's own schema is its parser): a Kea subnet4 entry
# names only the keys the chart reads; the rest is Kea's to check.
PASSTHROUGH_SCHEMA_PATHS = {"$.properties.kea.properties.subnets.items"}


def test_schema_is_draft07_and_closed_everywhere(chart):
    schema = chart.schema
    assert schema is not None
    assert schema["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(schema)
    open_objects = [
        path
        for path, node in _walk_schema(schema)
        if isinstance(node, dict)
        and "properties" in node
        and node.get("additionalProperties") is not False
        and path not in PASSTHROUGH_SCHEMA_PATHS
    ]
    assert not open_objects, f"objects with properties but open to unknown keys: {open_objects}"


@pytest.mark.parametrize("path", [CHART / "values.yaml", *CI_FILES], ids=["values.yaml", *CI_IDS])
def test_values_pass_the_schema(chart, path):
    values = load_values(path)
    chart.validate_schema(values)  # Helm's own validator
    jsonschema.Draft7Validator(chart.schema).validate(merged_values(chart, values))  # and a second one


TYPOS = [
    ({"sidecar": {"config": {"blksize_mx": 1428}}}, "blksize_mx"),
    ({"sidecar": {"config": {"store": {"orgin-url": "http://x/"}}}}, "orgin-url"),
    ({"serviceMonitr": {"enabled": True}}, "serviceMonitr"),
    ({"kea": {"hookParameters": {"serverz": ["10.0.0.1"]}}}, "serverz"),
    ({"kea": {"hookParameters": {"sites": [{"name": "a", "relay": ["10.0.0.1"]}]}}}, "relay"),
    ({"grafanaDashboard": {"enabled": "true"}}, "grafanaDashboard"),  # a string for a boolean
    ({"mode": "kea-hostnet"}, "mode"),
    ({"kea": {"image": {"tag": "latest"}}}, "tag"),
    ({"kea": {"version": "2.4"}}, "version"),  # no Kea 2.4 build or test here
    ({"kea": {"version": 3.0}}, "version"),  # a number, not the series string
    ({"kea": {"controlSocket": "/tmp/kea4.sock"}}, "controlSocket"),  # Kea 2.6.3+: /run/kea only
    ({"kea": {"hookParameters": {"servers": ["10.0.0.300"]}}}, "servers"),
    ({"podSecurityContext": {"runAsNonRoot": False}}, "runAsNonRoot"),
    ({"sidecar": {"config": {"write_enabled": True}}}, "write_enabled"),
]


@pytest.mark.parametrize("values,needle", TYPOS, ids=[n for _, n in TYPOS])
def test_typos_and_wrong_types_are_rejected(chart, values, needle):
    with pytest.raises(helm.HelmValuesError) as e:
        chart.validate_schema(values)
    assert needle in str(e.value), str(e.value)
    # install/template paths reject it too (render validates against the schema first)
    assert needle in render_error(values)


def test_values_file_with_a_typo_fails_lint(tmp_path):
    bad = tmp_path / "typo-values.yaml"
    text = (CHART / "ci" / "sidecar-service-values.yaml").read_text().replace("per_client_max:", "per_client_mx:")
    assert "per_client_mx" in text
    bad.write_text(text)
    report = helm.lint(CHART, load_values(bad), strict=True)
    errors = [m for m in report["messages"] if m["severity"] >= 3]
    assert errors and any("per_client_mx" in m["error"] for m in errors), report


def test_template_checks_the_schema_cannot_express():
    assert "kea.hookParameters" in render_error({"mode": "kea-relay"})
    ok_hook = {"servers": ["10.0.0.10"]}
    assert "replicaCount" in render_error({"mode": "kea-relay", "replicaCount": 2, "kea": {"hookParameters": ok_hook}})
    assert "origin.url" in render_error({"cache": {"disk": {"enabled": True}}})
    assert "origin.url" in render_error({"tftpRoot": {"type": "none"}})
    assert "existingClaim" in render_error({"tftpRoot": {"type": "pvc"}})
    assert "portRange" in render_error({"mode": "sidecar-daemonset", "sidecar": {"portMode": "range"}})
    assert "hooks directory" in render_error(
        {"mode": "kea-relay", "kea": {"hookParameters": ok_hook, "hookLibrary": "/opt/hooks/" + HOOK_SO}})
    assert "full path" in render_error(
        {"mode": "kea-relay", "kea": {"version": "2.2", "hookParameters": ok_hook, "hookLibrary": HOOK_SO}})
    assert "extraDhcp4.subnet4" in render_error(
        {"mode": "kea-relay", "kea": {"hookParameters": ok_hook, "extraDhcp4": {"subnet4": []}}}
    )


# ---------------------------------------------------------------- render, lint, kubernetes schemas


LINT_INFO_ALLOWED = {"icon is recommended"}  # severity 1 (info); the chart has no icon to point at


@pytest.mark.parametrize("path", [None, *CI_FILES], ids=["defaults", *CI_IDS])
def test_lint_clean(path):
    values = load_values(path) if path else {}
    report = helm.lint(CHART, values, strict=True, namespace=NAMESPACE, kube_version="v1.30.0")
    assert report["total_charts_linted"] == 1
    assert not report["errors"], report
    noisy = [m for m in report["messages"] if m["severity"] >= 2 or m["error"] not in LINT_INFO_ALLOWED]
    assert not noisy, noisy


@ci_params()
def test_renders_valid_objects_with_recommended_labels(ci):
    values = load_values(ci)
    rendered = render(values)
    docs = docs_of(rendered)
    kinds = sorted(d["kind"] for d in docs)
    assert {"ConfigMap", "ServiceAccount"} <= set(kinds)
    assert kinds.count("Deployment") + kinds.count("DaemonSet") == 1
    names = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(names) == len(set(names)), "duplicate objects"
    for d in docs:
        labels = d["metadata"].get("labels", {})
        for key in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "helm.sh/chart"):
            assert key in labels, f"{d['kind']}/{d['metadata']['name']} lacks {key}"
        assert labels["app.kubernetes.io/instance"] == RELEASE
    notes = next(v for k, v in rendered.items() if k.endswith("NOTES.txt"))
    assert values["mode"] in notes
    # every image pinned
    pod = workload(docs)["spec"]["template"]["spec"]
    for c in pod["containers"]:
        repo, _, tag = c["image"].rpartition(":")
        assert repo and tag and tag != "latest", c["image"]


def _kubernetes_validate(docs: list[dict], tmp_path: Path) -> subprocess.CompletedProcess:
    f = tmp_path / "manifests.yaml"
    f.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    exe = Path(sys.executable).with_name("kubernetes-validate")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "kubernetes_validate"]
    for v in KUBE_VERSIONS:
        cmd += ["-k", v]
    return subprocess.run(cmd + ["--strict", "--quiet", str(f)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("path", [None, *CI_FILES], ids=["defaults", *CI_IDS])
def test_kubernetes_validate_strict(path, tmp_path):
    docs = docs_of(render(load_values(path) if path else {}))
    core = [d for d in docs if not d["apiVersion"].startswith(CRD_API_GROUPS)]
    r = _kubernetes_validate(core, tmp_path)
    out = r.stdout + r.stderr
    assert r.returncode == 0 and "ERROR" not in out and "WARN" not in out, out


def test_kubernetes_validate_catches_a_bad_field(tmp_path):
    """The validator is really strict: an unknown field in a container fails."""
    docs = docs_of(render(load_values(CHART / "ci" / "sidecar-service-values.yaml")))
    bad = copy.deepcopy(docs)
    workload(bad)["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = True
    r = _kubernetes_validate(bad, tmp_path)
    assert r.returncode != 0, r.stdout


# ---------------------------------------------------------------- what matters per mode


@ci_params()
def test_single_port_forced_behind_a_service(chart, ci):
    values = merged_values(chart, load_values(ci))
    mode = values["mode"]
    docs = docs_of(render(load_values(ci)))
    toml = sidecar_toml(docs)
    pod = workload(docs)["spec"]["template"]["spec"]
    tftp_port = next(p for p in containers(docs)["tftp-sidecar"]["ports"] if p["name"] == "tftp")
    listen_port = int(toml["listen"][0].rsplit(":", 1)[1])
    assert tftp_port["containerPort"] == listen_port and tftp_port["protocol"] == "UDP"
    udp_services = [d for d in docs if d["kind"] == "Service" and not d["metadata"]["name"].endswith("-metrics")]
    if mode in SERVICE_MODES:
        assert toml["port_mode"] == "single-port"
        assert "port_range" not in toml
        assert not pod.get("hostNetwork")
        svc = one(udp_services, "Service")
        assert svc["spec"]["type"] in ("LoadBalancer", "NodePort")
        ports = {p["name"]: p for p in svc["spec"]["ports"]}
        assert ports["tftp"]["protocol"] == "UDP" and ports["tftp"]["targetPort"] == "tftp"
        assert ports["tftp"]["port"] == values["sidecar"]["tftpPort"]
        assert listen_port == values["sidecar"]["containerPort"] >= 1024
        assert svc["spec"]["selector"].items() <= workload(docs)["spec"]["template"]["metadata"]["labels"].items()
        if mode == "kea-relay":
            assert ports["dhcp"]["protocol"] == "UDP" and ports["dhcp"]["port"] == 67
            kea = containers(docs)["kea-dhcp4"]
            assert kea["ports"][0]["containerPort"] == values["kea"]["port"]
            assert kea["args"][-2:] == ["-p", str(values["kea"]["port"])]
            assert kea_json(docs)["Dhcp4"]["interfaces-config"]["dhcp-socket-type"] == "udp"
        else:
            assert set(ports) == {"tftp", "http"}
    else:
        assert pod["hostNetwork"] is True and pod["dnsPolicy"] == "ClusterFirstWithHostNet"
        assert not udp_services
        assert listen_port == values["sidecar"]["tftpPort"]
        want = values["sidecar"]["portMode"]
        assert toml["port_mode"] == ("ephemeral" if want == "auto" else want)
        if want == "range":
            assert toml["port_range"] == values["sidecar"]["portRange"]


@pytest.mark.parametrize("mode", sorted(SERVICE_MODES))
@pytest.mark.parametrize("port_mode", ["ephemeral", "range"])
def test_other_port_modes_refused_behind_a_service(mode, port_mode):
    values = {"mode": mode, "kea": {"hookParameters": {"servers": ["10.0.0.10"]}},
              "sidecar": {"portMode": port_mode, "portRange": "50000-50010"}}
    assert "single-port" in render_error(values)


def test_single_port_with_explicit_value_and_defaults():
    for values in ({}, {"sidecar": {"portMode": "single-port"}}):
        assert sidecar_toml(docs_of(render(values)))["port_mode"] == "single-port"


@ci_params()
def test_hook_parameters_equal_the_values(ci):
    raw = load_values(ci)
    if not raw["mode"].startswith("kea-"):
        docs = docs_of(render(raw))
        assert "kea-dhcp4.conf" not in chart_configmap(docs)["data"]
        assert "kea-dhcp4" not in containers(docs)
        return
    kea = kea_json(docs_of(render(raw)))
    hook = our_hook(kea)
    assert hook["parameters"] == raw["kea"]["hookParameters"]
    # kea.version 3.0 (default): the bare file name, resolved in Kea's hooks directory
    assert hook["library"] == HOOK_SO
    d = kea["Dhcp4"]
    assert d["subnet4"] == raw["kea"].get("subnets", [])
    assert d["interfaces-config"]["interfaces"] == raw["kea"]["interfaces"]
    extra = raw["kea"].get("extraHooks", [])
    assert d["hooks-libraries"][: len(extra)] == extra and d["hooks-libraries"][-1] == hook
    for key, value in raw["kea"].get("extraDhcp4", {}).items():
        assert d[key] == value
    assert d["control-socket"] == {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"}
    # the sidecar polls that socket for Kea's statistics
    assert sidecar_toml(docs_of(render(raw)))["kea"] == {"control-socket": "/run/kea/kea4-ctrl-socket", "poll-interval": 5}
    # the socket's directory is shared with the sidecar (which reads Kea's statistics there)
    # (the volume at /run: /run/kea itself is made 0750 by the init container, see
    # test_kea_version_follows_through)
    mounts = {c: {m["name"]: m for m in spec["volumeMounts"]} for c, spec in containers(docs_of(render(raw))).items()}
    assert mounts["kea-dhcp4"]["kea-run"]["mountPath"] == "/run"
    assert mounts["tftp-sidecar"]["kea-run"]["mountPath"] == "/run"
    assert mounts["tftp-sidecar"]["kea-run"].get("readOnly") is True


def _kea_config_for_this_machine(kea: dict, tmp_path: Path, hook_so: Path) -> Path:
    kea = copy.deepcopy(kea)
    d = kea["Dhcp4"]
    our_hook(kea)["library"] = str(hook_so)
    # other hooks named by the values live in the image, not necessarily here
    d["hooks-libraries"] = [h for h in d["hooks-libraries"] if h["library"] == str(hook_so) or Path(h["library"]).exists()]
    d["control-socket"]["socket-name"] = str(tmp_path / "kea4.sock")
    d["lease-database"]["name"] = str(tmp_path / "leases4.csv")
    d["interfaces-config"]["interfaces"] = ["lo"]
    f = tmp_path / "kea-dhcp4.conf"
    f.write_text(json.dumps(kea, indent=2))
    return f


KEA_CI = [p for p in CI_FILES if load_values(p)["mode"].startswith("kea-")]


@pytest.mark.parametrize("ci", KEA_CI, ids=[p.name for p in KEA_CI])
def test_rendered_kea_config_accepted_by_kea_and_the_hook(ci, tmp_path):
    """kea-dhcp4 -t (Kea 2.2 opens the hook but does not run load()) and cisco-tftp-check (the
    hook's own parameter check, the code load() runs), when they are on this machine."""
    kea_bin = shutil.which("kea-dhcp4")
    hook_so = ROOT / "target" / "debug" / HOOK_SO
    check_bin = ROOT / "target" / "debug" / "cisco-tftp-check"
    if not kea_bin or not hook_so.exists():
        pytest.skip("needs kea-dhcp4 and target/debug/libdhcp_cisco_tftp.so (make build)")
    raw = load_values(ci)
    raw["kea"]["version"] = HOST_KEA  # this machine's Kea
    conf = _kea_config_for_this_machine(kea_json(docs_of(render(raw))), tmp_path, hook_so)
    r = subprocess.run([kea_bin, "-t", str(conf)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    if check_bin.exists():
        r = subprocess.run([str(check_bin), str(conf)], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr


@ci_params()
def test_sidecar_toml_matches_values_and_is_accepted_by_the_sidecar(chart, ci, tmp_path):
    raw = load_values(ci)
    values = merged_values(chart, raw)
    toml = sidecar_toml(docs_of(render(raw)))
    managed = {"listen", "metrics_listen", "http_listen", "http_sendfile_dir", "port_mode", "port_range", "root",
               "store", "kea"}
    assert ("kea" in toml) == values["mode"].startswith("kea-")
    user = values["sidecar"]["config"]
    for key, value in user.items():
        if key != "store":
            assert toml[key] == value, key
    assert set(toml) - managed <= set(user) | set(values["sidecar"]["extraConfig"])
    store = toml.get("store", {})
    for key, value in user.get("store", {}).items():
        assert store[key] == value, key
    assert store.get("origin-url") == (values["origin"]["url"] or None)
    disk = values["cache"]["disk"]
    assert store.get("disk-dir") == (disk["mountPath"] if disk["enabled"] else None)
    # Large HTTP bodies' sendfile copies: the cache volume, else memory (the pod's /tmp is small).
    assert toml["http_sendfile_dir"] == user.get("http_sendfile_dir", disk["mountPath"] if disk["enabled"] else "memory")
    assert toml.get("root") == (None if values["tftpRoot"]["type"] == "none" else values["tftpRoot"]["mountPath"])
    assert toml["metrics_listen"].endswith(f":{values['sidecar']['metricsPort']}")
    assert toml["http_listen"][0].endswith(f":{values['sidecar']['httpPort']}")

    exe = ROOT / "target" / "debug" / "tftp-sidecar"
    if not exe.exists():
        pytest.skip("target/debug/tftp-sidecar not built (make build): TOML checked in Python only")
    text = chart_configmap(docs_of(render(raw)))["data"]["tftp-sidecar.toml"]
    (tmp_path / "root").mkdir()
    (tmp_path / "cache").mkdir()
    if "root" in toml:
        text = text.replace(f'root = "{toml["root"]}"', f'root = "{tmp_path / "root"}"')
    if "disk-dir" in store:
        text = text.replace(f'disk-dir = "{store["disk-dir"]}"', f'disk-dir = "{tmp_path / "cache"}"')
    if toml["http_sendfile_dir"] != "memory":
        text = text.replace(f'http_sendfile_dir = "{toml["http_sendfile_dir"]}"',
                            f'http_sendfile_dir = "{tmp_path / "cache"}"')
    conf = tmp_path / "tftp-sidecar.toml"
    conf.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFTP_SIDECAR_")}
    r = subprocess.run([str(exe), "--config", str(conf), "--check-config"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def _image_env() -> dict[str, str]:
    """TFTP_SIDECAR_* variables the sidecar image sets (ENV in its Dockerfile)."""
    import re
    import shlex

    dockerfile = ROOT / "packaging" / "docker" / "tftp-sidecar.Dockerfile"
    if not dockerfile.exists():
        return {}
    text = dockerfile.read_text().replace("\\\n", " ")
    env = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            for word in shlex.split(line[4:]):
                k, _, v = word.partition("=")
                env[k] = v
    return {k: v for k, v in env.items() if k.startswith("TFTP_SIDECAR_")}


@ci_params()
def test_container_environment_cannot_override_the_toml(ci):
    """The environment wins over the config file in the sidecar, and its image sets
    TFTP_SIDECAR_* defaults (listen 6969, single-port, ...): the container's env must equal the
    TOML for each of them, or a hostNetwork pod would listen on 6969 in single-port mode."""
    docs = docs_of(render(load_values(ci)))
    toml = sidecar_toml(docs)
    env = {**_image_env(), **{e["name"]: e["value"] for e in containers(docs)["tftp-sidecar"]["env"]}}
    assert {"TFTP_SIDECAR_LISTEN", "TFTP_SIDECAR_PORT_MODE", "TFTP_SIDECAR_METRICS_LISTEN"} <= set(env)
    for name, value in env.items():
        if not name.startswith("TFTP_SIDECAR_") or name == "TFTP_SIDECAR_CONFIG":
            continue
        key = name.removeprefix("TFTP_SIDECAR_").lower()
        if key == "root" and "root" not in toml:
            continue  # tftpRoot.type none: the image's empty /srv/tftp, then the origin
        want = toml.get(key, "text" if key == "log_format" else None)
        want = ",".join(want) if isinstance(want, list) else str(want)
        assert value == want, f"{name}={value!r} but the TOML has {key} = {toml.get(key)!r}"


@ci_params()
def test_dashboard_configmap_is_the_file(chart, ci):
    values = merged_values(chart, load_values(ci))
    g = values["grafanaDashboard"]
    docs = docs_of(render(load_values(ci)))
    cm = one(docs, "ConfigMap", "-dashboard")
    assert cm["metadata"]["labels"][g["labelName"]] == g["labelValue"]
    assert cm["metadata"]["namespace"] == (g["namespace"] or NAMESPACE)
    assert list(cm["data"]) == ["cisco-tftp.json"]
    assert json.loads(cm["data"]["cisco-tftp.json"]) == json.loads(DASHBOARD.read_text())
    for key, value in g["annotations"].items():
        assert cm["metadata"]["annotations"][key] == value


def test_dashboard_configmap_label_is_configurable_and_can_be_off():
    docs = docs_of(render({"grafanaDashboard": {"labelName": "grafana.example/dashboard", "labelValue": "true"}}))
    assert one(docs, "ConfigMap", "-dashboard")["metadata"]["labels"]["grafana.example/dashboard"] == "true"
    assert "grafana_dashboard" not in one(docs, "ConfigMap", "-dashboard")["metadata"]["labels"]
    docs = docs_of(render({"grafanaDashboard": {"enabled": False}}))
    assert not [d for d in docs if d["metadata"]["name"].endswith("-dashboard")]


@ci_params()
def test_security_contexts(chart, ci):
    values = merged_values(chart, load_values(ci))
    mode = values["mode"]
    docs = docs_of(render(load_values(ci)))
    pod = workload(docs)["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert bool(pod.get("hostNetwork")) == (mode in HOSTNET_MODES)
    assert set(containers(docs)) == set(EXPECTED_CAPS[mode])
    for name, c in containers(docs).items():
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
        assert sc["privileged"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        added = set(sc["capabilities"].get("add", []))
        assert added == EXPECTED_CAPS[mode][name], f"{mode}/{name}: {added}"
        # Added capabilities reach a non-root process only through file capabilities, which
        # no_new_privs would block: escalation is allowed exactly when something is added.
        assert sc["allowPrivilegeEscalation"] is bool(added)
        assert "runAsUser" not in sc or sc["runAsUser"] != 0
        # Only the images' *-caps copies carry file capabilities; a plain binary would not get
        # the added ones, and a *-caps one cannot start when nothing is added.
        assert c["command"][0].endswith("-caps") is bool(added), f"{mode}/{name}: {c['command']}"


@ci_params()
def test_probes_on_the_sidecar_status_listener(chart, ci):
    values = merged_values(chart, load_values(ci))
    docs = docs_of(render(load_values(ci)))
    cs = containers(docs)
    sidecar = cs["tftp-sidecar"]
    ports = {p["name"]: p["containerPort"] for p in sidecar["ports"]}
    assert sidecar["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert sidecar["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert ports["metrics"] == values["sidecar"]["metricsPort"]
    assert sidecar_toml(docs)["metrics_listen"].endswith(f":{ports['metrics']}")
    if "kea-dhcp4" in cs:  # never Kea's Control Agent (deprecated in 3.0, removed in 3.1.8)
        kea = cs["kea-dhcp4"]
        assert not any(k in kea for k in ("livenessProbe", "readinessProbe", "startupProbe"))
        assert not any(p["containerPort"] == 8000 for c in cs.values() for p in c["ports"])


def test_checksum_annotation_rolls_pods_on_config_change():
    kea = {"mode": "kea-relay", "kea": {"hookParameters": {"servers": ["10.0.0.10"]}}}
    base = checksum(docs_of(render(kea)))
    docs = docs_of(render(kea))
    expected = hashlib.sha256(
        next(v for k, v in render(kea).items() if k.endswith("templates/configmap.yaml")).encode()
    ).hexdigest()
    assert checksum(docs) == expected
    changed = [
        {**kea, "kea": {"hookParameters": {"servers": ["10.0.0.11"]}}},
        {**kea, "sidecar": {"config": {"blksize_max": 1428}}},
        {**kea, "origin": {"url": "http://origin.example/"}},
        {**kea, "kea": {"hookParameters": {"servers": ["10.0.0.10"]}, "subnets": [{"subnet": "10.1.0.0/24", "id": 1}]}},
    ]
    sums = {checksum(docs_of(render(v))) for v in changed}
    assert base not in sums and len(sums) == len(changed)
    # a change outside the configuration does not roll the pods through the checksum
    unrelated = {**kea, "grafanaDashboard": {"annotations": {"grafana_folder": "Voice"}}}
    assert checksum(docs_of(render(unrelated))) == base


def test_monitors_structure():
    """ServiceMonitor and PodMonitor (CRDs: no schemas in kubernetes-validate) checked here:
    they select the chart's metrics Service or pods, on the named port, at /metrics."""
    values = {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}, "interval": "15s"},
              "podMonitor": {"enabled": True, "interval": "20s"}}
    docs = docs_of(render(values))
    endpoint = {
        "type": "object", "additionalProperties": False,
        "required": ["port", "path", "interval"],
        "properties": {"port": {"const": "metrics"}, "path": {"const": "/metrics"},
                       "interval": {"pattern": "^[0-9]+(ms|s|m|h)$"}, "scrapeTimeout": {"pattern": "^[0-9]+(ms|s|m|h)$"},
                       "relabelings": {"type": "array"}, "metricRelabelings": {"type": "array"}},
    }
    def monitor_schema(kind, endpoints_key):
        return {
            "type": "object", "additionalProperties": False,
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "properties": {
                "apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind},
                "metadata": {"type": "object", "required": ["name", "namespace", "labels"]},
                "spec": {"type": "object", "additionalProperties": False,
                         "required": ["selector", endpoints_key, "namespaceSelector"],
                         "properties": {
                             "selector": {"type": "object", "additionalProperties": False, "required": ["matchLabels"],
                                          "properties": {"matchLabels": {"type": "object", "minProperties": 1}}},
                             "namespaceSelector": {"type": "object", "properties": {"matchNames": {"const": [NAMESPACE]}}},
                             endpoints_key: {"type": "array", "minItems": 1, "items": endpoint}}},
            },
        }
    sm = one(docs, "ServiceMonitor")
    jsonschema.validate(sm, monitor_schema("ServiceMonitor", "endpoints"))
    assert sm["metadata"]["labels"]["release"] == "prom"
    assert sm["spec"]["endpoints"][0]["interval"] == "15s"
    svc = one(docs, "Service", "-metrics")
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    # ...and only that Service (not the UDP one)
    udp = [d for d in docs if d["kind"] == "Service" and d is not svc]
    assert all(not sm["spec"]["selector"]["matchLabels"].items() <= d["metadata"]["labels"].items() for d in udp)
    assert {p["name"] for p in svc["spec"]["ports"]} == {"metrics"}
    pm = one(docs, "PodMonitor")
    jsonschema.validate(pm, monitor_schema("PodMonitor", "podMetricsEndpoints"))
    pod_labels = workload(docs)["spec"]["template"]["metadata"]["labels"]
    assert pm["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert "metrics" in {p["name"] for p in containers(docs)["tftp-sidecar"]["ports"]}
    # off by default
    assert not [d for d in docs_of(render({})) if d["apiVersion"].startswith(CRD_API_GROUPS)]


def test_pod_disruption_budget():
    docs = docs_of(render(load_values(CHART / "ci" / "sidecar-service-values.yaml")))
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": pdb["spec"]["selector"]}
    assert pdb["spec"]["selector"]["matchLabels"].items() <= workload(docs)["spec"]["template"]["metadata"]["labels"].items()
    pdb = one(docs_of(render({"podDisruptionBudget": {"enabled": True, "maxUnavailable": "50%"}})), "PodDisruptionBudget")
    assert pdb["spec"]["maxUnavailable"] == "50%" and "minAvailable" not in pdb["spec"]
    assert not [d for d in docs_of(render({})) if d["kind"] == "PodDisruptionBudget"]


def test_cache_and_lease_volumes():
    docs = docs_of(render(load_values(CHART / "ci" / "kea-relay-values.yaml")))
    claims = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PersistentVolumeClaim"}
    assert set(claims) == {f"{RELEASE}-cisco-tftp-cache"}
    assert claims[f"{RELEASE}-cisco-tftp-cache"]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    vols = {v["name"]: v for v in workload(docs)["spec"]["template"]["spec"]["volumes"]}
    assert vols["cache"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-cisco-tftp-cache"
    assert "emptyDir" in vols["kea-leases"]
    assert "tftp-root" not in vols
    assert workload(docs)["spec"]["strategy"]["type"] == "Recreate"
    docs = docs_of(render(load_values(CHART / "ci" / "kea-hostnetwork-values.yaml")))
    vols = {v["name"]: v for v in workload(docs)["spec"]["template"]["spec"]["volumes"]}
    assert vols["kea-leases"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-cisco-tftp-leases"
    assert vols["tftp-root"]["hostPath"] == {"path": "/srv/tftp", "type": "Directory"}
    docs = docs_of(render(load_values(CHART / "ci" / "sidecar-service-values.yaml")))
    vols = {v["name"]: v for v in workload(docs)["spec"]["template"]["spec"]["volumes"]}
    assert vols["cache"]["emptyDir"] == {"sizeLimit": "3Gi"}
    assert vols["tftp-root"]["configMap"]["name"] == "phone-configs"
    assert sidecar_toml(docs)["store"]["disk-max-bytes"] == 2147483648


def test_non_default_values_render():
    """Values off the beaten path (quotes, colons, newlines, backslashes, IPv6, overrides,
    every toggle on) still render YAML and TOML that parse back to exactly the values."""
    tricky = 'a: "b" # \'c\'\nsecond line {{ not a template }}'
    regex = r'(?i)^Acme "Phone" (?P<model>\S+)\\x00 ünï'
    values = {
        "mode": "kea-relay",
        "fullnameOverride": "tftp-x",
        "kea": {
            "hookParameters": {
                "servers": ["10.9.0.1"],
                "patterns": [{"regex": regex, "family": "acme.v2_x-y"}],
                "option-66": {"name": "tftp server #1: \"lab\""},
            },
            "extraDhcp4": {"client-classes": [{"name": "voice", "test": "substring(option[60].hex,0,5) == 'Cisco'"}]},
            "leases": {"type": "pvc", "pvc": {"existingClaim": "leases-claim"}},
        },
        "sidecar": {
            "listenAddress": "::",
            "portMode": "single-port",
            "config": {"timeout": 0.25, "drain_deadline": 12.5, "log_format": "text"},
            "extraConfig": {"future_key": "x \"y\" \\ z"},
            "env": [{"name": "RUST_LOG", "value": tricky}],
        },
        "podAnnotations": {"example.com/note": tricky},
        "podLabels": {"team": "voice"},
        "service": {"annotations": {"example.com/x": tricky}, "type": "NodePort", "nodePorts": {"tftp": 30069, "dhcp": 30067, "http": 30970}},
        "metricsService": {"annotations": {"prometheus.io/scrape": "true"}},
        "serviceMonitor": {"enabled": True, "relabelings": [{"action": "replace", "targetLabel": "site", "replacement": "a:b"}]},
        "podMonitor": {"enabled": True},
        "podDisruptionBudget": {"enabled": True},
        "serviceAccount": {"create": False, "name": "existing-sa"},
        "imagePullSecrets": [{"name": "regcred"}],
        "grafanaDashboard": {"namespace": "grafana", "annotations": {"grafana_folder": "Voice: phones"}},
        "priorityClassName": "voice-critical",
        "tolerations": [{"key": "voice", "operator": "Exists"}],
    }
    with helm.Chart.load(CHART) as c:
        c.validate_schema(values)
    rendered = render(values)
    docs = docs_of(rendered)
    pod = workload(docs)["spec"]["template"]
    assert workload(docs)["metadata"]["name"] == "tftp-x"
    assert pod["metadata"]["annotations"]["example.com/note"] == tricky
    assert pod["metadata"]["labels"]["team"] == "voice"
    assert pod["spec"]["serviceAccountName"] == "existing-sa"
    assert not [d for d in docs if d["kind"] == "ServiceAccount"]
    assert containers(docs)["tftp-sidecar"]["env"][-1] == {"name": "RUST_LOG", "value": tricky}
    svc = one(docs, "Service", "tftp-x")
    assert svc["metadata"]["annotations"]["example.com/x"] == tricky
    assert {p["name"]: p.get("nodePort") for p in svc["spec"]["ports"]} == {"tftp": 30069, "dhcp": 30067, "http": 30970}
    hook = our_hook(kea_json(docs))
    assert hook["parameters"] == values["kea"]["hookParameters"]
    assert kea_json(docs)["Dhcp4"]["client-classes"] == values["kea"]["extraDhcp4"]["client-classes"]
    toml = sidecar_toml(docs)
    assert toml["listen"] == ["[::]:6969"] and toml["metrics_listen"] == "[::]:9169"
    assert toml["timeout"] == 0.25 and toml["drain_deadline"] == 12.5
    assert toml["future_key"] == values["sidecar"]["extraConfig"]["future_key"]
    vols = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert vols["kea-leases"]["persistentVolumeClaim"]["claimName"] == "leases-claim"
    assert not [d for d in docs if d["kind"] == "PersistentVolumeClaim"]
    cm = one(docs, "ConfigMap", "-dashboard")
    assert cm["metadata"]["namespace"] == "grafana"
    assert cm["metadata"]["annotations"]["grafana_folder"] == "Voice: phones"
    sm = one(docs, "ServiceMonitor")
    assert sm["spec"]["endpoints"][0]["relabelings"] == values["serviceMonitor"]["relabelings"]
    assert one(docs, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1


def _struct_keys(path: Path, struct: str, pub: bool) -> set[str]:
    import re

    src = path.read_text()
    body = src[src.index(f"pub struct {struct}"):]
    body = body[: body.index("\n}")]
    return set(re.findall(r"^\s+pub (\w+): " if pub else r"^\s+(\w+): ", body, re.M))


def test_sidecar_config_keys_follow_the_sidecar_source(chart):
    """The schema's sidecar.config keys are keys of the sidecar's TOML (tftp-sidecar/src/
    config/mod.rs FileConfig, store/config.rs StoreConfig): the chart never offers a key the sidecar
    would reject. Sidecar keys the chart does not offer yet only warn (extraConfig passes them)."""
    import warnings

    sidecar = ROOT / "tftp-sidecar" / "src"
    file_keys = _struct_keys(sidecar / "config" / "mod.rs", "FileConfig", pub=False)
    store_keys = {k.replace("_", "-") for k in _struct_keys(sidecar / "store" / "config.rs", "StoreConfig", pub=True)}
    cfg = chart.schema["properties"]["sidecar"]["properties"]["config"]["properties"]
    chart_managed = {"listen", "root", "port_mode", "port_range", "metrics_listen", "http_listen", "kea"}
    assert set(cfg) <= file_keys, f"sidecar.config keys the sidecar does not know: {set(cfg) - file_keys}"
    assert chart_managed <= file_keys, f"keys the chart renders that the sidecar does not know: {chart_managed - file_keys}"
    store_managed = {"root", "origin-url", "disk-dir", "disk-max-bytes"}
    assert set(cfg["store"]["properties"]) <= store_keys
    assert store_managed <= store_keys
    missing = (file_keys - chart_managed - set(cfg)) | {f"store.{k}" for k in store_keys - store_managed - set(cfg["store"]["properties"])}
    if missing:
        warnings.warn(f"sidecar keys not in the chart's schema yet (settable through sidecar.extraConfig): {sorted(missing)}")
    kea_keys = {k.replace("_", "-") for k in _struct_keys(sidecar / "kea_stats.rs", "KeaConfig", pub=True)}
    assert {"control-socket", "poll-interval"} <= kea_keys

def _free_port(kind) -> int:
    import socket

    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("path", [None, CHART / "ci" / "sidecar-service-values.yaml"], ids=["defaults", "sidecar-service"])
def test_real_sidecar_starts_on_the_rendered_config_and_answers_the_probes(path, tmp_path):
    """The probes' paths are real: the sidecar, started on the chart's TOML (addresses and
    directories moved to this machine), answers /healthz and /readyz with 200."""
    import socket
    import time
    import urllib.error
    import urllib.request

    exe = ROOT / "target" / "debug" / "tftp-sidecar"
    if not exe.exists():
        pytest.skip("target/debug/tftp-sidecar not built (make build)")
    raw = load_values(path) if path else {}
    docs = docs_of(render(raw))
    toml = sidecar_toml(docs)
    text = chart_configmap(docs)["data"]["tftp-sidecar.toml"]
    tftp, http = _free_port(socket.SOCK_DGRAM), _free_port(socket.SOCK_STREAM)
    files = _free_port(socket.SOCK_STREAM)
    text = text.replace(toml["listen"][0], f"127.0.0.1:{tftp}").replace(toml["metrics_listen"], f"127.0.0.1:{http}")
    text = text.replace(f'http_listen = ["{toml["http_listen"][0]}"]', f'http_listen = ["127.0.0.1:{files}"]')
    for key in ("root",):
        if key in toml:
            (tmp_path / key).mkdir()
            text = text.replace(f'{key} = "{toml[key]}"', f'{key} = "{tmp_path / key}"')
    if "disk-dir" in toml.get("store", {}):
        (tmp_path / "cache").mkdir()
        text = text.replace(f'disk-dir = "{toml["store"]["disk-dir"]}"', f'disk-dir = "{tmp_path / "cache"}"')
        text = text.replace(f'http_sendfile_dir = "{toml["http_sendfile_dir"]}"',
                            f'http_sendfile_dir = "{tmp_path / "cache"}"')
    conf = tmp_path / "tftp-sidecar.toml"
    conf.write_text(text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TFTP_SIDECAR_")}
    proc = subprocess.Popen([str(exe), "--config", str(conf)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        status = {}
        deadline = time.monotonic() + 20
        while set(status) != {"/healthz", "/readyz"} and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            for probe in ("/healthz", "/readyz"):
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{http}{probe}", timeout=2) as r:
                        if r.status == 200:
                            status[probe] = r.status
                except OSError:
                    pass
            time.sleep(0.1)
        assert status == {"/healthz": 200, "/readyz": 200}
        # The phone-file HTTP listener answers too (a file the empty root does not have).
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{files}/SEP001122334455.cnf.xml", timeout=5)
            raise AssertionError("an empty root served a file")
        except urllib.error.HTTPError as e:
            assert e.code in (404, 503)  # no such file, or an origin that is not there
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _relayed_discover(giaddr: str, vendor_class: bytes, xid: int) -> bytes:
    import socket
    import struct

    head = struct.pack("!BBBBIHH", 1, 1, 6, 1, xid, 0, 0)
    addrs = b"\0" * 12 + socket.inet_aton(giaddr)
    chaddr = bytes.fromhex("00aabbccdd01") + b"\0" * 10
    options = bytes([99, 130, 83, 99, 53, 1, 1, 60, len(vendor_class)]) + vendor_class + bytes([55, 2, 1, 150, 255])
    return head + addrs + chaddr + b"\0" * 192 + options


def _options(reply: bytes) -> dict[int, bytes]:
    opts, i = {}, 240
    while i < len(reply) and reply[i] != 255:
        if reply[i] == 0:
            i += 1
            continue
        code, n = reply[i], reply[i + 1]
        opts[code] = reply[i + 2:i + 2 + n]
        i += 2 + n
    return opts


def test_kea_relay_config_answers_a_relay_from_its_port_to_67(tmp_path):
    """The kea-relay design on this machine: the real kea-dhcp4 started on the chart's rendered
    configuration (hook loaded, so its load() runs) with `-p <kea.port>` answers a relayed
    DISCOVER sent to that port with an OFFER carrying option 150 = the hook's servers, sent to
    the relay's port 67 from Kea's port: the reverse of the request's flow, which is what a
    Service's NAT maps back to the Service's address and port 67."""
    import socket
    import time

    kea_bin = shutil.which("kea-dhcp4")
    hook_so = ROOT / "target" / "debug" / HOOK_SO
    if not kea_bin or not hook_so.exists():
        pytest.skip("needs kea-dhcp4 and target/debug/libdhcp_cisco_tftp.so (make build)")
    if os.geteuid() != 0:
        pytest.skip("binding the relay's port 67 needs root")
    kea_port = _free_port(socket.SOCK_DGRAM)
    raw = load_values(CHART / "ci" / "kea-relay-values.yaml")
    raw["kea"]["port"] = kea_port
    raw["kea"]["version"] = HOST_KEA  # this machine's Kea
    docs = docs_of(render(raw))
    args = containers(docs)["kea-dhcp4"]["args"]
    assert args[-2:] == ["-p", str(kea_port)]
    kea = kea_json(docs)
    # this machine: loopback, a subnet for the relay's address, files in tmp_path
    kea["Dhcp4"]["subnet4"] = [{"id": 1, "subnet": "127.0.0.0/8", "pools": [{"pool": "127.0.9.10 - 127.0.9.20"}]}]
    kea["Dhcp4"].pop("option-data", None)
    conf = _kea_config_for_this_machine(kea, tmp_path, hook_so)
    env = {**os.environ, "KEA_PIDFILE_DIR": str(tmp_path), "KEA_LOCKFILE_DIR": "none"}
    relay = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    relay.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    relay.bind(("127.0.0.2", 67))
    relay.settimeout(0.5)
    proc = subprocess.Popen([kea_bin, "-c", str(conf), *args[-2:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        reply = None
        deadline = time.monotonic() + 20
        xid = 0x5EED0001
        while reply is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stdout.read()
            relay.sendto(_relayed_discover("127.0.0.2", b"Cisco Systems, Inc. IP Phone CP-7941G", xid), ("127.0.0.1", kea_port))
            try:
                data, source = relay.recvfrom(4096)
            except socket.timeout:
                continue
            if data[4:8] == xid.to_bytes(4, "big"):
                reply = data
        assert reply is not None, "no OFFER from Kea"
        assert source == ("127.0.0.1", kea_port)
        opts = _options(reply)
        assert opts[53] == b"\x02"  # OFFER
        servers = raw["kea"]["hookParameters"]["servers"]
        assert opts[150] == b"".join(socket.inet_aton(s) for s in servers)
    finally:
        relay.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@ci_params()
def test_http_file_port_on_the_container_and_the_service(chart, ci):
    """Phone files over HTTP (TCP 6970 by default): a container port, the Service's TCP port
    beside TFTP's UDP one, and the sidecar's http_listen on it; the probes stay on the status
    listener. httpPort 0 turns all of it off."""
    raw = load_values(ci)
    docs = docs_of(render(raw))
    port = merged_values(chart, raw)["sidecar"]["httpPort"]
    c = containers(docs)["tftp-sidecar"]
    ports = {p["name"]: p for p in c["ports"]}
    assert ports["http"] == {"name": "http", "containerPort": port, "protocol": "TCP"}
    assert c["readinessProbe"]["httpGet"]["port"] == "metrics"
    assert c["livenessProbe"]["httpGet"]["port"] == "metrics"
    toml = sidecar_toml(docs)
    assert toml["http_listen"][0].endswith(f":{port}")
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["TFTP_SIDECAR_HTTP_LISTEN"] == ",".join(toml["http_listen"])
    services = [d for d in docs if d["kind"] == "Service" and any(p["name"] == "tftp" for p in d["spec"]["ports"])]
    for svc in services:
        sp = {p["name"]: p for p in svc["spec"]["ports"]}
        assert sp["http"]["protocol"] == "TCP" and sp["http"]["port"] == port
        assert sp["http"]["targetPort"] == "http"

    off = docs_of(render({**raw, "sidecar": {**raw.get("sidecar", {}), "httpPort": 0}}))
    c = containers(off)["tftp-sidecar"]
    assert "http" not in {p["name"] for p in c["ports"]}
    assert sidecar_toml(off)["http_listen"] == "off"
    assert {e["name"]: e["value"] for e in c["env"]}["TFTP_SIDECAR_HTTP_LISTEN"] == "off"
    for svc in (d for d in off if d["kind"] == "Service"):
        assert "http" not in {p["name"] for p in svc["spec"]["ports"]}


# ---------------------------------------------------------------- Kea release series (kea.version)


KEA_MODES = [p for p in CI_FILES if load_values(p)["mode"].startswith("kea-")]


@pytest.mark.parametrize("version", KEA_VERSIONS)
@pytest.mark.parametrize("ci", KEA_MODES, ids=[p.name.removesuffix("-values.yaml") for p in KEA_MODES])
def test_kea_version_follows_through(ci, version, tmp_path):
    """One kea.version value: the Kea image's tag, the hook's library name (bare where Kea
    2.6.3+/3.0 enforce the hooks directory), the control socket's 0750 directory in /run, and
    the sidecar reaching the socket as a member of Kea's group where Kea allows it."""
    raw = load_values(ci)
    raw["kea"]["version"] = version
    docs = docs_of(render(raw))
    pod = workload(docs)["spec"]["template"]["spec"]
    app_version = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]
    image = f"cisco-tftp/kea-dhcp4:{app_version}-kea{version}"
    assert containers(docs)["kea-dhcp4"]["image"] == image
    hook = our_hook(kea_json(docs))
    assert hook["library"] == (f"{HOOKS_DIR}/{HOOK_SO}" if version == "2.2" else HOOK_SO)
    # The socket's directory: made 0750 by Kea's user (same image, same uid) in the shared
    # in-memory volume mounted at /run, before Kea starts.
    (init,) = pod["initContainers"]
    assert init["image"] == image
    assert init["command"] == ["install", "-d", "-m", "0750", "/run/kea"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert init["securityContext"]["allowPrivilegeEscalation"] is False
    assert "runAsUser" not in init["securityContext"]  # the pod's: Kea's uid
    assert [m["mountPath"] for m in init["volumeMounts"]] == ["/run"]
    vol = {v["name"]: v for v in pod["volumes"]}["kea-run"]
    assert vol["emptyDir"]["medium"] == "Memory"
    kea = kea_json(docs)["Dhcp4"]
    assert kea["control-socket"]["socket-name"].startswith("/run/kea/")
    assert all(o["output"] == "stdout" for lg in kea["loggers"] for o in lg["output_options"])
    sidecar = containers(docs)["tftp-sidecar"]
    kea_uid = pod["securityContext"]["runAsUser"]
    kea_gid = pod["securityContext"]["runAsGroup"]
    assert "runAsUser" not in containers(docs)["kea-dhcp4"]["securityContext"]
    if version == "3.0":
        # Kea 3.0.3+ makes its socket group-writable: the sidecar has its own uid and Kea's
        # group (runAsGroup and fsGroup of the pod).
        assert sidecar["securityContext"]["runAsUser"] not in (kea_uid, 0)
        assert pod["securityContext"]["fsGroup"] == kea_gid
    else:
        # Kea 2.2 and 2.6.3 create it without group write: the sidecar runs as Kea's user.
        assert "runAsUser" not in sidecar["securityContext"]
    assert sidecar_toml(docs)["kea"]["control-socket"] == kea["control-socket"]["socket-name"]
    r = _kubernetes_validate([d for d in docs if not d["apiVersion"].startswith(CRD_API_GROUPS)], tmp_path)
    assert r.returncode == 0 and "ERROR" not in r.stdout + r.stderr, r.stdout + r.stderr


def test_kea_versions_are_the_projects_series():
    """The chart's kea.version enum is scripts/kea-series.sh's table (adding a series there
    and not here fails)."""
    out = subprocess.run(["bash", "-c", ". scripts/kea-series.sh; kea_all_series"], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.split()
    schema = json.loads((CHART / "values.schema.json").read_text())
    assert schema["properties"]["kea"]["properties"]["version"]["enum"] == out == KEA_VERSIONS


def test_kea_version_schema():
    with helm.Chart.load(CHART) as c:
        for version in KEA_VERSIONS:
            c.validate_schema({"kea": {"version": version}})
        for bad in ("2.4", "2.8", "3.1", "", "latest"):
            with pytest.raises(helm.HelmValuesError) as e:
                c.validate_schema({"kea": {"version": bad}})
            assert "/kea/version" in str(e.value) and "3.0" in str(e.value), str(e.value)


def test_kea_image_tag_override_and_hook_library_override():
    ok = {"mode": "kea-relay", "kea": {"hookParameters": {"servers": ["10.0.0.10"]}}}
    raw = copy.deepcopy(ok)
    raw["kea"]["image"] = {"tag": "site-build-7"}
    assert containers(docs_of(render(raw)))["kea-dhcp4"]["image"].endswith(":site-build-7")
    raw = copy.deepcopy(ok)
    raw["kea"]["hookLibrary"] = f"{HOOKS_DIR}/{HOOK_SO}"  # the full path in the hooks dir: allowed
    assert our_hook(kea_json(docs_of(render(raw))))["library"] == f"{HOOKS_DIR}/{HOOK_SO}"


@pytest.mark.parametrize("version", [v for v in KEA_VERSIONS if v != HOST_KEA])
def test_rendered_kea_config_passes_that_series_kea_T(version):
    """The chart's Kea configuration for kea.version, as is (bare hook name, socket in
    /run/kea, leases in /var/lib/kea, logs to stdout) but with loopback for the interfaces, run
    through that series' real `kea-dhcp4 -T` (which loads the hook and runs its load()) in its
    Debian root with the series' hook package installed; /run/kea is made as the init
    container makes it."""
    if os.geteuid() != 0:
        pytest.skip("chroot and overlay mounts need root")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_packages import build_hook_deb, root_overlay  # noqa: E402

    raw = load_values(CHART / "ci" / "kea-relay-values.yaml")
    raw["kea"]["version"] = version
    kea = kea_json(docs_of(render(raw)))
    kea["Dhcp4"]["interfaces-config"]["interfaces"] = ["lo"]
    deb = build_hook_deb(version)
    with root_overlay(version) as root:
        shutil.copy(deb, root / "tmp" / deb.name)
        subprocess.run(["chroot", str(root), "dpkg", "-i", f"/tmp/{deb.name}"], check=True,
                       capture_output=True, timeout=300)
        subprocess.run(["chroot", str(root), "install", "-d", "-m", "0750", "/run/kea",
                        "/var/lib/kea"], check=True)
        (root / "etc/kea/kea-dhcp4.conf").write_text(json.dumps(kea, indent=2))
        r = subprocess.run(["chroot", str(root), "kea-dhcp4", "-T", "/etc/kea/kea-dhcp4.conf"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "CISCO_TFTP_LOADED loaded" in r.stdout + r.stderr  # the hook's load() ran
        # Started for real (with the chart's environment): -T does not check the socket's
        # path or its directory's mode, the start does. Kea opens /run/kea/kea4-ctrl-socket.
        env = ["env", "KEA_PIDFILE_DIR=/run/kea", "KEA_LOCKFILE_DIR=none"]
        start = ["chroot", str(root), *env, "timeout", "4", "kea-dhcp4", "-c",
                 "/etc/kea/kea-dhcp4.conf", "-p", str(_free_port(__import__("socket").SOCK_DGRAM))]
        r = subprocess.run(start, capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert "DHCP4_STARTED" in out and "CISCO_TFTP_LOADED" in out, out
        assert "COMMAND_ACCEPTOR_START" in out and "/run/kea/kea4-ctrl-socket" in out, out
        # The same file with the socket elsewhere: this Kea refuses to start (the hardening
        # the chart's schema mirrors).
        kea["Dhcp4"]["control-socket"]["socket-name"] = "/tmp/kea4.sock"
        (root / "etc/kea/kea-dhcp4.conf").write_text(json.dumps(kea, indent=2))
        r = subprocess.run(start, capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        assert "DHCP4_STARTED" not in out and "supported path is '/run/kea'" in out, out
