//! Black-box failover tests of heartbeat-rs: two real daemons in network namespaces on a
//! private bridge (TEST-NET-1), the repository's IPaddr agent moving 192.0.2.100, the client
//! namespace probing it. Each test builds and tears down its own lab. Root is required:
//! without it the tests print a loud SKIP (and fail under CI=true).
//!
//! Run after `cargo build --workspace --bins` (the daemon and `hb-addr` must be built).

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::{Duration, Instant};

use anyhow::Result;
use hb_control::{GroupState, NodeStatus, RscStatus};
use hb_nstests::ours::{counters, peer_status, status, wait_ready};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, ProbeConfig, netns, root_or_skip, wait_for,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const SECOND: Duration = Duration::from_secs(1);

fn spec(timing: &str) -> ClusterSpec {
    ClusterSpec::new(Implementation::Ours, timing.parse().expect("valid timing"))
}

/// Starts both nodes and waits until node1 alone holds the VIP and each sees the other active.
fn started<'l>(lab: &'l Lab, spec: ClusterSpec) -> Result<Cluster<'l>> {
    let mut c = Cluster::new(lab, spec)?;
    c.start_all()?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    wait_for("both nodes active", 10 * SECOND, || {
        Ok(peer_status(&c, "node1", "node2")? == NodeStatus::Active
            && peer_status(&c, "node2", "node1")? == NodeStatus::Active)
    })?;
    // The address appears while IPaddr is still announcing it: wait for the agent to finish.
    wait_for("node1's group running", 10 * SECOND, || {
        Ok(status(&c, "node1")?.groups[0].state == GroupState::Running)
    })?;
    Ok(c)
}

/// Asserts exactly one host holds the VIP for `d` (no flapping), and returns it.
fn sole_holder_stays(c: &Cluster<'_>, d: Duration) -> Result<String> {
    let first = c.vip_holders()?;
    anyhow::ensure!(first.len() == 1, "VIP holders {first:?}");
    let until = Instant::now() + d;
    while Instant::now() < until {
        let now = c.vip_holders()?;
        anyhow::ensure!(now == first, "VIP moved from {first:?} to {now:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(first[0].clone())
}

/// Which node answers a TCP connection to the VIP from the client.
fn served_by(lab: &Lab) -> Result<Option<String>> {
    let outcome = lab.probe_once(
        "client",
        SocketAddrV4::new(VIP, 80),
        &ProbeConfig::default(),
    )?;
    Ok(outcome.answered_by().map(str::to_owned))
}

#[test]
fn both_nodes_come_up_and_the_vip_runs_on_its_owner() -> Result<()> {
    if !root_or_skip("both_nodes_come_up_and_the_vip_runs_on_its_owner") {
        return Ok(());
    }
    let lab = Lab::new("up")?;
    let c = started(&lab, spec("100/300"))?;
    let s = status(&c, "node1")?;
    assert_eq!(s.rscstatus, Some(RscStatus::Local), "{s:?}");
    assert_eq!(s.groups[0].state, GroupState::Running, "{s:?}");
    // node2 has no group of its own: `local` once its start-up acquisition is done, as
    // Heartbeat 3.0.6 answers (its i_hold_resources flags; docs/migration.md's tables).
    wait_for("node2 answers rscstatus local", 5 * SECOND, || {
        Ok(status(&c, "node2")?.rscstatus == Some(RscStatus::Local))
    })?;
    // The wire is Heartbeat's: nothing was rejected on either side.
    for n in ["node1", "node2"] {
        assert_eq!(counters(&c, n)?.auth_failed + counters(&c, n)?.malformed, 0);
    }
    assert_eq!(sole_holder_stays(&c, SECOND)?, "node1");
    Ok(())
}

#[test]
fn a_cut_holder_loses_the_vip_and_after_the_heal_exactly_one_node_holds_it() -> Result<()> {
    if !root_or_skip("a_cut_holder_loses_the_vip_and_after_the_heal_exactly_one_node_holds_it") {
        return Ok(());
    }
    let lab = Lab::new("cut")?;
    lab.start_listener("node1", 80)?;
    lab.start_listener("node2", 80)?;
    let c = started(&lab, spec("100/300"))?;
    lab.cut("node1")?;
    wait_for("node2 holds the VIP", 10 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    wait_for("the client is served by node2", 10 * SECOND, || {
        Ok(served_by(&lab)?.as_deref() == Some("node2"))
    })?;
    // node1, alone behind its dead link, still holds it: both act.
    assert!(lab.has_address("node1", VIP)?);
    lab.heal("node1")?;
    wait_for("exactly one holder after the heal", 10 * SECOND, || {
        Ok(c.vip_holders()?.len() == 1)
    })?;
    let holder = sole_holder_stays(&c, 2 * SECOND)?;
    // The earlier acquisition wins: node1 held it before the cut.
    assert_eq!(holder, "node1");
    // It re-announced the VIP: the client follows it, not the loser's stale ARP entry.
    wait_for("the client is served by the holder", 5 * SECOND, || {
        Ok(served_by(&lab)?.as_deref() == Some("node1"))
    })?;
    Ok(())
}

#[test]
fn a_silent_partition_makes_both_act_and_the_heal_leaves_exactly_one_holder() -> Result<()> {
    if !root_or_skip("a_silent_partition_makes_both_act_and_the_heal_leaves_exactly_one_holder") {
        return Ok(());
    }
    let lab = Lab::new("split")?;
    let c = started(&lab, spec("100/300"))?;
    // node1's bridge port is detached: its carrier stays up, but nothing gets through.
    lab.isolate_silently("node1")?;
    assert!(lab.link_state("node1")?.carrier);
    wait_for("both sides hold the VIP", 10 * SECOND, || {
        Ok(c.vip_holders()? == ["node1", "node2"])
    })?;
    assert_eq!(peer_status(&c, "node1", "node2")?, NodeStatus::Dead);
    assert_eq!(peer_status(&c, "node2", "node1")?, NodeStatus::Dead);
    lab.rejoin("node1")?;
    wait_for("exactly one holder after the heal", 10 * SECOND, || {
        Ok(c.vip_holders()?.len() == 1)
    })?;
    assert_eq!(sole_holder_stays(&c, 2 * SECOND)?, "node1");
    for (n, p) in [("node1", "node2"), ("node2", "node1")] {
        assert_eq!(
            peer_status(&c, n, p)?,
            NodeStatus::Active,
            "{n} sees {p} back"
        );
    }
    Ok(())
}

#[test]
fn after_a_kill_9_and_restart_no_duplicate_vip_remains() -> Result<()> {
    if !root_or_skip("after_a_kill_9_and_restart_no_duplicate_vip_remains") {
        return Ok(());
    }
    let lab = Lab::new("kill9")?;
    let mut c = started(&lab, spec("100/300"))?;
    c.kill("node1")?;
    // The killed daemon could not remove its VIP: node2 takes over beside it.
    wait_for("node2 takes over", 10 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    assert_eq!(c.vip_holders()?, ["node1", "node2"]);
    c.start("node1")?;
    // The restarted daemon probes its resources before negotiating and stops the leftover.
    wait_for("the leftover VIP on node1 is gone", 10 * SECOND, || {
        Ok(!lab.has_address("node1", VIP)?)
    })?;
    wait_for("node1 back and active", 10 * SECOND, || {
        Ok(peer_status(&c, "node2", "node1")? == NodeStatus::Active)
    })?;
    // auto_failback off: the VIP stays where it is.
    assert_eq!(sole_holder_stays(&c, 2 * SECOND)?, "node2");
    Ok(())
}

#[test]
fn a_graceful_stop_hands_over_without_waiting_for_deadtime() -> Result<()> {
    if !root_or_skip("a_graceful_stop_hands_over_without_waiting_for_deadtime") {
        return Ok(());
    }
    let lab = Lab::new("graceful")?;
    // A long deadtime makes "at once" and "after deadtime" far apart.
    let c = started(&lab, spec("100/5000/2500/10000"))?;
    let stopper = std::process::Command::new(c.binary())
        .arg("-k")
        .arg("--run-dir")
        .arg(c.node_dir("node1").join("run"))
        .spawn()?;
    let t0 = Instant::now();
    wait_for("node2 holds the VIP", 10 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    let took = t0.elapsed();
    // node2 acted on node1's shutdown notice, not on silence: node1 is not dead to it yet.
    assert_ne!(
        peer_status(&c, "node2", "node1")?,
        NodeStatus::Dead,
        "took {took:?}"
    );
    assert!(
        !lab.has_address("node1", VIP)?,
        "node1 released the VIP before node2 took it"
    );
    let out = stopper.wait_with_output()?;
    assert!(out.status.success(), "heartbeat -k failed: {out:?}");
    assert!(
        !c.is_running("node1"),
        "heartbeat -k returned while node1 still ran"
    );
    Ok(())
}

#[test]
fn a_node_with_the_wrong_key_never_counts_as_up() -> Result<()> {
    if !root_or_skip("a_node_with_the_wrong_key_never_counts_as_up") {
        return Ok(());
    }
    let lab = Lab::new("badkey")?;
    let mut c = Cluster::new(&lab, spec("100/300/150/1500"))?;
    let keys = c.node_dir("node2").join("config").join("authkeys");
    std::fs::write(&keys, "auth 1\n1 sha1 not-the-cluster-secret\n")?;
    c.start_all()?;
    wait_ready(&c, "node1", 10 * SECOND)?;
    // Through initdead and beyond, node1 never sees node2 as anything but init, then dead.
    let mut seen = Vec::new();
    wait_for("node1 declares node2 dead", 10 * SECOND, || {
        let s = peer_status(&c, "node1", "node2")?;
        if !seen.contains(&s) {
            seen.push(s.clone());
        }
        Ok(s == NodeStatus::Dead)
    })?;
    assert!(
        seen.iter()
            .all(|s| matches!(s, NodeStatus::Init | NodeStatus::Dead)),
        "node1 saw node2 as {seen:?}"
    );
    assert!(counters(&c, "node1")?.auth_failed > 0);
    assert_eq!(counters(&c, "node1")?.accepted, 0);
    c.wait_for_sole_holder("node1", 10 * SECOND).or_else(|_| {
        // node2 cannot hear node1 either and may take the VIP too: what matters is node1.
        anyhow::ensure!(
            lab.has_address("node1", VIP)?,
            "node1 does not hold its VIP"
        );
        Ok(Duration::ZERO)
    })?;
    Ok(())
}

#[test]
fn replayed_heartbeats_of_a_dead_node_do_not_keep_it_alive() -> Result<()> {
    if !root_or_skip("replayed_heartbeats_of_a_dead_node_do_not_keep_it_alive") {
        return Ok(());
    }
    let lab = Lab::new("replay")?;
    let mut c = started(&lab, spec("100/300"))?;
    let (sock, recorded) = record_node1(&lab)?;
    // node1 dies for good (killed, and cut off so its leftover VIP stays out of the way)...
    c.kill("node1")?;
    lab.cut("node1")?;
    let before = counters(&c, "node2")?.duplicate;
    // ... while its recorded traffic is replayed onto the LAN every 20 ms for 3 s.
    let dead_after = std::thread::scope(|s| -> Result<Duration> {
        let replayer = s.spawn(|| -> Result<()> {
            let until = Instant::now() + 3 * SECOND;
            while Instant::now() < until {
                for d in &recorded {
                    sock.send_to(d, SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 255), 694))?;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(())
        });
        let took = wait_for("node2 declares node1 dead", 10 * SECOND, || {
            Ok(peer_status(&c, "node2", "node1")? == NodeStatus::Dead)
        })?;
        replayer
            .join()
            .map_err(|_| anyhow::anyhow!("replayer panicked"))??;
        Ok(took)
    })?;
    assert_eq!(
        peer_status(&c, "node2", "node1")?,
        NodeStatus::Dead,
        "replays revived node1 (declared dead after {dead_after:?})"
    );
    assert!(
        counters(&c, "node2")?.duplicate > before,
        "replays were not counted"
    );
    assert!(lab.has_address("node2", VIP)?, "node2 took over the VIP");
    Ok(())
}

/// Records 30 of node1's live datagrams from the client namespace (broadcasts reach it);
/// returns the socket (to replay them from) and the recording.
fn record_node1(lab: &Lab) -> Result<(UdpSocket, Vec<Vec<u8>>)> {
    let client_ns = lab.ns("client")?.to_owned();
    let sock = netns::in_netns(&client_ns, || {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
        s.set_reuse_address(true)?;
        s.set_broadcast(true)?;
        s.bind(&SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 694).into())?;
        Ok(UdpSocket::from(s))
    })?;
    sock.set_read_timeout(Some(SECOND))?;
    let mut recorded = Vec::new();
    let mut buf = [0u8; 65536];
    while recorded.len() < 30 {
        let (n, from) = sock.recv_from(&mut buf)?;
        if from.ip() == std::net::IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)) {
            recorded.push(buf[..n].to_vec());
        }
    }
    Ok((sock, recorded))
}

#[test]
fn heartbeats_recorded_before_a_restart_are_replays_after_it() -> Result<()> {
    if !root_or_skip("heartbeats_recorded_before_a_restart_are_replays_after_it") {
        return Ok(());
    }
    let lab = Lab::new("replay-rst")?;
    let mut c = started(&lab, spec("100/300"))?;
    let (sock, recorded) = record_node1(&lab)?;
    // node1 dies for good; node2 declares it dead, then restarts (a graceful stop writes
    // what it has seen of node1 to its state dir; the new run starts knowing nothing else).
    c.kill("node1")?;
    lab.cut("node1")?;
    wait_for("node2 declares node1 dead", 10 * SECOND, || {
        Ok(peer_status(&c, "node2", "node1")? == NodeStatus::Dead)
    })?;
    c.stop("node2", 10 * SECOND)?;
    c.start("node2")?;
    wait_ready(&c, "node2", 10 * SECOND)?;
    // node1's recording is replayed until the new run has counted replays (bounded).
    let until = Instant::now() + 5 * SECOND;
    let mut seen = Vec::new();
    while counters(&c, "node2")?.replayed == 0 && Instant::now() < until {
        for d in &recorded {
            sock.send_to(d, SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 255), 694))?;
        }
        seen.push(peer_status(&c, "node2", "node1")?);
        std::thread::sleep(Duration::from_millis(20));
    }
    let replayed = counters(&c, "node2")?.replayed;
    seen.push(peer_status(&c, "node2", "node1")?);
    assert!(replayed > 0, "the restarted node2 counted no replays");
    assert!(
        !seen.contains(&NodeStatus::Active),
        "replays made the dead node1 active after node2's restart: {seen:?}"
    );
    Ok(())
}

/// Replaces the generated `bcast eth0` line of each node's ha.cf with `media(node)`.
fn rewrite_media(c: &Cluster<'_>, media: impl Fn(&str) -> String) -> Result<()> {
    for n in ["node1", "node2"] {
        let path = c.node_dir(n).join("config").join("ha.cf");
        let text = std::fs::read_to_string(&path)?;
        anyhow::ensure!(
            text.contains("bcast eth0\n"),
            "no bcast line in {}",
            path.display()
        );
        std::fs::write(&path, text.replace("bcast eth0\n", &media(n)))?;
    }
    Ok(())
}

/// Starts a cluster whose media are given per node, checks start-up and a failover.
fn media_failover(tag: &str, media: impl Fn(&str) -> String) -> Result<()> {
    let lab = Lab::new(tag)?;
    let mut c = Cluster::new(&lab, spec("100/300"))?;
    rewrite_media(&c, media)?;
    c.start_all()?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    wait_for("both nodes active", 10 * SECOND, || {
        Ok(peer_status(&c, "node1", "node2")? == NodeStatus::Active
            && peer_status(&c, "node2", "node1")? == NodeStatus::Active)
    })?;
    lab.cut("node1")?;
    wait_for("node2 takes over", 10 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    Ok(())
}

#[test]
fn heartbeats_over_ucast_alone_carry_membership_and_failover() -> Result<()> {
    if !root_or_skip("heartbeats_over_ucast_alone_carry_membership_and_failover") {
        return Ok(());
    }
    // Each node unicasts to the other (IP_TOS lowdelay, bound to eth0).
    media_failover("ucast", |n| {
        let peer = if n == "node1" {
            "192.0.2.12"
        } else {
            "192.0.2.11"
        };
        format!("ucast eth0 {peer}\n")
    })
}

#[test]
fn heartbeats_over_mcast_alone_carry_membership_and_failover() -> Result<()> {
    if !root_or_skip("heartbeats_over_mcast_alone_carry_membership_and_failover") {
        return Ok(());
    }
    // The multicast group of the shared C4 capture, IP TTL 1, no loopback.
    media_failover("mcast", |_| "mcast eth0 239.0.0.43 694 1 0\n".to_owned())
}

#[test]
fn legacy_mode_gives_the_vip_back_to_its_node_when_it_returns() -> Result<()> {
    if !root_or_skip("legacy_mode_gives_the_vip_back_to_its_node_when_it_returns") {
        return Ok(());
    }
    // No auto_failback line, as in the tutorial's ha.cf: Heartbeat's legacy protocol
    // (ip-request / ip-request-resp), in which a returning node asks for its group back.
    let lab = Lab::new("legacy")?;
    let mut c = Cluster::new(&lab, spec("100/300"))?;
    for n in ["node1", "node2"] {
        let path = c.node_dir(n).join("config").join("ha.cf");
        let text = std::fs::read_to_string(&path)?.replace("auto_failback off\n", "");
        std::fs::write(&path, text)?;
    }
    c.start_all()?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    c.stop("node1", 10 * SECOND)?;
    c.wait_for_sole_holder("node2", 10 * SECOND)?;
    c.start("node1")?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    assert_eq!(sole_holder_stays(&c, SECOND)?, "node1");
    Ok(())
}
