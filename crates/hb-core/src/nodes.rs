//! What this node knows of every node of `ha.cf` (itself included, for uniform indexing):
//! status, generation, sequence accounting, links, acknowledgements.

use std::collections::BTreeMap;
use std::ops::{Index, IndexMut};
use std::time::Duration;

use crate::Instant;
use crate::config::CoreConfig;
use crate::remember::{PeerMark, RememberedPeers};
use crate::snapshot::{LinkView, NodeStatus, NodeView};

/// Missing-sequence records kept per sender before the history is reset.
pub(crate) const MAX_MISSING: usize = 500;
/// A gap larger than this resets the sender's history instead of asking for it.
const MAX_GAP: u64 = 250;

/// A node, by its position in `ha.cf`. Only [`Nodes`] makes them, so one is always a valid
/// index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NodeId(usize);

/// One heartbeat link of a node.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Link {
    pub(crate) last_heard: Option<Instant>,
    pub(crate) up: bool,
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
            Some(last) if last.checked_add(1) == Some(seq) => {
                self.last = Some(seq);
                SeqVerdict::New
            }
            Some(last) if seq > last => {
                let gap = seq - last - 1;
                if gap >= MAX_GAP
                    || self
                        .missing
                        .len()
                        .saturating_add(usize::try_from(gap).unwrap_or(usize::MAX))
                        > MAX_MISSING
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

/// Everything known about one node.
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
    /// The deadtime this node announced (`dt`, within bounds), or ours.
    pub(crate) deadtime: Duration,
    /// The last `dt` it announced, in milliseconds (0: none yet).
    announced_dt: u64,
    pub(crate) links: Vec<Link>,
    /// Acknowledge this sender's messages whose `seq % 10` equals this.
    pub(crate) ack_trigger: u64,
    /// It sent `protocol` in its status (flow control stays on).
    pub(crate) protocol: bool,
    /// It announced the heartbeat-rs extension.
    pub(crate) hbrs: bool,
    /// How many ping nodes it reaches, as its last status said (`hbrs_ping`).
    pub(crate) ping_count: Option<u64>,
    /// When `status` last changed.
    pub(crate) since: Option<Instant>,
    /// Declared dead: only a fresh status message revives it; everything else is dropped.
    pub(crate) awaiting_status: bool,
    /// Highest of our sequence numbers it acknowledged.
    pub(crate) acked_by: u64,
    /// Messages that arrived after a gap, held back until the gap is filled so that they
    /// are acted upon in the sender's order (status messages are never held).
    pub(crate) held: BTreeMap<u64, hb_proto::Message>,
    /// The newest message an earlier run of this daemon accepted from this node (read at
    /// start-up): anything at or below it is a replay.
    pub(crate) floor: Option<PeerMark>,
    /// The newest message accepted from this node, by this run or (until something newer
    /// arrives) an earlier one: what is remembered across our restarts.
    pub(crate) mark: Option<PeerMark>,
}

impl NodeState {
    fn new(name: String, is_self: bool, cfg: &CoreConfig) -> NodeState {
        NodeState {
            name,
            status: NodeStatus::Init,
            uuid: None,
            generation: 0,
            seq: SeqState::default(),
            last_status_at: None,
            last_status_seq: 0,
            heard: is_self,
            deadtime: cfg.timing.deadtime(),
            announced_dt: 0,
            links: vec![Link::default(); cfg.links.len()],
            ack_trigger: 0,
            protocol: true,
            hbrs: false,
            since: None,
            awaiting_status: false,
            acked_by: 0,
            held: BTreeMap::new(),
            floor: None,
            mark: None,
            ping_count: None,
        }
    }

    pub(crate) fn is_alive(&self) -> bool {
        matches!(self.status, NodeStatus::Up | NodeStatus::Active)
    }

    /// Forgets what the node's current incarnation told us (it died or restarted).
    pub(crate) fn forget_sequence(&mut self) {
        self.seq.reset();
        self.held.clear();
    }

    /// Takes the deadtime a peer announces in `dt` (milliseconds; 0 means none), within
    /// bounds: at least twice our keepalive (a shorter one would declare a peer that
    /// heartbeats at our pace dead between two heartbeats) and at most our `initdead` (the
    /// longest silence this node ever waits out), so that a peer can neither make itself
    /// immortal nor die of ordinary jitter. A value out of bounds is logged once.
    pub(crate) fn set_announced_deadtime(&mut self, dt_ms: u64, cfg: &CoreConfig) {
        if dt_ms == 0 {
            return;
        }
        let lower = cfg.timing.keepalive() * 2;
        let upper = cfg.timing.initdead().max(cfg.timing.deadtime()).max(lower);
        let announced = Duration::from_millis(dt_ms);
        let bounded = announced.clamp(lower, upper);
        if bounded != announced && dt_ms != self.announced_dt {
            tracing::warn!(
                "node {} announces a deadtime of {dt_ms} ms; using {} ms (bounds: twice our keepalive, \
                 our initdead)",
                self.name,
                bounded.as_millis()
            );
        }
        self.announced_dt = dt_ms;
        self.deadtime = bounded;
    }

    /// Our timing changed (a reload): the node's deadtime is ours again, or the one it
    /// announced bounded by our new keepalive and initdead.
    pub(crate) fn retime(&mut self, cfg: &CoreConfig) {
        let announced = std::mem::take(&mut self.announced_dt);
        self.deadtime = cfg.timing.deadtime();
        self.set_announced_deadtime(announced, cfg);
    }

    fn view(&self, is_self: bool, cfg: &CoreConfig) -> NodeView {
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
            kind: crate::snapshot::NodeKind::Normal,
        }
    }
}

/// Every node of `ha.cf`, in its order.
#[derive(Debug)]
pub(crate) struct Nodes {
    list: Vec<NodeState>,
    me: NodeId,
}

impl Index<NodeId> for Nodes {
    type Output = NodeState;
    #[allow(clippy::indexing_slicing)] // a NodeId is made by this type, in range
    fn index(&self, i: NodeId) -> &NodeState {
        &self.list[i.0]
    }
}

impl IndexMut<NodeId> for Nodes {
    #[allow(clippy::indexing_slicing)] // a NodeId is made by this type, in range
    fn index_mut(&mut self, i: NodeId) -> &mut NodeState {
        &mut self.list[i.0]
    }
}

impl Nodes {
    /// The nodes of a validated configuration (`cfg.me` is in range).
    pub(crate) fn new(cfg: &CoreConfig) -> Nodes {
        Nodes {
            list: cfg
                .nodes
                .iter()
                .enumerate()
                .map(|(i, name)| NodeState::new(name.to_string(), i == cfg.me, cfg))
                .collect(),
            me: NodeId(cfg.me.min(cfg.nodes.len().saturating_sub(1))),
        }
    }

    /// Takes the marks an earlier run remembered (names as in `ha.cf`, compared like
    /// Heartbeat does; entries for ourselves or unknown nodes are ignored).
    pub(crate) fn remember(&mut self, peers: &RememberedPeers) {
        for (name, mark) in peers {
            match self.by_name(name) {
                Some(i) if i != self.me => {
                    let node = &mut self[i];
                    tracing::info!(
                        "node {}: remembered generation {}, seq {} from an earlier run",
                        node.name,
                        mark.generation,
                        mark.seq
                    );
                    node.floor = Some(*mark);
                    node.mark = Some(*mark);
                }
                _ => tracing::debug!("ignoring the remembered mark of {name:?}: not a peer"),
            }
        }
    }

    /// This node.
    pub(crate) fn me(&self) -> NodeId {
        self.me
    }

    /// This node's name.
    pub(crate) fn my_name(&self) -> &str {
        &self[self.me].name
    }

    /// Every node, in ha.cf order.
    pub(crate) fn ids(&self) -> impl Iterator<Item = NodeId> + use<> {
        (0..self.list.len()).map(NodeId)
    }

    /// Every node but this one.
    pub(crate) fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        let me = self.me;
        self.ids().filter(move |&i| i != me)
    }

    /// A node by its index in `ha.cf`.
    pub(crate) fn id(&self, index: usize) -> Option<NodeId> {
        (index < self.list.len()).then_some(NodeId(index))
    }

    /// The one peer of a two-node cluster.
    pub(crate) fn only_peer(&self) -> Option<NodeId> {
        if self.list.len() == 2 {
            self.peers().next()
        } else {
            None
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &NodeState> {
        self.list.iter()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut NodeState> {
        self.list.iter_mut()
    }

    /// A node by name, compared as Heartbeat does (case-insensitively).
    pub(crate) fn by_name(&self, name: &str) -> Option<NodeId> {
        self.list
            .iter()
            .position(|n| n.name.eq_ignore_ascii_case(name))
            .map(NodeId)
    }

    /// A node by the UUID it announced.
    pub(crate) fn by_uuid(&self, uuid: [u8; 16]) -> Option<NodeId> {
        self.list
            .iter()
            .position(|n| n.uuid == Some(uuid))
            .map(NodeId)
    }

    /// The UUID of the node called exactly `name`, if it announced one.
    pub(crate) fn uuid_of(&self, name: &str) -> Option<[u8; 16]> {
        self.list
            .iter()
            .find(|n| n.name == name)
            .and_then(|n| n.uuid)
    }

    /// Whether this node is active (resource messages are only acted upon then).
    pub(crate) fn i_am_active(&self) -> bool {
        self[self.me].status == NodeStatus::Active
    }

    pub(crate) fn views(&self, cfg: &CoreConfig) -> Vec<NodeView> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, n)| n.view(NodeId(i) == self.me, cfg))
            .collect()
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
    fn an_announced_deadtime_is_bounded_at_both_ends() {
        let cfg = crate::config::tests::two_nodes();
        let mut n = NodeState::new("node2".into(), false, &cfg);
        n.set_announced_deadtime(0, &cfg);
        assert_eq!(n.deadtime, cfg.timing.deadtime(), "no dt: ours");
        n.set_announced_deadtime(2500, &cfg);
        assert_eq!(
            n.deadtime,
            Duration::from_millis(2500),
            "within bounds: as announced"
        );
        n.set_announced_deadtime(u64::MAX, &cfg);
        assert_eq!(
            n.deadtime,
            cfg.timing.initdead(),
            "never longer than our initdead"
        );
        n.set_announced_deadtime(1, &cfg);
        assert_eq!(
            n.deadtime,
            cfg.timing.keepalive() * 2,
            "never shorter than two keepalives"
        );
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
