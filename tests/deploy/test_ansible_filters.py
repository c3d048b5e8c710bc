"""Unit tests of the hook role's filters (reading Kea's JSON with comments, merging the hook
entry) and of the flavour names; no machine changes."""

import importlib.util
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
    with pytest.raises(Exception, match="not valid JSON"):
        kea.cisco_tftp_kea_parse('{"Dhcp4": {"a": }}')


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
