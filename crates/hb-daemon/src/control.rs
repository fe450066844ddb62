//! The control socket: `<run-dir>/heartbeat.sock`, mode 0600 (root only).
//!
//! Protocol version 1: the client writes one JSON object on one line, e.g.
//! `{"version":1,"command":"status"}`, and reads one JSON object on one line. Commands:
//! `status`, `shutdown`, `standby` and `takeover` (with `"class": "all|local|foreign|failback"`).
//! Replies carry `"version":1` and `"ok"`; errors carry `"error"`. The operator tools of a
//! later release (`cl_status`, `hb_standby`, `hb_takeover`) use this socket.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hb_core::{Class, Snapshot};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

/// Version of the request/response format.
pub const VERSION: u64 = 1;
/// Longest request accepted.
const MAX_REQUEST: u64 = 4096;

/// A request the event loop must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Status,
    Shutdown,
    Standby(Class),
    Takeover(Class),
}

/// A request with the channel for its answer.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: oneshot::Sender<Value>,
}

/// Binds the socket (replacing a stale one) with mode 0600.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Parses one request line.
pub fn parse(line: &str) -> Result<Request, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("version").and_then(Value::as_u64) {
        Some(VERSION) => {}
        Some(other) => {
            return Err(format!(
                "unsupported version {other} (this daemon speaks {VERSION})"
            ));
        }
        None => return Err("missing \"version\"".into()),
    }
    let class = || {
        let c = v.get("class").and_then(Value::as_str).unwrap_or("all");
        Class::parse(c).ok_or_else(|| format!("bad class {c:?} (all, local, foreign or failback)"))
    };
    match v.get("command").and_then(Value::as_str) {
        Some("status") => Ok(Request::Status),
        Some("shutdown") => Ok(Request::Shutdown),
        Some("standby") => Ok(Request::Standby(class()?)),
        Some("takeover") => Ok(Request::Takeover(class()?)),
        Some(other) => Err(format!("unknown command {other:?}")),
        None => Err("missing \"command\"".into()),
    }
}

/// Accepts connections forever, forwarding each request to the event loop.
pub async fn serve(listener: UnixListener, calls: mpsc::Sender<Call>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let calls = calls.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(tokio::io::AsyncReadExt::take(read, MAX_REQUEST));
            let answer = match reader.read_line(&mut line).await {
                Ok(_) => match parse(line.trim()) {
                    Ok(request) => {
                        let (tx, rx) = oneshot::channel();
                        if calls.send(Call { request, reply: tx }).await.is_err() {
                            error("the daemon is stopping")
                        } else {
                            rx.await.unwrap_or_else(|_| error("no answer"))
                        }
                    }
                    Err(e) => error(&e),
                },
                Err(e) => error(&e.to_string()),
            };
            let mut out = answer.to_string();
            out.push('\n');
            let _ = write.write_all(out.as_bytes()).await;
        });
    }
}

/// An error reply.
pub fn error(why: &str) -> Value {
    json!({"version": VERSION, "ok": false, "error": why})
}

/// A plain success reply.
pub fn ok() -> Value {
    json!({"version": VERSION, "ok": true})
}

/// The `status` reply.
pub fn status(node: &str, snap: &Snapshot) -> Value {
    let nodes: Vec<Value> = snap
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "status": n.status.as_str(),
                "self": n.is_self,
                "heartbeat_rs": n.heartbeat_rs,
                "links": n.links.iter().map(|l| json!({"name": l.name, "up": l.up})).collect::<Vec<_>>(),
            })
        })
        .collect();
    let groups: Vec<Value> = snap
        .groups
        .iter()
        .map(|g| {
            json!({
                "key": g.key,
                "preferred": g.preferred,
                "state": g.state.as_str(),
                "holder": g.holder,
                "failed_here": g.failed_here,
            })
        })
        .collect();
    let c = &snap.counters;
    json!({
        "version": VERSION,
        "ok": true,
        "node": node,
        "rscstatus": snap.rsc_class.map_or("transition", Class::as_str),
        "shutting_down": snap.shutting_down,
        "nodes": nodes,
        "groups": groups,
        "counters": {
            "accepted": c.accepted,
            "malformed": c.malformed,
            "auth_failed": c.auth_failed,
            "unknown_node": c.unknown_node,
            "replayed": c.replayed,
            "duplicate": c.duplicate,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_with_their_version_and_class() {
        assert_eq!(
            parse(r#"{"version":1,"command":"status"}"#),
            Ok(Request::Status)
        );
        assert_eq!(
            parse(r#"{"version":1,"command":"standby","class":"failback"}"#),
            Ok(Request::Standby(Class::Foreign))
        );
        assert_eq!(
            parse(r#"{"version":1,"command":"takeover"}"#),
            Ok(Request::Takeover(Class::All))
        );
        assert_eq!(
            parse(r#"{"version":2,"command":"status"}"#),
            Err("unsupported version 2 (this daemon speaks 1)".into())
        );
        assert!(
            parse(r#"{"version":1,"command":"reboot"}"#)
                .unwrap_err()
                .contains("unknown command")
        );
        assert!(parse("status").unwrap_err().starts_with("not JSON"));
    }
}
