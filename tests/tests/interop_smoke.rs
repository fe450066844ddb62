//! Smoke test of a mixed cluster: Debian's Heartbeat 3.0.6 on node1, heartbeat-rs on node2,
//! the same ha.cf, haresources and authkeys. Full interoperation tests (standby, failback,
//! partitions, legacy mode against a live 3.0.6 node) belong to a later milestone; this one
//! guards the basics so nothing here needs redoing: each accepts the other's heartbeats,
//! they negotiate the group with Heartbeat's own messages, and heartbeat-rs takes over when
//! the Heartbeat node dies.

use std::time::Duration;

use anyhow::Result;
use hb_control::NodeStatus;
use hb_nstests::ours::{counters, peer_status};
use hb_nstests::{Cluster, ClusterSpec, Implementation, Lab, root_or_skip, wait_for};

#[test]
fn heartbeat_306_and_heartbeat_rs_form_a_cluster_and_fail_over() -> Result<()> {
    if !root_or_skip("heartbeat_306_and_heartbeat_rs_form_a_cluster_and_fail_over") {
        return Ok(());
    }
    let lab = Lab::new("mixed")?;
    let timing = "200/2000/1000/10000";
    let mut real = Cluster::new(
        &lab,
        ClusterSpec::new(Implementation::Heartbeat306, timing.parse()?),
    )?;
    let mut ours = Cluster::new(
        &lab,
        ClusterSpec::new(Implementation::Ours, timing.parse()?),
    )?;
    // Both nodes must name the group alike: use Heartbeat's IPaddr2 key (our IPaddr2 is the
    // same agent as our IPaddr).
    std::fs::write(
        ours.node_dir("node2").join("config/haresources"),
        "node1 IPaddr2::192.0.2.100/24/eth0\n",
    )?;
    real.start("node1")?;
    ours.start("node2")?;
    wait_for(
        "heartbeat-rs sees Heartbeat 3.0.6 active",
        Duration::from_secs(30),
        || Ok(peer_status(&ours, "node2", "node1").ok() == Some(NodeStatus::Active)),
    )?;
    // Heartbeat's own start-up negotiation (with its fixed 10 s wait) puts the VIP on node1.
    real.wait_for_sole_holder("node1", Duration::from_secs(40))?;
    wait_for(
        "the real node reports node2 active",
        Duration::from_secs(10),
        || {
            let log = hb_nstests::read_log(&real.log_path("node1")?);
            Ok(log.contains("Status update for node node2: status active"))
        },
    )?;
    let real_log = hb_nstests::read_log(&real.log_path("node1")?);
    for bad in [
        "authentication failed",
        "bad packet",
        "bad node",
        "replay attack",
        "ERROR: Message",
    ] {
        assert!(
            !real_log.contains(bad),
            "Heartbeat 3.0.6 complained ({bad}):\n{real_log}"
        );
    }
    assert_eq!(
        counters(&ours, "node2")?.auth_failed + counters(&ours, "node2")?.malformed,
        0
    );
    // The Heartbeat node dies; heartbeat-rs takes its group over.
    real.kill("node1")?;
    lab.cut("node1")?;
    wait_for("heartbeat-rs takes over", Duration::from_secs(20), || {
        lab.has_address("node2", "192.0.2.100".parse()?)
    })?;
    assert_eq!(peer_status(&ours, "node2", "node1")?, NodeStatus::Dead);
    Ok(())
}
