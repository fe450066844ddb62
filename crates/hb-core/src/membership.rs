//! Membership: our own status heartbeat, each peer's liveness and links, deadtime,
//! warntime and initdead, "comm up" with the `reqnodes`/`repnodes` exchange (spec §4, §6).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::snapshot::{LinkView, NodeStatus, NodeView};
use crate::wire;
use crate::{Core, CoreConfig, Instant};

/// How often an unanswered `reqnodes` is repeated (Heartbeat: every second).
const REQNODES_REPEAT: Duration = Duration::from_secs(1);
/// Missing-sequence records kept per sender before the history is reset.
pub(crate) const MAX_MISSING: usize = 500;
/// A gap larger than this resets the sender's history instead of asking for it.
const MAX_GAP: u64 = 250;

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    last_heard: Option<Instant>,
    up: bool,
}

/// What the sequence accounting made of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SeqVerdict {
    /// In order, or a gap we will ask to be filled.
    New,
    /// A message we were missing arrived late.
    Late,
    /// Already seen.
    Duplicate,
}

/// Per-sender sequence state (spec §5.3).
#[derive(Clone, Debug, Default)]
pub(crate) struct SeqState {
    pub(crate) last: Option<u64>,
    /// Missing sequence numbers and when to ask for each next.
    pub(crate) missing: BTreeMap<u64, Instant>,
}

impl SeqState {
    pub(crate) fn reset(&mut self) {
        self.last = None;
        self.missing.clear();
    }

    /// Accounts for `seq`; `first_request` is when to first ask for a newly missing number.
    pub(crate) fn accept(&mut self, seq: u64, first_request: impl Fn() -> Instant) -> SeqVerdict {
        match self.last {
            None => {
                self.last = Some(seq);
                SeqVerdict::New
            }
            Some(last) if seq == last.wrapping_add(1) => {
                self.last = Some(seq);
                SeqVerdict::New
            }
            Some(last) if seq > last => {
                if seq - last > MAX_GAP
                    || self.missing.len() + (seq - last - 1) as usize > MAX_MISSING
                {
                    self.missing.clear();
                } else {
                    for s in last + 1..seq {
                        self.missing.insert(s, first_request());
                    }
                }
                self.last = Some(seq);
                SeqVerdict::New
            }
            Some(_) => {
                if self.missing.remove(&seq).is_some() {
                    SeqVerdict::Late
                } else {
                    SeqVerdict::Duplicate
                }
            }
        }
    }
}

/// Everything known about one node (ourselves included, for uniform indexing).
#[derive(Debug)]
pub(crate) struct NodeState {
    pub(crate) name: String,
    pub(crate) status: NodeStatus,
    pub(crate) uuid: Option<[u8; 16]>,
    pub(crate) generation: u64,
    pub(crate) seq: SeqState,
    /// Local time the last status message arrived.
    pub(crate) last_status_at: Option<Instant>,
    /// Sequence number of that status message.
    pub(crate) last_status_seq: u64,
    /// A status message arrived since we started (for comm-up). Heartbeat counts any
    /// packet; we wait for a status so that the node's status is known when resources
    /// are negotiated.
    pub(crate) heard: bool,
    /// The deadtime this node announced (`dt`), or ours.
    pub(crate) deadtime: Duration,
    pub(crate) links: Vec<Link>,
    /// Acknowledge this sender's messages whose `seq % 10` equals this.
    pub(crate) ack_trigger: u64,
    /// It sent `protocol` in its status (flow control stays on).
    pub(crate) protocol: bool,
    /// It announced the heartbeat-rs extension.
    pub(crate) hbrs: bool,
    /// When `status` last changed.
    pub(crate) since: Option<Instant>,
    /// Declared dead: only a fresh status message revives it; everything else is dropped.
    pub(crate) awaiting_status: bool,
    /// Highest of our sequence numbers it acknowledged.
    pub(crate) acked_by: u64,
    /// Messages that arrived after a gap, held back until the gap is filled so that they
    /// are acted upon in the sender's order (status messages are never held).
    pub(crate) held: BTreeMap<u64, hb_proto::Message>,
}

impl NodeState {
    pub(crate) fn new(name: String, is_self: bool, cfg: &CoreConfig) -> NodeState {
        NodeState {
            name,
            status: NodeStatus::Init,
            uuid: None,
            generation: 0,
            seq: SeqState::default(),
            last_status_at: None,
            last_status_seq: 0,
            heard: is_self,
            deadtime: cfg.deadtime,
            links: vec![Link::default(); cfg.links.len()],
            ack_trigger: 0,
            protocol: true,
            hbrs: false,
            since: None,
            awaiting_status: false,
            acked_by: 0,
            held: BTreeMap::new(),
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        matches!(self.status, NodeStatus::Up | NodeStatus::Active)
    }

    pub(crate) fn view(&self, is_self: bool, cfg: &CoreConfig) -> NodeView {
        NodeView {
            name: self.name.clone(),
            status: self.status,
            links: cfg
                .links
                .iter()
                .zip(&self.links)
                .map(|(name, l)| LinkView {
                    name: name.clone(),
                    up: is_self || l.up,
                })
                .collect(),
            is_self,
            heartbeat_rs: is_self || self.hbrs,
            since: self.since,
        }
    }
}

/// An outstanding `reqnodes`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReqNodes {
    target: usize,
    next_at: Instant,
}

impl Core {
    /// Start-up: assign the random acknowledgement phases, send `st=init` then `st=up`,
    /// start the probe of every resource.
    pub(crate) fn start(&mut self, now: Instant) {
        use rand_core::RngCore;
        for i in 0..self.nodes.len() {
            self.nodes[i].ack_trigger = self.rng.next_u64() % 10;
        }
        tracing::info!(
            "node {}: starting (generation {}, keepalive {:?}, deadtime {:?}, initdead {:?})",
            self.node_name(),
            self.generation,
            self.cfg.keepalive,
            self.cfg.deadtime,
            self.cfg.initdead
        );
        self.send_status(now);
        self.set_own_status(now, NodeStatus::Up, "heartbeat media running");
        self.send_status(now);
        self.start_probe(now);
        self.check_comm_up(now);
    }

    pub(crate) fn me(&self) -> usize {
        self.cfg.me
    }

    pub(crate) fn send_status(&mut self, now: Instant) {
        let me = self.me();
        let st = self.nodes[me].status.as_str();
        let dt = u64::try_from(self.cfg.deadtime.as_millis()).unwrap_or(u64::MAX);
        self.send(now, wire::status(st, dt));
        self.next_status_at = now + self.cfg.keepalive;
        self.status_dirty = false;
    }

    /// Sends a status message now if our status changed since the last one.
    pub(crate) fn flush_status(&mut self, now: Instant) {
        if self.status_dirty {
            self.send_status(now);
        }
    }

    fn set_own_status(&mut self, _now: Instant, to: NodeStatus, why: &str) {
        let me = self.me();
        let from = self.nodes[me].status;
        if from != to {
            tracing::info!("node {}: {from} -> {to} ({why})", self.nodes[me].name);
            self.nodes[me].status = to;
            self.nodes[me].since = Some(self.now);
            self.status_dirty = true;
        }
    }

    /// The earliest membership deadline: a peer's death, a link's death, `reqnodes` repeat.
    pub(crate) fn membership_deadline(&self) -> Option<Instant> {
        let mut t: Option<Instant> = self.reqnodes.map(|r| r.next_at);
        let mut fold = |x: Instant| t = Some(t.map_or(x, |t| t.min(x)));
        for (i, n) in self.nodes.iter().enumerate() {
            if i == self.me() {
                continue;
            }
            if let Some(d) = self.death_deadline(i) {
                fold(d);
            }
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
    fn death_deadline(&self, i: usize) -> Option<Instant> {
        let n = &self.nodes[i];
        if n.status == NodeStatus::Dead {
            return None;
        }
        if !self.comm_up {
            Some(n.last_status_at.unwrap_or(self.boot_at).max(self.boot_at) + self.cfg.initdead)
        } else {
            Some(n.last_status_at.unwrap_or(self.boot_at) + n.deadtime)
        }
    }

    pub(crate) fn membership_tick(&mut self, now: Instant) {
        for i in 0..self.nodes.len() {
            if i == self.me() {
                continue;
            }
            if self.death_deadline(i).is_some_and(|d| now >= d) {
                let since = self.nodes[i]
                    .last_status_at
                    .map(|t| now.saturating_since(t));
                let why = match since {
                    Some(s) => format!("no heartbeat for {} ms", s.as_millis()),
                    None => format!(
                        "never heard within initdead {} ms",
                        self.cfg.initdead.as_millis()
                    ),
                };
                self.declare_dead(now, i, &why);
            }
            let deadtime = self.nodes[i].deadtime;
            for l in 0..self.nodes[i].links.len() {
                let link = self.nodes[i].links[l];
                if link.up && link.last_heard.is_some_and(|h| now >= h + deadtime) {
                    self.nodes[i].links[l].up = false;
                    tracing::info!("link {}:{} dead", self.nodes[i].name, self.cfg.links[l]);
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
    pub(crate) fn declare_dead(&mut self, now: Instant, i: usize, why: &str) {
        let n = &mut self.nodes[i];
        if n.status == NodeStatus::Dead {
            return;
        }
        let from = n.status;
        tracing::warn!("node {}: {from} -> dead ({why})", n.name);
        n.status = NodeStatus::Dead;
        n.since = Some(now);
        n.seq.reset();
        n.held.clear();
        n.awaiting_status = true;
        for l in &mut n.links {
            l.up = false;
        }
        if self.reqnodes.is_some_and(|r| r.target == i) {
            self.send_reqnodes(now);
        }
        self.check_comm_up(now);
        self.on_peer_dead(now, i);
    }

    /// An accepted packet from node `i` arrived on `link`.
    pub(crate) fn refresh_link(&mut self, now: Instant, i: usize, link: usize) {
        let Some(l) = self.nodes[i].links.get_mut(link) else {
            return;
        };
        l.last_heard = Some(now);
        if !l.up {
            l.up = true;
            tracing::info!("link {}:{} up", self.nodes[i].name, self.cfg.links[link]);
        }
    }

    /// Processes an accepted status message from node `i` (sequence checks done).
    pub(crate) fn on_status(&mut self, now: Instant, i: usize, seq: u64, msg: &hb_proto::Message) {
        let n = &mut self.nodes[i];
        if let Some(prev) = n.last_status_at {
            let gap = now.saturating_since(prev);
            if gap > n.deadtime {
                tracing::warn!(
                    "late heartbeat from {}: interval {} ms (> deadtime)",
                    n.name,
                    gap.as_millis()
                );
            } else if gap > self.cfg.warntime {
                tracing::warn!(
                    "late heartbeat from {}: interval {} ms",
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
        if let Some(dt) = msg.str("dt").and_then(wire::parse_hex)
            && dt > 0
        {
            n.deadtime = Duration::from_millis(dt);
        }
        let Some(st) = msg.str("st").and_then(NodeStatus::parse) else {
            let name = n.name.clone();
            self.warn_limited(now, "bad-st", || {
                format!("status message from node {name} without a valid st")
            });
            return;
        };
        let st = if st == NodeStatus::Dead {
            NodeStatus::Up
        } else {
            st
        };
        let n = &mut self.nodes[i];
        let from = n.status;
        if from != st {
            let name = n.name.clone();
            n.status = st;
            n.since = Some(now);
            tracing::info!("node {name}: {from} -> {st} (status heartbeat)");
            if from == NodeStatus::Dead {
                self.on_peer_returned(now, i);
            }
            self.check_comm_up(now);
        } else if first {
            self.check_comm_up(now);
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
                "node {}: communication with every node established or given up",
                self.node_name()
            );
            self.send_reqnodes(now);
        }
    }

    fn send_reqnodes(&mut self, now: Instant) {
        let me = self.me();
        if self.nodes[me].status == NodeStatus::Active {
            self.reqnodes = None;
            return;
        }
        let flow_control = self.nodes.iter().all(|n| n.protocol);
        let target =
            (0..self.nodes.len()).find(|&i| i != me && self.nodes[i].status != NodeStatus::Dead);
        match target {
            Some(t) if flow_control => {
                let name = self.nodes[t].name.clone();
                tracing::debug!("asking {name} for its node list");
                self.send(now, wire::reqnodes(&name));
                self.reqnodes = Some(ReqNodes {
                    target: t,
                    next_at: now + REQNODES_REPEAT,
                });
            }
            _ => self.become_active(now),
        }
    }

    /// A `reqnodes` arrived: answer with our node list.
    pub(crate) fn on_reqnodes(&mut self, now: Instant, from: usize) {
        let dest = self.nodes[from].name.clone();
        tracing::debug!("answering reqnodes from {dest}");
        let msg = wire::repnodes(&dest, &self.cfg.nodes);
        self.send(now, msg);
    }

    /// A `repnodes` for us arrived: compare the lists and become active.
    pub(crate) fn on_repnodes(&mut self, now: Instant, from: usize, msg: &hb_proto::Message) {
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
            let ours: Vec<&str> = self.cfg.nodes.iter().map(String::as_str).collect();
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
        self.set_own_status(now, NodeStatus::Active, "cluster communication up");
        self.flush_status(now);
        self.on_active(now);
    }

    /// Whether we are active (resource messages are only acted upon then).
    pub(crate) fn is_active(&self) -> bool {
        self.nodes[self.me()].status == NodeStatus::Active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    #[test]
    fn sequence_accounting_follows_heartbeat() {
        let mut s = SeqState::default();
        assert_eq!(s.accept(5, || at(1)), SeqVerdict::New);
        assert_eq!(s.accept(6, || at(1)), SeqVerdict::New);
        assert_eq!(s.accept(6, || at(1)), SeqVerdict::Duplicate);
        assert_eq!(s.accept(9, || at(7)), SeqVerdict::New);
        assert_eq!(s.missing.keys().copied().collect::<Vec<_>>(), [7, 8]);
        assert_eq!(s.missing[&7], at(7));
        assert_eq!(s.accept(8, || at(1)), SeqVerdict::Late);
        assert_eq!(s.accept(8, || at(1)), SeqVerdict::Duplicate);
        assert_eq!(s.accept(3, || at(1)), SeqVerdict::Duplicate);
        assert_eq!(s.missing.keys().copied().collect::<Vec<_>>(), [7]);
    }

    #[test]
    fn a_huge_gap_resets_instead_of_requesting_everything() {
        let mut s = SeqState::default();
        s.accept(1, || at(0));
        assert_eq!(s.accept(1000, || at(0)), SeqVerdict::New);
        assert!(s.missing.is_empty());
        assert_eq!(s.last, Some(1000));
    }
}
