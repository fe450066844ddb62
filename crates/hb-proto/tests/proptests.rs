//! Property tests: `decode`/`open` never panic on arbitrary or mutated input, `open`
//! (which verifies netstring datagrams before parsing them) accepts exactly what parsing
//! then verifying accepts, and `open(seal(m)) == m` for arbitrary messages with every method
//! and both `msgfmt` values.
//!
//! Run with `cargo test -p hb-proto --test proptests` (`PROPTEST_CASES=N` for more cases).

mod common;

use std::sync::OnceLock;

use hb_proto::{
    AuthMethod, Field, KeyRing, Message, MsgFmt, Value, WireFormat, decode, digest, encode_classic,
    encode_netstring, open, seal, seal_classic,
};
use proptest::collection::vec;
use proptest::prelude::*;

fn lab_keys() -> KeyRing {
    KeyRing::single(1, AuthMethod::Sha1, "labsecret").expect("valid")
}

/// Seeds for mutation: one datagram of every capture file (when the captures are present),
/// the E1 classic ones, and constructed datagrams exercising every value type.
fn corpus() -> &'static [Vec<u8>] {
    static CORPUS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    CORPUS.get_or_init(|| {
        let mut seeds = Vec::new();
        if let Some(shared) = common::shared_dir() {
            for file in common::pcap_files(&shared) {
                let datagrams = common::read_pcap(&file);
                seeds.extend(datagrams.iter().take(3).map(|d| d.payload.clone()));
                seeds.extend(
                    datagrams
                        .iter()
                        .filter(|d| !d.sent_by_real_daemon())
                        .map(|d| d.payload.clone()),
                );
            }
        }
        let mut inner = Message::new().with("a", "1");
        inner.push(Field {
            name: "l".into(),
            value: Value::List(vec![b"x".to_vec(), b"yz".to_vec()]),
        });
        let mut m = Message::new().with("t", "status").with("st", "up\nx");
        m.push_bin("srcuuid", [7u8; 16]);
        m.push(Field {
            name: "n".into(),
            value: Value::Struct(inner),
        });
        m.push(Field {
            name: "z".into(),
            value: Value::Compressed(vec![0x78, 0x9c, 0, 1]),
        });
        let keys = lab_keys();
        seeds.push(seal(&m, &keys, MsgFmt::Classic));
        seeds.push(seal(&m, &keys, MsgFmt::Netstring));
        seeds.push(seal_classic(&m, &keys));
        seeds
    })
}

/// One edit applied to a seed datagram.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Set { at: usize, byte: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Delete { at: usize, len: usize },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the parsers, to hit interesting paths more often than noise would.
    let special = prop::sample::select(b"0123456789:,()=#%<>\n\x13\x14 ".to_vec());
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        (any::<usize>(), special.clone()).prop_map(|(at, byte)| Mutation::Set { at, byte }),
        (any::<usize>(), vec(special, 1..4)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1..40usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(mut data: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let n = data.len().max(1);
        match m {
            Mutation::Flip { at, xor } => {
                if let Some(b) = data.get_mut(at % n) {
                    *b ^= xor;
                }
            }
            Mutation::Set { at, byte } => {
                if let Some(b) = data.get_mut(at % n) {
                    *b = *byte;
                }
            }
            Mutation::Insert { at, bytes } => {
                let at = at % (data.len() + 1);
                data.splice(at..at, bytes.iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = at % n;
                let end = (at + len).min(data.len());
                if at < end {
                    data.drain(at..end);
                }
            }
            Mutation::Truncate { at } => data.truncate(at % n),
        }
    }
    data
}

/// Field names as Heartbeat uses them; `auth` is reserved at the top level.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_]{0,11}"
}

/// Byte strings; `classic_safe` restricts them to what classic text can carry
/// (printable ASCII plus newline, so no 0x13 and no substitution bytes).
fn bytes(classic_safe: bool, max: usize) -> BoxedStrategy<Vec<u8>> {
    if classic_safe {
        vec(prop_oneof![0x20..=0x7eu8, Just(b'\n')], 0..max).boxed()
    } else {
        vec(any::<u8>(), 0..max).boxed()
    }
}

fn message(classic_safe: bool) -> impl Strategy<Value = Message> {
    let list_item = if classic_safe {
        vec(0x20..=0x7eu8, 0..12).boxed()
    } else {
        vec(any::<u8>(), 0..12).boxed()
    };
    let leaf = prop_oneof![
        4 => bytes(classic_safe, 40).prop_map(Value::Str),
        1 => vec(any::<u8>(), 0..40).prop_map(Value::Binary),
        1 => vec(list_item, 0..5).prop_map(Value::List),
        1 => vec(any::<u8>(), 0..40).prop_map(Value::Compressed),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        vec((name(), inner), 0..4).prop_map(|fields| {
            Value::Struct(
                fields
                    .into_iter()
                    .map(|(name, value)| Field { name, value })
                    .collect(),
            )
        })
    });
    vec(
        (
            name().prop_filter("auth is the signature", |n| n != "auth"),
            value,
        ),
        0..12,
    )
    .prop_map(|fields| {
        fields
            .into_iter()
            .map(|(name, value)| Field { name, value })
            .collect()
    })
}

fn key_ring() -> impl Strategy<Value = KeyRing> {
    (0..=15u8, 0..3usize, vec(any::<u8>(), 1..100)).prop_map(|(index, m, key)| {
        let (method, key) = match m {
            0 => (AuthMethod::Crc, Vec::new()),
            1 => (AuthMethod::Md5, key),
            _ => (AuthMethod::Sha1, key),
        };
        KeyRing::single(index, method, key).expect("valid ring")
    })
}

/// What `open` accepts, computed the way it was before it verified first: parse everything
/// with `decode`, then check the signature (the lab key: index 1, sha1 `labsecret`).
/// Verifying netstring datagrams before parsing them must accept exactly the same datagrams.
fn parse_then_verify(data: &[u8]) -> Option<Message> {
    let d = decode(data).ok()?;
    let mut msg = d.msg;
    let (index, received, signed) = match d.format {
        WireFormat::Netstring => {
            let (index, received) = d.trailer?;
            (index, received.into_bytes(), data[..d.signed_len].to_vec())
        }
        WireFormat::Classic => {
            let Some(Value::Str(value)) = msg.get("auth") else {
                return None;
            };
            let sp = value.iter().position(|&b| b == b' ')?;
            let digits = &value[..sp];
            if digits.is_empty() || digits.len() > 3 || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            let index = std::str::from_utf8(digits).ok()?.parse::<u8>().ok()?;
            let received = value[sp + 1..].to_vec();
            let mut others = msg.clone();
            others.remove_all("auth");
            let text = encode_classic(&others);
            (index, received, text[4..text.len() - 4].to_vec())
        }
    };
    let expected = digest(AuthMethod::Sha1, b"labsecret", &signed);
    if index != 1 || received != expected.as_bytes() {
        return None;
    }
    msg.remove_all("auth");
    Some(msg)
}

proptest! {
    #[test]
    fn decode_and_open_never_panic_on_arbitrary_bytes(
        prefix in prop::sample::select(vec![&b""[..], b"###\n", b">>>\n"]),
        body in vec(any::<u8>(), 0..600),
    ) {
        let data = [prefix, body.as_slice()].concat();
        let decoded = decode(&data);
        let opened = open(&data, &lab_keys());
        if decoded.is_err() {
            prop_assert!(opened.is_err());
        }
        prop_assert_eq!(opened.ok().map(|o| o.msg), parse_then_verify(&data));
    }

    #[test]
    fn decode_and_open_never_panic_on_mutated_datagrams(
        seed in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..6),
    ) {
        let corpus = corpus();
        let data = apply(seed.get(corpus).clone(), &mutations);
        if let Ok(d) = decode(&data) {
            prop_assert!(d.signed_len <= data.len());
            // Re-encoding a successfully decoded message must itself decode to the same fields.
            let again = decode(&encode_netstring(&d.msg));
            prop_assert_eq!(again.map(|a| a.msg), Ok(d.msg));
        }
        let opened = open(&data, &lab_keys());
        prop_assert_eq!(opened.ok().map(|o| o.msg), parse_then_verify(&data));
    }

    #[test]
    fn open_seal_round_trips(msg in message(false), keys in key_ring(), classic in any::<bool>()) {
        let fmt = if classic { MsgFmt::Classic } else { MsgFmt::Netstring };
        let sealed = seal(&msg, &keys, fmt);
        let opened = open(&sealed, &keys);
        prop_assert_eq!(opened.as_ref().map(|o| &o.msg), Ok(&msg));
        prop_assert_eq!(opened.as_ref().map(|o| o.key_index), Ok(keys.sign_index()));
        prop_assert_eq!(opened.map(|o| o.format), Ok(WireFormat::Netstring));
        // The inner auth= is present exactly with msgfmt classic.
        let decoded = decode(&sealed).map(|d| d.msg.get("auth").is_some());
        prop_assert_eq!(decoded, Ok(classic));
    }

    #[test]
    fn open_seal_classic_round_trips(msg in message(true), keys in key_ring()) {
        let sealed = seal_classic(&msg, &keys);
        let opened = open(&sealed, &keys);
        prop_assert_eq!(opened.as_ref().map(|o| &o.msg), Ok(&msg));
        prop_assert_eq!(opened.map(|o| o.format), Ok(WireFormat::Classic));
        prop_assert_eq!(decode(&encode_classic(&msg)).map(|d| d.msg), Ok(msg));
    }

    #[test]
    fn any_change_to_a_sealed_datagram_is_detected(
        msg in message(false),
        at in any::<prop::sample::Index>(),
        xor in 1..=255u8,
    ) {
        let keys = lab_keys();
        let mut sealed = seal(&msg, &keys, MsgFmt::Netstring);
        let i = at.index(sealed.len());
        sealed[i] ^= xor;
        prop_assert!(open(&sealed, &keys).is_err());
    }
}
