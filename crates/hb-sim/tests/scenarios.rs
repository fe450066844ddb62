//! Two-node scenarios of the core's decisions, in simulated time.

use hb_core::{AgentOp, AutoFailback, Class, Command, GroupState, NodeStatus};
use hb_sim::{Params, Sim};

mod common;
use common::{assert_clean, logs, ms, tail};

const MODES: [AutoFailback; 3] = [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy];

/// Starts both nodes and waits until each group runs on its preferred node.
fn started(mode: AutoFailback) -> Sim {
    logs();
    let mut sim = Sim::new(Params::two_nodes(mode, 7));
    let ok = sim.run_until(ms(3000), |s| s.placement_is(&[0, 1]));
    assert!(
        ok,
        "{mode:?}: groups not on their preferred nodes after 3 s\n{}",
        tail(&sim)
    );
    assert_clean(&sim);
    sim
}

#[test]
fn simultaneous_start_puts_each_group_on_its_node_without_heartbeats_10s_delay() {
    for mode in MODES {
        let sim = started(mode);
        // Both nodes heard each other within a keepalive, so far below Heartbeat's ~11 s.
        assert!(
            sim.elapsed() < ms(500),
            "{mode:?}: took {:?}",
            sim.elapsed()
        );
        for n in 0..2 {
            assert_eq!(
                sim.core(n).unwrap().node_status(&format!("node{}", 2 - n)),
                Some(NodeStatus::Active)
            );
        }
    }
}

#[test]
fn a_crashed_holder_is_replaced_within_deadtime_plus_agent_time() {
    for mode in MODES {
        let mut sim = started(mode);
        sim.run_for(ms(1000));
        let crashed_at = sim.elapsed();
        sim.crash(0);
        // Node1's resources stay active on its host (kill -9); node2 starts group 0 too.
        let ok = sim.run_until(ms(2000), |s| s.full_holders(0).contains(&1));
        assert!(ok, "{mode:?}: no takeover\n{}", tail(&sim));
        let took = sim.elapsed() - crashed_at;
        let p = &sim.params;
        assert!(
            took <= p.deadtime + p.agent_time.1 * 2 + ms(2),
            "{mode:?}: takeover after {took:?}"
        );
        assert!(
            took >= p.deadtime - p.keepalive,
            "{mode:?}: takeover too early {took:?}"
        );
        assert_clean(&sim);
    }
}

#[test]
fn a_restarted_node_stops_what_its_crashed_daemon_left_behind() {
    for mode in MODES {
        let mut sim = started(mode);
        sim.crash(0);
        assert!(sim.run_until(ms(2000), |s| s.full_holders(0).contains(&1)));
        assert_eq!(
            sim.holders(0),
            [0, 1],
            "{mode:?}: the duplicate exists while node1's daemon is dead"
        );
        sim.restart(0);
        // The probe finds group 0 running on node1 and stops it before negotiating.
        let ok = sim.run_until(ms(200), |s| s.holders(0) == [1] || s.holders(0) == [0]);
        assert!(ok, "{mode:?}: duplicate not cleared\n{}", tail(&sim));
        assert!(
            sim.run_until(ms(5000), |s| s.converged().is_ok()),
            "{mode:?}: {:?}",
            sim.converged()
        );
        match mode {
            AutoFailback::Off => assert!(sim.placement_is(&[1, 1]), "off: group 0 stays on node2"),
            _ => assert!(
                sim.run_until(ms(3000), |s| s.placement_is(&[0, 1])),
                "{mode:?}: failback\n{}",
                tail(&sim)
            ),
        }
        assert_clean(&sim);
    }
}

#[test]
fn graceful_stop_hands_over_without_waiting_for_deadtime() {
    for mode in MODES {
        let mut sim = started(mode);
        let at = sim.elapsed();
        sim.shutdown(0);
        let ok = sim.run_until(ms(1000), |s| s.placement_is(&[1, 1]));
        assert!(ok, "{mode:?}: no handover\n{}", tail(&sim));
        let took = sim.elapsed() - at;
        assert!(
            took < sim.params.deadtime,
            "{mode:?}: handover took {took:?}, not below deadtime"
        );
        assert!(
            sim.run_until(ms(3000), |s| !s.is_running(0)),
            "{mode:?}: node1 never exited"
        );
        assert_clean(&sim);
    }
}

#[test]
fn a_cut_holder_loses_its_group_and_after_the_heal_exactly_one_holds_each() {
    for mode in MODES {
        let mut sim = started(mode);
        sim.cut(0);
        assert!(
            sim.run_until(ms(1000), |s| s.full_holders(0).contains(&1)),
            "{mode:?}: no takeover"
        );
        // Split brain: node1 also takes node2's group while cut off.
        assert!(
            sim.run_until(ms(1000), |s| s.full_holders(1).contains(&0)),
            "{mode:?}: node1 alone should take all"
        );
        sim.run_for(ms(500));
        sim.heal(0);
        let bound = sim.params.keepalive * 6 + sim.params.agent_time.1 * 8;
        let ok = sim.run_until(bound, |s| {
            s.holders(0).len() == 1 && s.holders(1).len() == 1
        });
        assert!(
            ok,
            "{mode:?}: dual holding not resolved within {bound:?}\n{}",
            tail(&sim)
        );
        // Rule: the earlier acquisition wins, so each node keeps its own group.
        assert_eq!(
            (sim.holders(0), sim.holders(1)),
            (vec![0], vec![1]),
            "{mode:?}"
        );
        sim.run_for(ms(3000));
        assert!(
            sim.placement_is(&[0, 1]),
            "{mode:?}: no flapping afterwards\n{}",
            tail(&sim)
        );
        assert_clean(&sim);
    }
}

#[test]
fn auto_failback_decides_whether_a_returning_node_gets_its_group_back() {
    for mode in MODES {
        let mut sim = started(mode);
        sim.shutdown(0);
        assert!(sim.run_until(ms(3000), |s| !s.is_running(0) && s.placement_is(&[1, 1])));
        sim.restart(0);
        sim.run_for(ms(3000));
        let expected = if mode == AutoFailback::Off {
            [1, 1]
        } else {
            [0, 1]
        };
        assert!(
            sim.placement_is(&expected),
            "{mode:?}: expected {expected:?}\n{}",
            tail(&sim)
        );
        assert_clean(&sim);
    }
}

#[test]
fn a_failed_start_stops_what_started_and_the_peer_takes_the_group() {
    let mut sim = Sim::new(Params::two_nodes(AutoFailback::On, 3));
    // Node1 cannot start the second resource of its group.
    sim.fail_agent(0, 0, 1, AgentOp::Start);
    assert!(
        sim.run_until(ms(3000), |s| s.placement_is(&[1, 1])),
        "group 0 did not move\n{}",
        tail(&sim)
    );
    let core = sim.core(0).unwrap();
    assert_eq!(core.group_state(0), Some(GroupState::Stopped));
    assert!(core.snapshot().groups[0].failed_here);
    // And it stays there: no failback to a node where it failed.
    sim.run_for(ms(3000));
    assert!(sim.placement_is(&[1, 1]), "{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn a_failed_stop_leaves_the_group_unmanaged_and_never_started_elsewhere() {
    let mut sim = started(AutoFailback::On);
    sim.fail_agent(0, 0, 0, AgentOp::Stop);
    sim.command(0, Command::Standby(Class::All));
    sim.run_for(ms(3000));
    assert_eq!(
        sim.core(0).unwrap().group_state(0),
        Some(GroupState::Failed)
    );
    assert_eq!(
        sim.holders(0),
        [0],
        "group 0 must not start on node2 while node1 may still run it"
    );
    assert_clean(&sim);
}

#[test]
fn standby_and_takeover_move_groups_with_heartbeats_three_phase_exchange() {
    // Heartbeat refuses standby requests while resources are in flux, so each step waits
    // until both nodes report a settled resource class (cl_status rscstatus != transition).
    let settled = |s: &Sim, p: [usize; 2]| {
        s.placement_is(&p) && (0..2).all(|n| s.core(n).unwrap().snapshot().rsc_class.is_some())
    };
    let mut sim = started(AutoFailback::Off);
    sim.command(0, Command::Standby(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| settled(s, [1, 1])),
        "standby all\n{}",
        tail(&sim)
    );
    sim.command(0, Command::Takeover(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| settled(s, [0, 0])),
        "takeover all\n{}",
        tail(&sim)
    );
    sim.command(1, Command::Takeover(Class::Local));
    assert!(
        sim.run_until(ms(2000), |s| settled(s, [0, 1])),
        "takeover local\n{}",
        tail(&sim)
    );
    sim.command(1, Command::Standby(Class::Foreign));
    sim.run_for(ms(500));
    assert!(
        settled(&sim, [0, 1]),
        "standby foreign with nothing foreign moves nothing\n{}",
        tail(&sim)
    );
    assert_clean(&sim);
}

#[test]
fn a_node_alone_takes_everything_after_initdead() {
    for mode in MODES {
        // node2 never starts.
        let mut sim = Sim::with_down(Params::two_nodes(mode, 11), &[1]);
        let ok = sim.run_until(ms(3000), |s| {
            s.full_holders(0) == [0] && s.full_holders(1) == [0]
        });
        assert!(ok, "{mode:?}\n{}", tail(&sim));
        assert!(
            sim.elapsed() >= sim.params.initdead,
            "{mode:?}: must wait for initdead"
        );
        assert_clean(&sim);
    }
}

#[test]
fn a_node_alone_stops_gracefully_without_waiting_for_an_acknowledgement() {
    let mut sim = Sim::with_down(Params::two_nodes(AutoFailback::On, 13), &[1]);
    // Stopped before initdead: node2 was never heard (init), nobody can acknowledge.
    sim.run_for(ms(100));
    sim.shutdown(0);
    assert!(
        sim.run_until(ms(50), |s| !s.is_running(0)),
        "node1 lingered for a peer never heard\n{}",
        tail(&sim)
    );
    // Alone after initdead with every group: stops them one by one, then exits at once.
    sim.restart(0);
    assert!(sim.run_until(ms(3000), |s| s.full_holders(0) == [0]
        && s.full_holders(1) == [0]));
    let at = sim.elapsed();
    sim.shutdown(0);
    assert!(
        sim.run_until(ms(1000), |s| !s.is_running(0)),
        "node1 never exited\n{}",
        tail(&sim)
    );
    let took = sim.elapsed() - at;
    assert!(took <= sim.params.agent_time.1 * 4 + ms(1), "took {took:?}");
    assert!(sim.holders(0).is_empty() && sim.holders(1).is_empty());
    assert_clean(&sim);
}

// ----- application monitoring -----

fn restarts(sim: &Sim, n: usize, g: usize) -> u64 {
    sim.core(n).unwrap().snapshot().groups[g]
        .resources
        .iter()
        .map(|r| r.restarts)
        .sum()
}

#[test]
fn a_dead_application_is_restarted_in_place_with_what_follows_it() {
    for mode in MODES {
        let mut sim = started(mode);
        // Resource 0 of group 0 dies on node1: resource 1 depends on it and restarts too.
        let at = sim.elapsed();
        sim.kill_resource(0, 0, 0);
        assert!(
            sim.run_until(ms(1000), |s| s.full_holders(0) == [0]
                && restarts(s, 0, 0) == 1),
            "{mode:?}: not restarted\n{}",
            tail(&sim)
        );
        let took = sim.elapsed() - at;
        let p = &sim.params;
        let bound = p.monitor.interval.unwrap() + p.agent_time.1 * 5 + ms(1);
        assert!(
            took <= bound,
            "{mode:?}: recovery took {took:?} > {bound:?}"
        );
        let snap = sim.core(0).unwrap().snapshot();
        assert_eq!(snap.groups[0].resources[0].failures, 1);
        assert!(snap.groups[0].resources[0].last_failure.is_some());
        assert!(!snap.groups[0].failed_here);
        // The group never moved.
        assert_eq!(sim.holders(0), [0], "{mode:?}");
        assert_clean(&sim);
    }
}

#[test]
fn past_the_restart_limit_the_group_moves_and_stays_away_until_cleanup() {
    for mode in [AutoFailback::On, AutoFailback::Off] {
        let mut sim = started(mode);
        let limit = sim.params.monitor.restarts;
        for i in 0..limit {
            sim.kill_resource(0, 0, 1);
            assert!(
                sim.run_until(ms(1000), |s| restarts(s, 0, 0) == u64::from(i + 1)
                    && s.full_holders(0) == [0]),
                "{mode:?}: restart {i}\n{}",
                tail(&sim)
            );
        }
        sim.kill_resource(0, 0, 1);
        assert!(
            sim.run_until(ms(2000), |s| s.full_holders(0) == [1]
                && s.holders(0) == [1]),
            "{mode:?}: the group did not move to node2\n{}",
            tail(&sim)
        );
        assert!(sim.core(0).unwrap().group_failed_here(0));
        // Sticky: even with auto_failback on it does not come back.
        sim.run_for(ms(3000));
        assert_eq!(sim.holders(0), [1], "{mode:?}: came back before cleanup");
        // Cleanup: with auto_failback on the group returns to its preferred node.
        sim.command(0, Command::Cleanup(Some(0)));
        assert!(!sim.core(0).unwrap().group_failed_here(0));
        sim.run_for(ms(2000));
        let expected = if mode == AutoFailback::On { [0] } else { [1] };
        assert_eq!(sim.holders(0), expected, "{mode:?}\n{}", tail(&sim));
        assert_clean(&sim);
    }
}

#[test]
fn a_restart_whose_start_fails_moves_the_group_at_once() {
    for mode in [AutoFailback::On, AutoFailback::Off] {
        let mut sim = started(mode);
        sim.fail_agent(0, 0, 1, AgentOp::Start);
        sim.kill_resource(0, 0, 1);
        assert!(
            sim.run_until(ms(2000), |s| s.full_holders(0) == [1]
                && s.holders(0) == [1]),
            "{mode:?}: no move\n{}",
            tail(&sim)
        );
        assert!(sim.core(0).unwrap().group_failed_here(0));
        assert_clean(&sim);
    }
}

#[test]
fn a_failure_with_no_peer_leaves_the_group_stopped_until_cleanup() {
    let mut sim = started(AutoFailback::On);
    sim.shutdown(1);
    assert!(sim.run_until(ms(3000), |s| !s.is_running(1) && s.placement_is(&[0, 0])));
    sim.fail_agent(0, 0, 1, AgentOp::Start);
    sim.kill_resource(0, 0, 1);
    assert!(
        sim.run_until(ms(2000), |s| s.holders(0).is_empty()
            && s.core(0).unwrap().group_failed_here(0)),
        "{}",
        tail(&sim)
    );
    // Group 1 (node2's) is unaffected.
    assert_eq!(sim.full_holders(1), [0]);
    // Once the start is fixed, cleanup starts the group again.
    assert!(sim.core(0).unwrap().snapshot().groups[0].failed_here);
    sim.clear_agent_faults(0);
    sim.command(0, Command::Cleanup(None));
    assert!(
        sim.run_until(ms(1000), |s| s.full_holders(0) == [0]),
        "{}",
        tail(&sim)
    );
    assert_clean(&sim);
}

#[test]
fn a_failed_stop_during_a_restart_leaves_the_group_unmanaged_until_cleanup() {
    for mode in [AutoFailback::On, AutoFailback::Off] {
        let mut sim = started(mode);
        sim.fail_agent(0, 0, 1, AgentOp::Stop);
        sim.kill_resource(0, 0, 0);
        assert!(
            sim.run_until(ms(1000), |s| s.core(0).unwrap().group_state(0)
                == Some(GroupState::Failed)),
            "{mode:?}\n{}",
            tail(&sim)
        );
        // Unmanaged: it is never started on node2 while node1 may still run part of it.
        sim.run_for(ms(2000));
        assert_eq!(
            sim.core(1).unwrap().group_state(0),
            Some(GroupState::Stopped)
        );
        assert!(!sim.core(0).unwrap().snapshot().groups[0].managed);
        // The operator repairs the stop and clears: node1 probes, stops, and restarts it.
        sim.clear_agent_faults(0);
        sim.command(0, Command::Cleanup(Some(0)));
        assert!(
            sim.run_until(ms(1000), |s| s.full_holders(0) == [0]
                && s.core(0).unwrap().group_state(0) == Some(GroupState::Running)),
            "{mode:?}\n{}",
            tail(&sim)
        );
        assert_clean(&sim);
    }
}

#[test]
fn a_dead_peers_recorded_heartbeats_replayed_after_our_restart_are_dropped() {
    for mode in MODES {
        let mut sim = started(mode);
        sim.run_for(ms(1000));
        // node2 dies for good; then node1's daemon crashes and starts again, and an attacker
        // replays everything node1 had received from node2 before its last write.
        sim.crash(1);
        sim.run_for(ms(50));
        sim.crash(0);
        sim.restart(0);
        sim.replay_recorded(0);
        sim.run_for(ms(100));
        assert_clean(&sim);
        let core = sim.core(0).unwrap();
        assert_eq!(
            core.node_status("node2"),
            Some(NodeStatus::Init),
            "{mode:?}: a replay revived node2\n{}",
            tail(&sim)
        );
        let counters = core.snapshot().counters;
        assert!(counters.replayed > 10, "{mode:?}: {counters:?}");
        assert_eq!(counters.accepted, 0, "{mode:?}: {counters:?}");
    }
}

/// Heartbeat 3.0.6 gives foreign groups back only when they were taken because their node
/// died or left (`rsc_needs_failback`, set by a mach_down takeover in hb_resource.c), never
/// after an operator moved them: `hb_standby all` on the owner must stick with
/// `auto_failback on` (capture A2-standby-takeover: node2 still holds all 15 s later).
#[test]
fn with_auto_failback_on_a_standby_sticks_but_a_takeover_after_death_fails_back() {
    let settled = |s: &Sim, p: [usize; 2]| {
        s.placement_is(&p) && (0..2).all(|n| s.core(n).unwrap().snapshot().rsc_class.is_some())
    };
    let mut sim = started(AutoFailback::On);
    sim.command(0, Command::Standby(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| settled(s, [1, 1])),
        "standby all\n{}",
        tail(&sim)
    );
    // Simulated time: ten deadtimes pass with both nodes up; node2 must not give g0 back.
    sim.run_for(ms(10_000));
    assert!(
        settled(&sim, [1, 1]),
        "standby all on node1 with auto_failback on: node2 handed the group back\n{}",
        tail(&sim)
    );
    // node1 leaves and returns: node2 took g0 over as a mach_down takeover (Heartbeat's
    // takeover_from_node), so g0 goes home.
    sim.shutdown(0);
    assert!(sim.run_until(ms(3000), |s| !s.is_running(0) && s.placement_is(&[1, 1])));
    sim.restart(0);
    assert!(
        sim.run_until(ms(5000), |s| settled(s, [0, 1])),
        "after node1 left and returned, g0 must fail back\n{}",
        tail(&sim)
    );
    // ...and the next standby sticks again: the failback used up the mark. (Simulated time
    // for node1 to hear node2's stable report: Heartbeat refuses a standby before it.)
    sim.run_for(ms(1000));
    sim.command(0, Command::Standby(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| settled(s, [1, 1])),
        "second standby all\n{}",
        tail(&sim)
    );
    sim.run_for(ms(10_000));
    assert!(
        settled(&sim, [1, 1]),
        "second standby undone\n{}",
        tail(&sim)
    );
    assert_clean(&sim);
}

#[test]
fn rscstatus_of_a_node_without_groups_of_its_own_follows_heartbeats_flags() {
    // Heartbeat 3.0.6 reports `local` on a node that has no group of its own once its
    // start-up acquisition is done, and `all` after it took the peer's groups by standby
    // (its i_hold_resources flags); found by the migration walk (tests/tests/migration.rs).
    logs();
    let mut params = Params::two_nodes(AutoFailback::On, 7);
    params.groups = vec![(0, 1)];
    let mut sim = Sim::new(params);
    let rsc = |s: &Sim, n: usize| s.core(n).unwrap().snapshot().rsc_class;
    assert!(
        sim.run_until(ms(3000), |s| s.placement_is(&[0])
            && rsc(s, 0) == Some(Class::Local)
            && rsc(s, 1) == Some(Class::Local)),
        "start-up: {:?} {:?}\n{}",
        rsc(&sim, 0),
        rsc(&sim, 1),
        tail(&sim)
    );
    sim.command(0, Command::Standby(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| s.placement_is(&[1])
            && rsc(s, 0) == Some(Class::None)
            && rsc(s, 1) == Some(Class::All)),
        "standby all: {:?} {:?}\n{}",
        rsc(&sim, 0),
        rsc(&sim, 1),
        tail(&sim)
    );
    // node1 takes everything back (as Heartbeat: `all` and `none`), then node2 crashes.
    sim.command(0, Command::Takeover(Class::All));
    assert!(
        sim.run_until(ms(2000), |s| s.placement_is(&[0])
            && rsc(s, 0) == Some(Class::All)
            && rsc(s, 1) == Some(Class::None)),
        "takeover all: {:?} {:?}\n{}",
        rsc(&sim, 0),
        rsc(&sim, 1),
        tail(&sim)
    );
    sim.crash(1);
    assert!(
        sim.run_until(ms(3000), |s| s.core(0).unwrap().node_status("node2")
            == Some(NodeStatus::Dead)
            && rsc(s, 0) == Some(Class::All)),
        "after node2's death: {:?}\n{}",
        rsc(&sim, 0),
        tail(&sim)
    );
    // node2 returns: auto_failback gives back "foreign" (nothing moves): `local` again.
    sim.restart(1);
    assert!(
        sim.run_until(ms(5000), |s| s.placement_is(&[0])
            && rsc(s, 0) == Some(Class::Local)
            && rsc(s, 1) == Some(Class::Local)),
        "after node2's return: {:?} {:?}\n{}",
        rsc(&sim, 0),
        rsc(&sim, 1),
        tail(&sim)
    );
    assert_clean(&sim);
}
