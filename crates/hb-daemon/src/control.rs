//! The control socket: `<run-dir>/heartbeat.sock`, mode 0600 (root only), or 0660 owned by
//! the `control_group` of ha.cf.
//!
//! Protocol version 1 (docs/control.md): the client writes one JSON object on one line, e.g.
//! `{"version":1,"command":"status"}`, and reads one JSON object on one line. Commands:
//! `status`, `shutdown`, `standby` and `takeover` (with `"class": "all|local|foreign|failback"`),
//! `cleanup` (with an optional `"group"`). Replies carry `"version":1` and `"ok"`; errors carry
//! `"error"`. `cl_status`, `hb_standby`, `hb_takeover` and `hb_cleanup` use this socket.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_config::Config;
use hb_core::{Class, Instant, Snapshot};

use crate::agents::Resource;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::sync::{mpsc, oneshot};

/// Version of the request/response format.
pub const VERSION: u64 = 1;
/// Longest request accepted.
const MAX_REQUEST: u64 = 4096;

/// A request the event loop must answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Status,
    Shutdown,
    Standby(Class),
    Takeover(Class),
    /// Clear the failures of one group (by key) or all.
    Cleanup(Option<String>),
}

/// A request with the channel for its answer.
#[derive(Debug)]
pub struct Call {
    pub request: Request,
    pub reply: oneshot::Sender<Value>,
}

/// Binds the socket (replacing a stale one): mode 0600, or 0660 with group `group`.
pub fn bind(path: &Path, group: Option<&str>) -> io::Result<UnixListener> {
    let gid = match group {
        None => None,
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .map_err(io::Error::from)?
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("control_group {name}: no such group"),
                    )
                })?
                .gid,
        ),
    };
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    if let Some(gid) = gid {
        nix::unistd::chown(path, None, Some(gid)).map_err(io::Error::from)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    }
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
        Some("cleanup") => match v.get("group") {
            None | Some(Value::Null) => Ok(Request::Cleanup(None)),
            Some(Value::String(g)) => Ok(Request::Cleanup(Some(g.clone()))),
            Some(_) => Err("\"group\" must be a group key (a string)".into()),
        },
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

/// A command's reply: ok, or the core's reason for refusing it.
pub fn reply(result: Result<Vec<String>, String>) -> Value {
    match result {
        Ok(_) => ok(),
        Err(e) => error(&e),
    }
}

/// The `cleanup` reply: the groups that had failures to clear.
pub fn cleanup_reply(result: Result<Vec<String>, String>) -> Value {
    match result {
        Ok(cleared) => json!({"version": VERSION, "ok": true, "cleared": cleared}),
        Err(e) => error(&e),
    }
}

/// Converts the core's monotonic instants to UNIX time.
#[derive(Debug, Clone, Copy)]
pub struct WallClock {
    /// UNIX time at the core's instant zero.
    origin: f64,
}

impl WallClock {
    /// `at_zero` is the wall-clock time when the shell's monotonic clock read zero.
    pub fn new(at_zero: SystemTime) -> WallClock {
        WallClock {
            origin: at_zero
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
        }
    }

    /// UNIX seconds (with a fraction) of `t`.
    pub fn unix(&self, t: Instant) -> f64 {
        let secs = self.origin + Duration::from_nanos(t.as_nanos()).as_secs_f64();
        (secs * 1000.0).round() / 1000.0
    }
}

/// The parts of the status reply that come from the configuration.
#[derive(Debug, Clone)]
pub struct StatusInfo {
    node: String,
    parameters: serde_json::Map<String, Value>,
}

/// Every name `cl_status hbparameter -p` may ask for.
const PARAMETERS: &[&str] = &[
    "keepalive",
    "deadtime",
    "warntime",
    "initdead",
    "udpport",
    "hopfudge",
    "auto_failback",
    "msgfmt",
    "baud",
    "debug",
    "crm",
    "pacemaker",
    "logfacility",
    "logfile",
    "debugfile",
    "use_logd",
    "hbgenmethod",
    "uuidfrom",
    "realtime",
    "autojoin",
    "max_rexmit_delay",
    "compression",
    "compression_threshold",
    "traditional_compression",
    "agent_timeout",
    "ocf_root",
    "control_group",
];

/// `heartbeat-rs VERSION`, what `hbversion` reports.
pub fn hbversion() -> String {
    format!("heartbeat-rs {}", env!("CARGO_PKG_VERSION"))
}

impl StatusInfo {
    pub fn new(node: &str, cfg: &Config) -> StatusInfo {
        let mut parameters = serde_json::Map::new();
        for name in PARAMETERS {
            if let Some(v) = cfg.ha_cf.hbparameter(name) {
                parameters.insert((*name).to_string(), Value::String(v));
            }
        }
        parameters.insert("hbversion".into(), Value::String(hbversion()));
        StatusInfo {
            node: node.to_string(),
            parameters,
        }
    }
}

/// The `status` reply (docs/control.md).
pub fn status(
    info: &StatusInfo,
    snap: &Snapshot,
    wall: &WallClock,
    resources: &[Vec<Resource>],
) -> Value {
    let t = |x: Option<Instant>| x.map(|x| wall.unix(x));
    let nodes: Vec<Value> = snap
        .nodes
        .iter()
        .map(|n| {
            json!({
                "name": n.name,
                "status": n.status.as_str(),
                "type": "normal",
                "weight": 100,
                "site": "",
                "self": n.is_self,
                "heartbeat_rs": n.heartbeat_rs,
                "since": t(n.since),
                "links": n.links.iter().map(|l| json!({
                    "name": l.name,
                    "up": l.up,
                    "status": if l.up { "up" } else { "dead" },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let groups: Vec<Value> = snap
        .groups
        .iter()
        .enumerate()
        .map(|(g, v)| {
            let res: Vec<Value> = v
                .resources
                .iter()
                .enumerate()
                .map(|(r, x)| {
                    let spec = resources.get(g).and_then(|rs| rs.get(r));
                    json!({
                        "text": x.name,
                        "agent": spec.map(|s| s.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default()),
                        "class": spec.map(|s| s.class.as_str()),
                        "state": x.state.as_str(),
                        "monitor_interval_ms": x.monitor_interval.map_or(0, |i| i.as_millis()),
                        "failures": x.failures,
                        "restarts": x.restarts,
                        "monitors": x.monitors,
                        "last_failure": x.last_failure.as_ref().map(|(at, _)| wall.unix(*at)),
                        "last_failure_reason": x.last_failure.as_ref().map(|(_, why)| why.clone()),
                    })
                })
                .collect();
            json!({
                "key": v.key,
                "preferred": v.preferred,
                "state": v.state.as_str(),
                "holder": v.holder,
                "failed_here": v.failed_here,
                "managed": v.managed,
                "since": t(v.since),
                "failure": v.failure,
                "resources": res,
            })
        })
        .collect();
    let c = &snap.counters;
    json!({
        "version": VERSION,
        "ok": true,
        "node": info.node,
        "hbversion": hbversion(),
        "managed_by": "haresources",
        "rscstatus": snap.rsc_class.map_or("transition", Class::as_str),
        "shutting_down": snap.shutting_down,
        "now": wall.unix_now(),
        "parameters": info.parameters,
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

impl WallClock {
    fn unix_now(&self) -> f64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        (secs * 1000.0).round() / 1000.0
    }
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
        assert_eq!(
            parse(r#"{"version":1,"command":"cleanup","group":"g"}"#),
            Ok(Request::Cleanup(Some("g".into())))
        );
        assert_eq!(
            parse(r#"{"version":1,"command":"cleanup"}"#),
            Ok(Request::Cleanup(None))
        );
        assert!(parse(r#"{"version":1,"command":"cleanup","group":3}"#).is_err());
    }
}
