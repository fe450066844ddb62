//! What the core needs to know about the cluster, independent of how it was configured.
//!
//! The daemon builds a [`CoreConfig`] from `ha.cf`, `haresources` and `authkeys`; tests and
//! the simulator build one directly.

use std::time::Duration;

use hb_config::{NodeName, Timing};
use hb_proto::{KeyRing, MsgFmt};

use crate::CoreError;

/// Heartbeat's `auto_failback` modes (spec §8.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoFailback {
    /// Nice failback; a group goes back to its preferred node when that node is up and stable.
    On,
    /// Nice failback; groups stay where they are.
    Off,
    /// The old protocol: `ip-request` / `ip-request-resp`, no `resource` reports.
    Legacy,
}

impl AutoFailback {
    /// Whether this mode uses the nice-failback (`starting` / `resource`) protocol.
    pub fn is_nice(self) -> bool {
        !matches!(self, AutoFailback::Legacy)
    }
}

/// One resource group: one logical line of `haresources`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupConfig {
    /// The group key: the first resource as written; it names the group on the wire.
    pub key: String,
    /// Index (into [`CoreConfig::nodes`]) of the node the group prefers.
    pub preferred: usize,
    /// The resources as written, in start order (for logs; the shell knows how to run them).
    pub resources: Vec<String>,
    /// How each resource is monitored, by index into `resources`; a resource without an
    /// entry (or with `interval: None`) is not monitored.
    pub monitor: Vec<MonitorPolicy>,
}

impl GroupConfig {
    /// A fingerprint of who the group prefers (FNV-1a, 64 bits, of the preferred node's
    /// name): the same on every node whose `haresources` gives the group (by its key) the same
    /// node. heartbeat-rs reports carry it so that two nodes whose files disagree about a
    /// group's node (one reloaded a new file before the other) know it: each would take the
    /// group for its own. Other differences (a resource's arguments, a node-specific path)
    /// do not matter to who holds the group, as in Heartbeat.
    pub fn fingerprint(&self, nodes: &[NodeName]) -> u64 {
        let preferred = nodes.get(self.preferred).map_or("", NodeName::as_str);
        preferred.bytes().fold(0xcbf2_9ce4_8422_2325, |h: u64, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
    }
}

/// Monitoring and in-place recovery of one resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MonitorPolicy {
    /// Time between the end of one monitor run and the start of the next; `None`: not
    /// monitored.
    pub interval: Option<Duration>,
    /// In-place restarts allowed within `window`; one more failure moves the group.
    pub restarts: u32,
    /// Period over which failures are counted.
    pub window: Duration,
}

impl MonitorPolicy {
    /// No monitoring.
    pub const OFF: MonitorPolicy = MonitorPolicy {
        interval: None,
        restarts: 0,
        window: Duration::from_secs(0),
    };
}

/// A fencing device is configured (`stonith`, `stonith_host`, `fence_agent`): a peer
/// declared dead that may hold resources is reset before its groups are taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FenceSetup {
    /// How log lines name the device (Heartbeat's `[DEVICE-ID]`).
    pub device: String,
    /// The wait before the first retry of a failed attempt (Heartbeat: 5 s); it doubles
    /// after each failure up to `retry_max`.
    pub retry: Duration,
    /// The longest wait between two attempts.
    pub retry_max: Duration,
}

impl FenceSetup {
    /// Heartbeat's 5 s before the first retry, doubling up to a minute.
    pub fn new(device: impl Into<String>) -> FenceSetup {
        FenceSetup {
            device: device.into(),
            retry: Duration::from_secs(5),
            retry_max: Duration::from_secs(60),
        }
    }
}

/// Everything the state machine needs.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    /// Node names in `ha.cf` order.
    pub nodes: Vec<NodeName>,
    /// Index of this node in `nodes`.
    pub me: usize,
    /// keepalive, deadtime (peers may announce their own in `dt`), warntime and initdead,
    /// consistent by construction (their rules live in hb-config's [`Timing`]).
    pub timing: Timing,
    /// Heartbeat link names (the devices of the media), in a fixed order; datagrams are
    /// reported against an index into this list.
    pub links: Vec<String>,
    /// Resource groups in `haresources` order.
    pub groups: Vec<GroupConfig>,
    /// The failback mode.
    pub auto_failback: AutoFailback,
    /// Whether to add the inner `auth=` field (classic) or not (netstring).
    pub msgfmt: MsgFmt,
    /// Keys for signing and verifying.
    pub keys: KeyRing,
    /// `ttl` = number of nodes + hopfudge.
    pub hopfudge: u32,
    /// Upper bound of the random delay before asking for a retransmission, and the repeat
    /// interval of such requests.
    pub max_rexmit_delay: Duration,
    /// Ping nodes, `deadping`, ipfail and the isolation rule (default: none).
    pub ping: crate::PingSetup,
    /// A watchdog device is configured: ask for it to be petted with every status heartbeat.
    pub watchdog: bool,
    /// The fencing device, if any (without one a dead peer is taken over unfenced, with
    /// Heartbeat's warnings).
    pub fencing: Option<FenceSetup>,
}

impl CoreConfig {
    /// Checks how the parts fit together: this node and each group's node are among the
    /// nodes, names are not repeated, resource groups have at most two nodes, there is a
    /// link. The parts' own rules (a valid timing, a valid node name) are their types'
    /// (hb-config's [`Timing`] and [`NodeName`]), checked once where they are made.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |m: String| Err(CoreError::InvalidConfig(m));
        if self.nodes.is_empty() {
            return bad("no nodes".into());
        }
        if self.me >= self.nodes.len() {
            return bad(format!("own node index {} out of range", self.me));
        }
        for (i, n) in self.nodes.iter().enumerate() {
            if self.nodes.iter().take(i).any(|m| m == n) {
                return bad(format!("node {n} listed twice"));
            }
        }
        if !self.groups.is_empty() && self.nodes.len() > 2 {
            return bad(format!(
                "haresources mode manages resource groups between at most two nodes ({} \
                 configured): Heartbeat 3's resource protocol cannot say which of several \
                 peers holds what (see docs/protocol.md)",
                self.nodes.len()
            ));
        }
        for g in &self.groups {
            if g.preferred >= self.nodes.len() {
                return bad(format!("group {} prefers an unknown node", g.key));
            }
            if g.key.is_empty() || g.key.chars().any(char::is_whitespace) {
                return bad(format!("group key {:?} must be one word", g.key));
            }
        }
        if self.links.is_empty() {
            return bad("no heartbeat link".into());
        }
        Ok(())
    }

    /// Time-to-live field value: node count plus hopfudge.
    pub(crate) fn ttl(&self) -> u64 {
        self.nodes.len() as u64 + u64::from(self.hopfudge)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use hb_proto::AuthMethod;

    use super::*;

    /// node1 and node2, keepalive 1 s, deadtime 3 s, initdead 6 s, no groups.
    pub(crate) fn two_nodes() -> CoreConfig {
        CoreConfig {
            nodes: ["node1", "node2"]
                .iter()
                .filter_map(|n| NodeName::parse(n))
                .collect(),
            me: 0,
            timing: Timing::new(
                Duration::from_secs(1),
                Duration::from_secs(3),
                Some(Duration::from_secs(2)),
                Some(Duration::from_secs(6)),
            )
            .expect("valid timing"),
            links: vec!["eth0".into()],
            groups: Vec::new(),
            auto_failback: AutoFailback::On,
            msgfmt: MsgFmt::Classic,
            keys: KeyRing::new(1, BTreeMap::from([(1, (AuthMethod::Sha1, b"k".to_vec()))]))
                .expect("one sha1 key"),
            hopfudge: 1,
            max_rexmit_delay: Duration::from_millis(250),
            ping: crate::PingSetup::default(),
            watchdog: false,
            fencing: None,
        }
    }
}
