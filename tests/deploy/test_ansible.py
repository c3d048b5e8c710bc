"""The Ansible roles, run for real against this machine with `ansible-playbook -i localhost,
-c local`: the hook role merges the hook into a live Kea configuration that already has subnets
and another hook, validates a candidate in /etc/kea before replacing the live file, and reloads
a running Kea (a throwaway kea-dhcp4 on loopback, port 10067, stopped afterwards) through its
control socket; the sidecar role installs the package and, with no service manager here, starts
tftp-sidecar through its init script (start-stop-daemon). A second run changes nothing; a bad
variable fails with the argument-spec message; a bad hook parameter leaves the live config
untouched. Everything installed is removed and /etc/kea/kea-dhcp4.conf restored afterwards.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from test_packages import (HOOK_PATH, HOOK_PKG, ROOT_SERIES, SIDECAR_PKG, Kea, build_debs,
                           build_hook_deb, installed,
                           machine_lock, purge, remove_sidecar_user, run, user_exists)

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
VENV_BIN = REPO / ".venv" / "bin"
KEA_CONF = Path("/etc/kea/kea-dhcp4.conf")
# The machine's own kea-dhcp4.conf while the tests run: if a run is killed, the next one puts
# it back before anything else.
KEA_CONF_SAVED = Path("/var/tmp/cisco-tftp-ansible-test.kea-dhcp4.conf")
FIRMWARE_DIR = Path("/srv/cisco-tftp-ansible-test")
# Below 1024, so binding it proves the sidecar got CAP_NET_BIND_SERVICE and nothing else.
TFTP_PORT = 969
METRICS_PORT = 19169
HTTP_PORT = 16970

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changes the machine: needs root")

# A live configuration as an operator has it: comments, a subnet with a reservation, Debian's
# lease_cmds hook, a control socket. The control socket and lease file are under the test's
# temp dir, substituted in below.
LIVE_CONFIG = """// Kea DHCPv4, managed by hand until now
{
"Dhcp4": {
    "interfaces-config": { "interfaces": [ "lo" ] },
    "control-socket": { "socket-type": "unix", "socket-name": "@SOCK@" },
    "lease-database": { "type": "memfile", "persist": false },
    /* the office LAN */
    "subnet4": [
        {
            "id": 7,
            "subnet": "192.0.2.0/24",
            "pools": [ { "pool": "192.0.2.100 - 192.0.2.199" } ],
            "reservations": [ { "hw-address": "00:11:22:33:44:55", "ip-address": "192.0.2.10" } ],
            "option-data": [ { "name": "routers", "data": "192.0.2.1" } ]
        }
    ],
    "hooks-libraries": [
        { "library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so" }  # leases over the socket
    ],
    "valid-lifetime": 4000,
    "loggers": [ { "name": "kea-dhcp4", "severity": "INFO",
                   "output_options": [ { "output": "@LOG@" } ] } ]
}
}
"""

HOOK_PARAMS = {"servers": ["10.0.0.10", "10.0.0.11"], "families": {"88xx": ["10.0.0.20"]}}


def ansible_env(tmp):
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}:{env['PATH']}"
    env["ANSIBLE_CONFIG"] = str(ANSIBLE_DIR / "ansible.cfg")
    env["ANSIBLE_HOME"] = str(tmp / "ansible-home")
    env["ANSIBLE_LOCAL_TEMP"] = str(tmp / "ansible-tmp")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_RETRY_FILES_ENABLED"] = "0"
    return env


def playbook(tmp, extra_vars, *args, timeout=600):
    vars_file = tmp / f"vars-{time.monotonic_ns()}.json"
    vars_file.write_text(json.dumps(extra_vars))
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local",
           "-e", "ansible_python_interpreter=/usr/bin/python3",
           "-e", f"@{vars_file}", *args, "site.yml"]
    return subprocess.run(cmd, cwd=ANSIBLE_DIR, env=ansible_env(tmp), capture_output=True,
                          text=True, timeout=timeout)


def recap(result):
    m = re.search(r"^localhost\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                  result.stdout, re.M)
    assert m, result.stdout + result.stderr
    return {"ok": int(m[1]), "changed": int(m[2]), "unreachable": int(m[3]),
            "failed": int(m[4])}


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def strip_kea_comments(text):
    out = []
    for line in text.splitlines():
        line = re.sub(r"\s*(#|//).*$", "", line)
        out.append(line)
    return re.sub(r"/\*.*?\*/", "", "\n".join(out), flags=re.S)


def sidecar_pid():
    try:
        pid = int(Path("/run/tftp-sidecar.pid").read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


@pytest.fixture(scope="module")
def machine(tmp_path_factory):
    """Builds the debs, saves what the roles change and puts it all back afterwards."""
    debs = build_debs()
    with machine_lock():
        yield from _machine(tmp_path_factory, debs)


def _machine(tmp_path_factory, debs):
    tmp = tmp_path_factory.mktemp("ansible")
    if KEA_CONF_SAVED.exists():
        shutil.copy2(KEA_CONF_SAVED, KEA_CONF)
    elif KEA_CONF.exists():
        shutil.copy2(KEA_CONF, KEA_CONF_SAVED)
    kea_dir_before = set(os.listdir(KEA_CONF.parent))
    saved = KEA_CONF.read_bytes() if KEA_CONF.exists() else None
    saved_stat = KEA_CONF.stat() if KEA_CONF.exists() else None
    pkgs_before = {p: installed(p) for p in (HOOK_PKG, SIDECAR_PKG)}
    user_before = user_exists("tftp-sidecar")
    srv_before = Path("/srv/tftp").exists()
    FIRMWARE_DIR.mkdir(exist_ok=True)
    (FIRMWARE_DIR / "SEP001122334455.cnf.xml").write_text("<device>test</device>\n")
    yield {"tmp": tmp, "debs": debs, "saved": saved}
    # Restore Kea's config, stop the sidecar the role started, remove what was installed.
    if saved is not None:
        KEA_CONF.write_bytes(saved)
        os.chown(KEA_CONF, saved_stat.st_uid, saved_stat.st_gid)
        os.chmod(KEA_CONF, saved_stat.st_mode & 0o7777)
    for name in set(os.listdir(KEA_CONF.parent)) - kea_dir_before:
        (KEA_CONF.parent / name).unlink()  # the role's backups of the test's config
    KEA_CONF_SAVED.unlink(missing_ok=True)
    if Path("/etc/init.d/tftp-sidecar").exists():
        run(["/etc/init.d/tftp-sidecar", "stop"], check=False, timeout=90)
    pid = sidecar_pid()
    if pid:
        os.kill(pid, 15)
    run(["update-rc.d", "-f", "tftp-sidecar", "remove"], check=False)
    leftover = [p for p in (HOOK_PKG, SIDECAR_PKG) if installed(p) and not pkgs_before[p]]
    if leftover:
        purge(*leftover)
    remove_sidecar_user(user_before)
    for deb in debs.values():
        Path("/var/cache", deb.name).unlink(missing_ok=True)
    shutil.rmtree(FIRMWARE_DIR, ignore_errors=True)
    if not srv_before and Path("/srv/tftp").is_dir() and not any(Path("/srv/tftp").iterdir()):
        Path("/srv/tftp").rmdir()


@pytest.fixture(scope="module")
def live_kea(machine):
    """The operator's live config in /etc/kea and a Kea running it on loopback."""
    tmp = machine["tmp"]
    sock = tmp / "kea4.sock"
    KEA_CONF.write_text(LIVE_CONFIG.replace("@SOCK@", str(sock))
                        .replace("@LOG@", str(tmp / "kea.log")))
    kea = Kea(KEA_CONF, sock, tmp)
    yield kea
    kea.stop()


def site_vars(machine, **over):
    v = {
        "cisco_tftp_kea_hosts": "localhost",
        "cisco_tftp_sidecar_hosts": "localhost",
        "cisco_tftp_kea_hook_install_method": "deb",
        # the directory packaging/build-debs.sh wrote: the role takes the .deb of this Kea's
        # series from it
        "cisco_tftp_kea_hook_deb_src": str(machine["debs"][HOOK_PKG].parent),
        "cisco_tftp_kea_hook_parameters": HOOK_PARAMS,
        "cisco_tftp_sidecar_install_method": "deb",
        "cisco_tftp_sidecar_deb_src": str(machine["debs"][SIDECAR_PKG]),
        "cisco_tftp_sidecar_root": str(FIRMWARE_DIR),
        "cisco_tftp_sidecar_listen": [f"127.0.0.1:{TFTP_PORT}"],
        "cisco_tftp_sidecar_metrics_listen": f"127.0.0.1:{METRICS_PORT}",
        "cisco_tftp_sidecar_http_listen": [f"127.0.0.1:{HTTP_PORT}"],
    }
    v.update(over)
    return v


def test_ansible_lint_production_profile():
    r = subprocess.run([str(VENV_BIN / "ansible-lint"), "--profile", "production", "--nocolor"],
                       cwd=ANSIBLE_DIR, env=ansible_env(Path("/tmp")), capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 failure(s), 0 warning(s)" in r.stdout + r.stderr


def test_bad_variable_fails_with_argument_spec_message(machine):
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_install_method="ftp"))
    assert r.returncode != 0
    assert "Validating arguments against arg spec" in r.stdout, r.stdout
    assert "cisco_tftp_kea_hook_install_method must be one of" in r.stdout, r.stdout

    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hosts="no-such-host",
                                           cisco_tftp_sidecar_port_mode="singleport"))
    assert r.returncode != 0
    assert "cisco_tftp_sidecar_port_mode must be one of" in r.stdout, r.stdout


def test_check_mode_on_a_fresh_host_changes_nothing(machine):
    """--check --diff before anything is installed: succeeds, shows the changes, makes none."""
    if installed(HOOK_PKG) or installed(SIDECAR_PKG):
        pytest.skip("the packages are already installed on this machine")
    before = KEA_CONF.read_bytes() if KEA_CONF.exists() else None
    r = playbook(machine["tmp"], site_vars(machine), "--check", "--diff")
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r)["changed"] > 0
    assert (KEA_CONF.read_bytes() if KEA_CONF.exists() else None) == before
    assert not installed(HOOK_PKG) and not installed(SIDECAR_PKG)
    assert not Path("/etc/tftp-sidecar").exists() and sidecar_pid() is None


def test_site_playbook_installs_merges_reloads_and_starts(machine, live_kea):
    tmp = machine["tmp"]
    pid_before = live_kea.proc.pid
    assert live_kea.command("cisco-tftp-config-get")["result"] != 0  # not loaded yet

    r = playbook(tmp, site_vars(machine))
    assert r.returncode == 0, r.stdout + r.stderr
    assert recap(r)["changed"] > 0

    # The hook entry was merged; the subnet, the reservation and lease_cmds are kept.
    doc = json.loads(KEA_CONF.read_text())
    dhcp4 = doc["Dhcp4"]
    libs = [h["library"] for h in dhcp4["hooks-libraries"]]
    assert libs == ["/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so", HOOK_PATH]
    assert dhcp4["hooks-libraries"][1]["parameters"] == HOOK_PARAMS
    original = json.loads(strip_kea_comments(LIVE_CONFIG.replace("@SOCK@", "s")
                                             .replace("@LOG@", "l")))
    assert dhcp4["subnet4"] == original["Dhcp4"]["subnet4"]
    assert dhcp4["valid-lifetime"] == 4000
    assert run(["kea-dhcp4", "-t", str(KEA_CONF)], check=False).returncode == 0
    assert not list(KEA_CONF.parent.glob(".*candidate*"))
    assert list(KEA_CONF.parent.glob("kea-dhcp4.conf.*~")), "backup of the previous config"

    # Kea was reloaded, not restarted: same process, hook now loaded, lease_cmds still there.
    assert live_kea.proc.poll() is None and live_kea.proc.pid == pid_before
    answer = live_kea.command("cisco-tftp-config-get")
    assert answer["result"] == 0, answer
    assert "10.0.0.20" in json.dumps(answer["arguments"])
    commands = live_kea.command("list-commands")["arguments"]
    assert "lease4-get-all" in commands and "cisco-tftp-dry-run" in commands

    # The sidecar runs as its own user with CAP_NET_BIND_SERVICE only, serving the firmware.
    pid = sidecar_pid()
    assert pid, r.stdout
    status = Path(f"/proc/{pid}/status").read_text()
    uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M)[1])
    assert uid == __import__("pwd").getpwnam("tftp-sidecar").pw_uid
    assert re.search(r"^CapEff:\s+0*400$", status, re.M), status
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/readyz", timeout=2) as h:
                assert h.status == 200
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    got = tmp / "got.xml"
    if shutil.which("tftp"):
        run(["tftp", "127.0.0.1", str(TFTP_PORT), "-m", "octet", "-c", "get",
             "SEP001122334455.cnf.xml", str(got)], timeout=30)
        assert got.read_text() == "<device>test</device>\n"
    # The same file over HTTP (what 78xx/88xx phones ask first).
    with urllib.request.urlopen(f"http://127.0.0.1:{HTTP_PORT}/SEP001122334455.cnf.xml", timeout=5) as h:
        assert h.read() == b"<device>test</device>\n"

    # Second run: nothing changes, Kea is not touched again.
    conf_sha = sha(KEA_CONF)
    r2 = playbook(tmp, site_vars(machine))
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert recap(r2)["changed"] == 0, r2.stdout
    assert sha(KEA_CONF) == conf_sha
    assert sidecar_pid() == pid

    # And --check --diff agrees that there is nothing to do.
    r3 = playbook(tmp, site_vars(machine), "--check", "--diff")
    assert r3.returncode == 0 and recap(r3)["changed"] == 0, r3.stdout + r3.stderr


def test_rejected_hook_parameter_leaves_live_config_untouched(machine, live_kea):
    before = sha(KEA_CONF)
    bad = {"servers": ["10.0.0.300"]}
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_parameters=bad))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "is unchanged" in out and "10.0.0.300" in out, out
    assert sha(KEA_CONF) == before
    assert not list(KEA_CONF.parent.glob(".*candidate*"))
    # Kea still serves the configuration it had.
    assert live_kea.proc.poll() is None
    assert live_kea.command("cisco-tftp-config-get")["result"] == 0


def test_rejected_kea_config_leaves_live_config_untouched(machine, live_kea):
    """A configuration kea-dhcp4 -t refuses (an unknown Dhcp4 key) is not applied either."""
    before = sha(KEA_CONF)
    whole = json.loads(KEA_CONF.read_text())["Dhcp4"]
    whole["valid-lifetme"] = 10
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_dhcp4_config=whole))
    assert r.returncode != 0
    assert "kea-dhcp4 -t" in r.stdout and "is unchanged" in r.stdout, r.stdout
    assert sha(KEA_CONF) == before


def test_reload_kea_refuses_puts_the_previous_config_back(machine, live_kea):
    """A configuration both checks pass but Kea refuses when it applies it (a lease file in a
    directory that does not exist: -t does not open the lease database). Kea 2.2 would be left
    not serving; the handler restores the backup, reloads it, and fails the play."""
    before = KEA_CONF.read_bytes()
    whole = json.loads(before)["Dhcp4"]
    whole["lease-database"] = {"type": "memfile", "persist": True,
                               "name": "/nonexistent/cisco-tftp-test/leases.csv"}
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_dhcp4_config=whole,
                                           cisco_tftp_sidecar_hosts="no-such-host"))
    assert r.returncode != 0
    assert "Kea refused the new configuration" in r.stdout, r.stdout
    assert "reloaded it: result 0" in r.stdout, r.stdout
    assert KEA_CONF.read_bytes() == before
    assert live_kea.proc.poll() is None
    assert live_kea.command("cisco-tftp-config-get")["result"] == 0
    assert live_kea.command("config-get")["arguments"]["Dhcp4"]["lease-database"]["persist"] is False


def test_debian_stock_config_with_kea_stopped(machine):
    """Debian's own kea-dhcp4.conf (comments, trailing commas): the hook is merged, the result
    passes kea-dhcp4 -t, and with Kea not running the reload is a no-op."""
    stock = machine["saved"]
    if stock is None or b'"Dhcp4"' not in stock:
        pytest.skip("no stock /etc/kea/kea-dhcp4.conf on this machine")
    KEA_CONF.write_bytes(stock)
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_sidecar_hosts="no-such-host"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "kea-dhcp4 is not running: nothing to reload" in r.stdout or \
        "RUNNING HANDLER [cisco_tftp_kea_hook : Reload Kea DHCPv4]" in r.stdout, r.stdout
    dhcp4 = json.loads(KEA_CONF.read_text())["Dhcp4"]
    assert [h["library"] for h in dhcp4["hooks-libraries"]][-1] == HOOK_PATH
    assert run(["kea-dhcp4", "-t", str(KEA_CONF)], check=False).returncode == 0
    r2 = playbook(machine["tmp"], site_vars(machine, cisco_tftp_sidecar_hosts="no-such-host"))
    assert r2.returncode == 0, r2.stdout + r2.stderr
    changed = re.findall(r"TASK \[([^\]]+)\][^\n]*\n(?:[^\n]*\n)*?changed:", r2.stdout)
    assert recap(r2)["changed"] == 0, (changed, r2.stdout)


def test_role_templates_match_the_packaged_unit_and_init_script():
    """The sidecar role's unit and init script (binary install) are the package's, templated."""
    tdir = ANSIBLE_DIR / "roles" / "cisco_tftp_sidecar" / "templates"
    subst = {"{{ cisco_tftp_sidecar_binary_path }}": "/usr/bin/tftp-sidecar",
             "{{ cisco_tftp_sidecar_config_file }}": "/etc/tftp-sidecar/config.toml",
             "{{ cisco_tftp_sidecar_user }}": "tftp-sidecar",
             "{{ cisco_tftp_sidecar_group }}": "tftp-sidecar"}
    for tmpl, packaged in (("tftp-sidecar.service.j2", "tftp-sidecar.service"),
                           ("tftp-sidecar.init.j2", "tftp-sidecar.init")):
        text = (tdir / tmpl).read_text()
        for k, v in subst.items():
            text = text.replace(k, v)
        body = [line for line in text.splitlines() if not line.startswith("# ")]
        want = [line for line in (REPO / "packaging" / packaged).read_text().splitlines()
                if not line.startswith("# ")]
        assert body == want, tmpl


def test_kea_release_without_a_package_is_refused(machine, tmp_path):
    """A Kea whose series has no hook package (Ubuntu 24.04's 2.4.1, faked by a kea-dhcp4
    that says so to -v): the play stops naming the version found and those supported, before
    anything is installed or changed."""
    fake = tmp_path / "kea-dhcp4"
    fake.write_text('#!/bin/sh\nif [ "$1" = -v ]; then echo 2.4.1; exit 0; fi\nexec kea-dhcp4 "$@"\n')
    fake.chmod(0o755)
    before = sha(KEA_CONF) if KEA_CONF.exists() else None
    hook_before = installed(HOOK_PKG)
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_kea_binary=str(fake),
                                           cisco_tftp_sidecar_hosts="no-such-host"))
    assert r.returncode != 0
    assert "Kea 2.4.1 is installed" in r.stdout, r.stdout
    assert "release series 2.2, 2.6, 3.0 only" in r.stdout, r.stdout
    assert (sha(KEA_CONF) if KEA_CONF.exists() else None) == before
    assert installed(HOOK_PKG) == hook_before


def test_deb_of_another_series_is_refused(machine):
    """The .deb of another Kea series (given as a file) is refused by name before it is
    copied: this host's Kea is 2.2."""
    other = build_hook_deb(ROOT_SERIES[0])
    before = sha(KEA_CONF) if KEA_CONF.exists() else None
    r = playbook(machine["tmp"], site_vars(machine, cisco_tftp_kea_hook_deb_src=str(other),
                                           cisco_tftp_sidecar_hosts="no-such-host"))
    assert r.returncode != 0
    assert f"{other.name} is for Kea {ROOT_SERIES[0]}." in r.stdout, r.stdout
    assert "this host runs Kea 2.2.0" in r.stdout, r.stdout
    assert not Path("/var/cache", other.name).exists()
    assert (sha(KEA_CONF) if KEA_CONF.exists() else None) == before
