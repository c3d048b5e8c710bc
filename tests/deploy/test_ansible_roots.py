"""The hook role run for real against the Kea of the other release series (2.6, 3.0): the
playbook runs on this machine and its tasks run inside that series' Debian root
(scripts/kea-root.sh) through a chroot connection (connection_plugins/, tests only), in a
throwaway overlay of the cached root. Python and python3-apt, which Ansible's modules need on
the target, are installed once into an overlay layer kept beside the roots (from Debian's
mirror), remade when the root is.

Into that root's own kea-dhcp4.conf (Debian's stock file: comments, a relative control-socket
name), with a running kea-dhcp4 of that series: the role reads Kea's release, takes that
series' package out of a directory of .debs, names the hook by its bare file name, makes
/run/kea 0750 owned by _kea, checks the candidate with `kea-dhcp4 -T` and reloads the running
Kea over its control socket; a second run changes nothing; a bad hook parameter is refused by
-T (and the checker) with the live file unchanged; a control socket outside /run/kea is refused
before a candidate is written.
"""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import re

from test_ansible import ANSIBLE_DIR, VENV_BIN, ansible_env
from test_packages import HOOK_BASE, ROOT_SERIES, build_hook_deb, kea_root, root_overlay, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="chroot and overlay mounts: needs root")

PLUGINS = Path(__file__).resolve().parent / "connection_plugins"
HOOK_PARAMS = {"servers": ["10.0.0.10"], "families": {"88xx": ["10.0.0.20"]}}


def python_layer(series):
    """An overlay layer holding python3 and python3-apt for the series' root (what Ansible's
    modules need on the target), made once from Debian's mirror and kept beside the roots
    while the root's stamp is the same."""
    import fcntl
    root = kea_root(series)
    stamp = (root / ".cisco-tftp-root").read_text()
    cache = root.parent.parent / "ansible-python"
    cache.mkdir(parents=True, exist_ok=True)
    layer, stamp_file = cache / root.name, cache / f"{root.name}.stamp"
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if layer.is_dir() and stamp_file.exists() and stamp_file.read_text() == stamp:
            return layer
        shutil.rmtree(layer, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix="ansible-python-", dir=cache))
        for d in ("upper", "work", "merged"):
            (work / d).mkdir()
        merged = work / "merged"
        run(["mount", "-t", "overlay", "overlay", "-o",
             f"lowerdir={root},upperdir={work / 'upper'},workdir={work / 'work'}", str(merged)])
        try:
            chroot(merged, "apt-get", "update", "-qq", timeout=600)
            chroot(merged, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
                   "-qq", "--no-install-recommends", "python3", "python3-apt", timeout=900)
            chroot(merged, "apt-get", "clean")
        finally:
            run(["umount", str(merged)], check=False)
        (work / "upper").rename(layer)
        shutil.rmtree(work, ignore_errors=True)
        stamp_file.write_text(stamp)
        return layer


def chroot(root, *cmd, check=True, timeout=300):
    return run(["chroot", str(root), *cmd], check=check, timeout=timeout)


def root_playbook(root, tmp, extra_vars, *args):
    vars_file = tmp / f"vars-{time.monotonic_ns()}.json"
    vars_file.write_text(json.dumps({
        "cisco_tftp_kea_hosts": "kea-root", "cisco_tftp_sidecar_hosts": "no-such-host",
        "ansible_python_interpreter": "/usr/bin/python3",
        # no sudo in the root; the chroot runs as root already
        "ansible_become": False,
        **extra_vars}))
    env = ansible_env(tmp)
    env["ANSIBLE_CONNECTION_PLUGINS"] = str(PLUGINS)
    env["CISCO_TFTP_CHROOT"] = str(root)
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "kea-root,", "-c", "cisco_tftp_chroot",
           "-e", f"@{vars_file}", *args, "site.yml"]
    return subprocess.run(cmd, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True,
                          timeout=900)


def recap(result):
    m = re.search(r"^kea-root\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                  result.stdout, re.M)
    assert m, result.stdout + result.stderr
    return {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]), "failed": int(m[4])}


def kea_command(root, sock, command):
    """Kea's answer over its control socket (a path inside the root)."""
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(root) + sock)
        s.sendall(json.dumps({"command": command}).encode())
        buf = b""
        while True:
            part = s.recv(65536)
            if not part:
                break
            buf += part
            try:
                return json.loads(buf)
            except ValueError:
                continue
    return json.loads(buf)


@pytest.mark.parametrize("series", ROOT_SERIES)
def test_hook_role_in_series_root(series, tmp_path):
    deb = build_hook_deb(series)
    debs = tmp_path / "debs"
    debs.mkdir()
    shutil.copy(deb, debs / deb.name)
    with root_overlay(series, [python_layer(series)]) as root:
        conf = root / "etc/kea/kea-dhcp4.conf"
        stock = conf.read_text()
        # A Kea of this series serving the stock file (Debian's relative socket name:
        # /run/kea/kea4-ctrl-socket), on loopback, no lease file.
        live = stock.replace('"interfaces": [ ]', '"interfaces": [ "lo" ]')
        conf.write_text(live)
        chroot(root, "install", "-d", "-m", "0750", "-o", "_kea", "-g", "_kea", "/run/kea",
               "/var/lib/kea")
        kea = subprocess.Popen(["chroot", str(root), "env", "KEA_LOCKFILE_DIR=none",
                                "kea-dhcp4", "-c", "/etc/kea/kea-dhcp4.conf", "-p", "10167"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        sock = "/run/kea/kea4-ctrl-socket"
        try:
            deadline = time.monotonic() + 20
            while not (root / sock.lstrip("/")).exists():
                assert kea.poll() is None, kea.stdout.read()
                assert time.monotonic() < deadline, "Kea did not open its control socket"
                time.sleep(0.2)
            assert kea_command(root, sock, "cisco-tftp-config-get")["result"] != 0
            base = {"cisco_tftp_kea_hook_install_method": "deb",
                    "cisco_tftp_kea_hook_deb_src": str(debs),
                    "cisco_tftp_kea_hook_parameters": HOOK_PARAMS}
            r = root_playbook(root, tmp_path, base)
            assert r.returncode == 0, r.stdout + r.stderr
            assert recap(r)["changed"] > 0
            assert "Check the candidate with kea-dhcp4 -T" in r.stdout, r.stdout
            st = chroot(root, "dpkg-query", "-W", "-f=${Status}", f"{HOOK_BASE}-{series}").stdout
            assert st == "install ok installed", st
            doc = json.loads(conf.read_text())
            hooks = doc["Dhcp4"]["hooks-libraries"]
            assert hooks[-1] == {"library": "libdhcp_cisco_tftp.so", "parameters": HOOK_PARAMS}
            assert doc["Dhcp4"]["control-socket"]["socket-name"] == "kea4-ctrl-socket"
            st = os.stat(root / "run/kea")
            assert st.st_mode & 0o7777 == 0o750
            # Reloaded, not restarted: the same Kea now has the hook.
            assert kea.poll() is None
            answer = kea_command(root, sock, "cisco-tftp-config-get")
            assert answer["result"] == 0 and "10.0.0.20" in json.dumps(answer), answer

            r = root_playbook(root, tmp_path, base)
            assert r.returncode == 0 and recap(r)["changed"] == 0, r.stdout + r.stderr

            before = conf.read_bytes()
            r = root_playbook(root, tmp_path, {**base, "cisco_tftp_kea_hook_parameters":
                                               {"servers": ["10.0.0.300"]}})
            assert r.returncode != 0 and "10.0.0.300" in r.stdout, r.stdout
            assert conf.read_bytes() == before

            r = root_playbook(root, tmp_path, {**base, "cisco_tftp_kea_hook_dhcp4_config":
                                               {**doc["Dhcp4"], "control-socket": {
                                                   "socket-type": "unix",
                                                   "socket-name": "/tmp/kea4.sock"}}})
            assert r.returncode != 0, r.stdout
            assert "control socket /tmp/kea4.sock" in r.stdout and "/run/kea" in r.stdout, r.stdout
            assert conf.read_bytes() == before
            assert kea_command(root, sock, "cisco-tftp-config-get")["result"] == 0
        finally:
            kea.send_signal(signal.SIGTERM)
            try:
                kea.wait(15)
            except subprocess.TimeoutExpired:
                kea.kill()
