//! Heartbeat's own Cluster Test System (CTS), a short run in classic mode (see
//! `hb_nstests::cts` and docs/conformance.md): CTS from Debian's heartbeat package, ported to
//! Python 3 at run time by `scripts/cts-port`, starts, stops, kills and partitions the daemons
//! of a pair of nodes in the namespace lab, waits for their log messages and audits that each
//! resource is served exactly once. A pair of Debian's Heartbeat shows that the harness is
//! right; a pair of ours, that we pass Heartbeat's own tests.
//!
//! Each test runs `HB_CTS_ITERATIONS` (default 1) iterations of the tests in `HB_CTS_TESTS`
//! (comma-separated, default `SimulStart,standby`: start-up, both shut-downs, the standby
//! hand-over and the audits), one CTS run per test. The full run (every classic test, every
//! pairing) is `scripts/cts --pairing all --each-test`.

use hb_nstests::cts::{self, CtsSpec};
use hb_nstests::{Implementation, Lab, Pairing, root_or_skip};

fn tests() -> Vec<String> {
    std::env::var("HB_CTS_TESTS")
        .unwrap_or_else(|_| "SimulStart,standby".to_owned())
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

fn iterations() -> u32 {
    std::env::var("HB_CTS_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
}

fn run_pairing(name: &str, pairing: Pairing) {
    if !root_or_skip(name) {
        return;
    }
    let mut failed = Vec::new();
    for test in tests() {
        let spec = CtsSpec::new(pairing, Some(&test), iterations());
        let lab = Lab::new("cts").expect("lab");
        let outcome = cts::run(&lab, &spec).unwrap_or_else(|e| panic!("CTS {test}: {e:#}"));
        eprintln!("== CTS {test} on {pairing}\n{}", outcome.summary());
        for p in &outcome.problems {
            eprintln!("  | {p}");
        }
        if !outcome.passed(spec.iterations) {
            lab.keep_files();
            failed.push(format!(
                "{test} (output {}, syslog {})",
                outcome.output.display(),
                outcome.syslog.display()
            ));
        }
    }
    assert!(failed.is_empty(), "CTS failed on {pairing}: {failed:?}");
}

#[test]
fn cts_classic_on_heartbeat_pair() {
    run_pairing(
        "cts_classic_on_heartbeat_pair",
        Pairing::new(Implementation::Heartbeat306, Implementation::Heartbeat306),
    );
}

#[test]
fn cts_classic_on_our_pair() {
    run_pairing(
        "cts_classic_on_our_pair",
        Pairing::new(Implementation::Ours, Implementation::Ours),
    );
}
