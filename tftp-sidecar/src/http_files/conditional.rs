//! Pure conditional-request evaluation (RFC 9110 §13) for GET and HEAD: `If-None-Match`
//! (weak comparison, wins over the date), `If-Modified-Since`, and `If-Range` (strong).

use std::time::{SystemTime, UNIX_EPOCH};

/// `If-None-Match` / `If-Modified-Since` say the client's copy is current: answer 304.
pub fn not_modified(
    if_none_match: Option<&[u8]>,
    if_modified_since: Option<&[u8]>,
    etag: &str,
    modified: Option<SystemTime>,
) -> bool {
    if let Some(inm) = if_none_match {
        // When present, If-None-Match alone decides (§13.2.2).
        return list_matches(inm, etag, false);
    }
    match (if_modified_since.and_then(date), modified) {
        (Some(since), Some(m)) => secs(m) <= secs(since),
        _ => false,
    }
}

/// Whether a `Range` may be honoured given `If-Range`: absent, or naming exactly this
/// representation (strong ETag match, or the exact Last-Modified date).
pub fn range_applies(if_range: Option<&[u8]>, etag: &str, modified: Option<SystemTime>) -> bool {
    let Some(v) = if_range.and_then(|v| std::str::from_utf8(v).ok()) else {
        return if_range.is_none();
    };
    let v = v.trim();
    if v.starts_with('"') || v.starts_with("W/") {
        return !v.starts_with("W/") && v == etag;
    }
    match (httpdate::parse_http_date(v).ok(), modified) {
        (Some(d), Some(m)) => secs(d) == secs(m),
        _ => false,
    }
}

fn date(v: &[u8]) -> Option<SystemTime> {
    httpdate::parse_http_date(std::str::from_utf8(v).ok()?.trim()).ok()
}

/// HTTP dates have one-second resolution.
fn secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `*` or a comma-separated list of entity tags containing `etag`; `weak` comparison ignores
/// a `W/` prefix on either side.
fn list_matches(list: &[u8], etag: &str, strong: bool) -> bool {
    let Ok(list) = std::str::from_utf8(list) else {
        return false;
    };
    let bare = |t: &str| t.strip_prefix("W/").unwrap_or(t).to_string();
    list.split(',').map(str::trim).any(|t| {
        t == "*" || {
            if strong {
                !t.starts_with("W/") && t == etag
            } else {
                bare(t) == bare(etag)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const TAG: &str = "\"abc\"";

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    fn http_date(s: u64) -> Vec<u8> {
        httpdate::fmt_http_date(t(s)).into_bytes()
    }

    #[test]
    fn if_none_match() {
        let m = Some(t(1_700_000_000));
        assert!(not_modified(Some(b"\"abc\""), None, TAG, m));
        assert!(not_modified(Some(b"\"x\", W/\"abc\""), None, TAG, m));
        assert!(not_modified(Some(b"*"), None, TAG, m));
        assert!(!not_modified(Some(b"\"abd\""), None, TAG, m));
        // If-None-Match present and not matching: the date is not looked at.
        let later = http_date(1_800_000_000);
        assert!(!not_modified(Some(b"\"abd\""), Some(&later), TAG, m));
    }

    #[test]
    fn if_modified_since() {
        let m = Some(t(1_700_000_000) + Duration::from_millis(700));
        assert!(not_modified(None, Some(&http_date(1_700_000_000)), TAG, m));
        assert!(not_modified(None, Some(&http_date(1_700_000_001)), TAG, m));
        assert!(!not_modified(None, Some(&http_date(1_699_999_999)), TAG, m));
        assert!(!not_modified(None, Some(b"yesterday"), TAG, m));
        assert!(!not_modified(
            None,
            Some(&http_date(1_700_000_000)),
            TAG,
            None
        ));
        assert!(!not_modified(None, None, TAG, m));
    }

    #[test]
    fn if_range() {
        let m = Some(t(1_700_000_000));
        assert!(range_applies(None, TAG, m));
        assert!(range_applies(Some(b"\"abc\""), TAG, m));
        assert!(!range_applies(Some(b"W/\"abc\""), TAG, m));
        assert!(!range_applies(Some(b"\"old\""), TAG, m));
        assert!(range_applies(Some(&http_date(1_700_000_000)), TAG, m));
        assert!(!range_applies(Some(&http_date(1_600_000_000)), TAG, m));
        assert!(!range_applies(Some(b"\xff"), TAG, m));
    }

    #[test]
    fn strong_list_comparison() {
        assert!(list_matches(b"\"abc\"", TAG, true));
        assert!(!list_matches(b"W/\"abc\"", TAG, true));
    }
}
