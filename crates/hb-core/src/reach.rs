//! What ping nodes decide: the built-in ipfail and the isolation rule (`docs/ha.cf.md#ping`).
//!
//! - **ipfail** (Heartbeat's `respawn ... ipfail`, or `ipfail on`): each heartbeat-rs node
//!   announces how many ping nodes it reaches in its status heartbeat (`hbrs_ping`). When this
//!   node has reached fewer than its peer for [`Reach::hold`] (two keepalives, ipfail's own
//!   delay), it hands every group it holds to the peer (a standby of `all`, logged with
//!   ipfail's words). When the counts are equal again and `auto_failback` is on, it asks for
//!   its own groups back. After either move it makes no other for `deadping`, so a flapping
//!   ping node moves groups at most once per `deadping`.
//! - **isolation** (`isolation release`, the default with ping nodes): a node that hears no
//!   peer and whose ping nodes are all dead, or none of whose heartbeat interfaces has carrier
//!   (the shell reports it: [`Core::handle_carrier`]), is cut off. It releases every group and
//!   takes nothing over until a peer is heard again or the witness that condemned it recovers.
//!   A peer declared dead is taken over only once a ping node has answered a probe sent after
//!   the declaration (so a node whose cable was pulled never starts its peer's groups); without
//!   ping nodes, at once unless the carrier is gone.

use std::cmp::Ordering;
use std::time::Duration;

use crate::action::Class;
use crate::snapshot::NodeStatus;
use crate::{Core, Instant};

/// The state of both policies.
#[derive(Debug, Default)]
pub(crate) struct Reach {
    /// This node is cut off and holds nothing.
    pub(crate) isolated: bool,
    /// No heartbeat interface has carrier (the shell says so).
    pub(crate) carrier_lost: bool,
    /// Since when no heartbeat interface has carrier.
    carrier_lost_since: Option<Instant>,
    /// A dead peer's groups wait for a ping reply newer than this.
    pub(crate) deferred_since: Option<Instant>,
    /// The isolation ended by a ping reply while the peer was still held dead: its groups
    /// wait until then (a deadtime) for its heartbeat, which a healed cable brings back.
    pub(crate) rejoin_until: Option<Instant>,
    /// How our ping count compares with the peer's, and since when.
    verdict: Option<(Ordering, Instant)>,
    /// When ipfail last moved groups.
    last_move: Option<Instant>,
    /// ipfail handed our groups to the peer (it asks for them back when balanced).
    gave_up: bool,
    /// ipfail could not act (an exchange was running): try again then.
    retry_at: Option<Instant>,
}

impl Reach {
    /// How long an imbalance must last before ipfail acts (ipfail's delayed giveup: twice
    /// the keepalive).
    pub(crate) fn hold(keepalive: Duration) -> Duration {
        keepalive.saturating_mul(2)
    }
}

impl Core {
    /// The earliest deadline of the ping side and its policies.
    pub(crate) fn reach_deadline(&self) -> Option<Instant> {
        let ipfail = if self.cfg.ping.ipfail {
            let hold = Reach::hold(self.cfg.timing.keepalive());
            let spacing = self.pings.deadping();
            let r = &self.reach;
            [
                r.verdict.map(|(_, since)| since + hold),
                r.last_move.map(|t| t + spacing),
                r.retry_at,
            ]
            .into_iter()
            .flatten()
            .filter(|&t| t > self.now)
            .min()
        } else {
            None
        };
        let carrier = if self.cfg.ping.gates_takeover() && !self.reach.isolated {
            self.reach
                .carrier_lost_since
                .map(|t| t + self.carrier_grace())
                .filter(|&t| t > self.now)
        } else {
            None
        };
        [
            self.pings.deadline(),
            ipfail,
            self.reach.rejoin_until,
            carrier,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// How long a carrier loss must last to isolate a node whose peer is still heard of.
    fn carrier_grace(&self) -> Duration {
        self.cfg.timing.deadtime() / 2
    }

    /// Sends a probe round if one is due.
    pub(crate) fn send_probes(&mut self, now: Instant) {
        for host in self.pings.probes(now) {
            self.out.push(crate::Action::Ping(host));
        }
    }

    /// The clock: probe rounds, ping node deaths, ipfail's hold-downs.
    pub(crate) fn reach_tick(&mut self, now: Instant) {
        self.send_probes(now);
        if self.pings.tick(now).changed {
            self.status_dirty = true;
        }
        self.reach_check(now);
    }

    /// An ICMP echo reply from `from` (the shell checked it answers our request).
    pub fn handle_ping_reply(&mut self, now: Instant, from: std::net::IpAddr) {
        let now = self.advance(now);
        if !self.pings.knows(from) {
            tracing::debug!("echo reply from {from}, which is no ping node");
            return;
        }
        if self.pings.reply(now, from).changed {
            self.status_dirty = true;
        }
        self.reach_check(now);
        self.flush_status(now);
    }

    /// Whether every heartbeat interface has lost its carrier (`true`) or one has it
    /// (`false`): with the isolation rule, a node that hears no peer and has no carrier is cut
    /// off whatever its ping nodes say. The shell reports changes (reporting the same state
    /// again is harmless).
    pub fn handle_carrier(&mut self, now: Instant, lost: bool) {
        let now = self.advance(now);
        if self.reach.carrier_lost == lost {
            return;
        }
        self.reach.carrier_lost = lost;
        self.reach.carrier_lost_since = lost.then_some(now);
        if lost {
            tracing::warn!(
                "node {}: no heartbeat interface has carrier",
                self.node_name()
            );
        } else {
            tracing::info!(
                "node {}: a heartbeat interface has carrier again",
                self.node_name()
            );
        }
        self.reach_check(now);
        self.flush_status(now);
    }

    /// A peer was declared dead: may its groups be taken over now? With the isolation rule,
    /// only after a ping node answered a probe sent from now on (without ping nodes, the
    /// carrier alone decides: `isolation_check` runs before the takeover).
    pub(crate) fn takeover_gated(&mut self, now: Instant) -> bool {
        if !self.cfg.ping.gates_takeover() || self.cfg.ping.targets.is_empty() {
            return false;
        }
        self.pings.probe_soon();
        self.send_probes(now);
        self.reach.deferred_since = Some(now);
        true
    }

    /// Re-evaluates isolation, a deferred takeover and ipfail after any change.
    pub(crate) fn reach_check(&mut self, now: Instant) {
        self.isolation_check(now);
        if self.cfg.ping.ipfail {
            self.ipfail_check(now);
        }
    }

    /// Every peer is dead (and there is at least one: a node alone in `ha.cf` is never
    /// isolated, it has no peer to leave its groups to).
    fn peers_all_dead(&self) -> bool {
        self.nodes.peers().next().is_some()
            && self
                .nodes
                .peers()
                .all(|i| self.nodes[i].status == NodeStatus::Dead)
    }

    fn isolation_check(&mut self, now: Instant) {
        if !self.cfg.ping.gates_takeover() {
            return;
        }
        // Without carrier for half a deadtime, nobody can hear this node: it is cut off before
        // its peer declares it dead (a deadtime after its last heartbeat), so that it has
        // released its groups when the peer takes them over.
        let carrier_gone = self.nodes.peers().next().is_some()
            && self
                .reach
                .carrier_lost_since
                .is_some_and(|t| now >= t + self.carrier_grace());
        let cut_off = (self.peers_all_dead() || carrier_gone)
            && (self.reach.carrier_lost || self.pings.all_dead());
        if cut_off && !self.reach.isolated {
            self.reach.isolated = true;
            self.reach.deferred_since = None;
            self.reach.rejoin_until = None;
            let why = if self.reach.carrier_lost {
                "no heartbeat interface has carrier"
            } else {
                "no ping node answers"
            };
            tracing::warn!(
                "node {}: isolated: no peer is heard and {why}; releasing every resource group \
                 and taking none over (isolation release)",
                self.node_name()
            );
            let (res, mut ctx) = self.split();
            res.on_isolated(&mut ctx);
            return;
        }
        if self.reach.isolated && !cut_off {
            self.reach.isolated = false;
            if self.peers_all_dead() {
                // A healed cable brings the ping replies and the peer's heartbeats back
                // together: give the peer a deadtime to be heard before taking its groups.
                let until = now + self.cfg.timing.deadtime();
                self.reach.rejoin_until = Some(until);
                tracing::info!(
                    "node {}: no longer isolated ({}); taking over the dead peer's resources \
                     unless it is heard within {} ms",
                    self.node_name(),
                    if self.cfg.ping.targets.is_empty() {
                        "carrier is back"
                    } else {
                        "a ping node answers"
                    },
                    self.cfg.timing.deadtime().as_millis()
                );
                self.res.leave_isolation_deferred();
            } else {
                tracing::info!(
                    "node {}: no longer isolated (a peer is heard)",
                    self.node_name()
                );
                let (res, mut ctx) = self.split();
                res.on_reachable(&mut ctx);
            }
            return;
        }
        if (self.reach.deferred_since.is_some() || self.reach.rejoin_until.is_some())
            && !self.peers_all_dead()
        {
            // The peer is heard again: not cut off, and nothing to take over.
            self.reach.deferred_since = None;
            self.reach.rejoin_until = None;
            let (res, mut ctx) = self.split();
            res.on_reachable(&mut ctx);
            return;
        }
        if self.reach.rejoin_until.is_some_and(|t| now >= t) {
            self.reach.rejoin_until = None;
            tracing::info!(
                "node {}: the peer stayed silent after the isolation ended: taking over",
                self.node_name()
            );
            let (res, mut ctx) = self.split();
            res.on_reachable(&mut ctx);
            return;
        }
        if let Some(since) = self.reach.deferred_since
            && self.pings.last_any_reply().is_some_and(|t| t >= since)
        {
            self.reach.deferred_since = None;
            tracing::info!(
                "node {}: a ping node answered after the peer was declared dead: this node is \
                 not isolated, taking over",
                self.node_name()
            );
            let (res, mut ctx) = self.split();
            res.on_reachable(&mut ctx);
        }
    }

    fn ipfail_check(&mut self, now: Instant) {
        let peer = self.nodes.only_peer().filter(|&p| self.nodes[p].is_alive());
        let theirs = peer.and_then(|p| self.nodes[p].ping_count);
        let Some(theirs) = theirs else {
            self.reach.verdict = None;
            return;
        };
        let mine = self.pings.alive() as u64;
        let verdict = mine.cmp(&theirs);
        match self.reach.verdict {
            Some((v, _)) if v == verdict => {}
            _ => self.reach.verdict = Some((verdict, now)),
        }
        let Some((_, since)) = self.reach.verdict else {
            return;
        };
        let hold = Reach::hold(self.cfg.timing.keepalive());
        if now < since + hold
            || self
                .reach
                .last_move
                .is_some_and(|t| now < t + self.pings.deadping())
            || self.reach.retry_at.is_some_and(|t| now < t)
        {
            return;
        }
        if self.res.exchanging() {
            // Our own or the peer's standby is under way: decide once it is over.
            self.reach.retry_at = Some(now + self.cfg.timing.keepalive());
            return;
        }
        self.reach.retry_at = None;
        let peer_name = peer.map(|p| self.nodes[p].name.clone()).unwrap_or_default();
        let counts = format!(
            "ipfail: {} reaches {mine} of {} ping nodes, {peer_name} reaches {theirs}",
            self.node_name(),
            self.cfg.ping.targets.len()
        );
        let gave_up = self.reach.gave_up;
        let failback = self.cfg.auto_failback == crate::AutoFailback::On;
        if gave_up && verdict != Ordering::Less && !(verdict == Ordering::Equal && failback) {
            if verdict == Ordering::Equal {
                tracing::info!("Ping node count is balanced. ({counts}; auto_failback off)");
            }
            self.reach.gave_up = false;
            return;
        }
        let (res, mut ctx) = self.split();
        let result = match verdict {
            Ordering::Less if res.holds_any() => {
                tracing::info!("Giving up because we have less visible ping nodes. ({counts})");
                Some(
                    res.standby_as(&mut ctx, Class::All, "ipfail")
                        .map(|()| true),
                )
            }
            Ordering::Equal if gave_up => {
                tracing::info!(
                    "Ping node count is balanced. ({counts}; asking for our groups back: \
                     auto_failback on)"
                );
                Some(res.takeover(&mut ctx, Class::Local).map(|()| false))
            }
            _ => None,
        };
        match result {
            Some(Ok(gave_up)) => {
                self.reach.gave_up = gave_up;
                self.reach.last_move = Some(now);
            }
            Some(Err(why)) => {
                tracing::info!("ipfail: cannot move groups now ({why}); trying again");
                self.reach.retry_at = Some(now + self.cfg.timing.keepalive());
            }
            None => {}
        }
    }
}
