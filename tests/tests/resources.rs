//! The resource manager with real agents, in network namespaces: Debian's OCF agents
//! (`ocf:heartbeat:IPaddr2`, `ocf:heartbeat:Dummy`) run under heartbeat-rs, and application
//! monitoring notices a dead resource, restarts it in place, moves the group past the restart
//! limit, and keeps it away until `cleanup`. Root is required (loud SKIP otherwise; a failure
//! under CI=true).
//!
//! Run after `cargo build --workspace --bins`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use hb_control::{GroupState, ResourceClass, ResourceState};
use hb_nstests::ours::{
    cleanup, first_group_resource, start_settled, status, wait_group_running, wait_monitor_runs,
};
use hb_nstests::{Cluster, ClusterSpec, Failback, Implementation, Lab, root_or_skip, wait_for};

const SECOND: Duration = Duration::from_secs(1);
const DEBIAN_DUMMY: &str = "/usr/lib/ocf/resource.d/heartbeat/Dummy";

fn spec(resources: &str, extra_ha_cf: &[&str], auto_failback: bool) -> ClusterSpec {
    let mut s = ClusterSpec::new(Implementation::Ours, "100/300".parse().expect("timing"));
    s.resources = Some(resources.to_owned());
    s.extra_ha_cf = extra_ha_cf.iter().map(|l| (*l).to_owned()).collect();
    s.auto_failback = if auto_failback {
        Failback::On
    } else {
        Failback::Off
    };
    s
}

fn started<'l>(lab: &'l Lab, spec: ClusterSpec) -> Result<Cluster<'l>> {
    let mut c = Cluster::new(lab, spec)?;
    start_settled(&mut c)?;
    Ok(c)
}

/// Waits until `node` reports the group running (every resource started).
fn wait_running(c: &Cluster<'_>, node: &str) -> Result<()> {
    wait_group_running(c, node, 20 * SECOND)
}

/// The state file Debian's Dummy keeps for resource 2 of group 1 (`$HA_RSCTMP` is the
/// node's `<run-dir>/rsctmp`).
fn dummy_state(c: &Cluster<'_>, node: &str) -> PathBuf {
    c.node_dir(node)
        .join("run/rsctmp")
        .join("Dummy-Dummy_g1_r2.state")
}

fn debian_agents_or_skip(test: &str) -> bool {
    if std::path::Path::new(DEBIAN_DUMMY).exists() {
        return true;
    }
    hb_nstests::skip_or_fail(test, "Debian's resource-agents package is not installed")
}

#[test]
fn debian_ocf_ipaddr2_and_dummy_run_under_our_manager() -> Result<()> {
    let name = "debian_ocf_ipaddr2_and_dummy_run_under_our_manager";
    if !root_or_skip(name) || !debian_agents_or_skip(name) {
        return Ok(());
    }
    let lab = Lab::new("ocf")?;
    let mut c = started(
        &lab,
        spec(
            "ocf:heartbeat:IPaddr2::ip=192.0.2.100::cidr_netmask=24::nic=eth0 ocf:heartbeat:Dummy",
            &["monitor default interval=500ms"],
            false,
        ),
    )?;
    let s = status(&c, "node1")?;
    let g = &s.groups[0];
    assert_eq!(g.state, GroupState::Running, "{s:?}");
    assert_eq!(g.resources[0].class, Some(ResourceClass::Ocf), "{s:?}");
    assert_eq!(g.resources[1].state, ResourceState::Running, "{s:?}");
    assert_eq!(g.resources[1].monitor_interval_ms, 500, "{s:?}");
    assert!(dummy_state(&c, "node1").exists(), "Dummy started on node1");
    assert!(!dummy_state(&c, "node2").exists(), "and not on node2");
    // Monitors run and pass: nothing fails for a while (four more monitor runs, 2 s at the
    // 500 ms interval).
    let s = wait_monitor_runs(&c, "node1", 1, 4, 10 * SECOND)?;
    assert_eq!(s.groups[0].resources[1].failures, 0, "{s:?}");
    // A graceful stop hands both agents' resources over, in order.
    c.stop("node1", 20 * SECOND)?;
    c.wait_for_sole_holder("node2", 10 * SECOND)?;
    wait_running(&c, "node2")?;
    assert!(dummy_state(&c, "node2").exists(), "Dummy started on node2");
    assert!(!dummy_state(&c, "node1").exists(), "node1 stopped Dummy");
    Ok(())
}

fn resource(c: &Cluster<'_>, node: &str) -> Result<hb_control::Resource> {
    first_group_resource(c, node, 1)
}

#[test]
fn a_dead_resource_is_restarted_then_moved_and_kept_away_until_cleanup() -> Result<()> {
    let name = "a_dead_resource_is_restarted_then_moved_and_kept_away_until_cleanup";
    if !root_or_skip(name) || !debian_agents_or_skip(name) {
        return Ok(());
    }
    let lab = Lab::new("mon")?;
    let c = started(
        &lab,
        spec(
            "IPaddr::192.0.2.100/24/eth0 ocf:heartbeat:Dummy",
            &["monitor default interval=200ms restarts=1 window=60"],
            true,
        ),
    )?;
    // The "application" dies: Dummy's state file disappears behind the manager's back.
    let killed = Instant::now();
    std::fs::remove_file(dummy_state(&c, "node1"))?;
    wait_for("an in-place restart on node1", 5 * SECOND, || {
        let r = resource(&c, "node1")?;
        Ok(r.restarts == 1
            && r.state == ResourceState::Running
            && dummy_state(&c, "node1").exists())
    })?;
    eprintln!(
        "dead resource restarted in place {:.0} ms after it died (monitor interval 200 ms)",
        killed.elapsed().as_secs_f64() * 1000.0
    );
    let r = resource(&c, "node1")?;
    assert_eq!(r.failures, 1, "{r:?}");
    assert_eq!(
        r.last_failure_reason.as_deref(),
        Some("is not running"),
        "{r:?}"
    );
    ensure!(c.vip_holders()? == ["node1"], "the group stayed on node1");

    // Second failure within the window: past the limit, the group moves to node2.
    std::fs::remove_file(dummy_state(&c, "node1"))?;
    c.wait_for_sole_holder("node2", 10 * SECOND)?;
    wait_running(&c, "node2")?;
    assert!(dummy_state(&c, "node2").exists(), "Dummy started on node2");
    let s = status(&c, "node1")?;
    assert!(s.groups[0].failed_here, "{s:?}");
    let why = s.groups[0].failure.as_deref().unwrap_or_default();
    assert!(why.contains("restart limit 1"), "{s:?}");
    // auto_failback is on, yet the group stays away from the node where it failed: ten
    // more monitor runs on node2 (2 s at the 200 ms interval), and node2 still holds it.
    wait_monitor_runs(&c, "node2", 1, 10, 10 * SECOND)?;
    ensure!(c.vip_holders()? == ["node2"], "moved back before cleanup");

    // The operator clears the failure: auto_failback brings the group home.
    let cleared = cleanup(&c, "node1", Some("IPaddr::192.0.2.100/24/eth0"))?;
    assert_eq!(cleared, ["IPaddr::192.0.2.100/24/eth0"]);
    c.wait_for_sole_holder("node1", 10 * SECOND)?;
    wait_running(&c, "node1")?;
    let s = status(&c, "node1")?;
    assert!(!s.groups[0].failed_here, "{s:?}");
    // Unknown groups are refused with a reason.
    let bad = cleanup(&c, "node1", Some("nope"));
    assert!(
        bad.unwrap_err().to_string().contains("no resource group"),
        "unknown group refused"
    );
    Ok(())
}
