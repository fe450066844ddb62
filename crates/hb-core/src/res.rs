//! The resource layer shared by both negotiation protocols: who holds what, batches of group
//! operations with a continuation, resolving a group held on both sides of a healed
//! partition, and graceful shutdown. The protocols themselves are in [`crate::nice`]
//! (auto_failback on/off) and [`crate::legacy`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hb_proto::Message;

use crate::action::{Class, OpId};
use crate::groups::{GroupRt, Phase};
use crate::snapshot::GroupView;
use crate::wire::{self, Holdings};
use crate::{AutoFailback, Core, CoreConfig, Instant};

/// Heartbeat's fixed wait for an unstable peer at start-up (`RQSTDELAY`); only used with
/// peers that are not heartbeat-rs.
pub(crate) const RQSTDELAY: Duration = Duration::from_secs(10);
/// How long a standby request waits for the peer's `other`.
pub(crate) const STANDBY_REPLY: Duration = Duration::from_secs(10);
/// Guard for the later phases of a standby exchange.
pub(crate) const STANDBY_GUARD: Duration = Duration::from_secs(600);

/// Nice-failback resource states (spec §8.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RState {
    Init,
    Starting,
    BothStarting,
    RscRcvd,
    Stable,
    Shutdown,
}

/// The standby exchange (spec §8.5). Classes are from the point of view of the node giving
/// groups up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standby {
    Not,
    /// We asked to give up `class` and wait for `other`.
    Asked {
        class: Class,
        deadline: Instant,
    },
    /// We are stopping `class`.
    Releasing {
        class: Class,
    },
    /// We released `class`, sent `done`, and wait for the peer's `done`.
    Released {
        class: Class,
        deadline: Instant,
    },
    /// The peer asked to give up `class` (its view); we answered `other`.
    Accepted {
        class: Class,
        deadline: Instant,
    },
    /// The peer sent `done`; we are starting its `class` groups.
    Acquiring {
        class: Class,
    },
}

/// What we know of the peer's resources.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerView {
    pub(crate) holds: BTreeSet<usize>,
    pub(crate) failed: BTreeSet<usize>,
    /// The holdings came from heartbeat-rs's exact extension fields.
    pub(crate) exact: bool,
    pub(crate) stable: bool,
    /// A resource report arrived since the peer (re)started.
    pub(crate) reported: bool,
    /// The peer sent `starting` before we could act on it.
    pub(crate) starting_pending: bool,
    /// The peer announced a graceful shutdown (`info=shutdown`).
    pub(crate) leaving: bool,
    /// The peer finished its graceful shutdown (`shutdone`).
    pub(crate) left: bool,
}

/// What to do when a batch of group operations has settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// The start-up probe and cleanup finished.
    ProbeDone,
    /// Acquisition finished: become stable and report; `mach_down` adds Heartbeat's
    /// takeover notice.
    Acquired { mach_down: bool },
    /// Our side of a standby finished releasing.
    StandbyReleased,
    /// Our side of a standby finished acquiring.
    StandbyAcquired,
    /// One more group stopped during shutdown.
    ShutdownStep,
    /// Legacy: answer the peer's `ip-request` for `group` now that it is released.
    LegacyReply { group: usize },

    /// A group lost a dual-holding resolution and was released.
    ConflictReleased,
    /// An operator cleared a group's failures and its re-probe finished.
    CleanedUp { group: usize },
}

#[derive(Clone, Debug)]
struct Batch {
    groups: BTreeSet<usize>,
    then: Then,
}

/// Graceful shutdown progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shutdown {
    /// Waiting for running operations (or the start-up probe) to finish.
    Waiting,
    /// Stopping groups one by one, last haresources line first.
    Stopping,
    /// A stop failed: we keep running and keep claiming the group.
    Blocked,
    /// `shutdone` sent; waiting for the peer's acknowledgement.
    Lingering { seq: u64, deadline: Instant },
}

#[derive(Debug)]
pub(crate) struct ResState {
    pub(crate) groups: Vec<GroupRt>,
    pub(crate) peer: Option<usize>,
    pub(crate) view: PeerView,
    pub(crate) rstate: RState,
    pub(crate) standby: Standby,
    pub(crate) probe_done: bool,
    /// Negotiation has begun (active and probed).
    pub(crate) negotiating: bool,
    /// Local acquisition at start-up is under way or done.
    pub(crate) acquiring_local: bool,
    pub(crate) rqst_deadline: Option<Instant>,
    batches: Vec<Batch>,
    pub(crate) next_op: u64,
    pub(crate) ops: BTreeMap<OpId, usize>,
    /// Monitor runs in flight: (group, resource).
    pub(crate) monitor_ops: BTreeMap<OpId, (usize, usize)>,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) finished: bool,
    /// Dual holdings seen while our side was busy with the group: (group, peer's epoch).
    pending_conflicts: BTreeMap<usize, u64>,
    /// Legacy: groups we asked for with `ip-request`.
    pub(crate) legacy_asked: BTreeSet<usize>,
    /// Legacy: `ip-request`s that arrived before we could act.
    pub(crate) legacy_queued: Vec<String>,
}

impl ResState {
    pub(crate) fn new(cfg: &CoreConfig) -> ResState {
        ResState {
            groups: cfg
                .groups
                .iter()
                .map(|g| GroupRt::new(g.resources.len()))
                .collect(),
            peer: (0..cfg.nodes.len()).find(|&i| i != cfg.me && cfg.nodes.len() == 2),
            view: PeerView::default(),
            rstate: RState::Init,
            standby: Standby::Not,
            probe_done: false,
            negotiating: false,
            acquiring_local: false,
            rqst_deadline: None,
            batches: Vec::new(),
            next_op: 0,
            ops: BTreeMap::new(),
            monitor_ops: BTreeMap::new(),
            shutdown: None,
            finished: false,
            pending_conflicts: BTreeMap::new(),
            legacy_asked: BTreeSet::new(),
            legacy_queued: Vec::new(),
        }
    }
}

impl Core {
    // ----- sets and classes -----

    /// Groups of `class` from node `node`'s point of view.
    pub(crate) fn class_groups(&self, class: Class, node: usize) -> BTreeSet<usize> {
        (0..self.cfg.groups.len())
            .filter(|&g| {
                let local = self.cfg.groups[g].preferred == node;
                (local && class.has_local()) || (!local && class.has_foreign())
            })
            .collect()
    }

    /// The class a set of groups forms from node `node`'s point of view.
    pub(crate) fn class_of(&self, set: &BTreeSet<usize>, node: usize) -> Class {
        let local = set.iter().any(|&g| self.cfg.groups[g].preferred == node);
        let foreign = set.iter().any(|&g| self.cfg.groups[g].preferred != node);
        Class::from_parts(local, foreign)
    }

    /// Groups whose resources may be active here.
    pub(crate) fn claimed(&self) -> BTreeSet<usize> {
        (0..self.res.groups.len())
            .filter(|&g| self.res.groups[g].claims())
            .collect()
    }

    pub(crate) fn group_by_key(&self, key: &str) -> Option<usize> {
        self.cfg.groups.iter().position(|g| g.key == key)
    }

    pub(crate) fn peer_alive(&self) -> bool {
        self.res
            .peer
            .is_some_and(|p| self.nodes[p].is_alive() && !self.res.view.left)
    }

    pub(crate) fn peer_name(&self) -> String {
        self.res
            .peer
            .map(|p| self.nodes[p].name.clone())
            .unwrap_or_default()
    }

    fn holdings(&self) -> Holdings {
        let me = &self.res.groups;
        Holdings {
            held: (0..me.len())
                .filter(|&g| me[g].claims())
                .map(|g| (self.cfg.groups[g].key.clone(), me[g].epoch))
                .collect(),
            failed: (0..me.len())
                .filter(|&g| me[g].failed_here)
                .map(|g| self.cfg.groups[g].key.clone())
                .collect(),
            reply: false,
        }
    }

    /// Sends `resource <class of what we hold> rtype=full isstable=.. [info=..]`.
    pub(crate) fn send_report(&mut self, now: Instant, stable: bool, info: Option<&str>) {
        let claimed = self.claimed();
        self.send_report_as(now, &claimed, stable, info);
    }

    /// Like [`Core::send_report`] but announcing `set` as our class (Heartbeat announces
    /// what it is about to hold, e.g. `none` at shutdown).
    pub(crate) fn send_report_as(
        &mut self,
        now: Instant,
        set: &BTreeSet<usize>,
        stable: bool,
        info: Option<&str>,
    ) {
        let class = self.class_of(set, self.me());
        let ext = self.holdings();
        self.send(now, wire::resource(class, Some(stable), info, &ext));
    }

    pub(crate) fn send_mach_down(&mut self, now: Instant) {
        let ext = self.holdings();
        self.send(
            now,
            wire::resource(Class::Foreign, None, Some("mach_down"), &ext),
        );
    }

    // ----- batches -----

    /// Runs `then` once every group of `groups` has settled (at once if they all have).
    pub(crate) fn batch(&mut self, now: Instant, groups: BTreeSet<usize>, then: Then) {
        let pending: BTreeSet<usize> = groups
            .into_iter()
            .filter(|&g| !self.res.groups[g].settled())
            .collect();
        if pending.is_empty() {
            self.run_then(now, then);
        } else {
            self.res.batches.push(Batch {
                groups: pending,
                then,
            });
        }
    }

    /// Group `g` has no job and nothing queued.
    pub(crate) fn on_group_settled(&mut self, now: Instant, g: usize) {
        let mut ready = Vec::new();
        self.res.batches.retain_mut(|b| {
            b.groups.remove(&g);
            if b.groups.is_empty() {
                ready.push(b.then);
                false
            } else {
                true
            }
        });
        if let Some(theirs) = self.res.pending_conflicts.remove(&g)
            && self.res.groups[g].claims()
        {
            self.resolve_conflict(now, g, theirs);
        }
        for then in ready {
            self.run_then(now, then);
        }
        if std::mem::take(&mut self.res.groups[g].handoff_pending) {
            self.after_local_failure(now, g);
        }
        if self.res.shutdown == Some(Shutdown::Waiting) {
            self.shutdown_progress(now);
        }
    }

    fn run_then(&mut self, now: Instant, then: Then) {
        match then {
            Then::ProbeDone => {
                self.res.probe_done = true;
                tracing::info!(
                    "node {}: start-up probe of all resources done",
                    self.node_name()
                );
                self.maybe_begin_negotiation(now);
                if self.res.shutdown.is_some() {
                    self.shutdown_progress(now);
                }
            }
            Then::Acquired { mach_down } => self.on_acquired(now, mach_down),
            Then::StandbyReleased => self.on_standby_released(now),
            Then::StandbyAcquired => self.on_standby_acquired(now),
            Then::ShutdownStep => self.shutdown_progress(now),
            Then::LegacyReply { group } => self.legacy_reply(now, group, true),
            Then::ConflictReleased => {
                let stable = self.res.rstate == RState::Stable || !self.cfg.auto_failback.is_nice();
                self.send_report(now, stable, None);
            }
            Then::CleanedUp { group } => self.place_after_cleanup(now, group),
        }
    }

    // ----- local failures and their clearing -----

    /// Group `g` was stopped here because it failed (restart limit, or a restart's start
    /// failed): tell the peer and offer it the group.
    fn after_local_failure(&mut self, now: Instant, g: usize) {
        let key = self.cfg.groups[g].key.clone();
        if !self.res.negotiating || self.res.shutdown.is_some() {
            return;
        }
        if self.res.groups[g].claims() {
            // A stop failed: the group is unmanaged and stays claimed here.
            return;
        }
        let stable = self.res.rstate == RState::Stable || !self.cfg.auto_failback.is_nice();
        self.send_report(now, stable, None);
        if !self.peer_alive() {
            tracing::error!(
                "group {key} failed here and no peer is up to take it: it stays stopped until \
                 hb_cleanup {key}"
            );
            return;
        }
        if self.cfg.auto_failback.is_nice() {
            self.hand_off_failed_groups(now);
        } else {
            tracing::warn!(
                "group {key} failed here; with auto_failback legacy it moves only when this \
                 node stops or an operator runs hb_standby"
            );
        }
    }

    /// `hb_cleanup`: forgets the failures of `which` (or every group). Returns the keys of
    /// the groups that had something to clear.
    pub(crate) fn cleanup(&mut self, now: Instant, which: Option<usize>) -> Vec<String> {
        let groups: Vec<usize> = match which {
            Some(g) if g < self.res.groups.len() => vec![g],
            Some(_) => return Vec::new(),
            None => (0..self.res.groups.len()).collect(),
        };
        let mut cleared = Vec::new();
        for g in groups {
            let rt = &mut self.res.groups[g];
            let had = rt.failed_here
                || rt.failure.is_some()
                || matches!(rt.phase, Phase::Failed)
                || rt.res.iter().any(|r| !r.failures.is_empty());
            if !had {
                continue;
            }
            rt.failed_here = false;
            rt.failure = None;
            rt.handoff_pending = false;
            for r in &mut rt.res {
                r.failures.clear();
            }
            let key = self.cfg.groups[g].key.clone();
            cleared.push(key.clone());
            if matches!(self.res.groups[g].phase, Phase::Failed) {
                tracing::info!(
                    "group {key}: failures cleared by the operator; probing its resources to manage it again"
                );
                self.res.groups[g].phase = Phase::Stopped;
                self.group_probe(g);
                self.batch(now, BTreeSet::from([g]), Then::CleanedUp { group: g });
            } else {
                tracing::info!("group {key}: failures cleared by the operator");
                self.place_after_cleanup(now, g);
            }
        }
        cleared
    }

    /// After a cleanup: start the group here if nobody holds it and it may run here; tell
    /// the peer in any case (its auto_failback may now give the group back).
    fn place_after_cleanup(&mut self, now: Instant, g: usize) {
        if !self.res.negotiating || self.res.shutdown.is_some() || self.res.groups[g].claims() {
            return;
        }
        if self.cfg.auto_failback.is_nice() && self.res.standby != Standby::Not {
            return;
        }
        let peer_holds = self.peer_alive() && self.res.view.holds.contains(&g);
        let ours = self.cfg.groups[g].preferred == self.me();
        let nobody =
            !peer_holds && (!self.peer_alive() || ours || self.res.view.failed.contains(&g));
        if nobody {
            self.acquire(
                now,
                &BTreeSet::from([g]),
                "failures cleared",
                Then::Acquired { mach_down: false },
            );
        } else {
            let stable = self.res.rstate == RState::Stable || !self.cfg.auto_failback.is_nice();
            self.send_report(now, stable, None);
        }
    }

    // ----- events from membership -----

    /// We became active.
    pub(crate) fn on_active(&mut self, now: Instant) {
        self.maybe_begin_negotiation(now);
    }

    fn maybe_begin_negotiation(&mut self, now: Instant) {
        if self.res.negotiating
            || !self.res.probe_done
            || !self.is_active()
            || self.res.shutdown.is_some()
        {
            return;
        }
        self.res.negotiating = true;
        if self.cfg.auto_failback.is_nice() {
            self.nice_begin(now);
        } else {
            self.legacy_begin(now);
        }
    }

    pub(crate) fn on_peer_dead(&mut self, now: Instant, i: usize) {
        if self.res.peer != Some(i) {
            return;
        }
        let name = self.nodes[i].name.clone();
        let known_empty =
            (self.res.view.reported || self.res.view.left) && self.res.view.holds.is_empty();
        if known_empty {
            tracing::info!("dead node {name} gave up its resources: no takeover fencing needed");
        } else {
            tracing::warn!(
                "no STONITH device configured: taking over {name}'s resources without fencing it"
            );
        }
        self.send(now, wire::stonith(&name, !known_empty));
        self.res.view = PeerView::default();
        self.res.pending_conflicts.clear();
        // If we were giving groups away, the exchange is over: we take everything back below.
        // If we were taking the peer's groups, keep the exchange: a peer declared dead may be
        // merely cut off and still releasing them; its `done` must still be answered by
        // starting them (a restart or the guard timer ends the exchange otherwise).
        if matches!(
            self.res.standby,
            Standby::Asked { .. } | Standby::Releasing { .. } | Standby::Released { .. }
        ) {
            self.cancel_standby("peer died");
        }
        if self.res.negotiating && self.res.shutdown.is_none() {
            if self.cfg.auto_failback.is_nice() {
                self.nice_takeover(now, "peer dead");
            } else {
                self.legacy_takeover(now);
            }
        }
    }

    /// The peer is back with the same generation: it was cut off, not restarted.
    pub(crate) fn on_peer_returned(&mut self, now: Instant, i: usize) {
        if self.res.peer != Some(i) {
            return;
        }
        self.res.view = PeerView {
            stable: true,
            ..PeerView::default()
        };
        if self.res.negotiating && self.res.shutdown.is_none() {
            // Tell the peer exactly what we hold so that a group held on both sides is
            // resolved by the rule of docs/protocol.md instead of Heartbeat's restart.
            let stable = self.res.rstate == RState::Stable || !self.cfg.auto_failback.is_nice();
            self.send_report(now, stable, None);
        }
    }

    /// The peer restarted (new generation): it holds nothing now and negotiates afresh.
    pub(crate) fn on_peer_restart(&mut self, now: Instant, i: usize) {
        if self.res.peer != Some(i) {
            return;
        }
        self.res.view = PeerView::default();
        self.res.pending_conflicts.clear();
        self.cancel_standby("peer restarted");
        if !self.res.negotiating || self.res.shutdown.is_some() {
            return;
        }
        // The restarted peer holds nothing and will only acquire its own groups: every group
        // of ours not running here (held by the peer before, or released for a standby that
        // the restart cancelled) must be started here again.
        let me = self.me();
        let ours: BTreeSet<usize> = self
            .class_groups(Class::Local, me)
            .into_iter()
            .filter(|&g| !self.res.groups[g].claims() && !self.res.groups[g].failed_here)
            .collect();
        if !ours.is_empty() {
            tracing::info!(
                "peer {} restarted: acquiring our own groups that do not run here",
                self.peer_name()
            );
            if self.cfg.auto_failback.is_nice() {
                self.acquire(
                    now,
                    &ours,
                    "peer restarted",
                    Then::Acquired { mach_down: false },
                );
            } else {
                for g in ours {
                    self.legacy_self_grant(now, g);
                }
            }
        }
    }

    pub(crate) fn on_resource_message(
        &mut self,
        now: Instant,
        from: usize,
        _seq: u64,
        t: &str,
        msg: &Message,
    ) {
        if self.res.peer != Some(from) {
            tracing::debug!(
                "ignoring {t} from {}: not the resource peer",
                self.nodes[from].name
            );
            return;
        }
        if t == "shutdone" {
            self.ack_now(now, from);
        }
        if self.cfg.auto_failback.is_nice() {
            self.nice_message(now, t, msg);
        } else {
            self.legacy_message(now, t, msg);
        }
    }

    /// Updates the peer view from a `resource` message. Returns whether it was a full report.
    pub(crate) fn absorb_report(&mut self, now: Instant, msg: &Message) -> Option<bool> {
        let peer = self.res.peer?;
        let class = match msg.str("rsc_hold").and_then(Class::parse) {
            Some(c) => c,
            None => {
                self.warn_limited(now, "bad-rsc-hold", || {
                    "resource message without a valid rsc_hold".into()
                });
                return None;
            }
        };
        let full = msg.str("rtype") == Some("full");
        let info = msg.str("info");
        if let Some(h) = Holdings::parse(msg) {
            let mut holds = BTreeSet::new();
            let mut epochs = BTreeMap::new();
            for (key, epoch) in &h.held {
                match self.group_by_key(key) {
                    Some(g) => {
                        holds.insert(g);
                        epochs.insert(g, *epoch);
                        let rt = &mut self.res.groups[g];
                        rt.max_epoch = rt.max_epoch.max(*epoch);
                    }
                    None => self.warn_limited(now, "unknown-group", || {
                        format!("peer holds group {key:?} that is not in haresources here: haresources must be identical")
                    }),
                }
            }
            self.res.view.failed = h
                .failed
                .iter()
                .filter_map(|k| self.group_by_key(k))
                .collect();
            self.res.view.holds = holds;
            self.res.view.exact = true;
            self.detect_conflicts(now, &epochs, h.reply);
        } else {
            self.res.view.exact = false;
            let set = self.class_groups(class, peer);
            if full {
                self.res.view.holds = set;
            } else if class == Class::None {
                self.res.view.holds.clear();
            } else {
                self.res.view.holds.extend(set);
            }
        }
        match info {
            Some("shutdown") => self.res.view.leaving = true,
            Some("mach_down") => self.res.view.stable = true,
            _ => {}
        }
        self.res.view.reported = true;
        Some(full)
    }

    // ----- dual holding -----

    fn detect_conflicts(&mut self, now: Instant, theirs: &BTreeMap<usize, u64>, is_reply: bool) {
        self.res
            .pending_conflicts
            .retain(|g, _| theirs.contains_key(g));
        let dual: Vec<(usize, u64)> = theirs
            .iter()
            .filter(|(g, _)| self.res.groups[**g].claims())
            .map(|(g, e)| (*g, *e))
            .collect();
        if dual.is_empty() {
            return;
        }
        // Make sure the peer sees our epochs too, so both sides decide alike. A reply is
        // marked and never answered: two nodes that both keep a group (a stop failed) do not
        // answer each other's reports forever.
        if !is_reply {
            let stable = self.res.rstate == RState::Stable || !self.cfg.auto_failback.is_nice();
            let claimed = self.claimed();
            let class = self.class_of(&claimed, self.me());
            let mut ext = self.holdings();
            ext.reply = true;
            self.send(now, wire::resource(class, Some(stable), None, &ext));
        }
        for (g, epoch) in dual {
            let rt = &self.res.groups[g];
            if rt.settled() && rt.is_running() {
                self.resolve_conflict(now, g, epoch);
            } else if !matches!(rt.phase, Phase::Failed) {
                self.res.pending_conflicts.insert(g, epoch);
            }
        }
    }

    /// Both we and the peer hold group `g`. Exactly one keeps it, decided alike on both
    /// sides: the earlier acquisition (lower epoch) wins; on a tie the group's preferred
    /// node wins (docs/protocol.md, "Dual holding").
    fn resolve_conflict(&mut self, now: Instant, g: usize, theirs: u64) {
        let mine = self.res.groups[g].epoch;
        let me_wins = if mine != theirs {
            mine < theirs
        } else {
            self.cfg.groups[g].preferred == self.me()
        };
        let key = self.cfg.groups[g].key.clone();
        let peer = self.peer_name();
        if me_wins {
            tracing::warn!(
                "group {key}: held here (epoch {mine}) and on {peer} (epoch {theirs}) after a partition: \
                 this node keeps it and re-announces it"
            );
            if self.res.groups[g].is_running() {
                self.group_reannounce(g);
            }
        } else {
            tracing::warn!(
                "group {key}: held here (epoch {mine}) and on {peer} (epoch {theirs}) after a partition: \
                 {peer} keeps it; releasing it here"
            );
            self.group_stop(g, "dual holding resolved for the peer");
            self.batch(now, BTreeSet::from([g]), Then::ConflictReleased);
        }
    }

    // ----- acquisition helpers -----

    /// Starts every group of `set` that is not running here (and may run here), then
    /// runs `then`.
    pub(crate) fn acquire(&mut self, now: Instant, set: &BTreeSet<usize>, why: &str, then: Then) {
        let mut started = BTreeSet::new();
        for &g in set {
            if self.group_start(g, why) {
                started.insert(g);
            }
        }
        self.batch(now, started, then);
    }

    /// Releases every group of `set` active here, then runs `then`.
    pub(crate) fn release(&mut self, now: Instant, set: &BTreeSet<usize>, why: &str, then: Then) {
        for &g in set {
            self.group_stop(g, why);
        }
        self.batch(now, set.clone(), then);
    }

    pub(crate) fn cancel_standby(&mut self, why: &str) {
        if self.res.standby != Standby::Not {
            tracing::info!("standby exchange cancelled: {why}");
            self.res.standby = Standby::Not;
        }
    }

    // ----- shutdown -----

    pub(crate) fn begin_shutdown(&mut self, now: Instant) {
        match self.res.shutdown {
            Some(Shutdown::Blocked) => {
                tracing::warn!("shutdown requested again: retrying to stop failed groups");
                for g in 0..self.res.groups.len() {
                    if matches!(self.res.groups[g].phase, Phase::Failed) {
                        self.res.groups[g].phase = Phase::Running;
                    }
                }
                self.res.shutdown = Some(Shutdown::Stopping);
                self.shutdown_progress(now);
                return;
            }
            Some(_) => return,
            None => {}
        }
        tracing::info!("node {}: graceful shutdown requested", self.node_name());
        self.res.shutdown = Some(Shutdown::Waiting);
        self.res.rstate = RState::Shutdown;
        self.cancel_standby("shutting down");
        for rt in &mut self.res.groups {
            if rt.want == Some(crate::groups::Want::Start) {
                rt.want = None;
            }
        }
        if self.res.negotiating && self.cfg.auto_failback.is_nice() && self.res.peer.is_some() {
            self.send_report_as(now, &BTreeSet::new(), false, Some("shutdown"));
        }
        self.shutdown_progress(now);
    }

    fn shutdown_progress(&mut self, now: Instant) {
        match self.res.shutdown {
            Some(Shutdown::Waiting | Shutdown::Stopping) => {}
            _ => return,
        }
        if !self.res.probe_done
            || self
                .res
                .groups
                .iter()
                .any(|g| matches!(g.phase, Phase::Busy(_)))
        {
            if self.res.shutdown != Some(Shutdown::Waiting) {
                self.res.shutdown = Some(Shutdown::Waiting);
            }
            tracing::info!("shutdown delayed until current resource activity finishes");
            return;
        }
        self.res.shutdown = Some(Shutdown::Stopping);
        let next = (0..self.res.groups.len())
            .rev()
            .find(|&g| self.res.groups[g].is_running());
        if let Some(g) = next {
            self.release(
                now,
                &BTreeSet::from([g]),
                "graceful shutdown",
                Then::ShutdownStep,
            );
            return;
        }
        if self
            .res
            .groups
            .iter()
            .any(|g| matches!(g.phase, Phase::Failed))
        {
            tracing::error!(
                "graceful shutdown blocked: a group failed to stop and may still run here; heartbeat keeps \
                 running and keeps it from starting elsewhere. Stop its resources by hand, then stop \
                 heartbeat again"
            );
            self.res.shutdown = Some(Shutdown::Blocked);
            return;
        }
        let seq = self.send(now, wire::shutdone()).unwrap_or(0);
        tracing::info!(
            "node {}: all resources released; shutdown notice sent",
            self.node_name()
        );
        if self.peer_alive() {
            let linger = self
                .cfg
                .deadtime
                .min(Duration::from_secs(2))
                .max(self.cfg.keepalive * 4);
            self.res.shutdown = Some(Shutdown::Lingering {
                seq,
                deadline: now + linger,
            });
        } else {
            self.finish();
        }
    }

    fn finish(&mut self) {
        if !self.res.finished {
            tracing::info!("node {}: heartbeat shutdown complete", self.node_name());
            self.res.finished = true;
        }
    }

    pub(crate) fn on_ack(&mut self, _now: Instant) {
        if let (Some(Shutdown::Lingering { seq, .. }), Some(p)) = (self.res.shutdown, self.res.peer)
            && self.nodes[p].acked_by >= seq
        {
            self.finish();
        }
    }

    // ----- timers -----

    pub(crate) fn res_deadline(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut fold = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        if let Some(d) = self.res.rqst_deadline {
            fold(d);
        }
        match self.res.standby {
            Standby::Asked { deadline, .. }
            | Standby::Released { deadline, .. }
            | Standby::Accepted { deadline, .. } => fold(deadline),
            _ => {}
        }
        if let Some(Shutdown::Lingering { deadline, .. }) = self.res.shutdown {
            fold(deadline);
        }
        if let Some(d) = self.monitor_deadline() {
            fold(d);
        }
        t
    }

    pub(crate) fn res_tick(&mut self, now: Instant) {
        self.monitor_tick(now);
        if let Some(Shutdown::Lingering { deadline, .. }) = self.res.shutdown
            && now >= deadline
        {
            tracing::info!("no acknowledgement of the shutdown notice; leaving anyway");
            self.finish();
        }
        if self.res.rqst_deadline.is_some_and(|d| now >= d) {
            self.res.rqst_deadline = None;
            self.nice_rqst_timeout(now);
        }
        match self.res.standby {
            Standby::Asked { deadline, .. } if now >= deadline => {
                tracing::warn!("no reply to standby request: standby request cancelled");
                self.res.standby = Standby::Not;
            }
            Standby::Released { deadline, .. } | Standby::Accepted { deadline, .. }
                if now >= deadline =>
            {
                tracing::warn!(
                    "standby exchange with {} did not finish: cancelled",
                    self.peer_name()
                );
                self.res.standby = Standby::Not;
            }
            _ => {}
        }
    }

    // ----- views -----

    pub(crate) fn group_views(&self) -> Vec<GroupView> {
        (0..self.cfg.groups.len())
            .map(|g| {
                let rt = &self.res.groups[g];
                let holder = if rt.claims() {
                    Some(self.node_name().to_string())
                } else if self.res.view.holds.contains(&g) && self.peer_alive() {
                    Some(self.peer_name())
                } else {
                    None
                };
                GroupView {
                    key: self.cfg.groups[g].key.clone(),
                    preferred: self.cfg.nodes[self.cfg.groups[g].preferred].clone(),
                    state: rt.state(),
                    holder,
                    failed_here: rt.failed_here,
                    failure: rt.failure.clone(),
                    managed: !matches!(rt.phase, Phase::Failed),
                    since: rt.since,
                    resources: rt
                        .res
                        .iter()
                        .enumerate()
                        .map(|(r, x)| crate::snapshot::ResourceView {
                            name: self.cfg.groups[g]
                                .resources
                                .get(r)
                                .cloned()
                                .unwrap_or_default(),
                            state: x.state,
                            monitor_interval: self.cfg.groups[g]
                                .monitor
                                .get(r)
                                .and_then(|m| m.interval),
                            failures: u32::try_from(x.failures.len()).unwrap_or(u32::MAX),
                            restarts: x.restarts,
                            monitors: x.monitors,
                            last_failure: x.last_failure.clone(),
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Heartbeat's `rscstatus`: `None` while in transition.
    pub(crate) fn rsc_class(&self) -> Option<Class> {
        if self.cfg.auto_failback == AutoFailback::Legacy {
            return Some(Class::None);
        }
        if self.res.groups.iter().any(|g| !g.settled()) || !matches!(self.res.standby, Standby::Not)
        {
            return None;
        }
        let set: BTreeSet<usize> = (0..self.res.groups.len())
            .filter(|&g| self.res.groups[g].is_running())
            .collect();
        Some(self.class_of(&set, self.me()))
    }
}
