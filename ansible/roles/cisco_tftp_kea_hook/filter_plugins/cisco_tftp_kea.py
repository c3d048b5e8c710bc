"""Filters for the cisco_tftp_kea_hook role: read Kea's JSON-with-comments and merge the hook
entry into a configuration without touching anything else."""

import copy
import json
import posixpath
import re

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


def _release(version):
    m = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", version or "")
    if not m:
        raise AnsibleFilterError(f"not a Kea version: {version!r} (kea-dhcp4 -v prints e.g. 2.6.3)")
    return tuple(int(x) for x in m.groups())


def cisco_tftp_kea_info(version, report="", supported=()):
    """What the role needs to know about an installed Kea, from `kea-dhcp4 -v` (version) and
    `kea-dhcp4 -W` (report):
      release   "2.6.3"
      series    "2.6" (major.minor)
      supported whether a hook package exists for that series
      enforces_paths  Kea 2.6.3+ (and 2.7.9+, 3.0): hooks only from the hooks directory (a bare
                      file name is resolved there), control sockets only in /run/kea, log
                      files only in /var/log/kea
      has_T     `kea-dhcp4 -T` (checks a configuration running the hooks' load()): 2.6 and later
      hooks_dir the "Hooks directory" of the report, or ""
    """
    rel = _release(version)
    enforces = (rel >= (2, 6, 3) and rel < (2, 7, 0)) or rel >= (2, 7, 9)
    hooks_dir = ""
    for line in (report or "").splitlines():
        m = re.match(r"\s*Hooks directory:\s*(\S+)", line)
        if m:
            hooks_dir = m.group(1)
            break
    series = f"{rel[0]}.{rel[1]}"
    return {
        "release": ".".join(str(x) for x in rel),
        "series": series,
        "supported": series in [str(s) for s in supported],
        "enforces_paths": enforces,
        "has_T": rel >= (2, 6, 0),
        "hooks_dir": hooks_dir,
    }


def cisco_tftp_kea_deb_release(path):
    """(series, Kea release) a hook .deb is for, from its file name
    (cisco-tftp-kea-hook-2.6_0.1.0-1+kea2.6.3_amd64.deb -> ["2.6", "2.6.3"]); ["", ""] if the
    name says nothing."""
    m = re.match(r"cisco-tftp-kea-hook-(\d+\.\d+)_([^_]*)_[^_]+\.deb$", posixpath.basename(str(path)))
    if not m:
        return ["", ""]
    r = re.search(r"\+kea(\d+\.\d+\.\d+)", m.group(2))
    return [m.group(1), r.group(1) if r else ""]


LOG_DIR = "/var/log/kea"
SOCKET_DIR = "/run/kea"


def cisco_tftp_kea_hardening_problems(doc, info):
    """What a Kea that enforces its paths (2.6.3+, 3.0) would refuse in this configuration,
    one sentence each: Kea's -t and -T do not check the control socket's path, the server
    refuses it at start or reload. Empty when Kea does not enforce them."""
    if not info.get("enforces_paths"):
        return []
    problems = []
    dhcp4 = (doc or {}).get("Dhcp4") or {}
    sockets = dhcp4.get("control-sockets") or [dhcp4.get("control-socket") or {}]
    for s in sockets:
        if isinstance(s, dict) and s.get("socket-type", "unix") == "unix" and s.get("socket-name"):
            name = s["socket-name"]
            if name.startswith("/") and posixpath.dirname(posixpath.normpath(name)) != SOCKET_DIR:
                problems.append(
                    f"control socket {name}: Kea {info['release']} accepts a unix control "
                    f"socket only in {SOCKET_DIR} (give the file name alone or {SOCKET_DIR}/NAME)")
    for logger in dhcp4.get("loggers") or []:
        for out in (logger or {}).get("output_options") or (logger or {}).get("output-options") or []:
            o = str((out or {}).get("output", ""))
            if o in ("stdout", "stderr", "syslog") or o.startswith("syslog:") or not o:
                continue
            if posixpath.dirname(posixpath.normpath(o)) != LOG_DIR and not o.startswith(LOG_DIR + "/"):
                problems.append(
                    f"logger {logger.get('name', '?')} writes to {o}: Kea {info['release']} "
                    f"writes log files only in {LOG_DIR} (or stdout, stderr, syslog)")
    for h in dhcp4.get("hooks-libraries") or []:
        lib = str((h or {}).get("library", ""))
        if info.get("hooks_dir") and lib.startswith("/") and posixpath.dirname(lib) != info["hooks_dir"]:
            problems.append(
                f"hook library {lib}: Kea {info['release']} loads hooks only from "
                f"{info['hooks_dir']} (give the file name alone)")
    return problems


class FilterModule:
    def filters(self):
        return {
            "cisco_tftp_kea_parse": cisco_tftp_kea_parse,
            "cisco_tftp_kea_merge": cisco_tftp_kea_merge,
            "cisco_tftp_kea_socket": cisco_tftp_kea_socket,
            "cisco_tftp_kea_info": cisco_tftp_kea_info,
            "cisco_tftp_kea_deb_release": cisco_tftp_kea_deb_release,
            "cisco_tftp_kea_hardening_problems": cisco_tftp_kea_hardening_problems,
        }
