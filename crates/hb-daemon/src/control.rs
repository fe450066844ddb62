//! The control socket: `<run-dir>/heartbeat.sock`, mode 0600 (root only), or 0660 owned by
//! the `control_group` of ha.cf.
//!
//! The protocol is hb-control's (docs/control.md): one request line, one reply line.
//! `serve.rs` accepts connections within hb-control's limits, checks who may ask what, and reads
//! requests; this module hands them to the event loop, and builds the replies and
//! the status tree from the core's [`Snapshot`]. Every core state is converted with an
//! exhaustive `match`, so a state added to hb-core or to hb-control is a compile error here,
//! not a silent drift between the two.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_config::{AgentClass, Config, HaCf};
use hb_control::{
    Counters, Group, GroupState, Link, LinkStatus, Node, NodeStatus, NodeType, Parameters, Request,
    RequestClass, Resource, ResourceClass, ResourceState, Response, RscStatus, Status,
};
use hb_core::{Class, GroupView, Instant, LinkView, NodeView, ResourceView, Snapshot};
use tokio::net::UnixListener;
use tokio::sync::oneshot;

use crate::agents;

mod serve;

pub(crate) use serve::serve;

/// A request with the channel for its answer.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) request: Request,
    pub(crate) reply: oneshot::Sender<Response>,
    pub(crate) via: Via,
}

/// Where a request came from, for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The control socket: the client gets the reply.
    Socket,
    /// Heartbeat's command FIFO: nobody gets a reply, a refusal is only logged (by the core).
    Fifo,
}

impl std::fmt::Display for Via {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Via::Socket => "on the control socket",
            Via::Fifo => "through the command FIFO",
        })
    }
}

/// Binds the socket (replacing a stale one): mode 0600, or 0660 with group `group`.
pub(crate) fn bind(path: &Path, group: Option<&str>) -> io::Result<UnixListener> {
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

/// A refusal, with the reason for a person.
pub(crate) fn refused(why: &str) -> Response {
    Response::Refused(why.to_owned())
}

/// A command's reply: done, or the core's reason for refusing it.
pub(crate) fn reply(result: Result<Vec<String>, String>) -> Response {
    match result {
        Ok(_) => Response::Done,
        Err(e) => Response::Refused(e),
    }
}

/// The `cleanup` reply: the groups that had failures to clear.
pub(crate) fn cleanup_reply(result: Result<Vec<String>, String>) -> Response {
    match result {
        Ok(cleared) => Response::Cleared(cleared),
        Err(e) => Response::Refused(e),
    }
}

/// The core's class for a requested one.
pub(crate) fn core_class(class: RequestClass) -> Class {
    match class {
        RequestClass::All => Class::All,
        RequestClass::Local => Class::Local,
        RequestClass::Foreign => Class::Foreign,
    }
}

/// Converts the core's monotonic instants to UNIX time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    /// UNIX time at the core's instant zero.
    origin: f64,
}

impl WallClock {
    /// `at_zero` is the wall-clock time when the shell's monotonic clock read zero.
    pub(crate) fn new(at_zero: SystemTime) -> WallClock {
        WallClock {
            origin: at_zero
                .duration_since(UNIX_EPOCH)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
        }
    }

    /// UNIX seconds (with a fraction) of `t`.
    pub(crate) fn unix(&self, t: Instant) -> f64 {
        let secs = self.origin + Duration::from_nanos(t.as_nanos()).as_secs_f64();
        (secs * 1000.0).round() / 1000.0
    }

    /// UNIX seconds (with a fraction) now.
    fn unix_now() -> f64 {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO)
            .as_secs_f64();
        (secs * 1000.0).round() / 1000.0
    }
}

/// The parts of the status reply that come from the configuration.
#[derive(Debug, Clone)]
pub(crate) struct StatusInfo {
    node: String,
    parameters: Parameters,
}

/// `heartbeat-rs VERSION`, what `hbversion` reports.
pub(crate) fn hbversion() -> String {
    format!("heartbeat-rs {}", env!("CARGO_PKG_VERSION"))
}

impl StatusInfo {
    /// Every parameter `cl_status hbparameter -p` can ask for (hb-config's table of the
    /// directives Heartbeat records) that has a value, and `hbversion`.
    pub(crate) fn new(node: &str, cfg: &Config) -> StatusInfo {
        let mut parameters: Parameters = HaCf::hbparameter_names()
            .filter_map(|name| Some((name.to_owned(), cfg.ha_cf.hbparameter(name)?)))
            .collect();
        parameters.insert("hbversion".into(), hbversion());
        StatusInfo {
            node: node.to_owned(),
            parameters,
        }
    }
}

/// The `status` reply's body (docs/control.md).
pub(crate) fn status(
    info: &StatusInfo,
    snap: &Snapshot,
    wall: &WallClock,
    resources: &[Vec<agents::Resource>],
) -> Status {
    let Snapshot {
        nodes,
        groups,
        rsc_class,
        counters,
        shutting_down,
        isolated,
        fencing,
        awaiting_fence,
    } = snap;
    let hb_core::Counters {
        malformed,
        auth_failed,
        unknown_node,
        replayed,
        duplicate,
        accepted,
        rexmit_asked,
        rexmit_sent,
    } = *counters;
    Status {
        node: Some(info.node.clone()),
        hbversion: Some(hbversion()),
        managed_by: "haresources".to_owned(),
        rscstatus: Some(rscstatus(*rsc_class)),
        shutting_down: *shutting_down,
        isolated: *isolated,
        fencing: fencing.as_ref().map(|f| hb_control::Fencing {
            node: f.node.clone(),
            state: f.state.as_str().to_owned(),
            attempts: f.attempts,
            last_result: f.last_result.clone(),
            retry_at: f.retry_at.map(|t| wall.unix(t)),
        }),
        awaiting_fence: *awaiting_fence,
        now: Some(WallClock::unix_now()),
        parameters: info.parameters.clone(),
        nodes: nodes.iter().map(|n| node(n, wall)).collect(),
        groups: groups
            .iter()
            .enumerate()
            .map(|(g, view)| group(view, wall, resources.get(g).map_or(&[], Vec::as_slice)))
            .collect(),
        counters: Counters {
            accepted,
            malformed,
            auth_failed,
            unknown_node,
            replayed,
            duplicate,
            rexmit_asked,
            rexmit_sent,
        },
    }
}

fn node(view: &NodeView, wall: &WallClock) -> Node {
    let NodeView {
        name,
        status,
        links,
        is_self,
        heartbeat_rs,
        since,
        kind,
    } = view;
    Node {
        name: name.clone(),
        status: node_status(*status),
        node_type: match kind {
            hb_core::NodeKind::Normal => NodeType::Normal,
            hb_core::NodeKind::Ping => NodeType::Ping,
        },
        weight: 100,
        site: String::new(),
        is_self: *is_self,
        heartbeat_rs: *heartbeat_rs,
        since: since.map(|t| wall.unix(t)),
        links: links.iter().map(link).collect(),
    }
}

fn link(view: &LinkView) -> Link {
    let LinkView { name, up } = view;
    Link {
        name: name.clone(),
        status: if *up {
            LinkStatus::Up
        } else {
            LinkStatus::Dead
        },
        up: *up,
    }
}

fn group(view: &GroupView, wall: &WallClock, specs: &[agents::Resource]) -> Group {
    let GroupView {
        key,
        preferred,
        state,
        holder,
        failed_here,
        failure,
        managed,
        since,
        resources,
    } = view;
    Group {
        key: key.clone(),
        preferred: preferred.clone(),
        state: group_state(*state),
        holder: holder.clone(),
        failed_here: *failed_here,
        managed: *managed,
        since: since.map(|t| wall.unix(t)),
        failure: failure.clone(),
        resources: resources
            .iter()
            .enumerate()
            .map(|(r, view)| resource(view, wall, specs.get(r)))
            .collect(),
    }
}

fn resource(view: &ResourceView, wall: &WallClock, spec: Option<&agents::Resource>) -> Resource {
    let ResourceView {
        name,
        state,
        monitor_interval,
        failures,
        restarts,
        monitors,
        last_failure,
    } = view;
    Resource {
        text: name.clone(),
        agent: spec.map(|s| {
            s.path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        }),
        class: spec.map(|s| resource_class(&s.class)),
        state: resource_state(*state),
        monitor_interval_ms: monitor_interval
            .map_or(0, |i| u64::try_from(i.as_millis()).unwrap_or(u64::MAX)),
        failures: u64::from(*failures),
        restarts: *restarts,
        monitors: *monitors,
        last_failure: last_failure.as_ref().map(|(at, _)| wall.unix(*at)),
        last_failure_reason: last_failure.as_ref().map(|(_, why)| why.clone()),
    }
}

fn node_status(s: hb_core::NodeStatus) -> NodeStatus {
    match s {
        hb_core::NodeStatus::Init => NodeStatus::Init,
        hb_core::NodeStatus::Up => NodeStatus::Up,
        hb_core::NodeStatus::Active => NodeStatus::Active,
        hb_core::NodeStatus::Dead => NodeStatus::Dead,
        hb_core::NodeStatus::Ping => NodeStatus::Ping,
    }
}

fn group_state(s: hb_core::GroupState) -> GroupState {
    match s {
        hb_core::GroupState::Stopped => GroupState::Stopped,
        hb_core::GroupState::Probing => GroupState::Probing,
        hb_core::GroupState::Starting => GroupState::Starting,
        hb_core::GroupState::Running => GroupState::Running,
        hb_core::GroupState::Reannouncing => GroupState::Reannouncing,
        hb_core::GroupState::Stopping => GroupState::Stopping,
        hb_core::GroupState::Restarting => GroupState::Restarting,
        hb_core::GroupState::Failed => GroupState::Failed,
    }
}

fn resource_state(s: hb_core::ResourceState) -> ResourceState {
    match s {
        hb_core::ResourceState::Unknown => ResourceState::Unknown,
        hb_core::ResourceState::Stopped => ResourceState::Stopped,
        hb_core::ResourceState::Starting => ResourceState::Starting,
        hb_core::ResourceState::Running => ResourceState::Running,
        hb_core::ResourceState::Stopping => ResourceState::Stopping,
        hb_core::ResourceState::Failed => ResourceState::Failed,
    }
}

/// Heartbeat's `rscstatus`: the class held, `transition` while resources move.
fn rscstatus(class: Option<Class>) -> RscStatus {
    match class {
        None => RscStatus::Transition,
        Some(Class::None) => RscStatus::None,
        Some(Class::Local) => RscStatus::Local,
        Some(Class::Foreign) => RscStatus::Foreign,
        Some(Class::All) => RscStatus::All,
    }
}

fn resource_class(class: &AgentClass) -> ResourceClass {
    match class {
        AgentClass::Heartbeat => ResourceClass::Heartbeat,
        AgentClass::Lsb => ResourceClass::Lsb,
        AgentClass::Ocf { .. } => ResourceClass::Ocf,
    }
}

#[cfg(test)]
mod tests;
