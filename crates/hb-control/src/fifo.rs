//! Heartbeat's command FIFO, `<state dir>/fifo`: the second way, besides the control socket,
//! for a local operator to ask for a standby or a takeover.
//!
//! Heartbeat 3.0.6's shell tools (`/usr/share/heartbeat/hb_standby` and `hb_takeover`, through
//! `ha_clustermsg` of `/etc/ha.d/shellfuncs`) append one classic text message to the FIFO:
//! `>>>\n`, `name=value` lines, `<<<\n`. `hb_standby CLASS` writes `t=ask_resources
//! rsc_hold=CLASS info=me` (it sends `failback` as `foreign` itself), `hb_takeover CLASS`
//! writes `t=hb_takeover rsc_hold=CLASS`.
//!
//! This module is the pure half of reading it, with no I/O and no clock: [`FifoReader`] takes
//! the bytes in whatever chunks the pipe gives them, finds the messages line by line, parses
//! each with hb-proto's classic parser and turns it into the control [`Request`] the operator
//! tools would send ([`fifo_request`]). Everything is bounded: a message over
//! [`MAX_FIFO_MESSAGE`] bytes is dropped and the reader resynchronises on the next `>>>` line;
//! at most a few dozen bytes of a line outside a message are kept. Its warnings come out as
//! values, at most one per kind of problem every [`FIFO_WARN_INTERVAL`] of the caller's
//! clock. The daemon's I/O task (hb-daemon `fifo.rs`) feeds it and logs them.
//!
//! Heartbeat forwarded any message written into the FIFO to the cluster as if this node had
//! sent it. heartbeat-rs honours only the two requests above and ignores every other type with
//! a warning (once per type): the FIFO is a local input for the operator's tools, not a way to
//! inject cluster messages.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hb_proto::{DecodeError, Message, Value};

use crate::{Request, RequestClass};

/// The FIFO's name in the daemon's state directory (Heartbeat's `/var/lib/heartbeat/fifo`
/// with the default state directory).
pub const FIFO_NAME: &str = "fifo";

/// The longest message read from the FIFO, in bytes, its `>>>\n` and `<<<\n` lines included.
///
/// `PIPE_BUF`: longer writes are not atomic, so two writers could interleave them anyway.
/// Heartbeat's tools write well under 100 bytes.
pub const MAX_FIFO_MESSAGE: usize = 4096;

/// At most one warning of each kind of problem is given per interval (the others are
/// counted and the count reported with the next one), the same rate as the daemon's warnings
/// about rejected datagrams.
pub const FIFO_WARN_INTERVAL: Duration = Duration::from_secs(5);

/// How many characters of a line or value a warning quotes.
const QUOTED_CHARS: usize = 64;

/// How many bytes of a line outside a message are kept to quote it.
const KEPT_LINE_BYTES: usize = 4 * QUOTED_CHARS;

/// How many unsupported message types are remembered, each warned about once; past that, new
/// ones are warned about within the rate limit.
const MAX_UNSUPPORTED_TYPES: usize = 32;

const START: &[u8] = b">>>\n";
const END: &[u8] = b"<<<\n";

/// The FIFO's path in the state directory `state_dir`.
#[must_use]
pub fn fifo_path(state_dir: &Path) -> PathBuf {
    state_dir.join(FIFO_NAME)
}

/// Why a well-formed FIFO message is not acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FifoRefusal {
    /// No `t` field.
    #[error("a message without a type (no t= field): ignored")]
    MissingType,
    /// A type other than `ask_resources` and `hb_takeover`.
    #[error(
        "message type {0} is not supported from the FIFO (only ask_resources, from hb_standby, \
         and hb_takeover are): ignored"
    )]
    Unsupported(String),
    /// `ask_resources` without `info=me`: the other steps of Heartbeat's standby exchange are
    /// for the cluster, not for a local operator.
    #[error(
        "ask_resources with {0} instead of info=me (only hb_standby's request is honoured): ignored"
    )]
    NotMe(String),
    /// An `rsc_hold` that is not a class.
    #[error("{kind} with rsc_hold={class}: not all, local, foreign or failback: ignored")]
    BadClass {
        /// The message type.
        kind: &'static str,
        /// The value, quoted.
        class: String,
    },
}

/// The request a message read from the FIFO asks for.
///
/// * `t=ask_resources`, `info=me` (any case, as Heartbeat compares it): [`Request::Standby`],
///   what `hb_standby` asks for on the control socket.
/// * `t=hb_takeover`: [`Request::Takeover`], what `hb_takeover` asks for.
///
/// `rsc_hold` is read as our own tools read it: for `ask_resources` with
/// [`RequestClass::parse`] (`failback` is `foreign`), for `hb_takeover` with
/// [`RequestClass::parse_takeover`] (Debian's `hb_takeover failback` writes
/// `rsc_hold=failback`, which Heartbeat's peer treats as `all`); a message without `rsc_hold`
/// means `all`, as in Heartbeat. Only the first field of each name counts.
///
/// # Errors
/// [`FifoRefusal`] for any other message.
pub fn fifo_request(msg: &Message) -> Result<Request, FifoRefusal> {
    let kind = msg.get("t").ok_or(FifoRefusal::MissingType)?;
    match value_bytes(kind) {
        b"ask_resources" => {
            match msg.get("info") {
                Some(v) if value_bytes(v).eq_ignore_ascii_case(b"me") => {}
                Some(v) => {
                    return Err(FifoRefusal::NotMe(format!(
                        "info={}",
                        quote(value_bytes(v))
                    )));
                }
                None => return Err(FifoRefusal::NotMe("no info field".to_owned())),
            }
            Ok(Request::Standby {
                class: class(msg, "ask_resources")?,
            })
        }
        b"hb_takeover" => Ok(Request::Takeover {
            class: class(msg, "hb_takeover")?,
        }),
        other => Err(FifoRefusal::Unsupported(quote(other))),
    }
}

/// The bytes of a string, binary or compressed value; nothing for a nested message or a list.
fn value_bytes(v: &Value) -> &[u8] {
    v.as_bytes().unwrap_or_default()
}

fn class(msg: &Message, kind: &'static str) -> Result<RequestClass, FifoRefusal> {
    let Some(v) = msg.get("rsc_hold") else {
        return Ok(RequestClass::All);
    };
    let bytes = value_bytes(v);
    let parse = if kind == "hb_takeover" {
        RequestClass::parse_takeover
    } else {
        RequestClass::parse
    };
    std::str::from_utf8(bytes)
        .ok()
        .and_then(parse)
        .ok_or_else(|| FifoRefusal::BadClass {
            kind,
            class: quote(bytes),
        })
}

/// `bytes` for a log line: quoted, control characters escaped (no forged log lines), at most
/// [`QUOTED_CHARS`] characters.
fn quote(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut shown: String = text.chars().take(QUOTED_CHARS).collect();
    let cut = shown.len() < text.len();
    shown = format!("{shown:?}");
    if cut {
        shown.push_str("...");
    }
    shown
}

/// Something wrong in what was read from the FIFO.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FifoProblem {
    /// A line outside any message (messages start with a line `>>>`); blank lines between
    /// messages are fine.
    Garbage {
        /// The line, quoted (without its newline).
        line: String,
    },
    /// A message longer than [`MAX_FIFO_MESSAGE`]: dropped.
    Oversized,
    /// A message cut off by the `>>>` line of the next one: dropped.
    Cut,
    /// A message hb-proto's classic parser rejected: dropped.
    Malformed(DecodeError),
    /// A well-formed message that asks for nothing the FIFO honours.
    Refused(FifoRefusal),
}

impl FifoProblem {
    /// The rate limiter's slot for this kind of problem.
    fn slot(&self) -> usize {
        match self {
            FifoProblem::Garbage { .. } => 0,
            FifoProblem::Oversized => 1,
            FifoProblem::Cut => 2,
            FifoProblem::Malformed(_) => 3,
            FifoProblem::Refused(_) => 4,
        }
    }
}

const SLOTS: usize = 5;

impl fmt::Display for FifoProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FifoProblem::Garbage { line } => write!(
                f,
                "skipped a line outside a message (one starts with a line \">>>\"): {line}"
            ),
            FifoProblem::Oversized => write!(
                f,
                "dropped a message longer than {MAX_FIFO_MESSAGE} bytes; reading on from the \
                 next one"
            ),
            FifoProblem::Cut => f.write_str(
                "dropped a message cut off by the start of the next one (it has no \"<<<\" line)",
            ),
            FifoProblem::Malformed(e) => write!(f, "dropped a malformed message: {e}"),
            FifoProblem::Refused(r) => r.fmt(f),
        }
    }
}

/// A warning to log, already rate-limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FifoWarning {
    /// What is wrong.
    pub problem: FifoProblem,
    /// How many problems of the same kind were not reported since the last warning of this
    /// kind.
    pub suppressed: u64,
}

impl fmt::Display for FifoWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.problem.fmt(f)?;
        if self.suppressed > 0 {
            write!(f, " ({} more like it suppressed)", self.suppressed)?;
        }
        Ok(())
    }
}

/// What the reader found in the bytes it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoEvent {
    /// A request to act on as if an operator tool had sent it on the control socket:
    /// [`Request::Standby`] or [`Request::Takeover`].
    Request(Request),
    /// A warning to log.
    Warning(FifoWarning),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between messages: waiting for a `>>>` line.
    Between,
    /// Inside a message: its bytes so far are in `FifoReader::msg`.
    Message,
    /// Skipping the rest of an oversized message, up to its `<<<` line or the next `>>>`.
    Dropping,
}

/// Finds, parses and maps the messages written into the FIFO (see the module's
/// documentation). Feeding the same bytes in different chunks gives the same events.
#[derive(Debug)]
pub struct FifoReader {
    state: State,
    /// The message so far, from its `>>>\n` (at most [`MAX_FIFO_MESSAGE`] bytes, plus up to
    /// four while a line could still be `>>>\n`).
    msg: Vec<u8>,
    /// The first [`KEPT_LINE_BYTES`] bytes of the current line.
    line: Vec<u8>,
    /// The current line's length so far.
    line_len: usize,
    /// Per kind of problem: when it was last reported and how many were suppressed since.
    reported: [Option<(Duration, u64)>; SLOTS],
    /// Unsupported message types already warned about.
    unsupported: BTreeSet<String>,
}

impl Default for FifoReader {
    fn default() -> Self {
        Self::new()
    }
}

impl FifoReader {
    /// A reader between messages.
    #[must_use]
    pub fn new() -> FifoReader {
        FifoReader {
            state: State::Between,
            msg: Vec::new(),
            line: Vec::new(),
            line_len: 0,
            reported: [None; SLOTS],
            unsupported: BTreeSet::new(),
        }
    }

    /// Reads `bytes`, the next bytes out of the FIFO; `now` is the caller's monotonic clock
    /// (any origin), used only to rate-limit warnings. Returns what they completed, in order.
    pub fn push(&mut self, now: Duration, bytes: &[u8]) -> Vec<FifoEvent> {
        let mut events = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (piece, after, complete) = match rest.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    let (piece, after) = rest.split_at(i + 1);
                    (piece, after, true)
                }
                None => (rest, &[][..], false),
            };
            self.piece(now, piece, complete, &mut events);
            rest = after;
        }
        events
    }

    /// A piece of the current line: all of the rest of it, its newline included, when
    /// `complete`.
    fn piece(&mut self, now: Duration, piece: &[u8], complete: bool, out: &mut Vec<FifoEvent>) {
        let room = KEPT_LINE_BYTES.saturating_sub(self.line.len());
        self.line
            .extend_from_slice(piece.get(..room.min(piece.len())).unwrap_or_default());
        self.line_len += piece.len();
        if self.state == State::Message {
            self.msg.extend_from_slice(piece);
            // A line that may still turn out to be ">>>" may go over: it would start the next
            // message rather than extend this one.
            if self.msg.len() > MAX_FIFO_MESSAGE && !self.may_be(START) {
                self.msg = Vec::new();
                self.state = State::Dropping;
                self.warn(now, FifoProblem::Oversized, out);
            }
        }
        if !complete {
            return;
        }
        let start = self.is(START);
        let end = self.is(END);
        match self.state {
            State::Between if start => self.begin(),
            State::Between if self.line_len == 1 => {}
            State::Between => {
                let text = self.line.strip_suffix(b"\n").unwrap_or(&self.line);
                let mut line = quote(text);
                if self.line_len > KEPT_LINE_BYTES && !line.ends_with("...") {
                    line.push_str("...");
                }
                self.warn(now, FifoProblem::Garbage { line }, out);
            }
            State::Message if start => {
                self.warn(now, FifoProblem::Cut, out);
                self.begin();
            }
            State::Message if end => {
                let msg = std::mem::take(&mut self.msg);
                self.state = State::Between;
                self.finish(now, &msg, out);
            }
            State::Message => {}
            State::Dropping if start => self.begin(),
            State::Dropping if end => self.state = State::Between,
            State::Dropping => {}
        }
        self.line.clear();
        self.line_len = 0;
    }

    /// Whether the current (complete) line is `marker`.
    fn is(&self, marker: &[u8]) -> bool {
        self.line_len == marker.len() && self.line == marker
    }

    /// Whether the current line, as far as it has come, could still be `marker`.
    fn may_be(&self, marker: &[u8]) -> bool {
        self.line_len <= marker.len() && marker.starts_with(&self.line)
    }

    fn begin(&mut self) {
        self.state = State::Message;
        self.msg = START.to_vec();
    }

    /// A complete message, `>>>\n` to `<<<\n`.
    fn finish(&mut self, now: Duration, msg: &[u8], out: &mut Vec<FifoEvent>) {
        let parsed = match hb_proto::decode(msg) {
            Ok(d) => d.msg,
            Err(e) => return self.warn(now, FifoProblem::Malformed(e), out),
        };
        match fifo_request(&parsed) {
            Ok(request) => out.push(FifoEvent::Request(request)),
            Err(FifoRefusal::Unsupported(kind)) if self.unsupported.contains(&kind) => {}
            Err(FifoRefusal::Unsupported(kind))
                if self.unsupported.len() < MAX_UNSUPPORTED_TYPES =>
            {
                self.unsupported.insert(kind.clone());
                out.push(FifoEvent::Warning(FifoWarning {
                    problem: FifoProblem::Refused(FifoRefusal::Unsupported(kind)),
                    suppressed: 0,
                }));
            }
            Err(refusal) => self.warn(now, FifoProblem::Refused(refusal), out),
        }
    }

    /// Reports `problem` unless one of its kind was reported less than
    /// [`FIFO_WARN_INTERVAL`] ago (then it is only counted).
    fn warn(&mut self, now: Duration, problem: FifoProblem, out: &mut Vec<FifoEvent>) {
        let Some(slot) = self.reported.get_mut(problem.slot()) else {
            return;
        };
        let suppressed = match slot {
            Some((last, count)) if now.saturating_sub(*last) < FIFO_WARN_INTERVAL => {
                *count += 1;
                return;
            }
            Some((_, count)) => *count,
            None => 0,
        };
        *slot = Some((now, 0));
        out.push(FifoEvent::Warning(FifoWarning {
            problem,
            suppressed,
        }));
    }
}

#[cfg(test)]
mod tests;
