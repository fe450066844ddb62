//! Helpers for black-box tests of heartbeat-rs: its control socket (`<run-dir>/heartbeat.sock`,
//! one JSON request line, one JSON reply line, protocol version 1).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::Cluster;

/// The control socket of `node`'s daemon.
pub fn control_socket(cluster: &Cluster<'_>, node: &str) -> PathBuf {
    cluster.node_dir(node).join("run").join("heartbeat.sock")
}

/// Sends one request and returns the reply (failing if it says `ok: false`).
pub fn request(cluster: &Cluster<'_>, node: &str, request: &Value) -> Result<Value> {
    let path = control_socket(cluster, node);
    let mut stream =
        UnixStream::connect(&path).with_context(|| format!("connecting to {}", path.display()))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("{request}\n").as_bytes())?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    let reply: Value =
        serde_json::from_str(&line).with_context(|| format!("bad reply {line:?}"))?;
    if reply.get("ok") != Some(&Value::Bool(true)) {
        bail!("{node}: request {request} failed: {reply}");
    }
    Ok(reply)
}

/// `status` of `node`'s daemon.
pub fn status(cluster: &Cluster<'_>, node: &str) -> Result<Value> {
    request(
        cluster,
        node,
        &serde_json::json!({"version": 1, "command": "status"}),
    )
}

/// What `node` thinks of `peer` (`init`, `up`, `active`, `dead`).
pub fn peer_status(cluster: &Cluster<'_>, node: &str, peer: &str) -> Result<String> {
    let s = status(cluster, node)?;
    s["nodes"]
        .as_array()
        .and_then(|nodes| nodes.iter().find(|n| n["name"] == peer))
        .and_then(|n| n["status"].as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("{node}'s status lists no node {peer}: {s}"))
}

/// One of `node`'s rejected-input counters.
pub fn counter(cluster: &Cluster<'_>, node: &str, name: &str) -> Result<u64> {
    let s = status(cluster, node)?;
    s["counters"][name]
        .as_u64()
        .ok_or_else(|| anyhow!("no counter {name} in {s}"))
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
        Ok(status(cluster, node)?["groups"][0]["state"] == "running")
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
        Ok(peer_status(cluster, "node1", "node2")? == "active"
            && peer_status(cluster, "node2", "node1")? == "active")
    })?;
    wait_group_running(cluster, "node1", 20 * second)
}
