//! What the schedule does to the cluster: network faults, daemon crashes, restarts and
//! graceful stops, operator commands, agent failures and dying applications. Each is a fault:
//! it is traced and restarts the clocks of the invariants that wait for calm.

use hb_core::{AgentOp, Command, Instant};

use super::{Event, Sim};

impl Sim {
    fn fault(&mut self, what: String) {
        self.note(|| format!("FAULT {what}"));
        self.last_fault = self.now;
    }

    /// Cuts node `n` off the LAN (both directions).
    pub fn cut(&mut self, n: usize) {
        self.lan.cut.insert(n);
        self.fault(format!("cut node{}", n + 1));
    }

    /// Pulls node `n`'s cable: cut off the LAN as [`Sim::cut`], and its daemon sees its
    /// heartbeat interface lose carrier.
    pub fn pull_cable(&mut self, n: usize) {
        self.lan.cut.insert(n);
        self.lan.no_carrier.insert(n);
        self.fault(format!("cable of node{} pulled", n + 1));
        self.report_carrier(n);
    }

    /// Reconnects node `n` (and plugs its cable back).
    pub fn heal(&mut self, n: usize) {
        self.lan.cut.remove(&n);
        let plugged = self.lan.no_carrier.remove(&n);
        self.fault(format!("heal node{}", n + 1));
        if plugged {
            self.report_carrier(n);
        }
    }

    /// Tells node `n`'s daemon, if it runs, whether its interface has carrier (as the shell
    /// does when it changes).
    pub(crate) fn report_carrier(&mut self, n: usize) {
        let lost = self.lan.no_carrier.contains(&n);
        if let Some(core) = self.hosts[n].core.as_mut() {
            core.handle_carrier(self.now, lost);
            self.after_input(n);
        }
    }

    /// Node `n` loses its route to the ping node (nothing else).
    pub fn lose_ping(&mut self, n: usize) {
        self.lan.ping_lost.insert(n);
        self.fault(format!("node{} loses the ping node", n + 1));
    }

    /// Node `n` reaches the ping node again.
    pub fn restore_ping(&mut self, n: usize) {
        self.lan.ping_lost.remove(&n);
        self.fault(format!("node{} reaches the ping node again", n + 1));
    }

    /// Drops everything `from` sends to `to`.
    pub fn block(&mut self, from: usize, to: usize) {
        self.lan.blocked.insert((from, to));
        self.fault(format!("block node{} -> node{}", from + 1, to + 1));
    }

    /// Removes every one-way block.
    pub fn unblock_all(&mut self) {
        self.lan.blocked.clear();
        self.fault("unblock all".into());
    }

    /// Sets datagram loss and duplication rates (per mille).
    pub fn set_loss(&mut self, loss_permille: u32, dup_permille: u32) {
        self.lan.loss_permille = loss_permille;
        self.lan.dup_permille = dup_permille;
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
                let result = self.hosts[n].apply_agent((group, resource), op);
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
        self.hosts[n].keep_replayable();
        self.fault(format!("crash node{}", n + 1));
    }

    /// A fencing device reset host `n`: its daemon, its agents and every resource on it are
    /// gone at once (a power cycle); it boots its daemon again after
    /// [`FenceParams::reboot`](crate::FenceParams::reboot). Not a fault of the schedule: the
    /// cluster asked for it.
    pub(crate) fn reset(&mut self, n: usize) {
        let incarnation = self.hosts[n].incarnation;
        self.queue.retain(|_, ev| {
            !matches!(ev, Event::AgentDone { node, incarnation: i, .. } if *node == n && *i == incarnation)
        });
        let host = &mut self.hosts[n];
        if host.core.is_some() {
            host.keep_replayable();
        }
        host.core = None;
        host.wake_at = None;
        host.active.clear();
        host.resets += 1;
        // Its incarnation changes now, so that its fencing attempts in flight report to nobody.
        host.incarnation += 1;
        let reset = host.resets;
        let reboot = self
            .params
            .fencing
            .map_or(self.params.deadtime, |f| f.reboot);
        self.note(|| format!("RESET node{} by fencing", n + 1));
        self.schedule(self.now + reboot, Event::Reboot { node: n, reset });
    }

    /// How the fencing device answers from now on.
    pub fn set_fence_device(&mut self, mode: crate::FenceMode) {
        self.lan.fence = mode;
        self.fault(format!("fencing device {mode:?}"));
    }

    /// Starts node `n`'s daemon again (new generation). Does nothing if it runs.
    pub fn restart(&mut self, n: usize) {
        if self.hosts[n].core.is_none() {
            self.fault(format!("restart node{}", n + 1));
            self.boot(n);
        }
    }

    /// An attacker replays to node `n` every sequenced datagram of another node that `n`'s
    /// daemon received before it last wrote its table of peers and then crashed (a
    /// recording), one every 10 µs (no random draw, so the rest of a schedule is unchanged).
    /// Each must be dropped (invariant 5, `invariants/replay_dropped.rs`).
    pub fn replay_recorded(&mut self, n: usize) {
        let recorded = std::mem::take(&mut self.hosts[n].replayable);
        if recorded.is_empty() {
            return;
        }
        self.note(|| {
            format!(
                "REPLAY {} recorded datagrams to node{}",
                recorded.len(),
                n + 1
            )
        });
        let mut at = self.now;
        for bytes in recorded {
            at = at + std::time::Duration::from_micros(10);
            let from = n;
            self.schedule(
                at,
                Event::Deliver {
                    from,
                    to: n,
                    bytes,
                    replay: true,
                },
            );
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

    /// The operator edits node `n`'s `haresources` to `groups` (as in
    /// [`crate::Params::groups`]; groups are only added or removed at the end, or changed, so
    /// that the indexes of the others stay) and reloads its daemon (SIGHUP). When the daemon
    /// keeps the group change for its next restart, the operator restarts it gracefully (its
    /// groups stop with their old definitions, as `systemctl restart` does). Once every node
    /// has the new file, call [`Sim::agree`].
    pub fn reload(&mut self, n: usize, groups: Vec<(usize, usize)>) {
        self.fault(format!("reload node{} with groups {groups:?}", n + 1));
        let cfg = self.params.core_config_with(n, &groups);
        self.hosts[n].groups = Some(groups);
        let Some(core) = self.hosts[n].core.as_mut() else {
            return;
        };
        let done = core
            .reconfigure(self.now, cfg)
            .unwrap_or_else(|e| panic!("simulated config must be valid: {e}"));
        self.after_input(n);
        if done.groups_deferred {
            self.note(|| format!("node{} defers the group change: {:?}", n + 1, done.deferred));
            self.restart_gracefully(n);
        }
    }

    /// Graceful stop of node `n`, then a start once the daemon has exited (bounded by the
    /// settle bound; a stop that cannot finish is left running).
    pub fn restart_gracefully(&mut self, n: usize) {
        self.shutdown(n);
        let step = self.params.keepalive;
        let mut waited = std::time::Duration::ZERO;
        while self.hosts[n].core.is_some() && waited < self.params.settle_bound() {
            self.run_for(step);
            waited += step;
        }
        self.restart(n);
    }

    /// Every node has reloaded `groups`: the invariants judge them from now on.
    pub fn agree(&mut self, groups: Vec<(usize, usize)>) {
        for h in &mut self.hosts {
            h.groups = None;
        }
        self.params.groups = groups;
        self.fault("every node has the new haresources".into());
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
}
