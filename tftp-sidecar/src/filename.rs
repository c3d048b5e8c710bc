//! Pure filename rules: raw request bytes -> a relative, normalised name, or why not.
//!
//! The result never starts with `/`, never contains `..`, `.` or empty components, NUL,
//! control characters or backslashes. Percent escapes of `.`, `/` and `\` are refused rather
//! than decoded, because an HTTP origin downstream might decode them into traversal.
//!
//! HTTP request paths go through [`validate_url_path`]: percent-decoded once, then the same
//! rules, so TFTP and HTTP accept exactly the same names.

/// Longest accepted request name, in bytes.
pub const MAX_LEN: usize = 255;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("empty file name")]
    Empty,
    #[error("file name too long ({len} bytes, limit {max})")]
    TooLong { len: usize, max: usize },
    #[error("file name contains NUL")]
    Nul,
    #[error("file name is not UTF-8")]
    NotUtf8,
    #[error("file name contains a control character")]
    ControlChar,
    #[error("absolute path not allowed")]
    Absolute,
    #[error("'..' path component not allowed")]
    ParentDir,
    #[error("percent-encoded '.', '/' or '\\' not allowed")]
    EncodedTraversal,
}

/// Check and normalise a requested file name with the default length limit.
pub fn validate(raw: &[u8]) -> Result<String, PathError> {
    validate_with_limit(raw, MAX_LEN)
}

pub fn validate_with_limit(raw: &[u8], max: usize) -> Result<String, PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.len() > max {
        return Err(PathError::TooLong {
            len: raw.len(),
            max,
        });
    }
    if raw.contains(&0) {
        return Err(PathError::Nul);
    }
    let s = std::str::from_utf8(raw).map_err(|_| PathError::NotUtf8)?;
    if s.chars().any(char::is_control) {
        return Err(PathError::ControlChar);
    }
    if has_encoded_traversal(s) {
        return Err(PathError::EncodedTraversal);
    }
    let s = s.replace('\\', "/");
    if s.starts_with('/') || is_drive_prefixed(&s) {
        return Err(PathError::Absolute);
    }
    let mut parts = Vec::new();
    for comp in s.split('/') {
        match comp {
            "" | "." => {}
            ".." => return Err(PathError::ParentDir),
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(PathError::Empty);
    }
    Ok(parts.join("/"))
}

/// An HTTP request path (`/SEP001122334455.cnf.xml`, as sent: still percent-encoded) -> the
/// name TFTP would be asked for. Encoded separators (`%2f`, `%5c`) are refused before
/// decoding (they would otherwise become path separators nobody typed); after one decoding
/// pass the name meets [`validate`], so `%2e%2e` becomes a refused `..` and a double-encoded
/// `%252e` a refused `%2e`.
pub fn validate_url_path(path: &str) -> Result<String, PathError> {
    // Origin-form targets start with exactly one '/', which is not part of the name; a second
    // one makes the name absolute.
    let raw = path.strip_prefix('/').unwrap_or(path);
    // Each escape decodes to at most one byte: a longer raw path cannot pass the limit.
    if raw.len() > MAX_LEN * 3 {
        return Err(PathError::TooLong {
            len: raw.len(),
            max: MAX_LEN,
        });
    }
    let b = raw.as_bytes();
    if b.windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'f') | (b'5', b'c')
            )
    }) {
        return Err(PathError::EncodedTraversal);
    }
    let decoded: Vec<u8> = percent_encoding::percent_decode(b).collect();
    validate(&decoded)
}

/// `C:` or `C:/...`: absolute on Windows-minded clients; never a sane phone file name.
fn is_drive_prefixed(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

fn has_encoded_traversal(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(3).any(|w| {
        w[0] == b'%'
            && matches!(
                (w[1], w[2].to_ascii_lowercase()),
                (b'2', b'e') | (b'2', b'f') | (b'5', b'c')
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises() {
        assert_eq!(
            validate(b"SEP001122334455.cnf.xml").unwrap(),
            "SEP001122334455.cnf.xml"
        );
        assert_eq!(validate(b"./a/b.bin").unwrap(), "a/b.bin");
        assert_eq!(validate(b"a\\b\\c.loads").unwrap(), "a/b/c.loads");
        assert_eq!(validate(b"a//./b").unwrap(), "a/b");
        assert_eq!(validate(b"...").unwrap(), "...");
        assert_eq!(validate(b"a..b").unwrap(), "a..b");
        assert_eq!(validate(b"100%.txt").unwrap(), "100%.txt");
    }

    #[test]
    fn refuses_traversal_corpus() {
        use PathError::*;
        let cases: &[(&[u8], PathError)] = &[
            (b"", Empty),
            (b"./", Empty),
            (b"../etc/passwd", ParentDir),
            (b"a/../../x", ParentDir),
            (b"..\\..\\windows", ParentDir),
            (b"/etc/passwd", Absolute),
            (b"\\etc\\passwd", Absolute),
            (b"C:\\boot.ini", Absolute),
            (b"%2e%2e/etc/passwd", EncodedTraversal),
            (b"..%2fetc", EncodedTraversal),
            (b"a%5C..", EncodedTraversal),
            (b"a\0b", Nul),
            (b"a\nb", ControlChar),
            (b"\xff\xfe", NotUtf8),
        ];
        for (raw, want) in cases {
            assert_eq!(
                validate(raw).as_ref(),
                Err(want),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let long = vec![b'a'; MAX_LEN + 1];
        assert!(matches!(validate(&long), Err(TooLong { .. })));
        assert!(validate(&vec![b'a'; MAX_LEN]).is_ok());
    }

    #[test]
    fn url_paths_decode_once_then_follow_the_same_rules() {
        use PathError::*;
        assert_eq!(
            validate_url_path("/SEP001122334455.cnf.xml").unwrap(),
            "SEP001122334455.cnf.xml"
        );
        assert_eq!(validate_url_path("/a%20b.xml").unwrap(), "a b.xml");
        assert_eq!(validate_url_path("/sub/./f.sbn").unwrap(), "sub/f.sbn");
        assert_eq!(validate_url_path("/100%25.txt").unwrap(), "100%.txt");
        let cases: &[(&str, PathError)] = &[
            ("/", Empty),
            ("", Empty),
            ("/../secret", ParentDir),
            ("/%2e%2e/secret", ParentDir),
            ("/%2E%2E", ParentDir),
            ("/.%2e/secret", ParentDir),
            ("/..%2fsecret", EncodedTraversal),
            ("/a%2Fb", EncodedTraversal),
            ("/..%5csecret", EncodedTraversal),
            ("/%252e%252e/secret", EncodedTraversal),
            ("//etc/passwd", Absolute),
            ("/%5cetc", EncodedTraversal),
            ("/C:%5Cboot.ini", EncodedTraversal),
            ("/C:/boot.ini", Absolute),
            ("/..\\secret", ParentDir),
            ("/ok.cnf%00../x", Nul),
            ("/ok%0a", ControlChar),
            ("/%ff%fe", NotUtf8),
        ];
        for (raw, want) in cases {
            assert_eq!(validate_url_path(raw).as_ref(), Err(want), "{raw:?}");
        }
        let long = format!("/{}", "a".repeat(MAX_LEN + 1));
        assert!(matches!(validate_url_path(&long), Err(TooLong { .. })));
        let encoded_long = format!("/{}", "%41".repeat(MAX_LEN + 1));
        assert!(matches!(
            validate_url_path(&encoded_long),
            Err(TooLong { .. })
        ));
        assert!(validate_url_path(&format!("/{}", "%41".repeat(MAX_LEN))).is_ok());
    }

    #[test]
    fn error_text_names_the_problem() {
        assert!(validate(b"../x").unwrap_err().to_string().contains(".."));
        assert!(validate(b"/x")
            .unwrap_err()
            .to_string()
            .contains("absolute"));
    }
}
