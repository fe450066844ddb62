//! Live reload (SIGHUP, what `systemctl reload heartbeat` sends) between two heartbeat-rs
//! nodes in namespaces: groups added, edited and removed while a client probes the untouched
//! VIP, which must never blink; the two nodes reload at different moments; a bad edit is
//! refused with its `file:line` and changes nothing; timings apply at once and a media
//! change is named as needing a restart. Root is required.
//!
//! Run after `cargo build --workspace --bins`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use hb_control::{GroupState, NodeStatus};
use hb_nstests::ours::{peer_status, start_settled, status};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, LogFollower, ProbeConfig, ProbeRecord, root_or_skip,
    wait_for,
};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);
const VIP_A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const VIP_B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 101);
const VIP_C: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 102);
/// Rounds of add, edit and remove in the blink test.
const ROUNDS: usize = 5;
const GROUP_A: &str = "node1 IPaddr::192.0.2.100/24/eth0\n";
const GROUP_B: &str = "node2 IPaddr::192.0.2.101/24/eth0\n";
const GROUP_B_EDITED: &str = "node2 IPaddr::192.0.2.101/24/eth0 IPaddr::192.0.2.102/24/eth0\n";

fn spec() -> ClusterSpec {
    let mut s = ClusterSpec::new(Implementation::Ours, "100/300".parse().expect("timing"));
    s.haresources = Some(GROUP_A.to_owned());
    s
}

/// Starts both nodes and waits until node1 runs group A and each sees the other active.
fn started<'l>(lab: &'l Lab) -> Result<Cluster<'l>> {
    let mut c = Cluster::new(lab, spec())?;
    start_settled(&mut c)?;
    Ok(c)
}

fn config_file(c: &Cluster<'_>, node: &str, file: &str) -> PathBuf {
    c.node_dir(node).join("config").join(file)
}

fn write(c: &Cluster<'_>, node: &str, file: &str, text: &str) -> Result<()> {
    let path = config_file(c, node, file);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

/// Gives both nodes the same new `haresources` (each reloads it when the test says).
fn write_both(c: &Cluster<'_>, haresources: &str) -> Result<()> {
    for node in ["node1", "node2"] {
        write(c, node, "haresources", haresources)?;
    }
    Ok(())
}

/// Reloads `node` and asserts that one of the lines logged meanwhile contains `needle`.
fn reload_logs(c: &Cluster<'_>, node: &str, needle: &str) -> Result<()> {
    let lines = reload(c, node, "SIGHUP: configuration reloaded")?;
    anyhow::ensure!(
        lines.iter().any(|l| l.contains(needle)),
        "{node} did not log {needle:?}: {lines:#?}"
    );
    Ok(())
}

/// Sends SIGHUP to `node`'s daemon and waits for the log line that says how it ended
/// (`SIGHUP: configuration reloaded`, `Configuration unchanged.` or a refusal); returns
/// the lines logged meanwhile.
fn reload(c: &Cluster<'_>, node: &str, expect: &str) -> Result<Vec<String>> {
    let mut log = LogFollower::from_end(c.log_path(node)?)?;
    c.proc(node)?.signal(Signal::SIGHUP)?;
    let mut lines = Vec::new();
    wait_for(&format!("{node} logs {expect:?}"), 10 * SECOND, || {
        lines.extend(log.new_lines()?);
        Ok(lines.iter().any(|l| l.contains(expect)))
    })?;
    Ok(lines)
}

/// Waits until the group whose key is `key` has state `state` on `node`.
fn wait_group(c: &Cluster<'_>, node: &str, key: &str, state: GroupState) -> Result<()> {
    wait_for(&format!("{key} {state:?} on {node}"), 10 * SECOND, || {
        Ok(status(c, node)?
            .groups
            .iter()
            .any(|g| g.key == key && g.state == state))
    })?;
    Ok(())
}

/// Every probe of the untouched VIP succeeded and was answered by node1, and the probes
/// cover `from..to` (one started before, one after); prints the figures.
fn never_blinked(record: &ProbeRecord, from: Instant, to: Instant) -> Result<()> {
    let n = record.probes.len();
    let failed = n - record.successes();
    let elsewhere = record
        .probes
        .iter()
        .filter(|p| p.outcome.is_success() && p.outcome.answered_by() != Some("node1"))
        .count();
    let gap = record
        .probes
        .windows(2)
        .map(|w| w[1].start.saturating_duration_since(w[0].start))
        .max()
        .unwrap_or_default();
    println!(
        "untouched VIP {VIP_A}: {n} client probes, {failed} failed, {elsewhere} answered by another \
         node, longest gap between probes {} ms",
        gap.as_millis()
    );
    println!(
        "{ROUNDS} rounds of reloads took {} ms from the first SIGHUP to the last change",
        to.saturating_duration_since(from).as_millis()
    );
    anyhow::ensure!(
        record.probes.first().is_some_and(|p| p.start < from)
            && record.probes.last().is_some_and(|p| p.start > to),
        "the probes do not cover the reloads"
    );
    anyhow::ensure!(
        failed == 0 && elsewhere == 0,
        "the untouched VIP blinked: {failed} probes failed, {elsewhere} answered elsewhere"
    );
    Ok(())
}

#[test]
fn groups_added_edited_and_removed_while_the_untouched_vip_never_blinks() -> Result<()> {
    if !root_or_skip("groups_added_edited_and_removed_while_the_untouched_vip_never_blinks") {
        return Ok(());
    }
    let lab = Lab::new("reload")?;
    lab.start_listener("node1", 80)?;
    lab.start_listener("node2", 80)?;
    let c = started(&lab)?;
    let since = status(&c, "node1")?.groups[0].since;
    let prober = lab.start_prober(
        "client",
        SocketAddrV4::new(VIP_A, 80),
        ProbeConfig {
            interval: Duration::from_millis(5),
            ..ProbeConfig::default()
        },
    )?;

    wait_for("the client's first probe", 5 * SECOND, || {
        Ok(prober.completed() > 0)
    })?;
    let from = Instant::now();

    // Five rounds of add, edit and remove: the client keeps probing the untouched VIP.
    for _round in 0..ROUNDS {
        // Added, node1 first: the group prefers node2, which does not have it yet: nobody
        // starts it until node2 reloads too.
        write_both(&c, &format!("{GROUP_A}{GROUP_B}"))?;
        reload_logs(
            &c,
            "node1",
            "haresources: added IPaddr::192.0.2.101/24/eth0",
        )?;
        wait_group(
            &c,
            "node1",
            "IPaddr::192.0.2.101/24/eth0",
            GroupState::Stopped,
        )?;
        assert!(lab.address_holders(VIP_B)?.is_empty());
        reload(&c, "node2", "SIGHUP: configuration reloaded")?;
        wait_group(
            &c,
            "node2",
            "IPaddr::192.0.2.101/24/eth0",
            GroupState::Running,
        )?;
        assert_eq!(lab.address_holders(VIP_B)?, ["node2"]);

        // Edited (a second address), node2 first: stopped with its old definition and started
        // with the new one there (same preferred node on both files, so no wait for node1);
        // node1's reload later changes nothing.
        write_both(&c, &format!("{GROUP_A}{GROUP_B_EDITED}"))?;
        reload_logs(&c, "node2", "changed in haresources: stopping it here")?;
        wait_for(
            "node2 holds both addresses of the edited group",
            10 * SECOND,
            || {
                Ok(lab.address_holders(VIP_B)? == ["node2"]
                    && lab.address_holders(VIP_C)? == ["node2"])
            },
        )?;
        wait_group(
            &c,
            "node2",
            "IPaddr::192.0.2.101/24/eth0",
            GroupState::Running,
        )?;
        reload(&c, "node1", "SIGHUP: configuration reloaded")?;
        wait_for(
            "node1 learned node2 holds the edited group",
            10 * SECOND,
            || {
                Ok(status(&c, "node1")?.groups.iter().any(|g| {
                    g.key.ends_with(".101/24/eth0") && g.holder.as_deref() == Some("node2")
                }))
            },
        )?;
        assert_eq!(lab.address_holders(VIP_C)?, ["node2"]);

        // Removed, node1 first (it does not run it: nothing to do), then node2 stops it.
        write_both(&c, GROUP_A)?;
        reload(&c, "node1", "SIGHUP: configuration reloaded")?;
        assert_eq!(lab.address_holders(VIP_B)?, ["node2"]);
        reload(&c, "node2", "SIGHUP: configuration reloaded")?;
        wait_for(
            "the removed group's addresses are gone",
            10 * SECOND,
            || Ok(lab.address_holders(VIP_B)?.is_empty() && lab.address_holders(VIP_C)?.is_empty()),
        )?;
        assert_eq!(status(&c, "node2")?.groups.len(), 1);
    }
    let to = Instant::now();
    let after_to = prober.completed() + 1;
    wait_for("a probe after the last reload", 5 * SECOND, || {
        Ok(prober.completed() > after_to)
    })?;

    let record = prober.stop()?;
    never_blinked(&record, from, to)?;
    // No agent ran for the untouched group: its state never changed.
    let after = status(&c, "node1")?.groups;
    assert_eq!(after[0].state, GroupState::Running);
    assert_eq!(
        after[0].since, since,
        "group A changed state during the reloads"
    );
    c.check_running()?;
    Ok(())
}

#[test]
fn a_bad_edit_is_refused_with_its_line_and_nothing_stops() -> Result<()> {
    if !root_or_skip("a_bad_edit_is_refused_with_its_line_and_nothing_stops") {
        return Ok(());
    }
    let lab = Lab::new("badreload")?;
    let c = started(&lab)?;
    let since = status(&c, "node1")?.groups[0].since;
    // Line 2 names a node that is not in ha.cf.
    write(
        &c,
        "node1",
        "haresources",
        &format!("{GROUP_A}node9 IPaddr::192.0.2.101\n"),
    )?;
    let lines = reload(&c, "node1", "nothing applied")?;
    let path = config_file(&c, "node1", "haresources");
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("{}:2:", path.display()))),
        "no file:line in {lines:#?}"
    );
    // A broken ha.cf is refused the same way.
    let ha_cf = std::fs::read_to_string(config_file(&c, "node1", "ha.cf"))?;
    write(&c, "node1", "haresources", GROUP_A)?;
    write(&c, "node1", "ha.cf", &format!("{ha_cf}keepalive soon\n"))?;
    let lines = reload(&c, "node1", "nothing applied")?;
    assert!(
        lines.iter().any(|l| l.contains("ha.cf:")),
        "no ha.cf line in {lines:#?}"
    );
    write(&c, "node1", "ha.cf", &ha_cf)?;
    reload(&c, "node1", "Configuration unchanged.")?;
    let s = status(&c, "node1")?;
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.groups[0].state, GroupState::Running);
    assert_eq!(s.groups[0].since, since, "the group was touched");
    assert_eq!(lab.address_holders(VIP_A)?, ["node1"]);
    c.check_running()?;
    Ok(())
}

#[test]
fn timings_failback_and_monitor_rules_apply_at_once_and_a_media_change_waits() -> Result<()> {
    if !root_or_skip("timings_failback_and_monitor_rules_apply_at_once_and_a_media_change_waits") {
        return Ok(());
    }
    let lab = Lab::new("timreload")?;
    let c = started(&lab)?;
    let since = status(&c, "node1")?.groups[0].since;
    let ha_cf = std::fs::read_to_string(config_file(&c, "node1", "ha.cf"))?;
    let retimed = ha_cf
        .replace("deadtime 300ms", "deadtime 900ms")
        .replace("auto_failback off", "auto_failback on")
        .replace(
            "bcast eth0",
            "bcast eth0\nudpport 7694\nmonitor default interval=7",
        );
    anyhow::ensure!(retimed != ha_cf, "unexpected ha.cf:\n{ha_cf}");
    write(&c, "node1", "ha.cf", &retimed)?;
    let lines = reload(&c, "node1", "SIGHUP: configuration reloaded")?;
    assert!(
        lines
            .iter()
            .any(|l| l.contains("timing changed: keepalive 100 ms, deadtime 900 ms")),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("not applied until heartbeat restarts: udpport")),
        "{lines:#?}"
    );
    // auto_failback and the monitor rule apply at once too, without touching the group.
    for needle in [
        "auto_failback on (applied now",
        "monitor rules changed (applied now)",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(needle)),
            "{needle}: {lines:#?}"
        );
    }
    // The new deadtime is what cl_status hbparameter reports now.
    let s = status(&c, "node1")?;
    let dt = s.parameters.get("deadtime").cloned().unwrap_or_default();
    assert!(dt.starts_with("900"), "deadtime parameter {dt:?}");
    assert_eq!(s.groups[0].since, since, "the group was touched");
    // Both nodes still talk (the udpport change was not applied).
    assert_eq!(peer_status(&c, "node1", "node2")?, NodeStatus::Active);
    assert_eq!(peer_status(&c, "node2", "node1")?, NodeStatus::Active);
    c.check_running()?;
    Ok(())
}
