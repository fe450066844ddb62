//! A job: the agent runs a group works through one at a time (start left to right, stop right
//! to left, ...), and the identifiers of those runs.

use crate::action::{AgentOp, OpId};
use crate::snapshot::GroupState;

/// What a job is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JobKind {
    /// `status` of every resource at start-up; found-running resources are then stopped.
    Probe,
    /// `start` of every resource, left to right.
    Start,
    /// `stop` of every resource, right to left.
    Stop,
    /// A start failed at some resource: stop it and those before it, right to left.
    Unwind,
    /// `start` again on every resource of a running group (re-sends gratuitous ARP).
    Reannounce,
    /// A monitor failed: stop the failed resource and those after it (right to left), then
    /// start them again (left to right).
    Restart,
}

impl JobKind {
    /// Whether the group's resources may be active while this job runs (for ownership
    /// reports): a group being stopped counts as released.
    pub(crate) fn claims(self) -> bool {
        matches!(
            self,
            JobKind::Start | JobKind::Reannounce | JobKind::Restart
        )
    }

    /// The reason logged when a group enters this job.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            JobKind::Probe => "start-up probe",
            JobKind::Start => "acquiring",
            JobKind::Stop => "releasing",
            JobKind::Unwind => "start failed",
            JobKind::Reannounce => "re-announcing",
            JobKind::Restart => "a monitor failed: restarting in place",
        }
    }
}

/// One agent run to start: resource index and operation, with the id it is known by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Run {
    pub(crate) id: OpId,
    pub(crate) resource: usize,
    pub(crate) op: AgentOp,
}

/// Hands out agent-run identifiers, in order, for jobs and monitors alike.
#[derive(Debug, Default)]
pub(crate) struct OpIds {
    last: u64,
}

impl OpIds {
    pub(crate) fn next(&mut self) -> OpId {
        self.last += 1;
        OpId(self.last)
    }
}

/// The steps of a job and where it stands.
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub(crate) kind: JobKind,
    steps: Vec<(usize, AgentOp)>,
    pos: usize,
    /// The run of the current step.
    pub(crate) op: OpId,
    /// Probe: resources found running.
    pub(crate) found_running: Vec<usize>,
    /// Stop: a stop failed and we are checking the resource's status.
    pub(crate) verifying: bool,
}

impl Job {
    /// A job at its first step, or `None` if it has no steps. Returns the first run too.
    pub(crate) fn begin(
        kind: JobKind,
        steps: Vec<(usize, AgentOp)>,
        ids: &mut OpIds,
    ) -> Option<(Job, Run)> {
        let &(resource, op) = steps.first()?;
        let id = ids.next();
        let job = Job {
            kind,
            steps,
            pos: 0,
            op: id,
            found_running: Vec::new(),
            verifying: false,
        };
        Some((job, Run { id, resource, op }))
    }

    /// The step whose result is awaited.
    pub(crate) fn current(&self) -> Option<(usize, AgentOp)> {
        self.steps.get(self.pos).copied()
    }

    /// Whether the current step is the last one.
    pub(crate) fn at_last(&self) -> bool {
        self.pos + 1 == self.steps.len()
    }

    /// Replaces every step after the current one.
    pub(crate) fn replace_rest(&mut self, rest: impl IntoIterator<Item = (usize, AgentOp)>) {
        self.steps.truncate(self.pos + 1);
        self.steps.extend(rest);
    }

    /// Inserts a step right after the current one.
    pub(crate) fn insert_next(&mut self, step: (usize, AgentOp)) {
        self.steps.insert(self.pos + 1, step);
    }

    /// Moves to the next step, if there is one, and returns its run.
    pub(crate) fn advance(&mut self, ids: &mut OpIds) -> Option<Run> {
        let &(resource, op) = self.steps.get(self.pos + 1)?;
        self.pos += 1;
        let id = ids.next();
        self.op = id;
        Some(Run { id, resource, op })
    }

    /// The group state this job shows.
    pub(crate) fn state(&self) -> GroupState {
        match self.kind {
            JobKind::Probe => {
                if self.current().is_some_and(|s| s.1 == AgentOp::Status) {
                    GroupState::Probing
                } else {
                    GroupState::Stopping
                }
            }
            JobKind::Start => GroupState::Starting,
            JobKind::Stop | JobKind::Unwind => GroupState::Stopping,
            JobKind::Reannounce => GroupState::Reannouncing,
            JobKind::Restart => GroupState::Restarting,
        }
    }
}

/// Every resource of a group of `n`, in start order.
pub(crate) fn forward(n: usize, op: AgentOp) -> Vec<(usize, AgentOp)> {
    (0..n).map(|r| (r, op)).collect()
}

/// Every resource of a group of `n`, in stop order.
pub(crate) fn backward(n: usize, op: AgentOp) -> Vec<(usize, AgentOp)> {
    (0..n).rev().map(|r| (r, op)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_walks_its_steps_with_fresh_ids() {
        let mut ids = OpIds::default();
        let (mut job, first) =
            Job::begin(JobKind::Stop, backward(3, AgentOp::Stop), &mut ids).expect("three steps");
        assert_eq!((first.id, first.resource), (OpId(1), 2));
        assert_eq!(job.state(), GroupState::Stopping);
        job.insert_next((2, AgentOp::Status));
        let second = job.advance(&mut ids).expect("a second step");
        assert_eq!(
            (second.id, second.resource, second.op),
            (OpId(2), 2, AgentOp::Status)
        );
        assert_eq!(job.op, OpId(2));
        assert_eq!(job.advance(&mut ids).map(|r| r.resource), Some(1));
        assert_eq!(job.advance(&mut ids).map(|r| r.resource), Some(0));
        assert!(job.at_last());
        assert_eq!(job.advance(&mut ids), None);
        assert!(Job::begin(JobKind::Start, Vec::new(), &mut ids).is_none());
    }

    #[test]
    fn a_probe_shows_stopping_once_it_stops_what_it_found() {
        let mut ids = OpIds::default();
        let (mut job, _) =
            Job::begin(JobKind::Probe, forward(1, AgentOp::Status), &mut ids).expect("one step");
        assert_eq!(job.state(), GroupState::Probing);
        job.replace_rest(backward(1, AgentOp::Stop));
        job.advance(&mut ids);
        assert_eq!(job.state(), GroupState::Stopping);
    }
}
