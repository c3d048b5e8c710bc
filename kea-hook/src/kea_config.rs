//! Finds this hook's entries in a Kea DHCPv4 configuration file and checks their parameters
//! with the same code `load()` runs. Kea 2.2's `kea-dhcp4 -t` opens hook libraries but does
//! not call `load()`, and a failed reconfiguration leaves Kea 2.2 not serving, so operators
//! (and the Ansible role) check a candidate file with this before applying it.

#![forbid(unsafe_code)]

use serde_json::Value;

use crate::engine::Engine;

/// The file name Kea loads; entries are recognised by it, whatever the directory.
pub const LIBRARY_FILE: &str = "libdhcp_cisco_tftp.so";

/// One `hooks-libraries` entry that loads this hook, and what checking it found.
#[derive(Debug)]
pub struct EntryReport {
    /// e.g. `Dhcp4.hooks-libraries[1]`
    pub path: String,
    pub library: String,
    /// The one-line load summary, or the error `load()` would log.
    pub result: Result<String, String>,
}

/// Removes Kea's comment forms (`#`, `//`, `/* */`) outside strings.
pub fn strip_comments(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut in_string = false;
    let mut line = 1;
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            out.push(c);
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '#' => skip_line(&mut chars, &mut out, &mut line),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut out, &mut line),
            '/' if chars.peek() == Some(&'*') => {
                let start = line;
                chars.next();
                let mut prev = ' ';
                loop {
                    match chars.next() {
                        Some('/') if prev == '*' => break,
                        Some(n) => {
                            if n == '\n' {
                                line += 1;
                                out.push('\n'); // keep line numbers for serde's errors
                            }
                            prev = n;
                        }
                        None => {
                            return Err(format!("unterminated /* comment opened on line {start}"))
                        }
                    }
                }
            }
            '<' if chars.peek() == Some(&'?') => {
                return Err(format!(
                    "line {line}: <?include ...?> is not supported; check the included file itself"
                ))
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

fn skip_line(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    out: &mut String,
    line: &mut usize,
) {
    for n in chars.by_ref() {
        if n == '\n' {
            *line += 1;
            out.push('\n');
            break;
        }
    }
}

/// Checks every entry of `Dhcp4.hooks-libraries` that loads this hook.
pub fn check_config_text(text: &str) -> Result<Vec<EntryReport>, String> {
    let json = strip_comments(text)?;
    let config: Value = serde_json::from_str(&json).map_err(|e| format!("not valid JSON: {e}"))?;
    let Some(dhcp4) = config.get("Dhcp4") else {
        return Err("no \"Dhcp4\" object at the top level".into());
    };
    let libs = match dhcp4.get("hooks-libraries") {
        None => return Ok(Vec::new()),
        Some(Value::Array(libs)) => libs,
        Some(_) => return Err("Dhcp4.hooks-libraries is not a list".into()),
    };
    let mut reports = Vec::new();
    for (i, entry) in libs.iter().enumerate() {
        let Some(library) = entry.get("library").and_then(Value::as_str) else {
            continue;
        };
        if library.rsplit('/').next() != Some(LIBRARY_FILE) {
            continue;
        }
        let params = entry
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| Value::Object(Default::default()));
        let result = Engine::from_json(&params.to_string())
            .map(|engine| engine.summary())
            .map_err(|e| e.to_string());
        reports.push(EntryReport {
            path: format!("Dhcp4.hooks-libraries[{i}]"),
            library: library.to_string(),
            result,
        });
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_kea_comment_form_but_not_inside_strings() {
        let text =
            "{ # hash\n \"a\": \"x#y//z/*w*/\", // slashes\n /* block\n over lines */ \"b\": 1 }";
        let v: Value = serde_json::from_str(&strip_comments(text).unwrap()).unwrap();
        assert_eq!(v["a"], "x#y//z/*w*/");
        assert_eq!(v["b"], 1);
    }

    #[test]
    fn unterminated_block_comment_and_include_are_errors() {
        assert!(strip_comments("{ /* open").unwrap_err().contains("line 1"));
        assert!(strip_comments("{\n<?include \"x.json\"?>")
            .unwrap_err()
            .contains("include"));
    }

    #[test]
    fn finds_and_checks_only_this_hooks_entries() {
        let text = r#"{"Dhcp4": {"hooks-libraries": [
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so"},
            {"library": "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_cisco_tftp.so",
             "parameters": {"servers": ["10.0.0.1"]}},
            // a second, broken copy
            {"library": "libdhcp_cisco_tftp.so", "parameters": {"servers": ["10.0.0.300"]}}
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
        assert!(check_config_text("{")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(check_config_text("{\"Dhcp6\": {}}")
            .unwrap_err()
            .contains("Dhcp4"));
        assert!(check_config_text(r#"{"Dhcp4": {"hooks-libraries": {}}}"#)
            .unwrap_err()
            .contains("not a list"));
    }
}
