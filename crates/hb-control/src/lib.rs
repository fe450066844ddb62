//! hb-control: the control-socket protocol of heartbeat-rs, defined once.
//!
//! The daemon (`hb-daemon`) answers on `<run-dir>/heartbeat.sock`; the operator tools
//! (`hb-tools`: `cl_status`, `hb_standby`, `hb_takeover`, `hb_cleanup`), the namespace tests
//! and any monitoring client talk to it. All of them take the protocol from this crate: the
//! [version](VERSION), the [socket name](SOCKET_NAME), the [default run
//! directory](DEFAULT_RUN_DIR) and its [environment variable](RUN_DIR_ENV), the [size
//! limits](MAX_REQUEST) and the [connection limits](MAX_CONNECTIONS), who may send [which
//! request](Request::root_only), the typed [`Request`]s and replies ([`Reply`], [`Response`]), the
//! [`Status`] tree, the framing ([`encode_request`], [`decode_request`], [`decode_reply`]) and
//! one error type, [`ControlError`]. `docs/control.md` describes the same protocol for people;
//! a test decodes its examples with these types and encodes them back, so the two cannot
//! drift apart.
//!
//! The other local way in, Heartbeat's command FIFO (`<state dir>/fifo`, written by Debian's
//! `hb_standby` and `hb_takeover` scripts), is read here too, without I/O: [`FifoReader`] turns
//! the bytes written into it into the same [`Request`]s ([`fifo_request`]).
//!
//! # What it depends on
//!
//! Only serde, serde_json, thiserror and hb-proto (the classic message parser, for the FIFO).
//! It must never depend on tokio (a client is a few blocking lines of std) nor on hb-core (a
//! client must not need the daemon's state machine).
//! The daemon converts hb-core's `Snapshot` and `Class` into these types, and
//! [`RequestClass`] into hb-core's `Class`, with exhaustive `match`es in its own code: a new
//! state in the core is then a compile error in the daemon, and a new state here is a deliberate
//! protocol change, never a silent drift between two copies.
//!
//! # Reading replies from other versions
//!
//! Additions that old clients can ignore keep protocol version 1, so a reply is read
//! tolerantly: unknown fields are ignored; a field missing from an older daemon's reply, or
//! `null`, takes its documented default (see each field); a state word this version does not
//! know (a newer daemon's) is kept as the `Other(String)` variant of its enum
//! ([`NodeStatus::Other`], [`GroupState::Other`], ...) instead of failing the whole reply.
//! Encoding writes every field, `null`s included, exactly as `docs/control.md` shows.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod fifo;
mod reply;
mod request;
mod status;
mod words;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use error::ControlError;
pub use fifo::{
    FIFO_NAME, FIFO_WARN_INTERVAL, FifoEvent, FifoProblem, FifoReader, FifoRefusal, FifoWarning,
    MAX_FIFO_MESSAGE, fifo_path, fifo_request,
};
pub use reply::{
    CleanupReply, Empty, Reply, ReplyBody, Response, decode_reply, decode_reply_value,
};
pub use request::{Request, RequestClass, decode_request, encode_request};
pub use status::{Counters, Fencing, Group, Link, Node, Parameters, Resource, Status};
pub use words::{
    GroupState, LinkStatus, NodeStatus, NodeType, ResourceClass, ResourceState, RscStatus,
};

/// The protocol version: every request and every reply carries `"version": 1`.
pub const VERSION: u32 = 1;

/// The name of the socket inside the run directory.
pub const SOCKET_NAME: &str = "heartbeat.sock";

/// The run directory when neither `--run-dir` nor [`RUN_DIR_ENV`] names one: the daemon's
/// pid file and control socket are there.
///
/// `/run/heartbeat`, not Heartbeat's historical `/var/run/heartbeat`: on Debian (and every
/// distribution with systemd) `/var/run` is a symbolic link to `/run`, so both name the same
/// directory, and `/run` is the name the FHS now gives it and the one that does not depend on
/// the link. The daemon and the tools share this one constant so they always meet.
pub const DEFAULT_RUN_DIR: &str = "/run/heartbeat";

/// The environment variable the operator tools read the run directory from when no
/// `--run-dir` is given (the daemon itself only takes `--run-dir`).
pub const RUN_DIR_ENV: &str = "HB_RUN_DIR";

/// The longest request line the daemon accepts, in bytes, its newline included.
pub const MAX_REQUEST: usize = 4096;

/// The longest reply line a client reads, in bytes (a status of a large cluster stays far
/// below it); the daemon refuses to send a longer one.
pub const MAX_REPLY: usize = 16 << 20;

/// The most connections the daemon serves at once. One more is answered at once with the
/// refusal [`ControlError::TooManyConnections`] and closed, so idle or stuck clients can hold
/// at most this many of the daemon's file descriptors: even at the open-files limit of a
/// systemd service (1024) nearly all of them stay free for agents and media. The operator
/// tools make one connection per command.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a client may take, after the daemon accepted its connection, to send its whole
/// request line. A connection still silent after it is answered with
/// [`ControlError::RequestTimeout`] and closed; the tools send their request at once.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the daemon tries to write a reply to a client that does not read it before it
/// closes the connection.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// The socket path inside `run_dir`.
#[must_use]
pub fn socket_path(run_dir: &Path) -> PathBuf {
    run_dir.join(SOCKET_NAME)
}

/// The run directory a client uses: `explicit` (`--run-dir`), else a non-empty
/// [`RUN_DIR_ENV`], else [`DEFAULT_RUN_DIR`].
#[must_use]
pub fn run_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| {
            std::env::var_os(RUN_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR))
}
