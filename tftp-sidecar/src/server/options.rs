//! RFC 2347/2348/2349/7440 option negotiation: pure, so every edge case is unit-tested.

use std::time::Duration;

/// Largest blksize RFC 2348 allows.
pub const BLKSIZE_RFC_MAX: u16 = 65464;

/// What the server is willing to grant.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub blksize_max: u16,
    pub windowsize_max: u16,
}

/// The agreed transfer parameters and the OACK that announces them (empty: no OACK, plain
/// RFC 1350 transfer starting with DATA 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    pub blksize: u16,
    pub windowsize: u16,
    /// Client-requested retransmit timeout, if it asked for a valid one.
    pub timeout: Option<Duration>,
    pub oack: Vec<(String, String)>,
}

/// Negotiate a read request's options. Out-of-range or unparsable values are left out of the
/// OACK (the client then uses the RFC 1350 default), except sizes above our maximum, which
/// are clamped down as RFC 2348 and RFC 7440 allow. `tsize` is answered only when the size
/// is known.
pub fn negotiate(options: &[(String, String)], limits: Limits, size: Option<u64>) -> Negotiated {
    let mut n = Negotiated {
        blksize: 512,
        windowsize: 1,
        timeout: None,
        oack: Vec::new(),
    };
    let mut seen = [false; 4];
    for (name, value) in options {
        let value = value.trim();
        let lname = name.to_ascii_lowercase();
        let slot = match lname.as_str() {
            "blksize" => 0,
            "windowsize" => 1,
            "timeout" => 2,
            "tsize" => 3,
            _ => continue,
        };
        // Only the first occurrence of an option counts.
        if std::mem::replace(&mut seen[slot], true) {
            continue;
        }
        match slot {
            0 => {
                if let Ok(v) = value.parse::<u64>() {
                    if v >= 8 {
                        let max = limits.blksize_max.clamp(8, BLKSIZE_RFC_MAX) as u64;
                        n.blksize = v.min(max) as u16;
                        n.oack.push((name.clone(), n.blksize.to_string()));
                    }
                }
            }
            1 => {
                if let Ok(v) = value.parse::<u64>() {
                    if v >= 1 {
                        n.windowsize = v.min(limits.windowsize_max.max(1) as u64) as u16;
                        n.oack.push((name.clone(), n.windowsize.to_string()));
                    }
                }
            }
            2 => {
                if let Ok(v) = value.parse::<u64>() {
                    if (1..=255).contains(&v) {
                        n.timeout = Some(Duration::from_secs(v));
                        n.oack.push((name.clone(), v.to_string()));
                    }
                }
            }
            _ => {
                if let Some(size) = size {
                    n.oack.push((name.clone(), size.to_string()));
                }
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const L: Limits = Limits {
        blksize_max: 1468,
        windowsize_max: 16,
    };

    #[test]
    fn no_options_no_oack() {
        let n = negotiate(&[], L, Some(10));
        assert_eq!((n.blksize, n.windowsize, n.oack.len()), (512, 1, 0));
    }

    #[test]
    fn clamps_and_refuses() {
        let n = negotiate(
            &opts(&[
                ("BLKSIZE", "70000"),
                ("windowsize", "1000"),
                ("timeout", "0"),
            ]),
            L,
            None,
        );
        assert_eq!(n.blksize, 1468);
        assert_eq!(n.windowsize, 16);
        assert_eq!(n.timeout, None);
        assert_eq!(n.oack, opts(&[("BLKSIZE", "1468"), ("windowsize", "16")]));

        let n = negotiate(
            &opts(&[("blksize", "1"), ("windowsize", "0"), ("timeout", "x")]),
            L,
            None,
        );
        assert_eq!((n.blksize, n.windowsize), (512, 1));
        assert!(n.oack.is_empty());
    }

    #[test]
    fn tsize_only_when_known() {
        let o = opts(&[("tsize", "0"), ("timeout", "3"), ("foo", "bar")]);
        let n = negotiate(&o, L, Some(4096));
        assert_eq!(n.oack, opts(&[("tsize", "4096"), ("timeout", "3")]));
        assert_eq!(n.timeout, Some(Duration::from_secs(3)));
        let n = negotiate(&o, L, None);
        assert_eq!(n.oack, opts(&[("timeout", "3")]));
    }
}
