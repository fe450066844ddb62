//! Read-only views of the core's state, for the control socket, logs and tests.

use std::fmt;

use std::time::Duration;

use crate::Instant;
use crate::action::Class;

/// A node's status as Heartbeat names it (spec §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeStatus {
    /// Never heard from (or, for ourselves, just started).
    Init,
    /// Heartbeating, cluster communication not yet up.
    Up,
    /// Communication up; taking part in resource management.
    Active,
    /// Silent for longer than its deadtime (or gone after a graceful stop).
    Dead,
    /// A ping node that answers.
    Ping,
}

/// Cluster node or ping node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeKind {
    /// A cluster node (`node` line).
    Normal,
    /// A ping node (`ping`, `ping6`, `ping_group`).
    Ping,
}

impl NodeStatus {
    /// Heartbeat's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeStatus::Init => "init",
            NodeStatus::Up => "up",
            NodeStatus::Active => "active",
            NodeStatus::Dead => "dead",
            NodeStatus::Ping => "ping",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<NodeStatus> {
        Some(match s {
            "init" => NodeStatus::Init,
            "up" => NodeStatus::Up,
            "active" => NodeStatus::Active,
            "dead" => NodeStatus::Dead,
            _ => return None,
        })
    }
}

impl fmt::Display for NodeStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A resource group's state on this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupState {
    /// Not running here.
    Stopped,
    /// Start-up probe (status of every resource) in progress.
    Probing,
    /// Starting its resources left to right.
    Starting,
    /// All resources started.
    Running,
    /// Running its resources' start again to re-announce it (after a dual-holding heal).
    Reannouncing,
    /// Stopping its resources right to left.
    Stopping,
    /// A monitor failed: the failed resource and those after it are being restarted.
    Restarting,
    /// A stop failed: resources may still run here. The group is not managed any more and
    /// is never started elsewhere until an operator clears it.
    Failed,
}

impl GroupState {
    /// Lower-case name for logs and status output.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupState::Stopped => "stopped",
            GroupState::Probing => "probing",
            GroupState::Starting => "starting",
            GroupState::Running => "running",
            GroupState::Reannouncing => "reannouncing",
            GroupState::Stopping => "stopping",
            GroupState::Restarting => "restarting",
            GroupState::Failed => "failed",
        }
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What this node believes of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceState {
    /// Not known yet (before the start-up probe).
    Unknown,
    /// Stopped here.
    Stopped,
    /// Its start is running.
    Starting,
    /// Running here.
    Running,
    /// Its stop is running.
    Stopping,
    /// A start, stop or monitor failed.
    Failed,
}

impl ResourceState {
    /// Lower-case name for status output.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceState::Unknown => "unknown",
            ResourceState::Stopped => "stopped",
            ResourceState::Starting => "starting",
            ResourceState::Running => "running",
            ResourceState::Stopping => "stopping",
            ResourceState::Failed => "failed",
        }
    }
}

impl fmt::Display for ResourceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One resource of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResourceView {
    /// As written in haresources.
    pub name: String,
    /// What this node believes of it.
    pub state: ResourceState,
    /// Monitor interval, `None` when not monitored.
    pub monitor_interval: Option<Duration>,
    /// Monitor failures within the current restart window.
    pub failures: u32,
    /// In-place restarts since the daemon started.
    pub restarts: u64,
    /// Monitor runs judged since the daemon started (passed or failed; a late result of a
    /// cancelled run is not counted).
    pub monitors: u64,
    /// When it last failed and how.
    pub last_failure: Option<(Instant, String)>,
}

/// One heartbeat link of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkView {
    /// Link (device) name.
    pub name: String,
    /// Whether anything authenticated arrived on it within the node's deadtime.
    pub up: bool,
}

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// Heartbeat status.
    pub status: NodeStatus,
    /// Per-link state (for ourselves every link is reported up).
    pub links: Vec<LinkView>,
    /// Whether this is the local node.
    pub is_self: bool,
    /// Whether the node announced itself as heartbeat-rs.
    pub heartbeat_rs: bool,
    /// When its status last changed (`None`: not since the daemon started).
    pub since: Option<Instant>,
    /// Cluster node or ping node.
    pub kind: NodeKind,
}

/// One resource group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupView {
    /// Group key.
    pub key: String,
    /// Preferred node.
    pub preferred: String,
    /// State here.
    pub state: GroupState,
    /// Who holds it, as far as this node knows.
    pub holder: Option<String>,
    /// A start failed here or the restart limit was reached; the group will not be started
    /// here again until an operator clears it (`hb_cleanup`).
    pub failed_here: bool,
    /// Why the group may not run here or is unmanaged.
    pub failure: Option<String>,
    /// False while a failed stop leaves the group unmanaged.
    pub managed: bool,
    /// When its state here last changed.
    pub since: Option<Instant>,
    /// Its resources, in start order.
    pub resources: Vec<ResourceView>,
}

/// Counters of rejected input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams that could not be parsed.
    pub malformed: u64,
    /// Datagrams whose signature did not verify.
    pub auth_failed: u64,
    /// Authenticated messages from a node not in ha.cf.
    pub unknown_node: u64,
    /// Messages from an older generation than known (replays).
    pub replayed: u64,
    /// Duplicates and stale messages of the current generation.
    pub duplicate: u64,
    /// Messages accepted.
    pub accepted: u64,
    /// Missing messages we asked a peer to retransmit (each request of a message counts).
    pub rexmit_asked: u64,
    /// Messages we retransmitted at a peer's request.
    pub rexmit_sent: u64,
}

/// Everything at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Nodes in ha.cf order.
    pub nodes: Vec<NodeView>,
    /// Groups in haresources order.
    pub groups: Vec<GroupView>,
    /// Heartbeat's `rscstatus`: the class this node holds, or `None` while resources are
    /// in transition (Heartbeat prints `transition`).
    pub rsc_class: Option<Class>,
    /// Rejected-input counters.
    pub counters: Counters,
    /// Whether a graceful shutdown is in progress.
    pub shutting_down: bool,
    /// This node hears no peer and no ping node and holds nothing on purpose (the isolation
    /// rule, `docs/ha.cf.md#isolation`).
    pub isolated: bool,
    /// Fencing of the dead peer, while it blocks a takeover or after it reset the peer
    /// (until the peer is heard again).
    pub fencing: Option<FenceView>,
    /// A stop failed here with fencing configured: this node stopped heartbeating so that its
    /// peer fences it (`docs/ha.cf.md#stonith`).
    pub awaiting_fence: bool,
}

/// Where fencing of the dead peer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FenceState {
    /// Needed, waiting for the isolation check before the first attempt.
    Needed,
    /// An attempt runs.
    Running,
    /// The last attempt failed; another follows.
    Retrying,
    /// The peer was reset (or an operator confirmed it down).
    Fenced,
}

impl FenceState {
    /// The word the control socket uses.
    pub fn as_str(self) -> &'static str {
        match self {
            FenceState::Needed => "needed",
            FenceState::Running => "running",
            FenceState::Retrying => "retrying",
            FenceState::Fenced => "fenced",
        }
    }
}

impl fmt::Display for FenceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Fencing of one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceView {
    /// The node being (or that was) fenced.
    pub node: String,
    /// Where it stands.
    pub state: FenceState,
    /// Attempts started so far.
    pub attempts: u32,
    /// How the last finished attempt ended (`FenceResult`'s text), if any.
    pub last_result: Option<String>,
    /// When the next attempt starts (while retrying).
    pub retry_at: Option<Instant>,
}
