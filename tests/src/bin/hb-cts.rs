//! `hb-cts`: Heartbeat's Cluster Test System (CTS) in classic mode against a pair of nodes in
//! the namespace lab (see `hb_nstests::cts`), for one or more pairings, and a table of the
//! results. Needs root. Run it through `scripts/cts`.
//!
//! ```text
//! hb-cts [--pairing hb+hb|ours+ours|ours+hb|hb+ours|all]... [--test NAME|--each-test]
//!        [--iterations N] [--seed S] [--keep] [--markdown FILE] [--ours-workarounds]
//! ```
//!
//! `--ours-workarounds` is for diagnosis only: our nodes answer CTS's `heartbeat -s` with
//! Heartbeat's wording from our `cl_status`, and get a root-owned `/run/heartbeat`. Our daemon
//! has both itself now (docs/conformance.md); the option is kept to tell a regression in
//! either from the rest.
//!
//! `--each-test` runs CTS once per classic test (`--choose`), N iterations each; without it
//! one run picks N tests at random (or N iterations of `--test`). Pairings run one after the
//! other. The exit status is 0 only when every run passed.

#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use hb_nstests::cts::{self, CLASSIC_TESTS, CtsSpec};
use hb_nstests::{Lab, Pairing};

struct Args {
    pairings: Vec<Pairing>,
    tests: Vec<Option<String>>,
    iterations: u32,
    seed: Option<String>,
    keep: bool,
    ours_workarounds: bool,
    markdown: Option<String>,
}

fn parse_pairing(s: &str) -> Result<Vec<Pairing>> {
    if s == "all" {
        return Ok(Pairing::ALL.to_vec());
    }
    let (a, b) = s
        .split_once('+')
        .with_context(|| format!("bad pairing {s:?} (e.g. hb+ours)"))?;
    let imp = |x: &str| -> Result<hb_nstests::Implementation> {
        match x {
            "hb" => Ok(hb_nstests::Implementation::Heartbeat306),
            other => other.parse(),
        }
    };
    Ok(vec![Pairing::new(imp(a)?, imp(b)?)])
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        pairings: Vec::new(),
        tests: vec![None],
        iterations: 1,
        seed: None,
        keep: false,
        ours_workarounds: false,
        markdown: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--pairing" => a.pairings.extend(parse_pairing(&value()?)?),
            "--test" => a.tests = vec![Some(value()?)],
            "--each-test" => a.tests = CLASSIC_TESTS.iter().map(|t| Some(t.to_string())).collect(),
            "--iterations" => a.iterations = value()?.parse()?,
            "--seed" => a.seed = Some(value()?),
            "--keep" => a.keep = true,
            "--ours-workarounds" => a.ours_workarounds = true,
            "--markdown" => a.markdown = Some(value()?),
            "-h" | "--help" => {
                println!(
                    "usage: hb-cts [--pairing hb+hb|ours+ours|ours+hb|hb+ours|all]... \
                     [--test NAME|--each-test] [--iterations N] [--seed S] [--keep] [--markdown FILE] \
                     [--ours-workarounds]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if a.pairings.is_empty() {
        a.pairings.push(Pairing::ALL[0]);
    }
    Ok(a)
}

fn main() -> Result<()> {
    if !hb_nstests::is_root() {
        bail!("CTS runs in network namespaces: run it as root (sudo scripts/cts)");
    }
    let args = parse_args()?;
    // SIGINT/SIGTERM/SIGHUP end the run cleanly (namespaces and processes torn down): they
    // are blocked here, before any thread exists, and awaited by one thread.
    let signals = {
        use nix::sys::signal::{SigSet, Signal};
        let mut set = SigSet::empty();
        for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
            set.add(s);
        }
        set
    };
    signals.thread_block()?;
    std::thread::spawn(move || {
        if let Ok(sig) = signals.wait() {
            eprintln!("hb-cts: {sig}: stopping CTS and tearing the lab down");
            cts::INTERRUPT.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    });
    // (pairing, test) -> cell
    let mut cells: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut all_passed = true;
    'outer: for pairing in &args.pairings {
        for test in &args.tests {
            if cts::INTERRUPT.load(std::sync::atomic::Ordering::SeqCst) {
                all_passed = false;
                break 'outer;
            }
            let label = test.clone().unwrap_or_else(|| "random".to_owned());
            let mut spec = CtsSpec::new(*pairing, test.as_deref(), args.iterations);
            spec.seed = args.seed.clone();
            spec.ours_workarounds = args.ours_workarounds;
            println!("== CTS {label} x{} on {pairing}", args.iterations);
            let t0 = Instant::now();
            let lab = Lab::new("cts")?;
            if args.keep {
                lab.keep_files();
            }
            let cell = match cts::run(&lab, &spec) {
                Ok(outcome) => {
                    print!("{}", outcome.summary());
                    for p in &outcome.problems {
                        println!("  | {p}");
                    }
                    let passed = outcome.passed(args.iterations);
                    if !passed {
                        all_passed = false;
                        lab.keep_files();
                    }
                    println!(
                        "-> {} in {:.0} s (CTS output {}, syslog {})",
                        if passed { "PASSED" } else { "FAILED" },
                        t0.elapsed().as_secs_f64(),
                        outcome.output.display(),
                        outcome.syslog.display()
                    );
                    cell_text(&outcome, test.as_deref(), passed)
                }
                Err(e) => {
                    all_passed = false;
                    println!("-> ERROR: {e:#}");
                    "error".to_owned()
                }
            };
            cells.insert((pairing.to_string(), label), cell);
        }
    }
    let table = table(&args, &cells);
    println!("\n{table}");
    if let Some(path) = &args.markdown {
        std::fs::write(path, &table).with_context(|| format!("cannot write {path}"))?;
    }
    if !all_passed {
        std::process::exit(1);
    }
    Ok(())
}

/// `pass 3/3` or `FAIL 1/3 (2 failed, 1 BadNews)`.
fn cell_text(o: &cts::CtsOutcome, test: Option<&str>, passed: bool) -> String {
    let (success, failure, calls) = match test.and_then(|t| o.tests.get(t)) {
        Some(st) => (
            st.get("success").copied().unwrap_or(0.0) as u64,
            st.get("failure").copied().unwrap_or(0.0) as u64,
            st.get("calls").copied().unwrap_or(0.0) as u64,
        ),
        None => (
            o.overall_count("success"),
            o.overall_count("failure"),
            o.overall_count("success") + o.overall_count("failure"),
        ),
    };
    let mut s = format!("{} {success}/{calls}", if passed { "pass" } else { "FAIL" });
    let mut extra = Vec::new();
    if failure > 0 {
        extra.push(format!("{failure} failed"));
    }
    for k in ["BadNews", "auditfail"] {
        if o.overall_count(k) > 0 {
            extra.push(format!("{} {k}", o.overall_count(k)));
        }
    }
    if !extra.is_empty() {
        let _ = write!(s, " ({})", extra.join(", "));
    }
    s
}

fn table(args: &Args, cells: &BTreeMap<(String, String), String>) -> String {
    let mut t = String::from("| test |");
    for p in &args.pairings {
        let _ = write!(t, " {p} |");
    }
    t += "\n|---|";
    for _ in &args.pairings {
        t += "---|";
    }
    t.push('\n');
    for test in &args.tests {
        let label = test.clone().unwrap_or_else(|| "random".to_owned());
        let _ = write!(t, "| {label} |");
        for p in &args.pairings {
            let c = cells
                .get(&(p.to_string(), label.clone()))
                .map_or("-", String::as_str);
            let _ = write!(t, " {c} |");
        }
        t.push('\n');
    }
    t
}
