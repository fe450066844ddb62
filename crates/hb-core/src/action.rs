//! Inputs and outputs of the core that are not packets: agent runs, their results, and
//! operator commands.

use std::fmt;

/// Identifies one agent run; the shell hands it back with the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OpId(pub u64);

impl fmt::Display for OpId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op{}", self.0)
    }
}

/// An operation of the heartbeat `resource.d` convention.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AgentOp {
    /// Start the resource (idempotent).
    Start,
    /// Stop the resource (idempotent).
    Stop,
    /// Ask whether the resource is running here (the start-up probe, and checking a
    /// resource whose stop failed).
    Status,
    /// Recurring health check of a running resource (OCF `monitor`; `status` for heartbeat
    /// and LSB scripts). Answered like [`AgentOp::Status`].
    Monitor,
}

impl AgentOp {
    /// The action word passed to the agent.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentOp::Start => "start",
            AgentOp::Stop => "stop",
            AgentOp::Status => "status",
            AgentOp::Monitor => "monitor",
        }
    }
}

impl fmt::Display for AgentOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an agent run came to, as judged by the shell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentResult {
    /// start/stop succeeded.
    Success,
    /// status: the resource runs here.
    Running,
    /// status: the resource does not run here.
    NotRunning,
    /// The agent exited unsuccessfully (exit code, or `None` if killed by a signal) or
    /// could not be run at all.
    Failed(Option<i32>),
    /// The agent exceeded its timeout and its process group was killed.
    TimedOut,
}

impl AgentResult {
    pub(crate) fn is_success(self) -> bool {
        matches!(self, AgentResult::Success)
    }
}

impl fmt::Display for AgentResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentResult::Success => f.write_str("success"),
            AgentResult::Running => f.write_str("running"),
            AgentResult::NotRunning => f.write_str("not running"),
            AgentResult::Failed(Some(c)) => write!(f, "failed (exit {c})"),
            AgentResult::Failed(None) => f.write_str("failed (killed or not runnable)"),
            AgentResult::TimedOut => f.write_str("timed out"),
        }
    }
}

/// What a fencing attempt came to, as judged by the shell (cluster-glue's `stonith` exit
/// code, or a fence agent's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceResult {
    /// The node was reset (`stonith` exit 0, `S_OK`).
    Ok,
    /// The device cannot reset this node (`stonith` exit 4, `S_BADHOST`).
    BadHost,
    /// Any other failure: the exit code, or `None` if killed by a signal or not runnable.
    Failed(Option<i32>),
    /// The attempt exceeded `fence_timeout` and its process group was killed.
    TimedOut,
}

impl FenceResult {
    /// The `result` field of Heartbeat's `stonith` message (`OK`, `badhost`, `bad`).
    pub fn wire_word(self) -> &'static str {
        match self {
            FenceResult::Ok => "OK",
            FenceResult::BadHost => "badhost",
            FenceResult::Failed(_) | FenceResult::TimedOut => "bad",
        }
    }
}

impl fmt::Display for FenceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FenceResult::Ok => f.write_str("reset"),
            FenceResult::BadHost => f.write_str("the device cannot reset this host"),
            FenceResult::Failed(Some(c)) => write!(f, "failed (exit {c})"),
            FenceResult::Failed(None) => f.write_str("failed (killed or not runnable)"),
            FenceResult::TimedOut => f.write_str("timed out"),
        }
    }
}

/// Something the shell must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send this datagram on every heartbeat medium.
    Transmit(Vec<u8>),
    /// Run `op` on resource `resource` of group `group` and report back with
    /// [`crate::Core::handle_agent_done`]. Runs of different groups may overlap. The core
    /// never asks for two start/stop/status runs of the same group at once; a recurring
    /// [`AgentOp::Monitor`] may still be running when a stop begins (its late result is
    /// ignored).
    RunAgent {
        /// Token to hand back with the result.
        id: OpId,
        /// Index into [`crate::CoreConfig::groups`].
        group: usize,
        /// Index into that group's resources.
        resource: usize,
        /// Which operation.
        op: AgentOp,
    },
    /// Write this table durably (replacing the previous one) and hand it back in
    /// [`crate::Boot::peers`] at the next start: what this node has seen of each peer, so
    /// that recordings of it are recognised as replays after a restart of ours. Asked for
    /// when a peer's generation changes, at most about once a second (or once per keepalive,
    /// if longer) while sequence numbers advance, and once more at the end of a graceful
    /// shutdown.
    RememberPeers(crate::RememberedPeers),
    /// Send one ICMP (or ICMPv6) echo request to this ping node address; report a matching
    /// echo reply with [`crate::Core::handle_ping_reply`]. Lost probes need no report.
    Ping(std::net::IpAddr),
    /// Pet the watchdog device (asked with every status heartbeat sent, when
    /// [`crate::CoreConfig::watchdog`] is set).
    PetWatchdog,
    /// Reset (fence) node `node` with the configured device and report with
    /// [`crate::Core::handle_fence_done`]. At most one runs at a time; the shell bounds it
    /// with `fence_timeout`.
    Fence {
        /// Token to hand back with the result.
        id: OpId,
        /// The node to reset.
        node: String,
    },
    /// A reload ([`crate::Core::reconfigure`]) changed the group table: from this action on,
    /// the `group` of [`Action::RunAgent`] and the group indexes of commands and snapshots
    /// refer to this list (the new `haresources`, in its order). Runs already started keep
    /// the definition they started with.
    UseGroups(Vec<crate::GroupConfig>),
}

/// Resource classes as Heartbeat names them in `rsc_hold`, always from the point of view
/// of the node that says them (spec §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// No groups.
    None,
    /// The groups that prefer the speaker.
    Local,
    /// The groups that prefer another node.
    Foreign,
    /// Both.
    All,
}

impl Class {
    /// The wire word.
    pub fn as_str(self) -> &'static str {
        match self {
            Class::None => "none",
            Class::Local => "local",
            Class::Foreign => "foreign",
            Class::All => "all",
        }
    }

    /// Parses a wire word (`failback` is Heartbeat's alias of `foreign` for hb_standby).
    pub fn parse(s: &str) -> Option<Class> {
        Some(match s {
            "none" => Class::None,
            "local" => Class::Local,
            "foreign" | "failback" => Class::Foreign,
            "all" => Class::All,
            _ => return None,
        })
    }

    pub(crate) fn from_parts(local: bool, foreign: bool) -> Class {
        match (local, foreign) {
            (false, false) => Class::None,
            (true, false) => Class::Local,
            (false, true) => Class::Foreign,
            (true, true) => Class::All,
        }
    }

    pub(crate) fn has_local(self) -> bool {
        matches!(self, Class::Local | Class::All)
    }

    pub(crate) fn has_foreign(self) -> bool {
        matches!(self, Class::Foreign | Class::All)
    }

    /// The same groups named from the other node's point of view (two-node clusters).
    pub fn mirrored(self) -> Class {
        match self {
            Class::Local => Class::Foreign,
            Class::Foreign => Class::Local,
            c => c,
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Operator requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Graceful stop: release every group in reverse order, tell the peers, then finish.
    Shutdown,
    /// `hb_standby CLASS`: give the groups of this class (our view) to the peer.
    Standby(Class),
    /// `hb_takeover CLASS`: ask the peer to give us the groups of this class (our view).
    Takeover(Class),
    /// `hb_cleanup`: forget the failures recorded for one group (index into
    /// [`crate::CoreConfig::groups`]) or, with `None`, every group; a group left unmanaged by
    /// a failed stop is probed again and managed if it is found stopped.
    Cleanup(Option<usize>),
}
