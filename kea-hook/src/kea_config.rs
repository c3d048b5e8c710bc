//! Reads a Kea DHCPv4 configuration file the way `kea-dhcp4` itself does, finds this hook's
//! entries in it and checks their parameters with the same code `load()` runs. Kea 2.2's
//! `kea-dhcp4 -t` opens hook libraries but does not call `load()`, and a failed
//! reconfiguration leaves Kea 2.2 not serving, so operators (and the Ansible role) check a
//! candidate file with this before applying it.
//!
//! # The syntax, as Kea's parser has it
//!
//! `kea-dhcp4 -c/-t FILE` reads the file with its own flex lexer and bison parser
//! (`src/bin/dhcp4/dhcp4_lexer.ll`, `dhcp4_parser.yy`, `parser_context.cc`), not with a JSON
//! library. Everything below is the same at the tags Kea-2.2.0, Kea-2.6.3 and Kea-3.0.4 (the
//! non-keyword parts of the lexer and the generic grammar are identical there) and was
//! checked against each of those servers (`tests/tests/checker_vs_kea.rs`):
//!
//! - Blanks are space, tab, CR and LF; any other character outside a token is an error.
//! - Comments: `#` and `//` to the end of the line; `/* */` over lines, not nested, an
//!   unclosed one is an error.
//! - Commas: a map or list may end with any number of commas, and commas may repeat between
//!   entries (`[1,,2,]`); Kea logs "Extraneous comma" and goes on. A comma before the first
//!   entry (`[,1]`, `{,}`) is an error.
//! - Duplicate keys in a map are an error (Kea: "duplicate X entries in JSON map").
//! - Strings: JSON's escapes; `\u` only from `\u0000` to `\u00ff` (one byte); no raw control
//!   characters; other bytes pass as they are. A string is bytes to Kea (UTF-8 or not): this
//!   reader returns it with one char per byte (U+0000 to U+00FF), which is also how the hook's
//!   `load()` sees a parameter (see [`kea_element_json`]).
//! - Numbers: `-?[0-9]+` is a 64-bit integer (leading zeros allowed, out of range is an error);
//!   else `[-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]+)?` is a double if it converts (`+5`, `.5`, `1.`
//!   are accepted; `1e999` is not).
//! - `true`, `false`, `null` in lower case only; nothing else unquoted.
//! - `<?include "FILE"?>` anywhere between tokens (blanks allowed inside) splices FILE's tokens
//!   in. Kea opens FILE as written: relative to its working directory (`/` under Debian's
//!   systemd units, which set none), not to the including file. At most 11 includes deep.
//! - The top level is one map holding `"Dhcp4"` (written so, without escapes) and nothing
//!   else, and `Dhcp4` is a map with at least one entry.
//! - Each `hooks-libraries` entry is a map of a string `library` and, optionally, a map
//!   `parameters`, nothing else ([`check_config`]).
//!
//! Beyond that Kea's grammar knows every keyword of every map and the type of its value
//! (`"valid-lifetime": "x"` is a syntax error there): that schema is not repeated here, since it
//! changes with every release; `kea-dhcp4 -t` is the check for it. The one limit of this reader
//! that Kea does not have: containers nested deeper than [`MAX_DEPTH`].
//!
//! The Ansible role's filter plugin (`cisco_tftp_kea.py`) implements the same reading; both
//! are run over `kea-hook/tests/kea-config-corpus/` and must give the same verdicts there.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use serde_json::{Map, Number, Value};

use crate::engine::Engine;

/// The file name Kea loads; entries are recognised by it, whatever the directory.
pub const LIBRARY_FILE: &str = "libdhcp_cisco_tftp.so";

/// How deeply maps and lists may nest (this reader's limit; Kea's parser has none).
pub const MAX_DEPTH: usize = 200;

/// How many `<?include?>` may be open at once (Kea: "Too many nested include.").
pub const MAX_INCLUDE_DEPTH: usize = 11;

/// Where Kea's parser would stop reading a file, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The file name as given (the top file's, or an include's as written in the directive).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in bytes as Kea counts.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

impl std::error::Error for SyntaxError {}

/// One `hooks-libraries` entry that loads this hook, and what checking it found.
#[derive(Debug)]
pub struct EntryReport {
    /// e.g. `Dhcp4.hooks-libraries[1]`
    pub path: String,
    pub library: String,
    /// The one-line load summary, or the error `load()` would log.
    pub result: Result<String, String>,
    /// The normalised parameters (defaults filled in, as `cisco-tftp-config-get` shows them)
    /// when valid: what two servers must agree on.
    pub effective: Option<Value>,
}

/// Reads a Kea DHCPv4 configuration as `kea-dhcp4` does (see the module documentation).
/// `name` is the file's name for messages; `include` returns the bytes of a file named in an
/// `<?include?>` directive, exactly as written there, or why it cannot.
pub fn parse_config(
    text: &[u8],
    name: &str,
    include: &mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
) -> Result<Value, SyntaxError> {
    let mut p = Parser {
        lex: Lexer {
            stack: vec![Source::new(name, text.to_vec())],
            include,
        },
        depth: 0,
    };
    p.top_level()
}

/// Opens an included file as Kea does: the name as written, relative to the working directory.
pub fn read_include(name: &str) -> Result<Vec<u8>, String> {
    std::fs::read(name).map_err(|e| {
        let cwd = std::env::current_dir()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|_| "?".into());
        format!("{e} (Kea opens an included file relative to its working directory, not to the including file; here: {cwd})")
    })
}

/// Checks every entry of `Dhcp4.hooks-libraries` that loads this hook, with the parameters
/// as `load()` gets them: the text of Kea's `Element::str()` ([`kea_element_json`]).
///
/// Kea's grammar (the same at 2.2.0, 2.6.3, 3.0.4) wants `hooks-libraries` to be a list of
/// maps holding a string `library` and optionally a map `parameters`, nothing else: a file
/// with another entry is refused here as Kea refuses it.
pub fn check_config(config: &Value) -> Result<Vec<EntryReport>, String> {
    let Some(dhcp4) = config.get("Dhcp4") else {
        return Err("no \"Dhcp4\" object at the top level".into());
    };
    let libs = match dhcp4.get("hooks-libraries") {
        None => return Ok(Vec::new()),
        Some(Value::Array(libs)) => libs,
        Some(_) => {
            return Err("Dhcp4.hooks-libraries is not a list (Kea's parser refuses it)".into())
        }
    };
    let mut reports = Vec::new();
    for (i, entry) in libs.iter().enumerate() {
        let path = format!("Dhcp4.hooks-libraries[{i}]");
        let refused = |why: &str| Err(format!("{path}: {why} (Kea's parser refuses it)"));
        let Value::Object(entry) = entry else {
            return refused("not a map");
        };
        if let Some(k) = entry.keys().find(|k| *k != "library" && *k != "parameters") {
            return refused(&format!(
                "unknown key {} (a hooks library has `library` and `parameters`)",
                quoted(k)
            ));
        }
        let library = match entry.get("library") {
            Some(Value::String(l)) => l,
            Some(_) => return refused("`library` is not a string"),
            None => return refused("no `library`"),
        };
        let params = match entry.get("parameters") {
            None => "{}".to_string(), // what the shim hands load() when there are none
            Some(p @ Value::Object(_)) => kea_element_json(p),
            Some(_) => return refused("`parameters` is not a map"),
        };
        let library = String::from_utf8_lossy(&kea_bytes(library)).into_owned();
        if library.rsplit('/').next() != Some(LIBRARY_FILE) {
            continue;
        }
        let (result, effective) = match Engine::from_json(&params) {
            Ok(engine) => (Ok(engine.summary()), Some(engine.effective_config())),
            Err(e) => (Err(e.to_string()), None),
        };
        reports.push(EntryReport {
            path,
            library,
            result,
            effective,
        });
    }
    Ok(reports)
}

/// The text `load()` receives for `value`: Kea's `Element::str()` (`src/lib/cc/data.cc`,
/// `toJSON`, the same at 2.2.0, 2.6.3 and 3.0.4 for what matters here), read by the shim as
/// UTF-8 (lossy). String values are escaped byte by byte (every byte under 0x20 or from 0x7f
/// up becomes `\u00XX`, so a non-ASCII string reaches the hook as one character per byte);
/// map keys are written as they are, unescaped; maps come sorted by key. Doubles are written
/// as serde_json does, not with C++'s six digits: the hook takes no double anywhere, so only
/// the wording of its refusal can differ.
pub fn kea_element_json(value: &Value) -> String {
    fn write(v: &Value, out: &mut Vec<u8>) {
        match v {
            Value::Null | Value::Bool(_) | Value::Number(_) => {
                out.extend_from_slice(v.to_string().as_bytes())
            }
            Value::String(s) => {
                out.push(b'"');
                for b in kea_bytes(s) {
                    match b {
                        b'"' => out.extend_from_slice(b"\\\""),
                        b'\\' => out.extend_from_slice(b"\\\\"),
                        0x08 => out.extend_from_slice(b"\\b"),
                        0x0c => out.extend_from_slice(b"\\f"),
                        b'\n' => out.extend_from_slice(b"\\n"),
                        b'\r' => out.extend_from_slice(b"\\r"),
                        b'\t' => out.extend_from_slice(b"\\t"),
                        0..=0x1f | 0x7f..=0xff => {
                            out.extend_from_slice(format!("\\u{b:04x}").as_bytes())
                        }
                        _ => out.push(b),
                    }
                }
                out.push(b'"');
            }
            Value::Array(items) => {
                out.extend_from_slice(b"[ ");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    write(item, out);
                }
                out.extend_from_slice(b" ]");
            }
            Value::Object(map) => {
                out.extend_from_slice(b"{ ");
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b", ");
                    }
                    out.push(b'"');
                    out.extend_from_slice(&kea_bytes(k));
                    out.extend_from_slice(b"\": ");
                    write(item, out);
                }
                out.extend_from_slice(b" }");
            }
        }
    }
    let mut out = Vec::new();
    write(value, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`parse_config`] (no `<?include?>` allowed) then [`check_config`].
pub fn check_config_text(text: &str) -> Result<Vec<EntryReport>, String> {
    let mut no_include = |_: &str| Err("no file to include from here".to_string());
    let config =
        parse_config(text.as_bytes(), "<config>", &mut no_include).map_err(|e| e.to_string())?;
    check_config(&config)
}

// ---- lexer -------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Pos {
    file: Rc<str>,
    line: usize,
    column: usize,
}

impl Pos {
    fn error(&self, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            file: self.file.to_string(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }

    /// "line 3, column 5", with the file when it is not `here`'s.
    fn describe_from(&self, here: &Pos) -> String {
        if self.file == here.file {
            format!("line {}, column {}", self.line, self.column)
        } else {
            format!("{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

#[derive(Debug, PartialEq)]
enum Tok {
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    End,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::LBrace => "{".into(),
            Tok::RBrace => "}".into(),
            Tok::LBracket => "[".into(),
            Tok::RBracket => "]".into(),
            Tok::Comma => "a comma".into(),
            Tok::Colon => ":".into(),
            Tok::Str(s) => format!("the string {}", quoted(s)),
            Tok::Num(n) => format!("the number {n}"),
            Tok::Bool(b) => b.to_string(),
            Tok::Null => "null".into(),
            Tok::End => "the end of the file".into(),
        }
    }
}

struct Token {
    tok: Tok,
    at: Pos,
    /// Written without a backslash escape (Kea's keywords match the text as written).
    plain: bool,
}

struct Source {
    name: Rc<str>,
    text: Vec<u8>,
    i: usize,
    line: usize,
    column: usize,
}

impl Source {
    fn new(name: &str, text: Vec<u8>) -> Source {
        Source {
            name: name.into(),
            text,
            i: 0,
            line: 1,
            column: 1,
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.name.clone(),
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.text.get(self.i + k).copied()
    }

    fn at(&self, s: &[u8]) -> bool {
        self.text[self.i..].starts_with(s)
    }

    fn bump(&mut self, n: usize) {
        for _ in 0..n {
            if self.text.get(self.i) == Some(&b'\n') {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
            self.i += 1;
        }
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(0), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump(1);
        }
    }

    fn run_len(&self, from: usize, pred: impl Fn(u8) -> bool) -> usize {
        self.text[from.min(self.text.len())..]
            .iter()
            .take_while(|&&c| pred(c))
            .count()
    }
}

fn show_byte(c: u8) -> String {
    if c.is_ascii_graphic() {
        format!("'{}'", c as char)
    } else {
        format!("byte 0x{c:02x}")
    }
}

/// A string of Kea's bytes (one char per byte), quoted for a message, its UTF-8 shown as such.
fn quoted(s: &str) -> String {
    Value::String(String::from_utf8_lossy(&kea_bytes(s)).into_owned()).to_string()
}

/// The bytes Kea holds for a string this reader returned.
fn kea_bytes(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

struct Lexer<'l> {
    /// The top file, then the files being included, innermost last.
    stack: Vec<Source>,
    include: &'l mut dyn FnMut(&str) -> Result<Vec<u8>, String>,
}

impl Lexer<'_> {
    fn src(&mut self) -> &mut Source {
        self.stack.last_mut().expect("the top file stays")
    }

    fn next(&mut self) -> Result<Token, SyntaxError> {
        loop {
            let s = self.src();
            let at = s.pos();
            let start = s.i;
            let Some(c) = s.peek(0) else {
                if self.stack.len() == 1 {
                    return Ok(Token {
                        tok: Tok::End,
                        at,
                        plain: true,
                    });
                }
                self.stack.pop();
                self.close_directive()?;
                continue;
            };
            let tok = match c {
                b' ' | b'\t' | b'\r' | b'\n' => {
                    s.bump(1);
                    continue;
                }
                b'#' => {
                    s.skip_line();
                    continue;
                }
                b'/' if s.peek(1) == Some(b'/') => {
                    s.skip_line();
                    continue;
                }
                b'/' if s.peek(1) == Some(b'*') => {
                    s.bump(2);
                    loop {
                        if s.at(b"*/") {
                            s.bump(2);
                            break;
                        }
                        if s.peek(0).is_none() {
                            return Err(
                                at.error(format!("comment not closed: /* on line {}", at.line))
                            );
                        }
                        s.bump(1);
                    }
                    continue;
                }
                b'<' if s.peek(1) == Some(b'?') => {
                    self.open_directive(at)?;
                    continue;
                }
                b'"' => Tok::Str(s.string(&at)?),
                b'{' | b'}' | b'[' | b']' | b',' | b':' => {
                    s.bump(1);
                    match c {
                        b'{' => Tok::LBrace,
                        b'}' => Tok::RBrace,
                        b'[' => Tok::LBracket,
                        b']' => Tok::RBracket,
                        b',' => Tok::Comma,
                        _ => Tok::Colon,
                    }
                }
                _ => match s.number(&at)? {
                    Some(n) => Tok::Num(n),
                    None => s.word(&at)?,
                },
            };
            let s = self.src();
            let plain = !s.text[start..s.i].contains(&b'\\');
            return Ok(Token { tok, at, plain });
        }
    }

    /// At `<?`: reads `include "FILE"` and starts reading FILE.
    fn open_directive(&mut self, at: Pos) -> Result<(), SyntaxError> {
        let s = self.src();
        s.bump(2);
        s.skip_blanks();
        if !s.at(b"include") {
            return Err(match s.peek(0) {
                None => at.error("<? directive not closed"),
                Some(_) => s
                    .pos()
                    .error("expected `include` after `<?` (Kea knows no other directive)"),
            });
        }
        s.bump(7);
        s.skip_blanks();
        let name_at = s.pos();
        let len = s.run_len(s.i + 1, |c| c != b'"' && c != b'\n');
        if s.peek(0) != Some(b'"') || len == 0 || s.peek(1 + len) != Some(b'"') {
            return Err(match s.peek(0) {
                None => at.error("<?include directive not closed"),
                Some(_) => name_at.error(
                    "expected the file name in double quotes after `<?include` (one line, no escapes)",
                ),
            });
        }
        let name = String::from_utf8_lossy(&s.text[s.i + 1..s.i + 1 + len]).into_owned();
        s.bump(len + 2);
        if self.stack.len() > MAX_INCLUDE_DEPTH {
            return Err(at.error(format!(
                "includes nested more than {MAX_INCLUDE_DEPTH} deep (Kea: \"Too many nested include.\")"
            )));
        }
        let text = (self.include)(&name)
            .map_err(|e| at.error(format!("cannot open include file {name}: {e}")))?;
        self.stack.push(Source::new(&name, text));
        Ok(())
    }

    /// After an included file: `?>` must close the directive that included it.
    fn close_directive(&mut self) -> Result<(), SyntaxError> {
        let s = self.src();
        s.skip_blanks();
        if s.at(b"?>") {
            s.bump(2);
            return Ok(());
        }
        let at = s.pos();
        Err(match s.peek(0) {
            None => at.error("<?include directive not closed: expected ?>"),
            Some(c) => at.error(format!(
                "expected ?> to close <?include, found {}",
                show_byte(c)
            )),
        })
    }
}

impl Source {
    fn skip_line(&mut self) {
        while !matches!(self.peek(0), None | Some(b'\n')) {
            self.bump(1);
        }
    }

    /// A string from its opening quote.
    fn string(&mut self, at: &Pos) -> Result<String, SyntaxError> {
        self.bump(1);
        let mut out = String::new();
        loop {
            let here = self.pos();
            let Some(c) = self.peek(0) else {
                return Err(at.error("string not closed"));
            };
            match c {
                b'"' => {
                    self.bump(1);
                    return Ok(out);
                }
                b'\\' => {
                    let decoded = match self.peek(1) {
                        Some(e @ (b'"' | b'\\' | b'/')) => e,
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0c,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let hex = self.run_len(self.i + 2, |c| c.is_ascii_hexdigit()).min(4);
                            if hex < 4 {
                                return Err(here.error("\\u needs four hexadecimal digits"));
                            }
                            let digits = &self.text[self.i + 2..self.i + 6];
                            if &digits[..2] != b"00" {
                                return Err(here.error(format!(
                                    "\\u{} is beyond \\u00ff: Kea's parser takes \\u0000 to \\u00ff only",
                                    String::from_utf8_lossy(digits)
                                )));
                            }
                            let b =
                                u8::from_str_radix(std::str::from_utf8(&digits[2..]).unwrap(), 16)
                                    .expect("two hex digits");
                            self.bump(6);
                            out.push(char::from(b));
                            continue;
                        }
                        Some(e) => {
                            return Err(here.error(format!(
                                "bad escape \\{} in a string",
                                String::from_utf8_lossy(&[e])
                            )))
                        }
                        None => return Err(at.error("string not closed")),
                    };
                    self.bump(2);
                    out.push(char::from(decoded));
                }
                b'\n' => {
                    return Err(here
                        .error("line break inside a string (a string not closed, or write \\n)"))
                }
                0..=0x1f => {
                    return Err(here.error(format!(
                        "control character 0x{c:02x} inside a string (write it as \\u00{c:02x})"
                    )))
                }
                _ => {
                    self.bump(1);
                    out.push(char::from(c));
                }
            }
        }
    }

    /// A number, as Kea's two number rules match it (the longer match; the integer rule on a
    /// tie), or None when neither matches here.
    fn number(&mut self, at: &Pos) -> Result<Option<Number>, SyntaxError> {
        let t = &self.text;
        let start = self.i;
        let digits = |from: usize| self.run_len(from, |c| c.is_ascii_digit());
        // [-+]?[0-9]*\.?[0-9]*([eE][-+]?[0-9]+)?
        let mut f = start;
        if matches!(t.get(f), Some(b'-' | b'+')) {
            f += 1;
        }
        f += digits(f);
        if t.get(f) == Some(&b'.') {
            f += 1;
        }
        f += digits(f);
        if matches!(t.get(f), Some(b'e' | b'E')) {
            let mut e = f + 1;
            if matches!(t.get(e), Some(b'-' | b'+')) {
                e += 1;
            }
            if digits(e) > 0 {
                f = e + digits(e);
            }
        }
        // -?[0-9]+
        let sign = usize::from(t.get(start) == Some(&b'-'));
        let int_digits = digits(start + sign);
        let int_len = if int_digits > 0 { sign + int_digits } else { 0 };
        let float_len = f - start;
        if float_len == 0 && int_len == 0 {
            return Ok(None);
        }
        let len = int_len.max(float_len);
        let text = String::from_utf8_lossy(&t[start..start + len]).into_owned();
        let n = if int_len >= float_len {
            text.parse::<i64>().map(Number::from).map_err(|_| {
                at.error(format!(
                    "{text} is out of range: Kea takes integers from -2^63 to 2^63-1"
                ))
            })?
        } else {
            text.parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .ok_or_else(|| at.error(format!("{text} is not a number Kea can read")))?
        };
        self.bump(len);
        Ok(Some(n))
    }

    /// `true`, `false`, `null`, or an error for anything else unquoted.
    fn word(&mut self, at: &Pos) -> Result<Tok, SyntaxError> {
        for (w, tok) in [
            ("true", Tok::Bool(true)),
            ("false", Tok::Bool(false)),
            ("null", Tok::Null),
        ] {
            if self.at(w.as_bytes()) {
                self.bump(w.len());
                return Ok(tok);
            }
            let here = &self.text[self.i..(self.i + w.len()).min(self.text.len())];
            if here.eq_ignore_ascii_case(w.as_bytes()) {
                return Err(at.error(format!("{w} must be written in lower case")));
            }
        }
        let c = self.peek(0).expect("not at the end");
        let hint = if c.is_ascii_alphabetic() || c == b'\'' {
            " (strings need double quotes; the only bare words are true, false and null)"
        } else {
            ""
        };
        Err(at.error(format!("unexpected {}{hint}", show_byte(c))))
    }
}

// ---- parser ------------------------------------------------------------------------------

struct Parser<'l> {
    lex: Lexer<'l>,
    depth: usize,
}

fn unexpected(t: &Token, wanted: &str) -> SyntaxError {
    t.at.error(format!("expected {wanted}, found {}", t.tok.describe()))
}

impl Parser<'_> {
    /// `{ "Dhcp4": { at least one entry } }`, commas allowed after the entry.
    fn top_level(&mut self) -> Result<Value, SyntaxError> {
        let open = self.lex.next()?;
        if open.tok != Tok::LBrace {
            return Err(unexpected(&open, "{ to open the configuration"));
        }
        let key = self.lex.next()?;
        if key.tok != Tok::Str("Dhcp4".into()) || !key.plain {
            return Err(self.not_dhcp4(&key));
        }
        self.expect_colon()?;
        let map_open = self.lex.next()?;
        if map_open.tok != Tok::LBrace {
            return Err(unexpected(&map_open, "{ : Dhcp4 is a map"));
        }
        let dhcp4 = self.map(&map_open.at)?;
        if dhcp4.is_empty() {
            return Err(map_open
                .at
                .error("Dhcp4 is empty: Kea's parser wants at least one parameter in it"));
        }
        loop {
            let t = self.lex.next()?;
            match t.tok {
                Tok::Comma => continue,
                Tok::RBrace => break,
                Tok::Str(ref k) if k == "Dhcp4" && t.plain => {
                    return Err(t.at.error(format!(
                        "duplicate key \"Dhcp4\" (first at {})",
                        key.at.describe_from(&t.at)
                    )))
                }
                _ => return Err(self.not_dhcp4(&t)),
            }
        }
        let end = self.lex.next()?;
        if end.tok != Tok::End {
            return Err(unexpected(
                &end,
                "nothing after the configuration's closing }",
            ));
        }
        let mut top = Map::new();
        top.insert("Dhcp4".into(), Value::Object(dhcp4));
        Ok(Value::Object(top))
    }

    fn not_dhcp4(&self, t: &Token) -> SyntaxError {
        match &t.tok {
            Tok::Str(k) if !t.plain => t.at.error(format!(
                "{} at the top level: kea-dhcp4 wants \"Dhcp4\" written without escapes",
                quoted(k)
            )),
            Tok::Str(k) => t.at.error(format!(
                "{} at the top level: kea-dhcp4 takes a file with \"Dhcp4\" and nothing else there",
                quoted(k)
            )),
            _ => unexpected(t, "\"Dhcp4\""),
        }
    }

    fn expect_colon(&mut self) -> Result<(), SyntaxError> {
        let t = self.lex.next()?;
        if t.tok != Tok::Colon {
            return Err(unexpected(&t, ": after the key"));
        }
        Ok(())
    }

    fn value(&mut self, t: Token) -> Result<Value, SyntaxError> {
        Ok(match t.tok {
            Tok::LBrace => Value::Object(self.map(&t.at)?),
            Tok::LBracket => self.list(&t.at)?,
            Tok::Str(s) => Value::String(s),
            Tok::Num(n) => Value::Number(n),
            Tok::Bool(b) => Value::Bool(b),
            Tok::Null => Value::Null,
            _ => return Err(unexpected(&t, "a value")),
        })
    }

    fn enter(&mut self, at: &Pos) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(at.error(format!(
                "maps and lists nested more than {MAX_DEPTH} deep (this checker's limit)"
            )));
        }
        Ok(())
    }

    /// The rest of a map after its `{`.
    fn map(&mut self, open: &Pos) -> Result<Map<String, Value>, SyntaxError> {
        self.enter(open)?;
        let mut map = Map::new();
        let mut seen: HashMap<String, Pos> = HashMap::new();
        // After `{` or a comma a key may come; commas may repeat once there is an entry.
        let mut key_may_come = true;
        loop {
            let t = self.lex.next()?;
            match t.tok {
                Tok::RBrace => break,
                Tok::Comma if !map.is_empty() => key_may_come = true,
                Tok::Str(key) if key_may_come => {
                    if let Some(first) = seen.get(&key) {
                        return Err(t.at.error(format!(
                            "duplicate key {} (first at {})",
                            quoted(&key),
                            first.describe_from(&t.at)
                        )));
                    }
                    self.expect_colon()?;
                    let v = self.lex.next()?;
                    let v = self.value(v)?;
                    seen.insert(key.clone(), t.at);
                    map.insert(key, v);
                    key_may_come = false;
                }
                _ if key_may_come && map.is_empty() => {
                    return Err(unexpected(&t, "a key in double quotes or }"))
                }
                _ if key_may_come => return Err(unexpected(&t, "a key in double quotes")),
                _ => return Err(unexpected(&t, "a comma or } after a map entry")),
            }
        }
        self.depth -= 1;
        Ok(map)
    }

    /// The rest of a list after its `[`.
    fn list(&mut self, open: &Pos) -> Result<Value, SyntaxError> {
        self.enter(open)?;
        let mut list = Vec::new();
        let mut value_may_come = true;
        loop {
            let t = self.lex.next()?;
            match t.tok {
                Tok::RBracket => break,
                Tok::Comma if !list.is_empty() => value_may_come = true,
                _ if value_may_come => {
                    list.push(self.value(t)?);
                    value_may_come = false;
                }
                _ => return Err(unexpected(&t, "a comma or ] after a list element")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(list))
    }
}

/// Where two servers' hook parameters differ (HA peers must send the same option 150): the
/// top-level parameter names whose normalised values differ, empty when they agree. Compares
/// [`EntryReport::effective`], so defaults written out or left implicit are the same.
pub fn parameter_differences(a: &Value, b: &Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let (ma, mb) = (
        a.as_object().unwrap_or(&empty),
        b.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = ma.keys().chain(mb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| ma.get(*k) != mb.get(*k))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_differences_name_the_parameters_and_ignore_implicit_defaults() {
        let eff = |j: &str| Engine::from_json(j).unwrap().effective_config();
        let a = eff(r#"{"servers": ["10.0.0.1"]}"#);
        let a_explicit = eff(r#"{"servers": ["10.0.0.1"], "option-66": {"enabled": false}}"#);
        assert!(parameter_differences(&a, &a_explicit).is_empty());
        let b = eff(r#"{"servers": ["10.0.0.2"], "option-66": {"enabled": true}}"#);
        assert_eq!(parameter_differences(&a, &b), ["option-66", "servers"]);
    }

    fn files<'a>(
        list: &'a [(&'a str, &'a str)],
    ) -> impl FnMut(&str) -> Result<Vec<u8>, String> + 'a {
        move |name| {
            list.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t.as_bytes().to_vec())
                .ok_or_else(|| "No such file or directory".to_string())
        }
    }

    fn parse(text: &str) -> Result<Value, SyntaxError> {
        parse_config(text.as_bytes(), "t.conf", &mut files(&[]))
    }

    /// The error's "line:column: message" for `{"Dhcp4": ...}` built from `dhcp4`.
    fn err(text: &str) -> String {
        let e = parse(text).unwrap_err();
        assert_eq!(e.file, "t.conf");
        format!("{}:{}: {}", e.line, e.column, e.message)
    }

    #[test]
    fn every_kea_comment_form_but_not_inside_strings() {
        let text = "// head\n{ # hash\n \"Dhcp4\": { \"a\": \"x#y//z/*w*/\", // slashes\n /* block\n over lines */ \"b\": 1 } }";
        let v = parse(text).unwrap();
        assert_eq!(v["Dhcp4"]["a"], "x#y//z/*w*/");
        assert_eq!(v["Dhcp4"]["b"], 1);
        // `//*` is a line comment; `/*/` does not close; `*/` alone is an error.
        assert!(parse("{\"Dhcp4\": {\"a\": 1 //* x\n}}").is_ok());
        assert!(parse("{\"Dhcp4\": {\"a\": 1 /*/ x */}}").is_ok());
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": 1\n /* open\n"),
            "2:2: comment not closed: /* on line 2"
        );
        assert!(err("{\"Dhcp4\": {\"a\": 1 */}}").starts_with("1:19: unexpected '*'"));
    }

    #[test]
    fn trailing_and_repeated_commas_as_kea_takes_them() {
        let v = parse("{\"Dhcp4\": {\"a\": [1,,2,], \"b\": {\"c\": 1,,},, \"d\": 2,},,}").unwrap();
        assert_eq!(v["Dhcp4"]["a"], serde_json::json!([1, 2]));
        assert_eq!(v["Dhcp4"]["b"], serde_json::json!({"c": 1}));
        assert_eq!(v["Dhcp4"]["d"], 2);
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": [,1]}}"),
            "1:18: expected a value, found a comma"
        );
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": {,}}}"),
            "1:18: expected a key in double quotes or }, found a comma"
        );
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": 1\n \"b\": 2}}"),
            "2:2: expected a comma or } after a map entry, found the string \"b\""
        );
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": [1 2]}}"),
            "1:20: expected a comma or ] after a list element, found the number 2"
        );
    }

    #[test]
    fn duplicate_keys_are_errors() {
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": 1,\n  \"a\": 2}}"),
            "2:3: duplicate key \"a\" (first at line 1, column 12)"
        );
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": 1}, \"Dhcp4\": {\"a\": 1}}"),
            "1:21: duplicate key \"Dhcp4\" (first at line 1, column 2)"
        );
        // The same key in two maps is fine.
        assert!(parse("{\"Dhcp4\": {\"a\": {\"x\": 1}, \"b\": {\"x\": 1}}}").is_ok());
    }

    #[test]
    fn the_top_level_is_dhcp4_alone_and_not_empty() {
        assert!(err("{\"Dhcp4\": {}}").starts_with("1:11: Dhcp4 is empty"));
        assert!(err("{\"Dhcp4\": {\"a\": 1}, \"Logging\": {}}")
            .starts_with("1:21: \"Logging\" at the top level"));
        assert!(err("{\"Dhcp6\": {\"a\": 1}}").starts_with("1:2: \"Dhcp6\" at the top level"));
        assert!(err(r#"{"Dhcp\u0034": {"a": 1}}"#)
            .starts_with("1:2: \"Dhcp4\" at the top level: kea-dhcp4 wants"));
        assert!(err("{\"Dhcp4\": []}").starts_with("1:11: expected { : Dhcp4 is a map"));
        assert_eq!(
            err(""),
            "1:1: expected { to open the configuration, found the end of the file"
        );
        assert_eq!(
            err("# nothing\n"),
            "2:1: expected { to open the configuration, found the end of the file"
        );
        assert_eq!(
            err("{\"Dhcp4\": {\"a\": 1}}\n{"),
            "2:1: expected nothing after the configuration's closing }, found {"
        );
    }

    #[test]
    fn strings_as_kea_reads_them() {
        let v = parse(r#"{"Dhcp4": {"a": "\"\\\/\b\f\n\r\t\u0041\u00e9", "b": "é"}}"#).unwrap();
        assert_eq!(v["Dhcp4"]["a"], "\"\\/\u{8}\u{c}\n\r\tA\u{e9}");
        // Kea's bytes, one char each: UTF-8 é is two.
        assert_eq!(v["Dhcp4"]["b"], "\u{c3}\u{a9}");
        assert_eq!(quoted("\u{c3}\u{a9}"), "\"é\"");
        assert!(err(r#"{"Dhcp4": {"a": "\u0100"}}"#).starts_with("1:18: \\u0100 is beyond \\u00ff"));
        assert!(err(r#"{"Dhcp4": {"a": "\u00e"}}"#).starts_with("1:18: \\u needs four"));
        assert!(err(r#"{"Dhcp4": {"a": "\x"}}"#).starts_with("1:18: bad escape \\x"));
        assert!(err("{\"Dhcp4\": {\"a\": \"x\ty\"}}").starts_with("1:19: control character 0x09"));
        assert!(
            err("{\"Dhcp4\": {\"a\": \"x\ny\"}}").starts_with("1:19: line break inside a string")
        );
        assert_eq!(err("{\"Dhcp4\": {\"a\": \"x"), "1:17: string not closed");
        // Invalid UTF-8 passes, as in Kea.
        let mut bytes = b"{\"Dhcp4\": {\"a\": \"".to_vec();
        bytes.extend_from_slice(&[0xff, b'"', b'}', b'}']);
        assert!(parse_config(&bytes, "t", &mut files(&[])).is_ok());
    }

    #[test]
    fn numbers_as_kea_reads_them() {
        let v = parse(
            "{\"Dhcp4\": {\"a\": [0, -0, 01, 9223372036854775807, -9223372036854775808, 1.5, +5, .5, 1., -.5e+2, 1.e3, 1E2]}}",
        )
        .unwrap();
        assert_eq!(
            v["Dhcp4"]["a"],
            serde_json::json!([
                0,
                0,
                1,
                i64::MAX,
                i64::MIN,
                1.5,
                5.0,
                0.5,
                1.0,
                -50.0,
                1000.0,
                100.0
            ])
        );
        assert!(v["Dhcp4"]["a"][0].is_i64() && v["Dhcp4"]["a"][6].is_f64());
        assert!(err("{\"Dhcp4\": {\"a\": 9223372036854775808}}")
            .starts_with("1:17: 9223372036854775808 is out of range"));
        assert!(err("{\"Dhcp4\": {\"a\": 1e999}}").starts_with("1:17: 1e999 is not a number"));
        assert!(err("{\"Dhcp4\": {\"a\": -}}").starts_with("1:17: - is not a number"));
        assert!(err("{\"Dhcp4\": {\"a\": e5}}").starts_with("1:17: e5 is not a number"));
        assert!(err("{\"Dhcp4\": {\"a\": 0x10}}").starts_with("1:18: unexpected 'x'"));
    }

    #[test]
    fn bare_words() {
        let v = parse("{\"Dhcp4\": {\"a\": [true, false, null]}}").unwrap();
        assert_eq!(v["Dhcp4"]["a"], serde_json::json!([true, false, null]));
        assert!(err("{\"Dhcp4\": {\"a\": True}}")
            .starts_with("1:17: true must be written in lower case"));
        assert!(err("{\"Dhcp4\": {\"a\": yes}}").starts_with("1:17: unexpected 'y'"));
        assert!(err("{\"Dhcp4\": {a: 1}}").starts_with("1:12: unexpected 'a'"));
        assert!(err("{'Dhcp4': {}}").starts_with("1:2: unexpected '''"));
        assert!(err("\u{feff}{\"Dhcp4\": {}}").starts_with("1:1: unexpected byte 0xef"));
    }

    #[test]
    fn includes_are_spliced_in_by_name_as_written() {
        let inc = [
            ("subnets.json", "// fragment\n[{\"id\": 1},]"),
            ("dir/entry.json", "\"b\": 2, <?include \"tail.json\"?>"),
            ("tail.json", "\"c\": 3"),
        ];
        let text = "{\"Dhcp4\": {\"subnet4\": <? include\n \"subnets.json\" ?>,\n <?include \"dir/entry.json\"?>}}";
        let v = parse_config(text.as_bytes(), "t.conf", &mut files(&inc)).unwrap();
        assert_eq!(
            v["Dhcp4"],
            serde_json::json!({"subnet4": [{"id": 1}], "b": 2, "c": 3})
        );
        let e = parse_config(
            b"{\"Dhcp4\": {\"a\": 1,\n <?include \"missing.json\"?>}}",
            "t.conf",
            &mut files(&inc),
        )
        .unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        assert!(e
            .message
            .starts_with("cannot open include file missing.json"));
        // Errors inside an included file name it and its own line.
        let e = parse_config(
            b"{\"Dhcp4\": {\"a\": <?include \"bad.json\"?>}}",
            "t.conf",
            &mut files(&[("bad.json", "\n [1 2]")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad.json:2:5: expected a comma or ] after a list element, found the number 2"
        );
        // Not closed, wrong directive, empty name, nesting.
        assert!(err("{\"Dhcp4\": {\"a\": <?include \"x\"").contains("cannot open include file x"));
        let e = parse_config(
            b"{\"Dhcp4\": {\"a\": <?include \"t.json\"}}",
            "t.conf",
            &mut files(&[("t.json", "1")]),
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "t.conf:1:35: expected ?> to close <?include, found '}'"
        );
        assert!(
            err("{\"Dhcp4\": {\"a\": <?import \"x\"?>}}").starts_with("1:19: expected `include`")
        );
        assert!(err("{\"Dhcp4\": {\"a\": <?include \"\"?>}}")
            .starts_with("1:27: expected the file name"));
        let e = parse_config(
            b"{\"Dhcp4\": {\"a\": <?include \"self\"?>}}",
            "t.conf",
            &mut files(&[("self", "<?include \"self\"?>")]),
        )
        .unwrap_err();
        assert!(e.message.contains("more than 11 deep"), "{e}");
        assert_eq!(e.file, "self");
    }

    #[test]
    fn nesting_is_limited_without_overflowing_the_stack() {
        let deep = format!(
            "{{\"Dhcp4\": {{\"a\": {}{}}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(err(&deep).contains("nested more than 200 deep"));
        let ok = format!(
            "{{\"Dhcp4\": {{\"a\": {}{}}}}}",
            "[".repeat(199),
            "]".repeat(199)
        );
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn finds_and_checks_only_this_hooks_entries() {
        let text = r#"{"Dhcp4": {"hooks-libraries": [
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so",
             "parameters": {"servers": ["10.0.0.1"]}},
            // a second, broken copy
            {"library": "libdhcp_cisco_tftp.so", "parameters": {"servers": ["10.0.0.300"]}},
        ]}}"#;
        let reports = check_config_text(text).unwrap();
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].path, "Dhcp4.hooks-libraries[1]");
        assert!(reports[0].result.is_ok());
        assert_eq!(reports[1].path, "Dhcp4.hooks-libraries[2]");
        let err = reports[1].result.as_ref().unwrap_err();
        assert_eq!(
            err,
            r#"parameter 'servers[0]': not an IPv4 address: "10.0.0.300""#
        );
    }

    #[test]
    fn missing_parameters_are_checked_as_empty() {
        let reports = check_config_text(
            r#"{"Dhcp4": {"hooks-libraries": [{"library": "libdhcp_cisco_tftp.so"}]}}"#,
        )
        .unwrap();
        assert!(reports[0].result.is_err());
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert_eq!(
            check_config_text("{").unwrap_err(),
            "<config>:1:2: expected \"Dhcp4\", found the end of the file"
        );
        assert!(
            check_config_text("{\"Dhcp4\": {\"a\": 1}}\n<?include \"x\"?>")
                .unwrap_err()
                .contains("cannot open include file x")
        );
        assert!(check_config_text(r#"{"Dhcp4": {"hooks-libraries": {}}}"#)
            .unwrap_err()
            .contains("not a list"));
    }

    #[test]
    fn load_gets_what_kea_element_str_writes() {
        let v = parse(
            "{\"Dhcp4\": {\"p\": {\"b\": \"é\\\"\\\\\\u00e9\\u007f\\t\", \"a\": [1, -2, 1.5, true, null, {}], \"k\\\"é\": 0}}}",
        )
        .unwrap();
        assert_eq!(
            kea_element_json(&v["Dhcp4"]["p"]),
            r#"{ "a": [ 1, -2, 1.5, true, null, {  } ], "b": "\u00c3\u00a9\"\\\u00e9\u007f\t", "k"é": 0 }"#
        );
        // A non-ASCII parameter reaches load() one character per byte, and the checker says
        // what load() would.
        let text = "{\"Dhcp4\": {\"hooks-libraries\": [{\"library\": \"libdhcp_cisco_tftp.so\", \"parameters\": {\"servers\": [\"10.0.0.é\"]}}]}}";
        let reports = check_config_text(text).unwrap();
        assert_eq!(
            reports[0].result.as_ref().unwrap_err(),
            "parameter 'servers[0]': not an IPv4 address: \"10.0.0.\u{c3}\u{a9}\""
        );
    }

    #[test]
    fn hooks_library_entries_as_kea_grammar_has_them() {
        for (entry, why) in [
            ("[]", "Dhcp4.hooks-libraries[0]: not a map"),
            ("{\"parameters\": {}}", "Dhcp4.hooks-libraries[0]: no `library`"),
            ("{\"library\": 1}", "Dhcp4.hooks-libraries[0]: `library` is not a string"),
            (
                "{\"library\": \"x.so\", \"parameters\": null}",
                "Dhcp4.hooks-libraries[0]: `parameters` is not a map",
            ),
            (
                "{\"library\": \"x.so\", \"comment\": \"\"}",
                "Dhcp4.hooks-libraries[0]: unknown key \"comment\" (a hooks library has `library` and `parameters`)",
            ),
        ] {
            let text = format!("{{\"Dhcp4\": {{\"hooks-libraries\": [{entry}]}}}}");
            assert_eq!(
                check_config_text(&text).unwrap_err(),
                format!("{why} (Kea's parser refuses it)")
            );
        }
    }

    // Whatever the bytes, the reader answers (no panic), an error points inside the text, and
    // a file it accepts reads back the same after Kea's own writing of it.
    proptest::proptest! {
        #[test]
        fn any_bytes_get_an_answer(
            edits in proptest::collection::vec((0usize..400, proptest::sample::select(
                b"{}[],:\"\\/*#<?>-+.09eEtfnul \n\t\x00\x7f\xc3\xa9x".to_vec()), 0u8..3), 1..6),
        ) {
            let mut text = br#"// c
    { "Dhcp4": { "valid-lifetime": 4000, /* b */ "user-context": { "a": [1, -2.5e3, "x\u00e9y", true, null], }, }, }"#.to_vec();
            for (at, byte, op) in edits {
                let at = at % (text.len() + 1);
                match op {
                    0 if at < text.len() => { text.remove(at); }
                    1 if at < text.len() => text[at] = byte,
                    _ => text.insert(at, byte),
                }
            }
            match parse_config(&text, "t.conf", &mut files(&[])) {
                Ok(v) => {
                    let again = kea_element_json(&v);
                    let back = parse_config(again.as_bytes(), "again", &mut files(&[]));
                    // Kea writes keys raw, unescaped: compare where that reads back.
                    fn plain_keys(v: &Value) -> bool {
                        match v {
                            Value::Object(m) => m.iter().all(|(k, v)| {
                                k.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
                                    && plain_keys(v)
                            }),
                            Value::Array(a) => a.iter().all(plain_keys),
                            _ => true,
                        }
                    }
                    if plain_keys(&v) {
                        proptest::prop_assert_eq!(back.unwrap(), v);
                    }
                }
                Err(e) => {
                    let lines = text.split(|&b| b == b'\n').count();
                    proptest::prop_assert!(e.line >= 1 && e.line <= lines && e.column >= 1, "{}", e);
                }
            }
        }
    }
}
