//! Invariant 1, **no hidden resources**.

use hb_core::GroupState;

use super::{Invariant, View};

/// **No hidden resources** (invariant 1): a running daemon that reports a group
/// [`GroupState::Stopped`] has none of that group's resources active on its host (a group's
/// resources are stopped before it is released). No time bound: it must hold after every
/// event.
///
/// Reports, per host and group in index order, the first such resource:
/// `"node{N} reports group {g} stopped but resource {r} is active"` (N counts from 1).
#[derive(Debug, Default)]
pub(crate) struct NoHiddenResources;

impl Invariant for NoHiddenResources {
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>) {
        for (n, host) in view.hosts.iter().enumerate() {
            let Some(core) = &host.core else {
                continue;
            };
            for g in 0..view.params.groups.len() {
                if core.group_state(g) == Some(GroupState::Stopped)
                    && let Some(r) = host.active.iter().find(|r| r.0 == g)
                {
                    found.push(format!(
                        "node{} reports group {g} stopped but resource {} is active",
                        n + 1,
                        r.1
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hb_core::GroupState;

    use crate::invariants::testing::{settled, two_nodes, whats};

    #[test]
    fn no_hidden_resources_fires_for_an_active_resource_of_a_group_reported_stopped() {
        let mut sim = settled(two_nodes());
        assert_eq!(
            sim.core(0).unwrap().group_state(1),
            Some(GroupState::Stopped)
        );
        // Test-only: a resource of group 1 appears on node1, behind its daemon's back.
        sim.hosts[0].active.insert((1, 0));
        sim.check();
        let what = "node1 reports group 1 stopped but resource 0 is active";
        assert_eq!(whats(&sim), [what]);
        assert_eq!(sim.violations[0].at, sim.elapsed());
        assert!(
            sim.trace
                .last()
                .unwrap()
                .ends_with(&format!("VIOLATION {what}"))
        );
    }
}
