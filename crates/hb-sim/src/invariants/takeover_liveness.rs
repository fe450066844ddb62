//! Invariant 3, **takeover liveness**.

use std::collections::BTreeMap;

use hb_core::{GroupState, Instant, NodeStatus};

use super::{Invariant, View};

/// **Takeover liveness** (invariant 3): while nothing is lost and every running daemon
/// reports itself active, no group runs fully on no host with a running daemon for longer
/// than [`Params::takeover_bound`]: deadtime + 4 × keepalive + 500 ms + (4 × R + 4) × the
/// longest agent run + 20 × the longest network delay, R the number of resources of all
/// groups (detection, a lost-message retransmission round or two, stopping then starting).
///
/// Exempt, and counted again from zero: a group no running daemon could start (each has
/// seen it fail there or has a start of one of its resources set to fail), and a group some
/// daemon reports [`GroupState::Failed`] (a stop failed: it is unmanaged on purpose until an
/// operator acts), and with the isolation rule a group only hosts cut off the LAN could
/// start (they hold nothing on purpose), and anything while the fencing device fails or hangs.
/// With fencing, the bound includes the longest attempt. Reports `"group {g} ran nowhere for longer than {bound:?}"`, then counts
/// again from then.
///
/// [`Params::takeover_bound`]: crate::Params::takeover_bound
#[derive(Debug, Default)]
pub(crate) struct TakeoverLiveness {
    /// Since when each group has run fully on no host with a running daemon.
    orphan_since: BTreeMap<usize, Instant>,
}

impl Invariant for TakeoverLiveness {
    fn check(&mut self, view: &View<'_>, found: &mut Vec<String>) {
        // A fencing device that does not reset blocks takeovers on purpose.
        let calm = view.lan.loss_permille == 0
            && view.lan.fence == crate::lan::FenceMode::Works
            && view.hosts.iter().enumerate().all(|(n, h)| {
                h.core.as_ref().is_none_or(|c| {
                    c.node_status(&format!("node{}", n + 1)) == Some(NodeStatus::Active)
                })
            });
        // A group a reload removed is not judged any more (nor its past, if it comes back).
        let groups = view.params.groups.len();
        self.orphan_since.retain(|&g, _| g < groups);
        for g in 0..groups {
            let count = view.params.groups[g].1;
            let held = view
                .hosts
                .iter()
                .any(|h| h.core.is_some() && h.active_in(g) == count);
            // With the isolation rule, a node cut off the LAN starts nothing on purpose.
            let isolation = view.params.isolation();
            let cut_off = |n: usize| {
                view.lan.cut.contains(&n)
                    && (view.params.ping.is_some() || view.lan.no_carrier.contains(&n))
            };
            let candidates = view
                .hosts
                .iter()
                .enumerate()
                .any(|(n, h)| h.can_start(g) && !(isolation && cut_off(n)));
            // A stop failed somewhere: the group is unmanaged on purpose until an operator acts.
            let blocked = view.hosts.iter().any(|h| {
                h.core
                    .as_ref()
                    .is_some_and(|c| c.group_state(g) == Some(GroupState::Failed))
            });
            if held || !candidates || !calm || blocked {
                self.orphan_since.remove(&g);
                continue;
            }
            let since = *self.orphan_since.entry(g).or_insert(view.now);
            if view.now.saturating_since(since) > view.params.takeover_bound() {
                found.push(format!(
                    "group {g} ran nowhere for longer than {:?}",
                    view.params.takeover_bound()
                ));
                self.orphan_since.insert(g, view.now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::invariants::testing::{settled, unmonitored, whats};

    #[test]
    fn takeover_liveness_fires_for_a_group_running_nowhere_past_the_takeover_bound() {
        let mut sim = settled(unmonitored());
        let bound = sim.params.takeover_bound();
        let killed = sim.elapsed();
        sim.kill_resource(0, 0, 0);
        sim.run_for(bound);
        assert_eq!(whats(&sim), Vec::<&str>::new(), "within the takeover bound");
        sim.run_for(bound);
        assert_eq!(
            whats(&sim),
            [format!("group 0 ran nowhere for longer than {bound:?}")]
        );
        assert!(sim.violations[0].at > killed + bound);
    }
}
