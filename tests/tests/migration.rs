//! The node-by-node migration of docs/migration.md, walked in the lab: a running Heartbeat
//! 3.0.6 pair becomes a heartbeat-rs pair one node at a time, then one node is rolled back,
//! while a client probes the VIP every 2 ms. After each step: who holds the VIP, both nodes'
//! own `cl_status rscstatus` and `nodestatus`, and the client outage of the step. Steps that
//! do not move the VIP must cost the client nothing (not one failed probe); the planned
//! handovers are measured and printed. With `auto_failback on` (the usual production setting)
//! and with `legacy` (Heartbeat's default, and the tutorial's: no `auto_failback` line).
//! The tables are written to `target/conformance/migration-*.md`.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hb_nstests::{
    ClusterSpec, Failback, Implementation, Lab, Pair, Pairing, ProbeConfig, Tool, root_or_skip,
    wait_for,
};

const HB: Implementation = Implementation::Heartbeat306;
const OURS: Implementation = Implementation::Ours;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const PORT: u16 = 80;
const SECOND: Duration = Duration::from_secs(1);
/// How long a step's end state must hold, proven by the client's probes.
const HOLD: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy)]
enum Act {
    /// Start Heartbeat on both nodes.
    StartHb,
    /// Graceful stop of a node's daemon (`systemctl stop heartbeat`).
    Stop(&'static str),
    /// Start `Implementation` on a node (after installing it).
    Start(&'static str, Implementation),
    /// `hb_standby all` on a node, with Debian's script.
    Standby(&'static str),
}

impl Act {
    fn label(self) -> String {
        let name = |i: Implementation| match i {
            HB => "Heartbeat 3.0.6",
            _ => "heartbeat-rs",
        };
        match self {
            Act::StartHb => "start Heartbeat 3.0.6 on both nodes".to_owned(),
            Act::Stop(n) => format!("stop the daemon on {n}"),
            Act::Start(n, i) => format!("start {} on {n}", name(i)),
            Act::Standby(n) => format!("`hb_standby all` on {n} (Debian's script)"),
        }
    }
}

struct Step {
    act: Act,
    /// Who holds the VIP afterwards.
    holder: &'static str,
}

const fn step(act: Act, holder: &'static str) -> Step {
    Step { act, holder }
}

/// `auto_failback on`: node2 first, then the VIP moves to node2 with `hb_standby`, node1 is
/// replaced, and the VIP fails back to it. Then node2 is rolled back and forward again.
const ON: &[Step] = &[
    step(Act::StartHb, "node1"),
    step(Act::Stop("node2"), "node1"),
    step(Act::Start("node2", OURS), "node1"),
    step(Act::Standby("node1"), "node2"),
    step(Act::Stop("node1"), "node2"),
    step(Act::Start("node1", OURS), "node1"),
    step(Act::Stop("node2"), "node1"),
    step(Act::Start("node2", HB), "node1"),
    step(Act::Stop("node2"), "node1"),
    step(Act::Start("node2", OURS), "node1"),
];

/// `auto_failback legacy` has no standby: node1 hands the VIP over by stopping.
const LEGACY: &[Step] = &[
    step(Act::StartHb, "node1"),
    step(Act::Stop("node2"), "node1"),
    step(Act::Start("node2", OURS), "node1"),
    step(Act::Stop("node1"), "node2"),
    step(Act::Start("node1", OURS), "node1"),
];

struct Row {
    label: String,
    holder: String,
    rsc: [String; 2],
    nodestatus: [String; 2],
    outage: Option<Duration>,
    moved: bool,
}

fn run(failback: Failback, steps: &[Step]) -> Result<Vec<Row>> {
    let lab = Lab::new("migrate")?;
    let mut spec = ClusterSpec::new(OURS, "200/2000/1000/6000".parse()?);
    spec.auto_failback = failback;
    spec.haresources = Some(format!("node1 IPaddr2::{VIP}/24/eth0\n"));
    let mut pair = Pair::new(&lab, Pairing::new(HB, HB), &spec)?;
    for n in ["node1", "node2"] {
        lab.start_listener(n, PORT)?;
    }
    let cfg = ProbeConfig {
        interval: Duration::from_millis(2),
        connect_timeout: Duration::from_millis(50),
        reply_timeout: Duration::from_millis(200),
        max_duration: Duration::from_secs(900),
    };
    let prober = lab.start_prober("client", SocketAddrV4::new(VIP, PORT), cfg)?;
    let mut rows = Vec::new();
    let mut before = String::new();
    for (i, s) in steps.iter().enumerate() {
        let what = format!("{}: step {} ({})", failback.name(), i + 1, s.act.label());
        let event = Instant::now();
        match s.act {
            Act::StartHb => {
                pair.start("node1")?;
                pair.start("node2")?;
            }
            Act::Stop(n) => pair.stop(n, 60 * SECOND)?,
            Act::Start(n, i) => {
                pair.replace(n, i)?;
                pair.start(n)?;
            }
            Act::Standby(n) => {
                pair.command(n, false, "all", Tool::Debian)?;
            }
        }
        // The end state: the VIP on its holder only, both nodes' views settled.
        let stopped = |n: &str| matches!(s.act, Act::Stop(m) if m == n);
        let live: Vec<&str> = ["node1", "node2"]
            .into_iter()
            .filter(|n| pair.is_running(n))
            .collect();
        let reached = wait_for(&what, 60 * SECOND, || {
            pair.check_running()?;
            if pair.holders(VIP)? != [s.holder] {
                return Ok(false);
            }
            for a in &live {
                for b in ["node1", "node2"].iter().filter(|b| *b != a) {
                    let want = if pair.is_running(b) { "active" } else { "dead" };
                    if pair.nodestatus(a, b)? != want {
                        return Ok(false);
                    }
                }
            }
            Ok(!stopped("node1") || !pair.is_running("node1"))
        })
        .with_context(|| format!("{what}\n{}", pair.log_tails(20)))?;
        // ... and holds: the client's probes over HOLD are all answered by the holder.
        let from = event + reached;
        wait_for(&format!("{what}: the state holds"), HOLD * 3, || {
            let rec = prober.snapshot();
            let after: Vec<_> = rec.probes.iter().filter(|p| p.start >= from).collect();
            if let Some(bad) = after
                .iter()
                .find(|p| p.outcome.answered_by() != Some(s.holder))
            {
                bail!("{what}: a probe after the step got {:?}", bad.outcome);
            }
            Ok(after
                .last()
                .is_some_and(|p| p.start.duration_since(from) >= HOLD))
        })?;
        let moved = !matches!(s.act, Act::StartHb) && before != s.holder;
        let outage = if matches!(s.act, Act::StartHb) {
            None
        } else {
            let o = prober
                .snapshot()
                .outage_after(event, Some(s.holder))
                .with_context(|| what.clone())?;
            Some(if o.failed_probes == 0 && o.last_ok_by == o.first_ok_by {
                Duration::ZERO
            } else {
                o.duration
            })
        };
        if !moved && outage.is_some_and(|o| !o.is_zero()) {
            bail!(
                "{what}: the VIP stayed on {} but the client saw an outage of {outage:?}",
                s.holder
            );
        }
        let rsc = |n: &str| pair.rscstatus(n);
        let ns = |a: &str, b: &str| pair.nodestatus(a, b);
        rows.push(Row {
            label: s.act.label(),
            holder: s.holder.to_owned(),
            rsc: [rsc("node1")?, rsc("node2")?],
            nodestatus: [ns("node1", "node2")?, ns("node2", "node1")?],
            outage,
            moved,
        });
        before = s.holder.to_owned();
    }
    prober.stop()?;
    Ok(rows)
}

fn table(failback: Failback, rows: &[Row]) -> String {
    let mut out = format!(
        "### auto_failback {} (timing 200/2000/1000/6000 ms)\n\n\
         | step | VIP on | rscstatus node1/node2 | nodestatus node1→node2 / node2→node1 | client outage |\n\
         |---|---|---|---|---|\n",
        failback.name()
    );
    for (i, r) in rows.iter().enumerate() {
        let outage = match r.outage {
            None => "-".to_owned(),
            Some(o) if o.is_zero() => "0 (no failed probe)".to_owned(),
            Some(o) => format!(
                "{} ms{}",
                o.as_millis(),
                if r.moved { " (handover)" } else { "" }
            ),
        };
        let _ = writeln!(
            out,
            "| {}. {} | {} | {}/{} | {}/{} | {} |",
            i + 1,
            r.label,
            r.holder,
            r.rsc[0],
            r.rsc[1],
            r.nodestatus[0],
            r.nodestatus[1],
            outage
        );
    }
    out
}

#[test]
fn a_heartbeat_pair_migrates_node_by_node_without_unplanned_outages() -> Result<()> {
    if !root_or_skip("a_heartbeat_pair_migrates_node_by_node_without_unplanned_outages") {
        return Ok(());
    }
    let dir = hb_nstests::repo_root().join("target/conformance");
    std::fs::create_dir_all(&dir)?;
    for (failback, steps) in [(Failback::On, ON), (Failback::Legacy, LEGACY)] {
        let rows = run(failback, steps)?;
        let t = table(failback, &rows);
        println!("{t}");
        std::fs::write(dir.join(format!("migration-{}.md", failback.name())), &t)?;
    }
    Ok(())
}
