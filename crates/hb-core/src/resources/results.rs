//! An agent run's result applied to its group: the next step of the job, a new job (a
//! failed start unwinds), or the end of the job and the queued request; and the monitors of
//! a running group, judged one by one.

use crate::Instant;
use crate::action::{AgentOp, AgentResult, OpId};
use crate::snapshot::ResourceState;

use super::group::{Group, Phase, Want};
use super::job::{Job, JobKind, OpIds, Run, backward};
use super::resource::Verdict;

impl Group {
    /// The agent run `id` of this group's job finished. Returns the next run, if any; the
    /// caller checks [`Group::settled`] afterwards.
    pub(crate) fn agent_done(
        &mut self,
        now: Instant,
        id: OpId,
        result: AgentResult,
        ids: &mut OpIds,
    ) -> Option<Run> {
        let before = self.state();
        let Phase::Busy(job) = &mut self.phase else {
            return None;
        };
        if job.op != id {
            return None;
        }
        let mut job = job.clone();
        let (resource, op) = job.current()?;
        let rname = self.name(resource);
        tracing::debug!("group {}: {rname} {op}: {result}", self.key);
        let step = match (job.kind, op) {
            (JobKind::Probe, AgentOp::Status) => {
                self.probed(&mut job, resource, &rname, result);
                Step::Next
            }
            (JobKind::Probe, _) => self.probe_stopped(resource, &rname, result),
            (JobKind::Start | JobKind::Restart, AgentOp::Start) => {
                self.started(now, job.kind, resource, &rname, result)
            }
            (
                JobKind::Stop | JobKind::Unwind | JobKind::Restart,
                AgentOp::Stop | AgentOp::Status,
            ) => self.stopped(&mut job, resource, &rname, result),
            (JobKind::Reannounce, _) => {
                if result.is_success() {
                    self.set_res_state(resource, ResourceState::Running);
                } else {
                    tracing::warn!("group {}: {rname} start (re-announce) {result}", self.key);
                }
                Step::Next
            }
            (kind, op) => {
                tracing::warn!(
                    "group {}: unexpected {op} result in a {kind:?} job ignored",
                    self.key
                );
                Step::Next
            }
        };
        let end = match step {
            Step::Next => match job.advance(ids) {
                Some(run) => {
                    self.phase = Phase::Busy(job);
                    self.mark_step(run.resource, run.op);
                    self.log_change(now, before, "");
                    return Some(run);
                }
                None => {
                    if job.kind.claims() {
                        Phase::Running
                    } else {
                        Phase::Stopped
                    }
                }
            },
            Step::Then(kind, steps) => {
                self.phase = Phase::Stopped;
                return self.launch(now, kind, steps, ids);
            }
            Step::End(phase) => phase,
        };
        let why = match (&end, job.kind) {
            (Phase::Running, JobKind::Restart) => "restarted in place",
            (Phase::Running, _) => "all resources started",
            (Phase::Stopped, JobKind::Unwind) => "start failed; group released",
            (Phase::Stopped, JobKind::Probe) => "start-up probe done",
            (Phase::Stopped, _) => "all resources stopped",
            (Phase::Failed, _) => "stop failed",
            (Phase::Busy(_), _) => "",
        };
        let running = matches!(end, Phase::Running);
        self.phase = end;
        self.log_change(now, before, why);
        if running {
            for r in &mut self.res {
                r.schedule(now);
            }
        }
        // Apply a queued request.
        match self.want.take() {
            Some(Want::Start) if !self.is_running() => self.start(now, "queued", ids).1,
            Some(Want::Stop) if self.is_running() => self.stop(now, "queued", ids),
            _ => None,
        }
    }

    /// A start-up probe's `status` came back.
    fn probed(&mut self, job: &mut Job, resource: usize, rname: &str, result: AgentResult) {
        if result == AgentResult::NotRunning {
            self.set_res_state(resource, ResourceState::Stopped);
        } else {
            // Running, or unknown (failed/timed out): assume it may run.
            tracing::warn!(
                "group {}: {rname} found {result} at start-up: stopping it",
                self.key
            );
            self.set_res_state(resource, ResourceState::Running);
            job.found_running.push(resource);
        }
        if job.at_last() && !job.found_running.is_empty() {
            // Cleanup: stop every resource of the group, right to left.
            job.replace_rest(backward(self.res.len(), AgentOp::Stop));
        }
    }

    /// A stop of the start-up cleanup came back.
    fn probe_stopped(&mut self, resource: usize, rname: &str, result: AgentResult) -> Step {
        if result.is_success() {
            self.set_res_state(resource, ResourceState::Stopped);
            return Step::Next;
        }
        let key = &self.key;
        tracing::error!(
            "group {key}: {rname} stop {result} during start-up cleanup: the resource may still run here; \
             the group is now unmanaged (stop it by hand, then run hb_cleanup {key})"
        );
        self.set_res_state(resource, ResourceState::Failed);
        Step::End(Phase::Failed)
    }

    /// A start (of a start or a restart) came back.
    fn started(
        &mut self,
        now: Instant,
        kind: JobKind,
        resource: usize,
        rname: &str,
        result: AgentResult,
    ) -> Step {
        if result.is_success() {
            self.set_res_state(resource, ResourceState::Running);
            return Step::Next;
        }
        tracing::error!(
            "group {}: {rname} start {result}: stopping what was started, in reverse",
            self.key
        );
        self.set_res_state(resource, ResourceState::Failed);
        self.failed_here = true;
        self.failure = Some(format!("{rname} start {result}"));
        if kind == JobKind::Restart {
            self.handoff_pending = true;
            if let Some(res) = self.res.get_mut(resource) {
                res.last_failure = Some((now, format!("start {result}")));
            }
        }
        Step::Then(JobKind::Unwind, backward(resource + 1, AgentOp::Stop))
    }

    /// A stop (or the status check after a failed stop) came back.
    fn stopped(
        &mut self,
        job: &mut Job,
        resource: usize,
        rname: &str,
        result: AgentResult,
    ) -> Step {
        let key = self.key.clone();
        if job.verifying {
            job.verifying = false;
            if result == AgentResult::NotRunning {
                tracing::warn!(
                    "group {key}: {rname} stop failed but status says it is not running: \
                     the agent must succeed when stopping a stopped resource"
                );
                self.set_res_state(resource, ResourceState::Stopped);
                return Step::Next;
            }
            tracing::error!(
                "group {key}: {rname} could not be stopped and may still run here: the group is \
                 now unmanaged and will not be started anywhere else. Stop {rname} by hand, \
                 then run hb_cleanup {key} on this node (or restart heartbeat here)"
            );
            self.set_res_state(resource, ResourceState::Failed);
            self.failure = Some(format!("{rname} stop failed; unmanaged"));
            self.handoff_pending = false;
            return Step::End(Phase::Failed);
        }
        if result.is_success() {
            self.set_res_state(resource, ResourceState::Stopped);
        } else {
            tracing::warn!("group {key}: {rname} stop {result}: checking its status");
            job.verifying = true;
            job.insert_next((resource, AgentOp::Status));
        }
        Step::Next
    }

    // ----- monitoring -----

    /// Starts every monitor that is due; returns the runs.
    pub(crate) fn due_monitors(&mut self, now: Instant, ids: &mut OpIds) -> Vec<Run> {
        let mut runs = Vec::new();
        if !self.monitored() {
            return runs;
        }
        for (r, x) in self.res.iter_mut().enumerate() {
            if x.monitor_due(now) {
                let id = ids.next();
                x.monitor_started(id);
                runs.push(Run {
                    id,
                    resource: r,
                    op: AgentOp::Monitor,
                });
            }
        }
        runs
    }

    /// The earliest monitor due.
    pub(crate) fn monitor_deadline(&self) -> Option<Instant> {
        if !self.monitored() {
            return None;
        }
        self.res.iter().filter_map(|r| r.next_monitor).min()
    }

    /// Monitor run `id` of resource `r` finished: judge it, and restart in place or give
    /// the group up. Returns the run to start, if any.
    pub(crate) fn monitor_done(
        &mut self,
        now: Instant,
        r: usize,
        id: OpId,
        result: AgentResult,
        ids: &mut OpIds,
    ) -> Option<Run> {
        let key = self.key.clone();
        let rname = self.name(r);
        let current =
            self.is_running() && self.res.get(r).is_some_and(|x| x.monitor_op == Some(id));
        if !current {
            tracing::debug!("group {key}: late monitor result of {rname} ({result}) ignored");
            return None;
        }
        let res = self.res.get_mut(r)?;
        let policy = res.policy;
        match res.judge(now, result) {
            Verdict::Healthy => None,
            Verdict::Restart { what, count } => {
                tracing::error!(
                    "group {key}: {rname} {what}: restarting it in place (failure {count} of {} allowed within {} s)",
                    policy.restarts,
                    policy.window.as_secs()
                );
                let last = self.res.len().saturating_sub(1);
                let mut steps: Vec<(usize, AgentOp)> =
                    (r..=last).rev().map(|x| (x, AgentOp::Stop)).collect();
                steps.extend((r..=last).map(|x| (x, AgentOp::Start)));
                self.launch(now, JobKind::Restart, steps, ids)
            }
            Verdict::GiveUp { what, count } => {
                let why = format!(
                    "{rname} {what}: failed {count} times within {} s (restart limit {})",
                    policy.window.as_secs(),
                    policy.restarts
                );
                tracing::error!(
                    "group {key}: {why}: moving the group to the peer; it will not run on this node \
                     again until an operator runs hb_cleanup {key}"
                );
                self.failed_here = true;
                self.failure = Some(why);
                self.handoff_pending = true;
                self.stop(now, "restart limit reached", ids)
            }
        }
    }
}

/// What a finished step leads to.
enum Step {
    /// On to the next step (the job ends after the last).
    Next,
    /// The job ends here in this phase.
    End(Phase),
    /// The job is replaced by another.
    Then(JobKind, Vec<(usize, AgentOp)>),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::{GroupConfig, MonitorPolicy};
    use crate::nodes::Nodes;
    use crate::snapshot::GroupState;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    /// A group of three resources (vip, web, app); web is monitored every second with one
    /// restart allowed per minute.
    fn group() -> (Group, OpIds) {
        let cfg = crate::config::tests::two_nodes();
        let node = Nodes::new(&cfg).me();
        let monitored = MonitorPolicy {
            interval: Some(Duration::from_secs(1)),
            restarts: 1,
            window: Duration::from_secs(60),
        };
        let g = GroupConfig {
            key: "g".into(),
            preferred: 0,
            resources: vec!["vip".into(), "web".into(), "app".into()],
            monitor: vec![MonitorPolicy::OFF, monitored, MonitorPolicy::OFF],
        };
        (Group::new(&g, node, 0), OpIds::default())
    }

    /// Answers every step with `result` until the job ends; returns the runs it saw.
    fn finish(
        g: &mut Group,
        ids: &mut OpIds,
        first: Run,
        result: AgentResult,
    ) -> Vec<(usize, AgentOp)> {
        let mut seen = vec![(first.resource, first.op)];
        let mut run = Some(first);
        while let Some(r) = run {
            run = g.agent_done(at(0), r.id, result, ids);
            if let Some(next) = run {
                seen.push((next.resource, next.op));
            }
        }
        seen
    }

    fn started(g: &mut Group, ids: &mut OpIds) {
        let (ok, run) = g.start(at(0), "test", ids);
        assert!(ok);
        finish(g, ids, run.expect("a start"), AgentResult::Success);
        assert_eq!(g.state(), GroupState::Running);
    }

    #[test]
    fn a_start_runs_left_to_right_and_a_stop_right_to_left() {
        let (mut g, mut ids) = group();
        let (ok, run) = g.start(at(0), "test", &mut ids);
        assert!(ok && g.claims() && g.state() == GroupState::Starting);
        let runs = finish(
            &mut g,
            &mut ids,
            run.expect("a start"),
            AgentResult::Success,
        );
        assert_eq!(
            runs,
            [
                (0, AgentOp::Start),
                (1, AgentOp::Start),
                (2, AgentOp::Start)
            ]
        );
        assert!(g.settled() && g.is_running() && g.epoch == 1);
        let run = g.stop(at(0), "test", &mut ids).expect("a stop");
        assert!(!g.claims(), "a group being stopped counts as released");
        let runs = finish(&mut g, &mut ids, run, AgentResult::Success);
        assert_eq!(
            runs,
            [(2, AgentOp::Stop), (1, AgentOp::Stop), (0, AgentOp::Stop)]
        );
        assert_eq!(g.state(), GroupState::Stopped);
    }

    #[test]
    fn a_request_during_a_job_is_queued_and_applied_at_its_end() {
        let (mut g, mut ids) = group();
        let (_, run) = g.start(at(0), "test", &mut ids);
        assert_eq!(
            g.stop(at(0), "test", &mut ids),
            None,
            "queued behind the start"
        );
        assert!(!g.settled());
        let mut run = run.expect("a start");
        // The start finishes, then the queued stop runs.
        for _ in 0..3 {
            run = g
                .agent_done(at(0), run.id, AgentResult::Success, &mut ids)
                .expect("the next step");
        }
        assert_eq!((run.resource, run.op), (2, AgentOp::Stop));
        assert_eq!(g.state(), GroupState::Stopping);
    }

    #[test]
    fn a_failed_start_unwinds_what_started_and_marks_the_group() {
        let (mut g, mut ids) = group();
        let (_, run) = g.start(at(0), "test", &mut ids);
        let run = g
            .agent_done(
                at(0),
                run.expect("a start").id,
                AgentResult::Success,
                &mut ids,
            )
            .expect("web's start");
        let unwind = g
            .agent_done(at(0), run.id, AgentResult::Failed(Some(1)), &mut ids)
            .expect("an unwind");
        assert_eq!(g.state(), GroupState::Stopping);
        let runs = finish(&mut g, &mut ids, unwind, AgentResult::Success);
        assert_eq!(runs, [(1, AgentOp::Stop), (0, AgentOp::Stop)]);
        assert!(g.failed_here && g.state() == GroupState::Stopped);
        assert_eq!(g.failure.as_deref(), Some("web start failed (exit 1)"));
        assert_eq!(g.start(at(0), "again", &mut ids), (false, None));
    }

    #[test]
    fn a_failed_stop_that_still_runs_leaves_the_group_failed_and_claimed() {
        let (mut g, mut ids) = group();
        started(&mut g, &mut ids);
        let run = g.stop(at(0), "test", &mut ids).expect("a stop");
        let check = g
            .agent_done(at(0), run.id, AgentResult::Failed(Some(1)), &mut ids)
            .expect("a status check");
        assert_eq!((check.resource, check.op), (2, AgentOp::Status));
        assert_eq!(
            g.agent_done(at(0), check.id, AgentResult::Running, &mut ids),
            None
        );
        assert!(g.is_failed() && g.claims() && g.settled());
        assert!(g.clear_failures());
        assert!(g.reprobe(at(0), &mut ids).is_some());
        assert_eq!(g.state(), GroupState::Probing);
    }

    #[test]
    fn a_probe_stops_every_resource_when_one_is_found_running() {
        let (mut g, mut ids) = group();
        let run = g.probe(at(0), &mut ids).expect("a probe");
        let mut seen = vec![(run.resource, run.op)];
        let mut run = run;
        for result in [
            AgentResult::NotRunning,
            AgentResult::Running,
            AgentResult::NotRunning,
        ] {
            match g.agent_done(at(0), run.id, result, &mut ids) {
                Some(next) => {
                    seen.push((next.resource, next.op));
                    run = next;
                }
                None => break,
            }
        }
        seen.extend(
            finish(&mut g, &mut ids, run, AgentResult::Success)
                .into_iter()
                .skip(1),
        );
        assert_eq!(
            seen,
            [
                (0, AgentOp::Status),
                (1, AgentOp::Status),
                (2, AgentOp::Status),
                (2, AgentOp::Stop),
                (1, AgentOp::Stop),
                (0, AgentOp::Stop)
            ]
        );
        assert_eq!(g.state(), GroupState::Stopped);
    }

    #[test]
    fn monitors_restart_in_place_then_give_the_group_up() {
        let (mut g, mut ids) = group();
        started(&mut g, &mut ids);
        assert_eq!(g.monitor_deadline(), Some(at(1000)));
        assert!(g.due_monitors(at(999), &mut ids).is_empty());
        let [m] = g.due_monitors(at(1000), &mut ids)[..] else {
            panic!("one monitor due");
        };
        assert_eq!((m.resource, m.op), (1, AgentOp::Monitor));
        let restart = g
            .monitor_done(at(1000), 1, m.id, AgentResult::NotRunning, &mut ids)
            .expect("a restart");
        assert_eq!(g.state(), GroupState::Restarting);
        let runs = finish(&mut g, &mut ids, restart, AgentResult::Success);
        assert_eq!(
            runs,
            [
                (2, AgentOp::Stop),
                (1, AgentOp::Stop),
                (1, AgentOp::Start),
                (2, AgentOp::Start)
            ]
        );
        assert!(g.is_running() && !g.failed_here);
        let [m] = g.due_monitors(at(1000), &mut ids)[..] else {
            panic!("monitoring resumes");
        };
        let stop = g
            .monitor_done(at(2000), 1, m.id, AgentResult::NotRunning, &mut ids)
            .expect("the group is stopped");
        assert_eq!((stop.resource, stop.op), (2, AgentOp::Stop));
        assert!(g.failed_here && g.handoff_pending);
        // A late result of a monitor cancelled by a job is ignored.
        assert_eq!(
            g.monitor_done(at(2000), 1, m.id, AgentResult::Running, &mut ids),
            None
        );
    }
}
