//! Ping nodes in namespaces (docs/ha.cf.md#ping): the tutorial's cable pull with the client
//! host as ping node leaves one VIP holder during the cut and after it (the isolation rule),
//! a node that loses only its route to the ping node hands the VIP to its peer and gets it
//! back (the built-in ipfail, turned on by Heartbeat's `respawn ... ipfail` line), and a
//! mixed cluster with Debian's Heartbeat 3.0.6 lists the ping node as Heartbeat does.
//!
//! Timing figures (dual holding during the cut) are printed; the assertions use generous
//! bounds, so a loaded machine does not fail them, and the printed figures are what
//! `docs/ha.cf.md` quotes.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hb_control::NodeStatus;
use hb_nstests::cluster::Failback;
use hb_nstests::mixed::{Pair, Pairing};
use hb_nstests::ours::status;
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, Timeline, holds, root_or_skip, wait_for,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// The lab's client host: the ping node.
const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 50);
const SECOND: Duration = Duration::from_secs(1);

fn spec(implementation: Implementation, extra: &[&str]) -> ClusterSpec {
    let mut spec = ClusterSpec::new(implementation, "100/300".parse().expect("valid timing"));
    spec.auto_failback = Failback::On;
    spec.extra_ha_cf = extra.iter().map(|l| (*l).to_owned()).collect();
    spec
}

/// Starts both nodes; waits until node1 alone holds the VIP and both see the ping node.
fn started<'l>(lab: &'l Lab, spec: ClusterSpec) -> Result<Cluster<'l>> {
    let mut c = Cluster::new(lab, spec)?;
    c.start_all()?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    wait_for("both nodes see the ping node", 10 * SECOND, || {
        Ok(["node1", "node2"].iter().all(|n| {
            status(&c, n)
                .ok()
                .and_then(|s| s.node(&CLIENT.to_string()).map(|p| p.status.clone()))
                == Some(NodeStatus::Ping)
        }))
    })?;
    Ok(c)
}

/// Pulls node1's cable (the lab sets the switch side down: node1's eth0 loses carrier) and
/// watches until node2 alone holds the VIP: the timeline, when node1's VIP was last seen plus
/// one sample, and when node2's was first seen.
fn pull_node1s_cable(lab: &Lab, c: &Cluster<'_>) -> Result<(Timeline, Duration, Duration)> {
    let cut = Timeline::record(lab, VIP, || {
        lab.cut("node1")?;
        wait_for("node2 alone holds the VIP", 15 * SECOND, || {
            Ok(lab.address_holders(VIP)? == ["node2"])
        })?;
        Ok(())
    })
    .with_context(|| c.log_tail("node1", 30))?;
    let released = cut
        .last(|h| holds(h, "node1"))
        .map_or(Duration::ZERO, |t| t + cut.resolution());
    let taken = cut.first(|h| holds(h, "node2")).unwrap_or_default();
    Ok((cut, released, taken))
}

/// `isolation release` without ping nodes: the carrier of node1's heartbeat interface is the
/// witness. The lab's cable pull leaves node1's eth0 without carrier: node1 releases the VIP
/// as node2 takes it, never two holders; the cable back, node1 gets it back.
#[test]
fn a_cable_pull_without_ping_nodes_isolates_by_carrier() -> Result<()> {
    if !root_or_skip("a_cable_pull_without_ping_nodes_isolates_by_carrier") {
        return Ok(());
    }
    let lab = Lab::new("carrier")?;
    let mut c = Cluster::new(&lab, spec(Implementation::Ours, &["isolation release"]))?;
    c.start_all()?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    let deadtime = c.spec().timing.deadtime;
    let keepalive = c.spec().timing.keepalive;
    let (cut, released, taken) = pull_node1s_cable(&lab, &c)?;
    println!(
        "cable pull without ping nodes (keepalive {} ms, deadtime {} ms, isolation release): \
         node1 released the VIP {} ms after the cut, node2 took it {} ms after; dual holding \
         {} ms ({} samples)",
        keepalive.as_millis(),
        deadtime.as_millis(),
        released.as_millis(),
        taken.as_millis(),
        cut.dual_holding().as_millis(),
        cut.samples.len()
    );
    ensure!(cut.most_holders() <= 1, "two VIP holders during the cut");
    let log = c.log_tail("node1", 200);
    ensure!(
        log.contains("no heartbeat interface has carrier"),
        "node1's log:\n{log}"
    );
    ensure!(
        status(&c, "node1")?.isolated,
        "node1's status says isolated"
    );
    let healed = Timeline::record(&lab, VIP, || {
        lab.heal("node1")?;
        wait_for("node1 alone holds the VIP again", 15 * SECOND, || {
            Ok(lab.address_holders(VIP)? == ["node1"])
        })?;
        Ok(())
    })
    .with_context(|| c.log_tail("node1", 30))?;
    ensure!(
        healed.most_holders() <= 1,
        "two VIP holders after the cable is back"
    );
    Ok(())
}

#[test]
fn a_cable_pull_with_a_ping_node_leaves_exactly_one_vip_holder() -> Result<()> {
    if !root_or_skip("a_cable_pull_with_a_ping_node_leaves_exactly_one_vip_holder") {
        return Ok(());
    }
    let lab = Lab::new("pingcut")?;
    let c = started(&lab, spec(Implementation::Ours, &["ping 192.0.2.50"]))?;
    let deadtime = c.spec().timing.deadtime;
    let keepalive = c.spec().timing.keepalive;
    let (cut, released, taken) = pull_node1s_cable(&lab, &c)?;
    let dual_to = cut.last(|h| h.len() > 1);
    let dual = cut.dual_holding();
    println!(
        "cable pull (keepalive {} ms, deadtime {} ms, deadping = deadtime): node1 released \
         the VIP {} ms after the cut, node2 took it {} ms after; dual holding {} ms (sampling \
         every {} us, {} samples)",
        keepalive.as_millis(),
        deadtime.as_millis(),
        released.as_millis(),
        taken.as_millis(),
        dual.as_millis(),
        cut.resolution().as_micros(),
        cut.samples.len()
    );
    // The bound: deadping (= deadtime), two keepalives of phase, and IPaddr's stop, with
    // margin for a loaded machine.
    let bound = deadtime + 2 * keepalive + SECOND;
    ensure!(
        released <= bound,
        "node1 still held the VIP {} ms after the cut (bound {} ms)",
        released.as_millis(),
        bound.as_millis()
    );
    ensure!(
        dual_to.is_none_or(|t| t <= bound),
        "two holders {dual_to:?} after the cut"
    );
    // node1 stays isolated and holds nothing while the cable is out.
    std::thread::sleep(3 * deadtime);
    ensure!(lab.address_holders(VIP)? == ["node2"]);
    let log = c.log_tail("node1", 200);
    ensure!(log.contains("isolated"), "node1's log:\n{log}");
    ensure!(
        status(&c, "node1")?.isolated,
        "node1's status says isolated"
    );
    ensure!(!status(&c, "node2")?.isolated);

    // Plug it back: never two holders; auto_failback on brings the VIP home.
    let healed = Timeline::record(&lab, VIP, || {
        lab.heal("node1")?;
        wait_for("node1 alone holds the VIP again", 15 * SECOND, || {
            Ok(lab.address_holders(VIP)? == ["node1"])
        })?;
        std::thread::sleep(SECOND);
        Ok(())
    })
    .with_context(|| c.log_tail("node1", 30))?;
    println!(
        "cable back: at most {} holder(s) at once over {} samples; node1 holds the VIP again \
         {} ms after",
        healed.most_holders(),
        healed.samples.len(),
        healed
            .first(|h| holds(h, "node1"))
            .unwrap_or_default()
            .as_millis()
    );
    ensure!(
        healed.most_holders() <= 1,
        "two holders after the cable came back"
    );
    ensure!(!status(&c, "node1")?.isolated);
    c.check_running()?;
    Ok(())
}

#[test]
fn losing_only_the_ping_node_moves_the_vip_to_the_peer_and_back() -> Result<()> {
    if !root_or_skip("losing_only_the_ping_node_moves_the_vip_to_the_peer_and_back") {
        return Ok(());
    }
    let lab = Lab::new("ipfail")?;
    let c = started(
        &lab,
        spec(
            Implementation::Ours,
            &[
                "ping 192.0.2.50",
                "respawn hacluster /usr/lib/heartbeat/ipfail",
            ],
        ),
    )?;
    let log = c.log_tail("node1", 400);
    ensure!(
        log.contains("ipfail is built into heartbeat-rs"),
        "node1 says the respawn line is built in:\n{log}"
    );
    // node1's route to the ping node breaks; the cluster LAN is fine.
    lab.block_icmp_to("node1", IpAddr::V4(CLIENT), true)?;
    let t = Instant::now();
    wait_for("node2 alone holds the VIP", 15 * SECOND, || {
        Ok(lab.address_holders(VIP)? == ["node2"])
    })
    .with_context(|| c.log_tail("node1", 40))?;
    println!(
        "ipfail: the VIP moved to node2 {} ms after node1 lost its ping node",
        t.elapsed().as_millis()
    );
    let log = c.log_tail("node1", 400);
    ensure!(
        log.contains("Giving up because we have less visible ping nodes."),
        "ipfail's wording in node1's log:\n{log}"
    );
    // Both nodes stay members: only the ping node is lost.
    let s = status(&c, "node1")?;
    ensure!(s.node("node2").map(|n| n.status.clone()) == Some(NodeStatus::Active));
    ensure!(s.node(&CLIENT.to_string()).map(|n| n.status.clone()) == Some(NodeStatus::Dead));
    lab.block_icmp_to("node1", IpAddr::V4(CLIENT), false)?;
    let t = Instant::now();
    wait_for("node1 alone holds the VIP again", 15 * SECOND, || {
        Ok(lab.address_holders(VIP)? == ["node1"])
    })
    .with_context(|| c.log_tail("node1", 40))?;
    println!(
        "ipfail: the VIP came back to node1 {} ms after its route to the ping node was \
         restored (auto_failback on)",
        t.elapsed().as_millis()
    );
    Ok(())
}

/// Asks Heartbeat's node1 and our node2 the same `cl_status` queries: the answers must match.
fn same_answers(pair: &Pair<'_>, queries: &[Vec<&str>]) -> Result<()> {
    for q in queries {
        let theirs = pair.cl_status("node1", q)?;
        let ours = pair.cl_status("node2", q)?;
        println!(
            "cl_status {}: heartbeat {theirs:?}, ours {ours:?}",
            q.join(" ")
        );
        ensure!(
            theirs == ours,
            "cl_status {}: Heartbeat 3.0.6 says {theirs:?}, ours {ours:?}",
            q.join(" ")
        );
    }
    Ok(())
}

/// Debian's Heartbeat 3.0.6 with the same `ping` line: both implementations list the ping
/// node the same way (`listnodes`, `nodetype`, `nodestatus`, `listhblinks`, `hblinkstatus`),
/// each from its own node.
#[test]
fn a_mixed_cluster_lists_the_ping_node_as_heartbeat_does() -> Result<()> {
    if !root_or_skip("a_mixed_cluster_lists_the_ping_node_as_heartbeat_does") {
        return Ok(());
    }
    const HB: Implementation = Implementation::Heartbeat306;
    const OURS: Implementation = Implementation::Ours;
    let lab = Lab::new("pingmix")?;
    let mut spec = spec(OURS, &["ping 192.0.2.50"]);
    spec.timing = "200/2000/1000/6000".parse()?;
    let pairing = Pairing::new(HB, OURS);
    let mut pair = Pair::new(&lab, pairing, &spec)?;
    for n in ["node1", "node2"] {
        pair.start(n)?;
    }
    let ping = CLIENT.to_string();
    wait_for(
        "both nodes active, the ping node up on both",
        40 * SECOND,
        || {
            pair.check_running()?;
            Ok(
                pair.nodestatus("node1", "node2").unwrap_or_default() == "active"
                    && pair.nodestatus("node2", "node1").unwrap_or_default() == "active"
                    && pair.nodestatus("node1", &ping).unwrap_or_default() == "ping"
                    && pair.nodestatus("node2", &ping).unwrap_or_default() == "ping",
            )
        },
    )
    .with_context(|| pair.log_tails(20))?;
    let queries: [Vec<&str>; 6] = [
        vec!["listnodes"],
        vec!["listnodes", "-p"],
        vec!["listnodes", "-n"],
        vec!["nodetype", &ping],
        vec!["listhblinks", &ping],
        vec!["hblinkstatus", &ping, &ping],
    ];
    same_answers(&pair, &queries)?;
    // The ping node dies on both when the client stops answering either.
    lab.block_icmp_to("node1", IpAddr::V4(CLIENT), true)?;
    lab.block_icmp_to("node2", IpAddr::V4(CLIENT), true)?;
    wait_for("the ping node dead on both", 20 * SECOND, || {
        Ok(
            pair.nodestatus("node1", &ping)? == "dead"
                && pair.nodestatus("node2", &ping)? == "dead",
        )
    })
    .with_context(|| pair.log_tails(20))?;
    let theirs = pair.cl_status("node1", &["hblinkstatus", &ping, &ping])?;
    let ours = pair.cl_status("node2", &["hblinkstatus", &ping, &ping])?;
    ensure!(theirs == ours, "dead link: {theirs:?} vs {ours:?}");
    // Membership is untouched.
    ensure!(pair.nodestatus("node1", "node2")? == "active");
    ensure!(pair.nodestatus("node2", "node1")? == "active");
    Ok(())
}

/// `ping6` and `ping_group`: an IPv6 ping node (ICMPv6 from the daemon's raw socket) and a
/// group that answers while any member does; Debian's Heartbeat 3.0.6 beside ours lists them
/// the same way.
#[test]
fn an_ipv6_ping_node_and_a_ping_group_are_probed_and_listed_as_heartbeat_does() -> Result<()> {
    if !root_or_skip("an_ipv6_ping_node_and_a_ping_group_are_probed_and_listed_as_heartbeat_does") {
        return Ok(());
    }
    const HB: Implementation = Implementation::Heartbeat306;
    const OURS: Implementation = Implementation::Ours;
    let lab = Lab::new("ping6")?;
    lab.add_ipv6()?;
    let client6 = lab.ipv6("client")?;
    // 192.0.2.99 is nobody: the group lives by its other member.
    let ping6 = format!("ping6 {client6}");
    let mut spec = spec(
        OURS,
        &[ping6.as_str(), "ping_group routers 192.0.2.99 192.0.2.50"],
    );
    spec.timing = "200/2000/1000/6000".parse()?;
    let mut pair = Pair::new(&lab, Pairing::new(HB, OURS), &spec)?;
    for n in ["node1", "node2"] {
        pair.start(n)?;
    }
    let v6 = client6.to_string();
    wait_for("both ping nodes up on both nodes", 40 * SECOND, || {
        pair.check_running()?;
        Ok(["node1", "node2"].iter().all(|n| {
            pair.nodestatus(n, &v6).unwrap_or_default() == "ping"
                && pair.nodestatus(n, "routers").unwrap_or_default() == "ping"
        }))
    })
    .with_context(|| pair.log_tails(20))?;
    same_answers(
        &pair,
        &[
            vec!["listnodes"],
            vec!["listnodes", "-p"],
            vec!["nodetype", v6.as_str()],
            vec!["listhblinks", "routers"],
            vec!["hblinkstatus", "routers", "routers"],
        ],
    )?;
    // Our node loses ICMPv6 to the client: the ping6 node dies there, the group lives on.
    lab.block_icmp_to("node2", IpAddr::V6(client6), true)?;
    wait_for("the IPv6 ping node dead on our node", 20 * SECOND, || {
        Ok(pair.nodestatus("node2", &v6)? == "dead")
    })
    .with_context(|| pair.log_tails(20))?;
    ensure!(pair.nodestatus("node2", "routers")? == "ping");
    ensure!(pair.nodestatus("node1", &v6)? == "ping");
    Ok(())
}
