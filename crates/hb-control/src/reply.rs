//! Replies: `{"version":1,"ok":true}` plus the command's fields, or
//! `{"version":1,"ok":false,"error":"..."}`, on one line.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ControlError, MAX_REPLY, Status, VERSION};

/// A reply as it travels: the version, `ok`, the `error` of a refusal, and the command's
/// fields (`body`) at the same level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reply<T> {
    /// The protocol version, [`VERSION`].
    pub version: u32,
    /// Whether the request was carried out.
    pub ok: bool,
    /// Why it was refused, for a person (only with `ok: false`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The command's fields.
    #[serde(flatten)]
    pub body: T,
}

impl<T> Reply<T> {
    /// A successful reply carrying `body`.
    pub fn ok(body: T) -> Reply<T> {
        Reply {
            version: VERSION,
            ok: true,
            error: None,
            body,
        }
    }
}

/// The body of a reply without fields (`standby`, `takeover`, `shutdown`, refusals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The body of the `cleanup` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CleanupReply {
    /// The keys of the groups that had failures to clear (missing or `null`: none).
    #[serde(default, deserialize_with = "cleared")]
    pub cleared: Vec<String>,
}

fn cleared<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(Option::<Vec<String>>::deserialize(d)?.unwrap_or_default())
}

/// A reply body a client can ask [`decode_reply`] for.
pub trait ReplyBody: DeserializeOwned {
    /// What it is called in an error message (`status object: ...`).
    const WHAT: &'static str;
}

impl ReplyBody for Status {
    const WHAT: &'static str = "status object";
}

impl ReplyBody for CleanupReply {
    const WHAT: &'static str = "cleanup reply";
}

impl ReplyBody for Empty {
    const WHAT: &'static str = "reply";
}

/// Every reply the daemon sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Response {
    /// `{"ok":true}`: done, or (`standby`, `takeover`) the request went out.
    Done,
    /// The `cleanup` reply: the groups whose failures were cleared.
    Cleared(Vec<String>),
    /// The `status` reply.
    Status(Box<Status>),
    /// `{"ok":false,"error":...}`: refused, with the reason for a person.
    Refused(String),
}

impl Response {
    /// The reply as a JSON value.
    ///
    /// # Errors
    /// [`ControlError::Encode`] (never with these types).
    pub fn to_value(&self) -> Result<Value, ControlError> {
        let value = match self {
            Response::Done => serde_json::to_value(Reply::ok(Empty {})),
            Response::Cleared(keys) => serde_json::to_value(Reply::ok(CleanupReply {
                cleared: keys.clone(),
            })),
            Response::Status(status) => serde_json::to_value(Reply::ok(status)),
            Response::Refused(why) => serde_json::to_value(Reply {
                version: VERSION,
                ok: false,
                error: Some(why.clone()),
                body: Empty {},
            }),
        };
        value.map_err(ControlError::Encode)
    }

    /// The reply line, newline included.
    ///
    /// # Errors
    /// [`ControlError::ReplyTooLong`] above [`MAX_REPLY`]: no client would read it.
    pub fn encode(&self) -> Result<String, ControlError> {
        let mut line = self.to_value()?.to_string();
        line.push('\n');
        if line.len() > MAX_REPLY {
            return Err(ControlError::ReplyTooLong);
        }
        Ok(line)
    }
}

/// Checks one reply line (without its newline): a JSON object, of version 1 (or without a
/// version), with a boolean `ok`. Returns the object of a successful reply.
///
/// # Errors
/// [`ControlError::ReplyTooLong`], [`ControlError::ReplyNotUtf8`],
/// [`ControlError::ReplyNotJson`], [`ControlError::ReplyNotObject`],
/// [`ControlError::ReplyVersion`], [`ControlError::ReplyNoOk`]; and
/// [`ControlError::Refused`] with the daemon's reason for `"ok": false`.
pub fn decode_reply_value(line: &[u8]) -> Result<Value, ControlError> {
    if line.len() > MAX_REPLY {
        return Err(ControlError::ReplyTooLong);
    }
    let text = std::str::from_utf8(line).map_err(|_| ControlError::ReplyNotUtf8)?;
    let value: Value =
        serde_json::from_str(text.trim()).map_err(|error| ControlError::ReplyNotJson {
            error,
            excerpt: excerpt(text),
        })?;
    let Some(obj) = value.as_object() else {
        return Err(ControlError::ReplyNotObject(excerpt(text)));
    };
    match obj.get("version") {
        None => {}
        Some(v) if v.as_u64() == Some(u64::from(VERSION)) => {}
        Some(v) => return Err(ControlError::ReplyVersion(v.to_string())),
    }
    match obj.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(value),
        Some(false) => Err(ControlError::Refused(
            obj.get("error")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("the daemon refused the request without saying why")
                .to_owned(),
        )),
        None => Err(ControlError::ReplyNoOk(excerpt(text))),
    }
}

/// Checks one reply line (see [`decode_reply_value`]) and reads the command's fields.
///
/// # Errors
/// Those of [`decode_reply_value`], and [`ControlError::ReplyBody`] when the fields do not
/// fit `T`.
pub fn decode_reply<T: ReplyBody>(line: &[u8]) -> Result<T, ControlError> {
    let value = decode_reply_value(line)?;
    T::deserialize(value).map_err(|error| ControlError::ReplyBody {
        what: T::WHAT,
        error,
    })
}

/// The start of a reply, for error messages.
fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(line: &[u8]) -> ControlError {
        decode_reply_value(line).unwrap_err()
    }

    #[test]
    fn replies_encode_as_documented() {
        let v = |r: Response| r.to_value().unwrap();
        assert_eq!(
            v(Response::Done),
            serde_json::json!({"version": 1, "ok": true})
        );
        assert_eq!(
            v(Response::Refused("no stable peer".into())),
            serde_json::json!({"version": 1, "ok": false, "error": "no stable peer"})
        );
        assert_eq!(
            v(Response::Cleared(vec!["g".into()])),
            serde_json::json!({"version": 1, "ok": true, "cleared": ["g"]})
        );
        let line = Response::Done.encode().unwrap();
        assert_eq!(line, "{\"ok\":true,\"version\":1}\n");
    }

    #[test]
    fn replies_are_checked() {
        assert!(decode_reply_value(br#"{"version":1,"ok":true}"#).is_ok());
        assert!(decode_reply_value(br#"{"ok":true,"extra":[1,2]}"#).is_ok());
        assert_eq!(
            bad(br#"{"version":1,"ok":false,"error":"no stable peer"}"#).to_string(),
            "no stable peer"
        );
        assert!(
            bad(br#"{"version":1,"ok":false}"#)
                .to_string()
                .contains("without saying why")
        );
        assert_eq!(
            bad(br#"{"version":2,"ok":true}"#).to_string(),
            "protocol version 2 (these tools speak 1)"
        );
        assert!(bad(b"garbage").to_string().starts_with("not JSON ("));
        assert!(matches!(
            bad(br#"{"version":1}"#),
            ControlError::ReplyNoOk(_)
        ));
        assert!(matches!(bad(b"[1,2]"), ControlError::ReplyNotObject(_)));
        assert!(matches!(bad(b"\xff\xfe"), ControlError::ReplyNotUtf8));
        let long = format!("\"{}\"", "x".repeat(200));
        assert!(bad(long.as_bytes()).to_string().ends_with("xxx..."));
    }

    #[test]
    fn bodies_are_typed() {
        let c: CleanupReply =
            decode_reply(br#"{"version":1,"ok":true,"cleared":["a","b"]}"#).unwrap();
        assert_eq!(c.cleared, ["a", "b"]);
        let c: CleanupReply = decode_reply(br#"{"version":1,"ok":true}"#).unwrap();
        assert!(c.cleared.is_empty());
        let e = decode_reply::<CleanupReply>(br#"{"version":1,"ok":true,"cleared":[1]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cleanup reply: "), "{e}");
        let e = decode_reply::<Status>(br#"{"version":1,"ok":true,"nodes":3}"#)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("status object: "), "{e}");
    }

    #[test]
    fn a_status_reply_round_trips() {
        let status = Status {
            node: Some("node1".into()),
            ..Status::default()
        };
        let line = Response::Status(Box::new(status.clone())).encode().unwrap();
        let back: Status = decode_reply(line.trim_end().as_bytes()).unwrap();
        assert_eq!(back, status);
        let whole: Reply<Status> = serde_json::from_str(&line).unwrap();
        assert_eq!(
            (whole.version, whole.ok, whole.body),
            (VERSION, true, status)
        );
    }
}
