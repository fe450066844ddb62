//! The IPv6 media, `ucast6` and `mcast6`, between real daemons in network namespaces. The lab's
//! hosts get 2001:db8::NN/64 besides their IPv4 address ([`Lab::add_ipv6`]); the clusters'
//! `ha.cf` has IPv6 media only, so every heartbeat and cluster message goes over IPv6 (the
//! VIP and its clients stay IPv4).
//!
//! Two heartbeat-rs nodes form a cluster and fail over on each medium; a mixed pair, Debian's
//! Heartbeat 3.0.6 and heartbeat-rs, sees each other active over each medium (both node
//! orders are used, one per medium) and the survivor takes over when the other dies. Both
//! nodes share one `ha.cf`: with `ucast6` it lists both nodes' addresses, as Heartbeat's
//! manual suggests (the line to oneself is harmless).
//!
//! Needs root (prints a loud SKIP otherwise; fails under `CI=true`). Run after `cargo build
//! --workspace --bins`: `cargo test -p hb-nstests --test ipv6_media`.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hb_control::NodeStatus;
use hb_nstests::ours::{counters, peer_status, start_settled};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, Pair, Pairing, root_or_skip, wait_for,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const SECOND: Duration = Duration::from_secs(1);
/// A link-local, transient group, from the range Heartbeat's manual recommends (`ff12::/16`).
const MCAST6: &str = "mcast6 eth0 ff12::1:694 694 1 0";
/// Timing of the mixed pairs (Heartbeat 3.0.6 is slow to start; see interop_smoke.rs).
const MIXED_TIMING: &str = "200/2000/1000/10000";
/// What Heartbeat 3.0.6 logs when something in what it receives or sends is wrong.
const HB306_COMPLAINTS: [&str; 9] = [
    "authentication failed",
    "bad packet",
    "bad node",
    "replay attack",
    "ERROR: Message",
    "Unable to send",
    "write failure",
    "Error receiving",
    "Can't join",
];

/// `ucast6 eth0 ADDRESS` for both nodes (node1's first).
fn ucast6_media(lab: &Lab) -> Result<Vec<String>> {
    ["node1", "node2"]
        .iter()
        .map(|n| Ok(format!("ucast6 eth0 {}", lab.ipv6(n)?)))
        .collect()
}

/// A lab with IPv6 addresses.
fn v6_lab(tag: &str) -> Result<Lab> {
    let lab = Lab::new(tag)?;
    lab.add_ipv6()?;
    Ok(lab)
}

fn spec(implementation: Implementation, timing: &str, media: Vec<String>) -> Result<ClusterSpec> {
    let mut spec = ClusterSpec::new(implementation, timing.parse()?);
    spec.media = Some(media);
    let cf = spec.ha_cf(None);
    ensure!(
        !cf.contains("bcast") && !cf.contains("ucast ") && !cf.contains("mcast "),
        "an IPv4 medium in\n{cf}"
    );
    Ok(spec)
}

/// Our `cl_status ARGS` against `node`'s daemon: exit code and output.
fn ours_cl_status(c: &Cluster<'_>, node: &str, args: &[&str]) -> Result<(i32, String)> {
    let out = Command::new(c.binary().with_file_name("cl_status"))
        .arg("--run-dir")
        .arg(c.node_dir(node).join("run"))
        .args(args)
        .output()
        .context("cannot run cl_status")?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.code().unwrap_or(-1), text))
}

/// Two heartbeat-rs nodes over `media` come up with the VIP on node1, name their link after
/// the device, and node2 takes over when node1's cable is cut.
fn ours_pair_fails_over(tag: &str, media: impl Fn(&Lab) -> Result<Vec<String>>) -> Result<()> {
    let lab = v6_lab(tag)?;
    let mut c = Cluster::new(&lab, spec(Implementation::Ours, "100/300", media(&lab)?)?)?;
    start_settled(&mut c)?;
    for (node, peer) in [("node1", "node2"), ("node2", "node1")] {
        // Heartbeat names ucast6 and mcast6 links after their device.
        assert_eq!(
            ours_cl_status(&c, node, &["listhblinks", peer])?,
            (0, "\teth0\n".to_owned())
        );
        assert_eq!(
            ours_cl_status(&c, node, &["hblinkstatus", peer, "eth0"])?,
            (0, "up\n".to_owned())
        );
        let n = counters(&c, node)?;
        assert_eq!(n.auth_failed + n.malformed, 0, "{node}: {n:?}");
    }
    lab.cut("node1")?;
    wait_for("node2 takes the VIP over", 10 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    assert_eq!(peer_status(&c, "node2", "node1")?, NodeStatus::Dead);
    assert_eq!(
        ours_cl_status(&c, "node2", &["hblinkstatus", "node1", "eth0"])?,
        (1, "dead\n".to_owned())
    );
    Ok(())
}

#[test]
fn two_heartbeat_rs_nodes_over_ucast6_form_a_cluster_and_fail_over() -> Result<()> {
    if !root_or_skip("two_heartbeat_rs_nodes_over_ucast6_form_a_cluster_and_fail_over") {
        return Ok(());
    }
    ours_pair_fails_over("v6ucast", ucast6_media)
}

#[test]
fn two_heartbeat_rs_nodes_over_mcast6_form_a_cluster_and_fail_over() -> Result<()> {
    if !root_or_skip("two_heartbeat_rs_nodes_over_mcast6_form_a_cluster_and_fail_over") {
        return Ok(());
    }
    ours_pair_fails_over("v6mcast", |_| Ok(vec![MCAST6.to_owned()]))
}

/// A mixed pair over `media`: both see each other active, Heartbeat logs `opened` (its
/// medium started as configured) and no complaint, both name the link `eth0`, and when the
/// preferred node (node1, holding the VIP) is killed the other takes the VIP over.
fn mixed_pair_over(
    tag: &str,
    pairing: Pairing,
    media: impl Fn(&Lab) -> Result<Vec<String>>,
    opened: &str,
) -> Result<()> {
    let lab = v6_lab(tag)?;
    let mut spec = spec(Implementation::Ours, MIXED_TIMING, media(&lab)?)?;
    // Both implementations must name the group alike: Heartbeat's IPaddr2 key (our IPaddr2
    // is the same agent as our IPaddr).
    spec.haresources = Some("node1 IPaddr2::192.0.2.100/24/eth0\n".to_owned());
    let mut pair = Pair::new(&lab, pairing, &spec)?;
    let [ours, real] = if pairing.node1 == Implementation::Ours {
        ["node1", "node2"]
    } else {
        ["node2", "node1"]
    };
    pair.start("node1")?;
    pair.start("node2")?;
    let hb_log = || -> Result<String> {
        let path = pair.cluster(real)?.log_path(real)?;
        Ok(hb_nstests::read_log(&path))
    };
    let ours_cluster = pair.cluster(ours)?;
    let sees_ours = format!("Status update for node {ours}: status active");
    wait_for("each node sees the other active", 60 * SECOND, || {
        pair.check_running()?;
        Ok(
            peer_status(ours_cluster, ours, real).ok() == Some(NodeStatus::Active)
                && hb_log()?.contains(&sees_ours),
        )
    })?;
    // Heartbeat's own start-up negotiation (with its fixed 10 s wait) settles the VIP on
    // node1 whichever implementation runs there.
    wait_for("node1 alone holds the VIP", 40 * SECOND, || {
        pair.check_running()?;
        Ok(pair.holders(VIP)? == ["node1"])
    })?;
    let log = hb_log()?;
    ensure!(
        log.contains(opened),
        "Heartbeat did not log {opened:?}:\n{log}"
    );
    for bad in HB306_COMPLAINTS {
        ensure!(
            !log.contains(bad),
            "Heartbeat 3.0.6 complained ({bad}):\n{log}"
        );
    }
    let n = counters(ours_cluster, ours)?;
    assert_eq!(n.auth_failed + n.malformed, 0, "{n:?}");
    // Each side names the link after the device, and it is up.
    for (node, peer) in [(ours, real), (real, ours)] {
        // One link per device, though with ucast6 there are two media on eth0 (Heartbeat
        // 3.0.6 lists it once too).
        assert_eq!(pair.cl_status(node, &["listhblinks", peer])?, "eth0");
        assert_eq!(pair.cl_status(node, &["hblinkstatus", peer, "eth0"])?, "up");
    }
    // node1 dies; node2 takes its group over.
    pair.kill("node1")?;
    wait_for("node2 takes the VIP over", 30 * SECOND, || {
        lab.has_address("node2", VIP)
    })?;
    if ours == "node2" {
        assert_eq!(
            peer_status(pair.cluster(ours)?, ours, real)?,
            NodeStatus::Dead
        );
    }
    Ok(())
}

#[test]
fn heartbeat_306_and_heartbeat_rs_see_each_other_over_ucast6() -> Result<()> {
    if !root_or_skip("heartbeat_306_and_heartbeat_rs_see_each_other_over_ucast6") {
        return Ok(());
    }
    mixed_pair_over(
        "v6mixu",
        Pairing::new(Implementation::Heartbeat306, Implementation::Ours),
        ucast6_media,
        "ucast6: heartbeat started for [2001:db8::12]:694 on interface eth0",
    )
}

#[test]
fn heartbeat_rs_and_heartbeat_306_see_each_other_over_mcast6() -> Result<()> {
    if !root_or_skip("heartbeat_rs_and_heartbeat_306_see_each_other_over_mcast6") {
        return Ok(());
    }
    mixed_pair_over(
        "v6mixm",
        Pairing::new(Implementation::Ours, Implementation::Heartbeat306),
        |_| Ok(vec![MCAST6.to_owned()]),
        "UDP multicast heartbeat started for [ff12::1:694]:694 on interface eth0 (hops=1 loop=0)",
    )
}
