//! Serving the control socket so that no client can wedge the daemon: at most
//! [`MAX_CONNECTIONS`] connections at once (one more is refused at once), a time limit for
//! reading the request ([`REQUEST_TIMEOUT`]) and for writing the reply ([`REPLY_TIMEOUT`]),
//! a growing pause when `accept` fails for want of file descriptors instead of a busy retry,
//! and the peer's credentials checked against what its user may ask
//! ([`Request::root_only`]).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use hb_control::{
    ControlError, MAX_CONNECTIONS, MAX_REQUEST, REPLY_TIMEOUT, REQUEST_TIMEOUT, Request,
    decode_request,
};
use nix::errno::Errno;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::{Call, refused};

/// The first pause after `accept` failed for want of descriptors; it doubles on each failure
/// in a row, up to [`ACCEPT_BACKOFF_MAX`].
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
/// The longest pause between two `accept`s while descriptors are exhausted.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Who is at the other end of a connection, as far as permissions go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// Root, or the user the daemon runs as: may make every request.
    Admin,
    /// Any other user the socket's mode let in (a `control_group` member): the operator
    /// tools' requests only.
    Member,
}

impl Peer {
    /// The peer with user id `uid`, for a daemon running as `daemon_uid`.
    pub(crate) fn of(uid: u32, daemon_uid: u32) -> Peer {
        if uid == 0 || uid == daemon_uid {
            Peer::Admin
        } else {
            Peer::Member
        }
    }

    /// Whether this peer may make `request`; the refusal otherwise.
    pub(crate) fn check(self, request: &Request) -> Result<(), ControlError> {
        match self {
            Peer::Admin => Ok(()),
            Peer::Member if request.root_only() => {
                Err(ControlError::NotPermitted(request.command()))
            }
            Peer::Member => Ok(()),
        }
    }
}

/// Whether `accept` failed because descriptors (or kernel memory) ran out: retrying at once
/// would only spin.
fn out_of_descriptors(e: &io::Error) -> bool {
    e.raw_os_error().map(Errno::from_raw).is_some_and(|n| {
        matches!(
            n,
            Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM
        )
    })
}

/// The pause after `failures` descriptor failures in a row (1 for the first).
fn backoff(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    ACCEPT_BACKOFF_MIN
        .saturating_mul(1 << doublings)
        .min(ACCEPT_BACKOFF_MAX)
}

/// Accepts connections until the daemon stops, forwarding each permitted request to the
/// event loop.
pub(crate) async fn serve(listener: UnixListener, calls: mpsc::Sender<Call>) {
    let daemon_uid = nix::unistd::geteuid().as_raw();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut failures = 0u32;
    let mut refusals = 0u64;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) if out_of_descriptors(&e) => {
                failures = failures.saturating_add(1);
                let pause = backoff(failures);
                if failures == 1 {
                    tracing::warn!(
                        "control socket: cannot accept a connection ({e}); retrying after a pause of up to {} ms",
                        ACCEPT_BACKOFF_MAX.as_millis()
                    );
                }
                tokio::time::sleep(pause).await;
                continue;
            }
            Err(e) => {
                tracing::debug!("control socket: accept failed: {e}");
                continue;
            }
        };
        if failures > 0 {
            tracing::info!(
                "control socket: accepting again after {failures} failed accepts in a row"
            );
            failures = 0;
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            if refusals == 0 {
                tracing::warn!(
                    "control socket: {MAX_CONNECTIONS} connections open: refusing new ones until one closes"
                );
            }
            refusals += 1;
            refuse_at_once(&stream, &ControlError::TooManyConnections);
            continue;
        };
        if refusals > 0 {
            tracing::info!(
                "control socket: accepting again ({refusals} connections were refused while full)"
            );
            refusals = 0;
        }
        let calls = calls.clone();
        tokio::spawn(async move {
            connection(stream, daemon_uid, &calls).await;
            drop(slot);
        });
    }
}

/// Writes the refusal `why` if the socket takes it without waiting, then closes.
fn refuse_at_once(stream: &UnixStream, why: &ControlError) {
    if let Ok(line) = refused(&why.to_string()).encode() {
        let _ = stream.try_write(line.as_bytes());
    }
}

/// Serves one connection: one request line (within [`REQUEST_TIMEOUT`]), one reply line
/// (within [`REPLY_TIMEOUT`]).
async fn connection(stream: UnixStream, daemon_uid: u32, calls: &mpsc::Sender<Call>) {
    let uid = stream.peer_cred().ok().map(|cred| cred.uid());
    // Unknown credentials get the smaller set of requests.
    let peer = uid.map_or(Peer::Member, |uid| Peer::of(uid, daemon_uid));
    let (read, mut write) = stream.into_split();
    let limit = u64::try_from(MAX_REQUEST).unwrap_or(u64::MAX);
    let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, limit));
    let mut line = String::new();
    let answer = match tokio::time::timeout(REQUEST_TIMEOUT, reader.read_line(&mut line)).await {
        Err(_) => refused(&ControlError::RequestTimeout.to_string()),
        Ok(Err(e)) => refused(&e.to_string()),
        Ok(Ok(_)) => match decode_request(&line).and_then(|r| peer.check(&r).map(|()| r)) {
            Ok(request) => {
                let (tx, rx) = oneshot::channel();
                if calls
                    .send(Call {
                        request,
                        reply: tx,
                        via: super::Via::Socket,
                    })
                    .await
                    .is_err()
                {
                    refused("the daemon is stopping")
                } else {
                    rx.await.unwrap_or_else(|_| refused("no answer"))
                }
            }
            Err(e) => {
                if let ControlError::NotPermitted(command) = e {
                    tracing::warn!(
                        "control socket: {command} refused to uid {} (root only)",
                        uid.map_or_else(|| "unknown".to_owned(), |u| u.to_string())
                    );
                }
                refused(&e.to_string())
            }
        },
    };
    let out = answer
        .encode()
        .or_else(|e| refused(&e.to_string()).encode())
        .unwrap_or_default();
    let _ = tokio::time::timeout(REPLY_TIMEOUT, write.write_all(out.as_bytes())).await;
}

/// The unit rules; the socket-level tests are in `control/tests.rs`.
#[cfg(test)]
mod tests {
    use super::*;
    use hb_control::RequestClass;
    use std::os::unix::process::CommandExt as _;

    #[test]
    fn root_and_the_daemons_user_may_do_everything_members_not_shutdown() {
        let requests = [
            Request::Status,
            Request::Standby {
                class: RequestClass::All,
            },
            Request::Takeover {
                class: RequestClass::Foreign,
            },
            Request::Cleanup { group: None },
            Request::Shutdown,
        ];
        for uid in [0, 1000] {
            let admin = Peer::of(uid, 1000);
            assert_eq!(admin, Peer::Admin);
            assert!(requests.iter().all(|r| admin.check(r).is_ok()));
        }
        let member = Peer::of(1001, 0);
        assert_eq!(member, Peer::Member);
        let refused: Vec<_> = requests
            .iter()
            .filter(|r| member.check(r).is_err())
            .map(Request::command)
            .collect();
        assert_eq!(refused, ["shutdown"]);
        assert_eq!(
            member.check(&Request::Shutdown).unwrap_err().to_string(),
            "permission denied: shutdown is for root only"
        );
    }

    #[test]
    fn accept_backoff_grows_to_its_cap_and_only_for_descriptor_errors() {
        assert_eq!(backoff(1), ACCEPT_BACKOFF_MIN);
        assert_eq!(backoff(2), ACCEPT_BACKOFF_MIN * 2);
        assert_eq!(backoff(u32::MAX), ACCEPT_BACKOFF_MAX);
        assert!(out_of_descriptors(&io::Error::from(Errno::EMFILE)));
        assert!(!out_of_descriptors(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }

    /// Sends `request` as user and group `nobody`/`nogroup` (a stand-in `control_group`
    /// member) through `client_as_another_user`, and returns the reply line.
    fn as_nobody(socket: &std::path::Path, request: &str) -> String {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "control::serve::tests::client_as_another_user",
                "--ignored",
                "--nocapture",
                "--quiet",
            ])
            .env("HB_CONTROL_TEST_SOCKET", socket)
            .env("HB_CONTROL_TEST_REQUEST", request)
            .uid(65534)
            .gid(65534)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines()
            .find_map(|l| l.strip_prefix("REPLY "))
            .unwrap_or_else(|| panic!("no reply: {text} {}", String::from_utf8_lossy(&out.stderr)))
            .to_owned()
    }

    /// Not a test on its own: the client of `a_control_group_member_may_not_shut_down`.
    #[test]
    #[ignore]
    fn client_as_another_user() {
        use std::io::{BufRead, Write};
        let (Ok(socket), Ok(request)) = (
            std::env::var("HB_CONTROL_TEST_SOCKET"),
            std::env::var("HB_CONTROL_TEST_REQUEST"),
        ) else {
            return;
        };
        let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        std::io::BufReader::new(s).read_line(&mut line).unwrap();
        println!("REPLY {}", line.trim_end());
    }

    #[test]
    fn a_control_group_member_may_not_shut_down() {
        use std::os::unix::fs::PermissionsExt;
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP: needs root to connect as another user");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("heartbeat.sock");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let _guard = rt.enter();
        // The socket as the daemon makes it with `control_group nogroup`.
        let listener = super::super::bind(&path, Some("nogroup")).unwrap();
        let (tx, mut rx) = mpsc::channel::<Call>(4);
        rt.spawn(serve(listener, tx));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        rt.spawn(async move {
            while let Some(call) = rx.recv().await {
                record.lock().unwrap().push(call.request.command());
                let _ = call.reply.send(hb_control::Response::Done);
            }
        });
        let asked = |request: &'static str| {
            let path = path.clone();
            rt.block_on(async move {
                tokio::task::spawn_blocking(move || as_nobody(&path, request))
                    .await
                    .unwrap()
            })
        };
        let json = |line: String| serde_json::from_str::<serde_json::Value>(&line).unwrap();
        assert_eq!(
            json(asked("{\"version\":1,\"command\":\"shutdown\"}\n")),
            serde_json::json!({"version": 1, "ok": false,
                "error": "permission denied: shutdown is for root only"})
        );
        assert_eq!(
            json(asked("{\"version\":1,\"command\":\"standby\"}\n")),
            serde_json::json!({"version": 1, "ok": true})
        );
        // Only the permitted request reached the event loop.
        assert_eq!(*seen.lock().unwrap(), ["standby"]);
    }
}
