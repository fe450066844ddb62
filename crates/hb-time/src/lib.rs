//! hb-time: how heartbeat-rs reads and writes times.
//!
//! * **One duration grammar** ([`parse_duration`]): a decimal number with an optional unit.
//!   The places that read durations do not all accept the same inputs (`ha.cf` rejects `2s`
//!   like Heartbeat, agent parameters accept it; `ha.cf` rounds to whole milliseconds, agent
//!   parameters keep nanoseconds...), so the differences are explicit options of that one
//!   parser, a [`Dialect`], with one preset per kind of input: [`Dialect::HA_CF`],
//!   [`Dialect::HA_CF_LENIENT`], [`Dialect::PARAMETER`], [`Dialect::SECONDS`] and
//!   [`Dialect::OCF`].
//! * **One duration formatter** ([`format_millis`]): whole milliseconds, `1500ms` as a value
//!   that parses back, or `1500 ms` in prose.
//! * **Wall-clock stamps**: UTC RFC 3339 with milliseconds for log lines and state files
//!   ([`rfc3339_millis`], `2026-11-24T13:45:01.123Z`) and Heartbeat's `cl_log` local-time
//!   stamp ([`cl_log_stamp`], `Nov 24 13:45:35`). The calendar and time-zone work (`TZ`,
//!   `/etc/localtime`) is jiff's.
//!
//! This crate is pure computation: it must never depend on tokio, open sockets or start
//! processes, so that every other crate can use it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod clock;
mod dialect;
mod format;
mod parse;

pub use clock::{cl_log_line, cl_log_stamp, rfc3339_millis, rfc3339_millis_now};
pub use dialect::{Dialect, Rounding, Scale, Unit, Wording};
pub use format::{MillisStyle, format_millis};
pub use parse::{DurationError, ErrorKind, parse_duration};

#[cfg(test)]
mod tests;
