//! A deterministic discrete-event simulator of several [`hb_core::Core`]s.
//!
//! The simulator owns a virtual clock, a LAN with injectable faults (cut nodes, one-way
//! blocks, loss, duplication, delay jitter) and a "world": the set of resources actually
//! active on each host. Simulated agents change the world when they finish, so a crashed
//! daemon (`crash`) leaves its resources behind exactly like `kill -9` does, and a restarted
//! one finds them in its start-up probe.
//!
//! Everything is a function of the seed: the same [`Params`] and the same calls replay the
//! same run. Invariants (see [`Sim::check`] and `docs/simulation.md`) are checked after every
//! event; a violation is recorded with the event trace that led to it.
//!
//! Must never depend on tokio or real clocks.

#![forbid(unsafe_code)]

pub mod sweep;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hb_core::{
    Action, AgentOp, AgentResult, AutoFailback, Boot, Command, Core, CoreConfig, GroupConfig,
    GroupState, Instant, MonitorPolicy, OpId,
};
use hb_proto::{AuthMethod, KeyRing, MsgFmt};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

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
}

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
        }
    }

    fn core_config(&self, me: usize) -> CoreConfig {
        let nodes: Vec<String> = (1..=self.nodes).map(|i| format!("node{i}")).collect();
        let keys = KeyRing::new(
            1,
            BTreeMap::from([(1, (AuthMethod::Sha1, b"simsecret".to_vec()))]),
        )
        .unwrap_or_else(|e| panic!("static key ring: {e}"));
        CoreConfig {
            me,
            keepalive: self.keepalive,
            deadtime: self.deadtime,
            warntime: self.deadtime / 2,
            initdead: self.initdead,
            links: vec!["eth0".into()],
            groups: self
                .groups
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
            nodes,
        }
    }

    /// The longest a group may run nowhere while every running daemon is active and the
    /// network loses nothing: detection (deadtime), a lost-message retransmission round or
    /// two, and stopping then starting the group's resources.
    pub fn takeover_bound(&self) -> Duration {
        let resources: u32 = self.groups.iter().map(|g| g.1 as u32).sum();
        self.deadtime
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
        self.initdead.max(self.deadtime)
            + self.keepalive * 10
            + agents
            + self.delay.1 * 40
            + Duration::from_millis(600)
    }
}

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        to: usize,
        bytes: Vec<u8>,
    },
    AgentDone {
        node: usize,
        incarnation: u64,
        id: OpId,
        group: usize,
        resource: usize,
        op: AgentOp,
    },
    Wake {
        node: usize,
        token: u64,
    },
}

#[derive(Debug)]
struct Host {
    core: Option<Core>,
    incarnation: u64,
    generation: u64,
    /// Resources (group, resource) active on this host: the world.
    active: BTreeSet<(usize, usize)>,
    wake_token: u64,
    wake_at: Option<Instant>,
    fail_start: BTreeSet<(usize, usize)>,
    fail_stop: BTreeSet<(usize, usize)>,
}

/// A recorded invariant violation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// When.
    pub at: Duration,
    /// What.
    pub what: String,
}

/// The simulator. See the crate documentation.
#[derive(Debug)]
pub struct Sim {
    /// The parameters it was built with.
    pub params: Params,
    now: Instant,
    rng: ChaCha8Rng,
    hosts: Vec<Host>,
    queue: BTreeMap<(Instant, u64), Event>,
    next_event: u64,
    /// Nodes cut off the LAN.
    cut: BTreeSet<usize>,
    /// One-way blocks (from, to).
    blocked: BTreeSet<(usize, usize)>,
    /// Probability (per mille) that a datagram is lost / duplicated.
    loss_permille: u32,
    dup_permille: u32,
    /// When the last fault happened (network change, crash, restart, shutdown).
    last_fault: Instant,
    /// Since when each group has been active on two hosts at once.
    dual_since: BTreeMap<usize, Instant>,
    /// Since when each group has run fully on no host with a running daemon.
    orphan_since: BTreeMap<usize, Instant>,
    /// Every event, for replay output.
    pub trace: Vec<String>,
    /// When set, every datagram transmitted, with the index of the sending node.
    pub capture: Option<Vec<(usize, Vec<u8>)>>,
    /// Invariant violations found.
    pub violations: Vec<Violation>,
    /// Stop recording the trace beyond this many lines.
    pub trace_limit: usize,
    /// Events processed so far.
    pub events: u64,
    /// A run that needs more events than this is a message storm: it is recorded as a
    /// violation and the queue is dropped.
    pub event_budget: u64,
}

impl Sim {
    /// Builds the cluster and starts every node at time zero.
    pub fn new(params: Params) -> Sim {
        Sim::with_down(params, &[])
    }

    /// Builds the cluster and starts every node except those in `down` at time zero (start
    /// them later with [`Sim::restart`]).
    pub fn with_down(params: Params, down: &[usize]) -> Sim {
        let mut sim = Sim {
            now: Instant::from_nanos(0),
            rng: ChaCha8Rng::seed_from_u64(params.seed),
            hosts: (0..params.nodes)
                .map(|_| Host {
                    core: None,
                    incarnation: 0,
                    generation: 1000,
                    active: BTreeSet::new(),
                    wake_token: 0,
                    wake_at: None,
                    fail_start: BTreeSet::new(),
                    fail_stop: BTreeSet::new(),
                })
                .collect(),
            queue: BTreeMap::new(),
            next_event: 0,
            cut: BTreeSet::new(),
            blocked: BTreeSet::new(),
            loss_permille: 0,
            dup_permille: 0,
            last_fault: Instant::from_nanos(0),
            dual_since: BTreeMap::new(),
            orphan_since: BTreeMap::new(),
            trace: Vec::new(),
            capture: None,
            violations: Vec::new(),
            trace_limit: 200_000,
            events: 0,
            event_budget: 5_000_000,
            params,
        };
        for n in 0..sim.params.nodes {
            if !down.contains(&n) {
                sim.boot(n);
            }
        }
        sim
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now.as_nanos())
    }

    fn note(&mut self, line: impl FnOnce() -> String) {
        if self.trace.len() < self.trace_limit {
            let t = self.elapsed().as_secs_f64();
            self.trace.push(format!("{t:10.6} {}", line()));
        }
    }

    fn boot(&mut self, n: usize) {
        let host = &mut self.hosts[n];
        host.incarnation += 1;
        host.generation += 1;
        let mut uuid = [0u8; 16];
        uuid[0] = n as u8 + 1;
        let boot = Boot {
            generation: host.generation,
            uuid,
            wall_clock_secs: 1_800_000_000,
            seed: self.params.seed ^ ((n as u64 + 1) << 32) ^ host.incarnation,
        };
        let core = Core::new(self.params.core_config(n), boot, self.now)
            .unwrap_or_else(|e| panic!("simulated config must be valid: {e}"));
        host.core = Some(core);
        host.wake_at = None;
        self.note(|| format!("node{} boots", n + 1));
        self.after_input(n);
    }

    fn schedule(&mut self, at: Instant, ev: Event) {
        self.next_event += 1;
        self.queue.insert((at, self.next_event), ev);
    }

    fn between(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        let span = u64::try_from(hi.saturating_sub(lo).as_nanos()).unwrap_or(0);
        lo + Duration::from_nanos(if span == 0 {
            0
        } else {
            self.rng.next_u64() % span
        })
    }

    fn chance(&mut self, permille: u32) -> bool {
        permille > 0 && (self.rng.next_u64() % 1000) < u64::from(permille)
    }

    fn connected(&self, a: usize, b: usize) -> bool {
        a == b
            || (!self.cut.contains(&a) && !self.cut.contains(&b) && !self.blocked.contains(&(a, b)))
    }

    /// Drains a node's actions and re-arms its wake-up.
    fn after_input(&mut self, n: usize) {
        while let Some(action) = self.hosts[n].core.as_mut().and_then(Core::poll_action) {
            match action {
                Action::Transmit(bytes) => {
                    if let Some(c) = self.capture.as_mut() {
                        c.push((n, bytes.clone()));
                    }
                    for to in 0..self.hosts.len() {
                        if !self.connected(n, to) || (to != n && self.chance(self.loss_permille)) {
                            continue;
                        }
                        let copies = if to != n && self.chance(self.dup_permille) {
                            2
                        } else {
                            1
                        };
                        for _ in 0..copies {
                            let d = self.between(self.params.delay);
                            self.schedule(
                                self.now + d,
                                Event::Deliver {
                                    to,
                                    bytes: bytes.clone(),
                                },
                            );
                        }
                    }
                }
                Action::RunAgent {
                    id,
                    group,
                    resource,
                    op,
                } => {
                    let d = self.between(self.params.agent_time);
                    let incarnation = self.hosts[n].incarnation;
                    self.note(|| format!("node{} runs g{group}.r{resource} {op}", n + 1));
                    self.schedule(
                        self.now + d,
                        Event::AgentDone {
                            node: n,
                            incarnation,
                            id,
                            group,
                            resource,
                            op,
                        },
                    );
                }
            }
        }
        let host = &mut self.hosts[n];
        let Some(core) = &host.core else { return };
        if core.is_finished() {
            self.note(|| format!("node{} exits after graceful shutdown", n + 1));
            let host = &mut self.hosts[n];
            host.core = None;
            host.wake_at = None;
            return;
        }
        let next = core.poll_timeout();
        if next.is_some() && next != host.wake_at {
            host.wake_token += 1;
            host.wake_at = next;
            let token = host.wake_token;
            if let Some(at) = next {
                self.schedule(at.max(self.now), Event::Wake { node: n, token });
            }
        }
    }

    /// Processes the next event; false if there is none.
    pub fn step(&mut self) -> bool {
        let Some(((at, _), ev)) = self.queue.pop_first() else {
            return false;
        };
        self.now = self.now.max(at);
        self.events += 1;
        if self.events > self.event_budget {
            let what = format!("more than {} events: message storm", self.event_budget);
            self.violation(what);
            self.queue.clear();
            return false;
        }
        match ev {
            Event::Deliver { to, bytes } => {
                if let Some(core) = self.hosts[to].core.as_mut() {
                    core.handle_datagram(self.now, 0, &bytes);
                    self.after_input(to);
                }
            }
            Event::Wake { node, token } => {
                let host = &mut self.hosts[node];
                if host.wake_token == token
                    && let Some(core) = host.core.as_mut()
                {
                    host.wake_at = None;
                    core.handle_timeout(self.now);
                    self.after_input(node);
                }
            }
            Event::AgentDone {
                node,
                incarnation,
                id,
                group,
                resource,
                op,
            } => {
                let result = self.apply_agent(node, group, resource, op);
                self.note(|| format!("node{} g{group}.r{resource} {op} -> {result}", node + 1));
                let host = &mut self.hosts[node];
                if host.incarnation == incarnation
                    && let Some(core) = host.core.as_mut()
                {
                    core.handle_agent_done(self.now, id, result);
                    self.after_input(node);
                }
            }
        }
        self.check();
        true
    }

    /// What a simulated agent does to the world.
    fn apply_agent(
        &mut self,
        node: usize,
        group: usize,
        resource: usize,
        op: AgentOp,
    ) -> AgentResult {
        let host = &mut self.hosts[node];
        let r = (group, resource);
        match op {
            AgentOp::Start => {
                if host.fail_start.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    host.active.insert(r);
                    AgentResult::Success
                }
            }
            AgentOp::Stop => {
                if host.fail_stop.contains(&r) {
                    AgentResult::Failed(Some(1))
                } else {
                    host.active.remove(&r);
                    AgentResult::Success
                }
            }
            AgentOp::Status | AgentOp::Monitor => {
                if host.active.contains(&r) {
                    AgentResult::Running
                } else {
                    AgentResult::NotRunning
                }
            }
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        while self
            .queue
            .first_key_value()
            .is_some_and(|((at, _), _)| *at <= until)
        {
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Runs until `cond` holds (checked after every event), at most `limit`. Returns whether
    /// it held.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Sim) -> bool) -> bool {
        let until = self.now + limit;
        loop {
            if cond(self) {
                return true;
            }
            match self.queue.first_key_value() {
                Some(((at, _), _)) if *at <= until => {
                    self.step();
                }
                _ => {
                    self.now = self.now.max(until);
                    return cond(self);
                }
            }
        }
    }

    fn fault(&mut self, what: String) {
        self.note(|| format!("FAULT {what}"));
        self.last_fault = self.now;
    }

    /// Cuts node `n` off the LAN (both directions).
    pub fn cut(&mut self, n: usize) {
        self.cut.insert(n);
        self.fault(format!("cut node{}", n + 1));
    }

    /// Reconnects node `n`.
    pub fn heal(&mut self, n: usize) {
        self.cut.remove(&n);
        self.fault(format!("heal node{}", n + 1));
    }

    /// Drops everything `from` sends to `to`.
    pub fn block(&mut self, from: usize, to: usize) {
        self.blocked.insert((from, to));
        self.fault(format!("block node{} -> node{}", from + 1, to + 1));
    }

    /// Removes every one-way block.
    pub fn unblock_all(&mut self) {
        self.blocked.clear();
        self.fault("unblock all".into());
    }

    /// Sets datagram loss and duplication rates (per mille).
    pub fn set_loss(&mut self, loss_permille: u32, dup_permille: u32) {
        self.loss_permille = loss_permille;
        self.dup_permille = dup_permille;
        self.fault(format!("loss {loss_permille}‰ dup {dup_permille}‰"));
    }

    /// `kill -9` of node `n`'s daemon: its resources stay active. Agents it was running die
    /// with it (the daemon sets their parent-death signal): each either completed its effect
    /// before that or not at all, decided here, so a restarted daemon's probe sees a world
    /// that no longer changes behind its back.
    pub fn crash(&mut self, n: usize) {
        let incarnation = self.hosts[n].incarnation;
        let in_flight: Vec<(Instant, u64)> = self
            .queue
            .iter()
            .filter(|(_, ev)| matches!(ev, Event::AgentDone { node, incarnation: i, .. } if *node == n && *i == incarnation))
            .map(|(k, _)| *k)
            .collect();
        for key in in_flight {
            if let Some(Event::AgentDone {
                group,
                resource,
                op,
                ..
            }) = self.queue.remove(&key)
                && self.chance(500)
            {
                let result = self.apply_agent(n, group, resource, op);
                self.note(|| {
                    format!(
                        "node{} g{group}.r{resource} {op} -> {result} (as its daemon died)",
                        n + 1
                    )
                });
            }
        }
        self.hosts[n].core = None;
        self.hosts[n].wake_at = None;
        self.fault(format!("crash node{}", n + 1));
    }

    /// Starts node `n`'s daemon again (new generation). Does nothing if it runs.
    pub fn restart(&mut self, n: usize) {
        if self.hosts[n].core.is_none() {
            self.fault(format!("restart node{}", n + 1));
            self.boot(n);
        }
    }

    /// Graceful stop of node `n` (SIGTERM).
    pub fn shutdown(&mut self, n: usize) {
        self.fault(format!("shutdown node{}", n + 1));
        if let Some(core) = self.hosts[n].core.as_mut() {
            let _ = core.handle_command(self.now, Command::Shutdown);
            self.after_input(n);
        }
    }

    /// An operator command on node `n`.
    pub fn command(&mut self, n: usize, cmd: Command) {
        self.fault(format!("command {cmd:?} on node{}", n + 1));
        if let Some(core) = self.hosts[n].core.as_mut() {
            let _ = core.handle_command(self.now, cmd);
            self.after_input(n);
        }
    }

    /// Makes `start` (or `stop`) of one resource fail on node `n` from now on.
    pub fn fail_agent(&mut self, n: usize, group: usize, resource: usize, op: AgentOp) {
        match op {
            AgentOp::Start => self.hosts[n].fail_start.insert((group, resource)),
            AgentOp::Stop => self.hosts[n].fail_stop.insert((group, resource)),
            AgentOp::Status | AgentOp::Monitor => false,
        };
        self.fault(format!("node{} g{group}.r{resource} {op} will fail", n + 1));
    }

    /// Agents of node `n` work again (undoes [`Sim::fail_agent`]).
    pub fn clear_agent_faults(&mut self, n: usize) {
        self.fault(format!("node{} agents repaired", n + 1));
        self.hosts[n].fail_start.clear();
        self.hosts[n].fail_stop.clear();
    }

    /// The application behind resource `resource` of `group` dies on node `n` (if it runs
    /// there); only a monitor can notice.
    pub fn kill_resource(&mut self, n: usize, group: usize, resource: usize) {
        self.fault(format!("node{} g{group}.r{resource} dies", n + 1));
        self.hosts[n].active.remove(&(group, resource));
    }

    /// The core of node `n`, if its daemon runs.
    pub fn core(&self, n: usize) -> Option<&Core> {
        self.hosts[n].core.as_ref()
    }

    /// Whether node `n`'s daemon runs.
    pub fn is_running(&self, n: usize) -> bool {
        self.hosts[n].core.is_some()
    }

    /// Hosts on which any resource of group `g` is active.
    pub fn holders(&self, g: usize) -> Vec<usize> {
        (0..self.hosts.len())
            .filter(|&n| self.hosts[n].active.iter().any(|r| r.0 == g))
            .collect()
    }

    /// Hosts on which every resource of group `g` is active.
    pub fn full_holders(&self, g: usize) -> Vec<usize> {
        let count = self.params.groups[g].1;
        (0..self.hosts.len())
            .filter(|&n| self.hosts[n].active.iter().filter(|r| r.0 == g).count() == count)
            .collect()
    }

    /// Whether every group runs fully on exactly the given node.
    pub fn placement_is(&self, expected: &[usize]) -> bool {
        expected
            .iter()
            .enumerate()
            .all(|(g, &n)| self.holders(g) == [n] && self.full_holders(g) == [n])
    }

    fn network_whole(&self) -> bool {
        self.cut.is_empty() && self.blocked.is_empty() && self.loss_permille == 0
    }

    /// Safety invariants, checked after every event (docs/simulation.md):
    /// 1. a daemon that says a group is stopped has none of its resources active;
    /// 2. while the network is whole and every daemon runs, no group stays active on two
    ///    hosts for longer than the settle bound;
    /// 3. a group does not run nowhere for long while daemons that could run it are active.
    pub fn check(&mut self) {
        let mut found = Vec::new();
        for n in 0..self.hosts.len() {
            let Some(core) = &self.hosts[n].core else {
                continue;
            };
            for g in 0..self.params.groups.len() {
                if core.group_state(g) == Some(GroupState::Stopped)
                    && let Some(r) = self.hosts[n].active.iter().find(|r| r.0 == g)
                {
                    found.push(format!(
                        "node{} reports group {g} stopped but resource {} is active",
                        n + 1,
                        r.1
                    ));
                }
            }
        }
        for what in found {
            self.violation(what);
        }
        let all_up = self.hosts.iter().all(|h| h.core.is_some());
        for g in 0..self.params.groups.len() {
            if self.holders(g).len() > 1 {
                let since = *self.dual_since.entry(g).or_insert(self.now);
                let calm_since = since.max(self.last_fault);
                if all_up
                    && self.network_whole()
                    && self.now.saturating_since(calm_since) > self.params.settle_bound()
                {
                    let what = format!(
                        "group {g} active on {:?} for too long on a whole network",
                        self.holders(g)
                    );
                    self.violation(what);
                    self.dual_since.insert(g, self.now);
                }
            } else {
                self.dual_since.remove(&g);
            }
        }
        self.check_orphans();
    }

    /// Liveness: while every running daemon is active and nothing is lost, no group runs
    /// nowhere for longer than [`Params::takeover_bound`] (checked when at least one daemon
    /// runs whose start of that group can succeed).
    fn check_orphans(&mut self) {
        let calm = self.loss_permille == 0
            && self.hosts.iter().enumerate().all(|(n, h)| {
                h.core.as_ref().is_none_or(|c| {
                    c.node_status(&format!("node{}", n + 1)) == Some(hb_core::NodeStatus::Active)
                })
            });
        for g in 0..self.params.groups.len() {
            let count = self.params.groups[g].1;
            let held = self
                .hosts
                .iter()
                .any(|h| h.core.is_some() && h.active.iter().filter(|r| r.0 == g).count() == count);
            let candidates = self.hosts.iter().any(|h| {
                h.core.as_ref().is_some_and(|c| !c.group_failed_here(g))
                    && !h.fail_start.iter().any(|r| r.0 == g)
            });
            // A stop failed somewhere: the group is unmanaged on purpose until an operator acts.
            let blocked = self.hosts.iter().any(|h| {
                h.core
                    .as_ref()
                    .is_some_and(|c| c.group_state(g) == Some(GroupState::Failed))
            });
            if held || !candidates || !calm || blocked {
                self.orphan_since.remove(&g);
                continue;
            }
            let since = *self.orphan_since.entry(g).or_insert(self.now);
            if self.now.saturating_since(since) > self.params.takeover_bound() {
                self.violation(format!(
                    "group {g} ran nowhere for longer than {:?}",
                    self.params.takeover_bound()
                ));
                self.orphan_since.insert(g, self.now);
            }
        }
    }

    fn violation(&mut self, what: String) {
        self.note(|| format!("VIOLATION {what}"));
        if self.violations.len() < 20 {
            self.violations.push(Violation {
                at: self.elapsed(),
                what,
            });
        }
    }

    /// Liveness after the last fault: with the network whole and every daemon running (or
    /// some stopped), each group whose start can succeed somewhere runs fully on exactly one
    /// running host. Returns a description of what is wrong, if anything.
    pub fn converged(&self) -> Result<(), String> {
        for g in 0..self.params.groups.len() {
            let holders = self.holders(g);
            let full = self.full_holders(g);
            let runnable = (0..self.hosts.len()).any(|n| {
                self.hosts[n]
                    .core
                    .as_ref()
                    .is_some_and(|c| !c.group_failed_here(g))
                    && !self.hosts[n].fail_start.iter().any(|r| r.0 == g)
            });
            if holders.len() > 1 {
                return Err(format!("group {g} active on several hosts {holders:?}"));
            }
            if runnable
                && (full.len() != 1 || holders != full || self.hosts[full[0]].core.is_none())
            {
                return Err(format!(
                    "group {g} not running fully on one live host (holders {holders:?}, full {full:?})"
                ));
            }
        }
        Ok(())
    }
}

/// Each invariant can fire: a world driven (or set by hand) into a violating state is reported
/// with its exact message.
#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn whats(sim: &Sim) -> Vec<&str> {
        sim.violations.iter().map(|v| v.what.as_str()).collect()
    }

    /// A two-node cluster with each group on its preferred node, no violation so far.
    fn settled(params: Params) -> Sim {
        let mut sim = Sim::new(params);
        assert!(sim.run_until(ms(3000), |s| s.placement_is(&[0, 1])));
        assert_eq!(whats(&sim), Vec::<&str>::new());
        sim
    }

    /// Nobody notices an application that dies.
    fn unmonitored() -> Params {
        let mut p = Params::two_nodes(AutoFailback::On, 11);
        p.monitor.interval = None;
        p
    }

    #[test]
    fn no_hidden_resources_fires_for_an_active_resource_of_a_group_reported_stopped() {
        let mut sim = settled(Params::two_nodes(AutoFailback::On, 11));
        assert_eq!(
            sim.core(0).unwrap().group_state(1),
            Some(GroupState::Stopped)
        );
        // Test-only: a resource of group 1 appears on node1, behind its daemon's back.
        sim.hosts[0].active.insert((1, 0));
        sim.check();
        let what = "node1 reports group 1 stopped but resource 0 is active";
        assert_eq!(whats(&sim), [what]);
        assert_eq!(sim.violations[0].at, sim.elapsed());
        assert!(
            sim.trace
                .last()
                .unwrap()
                .ends_with(&format!("VIOLATION {what}"))
        );
    }

    #[test]
    fn one_holder_fires_for_a_group_on_two_hosts_of_a_whole_network_past_the_settle_bound() {
        let mut sim = settled(Params::two_nodes(AutoFailback::On, 11));
        let settle = sim.params.settle_bound();
        // No stop can succeed, so once both nodes hold both groups neither can give one up.
        for n in 0..2 {
            for g in 0..2 {
                for r in 0..2 {
                    sim.fail_agent(n, g, r, AgentOp::Stop);
                }
            }
        }
        sim.cut(0);
        sim.run_for(settle * 2);
        assert_eq!((sim.holders(0), sim.holders(1)), (vec![0, 1], vec![0, 1]));
        assert_eq!(whats(&sim), Vec::<&str>::new(), "a cut network is exempt");
        sim.heal(0);
        let healed = sim.elapsed();
        sim.run_for(settle);
        assert_eq!(whats(&sim), Vec::<&str>::new(), "within the settle bound");
        sim.run_for(settle);
        assert_eq!(
            whats(&sim),
            [
                "group 0 active on [0, 1] for too long on a whole network",
                "group 1 active on [0, 1] for too long on a whole network"
            ]
        );
        assert!(sim.violations.iter().all(|v| v.at > healed + settle));
    }

    #[test]
    fn takeover_liveness_fires_for_a_group_running_nowhere_past_the_takeover_bound() {
        let mut sim = settled(unmonitored());
        let bound = sim.params.takeover_bound();
        let killed = sim.elapsed();
        sim.kill_resource(0, 0, 0);
        sim.run_for(bound);
        assert_eq!(whats(&sim), Vec::<&str>::new(), "within the takeover bound");
        sim.run_for(bound);
        assert_eq!(
            whats(&sim),
            [format!("group 0 ran nowhere for longer than {bound:?}")]
        );
        assert!(sim.violations[0].at > killed + bound);
    }

    #[test]
    fn no_message_storm_fires_past_the_event_budget_and_ends_the_run() {
        let mut sim = Sim::new(Params::two_nodes(AutoFailback::On, 11));
        sim.event_budget = 100;
        sim.run_for(ms(1000));
        assert_eq!(whats(&sim), ["more than 100 events: message storm"]);
        assert_eq!(sim.events, 101);
        assert!(!sim.step(), "the queue is dropped");
    }

    #[test]
    fn convergence_fails_for_a_group_not_fully_on_one_host_or_on_two() {
        let mut sim = settled(unmonitored());
        assert_eq!(sim.converged(), Ok(()));
        sim.kill_resource(0, 0, 0);
        assert_eq!(
            sim.converged(),
            Err("group 0 not running fully on one live host (holders [0], full [])".into())
        );
        // Test-only: a resource of group 1 appears on node1 too.
        sim.hosts[0].active.insert((1, 1));
        assert_eq!(
            sim.converged(),
            Err("group 0 not running fully on one live host (holders [0], full [])".into()),
            "groups are checked in order"
        );
        sim.hosts[0].active.insert((0, 0));
        assert_eq!(
            sim.converged(),
            Err("group 1 active on several hosts [0, 1]".into())
        );
    }

    #[test]
    fn the_checks_run_in_order_hidden_resources_then_one_holder_then_takeover() {
        let mut sim = settled(unmonitored());
        sim.kill_resource(0, 0, 0);
        // Test-only: the resource reappears on node2, which reports group 0 stopped; group 0
        // now runs fully nowhere and partly on both hosts.
        sim.hosts[1].active.insert((0, 0));
        sim.check();
        let hidden = "node2 reports group 0 stopped but resource 0 is active";
        assert_eq!(whats(&sim), [hidden]);
        // Test-only: time passes with no event, beyond both bounds.
        sim.now = sim.now + sim.params.settle_bound() + Duration::from_nanos(1);
        assert!(sim.params.settle_bound() > sim.params.takeover_bound());
        sim.check();
        assert_eq!(
            whats(&sim),
            [
                hidden,
                hidden,
                "group 0 active on [0, 1] for too long on a whole network",
                &format!(
                    "group 0 ran nowhere for longer than {:?}",
                    sim.params.takeover_bound()
                ),
            ]
        );
    }
}
