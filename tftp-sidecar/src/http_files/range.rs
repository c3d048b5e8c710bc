//! Pure `Range` handling (RFC 9110 §14): one byte range is served as 206, anything this
//! server does not do (other units, several ranges, bad syntax) is ignored and the whole file
//! is sent, as the RFC allows; a range wholly past the end is 416.

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial { start: u64, end: u64 },
    /// Nothing of the file is in the range (416).
    Unsatisfiable,
}

pub fn parse(header: Option<&[u8]>, len: u64) -> RangeRequest {
    let Some(h) = header.and_then(|h| std::str::from_utf8(h).ok()) else {
        return RangeRequest::Full;
    };
    let h = h.trim();
    let Some(spec) = h
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| h[6..].trim())
    else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        // Several ranges would need multipart/byteranges; phones never ask for that.
        return RangeRequest::Full;
    }
    let Some((first, last)) = spec.split_once('-') else {
        return RangeRequest::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let num = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    match (first.is_empty(), num(first), num(last)) {
        // `-N`: the last N bytes.
        (true, _, Some(n)) => {
            if n == 0 || len == 0 {
                RangeRequest::Unsatisfiable
            } else {
                RangeRequest::Partial {
                    start: len.saturating_sub(n),
                    end: len - 1,
                }
            }
        }
        (false, Some(start), end) if last.is_empty() || end.is_some() => {
            if end.is_some_and(|e| e < start) {
                return RangeRequest::Full;
            }
            if start >= len {
                return RangeRequest::Unsatisfiable;
            }
            RangeRequest::Partial {
                start,
                end: end.map_or(len - 1, |e| e.min(len - 1)),
            }
        }
        _ => RangeRequest::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::*;

    fn p(h: &str, len: u64) -> RangeRequest {
        parse(Some(h.as_bytes()), len)
    }

    #[test]
    fn single_ranges() {
        assert_eq!(parse(None, 10), Full);
        assert_eq!(p("bytes=0-0", 10), Partial { start: 0, end: 0 });
        assert_eq!(p("bytes=2-5", 10), Partial { start: 2, end: 5 });
        assert_eq!(p("bytes=2-", 10), Partial { start: 2, end: 9 });
        assert_eq!(p("bytes=2-999", 10), Partial { start: 2, end: 9 });
        assert_eq!(p("bytes=-3", 10), Partial { start: 7, end: 9 });
        assert_eq!(p("bytes=-30", 10), Partial { start: 0, end: 9 });
        assert_eq!(p("Bytes= 4 - 6 ", 10), Partial { start: 4, end: 6 });
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(p("bytes=10-", 10), Unsatisfiable);
        assert_eq!(p("bytes=10-20", 10), Unsatisfiable);
        assert_eq!(p("bytes=-0", 10), Unsatisfiable);
        assert_eq!(p("bytes=0-", 0), Unsatisfiable);
        assert_eq!(p("bytes=-5", 0), Unsatisfiable);
    }

    #[test]
    fn ignored_means_whole_file() {
        for h in [
            "items=0-1",
            "bytes=5-2",
            "bytes=0-1,3-4",
            "bytes=a-b",
            "bytes=-",
            "bytes=",
            "bytes=1",
            "bytes=+1-2",
            "bytes=99999999999999999999999-",
            "",
        ] {
            assert_eq!(p(h, 10), Full, "{h:?}");
        }
        assert_eq!(parse(Some(b"bytes=\xff-1"), 10), Full);
    }
}
