//! Linux adapters for heartbeat-rs: the only crate allowed to contain `unsafe`.
//!
//! - [`media`]: UDP heartbeat media (bcast, ucast, mcast) built with socket2, bound to devices.
//! - [`agent`]: running resource agents as process groups with timeouts.
//! - [`addr`]: IPv4 and IPv6 address add/delete/lookup over rtnetlink.
//! - [`garp`]: gratuitous ARP from an AF_PACKET socket.
//! - [`ndisc`]: unsolicited IPv6 neighbour advertisements from an AF_PACKET socket.
//! - [`rt`]: real-time scheduling and memory locking for the daemon.
//! - [`fs`]: the daemon's directories and files: safe modes, no symbolic links followed.
//! - [`pidfile`]: the pid file, locked for the daemon's life; who holds it.
//!
//! Everything here is I/O; decisions live in `hb-core`.

// The one exception to the workspace's `unsafe_code = "deny"`; every block says why it is
// sound.
#![allow(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod addr;
pub mod agent;
pub mod carrier;
pub mod fs;
pub mod garp;
pub mod icmp;
pub mod media;
pub mod ndisc;
pub mod pidfile;
pub mod rt;
pub mod watchdog;
