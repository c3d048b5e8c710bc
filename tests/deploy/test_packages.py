"""The Debian packages: built from Cargo metadata by packaging/build-debs.sh, installed with
dpkg -i on this machine, the hook loaded from its installed path by the real Kea, the unit
checked by systemd-analyze verify, then purged again.

Needs root, Debian's kea-dhcp4-server and cargo (scripts/setup.sh installs them). The release
build runs once per session (see `built_debs`); later sessions reuse target/release.
"""

import atexit
import contextlib
import fcntl
import functools
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HOOK_PKG = "cisco-tftp-kea-hook"
SIDECAR_PKG = "cisco-tftp-sidecar"
HOOK_PATH = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so"
CHECK_BIN = "/usr/bin/cisco-tftp-check"
UNIT = "/lib/systemd/system/tftp-sidecar.service"
# Kea's DHCP port for the tests' own Kea: never 67, so nothing real is disturbed.
KEA_TEST_PORT = 10067

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="installs packages: needs root")


@contextlib.contextmanager
def machine_lock(timeout=1800):
    """Serialises the tests that install these packages or touch /etc/kea between pytest
    sessions (two sessions on one machine would undo each other's changes)."""
    with open("/run/lock/cisco-tftp-deploy-tests.lock", "w") as f:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("another session holds the deploy-test lock")
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run(cmd, check=True, timeout=120, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise AssertionError(f"{cmd} -> {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
    return r


@functools.lru_cache(maxsize=None)
def build_debs():
    """Release build + both .deb files, once per session (shared with test_ansible*.py).
    The .debs go to a private directory, so another session's build cannot change them."""
    out = Path(tempfile.mkdtemp(prefix="cisco-tftp-debs-"))
    atexit.register(shutil.rmtree, out, True)
    r = run([str(REPO / "packaging" / "build-debs.sh"), str(out)], timeout=3600, cwd=REPO)
    debs = {}
    for line in r.stdout.split():
        name = Path(line).name.split("_")[0]
        debs[name] = Path(line)
    assert set(debs) == {HOOK_PKG, SIDECAR_PKG}, r.stdout + r.stderr
    return debs


def installed(pkg):
    r = run(["dpkg-query", "-W", "-f=${Status}", pkg], check=False)
    return r.returncode == 0 and "install ok installed" in r.stdout


def purge(*pkgs):
    run(["dpkg", "--purge", *pkgs], timeout=300)


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def remove_sidecar_user(existed_before):
    if not existed_before and user_exists("tftp-sidecar"):
        run(["deluser", "--quiet", "--system", "tftp-sidecar"], check=False)
        run(["delgroup", "--quiet", "--system", "tftp-sidecar"], check=False)


# ---- a throwaway Kea on loopback ---------------------------------------------------------


def kea_config(tmp, hook_library, parameters, interfaces=("lo",)):
    """A minimal Kea DHCPv4 config loading the hook, everything it writes under tmp."""
    return {
        "Dhcp4": {
            "interfaces-config": {"interfaces": list(interfaces)},
            "control-socket": {"socket-type": "unix", "socket-name": str(tmp / "kea4.sock")},
            "lease-database": {"type": "memfile", "persist": False},
            "subnet4": [{"id": 1, "subnet": "192.0.2.0/24",
                         "pools": [{"pool": "192.0.2.100 - 192.0.2.200"}]}],
            "hooks-libraries": [{"library": hook_library, "parameters": parameters}],
            "loggers": [{"name": "kea-dhcp4", "severity": "INFO",
                         "output_options": [{"output": str(tmp / "kea.log")}]}],
        }
    }


def kea_command(sock_path, command, arguments=None, timeout=10):
    msg = {"command": command}
    if arguments is not None:
        msg["arguments"] = arguments
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(json.dumps(msg).encode())
        buf = b""
        while True:
            try:
                part = s.recv(65536)
            except socket.timeout:
                break
            if not part:
                break
            buf += part
            try:
                return json.loads(buf)
            except ValueError:
                continue
    return json.loads(buf)


class Kea:
    """kea-dhcp4 -c CONFIG -p 10067 with its pid and lock files under a temp dir."""

    def __init__(self, config_path, sock_path, rundir):
        self.sock = Path(sock_path)
        env = dict(os.environ, KEA_PIDFILE_DIR=str(rundir), KEA_LOCKFILE_DIR=str(rundir))
        self.log = open(Path(rundir) / "kea.stdout", "w")
        self.proc = subprocess.Popen(
            ["kea-dhcp4", "-c", str(config_path), "-p", str(KEA_TEST_PORT)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"kea-dhcp4 exited {self.proc.returncode}: "
                                     f"{(Path(rundir) / 'kea.stdout').read_text()}")
            if self.sock.exists():
                try:
                    kea_command(self.sock, "version-get")
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("kea-dhcp4 did not open its control socket in 20 s")

    def command(self, command, arguments=None):
        return kea_command(self.sock, command, arguments)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


# ---- the tests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def debs():
    return build_debs()


@pytest.fixture(scope="module")
def installed_debs(debs):
    with machine_lock():
        yield from _installed_debs(debs)


def _installed_debs(debs):
    before = {p: installed(p) for p in (HOOK_PKG, SIDECAR_PKG)}
    user_before = user_exists("tftp-sidecar")
    srv_before = Path("/srv/tftp").exists()
    run(["dpkg", "-i", str(debs[HOOK_PKG]), str(debs[SIDECAR_PKG])], timeout=300)
    yield debs
    leftover = [p for p in (HOOK_PKG, SIDECAR_PKG) if installed(p) and not before[p]]
    if leftover:
        purge(*leftover)
    remove_sidecar_user(user_before)
    if not srv_before and Path("/srv/tftp").is_dir() and not any(Path("/srv/tftp").iterdir()):
        Path("/srv/tftp").rmdir()


def test_deb_contents_and_metadata(debs):
    hook = run(["dpkg-deb", "-c", str(debs[HOOK_PKG])]).stdout
    assert "." + HOOK_PATH in hook
    assert "./usr/bin/cisco-tftp-check" in hook
    fields = run(["dpkg-deb", "-f", str(debs[HOOK_PKG]), "Depends", "Version"]).stdout
    assert "kea-dhcp4-server (>= 2.2.0)" in fields and "kea-common" in fields, fields

    side = run(["dpkg-deb", "-c", str(debs[SIDECAR_PKG])]).stdout
    for path in ("./usr/bin/tftp-sidecar", "./etc/tftp-sidecar/config.toml",
                 "./lib/systemd/system/tftp-sidecar.service", "./etc/init.d/tftp-sidecar"):
        assert path in side, side
    ctl = Path(run(["mktemp", "-d"]).stdout.strip())
    try:
        run(["dpkg-deb", "-e", str(debs[SIDECAR_PKG]), str(ctl)])
        conffiles = (ctl / "conffiles").read_text().split()
        assert "/etc/tftp-sidecar/config.toml" in conffiles
        for script in ("postinst", "prerm", "postrm"):
            assert os.access(ctl / script, os.X_OK)
            run(["sh", "-n", str(ctl / script)])
    finally:
        shutil.rmtree(ctl)


def test_hook_from_installed_path_passes_kea_t(installed_debs, tmp_path):
    assert Path(HOOK_PATH).is_file()
    for interfaces in (["lo"], ["*"]):
        cfg = tmp_path / f"kea-{interfaces[0].strip('*') or 'all'}.conf"
        cfg.write_text(json.dumps(kea_config(tmp_path, HOOK_PATH,
                                             {"servers": ["10.0.0.10"]}, interfaces)))
        r = run(["kea-dhcp4", "-t", str(cfg)], check=False)
        assert r.returncode == 0, r.stdout + r.stderr


def test_installed_check_binary_catches_what_kea_t_does_not(installed_debs, tmp_path):
    good = tmp_path / "good.conf"
    good.write_text(json.dumps(kea_config(tmp_path, HOOK_PATH, {"servers": ["10.0.0.10"]})))
    run([CHECK_BIN, str(good)])
    bad = tmp_path / "bad.conf"
    bad.write_text(json.dumps(kea_config(tmp_path, HOOK_PATH, {"servers": ["10.0.0.300"]})))
    # Kea 2.2's -t does not run the hook's load(): the bad server passes it ...
    assert run(["kea-dhcp4", "-t", str(bad)], check=False).returncode == 0
    # ... and the packaged checker names the parameter.
    r = run([CHECK_BIN, str(bad)], check=False)
    assert r.returncode == 1
    assert "servers" in (r.stdout + r.stderr) and "10.0.0.300" in (r.stdout + r.stderr)


def test_installed_hook_loads_into_running_kea(installed_debs, tmp_path):
    cfg = tmp_path / "kea.conf"
    cfg.write_text(json.dumps(kea_config(tmp_path, HOOK_PATH, {"servers": ["10.0.0.10"]})))
    kea = Kea(cfg, tmp_path / "kea4.sock", tmp_path)
    try:
        answer = kea.command("cisco-tftp-config-get")
        assert answer["result"] == 0, answer
        assert "10.0.0.10" in json.dumps(answer["arguments"])
    finally:
        kea.stop()


def test_sidecar_package_installs_user_config_and_unit(installed_debs):
    u = pwd.getpwnam("tftp-sidecar")
    assert u.pw_shell in ("/usr/sbin/nologin", "/bin/false"), u.pw_shell
    st = os.stat("/etc/tftp-sidecar/config.toml")
    assert st.st_mode & 0o777 == 0o640 and st.st_uid == 0 and st.st_gid == u.pw_gid
    assert Path("/srv/tftp").is_dir()
    # The default config is valid as shipped.
    run(["/usr/bin/tftp-sidecar", "--config", "/etc/tftp-sidecar/config.toml", "--check-config"])
    unit = Path(UNIT).read_text()
    for line in ("User=tftp-sidecar", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "PrivateTmp=yes", "StateDirectory=tftp-sidecar"):
        assert line + "\n" in unit, line


def test_unit_passes_systemd_analyze_verify(installed_debs):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not installed (it is in the systemd package)")
    r = run(["systemd-analyze", "verify", UNIT], check=False)
    assert r.returncode == 0 and not r.stderr.strip(), r.stdout + r.stderr


def test_purge_removes_packages(installed_debs):
    purge(HOOK_PKG, SIDECAR_PKG)
    assert not installed(HOOK_PKG) and not installed(SIDECAR_PKG)
    assert not Path(HOOK_PATH).exists() and not Path(UNIT).exists()
    assert not Path("/etc/tftp-sidecar/config.toml").exists()
