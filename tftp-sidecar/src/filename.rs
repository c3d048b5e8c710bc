//! Pure filename rules: raw request bytes -> a relative, normalised name, or why not.
//!
//! The result never starts with `/`, never contains `..`, `.` or empty components, NUL,
//! control characters or backslashes. Percent escapes of `.`, `/` and `\` are refused rather
//! than decoded, because an HTTP origin downstream might decode them into traversal.

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
    fn error_text_names_the_problem() {
        assert!(validate(b"../x").unwrap_err().to_string().contains(".."));
        assert!(validate(b"/x")
            .unwrap_err()
            .to_string()
            .contains("absolute"));
    }
}
