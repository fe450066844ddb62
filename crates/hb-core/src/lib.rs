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
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used, clippy::expect_used))]
// The core sees network input: no indexing or slicing that could panic (tests may index).
// Nodes and groups are indexed by ids only their collections make.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod action;
mod config;
mod ctx;
mod membership;
mod nodes;
mod ping;
mod reach;
mod reconfigure;
mod recv;
mod remember;
mod resources;
mod send;
mod snapshot;
mod time;
mod wire;

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore as _;
use rand_core::SeedableRng;

pub use action::{Action, AgentOp, AgentResult, Class, Command, FenceResult, OpId};
pub use config::{AutoFailback, CoreConfig, FenceSetup, GroupConfig, MonitorPolicy};
pub use ping::{PingSetup, PingTarget};
pub use reconfigure::Reconfigured;
pub use remember::{PeerMark, RememberedPeers};
pub use resources::GroupChanges;
pub use snapshot::{
    Counters, FenceState, FenceView, GroupState, GroupView, LinkView, NodeKind, NodeStatus,
    NodeView, ResourceState, ResourceView, Snapshot,
};
pub use time::Instant;
pub use wire::EXTENSION_VERSION;

use ctx::{Ctx, Warnings};
use membership::ReqNodes;
use nodes::Nodes;
use ping::PingNodes;
use reach::Reach;
use resources::Resources;
use send::Outbox;

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
    /// What an earlier run remembered of each peer (the last table of
    /// [`Action::RememberPeers`] it wrote; empty if none): messages at or below a peer's
    /// mark are replays.
    pub peers: RememberedPeers,
}

/// The state machine. See the crate documentation.
///
/// Each part owns its state: [`Nodes`] what is known of every node, [`Outbox`] what goes
/// out (and how it is signed and numbered), [`Resources`] the groups and their negotiation;
/// the core wires the inputs to them (membership in `membership.rs`, receiving in
/// `recv.rs`).
#[derive(Debug)]
pub struct Core {
    cfg: CoreConfig,
    generation: u64,
    rng: ChaCha8Rng,
    /// Heartbeat's `OnlyForTesting` hook, when enabled: deliberate message loss.
    test_options: Option<hb_config::TestOptions>,
    /// Latest `now` seen; inputs with an earlier `now` are treated as happening at it.
    now: Instant,
    out: Outbox,
    warnings: Warnings,
    counters: Counters,
    /// When to ask for the remembered table to be written.
    persist: remember::Persist,

    // Membership.
    nodes: Nodes,
    boot_at: Instant,
    next_status_at: Instant,
    status_dirty: bool,
    comm_up: bool,
    reqnodes: Option<ReqNodes>,

    // Ping nodes and what they decide.
    pings: PingNodes,
    reach: Reach,

    res: Resources,
}

impl Core {
    /// Builds the core and queues the first status heartbeats (`st=init`, then `st=up`) and
    /// the start-up probe of every resource.
    pub fn new(cfg: CoreConfig, boot: Boot, now: Instant) -> Result<Core, CoreError> {
        cfg.validate()?;
        let mut nodes = Nodes::new(&cfg);
        nodes.remember(&boot.peers);
        let res = Resources::new(&cfg, &nodes);
        let pings = PingNodes::new(
            &cfg.ping,
            cfg.timing.keepalive(),
            cfg.timing.deadtime(),
            now,
        );
        let mut core = Core {
            generation: boot.generation,
            rng: ChaCha8Rng::seed_from_u64(boot.seed),
            test_options: None,
            now,
            out: Outbox::new(boot.uuid, boot.generation, now, boot.wall_clock_secs),
            warnings: Warnings::default(),
            counters: Counters::default(),
            persist: remember::Persist::default(),
            nodes,
            boot_at: now,
            next_status_at: now,
            status_dirty: false,
            comm_up: false,
            reqnodes: None,
            pings,
            reach: Reach::default(),
            res,
            cfg,
        };
        core.start(now);
        Ok(core)
    }

    /// `authkeys` was read again (SIGHUP, Heartbeat's "Rereading authentication file."): from
    /// now on datagrams are signed with the new file's `auth` key and every key it lists is
    /// accepted. Datagrams already sent (kept for retransmission) keep their signature.
    /// Returns whether the keys changed.
    pub fn set_keys(&mut self, keys: hb_proto::KeyRing) -> bool {
        if self.cfg.keys == keys {
            return false;
        }
        tracing::info!(
            "Rereading authentication file. (signing with key {} from now on)",
            keys.sign_index()
        );
        self.cfg.keys = keys;
        true
    }

    /// Enables (or with `None` disables) Heartbeat's test hook `OnlyForTesting`: messages
    /// sent and received are dropped with its probabilities (Heartbeat's CTS partitions a node
    /// this way). Logged with Heartbeat's words.
    pub fn set_test_options(&mut self, options: Option<hb_config::TestOptions>) {
        match &options {
            Some(o) => {
                tracing::warn!("WARNING: Enabling Test Code");
                if let Some(p) = o.rcvloss {
                    tracing::info!("Receive loss probability = {p:.3}");
                }
                if let Some(p) = o.xmitloss {
                    tracing::info!("Xmit loss probability = {p:.3}");
                }
                if !o.allownodes.is_empty() {
                    tracing::info!("Allow nodes = {}", o.allownodes);
                }
                for name in &o.unknown {
                    tracing::warn!("Cannot recognize test param [{name}] in OnlyForTesting");
                }
                tracing::warn!("WARNING: Above Options Now Enabled.");
            }
            None if self.test_options.is_some() => tracing::info!("Test Code Now disabled."),
            None => {}
        }
        self.test_options = options;
    }

    /// A uniform draw in [0, 1) from the core's generator.
    fn draw(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The next action for the shell, if any.
    pub fn poll_action(&mut self) -> Option<Action> {
        loop {
            let action = self.out.pop()?;
            if let Action::UseGroups(groups) = &action {
                self.cfg.groups.clone_from(groups);
            }
            if matches!(action, Action::Transmit(_) | Action::PetWatchdog)
                && self.res.awaiting_fence()
            {
                // Silent until the peer fences this node (a stop failed).
                continue;
            }
            if matches!(action, Action::Transmit(_))
                && self.test_options.is_some()
                && let draw = self.draw()
                && self
                    .test_options
                    .as_ref()
                    .is_some_and(|o| o.drop_sent(draw))
            {
                continue;
            }
            return Some(action);
        }
    }

    /// When [`Core::handle_timeout`] must be called next, at the latest.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        let next = [
            self.membership_deadline(),
            self.rexmit_deadline(),
            self.res.deadline(),
            self.reach_deadline(),
        ]
        .into_iter()
        .flatten()
        .fold(self.next_status_at, Instant::min);
        Some(next)
    }

    /// The clock reached (or passed) a deadline given by [`Core::poll_timeout`]. Calling it
    /// early or often is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let now = self.advance(now);
        self.membership_tick(now);
        self.rexmit_tick(now);
        self.reach_tick(now);
        let (res, mut ctx) = self.split();
        res.tick(&mut ctx);
        if now >= self.next_status_at || self.status_dirty {
            self.send_status(now);
        }
        self.remember_peers(now);
    }

    /// A resource agent run finished.
    pub fn handle_agent_done(&mut self, now: Instant, id: OpId, result: AgentResult) {
        let now = self.advance(now);
        let (res, mut ctx) = self.split();
        res.on_agent_done(&mut ctx, id, result);
        self.flush_status(now);
        self.remember_peers(now);
    }

    /// A fencing attempt ([`Action::Fence`]) finished.
    pub fn handle_fence_done(&mut self, now: Instant, id: OpId, result: FenceResult) {
        let now = self.advance(now);
        let (res, mut ctx) = self.split();
        res.on_fence_done(&mut ctx, id, result);
        self.flush_status(now);
        self.remember_peers(now);
    }

    /// An operator command. Returns what it did (the groups a cleanup cleared), or why it
    /// was refused (a standby without a stable peer, ...); a refusal is logged too.
    pub fn handle_command(&mut self, now: Instant, cmd: Command) -> Result<Vec<String>, String> {
        let now = self.advance(now);
        let (res, mut ctx) = self.split();
        let out = match cmd {
            Command::Shutdown => {
                res.shutdown(&mut ctx);
                Ok(Vec::new())
            }
            Command::Standby(class) => res.standby(&mut ctx, class).map(|()| Vec::new()),
            Command::Takeover(class) => res.takeover(&mut ctx, class).map(|()| Vec::new()),
            Command::Cleanup(which) => Ok(res.cleanup(&mut ctx, which)),
        };
        self.flush_status(now);
        self.remember_peers(now);
        out
    }

    /// The first line of `/proc/loadavg`, sent in the informational `ld` field.
    pub fn set_load_average(&mut self, load: &str) {
        let load = load.trim();
        if !load.is_empty() {
            self.out.set_load_average(load.to_string());
        }
    }

    /// True once a graceful shutdown has completed: the shell may exit.
    pub fn is_finished(&self) -> bool {
        self.res.is_finished()
    }

    /// Whether a graceful shutdown has been requested.
    pub fn is_shutting_down(&self) -> bool {
        self.res.is_shutting_down()
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        self.nodes.my_name()
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
        self.res.group_state(group)
    }

    /// Whether group `group` failed here (start failure or restart limit) and will not run
    /// here until an operator clears it.
    pub fn group_failed_here(&self, group: usize) -> bool {
        self.res.group_failed_here(group)
    }

    /// Everything at once.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            nodes: self.node_views(),
            groups: self.res.group_views(&self.nodes),
            rsc_class: self.res.rsc_class(&self.nodes),
            counters: Counters {
                rexmit_sent: self.out.rexmit_sent,
                ..self.counters
            },
            shutting_down: self.res.is_shutting_down(),
            isolated: self.reach.isolated,
            fencing: self.res.fence_view(),
            awaiting_fence: self.res.awaiting_fence(),
        }
    }

    /// Cluster nodes and ping nodes in `ha.cf` order.
    fn node_views(&self) -> Vec<NodeView> {
        let mut nodes = self.nodes.views(&self.cfg);
        let mut pings: Vec<(usize, NodeView)> = self.pings.views().collect();
        // Insert from the last so that earlier positions stay valid.
        pings.reverse();
        for (before, view) in pings {
            let at = before.min(nodes.len());
            nodes.insert(at, view);
        }
        nodes
    }

    fn advance(&mut self, now: Instant) -> Instant {
        if now > self.now {
            self.now = now;
        }
        self.now
    }

    /// The resource side and what it may use of the rest, borrowed apart.
    fn split(&mut self) -> (&mut Resources, Ctx<'_>) {
        (
            &mut self.res,
            Ctx {
                now: self.now,
                cfg: &self.cfg,
                nodes: &self.nodes,
                out: &mut self.out,
                warnings: &mut self.warnings,
            },
        )
    }

    /// The context alone.
    fn ctx(&mut self) -> Ctx<'_> {
        self.split().1
    }

    /// Signs and queues a message; returns its sequence number, if it has one.
    fn send(&mut self, msg: hb_proto::Message) -> Option<u64> {
        self.out.send(self.now, msg, &self.nodes, &self.cfg)
    }
}

#[cfg(test)]
mod tests;
