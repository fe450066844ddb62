//! The fuzz targets of heartbeat-rs, as plain functions of one input (`docs/fuzzing.md`).
//!
//! Each `src/bin/<target>.rs` hands AFL++'s input to one function here; the `seeds` binary
//! writes their starting corpora. A target fails by panicking: the crates promise that bad
//! input never panics, and the targets add a few properties of their own (a message we seal
//! opens again to the same message; a request we decode encodes and decodes back to itself).

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hb_config::{AgentSearch, NodeName, Timing};
use hb_core::{
    Action, AgentOp, AgentResult, AutoFailback, Boot, Core, CoreConfig, GroupConfig, Instant,
    MonitorPolicy,
};
use hb_proto::{AuthMethod, DecodeError, KeyRing, MsgFmt, RecvError};

/// The target names, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[&str] = &[
    "datagram",
    "hacf",
    "haresources",
    "authkeys",
    "control",
    "fifo",
];

/// Separates the datagrams of one `datagram` input: the core sees them one after another,
/// half a second apart, so the fuzzer can reach states that take more than one message.
pub const DATAGRAM_SEPARATOR: &[u8] = b"\x00HB\x00";

/// At most this many datagrams of one input are used (bounds the work per execution).
pub const MAX_DATAGRAMS: usize = 8;

/// The keys of the capture scenarios (`shared/interop/captures`): sha1 `labsecret` at index 1
/// (signing), md5 `othersecret` at index 2 (scenario C6).
pub fn capture_keys() -> KeyRing {
    KeyRing::new(
        1,
        BTreeMap::from([
            (1, (AuthMethod::Sha1, b"labsecret".to_vec())),
            (2, (AuthMethod::Md5, b"othersecret".to_vec())),
        ]),
    )
    .expect("valid fixed key ring")
}

/// A ring that signs with crc at index 3 (scenario C3: the operator chose no authentication).
pub fn crc_keys() -> KeyRing {
    KeyRing::new(3, BTreeMap::from([(3, (AuthMethod::Crc, Vec::new()))]))
        .expect("valid fixed crc ring")
}

/// A two-node core as in the captures (node1 = us, node2 = the peer; a group preferring
/// each), signing with [`capture_keys`].
pub fn capture_core() -> Core {
    let nodes: Vec<NodeName> = ["node1", "node2"]
        .iter()
        .filter_map(|n| NodeName::parse(n))
        .collect();
    let group = |key: &str, preferred: usize| GroupConfig {
        key: key.to_owned(),
        preferred,
        resources: vec![format!("IPaddr::{key}/24/eth0"), "nginx".to_owned()],
        monitor: vec![
            MonitorPolicy {
                interval: Some(Duration::from_secs(2)),
                restarts: 1,
                window: Duration::from_secs(60),
            },
            MonitorPolicy::OFF,
        ],
    };
    let cfg = CoreConfig {
        nodes,
        me: 0,
        timing: Timing::new(
            Duration::from_secs(1),
            Duration::from_secs(3),
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(6)),
        )
        .expect("valid fixed timing"),
        links: vec!["eth0".into()],
        groups: vec![group("192.0.2.100", 0), group("192.0.2.101", 1)],
        auto_failback: AutoFailback::On,
        msgfmt: MsgFmt::Classic,
        keys: capture_keys(),
        hopfudge: 1,
        max_rexmit_delay: Duration::from_millis(250),
        // A ping node with ipfail and the isolation rule, so that the fields they read from
        // datagrams (`hbrs_ping`, `hbrs_ask`) are fuzzed too.
        ping: hb_core::PingSetup {
            targets: vec![hb_core::PingTarget {
                name: "192.0.2.254".into(),
                hosts: vec![std::net::IpAddr::from([192, 0, 2, 254])],
                nodes_before: 2,
            }],
            deadping: None,
            ipfail: true,
            isolation: true,
        },
        watchdog: false,
        fencing: None,
    };
    let boot = Boot {
        generation: 100,
        uuid: [1; 16],
        wall_clock_secs: 1_800_000_000,
        seed: 7,
        peers: hb_core::RememberedPeers::new(),
    };
    Core::new(cfg, boot, Instant::from_millis(0)).expect("valid fixed core configuration")
}

/// Target `datagram`: the wire decoder, authentication, and the core's receive path.
///
/// Each datagram of the input (see [`DATAGRAM_SEPARATOR`]) is decoded and opened with the
/// fixed rings as it is; a datagram that decodes is then sealed again with the core's keys
/// (the fuzzer cannot forge an HMAC) and must open to the same message; the core receives
/// the sealed datagram (or the raw one if it does not decode), answers its agent runs, and
/// its clock advances.
pub fn datagram(data: &[u8]) {
    feed_core(data);
}

/// What [`datagram`] does, returning the core (to see what it accepted).
pub fn feed_core(data: &[u8]) -> Core {
    let keys = capture_keys();
    let crc = crc_keys();
    let mut core = capture_core();
    let mut now = Instant::from_millis(0);
    for chunk in split(data, DATAGRAM_SEPARATOR).take(MAX_DATAGRAMS) {
        let _ = hb_proto::open(chunk, &keys);
        let _ = hb_proto::open(chunk, &crc);
        let to_core = match hb_proto::decode(chunk) {
            Ok(decoded) => {
                let mut msg = decoded.msg;
                msg.remove_all("auth");
                let sealed = hb_proto::seal(&msg, &keys, MsgFmt::Classic);
                match hb_proto::open(&sealed, &keys) {
                    Ok(opened) => assert_eq!(opened.msg, msg, "sealed message opens differently"),
                    // Sealing adds the signature: a message at a limit may pass it.
                    Err(RecvError::Malformed(
                        DecodeError::TooLarge { .. }
                        | DecodeError::TooManyItems { .. }
                        | DecodeError::TooDeep { .. },
                    )) => {}
                    Err(e) => panic!("a message we sealed does not open: {e}"),
                }
                sealed
            }
            Err(_) => chunk.to_vec(),
        };
        core.handle_datagram(now, 0, &to_core);
        drain(&mut core, now);
        now = now + Duration::from_millis(500);
        core.handle_timeout(now);
        drain(&mut core, now);
    }
    core
}

/// Takes every action of the core, answering agent runs as a healthy resource would.
fn drain(core: &mut Core, now: Instant) {
    // Bounded: a core that keeps producing actions would be a hang, found by the timeout.
    for _ in 0..10_000 {
        let Some(action) = core.poll_action() else {
            return;
        };
        if let Action::RunAgent { id, op, .. } = action {
            let result = match op {
                AgentOp::Start | AgentOp::Stop => AgentResult::Success,
                AgentOp::Status => AgentResult::NotRunning,
                AgentOp::Monitor => AgentResult::Running,
            };
            core.handle_agent_done(now, id, result);
        }
    }
    panic!("the core produced 10000 actions for one input");
}

/// The pieces of `data` between occurrences of `sep`.
pub fn split<'a>(data: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(sep.len()).position(|w| w == sep) {
            Some(i) => {
                rest = r.get(i + sep.len()..);
                r.get(..i)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Target `hacf`: the `ha.cf` parser (on text read as the loader reads it).
pub fn hacf(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = hb_config::parse_ha_cf(&text, Path::new("ha.cf"));
}

/// The repository's resource agents (IPaddr, nginx, ipvs): haresources lines naming them
/// resolve, so their parameters are parsed too. No OCF root or init directory.
fn agents() -> AgentSearch {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let none = PathBuf::from("/nonexistent/hb-fuzz");
    AgentSearch::new(vec![root.join("resource-agents")], false)
        .with_ocf_root(none.clone())
        .with_init_dir(none)
}

/// Target `haresources`: the `haresources` parser, with the node names of the samples.
pub fn haresources(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let nodes: Vec<NodeName> = ["node1", "node2", "www.centos1.com", "www.centos2.com"]
        .iter()
        .filter_map(|n| NodeName::parse(n))
        .collect();
    let _ = hb_config::parse_haresources(&text, Path::new("haresources"), &nodes, &agents());
}

/// Target `authkeys`: the `authkeys` parser on raw bytes (keys need not be UTF-8).
pub fn authkeys(data: &[u8]) {
    let _ = hb_config::parse_authkeys_bytes(data, Path::new("authkeys"));
}

/// Target `control`: the control-socket request and reply decoders. A request that decodes
/// must encode (unless too long) and decode back to itself.
pub fn control(data: &[u8]) {
    use hb_control::{CleanupReply, ControlError, Empty, Status};
    if let Ok(line) = std::str::from_utf8(data)
        && let Ok(request) = hb_control::decode_request(line)
    {
        match hb_control::encode_request(&request) {
            Ok(encoded) => {
                let again = hb_control::decode_request(&encoded)
                    .unwrap_or_else(|e| panic!("an encoded request does not decode: {e}"));
                assert_eq!(again, request, "request changed in a round trip");
            }
            Err(ControlError::RequestTooLong(_)) => {}
            Err(e) => panic!("a decoded request does not encode: {e}"),
        }
    }
    let _ = hb_control::decode_reply_value(data);
    let _ = hb_control::decode_reply::<Status>(data);
    let _ = hb_control::decode_reply::<CleanupReply>(data);
    let _ = hb_control::decode_reply::<Empty>(data);
}

/// Target `fifo`: the reader of Heartbeat's command FIFO (`hb_control::FifoReader`), the input
/// being what was written into the FIFO. It is read whole and again in chunks whose length
/// the input's first byte chooses: both must give the same events (the pipe splits writes
/// anywhere), and every request it yields is a standby or a takeover.
pub fn fifo(data: &[u8]) {
    use hb_control::{FifoEvent, FifoReader, Request};
    let whole = FifoReader::new().push(Duration::ZERO, data);
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let mut reader = FifoReader::new();
    let chunked: Vec<FifoEvent> = data
        .chunks(step)
        .flat_map(|chunk| reader.push(Duration::ZERO, chunk))
        .collect();
    assert_eq!(whole, chunked, "reading in chunks of {step} changed the events");
    for event in &whole {
        match event {
            FifoEvent::Request(Request::Standby { .. } | Request::Takeover { .. }) => {}
            FifoEvent::Request(other) => panic!("the FIFO yielded {other:?}"),
            FifoEvent::Warning(w) => {
                let line = w.to_string();
                assert!(!line.contains('\n'), "a warning spans lines: {line:?}");
            }
        }
    }
}

/// Runs target `name` on `data`; `None` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> Option<()> {
    match name {
        "datagram" => datagram(data),
        "hacf" => hacf(data),
        "haresources" => haresources(data),
        "authkeys" => authkeys(data),
        "control" => control(data),
        "fifo" => fifo(data),
        _ => return None,
    }
    Some(())
}
