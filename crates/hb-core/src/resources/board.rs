//! The state both negotiation policies work on: this node's groups, what the peer holds,
//! the batches waiting for groups to settle, dual holdings being resolved, and the stage
//! of the node's resource side (probed, negotiating, shutting down). Policies act through
//! its methods; it never calls a policy.

use std::collections::BTreeMap;

use hb_proto::Message;

use crate::action::Class;
use crate::config::CoreConfig;
use crate::ctx::Ctx;
use crate::nodes::{NodeId, Nodes};
use crate::wire::{self, Holdings};

use super::batch::{Batches, Then};
use super::groups::{GroupId, GroupSet, Groups};
use super::peer::PeerView;
use super::shutdown::Shutdown;

#[derive(Debug)]
pub(crate) struct Board {
    pub(crate) groups: Groups,
    /// The resource peer: the other node of a two-node cluster.
    pub(crate) peer: Option<NodeId>,
    pub(crate) view: PeerView,
    batches: Batches,
    /// Dual holdings seen while our side was busy with the group: the peer's epoch.
    pub(crate) pending_conflicts: BTreeMap<GroupId, u64>,
    /// The peer came back from a partition (same generation) and has not restarted since:
    /// Heartbeat 3.0.6 resolves the partition by restarting, which our reports cannot tell.
    pub(crate) peer_returned: bool,
    /// The peer restarted while we held it dead: its coming back is not a partition's end.
    pub(crate) restarted_while_dead: bool,
    /// This node is cut off (no peer, no ping node): it holds nothing and takes nothing.
    pub(crate) isolated: bool,
    /// The dead peer's groups wait until a ping node confirms we are not cut off.
    pub(crate) takeover_deferred: bool,
    /// The peer restarted and was not known to hold nothing: until its `starting` (a
    /// heartbeat-rs node sends it once its start-up probe stopped what its previous run left
    /// behind) it may still hold resources, so our groups are not started again yet.
    pub(crate) peer_restart_pending: bool,
    /// Fencing held the negotiation back and the peer came back before its status said it
    /// is up (a restart: `init` first): begin it once it is up or active.
    pub(crate) begin_when_peer_up: bool,
    /// The start-up probe of every resource is done.
    pub(crate) probe_done: bool,
    /// Negotiation has begun (active and probed).
    pub(crate) negotiating: bool,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) finished: bool,
    /// A change of `haresources` being applied (its removed and changed groups stopping).
    pub(crate) reload: Option<super::reload::Plan>,
    /// `haresources` was changed by a reload: groups may be held by nobody while both
    /// nodes are up (one side has a group the other has not yet), and are placed by the
    /// orphan rule.
    pub(crate) reloaded: bool,
    /// The group table changed (a reload): what the peer holds of the new groups is not
    /// known until its next exact report; no orphan is adopted before it.
    pub(crate) await_report: bool,
    /// The fingerprints of the preferred nodes of the groups of the peer's `haresources`, from its latest exact
    /// report that had them (kept across its restarts: a restarted peer's first report
    /// replaces them). `None`: never told (Heartbeat 3, or an older heartbeat-rs).
    pub(crate) peer_defs: Option<BTreeMap<String, u64>>,
    /// The retiring groups of [`Board::reload`] have stopped: replace the table.
    pub(crate) swap_due: bool,
}

impl Board {
    pub(crate) fn new(
        cfg: &CoreConfig,
        peer: Option<NodeId>,
        node: impl Fn(usize) -> NodeId,
    ) -> Board {
        Board {
            groups: Groups::new(cfg, node),
            peer,
            view: PeerView::default(),
            batches: Batches::default(),
            pending_conflicts: BTreeMap::new(),
            peer_returned: false,
            restarted_while_dead: false,
            isolated: false,
            takeover_deferred: false,
            peer_restart_pending: false,
            begin_when_peer_up: false,
            probe_done: false,
            negotiating: false,
            shutdown: None,
            finished: false,
            reload: None,
            reloaded: false,
            swap_due: false,
            await_report: false,
            peer_defs: None,
        }
    }

    /// A reload replaced the group table: renumber every group this board refers to (the
    /// groups that left are forgotten; what the peer holds of them is asked again).
    pub(crate) fn remap(&mut self, map: &BTreeMap<GroupId, GroupId>) {
        let remap_set = |set: &GroupSet| -> GroupSet {
            set.iter().filter_map(|g| map.get(g).copied()).collect()
        };
        self.batches.remap(map);
        if self.view.exact {
            // The peer named its groups: the new table's groups it holds, by key.
            let by_keys = |keys: &[String]| -> GroupSet {
                keys.iter().filter_map(|k| self.groups.by_key(k)).collect()
            };
            self.view.holds = by_keys(&self.view.held_keys);
            self.view.failed = by_keys(&self.view.failed_keys);
        } else {
            self.view.holds = remap_set(&self.view.holds);
            self.view.failed = remap_set(&self.view.failed);
        }
        self.pending_conflicts = std::mem::take(&mut self.pending_conflicts)
            .into_iter()
            .filter_map(|(g, e)| map.get(&g).map(|&n| (n, e)))
            .collect();
    }

    /// Negotiating and not shutting down: decisions are taken.
    pub(crate) fn deciding(&self) -> bool {
        self.negotiating && self.shutdown.is_none()
    }

    // ----- the peer -----

    /// The peer runs and has not left.
    pub(crate) fn peer_alive(&self, nodes: &Nodes) -> bool {
        self.peer
            .is_some_and(|p| nodes[p].is_alive() && !self.view.left)
    }

    /// The peer runs, is stable and is not leaving: it can take groups.
    pub(crate) fn peer_ready(&self, nodes: &Nodes) -> bool {
        self.peer.is_some_and(|p| nodes[p].is_alive())
            && self.view.stable
            && !self.view.leaving
            && !self.view.left
    }

    pub(crate) fn peer_name(&self, nodes: &Nodes) -> String {
        self.peer.map(|p| nodes[p].name.clone()).unwrap_or_default()
    }

    /// The peer announced heartbeat-rs's extension.
    pub(crate) fn peer_is_hbrs(&self, nodes: &Nodes) -> bool {
        self.peer.is_some_and(|p| nodes[p].hbrs)
    }

    // ----- groups -----

    /// The peer restarted: it holds nothing now and will only acquire its own groups, so
    /// every group of ours not running here (held by the peer before, or released for a
    /// standby that the restart cancelled) must be started here again. Returns them, and
    /// says so if there are any.
    pub(crate) fn own_groups_to_restart(&self, ctx: &Ctx<'_>) -> GroupSet {
        let ours: GroupSet = self
            .groups
            .of_class(Class::Local, ctx.nodes.me())
            .into_iter()
            .filter(|&g| !self.groups[g].claims() && !self.groups[g].failed_here)
            .collect();
        if !ours.is_empty() {
            tracing::info!(
                "peer {} restarted: acquiring our own groups that do not run here",
                self.peer_name(ctx.nodes)
            );
        }
        ours
    }

    /// Whether the peer's `haresources` gives group `g` the same preferred node as ours, as far
    /// as we know (always, when it never told us).
    pub(crate) fn agreed(&self, g: GroupId) -> bool {
        let group = &self.groups[g];
        self.peer_defs
            .as_ref()
            .is_none_or(|defs| defs.get(&group.key) == Some(&group.fingerprint))
    }

    /// Starts every group of `set` that is not running here (and may run here); returns
    /// `then` if there is nothing to wait for. With the peer alive, a group whose preferred
    /// node its `haresources` names differently (one node reloaded a new file before the
    /// other) is left alone: each side might think it its own; it is placed once both agree.
    #[must_use]
    pub(crate) fn acquire(
        &mut self,
        ctx: &mut Ctx<'_>,
        set: &GroupSet,
        why: &str,
        then: Then,
    ) -> Option<Then> {
        let mut started = GroupSet::new();
        let peer_alive = self.peer_alive(ctx.nodes);
        for &g in set {
            if peer_alive && !self.agreed(g) {
                tracing::warn!(
                    "group {}: not starting it ({why}): {}'s haresources gives it another node \
                     (reload haresources on both nodes)",
                    self.groups[g].key,
                    self.peer_name(ctx.nodes)
                );
                continue;
            }
            if self.groups.start(ctx, g, why) {
                started.insert(g);
            }
        }
        self.batches.add(&self.groups, started, then)
    }

    /// Releases every group of `set` active here; returns `then` if there is nothing to
    /// wait for.
    #[must_use]
    pub(crate) fn release(
        &mut self,
        ctx: &mut Ctx<'_>,
        set: &GroupSet,
        why: &str,
        then: Then,
    ) -> Option<Then> {
        for &g in set {
            self.groups.stop(ctx, g, why);
        }
        self.batches.add(&self.groups, set.clone(), then)
    }

    /// Waits for `set` to settle; returns `then` if there is nothing to wait for.
    #[must_use]
    pub(crate) fn batch(&mut self, set: GroupSet, then: Then) -> Option<Then> {
        self.batches.add(&self.groups, set, then)
    }

    /// Group `g` settled: the continuations that are ready.
    pub(crate) fn settle(&mut self, g: GroupId) -> Vec<Then> {
        self.batches.settle(g)
    }

    // ----- reports -----

    fn holdings(&self) -> Holdings {
        Holdings {
            defs: Some(
                self.groups
                    .iter()
                    .filter(|(_, g)| !g.retiring)
                    .map(|(_, g)| (g.key.clone(), g.fingerprint))
                    .collect(),
            ),
            held: self
                .groups
                .iter()
                .filter(|(_, g)| g.claims())
                .map(|(_, g)| (g.key.clone(), g.epoch))
                .collect(),
            failed: self
                .groups
                .iter()
                .filter(|(_, g)| g.failed_here)
                .map(|(_, g)| g.key.clone())
                .collect(),
            reply: false,
        }
    }

    /// Sends `resource <class of what we hold> rtype=full isstable=.. [info=..]`.
    pub(crate) fn send_report(&self, ctx: &mut Ctx<'_>, stable: bool, info: Option<&str>) {
        let claimed = self.groups.claimed();
        self.send_report_as(ctx, &claimed, stable, info);
    }

    /// Like [`Board::send_report`] but announcing `set` as our class (Heartbeat announces
    /// what it is about to hold, e.g. `none` at shutdown).
    pub(crate) fn send_report_as(
        &self,
        ctx: &mut Ctx<'_>,
        set: &GroupSet,
        stable: bool,
        info: Option<&str>,
    ) {
        let class = self.groups.class_of(set, ctx.nodes.me());
        let ext = self.holdings();
        ctx.send(wire::resource(class, Some(stable), info, &ext));
    }

    /// Heartbeat's notice that we took over a dead peer's groups.
    pub(crate) fn send_mach_down(&self, ctx: &mut Ctx<'_>) {
        let ext = self.holdings();
        ctx.send(wire::resource(
            Class::Foreign,
            None,
            Some("mach_down"),
            &ext,
        ));
    }

    /// A full report that asks the peer for its own in return (after an isolation, when
    /// reports may have been lost).
    pub(crate) fn send_asking_report(&self, ctx: &mut Ctx<'_>, stable: bool, giving: bool) {
        let claimed = self.groups.claimed();
        let class = self.groups.class_of(&claimed, ctx.nodes.me());
        let mut msg =
            wire::resource(class, Some(stable), None, &self.holdings()).with(wire::F_ASK, "1");
        if !giving {
            msg = msg.with(wire::F_GIVING, "0");
        }
        ctx.send(msg);
    }

    /// A report that answers one showing a group held on both sides (never answered in
    /// turn).
    pub(crate) fn send_reply_report(&self, ctx: &mut Ctx<'_>, stable: bool) {
        let claimed = self.groups.claimed();
        let class = self.groups.class_of(&claimed, ctx.nodes.me());
        let mut ext = self.holdings();
        ext.reply = true;
        ctx.send(wire::resource(class, Some(stable), None, &ext));
    }

    /// Updates the peer view from a `resource` message (and resolves dual holdings it
    /// shows; `stable` is what our reports say). Returns whether it was a full report.
    pub(crate) fn absorb_report(
        &mut self,
        ctx: &mut Ctx<'_>,
        msg: &Message,
        stable: bool,
    ) -> Option<bool> {
        let peer = self.peer?;
        let Some(class) = msg.str("rsc_hold").and_then(Class::parse) else {
            ctx.warn_limited("bad-rsc-hold", || {
                "resource message without a valid rsc_hold".into()
            });
            return None;
        };
        let full = msg.str("rtype") == Some("full");
        let info = msg.str("info");
        let holdings = Holdings::parse(msg).filter(|h| {
            let Some((key, epoch)) = h.held.iter().find(|(_, e)| *e > wire::MAX_EPOCH) else {
                return true;
            };
            let peer = self.peer_name(ctx.nodes);
            ctx.warn_limited("bad-epoch", || {
                format!(
                    "{peer} reports group {key} held at epoch {epoch}, beyond any real count ({}): \
                     ignoring its exact holdings, reading only its resource class",
                    wire::MAX_EPOCH
                )
            });
            false
        });
        if let Some(h) = holdings {
            let mut holds = GroupSet::new();
            let mut epochs = BTreeMap::new();
            for (key, epoch) in &h.held {
                match self.groups.by_key(key) {
                    Some(g) => {
                        holds.insert(g);
                        epochs.insert(g, *epoch);
                        self.groups[g].saw_epoch(*epoch);
                    }
                    None => ctx.warn_limited("unknown-group", || {
                        format!("peer holds group {key:?} that is not in haresources here: haresources must be identical (after a reload on one node, reload the other too)")
                    }),
                }
            }
            self.view.failed = h
                .failed
                .iter()
                .filter_map(|k| self.groups.by_key(k))
                .collect();
            self.view.holds = holds;
            self.view.held_keys = h.held.iter().map(|(k, _)| k.clone()).collect();
            self.view.failed_keys = h.failed.clone();
            self.view.exact = true;
            self.await_report = false;
            if let Some(defs) = h.defs {
                self.peer_defs = Some(defs.into_iter().collect());
            }
            self.detect_conflicts(ctx, &epochs, h.reply, stable);
        } else {
            self.view.exact = false;
            let set = self.groups.of_class(class, peer);
            if full {
                self.view.holds = set;
            } else if class == Class::None {
                self.view.holds.clear();
            } else {
                self.view.holds.extend(set);
            }
        }
        match info {
            Some("shutdown") => self.view.leaving = true,
            Some("mach_down") => self.view.stable = true,
            _ => {}
        }
        self.view.reported = true;
        Some(full)
    }
}
