//! Ping nodes in simulated time: the built-in ipfail, its hold-down against flapping, and
//! the isolation rule (invariant 6 is checked after every event of each run).

use std::time::Duration;

use hb_core::{AutoFailback, NodeKind, NodeStatus};
use hb_sim::{PING_NODE, Params, Sim};

mod common;
use common::{assert_clean, logs, ms, tail};

fn started(mode: AutoFailback, ipfail: bool, isolation: bool) -> Sim {
    logs();
    let mut sim = Sim::new(Params::two_nodes_with_ping(mode, 11, ipfail, isolation));
    let ok = sim.run_until(ms(3000), |s| s.placement_is(&[0, 1]));
    assert!(ok, "groups not on their preferred nodes\n{}", tail(&sim));
    assert_clean(&sim);
    sim
}

/// Which node holds each group, sampled every keepalive for `d`; counts placement changes.
fn moves_during(sim: &mut Sim, d: Duration) -> usize {
    let step = sim.params.keepalive;
    let mut last = (sim.holders(0), sim.holders(1));
    let mut moves = 0;
    let end = sim.elapsed() + d;
    while sim.elapsed() < end {
        sim.run_for(step);
        let now = (sim.holders(0), sim.holders(1));
        if now != last {
            moves += 1;
            last = now;
        }
    }
    moves
}

#[test]
fn the_ping_node_is_listed_as_a_node_of_type_ping() {
    let sim = started(AutoFailback::On, false, true);
    let snap = sim.core(0).unwrap().snapshot();
    let names: Vec<(&str, NodeKind, NodeStatus)> = snap
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.kind, n.status))
        .collect();
    let ping = PING_NODE.to_string();
    assert_eq!(
        names,
        [
            ("node1", NodeKind::Normal, NodeStatus::Active),
            ("node2", NodeKind::Normal, NodeStatus::Active),
            (ping.as_str(), NodeKind::Ping, NodeStatus::Ping),
        ]
    );
}

#[test]
fn ipfail_hands_the_groups_to_the_peer_that_reaches_more_and_auto_failback_brings_them_back() {
    let mut sim = started(AutoFailback::On, true, true);
    sim.lose_ping(0);
    let p = sim.params.clone();
    // deadping, then ipfail's two keepalives, then a standby exchange.
    let moved = sim.run_until(p.deadtime * 3 + p.settle_bound(), |s| {
        s.placement_is(&[1, 1])
    });
    assert!(moved, "node2 should hold both groups\n{}", tail(&sim));
    // It stays there while node1 cannot reach the ping node.
    assert_eq!(moves_during(&mut sim, p.deadtime * 10), 0);
    sim.restore_ping(0);
    let back = sim.run_until(p.deadtime * 4 + p.settle_bound(), |s| {
        s.placement_is(&[0, 1])
    });
    assert!(back, "auto_failback on: g0 goes home\n{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn with_auto_failback_off_the_groups_stay_where_ipfail_moved_them() {
    let mut sim = started(AutoFailback::Off, true, true);
    sim.lose_ping(0);
    let p = sim.params.clone();
    let moved = sim.run_until(p.deadtime * 3 + p.settle_bound(), |s| {
        s.placement_is(&[1, 1])
    });
    assert!(moved, "{}", tail(&sim));
    sim.restore_ping(0);
    assert_eq!(moves_during(&mut sim, p.deadtime * 10), 0);
    assert!(sim.placement_is(&[1, 1]));
    assert_clean(&sim);
}

#[test]
fn a_flapping_ping_route_moves_groups_at_most_once_per_deadping() {
    let mut sim = started(AutoFailback::On, true, true);
    let p = sim.params.clone();
    let deadping = p.ping.unwrap().deadping;
    // node1's route to the ping node flaps: lost for deadping + 3 keepalives (long enough
    // for the ping node to die here), back for 1 keepalive, forty times.
    let start = sim.elapsed();
    let mut moves = 0;
    for _ in 0..40 {
        sim.lose_ping(0);
        moves += moves_during(&mut sim, deadping + p.keepalive * 3);
        sim.restore_ping(0);
        moves += moves_during(&mut sim, p.keepalive);
    }
    let elapsed = sim.elapsed() - start;
    let bound = (elapsed.as_millis() / deadping.as_millis()) as usize + 1;
    assert!(moves >= 1, "ipfail acted at least once");
    assert!(
        moves <= bound,
        "{moves} placement changes in {elapsed:?}: more than one per deadping ({bound})"
    );
    assert_clean(&sim);
}

#[test]
fn a_node_cut_off_releases_its_groups_and_the_peer_alone_runs_them() {
    let mut sim = started(AutoFailback::On, false, true);
    let p = sim.params.clone();
    sim.cut(0);
    let t = sim.elapsed();
    let ok = sim.run_until(p.isolation_bound() + p.takeover_bound(), |s| {
        s.hosts_active(0) == 0 && s.placement_is(&[1, 1])
    });
    assert!(ok, "{}", tail(&sim));
    let took = sim.elapsed() - t;
    assert!(took <= p.isolation_bound() + p.takeover_bound(), "{took:?}");
    // While cut off, node1 takes nothing over.
    sim.run_for(p.deadtime * 5);
    assert_eq!(sim.hosts_active(0), 0);
    sim.heal(0);
    sim.run_for(p.settle_bound() * 2);
    assert_eq!(sim.converged(), Ok(()));
    assert_clean(&sim);
}

#[test]
fn without_the_isolation_rule_both_sides_hold_the_group_during_the_cut() {
    let mut sim = started(AutoFailback::On, false, false);
    let p = sim.params.clone();
    sim.cut(0);
    sim.run_for(p.takeover_bound() * 2);
    assert_eq!(
        sim.holders(0),
        [0, 1],
        "Heartbeat's behaviour: both hold g0"
    );
    sim.heal(0);
    sim.run_for(p.settle_bound() * 2);
    assert_eq!(sim.converged(), Ok(()));
    assert_clean(&sim);
}

#[test]
fn a_node_booting_without_network_starts_nothing() {
    logs();
    let p = Params::two_nodes_with_ping(AutoFailback::On, 13, false, true);
    let mut sim = Sim::with_down(p.clone(), &[1]);
    sim.cut(0);
    sim.run_for(p.initdead + p.isolation_bound() * 3);
    assert_eq!(sim.hosts_active(0), 0, "{}", tail(&sim));
    // Once the ping node answers, node1 is not isolated and runs everything.
    sim.heal(0);
    let ok = sim.run_until(p.takeover_bound(), |s| s.placement_is(&[0, 0]));
    assert!(ok, "{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn a_node_alone_in_ha_cf_is_never_isolated() {
    logs();
    let mut p = Params::two_nodes_with_ping(AutoFailback::On, 17, false, true);
    p.nodes = 1;
    p.groups = vec![(0, 2)];
    let mut sim = Sim::new(p.clone());
    let ok = sim.run_until(p.initdead + p.takeover_bound(), |s| s.placement_is(&[0]));
    assert!(ok, "{}", tail(&sim));
    // Its route to the ping node goes: it has no peer to leave the group to, so it keeps it.
    sim.lose_ping(0);
    sim.run_for(p.isolation_bound() * 3);
    assert!(sim.placement_is(&[0]), "{}", tail(&sim));
    assert!(!sim.core(0).unwrap().snapshot().isolated);
    assert_clean(&sim);
}

/// `isolation release` without ping nodes: the carrier is the witness. node1's cable is
/// pulled: it releases its group (invariant 6 bounds it) and node2 takes both; the cable back,
/// the groups go home. Without the rule (the control) node1 keeps its group through the cut.
#[test]
fn a_pulled_cable_isolates_its_node_without_ping_nodes_when_the_rule_is_on() {
    for rule in [true, false] {
        logs();
        let mut p = Params::two_nodes(AutoFailback::On, 13);
        p.carrier_isolation = rule;
        let mut sim = Sim::new(p);
        let ok = sim.run_until(ms(3000), |s| s.placement_is(&[0, 1]));
        assert!(ok, "not settled\n{}", tail(&sim));
        sim.pull_cable(0);
        let bound = sim.params.isolation_bound();
        let ok = sim.run_until(bound * 3, |s| s.full_holders(1) == [1]);
        assert!(ok, "node2 does not hold g1\n{}", tail(&sim));
        let ok = sim.run_until(bound * 3, |s| s.full_holders(0).contains(&1));
        assert!(ok, "node2 did not take g0\n{}", tail(&sim));
        sim.run_for(bound);
        let node1_holds = sim.hosts_active(0);
        if rule {
            assert_eq!(node1_holds, 0, "isolated node1 still holds\n{}", tail(&sim));
            assert!(sim.core(0).unwrap().snapshot().isolated);
        } else {
            assert!(node1_holds > 0, "without the rule node1 keeps its group");
        }
        sim.heal(0);
        let ok = sim.run_until(sim.params.settle_bound() * 2, |s| s.placement_is(&[0, 1]));
        assert!(
            ok,
            "groups not home after the cable is back\n{}",
            tail(&sim)
        );
        assert_clean(&sim);
    }
}
