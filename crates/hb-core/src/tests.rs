//! Unit tests of one core fed by hand: the actions it emits, membership timing, rejection of
//! bad input, and real Heartbeat 3.0.6 packets from the shared captures. Two-node scenarios
//! run in the simulator (`crates/hb-sim`).

use std::collections::BTreeMap;
use std::time::Duration;

use hb_proto::{AuthMethod, KeyRing, MsgFmt, decode};

use super::*;

fn at(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn keys(secret: &[u8]) -> KeyRing {
    KeyRing::new(
        1,
        BTreeMap::from([(1, (AuthMethod::Sha1, secret.to_vec()))]),
    )
    .unwrap()
}

/// Two nodes, one single-resource group each, keepalive 100 ms, deadtime 300 ms.
fn cfg(me: usize, secret: &[u8]) -> CoreConfig {
    CoreConfig {
        nodes: ["node1", "node2"]
            .iter()
            .filter_map(|n| hb_config::NodeName::parse(n))
            .collect(),
        me,
        timing: hb_config::Timing::new(
            Duration::from_millis(100),
            Duration::from_millis(300),
            Some(Duration::from_millis(150)),
            Some(Duration::from_millis(1000)),
        )
        .unwrap(),
        links: vec!["eth0".into()],
        groups: vec![
            GroupConfig {
                monitor: vec![],
                key: "IPaddr2::192.0.2.100/24/eth0".into(),
                preferred: 0,
                resources: vec!["vip1".into()],
            },
            GroupConfig {
                monitor: vec![],
                key: "IPaddr2::192.0.2.101/24/eth0".into(),
                preferred: 1,
                resources: vec!["vip2".into()],
            },
        ],
        auto_failback: AutoFailback::On,
        msgfmt: MsgFmt::Classic,
        keys: keys(secret),
        hopfudge: 1,
        max_rexmit_delay: Duration::from_millis(250),
        ping: crate::PingSetup::default(),
        watchdog: false,
        fencing: None,
    }
}

fn boot(generation: u64, node: u8) -> Boot {
    let mut uuid = [0u8; 16];
    uuid[15] = node;
    Boot {
        generation,
        uuid,
        wall_clock_secs: 1_800_000_000,
        seed: u64::from(node),
        peers: RememberedPeers::new(),
    }
}

fn core(me: usize, generation: u64, now: Instant) -> Core {
    Core::new(cfg(me, b"secret"), boot(generation, me as u8 + 1), now).unwrap()
}

fn drain(core: &mut Core) -> Vec<Action> {
    std::iter::from_fn(|| core.poll_action()).collect()
}

fn datagrams(actions: &[Action]) -> Vec<Vec<u8>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Transmit(b) => Some(b.clone()),
            Action::RunAgent { .. }
            | Action::RememberPeers(_)
            | Action::Ping(_)
            | Action::PetWatchdog
            | Action::Fence { .. }
            | Action::UseGroups(_) => None,
        })
        .collect()
}

fn field(datagram: &[u8], name: &str) -> String {
    decode(datagram)
        .unwrap()
        .msg
        .str(name)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn boot_sends_init_then_up_and_probes_every_resource() {
    let mut c = core(0, 0x6b05_9433, at(0));
    let actions = drain(&mut c);
    assert_eq!(actions.len(), 4, "{actions:?}");
    let sent = datagrams(&actions);
    assert_eq!(sent.len(), 2);
    let first = decode(&sent[0]).unwrap().msg;
    let names: Vec<&str> = first.fields().iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "t", "st", "dt", "protocol", "hbrs", "src", "srcuuid", "seq", "hg", "ts", "ld", "ttl",
            "auth"
        ]
    );
    assert_eq!(
        [
            field(&sent[0], "st"),
            field(&sent[0], "seq"),
            field(&sent[0], "hg"),
            field(&sent[0], "dt"),
            field(&sent[0], "ttl")
        ],
        ["init", "1", "6b059433", "12c", "3"]
    );
    assert_eq!([field(&sent[1], "st"), field(&sent[1], "seq")], ["up", "2"]);
    assert!(matches!(
        actions[2],
        Action::RunAgent {
            group: 0,
            resource: 0,
            op: AgentOp::Status,
            ..
        }
    ));
    assert!(matches!(
        actions[3],
        Action::RunAgent {
            group: 1,
            resource: 0,
            op: AgentOp::Status,
            ..
        }
    ));
    // The next status is due one keepalive later, unless initdead or a peer comes first.
    assert_eq!(c.poll_timeout(), Some(at(100)));
}

#[test]
fn a_peer_is_declared_dead_exactly_at_its_deadtime() {
    let mut c1 = core(0, 7, at(0));
    let mut c2 = core(1, 9, at(0));
    drain(&mut c1);
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(10), 0, &d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    // node2's last status arrived at 10 ms; it announced dt=300 ms.
    let mut now = at(10);
    while let Some(t) = c1.poll_timeout() {
        if t >= at(310) {
            break;
        }
        now = t;
        c1.handle_timeout(now);
        drain(&mut c1);
    }
    assert!(now < at(310));
    assert_eq!(
        c1.poll_timeout(),
        Some(at(310)),
        "the death deadline is exact, not polled"
    );
    c1.handle_timeout(Instant::from_nanos(at(310).as_nanos() - 1));
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    c1.handle_timeout(at(310));
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Dead));
    let stonith: Vec<String> = datagrams(&drain(&mut c1))
        .iter()
        .filter(|d| field(d, "t") == "stonith")
        .map(|d| format!("{} {}", field(d, "node"), field(d, "result")))
        .collect();
    assert_eq!(
        stonith,
        ["node2 n_stnth"],
        "a peer that may hold resources is reported as not fenced"
    );
}

#[test]
fn rejected_datagrams_are_counted_and_never_change_membership() {
    let mut c1 = core(0, 7, at(0));
    drain(&mut c1);
    // Wrong key: a node with another secret never counts as up.
    let mut stranger = Core::new(cfg(1, b"other"), boot(9, 2), at(0)).unwrap();
    for d in datagrams(&drain(&mut stranger)) {
        c1.handle_datagram(at(1), 0, &d);
    }
    // Garbage, and a valid datagram with one bit flipped.
    let mut c2 = core(1, 9, at(0));
    let good = datagrams(&drain(&mut c2));
    c1.handle_datagram(at(2), 0, b"###\n3:t=x,%%%\n");
    c1.handle_datagram(at(2), 0, b"hello");
    let mut flipped = good[0].clone();
    let digit = flipped.len() - 3; // a hex digit of the trailer's digest
    flipped[digit] = if flipped[digit] == b'0' { b'1' } else { b'0' };
    c1.handle_datagram(at(2), 0, &flipped);
    // A node not in ha.cf, signed with the right key.
    let mut outsider_cfg = cfg(1, b"secret");
    outsider_cfg.nodes[1] = hb_config::NodeName::parse("node9").unwrap();
    let mut outsider = Core::new(outsider_cfg, boot(9, 9), at(0)).unwrap();
    for d in datagrams(&drain(&mut outsider)) {
        c1.handle_datagram(at(3), 0, &d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Init));
    let n = c1.snapshot().counters;
    // `###\n3:t=x,%%%\n` has no signature trailer: it fails authentication before its
    // fields are ever parsed; `hello` is malformed.
    assert_eq!(
        (n.auth_failed, n.malformed, n.unknown_node, n.accepted),
        (4, 1, 2, 0),
        "{n:?}"
    );
    // The real node2, then an older generation of it, then the same datagrams again.
    for d in &good {
        c1.handle_datagram(at(4), 0, d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    let mut old = core(1, 8, at(0));
    for d in datagrams(&drain(&mut old)) {
        c1.handle_datagram(at(5), 0, &d);
    }
    for d in &good {
        c1.handle_datagram(at(6), 0, d);
    }
    let n = c1.snapshot().counters;
    assert_eq!((n.accepted, n.replayed, n.duplicate), (2, 2, 2), "{n:?}");
}

#[test]
fn replayed_heartbeats_do_not_keep_a_dead_peer_alive() {
    let mut c1 = core(0, 7, at(0));
    let mut c2 = core(1, 9, at(0));
    drain(&mut c1);
    // node2 runs for a second; every datagram it sends is recorded and delivered.
    let mut recorded = Vec::new();
    let mut now = at(0);
    while now < at(1000) {
        for d in datagrams(&drain(&mut c2)) {
            c1.handle_datagram(now, 0, &d);
            recorded.push(d);
        }
        for d in datagrams(&drain(&mut c1)) {
            c2.handle_datagram(now, 0, &d);
        }
        now = c1.poll_timeout().unwrap().min(c2.poll_timeout().unwrap());
        c1.handle_timeout(now);
        c2.handle_timeout(now);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Active));
    // node2 dies; replaying its whole recorded traffic every 50 ms changes nothing.
    let mut t = now;
    while t < now + Duration::from_millis(1000) {
        t = t + Duration::from_millis(50);
        c1.handle_timeout(t);
        for d in &recorded {
            c1.handle_datagram(t, 0, d);
        }
        drain(&mut c1);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Dead));
    assert!(c1.snapshot().counters.duplicate >= recorded.len() as u64 * 10);
}

#[test]
fn heartbeat_306_packets_from_the_startup_capture_are_understood() {
    let Some(shared) = hb_testdata::shared_dir() else {
        return;
    };
    let capture = hb_testdata::read_pcap(&shared.join("interop/captures/A1-startup-both.pcap"));
    // node1 as in the lab (sha1 "labsecret"), fed everything real node2 sent.
    let mut c = Core::new(cfg(0, b"labsecret"), boot(1, 1), at(0)).unwrap();
    drain(&mut c);
    let from_node2: Vec<_> = capture
        .iter()
        .filter(|d| d.src == std::net::Ipv4Addr::new(192, 0, 2, 12))
        .collect();
    assert!(from_node2.len() > 40, "{} datagrams", from_node2.len());
    for (i, d) in from_node2.iter().enumerate() {
        c.handle_datagram(at(i as u64 * 20), 0, &d.payload);
        drain(&mut c);
    }
    let n = c.snapshot().counters;
    assert_eq!(
        (n.malformed, n.auth_failed, n.unknown_node, n.replayed),
        (0, 0, 0, 0),
        "{n:?}"
    );
    assert_eq!(n.accepted, from_node2.len() as u64);
    assert_eq!(c.node_status("node2"), Some(NodeStatus::Active));
    let view = c.snapshot();
    assert!(
        !view.nodes[1].heartbeat_rs,
        "Heartbeat 3.0.6 does not announce the extension"
    );
    assert_eq!(
        view.groups[1].holder.as_deref(),
        Some("node2"),
        "node2's resource reports say it holds its group"
    );
}

#[test]
fn a_restart_is_recognised_even_when_no_status_of_the_old_incarnation_arrived() {
    let mut c1 = core(0, 7, at(0));
    drain(&mut c1);
    // The first thing heard from node2 (generation 5) is a resource report claiming its group.
    let mut report = hb_proto::Message::new()
        .with("t", "resource")
        .with("rsc_hold", "local")
        .with("rtype", "full")
        .with("isstable", "1")
        .with("hbrs_held", "IPaddr2::192.0.2.101/24/eth0@3")
        .with("hbrs_failed", "-")
        .with("src", "node2")
        .with("seq", "9")
        .with("hg", "5")
        .with("ts", "6b000000")
        .with("ttl", "3");
    report.push_bin("srcuuid", [0u8; 16]);
    c1.handle_datagram(
        at(1),
        0,
        &hb_proto::seal(&report, &keys(b"secret"), MsgFmt::Classic),
    );
    // Then node2 restarts (generation 6): what its old incarnation claimed is forgotten.
    let mut c2 = core(1, 6, at(2));
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(2), 0, &d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    assert_eq!(
        c1.snapshot().groups[1].holder,
        None,
        "a restarted node holds nothing"
    );
}

#[test]
fn new_keys_sign_from_the_next_datagram_and_every_listed_key_verifies() {
    let two = |sign: u8| {
        KeyRing::new(
            sign,
            BTreeMap::from([
                (1, (AuthMethod::Sha1, b"secret".to_vec())),
                (2, (AuthMethod::Md5, b"rotated".to_vec())),
            ]),
        )
        .unwrap()
    };
    let mut c1 = core(0, 7, at(0));
    drain(&mut c1);
    assert!(
        !c1.set_keys(keys(b"secret")),
        "the same keys change nothing"
    );
    assert!(c1.set_keys(two(2)));
    c1.handle_timeout(at(100));
    let sent = datagrams(&drain(&mut c1));
    assert!(!sent.is_empty());
    for d in &sent {
        assert!(field(d, "auth").starts_with("2 "), "{}", field(d, "auth"));
    }
    // A peer still signing with key 1 is heard: the new file lists it.
    let mut c2 = core(1, 9, at(0));
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(110), 0, &d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    // Once key 1 is gone from the file, its datagrams are refused.
    assert!(
        c1.set_keys(
            KeyRing::new(
                2,
                BTreeMap::from([(2, (AuthMethod::Md5, b"rotated".to_vec()))])
            )
            .unwrap()
        )
    );
    let before = c1.snapshot().counters.auth_failed;
    c2.handle_timeout(at(200));
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(210), 0, &d);
    }
    assert!(c1.snapshot().counters.auth_failed > before);
}

#[test]
fn retransmissions_asked_for_and_served_are_counted() {
    let mut c1 = core(0, 7, at(0));
    let mut c2 = core(1, 9, at(0));
    let mut now = at(0);
    let mut lost = false;
    // node2's datagrams reach node1 except its second sequenced one; node1's all reach node2.
    for _ in 0..20 {
        for d in datagrams(&drain(&mut c2)) {
            if !lost && field(&d, "seq") == "2" {
                lost = true;
                continue;
            }
            c1.handle_datagram(now, 0, &d);
        }
        for d in datagrams(&drain(&mut c1)) {
            c2.handle_datagram(now, 0, &d);
        }
        now = [c1.poll_timeout(), c2.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
        c1.handle_timeout(now);
        c2.handle_timeout(now);
    }
    assert!(lost);
    assert!(c1.snapshot().counters.rexmit_asked >= 1);
    assert!(c2.snapshot().counters.rexmit_sent >= 1);
    assert_eq!(c2.snapshot().counters.rexmit_asked, 0);
}

#[test]
fn heartbeats_test_hook_drops_what_it_says_and_only_while_enabled() {
    let mut c1 = core(0, 7, at(0));
    let mut c2 = core(1, 9, at(0));
    drain(&mut c1);
    // TestHeartbeatComm break-communication: nothing in, nothing out.
    c1.set_test_options(Some(hb_config::TestOptions::parse(
        "xmitloss=1\nrcvloss=1\nallownodes=\n",
    )));
    c1.handle_timeout(at(100));
    assert!(datagrams(&drain(&mut c1)).is_empty(), "nothing is sent");
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(110), 0, &d);
    }
    assert_eq!(
        c1.node_status("node2"),
        Some(NodeStatus::Init),
        "nothing is heard"
    );
    // fix-communication removes the file: traffic flows again.
    c1.set_test_options(None);
    c1.handle_timeout(at(200));
    assert!(!datagrams(&drain(&mut c1)).is_empty());
    c2.handle_timeout(at(200));
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(210), 0, &d);
    }
    assert_eq!(c1.node_status("node2"), Some(NodeStatus::Up));
    // An allowed node is heard whatever rcvloss says.
    c1.set_test_options(Some(hb_config::TestOptions::parse(
        "rcvloss=1\nallownodes=node2;\n",
    )));
    let before = c1.snapshot().counters.accepted;
    c2.handle_timeout(at(300));
    for d in datagrams(&drain(&mut c2)) {
        c1.handle_datagram(at(310), 0, &d);
    }
    assert!(c1.snapshot().counters.accepted > before);
}
