//! The invariants the simulator checks, one file each (`docs/simulation.md`, "Invariants").
//!
//! After every event [`Sim::check`](crate::Sim::check) runs [`Invariants::check`], which runs
//! the list below in this order and reports what each found in that order:
//!
//! 1. [`NoHiddenResources`] (`no_hidden_resources.rs`),
//! 2. [`OneHolderWhenConnected`] (`one_holder_when_connected.rs`),
//! 3. [`TakeoverLiveness`] (`takeover_liveness.rs`),
//! 4. [`IsolatedHoldsNothing`] (`isolated_holds_nothing.rs`, invariant 6: with ping nodes and
//!    the isolation rule),
//! 5. [`FencedBeforeTakeover`] (`fenced_before_takeover.rs`, invariant 7: with a fencing
//!    device).
//!
//! [`no_message_storm`] (invariant 4) is checked before each event instead, as it ends the run;
//! [`replay_dropped`] (invariant 5) on each delivery of a replayed recording; [`converged`] at
//! the end of a schedule.

pub(crate) mod converged;
pub(crate) mod fenced_before_takeover;
pub(crate) mod isolated_holds_nothing;
pub(crate) mod no_hidden_resources;
pub(crate) mod no_message_storm;
pub(crate) mod one_holder_when_connected;
pub(crate) mod replay_dropped;
pub(crate) mod takeover_liveness;

#[cfg(test)]
mod testing;

use std::fmt::Debug;
use std::time::Duration;

use hb_core::Instant;

use crate::Params;
use crate::lan::Lan;
use crate::world::Host;

pub(crate) use fenced_before_takeover::FencedBeforeTakeover;
pub(crate) use isolated_holds_nothing::IsolatedHoldsNothing;
pub(crate) use no_hidden_resources::NoHiddenResources;
pub(crate) use one_holder_when_connected::OneHolderWhenConnected;
pub(crate) use takeover_liveness::TakeoverLiveness;

/// A recorded invariant violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// When.
    pub at: Duration,
    /// What.
    pub what: String,
}

/// What an invariant sees: the parameters, the clock, the hosts (daemons and world) and the
/// network.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a> {
    /// What is simulated, with the bounds.
    pub(crate) params: &'a Params,
    /// The simulated time.
    pub(crate) now: Instant,
    /// Every host, by node index.
    pub(crate) hosts: &'a [Host],
    /// The network's faults.
    pub(crate) lan: &'a Lan,
    /// When the last fault happened (network change, crash, restart, shutdown, command,
    /// agent fault or repair, a resource dying).
    pub(crate) last_fault: Instant,
}

impl View<'_> {
    /// Hosts on which any resource of group `g` is active.
    pub(crate) fn holders(&self, g: usize) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&n| self.hosts[n].active_in(g) > 0)
            .collect()
    }

    /// Hosts on which every resource of group `g` is active.
    pub(crate) fn full_holders(&self, g: usize) -> Vec<usize> {
        let count = self.params.groups[g].1;
        (0..self.hosts.len())
            .filter(|&n| self.hosts[n].active_in(g) == count)
            .collect()
    }
}

/// An invariant checked after every event.
pub(crate) trait Invariant: Debug {
    /// Appends a description of each violation `view` shows to `found`. May keep state
    /// between calls (such as since when a condition has held).
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>);
}

/// The invariants checked after every event, with their state.
#[derive(Debug, Default)]
pub(crate) struct Invariants {
    no_hidden_resources: NoHiddenResources,
    one_holder_when_connected: OneHolderWhenConnected,
    takeover_liveness: TakeoverLiveness,
    isolated_holds_nothing: IsolatedHoldsNothing,
    fenced_before_takeover: FencedBeforeTakeover,
}

impl Invariants {
    /// The list, in the order they are checked.
    fn list(&mut self) -> [&mut dyn Invariant; 5] {
        [
            &mut self.no_hidden_resources,
            &mut self.one_holder_when_connected,
            &mut self.takeover_liveness,
            &mut self.isolated_holds_nothing,
            &mut self.fenced_before_takeover,
        ]
    }

    /// Runs every invariant on `view`; returns what they found, in order.
    pub(crate) fn check(&mut self, view: &View<'_>) -> Vec<String> {
        let mut found = Vec::new();
        for invariant in self.list() {
            invariant.check(view, &mut found);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::invariants::testing::{settled, unmonitored, whats};

    #[test]
    fn the_checks_run_in_order_hidden_resources_then_one_holder_then_takeover() {
        let mut sim = settled(unmonitored());
        sim.kill_resource(0, 0, 0);
        // Test-only: the resource reappears on node2, which reports group 0 stopped; group 0
        // now runs fully nowhere and partly on both hosts.
        sim.hosts[1].active.insert((0, 0));
        sim.check();
        let hidden = "node2 reports group 0 stopped but resource 0 is active";
        assert_eq!(whats(&sim), [hidden]);
        // Test-only: time passes with no event, beyond both bounds.
        sim.now = sim.now + sim.params.settle_bound() + Duration::from_nanos(1);
        assert!(sim.params.settle_bound() > sim.params.takeover_bound());
        sim.check();
        assert_eq!(
            whats(&sim),
            [
                hidden,
                hidden,
                "group 0 active on [0, 1] for too long on a whole network",
                &format!(
                    "group 0 ran nowhere for longer than {:?}",
                    sim.params.takeover_bound()
                ),
            ]
        );
    }
}
