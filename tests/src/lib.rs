//! A network-namespace lab for black-box multi-node tests of heartbeat-rs and for the
//! failover benchmark.
//!
//! [`Lab::new`] builds a private LAN on one machine (root required): one namespace holding a
//! bridge, and one namespace per host (`node1` = 192.0.2.11, `node2` = .12, optional `node3` =
//! .13, `client` = 192.0.2.50), each connected to the bridge by a veth pair whose host end is
//! `eth0`. Everything the lab creates (namespaces, processes, service threads) is torn down when
//! the [`Lab`] is dropped, also while a test panics.
//!
//! On top of the LAN the crate offers:
//! * fault injection: [`Lab::cut`], [`Lab::heal`], [`Lab::isolate_silently`], [`Lab::rejoin`];
//! * processes inside a host namespace: [`Lab::spawn`] returns a [`Proc`];
//! * polling helpers that return as soon as a condition holds: [`wait_for`],
//!   [`wait_for_some`], [`LogFollower`];
//! * observation: [`Lab::has_address`], [`Lab::address_holders`];
//! * a TCP "who am I" service on hosts ([`Lab::start_listener`]) and a precise client prober
//!   ([`Lab::start_prober`], [`ProbeRecord::outage_after`]);
//! * drivers for the implementations we compare: heartbeat-rs, Debian's heartbeat 3.0.6 and
//!   keepalived 2.2.7 ([`Cluster`]);
//! * Heartbeat's own Cluster Test System run against a pair ([`cts`]), with a syslog collector
//!   for the nodes ([`syslog`]).
//!
//! Tests that need the lab call [`root_or_skip`] first: without root they print a loud SKIP
//! and return, unless `CI=true`, where missing root is a failure.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cluster;
pub mod cts;
pub mod lab;
pub mod mixed;
pub mod netns;
pub mod ours;
pub mod probe;
pub mod process;
mod service;
pub mod syslog;
pub mod timeline;
pub mod wait;

use std::path::PathBuf;

pub use cluster::{Cluster, ClusterSpec, Failback, Implementation, Timing};
pub use lab::{CLIENT, Lab, LinkState, NODE_NAMES};
pub use mixed::{Pair, Pairing, Tool};
pub use probe::{Outage, Probe, ProbeConfig, ProbeOutcome, ProbeRecord, Prober};
pub use process::Proc;
pub use timeline::{Timeline, holds};
pub use wait::{LogFollower, read_log, wait_for, wait_for_log_line, wait_for_some};

/// The repository root (the parent of this crate's directory).
pub fn repo_root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// Whether `CI=true` is set in the environment.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Whether the process runs as root (required to build a lab).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Returns `true` when the caller runs as root and may build a lab.
///
/// Otherwise prints a loud SKIP line naming `test` and returns `false`, except under CI
/// (`CI=true`), where it panics: a CI run that silently skips every namespace test is a failure.
pub fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    skip_or_fail(test, "network-namespace tests need root")
}

/// Prints a loud SKIP for `test` with `reason` and returns `false`; panics instead under CI.
///
/// The message goes straight to the process's stderr, past the test harness's output capture,
/// so a skipped test is visible even when it "passes".
pub fn skip_or_fail(test: &str, reason: &str) -> bool {
    if under_ci() {
        panic!("{test}: {reason}, and CI=true forbids skipping");
    }
    let banner = "*".repeat(70);
    let msg = format!("\n{banner}\n*** SKIP {test}: {reason}\n{banner}\n");
    // Nothing sensible to do if stderr itself is gone.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), msg.as_bytes());
    false
}
