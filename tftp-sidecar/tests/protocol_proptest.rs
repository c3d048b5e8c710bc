//! Property tests: the codec round-trips and never panics; the filename rules never let
//! traversal through and are idempotent.

use bytes::Bytes;
use proptest::prelude::*;

use tftp_sidecar::filename::{validate, PathError, MAX_LEN};
use tftp_sidecar::packet::{Packet, Request};
use tftp_sidecar::server::options::{negotiate, Limits};

fn cstring() -> impl Strategy<Value = String> {
    "[^\u{0}]{0,20}"
}

fn options() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("[a-zA-Z]{1,10}", cstring()), 0..6)
}

fn packet() -> impl Strategy<Value = Packet> {
    prop_oneof![
        (
            prop::collection::vec(1u8..=255, 0..40),
            "[a-zA-Z]{1,8}",
            options()
        )
            .prop_map(|(f, m, o)| Packet::Rrq(Request {
                filename: f,
                mode: m,
                options: o
            })),
        (
            prop::collection::vec(1u8..=255, 0..40),
            "[a-zA-Z]{1,8}",
            options()
        )
            .prop_map(|(f, m, o)| Packet::Wrq(Request {
                filename: f,
                mode: m,
                options: o
            })),
        (any::<u16>(), prop::collection::vec(any::<u8>(), 0..600)).prop_map(|(b, d)| {
            Packet::Data {
                block: b,
                data: Bytes::from(d),
            }
        }),
        any::<u16>().prop_map(Packet::Ack),
        (any::<u16>(), cstring()).prop_map(|(c, m)| Packet::Error {
            code: c,
            message: m
        }),
        options().prop_map(Packet::Oack),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn codec_round_trips(p in packet()) {
        let wire = p.encode();
        prop_assert_eq!(Packet::decode(&wire), Ok(p));
    }

    #[test]
    fn decode_never_panics(raw in prop::collection::vec(any::<u8>(), 0..700)) {
        let _ = Packet::decode(&raw);
    }

    #[test]
    fn decode_never_panics_on_request_like_input(
        op in 1u16..=6,
        body in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..200),
    ) {
        let mut raw = op.to_be_bytes().to_vec();
        raw.extend(body);
        if let Ok(p) = Packet::decode(&raw) {
            // Whatever decodes re-encodes to something that decodes the same.
            prop_assert_eq!(Packet::decode(&p.encode()), Ok(p));
        }
    }

    #[test]
    fn accepted_names_are_safe_and_stable(raw in prop::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(name) = validate(&raw) {
            prop_assert!(!name.is_empty() && name.len() <= MAX_LEN);
            prop_assert!(!name.starts_with('/'));
            prop_assert!(!name.contains('\\') && !name.contains('\0'));
            prop_assert!(name.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
            prop_assert!(!name.to_ascii_lowercase().contains("%2e"));
            prop_assert_eq!(validate(name.as_bytes()), Ok(name.clone()));
        }
    }

    #[test]
    fn names_built_from_path_pieces(parts in prop::collection::vec(
        prop_oneof![Just(".."), Just("."), Just(""), Just("a"), Just("%2e%2e"), Just("b.cnf"), Just("..."), Just("\\..")], 1..6),
        sep in prop_oneof![Just("/"), Just("\\")],
    ) {
        let name = parts.join(sep);
        let r = validate(name.as_bytes());
        let has_dotdot = name.replace('\\', "/").split('/').any(|c| c == "..");
        if has_dotdot {
            prop_assert!(r.is_err());
        }
        if let Err(e) = &r {
            prop_assert!(!e.to_string().is_empty());
        }
        if name.contains("%2e") { prop_assert_eq!(r, Err(PathError::EncodedTraversal)); }
    }

    #[test]
    fn negotiation_stays_in_bounds(
        opts in prop::collection::vec(
            (prop_oneof![Just("blksize"), Just("windowsize"), Just("timeout"), Just("tsize"), Just("BlkSize")],
             prop_oneof![any::<u32>().prop_map(|v| v.to_string()), "[0-9a-z-]{0,6}"]),
            0..6),
        bmax in 8u16..=65464, wmax in 1u16..=64, size in proptest::option::of(any::<u32>()),
    ) {
        let opts: Vec<(String, String)> = opts.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let n = negotiate(&opts, Limits { blksize_max: bmax, windowsize_max: wmax }, size.map(u64::from));
        prop_assert!(n.blksize >= 8 && n.blksize <= bmax.max(512));
        prop_assert!(n.windowsize >= 1 && n.windowsize <= wmax.max(1));
        prop_assert!(n.oack.len() <= 4);
    }
}
