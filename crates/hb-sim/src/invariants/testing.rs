//! Helpers of the invariants' tests, each of which drives a Sim (or sets its world by hand)
//! into a violating state and asserts the violation's exact text.

use std::time::Duration;

use hb_core::AutoFailback;

use crate::{Params, Sim};

pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The text of each violation recorded so far.
pub(crate) fn whats(sim: &Sim) -> Vec<&str> {
    sim.violations.iter().map(|v| v.what.as_str()).collect()
}

/// A two-node cluster with each group on its preferred node, no violation so far.
pub(crate) fn settled(params: Params) -> Sim {
    let mut sim = Sim::new(params);
    assert!(sim.run_until(ms(3000), |s| s.placement_is(&[0, 1])));
    assert_eq!(whats(&sim), Vec::<&str>::new());
    sim
}

/// Two nodes, auto_failback on, a fixed seed.
pub(crate) fn two_nodes() -> Params {
    Params::two_nodes(AutoFailback::On, 11)
}

/// Nobody notices an application that dies.
pub(crate) fn unmonitored() -> Params {
    let mut p = two_nodes();
    p.monitor.interval = None;
    p
}
