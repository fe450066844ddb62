//! The control-socket client: one request line, one reply line (docs/control.md), with the
//! protocol of hb-control.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hb_control::{
    CleanupReply, ControlError, Empty, MAX_REPLY, ReplyBody, Request, RequestClass, Status,
    decode_reply_value, encode_request,
};
use serde_json::Value;

/// How long a request may take by default (Heartbeat's cl_status gives up after 5 s too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

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
    /// The reply was not a version-1 reply object of the expected shape.
    #[error("bad reply from heartbeat: {0}")]
    BadReply(#[source] ControlError),
    /// The daemon answered `ok:false`, with its reason.
    #[error("{0}")]
    Daemon(String),
    /// The request could not be sent (e.g. longer than the daemon's limit).
    #[error(transparent)]
    Request(ControlError),
    /// Another I/O error on the socket.
    #[error("{}: {}", path.display(), brief(source))]
    Io {
        /// The socket path.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

impl From<ControlError> for ClientError {
    /// A refusal becomes [`ClientError::Daemon`], anything else about the reply
    /// [`ClientError::BadReply`].
    fn from(e: ControlError) -> ClientError {
        match e {
            ControlError::Refused(why) => ClientError::Daemon(why),
            other => ClientError::BadReply(other),
        }
    }
}

/// A client of one daemon's control socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    timeout: Duration,
}

impl Client {
    /// A client of `<run_dir>/heartbeat.sock`; every request must complete within `timeout`.
    #[must_use]
    pub fn new(run_dir: &Path, timeout: Duration) -> Client {
        Client {
            socket: hb_control::socket_path(run_dir),
            timeout,
        }
    }

    /// The socket path.
    #[must_use]
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Sends `request` and returns the object of a successful reply (`ok: true`).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn request(&self, request: &Request) -> Result<Value, ClientError> {
        let line = encode_request(request).map_err(ClientError::Request)?;
        let raw = self.exchange(line.as_bytes())?;
        Ok(decode_reply_value(&raw)?)
    }

    /// Sends `request` and reads the reply's fields as `T`.
    fn typed<T: ReplyBody>(&self, request: &Request) -> Result<(T, Value), ClientError> {
        let raw = self.request(request)?;
        let body = T::deserialize(&raw).map_err(|error| {
            ClientError::BadReply(ControlError::ReplyBody {
                what: T::WHAT,
                error,
            })
        })?;
        Ok((body, raw))
    }

    /// The `status` reply, typed and as sent (for `cl_status --json`).
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn status(&self) -> Result<(Status, Value), ClientError> {
        self.typed(&Request::Status)
    }

    /// Asks this node to give up the groups of `class`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn standby(&self, class: RequestClass) -> Result<(), ClientError> {
        self.typed::<Empty>(&Request::Standby { class }).map(drop)
    }

    /// Asks this node to take over the groups of `class`.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn takeover(&self, class: RequestClass) -> Result<(), ClientError> {
        self.typed::<Empty>(&Request::Takeover { class }).map(drop)
    }

    /// Forgets the failures recorded for `group` (every group when `None`); returns the
    /// keys the daemon reports as cleared.
    ///
    /// # Errors
    /// See [`ClientError`].
    pub fn cleanup(&self, group: Option<&str>) -> Result<Vec<String>, ClientError> {
        let request = Request::Cleanup {
            group: group.map(str::to_owned),
        };
        let (reply, _) = self.typed::<CleanupReply>(&request)?;
        Ok(reply.cleared)
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
            let Some(got) = buf.get(..n).filter(|g| !g.is_empty()) else {
                break;
            };
            if let Some(end) = got.iter().position(|&b| b == b'\n') {
                reply.extend_from_slice(&got[..end]);
                return Ok(reply);
            }
            reply.extend_from_slice(got);
            if reply.len() > MAX_REPLY {
                return Err(ClientError::BadReply(ControlError::ReplyTooLong));
            }
        }
        if reply.iter().all(u8::is_ascii_whitespace) {
            return Err(ClientError::BadReply(ControlError::NoReply));
        }
        Ok(reply)
    }

    fn connect_error(&self, e: io::Error) -> ClientError {
        let path = self.socket.clone();
        match e.kind() {
            io::ErrorKind::NotFound
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::NotADirectory => ClientError::NotRunning { path, source: e },
            io::ErrorKind::PermissionDenied => ClientError::PermissionDenied { path },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_and_bad_replies_are_told_apart() {
        assert!(matches!(
            ClientError::from(ControlError::Refused("no stable peer".into())),
            ClientError::Daemon(why) if why == "no stable peer"
        ));
        let bad = ClientError::from(ControlError::ReplyNoOk("{}".into()));
        assert_eq!(
            bad.to_string(),
            "bad reply from heartbeat: no boolean \"ok\": {}"
        );
    }

    #[test]
    fn a_missing_socket_means_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let c = Client::new(dir.path(), Duration::from_secs(1));
        assert!(matches!(c.status(), Err(ClientError::NotRunning { .. })));
        let c = Client::new(&dir.path().join("missing"), Duration::from_secs(1));
        assert!(matches!(c.status(), Err(ClientError::NotRunning { .. })));
        let file = dir.path().join("file");
        std::fs::write(&file, "").unwrap();
        let c = Client::new(&file, Duration::from_secs(1));
        assert!(matches!(c.status(), Err(ClientError::NotRunning { .. })));
    }

    #[test]
    fn long_requests_are_refused_locally() {
        let dir = tempfile::tempdir().unwrap();
        let c = Client::new(dir.path(), Duration::from_secs(1));
        let key = "x".repeat(hb_control::MAX_REQUEST);
        let e = c.cleanup(Some(&key)).unwrap_err();
        assert!(matches!(
            e,
            ClientError::Request(ControlError::RequestTooLong(_))
        ));
        assert!(e.to_string().starts_with("request too long ("), "{e}");
    }
}
