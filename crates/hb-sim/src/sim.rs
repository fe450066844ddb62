//! The simulator: a virtual clock, an event queue, the hosts and the LAN between them.

mod faults;

use std::collections::BTreeMap;
use std::time::Duration;

use hb_core::{Action, AgentOp, Boot, Core, FenceResult, Instant, OpId};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::invariants::{self, Invariants, View, Violation};
use crate::lan::Lan;
use crate::params::Params;
use crate::world::Host;

#[derive(Clone, Debug)]
enum Event {
    Deliver {
        from: usize,
        to: usize,
        bytes: Vec<u8>,
        /// A recording replayed after `to`'s restart: it must be dropped.
        replay: bool,
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
    PingReply {
        node: usize,
        incarnation: u64,
        from: std::net::IpAddr,
    },
    /// A fencing attempt of `node` against `target` ends.
    FenceDone {
        node: usize,
        incarnation: u64,
        id: OpId,
        target: Option<usize>,
        /// The device hung: the shell's timeout reports it.
        timed_out: bool,
    },
    /// A node reset by fencing boots its daemon again.
    Reboot {
        node: usize,
        reset: u64,
    },
}

/// Whether a datagram is a sequenced message (not `NS_*`).
fn is_sequenced(bytes: &[u8]) -> bool {
    hb_proto::decode(bytes)
        .ok()
        .and_then(|d| d.msg.str("t").map(|t| !t.starts_with("NS_")))
        .unwrap_or(false)
}

/// The simulator. See the crate documentation.
#[derive(Debug)]
pub struct Sim {
    /// The parameters it was built with.
    pub params: Params,
    pub(crate) now: Instant,
    rng: ChaCha8Rng,
    pub(crate) hosts: Vec<Host>,
    queue: BTreeMap<(Instant, u64), Event>,
    next_event: u64,
    lan: Lan,
    /// When the last fault happened (any call of the fault API in `faults.rs`).
    last_fault: Instant,
    /// The invariants checked after every event, with their state.
    invariants: Invariants,
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
            hosts: (0..params.nodes).map(|_| Host::new()).collect(),
            queue: BTreeMap::new(),
            next_event: 0,
            lan: Lan::default(),
            last_fault: Instant::from_nanos(0),
            invariants: Invariants::default(),
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
            wall_clock_secs: 1_800_000_000 + self.now.as_nanos() / 1_000_000_000,
            seed: self.params.seed ^ ((n as u64 + 1) << 32) ^ host.incarnation,
            peers: host.disk_peers.clone(),
        };
        let cfg = match &host.groups {
            Some(groups) => self.params.core_config_with(n, groups),
            None => self.params.core_config(n),
        };
        let core = Core::new(cfg, boot, self.now)
            .unwrap_or_else(|e| panic!("simulated config must be valid: {e}"));
        host.core = Some(core);
        host.booted_at = self.now;
        host.wake_at = None;
        self.note(|| format!("node{} boots", n + 1));
        if self.lan.no_carrier.contains(&n) {
            self.report_carrier(n);
        }
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

    /// Drains a node's actions and re-arms its wake-up.
    fn after_input(&mut self, n: usize) {
        while let Some(action) = self.hosts[n].core.as_mut().and_then(Core::poll_action) {
            match action {
                Action::Transmit(bytes) => {
                    if let Some(c) = self.capture.as_mut() {
                        c.push((n, bytes.clone()));
                    }
                    for to in 0..self.hosts.len() {
                        if !self.lan.connected(n, to)
                            || (to != n && self.chance(self.lan.loss_permille))
                        {
                            continue;
                        }
                        let copies = if to != n && self.chance(self.lan.dup_permille) {
                            2
                        } else {
                            1
                        };
                        for _ in 0..copies {
                            let d = self.between(self.params.delay);
                            self.schedule(
                                self.now + d,
                                Event::Deliver {
                                    from: n,
                                    to,
                                    bytes: bytes.clone(),
                                    replay: false,
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
                Action::RememberPeers(table) => self.hosts[n].remembered(table),
                // The simulator's hosts do not reload their configuration.
                Action::PetWatchdog | Action::UseGroups(_) => {}
                Action::Fence { id, node } => {
                    let target = node
                        .strip_prefix("node")
                        .and_then(|k| k.parse::<usize>().ok())
                        .and_then(|k| k.checked_sub(1))
                        .filter(|&k| k < self.hosts.len());
                    let fence = self.params.fencing.unwrap_or_else(|| {
                        panic!("node{} fences without a simulated device", n + 1)
                    });
                    let hang = self.lan.fence == crate::lan::FenceMode::Hangs;
                    let d = if hang {
                        fence.timeout
                    } else {
                        self.between(fence.time)
                    };
                    let incarnation = self.hosts[n].incarnation;
                    self.note(|| format!("node{} fences {node} ({id})", n + 1));
                    self.schedule(
                        self.now + d,
                        Event::FenceDone {
                            node: n,
                            incarnation,
                            id,
                            target,
                            timed_out: hang,
                        },
                    );
                }
                Action::Ping(to) => {
                    if self.lan.reaches_ping(n) && !self.chance(self.lan.loss_permille) {
                        let d = self.between(self.params.delay) * 2;
                        let incarnation = self.hosts[n].incarnation;
                        self.schedule(
                            self.now + d,
                            Event::PingReply {
                                node: n,
                                incarnation,
                                from: to,
                            },
                        );
                    }
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
        if let Some(what) = invariants::no_message_storm::check(self.events, self.event_budget) {
            self.violation(what);
            self.queue.clear();
            return false;
        }
        // The core's log lines name the node whose event this is (`hb-sim -v`).
        let node = match &ev {
            Event::Deliver { to, .. } => *to,
            Event::Wake { node, .. }
            | Event::PingReply { node, .. }
            | Event::FenceDone { node, .. }
            | Event::Reboot { node, .. }
            | Event::AgentDone { node, .. } => *node,
        };
        let t = self.elapsed().as_secs_f64();
        let _span = tracing::info_span!("", t = format_args!("{t:.6}"), node = node + 1).entered();
        match ev {
            Event::Deliver {
                from,
                to,
                bytes,
                replay,
            } => {
                let host = &mut self.hosts[to];
                if let Some(core) = host.core.as_mut() {
                    let before = core.snapshot().counters;
                    core.handle_datagram(self.now, 0, &bytes);
                    let after = core.snapshot().counters;
                    if replay {
                        if let Some(what) = invariants::replay_dropped::check(to, before, after) {
                            self.violation(what);
                        }
                    } else if from != to && is_sequenced(&bytes) {
                        host.record(&bytes);
                    }
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
            Event::PingReply {
                node,
                incarnation,
                from,
            } => {
                let host = &mut self.hosts[node];
                // A reply still on the wire when the route was lost does not arrive.
                if host.incarnation == incarnation
                    && self.lan.reaches_ping(node)
                    && let Some(core) = host.core.as_mut()
                {
                    core.handle_ping_reply(self.now, from);
                    self.after_input(node);
                }
            }
            Event::FenceDone {
                node,
                incarnation,
                id,
                target,
                timed_out,
            } => {
                // An attempt whose daemon died (or whose host was reset) reports to nobody; the
                // device acts only on requests it still gets answered.
                if self.hosts[node].incarnation == incarnation && self.hosts[node].core.is_some() {
                    let result = match (timed_out, self.lan.fence, target) {
                        (true, _, _) => FenceResult::TimedOut,
                        (false, crate::lan::FenceMode::Works, Some(t)) => {
                            self.reset(t);
                            FenceResult::Ok
                        }
                        (false, crate::lan::FenceMode::Works, None) => FenceResult::BadHost,
                        (false, _, _) => FenceResult::Failed(Some(1)),
                    };
                    self.note(|| format!("node{} fence {id} -> {result}", node + 1));
                    if let Some(core) = self.hosts[node].core.as_mut() {
                        core.handle_fence_done(self.now, id, result);
                        self.after_input(node);
                    }
                }
            }
            Event::Reboot { node, reset } => {
                if self.hosts[node].resets == reset && self.hosts[node].core.is_none() {
                    self.note(|| format!("node{} boots after its reset", node + 1));
                    self.boot(node);
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
                let result = self.hosts[node].apply_agent((group, resource), op);
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
        self.view().holders(g)
    }

    /// How many resources are active on host `n`.
    pub fn hosts_active(&self, n: usize) -> usize {
        self.hosts[n].active.len()
    }

    /// Hosts on which every resource of group `g` is active.
    pub fn full_holders(&self, g: usize) -> Vec<usize> {
        self.view().full_holders(g)
    }

    /// Whether every group runs fully on exactly the given node.
    pub fn placement_is(&self, expected: &[usize]) -> bool {
        expected
            .iter()
            .enumerate()
            .all(|(g, &n)| self.holders(g) == [n] && self.full_holders(g) == [n])
    }

    /// What the invariants see now.
    fn view(&self) -> View<'_> {
        View {
            params: &self.params,
            now: self.now,
            hosts: &self.hosts,
            lan: &self.lan,
            last_fault: self.last_fault,
        }
    }

    /// Checks the invariants that hold after every event (docs/simulation.md, "Invariants";
    /// one file each under `src/invariants/`), in order: no hidden resources, at most one
    /// holder when connected, takeover liveness. Records each violation found.
    pub fn check(&mut self) {
        let mut invariants = std::mem::take(&mut self.invariants);
        let found = invariants.check(&self.view());
        self.invariants = invariants;
        for what in found {
            self.violation(what);
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

    /// Liveness after the last fault (docs/simulation.md, `src/invariants/converged.rs`):
    /// with the network whole and every daemon running (or some stopped), each group whose
    /// start can succeed somewhere runs fully on exactly one running host. Returns a
    /// description of what is wrong, if anything.
    pub fn converged(&self) -> Result<(), String> {
        invariants::converged::check(&self.view())
    }
}
