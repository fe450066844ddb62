//! Running a resource group's resources in order: start left to right, stop right to left,
//! unwinding a failed start, the start-up probe, and re-announcing (spec §8, haresources).
//!
//! The core never runs two agents of one group at once. A request that arrives while a job
//! runs is queued ([`Want`]) and applied when the job ends.

use std::collections::BTreeSet;

use crate::action::{Action, AgentOp, AgentResult, OpId};
use crate::snapshot::GroupState;
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
            Phase::Busy(j) => matches!(j.kind, JobKind::Start | JobKind::Reannounce),
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
        if steps.is_empty() {
            let phase = if kind == JobKind::Start || kind == JobKind::Reannounce {
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
            },
        );
    }

    fn log_group(&self, g: usize, before: crate::GroupState, why: &str) {
        let after = self.res.groups[g].state();
        if before != after {
            tracing::info!("group {}: {before} -> {after} ({why})", self.key(g));
        }
    }

    /// Probes every resource of every group (start-up).
    pub(crate) fn start_probe(&mut self, now: Instant) {
        for g in 0..self.cfg.groups.len() {
            let steps = (0..self.cfg.groups[g].resources.len())
                .map(|r| (r, AgentOp::Status))
                .collect();
            self.launch(g, JobKind::Probe, steps);
        }
        let all: BTreeSet<usize> = (0..self.cfg.groups.len()).collect();
        self.batch(now, all, crate::res::Then::ProbeDone);
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

    /// An agent finished: advance the group's job.
    pub(crate) fn on_agent_done(&mut self, now: Instant, id: OpId, result: AgentResult) {
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
        match job.kind {
            JobKind::Probe => {
                if op == AgentOp::Status {
                    if result != AgentResult::NotRunning {
                        // Running, or unknown (failed/timed out): assume it may run.
                        tracing::warn!(
                            "group {key}: {rname} found {result} at start-up: stopping it"
                        );
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
                } else if !result.is_success() {
                    tracing::error!(
                        "group {key}: {rname} stop {result} during start-up cleanup: the resource may still run here; \
                         the group is now unmanaged (fix it, then restart heartbeat)"
                    );
                    end = Some(Phase::Failed);
                }
            }
            JobKind::Start => {
                if !result.is_success() {
                    tracing::error!(
                        "group {key}: {rname} start {result}: stopping what was started, in reverse"
                    );
                    self.res.groups[g].failed_here = true;
                    next_job = Some((
                        JobKind::Unwind,
                        (0..=resource).rev().map(|r| (r, AgentOp::Stop)).collect(),
                    ));
                }
            }
            JobKind::Stop | JobKind::Unwind => {
                if job.verifying {
                    job.verifying = false;
                    if result == AgentResult::NotRunning {
                        tracing::warn!(
                            "group {key}: {rname} stop failed but status says it is not running: \
                             the agent must succeed when stopping a stopped resource"
                        );
                    } else {
                        tracing::error!(
                            "group {key}: {rname} could not be stopped and may still run here: the group is \
                             now unmanaged and will not be started anywhere else; stop it by hand, then \
                             restart heartbeat on this node"
                        );
                        end = Some(Phase::Failed);
                    }
                } else if !result.is_success() {
                    tracing::warn!("group {key}: {rname} stop {result}: checking its status");
                    job.verifying = true;
                    job.steps.insert(job.pos + 1, (resource, AgentOp::Status));
                }
            }
            JobKind::Reannounce => {
                if !result.is_success() {
                    tracing::warn!("group {key}: {rname} start (re-announce) {result}");
                }
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
                JobKind::Start | JobKind::Reannounce => Phase::Running,
                JobKind::Probe | JobKind::Stop | JobKind::Unwind => Phase::Stopped,
            });
        }
        if let Some((kind, steps)) = next_job {
            self.launch(g, kind, steps);
            return;
        }
        let phase = end.unwrap_or(Phase::Stopped);
        let why = match (&phase, job.kind) {
            (Phase::Running, _) => "all resources started",
            (Phase::Stopped, JobKind::Unwind) => "start failed; group released",
            (Phase::Stopped, JobKind::Probe) => "start-up probe done",
            (Phase::Stopped, _) => "all resources stopped",
            (Phase::Failed, _) => "stop failed",
            (Phase::Busy(_), _) => "",
        };
        self.res.groups[g].phase = phase;
        self.log_group(g, before, why);
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
}
