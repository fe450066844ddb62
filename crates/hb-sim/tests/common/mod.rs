//! What the simulator's integration tests share: the core's log in the test output, the
//! end of the trace, and "no invariant was violated".

#![allow(dead_code)] // each test file uses part of it

use std::time::Duration;

use hb_sim::Sim;

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Core log lines go to the test output (shown for failing tests).
pub(crate) fn logs() {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .without_time()
        .with_max_level(tracing::Level::DEBUG)
        .try_init();
}

/// The last 60 lines of the trace.
pub(crate) fn tail(sim: &Sim) -> String {
    let n = sim.trace.len();
    sim.trace[n.saturating_sub(60)..].join("\n")
}

/// No invariant was violated so far.
pub(crate) fn assert_clean(sim: &Sim) {
    assert!(
        sim.violations.is_empty(),
        "violations: {:?}\n{}",
        sim.violations,
        tail(sim)
    );
}
