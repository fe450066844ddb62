//! Helpers for black-box tests of heartbeat-rs: its control socket (`<run-dir>/heartbeat.sock`,
//! one request line, one reply line), spoken with hb-control's types, so a test reads
//! `status.groups[0].state == GroupState::Running` and a renamed field is a compile error.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hb_control::{
    CleanupReply, Counters, GroupState, NodeStatus, ReplyBody, Request, Resource, Status,
    decode_reply, encode_request,
};

use crate::Cluster;

/// The control socket of `node`'s daemon.
pub fn control_socket(cluster: &Cluster<'_>, node: &str) -> PathBuf {
    hb_control::socket_path(&cluster.node_dir(node).join("run"))
}

/// Sends one request and returns the reply's fields (failing if the daemon refused it, with
/// its reason).
pub fn request<T: ReplyBody>(cluster: &Cluster<'_>, node: &str, request: &Request) -> Result<T> {
    let path = control_socket(cluster, node);
    let mut stream =
        UnixStream::connect(&path).with_context(|| format!("connecting to {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(encode_request(request)?.as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    decode_reply(line.trim_end().as_bytes())
        .map_err(|e| anyhow!("{node}: request {request:?} failed: {e}"))
}

/// `status` of `node`'s daemon.
pub fn status(cluster: &Cluster<'_>, node: &str) -> Result<Status> {
    request(cluster, node, &Request::Status)
}

/// `cleanup` on `node` of `group` (every group when `None`): the groups cleared.
pub fn cleanup(cluster: &Cluster<'_>, node: &str, group: Option<&str>) -> Result<Vec<String>> {
    let reply: CleanupReply = request(
        cluster,
        node,
        &Request::Cleanup {
            group: group.map(str::to_owned),
        },
    )?;
    Ok(reply.cleared)
}

/// What `node` thinks of `peer`.
pub fn peer_status(cluster: &Cluster<'_>, node: &str, peer: &str) -> Result<NodeStatus> {
    let s = status(cluster, node)?;
    s.node(peer)
        .map(|n| n.status.clone())
        .ok_or_else(|| anyhow!("{node}'s status lists no node {peer}: {s:?}"))
}

/// `node`'s rejected-input counters.
pub fn counters(cluster: &Cluster<'_>, node: &str) -> Result<Counters> {
    Ok(status(cluster, node)?.counters)
}

/// Resource `resource` of the first group, as `node` reports it.
pub fn first_group_resource(
    cluster: &Cluster<'_>,
    node: &str,
    resource: usize,
) -> Result<Resource> {
    let s = status(cluster, node)?;
    s.groups
        .first()
        .and_then(|g| g.resources.get(resource))
        .cloned()
        .ok_or_else(|| {
            anyhow!("{node}'s status has no resource {resource} in its first group: {s:?}")
        })
}

/// Waits until `node` has judged `runs` more monitor runs of resource `resource` of the first
/// group than it had when called: proof that that much monitoring time went by (each run is
/// one monitor interval) without sleeping for a guessed time. Returns the status then.
pub fn wait_monitor_runs(
    cluster: &Cluster<'_>,
    node: &str,
    resource: usize,
    runs: u64,
    timeout: Duration,
) -> Result<Status> {
    let start = first_group_resource(cluster, node, resource)?.monitors;
    crate::wait_for_some(
        &format!("{runs} more monitor runs of resource {resource} on {node}"),
        timeout,
        || {
            let s = status(cluster, node)?;
            let done = s
                .groups
                .first()
                .and_then(|g| g.resources.get(resource))
                .is_some_and(|r| r.monitors >= start + runs);
            Ok(done.then_some(s))
        },
    )
    .map(|(s, _)| s)
}

/// Waits until `node`'s daemon answers on its control socket (it is up and its event loop
/// runs), failing early if the daemon exited.
pub fn wait_ready(cluster: &Cluster<'_>, node: &str, timeout: Duration) -> Result<Duration> {
    crate::wait_for(&format!("{node}'s control socket"), timeout, || {
        cluster.check_running()?;
        Ok(status(cluster, node).is_ok())
    })
}

/// Waits until `node` reports its first resource group running (every resource started).
pub fn wait_group_running(cluster: &Cluster<'_>, node: &str, timeout: Duration) -> Result<()> {
    crate::wait_for(&format!("the group running on {node}"), timeout, || {
        let s = status(cluster, node)?;
        Ok(s.groups.first().map(|g| &g.state) == Some(&GroupState::Running))
    })?;
    Ok(())
}

/// Starts every node of `cluster` and waits until node1 alone holds the VIP, both nodes see
/// each other active, and node1's group runs.
pub fn start_settled(cluster: &mut Cluster<'_>) -> Result<()> {
    let second = Duration::from_secs(1);
    cluster.start_all()?;
    cluster.wait_for_sole_holder("node1", 20 * second)?;
    crate::wait_for("both nodes active", 10 * second, || {
        Ok(
            peer_status(cluster, "node1", "node2")? == NodeStatus::Active
                && peer_status(cluster, "node2", "node1")? == NodeStatus::Active,
        )
    })?;
    wait_group_running(cluster, "node1", 20 * second)
}
