"""Unit tests of the hook role's filters (reading Kea's JSON with comments, merging the hook
entry) and of the flavour names; no machine changes."""

import importlib.util
import json
from pathlib import Path

import pytest
import yaml

ROLE = Path(__file__).resolve().parents[2] / "ansible" / "roles" / "cisco_tftp_kea_hook"
spec = importlib.util.spec_from_file_location("cisco_tftp_kea",
                                              ROLE / "filter_plugins" / "cisco_tftp_kea.py")
kea = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kea)

LIB = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so"


def test_parse_handles_kea_comments_and_trailing_commas():
    text = """// header
    # shell style
    { "Dhcp4": { /* block
       comment */ "a": "http://x/#not-a-comment//", "b": [1, 2, ],
       "c": "quote \\" // still string", },
    }"""
    doc = kea.cisco_tftp_kea_parse(text)
    assert doc == {"Dhcp4": {"a": "http://x/#not-a-comment//", "b": [1, 2],
                             "c": 'quote " // still string'}}


def test_parse_rejects_broken_json_with_a_message():
    with pytest.raises(Exception,
                       match=r"not accepted by Kea's parser: kea-dhcp4.conf:1:17: expected a value, found }"):
        kea.cisco_tftp_kea_parse('{"Dhcp4": {"a": }}')


def test_parse_refuses_includes_clearly():
    with pytest.raises(Exception, match=r"kea-dhcp4.conf:2:2: .*cannot follow <\?include\?>"
                                        r".*cisco_tftp_kea_hook_dhcp4_config"):
        kea.cisco_tftp_kea_parse('{"Dhcp4": {"a": 1,\n <?include "subnets.json"?>}}')


# The corpus shared with the checker (kea-hook/tests/kea_config_corpus.rs) and held to the real
# kea-dhcp4 of each series (tests/tests/checker_vs_kea.rs): same files, same verdicts, same
# error positions.
CORPUS = Path(__file__).resolve().parents[2] / "kea-hook" / "tests" / "kea-config-corpus"


def _corpus(kind):
    return sorted(f"{kind}/{p.name}" for p in (CORPUS / kind).iterdir())


def _read_corpus(name):
    def include(inc):  # Kea opens includes relative to its working directory: the corpus
        return (CORPUS / inc).read_bytes().decode("latin-1")
    return kea.parse_kea_config((CORPUS / name).read_bytes().decode("latin-1"), name, include)


@pytest.mark.parametrize("name", _corpus("accepted"))
def test_corpus_accepted(name):
    doc = _read_corpus(name)
    assert isinstance(doc["Dhcp4"], dict) and doc["Dhcp4"]
    # What the role does with a live file: merge the hook entry in.
    merged = kea.cisco_tftp_kea_merge(doc, LIB, {"servers": ["10.0.0.1"]})
    assert merged["Dhcp4"]["hooks-libraries"][-1]["library"] == LIB


@pytest.mark.parametrize("name", _corpus("rejected"))
def test_corpus_rejected(name):
    text = (CORPUS / name).read_bytes().decode("latin-1")
    want = next(line.split("// error at ")[1] for line in text.splitlines() if line.startswith("// error at "))
    with pytest.raises(kea.KeaSyntaxError) as e:
        _read_corpus(name)
    got = f"{e.value.line}:{e.value.column}"
    if e.value.file != name:
        got = f"{e.value.file}:{got}"
    assert got == want, str(e.value)


def test_corpus_holds_every_shipped_series():
    for series in ("2.2", "2.6", "3.0"):
        assert any(n.startswith(f"accepted/shipped-kea-{series}.") for n in _corpus("accepted")), series


def test_numbers_and_strings_as_kea_reads_them():
    doc = _read_corpus("accepted/numbers.conf")["Dhcp4"]
    assert doc["valid-lifetime"] == 4000 and isinstance(doc["valid-lifetime"], int)
    assert doc["user-context"]["floats"][:5] == [1.5, -2.25, 5.0, 0.5, 1.0]
    assert isinstance(doc["user-context"]["floats"][2], float)
    doc = _read_corpus("accepted/strings.conf")["Dhcp4"]["user-context"]
    assert doc["unicode"] == "A\u00e9\u00ff\u0000" and doc["escapes"] == '" \\ / \b \f \n \r \t'
    # Kea's bytes, one character each: written back with to_json, Kea reads the same bytes.
    assert doc["utf-8"] == "café ☎".encode("utf-8").decode("latin-1")
    doc = kea.cisco_tftp_kea_parse('{"Dhcp4": {"a": "é", "b": "\\u00e9"}}')["Dhcp4"]
    assert doc == {"a": "\u00c3\u00a9", "b": "\u00e9"}
    assert json.dumps("\u00c3\u00a9") == '"\\u00c3\\u00a9"'


def test_nesting_is_limited():
    deep = '{"Dhcp4": {"a": ' + "[" * 100000 + "]" * 100000 + "}}"
    with pytest.raises(kea.KeaSyntaxError, match="nested more than 200 deep"):
        kea.parse_kea_config(deep)
    assert kea.parse_kea_config('{"Dhcp4": {"a": ' + "[" * 199 + "]" * 199 + "}}")


def test_merge_appends_and_keeps_everything_else():
    doc = {"Dhcp4": {"subnet4": [{"id": 1}], "hooks-libraries": [{"library": "/x/libdhcp_lease_cmds.so"}]},
           "Logging": {"x": 1}}
    new = kea.cisco_tftp_kea_merge(doc, LIB, {"servers": ["10.0.0.1"]})
    assert new["Dhcp4"]["hooks-libraries"] == [
        {"library": "/x/libdhcp_lease_cmds.so"},
        {"library": LIB, "parameters": {"servers": ["10.0.0.1"]}}]
    assert new["Dhcp4"]["subnet4"] == [{"id": 1}] and new["Logging"] == {"x": 1}
    assert "libdhcp_cisco_tftp.so" not in str(doc)  # the input is not modified


def test_merge_replaces_in_place_and_drops_duplicates():
    doc = {"Dhcp4": {"hooks-libraries": [
        {"library": "/old/path/libdhcp_cisco_tftp.so", "parameters": {"servers": ["10.9.9.9"]}},
        {"library": "libdhcp_flex_option.so"},
        {"library": "libdhcp_cisco_tftp.so"}]}}
    new = kea.cisco_tftp_kea_merge(doc, "libdhcp_cisco_tftp.so", {"servers": ["10.0.0.1"]})
    assert new["Dhcp4"]["hooks-libraries"] == [
        {"library": "libdhcp_cisco_tftp.so", "parameters": {"servers": ["10.0.0.1"]}},
        {"library": "libdhcp_flex_option.so"}]
    # Merging again gives the same document: the role's idempotence rests on this.
    assert kea.cisco_tftp_kea_merge(new, "libdhcp_cisco_tftp.so", {"servers": ["10.0.0.1"]}) == new


def test_merge_refuses_a_config_without_dhcp4():
    with pytest.raises(Exception, match="Dhcp4"):
        kea.cisco_tftp_kea_merge({"Dhcp6": {}}, LIB, {})


def test_control_socket_path():
    assert kea.cisco_tftp_kea_socket(
        {"Dhcp4": {"control-socket": {"socket-type": "unix", "socket-name": "/run/kea/s"}}}) == "/run/kea/s"
    assert kea.cisco_tftp_kea_socket(
        {"Dhcp4": {"control-sockets": [{"socket-type": "http"},
                                       {"socket-type": "unix", "socket-name": "k4"}]}}) == "/run/kea/k4"
    assert kea.cisco_tftp_kea_socket({"Dhcp4": {}}) == ""


def test_flavour_names():
    names = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["cisco_tftp_kea_hook__flavors"]
    assert names["debian"] == {"package": "kea-dhcp4-server", "services": ["kea-dhcp4-server"]}
    assert names["isc"] == {"package": "isc-kea-dhcp4-server",
                            "services": ["isc-kea-dhcp4", "isc-kea-dhcp4-server"]}


# ---- which Kea: version, series, hooks directory, path rules, -T ------------------------------

REPO = Path(__file__).resolve().parents[2]
SUPPORTED = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["cisco_tftp_kea_hook__series"]
HOOKS = "/usr/lib/x86_64-linux-gnu/kea/hooks"


def test_supported_series_are_the_projects():
    """The role's list of series is scripts/kea-series.sh's table."""
    import subprocess
    out = subprocess.run(["bash", "-c", ". scripts/kea-series.sh; kea_all_series"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.split()
    assert SUPPORTED == out


def _series_roots():
    import subprocess
    out = subprocess.run(["bash", "-c", '. scripts/kea-series.sh; for s in $(kea_all_series); do '
                                        'echo "$s $(kea_root "$s")"; done'],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return [tuple(line.split()) for line in out.splitlines() if line.strip()]


@pytest.mark.parametrize("series,root", _series_roots())
def test_info_from_each_series_real_kea(series, root):
    """What the role reads from `kea-dhcp4 -v` and `-W` of each series' real Kea (the host's,
    and the Debian roots' made by scripts/kea-root.sh), and whether that Kea really has -T."""
    import os
    import subprocess
    if root != "/" and os.geteuid() != 0:
        pytest.skip("chroot into the Kea roots needs root")
    subprocess.run([str(REPO / "scripts" / "kea-root.sh"), series], check=True,
                   capture_output=True, timeout=1800)
    pre = [] if root == "/" else ["chroot", root]
    v = subprocess.run(pre + ["kea-dhcp4", "-v"], capture_output=True, text=True, check=True).stdout
    w = subprocess.run(pre + ["kea-dhcp4", "-W"], capture_output=True, text=True, check=True).stdout
    info = kea.cisco_tftp_kea_info(v.splitlines()[0], w, SUPPORTED)
    assert info["series"] == series and info["supported"]
    assert info["release"].startswith(series + ".")
    assert info["hooks_dir"] == HOOKS
    # 2.2.0 has none of the path rules; Debian's 2.6.3 and 3.0.x have them.
    assert info["enforces_paths"] == (series != "2.2")
    # -T exists exactly where the role uses it.
    t = subprocess.run(pre + ["kea-dhcp4", "-T", "/nonexistent.conf"], capture_output=True, text=True)
    has_t = "invalid option" not in t.stdout + t.stderr
    assert info["has_T"] == has_t, t.stdout + t.stderr


@pytest.mark.parametrize("version,series,supported,enforces,has_t", [
    ("2.2.0", "2.2", True, False, False),
    ("2.4.1", "2.4", False, False, False),   # Ubuntu 24.04's: no package, refused
    ("2.6.2", "2.6", True, False, True),
    ("2.6.3", "2.6", True, True, True),
    ("2.7.8", "2.7", False, False, True),
    ("2.7.9", "2.7", False, True, True),
    ("3.0.4", "3.0", True, True, True),
    ("3.1.0", "3.1", False, True, True),
])
def test_info_rules(version, series, supported, enforces, has_t):
    info = kea.cisco_tftp_kea_info(version, "", SUPPORTED)
    assert (info["series"], info["supported"], info["enforces_paths"], info["has_T"]) == \
        (series, supported, enforces, has_t)
    assert info["hooks_dir"] == ""


def test_info_refuses_what_is_not_a_version():
    with pytest.raises(Exception, match="not a Kea version"):
        kea.cisco_tftp_kea_info("kea-dhcp4: command not found", "", SUPPORTED)


def test_deb_release_from_file_name():
    assert kea.cisco_tftp_kea_deb_release(
        "/x/cisco-tftp-kea-hook-2.6_0.1.0-1+kea2.6.3_amd64.deb") == ["2.6", "2.6.3"]
    assert kea.cisco_tftp_kea_deb_release("cisco-tftp-kea-hook-3.0_0.2.0-1_amd64.deb") == ["3.0", ""]
    assert kea.cisco_tftp_kea_deb_release("cisco-tftp-kea-hook_0.1.0-1_amd64.deb") == ["", ""]


def test_hardening_problems():
    enforcing = kea.cisco_tftp_kea_info("3.0.4", f"  Hooks directory:   {HOOKS}", SUPPORTED)
    old = kea.cisco_tftp_kea_info("2.2.0", f"  Hooks directory:   {HOOKS}", SUPPORTED)
    good = {"Dhcp4": {
        "control-socket": {"socket-type": "unix", "socket-name": "/run/kea/kea4-ctrl-socket"},
        "loggers": [{"name": "kea-dhcp4", "output_options": [
            {"output": "stdout"}, {"output": "syslog:local0"}, {"output": "/var/log/kea/kea-dhcp4.log"}]}],
        "hooks-libraries": [{"library": "libdhcp_cisco_tftp.so"},
                            {"library": f"{HOOKS}/libdhcp_lease_cmds.so"}]}}
    assert kea.cisco_tftp_kea_hardening_problems(good, enforcing) == []
    relative = {"Dhcp4": {"control-sockets": [{"socket-type": "unix", "socket-name": "k4"}]}}
    assert kea.cisco_tftp_kea_hardening_problems(relative, enforcing) == []
    bad = {"Dhcp4": {
        "control-socket": {"socket-type": "unix", "socket-name": "/tmp/kea4.sock"},
        "loggers": [{"name": "kea-dhcp4", "output_options": [{"output": "/srv/log/kea.log"}]}],
        "hooks-libraries": [{"library": "/opt/hooks/libdhcp_cisco_tftp.so"}]}}
    problems = kea.cisco_tftp_kea_hardening_problems(bad, enforcing)
    assert len(problems) == 3, problems
    assert "/tmp/kea4.sock" in problems[0] and "/run/kea" in problems[0] and "3.0.4" in problems[0]
    assert "/srv/log/kea.log" in problems[1] and "/var/log/kea" in problems[1]
    assert "/opt/hooks" in problems[2] and HOOKS in problems[2]
    assert kea.cisco_tftp_kea_hardening_problems(bad, old) == []  # Kea 2.2 has no such rules
