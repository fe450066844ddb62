//! A deterministic discrete-event simulator of several [`hb_core::Core`]s.
//!
//! The simulator owns a virtual clock, a LAN with injectable faults (cut nodes, one-way
//! blocks, loss, duplication, delay jitter) and a "world": the set of resources actually
//! active on each host. Simulated agents change the world when they finish, so a crashed
//! daemon (`crash`) leaves its resources behind exactly like `kill -9` does, and a restarted
//! one finds them in its start-up probe.
//!
//! Everything is a function of the seed: the same [`Params`] and the same calls replay the
//! same run. Invariants (see [`Sim::check`] and `docs/simulation.md`), one file each under
//! `src/invariants/`, are checked after every event; a violation is recorded with the event
//! trace that led to it.
//!
//! Must never depend on tokio or real clocks.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod invariants;
mod lan;
mod params;
mod sim;
pub mod sweep;
mod world;

pub use invariants::Violation;
pub use lan::FenceMode;
pub use params::{FenceParams, PING_NODE, Params, PingParams};
pub use sim::Sim;
