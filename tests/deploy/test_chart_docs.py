"""The chart's value descriptions live once, as `# --` comments in values.yaml:
scripts/chart-docs.py writes them into values.schema.json and the README's values table.
These tests fail when the committed files are stale or a value is undescribed."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "cisco-tftp"
SCRIPT = ROOT / "scripts" / "chart-docs.py"


def chart_docs(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=60)


def test_committed_schema_and_readme_are_generated_from_values_yaml():
    r = chart_docs("--check")
    assert r.returncode == 0, r.stdout + r.stderr


def test_check_fails_on_a_changed_description(tmp_path):
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    text = values.read_text()
    assert "# -- Kea's valid-lifetime (seconds)." in text
    values.write_text(text.replace("# -- Kea's valid-lifetime (seconds).",
                                   "# -- Kea's valid-lifetime, in seconds."))
    r = chart_docs("--check", "--chart", str(chart))
    assert r.returncode == 1 and "values.schema.json is stale" in r.stderr, r.stderr
    assert "README.md is stale" in r.stderr, r.stderr
    # writing makes both current again, with the new text in each
    assert chart_docs("--chart", str(chart)).returncode == 0
    assert chart_docs("--check", "--chart", str(chart)).returncode == 0
    assert "valid-lifetime, in seconds." in (chart / "README.md").read_text()
    assert "valid-lifetime, in seconds." in (chart / "values.schema.json").read_text()


def test_an_undescribed_value_is_named(tmp_path):
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    values = chart / "values.yaml"
    values.write_text(values.read_text().replace("  # -- Kea's valid-lifetime (seconds).\n", ""))
    r = chart_docs("--check", "--chart", str(chart))
    assert r.returncode != 0 and "kea.validLifetime: no `# --` description" in r.stderr, r.stderr
