//! Helpers of the capture-based tests: the generic ones come from `hb-testdata`; the
//! expectations about the injected malformed datagrams are hb-proto's own.

#![allow(dead_code)] // each test binary uses a different subset

pub(crate) use hb_testdata::*;

use hb_proto::DecodeError;

/// The deliberately malformed datagrams injected in E1–E4, with the exact error each must
/// produce: `(file prefix, datagram number, expected error, payload prefix)`.
pub(crate) fn expected_malformed() -> Vec<(&'static str, usize, DecodeError, &'static [u8])> {
    let no_type_ack: &[u8] = b"###\n11:t=NS_ackmsg,";
    let type7: &[u8] = b"###\n14:(0)t=NS_ackmsg,12:(0)src=node2,6:(7)x=y,";
    let unsigned: &[u8] = b"###\n3:t=x,%%%\n";
    vec![
        // E1 step E18: LEN 13 for an 11-byte field -> no ',' where the length ends.
        (
            "E1-",
            176,
            DecodeError::MissingComma { offset: 20 },
            b"###\n13:t=NS_ackmsg,9:src=node2,%%%\n",
        ),
        // E2: a validly signed datagram whose first field lacks "(0)".
        (
            "E2-",
            25,
            DecodeError::MissingType { offset: 7 },
            no_type_ack,
        ),
        // E2 (b) and E3 (a): a field of type 7.
        (
            "E2-",
            26,
            DecodeError::UnknownType {
                offset: 41,
                digit: b'7',
            },
            type7,
        ),
        (
            "E3-",
            25,
            DecodeError::UnknownType {
                offset: 41,
                digit: b'7',
            },
            type7,
        ),
        // E3 (b) and E4: the unsigned 14-byte datagram without "(T)".
        ("E3-", 26, DecodeError::MissingType { offset: 6 }, unsigned),
        ("E4-", 26, DecodeError::MissingType { offset: 6 }, unsigned),
    ]
}

/// The expected decode error of `d` if it is one of the injected malformed datagrams.
pub(crate) fn malformed_expectation(d: &Datagram) -> Option<DecodeError> {
    expected_malformed()
        .into_iter()
        .find(|(prefix, number, _, _)| d.file.starts_with(prefix) && d.number == *number)
        .map(|(_, _, err, payload_prefix)| {
            assert_eq!(
                d.src, INJECTOR,
                "{} #{} should come from the injector",
                d.file, d.number
            );
            assert!(
                d.payload.starts_with(payload_prefix),
                "{} #{} is not the documented malformed datagram: {}",
                d.file,
                d.number,
                d.payload.escape_ascii()
            );
            err
        })
}
