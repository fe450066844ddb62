//! Continuations: what to do once a set of groups has settled (no job running, nothing
//! queued) — report after an acquisition, answer a request after a release, take the next
//! step of a shutdown.

use super::groups::{GroupId, GroupSet, Groups};

/// A continuation of the negotiation policy ([`super::policy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Acquisition finished: become stable and report; `mach_down` adds Heartbeat's
    /// takeover notice.
    Acquired { mach_down: bool },
    /// Our side of a standby finished releasing.
    StandbyReleased,
    /// Our side of a standby finished acquiring.
    StandbyAcquired,
    /// Legacy: answer the peer's `ip-request` for `group` now that it is released.
    Reply { group: GroupId },
}

/// What to do when a batch of group operations has settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// The start-up probe and cleanup finished.
    ProbeDone,
    /// One more group stopped during shutdown.
    ShutdownStep,
    /// A group lost a dual-holding resolution and was released.
    ConflictReleased,
    /// An operator cleared a group's failures and its re-probe finished.
    CleanedUp { group: GroupId },
    /// A step of the negotiation policy.
    Policy(Step),
    /// A reload's removed and changed groups are stopped: replace the table.
    Reload,
    /// A reload's new groups were probed: place them.
    ReloadProbed,
}

#[derive(Clone, Debug)]
struct Batch {
    groups: GroupSet,
    then: Then,
}

/// The batches waiting for their groups, in the order they were made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Batches {
    waiting: Vec<Batch>,
}

impl Batches {
    /// Waits for the groups of `set` that have not settled; returns `then` if none is left
    /// to wait for (the caller runs it at once).
    pub(crate) fn add(&mut self, groups: &Groups, set: GroupSet, then: Then) -> Option<Then> {
        let pending: GroupSet = set.into_iter().filter(|&g| !groups[g].settled()).collect();
        if pending.is_empty() {
            Some(then)
        } else {
            self.waiting.push(Batch {
                groups: pending,
                then,
            });
            None
        }
    }

    /// A reload replaced the group table: renumber the groups waited for (a group that left
    /// is not waited for any more).
    pub(crate) fn remap(&mut self, map: &std::collections::BTreeMap<GroupId, GroupId>) {
        for b in &mut self.waiting {
            b.groups = b
                .groups
                .iter()
                .filter_map(|g| map.get(g).copied())
                .collect();
        }
    }

    /// Group `g` settled: the continuations whose last group it was, in order.
    pub(crate) fn settle(&mut self, g: GroupId) -> Vec<Then> {
        let mut ready = Vec::new();
        self.waiting.retain_mut(|b| {
            b.groups.remove(&g);
            if b.groups.is_empty() {
                ready.push(b.then);
                false
            } else {
                true
            }
        });
        ready
    }
}
