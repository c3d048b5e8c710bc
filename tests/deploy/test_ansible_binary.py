"""The roles without packages: the hook role with install_method file (a bare .so, the checker
from target/release) and the sidecar role with install_method binary (the role creates the
user, installs the unit and the init script itself). Run for real with -c local, twice;
everything is removed again and /etc/kea/kea-dhcp4.conf restored.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from test_ansible import (KEA_CONF, KEA_CONF_SAVED, playbook, recap, sidecar_pid)
from test_packages import (HOOK_PATH, HOOK_PKG, SIDECAR_PKG, build_debs, installed,
                           machine_lock, remove_sidecar_user, run, user_exists)

REPO = Path(__file__).resolve().parents[2]
RELEASE = REPO / "target" / "release"
BINARY = Path("/usr/local/bin/tftp-sidecar")
UNIT = Path("/etc/systemd/system/tftp-sidecar.service")
INIT = Path("/etc/init.d/tftp-sidecar")
FIRMWARE_DIR = Path("/srv/cisco-tftp-ansible-binary-test")
TFTP_PORT = 968

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changes the machine: needs root")


@pytest.fixture(scope="module")
def bare(tmp_path_factory):
    build_debs()  # the release build, shared with the package tests
    with machine_lock():
        if installed(HOOK_PKG) or installed(SIDECAR_PKG) or Path(HOOK_PATH).exists() \
                or INIT.exists() or BINARY.exists():
            pytest.skip("the hook or the sidecar is already installed on this machine")
        tmp = tmp_path_factory.mktemp("ansible-binary")
        # Private copies: a concurrent cargo build must not change the sources between runs.
        for name in ("libdhcp_cisco_tftp.so", "cisco-tftp-check", "tftp-sidecar"):
            shutil.copy2(RELEASE / name, tmp / name)
        if KEA_CONF_SAVED.exists():
            shutil.copy2(KEA_CONF_SAVED, KEA_CONF)
        elif KEA_CONF.exists():
            shutil.copy2(KEA_CONF, KEA_CONF_SAVED)
        saved = KEA_CONF.read_bytes() if KEA_CONF.exists() else None
        kea_dir_before = set(os.listdir(KEA_CONF.parent))
        user_before = user_exists("tftp-sidecar")
        FIRMWARE_DIR.mkdir(exist_ok=True)
        (FIRMWARE_DIR / "SEPDefault.cnf.xml").write_text("<default/>\n")
        try:
            yield {"tmp": tmp, "saved": saved}
        finally:
            if saved is not None:
                KEA_CONF.write_bytes(saved)
            for name in set(os.listdir(KEA_CONF.parent)) - kea_dir_before:
                (KEA_CONF.parent / name).unlink()
            KEA_CONF_SAVED.unlink(missing_ok=True)
            if INIT.exists():
                run([str(INIT), "stop"], check=False, timeout=90)
            run(["update-rc.d", "-f", "tftp-sidecar", "remove"], check=False)
            for p in (INIT, UNIT, BINARY, Path(HOOK_PATH), Path("/var/log/tftp-sidecar.log"),
                      Path("/run/tftp-sidecar.pid")):
                p.unlink(missing_ok=True)
            for d in (Path("/etc/tftp-sidecar"), Path("/var/lib/tftp-sidecar"), FIRMWARE_DIR):
                shutil.rmtree(d, ignore_errors=True)
            remove_sidecar_user(user_before)


def bare_vars(tmp, **over):
    v = {
        "cisco_tftp_kea_hosts": "localhost",
        "cisco_tftp_sidecar_hosts": "localhost",
        "cisco_tftp_kea_hook_install_method": "file",
        "cisco_tftp_kea_hook_library_src": str(tmp / "libdhcp_cisco_tftp.so"),
        "cisco_tftp_kea_hook_check_command": str(tmp / "cisco-tftp-check"),
        "cisco_tftp_kea_hook_parameters": {"servers": ["10.0.0.10"]},
        "cisco_tftp_sidecar_install_method": "binary",
        "cisco_tftp_sidecar_binary_src": str(tmp / "tftp-sidecar"),
        "cisco_tftp_sidecar_binary_path": str(BINARY),
        "cisco_tftp_sidecar_root": str(FIRMWARE_DIR),
        "cisco_tftp_sidecar_listen": [f"127.0.0.1:{TFTP_PORT}"],
        "cisco_tftp_sidecar_metrics_listen": "",
        "cisco_tftp_sidecar_http_listen": [],
    }
    v.update(over)
    return v


def test_file_and_binary_install_methods(bare):
    if bare["saved"] is None or b'"Dhcp4"' not in bare["saved"]:
        pytest.skip("no /etc/kea/kea-dhcp4.conf on this machine")
    KEA_CONF.write_bytes(bare["saved"])
    r = playbook(bare["tmp"], bare_vars(bare["tmp"]))
    assert r.returncode == 0, r.stdout + r.stderr

    # The hook: the bare library in Kea's hooks dir, merged, checked.
    assert Path(HOOK_PATH).is_file()
    dhcp4 = json.loads(KEA_CONF.read_text())["Dhcp4"]
    assert dhcp4["hooks-libraries"][-1] == {"library": HOOK_PATH,
                                            "parameters": {"servers": ["10.0.0.10"]}}
    assert run(["kea-dhcp4", "-t", str(KEA_CONF)], check=False).returncode == 0

    # The sidecar: the role's own user, unit and init script; started through the script.
    assert user_exists("tftp-sidecar")
    unit = UNIT.read_text()
    assert f"ExecStart={BINARY} --config /etc/tftp-sidecar/config.toml" in unit
    if shutil.which("systemd-analyze"):
        v = run(["systemd-analyze", "verify", str(UNIT)], check=False)
        assert v.returncode == 0 and not v.stderr.strip(), v.stdout + v.stderr
    config = Path("/etc/tftp-sidecar/config.toml").read_text()
    assert f'listen = ["127.0.0.1:{TFTP_PORT}"]' in config and 'metrics_listen = "off"' in config
    assert 'http_listen = "off"' in config
    pid = sidecar_pid()
    assert pid and os.readlink(f"/proc/{pid}/exe") == str(BINARY)
    status = Path(f"/proc/{pid}/status").read_text()
    assert re.search(r"^CapEff:\s+0*400$", status, re.M), status
    got = bare["tmp"] / "got.xml"
    if shutil.which("tftp"):
        run(["tftp", "127.0.0.1", str(TFTP_PORT), "-m", "octet", "-c", "get",
             "sepdefault.cnf.xml", str(got)], timeout=30)  # case-insensitive by default
        assert got.read_text() == "<default/>\n"

    r2 = playbook(bare["tmp"], bare_vars(bare["tmp"]))
    assert r2.returncode == 0, r2.stdout + r2.stderr
    assert recap(r2)["changed"] == 0, r2.stdout
    assert sidecar_pid() == pid

    # A config change restarts the sidecar (handler) with the new setting.
    r3 = playbook(bare["tmp"], bare_vars(bare["tmp"],
                                         cisco_tftp_sidecar_extra_config={"blksize_max": 1428}))
    assert r3.returncode == 0, r3.stdout + r3.stderr
    assert "RUNNING HANDLER [cisco_tftp_sidecar : Restart tftp-sidecar with its init script]" \
        in r3.stdout, r3.stdout
    new_pid = sidecar_pid()
    assert new_pid and new_pid != pid
    assert "blksize_max = 1428" in Path("/etc/tftp-sidecar/config.toml").read_text()


def test_missing_checker_is_refused_unless_allowed(bare):
    if bare["saved"] is None or b'"Dhcp4"' not in bare["saved"]:
        pytest.skip("no /etc/kea/kea-dhcp4.conf on this machine")
    KEA_CONF.write_bytes(bare["saved"])
    before = KEA_CONF.read_bytes()
    r = playbook(bare["tmp"], bare_vars(bare["tmp"],
                                        cisco_tftp_kea_hook_check_command="/nonexistent/check",
                                        cisco_tftp_sidecar_hosts="no-such-host"))
    assert r.returncode != 0
    assert "cisco_tftp_kea_hook_check_required" in r.stdout, r.stdout
    assert KEA_CONF.read_bytes() == before
