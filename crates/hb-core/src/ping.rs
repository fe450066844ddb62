//! Ping nodes (Heartbeat's `ping`, `ping6`, `ping_group`): pseudo-nodes whose status is
//! `ping` while they answer ICMP echoes and `dead` after `deadping` of silence.
//!
//! The core decides when to probe ([`crate::Action::Ping`], once per keepalive for every
//! host, and at once when a peer is declared dead) and learns of replies through
//! [`crate::Core::handle_ping_reply`]; the shell owns the sockets. A ping node that never
//! answered is dead `deadping` after start-up, as in Heartbeat (its `local_lastupdate` is the
//! start time).

use std::net::IpAddr;
use std::time::Duration;

use crate::Instant;
use crate::snapshot::{LinkView, NodeKind, NodeStatus, NodeView};

/// A ping node as configured (the daemon resolves host names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PingTarget {
    /// Its node name (`cl_status listnodes`).
    pub name: String,
    /// The addresses it pings; the node answers while any of them does (`ping_group`).
    pub hosts: Vec<IpAddr>,
    /// How many cluster nodes `ha.cf` declared before it (Heartbeat lists nodes in file
    /// order).
    pub nodes_before: usize,
}

/// Ping nodes and the policies that use them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PingSetup {
    /// The ping nodes, in `ha.cf` order.
    pub targets: Vec<PingTarget>,
    /// `deadping` (`None`: the deadtime).
    pub deadping: Option<Duration>,
    /// The built-in ipfail: hand our groups to a peer that reaches more ping nodes.
    pub ipfail: bool,
    /// The isolation rule: release every group while no peer is heard and no ping node
    /// answers or no heartbeat interface has carrier ([`crate::Core::handle_carrier`]).
    pub isolation: bool,
}

impl PingSetup {
    /// Whether the isolation rule decides whether a dead peer's groups may be taken over.
    pub(crate) fn gates_takeover(&self) -> bool {
        self.isolation
    }
}

#[derive(Debug)]
struct PingNode {
    target: PingTarget,
    status: NodeStatus,
    last_reply: Option<Instant>,
    since: Option<Instant>,
}

/// What a reply or the clock changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Changes {
    /// Some ping node changed status.
    pub(crate) changed: bool,
}

/// Every ping node's state and the probe schedule.
#[derive(Debug)]
pub(crate) struct PingNodes {
    list: Vec<PingNode>,
    deadping: Duration,
    keepalive: Duration,
    boot_at: Instant,
    next_probe_at: Option<Instant>,
    /// A probe round was asked for outside the schedule.
    probe_now: bool,
    /// When the last reply from any ping node arrived.
    last_any_reply: Option<Instant>,
}

impl PingNodes {
    /// Our timing changed (a reload): probe once per new keepalive; `deadping` follows the
    /// new deadtime unless set on its own.
    pub(crate) fn retime(&mut self, setup: &PingSetup, keepalive: Duration, deadtime: Duration) {
        self.keepalive = keepalive;
        self.deadping = setup.deadping.unwrap_or(deadtime);
    }

    pub(crate) fn new(
        setup: &PingSetup,
        keepalive: Duration,
        deadtime: Duration,
        now: Instant,
    ) -> PingNodes {
        PingNodes {
            list: setup
                .targets
                .iter()
                .map(|t| PingNode {
                    target: t.clone(),
                    status: NodeStatus::Init,
                    last_reply: None,
                    since: None,
                })
                .collect(),
            deadping: setup.deadping.unwrap_or(deadtime),
            keepalive,
            boot_at: now,
            next_probe_at: (!setup.targets.is_empty()).then_some(now),
            probe_now: false,
            last_any_reply: None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(crate) fn deadping(&self) -> Duration {
        self.deadping
    }

    /// How many ping nodes answer.
    pub(crate) fn alive(&self) -> usize {
        self.list
            .iter()
            .filter(|n| n.status == NodeStatus::Ping)
            .count()
    }

    /// Every ping node has been declared dead (none is still undecided).
    pub(crate) fn all_dead(&self) -> bool {
        !self.list.is_empty() && self.list.iter().all(|n| n.status == NodeStatus::Dead)
    }

    /// When the last reply from any ping node arrived.
    pub(crate) fn last_any_reply(&self) -> Option<Instant> {
        self.last_any_reply
    }

    /// Asks for a probe round at the next [`PingNodes::probes`].
    pub(crate) fn probe_soon(&mut self) {
        if !self.list.is_empty() {
            self.probe_now = true;
        }
    }

    /// The next deadline: a probe round, or a ping node's death.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        let deaths = self.list.iter().filter_map(|n| self.death_at(n));
        deaths.chain(self.next_probe_at).min()
    }

    fn death_at(&self, n: &PingNode) -> Option<Instant> {
        (n.status != NodeStatus::Dead).then(|| n.last_reply.unwrap_or(self.boot_at) + self.deadping)
    }

    /// The addresses to probe now (empty if no round is due).
    pub(crate) fn probes(&mut self, now: Instant) -> Vec<IpAddr> {
        let due = self.probe_now || self.next_probe_at.is_some_and(|t| now >= t);
        if !due {
            return Vec::new();
        }
        self.probe_now = false;
        self.next_probe_at = Some(now + self.keepalive);
        let mut hosts: Vec<IpAddr> = Vec::new();
        for &h in self.list.iter().flat_map(|n| &n.target.hosts) {
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        hosts
    }

    /// Declares dead the ping nodes silent for `deadping`.
    pub(crate) fn tick(&mut self, now: Instant) -> Changes {
        let mut changes = Changes::default();
        for i in 0..self.list.len() {
            let due = self
                .list
                .get(i)
                .and_then(|n| self.death_at(n))
                .is_some_and(|d| now >= d);
            let Some(n) = self.list.get_mut(i).filter(|_| due) else {
                continue;
            };
            let from = n.status;
            n.status = NodeStatus::Dead;
            n.since = Some(now);
            changes.changed = true;
            let silent = now.saturating_since(n.last_reply.unwrap_or(self.boot_at));
            tracing::warn!(
                "node {}: is dead ({from} -> dead: ping node, no echo reply for {} ms)",
                n.target.name,
                silent.as_millis()
            );
            if from == NodeStatus::Ping {
                tracing::info!("Link {}:{} dead.", n.target.name, n.target.name);
            }
        }
        changes
    }

    /// An echo reply from `from` arrived.
    pub(crate) fn reply(&mut self, now: Instant, from: IpAddr) -> Changes {
        let mut changes = Changes::default();
        for n in &mut self.list {
            if !n.target.hosts.contains(&from) {
                continue;
            }
            self.last_any_reply = Some(now);
            n.last_reply = Some(now);
            if n.status != NodeStatus::Ping {
                n.status = NodeStatus::Ping;
                n.since = Some(now);
                changes.changed = true;
                tracing::info!(
                    "Status update for node {}: status ping (echo reply from {from})",
                    n.target.name
                );
                tracing::info!("Link {}:{} up.", n.target.name, n.target.name);
            }
        }
        changes
    }

    /// A reply from an address no ping node uses.
    pub(crate) fn knows(&self, from: IpAddr) -> bool {
        self.list.iter().any(|n| n.target.hosts.contains(&from))
    }

    /// The views, each with the number of cluster nodes to list before it.
    pub(crate) fn views(&self) -> impl Iterator<Item = (usize, NodeView)> + '_ {
        self.list.iter().map(|n| {
            let view = NodeView {
                name: n.target.name.clone(),
                status: n.status,
                links: vec![LinkView {
                    name: n.target.name.clone(),
                    up: n.status == NodeStatus::Ping,
                }],
                is_self: false,
                heartbeat_rs: false,
                since: n.since,
                kind: NodeKind::Ping,
            };
            (n.target.nodes_before, view)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn setup(hosts: &[&[u8]]) -> PingSetup {
        PingSetup {
            targets: hosts
                .iter()
                .enumerate()
                .map(|(i, h)| PingTarget {
                    name: format!("p{i}"),
                    hosts: h
                        .iter()
                        .map(|&o| IpAddr::V4(Ipv4Addr::new(192, 0, 2, o)))
                        .collect(),
                    nodes_before: 2,
                })
                .collect(),
            deadping: Some(Duration::from_millis(3000)),
            ipfail: false,
            isolation: true,
        }
    }

    fn ip(o: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, o))
    }

    #[test]
    fn a_ping_node_lives_while_it_answers_and_dies_after_deadping() {
        let mut p = PingNodes::new(
            &setup(&[&[10]]),
            Duration::from_secs(1),
            Duration::from_secs(9),
            at(0),
        );
        assert_eq!(p.probes(at(0)), vec![ip(10)]);
        assert!(p.probes(at(500)).is_empty(), "one round per keepalive");
        assert_eq!(p.probes(at(1000)), vec![ip(10)]);
        assert!(p.reply(at(1001), ip(10)).changed);
        assert_eq!(p.alive(), 1);
        assert!(!p.reply(at(2001), ip(10)).changed);
        assert_eq!(p.deadline(), Some(at(2000)), "the next probe round");
        let _ = p.probes(at(2000));
        let _ = p.probes(at(3000));
        let _ = p.probes(at(4000));
        assert!(!p.tick(at(5000)).changed, "silent for 2999 ms < deadping");
        assert!(p.tick(at(5001)).changed);
        assert!(p.all_dead());
        assert_eq!(p.alive(), 0);
    }

    #[test]
    fn a_ping_node_never_heard_is_dead_deadping_after_start() {
        let mut p = PingNodes::new(
            &setup(&[&[10], &[11]]),
            Duration::from_secs(1),
            Duration::from_secs(9),
            at(0),
        );
        p.reply(at(10), ip(11));
        assert!(p.tick(at(3000)).changed);
        assert!(!p.all_dead(), "p1 answered");
        let v: Vec<_> = p.views().map(|(_, v)| (v.name, v.status)).collect();
        assert_eq!(
            v,
            [
                ("p0".to_string(), NodeStatus::Dead),
                ("p1".to_string(), NodeStatus::Ping)
            ]
        );
    }

    #[test]
    fn a_ping_group_answers_while_any_member_does() {
        let mut p = PingNodes::new(
            &setup(&[&[10, 11]]),
            Duration::from_secs(1),
            Duration::from_secs(9),
            at(0),
        );
        assert_eq!(p.probes(at(0)), vec![ip(10), ip(11)]);
        p.reply(at(10), ip(11));
        assert_eq!(p.alive(), 1);
        assert!(p.knows(ip(10)));
        assert!(!p.knows(ip(12)));
        assert!(!p.reply(at(20), ip(12)).changed);
    }
}
