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
    /// Both daemons stop gracefully, node1 first.
    StopBoth,
    /// The node's cable is pulled (its `eth0` loses carrier).
    Cut(Node),
    /// The cable is plugged back.
    Heal(Node),
    /// Silent partition: the node's bridge port is detached, its carrier stays up.
    Isolate(Node),
    /// The bridge port is attached again.
    Rejoin(Node),
    /// The node crashes: its daemon is SIGKILLed and its addresses go (as after a reboot).
    Crash(Node),
    /// `hb_standby CLASS` on the node.
    Standby(Node, &'static str, Tool),
    /// `hb_takeover CLASS` on the node.
    Takeover(Node, &'static str, Tool),
    /// `hb_standby CLASS` twice in a row: the second arrives while the first is in flux.
    StandbyTwice(Node, &'static str, Tool),
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
            Act::StopBoth => "stop both".into(),
            Act::Cut(n) => format!("cut {n}'s cable"),
            Act::Heal(n) => format!("plug {n}'s cable back"),
            Act::Isolate(n) => format!("silent partition of {n}"),
            Act::Rejoin(n) => format!("{n} rejoins"),
            Act::Crash(n) => format!("crash {n}"),
            Act::Standby(n, c, t) => format!("hb_standby {c} on {n}{}", tool(t)),
            Act::Takeover(n, c, t) => format!("hb_takeover {c} on {n}{}", tool(t)),
            Act::StandbyTwice(n, c, t) => format!("hb_standby {c} twice on {n}{}", tool(t)),
        }
    }
}

/// Who holds a VIP: nobody, one node, or both (during a partition).
type Holders = &'static [Node];
const NONE: Holders = &[];
const H1: Holders = &[N1];
const H2: Holders = &[N2];
const BOTH: Holders = &[N1, N2];

/// One step: the action and who must hold VIP1 (node1's group) and VIP2 (node2's) after it.
struct Step {
    act: Act,
    holders: [Holders; 2],
    /// A documented improvement: pairings for which `when` holds end with other holders
    /// (their `rscstatus`/`nodestatus` are then not compared with Heartbeat's).
    alt: Option<Alt>,
}

struct Alt {
    when: fn(Pairing) -> bool,
    holders: [Holders; 2],
    why: &'static str,
}

const fn step(act: Act, vip1: Holders, vip2: Holders) -> Step {
    Step {
        act,
        holders: [vip1, vip2],
        alt: None,
    }
}

#[allow(dead_code)]
const fn step_or(act: Act, vip1: Holders, vip2: Holders, alt: Alt) -> Step {
    Step {
        act,
        holders: [vip1, vip2],
        alt: Some(alt),
    }
}

impl Step {
    /// The holders `pairing` must reach, and whether that is a documented improvement.
    fn expected(&self, pairing: Pairing) -> ([Holders; 2], bool) {
        match &self.alt {
            Some(a) if (a.when)(pairing) => (a.holders, true),
            _ => (self.holders, false),
        }
    }
}

fn holders_label(h: Holders) -> String {
    if h.is_empty() {
        return "-".into();
    }
    h.iter()
        .map(|n| n.trim_start_matches("node"))
        .collect::<Vec<_>>()
        .join("+")
}

struct Script {
    name: &'static str,
    failback: Failback,
    steps: &'static [Step],
}

use Act::*;
use Tool::{Debian, Native};

/// `auto_failback on`: groups taken over from a dead or stopped node go home; groups moved by
/// an operator stay (Heartbeat's rsc_needs_failback).
const FAILBACK_ON: Script = Script {
    name: "auto_failback_on",
    failback: Failback::On,
    steps: &[
        step(StartBoth, H1, H2),
        step(Standby(N1, "all", Native), H2, H2),
        step(Takeover(N1, "all", Native), H1, H1),
        step(Standby(N1, "foreign", Debian), H1, H2),
        step(Stop(N2), H1, H1),
        step(Start(N2), H1, H2),
        step(Crash(N1), H2, H2),
        step(Start(N1), H1, H2),
        step(Takeover(N2, "foreign", Debian), H2, H2),
    ],
};

/// `auto_failback off`: nothing moves back by itself.
const FAILBACK_OFF: Script = Script {
    name: "auto_failback_off",
    failback: Failback::Off,
    steps: &[
        step(StartBoth, H1, H2),
        step(Standby(N2, "all", Debian), H1, H1),
        step(Stop(N1), H2, H2),
        step(Start(N1), H2, H2),
        step(Takeover(N1, "local", Debian), H1, H2),
        step(Crash(N2), H1, H1),
        step(Start(N2), H1, H1),
        step(Standby(N1, "foreign", Native), H1, H2),
    ],
};

/// Start-up in both orders, one node joining late (after initdead).
const START_ORDERS: Script = Script {
    name: "start_orders",
    failback: Failback::On,
    steps: &[
        step(Start(N1), H1, H1),
        step(Start(N2), H1, H2),
        step(StopBoth, NONE, NONE),
        step(Start(N2), H2, H2),
        step(Start(N1), H1, H2),
    ],
};

/// `auto_failback off` with node2 first; the `failback` class of both tools (Debian's
/// scripts on every node, through the command FIFO on ours); a standby issued while the
/// previous one is still in flux.
const LATE_JOIN_OFF: Script = Script {
    name: "late_join_off",
    failback: Failback::Off,
    steps: &[
        step(Start(N2), H2, H2),
        step(Start(N1), H2, H2),
        step(Takeover(N1, "failback", Debian), H1, H1),
        step(Standby(N1, "local", Native), H2, H1),
        step(Takeover(N1, "failback", Native), H1, H1),
        step(Standby(N1, "failback", Native), H1, H2),
        step(StandbyTwice(N2, "all", Native), H1, H1),
        step(Stop(N2), H1, H1),
    ],
};

/// `auto_failback legacy` (Heartbeat's default): no standby; owners take their groups back.
const LEGACY: Script = Script {
    name: "legacy",
    failback: Failback::Legacy,
    steps: &[
        step(StartBoth, H1, H2),
        step(Standby(N1, "all", Native), H1, H2),
        step(Stop(N1), H2, H2),
        step(Start(N1), H1, H2),
        step(Crash(N2), H1, H1),
        step(Start(N2), H1, H2),
    ],
};

/// A cut cable and a silent partition, each healed (`auto_failback on`).
const PARTITIONS: Script = Script {
    name: "partitions",
    failback: Failback::On,
    steps: &[
        step(StartBoth, H1, H2),
        step(Cut(N1), BOTH, BOTH),
        step(Heal(N1), H1, H2),
        step(Isolate(N2), BOTH, BOTH),
        step(Rejoin(N2), H1, H2),
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
    /// The operator tool exited non-zero (ours says when the daemon refuses; Heartbeat's
    /// scripts cannot know). Shown, not compared.
    refused: bool,
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
            "{}{} {} · {}/{} · {}/{} · {}/{} ms",
            if self.refused { "(refused) " } else { "" },
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
    if std::env::var_os("HB_KEEP_LAB").is_some() {
        lab.keep_files();
    }
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
        let (want, _) = s.expected(pairing);
        let refused = act(&lab, &mut pair, s.act).with_context(|| what.clone())?;
        let reached = settle(&pair, want).with_context(|| what.clone())?;
        hold(&pair, &probers, want, reached).with_context(|| what.clone())?;
        let mut now = observe(&pair)?;
        now.refused = refused;
        for (k, p) in probers.iter().enumerate() {
            if want[k].is_empty() {
                continue;
            }
            // With both holding (a partition) whoever the client reaches ends the outage.
            let server = (want[k].len() == 1).then_some(want[k][0]);
            now.outage[k] = p.snapshot().outage_after(event, server).ok().map(|o| {
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

/// Performs `a`; returns whether an operator tool exited non-zero.
fn act(lab: &Lab, pair: &mut Pair<'_>, a: Act) -> Result<bool> {
    let refused = |r: (std::process::ExitStatus, String)| !r.0.success();
    match a {
        StartBoth => {
            pair.start(N1)?;
            pair.start(N2)?;
        }
        Start(n) => pair.start(n)?,
        Stop(n) => pair.stop(n, Duration::from_secs(60))?,
        StopBoth => {
            pair.stop(N1, Duration::from_secs(60))?;
            pair.stop(N2, Duration::from_secs(60))?;
        }
        Cut(n) => lab.cut(n)?,
        Heal(n) => lab.heal(n)?,
        Isolate(n) => lab.isolate_silently(n)?,
        Rejoin(n) => lab.rejoin(n)?,
        Crash(n) => {
            pair.kill(n)?;
            for v in VIPS {
                if lab.has_address(n, v)? {
                    lab.run(n, &["ip", "addr", "del", &format!("{v}/24"), "dev", "eth0"])?;
                }
            }
        }
        // Heartbeat's scripts always exit 0 (they cannot know); ours exit 1 when the daemon
        // refuses (docs/tools.md). What counts is what the cluster does.
        Standby(n, class, tool) => return Ok(refused(pair.command(n, false, class, tool)?)),
        Takeover(n, class, tool) => return Ok(refused(pair.command(n, true, class, tool)?)),
        StandbyTwice(n, class, tool) => {
            let first = refused(pair.command(n, false, class, tool)?);
            let second = refused(pair.command(n, false, class, tool)?);
            return Ok(first || second);
        }
    }
    Ok(false)
}

/// Waits until exactly the step's holders hold each VIP and no running node's
/// `rscstatus` says `transition`. Returns when that was first seen.
fn settle(pair: &Pair<'_>, want: [Holders; 2]) -> Result<Instant> {
    let mut last = None;
    wait_for("the step's state", SETTLE, || {
        pair.check_running()?;
        let holders: Vec<Vec<String>> = VIPS
            .iter()
            .map(|v| pair.holders(*v))
            .collect::<Result<_>>()?;
        let placed = holders.iter().zip(want).all(|(h, w)| h == w);
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
/// holders alone (and fail when nobody holds it) over that span, which is also what proves
/// the span went by.
fn hold(pair: &Pair<'_>, probers: &[Prober<'_>], want: [Holders; 2], from: Instant) -> Result<()> {
    wait_for("the state held", HOLD * 3, || {
        pair.check_running()?;
        let mut spanned = true;
        for (k, p) in probers.iter().enumerate() {
            let rec = p.snapshot();
            let after: Vec<_> = rec.probes.iter().filter(|pr| pr.start >= from).collect();
            let expected = |by: Option<&str>| match by {
                Some(n) => want[k].contains(&n),
                None => want[k].is_empty(),
            };
            if let Some(bad) = after.iter().find(|pr| !expected(pr.outcome.answered_by())) {
                bail!(
                    "VIP{} answered {:?} {:?} after the state was reached; wanted {}\n{}",
                    k + 1,
                    bad.outcome,
                    bad.start - from,
                    holders_label(want[k]),
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
            holders_label(s.holders[0]),
            holders_label(s.holders[1])
        );
        for r in runs {
            let cell = match r.seen.get(i) {
                Some(seen) if s.expected(r.pairing).1 => format!("{} †", seen.cell()),
                Some(seen) => seen.cell(),
                None if r.seen.len() == i && r.error.is_some() => "**failed**".into(),
                None => "not run".into(),
            };
            let _ = write!(t, " {cell} |");
        }
        t.push('\n');
    }
    for (i, s) in script.steps.iter().enumerate() {
        if let Some(a) = &s.alt {
            let _ = writeln!(
                t,
                "\n† step {}: documented improvement, expected {} {}: {}",
                i + 1,
                holders_label(a.holders[0]),
                holders_label(a.holders[1]),
                a.why
            );
        }
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
            if script.steps[i].expected(r.pairing).1 {
                continue;
            }
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

#[test]
fn start_orders_match_heartbeat() -> Result<()> {
    if !root_or_skip("start_orders_match_heartbeat") {
        return Ok(());
    }
    conform(&START_ORDERS)
}

#[test]
fn late_join_and_failback_class_match_heartbeat() -> Result<()> {
    if !root_or_skip("late_join_and_failback_class_match_heartbeat") {
        return Ok(());
    }
    conform(&LATE_JOIN_OFF)
}

#[test]
fn legacy_matches_heartbeat() -> Result<()> {
    if !root_or_skip("legacy_matches_heartbeat") {
        return Ok(());
    }
    conform(&LEGACY)
}

#[test]
fn partitions_heal_like_heartbeat() -> Result<()> {
    if !root_or_skip("partitions_heal_like_heartbeat") {
        return Ok(());
    }
    conform(&PARTITIONS)
}
