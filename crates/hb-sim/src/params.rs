//! What to simulate: cluster size, groups, timings, the seed, and the bounds the invariants
//! derive from them.

use std::collections::BTreeMap;
use std::time::Duration;

use hb_core::{
    AutoFailback, CoreConfig, FenceSetup, GroupConfig, MonitorPolicy, PingSetup, PingTarget,
};
use hb_proto::{AuthMethod, KeyRing, MsgFmt};

/// What to simulate.
#[derive(Clone, Debug)]
pub struct Params {
    /// Number of nodes (named node1, node2, ...).
    pub nodes: usize,
    /// Groups: (index of the preferred node, number of resources).
    pub groups: Vec<(usize, usize)>,
    /// Failback mode.
    pub auto_failback: AutoFailback,
    /// Status interval.
    pub keepalive: Duration,
    /// Death timeout.
    pub deadtime: Duration,
    /// Start-up timeout.
    pub initdead: Duration,
    /// One-way network delay range.
    pub delay: (Duration, Duration),
    /// Agent run time range.
    pub agent_time: (Duration, Duration),
    /// How every resource is monitored.
    pub monitor: MonitorPolicy,
    /// Seed of everything random.
    pub seed: u64,
    /// One ping node (192.0.2.254) every node pings, and the policies that use it.
    pub ping: Option<PingParams>,
    /// A fencing device every node uses (its behaviour is a fault: [`Sim::set_fence_device`]).
    ///
    /// [`Sim::set_fence_device`]: crate::Sim::set_fence_device
    pub fencing: Option<FenceParams>,
    /// The isolation rule without ping nodes (`isolation release` alone): a node whose cable
    /// is pulled ([`Sim::pull_cable`]) is the cut-off side.
    ///
    /// [`Sim::pull_cable`]: crate::Sim::pull_cable
    pub carrier_isolation: bool,
}

/// The simulated fencing device: how long a reset takes, when an attempt is killed, how long
/// a reset node takes to boot its daemon again.
#[derive(Clone, Copy, Debug)]
pub struct FenceParams {
    /// Run time range of an attempt that finishes.
    pub time: (Duration, Duration),
    /// `fence_timeout`: a hanging attempt is reported timed out after this.
    pub timeout: Duration,
    /// From the reset to the daemon's start.
    pub reboot: Duration,
}

/// The simulated ping node and what it decides.
#[derive(Clone, Copy, Debug)]
pub struct PingParams {
    /// `deadping`.
    pub deadping: Duration,
    /// The built-in ipfail.
    pub ipfail: bool,
    /// The isolation rule.
    pub isolation: bool,
}

/// The simulated ping node's address.
pub const PING_NODE: std::net::IpAddr =
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 254));

impl Params {
    /// Two nodes, one group each (one VIP-like resource plus one service), auto_failback
    /// `mode`, keepalive 100 ms, deadtime 300 ms.
    pub fn two_nodes(mode: AutoFailback, seed: u64) -> Params {
        Params {
            nodes: 2,
            groups: vec![(0, 2), (1, 2)],
            auto_failback: mode,
            keepalive: Duration::from_millis(100),
            deadtime: Duration::from_millis(300),
            initdead: Duration::from_millis(1000),
            delay: (Duration::from_micros(50), Duration::from_micros(400)),
            agent_time: (Duration::from_millis(1), Duration::from_millis(5)),
            monitor: MonitorPolicy {
                interval: Some(Duration::from_millis(50)),
                restarts: 2,
                window: Duration::from_secs(1),
            },
            seed,
            ping: None,
            fencing: None,
            carrier_isolation: false,
        }
    }

    /// Whether the isolation rule is on (with ping nodes or the carrier alone).
    pub fn isolation(&self) -> bool {
        self.carrier_isolation || self.ping.is_some_and(|p| p.isolation)
    }

    /// These parameters with a fencing device: attempts take a third of a deadtime to a
    /// deadtime, time out after two, and a reset node boots again after two.
    pub fn with_fencing(mut self) -> Params {
        self.fencing = Some(FenceParams {
            time: (self.deadtime / 3, self.deadtime),
            timeout: self.deadtime * 2,
            reboot: self.deadtime * 2,
        });
        self
    }

    /// [`Params::two_nodes`] with a ping node, `deadping` = deadtime, ipfail and isolation
    /// as given.
    pub fn two_nodes_with_ping(
        mode: AutoFailback,
        seed: u64,
        ipfail: bool,
        isolation: bool,
    ) -> Params {
        let mut p = Params::two_nodes(mode, seed);
        p.ping = Some(PingParams {
            deadping: p.deadtime,
            ipfail,
            isolation,
        });
        p
    }

    /// How long after a node is cut off it may still hold resources with the isolation rule:
    /// the later of deadtime and deadping, a keepalive of phase, and stopping every resource.
    pub fn isolation_bound(&self) -> Duration {
        let deadping = self.ping.map_or(self.deadtime, |p| p.deadping);
        let resources: u32 = self.groups.iter().map(|g| g.1 as u32).sum();
        self.deadtime.max(deadping) + self.keepalive * 2 + self.agent_time.1 * (resources + 1)
    }

    /// The configuration of node `me`'s core (every node gets the same cluster).
    pub(crate) fn core_config(&self, me: usize) -> CoreConfig {
        self.core_config_with(me, &self.groups)
    }

    /// The configuration of node `me`'s core with its own `haresources` (`groups`, as in
    /// [`Params::groups`]): a node reloads a new file before or after its peer.
    pub(crate) fn core_config_with(&self, me: usize, groups: &[(usize, usize)]) -> CoreConfig {
        let nodes: Vec<hb_config::NodeName> = (1..=self.nodes)
            .filter_map(|i| hb_config::NodeName::parse(&format!("node{i}")))
            .collect();
        let keys = KeyRing::new(
            1,
            BTreeMap::from([(1, (AuthMethod::Sha1, b"simsecret".to_vec()))]),
        )
        .unwrap_or_else(|e| panic!("static key ring: {e}"));
        CoreConfig {
            me,
            timing: hb_config::Timing::new(
                self.keepalive,
                self.deadtime,
                Some(self.deadtime / 2),
                Some(self.initdead),
            )
            .unwrap_or_else(|e| panic!("the simulator's timing: {e:?}")),
            links: vec!["eth0".into()],
            groups: groups
                .iter()
                .enumerate()
                .map(|(i, &(pref, n))| GroupConfig {
                    key: format!("IPaddr::192.0.2.{}", 100 + i),
                    preferred: pref,
                    resources: (0..n).map(|r| format!("r{i}.{r}")).collect(),
                    monitor: vec![self.monitor; n],
                })
                .collect(),
            auto_failback: self.auto_failback,
            msgfmt: MsgFmt::Classic,
            keys,
            hopfudge: 1,
            max_rexmit_delay: Duration::from_millis(250),
            ping: match self.ping {
                None => PingSetup {
                    isolation: self.carrier_isolation,
                    ..PingSetup::default()
                },
                Some(p) => PingSetup {
                    targets: vec![PingTarget {
                        name: PING_NODE.to_string(),
                        hosts: vec![PING_NODE],
                        nodes_before: self.nodes,
                    }],
                    deadping: Some(p.deadping),
                    ipfail: p.ipfail,
                    isolation: p.isolation,
                },
            },
            watchdog: false,
            fencing: self.fencing.map(|_| FenceSetup {
                device: "sim".into(),
                retry: self.deadtime,
                retry_max: self.deadtime * 4,
            }),
            nodes,
        }
    }

    /// The longest a group may run nowhere while every running daemon is active and the
    /// network loses nothing: detection (deadtime), a lost-message retransmission round or
    /// two, and stopping then starting the group's resources.
    pub fn takeover_bound(&self) -> Duration {
        let resources: u32 = self.groups.iter().map(|g| g.1 as u32).sum();
        // An attempt that hung just before the device recovered still times out, and the
        // retry waits at most 4 x deadtime (`core_config`); then one attempt succeeds.
        let fencing = self
            .fencing
            .map_or(Duration::ZERO, |f| f.timeout + self.deadtime * 4 + f.time.1);
        self.deadtime
            + fencing
            + self.keepalive * 4
            + Duration::from_millis(500)
            + self.agent_time.1 * (resources * 4 + 4)
            + self.delay.1 * 20
    }

    /// The longest a correct cluster may take to converge after the last fault: detection,
    /// two standby round trips and a full stop plus start of every group, with margin.
    pub fn settle_bound(&self) -> Duration {
        let agents =
            self.agent_time.1 * (self.groups.iter().map(|g| g.1 as u32).sum::<u32>() * 4 + 4);
        // A reset node boots again and negotiates; an attempt may time out and be retried.
        let fencing = self.fencing.map_or(Duration::ZERO, |f| {
            f.timeout + self.deadtime * 4 + f.reboot + self.initdead
        });
        self.initdead.max(self.deadtime)
            + fencing
            + self.keepalive * 10
            + agents
            + self.delay.1 * 40
            + Duration::from_millis(600)
    }
}
