//! hb-check: service health checks for heartbeat-rs resource agents.
//!
//! * One-shot checks for agents' `monitor` actions: a TCP connect ([`check::connect`]) and an
//!   HTTP/1.0 GET judged by status code and optionally body text ([`check::check_url`]), with
//!   `http://` URL parsing ([`url`]).
//! * The LVS real-server watcher behind the `ipvs` agent: keepalived-style `TCP_CHECK` /
//!   `HTTP_GET` checks of every real server of a virtual service, which removes a failed
//!   server from the ipvsadm table and adds it back when it recovers. Its decisions are a pure
//!   state machine ([`watch::Watcher`]); the I/O shell is [`daemon`].
//!
//! The `hb-check` binary exposes these as `hb-check tcp`, `hb-check http` and
//! `hb-check ipvs-watch` (reference: `docs/agents/hb-check.md`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod addr;
pub mod check;
pub mod daemon;
pub mod ipvsadm;
pub mod url;
pub mod watch;
