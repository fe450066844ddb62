//! The simulated hosts: each one's daemon (if it runs) and the world, the resources actually
//! active on it, which simulated agents change when they finish.

use std::collections::BTreeSet;

use hb_core::{AgentOp, AgentResult, Core, Instant};

/// One host.
#[derive(Debug)]
pub(crate) struct Host {
    /// Its daemon's core, while the daemon runs.
    pub(crate) core: Option<Core>,
    /// Counts the daemon's starts: the results of agents of an earlier one are ignored.
    pub(crate) incarnation: u64,
    /// The generation the next daemon start gets (one more than the last).
    pub(crate) generation: u64,
    /// Resources (group, resource) active on this host: the world.
    pub(crate) active: BTreeSet<(usize, usize)>,
    /// Identifies the one pending wake-up that is still wanted.
    pub(crate) wake_token: u64,
    /// When the daemon asked to be woken.
    pub(crate) wake_at: Option<Instant>,
    /// Resources whose start fails here.
    pub(crate) fail_start: BTreeSet<(usize, usize)>,
    /// Resources whose stop fails here.
    pub(crate) fail_stop: BTreeSet<(usize, usize)>,
}

impl Host {
    /// A host with no daemon and nothing active.
    pub(crate) fn new() -> Host {
        Host {
            core: None,
            incarnation: 0,
            generation: 1000,
            active: BTreeSet::new(),
            wake_token: 0,
            wake_at: None,
            fail_start: BTreeSet::new(),
            fail_stop: BTreeSet::new(),
        }
    }

    /// What a simulated agent for resource `r` (group, resource) does to the world.
    pub(crate) fn apply_agent(&mut self, r: (usize, usize), op: AgentOp) -> AgentResult {
        match op {
            AgentOp::Start => {
                if self.fail_start.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    self.active.insert(r);
                    AgentResult::Success
                }
            }
            AgentOp::Stop => {
                if self.fail_stop.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    self.active.remove(&r);
                    AgentResult::Success
                }
            }
            AgentOp::Status | AgentOp::Monitor => {
                if self.active.contains(&r) {
                    AgentResult::Running
                } else {
                    AgentResult::NotRunning
                }
            }
        }
    }

    /// How many resources of group `g` are active here.
    pub(crate) fn active_in(&self, g: usize) -> usize {
        self.active.iter().filter(|r| r.0 == g).count()
    }

    /// Whether a start of group `g` could succeed here: the daemon runs, has not seen the
    /// group fail here, and no start of one of its resources is set to fail.
    pub(crate) fn can_start(&self, g: usize) -> bool {
        self.core.as_ref().is_some_and(|c| !c.group_failed_here(g))
            && !self.fail_start.iter().any(|r| r.0 == g)
    }
}
