//! `failover-bench`: the client-observed outage when the VIP fails over, for heartbeat-rs,
//! Debian's heartbeat 3.0.6 and keepalived, measured in a fresh network-namespace lab per
//! trial. See docs/benchmarks.md for the method.

#![forbid(unsafe_code)]

mod report;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use clap::Parser;
use hb_nstests::cluster::{heartbeat306_binary, keepalived_binary, ours_binary};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, LogFollower, ProbeConfig, ProbeOutcome, Timing,
    wait_for,
};
use serde_json::json;

use report::{Case, Measured, Scenario, TrialOutcome};

const PORT: u16 = 80;
const OLD: &str = "node1";
const NEW: &str = "node2";

/// Client-observed VIP failover outage of heartbeat-rs, heartbeat 3.0.6 and keepalived.
#[derive(Debug, Parser)]
#[command(name = "failover-bench", version)]
struct Args {
    /// Trials per implementation, timing and scenario.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    trials: u32,
    /// Comma-separated KEEPALIVE/DEADTIME[/WARNTIME[/INITDEAD]] in milliseconds (keepalived:
    /// advert_int = KEEPALIVE).
    #[arg(long, default_value = "100/300,10/30", value_delimiter = ',')]
    timings: Vec<Timing>,
    /// Comma-separated implementations: ours, heartbeat, keepalived.
    #[arg(
        long = "impl",
        default_value = "ours,heartbeat,keepalived",
        value_delimiter = ','
    )]
    implementations: Vec<Implementation>,
    /// Comma-separated scenarios: cut (node1's bridge port down), graceful (SIGTERM to node1's
    /// daemon; ours and heartbeat only).
    #[arg(long, default_value = "cut,graceful", value_delimiter = ',')]
    scenario: Vec<Scenario>,
    /// Also write the full results (every trial, with its probe timeline) as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Prober: milliseconds between connection attempts.
    #[arg(long, default_value_t = 2)]
    probe_interval_ms: u64,
    /// Prober: connect timeout of one attempt, in milliseconds.
    #[arg(long, default_value_t = 20)]
    probe_timeout_ms: u64,
    /// Give up on a trial whose VIP is not on node1 this many seconds after starting the
    /// daemons.
    #[arg(long, default_value_t = 90)]
    startup_timeout_s: u64,
    /// Give up on a trial whose client is not served by node2 this many seconds after the
    /// fault.
    #[arg(long, default_value_t = 30)]
    failover_timeout_s: u64,
    /// Directory of our `heartbeat` binary (default: $HB_BIN_DIR, else the target directory).
    #[arg(long)]
    ours_bin_dir: Option<PathBuf>,
}

struct Settings {
    probe: ProbeConfig,
    startup_timeout: Duration,
    failover_timeout: Duration,
    ours_bin_dir: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(args) {
        eprintln!("failover-bench: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    if !hb_nstests::is_root() {
        bail!("the benchmark builds network namespaces and needs root");
    }
    if args.probe_interval_ms == 0 || args.probe_timeout_ms == 0 {
        bail!("probe interval and timeout must be positive");
    }
    let settings = Settings {
        probe: ProbeConfig {
            interval: Duration::from_millis(args.probe_interval_ms),
            connect_timeout: Duration::from_millis(args.probe_timeout_ms),
            max_duration: Duration::from_secs(args.failover_timeout_s + 120),
            ..ProbeConfig::default()
        },
        startup_timeout: Duration::from_secs(args.startup_timeout_s),
        failover_timeout: Duration::from_secs(args.failover_timeout_s),
        ours_bin_dir: args.ours_bin_dir.clone(),
    };
    let mut cases = Vec::new();
    for &imp in &dedup(&args.implementations) {
        let missing = availability(imp, &settings).err().map(|e| format!("{e:#}"));
        for scenario in dedup(&args.scenario) {
            if !scenario.applies_to(imp) {
                eprintln!("note: scenario {} is not run for {imp}", scenario.name());
            }
        }
        for timing in &dedup(&args.timings) {
            for &scenario in &dedup(&args.scenario) {
                if !scenario.applies_to(imp) {
                    continue;
                }
                let unavailable = missing.clone().or_else(|| timing_problem(imp, *timing));
                let mut case = Case {
                    implementation: imp,
                    timing: *timing,
                    scenario,
                    unavailable,
                    trials: vec![],
                };
                if let Some(why) = &case.unavailable {
                    eprintln!("[{imp} {timing} {}] not run: {why}", scenario.name());
                } else {
                    for n in 1..=args.trials {
                        let outcome =
                            trial(imp, *timing, scenario, &settings).map_err(|e| format!("{e:#}"));
                        eprintln!(
                            "[{imp} {timing} {} #{n}] {}",
                            scenario.name(),
                            progress(&outcome)
                        );
                        case.trials.push(outcome);
                    }
                }
                cases.push(case);
            }
        }
    }
    println!();
    print!("{}", report::table(&cases));
    let notes = report::failure_notes(&cases);
    if !notes.is_empty() {
        println!("\nfailed trials:\n{notes}");
    }
    println!(
        "\nprobe: TCP connect to {}:{PORT} from the client every {} ms, {} ms connect timeout; \
         outage = last answer before the fault .. node2's first answer",
        vip(),
        args.probe_interval_ms,
        args.probe_timeout_ms
    );
    if let Some(path) = &args.json {
        let command: Vec<String> = std::env::args().collect();
        let probe = json!({
            "interval_ms": args.probe_interval_ms,
            "connect_timeout_ms": args.probe_timeout_ms,
            "port": PORT,
            "vip": vip().to_string(),
        });
        let doc = report::json_report(&cases, &command, &probe);
        std::fs::write(path, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn dedup<T: PartialEq + Copy>(v: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for x in v {
        if !out.contains(x) {
            out.push(*x);
        }
    }
    out
}

fn vip() -> Ipv4Addr {
    ClusterSpec::new(Implementation::Ours, Timing::from_ms(100, 300)).vip
}

/// Whether the implementation's binary is installed / built.
fn availability(imp: Implementation, settings: &Settings) -> Result<()> {
    match imp {
        Implementation::Ours => ours_binary(settings.ours_bin_dir.as_deref()).map(drop),
        Implementation::Heartbeat306 => heartbeat306_binary().map(drop),
        Implementation::Keepalived => keepalived_binary().map(drop),
    }
}

/// A timing the implementation cannot express.
fn timing_problem(imp: Implementation, timing: Timing) -> Option<String> {
    let spec = ClusterSpec::new(imp, timing);
    match imp {
        Implementation::Keepalived => spec.advert_int().err().map(|e| format!("{e:#}")),
        _ => None,
    }
}

fn progress(outcome: &TrialOutcome) -> String {
    match outcome {
        Ok(m) => format!(
            "outage {:.1} ms (node2 {:.1} ms after the fault, {} failed attempts{}), startup {:.1} s{}",
            report::ms(m.outage),
            report::ms(m.since_event),
            m.failed_probes,
            if m.interim_successes > 0 {
                format!(", {} interim answers", m.interim_successes)
            } else {
                String::new()
            },
            m.startup.as_secs_f64(),
            match (m.false_deaths, m.late_warnings) {
                (Some(d), Some(l)) if d + l > 0 =>
                    format!(", before the fault: {d} false death(s), {l} late-heartbeat warning(s)"),
                _ => String::new(),
            }
        ),
        Err(e) => format!("FAILED: {}", e.lines().next().unwrap_or("")),
    }
}

/// Counts of `needle` lines in heartbeat 3.0.6's logs of all nodes (None for the others,
/// whose log formats differ).
fn count_log_lines(cluster: &Cluster<'_>, needle: &str) -> Option<usize> {
    if cluster.spec().implementation != Implementation::Heartbeat306 {
        return None;
    }
    let mut n = 0;
    for node in &cluster.spec().nodes {
        let text = std::fs::read_to_string(cluster.log_path(node).ok()?).unwrap_or_default();
        n += text.lines().filter(|l| l.contains(needle)).count();
    }
    Some(n)
}

/// Waits until node1 alone holds the VIP. A heartbeat 3.0.6 node declaring its peer dead during
/// startup (a false death at short timings) ends the trial at once instead of at the timeout:
/// the VIP then settles on the wrong node.
fn await_startup(cluster: &Cluster<'_>, timeout: Duration) -> Result<()> {
    let mut followers = Vec::new();
    if cluster.spec().implementation == Implementation::Heartbeat306 {
        for node in &cluster.spec().nodes {
            followers.push(LogFollower::new(cluster.log_path(node)?));
        }
    }
    let mut death = None;
    let waited = wait_for("the VIP on node1 alone", timeout, || {
        cluster.check_running()?;
        for f in &mut followers {
            if let Some(line) = f.new_lines()?.into_iter().find(|l| l.contains(": is dead")) {
                death = Some(line);
                return Ok(true);
            }
        }
        Ok(cluster.vip_holders()? == [OLD])
    });
    let holders = cluster.vip_holders().unwrap_or_default();
    match (waited, death) {
        (_, Some(line)) => bail!("false death during startup: {line} (VIP holders: {holders:?})"),
        (Ok(_), None) => Ok(()),
        (Err(e), None) => bail!(
            "{e:#} (VIP holders: {holders:?})\n{}",
            cluster.log_tail(OLD, 15)
        ),
    }
}

/// One trial in a fresh lab; everything it started is torn down when it returns.
fn trial(
    imp: Implementation,
    timing: Timing,
    scenario: Scenario,
    settings: &Settings,
) -> Result<Measured> {
    let lab = Lab::new("bench")?;
    measure(&lab, imp, timing, scenario, settings).map_err(|e| {
        lab.keep_files();
        anyhow!("{e:#}\n(lab files kept in {})", lab.dir().display())
    })
}

fn measure(
    lab: &Lab,
    imp: Implementation,
    timing: Timing,
    scenario: Scenario,
    settings: &Settings,
) -> Result<Measured> {
    for node in [OLD, NEW] {
        lab.start_listener(node, PORT)?;
    }
    let mut spec = ClusterSpec::new(imp, timing);
    spec.ours_bin_dir = settings.ours_bin_dir.clone();
    let target = SocketAddrV4::new(spec.vip, PORT);
    let mut cluster = Cluster::new(lab, spec)?;

    let started = Instant::now();
    cluster.start_all()?;
    await_startup(&cluster, settings.startup_timeout)?;
    let startup = started.elapsed();
    let one_shot = ProbeConfig {
        connect_timeout: Duration::from_millis(200),
        ..settings.probe
    };
    wait_for(
        "the client served by node1",
        Duration::from_secs(10),
        || Ok(lab.probe_once("client", target, &one_shot)? == ProbeOutcome::Answered(OLD.into())),
    )?;

    let prober = lab.start_prober("client", target, settings.probe)?;
    wait_for(
        "a steady service from node1 (50 answers)",
        Duration::from_secs(10),
        || Ok(prober.answers_from(OLD) >= 50),
    )?;
    let holders = cluster.vip_holders()?;
    if holders != [OLD] {
        bail!("before the fault the VIP is held by {holders:?}, not by node1 alone");
    }
    let false_deaths = count_log_lines(&cluster, ": is dead");
    let late_warnings = count_log_lines(&cluster, "Late heartbeat");

    let event = Instant::now();
    match scenario {
        Scenario::Cut => lab.cut(OLD)?,
        Scenario::Graceful => cluster.terminate(OLD)?,
    }
    wait_for(
        "the client served by node2",
        settings.failover_timeout,
        || {
            // node1 may exit (graceful scenario); node2 must not.
            if let Some(status) = cluster.proc(NEW)?.try_wait()? {
                bail!("{imp} on node2 exited ({status})");
            }
            Ok(prober.first_answer_from(NEW, event).is_some())
        },
    )
    .map_err(|e| {
        anyhow!(
            "{e:#}\nprobes: {}\nVIP holders: {:?}\n{}",
            prober.snapshot().timeline(event),
            cluster.vip_holders().unwrap_or_default(),
            cluster.log_tail(NEW, 20)
        )
    })?;
    // Keep probing briefly so that flapping right after the takeover shows in the record.
    let settled = Instant::now();
    let _ = wait_for("node2 serving steadily", Duration::from_secs(2), || {
        Ok(prober.first_answer_from(NEW, settled).is_some() && prober.answers_from(NEW) >= 50)
    });
    let record = prober.stop()?;
    let outage = record.outage_after(event, Some(NEW))?;
    Ok(Measured {
        outage: outage.duration,
        since_event: outage.since_event,
        failed_probes: outage.failed_probes,
        interim_successes: outage.interim_successes,
        startup,
        false_deaths,
        late_warnings,
        holders_after: cluster.vip_holders()?,
        timeline: record.timeline(event),
    })
}
