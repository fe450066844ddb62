//! Requests: `{"version":1,"command":"..."}` plus the command's fields, on one line.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::{ControlError, MAX_REQUEST, VERSION};

/// A class of resource groups for `standby` and `takeover`, from the point of view of the
/// node that receives the request (as with Heartbeat's `hb_standby`).
///
/// Three values, not hb-core's four: "no group" is a state (`rscstatus none`), not something
/// to ask for. `failback`, Heartbeat's alias of `foreign` for `hb_standby`, is read as
/// [`Foreign`](Self::Foreign) and sent as `foreign`; for `hb_takeover` it means `all` (see
/// [`RequestClass::parse_takeover`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestClass {
    /// Every group (the default).
    #[default]
    All,
    /// The groups that prefer the receiving node.
    Local,
    /// The groups that prefer the peer.
    #[serde(alias = "failback")]
    Foreign,
}

impl RequestClass {
    /// Reads a class word as Heartbeat's tools take it: `all`, `local`, `foreign`, or
    /// `failback` (= `foreign`); anything else (other cases included) is `None`.
    #[must_use]
    pub fn parse(word: &str) -> Option<RequestClass> {
        match word {
            "all" => Some(RequestClass::All),
            "local" => Some(RequestClass::Local),
            "foreign" | "failback" => Some(RequestClass::Foreign),
            _ => None,
        }
    }

    /// Reads a class word for `hb_takeover`: as [`parse`](Self::parse), except that
    /// `failback` means `all`. Heartbeat 3.0.6's `hb_takeover failback` sends
    /// `rsc_hold=failback`, which the peer's `rc.d/hb_takeover` maps to nothing, so it goes
    /// standby for `all`: the requesting node ends up holding every group.
    #[must_use]
    pub fn parse_takeover(word: &str) -> Option<RequestClass> {
        match word {
            "failback" => Some(RequestClass::All),
            other => RequestClass::parse(other),
        }
    }

    /// The word sent on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::All => "all",
            RequestClass::Local => "local",
            RequestClass::Foreign => "foreign",
        }
    }
}

impl fmt::Display for RequestClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One request, tagged by its `"command"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum Request {
    /// `status`: the [`Status`](crate::Status) object.
    Status,
    /// `standby`: give up the groups of `class`.
    Standby {
        /// Which groups (`all` when missing or `null`).
        #[serde(default, deserialize_with = "class_or_all")]
        class: RequestClass,
    },
    /// `takeover`: take over the groups of `class`.
    Takeover {
        /// Which groups (`all` when missing or `null`).
        #[serde(default, deserialize_with = "class_or_all")]
        class: RequestClass,
    },
    /// `cleanup`: forget the failures recorded on the receiving node for one group, or for
    /// every group when `group` is `None` (missing or `null` on the wire).
    Cleanup {
        /// The group's key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<String>,
    },
    /// `shutdown`: a graceful stop.
    Shutdown,
}

impl Request {
    /// The request's `command` word.
    #[must_use]
    pub fn command(&self) -> &'static str {
        match self {
            Request::Status => "status",
            Request::Standby { .. } => "standby",
            Request::Takeover { .. } => "takeover",
            Request::Cleanup { .. } => "cleanup",
            Request::Shutdown => "shutdown",
        }
    }

    /// Whether only root (or the user the daemon runs as) may make this request: `shutdown`.
    /// Members of ha.cf's `control_group`, the other users the socket's mode lets in, may
    /// make the requests of the operator tools: `status`, `standby`, `takeover` and
    /// `cleanup`. The daemon checks the peer's credentials (`SO_PEERCRED`) against this and
    /// refuses with [`ControlError::NotPermitted`].
    #[must_use]
    pub fn root_only(&self) -> bool {
        match self {
            Request::Status
            | Request::Standby { .. }
            | Request::Takeover { .. }
            | Request::Cleanup { .. } => false,
            Request::Shutdown => true,
        }
    }
}

/// The commands this version knows.
const COMMANDS: &[&str] = &["status", "standby", "takeover", "cleanup", "shutdown"];

fn class_or_all<'de, D: Deserializer<'de>>(d: D) -> Result<RequestClass, D::Error> {
    Ok(Option::<RequestClass>::deserialize(d)?.unwrap_or_default())
}

/// A request with its version, as it travels.
#[derive(Serialize)]
struct Envelope<'a> {
    version: u32,
    #[serde(flatten)]
    request: &'a Request,
}

/// The line for `request`, newline included.
///
/// # Errors
/// [`ControlError::RequestTooLong`] when it exceeds [`MAX_REQUEST`] (e.g. a very long group
/// key): the daemon would not read it.
pub fn encode_request(request: &Request) -> Result<String, ControlError> {
    let mut line = serde_json::to_string(&Envelope {
        version: VERSION,
        request,
    })
    .map_err(ControlError::Encode)?;
    line.push('\n');
    if line.len() > MAX_REQUEST {
        return Err(ControlError::RequestTooLong(line.len()));
    }
    Ok(line)
}

/// Reads one request line (surrounding blanks and the newline are ignored).
///
/// The version is checked first, then the command, then its fields, so that the error names
/// the first thing wrong.
///
/// # Errors
/// [`ControlError::RequestTooLong`], [`ControlError::RequestNotJson`],
/// [`ControlError::MissingVersion`], [`ControlError::UnsupportedVersion`],
/// [`ControlError::MissingCommand`], [`ControlError::UnknownCommand`],
/// [`ControlError::BadClass`], [`ControlError::BadGroup`] or [`ControlError::BadRequest`].
pub fn decode_request(line: &str) -> Result<Request, ControlError> {
    if line.len() > MAX_REQUEST {
        return Err(ControlError::RequestTooLong(line.len()));
    }
    let v: Value = serde_json::from_str(line.trim()).map_err(ControlError::RequestNotJson)?;
    match v.get("version").and_then(Value::as_u64) {
        Some(n) if n == u64::from(VERSION) => {}
        Some(other) => return Err(ControlError::UnsupportedVersion(other)),
        None => return Err(ControlError::MissingVersion),
    }
    let command = v
        .get("command")
        .and_then(Value::as_str)
        .ok_or(ControlError::MissingCommand)?;
    if !COMMANDS.contains(&command) {
        return Err(ControlError::UnknownCommand(command.to_owned()));
    }
    let class = match command {
        "standby" | "takeover" => v.get("class"),
        _ => None,
    };
    match class {
        None | Some(Value::Null) => {}
        Some(Value::String(c)) if RequestClass::parse(c).is_some() => {}
        Some(Value::String(c)) => return Err(ControlError::BadClass(format!("{c:?}"))),
        Some(other) => return Err(ControlError::BadClass(other.to_string())),
    }
    if command == "cleanup"
        && !matches!(v.get("group"), None | Some(Value::Null | Value::String(_)))
    {
        return Err(ControlError::BadGroup);
    }
    if command == "takeover"
        && let Some(class) = class
            .and_then(Value::as_str)
            .and_then(RequestClass::parse_takeover)
    {
        return Ok(Request::Takeover { class });
    }
    serde_json::from_value(v).map_err(ControlError::BadRequest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(line: &str) -> String {
        decode_request(line).unwrap_err().to_string()
    }

    #[test]
    fn requests_encode_as_documented() {
        let line = |r: Request| encode_request(&r).unwrap();
        assert_eq!(
            line(Request::Status),
            "{\"version\":1,\"command\":\"status\"}\n"
        );
        assert_eq!(
            line(Request::Standby {
                class: RequestClass::Foreign
            }),
            "{\"version\":1,\"command\":\"standby\",\"class\":\"foreign\"}\n"
        );
        assert_eq!(
            line(Request::Cleanup { group: None }),
            "{\"version\":1,\"command\":\"cleanup\"}\n"
        );
        assert_eq!(
            line(Request::Cleanup {
                group: Some("g".into())
            }),
            "{\"version\":1,\"command\":\"cleanup\",\"group\":\"g\"}\n"
        );
        let long = Request::Cleanup {
            group: Some("x".repeat(MAX_REQUEST)),
        };
        assert!(matches!(
            encode_request(&long),
            Err(ControlError::RequestTooLong(_))
        ));
    }

    #[test]
    fn requests_decode_with_their_version_and_class() {
        for r in [
            Request::Status,
            Request::Shutdown,
            Request::Takeover {
                class: RequestClass::Local,
            },
            Request::Cleanup { group: None },
            Request::Cleanup {
                group: Some("IPaddr::192.0.2.100".into()),
            },
        ] {
            assert_eq!(decode_request(&encode_request(&r).unwrap()).unwrap(), r);
        }
        assert_eq!(
            decode_request(r#"{"version":1,"command":"standby","class":"failback"}"#).unwrap(),
            Request::Standby {
                class: RequestClass::Foreign
            }
        );
        assert_eq!(
            decode_request(r#"{"version":1,"command":"takeover","class":null}"#).unwrap(),
            Request::Takeover {
                class: RequestClass::All
            }
        );
        assert_eq!(
            decode_request(r#"{"version":1,"command":"status","class":5}"#).unwrap(),
            Request::Status
        );
        assert_eq!(
            decode_request(r#"{"version":1,"command":"cleanup","group":null}"#).unwrap(),
            Request::Cleanup { group: None }
        );
    }

    #[test]
    fn bad_requests_say_what_is_wrong() {
        assert_eq!(
            err(r#"{"version":2,"command":"status"}"#),
            "unsupported version 2 (this daemon speaks 1)"
        );
        assert_eq!(err(r#"{"command":"status"}"#), "missing \"version\"");
        assert_eq!(err(r#"[1]"#), "missing \"version\"");
        assert_eq!(err(r#"{"version":1}"#), "missing \"command\"");
        assert_eq!(
            err(r#"{"version":1,"command":"reboot"}"#),
            "unknown command \"reboot\""
        );
        assert!(err("status").starts_with("not JSON"));
        assert_eq!(
            err(r#"{"version":1,"command":"standby","class":"ALL"}"#),
            "bad class \"ALL\" (all, local, foreign or failback)"
        );
        assert_eq!(
            err(r#"{"version":1,"command":"standby","class":"none"}"#),
            "bad class \"none\" (all, local, foreign or failback)"
        );
        assert_eq!(
            err(r#"{"version":1,"command":"standby","class":3}"#),
            "bad class 3 (all, local, foreign or failback)"
        );
        assert_eq!(
            err(r#"{"version":1,"command":"cleanup","group":3}"#),
            "\"group\" must be a group key (a string)"
        );
        let long = format!(
            "{{\"version\":1,\"command\":\"status\",\"x\":\"{}\"}}",
            "y".repeat(MAX_REQUEST)
        );
        assert!(err(&long).starts_with("request too long"));
    }

    #[test]
    fn only_shutdown_is_for_root_and_command_words_match_the_wire() {
        let all = [
            Request::Status,
            Request::Standby {
                class: RequestClass::Local,
            },
            Request::Takeover {
                class: RequestClass::All,
            },
            Request::Cleanup { group: None },
            Request::Shutdown,
        ];
        for r in &all {
            let line = encode_request(r).unwrap();
            assert!(
                line.contains(&format!("\"command\":\"{}\"", r.command())),
                "{line}"
            );
        }
        let root_only: Vec<_> = all
            .iter()
            .filter(|r| r.root_only())
            .map(Request::command)
            .collect();
        assert_eq!(root_only, ["shutdown"]);
        assert_eq!(
            ControlError::NotPermitted("shutdown").to_string(),
            "permission denied: shutdown is for root only"
        );
    }

    #[test]
    fn classes_parse_like_heartbeat() {
        assert_eq!(RequestClass::parse("failback"), Some(RequestClass::Foreign));
        assert_eq!(
            RequestClass::parse_takeover("failback"),
            Some(RequestClass::All)
        );
        assert_eq!(
            RequestClass::parse_takeover("local"),
            Some(RequestClass::Local)
        );
        assert_eq!(RequestClass::parse_takeover("x"), None);
        // On the socket too: standby failback = foreign, takeover failback = all.
        assert_eq!(
            decode_request(r#"{"version":1,"command":"takeover","class":"failback"}"#).unwrap(),
            Request::Takeover {
                class: RequestClass::All
            }
        );
        assert_eq!(RequestClass::parse("all"), Some(RequestClass::All));
        assert_eq!(
            RequestClass::parse("local").map(RequestClass::as_str),
            Some("local")
        );
        assert_eq!(RequestClass::parse("ALL"), None);
        assert_eq!(RequestClass::parse("none"), None);
        assert_eq!(RequestClass::parse(""), None);
        assert_eq!(RequestClass::Foreign.to_string(), "foreign");
    }
}
