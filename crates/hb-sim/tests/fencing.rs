//! Fencing in simulated time: a dead peer is reset before its groups are started, a device
//! that fails or hangs blocks the takeover, a partition leaves one side, and a stop that fails
//! gets its node fenced (invariant 7, a group never active on two hosts with fencing, is
//! checked after every event of each run).

use hb_core::{AgentOp, AutoFailback, Class, Command, FenceState};
use hb_sim::{FenceMode, Params, Sim};

mod common;
use common::{assert_clean, logs, ms, tail};

fn started(seed: u64) -> Sim {
    logs();
    let mut sim = Sim::new(Params::two_nodes(AutoFailback::On, seed).with_fencing());
    let ok = sim.run_until(ms(3000), |s| s.placement_is(&[0, 1]));
    assert!(ok, "groups not on their preferred nodes\n{}", tail(&sim));
    assert_clean(&sim);
    sim
}

/// Index of the first trace line containing `needle` (after line `from`).
fn line_of(sim: &Sim, from: usize, needle: &str) -> Option<usize> {
    sim.trace
        .iter()
        .skip(from)
        .position(|l| l.contains(needle))
        .map(|i| i + from)
}

fn fencing_of(sim: &Sim, n: usize) -> Option<(FenceState, u32)> {
    sim.core(n)?
        .snapshot()
        .fencing
        .map(|f| (f.state, f.attempts))
}

#[test]
fn a_crashed_peer_is_reset_before_its_group_starts_and_comes_back_empty() {
    let mut sim = started(21);
    let mark = sim.trace.len();
    sim.crash(1);
    // node2's daemon is gone but its resources still run: node1 must not start g1 until
    // node2 is reset.
    let ok = sim.run_until(ms(3000), |s| s.full_holders(1) == [0]);
    assert!(ok, "g1 not taken over\n{}", tail(&sim));
    let fence = line_of(&sim, mark, "node1 fences node2").expect("no fencing");
    let reset = line_of(&sim, mark, "RESET node2 by fencing").expect("no reset");
    let start = line_of(&sim, mark, "node1 runs g1.r0 start").expect("no start");
    assert!(fence < reset && reset < start, "{}", tail(&sim));
    assert_eq!(fencing_of(&sim, 0), Some((FenceState::Fenced, 1)));
    // The reset node boots again and gets its group back (auto_failback on).
    let ok = sim.run_until(sim.params.settle_bound(), |s| s.placement_is(&[0, 1]));
    assert!(ok, "node2 did not get g1 back\n{}", tail(&sim));
    assert_eq!(
        fencing_of(&sim, 0),
        None,
        "fencing state kept after the peer returned"
    );
    assert_clean(&sim);
}

#[test]
fn a_failing_device_blocks_the_takeover_until_it_works_again() {
    let mut sim = started(22);
    sim.set_fence_device(FenceMode::Fails);
    sim.crash(1);
    // Several retries' worth of time: the retry interval doubles from deadtime to 4 x.
    let retry_max = sim.params.deadtime * 4;
    sim.run_for(sim.params.deadtime + retry_max * 3);
    let (state, attempts) = fencing_of(&sim, 0).expect("no fencing state");
    assert_eq!(state, FenceState::Retrying);
    assert!(attempts >= 3, "{attempts} attempts\n{}", tail(&sim));
    assert!(
        sim.holders(1) == [1] && sim.full_holders(1) == [1],
        "g1 must stay only where node2 left it\n{}",
        tail(&sim)
    );
    assert_eq!(
        sim.trace
            .iter()
            .filter(|l| l.contains("node1 runs g1.r0 start"))
            .count(),
        0
    );
    sim.set_fence_device(FenceMode::Works);
    let ok = sim.run_until(retry_max * 2 + ms(500), |s| s.full_holders(1) == [0]);
    assert!(ok, "no takeover once the device works\n{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn a_hanging_device_times_out_and_blocks_the_takeover() {
    let mut sim = started(23);
    sim.set_fence_device(FenceMode::Hangs);
    let mark = sim.trace.len();
    sim.crash(1);
    let timeout = sim.params.fencing.unwrap().timeout;
    sim.run_for(sim.params.deadtime + timeout * 3);
    assert!(
        sim.trace
            .iter()
            .skip(mark)
            .any(|l| l.contains("node1 fence op1 -> timed out")),
        "{}",
        tail(&sim)
    );
    assert_eq!(sim.full_holders(1), [1], "{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn a_partition_leaves_exactly_one_side_holding_each_group() {
    let mut sim = started(24);
    sim.cut(1);
    // Both sides declare the other dead and fence it; whichever reset lands first wins. No
    // group is ever active on both (invariant 7), and both end on the survivor.
    let ok = sim.run_until(ms(3000), |s| {
        (s.full_holders(0) == [0] && s.full_holders(1) == [0])
            || (s.full_holders(0) == [1] && s.full_holders(1) == [1])
    });
    assert!(ok, "no side took everything\n{}", tail(&sim));
    assert!(sim.trace.iter().any(|l| l.contains("RESET node")));
    sim.heal(1);
    let ok = sim.run_until(sim.params.settle_bound() * 2, |s| s.placement_is(&[0, 1]));
    assert!(ok, "no return to the preferred nodes\n{}", tail(&sim));
    assert_clean(&sim);
}

#[test]
fn a_stop_that_fails_gets_its_node_fenced_and_the_group_moves() {
    let mut sim = started(25);
    // node1's web server refuses to stop: a standby of all cannot release g0.
    sim.fail_agent(0, 0, 1, AgentOp::Stop);
    sim.command(0, Command::Standby(Class::All));
    let ok = sim.run_until(ms(3000), |s| s.full_holders(0) == [1]);
    assert!(ok, "g0 did not move to node2\n{}", tail(&sim));
    assert!(
        sim.trace
            .iter()
            .any(|l| l.contains("RESET node1 by fencing")),
        "{}",
        tail(&sim)
    );
    assert_clean(&sim);
}
