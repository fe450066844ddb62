//! Fencing the dead peer before its groups are taken over (Heartbeat's STONITH in
//! `hb_rsc_recover_dead_resources`), and asking to be fenced after a stop that failed.
//!
//! When the peer is declared dead and may hold resources (it was never heard, or it did not
//! report holding nothing) and a device is configured, nothing of the peer's is started until
//! an attempt reports the peer reset. Each attempt is one [`Action::Fence`]; its result is
//! logged with Heartbeat's words and sent as Heartbeat's `stonith` message (`result=OK`,
//! `badhost`, `bad`). A failed attempt is retried after [`FenceSetup::retry`], doubling up to
//! [`FenceSetup::retry_max`] (Heartbeat retries every 5 s). A peer heard again before the
//! reset is no longer fenced: it negotiates as any returning peer.
//!
//! [`FenceSetup::retry`]: crate::FenceSetup::retry
//! [`FenceSetup::retry_max`]: crate::FenceSetup::retry_max

use std::time::Duration;

use crate::Instant;
use crate::action::{Action, FenceResult, OpId};
use crate::config::CoreConfig;
use crate::ctx::Ctx;
use crate::snapshot::{FenceState, FenceView};
use crate::wire;

/// How log lines name the configured device.
fn device(cfg: &CoreConfig) -> &str {
    cfg.fencing.as_ref().map_or("?", |f| f.device.as_str())
}

/// Where fencing of the peer stands.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Stage {
    /// Nothing to do.
    Idle,
    /// The dead peer must be fenced before a takeover; no attempt started yet (an
    /// isolation check comes first).
    Needed,
    /// An attempt runs.
    Running { id: OpId },
    /// The last attempt failed; the next starts at `at`.
    Waiting { at: Instant },
    /// The peer was reset: its groups may be taken over.
    Fenced,
}

/// Fencing of the resource peer, and this node's own request to be fenced.
#[derive(Debug)]
pub(crate) struct Fencer {
    stage: Stage,
    /// The node being fenced.
    node: String,
    attempts: u32,
    last: Option<FenceResult>,
    /// The attempt running belongs to a peer that has since been heard again: its result is
    /// reported but changes nothing.
    orphan: Option<OpId>,
    next_id: u64,
    /// A stop failed here with fencing configured: this node went silent for its peer to
    /// fence it.
    pub(crate) self_requested: bool,
}

impl Default for Fencer {
    fn default() -> Self {
        Fencer {
            stage: Stage::Idle,
            node: String::new(),
            attempts: 0,
            last: None,
            orphan: None,
            next_id: 1,
            self_requested: false,
        }
    }
}

impl Fencer {
    /// The peer `node` was declared dead and must be fenced before any takeover.
    pub(crate) fn needed(&mut self, node: &str) {
        self.stage = Stage::Needed;
        self.node = node.to_owned();
        self.attempts = 0;
        self.last = None;
    }

    /// A takeover of the peer's groups must wait (fencing needed, running or failed).
    pub(crate) fn blocks(&self) -> bool {
        matches!(
            self.stage,
            Stage::Needed | Stage::Running { .. } | Stage::Waiting { .. }
        )
    }

    /// Starts the first attempt if fencing is needed and none has started. Returns whether
    /// the takeover must wait.
    pub(crate) fn start_if_needed(&mut self, ctx: &mut Ctx<'_>) -> bool {
        if self.stage == Stage::Needed {
            self.attempt(ctx);
        }
        self.blocks()
    }

    fn attempt(&mut self, ctx: &mut Ctx<'_>) {
        let id = OpId(self.next_id);
        self.next_id += 1;
        self.attempts += 1;
        let device = device(ctx.cfg);
        tracing::info!("Resetting node {} with [{device}]", self.node);
        self.stage = Stage::Running { id };
        ctx.out.push(Action::Fence {
            id,
            node: self.node.clone(),
        });
    }

    /// The peer was heard again: stop fencing it (an attempt already running is let finish
    /// and reported, but decides nothing).
    pub(crate) fn peer_back(&mut self) {
        match self.stage {
            Stage::Needed | Stage::Waiting { .. } => {
                tracing::info!(
                    "node {} is heard again: no longer fencing it (it negotiates as a returning \
                     peer)",
                    self.node
                );
            }
            Stage::Running { id } => {
                tracing::info!(
                    "node {} is heard again while a reset of it runs: its result will not \
                     start a takeover",
                    self.node
                );
                self.orphan = Some(id);
            }
            Stage::Idle | Stage::Fenced => {}
        }
        self.stage = Stage::Idle;
    }

    /// An attempt finished. Returns true when the peer is now fenced and its groups may be
    /// taken over.
    pub(crate) fn done(&mut self, ctx: &mut Ctx<'_>, id: OpId, result: FenceResult) -> bool {
        let current = self.stage == Stage::Running { id };
        if !current && self.orphan != Some(id) {
            tracing::debug!("ignoring the result of unknown fencing attempt {id}");
            return false;
        }
        let node = self.node.clone();
        let device = device(ctx.cfg);
        match result {
            FenceResult::Ok => tracing::info!("node {node} now reset."),
            FenceResult::BadHost => {
                tracing::error!("Device {device} cannot reset host {node}.");
            }
            FenceResult::Failed(_) | FenceResult::TimedOut => {
                tracing::error!("Host {node} not reset! ({device}: {result})");
            }
        }
        ctx.send(wire::stonith_result(&node, result.wire_word()));
        if !current {
            self.orphan = None;
            return false;
        }
        self.last = Some(result);
        if result == FenceResult::Ok {
            self.stage = Stage::Fenced;
            return true;
        }
        let wait = self.backoff(ctx);
        tracing::error!(
            "STONITH of {node} failed.  Retrying... (attempt {} in {} s; {node}'s resources are \
             not taken over until it is reset: check the device [{device}], or make sure {node} \
             is powered off and run hb_takeover all here)",
            self.attempts + 1,
            wait.as_secs_f64()
        );
        self.stage = Stage::Waiting { at: ctx.now + wait };
        false
    }

    /// The wait before the next attempt: the first retry's, doubled per failure so far.
    fn backoff(&self, ctx: &Ctx<'_>) -> Duration {
        let (retry, max) = ctx
            .cfg
            .fencing
            .as_ref()
            .map_or((Duration::ZERO, Duration::ZERO), |f| (f.retry, f.retry_max));
        let doublings = self.attempts.saturating_sub(1).min(16);
        retry.saturating_mul(1 << doublings).min(max)
    }

    /// The operator confirmed that the peer is down (`hb_takeover` while fencing blocks the
    /// takeover): it counts as fenced. Returns whether fencing was blocking.
    pub(crate) fn confirm(&mut self) -> bool {
        if !self.blocks() {
            return false;
        }
        tracing::warn!(
            "operator confirms node {} is down (hb_takeover): taking over its resources \
             without resetting it",
            self.node
        );
        if let Stage::Running { id } = self.stage {
            self.orphan = Some(id);
        }
        self.stage = Stage::Fenced;
        true
    }

    /// When the next attempt is due.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.stage {
            Stage::Waiting { at } => Some(at),
            _ => None,
        }
    }

    /// The clock: start a due retry.
    pub(crate) fn tick(&mut self, ctx: &mut Ctx<'_>) {
        if let Stage::Waiting { at } = self.stage
            && ctx.now >= at
        {
            self.attempt(ctx);
        }
    }

    /// What the control socket shows.
    pub(crate) fn view(&self) -> Option<FenceView> {
        let state = match self.stage {
            Stage::Idle => return None,
            Stage::Needed => FenceState::Needed,
            Stage::Running { .. } => FenceState::Running,
            Stage::Waiting { .. } => FenceState::Retrying,
            Stage::Fenced => FenceState::Fenced,
        };
        Some(FenceView {
            node: self.node.clone(),
            state,
            attempts: self.attempts,
            last_result: self.last.map(|r| r.to_string()),
            retry_at: self.deadline(),
        })
    }
}
