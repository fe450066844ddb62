//! The timing of a cluster — `keepalive`, `deadtime`, `warntime`, `initdead` — as one value
//! that cannot be inconsistent, and the one place its rules and Heartbeat's defaults live.
//! `ha.cf` is parsed into it, and the state machine takes it as it is.

use std::fmt;
use std::time::Duration;

use crate::time::ms;

/// Heartbeat's rule for the default `initdead`: deadtime if above 10 s, 12 s if deadtime is
/// below 6 s, else twice deadtime.
#[must_use]
pub fn default_initdead(deadtime: Duration) -> Duration {
    if deadtime > Duration::from_secs(10) {
        deadtime
    } else if deadtime < Duration::from_secs(6) {
        Duration::from_secs(12)
    } else {
        deadtime * 2
    }
}

/// A rule of [`Timing`] that the values break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingError {
    /// `keepalive` must be greater than zero.
    ZeroKeepalive,
    /// `deadtime` must be more than twice `keepalive`.
    DeadtimeTooShort {
        /// The deadtime.
        deadtime: Duration,
        /// The keepalive.
        keepalive: Duration,
    },
    /// `initdead` must not be smaller than `deadtime`.
    InitdeadTooShort {
        /// The initdead.
        initdead: Duration,
        /// The deadtime.
        deadtime: Duration,
    },
}

impl fmt::Display for TimingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimingError::ZeroKeepalive => f.write_str("keepalive must be greater than 0 (got 0ms)"),
            TimingError::DeadtimeTooShort {
                deadtime,
                keepalive,
            } => write!(
                f,
                "deadtime ({}) must be more than twice keepalive ({})",
                ms(deadtime),
                ms(keepalive)
            ),
            TimingError::InitdeadTooShort { initdead, deadtime } => write!(
                f,
                "initdead ({}) must not be smaller than deadtime ({})",
                ms(initdead),
                ms(deadtime)
            ),
        }
    }
}

impl std::error::Error for TimingError {}

/// A risky but valid value, worth a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimingAdvice {
    /// `initdead` below 10 s.
    ShortInitdead,
    /// `warntime` not below `deadtime`: no warning comes before a death.
    WarntimeNotBelowDeadtime,
    /// `warntime` not above `keepalive`: every heartbeat is late.
    WarntimeNotAboveKeepalive,
}

/// `keepalive`, `deadtime`, `warntime` and `initdead`, consistent: keepalive > 0,
/// deadtime > 2 × keepalive, initdead ≥ deadtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    keepalive: Duration,
    deadtime: Duration,
    warntime: Duration,
    initdead: Duration,
}

impl Timing {
    /// The timing of these values, with Heartbeat's defaults for `warntime` (deadtime/2)
    /// and `initdead` ([`default_initdead`]) when they are not given.
    ///
    /// # Errors
    /// Every rule the values break, in the order above.
    pub fn new(
        keepalive: Duration,
        deadtime: Duration,
        warntime: Option<Duration>,
        initdead: Option<Duration>,
    ) -> Result<Timing, Vec<TimingError>> {
        let mut errors = Vec::new();
        if keepalive.is_zero() {
            errors.push(TimingError::ZeroKeepalive);
        }
        if deadtime <= keepalive * 2 {
            errors.push(TimingError::DeadtimeTooShort {
                deadtime,
                keepalive,
            });
        }
        let initdead = initdead.unwrap_or_else(|| default_initdead(deadtime));
        if initdead < deadtime {
            errors.push(TimingError::InitdeadTooShort { initdead, deadtime });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Timing {
            keepalive,
            deadtime,
            warntime: warntime.unwrap_or(deadtime / 2),
            initdead,
        })
    }

    /// Interval between heartbeats.
    #[must_use]
    pub fn keepalive(&self) -> Duration {
        self.keepalive
    }

    /// Silence after which a node is declared dead.
    #[must_use]
    pub fn deadtime(&self) -> Duration {
        self.deadtime
    }

    /// Silence after which a "late heartbeat" warning is logged.
    #[must_use]
    pub fn warntime(&self) -> Duration {
        self.warntime
    }

    /// Deadline for hearing from every node at start-up.
    #[must_use]
    pub fn initdead(&self) -> Duration {
        self.initdead
    }

    /// What is risky about these values (each worth a warning).
    #[must_use]
    pub fn advice(&self) -> Vec<TimingAdvice> {
        advise(self.keepalive, self.deadtime, self.warntime, self.initdead)
    }
}

/// What is risky about timing values, valid or not (a value that breaks a rule is not also
/// called risky).
#[must_use]
pub fn advise(
    keepalive: Duration,
    deadtime: Duration,
    warntime: Duration,
    initdead: Duration,
) -> Vec<TimingAdvice> {
    let mut advice = Vec::new();
    if initdead >= deadtime && initdead < Duration::from_secs(10) {
        advice.push(TimingAdvice::ShortInitdead);
    }
    if warntime >= deadtime {
        advice.push(TimingAdvice::WarntimeNotBelowDeadtime);
    } else if warntime <= keepalive {
        advice.push(TimingAdvice::WarntimeNotAboveKeepalive);
    }
    advice
}

impl Default for Timing {
    /// Heartbeat's defaults: keepalive 1 s, deadtime 30 s, warntime 15 s, initdead 30 s.
    fn default() -> Timing {
        Timing {
            keepalive: crate::hacf::DEFAULT_KEEPALIVE,
            deadtime: crate::hacf::DEFAULT_DEADTIME,
            warntime: crate::hacf::DEFAULT_DEADTIME / 2,
            initdead: default_initdead(crate::hacf::DEFAULT_DEADTIME),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn defaults_follow_heartbeat() {
        let t = Timing::new(ms(100), ms(300), None, None).expect("valid");
        assert_eq!((t.warntime(), t.initdead()), (ms(150), ms(12_000)));
        assert_eq!(default_initdead(ms(8000)), ms(16_000));
        assert_eq!(default_initdead(ms(30_000)), ms(30_000));
        assert_eq!(Timing::default().initdead(), ms(30_000));
    }

    #[test]
    fn every_broken_rule_is_reported() {
        assert_eq!(
            Timing::new(ms(100), ms(200), None, Some(ms(100))),
            Err(vec![
                TimingError::DeadtimeTooShort {
                    deadtime: ms(200),
                    keepalive: ms(100)
                },
                TimingError::InitdeadTooShort {
                    initdead: ms(100),
                    deadtime: ms(200)
                }
            ])
        );
        let zero = Timing::new(ms(0), ms(300), None, None).unwrap_err();
        assert_eq!(
            zero[0].to_string(),
            "keepalive must be greater than 0 (got 0ms)"
        );
        assert_eq!(
            Timing::new(ms(100), ms(200), None, None).unwrap_err()[0].to_string(),
            "deadtime (200ms) must be more than twice keepalive (100ms)"
        );
    }

    #[test]
    fn risky_values_are_advised() {
        let t =
            Timing::new(ms(1000), ms(30_000), Some(ms(30_000)), Some(ms(30_000))).expect("valid");
        assert_eq!(t.advice(), [TimingAdvice::WarntimeNotBelowDeadtime]);
        let t = Timing::new(ms(1000), ms(3000), Some(ms(500)), Some(ms(3000))).expect("valid");
        assert_eq!(
            t.advice(),
            [
                TimingAdvice::ShortInitdead,
                TimingAdvice::WarntimeNotAboveKeepalive
            ]
        );
    }
}
