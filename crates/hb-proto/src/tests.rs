//! Unit tests of the public entry points (seal, open, decode) on constructed datagrams.
//! The capture-based known-answer tests live in `tests/captures.rs`.

use super::*;

const UUID: [u8; 16] = [
    0x89, 0x5b, 0x6e, 0xf7, 0x9d, 0xdb, 0x41, 0x4f, 0xa5, 0x20, 0xf7, 0xe2, 0xff, 0x7a, 0xfd, 0x39,
];

/// The first datagram node1 sent in [A1 #1], as printed in the spec (§1.2).
fn a1_first() -> Message {
    let mut m = Message::new()
        .with("t", "status")
        .with("st", "init")
        .with("dt", "1770")
        .with("protocol", "1")
        .with("src", "node1");
    m.push_bin("srcuuid", UUID);
    m.with("seq", "1")
        .with("hg", "6b059433")
        .with("ts", "6b059432")
        .with("ld", "0.10 0.14 0.07 4/140 1114")
        .with("ttl", "3")
}

fn labkeys() -> KeyRing {
    KeyRing::single(1, AuthMethod::Sha1, "labsecret").unwrap()
}

fn a1_first_bytes() -> Vec<u8> {
    let mut v = b"###\n11:(0)t=status,10:(0)st=init,10:(0)dt=1770,13:(0)protocol=1,\
12:(0)src=node1,27:(1)srcuuid="
        .to_vec();
    v.extend_from_slice(&UUID);
    v.extend_from_slice(
        b",8:(0)seq=1,14:(0)hg=6b059433,14:(0)ts=6b059432,31:(0)ld=0.10 0.14 0.07 4/140 1114,\
8:(0)ttl=3,50:(0)auth=1 0a037e0b063e39c8d19b912b4bda3c7dae616cb6,%%%\n\
42:1 038dfebeca15097f6ef391c58e4472b8c7799fad,",
    );
    v
}

#[test]
fn seal_reproduces_the_spec_example_byte_for_byte() {
    let bytes = seal(&a1_first(), &labkeys(), MsgFmt::Classic);
    assert_eq!(bytes.len(), 308);
    assert_eq!(bytes, a1_first_bytes());
}

#[test]
fn seal_drops_existing_auth_fields() {
    let mut m = a1_first();
    m.push_str("auth", "1 stale");
    let mut early = Message::new().with("auth", "9 x");
    for f in a1_first().fields() {
        early.push(f.clone());
    }
    assert_eq!(seal(&m, &labkeys(), MsgFmt::Classic), a1_first_bytes());
    assert_eq!(seal(&early, &labkeys(), MsgFmt::Classic), a1_first_bytes());
}

#[test]
fn seal_netstring_has_only_the_trailer() {
    let bytes = seal(&a1_first(), &labkeys(), MsgFmt::Netstring);
    let d = decode(&bytes).unwrap();
    assert_eq!(d.msg, a1_first());
    assert_eq!(d.format, WireFormat::Netstring);
    let end = bytes.len() - 46; // "42:1 <40 hex>," is 46 bytes
    assert_eq!(d.signed_len, end);
    assert!(bytes[..end].ends_with(b"8:(0)ttl=3,%%%\n"));
    let (idx, dig) = d.trailer.unwrap();
    assert_eq!(idx, 1);
    assert_eq!(dig, digest(AuthMethod::Sha1, b"labsecret", &bytes[..end]));
}

#[test]
fn decode_reports_trailer_and_signed_len() {
    let bytes = a1_first_bytes();
    let d = decode(&bytes).unwrap();
    assert_eq!(d.signed_len, 308 - 46);
    assert_eq!(
        d.trailer,
        Some((1, "038dfebeca15097f6ef391c58e4472b8c7799fad".into()))
    );
    assert_eq!(
        d.msg.str("auth"),
        Some("1 0a037e0b063e39c8d19b912b4bda3c7dae616cb6")
    );
}

#[test]
fn open_accepts_and_strips_auth() {
    let o = open(&a1_first_bytes(), &labkeys()).unwrap();
    assert_eq!(
        o,
        Opened {
            msg: a1_first(),
            format: WireFormat::Netstring,
            key_index: 1
        }
    );
}

/// Replaces the first occurrence of `from` (which must occur) by `to`.
fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let pos = hay.windows(from.len()).position(|w| w == from).unwrap();
    [&hay[..pos], to, &hay[pos + from.len()..]].concat()
}

/// Re-signs the trailer of a netstring datagram after its body was altered.
fn resign(body_through_end: &[u8], keys: &KeyRing) -> Vec<u8> {
    let mut s = keys.sign_signer();
    s.update(body_through_end);
    let mut out = body_through_end.to_vec();
    netstring::write_signature(&mut out, keys.sign_index(), s.finish().as_bytes(), false);
    out
}

#[test]
fn open_netstring_matrix() {
    let keys = labkeys();
    let good = a1_first_bytes();
    let body = &good[..good.len() - 46];

    // Bad trailer digest.
    let mut bad = good.clone();
    let last = bad.len() - 2;
    bad[last] ^= 1;
    assert_eq!(open(&bad, &keys), Err(RecvError::BadDigest { index: 1 }));
    // Missing trailer.
    assert_eq!(open(body, &keys), Err(RecvError::MissingTrailer));
    // Wrong key.
    let other = KeyRing::single(1, AuthMethod::Sha1, "wrong").unwrap();
    assert_eq!(
        open(&good, &other).unwrap_err().kind(),
        RejectKind::Unauthenticated
    );
    // Index not configured.
    let two = KeyRing::single(2, AuthMethod::Sha1, "labsecret").unwrap();
    assert_eq!(open(&good, &two), Err(RecvError::UnknownKeyIndex(1)));
    // Same key, different method at that index.
    let md5 = KeyRing::single(1, AuthMethod::Md5, "labsecret").unwrap();
    assert_eq!(open(&good, &md5), Err(RecvError::BadDigest { index: 1 }));
    // Body altered (the inner auth= text) but trailer re-signed: accepted, auth ignored.
    let tampered = resign(&replace(body, b"auth=1 0a03", b"auth=1 ffff"), &keys);
    assert_ne!(tampered, good);
    assert_eq!(open(&tampered, &keys).unwrap().msg, a1_first());
    // No inner auth at all, good trailer: accepted.
    let plain = seal(&a1_first(), &keys, MsgFmt::Netstring);
    assert_eq!(open(&plain, &keys).unwrap().msg, a1_first());
    // Trailing garbage after the trailer is malformed.
    let mut extra = good.clone();
    extra.push(b'\0');
    assert_eq!(
        open(&extra, &keys).unwrap_err().kind(),
        RejectKind::Malformed
    );
}

#[test]
fn open_verifies_with_the_key_of_the_named_index() {
    // C6-style rollover: both keys configured, the peer signs with index 2.
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(1, (AuthMethod::Sha1, b"labsecret".to_vec()));
    keys.insert(2, (AuthMethod::Md5, b"othersecret".to_vec()));
    let ours = KeyRing::new(1, keys.clone()).unwrap();
    let theirs = KeyRing::new(2, keys).unwrap();
    let bytes = seal(&a1_first(), &theirs, MsgFmt::Classic);
    assert!(bytes.ends_with(b","));
    let o = open(&bytes, &ours).unwrap();
    assert_eq!(o.key_index, 2);
    assert_eq!(o.msg, a1_first());
}

#[test]
fn classic_datagrams_are_verified_by_their_auth_field() {
    let keys = labkeys();
    let good = seal_classic(&a1_first(), &keys);
    assert!(good.starts_with(b">>>\nt=status\n"));
    assert!(good.ends_with(b"auth=1 0a037e0b063e39c8d19b912b4bda3c7dae616cb6\n<<<\n"));
    let o = open(&good, &keys).unwrap();
    assert_eq!(o.format, WireFormat::Classic);
    assert_eq!(o.msg, a1_first());

    let text = String::from_utf8_lossy(&good).into_owned();
    let bad = text.replace("auth=1 0a03", "auth=1 0a04");
    assert_eq!(
        open(bad.as_bytes(), &keys),
        Err(RecvError::BadDigest { index: 1 })
    );
    let none = text.replace("auth=1 0a037e0b063e39c8d19b912b4bda3c7dae616cb6\n", "");
    assert_eq!(
        open(none.as_bytes(), &keys),
        Err(RecvError::MissingAuthField)
    );
    let garbled = text.replace("auth=1 0a03", "auth=10a03");
    assert_eq!(
        open(garbled.as_bytes(), &keys),
        Err(RecvError::BadAuthField)
    );
    let unknown = text.replace("auth=1 ", "auth=7 ");
    assert_eq!(
        open(unknown.as_bytes(), &keys),
        Err(RecvError::UnknownKeyIndex(7))
    );
    let binary = text.replace("auth=1 ", "(1)auth=AAAA\nx=");
    assert_eq!(open(binary.as_bytes(), &keys), Err(RecvError::BadAuthField));
    // A changed field value breaks the signature.
    let changed = text.replace("st=init", "st=up");
    assert_eq!(
        open(changed.as_bytes(), &keys),
        Err(RecvError::BadDigest { index: 1 })
    );
}

#[test]
fn crc_signatures() {
    let keys = KeyRing::single(3, AuthMethod::Crc, "").unwrap();
    let bytes = seal(&a1_first(), &keys, MsgFmt::Classic);
    let d = decode(&bytes).unwrap();
    let (idx, dig) = d.trailer.clone().unwrap();
    assert_eq!(idx, 3);
    assert_eq!(dig, digest(AuthMethod::Crc, b"", &bytes[..d.signed_len]));
    assert_eq!(open(&bytes, &keys).unwrap().key_index, 3);
}

#[test]
fn decode_rejects_oversize_and_bad_magic() {
    let big = vec![b'#'; MAX_DATAGRAM + 1];
    assert_eq!(
        decode(&big),
        Err(DecodeError::TooLarge {
            len: MAX_DATAGRAM + 1,
            max: MAX_DATAGRAM
        })
    );
    assert_eq!(decode(b""), Err(DecodeError::BadMagic));
    assert_eq!(decode(b"##\n"), Err(DecodeError::BadMagic));
    assert_eq!(decode(b"<<<\n"), Err(DecodeError::BadMagic));
    assert_eq!(
        open(b"hello", &labkeys()),
        Err(RecvError::Malformed(DecodeError::BadMagic))
    );
}

#[test]
fn decode_bounds_the_number_of_items() {
    // The smallest possible fields, filling a maximum-size datagram.
    let mut buf = b"###\n".to_vec();
    while buf.len() + 8 + 4 <= MAX_DATAGRAM {
        buf.extend_from_slice(b"5:(0)a=,");
    }
    buf.extend_from_slice(b"%%%\n");
    assert!(matches!(
        decode(&buf),
        Err(DecodeError::TooManyItems { max: MAX_ITEMS, .. })
    ));
    let mut classic = b">>>\n".to_vec();
    classic.extend(std::iter::repeat_n(&b"a=\n"[..], MAX_ITEMS + 1).flatten());
    classic.extend_from_slice(b"<<<\n");
    assert!(matches!(
        decode(&classic),
        Err(DecodeError::TooManyItems { max: MAX_ITEMS, .. })
    ));
}

#[test]
fn malformed_datagrams_from_the_spec() {
    // E4: unsigned, no (type): kills 3.0.6, must be a clean error here.
    assert_eq!(
        decode(b"###\n3:t=x,%%%\n"),
        Err(DecodeError::MissingType { offset: 6 })
    );
    // E1 step E18: wrong LEN.
    assert_eq!(
        decode(b"###\n13:t=NS_ackmsg,9:src=node2,%%%\n"),
        Err(DecodeError::MissingComma { offset: 20 })
    );
}

#[test]
fn encode_helpers() {
    let m = Message::new()
        .with("t", "ask_resources")
        .with("rsc_hold", "all")
        .with("info", "me");
    assert_eq!(
        encode_classic(&m),
        b">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n"
    );
    let d = decode(&encode_classic(&m)).unwrap();
    assert_eq!(
        (d.msg, d.format, d.trailer),
        (m.clone(), WireFormat::Classic, None)
    );
    let ns = encode_netstring(&m);
    assert_eq!(
        ns,
        b"###\n18:(0)t=ask_resources,15:(0)rsc_hold=all,10:(0)info=me,%%%\n"
    );
    assert_eq!(decode(&ns).unwrap().trailer, None);
}

#[test]
fn msgfmt_parse_and_display() {
    assert_eq!("classic".parse(), Ok(MsgFmt::Classic));
    assert_eq!("netstring".parse(), Ok(MsgFmt::Netstring));
    assert_eq!(
        "Classic".parse::<MsgFmt>(),
        Err(ParseMsgFmtError("Classic".into()))
    );
    assert_eq!(MsgFmt::default(), MsgFmt::Classic);
    assert_eq!(MsgFmt::Netstring.to_string(), "netstring");
}

/// `auth 1`, `1 sha1 labsecret`, `2 crc`: the configuration of the crc finding.
fn sha1_beside_crc() -> KeyRing {
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(1, (AuthMethod::Sha1, b"labsecret".to_vec()));
    keys.insert(2, (AuthMethod::Crc, Vec::new()));
    KeyRing::new(1, keys).unwrap()
}

/// The same keys, signing with crc at index 2: what anyone can do without the secret.
fn forger() -> KeyRing {
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(2, (AuthMethod::Crc, Vec::new()));
    KeyRing::new(2, keys).unwrap()
}

#[test]
fn a_forged_crc_datagram_at_a_non_signing_index_is_refused() {
    let ours = sha1_beside_crc();
    for fmt in [MsgFmt::Classic, MsgFmt::Netstring] {
        let forged = seal(&a1_first(), &forger(), fmt);
        let err = open(&forged, &ours).unwrap_err();
        assert_eq!(err, RecvError::CrcRefused { index: 2 }, "{fmt}");
        assert_eq!(err.kind(), RejectKind::Unauthenticated);
        assert!(err.to_string().contains("crc"), "{err}");
    }
    // Classic datagrams, verified by their auth= field, follow the same rule.
    let forged = seal_classic(&a1_first(), &forger());
    assert_eq!(
        open(&forged, &ours),
        Err(RecvError::CrcRefused { index: 2 })
    );
    // The sha1 key still works.
    let good = seal(&a1_first(), &ours, MsgFmt::Classic);
    assert_eq!(open(&good, &ours).unwrap().key_index, 1);
    assert!(ours.accepts(1));
    assert!(!ours.accepts(2));
    assert!(!ours.accepts(3), "not configured");
}

#[test]
fn crc_is_accepted_when_crc_signs() {
    // `auth 2`, `1 sha1 labsecret`, `2 crc`, `3 crc`: the operator chose no authentication.
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(1, (AuthMethod::Sha1, b"labsecret".to_vec()));
    keys.insert(2, (AuthMethod::Crc, Vec::new()));
    keys.insert(3, (AuthMethod::Crc, Vec::new()));
    let ours = KeyRing::new(2, keys.clone()).unwrap();
    assert!((1..=3).all(|i| ours.accepts(i)));
    for signer in [2, 3, 1] {
        let theirs = KeyRing::new(signer, keys.clone()).unwrap();
        let bytes = seal(&a1_first(), &theirs, MsgFmt::Classic);
        assert_eq!(open(&bytes, &ours).unwrap().key_index, signer);
        let classic = seal_classic(&a1_first(), &theirs);
        assert_eq!(open(&classic, &ours).unwrap().key_index, signer);
    }
}

use hb_testdata::junk::netstring as junk;

#[test]
fn the_signature_is_checked_before_the_fields_are_parsed() {
    let keys = labkeys();
    // Well-formed but for far too many fields: the wrong signature is what is reported.
    let many = junk(32 * 1024, 4000);
    assert_eq!(many.len(), 32 * 1024);
    assert!(matches!(
        decode(&many),
        Err(DecodeError::TooManyItems { max: MAX_ITEMS, .. })
    ));
    assert_eq!(open(&many, &keys), Err(RecvError::BadDigest { index: 1 }));
    // A body that is not a message at all, under a wrong signature: unauthenticated too.
    let mut garbage = b"###\n\xff\xfe not a field".to_vec();
    garbage.extend_from_slice(b"%%%\n42:1 ");
    garbage.extend_from_slice(&[b'a'; 40]);
    garbage.push(b',');
    assert!(decode(&garbage).is_err());
    assert_eq!(
        open(&garbage, &keys),
        Err(RecvError::BadDigest { index: 1 })
    );
    // The same garbage correctly signed (only a key holder can do that) is malformed.
    let signed = resign(&garbage[..garbage.len() - 46], &keys);
    assert_eq!(
        open(&signed, &keys).unwrap_err().kind(),
        RejectKind::Malformed
    );
    // An unknown index or a refused crc key is decided without hashing anything, and so is a
    // digest of the wrong length for the method.
    let unknown = replace(&many, b"42:1 ", b"42:7 ");
    assert_eq!(open(&unknown, &keys), Err(RecvError::UnknownKeyIndex(7)));
    let short = replace(
        &many,
        format!("42:1 {},", "0".repeat(40)).as_bytes(),
        b"4:1 00,",
    );
    assert_eq!(open(&short, &keys), Err(RecvError::BadDigest { index: 1 }));
    // No trailer at all: unauthenticated, whatever precedes it.
    assert_eq!(
        open(b"###\n\xff%%%\n", &keys),
        Err(RecvError::MissingTrailer)
    );
}

#[test]
fn a_datagram_must_end_in_an_end_marker_and_one_trailer() {
    let keys = labkeys();
    let good = a1_first_bytes();
    let body = &good[..good.len() - 46];
    let malformed = |d: &[u8]| open(d, &keys).unwrap_err().kind() == RejectKind::Malformed;
    // No end marker before the trailer.
    let no_end = [&body[..body.len() - 4], &good[good.len() - 46..]].concat();
    assert!(malformed(&no_end));
    // Bytes after the trailer, or a trailer too long to verify.
    assert!(malformed(&[&good[..], b"x"].concat()));
    assert!(malformed(&[&good[..], b"\n"].concat()));
    let long = [body, format!("84:1 {},", "a".repeat(80)).as_bytes()].concat();
    assert!(malformed(&long));
    // Not even an end marker: nothing that could be a trailer.
    assert!(malformed(b"###\nabc"));
    assert!(malformed(b"###\n"));
    // The fields end before the trailer: a second message between them, correctly signed.
    let two = resign(&[body, b"###\n%%%\n"].concat(), &keys);
    assert_eq!(
        open(&two, &keys),
        Err(RecvError::Malformed(DecodeError::BadTrailer {
            offset: body.len()
        }))
    );
    // A trailer whose length has leading zeros still verifies, as before.
    let zeros = [body, b"0042:", &good[good.len() - 43..]].concat();
    assert_eq!(open(&zeros, &keys).unwrap().msg, a1_first());
}
