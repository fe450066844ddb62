//! Per-resource operation settings: the `monitor` directive of `ha.cf` (a heartbeat-rs
//! extension) and how its rules resolve for one resource.
//!
//! ```text
//! monitor SELECTOR [interval=T] [timeout=T] [start_timeout=T] [stop_timeout=T]
//!                  [restarts=N] [window=T]
//! ```
//!
//! `SELECTOR` is `default` (every resource), an agent name (`nginx`, `IPaddr`, or an OCF type
//! such as `ocf:heartbeat:nginx`), or one resource exactly as written in `haresources`. Rules
//! apply in file order, each setting only the keys it names, so a `monitor default ...` line
//! followed by specific ones gives the expected result. Times use Heartbeat's syntax (`3`,
//! `500ms`); `interval=0` turns monitoring off for the selected resources.

use std::time::Duration;

use crate::haresources::{AgentClass, ResourceSpec};
use crate::time::parse_time;

/// Default monitor interval: a dead service is noticed within this time plus the monitor's
/// own run time.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(3);
/// Default number of in-place restarts within [`DEFAULT_RESTART_WINDOW`] before the group
/// moves to the peer.
pub const DEFAULT_RESTARTS: u32 = 3;
/// Default window over which monitor failures are counted.
pub const DEFAULT_RESTART_WINDOW: Duration = Duration::from_secs(300);

/// One `monitor` line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonitorRule {
    /// What the rule applies to (see the module documentation).
    pub selector: String,
    /// `interval=`; zero disables monitoring.
    pub interval: Option<Duration>,
    /// `timeout=`: time limit of one monitor run.
    pub timeout: Option<Duration>,
    /// `start_timeout=`.
    pub start_timeout: Option<Duration>,
    /// `stop_timeout=`.
    pub stop_timeout: Option<Duration>,
    /// `restarts=`: in-place restarts allowed within the window.
    pub restarts: Option<u32>,
    /// `window=`.
    pub window: Option<Duration>,
    /// Line of `ha.cf`.
    pub line: usize,
}

impl MonitorRule {
    /// Whether this rule selects `r`.
    #[must_use]
    pub fn selects(&self, r: &ResourceSpec) -> bool {
        let s = self.selector.as_str();
        if s == "default" || s == "*" || s == r.text || s == r.agent {
            return true;
        }
        match &r.class {
            AgentClass::Ocf { provider, kind } => {
                s == kind.as_str() || s == format!("ocf:{provider}:{kind}")
            }
            AgentClass::Lsb => s == format!("lsb:{}", r.agent),
            AgentClass::Heartbeat => false,
        }
    }
}

/// Parses the words after `monitor`.
pub(crate) fn parse_rule(words: &[&str], line: usize) -> Result<MonitorRule, String> {
    let Some((selector, keys)) = words.split_first() else {
        return Err(
            "monitor needs a selector (default, an agent name or a resource) and settings \
                    such as interval=3"
                .into(),
        );
    };
    if selector.contains('=') {
        return Err(format!(
            "monitor: the first word must say what the rule applies to (default, an agent \
             name or a resource), not a setting ('{selector}')"
        ));
    }
    let mut rule = MonitorRule {
        selector: (*selector).to_owned(),
        line,
        ..MonitorRule::default()
    };
    if keys.is_empty() {
        return Err(format!("monitor {selector}: no settings given"));
    }
    for kv in keys {
        let Some((k, v)) = kv.split_once('=') else {
            return Err(format!("monitor: '{kv}' is not key=value"));
        };
        let time = || parse_time(v).map_err(|e| format!("monitor {k}: {e}"));
        let positive = || {
            let d = time()?;
            if d.is_zero() {
                Err(format!("monitor {k} must be greater than 0"))
            } else {
                Ok(d)
            }
        };
        match k {
            "interval" => rule.interval = Some(time()?),
            "timeout" => rule.timeout = Some(positive()?),
            "start_timeout" => rule.start_timeout = Some(positive()?),
            "stop_timeout" => rule.stop_timeout = Some(positive()?),
            "window" => rule.window = Some(positive()?),
            "restarts" => {
                rule.restarts =
                    Some(v.parse().map_err(|_| {
                        format!("monitor restarts: '{v}' is not a count (0 or more)")
                    })?);
            }
            other => {
                return Err(format!(
                    "monitor: unknown setting '{other}' (interval, timeout, start_timeout, \
                     stop_timeout, restarts, window)"
                ));
            }
        }
    }
    Ok(rule)
}

/// The settings in force for one resource after every rule was applied. Unset timeouts fall
/// back to the agent's meta-data, then `agent_timeout` (the daemon decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourcePolicy {
    /// Monitor interval; `None` when monitoring is off.
    pub interval: Option<Duration>,
    /// Monitor timeout, if a rule set one.
    pub monitor_timeout: Option<Duration>,
    /// Start timeout, if a rule set one.
    pub start_timeout: Option<Duration>,
    /// Stop timeout, if a rule set one.
    pub stop_timeout: Option<Duration>,
    /// In-place restarts allowed within `window`.
    pub restarts: u32,
    /// Failure-counting window.
    pub window: Duration,
}

/// Resolves the rules for `r`.
#[must_use]
pub fn resolve(rules: &[MonitorRule], r: &ResourceSpec) -> ResourcePolicy {
    let mut p = ResourcePolicy {
        interval: Some(DEFAULT_MONITOR_INTERVAL),
        monitor_timeout: None,
        start_timeout: None,
        stop_timeout: None,
        restarts: DEFAULT_RESTARTS,
        window: DEFAULT_RESTART_WINDOW,
    };
    for rule in rules.iter().filter(|rule| rule.selects(r)) {
        if let Some(i) = rule.interval {
            p.interval = (!i.is_zero()).then_some(i);
        }
        if rule.timeout.is_some() {
            p.monitor_timeout = rule.timeout;
        }
        if rule.start_timeout.is_some() {
            p.start_timeout = rule.start_timeout;
        }
        if rule.stop_timeout.is_some() {
            p.stop_timeout = rule.stop_timeout;
        }
        if let Some(n) = rule.restarts {
            p.restarts = n;
        }
        if let Some(w) = rule.window {
            p.window = w;
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn res(text: &str, agent: &str, class: AgentClass) -> ResourceSpec {
        ResourceSpec {
            text: text.into(),
            agent: agent.into(),
            args: vec![],
            params: vec![],
            class,
            path: PathBuf::from("/x"),
            line: 1,
        }
    }

    #[test]
    fn parses_every_key() {
        let r = parse_rule(
            &[
                "nginx",
                "interval=2",
                "timeout=500ms",
                "start_timeout=40",
                "stop_timeout=25",
                "restarts=1",
                "window=60",
            ],
            7,
        )
        .unwrap();
        assert_eq!(r.selector, "nginx");
        assert_eq!(r.interval, Some(Duration::from_secs(2)));
        assert_eq!(r.timeout, Some(Duration::from_millis(500)));
        assert_eq!(r.start_timeout, Some(Duration::from_secs(40)));
        assert_eq!(r.stop_timeout, Some(Duration::from_secs(25)));
        assert_eq!(r.restarts, Some(1));
        assert_eq!(r.window, Some(Duration::from_secs(60)));
        assert_eq!(r.line, 7);
    }

    #[test]
    fn rejects_bad_rules_with_a_reason() {
        assert!(parse_rule(&[], 1).unwrap_err().contains("needs a selector"));
        assert!(
            parse_rule(&["interval=3"], 1)
                .unwrap_err()
                .contains("first word")
        );
        assert!(
            parse_rule(&["nginx"], 1)
                .unwrap_err()
                .contains("no settings")
        );
        assert!(
            parse_rule(&["nginx", "every=3"], 1)
                .unwrap_err()
                .contains("unknown setting 'every'")
        );
        assert!(
            parse_rule(&["nginx", "interval=3s"], 1)
                .unwrap_err()
                .contains("not a time")
        );
        assert!(
            parse_rule(&["nginx", "timeout=0"], 1)
                .unwrap_err()
                .contains("greater than 0")
        );
        assert!(
            parse_rule(&["nginx", "restarts=-1"], 1)
                .unwrap_err()
                .contains("not a count")
        );
        assert!(
            parse_rule(&["nginx", "interval"], 1)
                .unwrap_err()
                .contains("not key=value")
        );
    }

    #[test]
    fn rules_apply_in_order_and_only_to_selected_resources() {
        let rules = vec![
            parse_rule(&["default", "interval=10", "restarts=5"], 1).unwrap(),
            parse_rule(&["nginx", "interval=2", "timeout=4"], 2).unwrap(),
            parse_rule(&["IPaddr::192.0.2.1", "interval=0"], 3).unwrap(),
        ];
        let nginx = resolve(
            &rules,
            &res("nginx::/etc/n.conf", "nginx", AgentClass::Heartbeat),
        );
        assert_eq!(nginx.interval, Some(Duration::from_secs(2)));
        assert_eq!(nginx.monitor_timeout, Some(Duration::from_secs(4)));
        assert_eq!(nginx.restarts, 5);
        let ip = resolve(
            &rules,
            &res("IPaddr::192.0.2.1", "IPaddr", AgentClass::Heartbeat),
        );
        assert_eq!(ip.interval, None);
        let other = resolve(
            &rules,
            &res("IPaddr::192.0.2.2", "IPaddr", AgentClass::Heartbeat),
        );
        assert_eq!(other.interval, Some(Duration::from_secs(10)));
        assert_eq!(other.window, DEFAULT_RESTART_WINDOW);
        let none = resolve(&[], &res("x", "x", AgentClass::Lsb));
        assert_eq!(none.interval, Some(DEFAULT_MONITOR_INTERVAL));
        assert_eq!(none.restarts, DEFAULT_RESTARTS);
    }

    #[test]
    fn ocf_and_lsb_selectors() {
        let ocf = res(
            "ocf:heartbeat:nginx::configfile=/x",
            "ocf:heartbeat:nginx",
            AgentClass::Ocf {
                provider: "heartbeat".into(),
                kind: "nginx".into(),
            },
        );
        let by_type = parse_rule(&["nginx", "interval=1"], 1).unwrap();
        let by_full = parse_rule(&["ocf:heartbeat:nginx", "interval=1"], 1).unwrap();
        let other = parse_rule(&["ocf:other:nginx", "interval=1"], 1).unwrap();
        assert!(by_type.selects(&ocf));
        assert!(by_full.selects(&ocf));
        assert!(!other.selects(&ocf));
        let lsb = res("ssh", "ssh", AgentClass::Lsb);
        assert!(
            parse_rule(&["lsb:ssh", "interval=1"], 1)
                .unwrap()
                .selects(&lsb)
        );
        assert!(parse_rule(&["ssh", "interval=1"], 1).unwrap().selects(&lsb));
    }
}
