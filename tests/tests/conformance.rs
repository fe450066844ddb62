//! The differential conformance suite: scripted scenarios, each run on four pairings in the
//! namespace lab (Heartbeat 3.0.6 + Heartbeat 3.0.6, ours + ours, and both mixed orders),
//! recording after every step what a user sees: who holds each virtual IP, `cl_status
//! rscstatus` on both nodes, each node's `cl_status nodestatus` of the other, and the client
//! outage of the step.
//!
//! Two oracles: the table's holders (every pairing, Heartbeat's included, must reach them: a
//! reference run that does not means the table or the harness is wrong), and the reference
//! run itself for everything else (ours and the mixed pairs must show the same `rscstatus` and
//! `nodestatus` as Heartbeat + Heartbeat after each step, unless a documented improvement says
//! otherwise). After reaching a step's state, every pairing holds it for [`HOLD`], proven by
//! the client probes answered by the expected node over that span (no guessed sleeps).
//!
//! The table is printed (stderr, past the test harness's capture) and written to
//! `target/conformance/<script>.md`; docs/conformance.md shows the last full run.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hb_nstests::{
    ClusterSpec, Failback, Implementation, Lab, Pair, Pairing, ProbeConfig, Prober, Tool,
    root_or_skip, wait_for,
};

/// keepalive / deadtime / warntime / initdead in ms: short enough for CI, long enough for
/// Heartbeat 3.0.6 on a loaded two-core machine.
const TIMING: &str = "200/2000/1000/6000";
const VIPS: [Ipv4Addr; 2] = [Ipv4Addr::new(192, 0, 2, 100), Ipv4Addr::new(192, 0, 2, 101)];
const PORT: u16 = 80;
/// How long a reached state must stay (two deadtimes, so a late failback or a false death
/// would show).
const HOLD: Duration = Duration::from_secs(4);
/// A step's state must be reached within this (Heartbeat waits up to 10 s at start-up).
const SETTLE: Duration = Duration::from_secs(45);
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

type Node = &'static str;
const N1: Node = "node1";
const N2: Node = "node2";

/// What a step does.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Start both daemons together.
    StartBoth,
    /// Start one daemon.
    Start(Node),
    /// Graceful stop (SIGTERM).
    Stop(Node),
    /// The node crashes: its daemon is SIGKILLed and its addresses go (as after a reboot).
    Crash(Node),
    /// `hb_standby CLASS` on the node.
    Standby(Node, &'static str, Tool),
    /// `hb_takeover CLASS` on the node.
    Takeover(Node, &'static str, Tool),
}

impl Act {
    fn label(self) -> String {
        let tool = |t: Tool| match t {
            Tool::Native => "",
            Tool::Debian => " (Debian's tool)",
        };
        match self {
            Act::StartBoth => "start both".into(),
            Act::Start(n) => format!("start {n}"),
            Act::Stop(n) => format!("stop {n}"),
            Act::Crash(n) => format!("crash {n}"),
            Act::Standby(n, c, t) => format!("hb_standby {c} on {n}{}", tool(t)),
            Act::Takeover(n, c, t) => format!("hb_takeover {c} on {n}{}", tool(t)),
        }
    }
}

/// One step: the action and who must hold VIP1 (node1's group) and VIP2 (node2's) after it.
struct Step {
    act: Act,
    holders: [Node; 2],
}

const fn step(act: Act, vip1: Node, vip2: Node) -> Step {
    Step {
        act,
        holders: [vip1, vip2],
    }
}

struct Script {
    name: &'static str,
    failback: Failback,
    steps: &'static [Step],
}

use Act::*;
use Tool::Native;

/// `auto_failback on`: groups taken over from a dead or stopped node go home; groups moved by
/// an operator stay (Heartbeat's rsc_needs_failback).
const FAILBACK_ON: Script = Script {
    name: "auto_failback_on",
    failback: Failback::On,
    steps: &[
        step(StartBoth, N1, N2),
        step(Standby(N1, "all", Native), N2, N2),
        step(Takeover(N1, "all", Native), N1, N1),
        step(Standby(N1, "foreign", Native), N1, N2),
        step(Stop(N2), N1, N1),
        step(Start(N2), N1, N2),
        step(Crash(N1), N2, N2),
        step(Start(N1), N1, N2),
        step(Takeover(N2, "foreign", Native), N2, N2),
    ],
};

/// `auto_failback off`: nothing moves back by itself.
const FAILBACK_OFF: Script = Script {
    name: "auto_failback_off",
    failback: Failback::Off,
    steps: &[
        step(StartBoth, N1, N2),
        step(Standby(N2, "all", Native), N1, N1),
        step(Stop(N1), N2, N2),
        step(Start(N1), N2, N2),
        step(Takeover(N1, "local", Native), N1, N2),
        step(Crash(N2), N1, N1),
        step(Start(N2), N1, N1),
        step(Standby(N1, "foreign", Native), N1, N2),
    ],
};

fn spec(failback: Failback) -> Result<ClusterSpec> {
    let mut spec = ClusterSpec::new(Implementation::Ours, TIMING.parse()?);
    spec.auto_failback = failback;
    spec.haresources = Some(format!(
        "node1 IPaddr2::{}/24/eth0\nnode2 IPaddr2::{}/24/eth0\n",
        VIPS[0], VIPS[1]
    ));
    Ok(spec)
}

/// What a user sees after a step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Seen {
    holders: [Vec<String>; 2],
    rsc: [String; 2],
    /// node1's `nodestatus node2`, node2's `nodestatus node1`.
    nodestatus: [String; 2],
    /// Client outage of each VIP over the step (`None`: no outage could be measured).
    outage: [Option<Duration>; 2],
}

impl Seen {
    fn cell(&self) -> String {
        let who = |h: &[String]| match h {
            [] => "-".to_owned(),
            [one] => one.trim_start_matches("node").to_owned(),
            many => many
                .iter()
                .map(|n| n.trim_start_matches("node"))
                .collect::<Vec<_>>()
                .join("+"),
        };
        let ms = |o: Option<Duration>| o.map_or("-".to_owned(), |d| d.as_millis().to_string());
        format!(
            "{} {} · {}/{} · {}/{} · {}/{} ms",
            who(&self.holders[0]),
            who(&self.holders[1]),
            self.rsc[0],
            self.rsc[1],
            self.nodestatus[0],
            self.nodestatus[1],
            ms(self.outage[0]),
            ms(self.outage[1]),
        )
    }
}

/// A pairing's run of a script: what it saw at each step, and the error that ended it early.
struct Run {
    pairing: Pairing,
    seen: Vec<Seen>,
    error: Option<String>,
}

fn run_script(script: &Script, pairing: Pairing, index: usize) -> Run {
    let mut seen = Vec::new();
    let error = run_steps(script, pairing, index, &mut seen)
        .err()
        .map(|e| format!("{e:#}"));
    Run {
        pairing,
        seen,
        error,
    }
}

fn run_steps(script: &Script, pairing: Pairing, index: usize, seen: &mut Vec<Seen>) -> Result<()> {
    let lab = Lab::new(&format!("cf{index}"))?;
    let mut pair = Pair::new(&lab, pairing, &spec(script.failback)?)?;
    for n in [N1, N2] {
        lab.start_listener(n, PORT)?;
    }
    let cfg = ProbeConfig {
        interval: PROBE_INTERVAL,
        connect_timeout: Duration::from_millis(50),
        reply_timeout: Duration::from_millis(200),
        max_duration: Duration::from_secs(900),
    };
    let probers: Vec<Prober<'_>> = VIPS
        .iter()
        .map(|v| lab.start_prober("client", SocketAddrV4::new(*v, PORT), cfg))
        .collect::<Result<_>>()?;
    for (i, s) in script.steps.iter().enumerate() {
        let what = format!("step {} ({})", i + 1, s.act.label());
        let event = Instant::now();
        act(&lab, &mut pair, s.act).with_context(|| what.clone())?;
        let reached = settle(&pair, s).with_context(|| what.clone())?;
        hold(&pair, &probers, s, reached).with_context(|| what.clone())?;
        let mut now = observe(&pair)?;
        for (k, p) in probers.iter().enumerate() {
            now.outage[k] = p
                .snapshot()
                .outage_after(event, Some(s.holders[k]))
                .ok()
                .map(|o| {
                    // No failed attempt and the same server: no outage, only the probe gap.
                    if o.failed_probes == 0 && o.last_ok_by == o.first_ok_by {
                        Duration::ZERO
                    } else {
                        o.duration
                    }
                });
        }
        seen.push(now);
    }
    Ok(())
}

fn act(lab: &Lab, pair: &mut Pair<'_>, a: Act) -> Result<()> {
    match a {
        StartBoth => {
            pair.start(N1)?;
            pair.start(N2)
        }
        Start(n) => pair.start(n),
        Stop(n) => pair.stop(n, Duration::from_secs(60)),
        Crash(n) => {
            pair.kill(n)?;
            for v in VIPS {
                if lab.has_address(n, v)? {
                    lab.run(n, &["ip", "addr", "del", &format!("{v}/24"), "dev", "eth0"])?;
                }
            }
            Ok(())
        }
        Standby(n, class, tool) => pair.command(n, false, class, tool).map(drop),
        Takeover(n, class, tool) => pair.command(n, true, class, tool).map(drop),
    }
}

/// Waits until the step's holders hold the VIPs (each alone) and no running node's
/// `rscstatus` says `transition`. Returns when that was first seen.
fn settle(pair: &Pair<'_>, s: &Step) -> Result<Instant> {
    let mut last = None;
    wait_for("the step's state", SETTLE, || {
        pair.check_running()?;
        let holders: Vec<Vec<String>> = VIPS
            .iter()
            .map(|v| pair.holders(*v))
            .collect::<Result<_>>()?;
        let placed = holders
            .iter()
            .zip(s.holders)
            .all(|(h, want)| h.len() == 1 && h[0] == want);
        // A daemon that just started may not answer yet: not settled.
        let mut steady = true;
        for n in [N1, N2] {
            if pair.is_running(n) && pair.rscstatus(n).map_or(true, |r| r == "transition") {
                steady = false;
            }
        }
        last = Some(holders);
        Ok(placed && steady)
    })
    .map_err(|e| {
        anyhow!(
            "{e:#}; VIP holders last seen {last:?}\n{}",
            pair.log_tails(20)
        )
    })?;
    Ok(Instant::now())
}

/// Keeps watching for [`HOLD`] after `from`: the probes of each VIP must be answered by its
/// holder alone over that span, which is also what proves the span went by.
fn hold(pair: &Pair<'_>, probers: &[Prober<'_>], s: &Step, from: Instant) -> Result<()> {
    wait_for("the state held", HOLD * 3, || {
        pair.check_running()?;
        let mut spanned = true;
        for (k, p) in probers.iter().enumerate() {
            let rec = p.snapshot();
            let after: Vec<_> = rec.probes.iter().filter(|pr| pr.start >= from).collect();
            if let Some(bad) = after
                .iter()
                .find(|pr| pr.outcome.answered_by() != Some(s.holders[k]))
            {
                bail!(
                    "VIP{} answered {:?} {:?} after the state was reached; wanted {}\n{}",
                    k + 1,
                    bad.outcome,
                    bad.start - from,
                    s.holders[k],
                    pair.log_tails(20)
                );
            }
            spanned &= after.last().is_some_and(|pr| pr.start >= from + HOLD);
        }
        Ok(spanned)
    })
    .map(drop)
}

fn observe(pair: &Pair<'_>) -> Result<Seen> {
    let mut seen = Seen::default();
    for (k, v) in VIPS.iter().enumerate() {
        seen.holders[k] = pair.holders(*v)?;
    }
    seen.rsc = [pair.rscstatus(N1)?, pair.rscstatus(N2)?];
    seen.nodestatus = [pair.nodestatus(N1, N2)?, pair.nodestatus(N2, N1)?];
    Ok(seen)
}

/// Runs `script` on every pairing (in parallel, one lab each), prints the table and fails on
/// any difference from the reference that is not a documented improvement.
fn conform(script: &Script) -> Result<()> {
    let pairings = selected_pairings()?;
    let runs: Vec<Run> = std::thread::scope(|scope| {
        let handles: Vec<_> = pairings
            .iter()
            .enumerate()
            .map(|(i, p)| scope.spawn(move || run_script(script, *p, i)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a pairing's thread panicked"))
            .collect()
    });
    let table = table(script, &runs);
    let _ = std::io::Write::write_all(&mut std::io::stderr(), table.as_bytes());
    let out = hb_nstests::repo_root().join("target/conformance");
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join(format!("{}.md", script.name)), &table)?;
    let problems = differences(script, &runs);
    if !problems.is_empty() {
        bail!("{}:\n{}", script.name, problems.join("\n"));
    }
    Ok(())
}

/// `HB_CONFORMANCE_PAIRINGS=ours+ours,hb+ours` runs a subset (the reference is always run
/// when any pairing is compared to it).
fn selected_pairings() -> Result<Vec<Pairing>> {
    let Ok(list) = std::env::var("HB_CONFORMANCE_PAIRINGS") else {
        return Ok(Pairing::ALL.to_vec());
    };
    let mut out = vec![Pairing::ALL[0]];
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let p = Pairing::ALL
            .iter()
            .find(|p| p.to_string() == name)
            .ok_or_else(|| anyhow!("unknown pairing {name:?} in HB_CONFORMANCE_PAIRINGS"))?;
        if !out.contains(p) {
            out.push(*p);
        }
    }
    Ok(out)
}

fn table(script: &Script, runs: &[Run]) -> String {
    let mut t = format!(
        "\n### {} (`auto_failback {}`, timing {TIMING} ms)\n\nEach cell: holder of VIP1 \
         and VIP2 · rscstatus node1/node2 · nodestatus (node1 of node2)/(node2 of node1) · \
         client outage VIP1/VIP2.\n\n| step | expected |",
        script.name,
        script.failback.name()
    );
    for r in runs {
        let _ = write!(t, " {} |", r.pairing);
    }
    t += "\n|---|---|";
    t += &"---|".repeat(runs.len());
    t.push('\n');
    for (i, s) in script.steps.iter().enumerate() {
        let _ = write!(
            t,
            "| {}. {} | {} {} |",
            i + 1,
            s.act.label(),
            s.holders[0].trim_start_matches("node"),
            s.holders[1].trim_start_matches("node")
        );
        for r in runs {
            let cell = match r.seen.get(i) {
                Some(seen) => seen.cell(),
                None if r.seen.len() == i && r.error.is_some() => "**failed**".into(),
                None => "not run".into(),
            };
            let _ = write!(t, " {cell} |");
        }
        t.push('\n');
    }
    for r in runs {
        if let Some(e) = &r.error {
            let first = e.lines().next().unwrap_or_default();
            let _ = writeln!(t, "\n{}: {first}", r.pairing);
        }
    }
    t
}

fn differences(script: &Script, runs: &[Run]) -> Vec<String> {
    let mut problems = Vec::new();
    for r in runs {
        if let Some(e) = &r.error {
            problems.push(format!("{}: {e}", r.pairing));
        }
    }
    let Some(reference) = runs.iter().find(|r| r.pairing.is_reference()) else {
        return problems;
    };
    for r in runs.iter().filter(|r| !r.pairing.is_reference()) {
        for (i, (ours, theirs)) in r.seen.iter().zip(&reference.seen).enumerate() {
            let what = format!(
                "{} step {} ({})",
                r.pairing,
                i + 1,
                script.steps[i].act.label()
            );
            if ours.rsc != theirs.rsc {
                problems.push(format!(
                    "{what}: rscstatus {:?}, Heartbeat shows {:?}",
                    ours.rsc, theirs.rsc
                ));
            }
            if ours.nodestatus != theirs.nodestatus {
                problems.push(format!(
                    "{what}: nodestatus {:?}, Heartbeat shows {:?}",
                    ours.nodestatus, theirs.nodestatus
                ));
            }
        }
    }
    problems
}

#[test]
fn auto_failback_on_matches_heartbeat() -> Result<()> {
    if !root_or_skip("auto_failback_on_matches_heartbeat") {
        return Ok(());
    }
    conform(&FAILBACK_ON)
}

#[test]
fn auto_failback_off_matches_heartbeat() -> Result<()> {
    if !root_or_skip("auto_failback_off_matches_heartbeat") {
        return Ok(());
    }
    conform(&FAILBACK_OFF)
}
