//! Invariant 2, **at most one holder when connected**.

use std::collections::BTreeMap;

use hb_core::Instant;

use super::{Invariant, View};

/// **At most one holder when connected** (invariant 2): while the network is whole (no cut,
/// no one-way block, no loss) and every daemon runs, no group stays active (any of its
/// resources) on two or more hosts for longer than [`Params::settle_bound`]: the longer of
/// initdead and deadtime + 10 × keepalive + (4 × R + 4) × the longest agent run + 40 × the
/// longest network delay + 600 ms, R the number of resources of all groups (detection,
/// negotiation and a full stop plus start of every group, with margin).
///
/// The time counts from the later of when the dual holding began and the last fault. Reports
/// `"group {g} active on {holders:?} for too long on a whole network"`, then counts again from
/// then.
///
/// [`Params::settle_bound`]: crate::Params::settle_bound
#[derive(Debug, Default)]
pub(crate) struct OneHolderWhenConnected {
    /// Since when each group has been active on two hosts at once.
    dual_since: BTreeMap<usize, Instant>,
}

impl Invariant for OneHolderWhenConnected {
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>) {
        let all_up = view.hosts.iter().all(|h| h.core.is_some());
        let groups = view.params.groups.len();
        self.dual_since.retain(|&g, _| g < groups);
        for g in 0..groups {
            if view.holders(g).len() > 1 {
                let since = *self.dual_since.entry(g).or_insert(view.now);
                let calm_since = since.max(view.last_fault);
                if all_up
                    && view.lan.whole()
                    && view.now.saturating_since(calm_since) > view.params.settle_bound()
                {
                    found.push(format!(
                        "group {g} active on {:?} for too long on a whole network",
                        view.holders(g)
                    ));
                    self.dual_since.insert(g, view.now);
                }
            } else {
                self.dual_since.remove(&g);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hb_core::AgentOp;

    use crate::invariants::testing::{settled, two_nodes, whats};

    #[test]
    fn one_holder_fires_for_a_group_on_two_hosts_of_a_whole_network_past_the_settle_bound() {
        let mut sim = settled(two_nodes());
        let settle = sim.params.settle_bound();
        // No stop can succeed, so once both nodes hold both groups neither can give one up.
        for n in 0..2 {
            for g in 0..2 {
                for r in 0..2 {
                    sim.fail_agent(n, g, r, AgentOp::Stop);
                }
            }
        }
        sim.cut(0);
        sim.run_for(settle * 2);
        assert_eq!((sim.holders(0), sim.holders(1)), (vec![0, 1], vec![0, 1]));
        assert_eq!(whats(&sim), Vec::<&str>::new(), "a cut network is exempt");
        sim.heal(0);
        let healed = sim.elapsed();
        sim.run_for(settle);
        assert_eq!(whats(&sim), Vec::<&str>::new(), "within the settle bound");
        sim.run_for(settle);
        assert_eq!(
            whats(&sim),
            [
                "group 0 active on [0, 1] for too long on a whole network",
                "group 1 active on [0, 1] for too long on a whole network"
            ]
        );
        assert!(sim.violations.iter().all(|v| v.at > healed + settle));
    }
}
