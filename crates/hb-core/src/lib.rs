//! The heartbeat-rs state machine: membership, failure detection, resource-group ownership
//! and takeover decisions, with no I/O at all.
//!
//! The core is driven by events and answers with actions (the style of quinn-proto and
//! openraft's engine):
//!
//! - inputs: [`Core::handle_datagram`] (a received heartbeat datagram and the link it came
//!   in on), [`Core::handle_timeout`] (the clock reached [`Core::poll_timeout`]),
//!   [`Core::handle_agent_done`] (a resource agent finished), [`Core::handle_command`]
//!   (operator requests such as a graceful shutdown);
//! - outputs: [`Core::poll_action`] drains [`Action`]s: datagrams to transmit on every medium,
//!   agent runs to start.
//!
//! Every input carries `now`, an [`Instant`] on the caller's monotonic clock; the core never
//! reads a clock, opens a socket, spawns a process or blocks. Its only randomness comes from
//! a ChaCha RNG seeded by the caller, and it only iterates ordered collections, so a run is
//! an exact function of its inputs: the simulator and the unit tests replay thousands of
//! fault schedules deterministically.
//!
//! Must never depend on: tokio, socket2, rtnetlink, nix, `Instant::now`/`SystemTime::now`,
//! threads or processes. Log lines go through `tracing` (a facade; the binary installs the
//! subscriber).
//!
//! The protocol is Heartbeat 3.0.6's, byte for byte (`docs/protocol.md` and the shared
//! wire spec): status heartbeats with generation and sequence numbers, NAK-based
//! retransmission, `reqnodes`/`repnodes`, and the haresources resource negotiation
//! (`starting`, `resource`, `ask_resources`, `ip-request`, `shutdone`, `stonith`). Where
//! heartbeat-rs does better (no 10 s start-up delay between heartbeat-rs nodes, resolving a
//! group held on both sides of a healed partition without restarting), it uses extra fields
//! that Heartbeat 3 ignores; `docs/protocol.md` lists them.

#![forbid(unsafe_code)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]

mod action;
mod config;
mod groups;
mod legacy;
mod membership;
mod nice;
mod recv;
mod res;
mod send;
mod snapshot;
mod time;
mod wire;

use std::collections::VecDeque;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::SeedableRng;

pub use action::{Action, AgentOp, AgentResult, Class, Command, OpId};
pub use config::{AutoFailback, CoreConfig, GroupConfig, MonitorPolicy};
pub use snapshot::{
    Counters, GroupState, GroupView, LinkView, NodeStatus, NodeView, ResourceState, ResourceView,
    Snapshot,
};
pub use time::Instant;
pub use wire::EXTENSION_VERSION;

use membership::NodeState;
use res::ResState;
use send::History;

/// Errors the core can report (only at construction: bad input at run time is counted
/// and logged, never an error).
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The configuration violates an invariant.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

/// Facts about this start of the daemon that come from outside the core.
#[derive(Clone, Debug)]
pub struct Boot {
    /// Heartbeat generation for this run (persisted and incremented by the shell).
    pub generation: u64,
    /// This node's 16-byte UUID.
    pub uuid: [u8; 16],
    /// Wall-clock time (UNIX seconds) at `now` of [`Core::new`]; used only for the
    /// informational `ts` field.
    pub wall_clock_secs: u64,
    /// Seed of the RNG behind retransmission jitter and acknowledgement phases.
    pub seed: u64,
}

/// Rate limit for repetitive warnings (rejected packets).
const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// The state machine. See the crate documentation.
#[derive(Debug)]
pub struct Core {
    cfg: CoreConfig,
    uuid: [u8; 16],
    generation: u64,
    boot_at: Instant,
    wall_clock_secs: u64,
    rng: ChaCha8Rng,
    load_average: String,
    actions: VecDeque<Action>,
    /// Latest `now` seen; inputs with an earlier `now` are treated as happening at it.
    now: Instant,

    // Sending.
    next_seq: u64,
    history: History,
    next_status_at: Instant,
    status_dirty: bool,

    // Membership.
    nodes: Vec<NodeState>,
    comm_up: bool,
    reqnodes: Option<membership::ReqNodes>,

    // Resources.
    res: ResState,

    counters: Counters,
    warned: std::collections::BTreeMap<&'static str, (Instant, u64)>,
}

impl Core {
    /// Builds the core and queues the first status heartbeats (`st=init`, then `st=up`) and
    /// the start-up probe of every resource.
    pub fn new(cfg: CoreConfig, boot: Boot, now: Instant) -> Result<Core, CoreError> {
        cfg.validate()?;
        let nodes = cfg
            .nodes
            .iter()
            .enumerate()
            .map(|(i, name)| NodeState::new(name.clone(), i == cfg.me, &cfg))
            .collect();
        let res = ResState::new(&cfg);
        let mut core = Core {
            uuid: boot.uuid,
            generation: boot.generation,
            boot_at: now,
            wall_clock_secs: boot.wall_clock_secs,
            rng: ChaCha8Rng::seed_from_u64(boot.seed),
            load_average: "n/a".to_string(),
            actions: VecDeque::new(),
            now,
            next_seq: 1,
            history: History::default(),
            next_status_at: now,
            status_dirty: false,
            nodes,
            comm_up: false,
            reqnodes: None,
            res,
            counters: Counters::default(),
            warned: Default::default(),
            cfg,
        };
        core.start(now);
        Ok(core)
    }

    /// The next action for the shell, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// When [`Core::handle_timeout`] must be called next, at the latest.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        let mut t = self.next_status_at;
        let mut fold = |x: Option<Instant>| {
            if let Some(x) = x {
                t = t.min(x);
            }
        };
        fold(self.membership_deadline());
        fold(self.rexmit_deadline());
        fold(self.res_deadline());
        Some(t)
    }

    /// The clock reached (or passed) a deadline given by [`Core::poll_timeout`]. Calling it
    /// early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.membership_tick(now);
        self.rexmit_tick(now);
        self.res_tick(now);
        if now >= self.next_status_at || self.status_dirty {
            self.send_status(now);
        }
    }

    /// A resource agent run finished.
    pub fn handle_agent_done(&mut self, now: Instant, id: OpId, result: AgentResult) {
        let now = self.advance(now);
        self.on_agent_done(now, id, result);
        self.flush_status(now);
    }

    /// An operator command. Returns what it did (the groups a cleanup cleared), or why it
    /// was refused (a standby without a stable peer, ...); a refusal is logged too.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<Vec<String>, String> {
        let now = self.advance(now);
        let out = match cmd {
            Command::Shutdown => {
                self.begin_shutdown(now);
                Ok(Vec::new())
            }
            Command::Standby(class) => self
                .request_standby(now, class, "hb_standby")
                .map(|()| Vec::new()),
            Command::Takeover(class) => self.request_takeover(now, class).map(|()| Vec::new()),
            Command::Cleanup(which) => Ok(self.cleanup(now, which)),
        };
        self.flush_status(now);
        out
    }

    /// The first line of `/proc/loadavg`, sent in the informational `ld` field.
    pub fn set_load_average(&mut self, load: &str) {
        let load = load.trim();
        if !load.is_empty() {
            self.load_average = load.to_string();
        }
    }

    /// True once a graceful shutdown has completed: the shell may exit.
    pub fn is_finished(&self) -> bool {
        self.res.finished
    }

    /// Whether a graceful shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        self.res.shutdown.is_some()
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.cfg.nodes[self.cfg.me]
    }

    /// The configuration the core runs with.
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }

    /// Status of a node by name.
    pub fn node_status(&self, name: &str) -> Option<NodeStatus> {
        self.nodes.iter().find(|n| n.name == name).map(|n| n.status)
    }

    /// State of a group on this node.
    pub fn group_state(&self, group: usize) -> Option<GroupState> {
        self.res.groups.get(group).map(|g| g.state())
    }

    /// Whether group `group` failed here (start failure or restart limit) and will not run
    /// here until an operator clears it.
    pub fn group_failed_here(&self, group: usize) -> bool {
        self.res.groups.get(group).is_some_and(|g| g.failed_here)
    }

    /// Everything at once.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            nodes: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| n.view(i == self.cfg.me, &self.cfg))
                .collect(),
            groups: self.group_views(),
            rsc_class: self.rsc_class(),
            counters: self.counters,
            shutting_down: self.res.shutdown.is_some(),
        }
    }

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// A warning that may repeat at packet rate: logged at most every [`WARN_INTERVAL`] per
    /// kind, with the number suppressed since.
    fn warn_limited(&mut self, now: Instant, kind: &'static str, text: impl FnOnce() -> String) {
        match self.warned.get_mut(kind) {
            None => {
                self.warned.insert(kind, (now, 0));
                tracing::warn!("{}", text());
            }
            Some(entry) if now.saturating_since(entry.0) >= WARN_INTERVAL => {
                let suppressed = std::mem::replace(entry, (now, 0)).1;
                if suppressed > 0 {
                    tracing::warn!("{} ({suppressed} more like it suppressed)", text());
                } else {
                    tracing::warn!("{}", text());
                }
            }
            Some(entry) => entry.1 += 1,
        }
    }
}

#[cfg(test)]
mod tests;
