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
