//! The one error type of the protocol.

use crate::{MAX_CONNECTIONS, MAX_REPLY, MAX_REQUEST, REQUEST_TIMEOUT, VERSION};

/// Why a request or a reply could not be encoded or decoded, or what the daemon refused.
///
/// The texts are what the daemon sends back in `"error"` for a bad request, and what the
/// tools print after `bad reply from heartbeat: ` for a bad reply.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// A request line that is not JSON.
    #[error("not JSON: {0}")]
    RequestNotJson(#[source] serde_json::Error),
    /// A request without a numeric `version`.
    #[error("missing \"version\"")]
    MissingVersion,
    /// A request of another protocol version.
    #[error("unsupported version {0} (this daemon speaks {VERSION})")]
    UnsupportedVersion(u64),
    /// A request without a `command`.
    #[error("missing \"command\"")]
    MissingCommand,
    /// A command this version does not know.
    #[error("unknown command {0:?}")]
    UnknownCommand(String),
    /// A `class` that is not `all`, `local`, `foreign` or `failback` (as JSON).
    #[error("bad class {0} (all, local, foreign or failback)")]
    BadClass(String),
    /// A `cleanup` `group` that is not a string.
    #[error("\"group\" must be a group key (a string)")]
    BadGroup,
    /// Any other mistake in a request's fields.
    #[error("bad request: {0}")]
    BadRequest(#[source] serde_json::Error),
    /// A request line longer than [`MAX_REQUEST`] (its length, newline included).
    #[error("request too long ({0} bytes, the limit is {MAX_REQUEST})")]
    RequestTooLong(usize),
    /// The daemon already serves [`MAX_CONNECTIONS`] connections: this one is refused at once.
    #[error(
        "too many connections to the control socket (at most {MAX_CONNECTIONS} at once); try again"
    )]
    TooManyConnections,
    /// No complete request line within [`REQUEST_TIMEOUT`] of the connection.
    #[error("no request within {} ms", REQUEST_TIMEOUT.as_millis())]
    RequestTimeout,
    /// A request only root (or the daemon's own user) may make, from another user, such as a
    /// `control_group` member: the command's name.
    #[error("permission denied: {0} is for root only")]
    NotPermitted(&'static str),
    /// A reply line longer than [`MAX_REPLY`].
    #[error("reply longer than {MAX_REPLY} bytes")]
    ReplyTooLong,
    /// The daemon closed the connection before sending a line.
    #[error("the daemon closed the connection without replying")]
    NoReply,
    /// A reply that is not UTF-8.
    #[error("the reply is not UTF-8")]
    ReplyNotUtf8,
    /// A reply that is not JSON, with its start.
    #[error("not JSON ({error}): {excerpt}")]
    ReplyNotJson {
        /// The parser's complaint.
        #[source]
        error: serde_json::Error,
        /// The first characters of the reply.
        excerpt: String,
    },
    /// A reply that is JSON but not an object, with its start.
    #[error("not a JSON object: {0}")]
    ReplyNotObject(String),
    /// A reply of another protocol version (the `version` value as sent).
    #[error("protocol version {0} (these tools speak {VERSION})")]
    ReplyVersion(String),
    /// A reply without a boolean `ok`, with its start.
    #[error("no boolean \"ok\": {0}")]
    ReplyNoOk(String),
    /// A reply whose fields do not fit the command's reply type.
    #[error("{what}: {error}")]
    ReplyBody {
        /// Which reply ([`ReplyBody::WHAT`](crate::ReplyBody::WHAT)).
        what: &'static str,
        /// The decoder's complaint.
        #[source]
        error: serde_json::Error,
    },
    /// The daemon answered `"ok": false`: its `error` text (or a stand-in if it gave none).
    #[error("{0}")]
    Refused(String),
    /// A value could not be encoded (never happens with this crate's types).
    #[error("cannot encode: {0}")]
    Encode(#[source] serde_json::Error),
}
