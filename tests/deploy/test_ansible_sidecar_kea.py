"""The sidecar role's Kea bits, without installing anything: its config template renders the
`[kea]` / `[[kea]]` keys the real `tftp-sidecar --check-config` accepts (and refuses what it
must), and tasks/kea.yml (run alone with include_role ... tasks_from, -c local) adds the
service user to Kea's group, refuses a group that does not exist, and writes the password file
of Kea's HTTP control socket 0640 without logging it. A throwaway user and group are created and
removed.
"""

import grp
import json
import os
import pwd
import stat
import subprocess
import time
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "ansible"
ROLE = ANSIBLE_DIR / "roles" / "cisco_tftp_sidecar"
VENV_BIN = REPO / ".venv" / "bin"
USER = "ctt-kea-sidecar"
GROUP = "ctt-kea-group"


def sidecar_bin():
    p = os.environ.get("TFTP_SIDECAR_BIN")
    if p:
        return p
    for kind in ("debug", "release"):
        c = REPO / "target" / kind / "tftp-sidecar"
        if c.exists():
            return str(c)
    pytest.fail("no tftp-sidecar binary: run `cargo build -p tftp-sidecar` (or set TFTP_SIDECAR_BIN)")


def ansible_playbook():
    exe = VENV_BIN / "ansible-playbook"
    if not exe.exists():
        pytest.fail(f"{exe} missing: run scripts/setup.sh (it makes .venv)")
    return str(exe)


def run_playbook(tmp, plays, extra_vars):
    book = tmp / f"play-{time.monotonic_ns()}.yml"
    book.write_text(json.dumps(plays))
    vars_file = tmp / f"vars-{time.monotonic_ns()}.json"
    vars_file.write_text(json.dumps(extra_vars))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ANSIBLE_DIR / "ansible.cfg"),
               ANSIBLE_ROLES_PATH=str(ANSIBLE_DIR / "roles"), ANSIBLE_LOCAL_TEMP=str(tmp / "at"),
               ANSIBLE_REMOTE_TEMP=str(tmp / "rt"), ANSIBLE_NOCOLOR="1")
    return subprocess.run([ansible_playbook(), "-i", "localhost,", "-c", "local",
                           "-e", "ansible_python_interpreter=/usr/bin/python3",
                           "-e", f"@{vars_file}", str(book)],
                          cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=300)


def render(tmp, **overrides):
    """config.toml.j2 with the role's defaults and vars and `overrides`; returns the text."""
    out = tmp / f"config-{time.monotonic_ns()}.toml"
    plays = [{"hosts": "localhost", "gather_facts": False,
              "vars_files": [str(ROLE / "defaults" / "main.yml"), str(ROLE / "vars" / "main.yml")],
              "tasks": [{"name": "render", "ansible.builtin.template": {
                  "src": str(ROLE / "templates" / "config.toml.j2"), "dest": str(out),
                  "mode": "0644"}}]}]
    r = run_playbook(tmp, plays, {"cisco_tftp_sidecar_root": str(tmp), **overrides})
    assert r.returncode == 0, r.stdout + r.stderr
    return out


def check_config(path):
    return subprocess.run([sidecar_bin(), "--config", str(path), "--check-config"],
                          capture_output=True, text=True, timeout=60)


def test_template_kea_keys(tmp_path):
    # No Kea variables: no [kea].
    p = render(tmp_path)
    assert "kea" not in tomllib.loads(p.read_text())
    assert check_config(p).returncode == 0

    p = render(tmp_path, cisco_tftp_sidecar_kea_control_socket="/run/kea/kea4-ctrl-socket",
               cisco_tftp_sidecar_kea_poll_interval=2)
    assert tomllib.loads(p.read_text())["kea"] == {
        "control-socket": "/run/kea/kea4-ctrl-socket", "poll-interval": 2.0}
    r = check_config(p)
    assert r.returncode == 0, r.stderr

    p = render(tmp_path, cisco_tftp_sidecar_kea_http_url="http://127.0.0.1:8000/",
               cisco_tftp_sidecar_kea_http_user="stats",
               cisco_tftp_sidecar_kea_http_password="never-in-the-config")
    text = p.read_text()
    assert "never-in-the-config" not in text
    assert tomllib.loads(text)["kea"] == {
        "http-url": "http://127.0.0.1:8000/", "http-user": "stats",
        "http-password-file": "/etc/tftp-sidecar/kea-password", "poll-interval": 5.0}
    r = check_config(p)
    assert r.returncode == 0, r.stderr

    sources = [{"server": "dhcp-a", "control-socket": "/run/kea/kea4-ctrl-socket"},
               {"server": "dhcp-b", "http-url": "http://10.0.0.3:8000/", "http-user": "stats",
                "http-password-file": "/etc/tftp-sidecar/kea-b", "poll-interval": 1.5}]
    p = render(tmp_path, cisco_tftp_sidecar_kea_sources=sources,
               cisco_tftp_sidecar_kea_control_socket="/ignored")
    assert tomllib.loads(p.read_text())["kea"] == sources
    r = check_config(p)
    assert r.returncode == 0, r.stderr

    # Both kinds at once: the sidecar refuses the file (the role's validate step would too).
    p = render(tmp_path, cisco_tftp_sidecar_kea_control_socket="/run/kea/s",
               cisco_tftp_sidecar_kea_http_url="http://127.0.0.1:8000/")
    r = check_config(p)
    assert r.returncode == 2 and "not both" in r.stderr, r.stderr


@pytest.fixture
def throwaway_user():
    if os.geteuid() != 0:
        pytest.skip("creates a user and a group: needs root")
    subprocess.run(["userdel", USER], capture_output=True)
    subprocess.run(["groupdel", GROUP], capture_output=True)
    subprocess.run(["groupadd", "--system", GROUP], check=True)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
                   check=True)
    try:
        yield
    finally:
        subprocess.run(["userdel", USER], capture_output=True)
        subprocess.run(["groupdel", USER], capture_output=True)
        subprocess.run(["groupdel", GROUP], capture_output=True)


def kea_tasks(tmp, **v):
    plays = [{"hosts": "localhost", "gather_facts": False, "tasks": [
        {"name": "kea bits", "ansible.builtin.include_role": {
            "name": "cisco_tftp_sidecar", "tasks_from": "kea.yml"}}]}]
    return run_playbook(tmp, plays, {"cisco_tftp_sidecar_user": USER,
                                     "cisco_tftp_sidecar_group": USER, **v})


def test_kea_tasks_group_and_password_file(tmp_path, throwaway_user):
    # HTTP only: no group change.
    pw = tmp_path / "etc" / "kea-password"
    r = kea_tasks(tmp_path, cisco_tftp_sidecar_kea_http_url="http://127.0.0.1:8000/",
                  cisco_tftp_sidecar_kea_http_user="stats",
                  cisco_tftp_sidecar_kea_http_password="pa55-word",
                  cisco_tftp_sidecar_kea_http_password_file=str(pw),
                  cisco_tftp_sidecar_kea_group=GROUP)
    assert r.returncode == 0, r.stdout + r.stderr
    assert USER not in grp.getgrnam(GROUP).gr_mem
    assert pw.read_text() == "pa55-word\n"
    st = pw.stat()
    assert stat.S_IMODE(st.st_mode) == 0o640 and st.st_uid == 0
    assert st.st_gid == grp.getgrnam(USER).gr_gid
    assert "pa55-word" not in r.stdout + r.stderr

    # A unix socket: the user joins Kea's group; a second run changes nothing.
    v = {"cisco_tftp_sidecar_kea_control_socket": "/run/kea/kea4-ctrl-socket",
         "cisco_tftp_sidecar_kea_group": GROUP}
    r = kea_tasks(tmp_path, **v)
    assert r.returncode == 0, r.stdout + r.stderr
    assert USER in grp.getgrnam(GROUP).gr_mem
    assert pwd.getpwnam(USER).pw_gid == grp.getgrnam(USER).gr_gid  # primary group kept
    r = kea_tasks(tmp_path, **v)
    assert r.returncode == 0 and "changed=0" in r.stdout, r.stdout

    # Kea's group missing: a clear failure.
    r = kea_tasks(tmp_path, cisco_tftp_sidecar_kea_control_socket="/run/kea/kea4-ctrl-socket",
                  cisco_tftp_sidecar_kea_group="ctt-no-such-group")
    assert r.returncode != 0
    assert "Kea's group ctt-no-such-group does not exist on this host" in r.stdout, r.stdout
