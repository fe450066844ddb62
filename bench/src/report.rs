//! Trial results, their summary statistics, the printed table and the JSON report.

use std::fmt::Write as _;
use std::time::Duration;

use hb_nstests::{Implementation, Timing};
use serde_json::{Value, json};

/// What is done to node1 to cause the failover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Scenario {
    /// Node1's bridge port goes down (node1 sees NO-CARRIER).
    Cut,
    /// Node1's daemon gets SIGTERM.
    Graceful,
}

impl Scenario {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Cut => "cut",
            Scenario::Graceful => "graceful",
        }
    }

    /// Whether the scenario is benchmarked for `imp` (graceful: ours and heartbeat only).
    pub(crate) fn applies_to(self, imp: Implementation) -> bool {
        self == Scenario::Cut || imp != Implementation::Keepalived
    }
}

impl std::str::FromStr for Scenario {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Self> {
        match s {
            "cut" => Ok(Scenario::Cut),
            "graceful" => Ok(Scenario::Graceful),
            _ => anyhow::bail!("unknown scenario {s:?} (expected cut or graceful)"),
        }
    }
}

/// A successful trial's measurements.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    /// Client-visible outage: last answer before the fault to node2's first answer.
    pub(crate) outage: Duration,
    /// Fault to node2's first answer.
    pub(crate) since_event: Duration,
    /// Failed connection attempts during the outage.
    pub(crate) failed_probes: usize,
    /// Answers inside the outage from someone other than node2.
    pub(crate) interim_successes: usize,
    /// Daemon start to the VIP on node1.
    pub(crate) startup: Duration,
    /// "node X: is dead" log lines before the fault (heartbeat 3.0.6 only).
    pub(crate) false_deaths: Option<usize>,
    /// "Late heartbeat" warnings before the fault (heartbeat 3.0.6 only).
    pub(crate) late_warnings: Option<usize>,
    /// Who held the VIP when the trial ended.
    pub(crate) holders_after: Vec<String>,
    /// The probe history around the fault.
    pub(crate) timeline: String,
}

/// One trial: measurements, or why it did not produce any.
pub(crate) type TrialOutcome = Result<Measured, String>;

/// All trials of one (implementation, timing, scenario).
#[derive(Debug, Clone)]
pub(crate) struct Case {
    pub(crate) implementation: Implementation,
    pub(crate) timing: Timing,
    pub(crate) scenario: Scenario,
    /// Why the case was not run at all (e.g. the binary is missing).
    pub(crate) unavailable: Option<String>,
    pub(crate) trials: Vec<TrialOutcome>,
}

/// Median, minimum and maximum of a case's outages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stats {
    pub(crate) median_ms: f64,
    pub(crate) min_ms: f64,
    pub(crate) max_ms: f64,
}

/// Median (mean of the two middle values for an even count), min and max; `None` if empty.
pub(crate) fn stats(values_ms: &[f64]) -> Option<Stats> {
    let mut v: Vec<f64> = values_ms.to_vec();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median_ms = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some(Stats {
        median_ms,
        min_ms: v[0],
        max_ms: v[n - 1],
    })
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl Case {
    pub(crate) fn outages_ms(&self) -> Vec<f64> {
        self.trials
            .iter()
            .filter_map(|t| t.as_ref().ok())
            .map(|m| ms(m.outage))
            .collect()
    }

    pub(crate) fn stats(&self) -> Option<Stats> {
        stats(&self.outages_ms())
    }
}

/// The median of ours for the same timing and scenario, if ours was measured.
fn ours_median(cases: &[Case], case: &Case) -> Option<f64> {
    cases
        .iter()
        .find(|c| {
            c.implementation == Implementation::Ours
                && c.timing == case.timing
                && c.scenario == case.scenario
        })
        .and_then(Case::stats)
        .map(|s| s.median_ms)
}

/// The results table, one row per case.
pub(crate) fn table(cases: &[Case]) -> String {
    let header = [
        "implementation",
        "timing",
        "scenario",
        "ok/trials",
        "median ms",
        "min ms",
        "max ms",
        "median-deadtime",
        "ratio to ours",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for c in cases {
        let ok = c.outages_ms().len();
        let mut row = vec![
            c.implementation.name().to_owned(),
            c.timing.label(),
            c.scenario.name().to_owned(),
            format!("{ok}/{}", c.trials.len()),
        ];
        match (&c.unavailable, c.stats()) {
            (Some(why), _) => {
                row[3] = "-".to_owned();
                row.push(format!("not run: {why}"));
            }
            (None, None) => row.extend(["-", "-", "-", "-", "n/a"].map(String::from)),
            (None, Some(s)) => {
                let ratio = match ours_median(cases, c) {
                    Some(o) if o > 0.0 => format!("{:.2}", s.median_ms / o),
                    _ => "n/a".to_owned(),
                };
                row.extend([
                    format!("{:.1}", s.median_ms),
                    format!("{:.1}", s.min_ms),
                    format!("{:.1}", s.max_ms),
                    format!("{:+.1}", s.median_ms - ms(c.timing.deadtime)),
                    ratio,
                ]);
            }
        }
        rows.push(row);
    }
    let cols = header.len();
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .filter(|r| r.len() == cols)
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        let line: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(j, cell)| match widths.get(j) {
                Some(w) if r.len() == cols || j + 1 < r.len() => format!("{cell:<w$}"),
                _ => cell.clone(),
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (cols - 1))
            );
        }
    }
    out
}

/// Failed trials, one line each.
pub(crate) fn failure_notes(cases: &[Case]) -> String {
    let mut out = String::new();
    for c in cases {
        for (i, t) in c.trials.iter().enumerate() {
            if let Err(e) = t {
                let first = e.lines().next().unwrap_or("");
                let _ = writeln!(
                    out,
                    "{} {} {} trial {}: {first}",
                    c.implementation,
                    c.timing,
                    c.scenario.name(),
                    i + 1
                );
            }
        }
    }
    out
}

fn trial_json(t: &TrialOutcome) -> Value {
    match t {
        Ok(m) => json!({
            "ok": true,
            "outage_ms": ms(m.outage),
            "since_event_ms": ms(m.since_event),
            "failed_probes": m.failed_probes,
            "interim_successes": m.interim_successes,
            "startup_ms": ms(m.startup),
            "false_deaths_before_fault": m.false_deaths,
            "late_heartbeat_warnings_before_fault": m.late_warnings,
            "vip_holders_after": m.holders_after,
            "timeline": m.timeline,
        }),
        Err(e) => json!({ "ok": false, "error": e }),
    }
}

/// The machine-readable report.
pub(crate) fn json_report(cases: &[Case], command: &[String], probe: &Value) -> Value {
    let entries: Vec<Value> = cases
        .iter()
        .map(|c| {
            let s = c.stats();
            json!({
                "implementation": c.implementation.name(),
                "timing": {
                    "label": c.timing.label(),
                    "keepalive_ms": ms(c.timing.keepalive),
                    "deadtime_ms": ms(c.timing.deadtime),
                    "warntime_ms": ms(c.timing.warntime),
                    "initdead_ms": ms(c.timing.initdead),
                },
                "scenario": c.scenario.name(),
                "unavailable": c.unavailable,
                "median_ms": s.map(|s| s.median_ms),
                "min_ms": s.map(|s| s.min_ms),
                "max_ms": s.map(|s| s.max_ms),
                "median_minus_deadtime_ms": s.map(|s| s.median_ms - ms(c.timing.deadtime)),
                "ratio_to_ours": s.and_then(|s| ours_median(cases, c).map(|o| s.median_ms / o)),
                "trials": c.trials.iter().map(trial_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({ "command": command, "probe": probe, "cases": entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(outage_ms: u64) -> TrialOutcome {
        Ok(Measured {
            outage: Duration::from_millis(outage_ms),
            since_event: Duration::from_millis(outage_ms),
            failed_probes: 1,
            interim_successes: 0,
            startup: Duration::from_secs(1),
            false_deaths: None,
            late_warnings: None,
            holders_after: vec!["node2".into()],
            timeline: String::new(),
        })
    }

    fn case(imp: Implementation, trials: Vec<TrialOutcome>) -> Case {
        Case {
            implementation: imp,
            timing: "100/300".parse().unwrap(),
            scenario: Scenario::Cut,
            unavailable: None,
            trials,
        }
    }

    #[test]
    fn stats_take_the_middle_and_the_extremes() {
        let s = stats(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median_ms, s.min_ms, s.max_ms), (3.0, 1.0, 5.0));
        assert_eq!(stats(&[4.0, 1.0, 2.0, 3.0]).unwrap().median_ms, 2.5);
        assert!(stats(&[]).is_none());
    }

    #[test]
    fn table_shows_ratio_only_when_ours_was_measured() {
        let hb = case(
            Implementation::Heartbeat306,
            vec![measured(400), Err("x".into()), measured(600)],
        );
        let t = table(std::slice::from_ref(&hb));
        let row = t.lines().find(|l| l.starts_with("heartbeat")).unwrap();
        assert!(
            row.contains("2/3") && row.contains("500.0") && row.contains("+200.0"),
            "{t}"
        );
        assert!(row.ends_with("n/a"), "{t}");
        let ours = case(Implementation::Ours, vec![measured(250)]);
        let t = table(&[ours, hb]);
        let row = t.lines().find(|l| l.starts_with("heartbeat")).unwrap();
        assert!(row.ends_with("2.00"), "{t}");
    }

    #[test]
    fn unavailable_cases_and_failures_are_reported() {
        let mut ours = case(Implementation::Ours, vec![]);
        ours.unavailable = Some("binary missing".into());
        let ka = case(
            Implementation::Keepalived,
            vec![Err("VIP never moved\ndetails".into())],
        );
        let t = table(&[ours, ka.clone()]);
        assert!(t.contains("not run: binary missing"), "{t}");
        assert!(
            t.lines()
                .any(|l| l.starts_with("keepalived") && l.contains("0/1")),
            "{t}"
        );
        assert_eq!(
            failure_notes(&[ka]),
            "keepalived 100/300 cut trial 1: VIP never moved\n"
        );
    }

    #[test]
    fn graceful_is_not_run_for_keepalived() {
        assert!(Scenario::Graceful.applies_to(Implementation::Heartbeat306));
        assert!(Scenario::Graceful.applies_to(Implementation::Ours));
        assert!(!Scenario::Graceful.applies_to(Implementation::Keepalived));
        assert!(Scenario::Cut.applies_to(Implementation::Keepalived));
    }

    #[test]
    fn json_has_one_entry_per_trial() {
        let c = case(
            Implementation::Heartbeat306,
            vec![measured(400), Err("boom".into())],
        );
        let v = json_report(&[c], &["failover-bench".into()], &json!({}));
        let trials = v["cases"][0]["trials"].as_array().unwrap();
        assert_eq!(trials.len(), 2);
        assert_eq!(trials[0]["outage_ms"], 400.0);
        assert_eq!(trials[1]["error"], "boom");
        assert_eq!(v["cases"][0]["median_ms"], 400.0);
    }
}
