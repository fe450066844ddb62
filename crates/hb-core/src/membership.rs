//! Membership: our own status heartbeat, each peer's liveness and links, deadtime,
//! warntime and initdead, "comm up" with the `reqnodes`/`repnodes` exchange (spec §4, §6).
//! What is known of each node is in [`crate::nodes`]; this module decides when it changes
//! and tells the resource side.

use std::time::Duration;

use crate::snapshot::NodeStatus;
use crate::wire;
use crate::{Core, Instant};

pub(crate) use crate::nodes::NodeId;

/// How often an unanswered `reqnodes` is repeated (Heartbeat: every second).
const REQNODES_REPEAT: Duration = Duration::from_secs(1);

/// An outstanding `reqnodes`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReqNodes {
    target: NodeId,
    next_at: Instant,
}

impl Core {
    /// Start-up: assign the random acknowledgement phases, send `st=init` then `st=up`,
    /// start the probe of every resource.
    pub(crate) fn start(&mut self, now: Instant) {
        use rand_core::RngCore;
        for n in self.nodes.iter_mut() {
            n.ack_trigger = self.rng.next_u64() % 10;
        }
        tracing::info!(
            "node {}: starting (generation {}, keepalive {:?}, deadtime {:?}, initdead {:?})",
            self.node_name(),
            self.generation,
            self.cfg.timing.keepalive(),
            self.cfg.timing.deadtime(),
            self.cfg.timing.initdead()
        );
        self.send_status(now);
        self.set_own_status(NodeStatus::Up, "heartbeat media running");
        self.send_status(now);
        self.send_probes(now);
        let (res, mut ctx) = self.split();
        res.start_probe(&mut ctx);
        self.check_comm_up(now);
    }

    pub(crate) fn send_status(&mut self, now: Instant) {
        let st = self.nodes[self.nodes.me()].status.as_str();
        let dt = u64::try_from(self.cfg.timing.deadtime().as_millis()).unwrap_or(u64::MAX);
        let mut msg = wire::status(st, dt);
        if !self.pings.is_empty() {
            msg = msg.with(wire::F_PING, self.pings.alive().to_string());
        }
        self.send(msg);
        if self.cfg.watchdog {
            self.out.push(crate::Action::PetWatchdog);
        }
        self.next_status_at = now + self.cfg.timing.keepalive();
        self.status_dirty = false;
    }

    /// Sends a status message now if our status changed since the last one.
    pub(crate) fn flush_status(&mut self, now: Instant) {
        if self.status_dirty {
            self.send_status(now);
        }
    }

    fn set_own_status(&mut self, to: NodeStatus, why: &str) {
        let now = self.now;
        let me = self.nodes.me();
        let me = &mut self.nodes[me];
        let from = me.status;
        if from != to {
            // Heartbeat's wording first (operators and CTS grep it), then ours.
            tracing::info!(
                "Local status now set to: '{to}' (node {}: {from} -> {to}, {why})",
                me.name
            );
            me.status = to;
            me.since = Some(now);
            self.status_dirty = true;
        }
    }

    /// The earliest membership deadline: a peer's death, a link's death, `reqnodes` repeat.
    pub(crate) fn membership_deadline(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self.reqnodes.map(|r| r.next_at);
        let mut fold = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        for i in self.nodes.peers() {
            if let Some(d) = self.death_deadline(i) {
                fold(d);
            }
            let n = &self.nodes[i];
            for l in &n.links {
                if l.up
                    && let Some(h) = l.last_heard
                {
                    fold(h + n.deadtime);
                }
            }
        }
        t
    }

    /// When node `i` is to be declared dead if nothing arrives.
    fn death_deadline(&self, i: NodeId) -> Option<Instant> {
        let n = &self.nodes[i];
        if n.status == NodeStatus::Dead {
            return None;
        }
        if !self.comm_up {
            Some(
                n.last_status_at.unwrap_or(self.boot_at).max(self.boot_at)
                    + self.cfg.timing.initdead(),
            )
        } else {
            Some(n.last_status_at.unwrap_or(self.boot_at) + n.deadtime)
        }
    }

    pub(crate) fn membership_tick(&mut self, now: Instant) {
        for i in self.nodes.peers() {
            if self.death_deadline(i).is_some_and(|d| now >= d) {
                let since = self.nodes[i]
                    .last_status_at
                    .map(|t| now.saturating_since(t));
                let why = match since {
                    Some(s) => format!("no heartbeat for {} ms", s.as_millis()),
                    None => format!(
                        "never heard within initdead {} ms",
                        self.cfg.timing.initdead().as_millis()
                    ),
                };
                self.declare_dead(now, i, &why);
            }
            let node = &mut self.nodes[i];
            let deadtime = node.deadtime;
            for (l, link) in node.links.iter_mut().enumerate() {
                if link.up && link.last_heard.is_some_and(|h| now >= h + deadtime) {
                    link.up = false;
                    let dev = self.cfg.links.get(l).map_or("?", String::as_str);
                    tracing::info!("Link {}:{dev} dead.", node.name);
                }
            }
        }
        if let Some(r) = self.reqnodes
            && now >= r.next_at
        {
            self.send_reqnodes(now);
        }
    }

    /// A peer stopped heartbeating (or left): reset its sequence state and let the resource
    /// layer take over.
    pub(crate) fn declare_dead(&mut self, now: Instant, i: NodeId, why: &str) {
        let n = &mut self.nodes[i];
        if n.status == NodeStatus::Dead {
            return;
        }
        let from = n.status;
        tracing::warn!("node {}: is dead ({from} -> dead: {why})", n.name);
        n.status = NodeStatus::Dead;
        n.since = Some(now);
        n.forget_sequence();
        n.awaiting_status = true;
        n.ping_count = None;
        for l in &mut n.links {
            l.up = false;
        }
        // Whether it must be fenced is decided first: becoming active (below) may begin a
        // negotiation that would take its groups.
        let (res, mut ctx) = self.split();
        res.on_peer_declared_dead(&mut ctx, i);
        if self.reqnodes.is_some_and(|r| r.target == i) {
            self.send_reqnodes(now);
        }
        // The isolation rule decides before comm-up can start a negotiation that would take
        // the dead peer's groups.
        let gated = self.takeover_gated(now);
        if gated {
            self.res.defer_takeover();
        }
        self.reach_check(now);
        self.check_comm_up(now);
        let (res, mut ctx) = self.split();
        res.on_peer_dead(&mut ctx, i, gated);
        self.reach_check(now);
    }

    /// An accepted packet from node `i` arrived on `link`.
    pub(crate) fn refresh_link(&mut self, now: Instant, i: NodeId, link: usize) {
        let node = &mut self.nodes[i];
        let Some(l) = node.links.get_mut(link) else {
            return;
        };
        l.last_heard = Some(now);
        if !l.up {
            l.up = true;
            let dev = self.cfg.links.get(link).map_or("?", String::as_str);
            tracing::info!("Link {}:{dev} up.", node.name);
        }
    }

    /// Processes an accepted status message from node `i` (sequence checks done).
    pub(crate) fn on_status(&mut self, now: Instant, i: NodeId, seq: u64, msg: &hb_proto::Message) {
        let n = &mut self.nodes[i];
        if let Some(prev) = n.last_status_at {
            let gap = now.saturating_since(prev);
            if gap > n.deadtime {
                tracing::warn!(
                    "Late heartbeat: Node {}: interval {} ms (> deadtime)",
                    n.name,
                    gap.as_millis()
                );
            } else if gap > self.cfg.timing.warntime() {
                tracing::warn!(
                    "Late heartbeat: Node {}: interval {} ms",
                    n.name,
                    gap.as_millis()
                );
            }
        }
        n.last_status_at = Some(now);
        let first = !n.heard;
        n.heard = true;
        n.last_status_seq = n.last_status_seq.max(seq);
        n.protocol = msg.get("protocol").is_some();
        n.hbrs = msg.str(wire::F_HBRS).is_some();
        let ping_count = msg.str(wire::F_PING).and_then(wire::parse_dec);
        let ping_changed = n.ping_count != ping_count;
        n.ping_count = ping_count;
        if let Some(dt) = msg.str("dt").and_then(wire::parse_hex) {
            n.set_announced_deadtime(dt, &self.cfg);
        }
        let Some(st) = msg.str("st").and_then(NodeStatus::parse) else {
            let name = n.name.clone();
            self.warnings.limited(now, "bad-st", || {
                format!("status message from node {name} without a valid st")
            });
            return;
        };
        let st = if st == NodeStatus::Dead {
            NodeStatus::Up
        } else {
            st
        };
        let from = n.status;
        if from != st {
            n.status = st;
            n.since = Some(now);
            tracing::info!(
                "Status update for node {}: status {st} (was {from})",
                n.name
            );
            if from == NodeStatus::Dead {
                // A node declared dead at initdead without ever being heard joins late; one
                // heard before comes back from a partition.
                let (res, mut ctx) = self.split();
                res.on_peer_returned(&mut ctx, i, !first);
            }
            if self.nodes[i].is_alive() {
                let (res, mut ctx) = self.split();
                res.on_peer_up(&mut ctx, i);
            }
            self.check_comm_up(now);
            self.reach_check(now);
        } else if first {
            self.check_comm_up(now);
        }
        if ping_changed {
            self.reach_check(now);
        }
    }

    /// Comm is up when every node was heard from or is dead (spec §6.3); then ask a peer
    /// for its node list, or become active at once if no peer lives.
    pub(crate) fn check_comm_up(&mut self, now: Instant) {
        if self.comm_up {
            return;
        }
        if self
            .nodes
            .iter()
            .all(|n| n.heard || n.status == NodeStatus::Dead)
        {
            self.comm_up = true;
            tracing::info!(
                "Comm_now_up(): updating status to active (node {}: communication with every node \
                 established or given up)",
                self.node_name()
            );
            self.send_reqnodes(now);
        }
    }

    fn send_reqnodes(&mut self, now: Instant) {
        if self.nodes.i_am_active() {
            self.reqnodes = None;
            return;
        }
        let flow_control = self.nodes.iter().all(|n| n.protocol);
        let target = self
            .nodes
            .peers()
            .find(|&i| self.nodes[i].status != NodeStatus::Dead);
        match target {
            Some(t) if flow_control => {
                let name = self.nodes[t].name.clone();
                tracing::debug!("asking {name} for its node list");
                self.send(wire::reqnodes(&name));
                self.reqnodes = Some(ReqNodes {
                    target: t,
                    next_at: now + REQNODES_REPEAT,
                });
            }
            _ => self.become_active(now),
        }
    }

    /// A `reqnodes` arrived: answer with our node list.
    pub(crate) fn on_reqnodes(&mut self, from: NodeId) {
        let dest = self.nodes[from].name.clone();
        tracing::debug!("answering reqnodes from {dest}");
        let msg = wire::repnodes(&dest, &self.cfg.nodes);
        self.send(msg);
    }

    /// A `repnodes` for us arrived: compare the lists and become active.
    pub(crate) fn on_repnodes(&mut self, now: Instant, from: NodeId, msg: &hb_proto::Message) {
        tracing::debug!(
            "repnodes from {} (waiting: {})",
            self.nodes[from].name,
            self.reqnodes.is_some()
        );
        if self.reqnodes.is_none() {
            return;
        }
        if let Some(list) = msg.str("nodelist") {
            let theirs: Vec<&str> = list.split_ascii_whitespace().collect();
            let ours: Vec<&str> = self.cfg.nodes.iter().map(|n| n.as_str()).collect();
            if theirs.iter().any(|n| !ours.contains(n)) || ours.iter().any(|n| !theirs.contains(n))
            {
                tracing::warn!(
                    "node {} lists nodes [{}] but ha.cf here lists [{}]: the node lists must be identical \
                     (heartbeat-rs keeps its own list)",
                    self.nodes[from].name,
                    theirs.join(" "),
                    ours.join(" ")
                );
            }
        }
        self.become_active(now);
    }

    fn become_active(&mut self, now: Instant) {
        self.reqnodes = None;
        self.set_own_status(NodeStatus::Active, "cluster communication up");
        self.flush_status(now);
        let (res, mut ctx) = self.split();
        res.on_active(&mut ctx);
    }
}
