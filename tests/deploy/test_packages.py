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
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _series_table():
    """[(series, suite, root)] from scripts/kea-series.sh, the one table of Kea series."""
    out = subprocess.run(
        ["bash", "-c", '. scripts/kea-series.sh; for s in $(kea_all_series); do '
                       'echo "$s $(kea_suite "$s") $(kea_root "$s")"; done'],
        cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


KEA_SERIES = _series_table()
HOST_SERIES = next(s for s, suite, _root in KEA_SERIES if suite == "host")
ROOT_SERIES = [s for s, suite, _root in KEA_SERIES if suite != "host"]
HOOK_BASE = "cisco-tftp-kea-hook"
# One hook package per Kea series; the host's is the one the other deploy tests install.
HOOK_PKG = f"{HOOK_BASE}-{HOST_SERIES}"
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
    r = run([str(REPO / "packaging" / "build-debs.sh"), str(out)], timeout=3600, cwd=REPO,
            env=dict(os.environ, KEA_SERIES=HOST_SERIES))
    debs = {}
    for line in r.stdout.split():
        name = Path(line).name.split("_")[0]
        debs[name] = Path(line)
    assert set(debs) == {HOOK_PKG, SIDECAR_PKG}, r.stdout + r.stderr
    return debs


# The 2.6 and 3.0 packages in the tests hold the debug builds, which the hook's integration
# tests make for every series anyway (a release build per series would double the build
# time); what is tested here (names, Depends, sonames, install, load) is the same.
DEB_PROFILE = os.environ.get("CISCO_TFTP_DEB_PROFILE", "debug")


@functools.lru_cache(maxsize=None)
def build_hook_deb(series):
    """The hook package of one Kea series (built in that series' root), once per session."""
    out = Path(tempfile.mkdtemp(prefix=f"cisco-tftp-debs-{series}-"))
    atexit.register(shutil.rmtree, out, True)
    r = run([str(REPO / "packaging" / "build-debs.sh"), str(out)], timeout=3600, cwd=REPO,
            env=dict(os.environ, KEA_SERIES=series, SIDECAR="0", PROFILE=DEB_PROFILE))
    debs = [Path(line) for line in r.stdout.split()]
    assert len(debs) == 1 and debs[0].name.startswith(f"{HOOK_BASE}-{series}_"), r.stdout
    return debs[0]


def kea_root(series):
    """The series' Debian root (made by scripts/kea-root.sh when missing)."""
    return Path(run([str(REPO / "scripts" / "kea-root.sh"), series], timeout=1800).stdout.strip())


@contextlib.contextmanager
def root_overlay(series, layers=()):
    """A throwaway writable view of the series' cached root (overlayfs), with `layers`
    (directories, topmost first) over it: what the test installs there is gone afterwards
    and the cache stays as it was."""
    lower = ":".join([*map(str, layers), str(kea_root(series))])
    work = Path(tempfile.mkdtemp(prefix=f"cisco-tftp-root-{series}-", dir="/var/tmp"))
    for d in ("upper", "work", "merged"):
        (work / d).mkdir()
    run(["mount", "-t", "overlay", "overlay", "-o",
         f"lowerdir={lower},upperdir={work / 'upper'},workdir={work / 'work'}",
         str(work / "merged")])
    try:
        yield work / "merged"
    finally:
        run(["umount", "-l", str(work / "merged")], check=False)
        shutil.rmtree(work, ignore_errors=True)


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
    # --force-confnew: a run that was interrupted leaves the package with an edited
    # config.toml behind, and dpkg would stop at its conffile question (no one to answer).
    run(["dpkg", "-i", "--force-confnew", str(debs[HOOK_PKG]), str(debs[SIDECAR_PKG])],
        timeout=300, stdin=subprocess.DEVNULL)
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
    assert "kea-dhcp4-server (<< 2.2.1~)" in fields, fields

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


# ---- one hook package per Kea release series ----------------------------------------------


def deb_field(deb, field):
    return run(["dpkg-deb", "-f", str(deb), field]).stdout.strip()


def kea_release_in(root):
    """Upstream version of kea-dhcp4-server in a root (`/`: the host)."""
    cmd = ["dpkg-query", "-W", "-f=${Version}", "kea-dhcp4-server"]
    v = run(cmd if str(root) == "/" else ["chroot", str(root), *cmd]).stdout.strip()
    return v.split(":", 1)[-1].rsplit("-", 1)[0]


def needed(elf):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                      run(["readelf", "-d", str(elf)]).stdout)


@pytest.mark.parametrize("series", [s for s, _suite, _root in KEA_SERIES])
def test_hook_package_per_series(series, tmp_path):
    """Name, version, Depends and the .so's Kea sonames say which Kea it is for."""
    deb = build_hook_deb(series) if series != HOST_SERIES else build_debs()[HOOK_PKG]
    root = Path("/") if series == HOST_SERIES else kea_root(series)
    release = kea_release_in(root)
    assert release.startswith(series + "."), release
    major, minor, patch = release.split(".")[:3]
    following = f"{major}.{minor}.{int(patch.split('+')[0].split('~')[0]) + 1}"
    assert deb_field(deb, "Package") == f"{HOOK_BASE}-{series}"
    assert deb_field(deb, "Version").endswith(f"+kea{release}")
    depends = [d.strip() for d in deb_field(deb, "Depends").split(",")]
    assert f"kea-dhcp4-server (>= {release})" in depends, depends
    assert f"kea-dhcp4-server (<< {following}~)" in depends, depends
    # $auto was computed in the series' root: kea-common there owns Kea's libraries, at the
    # version that root's shlibs file asks for (dpkg-shlibdeps): `>= 2.2.0` on Debian 12,
    # exactly `= 2.6.3-1+deb13u1` where Debian declares Kea's libraries that strictly.
    assert any(re.fullmatch(rf"kea-common \((>= {re.escape(release)}|= {re.escape(release)}-[^)]+)\)", d)
               for d in depends), depends
    for field in ("Provides", "Conflicts", "Replaces"):
        assert deb_field(deb, field) == HOOK_BASE, field

    run(["dpkg-deb", "-x", str(deb), str(tmp_path)])
    so = tmp_path / HOOK_PATH.lstrip("/")
    assert (tmp_path / CHECK_BIN.lstrip("/")).is_file()
    assert (tmp_path / f"usr/share/doc/{HOOK_BASE}-{series}/PARAMETERS.md").is_file()
    kea_libs = [n for n in needed(so) if n.startswith("libkea-")]
    assert "libkea-hooks.so" in " ".join(kea_libs), kea_libs
    libdir = root / "usr/lib/x86_64-linux-gnu"
    # Every Kea soname the hook needs is that series' (the file exists in its root), and the
    # hooks library is exactly the one that root's linker symlink names.
    for soname in kea_libs:
        assert (libdir / soname).exists(), f"{soname} not in the Kea {series} root"
    hooks_soname = os.readlink(libdir / "libkea-hooks.so") if (libdir / "libkea-hooks.so").is_symlink() else None
    if hooks_soname:
        want = Path(hooks_soname).name
        have = next(n for n in kea_libs if n.startswith("libkea-hooks.so."))
        assert want.startswith(have), (want, have)
    # The other series' packages do not carry these sonames.
    for other, _suite, other_root in KEA_SERIES:
        if other != series and Path(other_root).is_dir():
            other_hooks = [p.name for p in (Path(other_root) / "usr/lib/x86_64-linux-gnu")
                           .glob("libkea-hooks.so.*")]
            assert not (set(other_hooks) & set(kea_libs)), (other, other_hooks, kea_libs)


def chroot_run(root, *cmd, check=True, timeout=120):
    return run(["chroot", str(root), *cmd], check=check, timeout=timeout)


@pytest.mark.parametrize("series", ROOT_SERIES)
def test_hook_package_installs_into_its_series_root(series):
    """dpkg -i next to that series' kea-dhcp4-server; the hook, named by its bare file name,
    is loaded by that Kea's `-T` (which runs load()); a bad parameter fails -T and the
    packaged checker; then purged."""
    deb = build_hook_deb(series)
    with root_overlay(series) as root:
        shutil.copy(deb, root / "tmp" / deb.name)
        r = chroot_run(root, "dpkg", "-i", f"/tmp/{deb.name}", timeout=300)
        assert f"Setting up {HOOK_BASE}-{series}" in r.stdout, r.stdout + r.stderr
        assert (root / HOOK_PATH.lstrip("/")).is_file()
        hooks_dir = [line.split(":", 1)[1].strip()
                     for line in chroot_run(root, "kea-dhcp4", "-W").stdout.splitlines()
                     if line.strip().startswith("Hooks directory:")]
        assert hooks_dir == [str(Path(HOOK_PATH).parent)], hooks_dir
        for params, ok in (({"servers": ["10.0.0.10"]}, True),
                           ({"servers": ["10.0.0.300"]}, False)):
            cfg = {"Dhcp4": {"interfaces-config": {"interfaces": []},
                             "lease-database": {"type": "memfile", "persist": False},
                             "subnet4": [{"id": 1, "subnet": "192.0.2.0/24"}],
                             "hooks-libraries": [{"library": "libdhcp_cisco_tftp.so",
                                                  "parameters": params}]}}
            (root / "tmp/kea.conf").write_text(json.dumps(cfg))
            t = chroot_run(root, "kea-dhcp4", "-T", "/tmp/kea.conf", check=False)
            c = chroot_run(root, "cisco-tftp-check", "/tmp/kea.conf", check=False)
            if ok:
                assert t.returncode == 0, t.stdout + t.stderr
                assert c.returncode == 0, c.stdout + c.stderr
            else:
                assert t.returncode != 0 and "10.0.0.300" in t.stdout + t.stderr
                assert c.returncode == 1 and "10.0.0.300" in c.stdout + c.stderr
        chroot_run(root, "dpkg", "--purge", f"{HOOK_BASE}-{series}")
        assert not (root / HOOK_PATH.lstrip("/")).exists()


@pytest.mark.parametrize("series,other", [(s, o) for s in ROOT_SERIES
                                           for o, _suite, _root in KEA_SERIES if o != s])
def test_hook_package_refuses_another_series(series, other):
    """Another series' package is refused by dpkg in this series' root: its Depends names
    another Kea release."""
    deb = build_hook_deb(other) if other != HOST_SERIES else build_debs()[HOOK_PKG]
    with root_overlay(series) as root:
        shutil.copy(deb, root / "tmp" / deb.name)
        r = chroot_run(root, "dpkg", "-i", f"/tmp/{deb.name}", check=False, timeout=300)
        assert r.returncode != 0, r.stdout
        assert "kea-dhcp4-server" in r.stderr and "dependency problems" in r.stderr, r.stderr
        st = chroot_run(root, "dpkg-query", "-W", "-f=${Status}", f"{HOOK_BASE}-{other}",
                        check=False).stdout
        assert not st.endswith(" installed"), st


@pytest.mark.parametrize("series", ROOT_SERIES)
def test_host_refuses_another_series_package(series):
    """The host's Kea (2.2) refuses the other series' packages (apt-get --simulate: nothing
    is installed)."""
    deb = build_hook_deb(series)
    r = run(["apt-get", "--simulate", "install", str(deb)], check=False, timeout=300)
    assert r.returncode != 0, r.stdout
    assert f"Depends: kea-dhcp4-server (>= {series}." in r.stdout, r.stdout + r.stderr
