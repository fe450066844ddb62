//! Running a resource group's resources in order: start left to right, stop right to left,
//! unwinding a failed start, the start-up probe, and re-announcing (spec §8, haresources).
//!
//! The core never runs two agents of one group at once. A request that arrives while a job
//! runs is queued ([`Want`]) and applied when the job ends.

use std::collections::{BTreeSet, VecDeque};

use crate::action::{Action, AgentOp, AgentResult, OpId};
use crate::snapshot::{GroupState, ResourceState};
use crate::{Core, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// `status` of every resource at start-up; found-running resources are then stopped.
    Probe,
    Start,
    Stop,
    /// A start failed at some resource: stop it and those before it, right to left.
    Unwind,
    /// `start` again on every resource of a running group (re-sends gratuitous ARP).
    Reannounce,
    /// A monitor failed: stop the failed resource and those after it (right to left), then
    /// start them again (left to right).
    Restart,
}

#[derive(Clone, Debug)]
pub(crate) struct Job {
    kind: JobKind,
    steps: Vec<(usize, AgentOp)>,
    pos: usize,
    op: OpId,
    /// Probe: resources found running.
    found_running: Vec<usize>,
    /// Stop: a stop failed and we are checking the resource's status.
    verifying: bool,
}

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

/// Per-resource bookkeeping: what we believe of it, its monitor schedule and its failures.
#[derive(Clone, Debug)]
pub(crate) struct ResRt {
    pub(crate) state: ResourceState,
    /// When the next monitor is due (only while the group runs and no monitor is out).
    pub(crate) next_monitor: Option<Instant>,
    /// The monitor run in flight, if any.
    pub(crate) monitor_op: Option<OpId>,
    /// Monitor failures within the restart window, oldest first.
    pub(crate) failures: VecDeque<Instant>,
    /// In-place restarts since the daemon started.
    pub(crate) restarts: u64,
    /// Monitor runs that finished while they counted (passed or failed) since the daemon
    /// started.
    pub(crate) monitors: u64,
    /// The latest failure: when, and what happened.
    pub(crate) last_failure: Option<(Instant, String)>,
}

impl ResRt {
    fn new() -> ResRt {
        ResRt {
            state: ResourceState::Unknown,
            next_monitor: None,
            monitor_op: None,
            failures: VecDeque::new(),
            restarts: 0,
            monitors: 0,
            last_failure: None,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct GroupRt {
    pub(crate) phase: Phase,
    /// Epoch of our current (or last) acquisition.
    pub(crate) epoch: u64,
    /// Highest acquisition epoch known for this group anywhere.
    pub(crate) max_epoch: u64,
    /// A start failed here; not started here again until the daemon restarts.
    pub(crate) failed_here: bool,
    pub(crate) want: Option<Want>,
    resources: usize,
    pub(crate) res: Vec<ResRt>,
    /// When the group's state last changed.
    pub(crate) since: Option<Instant>,
    /// Why the group may not run here (start failure, restart limit), for operators.
    pub(crate) failure: Option<String>,
    /// A local failure stopped the group outside any acquisition: once it settles, report
    /// and offer it to the peer.
    pub(crate) handoff_pending: bool,
}

impl GroupRt {
    pub(crate) fn new(resources: usize) -> GroupRt {
        GroupRt {
            phase: Phase::Stopped,
            epoch: 0,
            max_epoch: 0,
            failed_here: false,
            want: None,
            resources,
            res: (0..resources).map(|_| ResRt::new()).collect(),
            since: None,
            failure: None,
            handoff_pending: false,
        }
    }

    pub(crate) fn state(&self) -> GroupState {
        match &self.phase {
            Phase::Stopped => GroupState::Stopped,
            Phase::Running => GroupState::Running,
            Phase::Failed => GroupState::Failed,
            Phase::Busy(j) => match j.kind {
                JobKind::Probe => {
                    if j.steps.get(j.pos).is_some_and(|s| s.1 == AgentOp::Status) {
                        GroupState::Probing
                    } else {
                        GroupState::Stopping
                    }
                }
                JobKind::Start => GroupState::Starting,
                JobKind::Stop | JobKind::Unwind => GroupState::Stopping,
                JobKind::Reannounce => GroupState::Reannouncing,
                JobKind::Restart => GroupState::Restarting,
            },
        }
    }

    /// No job running and nothing queued.
    pub(crate) fn settled(&self) -> bool {
        !matches!(self.phase, Phase::Busy(_)) && self.want.is_none()
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }

    /// Resources of this group may be active here (for ownership reports): running,
    /// starting, re-announcing, or failed to stop. A group being stopped counts as released.
    pub(crate) fn claims(&self) -> bool {
        match &self.phase {
            Phase::Running | Phase::Failed => true,
            Phase::Busy(j) => matches!(
                j.kind,
                JobKind::Start | JobKind::Reannounce | JobKind::Restart
            ),
            Phase::Stopped => false,
        }
    }

    /// Anything other than cleanly stopped.
    pub(crate) fn active(&self) -> bool {
        !matches!(self.phase, Phase::Stopped)
    }
}

impl Core {
    fn next_op(&mut self) -> OpId {
        self.res.next_op += 1;
        OpId(self.res.next_op)
    }

    fn key(&self, g: usize) -> &str {
        &self.cfg.groups[g].key
    }

    fn launch(&mut self, g: usize, kind: JobKind, steps: Vec<(usize, AgentOp)>) {
        let before = self.res.groups[g].state();
        // Monitors belong to a running group: a job cancels the schedule (a monitor still
        // out is ignored when it comes back).
        for r in &mut self.res.groups[g].res {
            r.next_monitor = None;
            r.monitor_op = None;
        }
        if steps.is_empty() {
            let phase = if matches!(
                kind,
                JobKind::Start | JobKind::Reannounce | JobKind::Restart
            ) {
                Phase::Running
            } else {
                Phase::Stopped
            };
            self.res.groups[g].phase = phase;
            self.log_group(g, before, "no resources");
            return;
        }
        let op = self.next_op();
        let (resource, agent_op) = steps[0];
        self.res.groups[g].phase = Phase::Busy(Job {
            kind,
            steps,
            pos: 0,
            op,
            found_running: Vec::new(),
            verifying: false,
        });
        self.res.ops.insert(op, g);
        self.mark_step(g, resource, agent_op);
        self.actions.push_back(Action::RunAgent {
            id: op,
            group: g,
            resource,
            op: agent_op,
        });
        self.log_group(
            g,
            before,
            match kind {
                JobKind::Probe => "start-up probe",
                JobKind::Start => "acquiring",
                JobKind::Stop => "releasing",
                JobKind::Unwind => "start failed",
                JobKind::Reannounce => "re-announcing",
                JobKind::Restart => "a monitor failed: restarting in place",
            },
        );
    }

    /// A step is about to run: what the resource is now.
    fn mark_step(&mut self, g: usize, r: usize, op: AgentOp) {
        if let Some(rt) = self.res.groups[g].res.get_mut(r) {
            match op {
                AgentOp::Start => rt.state = ResourceState::Starting,
                AgentOp::Stop => rt.state = ResourceState::Stopping,
                AgentOp::Status | AgentOp::Monitor => {}
            }
        }
    }

    fn set_res_state(&mut self, g: usize, r: usize, state: ResourceState) {
        if let Some(rt) = self.res.groups[g].res.get_mut(r) {
            rt.state = state;
        }
    }

    fn log_group(&mut self, g: usize, before: crate::GroupState, why: &str) {
        let after = self.res.groups[g].state();
        if before != after {
            self.res.groups[g].since = Some(self.now);
            if why.is_empty() {
                tracing::info!("group {}: {before} -> {after}", self.key(g));
            } else {
                tracing::info!("group {}: {before} -> {after} ({why})", self.key(g));
            }
        }
    }

    /// Probes every resource of every group (start-up).
    pub(crate) fn start_probe(&mut self, now: Instant) {
        for g in 0..self.cfg.groups.len() {
            self.group_probe(g);
        }
        let all: BTreeSet<usize> = (0..self.cfg.groups.len()).collect();
        self.batch(now, all, crate::res::Then::ProbeDone);
    }

    /// Runs `status` on every resource of `g` and stops the group if any is found running.
    pub(crate) fn group_probe(&mut self, g: usize) {
        let steps = (0..self.cfg.groups[g].resources.len())
            .map(|r| (r, AgentOp::Status))
            .collect();
        self.launch(g, JobKind::Probe, steps);
    }

    /// Starts group `g` (or queues the start). Returns false if it cannot be started here.
    pub(crate) fn group_start(&mut self, g: usize, why: &str) -> bool {
        let rt = &mut self.res.groups[g];
        if rt.failed_here {
            tracing::warn!(
                "group {}: not starting it here ({why}): a start failed here before",
                self.cfg.groups[g].key
            );
            return false;
        }
        match rt.phase {
            Phase::Running => {
                rt.want = None;
                true
            }
            Phase::Failed => false,
            Phase::Busy(_) => {
                rt.want = Some(Want::Start);
                true
            }
            Phase::Stopped => {
                rt.epoch = rt.max_epoch + 1;
                rt.max_epoch = rt.epoch;
                rt.want = None;
                tracing::debug!(
                    "group {}: start ({why}), epoch {}",
                    self.cfg.groups[g].key,
                    rt.epoch
                );
                let steps = (0..rt.resources).map(|r| (r, AgentOp::Start)).collect();
                self.launch(g, JobKind::Start, steps);
                true
            }
        }
    }

    /// Stops group `g` (or queues the stop).
    pub(crate) fn group_stop(&mut self, g: usize, why: &str) {
        let rt = &mut self.res.groups[g];
        match rt.phase {
            Phase::Stopped | Phase::Failed => rt.want = None,
            Phase::Busy(_) => rt.want = Some(Want::Stop),
            Phase::Running => {
                rt.want = None;
                tracing::debug!("group {}: stop ({why})", self.cfg.groups[g].key);
                let steps = (0..rt.resources)
                    .rev()
                    .map(|r| (r, AgentOp::Stop))
                    .collect();
                self.launch(g, JobKind::Stop, steps);
            }
        }
    }

    /// Runs `start` again on every resource of a running group.
    pub(crate) fn group_reannounce(&mut self, g: usize) {
        if self.res.groups[g].is_running() {
            let steps = (0..self.res.groups[g].resources)
                .map(|r| (r, AgentOp::Start))
                .collect();
            self.launch(g, JobKind::Reannounce, steps);
        }
    }

    /// An agent finished: advance the group's job, or judge a monitor.
    pub(crate) fn on_agent_done(&mut self, now: Instant, id: OpId, result: AgentResult) {
        if let Some((g, r)) = self.res.monitor_ops.remove(&id) {
            self.on_monitor_done(now, g, r, id, result);
            return;
        }
        let Some(g) = self.res.ops.remove(&id) else {
            tracing::warn!("result for unknown agent run {id} ignored");
            return;
        };
        let before = self.res.groups[g].state();
        let Phase::Busy(mut job) = std::mem::replace(&mut self.res.groups[g].phase, Phase::Stopped)
        else {
            return;
        };
        if job.op != id {
            self.res.groups[g].phase = Phase::Busy(job);
            return;
        }
        let (resource, op) = job.steps[job.pos];
        let rname = self.cfg.groups[g]
            .resources
            .get(resource)
            .cloned()
            .unwrap_or_default();
        let key = self.key(g).to_string();
        tracing::debug!("group {key}: {rname} {op}: {result}");
        let mut next_job: Option<(JobKind, Vec<(usize, AgentOp)>)> = None;
        let mut end: Option<Phase> = None;
        match (job.kind, op) {
            (JobKind::Probe, AgentOp::Status) => {
                if result == AgentResult::NotRunning {
                    self.set_res_state(g, resource, ResourceState::Stopped);
                } else {
                    // Running, or unknown (failed/timed out): assume it may run.
                    tracing::warn!("group {key}: {rname} found {result} at start-up: stopping it");
                    self.set_res_state(g, resource, ResourceState::Running);
                    job.found_running.push(resource);
                }
                if job.pos + 1 == job.steps.len() && !job.found_running.is_empty() {
                    // Cleanup: stop every resource of the group, right to left.
                    let stops: Vec<(usize, AgentOp)> = (0..self.res.groups[g].resources)
                        .rev()
                        .map(|r| (r, AgentOp::Stop))
                        .collect();
                    job.steps.truncate(job.pos + 1);
                    job.steps.extend(stops);
                }
            }
            (JobKind::Probe, _) => {
                if result.is_success() {
                    self.set_res_state(g, resource, ResourceState::Stopped);
                } else {
                    tracing::error!(
                        "group {key}: {rname} stop {result} during start-up cleanup: the resource may still run here; \
                         the group is now unmanaged (stop it by hand, then run hb_cleanup {key})"
                    );
                    self.set_res_state(g, resource, ResourceState::Failed);
                    end = Some(Phase::Failed);
                }
            }
            (JobKind::Start | JobKind::Restart, AgentOp::Start) => {
                if result.is_success() {
                    self.set_res_state(g, resource, ResourceState::Running);
                } else {
                    tracing::error!(
                        "group {key}: {rname} start {result}: stopping what was started, in reverse"
                    );
                    self.set_res_state(g, resource, ResourceState::Failed);
                    let rt = &mut self.res.groups[g];
                    rt.failed_here = true;
                    rt.failure = Some(format!("{rname} start {result}"));
                    if job.kind == JobKind::Restart {
                        rt.handoff_pending = true;
                        if let Some(res) = rt.res.get_mut(resource) {
                            res.last_failure = Some((now, format!("start {result}")));
                        }
                    }
                    next_job = Some((
                        JobKind::Unwind,
                        (0..=resource).rev().map(|r| (r, AgentOp::Stop)).collect(),
                    ));
                }
            }
            (
                JobKind::Stop | JobKind::Unwind | JobKind::Restart,
                AgentOp::Stop | AgentOp::Status,
            ) => {
                if job.verifying {
                    job.verifying = false;
                    if result == AgentResult::NotRunning {
                        tracing::warn!(
                            "group {key}: {rname} stop failed but status says it is not running: \
                             the agent must succeed when stopping a stopped resource"
                        );
                        self.set_res_state(g, resource, ResourceState::Stopped);
                    } else {
                        tracing::error!(
                            "group {key}: {rname} could not be stopped and may still run here: the group is \
                             now unmanaged and will not be started anywhere else. Stop {rname} by hand, \
                             then run hb_cleanup {key} on this node (or restart heartbeat here)"
                        );
                        self.set_res_state(g, resource, ResourceState::Failed);
                        let rt = &mut self.res.groups[g];
                        rt.failure = Some(format!("{rname} stop failed; unmanaged"));
                        rt.handoff_pending = false;
                        end = Some(Phase::Failed);
                    }
                } else if result.is_success() {
                    self.set_res_state(g, resource, ResourceState::Stopped);
                } else {
                    tracing::warn!("group {key}: {rname} stop {result}: checking its status");
                    job.verifying = true;
                    job.steps.insert(job.pos + 1, (resource, AgentOp::Status));
                }
            }
            (JobKind::Reannounce, _) => {
                if result.is_success() {
                    self.set_res_state(g, resource, ResourceState::Running);
                } else {
                    tracing::warn!("group {key}: {rname} start (re-announce) {result}");
                }
            }
            (kind, op) => {
                tracing::warn!("group {key}: unexpected {op} result in a {kind:?} job ignored");
            }
        }
        if end.is_none() && next_job.is_none() {
            if job.pos + 1 < job.steps.len() {
                job.pos += 1;
                let (r, o) = job.steps[job.pos];
                let op = self.next_op();
                job.op = op;
                self.res.ops.insert(op, g);
                self.res.groups[g].phase = Phase::Busy(job);
                self.mark_step(g, r, o);
                self.actions.push_back(Action::RunAgent {
                    id: op,
                    group: g,
                    resource: r,
                    op: o,
                });
                self.log_group(g, before, "");
                return;
            }
            end = Some(match job.kind {
                JobKind::Start | JobKind::Reannounce | JobKind::Restart => Phase::Running,
                JobKind::Probe | JobKind::Stop | JobKind::Unwind => Phase::Stopped,
            });
        }
        if let Some((kind, steps)) = next_job {
            self.launch(g, kind, steps);
            return;
        }
        let phase = end.unwrap_or(Phase::Stopped);
        let why = match (&phase, job.kind) {
            (Phase::Running, JobKind::Restart) => "restarted in place",
            (Phase::Running, _) => "all resources started",
            (Phase::Stopped, JobKind::Unwind) => "start failed; group released",
            (Phase::Stopped, JobKind::Probe) => "start-up probe done",
            (Phase::Stopped, _) => "all resources stopped",
            (Phase::Failed, _) => "stop failed",
            (Phase::Busy(_), _) => "",
        };
        let running = matches!(phase, Phase::Running);
        self.res.groups[g].phase = phase;
        self.log_group(g, before, why);
        if running {
            self.schedule_monitors(now, g);
        }
        // Apply a queued request.
        match self.res.groups[g].want.take() {
            Some(Want::Start) if !self.res.groups[g].is_running() => {
                self.group_start(g, "queued");
            }
            Some(Want::Stop) if self.res.groups[g].is_running() => self.group_stop(g, "queued"),
            _ => {}
        }
        if self.res.groups[g].settled() {
            self.on_group_settled(now, g);
        }
    }

    // ----- monitoring -----

    /// The group just became running: plan the first monitor of each monitored resource.
    fn schedule_monitors(&mut self, now: Instant, g: usize) {
        for r in 0..self.res.groups[g].res.len() {
            let interval = self.cfg.groups[g].monitor.get(r).and_then(|m| m.interval);
            let rt = &mut self.res.groups[g].res[r];
            rt.monitor_op = None;
            rt.next_monitor = interval.map(|i| now + i);
        }
    }

    /// The earliest monitor due.
    pub(crate) fn monitor_deadline(&self) -> Option<Instant> {
        if self.res.shutdown.is_some() {
            return None;
        }
        self.res
            .groups
            .iter()
            .filter(|g| g.is_running() && g.want.is_none())
            .flat_map(|g| g.res.iter().filter_map(|r| r.next_monitor))
            .min()
    }

    /// Starts every monitor that is due.
    pub(crate) fn monitor_tick(&mut self, now: Instant) {
        if self.res.shutdown.is_some() {
            return;
        }
        for g in 0..self.res.groups.len() {
            if !self.res.groups[g].is_running() || self.res.groups[g].want.is_some() {
                continue;
            }
            for r in 0..self.res.groups[g].res.len() {
                let due = self.res.groups[g].res[r]
                    .next_monitor
                    .is_some_and(|t| t <= now);
                if !due || self.res.groups[g].res[r].monitor_op.is_some() {
                    continue;
                }
                let id = self.next_op();
                let rt = &mut self.res.groups[g].res[r];
                rt.next_monitor = None;
                rt.monitor_op = Some(id);
                self.res.monitor_ops.insert(id, (g, r));
                self.actions.push_back(Action::RunAgent {
                    id,
                    group: g,
                    resource: r,
                    op: AgentOp::Monitor,
                });
            }
        }
    }

    fn on_monitor_done(&mut self, now: Instant, g: usize, r: usize, id: OpId, result: AgentResult) {
        let current = self.res.groups[g].is_running()
            && self.res.groups[g]
                .res
                .get(r)
                .is_some_and(|x| x.monitor_op == Some(id));
        let rname = self.cfg.groups[g]
            .resources
            .get(r)
            .cloned()
            .unwrap_or_default();
        let key = self.key(g).to_string();
        if !current {
            tracing::debug!("group {key}: late monitor result of {rname} ({result}) ignored");
            return;
        }
        let Some(policy) = self.cfg.groups[g].monitor.get(r).copied() else {
            return;
        };
        let rt = &mut self.res.groups[g].res[r];
        rt.monitor_op = None;
        rt.monitors += 1;
        if result == AgentResult::Running {
            rt.next_monitor = policy.interval.map(|i| now + i);
            return;
        }
        let what = match result {
            AgentResult::NotRunning => "is not running".to_string(),
            other => format!("monitor {other}"),
        };
        rt.state = ResourceState::Failed;
        rt.last_failure = Some((now, what.clone()));
        rt.failures.push_back(now);
        while rt
            .failures
            .front()
            .is_some_and(|&t| now.saturating_since(t) >= policy.window)
        {
            rt.failures.pop_front();
        }
        let count = rt.failures.len();
        let allowed = usize::try_from(policy.restarts).unwrap_or(usize::MAX);
        if count <= allowed {
            rt.restarts += 1;
            tracing::error!(
                "group {key}: {rname} {what}: restarting it in place (failure {count} of {} allowed within {} s)",
                policy.restarts,
                policy.window.as_secs()
            );
            let last = self.res.groups[g].resources.saturating_sub(1);
            let mut steps: Vec<(usize, AgentOp)> =
                (r..=last).rev().map(|x| (x, AgentOp::Stop)).collect();
            steps.extend((r..=last).map(|x| (x, AgentOp::Start)));
            self.launch(g, JobKind::Restart, steps);
        } else {
            let why = format!(
                "{rname} {what}: failed {count} times within {} s (restart limit {})",
                policy.window.as_secs(),
                policy.restarts
            );
            tracing::error!(
                "group {key}: {why}: moving the group to the peer; it will not run on this node \
                 again until an operator runs hb_cleanup {key}"
            );
            let grt = &mut self.res.groups[g];
            grt.failed_here = true;
            grt.failure = Some(why);
            grt.handoff_pending = true;
            self.group_stop(g, "restart limit reached");
        }
    }
}
