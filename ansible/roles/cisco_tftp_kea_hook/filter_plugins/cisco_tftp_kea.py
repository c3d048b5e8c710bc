"""Filters for the cisco_tftp_kea_hook role: read Kea's JSON-with-comments and merge the hook
entry into a configuration without touching anything else."""

import copy
import json
import posixpath

from ansible.errors import AnsibleFilterError

LIBRARY_FILE = "libdhcp_cisco_tftp.so"


def strip_comments(text):
    """Removes Kea's comment forms (`#`, `//` to the end of the line, `/* */`) outside strings."""
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
        elif c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif c == "#" or text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise AnsibleFilterError("Kea configuration: unterminated /* comment")
            out.append("\n" * text.count("\n", i, end))
            i = end + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def strip_trailing_commas(text):
    """Removes a comma before `}` or `]` outside strings (Kea's parser accepts them, and
    Debian's default kea-dhcp4.conf has some once its comments are gone)."""
    out = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif c == ",":
            j = i + 1
            while j < n and text[j] in " \t\r\n":
                j += 1
            if j >= n or text[j] not in "}]":
                out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def cisco_tftp_kea_parse(text):
    """Kea configuration text (comments and trailing commas allowed) -> dict."""
    try:
        doc = json.loads(strip_trailing_commas(strip_comments(text)))
    except ValueError as e:
        raise AnsibleFilterError(f"Kea configuration is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise AnsibleFilterError("Kea configuration: the top level must be a map")
    return doc


def _is_ours(entry):
    return isinstance(entry, dict) and posixpath.basename(str(entry.get("library", ""))) == LIBRARY_FILE


def cisco_tftp_kea_merge(doc, library, parameters):
    """A copy of doc whose Dhcp4.hooks-libraries has exactly one entry for this hook (in place
    of the first existing one, else appended), with the given library and parameters. Every
    other hook, key and value is kept as it is."""
    if not isinstance(doc, dict) or not isinstance(doc.get("Dhcp4"), dict):
        raise AnsibleFilterError("Kea configuration has no \"Dhcp4\" map")
    if not isinstance(parameters, dict):
        raise AnsibleFilterError("cisco_tftp_kea_hook_parameters must be a map")
    new = copy.deepcopy(doc)
    hooks = new["Dhcp4"].get("hooks-libraries", [])
    if not isinstance(hooks, list):
        raise AnsibleFilterError("Dhcp4.hooks-libraries must be a list")
    entry = {"library": library, "parameters": copy.deepcopy(parameters)}
    merged, placed = [], False
    for h in hooks:
        if _is_ours(h):
            if not placed:
                merged.append(entry)
                placed = True
        else:
            merged.append(h)
    if not placed:
        merged.append(entry)
    new["Dhcp4"]["hooks-libraries"] = merged
    return new


def cisco_tftp_kea_socket(doc):
    """The unix control socket's path in a Kea configuration, or ''."""
    try:
        dhcp4 = doc["Dhcp4"]
    except (KeyError, TypeError):
        return ""
    sockets = dhcp4.get("control-sockets") or [dhcp4.get("control-socket") or {}]
    for s in sockets:
        if isinstance(s, dict) and s.get("socket-type", "unix") == "unix" and s.get("socket-name"):
            name = s["socket-name"]
            # Kea >= 2.7 resolves a relative name in its socket directory.
            return name if name.startswith("/") else posixpath.join("/run/kea", name)
    return ""


class FilterModule:
    def filters(self):
        return {
            "cisco_tftp_kea_parse": cisco_tftp_kea_parse,
            "cisco_tftp_kea_merge": cisco_tftp_kea_merge,
            "cisco_tftp_kea_socket": cisco_tftp_kea_socket,
        }
