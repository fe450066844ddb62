//! One resource group's lifecycle on this node: stopped, probed, started left to right,
//! running and monitored, restarted in place, stopped right to left, or failed (unmanaged
//! after a stop that failed) — spec §8, haresources.
//!
//! A group runs one agent at a time. A start or stop asked for while a job runs is queued
//! ([`Want`]) and applied when the job ends. The group never talks to the world: each
//! operation returns the agent run to start, if any, and the caller issues it.

use crate::Instant;
use crate::action::AgentOp;
use crate::config::GroupConfig;
use crate::membership::NodeId;
use crate::snapshot::{GroupState, GroupView, ResourceState, ResourceView};

use super::job::{Job, JobKind, OpIds, Run, backward, forward};
use super::resource::Resource;

/// Where a group stands.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    Stopped,
    Running,
    /// A stop failed and the resource may still run: unmanaged until cleared.
    Failed,
    Busy(Job),
}

/// A request queued behind the running job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    Start,
    Stop,
}

/// One group: its configuration and everything this node knows and does about it.
#[derive(Clone, Debug)]
pub(crate) struct Group {
    /// The group key (first resource as written): its name on the wire.
    pub(crate) key: String,
    /// The node it prefers.
    pub(crate) preferred: NodeId,
    pub(crate) phase: Phase,
    pub(super) want: Option<Want>,
    /// Epoch of our current (or last) acquisition.
    pub(crate) epoch: u64,
    /// Highest acquisition epoch known for this group anywhere.
    max_epoch: u64,
    /// A start failed here or the restart limit was reached: not started here again until
    /// an operator clears it.
    pub(crate) failed_here: bool,
    /// Why the group may not run here (start failure, restart limit), for operators.
    pub(crate) failure: Option<String>,
    /// A local failure stopped the group outside any acquisition: once it settles, report
    /// and offer it to the peer.
    pub(crate) handoff_pending: bool,
    /// When the group's state last changed.
    since: Option<Instant>,
    /// [`GroupConfig::fingerprint`] of its preferred node here.
    pub(crate) fingerprint: u64,
    /// Removed from or changed in `haresources` by a reload: it is stopping (or stopped)
    /// for good and is never started again ([`super::reload`]).
    pub(crate) retiring: bool,
    pub(crate) res: Vec<Resource>,
}

impl Group {
    pub(crate) fn new(cfg: &GroupConfig, preferred: NodeId, fingerprint: u64) -> Group {
        Group {
            fingerprint,
            key: cfg.key.clone(),
            preferred,
            phase: Phase::Stopped,
            want: None,
            epoch: 0,
            max_epoch: 0,
            failed_here: false,
            failure: None,
            handoff_pending: false,
            since: None,
            retiring: false,
            res: cfg
                .resources
                .iter()
                .enumerate()
                .map(|(r, name)| {
                    let policy = cfg
                        .monitor
                        .get(r)
                        .copied()
                        .unwrap_or(crate::config::MonitorPolicy::OFF);
                    Resource::new(name.clone(), policy)
                })
                .collect(),
        }
    }

    // ----- what it is -----

    pub(crate) fn state(&self) -> GroupState {
        match &self.phase {
            Phase::Stopped => GroupState::Stopped,
            Phase::Running => GroupState::Running,
            Phase::Failed => GroupState::Failed,
            Phase::Busy(j) => j.state(),
        }
    }

    /// No job running and nothing queued.
    pub(crate) fn settled(&self) -> bool {
        !matches!(self.phase, Phase::Busy(_)) && self.want.is_none()
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    pub(crate) fn is_failed(&self) -> bool {
        matches!(self.phase, Phase::Failed)
    }

    pub(crate) fn is_busy(&self) -> bool {
        matches!(self.phase, Phase::Busy(_))
    }

    /// Running with nothing queued: monitors may run.
    pub(crate) fn monitored(&self) -> bool {
        self.is_running() && self.want.is_none()
    }

    /// Resources of this group may be active here (for ownership reports): running,
    /// starting, re-announcing, or failed to stop. A group being stopped counts as released.
    pub(crate) fn claims(&self) -> bool {
        match &self.phase {
            Phase::Running | Phase::Failed => true,
            Phase::Busy(j) => j.kind.claims(),
            Phase::Stopped => false,
        }
    }

    /// Anything other than cleanly stopped.
    pub(crate) fn active(&self) -> bool {
        !matches!(self.phase, Phase::Stopped)
    }

    /// Drops a queued start (a shutdown began).
    pub(crate) fn forget_start(&mut self) {
        if self.want == Some(Want::Start) {
            self.want = None;
        }
    }

    /// Learns that someone acquired the group at `epoch`.
    pub(crate) fn saw_epoch(&mut self, epoch: u64) {
        self.max_epoch = self.max_epoch.max(epoch);
    }

    pub(super) fn name(&self, r: usize) -> String {
        self.res.get(r).map(|x| x.name.clone()).unwrap_or_default()
    }

    pub(super) fn set_res_state(&mut self, r: usize, state: ResourceState) {
        if let Some(x) = self.res.get_mut(r) {
            x.state = state;
        }
    }

    pub(super) fn log_change(&mut self, now: Instant, before: GroupState, why: &str) {
        let after = self.state();
        if before != after {
            self.since = Some(now);
            if why.is_empty() {
                tracing::info!("group {}: {before} -> {after}", self.key);
            } else {
                tracing::info!("group {}: {before} -> {after} ({why})", self.key);
            }
        }
    }

    // ----- jobs -----

    pub(super) fn launch(
        &mut self,
        now: Instant,
        kind: JobKind,
        steps: Vec<(usize, AgentOp)>,
        ids: &mut OpIds,
    ) -> Option<Run> {
        let before = self.state();
        // Monitors belong to a running group: a job cancels the schedule (a monitor still
        // out is ignored when it comes back).
        for r in &mut self.res {
            r.unschedule();
        }
        let Some((job, run)) = Job::begin(kind, steps, ids) else {
            self.phase = if kind.claims() {
                Phase::Running
            } else {
                Phase::Stopped
            };
            self.log_change(now, before, "no resources");
            return None;
        };
        self.phase = Phase::Busy(job);
        self.mark_step(run.resource, run.op);
        self.log_change(now, before, kind.reason());
        Some(run)
    }

    /// A step is about to run: what the resource is now.
    pub(super) fn mark_step(&mut self, r: usize, op: AgentOp) {
        match op {
            AgentOp::Start => self.set_res_state(r, ResourceState::Starting),
            AgentOp::Stop => self.set_res_state(r, ResourceState::Stopping),
            AgentOp::Status | AgentOp::Monitor => {}
        }
    }

    /// Whether `cfg` defines this group as it is: the same key, preferred node and
    /// resources (monitor rules aside, which [`Group::set_monitors`] changes in place).
    pub(crate) fn same_definition(&self, cfg: &GroupConfig, preferred: NodeId) -> bool {
        self.key == cfg.key
            && self.preferred == preferred
            && self.res.len() == cfg.resources.len()
            && self
                .res
                .iter()
                .zip(&cfg.resources)
                .all(|(r, n)| &r.name == n)
    }

    /// New monitor rules (a reload): a resource whose interval changed is monitored on the
    /// new schedule from now on (a monitor in flight finishes first). Returns whether
    /// anything changed.
    pub(crate) fn set_monitors(&mut self, cfg: &GroupConfig, now: Instant) -> bool {
        let monitored = self.monitored();
        let mut changed = false;
        for (r, res) in self.res.iter_mut().enumerate() {
            let policy = cfg
                .monitor
                .get(r)
                .copied()
                .unwrap_or(crate::config::MonitorPolicy::OFF);
            if res.policy == policy {
                continue;
            }
            changed = true;
            let interval_changed = res.policy.interval != policy.interval;
            res.policy = policy;
            if monitored && interval_changed && res.monitor_op.is_none() {
                res.next_monitor = policy.interval.map(|i| now + i);
            }
        }
        changed
    }

    /// Runs `status` on every resource and stops the group if any is found running.
    pub(crate) fn probe(&mut self, now: Instant, ids: &mut OpIds) -> Option<Run> {
        let steps = forward(self.res.len(), AgentOp::Status);
        self.launch(now, JobKind::Probe, steps, ids)
    }

    /// Starts the group (or queues the start). Returns false if it cannot be started here.
    pub(crate) fn start(
        &mut self,
        now: Instant,
        why: &str,
        ids: &mut OpIds,
    ) -> (bool, Option<Run>) {
        if self.retiring {
            tracing::info!(
                "group {}: not starting it ({why}): it is leaving haresources (reload)",
                self.key
            );
            return (false, None);
        }
        if self.failed_here {
            tracing::warn!(
                "group {}: not starting it here ({why}): a start failed here before",
                self.key
            );
            return (false, None);
        }
        match self.phase {
            Phase::Running => {
                self.want = None;
                (true, None)
            }
            Phase::Failed => (false, None),
            Phase::Busy(_) => {
                self.want = Some(Want::Start);
                (true, None)
            }
            Phase::Stopped => {
                // A peer's epochs are bounded when received (wire::MAX_EPOCH): this cannot
                // saturate, and must not wrap whatever happens.
                self.epoch = self.max_epoch.saturating_add(1);
                self.max_epoch = self.epoch;
                self.want = None;
                tracing::debug!("group {}: start ({why}), epoch {}", self.key, self.epoch);
                let steps = forward(self.res.len(), AgentOp::Start);
                (true, self.launch(now, JobKind::Start, steps, ids))
            }
        }
    }

    /// Stops the group (or queues the stop).
    pub(crate) fn stop(&mut self, now: Instant, why: &str, ids: &mut OpIds) -> Option<Run> {
        match self.phase {
            Phase::Stopped | Phase::Failed => {
                self.want = None;
                None
            }
            Phase::Busy(_) => {
                self.want = Some(Want::Stop);
                None
            }
            Phase::Running => {
                self.want = None;
                tracing::debug!("group {}: stop ({why})", self.key);
                let steps = backward(self.res.len(), AgentOp::Stop);
                self.launch(now, JobKind::Stop, steps, ids)
            }
        }
    }

    /// Runs `start` again on every resource of a running group.
    pub(crate) fn reannounce(&mut self, now: Instant, ids: &mut OpIds) -> Option<Run> {
        if !self.is_running() {
            return None;
        }
        let steps = forward(self.res.len(), AgentOp::Start);
        self.launch(now, JobKind::Reannounce, steps, ids)
    }

    // ----- operator -----

    /// Forgets the failures recorded here. Returns whether there was anything to forget.
    pub(crate) fn clear_failures(&mut self) -> bool {
        let had = self.failed_here
            || self.failure.is_some()
            || self.is_failed()
            || self.res.iter().any(|r| !r.failures.is_empty());
        if had {
            self.failed_here = false;
            self.failure = None;
            self.handoff_pending = false;
            for r in &mut self.res {
                r.failures.clear();
            }
        }
        had
    }

    /// A group left unmanaged by a failed stop is managed again: probed afresh.
    pub(crate) fn reprobe(&mut self, now: Instant, ids: &mut OpIds) -> Option<Run> {
        self.phase = Phase::Stopped;
        self.probe(now, ids)
    }

    /// A blocked shutdown is retried: a failed group is treated as running, to be stopped
    /// again.
    pub(crate) fn retry_failed(&mut self) {
        if self.is_failed() {
            self.phase = Phase::Running;
        }
    }

    /// The group as the control socket shows it.
    pub(crate) fn view(&self, preferred: &str, holder: Option<String>) -> GroupView {
        GroupView {
            key: self.key.clone(),
            preferred: preferred.to_string(),
            state: self.state(),
            holder,
            failed_here: self.failed_here,
            failure: self.failure.clone(),
            managed: !self.is_failed(),
            since: self.since,
            resources: self
                .res
                .iter()
                .map(|x| ResourceView {
                    name: x.name.clone(),
                    state: x.state,
                    monitor_interval: x.policy.interval,
                    failures: u32::try_from(x.failures.len()).unwrap_or(u32::MAX),
                    restarts: x.restarts,
                    monitors: x.monitors,
                    last_failure: x.last_failure.clone(),
                })
                .collect(),
        }
    }
}
