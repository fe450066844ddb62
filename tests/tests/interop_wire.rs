//! Mixed clusters at the wire level: heartbeat-rs next to Debian's Heartbeat 3.0.6 with every
//! authentication method and message format, unicast and multicast media, 10 % packet loss,
//! a key rotation, and three nodes. A case passes when every node's own `cl_status` sees every
//! other node `active`, no Heartbeat node complains about a datagram of ours (its log), and
//! ours rejected nothing. Multicast uses 239.0.0.43 with TTL 1 on the lab's private bridge,
//! as the shared captures do. (IPv6 media: `ipv6_media.rs`.)

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hb_nstests::mixed::{Pair, Pairing};
use hb_nstests::ours::counters;
use hb_nstests::{ClusterSpec, Implementation, Lab, read_log, root_or_skip, wait_for};

const HB: Implementation = Implementation::Heartbeat306;
const OURS: Implementation = Implementation::Ours;
const SECOND: Duration = Duration::from_secs(1);

/// What Heartbeat 3.0.6 logs when it rejects or mistrusts a datagram, or loses messages for
/// good (its log, `/var/log/ha-log` of the node).
const HB_COMPLAINTS: [&str; 11] = [
    "authentication failed",
    "authtoken does not match",
    "failed authentication",
    "Invalid authentication",
    "bad packet",
    "bad node",
    "replay attack",
    "ERROR: Message",
    "string2msg",
    "lost a lot of packets",
    "irretrievably",
];

fn spec(timing: &str, nodes: usize) -> Result<ClusterSpec> {
    let mut spec = ClusterSpec::new(OURS, timing.parse()?);
    spec.nodes = (1..=nodes).map(|i| format!("node{i}")).collect();
    spec.haresources = Some("node1 IPaddr2::192.0.2.100/24/eth0\n".to_owned());
    Ok(spec)
}

/// Starts every node of `pair` and waits until each node's `cl_status nodestatus` shows every
/// other node `active`.
fn start_all(pair: &mut Pair<'_>, timeout: Duration) -> Result<()> {
    let nodes = pair.pairing().nodes();
    for n in nodes {
        pair.start(n)?;
    }
    wait_for(
        &format!("{}: every node sees every other active", pair.pairing()),
        timeout,
        || {
            pair.check_running()?;
            for a in nodes {
                for b in nodes.iter().filter(|b| *b != a) {
                    if pair.nodestatus(a, b).unwrap_or_default() != "active" {
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        },
    )
    .with_context(|| pair.log_tails(20))?;
    Ok(())
}

/// The Heartbeat nodes' logs.
fn hb_logs(pair: &Pair<'_>) -> Result<Vec<(String, String)>> {
    let mut logs = Vec::new();
    for n in pair.pairing().nodes() {
        if pair.pairing().of(n)? == HB {
            let path = pair.cluster(n)?.log_path(n)?;
            logs.push((
                n.to_string(),
                std::fs::read_to_string(&path).unwrap_or_default(),
            ));
        }
    }
    Ok(logs)
}

/// Fails if a Heartbeat node complained about a datagram, or ours rejected one.
fn no_complaints(pair: &Pair<'_>) -> Result<()> {
    for (node, log) in hb_logs(pair)? {
        for bad in HB_COMPLAINTS {
            if let Some(line) = log.lines().find(|l| l.contains(bad)) {
                bail!("{}: Heartbeat on {node} complained: {line}", pair.pairing());
            }
        }
    }
    for n in pair.pairing().nodes() {
        if pair.pairing().of(n)? == OURS {
            let c = counters(pair.cluster(n)?, n)?;
            ensure!(
                c.auth_failed + c.malformed + c.unknown_node == 0,
                "{}: ours on {n} rejected datagrams: {c:?}",
                pair.pairing()
            );
        }
    }
    Ok(())
}

/// Fails if any node's log says a node died.
fn nobody_died(pair: &Pair<'_>) -> Result<()> {
    for n in pair.pairing().nodes() {
        let c = pair.cluster(n)?;
        let log = read_log(&c.log_path(n)?);
        if let Some(line) = log.lines().find(|l| l.contains(": is dead")) {
            bail!("{}: false death on {n}: {line}", pair.pairing());
        }
    }
    Ok(())
}

#[test]
fn every_auth_method_and_message_format_interoperates() -> Result<()> {
    if !root_or_skip("every_auth_method_and_message_format_interoperates") {
        return Ok(());
    }
    let cases = [
        ("sha1", "classic", Pairing::new(HB, OURS)),
        ("sha1", "netstring", Pairing::new(OURS, HB)),
        ("md5", "classic", Pairing::new(OURS, HB)),
        ("md5", "netstring", Pairing::new(HB, OURS)),
        ("crc", "classic", Pairing::new(HB, OURS)),
        ("crc", "netstring", Pairing::new(OURS, HB)),
    ];
    for (method, msgfmt, pairing) in cases {
        let lab = Lab::new("wireauth")?;
        let mut spec = spec("200/2000/1000/6000", 2)?;
        // crc takes no key (Heartbeat refuses one, and so do we).
        let key = if method == "crc" {
            String::new()
        } else {
            format!(" wire-{method}-key")
        };
        spec.authkeys = Some(format!("auth 3\n3 {method}{key}\n"));
        spec.extra_ha_cf.push(format!("msgfmt {msgfmt}"));
        let mut pair = Pair::new(&lab, pairing, &spec)?;
        start_all(&mut pair, 30 * SECOND)
            .with_context(|| format!("auth {method}, msgfmt {msgfmt}"))?;
        no_complaints(&pair).with_context(|| format!("auth {method}, msgfmt {msgfmt}"))?;
        println!("{pairing}: auth {method}, msgfmt {msgfmt}: both active, no complaint");
    }
    Ok(())
}

#[test]
fn unicast_and_multicast_media_interoperate() -> Result<()> {
    if !root_or_skip("unicast_and_multicast_media_interoperate") {
        return Ok(());
    }
    let cases: [(&str, Vec<String>, Pairing); 2] = [
        (
            "ucast",
            vec![
                "ucast eth0 192.0.2.11".to_owned(),
                "ucast eth0 192.0.2.12".to_owned(),
            ],
            Pairing::new(HB, OURS),
        ),
        (
            "mcast",
            vec!["mcast eth0 239.0.0.43 694 1 0".to_owned()],
            Pairing::new(OURS, HB),
        ),
    ];
    for (name, media, pairing) in cases {
        let lab = Lab::new("wiremedia")?;
        let mut spec = spec("200/2000/1000/6000", 2)?;
        spec.media = Some(media);
        let mut pair = Pair::new(&lab, pairing, &spec)?;
        start_all(&mut pair, 30 * SECOND).with_context(|| name.to_owned())?;
        // The group is negotiated over the medium too: node1 ends up its only holder.
        wait_for(
            &format!("{name}: the VIP on node1 only"),
            30 * SECOND,
            || Ok(pair.holders("192.0.2.100".parse()?)? == ["node1"]),
        )
        .with_context(|| pair.log_tails(20))?;
        no_complaints(&pair).with_context(|| name.to_owned())?;
        println!("{pairing}: {name}: both active, VIP negotiated, no complaint");
    }
    Ok(())
}

/// 10 % of the heartbeat datagrams each node receives are dropped (both directions), with
/// deadtime 5 x keepalive: membership and the group negotiation converge, both sides ask for
/// their gaps and answer the other's requests, and nobody is declared dead while at least
/// 150 heartbeats of each peer arrive.
#[test]
fn ten_percent_loss_converges_without_false_deaths() -> Result<()> {
    if !root_or_skip("ten_percent_loss_converges_without_false_deaths") {
        return Ok(());
    }
    for pairing in [Pairing::new(HB, OURS), Pairing::new(OURS, OURS)] {
        let lab = Lab::new("wireloss")?;
        for n in pairing.nodes() {
            lab.lose_udp(n, 694, 10)?;
        }
        let spec = spec("200/1000/600/6000", 2)?;
        let mut pair = Pair::new(&lab, pairing, &spec)?;
        start_all(&mut pair, 30 * SECOND)?;
        wait_for(
            &format!("{pairing}: the VIP on node1 only"),
            40 * SECOND,
            || {
                pair.check_running()?;
                Ok(pair.holders("192.0.2.100".parse()?)? == ["node1"])
            },
        )
        .with_context(|| pair.log_tails(20))?;
        // Time passes: node2 (ours) counts the messages it accepts.
        let ours = pair.cluster("node2")?;
        let start = counters(ours, "node2")?.accepted;
        let began = Instant::now();
        wait_for(
            &format!("{pairing}: 150 more messages accepted by node2"),
            90 * SECOND,
            || {
                pair.check_running()?;
                Ok(counters(ours, "node2")?.accepted >= start + 150)
            },
        )?;
        let c = counters(ours, "node2")?;
        let lost: u64 = pairing
            .nodes()
            .iter()
            .map(|n| lab.udp_lost(n))
            .sum::<Result<u64>>()?;
        ensure!(lost > 0, "{pairing}: no datagram was dropped");
        ensure!(
            c.rexmit_asked > 0 && c.rexmit_sent > 0,
            "{pairing}: node2 asked for {} and retransmitted {} messages",
            c.rexmit_asked,
            c.rexmit_sent
        );
        nobody_died(&pair)?;
        no_complaints(&pair)?;
        for (a, b) in [("node1", "node2"), ("node2", "node1")] {
            ensure!(
                pair.nodestatus(a, b)? == "active",
                "{a} sees {b} not active"
            );
        }
        println!(
            "{pairing}: {:.0} s at 10 % loss, {lost} datagrams dropped, node2 asked for {} and \
             retransmitted {} messages, no false death",
            began.elapsed().as_secs_f64(),
            c.rexmit_asked,
            c.rexmit_sent
        );
    }
    Ok(())
}

/// The two-key rotation: both `authkeys` list keys 1 and 2, signing with 1; then each node in
/// turn switches to `auth 2` and gets SIGHUP. ours verifies each datagram with the key it
/// names, so between two of ours the switches may be any time apart (here more than twice the
/// deadtime). Heartbeat 3.0.6 verifies every datagram with its own signing key (capture C6):
/// it rejects a peer that signs with another key, whichever switched first, so every node
/// must switch within deadtime of the first (docs/security.md). Shown both ways: switched
/// together, nobody dies; switched more than a deadtime apart, Heartbeat declares ours dead.
#[test]
fn keys_rotate_without_a_false_death() -> Result<()> {
    if !root_or_skip("keys_rotate_without_a_false_death") {
        return Ok(());
    }
    let keys = |sign: u8| format!("auth {sign}\n1 sha1 old-key\n2 md5 new-key\n");
    // (pairing, gap between the two switches, whether a node must die)
    for (pairing, gap, death) in [
        (Pairing::new(OURS, OURS), 5 * SECOND, false),
        (Pairing::new(HB, OURS), Duration::ZERO, false),
        (Pairing::new(HB, OURS), 5 * SECOND, true),
    ] {
        let lab = Lab::new("wirekeys")?;
        let mut spec = spec("200/2000/1000/6000", 2)?;
        spec.authkeys = Some(keys(1));
        let mut pair = Pair::new(&lab, pairing, &spec)?;
        start_all(&mut pair, 30 * SECOND)?;
        // ours (node2) first, then node1.
        rotate(&pair, "node2", &keys(2))?;
        if !gap.is_zero() {
            // Time passes on the wire: node2 keeps accepting node1's messages.
            let c = pair.cluster("node2")?;
            let want = counters(c, "node2")?.accepted + (gap.as_millis() / 200) as u64;
            wait_for("messages during the gap", gap * 4, || {
                pair.check_running()?;
                Ok(counters(c, "node2")?.accepted >= want)
            })?;
        }
        if death {
            let log = pair.cluster("node1")?.log_path("node1")?;
            let line = hb_nstests::wait_for_log_line(&log, "node node2: is dead", 10 * SECOND)?;
            println!("{pairing}: switched {gap:?} apart: Heartbeat declared ours dead: {line}");
            continue;
        }
        rotate(&pair, "node1", &keys(2))?;
        // Both sign with key 2 now: ours accepts 30 more of the other's heartbeats (about
        // three deadtimes), and nobody died.
        let c = pair.cluster("node2")?;
        let start = counters(c, "node2")?.accepted;
        wait_for("heartbeats after the rotation", 30 * SECOND, || {
            pair.check_running()?;
            Ok(counters(c, "node2")?.accepted >= start + 30)
        })?;
        nobody_died(&pair)?;
        if pairing.node1 == OURS {
            no_complaints(&pair)?;
        }
        for (a, b) in [("node1", "node2"), ("node2", "node1")] {
            ensure!(
                pair.nodestatus(a, b)? == "active",
                "{a} sees {b} not active"
            );
        }
        println!("{pairing}: keys rotated from 1 to 2, switched {gap:?} apart, no false death");
    }
    Ok(())
}

/// Writes `authkeys` on `node` and sends its daemon SIGHUP, then waits for its log to say it
/// read the file again.
fn rotate(pair: &Pair<'_>, node: &str, authkeys: &str) -> Result<()> {
    let c = pair.cluster(node)?;
    let dir = c.node_dir(node);
    let path = match pair.pairing().of(node)? {
        HB => dir.join("etc/authkeys"),
        _ => dir.join("config/authkeys"),
    };
    // Heartbeat notices the change by the file's mtime, in whole seconds.
    let old = std::fs::metadata(&path)?.modified()?;
    std::fs::write(&path, authkeys)?;
    let mut mtime = std::fs::metadata(&path)?.modified()?;
    while mtime.duration_since(old).unwrap_or_default() < SECOND {
        let f = std::fs::File::options().write(true).open(&path)?;
        f.set_modified(old + SECOND * 2)?;
        mtime = std::fs::metadata(&path)?.modified()?;
    }
    pair.signal(node, nix::sys::signal::Signal::SIGHUP)?;
    let log = c.log_path(node)?;
    hb_nstests::wait_for_log_line(&log, "Rereading authentication file", 10 * SECOND)?;
    Ok(())
}

/// Three nodes, two of one implementation and one of the other: every node's `cl_status`
/// agrees on the node list and sees every node active, and a killed node is seen dead by
/// both others.
#[test]
fn three_node_mixed_clusters_agree_on_membership() -> Result<()> {
    if !root_or_skip("three_node_mixed_clusters_agree_on_membership") {
        return Ok(());
    }
    for pairing in [Pairing::three(HB, HB, OURS), Pairing::three(OURS, OURS, HB)] {
        let lab = Lab::with_nodes("wire3", 3)?;
        let mut spec = spec("200/2000/1000/6000", 3)?;
        // Resource groups are a two-node matter (as in Heartbeat): membership only.
        spec.haresources = Some(String::new());
        let mut pair = Pair::new(&lab, pairing, &spec)?;
        start_all(&mut pair, 40 * SECOND)?;
        let mut lists = Vec::new();
        for n in pairing.nodes() {
            let mut list: Vec<String> = pair
                .cl_status(n, &["listnodes"])?
                .lines()
                .map(str::to_owned)
                .collect();
            list.sort();
            lists.push(list);
        }
        ensure!(
            lists.iter().all(|l| l == &["node1", "node2", "node3"]),
            "{pairing}: listnodes differ: {lists:?}"
        );
        no_complaints(&pair)?;
        // node3 dies: both others see it dead.
        pair.kill("node3")?;
        wait_for(
            &format!("{pairing}: node3 dead on node1 and node2"),
            20 * SECOND,
            || {
                Ok(pair.nodestatus("node1", "node3")? == "dead"
                    && pair.nodestatus("node2", "node3")? == "dead")
            },
        )
        .with_context(|| pair.log_tails(20))?;
        ensure!(pair.nodestatus("node1", "node2")? == "active");
        ensure!(pair.nodestatus("node2", "node1")? == "active");
        println!("{pairing}: listnodes agree, all active, node3's death seen by both");
    }
    Ok(())
}
