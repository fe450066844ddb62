//! The control-socket client: one JSON request line, one JSON reply line (docs/control.md).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::status::Status;

/// Protocol version spoken by these tools.
pub const VERSION: u64 = 1;
/// Name of the socket inside the run directory.
pub const SOCKET_NAME: &str = "heartbeat.sock";
/// Run directory used when neither `--run-dir` nor `HB_RUN_DIR` is given.
pub const DEFAULT_RUN_DIR: &str = "/var/run/heartbeat";
/// Environment variable naming the run directory.
pub const RUN_DIR_ENV: &str = "HB_RUN_DIR";
/// How long a request may take by default (Heartbeat's cl_status gives up after 5 s too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest request the daemon accepts, newline included.
pub const MAX_REQUEST: usize = 4096;
/// Longest reply this client reads (a status of a large cluster stays far below it).
pub const MAX_REPLY: usize = 16 << 20;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No socket, or nobody listening on it.
    #[error(
        "Heartbeat is not running on this machine (cannot connect to {}: {})",
        path.display(),
        brief(source)
    )]
    NotRunning {
        /// The socket path.
        path: PathBuf,
        /// What connect(2) said.
        source: io::Error,
    },
    /// The socket exists but this user may not use it.
    #[error(
        "permission denied on {} (the control socket is root-only unless ha.cf names a control_group this user belongs to)",
        path.display()
    )]
    PermissionDenied {
        /// The socket path.
        path: PathBuf,
    },
    /// The daemon did not answer in time.
    #[error("no reply from heartbeat within {:.1} s", .0.as_secs_f64())]
    Timeout(Duration),
    /// The reply was not a version-1 reply object.
    #[error("bad reply from heartbeat: {0}")]
    BadReply(String),
    /// The daemon answered `ok:false`.
    #[error("{0}")]
    Daemon(String),
    /// The request would exceed the daemon's limit.
    #[error("request too long ({0} bytes, the limit is {MAX_REQUEST})")]
    RequestTooLong(usize),
    /// Another I/O error on the socket.
    #[error("{}: {}", path.display(), brief(source))]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// A class of resource groups, from the point of view of the node that is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Every group.
    All,
    /// The groups that prefer this node.
    Local,
    /// The groups that prefer the peer.
    Foreign,
}

impl Class {
    /// Parses a Heartbeat class argument; `failback` is Heartbeat's alias of `foreign`.
    pub fn parse(s: &str) -> Option<Class> {
        match s {
            "all" => Some(Class::All),
            "local" => Some(Class::Local),
            "foreign" | "failback" => Some(Class::Foreign),
            _ => None,
        }
    }

    /// The protocol's name of the class.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::All => "all",
            Class::Local => "local",
            Class::Foreign => "foreign",
        }
    }
}

/// The run directory: the explicit one, else `HB_RUN_DIR`, else [`DEFAULT_RUN_DIR`].
pub fn run_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit
        .or_else(|| {
            std::env::var_os(RUN_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_RUN_DIR))
}

/// A client of one daemon's control socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of `<run_dir>/heartbeat.sock`; every request must complete within `timeout`.
    pub fn new(run_dir: &Path, timeout: Duration) -> Client {
        Client {
            socket: run_dir.join(SOCKET_NAME),
            timeout,
        }
    }

    /// The socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends one request object (the `version` field is added) and returns the reply
    /// object of a successful request (`ok: true`).
    pub fn request(&self, command: &str, fields: &[(&str, Value)]) -> Result<Value, ClientError> {
        let mut req = serde_json::Map::new();
        req.insert("version".into(), json!(VERSION));
        req.insert("command".into(), json!(command));
        for (k, v) in fields {
            req.insert((*k).to_string(), v.clone());
        }
        let mut line = Value::Object(req).to_string();
        line.push('\n');
        if line.len() > MAX_REQUEST {
            return Err(ClientError::RequestTooLong(line.len()));
        }
        let raw = self.exchange(line.as_bytes())?;
        check_reply(&raw)
    }

    /// The `status` reply, as sent and as the typed model.
    pub fn status(&self) -> Result<(Status, Value), ClientError> {
        let raw = self.request("status", &[])?;
        let status = serde_json::from_value(raw.clone())
            .map_err(|e| ClientError::BadReply(format!("status object: {e}")))?;
        Ok((status, raw))
    }

    /// Asks this node to give up the groups of `class`.
    pub fn standby(&self, class: Class) -> Result<(), ClientError> {
        self.request("standby", &[("class", json!(class.as_str()))])
            .map(drop)
    }

    /// Asks this node to take over the groups of `class`.
    pub fn takeover(&self, class: Class) -> Result<(), ClientError> {
        self.request("takeover", &[("class", json!(class.as_str()))])
            .map(drop)
    }

    /// Forgets the failures recorded for `group` (every group when `None`); returns the
    /// keys the daemon reports as cleared.
    pub fn cleanup(&self, group: Option<&str>) -> Result<Vec<String>, ClientError> {
        let reply = match group {
            Some(g) => self.request("cleanup", &[("group", json!(g))])?,
            None => self.request("cleanup", &[])?,
        };
        match reply.get("cleared") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(keys)) => keys
                .iter()
                .map(|k| {
                    k.as_str().map(str::to_string).ok_or_else(|| {
                        ClientError::BadReply(format!("\"cleared\" holds a non-string: {k}"))
                    })
                })
                .collect(),
            Some(other) => Err(ClientError::BadReply(format!(
                "\"cleared\" is not a list: {other}"
            ))),
        }
    }

    /// Writes `request` and reads one reply line within the timeout.
    fn exchange(&self, request: &[u8]) -> Result<Vec<u8>, ClientError> {
        let deadline = Instant::now() + self.timeout;
        let mut stream = UnixStream::connect(&self.socket).map_err(|e| self.connect_error(e))?;
        let io_err = |e: io::Error| self.io_error(e);
        stream
            .set_write_timeout(Some(remaining(deadline, self.timeout)?))
            .map_err(io_err)?;
        stream.write_all(request).map_err(io_err)?;
        let mut reply = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            stream
                .set_read_timeout(Some(remaining(deadline, self.timeout)?))
                .map_err(io_err)?;
            let n = match stream.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_err(e)),
            };
            if n == 0 {
                break;
            }
            if let Some(end) = buf[..n].iter().position(|&b| b == b'\n') {
                reply.extend_from_slice(&buf[..end]);
                return Ok(reply);
            }
            reply.extend_from_slice(&buf[..n]);
            if reply.len() > MAX_REPLY {
                return Err(ClientError::BadReply(format!(
                    "reply longer than {MAX_REPLY} bytes"
                )));
            }
        }
        if reply.iter().all(u8::is_ascii_whitespace) {
            return Err(ClientError::BadReply(
                "the daemon closed the connection without replying".into(),
            ));
        }
        Ok(reply)
    }

    fn connect_error(&self, e: io::Error) -> ClientError {
        let path = self.socket.clone();
        match e.raw_os_error() {
            Some(libc::ENOENT | libc::ECONNREFUSED | libc::ENOTDIR) => {
                ClientError::NotRunning { path, source: e }
            }
            Some(libc::EACCES | libc::EPERM) => ClientError::PermissionDenied { path },
            _ => ClientError::Io { path, source: e },
        }
    }

    fn io_error(&self, e: io::Error) -> ClientError {
        match e.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => {
                ClientError::Timeout(self.timeout)
            }
            _ => ClientError::Io {
                path: self.socket.clone(),
                source: e,
            },
        }
    }
}

/// An I/O error without Rust's ` (os error N)` suffix.
fn brief(e: &io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) if s.ends_with(')') => s[..i].to_string(),
        _ => s,
    }
}

/// Time left until `deadline` (never zero: a zero socket timeout would mean "forever").
fn remaining(deadline: Instant, timeout: Duration) -> Result<Duration, ClientError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(ClientError::Timeout(timeout))
    } else {
        Ok(left)
    }
}

/// Checks a reply line: a JSON object of version 1 with `ok`; `ok:false` becomes
/// [`ClientError::Daemon`].
pub fn check_reply(raw: &[u8]) -> Result<Value, ClientError> {
    let text = std::str::from_utf8(raw)
        .map_err(|_| ClientError::BadReply("the reply is not UTF-8".into()))?;
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|e| ClientError::BadReply(format!("not JSON ({e}): {}", excerpt(text))))?;
    let Some(obj) = value.as_object() else {
        return Err(ClientError::BadReply(format!(
            "not a JSON object: {}",
            excerpt(text)
        )));
    };
    match obj.get("version") {
        None => {}
        Some(v) if v.as_u64() == Some(VERSION) => {}
        Some(v) => {
            return Err(ClientError::BadReply(format!(
                "protocol version {v} (these tools speak {VERSION})"
            )));
        }
    }
    match obj.get("ok").and_then(Value::as_bool) {
        Some(true) => Ok(value),
        Some(false) => Err(ClientError::Daemon(
            obj.get("error")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .unwrap_or("the daemon refused the request without saying why")
                .to_string(),
        )),
        None => Err(ClientError::BadReply(format!(
            "no boolean \"ok\": {}",
            excerpt(text)
        ))),
    }
}

/// The start of a reply, for error messages.
fn excerpt(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(80) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_checked() {
        assert!(check_reply(br#"{"version":1,"ok":true}"#).is_ok());
        assert!(check_reply(br#"{"ok":true,"extra":[1,2]}"#).is_ok());
        match check_reply(br#"{"version":1,"ok":false,"error":"no stable peer"}"#) {
            Err(ClientError::Daemon(e)) => assert_eq!(e, "no stable peer"),
            other => panic!("{other:?}"),
        }
        match check_reply(br#"{"version":1,"ok":false}"#) {
            Err(ClientError::Daemon(e)) => assert!(e.contains("without saying why")),
            other => panic!("{other:?}"),
        }
        for bad in [
            &b"garbage"[..],
            br#"{"version":2,"ok":true}"#,
            br#"{"version":1}"#,
            br#"[1,2]"#,
            b"\xff\xfe",
        ] {
            assert!(
                matches!(check_reply(bad), Err(ClientError::BadReply(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn classes_parse_like_heartbeat() {
        assert_eq!(Class::parse("failback"), Some(Class::Foreign));
        assert_eq!(Class::parse("all"), Some(Class::All));
        assert_eq!(Class::parse("local").map(Class::as_str), Some("local"));
        assert_eq!(Class::parse("ALL"), None);
        assert_eq!(Class::parse(""), None);
    }

    #[test]
    fn a_missing_socket_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let c = Client::new(dir.path(), Duration::from_secs(1));
        assert!(matches!(c.status(), Err(ClientError::NotRunning { .. })));
        let c = Client::new(&dir.path().join("missing"), Duration::from_secs(1));
        assert!(matches!(c.status(), Err(ClientError::NotRunning { .. })));
    }

    #[test]
    fn long_requests_are_refused_locally() {
        let dir = tempfile::tempdir().unwrap();
        let c = Client::new(dir.path(), Duration::from_secs(1));
        let key = "x".repeat(MAX_REQUEST);
        assert!(matches!(
            c.cleanup(Some(&key)),
            Err(ClientError::RequestTooLong(_))
        ));
    }
}
