//! Invariant 6, **an isolated node holds nothing**.

use std::collections::BTreeMap;

use hb_core::Instant;

use super::{Invariant, View};

/// **An isolated node holds nothing** (invariant 6): with the isolation rule, a node cut off
/// the LAN (it hears no peer and reaches no ping node, or, without ping nodes, its cable is
/// pulled) whose daemon runs has no resource active once [`Params::isolation_bound`] has passed since the cut (the later
/// of deadtime and deadping, two keepalives, and stopping every resource), or since its
/// daemon started (initdead on top) if that is later.
///
/// Reports `"node{n} isolated for {ms} ms still holds {resources:?}"` once per cut.
///
/// [`Params::isolation_bound`]: crate::Params::isolation_bound
#[derive(Debug, Default)]
pub(crate) struct IsolatedHoldsNothing {
    /// Since when each node has been cut off, and whether it was reported.
    cut_since: BTreeMap<usize, (Instant, bool)>,
}

impl Invariant for IsolatedHoldsNothing {
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>) {
        let applies = view.params.isolation();
        for (n, host) in view.hosts.iter().enumerate() {
            // Without ping nodes only a pulled cable tells a node it is cut off.
            let witnessed = view.lan.cut.contains(&n)
                && (view.params.ping.is_some() || view.lan.no_carrier.contains(&n));
            if !applies || !witnessed || host.core.is_none() {
                self.cut_since.remove(&n);
                continue;
            }
            let (since, reported) = *self.cut_since.entry(n).or_insert((view.now, false));
            let bound = view.params.isolation_bound();
            let deadline = (since + bound).max(host.booted_at + view.params.initdead + bound);
            if !reported && view.now > deadline && !host.active.is_empty() {
                found.push(format!(
                    "node{} isolated for {} ms still holds {:?}",
                    n + 1,
                    view.now.saturating_since(since).as_millis(),
                    host.active
                ));
                self.cut_since.insert(n, (since, true));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hb_core::AutoFailback;

    use crate::Params;
    use crate::Sim;
    use crate::invariants::testing::whats;

    fn settled(isolation: bool) -> Sim {
        let mut sim = Sim::new(Params::two_nodes_with_ping(
            AutoFailback::On,
            7,
            false,
            isolation,
        ));
        sim.run_for(sim.params.settle_bound());
        assert!(sim.placement_is(&[0, 1]), "each node holds its own group");
        sim
    }

    #[test]
    fn a_cut_node_releases_everything_within_the_bound_and_its_peer_takes_over() {
        let mut sim = settled(true);
        sim.cut(0);
        let bound = sim.params.isolation_bound();
        let released = sim.run_until(bound, |s| s.hosts[0].active.is_empty());
        assert!(released, "node1 still holds {:?}", sim.hosts[0].active);
        sim.run_for(sim.params.takeover_bound());
        assert!(sim.placement_is(&[1, 1]), "node2 runs both groups");
        assert_eq!(whats(&sim), Vec::<&str>::new());
        // Back on the LAN: one holder of each group, no violation.
        sim.heal(0);
        sim.run_for(sim.params.settle_bound() * 2);
        assert_eq!(sim.converged(), Ok(()));
        assert_eq!(whats(&sim), Vec::<&str>::new());
    }

    #[test]
    fn the_invariant_fires_when_the_rule_is_off_in_the_daemon_but_expected() {
        // The daemons keep their groups (isolation off) while the invariant expects the rule:
        // the invariant must notice.
        let mut sim = settled(false);
        if let Some(p) = sim.params.ping.as_mut() {
            p.isolation = true;
        }
        sim.cut(0);
        sim.run_for(sim.params.isolation_bound() * 2);
        let found = whats(&sim);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("node1 isolated for "), "{found:?}");
    }
}
