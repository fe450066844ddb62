//! The resource side of the core: this node's groups and the haresources negotiation with
//! the peer. One handler per input, each readable in one place:
//!
//! | input | handler |
//! |---|---|
//! | start-up | [`Resources::start_probe`] |
//! | this node became active | [`Resources::on_active`] |
//! | the peer died, came back, restarted | [`Resources::on_peer_dead`], [`Resources::on_peer_returned`], [`Resources::on_peer_restart`] |
//! | a resource message from the peer | [`Resources::on_message`] |
//! | an acknowledgement from the peer | [`Resources::on_ack`] |
//! | an agent run finished | [`Resources::on_agent_done`] |
//! | operator commands | [`Resources::shutdown`], [`Resources::standby`], [`Resources::takeover`], [`Resources::cleanup`] |
//! | the clock | [`Resources::deadline`], [`Resources::tick`] |
//!
//! The state is split by owner: each group's lifecycle is a [`group::Group`]; the state
//! both protocols share is the [`board::Board`]; what differs between `auto_failback
//! on|off` and `legacy` is a [`policy::Policy`], chosen once at construction.

mod batch;
mod board;
mod conflict;
mod fence;
mod group;
mod groups;
mod job;
mod peer;
mod policy;
mod reload;
mod resource;
mod results;
mod shutdown;

use hb_proto::Message;

use crate::Instant;
use crate::action::{AgentResult, Class, FenceResult, OpId};
use crate::config::CoreConfig;
use crate::ctx::Ctx;
use crate::nodes::{NodeId, Nodes};
use crate::snapshot::{GroupState, GroupView};
use crate::wire;

use batch::Then;
use board::Board;
use groups::GroupId;
use peer::PeerView;
use policy::Policy;
use shutdown::Shutdown;

pub use reload::GroupChanges;

/// This node's resource groups and their negotiation.
#[derive(Debug)]
pub(crate) struct Resources {
    b: Board,
    policy: Box<dyn Policy>,
    fence: fence::Fencer,
}

impl Resources {
    pub(crate) fn new(cfg: &CoreConfig, nodes: &Nodes) -> Resources {
        let me = nodes.me();
        Resources {
            b: Board::new(cfg, nodes.only_peer(), |i| nodes.id(i).unwrap_or(me)),
            policy: policy::for_mode(cfg.auto_failback),
            fence: fence::Fencer::default(),
        }
    }

    // ----- inputs -----

    /// Start-up: probe every resource of every group.
    pub(crate) fn start_probe(&mut self, ctx: &mut Ctx<'_>) {
        for g in self.b.groups.ids() {
            self.b.groups.probe(ctx, g);
        }
        let all = self.b.groups.all();
        if let Some(then) = self.b.batch(all, Then::ProbeDone) {
            self.run_then(ctx, then);
        }
    }

    /// This node became active.
    pub(crate) fn on_active(&mut self, ctx: &mut Ctx<'_>) {
        self.maybe_begin_negotiation(ctx);
    }

    /// Node `i` was just declared dead: does it need fencing before a takeover? Heartbeat's
    /// rule: unless it was heard and known to hold nothing. Called before anything can start
    /// a negotiation that would take its groups.
    pub(crate) fn on_peer_declared_dead(&mut self, ctx: &mut Ctx<'_>, i: NodeId) {
        if self.b.peer != Some(i) {
            return;
        }
        let name = ctx.nodes[i].name.clone();
        // A standby exchange under way may be moving groups to it right now. With a fencing
        // device, only a peer that shut down is left alone: one that merely reported holding
        // nothing may be cut off rather than dead, and start groups again (its own negotiation,
        // groups held by nobody) while we take them over (docs/ha.cf.md#stonith).
        let known_empty = self.b.view.known_empty() && !self.policy.exchanging();
        let fencing = ctx.cfg.fencing.is_some();
        if known_empty && (!fencing || self.b.view.left) {
            tracing::info!("Dead node {name} gave up resources. (no takeover fencing needed)");
            ctx.send(wire::stonith_result(&name, "unneeded"));
        } else if self.b.shutdown.is_some() {
            // Heartbeat gives everything up instead of fencing while it shuts down.
        } else if fencing {
            self.fence.needed(&name);
        } else {
            tracing::warn!(
                "No STONITH device configured. Shared disks are not protected. (taking over \
                 {name}'s resources without fencing it)"
            );
            ctx.send(wire::stonith_result(&name, "n_stnth"));
        }
    }

    /// Node `i` was declared dead. With `gated`, its groups are taken over only once
    /// [`Resources::on_reachable`] says this node is not cut off; with fencing needed, only
    /// once it is reset ([`Resources::on_fence_done`]).
    pub(crate) fn on_peer_dead(&mut self, ctx: &mut Ctx<'_>, i: NodeId, gated: bool) {
        if self.b.peer != Some(i) {
            return;
        }
        let name = ctx.nodes[i].name.clone();
        self.b.peer_returned = false;
        self.b.view = PeerView::default();
        self.b.pending_conflicts.clear();
        if self.b.isolated {
            tracing::warn!("not taking over {name}'s resources: this node is isolated");
            return;
        }
        if gated && self.b.takeover_deferred && self.b.deciding() {
            tracing::info!(
                "node {}: taking over {name}'s resources once a ping node answers (isolation \
                 check)",
                ctx.my_name()
            );
            self.b.takeover_deferred = true;
            return;
        }
        if self.fence.blocks() {
            if !self.b.takeover_deferred {
                self.fence.start_if_needed(ctx);
            }
            return;
        }
        self.policy.on_peer_dead(&mut self.b, ctx);
    }

    /// A fencing attempt finished: once the peer is reset, its groups are taken over.
    pub(crate) fn on_fence_done(&mut self, ctx: &mut Ctx<'_>, id: OpId, result: FenceResult) {
        if self.fence.done(ctx, id, result) {
            self.after_fence(ctx);
        }
    }

    /// The dead peer is fenced: take over what the gates allow.
    fn after_fence(&mut self, ctx: &mut Ctx<'_>) {
        if self.b.isolated || self.b.takeover_deferred || self.b.peer_alive(ctx.nodes) {
            return;
        }
        if !self.b.negotiating {
            self.maybe_begin_negotiation(ctx);
        } else if self.b.deciding() {
            self.policy.on_peer_dead(&mut self.b, ctx);
        }
    }

    /// The dead peer is heard again (back from a partition or restarted): it is not fenced
    /// any more, and a negotiation the fencing held back may begin.
    fn peer_back(&mut self, ctx: &mut Ctx<'_>) {
        let blocked = self.fence.blocks();
        self.fence.peer_back();
        if blocked && !self.b.negotiating {
            if self.b.peer_alive(ctx.nodes) {
                self.maybe_begin_negotiation(ctx);
            } else {
                // A restart is seen before the status that brings the peer back up: begin
                // then, with the peer alive (`on_peer_up`).
                self.b.begin_when_peer_up = true;
            }
        }
    }

    /// Fencing of the dead peer, for the control socket.
    pub(crate) fn fence_view(&self) -> Option<crate::snapshot::FenceView> {
        self.fence.view()
    }

    /// Whether this node stopped heartbeating to be fenced (a stop failed with fencing
    /// configured).
    pub(crate) fn awaiting_fence(&self) -> bool {
        self.fence.self_requested
    }

    /// A peer was declared dead and the isolation rule applies: neither a takeover nor the
    /// start of the negotiation until [`Resources::on_reachable`].
    pub(crate) fn defer_takeover(&mut self) {
        self.b.takeover_deferred = true;
    }

    /// This node hears no peer and no ping node: release every group held here and take
    /// nothing over until [`Resources::on_reachable`].
    pub(crate) fn on_isolated(&mut self, ctx: &mut Ctx<'_>) {
        self.b.isolated = true;
        self.b.takeover_deferred = false;
        self.policy.on_isolated(&mut self.b, ctx);
        let held = self.b.groups.filter(|g| g.claims());
        for &g in &held {
            self.b.groups.stop(ctx, g, "isolated");
        }
    }

    /// The isolation ended but the peer is still held dead: nothing is taken over (nor the
    /// negotiation begun) until [`Resources::on_reachable`].
    pub(crate) fn leave_isolation_deferred(&mut self) {
        self.b.isolated = false;
        self.b.takeover_deferred = true;
    }

    /// This node is not (or no longer) cut off: a dead peer's groups are taken over now.
    pub(crate) fn on_reachable(&mut self, ctx: &mut Ctx<'_>) {
        let was_isolated = std::mem::take(&mut self.b.isolated);
        let deferred = std::mem::take(&mut self.b.takeover_deferred);
        if self.b.peer_alive(ctx.nodes) {
            self.policy.on_rejoined(&mut self.b, ctx);
            if (was_isolated || deferred) && self.b.peer_is_hbrs(ctx.nodes) {
                // Our last reports and the peer's may have been lost while we were cut off:
                // tell it what we hold and ask for its holdings in return.
                self.b
                    .send_asking_report(ctx, self.policy.stable(), self.policy.giving());
            }
        }
        if self.b.peer.is_some() && !self.b.peer_alive(ctx.nodes) && self.fence.start_if_needed(ctx)
        {
            return;
        }
        if !self.b.negotiating {
            self.maybe_begin_negotiation(ctx);
        } else if (was_isolated || deferred)
            && self.b.peer.is_some()
            && !self.b.peer_alive(ctx.nodes)
            && self.b.deciding()
        {
            self.policy.on_peer_dead(&mut self.b, ctx);
        }
    }

    /// Whether a standby exchange is in progress.
    pub(crate) fn exchanging(&self) -> bool {
        self.policy.exchanging()
    }

    /// Whether any group is held (claimed) here.
    pub(crate) fn holds_any(&self) -> bool {
        !self.b.groups.claimed().is_empty()
    }

    /// Node `i`'s status is now up or active.
    pub(crate) fn on_peer_up(&mut self, ctx: &mut Ctx<'_>, i: NodeId) {
        if self.b.peer == Some(i)
            && std::mem::take(&mut self.b.begin_when_peer_up)
            && !self.b.negotiating
        {
            self.maybe_begin_negotiation(ctx);
        }
    }

    /// Node `i` is back with the same generation: it was cut off, not restarted.
    pub(crate) fn on_peer_returned(&mut self, ctx: &mut Ctx<'_>, i: NodeId, partition: bool) {
        if self.b.peer != Some(i) {
            return;
        }
        // A dead peer that restarted (a new generation) before it was heard again is back
        // from a restart, not from a partition: it negotiates afresh (`on_peer_restart`).
        if std::mem::take(&mut self.b.restarted_while_dead) {
            return;
        }
        self.b.view = PeerView::returned();
        self.b.peer_returned = partition;
        if self.b.deciding() {
            // Tell the peer exactly what we hold so that a group held on both sides is
            // resolved by the rule of docs/protocol.md instead of Heartbeat's restart. A
            // heartbeat-rs peer is asked for its report in return: we forgot what it told us,
            // and it may not have noticed the partition (one side only declared the other
            // dead), so it would not repeat it by itself.
            if self.b.peer_is_hbrs(ctx.nodes) {
                self.b
                    .send_asking_report(ctx, self.policy.stable(), self.policy.giving());
            } else {
                self.b.send_report(ctx, self.policy.stable(), None);
            }
        }
        if partition {
            self.policy.on_peer_returned(&mut self.b, ctx);
        }
        self.peer_back(ctx);
    }

    /// Node `i` restarted (new generation): it holds nothing now and negotiates afresh.
    pub(crate) fn on_peer_restart(&mut self, ctx: &mut Ctx<'_>, i: NodeId) {
        if self.b.peer != Some(i) {
            return;
        }
        // Only a peer held dead comes back through `on_peer_returned`, which consumes the
        // mark; one never heard yet (init, after our own restart) goes up without it.
        self.b.restarted_while_dead = ctx.nodes[i].status == crate::snapshot::NodeStatus::Dead;
        // Its crashed run may have left resources up (a fencing that did not complete, or a
        // restart quicker than deadtime): they run until its start-up probe stops them.
        self.b.peer_restart_pending = !self.b.view.known_empty();
        self.b.view = PeerView::default();
        self.b.pending_conflicts.clear();
        if std::mem::take(&mut self.b.peer_returned) && self.b.deciding() {
            self.reannounce_after_partition(ctx);
        }
        self.policy.on_peer_restart(&mut self.b, ctx);
        self.peer_back(ctx);
    }

    /// The peer restarted right after returning from a partition: that is how Heartbeat
    /// 3.0.6 resolves one (it drops everything it held, our copies included). Clients on its
    /// side of the partition still send to its MAC address: run `start` again for every
    /// group running here (IPaddr re-sends its gratuitous ARP), as the keeper of a dual
    /// holding does between heartbeat-rs nodes.
    fn reannounce_after_partition(&mut self, ctx: &mut Ctx<'_>) {
        let running = self.b.groups.filter(|g| g.is_running() && g.settled());
        if running.is_empty() {
            return;
        }
        tracing::warn!(
            "{} restarted after a partition (Heartbeat's resolution): re-announcing the groups \
             held here",
            self.b.peer_name(ctx.nodes)
        );
        for g in running {
            self.b.groups.reannounce(ctx, g);
        }
    }

    /// A resource message (`starting`, `resource`, `ask_resources`, `hb_takeover`,
    /// `ip-request`, `ip-request-resp`, `shutdone`) from node `from`.
    pub(crate) fn on_message(&mut self, ctx: &mut Ctx<'_>, from: NodeId, t: &str, msg: &Message) {
        if self.b.peer != Some(from) {
            tracing::debug!(
                "ignoring {t} from {}: not the resource peer",
                ctx.nodes[from].name
            );
            return;
        }
        if t == "shutdone" {
            // Acknowledge at once, so the leaving node can go.
            ctx.ack_now(from);
        }
        self.policy.on_message(&mut self.b, ctx, t, msg);
        if t == "resource" && msg.str(wire::F_ASK) == Some("1") && self.b.deciding() {
            self.b.send_reply_report(ctx, self.policy.stable());
            let giving_over = msg.str(wire::F_GIVING) == Some("0");
            self.policy.on_report_asked(&mut self.b, ctx, giving_over);
        }
        self.adopt_orphans(ctx);
    }

    /// Groups held by nobody while both nodes are up and stable: the isolation rule makes
    /// them (the isolated side released groups its peer did not take, the peer having
    /// declared it dead and come back), and so does a reload of `haresources` on either side
    /// (a group new on both sides, or stopped by the peer's reload, possibly while this node
    /// restarted with the new file). Each goes to its own node, or to the other node if
    /// it failed on its own; both sides decide alike from the exact reports, so only one
    /// starts it. Needs a heartbeat-rs peer (exact holdings) and a nice-failback mode.
    fn adopt_orphans(&mut self, ctx: &mut Ctx<'_>) {
        if !ctx.cfg.auto_failback.is_nice()
            || self.b.reload.is_some()
            || self.b.await_report
            || !self.b.deciding()
            || self.b.isolated
            || self.b.takeover_deferred
            || !self.policy.stable()
            || self.policy.exchanging()
            || !self.b.peer_alive(ctx.nodes)
        {
            return;
        }
        let v = &self.b.view;
        if !(v.reported && v.exact && v.stable) || v.leaving {
            return;
        }
        let me = ctx.nodes.me();
        let orphans: groups::GroupSet = self
            .b
            .groups
            .iter()
            .filter(|(g, group)| {
                !group.claims()
                    && group.settled()
                    && !group.failed_here
                    && !group.is_failed()
                    && !group.retiring
                    && !v.holds.contains(g)
                    && self.b.agreed(*g)
                    && (group.preferred == me || v.failed.contains(g))
            })
            .map(|(g, _)| g)
            .collect();
        if orphans.is_empty() {
            return;
        }
        let keys: Vec<&str> = orphans
            .iter()
            .map(|&g| self.b.groups[g].key.as_str())
            .collect();
        let since = if self.b.reloaded {
            "since a reload of haresources"
        } else {
            "since an isolation"
        };
        if self.b.reloaded {
            tracing::info!(
                "node {}: {} held by nobody {since}: starting here",
                ctx.my_name(),
                keys.join(", ")
            );
        } else {
            tracing::warn!(
                "node {}: {} held by nobody {since}: starting here",
                ctx.my_name(),
                keys.join(", ")
            );
        }
        let then = self.b.acquire(
            ctx,
            &orphans,
            "held by nobody",
            Then::Policy(batch::Step::Acquired { mach_down: false }),
        );
        if let Some(then) = then {
            self.run_then(ctx, then);
        }
    }

    /// The peer acknowledged our messages.
    pub(crate) fn on_ack(&mut self, ctx: &Ctx<'_>) {
        self.b.on_ack(ctx);
    }

    /// An agent run finished.
    pub(crate) fn on_agent_done(&mut self, ctx: &mut Ctx<'_>, id: OpId, result: AgentResult) {
        if let Some(g) = self.b.groups.agent_done(ctx, id, result) {
            self.on_group_settled(ctx, g);
        }
    }

    // ----- operator commands -----

    /// Graceful stop: release every group in reverse order, tell the peer, then finish.
    pub(crate) fn shutdown(&mut self, ctx: &mut Ctx<'_>) {
        match self.b.shutdown {
            Some(Shutdown::Blocked) => {
                tracing::warn!("shutdown requested again: retrying to stop failed groups");
                for g in self.b.groups.ids() {
                    self.b.groups[g].retry_failed();
                }
                self.b.shutdown = Some(Shutdown::Stopping);
                self.b.shutdown_progress(ctx);
                return;
            }
            Some(_) => return,
            None => {}
        }
        tracing::info!(
            "Heartbeat shutdown in progress. (node {}: graceful shutdown requested)",
            ctx.my_name()
        );
        self.b.shutdown = Some(Shutdown::Waiting);
        for g in self.b.groups.ids() {
            self.b.groups[g].forget_start();
        }
        self.policy.on_shutdown(&mut self.b, ctx);
        self.b.shutdown_progress(ctx);
    }

    /// `hb_standby CLASS`.
    pub(crate) fn standby(&mut self, ctx: &mut Ctx<'_>, class: Class) -> Result<(), String> {
        self.standby_as(ctx, class, "hb_standby")
    }

    /// A standby asked for by `who` (`hb_standby`, `ipfail`).
    pub(crate) fn standby_as(
        &mut self,
        ctx: &mut Ctx<'_>,
        class: Class,
        who: &str,
    ) -> Result<(), String> {
        self.policy.standby(&mut self.b, ctx, class, who)
    }

    /// `hb_takeover CLASS`: ask the peer to give us `class` (our view).
    pub(crate) fn takeover(&mut self, ctx: &mut Ctx<'_>, class: Class) -> Result<(), String> {
        let result = if self.b.peer.is_none() {
            Err("no peer".to_string())
        } else if !self.b.peer_alive(ctx.nodes) {
            if self.fence.confirm() {
                // The operator vouches that the unfenced peer is down.
                self.after_fence(ctx);
                return Ok(());
            }
            Err("the peer is not up".to_string())
        } else {
            self.policy.takeover(&mut self.b, ctx, class)
        };
        if let Err(no) = &result {
            tracing::warn!("takeover [{class}] ignored: {no}");
        }
        result
    }

    /// `hb_cleanup`: forgets the failures of group `which` (an index into the
    /// configuration) or of every group. Returns the keys of the groups that had something
    /// to clear.
    pub(crate) fn cleanup(&mut self, ctx: &mut Ctx<'_>, which: Option<usize>) -> Vec<String> {
        let groups: Vec<GroupId> = match which {
            Some(i) => match self.b.groups.id(i) {
                Some(g) => vec![g],
                None => return Vec::new(),
            },
            None => self.b.groups.ids().collect(),
        };
        let mut cleared = Vec::new();
        for g in groups {
            if !self.b.groups[g].clear_failures() {
                continue;
            }
            let key = self.b.groups[g].key.clone();
            cleared.push(key.clone());
            if self.b.groups[g].is_failed() {
                tracing::info!(
                    "group {key}: failures cleared by the operator; probing its resources to manage it again"
                );
                self.b.groups.reprobe(ctx, g);
                if let Some(then) = self
                    .b
                    .batch(GroupId::set([g]), Then::CleanedUp { group: g })
                {
                    self.run_then(ctx, then);
                }
            } else {
                tracing::info!("group {key}: failures cleared by the operator");
                self.place_after_cleanup(ctx, g);
            }
        }
        cleared
    }

    // ----- the clock -----

    /// The earliest deadline of the resource side.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let monitors = if self.b.shutdown.is_none() {
            self.b.groups.monitor_deadline()
        } else {
            None
        };
        [
            self.policy.deadline(),
            self.b.linger_deadline(),
            monitors,
            self.fence.deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The clock reached (or passed) a deadline.
    pub(crate) fn tick(&mut self, ctx: &mut Ctx<'_>) {
        if self.b.shutdown.is_none() {
            self.b.groups.monitor_tick(ctx);
        }
        self.b.linger_tick(ctx);
        self.policy.tick(&mut self.b, ctx);
        self.fence.tick(ctx);
    }

    // ----- views -----

    pub(crate) fn is_finished(&self) -> bool {
        self.b.finished
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.b.shutdown.is_some()
    }

    pub(crate) fn group_state(&self, index: usize) -> Option<GroupState> {
        self.b.groups.id(index).map(|g| self.b.groups[g].state())
    }

    pub(crate) fn group_failed_here(&self, index: usize) -> bool {
        self.b
            .groups
            .id(index)
            .is_some_and(|g| self.b.groups[g].failed_here)
    }

    /// Every group as the control socket shows it.
    pub(crate) fn group_views(&self, nodes: &Nodes) -> Vec<GroupView> {
        let peer_alive = self.b.peer_alive(nodes);
        self.b
            .groups
            .iter()
            .map(|(g, group)| {
                let holder = if group.claims() {
                    Some(nodes.my_name().to_string())
                } else if self.b.view.holds.contains(&g) && peer_alive {
                    Some(self.b.peer_name(nodes))
                } else {
                    None
                };
                group.view(&nodes[group.preferred].name, holder)
            })
            .collect()
    }

    /// Heartbeat's `rscstatus`: `None` while in transition.
    pub(crate) fn rsc_class(&self, nodes: &Nodes) -> Option<Class> {
        self.policy.rsc_class(&self.b, nodes)
    }

    // ----- internals -----

    fn maybe_begin_negotiation(&mut self, ctx: &mut Ctx<'_>) {
        if self.b.negotiating
            || self.b.isolated
            || self.b.takeover_deferred
            || self.fence.blocks()
            || !self.b.probe_done
            || !ctx.nodes.i_am_active()
            || self.b.shutdown.is_some()
        {
            return;
        }
        self.b.negotiating = true;
        self.policy.begin(&mut self.b, ctx);
    }

    /// Group `g` has no job and nothing queued.
    fn on_group_settled(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        let ready = self.b.settle(g);
        if let Some(theirs) = self.b.pending_conflicts.remove(&g)
            && self.b.groups[g].claims()
        {
            self.b
                .resolve_conflict(ctx, g, theirs, self.policy.stable());
        }
        for then in ready {
            self.run_then(ctx, then);
        }
        if std::mem::take(&mut self.b.groups[g].handoff_pending) {
            self.after_local_failure(ctx, g);
        }
        if self.b.groups[g].is_failed() {
            self.ask_to_be_fenced(ctx, g);
        }
        if self.b.groups.all_settled() && self.b.deciding() {
            self.policy.on_settled(&mut self.b, ctx);
            self.adopt_orphans(ctx);
        }
        if self.b.shutdown == Some(Shutdown::Waiting) {
            self.b.shutdown_progress(ctx);
        }
        if std::mem::take(&mut self.b.swap_due) {
            self.reload_swap(ctx);
        }
    }

    fn run_then(&mut self, ctx: &mut Ctx<'_>, then: Then) {
        match then {
            Then::ProbeDone => {
                self.b.probe_done = true;
                tracing::info!(
                    "node {}: start-up probe of all resources done",
                    ctx.my_name()
                );
                self.maybe_begin_negotiation(ctx);
                if self.b.shutdown.is_some() {
                    self.b.shutdown_progress(ctx);
                }
            }
            Then::ShutdownStep => self.b.shutdown_progress(ctx),
            Then::ConflictReleased => {
                self.b.conflict_released(ctx, then, self.policy.stable());
            }
            Then::CleanedUp { group } => self.place_after_cleanup(ctx, group),
            Then::Policy(step) => self.policy.step(&mut self.b, ctx, step),
            // Replacing the table renumbers the groups: done once the caller is through
            // with the group that settled ([`Resources::on_group_settled`]).
            Then::Reload => self.b.swap_due = true,
            Then::ReloadProbed => self.reload_place(ctx),
        }
    }

    /// `auto_failback` changed between `on` and `off` (a reload): returns false if the
    /// policy cannot change in place (to or from `legacy`: another protocol).
    pub(crate) fn set_failback(&mut self, on: bool) -> bool {
        self.policy.set_failback(on)
    }

    /// A stop of group `g` failed and its resources may still run here. Without fencing the
    /// group stays unmanaged here (today's behaviour). With fencing configured this node
    /// does what Heartbeat's `RecoverFromFailedStop` does short of rebooting: it stops
    /// heartbeating, so its peer declares it dead, resets it and takes the group over (and a
    /// watchdog, if configured, is no longer petted and resets it too).
    fn ask_to_be_fenced(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        if ctx.cfg.fencing.is_none() || self.b.peer.is_none() || self.fence.self_requested {
            return;
        }
        self.fence.self_requested = true;
        let peer = self.b.peer_name(ctx.nodes);
        tracing::error!(
            "CRIT: Resource STOP failure. Reboot required! (group {}: a stop failed and its \
             resources may still run here; instead of waiting for hb_cleanup, node {} stops \
             heartbeating so that {peer} fences it and takes the group over)",
            self.b.groups[g].key,
            ctx.my_name()
        );
    }

    /// Group `g` was stopped here because it failed (restart limit, or a restart's start
    /// failed): tell the peer and offer it the group.
    fn after_local_failure(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        if !self.b.deciding() {
            return;
        }
        if self.b.groups[g].claims() {
            // A stop failed: the group is unmanaged and stays claimed here.
            return;
        }
        self.b.send_report(ctx, self.policy.stable(), None);
        if !self.b.peer_alive(ctx.nodes) {
            let key = &self.b.groups[g].key;
            tracing::error!(
                "group {key} failed here and no peer is up to take it: it stays stopped until \
                 hb_cleanup {key}"
            );
            return;
        }
        self.policy.after_local_failure(&mut self.b, ctx, g);
    }

    /// After a cleanup: start the group here if nobody holds it and it may run here; tell
    /// the peer in any case (its auto_failback may now give the group back).
    fn place_after_cleanup(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        if !self.b.deciding() || self.b.groups[g].claims() || self.policy.exchanging() {
            return;
        }
        if self.b.isolated {
            return;
        }
        let peer_alive = self.b.peer_alive(ctx.nodes);
        let peer_holds = peer_alive && self.b.view.holds.contains(&g);
        let ours = self.b.groups[g].preferred == ctx.nodes.me();
        let nobody = !peer_holds && (!peer_alive || ours || self.b.view.failed.contains(&g));
        if nobody {
            let then = self.b.acquire(
                ctx,
                &GroupId::set([g]),
                "failures cleared",
                Then::Policy(batch::Step::Acquired { mach_down: false }),
            );
            if let Some(then) = then {
                self.run_then(ctx, then);
            }
        } else {
            self.b.send_report(ctx, self.policy.stable(), None);
        }
    }
}
