//! Invariant 7, **fenced before a takeover**.

use std::collections::BTreeSet;

use super::{Invariant, View};

/// **Fenced before a takeover** (invariant 7): with a fencing device configured, a group is
/// never active (any of its resources) on two hosts at once: a node starts a group only once
/// the node that held it has stopped it or has been reset, whatever the network does
/// (partitions included, which invariant 2 forgives for a while without fencing) and whether
/// the device works, fails or hangs (a device that does not reset blocks the takeover).
///
/// Reports `"group {g} active on {holders:?} with fencing configured"` once per episode.
#[derive(Debug, Default)]
pub(crate) struct FencedBeforeTakeover {
    /// Groups reported and still on two hosts.
    reported: BTreeSet<usize>,
}

impl Invariant for FencedBeforeTakeover {
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>) {
        if view.params.fencing.is_none() {
            return;
        }
        for g in 0..view.params.groups.len() {
            let holders = view.holders(g);
            if holders.len() < 2 {
                self.reported.remove(&g);
            } else if self.reported.insert(g) {
                found.push(format!(
                    "group {g} active on {holders:?} with fencing configured"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hb_core::AutoFailback;

    use crate::invariants::testing::whats;
    use crate::{Params, Sim};

    #[test]
    fn a_group_on_two_hosts_is_a_violation_at_once_with_fencing() {
        let mut sim = Sim::new(Params::two_nodes(AutoFailback::On, 3).with_fencing());
        sim.run_for(sim.params.settle_bound());
        assert!(sim.placement_is(&[0, 1]), "{:?}", sim.violations);
        assert_eq!(whats(&sim), Vec::<&str>::new());
        // Test-only: group 0's first resource appears on node2 too.
        sim.hosts[1].active.insert((0, 0));
        fn ours(sim: &Sim) -> Vec<&str> {
            whats(sim)
                .into_iter()
                .filter(|w| w.contains("with fencing configured"))
                .collect()
        }
        sim.check();
        assert_eq!(
            ours(&sim),
            ["group 0 active on [0, 1] with fencing configured"]
        );
        sim.check();
        assert_eq!(ours(&sim).len(), 1, "reported once per episode");
    }
}
