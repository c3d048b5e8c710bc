"""Each role's variables are described once, in meta/argument_specs.yml: scripts/role-docs.py
writes the README tables from it. These tests fail when a README is stale or a variable is
undescribed, and check that no task reads a looped result by its position."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "ansible" / "roles"
SCRIPT = ROOT / "scripts" / "role-docs.py"


def role_docs(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


def test_committed_readmes_are_generated_from_argument_specs():
    r = role_docs("--check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_fails_on_a_changed_description_and_an_undescribed_variable(tmp_path):
    roles = tmp_path / "roles"
    shutil.copytree(ROLES, roles)
    specs = roles / "cisco_tftp_sidecar" / "meta" / "argument_specs.yml"
    text = specs.read_text()
    assert "description: Where the binary is on the host." in text
    specs.write_text(text.replace("description: Where the binary is on the host.",
                                  "description: The binary's path on the host."))
    r = role_docs("--check", "--roles", str(roles))
    assert r.returncode == 1 and "cisco_tftp_sidecar/README.md is stale" in r.stderr, r.stderr
    assert role_docs("--roles", str(roles)).returncode == 0
    assert "The binary's path on the host." in (roles / "cisco_tftp_sidecar" / "README.md").read_text()
    specs.write_text(specs.read_text().replace("        description: The binary's path on the host.\n", ""))
    r = role_docs("--check", "--roles", str(roles))
    assert r.returncode != 0 and "cisco_tftp_sidecar_binary_path: no description" in r.stderr, r.stderr


def test_results_are_registered_by_name_not_read_by_position():
    for task_file in ROLES.glob("*/tasks/*.yml"):
        hits = re.findall(r"\.results\[\d+\]", task_file.read_text())
        assert not hits, f"{task_file}: {hits} (register each result under its own name)"
