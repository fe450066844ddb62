//! Known-answer tests against every real packet capture of Debian's heartbeat 3.0.6
//! (`shared/interop/captures/*.pcap`, see its README).
//!
//! Run with `cargo test -p hb-proto --test captures`; point `HB_SHARED_DIR` at the shared
//! directory if it is not `<repo>/../shared`. Without captures the tests skip loudly, or fail
//! under `CI=true`.

mod common;

use std::collections::BTreeMap;

use common::{Datagram, INJECTOR};
use hb_proto::{
    AuthMethod, DecodeError, MsgFmt, RecvError, RejectKind, Value, WireFormat, decode, digest,
    open, seal, seal_classic,
};

fn datagrams() -> Option<Vec<Datagram>> {
    common::shared_dir().map(|dir| common::all_datagrams(&dir))
}

fn label(d: &Datagram) -> String {
    format!("{} #{} from {}", d.file, d.number, d.src)
}

#[test]
fn every_captured_datagram_decodes_except_the_injected_malformed_ones() {
    let Some(all) = datagrams() else { return };
    assert!(all.len() > 2800, "only {} datagrams read", all.len());
    let mut failures = Vec::new();
    for d in &all {
        let result = decode(&d.payload);
        match (common::malformed_expectation(d), result) {
            (None, Ok(_)) => {}
            (None, Err(e)) => panic!("{}: unexpected decode error {e}", label(d)),
            (Some(want), Ok(_)) => {
                panic!("{}: decoded although it is malformed ({want})", label(d))
            }
            (Some(want), Err(got)) => {
                assert_eq!(got, want, "{}", label(d));
                failures.push((d.file.clone(), d.number));
            }
        }
    }
    // Every documented malformed datagram was found and failed as expected.
    let expected: Vec<(String, usize)> = common::expected_malformed()
        .iter()
        .map(|(prefix, n, _, _)| {
            let file = all
                .iter()
                .find(|d| d.file.starts_with(prefix))
                .map(|d| d.file.clone())
                .unwrap_or_default();
            (file, *n)
        })
        .collect();
    assert_eq!(failures, expected);
}

#[test]
fn real_daemon_datagrams_reencode_byte_for_byte() {
    let Some(all) = datagrams() else { return };
    let mut checked = 0usize;
    let mut per_method: BTreeMap<AuthMethod, usize> = BTreeMap::new();
    for d in all.iter().filter(|d| d.sent_by_real_daemon()) {
        let decoded = decode(&d.payload).unwrap_or_else(|e| panic!("{}: {e}", label(d)));
        assert_eq!(
            decoded.format,
            WireFormat::Netstring,
            "{}: 3.0.6 sends netstrings",
            label(d)
        );
        let (index, _) = decoded
            .trailer
            .clone()
            .expect("real datagrams have a trailer");
        let fmt = common::msgfmt(&d.scenario);
        assert_eq!(
            decoded.msg.get("auth").is_some(),
            fmt == MsgFmt::Classic,
            "{}: inner auth= presence must follow msgfmt",
            label(d)
        );
        if let Some(Value::Str(auth)) = decoded.msg.get("auth") {
            assert!(
                auth.starts_with(format!("{index} ").as_bytes()),
                "{}",
                label(d)
            );
        }
        let mut msg = decoded.msg.clone();
        msg.remove("auth");
        let keys = common::ring(&d.scenario, index);
        let resealed = seal(&msg, &keys, fmt);
        assert!(
            resealed == d.payload,
            "{}: re-encoding differs\n got: {}\nwant: {}",
            label(d),
            resealed.escape_ascii(),
            d.payload.escape_ascii()
        );
        checked += 1;
        *per_method
            .entry(keys.method(index).expect("configured"))
            .or_default() += 1;
    }
    assert!(checked > 2000, "only {checked} datagrams re-encoded");
    for m in [AuthMethod::Crc, AuthMethod::Md5, AuthMethod::Sha1] {
        assert!(
            per_method.get(&m).copied().unwrap_or(0) > 50,
            "{m}: {per_method:?}"
        );
    }
}

#[test]
fn real_daemon_datagrams_open_with_the_scenario_keys() {
    let Some(all) = datagrams() else { return };
    let mut opened = 0usize;
    for d in all.iter().filter(|d| d.sent_by_real_daemon()) {
        // Our own signing index does not matter: verification uses the index in the packet
        // (in C6 node2 signs with index 2 while node1 signs with 1).
        let keys = common::default_ring(&d.scenario);
        let o = open(&d.payload, &keys).unwrap_or_else(|e| panic!("{}: {e}", label(d)));
        assert!(o.msg.get("auth").is_none(), "{}", label(d));
        assert!(o.msg.str("t").is_some(), "{}", label(d));
        if d.scenario == "C6" {
            let want = if d.src.octets()[3] == 12 { 2 } else { 1 };
            assert_eq!(o.key_index, want, "{}", label(d));
        }
        opened += 1;
    }
    assert!(opened > 2000, "only {opened} datagrams opened");
}

#[test]
fn c3_short_crc_digests_verify() {
    let Some(all) = datagrams() else { return };
    let keys = common::default_ring("C3");
    let mut short = 0;
    for d in all.iter().filter(|d| d.scenario == "C3") {
        let decoded = decode(&d.payload).expect("C3 decodes");
        let (index, trailer) = decoded.trailer.clone().expect("trailer");
        assert_eq!(index, 3);
        assert_eq!(
            trailer,
            digest(AuthMethod::Crc, b"", &d.payload[..decoded.signed_len]),
            "{}",
            label(d)
        );
        let inner = decoded.msg.str("auth").expect("inner auth");
        let inner_digest = inner.strip_prefix("3 ").expect("index 3");
        for hex in [trailer.as_str(), inner_digest] {
            assert!(
                !hex.starts_with('0') || hex == "0",
                "{}: zero-padded {hex}",
                label(d)
            );
            if hex.len() < 8 {
                short += 1;
            }
        }
        assert!(open(&d.payload, &keys).is_ok(), "{}", label(d));
    }
    assert!(
        short >= 3,
        "expected several crc digests shorter than 8 digits, saw {short}"
    );
}

/// The expected result of `open` for the datagrams injected in E1 (number → outcome);
/// every other E1 datagram must be accepted.
fn e1_expectations() -> BTreeMap<usize, Result<WireFormat, RecvError>> {
    use RecvError::*;
    let ns = Ok(WireFormat::Netstring);
    let classic = Ok(WireFormat::Classic);
    BTreeMap::from([
        // E2: corrupted trailer digest.
        (44, Err(BadDigest { index: 1 })),
        (47, Err(BadDigest { index: 1 })),
        // E3: no trailer.
        (50, Err(MissingTrailer)),
        (53, Err(MissingTrailer)),
        // E4: good trailer, corrupted inner auth=: accepted.
        (57, ns.clone()),
        (59, ns.clone()),
        // E5: good trailer, no inner auth=: accepted.
        (61, ns.clone()),
        (63, ns),
        // E6: classic with correct auth=: accepted.
        (65, classic.clone()),
        (67, classic),
        // E7: classic with corrupted auth=.
        (70, Err(BadDigest { index: 1 })),
        (73, Err(BadDigest { index: 1 })),
        // E8: classic without auth=.
        (76, Err(MissingAuthField)),
        (79, Err(MissingAuthField)),
        // E12: signed with a wrong key.
        (135, Err(BadDigest { index: 1 })),
        // E13: signed with index 2, not configured.
        (138, Err(UnknownKeyIndex(2))),
        // E18: wrong LEN.
        (
            176,
            Err(Malformed(DecodeError::MissingComma { offset: 20 })),
        ),
    ])
}

#[test]
fn e1_injection_acceptance_matrix() {
    let Some(all) = datagrams() else { return };
    let keys = common::default_ring("E1");
    let expectations = e1_expectations();
    let e1: Vec<&Datagram> = all.iter().filter(|d| d.scenario == "E1").collect();
    assert!(e1.len() > 170, "E1 has {} datagrams", e1.len());
    let mut seen = 0;
    for d in e1 {
        let got = open(&d.payload, &keys);
        match expectations.get(&d.number) {
            Some(want) => {
                assert_eq!(d.src, INJECTOR, "{}", label(d));
                assert_eq!(
                    got.as_ref().map(|o| o.format),
                    want.as_ref().map(|f| *f),
                    "{}",
                    label(d)
                );
                seen += 1;
            }
            None => {
                let o = got.unwrap_or_else(|e| panic!("{}: rejected: {e}", label(d)));
                assert_eq!(o.format, WireFormat::Netstring, "{}", label(d));
            }
        }
    }
    assert_eq!(seen, expectations.len());

    // The accepted E4 packets really carry a wrong inner auth=, and E5 none at all.
    for (n, has_wrong_inner) in [(57, true), (59, true), (61, false), (63, false)] {
        let d = all
            .iter()
            .find(|d| d.scenario == "E1" && d.number == n)
            .expect("present");
        let decoded = decode(&d.payload).expect("decodes");
        assert_eq!(
            decoded.msg.get("auth").is_some(),
            has_wrong_inner,
            "{}",
            label(d)
        );
        if has_wrong_inner {
            let mut msg = decoded.msg.clone();
            msg.remove("auth");
            assert_ne!(
                seal(&msg, &keys, MsgFmt::Classic),
                d.payload,
                "{}",
                label(d)
            );
        }
    }
    // Kinds: everything rejected in E1 except E18 is an authentication failure.
    for (n, want) in &expectations {
        if let Err(e) = want {
            let kind = if *n == 176 {
                RejectKind::Malformed
            } else {
                RejectKind::Unauthenticated
            };
            assert_eq!(e.kind(), kind);
        }
    }
}

#[test]
fn injected_classic_datagrams_reencode_byte_for_byte() {
    let Some(all) = datagrams() else { return };
    let keys = common::default_ring("E1");
    let mut checked = 0;
    for d in all
        .iter()
        .filter(|d| d.scenario == "E1" && d.payload.starts_with(b">>>\n"))
    {
        let decoded = decode(&d.payload).expect("classic decodes");
        assert_eq!(decoded.format, WireFormat::Classic);
        assert_eq!(decoded.signed_len, d.payload.len(), "{}", label(d));
        if let Ok(o) = open(&d.payload, &keys) {
            assert_eq!(seal_classic(&o.msg, &keys), d.payload, "{}", label(d));
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "E6 sent two good classic datagrams");
}

#[test]
fn injected_netstring_datagrams_built_from_the_spec_reencode() {
    // The E1 fake node's well-formed packets (good trailer and inner auth=) were built by an
    // independent encoder; our encoder must agree with it too.
    let Some(all) = datagrams() else { return };
    let keys = common::default_ring("E1");
    let mut checked = 0;
    for d in all
        .iter()
        .filter(|d| d.scenario == "E1" && d.src == INJECTOR)
    {
        let Ok(decoded) = decode(&d.payload) else {
            continue;
        };
        if decoded.format != WireFormat::Netstring || decoded.msg.get("auth").is_none() {
            continue;
        }
        let Ok(o) = open(&d.payload, &keys) else {
            continue;
        };
        let resealed = seal(&o.msg, &keys, MsgFmt::Classic);
        // Only E4's deliberately wrong inner auth= may differ.
        if resealed != d.payload {
            assert!([57, 59].contains(&d.number), "{}", label(d));
            continue;
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} injected datagrams re-encoded");
}
