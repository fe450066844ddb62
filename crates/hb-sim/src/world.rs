//! The simulated hosts: each one's daemon (if it runs) and the world, the resources actually
//! active on it, which simulated agents change when they finish.

use std::collections::BTreeSet;

use hb_core::{AgentOp, AgentResult, Core, Instant, RememberedPeers};

/// One host.
#[derive(Debug)]
pub(crate) struct Host {
    /// Its daemon's core, while the daemon runs.
    pub(crate) core: Option<Core>,
    /// When the daemon last started.
    pub(crate) booted_at: Instant,
    /// Counts the daemon's starts: the results of agents of an earlier one are ignored.
    pub(crate) incarnation: u64,
    /// The generation the next daemon start gets (one more than the last).
    pub(crate) generation: u64,
    /// Resources (group, resource) active on this host: the world.
    pub(crate) active: BTreeSet<(usize, usize)>,
    /// Identifies the one pending wake-up that is still wanted.
    pub(crate) wake_token: u64,
    /// When the daemon asked to be woken.
    pub(crate) wake_at: Option<Instant>,
    /// Resources whose start fails here.
    pub(crate) fail_start: BTreeSet<(usize, usize)>,
    /// Resources whose stop fails here.
    pub(crate) fail_stop: BTreeSet<(usize, usize)>,
    /// What the daemon last asked to remember of its peers (its state dir): handed to its
    /// next start.
    pub(crate) disk_peers: RememberedPeers,
    /// Sequenced datagrams of other nodes delivered to the daemon, in order (the last
    /// [`RECORDED_MAX`] of them): what an attacker on the LAN could have recorded.
    pub(crate) received: Vec<Vec<u8>>,
    /// How many of `received` had been delivered when the daemon last wrote `disk_peers`.
    pub(crate) remembered_upto: usize,
    /// Recordings the daemon saw before its last write, kept at its crash for replay.
    pub(crate) replayable: Vec<Vec<u8>>,
    /// How many times fencing reset this host (a reboot scheduled before a later reset is
    /// stale).
    pub(crate) resets: u64,
    /// This host's `haresources` when it differs from [`crate::Params::groups`] (it reloaded
    /// a new file before its peer): what its daemon reads at its next start.
    pub(crate) groups: Option<Vec<(usize, usize)>>,
}

/// Datagrams recorded per host for replay.
pub(crate) const RECORDED_MAX: usize = 400;

impl Host {
    /// A host with no daemon and nothing active.
    pub(crate) fn new() -> Host {
        Host {
            core: None,
            booted_at: Instant::from_nanos(0),
            incarnation: 0,
            generation: 1000,
            active: BTreeSet::new(),
            wake_token: 0,
            wake_at: None,
            fail_start: BTreeSet::new(),
            fail_stop: BTreeSet::new(),
            disk_peers: RememberedPeers::new(),
            received: Vec::new(),
            remembered_upto: 0,
            replayable: Vec::new(),
            resets: 0,
            groups: None,
        }
    }

    /// Records a sequenced datagram of another node delivered to the daemon.
    pub(crate) fn record(&mut self, bytes: &[u8]) {
        if self.received.len() == RECORDED_MAX {
            self.received.remove(0);
            self.remembered_upto = self.remembered_upto.saturating_sub(1);
        }
        self.received.push(bytes.to_vec());
    }

    /// The daemon wrote its table of peers.
    pub(crate) fn remembered(&mut self, table: RememberedPeers) {
        self.disk_peers = table;
        self.remembered_upto = self.received.len();
    }

    /// The daemon died: what it saw before its last write stays replayable.
    pub(crate) fn keep_replayable(&mut self) {
        self.replayable = self
            .received
            .get(..self.remembered_upto)
            .unwrap_or_default()
            .to_vec();
        self.received.clear();
        self.remembered_upto = 0;
    }

    /// What a simulated agent for resource `r` (group, resource) does to the world.
    pub(crate) fn apply_agent(&mut self, r: (usize, usize), op: AgentOp) -> AgentResult {
        match op {
            AgentOp::Start => {
                if self.fail_start.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    self.active.insert(r);
                    AgentResult::Success
                }
            }
            AgentOp::Stop => {
                if self.fail_stop.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    self.active.remove(&r);
                    AgentResult::Success
                }
            }
            AgentOp::Status | AgentOp::Monitor => {
                if self.active.contains(&r) {
                    AgentResult::Running
                } else {
                    AgentResult::NotRunning
                }
            }
        }
    }

    /// How many resources of group `g` are active here.
    pub(crate) fn active_in(&self, g: usize) -> usize {
        self.active.iter().filter(|r| r.0 == g).count()
    }

    /// Whether a start of group `g` could succeed here: the daemon runs, has not seen the
    /// group fail here, and no start of one of its resources is set to fail.
    pub(crate) fn can_start(&self, g: usize) -> bool {
        self.core.as_ref().is_some_and(|c| !c.group_failed_here(g))
            && !self.fail_start.iter().any(|r| r.0 == g)
    }
}
