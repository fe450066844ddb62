//! One resource of a group as this node sees it: its believed state, its monitor schedule,
//! and the failures that decide between a restart in place and giving the group up.

use std::collections::VecDeque;

use crate::Instant;
use crate::action::{AgentResult, OpId};
use crate::config::MonitorPolicy;
use crate::snapshot::ResourceState;

/// What a failed monitor leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The resource runs: monitor again later.
    Healthy,
    /// Restart in place (failure `count` of the allowed ones in the window).
    Restart { what: String, count: usize },
    /// Past the restart limit: `count` failures in the window.
    GiveUp { what: String, count: usize },
}

/// Per-resource bookkeeping.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    /// As written in haresources.
    pub(crate) name: String,
    pub(crate) policy: MonitorPolicy,
    pub(crate) state: ResourceState,
    /// When the next monitor is due (only while the group runs and no monitor is out).
    pub(crate) next_monitor: Option<Instant>,
    /// The monitor run in flight, if any.
    pub(crate) monitor_op: Option<OpId>,
    /// Monitor failures within the restart window, oldest first.
    pub(crate) failures: VecDeque<Instant>,
    /// In-place restarts since the daemon started.
    pub(crate) restarts: u64,
    /// Monitor runs judged since the daemon started.
    pub(crate) monitors: u64,
    /// The latest failure: when, and what happened.
    pub(crate) last_failure: Option<(Instant, String)>,
}

impl Resource {
    pub(crate) fn new(name: String, policy: MonitorPolicy) -> Resource {
        Resource {
            name,
            policy,
            state: ResourceState::Unknown,
            next_monitor: None,
            monitor_op: None,
            failures: VecDeque::new(),
            restarts: 0,
            monitors: 0,
            last_failure: None,
        }
    }

    /// Forgets any monitor schedule (a job begins, or the group stopped).
    pub(crate) fn unschedule(&mut self) {
        self.next_monitor = None;
        self.monitor_op = None;
    }

    /// The group just became running: plan the first monitor.
    pub(crate) fn schedule(&mut self, now: Instant) {
        self.monitor_op = None;
        self.next_monitor = self.policy.interval.map(|i| now + i);
    }

    /// Whether a monitor run should start now.
    pub(crate) fn monitor_due(&self, now: Instant) -> bool {
        self.next_monitor.is_some_and(|t| t <= now) && self.monitor_op.is_none()
    }

    /// A monitor run started.
    pub(crate) fn monitor_started(&mut self, id: OpId) {
        self.next_monitor = None;
        self.monitor_op = Some(id);
    }

    /// Judges the result of the monitor run in flight: counts it, plans the next one, or
    /// records the failure and decides what it leads to.
    pub(crate) fn judge(&mut self, now: Instant, result: AgentResult) -> Verdict {
        self.monitor_op = None;
        self.monitors += 1;
        if result == AgentResult::Running {
            self.next_monitor = self.policy.interval.map(|i| now + i);
            return Verdict::Healthy;
        }
        let what = match result {
            AgentResult::NotRunning => "is not running".to_string(),
            other => format!("monitor {other}"),
        };
        self.state = ResourceState::Failed;
        self.last_failure = Some((now, what.clone()));
        self.failures.push_back(now);
        while self
            .failures
            .front()
            .is_some_and(|&t| now.saturating_since(t) >= self.policy.window)
        {
            self.failures.pop_front();
        }
        let count = self.failures.len();
        let allowed = usize::try_from(self.policy.restarts).unwrap_or(usize::MAX);
        if count <= allowed {
            self.restarts += 1;
            Verdict::Restart { what, count }
        } else {
            Verdict::GiveUp { what, count }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(s: u64) -> Instant {
        Instant::from_millis(s * 1000)
    }

    #[test]
    fn failures_restart_until_the_limit_within_the_window() {
        let mut r = Resource::new(
            "web".into(),
            MonitorPolicy {
                interval: Some(Duration::from_secs(2)),
                restarts: 1,
                window: Duration::from_secs(60),
            },
        );
        r.schedule(at(0));
        assert!(r.monitor_due(at(2)) && !r.monitor_due(at(1)));
        r.monitor_started(OpId(1));
        assert_eq!(r.judge(at(2), AgentResult::Running), Verdict::Healthy);
        assert_eq!(r.next_monitor, Some(at(4)));
        let first = r.judge(at(4), AgentResult::NotRunning);
        assert_eq!(
            first,
            Verdict::Restart {
                what: "is not running".into(),
                count: 1
            }
        );
        let second = r.judge(at(10), AgentResult::Failed(Some(1)));
        assert!(
            matches!(second, Verdict::GiveUp { count: 2, .. }),
            "{second:?}"
        );
        // A failure a window later counts alone again.
        let later = r.judge(at(70), AgentResult::TimedOut);
        assert!(
            matches!(later, Verdict::Restart { count: 1, .. }),
            "{later:?}"
        );
        assert_eq!((r.monitors, r.restarts), (4, 2));
    }
}
