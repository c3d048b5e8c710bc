//! Wire encodings of the TFTP server options.
//!
//! Option 150 (RFC 5859) is a list of IPv4 addresses, 4 network-order bytes each; an option's
//! payload is at most 255 bytes, hence at most 63 servers. Option 66 is ASCII text.

#![forbid(unsafe_code)]

use std::fmt;
use std::net::Ipv4Addr;

/// Most servers one option 150 can carry (255 / 4).
pub const MAX_SERVERS: usize = 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    NoServers,
    TooManyServers(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::NoServers => write!(f, "empty server list"),
            EncodeError::TooManyServers(n) => write!(
                f,
                "too many servers: {n} (option 150 holds at most {MAX_SERVERS})"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Option 150 payload: the servers in order, 4 network-order bytes each.
pub fn option150(servers: &[Ipv4Addr]) -> Result<Vec<u8>, EncodeError> {
    if servers.is_empty() {
        return Err(EncodeError::NoServers);
    }
    if servers.len() > MAX_SERVERS {
        return Err(EncodeError::TooManyServers(servers.len()));
    }
    Ok(servers.iter().flat_map(|s| s.octets()).collect())
}

/// Decodes an option 150 payload; `None` unless it is 1..=63 whole addresses.
pub fn decode_option150(payload: &[u8]) -> Option<Vec<Ipv4Addr>> {
    if payload.is_empty() || payload.len() & 3 != 0 || payload.len() / 4 > MAX_SERVERS {
        return None;
    }
    Some(
        payload
            .chunks_exact(4)
            .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
            .collect(),
    )
}

/// Option 66 payload: the name's bytes (the configuration only admits ASCII).
pub fn option66(name: &str) -> Vec<u8> {
    name.as_bytes().to_vec()
}

/// Lower-case hex without separators, as in `0a00000a0a00000b`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// Parses hex text (either case, even length, no separators).
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.as_bytes();
    if t.len() & 1 != 0 {
        return None;
    }
    t.chunks_exact(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi * 16 + lo) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn known_bytes() {
        let b = option150(&[ip("10.0.0.10"), ip("10.0.0.11")]).unwrap();
        assert_eq!(b, [10, 0, 0, 10, 10, 0, 0, 11]);
        assert_eq!(hex(&b), "0a00000a0a00000b");
        assert_eq!(hex(&[0xff, 0x00, 0xab]), "ff00ab");
        assert_eq!(hex(&[]), "");
        assert_eq!(option66("tftp.example.com"), b"tftp.example.com");
        assert_eq!(unhex("0A00000a"), Some(vec![10, 0, 0, 10]));
        assert_eq!(unhex("0"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(option150(&[]), Err(EncodeError::NoServers));
        let many = vec![ip("192.0.2.1"); 64];
        assert_eq!(option150(&many), Err(EncodeError::TooManyServers(64)));
        assert_eq!(option150(&many[..63]).unwrap().len(), 252);
        assert_eq!(
            EncodeError::TooManyServers(64).to_string(),
            "too many servers: 64 (option 150 holds at most 63)"
        );
        assert_eq!(decode_option150(&[1, 2, 3]), None);
        assert_eq!(decode_option150(&[]), None);
        assert_eq!(decode_option150(&[0; 256]), None);
    }

    proptest! {
        #[test]
        fn round_trip(raw in proptest::collection::vec(any::<u32>(), 1..=63)) {
            let servers: Vec<Ipv4Addr> = raw.into_iter().map(Ipv4Addr::from).collect();
            let bytes = option150(&servers).unwrap();
            prop_assert_eq!(bytes.len(), 4 * servers.len());
            // Order preserved and network byte order, address by address.
            for (chunk, s) in bytes.chunks(4).zip(&servers) {
                prop_assert_eq!(chunk, &s.octets()[..]);
            }
            prop_assert_eq!(decode_option150(&bytes), Some(servers));
            prop_assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        }

        #[test]
        fn over_63_rejected(raw in proptest::collection::vec(any::<u32>(), 64..=300)) {
            let servers: Vec<Ipv4Addr> = raw.into_iter().map(Ipv4Addr::from).collect();
            prop_assert_eq!(option150(&servers), Err(EncodeError::TooManyServers(servers.len())));
        }

        #[test]
        fn hex_is_lower_and_double_length(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let h = hex(&bytes);
            prop_assert_eq!(h.len(), 2 * bytes.len());
            prop_assert!(h.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        }
    }
}
