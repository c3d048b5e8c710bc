"""The hook role deploys a Kea High Availability pair from one parameters source.

The two "hosts" are two throwaway overlays of the Kea 3.0 Debian root (scripts/kea-root.sh),
reached through the tests' chroot connection plugin, each named by its `cisco_tftp_chroot`
host variable: two separate file systems, each with its own /etc/kea, dpkg database and
kea-dhcp4, as two servers would have, where two config directories on one machine would
share one installed package and could not show that the role ran once per host. (Two real
machines or containers add nothing the role can see: it reaches each host through the
connection.)

Each host's live kea-dhcp4.conf is a HA peer's (libdhcp_lease_cmds.so, libdhcp_ha.so with
its own this-server-name); the hook's parameters come only from the shipped example's
group_vars file (ansible/inventory/ha/group_vars/kea_servers.yml), copied beside a test
inventory that names the two roots. One `ansible-playbook` run deploys both; both files pass
`kea-dhcp4 -T` in the role, keep their HA entries, and `cisco-tftp-check --same-parameters`
(the packaged one, inside a root) passes on the two results and fails, naming what differs,
once one server's list drifts.
"""

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from test_ansible import ANSIBLE_DIR, VENV_BIN, ansible_env
from test_ansible_roots import PLUGINS, chroot, python_layer
from test_packages import HOOK_BASE, ROOT_SERIES, build_hook_deb, root_overlay

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and overlay mounts: needs root")

SERIES = "3.0" if "3.0" in ROOT_SERIES else ROOT_SERIES[-1]
EXAMPLE = ANSIBLE_DIR / "inventory" / "ha"
HOSTS = ("kea1", "kea2")


def ha_config(me: str) -> dict:
    """The peer's live Dhcp4 (Kea 3.0 paths): its subnet and the HA pair, no cisco-tftp yet."""
    d4 = {
        "interfaces-config": {"interfaces": ["lo"], "dhcp-socket-type": "udp"},
        "control-socket": {"socket-type": "unix", "socket-name": "kea4-ctrl-socket"},
        "lease-database": {"type": "memfile", "persist": False},
        "multi-threading": {"enable-multi-threading": True},
        "subnet4": [{"id": 1, "subnet": "192.0.2.0/24", "pools": [{"pool": "192.0.2.100 - 192.0.2.199"}]}],
        "loggers": [{"name": "kea-dhcp4", "severity": "INFO", "output_options": [{"output": "stdout"}]}],
    }
    doc = {"Dhcp4": d4}
    d4["hooks-libraries"] = [
        {"library": "libdhcp_lease_cmds.so"},
        {"library": "libdhcp_ha.so", "parameters": {"high-availability": [{
            "this-server-name": me, "mode": "hot-standby",
            "multi-threading": {"enable-multi-threading": True, "http-dedicated-listener": True,
                                "http-listener-threads": 1, "http-client-threads": 1},
            "peers": [
                {"name": "kea1", "url": "http://127.0.0.1:18001/", "role": "primary"},
                {"name": "kea2", "url": "http://127.0.0.1:18002/", "role": "standby"}]}]}},
    ]
    return doc


def hook_entry(doc: dict) -> dict:
    (entry,) = [h for h in doc["Dhcp4"]["hooks-libraries"] if "cisco_tftp" in h["library"]]
    return entry


def test_role_deploys_ha_pair_from_one_parameters_source(tmp_path):
    deb = build_hook_deb(SERIES)
    debs = tmp_path / "debs"
    debs.mkdir()
    shutil.copy(deb, debs / deb.name)
    layer = python_layer(SERIES)
    with root_overlay(SERIES, [layer]) as r1, root_overlay(SERIES, [layer]) as r2:
        roots = dict(zip(HOSTS, (r1, r2)))
        for name, root in roots.items():
            (root / "etc/kea/kea-dhcp4.conf").write_text(json.dumps(ha_config(name), indent=2))
        # The shipped example's one parameters source, beside an inventory of the two roots.
        inv = tmp_path / "inventory"
        shutil.copytree(EXAMPLE / "group_vars", inv / "group_vars")
        (inv / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"kea_servers": {
            "hosts": {n: {"cisco_tftp_chroot": str(r)} for n, r in roots.items()}}}}}))
        shared = yaml.safe_load((EXAMPLE / "group_vars" / "kea_servers.yml").read_text())
        params = shared["cisco_tftp_kea_hook_parameters"]
        example_hosts = yaml.safe_load((EXAMPLE / "hosts.yml").read_text())
        assert set(example_hosts["all"]["children"]["kea_servers"]["hosts"]) == {
            "dhcp1.example.net", "dhcp2.example.net"}
        assert not (EXAMPLE / "host_vars").exists(), "per-host hook parameters would let the pair drift"

        extra = tmp_path / "extra.json"
        extra.write_text(json.dumps({
            "cisco_tftp_sidecar_hosts": "no-such-host",
            "ansible_python_interpreter": "/usr/bin/python3", "ansible_become": False,
            "cisco_tftp_kea_hook_install_method": "deb", "cisco_tftp_kea_hook_deb_src": str(debs)}))
        env = ansible_env(tmp_path)
        env["ANSIBLE_CONNECTION_PLUGINS"] = str(PLUGINS)
        t = time.monotonic()
        r = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), "-c", "cisco_tftp_chroot",
                            "-e", f"@{extra}", "site.yml"], cwd=ANSIBLE_DIR, env=env,
                           capture_output=True, text=True, timeout=1200)
        print(f"ansible-playbook on both peers: {time.monotonic() - t:.0f} s")
        assert r.returncode == 0, r.stdout + r.stderr
        for name in HOSTS:
            m = re.search(rf"^{name}\s*:\s*ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0", r.stdout, re.M)
            assert m and int(m[1]) > 0, f"{name} was not deployed:\n{r.stdout}"
        assert r.stdout.count("Check the candidate with kea-dhcp4 -T") >= 1, r.stdout

        docs = {}
        for name, root in roots.items():
            st = chroot(root, "dpkg-query", "-W", "-f=${Status}", f"{HOOK_BASE}-{SERIES}").stdout
            assert st == "install ok installed", (name, st)
            doc = json.loads((root / "etc/kea/kea-dhcp4.conf").read_text())
            libs = [Path(h["library"]).name for h in doc["Dhcp4"]["hooks-libraries"]]
            assert libs == ["libdhcp_lease_cmds.so", "libdhcp_ha.so", "libdhcp_cisco_tftp.so"], (name, libs)
            ha = doc["Dhcp4"]["hooks-libraries"][1]["parameters"]["high-availability"][0]
            assert ha["this-server-name"] == name  # each peer keeps its own HA identity
            assert hook_entry(doc)["parameters"] == params
            docs[name] = doc

        # The packaged checker, inside the first root, over both servers' files.
        (r1 / "tmp/kea2.conf").write_text((r2 / "etc/kea/kea-dhcp4.conf").read_text())
        same = chroot(r1, "cisco-tftp-check", "--same-parameters", "/etc/kea/kea-dhcp4.conf",
                      "/tmp/kea2.conf", check=False)
        assert same.returncode == 0 and "the same hook parameters" in same.stdout, same.stdout + same.stderr

        # One server edited by hand: the pair now disagrees about option 150.
        drifted = json.loads(json.dumps(docs["kea2"]))
        hook_entry(drifted)["parameters"]["families"]["88xx"] = ["10.0.0.21", "10.0.0.10"]
        (r1 / "tmp/kea2.conf").write_text(json.dumps(drifted, indent=2))
        differ = chroot(r1, "cisco-tftp-check", "--same-parameters", "/etc/kea/kea-dhcp4.conf",
                        "/tmp/kea2.conf", check=False)
        assert differ.returncode == 1, differ.stdout + differ.stderr
        assert "hook parameters differ in: families" in differ.stdout, differ.stdout

        # The role run again from the one source puts the drifted server back in step.
        (r2 / "etc/kea/kea-dhcp4.conf").write_text(json.dumps(drifted, indent=2))
        r = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(inv), "-c", "cisco_tftp_chroot",
                            "-e", f"@{extra}", "site.yml"], cwd=ANSIBLE_DIR, env=env,
                           capture_output=True, text=True, timeout=1200)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r"^kea1\s*:\s*ok=\d+\s+changed=0\s", r.stdout, re.M), r.stdout
        assert re.search(r"^kea2\s*:\s*ok=\d+\s+changed=[1-9]", r.stdout, re.M), r.stdout
        (r1 / "tmp/kea2.conf").write_text((r2 / "etc/kea/kea-dhcp4.conf").read_text())
        same = chroot(r1, "cisco-tftp-check", "--same-parameters", "/etc/kea/kea-dhcp4.conf",
                      "/tmp/kea2.conf", check=False)
        assert same.returncode == 0, same.stdout + same.stderr
