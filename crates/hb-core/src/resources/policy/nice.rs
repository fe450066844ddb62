//! The nice-failback negotiation (`auto_failback on|off`), spec §8.3-§8.8: `starting`,
//! `resource` reports, local acquisition, auto-failback, takeover of a dead or leaving
//! peer. The standby exchange is in [`super::standby`].
//!
//! Heartbeat waits a fixed 10 s (`RQSTDELAY`) when both nodes start together. heartbeat-rs
//! peers report their exact holdings, so with them we acquire our own groups as soon as the
//! peer's first report arrives.

use std::time::Duration;

use hb_proto::Message;

use crate::Instant;
use crate::action::Class;
use crate::ctx::Ctx;
use crate::nodes::Nodes;
use crate::wire;

use super::super::batch::{Step, Then};
use super::super::board::Board;
use super::super::groups::{GroupId, GroupSet};
use super::Policy;
use super::standby::Standby;

/// Heartbeat's fixed wait for an unstable peer at start-up (`RQSTDELAY`); only used with
/// peers that are not heartbeat-rs.
const RQSTDELAY: Duration = Duration::from_secs(10);

/// Nice-failback resource states (spec §8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum RState {
    Init,
    Starting,
    BothStarting,
    RscRcvd,
    Stable,
    Shutdown,
}

/// The nice-failback policy and its state.
#[derive(Debug)]
pub(crate) struct Nice {
    /// `auto_failback on`: foreign groups go home once their node is up and stable.
    failback: bool,
    pub(super) rstate: RState,
    pub(super) standby: Standby,
    /// Local acquisition at start-up is under way or done.
    acquiring_local: bool,
    /// Heartbeat's `rsc_needs_failback`: we took the peer's groups because it died, left or
    /// never came (a mach_down takeover), so `auto_failback on` gives them back once it is
    /// stable. Groups that came here by `hb_standby`/`hb_takeover` stay: an operator moved
    /// them. Also set when we took groups the peer reported failed (our extension: after
    /// `hb_cleanup` there they go home). Cleared when the failback is asked for, or found to
    /// have nothing to give back.
    pub(super) needs_failback: bool,
    rqst_deadline: Option<Instant>,
    /// "Initial resource acquisition complete" was logged (once per run, as Heartbeat's
    /// `AnnounceTakeover`).
    announced: bool,
    /// Heartbeat's `i_hold_resources` flags (local, foreign): what `cl_status rscstatus`
    /// reports for a class that has no group here (a node without groups of its own says
    /// `local` once its start-up acquisition is done, as Heartbeat's does).
    pub(super) held: (bool, bool),
    /// The peer returned from a partition: once both sides' groups are settled again, say
    /// "Initial resource acquisition complete" once more (Heartbeat's nodes restart after a
    /// healed partition and say it then; CTS's Split_brain waits for it on both nodes).
    reannounce: bool,
    /// A standby exchange of this class was cut short by an isolation: the peer may still
    /// wait for our `done`, which is sent when it is heard again.
    owed_done: Option<Class>,
}

impl Nice {
    pub(crate) fn new(failback: bool) -> Nice {
        Nice {
            failback,
            rstate: RState::Init,
            standby: Standby::Not,
            acquiring_local: false,
            needs_failback: false,
            rqst_deadline: None,
            announced: false,
            held: (false, false),
            reannounce: false,
            owed_done: None,
        }
    }

    /// After a partition healed: the line Heartbeat's restarted nodes log, once our groups
    /// and the peer's report settled the dual holdings.
    fn maybe_reannounce(&mut self, b: &Board) {
        if self.reannounce
            && self.rstate == RState::Stable
            && b.view.reported
            && b.pending_conflicts.is_empty()
            && b.groups.all_settled()
        {
            self.reannounce = false;
            tracing::info!("Initial resource acquisition complete (partition healed)");
        }
    }

    /// Heartbeat's `AnnounceTakeover`: once per run, when our own start-up acquisition is
    /// done and the peer is stable or not alive, log Heartbeat's line (CTS and operators wait
    /// for it) with Heartbeat's reason (`T_RESOURCES(us)`, `T_RESOURCES(them)`, `mach_down`).
    fn announce_initial(&mut self, b: &Board, ctx: &Ctx<'_>, reason: &str) {
        if self.announced
            || self.rstate != RState::Stable
            || (!b.view.stable && b.peer_alive(ctx.nodes))
        {
            return;
        }
        self.announced = true;
        tracing::info!("Initial resource acquisition complete ({reason})");
    }

    /// Runs a continuation that needs no waiting.
    pub(super) fn then(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, then: Option<Then>) {
        if let Some(Then::Policy(step)) = then {
            self.step(b, ctx, step);
        }
    }

    /// The peer restarted: our own groups that do not run here are started again.
    fn restart_acquire(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let ours = b.own_groups_to_restart(ctx);
        if !ours.is_empty() {
            let then = b.acquire(
                ctx,
                &ours,
                "peer restarted",
                Then::Policy(Step::Acquired { mach_down: false }),
            );
            self.then(b, ctx, then);
        }
    }

    fn peer_starting(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if std::mem::take(&mut b.peer_restart_pending) {
            self.restart_acquire(b, ctx);
        }
        b.view.restart_negotiation();
        if self.rstate == RState::Starting {
            self.rstate = RState::BothStarting;
        }
        let stable = self.rstate == RState::Stable;
        b.send_report(ctx, stable, None);
    }

    fn report(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, msg: &Message) {
        let was_stable = b.view.stable;
        let Some(full) = b.absorb_report(ctx, msg, self.stable()) else {
            return;
        };

        if full {
            let stable = msg.str("isstable") == Some("1");
            b.view.stable = stable;
            if stable && !was_stable {
                tracing::info!(
                    "remote resource transition completed. ({})",
                    b.peer_name(ctx.nodes)
                );
                let ours = self.rstate == RState::Stable;
                b.send_report(ctx, ours, None);
                if ours {
                    // Groups that failed here while the peer could not take them.
                    self.hand_off_failed_groups(b, ctx);
                }
                self.announce_initial(b, ctx, "T_RESOURCES(them)");
            }
        }
        self.maybe_reannounce(b);
        self.progress(b, ctx);
    }

    /// Moves the start-up negotiation forward and tries auto-failback.
    fn progress(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if matches!(self.rstate, RState::Starting | RState::BothStarting) && b.view.reported {
            self.rstate = RState::RscRcvd;
        }
        if self.rstate == RState::RscRcvd && !self.acquiring_local {
            if b.view.stable || b.peer_is_hbrs(ctx.nodes) {
                self.acquire_local(b, ctx);
            } else if self.rqst_deadline.is_none() {
                tracing::info!(
                    "{} is not stable yet: waiting up to {} s as Heartbeat does",
                    b.peer_name(ctx.nodes),
                    RQSTDELAY.as_secs()
                );
                self.rqst_deadline = Some(ctx.now + RQSTDELAY);
            }
        }
        self.try_failback(b, ctx);
    }

    /// `req_our_resources`: start our own groups that the peer does not hold.
    fn acquire_local(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        self.acquiring_local = true;
        self.rqst_deadline = None;
        let mine: GroupSet = b
            .groups
            .of_class(Class::Local, ctx.nodes.me())
            .into_iter()
            .filter(|g| !b.view.holds.contains(g))
            .collect();
        let name = ctx.my_name().to_string();
        for &g in &mine {
            let group = &b.groups[g];
            if !group.claims() && !group.failed_here {
                let key = group.key.clone();
                ctx.send(wire::ip_request_resp(&name, &key, true));
            }
        }
        let then = b.acquire(
            ctx,
            &mine,
            "our own group",
            Then::Policy(Step::Acquired { mach_down: false }),
        );
        self.then(b, ctx, then);
    }

    /// Take every group: the peer is dead, gone, or absent.
    fn take_everything(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, why: &str) {
        self.acquiring_local = true;
        self.rqst_deadline = None;
        self.needs_failback = true;
        let all = b.groups.all();
        let mach_down = b.peer.is_some();
        if mach_down {
            tracing::info!(
                "Resources being acquired from {}. (node {}: taking over all resource groups: \
                 {why})",
                b.peer_name(ctx.nodes),
                ctx.my_name()
            );
        } else {
            tracing::info!(
                "node {}: taking over all resource groups ({why})",
                ctx.my_name()
            );
        }
        let then = b.acquire(ctx, &all, why, Then::Policy(Step::Acquired { mach_down }));
        self.then(b, ctx, then);
    }

    fn acquired(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, mach_down: bool) {
        if b.shutdown.is_some() {
            return;
        }
        let newly_stable = self.rstate != RState::Stable;
        self.rstate = RState::Stable;
        self.held.0 = true;
        self.held.1 |= mach_down;
        if newly_stable {
            tracing::info!(
                "local resource transition completed. (node {})",
                ctx.my_name()
            );
        }
        if !mach_down {
            tracing::info!("Local Resource acquisition completed.");
        }
        b.send_report(ctx, true, Some("req_our_resources()"));
        if mach_down {
            b.send_mach_down(ctx);
        }
        self.hand_off_failed_groups(b, ctx);
        let reason = if mach_down {
            "mach_down"
        } else {
            "T_RESOURCES(us)"
        };
        self.announce_initial(b, ctx, reason);
        self.try_failback(b, ctx);
    }

    /// After a start failure, ask the peer to take the failed group's class (Heartbeat runs
    /// `hb_standby` for it 30 s later; we ask at once).
    pub(super) fn hand_off_failed_groups(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let failed = b.groups.filter(|g| g.failed_here && !g.active());
        let failed: GroupSet = failed
            .into_iter()
            .filter(|g| !b.view.holds.contains(g) && !b.view.failed.contains(g))
            .collect();
        if failed.is_empty() || !b.peer_ready(ctx.nodes) {
            return;
        }
        let class = b.groups.class_of(&failed, ctx.nodes.me());
        let _ = self.request_standby(b, ctx, class, "a start failed here");
    }

    /// auto_failback on: give foreign groups back once their node is up and stable, when
    /// they came here by a mach_down takeover (Heartbeat's `PerformAutoFailback`: it waits
    /// while either side is in flux, and forgets the mark when there is nothing to give).
    fn try_failback(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if !self.failback || !self.needs_failback {
            return;
        }
        if b.shutdown.is_some() {
            self.needs_failback = false;
            return;
        }
        if self.rstate != RState::Stable
            || self.standby != Standby::Not
            || !b.peer_ready(ctx.nodes)
            || !b.groups.all_settled()
        {
            return;
        }
        // A Heartbeat peer back from a partition restarts at once (its resolution), dropping
        // what it holds: give it nothing until then (its restart's negotiation fails back).
        if b.peer_returned && !b.peer_is_hbrs(ctx.nodes) {
            return;
        }
        let me = ctx.nodes.me();
        let foreign: Vec<GroupId> = b
            .groups
            .iter()
            .filter(|&(g, group)| {
                group.preferred != me
                    && group.is_running()
                    && !(b.view.exact && b.view.holds.contains(&g))
            })
            .map(|(g, _)| g)
            .collect();
        if foreign.iter().any(|g| !b.view.failed.contains(g)) {
            self.needs_failback = false;
            let _ = self.request_standby(b, ctx, Class::Foreign, "auto_failback");
        } else if foreign.is_empty() {
            // Heartbeat goes standby for `foreign` by its flag even with no foreign group,
            // which clears the flag: rscstatus says `local` again. Nothing moves either way.
            self.needs_failback = false;
            self.held.1 = false;
            tracing::debug!("auto_failback: nothing foreign held here");
        }
        // Otherwise every foreign group failed on its node: wait for its cleanup there.
    }

    fn peer_shut_down(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        tracing::info!(
            "Received shutdown notice from '{}'.",
            b.peer_name(ctx.nodes)
        );
        b.view.gone();
        b.view.leaving = true;
        b.view.stable = true;
        self.cancel_standby("peer left");
        self.take_everything(b, ctx, "peer shut down");
    }
}

impl Policy for Nice {
    fn begin(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        ctx.send(wire::starting());
        self.rstate = RState::Starting;
        if !b.peer_alive(ctx.nodes) {
            // Alone: everything is ours.
            self.take_everything(b, ctx, "no peer alive at start-up");
            return;
        }
        if std::mem::take(&mut b.view.starting_pending) {
            self.peer_starting(b, ctx);
        }
        self.progress(b, ctx);
    }

    fn on_message(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, t: &str, msg: &Message) {
        if !b.negotiating {
            match t {
                "starting" => b.view.starting_pending = true,
                "resource" => {
                    b.absorb_report(ctx, msg, self.stable());
                }
                "shutdone" => b.view.gone(),
                _ => tracing::debug!(
                    "ignoring {t} from {}: resources not negotiated yet",
                    b.peer_name(ctx.nodes)
                ),
            }
            return;
        }
        if b.shutdown.is_some() && t != "resource" {
            tracing::debug!(
                "ignoring {t} from {}: shutting down",
                b.peer_name(ctx.nodes)
            );
            return;
        }
        match t {
            "starting" => self.peer_starting(b, ctx),
            "resource" => self.report(b, ctx, msg),
            "ask_resources" => self.ask_resources(b, ctx, msg),
            "hb_takeover" => {
                // The peer wants `rsc_hold` (its view): we give up the mirror image.
                let class = match msg.str("rsc_hold") {
                    Some("failback") | None => Class::All,
                    Some(s) => Class::parse(s).unwrap_or(Class::All),
                };
                let _ = self.request_standby(
                    b,
                    ctx,
                    class.mirrored(),
                    "takeover requested by the peer",
                );
            }
            "shutdone" => self.peer_shut_down(b, ctx),
            "ip-request" | "ip-request-resp" => {
                tracing::debug!("ignoring {t}: only used with auto_failback legacy");
            }
            _ => {}
        }
    }

    fn on_peer_dead(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        // If we were giving groups away, the exchange is over: we take everything back below.
        // If we were taking the peer's groups, keep the exchange: a peer declared dead may be
        // merely cut off and still releasing them; its `done` must still be answered by
        // starting them (a restart or the guard timer ends the exchange otherwise).
        if self.standby.giving() {
            self.cancel_standby("peer died");
        }
        if b.deciding() {
            self.take_everything(b, ctx, "peer dead");
        }
    }

    fn on_peer_restart(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        self.owed_done = None;
        self.cancel_standby("peer restarted");
        if !b.deciding() {
            return;
        }
        let me = ctx.nodes.me();
        let missing = b
            .groups
            .of_class(Class::Local, me)
            .into_iter()
            .any(|g| !b.groups[g].claims() && !b.groups[g].failed_here);
        if !missing {
            b.peer_restart_pending = false;
        }
        if b.peer_restart_pending {
            tracing::info!(
                "peer {} restarted and may still run what it held: acquiring our own groups once \
                 its start-up probe is done (its starting message)",
                b.peer_name(ctx.nodes)
            );
            return;
        }
        self.restart_acquire(b, ctx);
    }

    fn step(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, step: Step) {
        match step {
            Step::Acquired { mach_down } => self.acquired(b, ctx, mach_down),
            Step::StandbyReleased => self.standby_released(b, ctx),
            Step::StandbyAcquired => self.standby_acquired(b, ctx),
            Step::Reply { .. } => {}
        }
    }

    fn set_failback(&mut self, on: bool) -> bool {
        self.failback = on;
        true
    }

    fn on_settled(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        self.maybe_reannounce(b);
        self.try_failback(b, ctx);
    }

    fn on_isolated(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {
        self.owed_done = match self.standby {
            Standby::Not => None,
            Standby::Asked { class, .. }
            | Standby::Releasing { class }
            | Standby::Released { class, .. }
            | Standby::Accepted { class, .. }
            | Standby::Acquiring { class } => Some(class),
        };
        self.cancel_standby("this node is isolated");
        self.needs_failback = false;
        self.rqst_deadline = None;
        self.held = (false, false);
    }

    fn on_rejoined(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let Some(class) = self.owed_done.take() else {
            return;
        };
        if b.peer_is_hbrs(ctx.nodes) {
            // The report that asks for the peer's (sent next) ends the exchange there: the
            // groups we released are then placed by both sides alike, none started twice.
            tracing::info!(
                "standby [{class}] was cut short by the isolation: our report tells the peer it \
                 is over"
            );
        } else {
            tracing::info!(
                "standby [{class}] was cut short by the isolation: telling the peer it is over"
            );
            ctx.send(wire::ask_resources(class, "done"));
        }
    }

    fn giving(&self) -> bool {
        self.standby.giving()
    }

    fn on_report_asked(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, giving_over: bool) {
        match self.standby {
            Standby::Asked { class, .. } => {
                tracing::info!(
                    "the peer may have lost our standby request [{class}]: sending it again"
                );
                ctx.send(wire::ask_resources(class, "me"));
            }
            Standby::Accepted { class, .. } if giving_over => {
                // The peer was cut off or declared us dead, which ended the standby it was
                // giving us: it will send no `done`.
                tracing::info!(
                    "{} was cut off while it gave us [{class}]: its standby is over",
                    b.peer_name(ctx.nodes)
                );
                self.standby = Standby::Not;
            }
            _ => {}
        }
    }

    fn on_peer_returned(&mut self, b: &mut Board, _ctx: &mut Ctx<'_>) {
        self.reannounce = true;
        self.maybe_reannounce(b);
    }

    fn stable(&self) -> bool {
        self.rstate == RState::Stable
    }

    fn after_local_failure(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, _g: GroupId) {
        self.hand_off_failed_groups(b, ctx);
    }

    fn standby(
        &mut self,
        b: &mut Board,
        ctx: &mut Ctx<'_>,
        class: Class,
        why: &str,
    ) -> Result<(), String> {
        self.request_standby(b, ctx, class, why)
    }

    fn takeover(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, class: Class) -> Result<(), String> {
        if b.shutdown.is_some() {
            return Err("this node is shutting down".into());
        }
        tracing::info!("asking {} to hand over [{class}]", b.peer_name(ctx.nodes));
        ctx.send(wire::hb_takeover(class));
        Ok(())
    }

    fn on_shutdown(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        self.rstate = RState::Shutdown;
        self.held = (false, false);
        self.cancel_standby("shutting down");
        if b.negotiating && b.peer.is_some() {
            b.send_report_as(ctx, &GroupSet::new(), false, Some("shutdown"));
        }
    }

    fn exchanging(&self) -> bool {
        self.standby != Standby::Not
    }

    fn rsc_class(&self, b: &Board, nodes: &Nodes) -> Option<Class> {
        if !b.groups.all_settled() || self.standby != Standby::Not {
            return None;
        }
        // Each part from the groups that run here; a part with no group at all from
        // Heartbeat's flags.
        let me = nodes.me();
        let running = b.groups.class_of(&b.groups.filter(|g| g.is_running()), me);
        let exists = b.groups.class_of(&b.groups.all(), me);
        let local = if exists.has_local() {
            running.has_local()
        } else {
            self.held.0
        };
        let foreign = if exists.has_foreign() {
            running.has_foreign()
        } else {
            self.held.1
        };
        Some(Class::from_parts(local, foreign))
    }

    fn deadline(&self) -> Option<Instant> {
        [self.rqst_deadline, self.standby.deadline()]
            .into_iter()
            .flatten()
            .min()
    }

    fn tick(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if self.rqst_deadline.is_some_and(|d| ctx.now >= d) {
            self.rqst_deadline = None;
            if self.rstate == RState::RscRcvd && !self.acquiring_local {
                self.acquire_local(b, ctx);
            }
        }
        self.standby_tick(b, ctx);
    }
}
