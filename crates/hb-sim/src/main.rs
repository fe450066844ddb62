//! `hb-sim`: run or replay simulated fault schedules.
//!
//! `hb-sim --seed 42` replays one schedule and prints its trace (and the core's log lines
//! with `-v`); `hb-sim --sweep 1000` runs seeds 0..1000 and prints the failing ones.

#![forbid(unsafe_code)]

use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Deterministic fault-schedule simulator of the heartbeat-rs core")]
struct Args {
    /// Replay one seed and print its trace.
    #[arg(long)]
    seed: Option<u64>,
    /// Run this many seeds (starting at --from) and report failures.
    #[arg(long)]
    sweep: Option<u64>,
    /// First seed of the sweep.
    #[arg(long, default_value_t = 0)]
    from: u64,
    /// Also print the core's log lines.
    #[arg(short, long)]
    verbose: bool,
}

fn main() {
    let args = Args::parse();
    if args.verbose {
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_max_level(tracing::Level::DEBUG)
            .without_time()
            .init();
    }
    if let Some(seed) = args.seed {
        let out = hb_sim::sweep::run(seed);
        for line in &out.sim.trace {
            println!("{line}");
        }
        println!("faults: {:?}", out.faults);
        for v in &out.violations {
            println!("VIOLATION at {:?}: {}", v.at, v.what);
        }
        match &out.not_converged {
            Some(why) => println!("NOT CONVERGED: {why}"),
            None if out.ok() => println!("ok"),
            None => {}
        }
        std::process::exit(if out.ok() { 0 } else { 1 });
    }
    let count = args.sweep.unwrap_or(200);
    let mut failed = 0;
    for seed in args.from..args.from + count {
        let out = hb_sim::sweep::run(seed);
        if !out.ok() {
            failed += 1;
            println!("{}", out.failure_line());
        }
    }
    println!("{count} schedules, {failed} failed");
    std::process::exit(if failed == 0 { 0 } else { 1 });
}
