"""Filters for the cisco_tftp_kea_hook role: read Kea's JSON-with-comments and merge the hook
entry into a configuration without touching anything else."""

import copy
import json
import math
import posixpath
import re

from ansible.errors import AnsibleFilterError

LIBRARY_FILE = "libdhcp_cisco_tftp.so"


# Kea's own reading of a configuration file (kea-dhcp4's flex lexer and bison parser, the same
# at Kea 2.2.0, 2.6.3 and 3.0.4), mirrored from the checker's reader
# (kea-hook/src/kea_config.rs, which documents every rule with its source). Both are held to
# kea-hook/tests/kea-config-corpus/ and, through it, to the real kea-dhcp4 of each series.

MAX_DEPTH = 200  # this reader's limit on nested maps and lists (Kea's parser has none)
MAX_INCLUDE_DEPTH = 11  # Kea: "Too many nested include."
_BLANKS = " \t\r\n"
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = "0123456789abcdefABCDEF"


class KeaSyntaxError(ValueError):
    """Where kea-dhcp4's parser would stop reading, and why (1-based line and column)."""

    def __init__(self, file, line, column, message):
        super().__init__(f"{file}:{line}:{column}: {message}")
        self.file, self.line, self.column, self.message = file, line, column, message


def _show(c):
    return f"'{c}'" if c.isascii() and c.isprintable() and c != " " else f"byte 0x{ord(c):02x}"


def _quoted(s):
    """A string of Kea's bytes (one character per byte), quoted for a message."""
    return json.dumps(s.encode("latin-1").decode("utf-8", "replace"), ensure_ascii=False)


class _Source:
    def __init__(self, name, text):
        self.name, self.text, self.i, self.line, self.column = name, text, 0, 1, 1

    def pos(self):
        return (self.name, self.line, self.column)

    def peek(self, k=0):
        j = self.i + k
        return self.text[j] if j < len(self.text) else None

    def at(self, s):
        return self.text.startswith(s, self.i)

    def bump(self, n=1):
        for _ in range(n):
            if self.text[self.i] == "\n":
                self.line, self.column = self.line + 1, 1
            else:
                self.column += 1
            self.i += 1

    def skip_blanks(self):
        while self.peek() is not None and self.peek() in _BLANKS:
            self.bump()

    def run(self, start, chars):
        j = start
        while j < len(self.text) and self.text[j] in chars:
            j += 1
        return j - start


def _error(pos, message):
    return KeaSyntaxError(pos[0], pos[1], pos[2], message)


class _Lexer:
    """Tokens as (kind, value, position, written_without_escapes)."""

    def __init__(self, text, name, include):
        self.stack = [_Source(name, text)]
        self.include = include

    def next(self):
        while True:
            s = self.stack[-1]
            at, start, c = s.pos(), s.i, s.peek()
            if c is None:
                if len(self.stack) == 1:
                    return ("end", None, at, True)
                self.stack.pop()
                self._close_directive()
                continue
            if c in _BLANKS:
                s.bump()
                continue
            if c == "#" or s.at("//"):
                while s.peek() not in (None, "\n"):
                    s.bump()
                continue
            if s.at("/*"):
                s.bump(2)
                while not s.at("*/"):
                    if s.peek() is None:
                        raise _error(at, f"comment not closed: /* on line {at[1]}")
                    s.bump()
                s.bump(2)
                continue
            if s.at("<?"):
                self._open_directive(at)
                continue
            if c == '"':
                tok = ("str", self._string(s, at))
            elif c in "{}[],:":
                s.bump()
                tok = (c, None)
            else:
                n = self._number(s, at)
                tok = ("num", n) if n is not None else self._word(s, at)
            return tok + (at, "\\" not in s.text[start:s.i])

    def _open_directive(self, at):
        s = self.stack[-1]
        s.bump(2)
        s.skip_blanks()
        if not s.at("include"):
            if s.peek() is None:
                raise _error(at, "<? directive not closed")
            raise _error(s.pos(), "expected `include` after `<?` (Kea knows no other directive)")
        s.bump(7)
        s.skip_blanks()
        name_at = s.pos()
        n = 0
        while s.peek(1 + n) not in (None, '"', "\n"):
            n += 1
        if s.peek() != '"' or n == 0 or s.peek(1 + n) != '"':
            if s.peek() is None:
                raise _error(at, "<?include directive not closed")
            raise _error(name_at, "expected the file name in double quotes after `<?include`"
                                  " (one line, no escapes)")
        name = s.text[s.i + 1:s.i + 1 + n]
        s.bump(n + 2)
        if len(self.stack) > MAX_INCLUDE_DEPTH:
            raise _error(at, f"includes nested more than {MAX_INCLUDE_DEPTH} deep"
                             ' (Kea: "Too many nested include.")')
        if self.include is None:
            raise _error(at, f'<?include "{name}"?>: this reader was given no way to open included files')
        try:
            text = self.include(name)
        except OSError as e:
            raise _error(at, f"cannot open include file {name}: {e.strerror or e}") from e
        self.stack.append(_Source(name, text))

    def _close_directive(self):
        s = self.stack[-1]
        s.skip_blanks()
        if s.at("?>"):
            s.bump(2)
            return
        if s.peek() is None:
            raise _error(s.pos(), "<?include directive not closed: expected ?>")
        raise _error(s.pos(), f"expected ?> to close <?include, found {_show(s.peek())}")

    @staticmethod
    def _string(s, at):
        s.bump()
        out = []
        while True:
            here, c = s.pos(), s.peek()
            if c is None:
                raise _error(at, "string not closed")
            if c == '"':
                s.bump()
                return "".join(out)
            if c == "\\":
                e = s.peek(1)
                if e is None:
                    raise _error(at, "string not closed")
                if e in _ESCAPES:
                    out.append(_ESCAPES[e])
                    s.bump(2)
                    continue
                if e != "u":
                    raise _error(here, f"bad escape \\{e} in a string")
                if s.run(s.i + 2, _HEX) < 4:
                    raise _error(here, "\\u needs four hexadecimal digits")
                digits = s.text[s.i + 2:s.i + 6]
                if digits[:2] != "00":
                    raise _error(here, f"\\u{digits} is beyond \\u00ff:"
                                       " Kea's parser takes \\u0000 to \\u00ff only")
                out.append(chr(int(digits[2:], 16)))
                s.bump(6)
                continue
            if c == "\n":
                raise _error(here, "line break inside a string (a string not closed, or write \\n)")
            if ord(c) < 0x20:
                raise _error(here, f"control character 0x{ord(c):02x} inside a string"
                                   f" (write it as \\u00{ord(c):02x})")
            out.append(c)
            s.bump()

    @staticmethod
    def _number(s, at):
        """Kea's two number rules, the longer match (the integer rule on a tie), or None."""
        t, start, digits = s.text, s.i, "0123456789"
        f = start
        if f < len(t) and t[f] in "-+":
            f += 1
        f += s.run(f, digits)
        if f < len(t) and t[f] == ".":
            f += 1
        f += s.run(f, digits)
        if f < len(t) and t[f] in "eE":
            e = f + 1
            if e < len(t) and t[e] in "-+":
                e += 1
            if s.run(e, digits):
                f = e + s.run(e, digits)
        sign = 1 if t[start] == "-" else 0
        int_digits = s.run(start + sign, digits)
        int_len = sign + int_digits if int_digits else 0
        float_len = f - start
        if not int_len and not float_len:
            return None
        text = t[start:start + max(int_len, float_len)]
        if int_len >= float_len:
            n = int(text)
            if not -2**63 <= n < 2**63:
                raise _error(at, f"{text} is out of range: Kea takes integers from -2^63 to 2^63-1")
        else:
            try:
                n = float(text)
            except ValueError:
                n = math.inf
            if math.isinf(n):
                raise _error(at, f"{text} is not a number Kea can read")
        s.bump(len(text))
        return n

    @staticmethod
    def _word(s, at):
        words = (("true", ("bool", True)), ("false", ("bool", False)), ("null", ("null", None)))
        for word, tok in words:
            if s.at(word):
                s.bump(len(word))
                return tok
            if s.text[s.i:s.i + len(word)].lower() == word:
                raise _error(at, f"{word} must be written in lower case")
        c = s.peek()
        hint = (" (strings need double quotes; the only bare words are true, false and null)"
                if (c.isascii() and c.isalpha()) or c == "'" else "")
        raise _error(at, f"unexpected {_show(c)}{hint}")


def _describe(tok):
    kind, value = tok[0], tok[1]
    return {"str": lambda: f"the string {_quoted(value)}", "num": lambda: f"the number {value}",
            "bool": lambda: str(value).lower(), "null": lambda: "null",
            "end": lambda: "the end of the file", ",": lambda: "a comma"}.get(kind, lambda: kind)()


def _unexpected(tok, wanted):
    return _error(tok[2], f"expected {wanted}, found {_describe(tok)}")


def _where(first, here):
    if first[0] == here[0]:
        return f"line {first[1]}, column {first[2]}"
    return f"{first[0]}:{first[1]}:{first[2]}"


class _Parser:
    def __init__(self, lexer):
        self.lex, self.depth = lexer, 0

    def top_level(self):
        tok = self.lex.next()
        if tok[0] != "{":
            raise _unexpected(tok, "{ to open the configuration")
        key = self.lex.next()
        if key[:2] != ("str", "Dhcp4") or not key[3]:
            raise self._not_dhcp4(key)
        self._colon()
        open_ = self.lex.next()
        if open_[0] != "{":
            raise _unexpected(open_, "{ : Dhcp4 is a map")
        dhcp4 = self._map(open_[2])
        if not dhcp4:
            raise _error(open_[2], "Dhcp4 is empty: Kea's parser wants at least one parameter in it")
        while True:
            tok = self.lex.next()
            if tok[0] == ",":
                continue
            if tok[0] == "}":
                break
            if tok[:2] == ("str", "Dhcp4") and tok[3]:
                raise _error(tok[2], f'duplicate key "Dhcp4" (first at {_where(key[2], tok[2])})')
            raise self._not_dhcp4(tok)
        end = self.lex.next()
        if end[0] != "end":
            raise _unexpected(end, "nothing after the configuration's closing }")
        return {"Dhcp4": dhcp4}

    @staticmethod
    def _not_dhcp4(tok):
        if tok[0] == "str" and not tok[3]:
            return _error(tok[2], f"{_quoted(tok[1])} at the top level:"
                                  ' kea-dhcp4 wants "Dhcp4" written without escapes')
        if tok[0] == "str":
            return _error(tok[2], f"{_quoted(tok[1])} at the top level:"
                                  ' kea-dhcp4 takes a file with "Dhcp4" and nothing else there')
        return _unexpected(tok, '"Dhcp4"')

    def _colon(self):
        tok = self.lex.next()
        if tok[0] != ":":
            raise _unexpected(tok, ": after the key")

    def _value(self, tok):
        kind = tok[0]
        if kind == "{":
            return self._map(tok[2])
        if kind == "[":
            return self._list(tok[2])
        if kind in ("str", "num", "bool", "null"):
            return tok[1]
        raise _unexpected(tok, "a value")

    def _enter(self, at):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _error(at, f"maps and lists nested more than {MAX_DEPTH} deep (this checker's limit)")

    def _map(self, at):
        self._enter(at)
        out, seen, key_may_come = {}, {}, True
        while True:
            tok = self.lex.next()
            if tok[0] == "}":
                break
            if tok[0] == "," and out:
                key_may_come = True
            elif tok[0] == "str" and key_may_come:
                if tok[1] in seen:
                    first = _where(seen[tok[1]], tok[2])
                    raise _error(tok[2], f"duplicate key {_quoted(tok[1])} (first at {first})")
                self._colon()
                out[tok[1]] = self._value(self.lex.next())
                seen[tok[1]] = tok[2]
                key_may_come = False
            elif key_may_come:
                raise _unexpected(tok, "a key in double quotes or }" if not out else "a key in double quotes")
            else:
                raise _unexpected(tok, "a comma or } after a map entry")
        self.depth -= 1
        return out

    def _list(self, at):
        self._enter(at)
        out, value_may_come = [], True
        while True:
            tok = self.lex.next()
            if tok[0] == "]":
                break
            if tok[0] == "," and out:
                value_may_come = True
            elif value_may_come:
                out.append(self._value(tok))
                value_may_come = False
            else:
                raise _unexpected(tok, "a comma or ] after a list element")
        self.depth -= 1
        return out


def parse_kea_config(text, name="<config>", include=None):
    """A Kea configuration file's bytes, decoded as latin-1 (one character per byte) -> dict,
    read as kea-dhcp4 reads it; KeaSyntaxError where it would not (columns count bytes, as
    Kea's do). Strings come back as Kea holds them: bytes, one character each (so a
    to_json with its default ensure_ascii writes back exactly the bytes Kea read).
    include(name) returns the decoded text of a file named in <?include "name"?>, or raises
    OSError; without it an include is an error."""
    return _Parser(_Lexer(text, name, include)).top_level()


def cisco_tftp_kea_parse(text):
    """Kea configuration text (everything kea-dhcp4 reads, but <?include?>) -> dict."""
    try:
        kea_bytes = text.encode("utf-8", "surrogateescape").decode("latin-1")
        return parse_kea_config(kea_bytes, "kea-dhcp4.conf")
    except KeaSyntaxError as e:
        hint = ""
        if "<?include" in e.message:
            hint = (" (this role reads and rewrites the one file and cannot follow <?include?>:"
                    " give the whole Dhcp4 map in cisco_tftp_kea_hook_dhcp4_config)")
        raise AnsibleFilterError(f"Kea configuration not accepted by Kea's parser: {e}{hint}") from e


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
