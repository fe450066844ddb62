//! A new `haresources` while the daemon runs (SIGHUP, `systemctl reload`), in two phases:
//!
//! 1. Each group is compared with the new file by key. A group whose key, preferred node and
//!    resources are unchanged is carried over untouched (no agent runs for it; new monitor
//!    rules apply to it at once). A group removed from the file, or changed, is *retiring*:
//!    if it is active here it is stopped with its old definition, and it is never started
//!    again.
//! 2. Once the retiring groups have stopped, the table is replaced: the carried-over groups
//!    keep their state under their new positions, the new and changed groups start out
//!    stopped, are probed (something may already run), and are then placed: with no peer
//!    alive they start here; with a heartbeat-rs peer alive, the peer's exact report is asked
//!    for and the orphan rule puts each group held by nobody on its preferred node (the peer
//!    does the same for its own, once its `haresources` has them: a group present on one side
//!    only is started by nobody until the other side has it too, or by the only side that
//!    has it when the peer is not its preferred node).
//!
//! Group changes wait for a quiet moment and are refused (applied at the next restart) when
//! one cannot be had safely: during the start-up probe, a shutdown, a standby exchange,
//! fencing, with `auto_failback legacy`, with a Heartbeat 3 peer alive (it reads
//! `haresources` only when it starts), while the previous change is still being applied, or
//! when a group to remove or change is unmanaged after a failed stop.

use std::collections::BTreeSet;

use crate::action::Action;
use crate::config::GroupConfig;
use crate::ctx::Ctx;

use super::Resources;
use super::batch::{Step, Then};
use super::group::Group;
use super::groups::{GroupId, GroupSet};

/// A group change being applied: the new table, and the keys of the groups carried over.
#[derive(Debug)]
pub(crate) struct Plan {
    groups: Vec<GroupConfig>,
    kept: BTreeSet<String>,
}

/// What a reload of `haresources` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupChanges {
    /// Groups that are new in the file.
    pub added: Vec<String>,
    /// Groups no longer in the file.
    pub removed: Vec<String>,
    /// Groups whose resources or preferred node changed.
    pub changed: Vec<String>,
    /// Groups whose monitor rules changed (applied in place).
    pub monitors: Vec<String>,
}

impl GroupChanges {
    /// Whether the table itself changes (groups added, removed, changed or reordered).
    fn structural(&self) -> bool {
        !(self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty())
    }
}

impl Resources {
    /// Applies a new list of groups (see the module documentation). Returns what changed
    /// and whether an [`Action::UseGroups`] is (or will be) queued, or why the group changes
    /// wait for the next restart (monitor rules are applied in any case).
    pub(crate) fn reload_groups(
        &mut self,
        ctx: &mut Ctx<'_>,
        new: &[GroupConfig],
    ) -> Result<(GroupChanges, bool), (GroupChanges, String)> {
        let nodes = ctx.nodes;
        let node = |i: usize| nodes.id(i).unwrap_or(nodes.me());
        let mut changes = GroupChanges::default();
        let mut kept = BTreeSet::new();
        let mut retiring = GroupSet::new();
        for (g, group) in self.b.groups.iter() {
            match new.iter().find(|c| c.key == group.key) {
                Some(c) if group.same_definition(c, node(c.preferred)) => {
                    kept.insert(group.key.clone());
                }
                Some(_) => {
                    changes.changed.push(group.key.clone());
                    retiring.insert(g);
                }
                None => {
                    changes.removed.push(group.key.clone());
                    retiring.insert(g);
                }
            }
        }
        for c in new {
            if self.b.groups.by_key(&c.key).is_none() {
                changes.added.push(c.key.clone());
            }
        }
        // Monitor rules of the groups carried over apply at once, whatever happens next.
        for c in new.iter().filter(|c| kept.contains(&c.key)) {
            if let Some(g) = self.b.groups.by_key(&c.key)
                && self.b.groups[g].set_monitors(c, ctx.now)
            {
                changes.monitors.push(c.key.clone());
                tracing::info!("group {}: monitor rules changed (applied now)", c.key);
            }
        }
        let order_same = new.len() == self.b.groups.iter().count()
            && new
                .iter()
                .zip(self.b.groups.iter())
                .all(|(c, (_, g))| c.key == g.key);
        if !changes.structural() && order_same {
            let use_groups = !changes.monitors.is_empty();
            if use_groups {
                ctx.out.push(Action::UseGroups(new.to_vec()));
            }
            return Ok((changes, use_groups));
        }
        if let Err(why) = self.can_change_groups(ctx, &retiring) {
            return Err((changes, why));
        }
        for &g in &retiring {
            let group = &mut self.b.groups[g];
            group.retiring = true;
            let what = if changes.removed.contains(&group.key) {
                "removed from haresources"
            } else {
                "changed in haresources"
            };
            if group.active() {
                tracing::info!(
                    "group {}: {what}: stopping it here (its old definition)",
                    group.key
                );
                self.b.groups.stop(ctx, g, what);
            } else {
                tracing::info!("group {}: {what} (not running here)", group.key);
            }
        }
        self.b.reload = Some(Plan {
            groups: new.to_vec(),
            kept,
        });
        if self.b.batch(retiring, Then::Reload).is_some() {
            self.reload_swap(ctx);
        }
        Ok((changes, true))
    }

    /// Why the group table cannot change now, if it cannot.
    fn can_change_groups(&self, ctx: &Ctx<'_>, retiring: &GroupSet) -> Result<(), String> {
        let peer = self.b.peer_name(ctx.nodes);
        if self.b.reload.is_some() {
            return Err("the previous change of haresources is still being applied".into());
        }
        if !ctx.cfg.auto_failback.is_nice() {
            return Err("auto_failback legacy has no exact holdings to place groups by".into());
        }
        if self.b.shutdown.is_some() {
            return Err("a shutdown is in progress".into());
        }
        if !self.b.probe_done {
            return Err("the start-up probe is still running".into());
        }
        if self.policy.exchanging() {
            return Err("a standby exchange is in progress".into());
        }
        if self.fence.blocks() {
            return Err(format!("fencing of {peer} is in progress"));
        }
        if self.b.peer_alive(ctx.nodes) && !self.b.peer_is_hbrs(ctx.nodes) {
            return Err(format!(
                "{peer} runs Heartbeat 3, which reads haresources only when it starts"
            ));
        }
        if let Some(&g) = retiring.iter().find(|&&g| self.b.groups[g].is_failed()) {
            return Err(format!(
                "group {} is unmanaged after a failed stop (hb_cleanup it first)",
                self.b.groups[g].key
            ));
        }
        Ok(())
    }

    /// The retiring groups are stopped: replace the table, probe the new groups.
    pub(super) fn reload_swap(&mut self, ctx: &mut Ctx<'_>) {
        let Some(plan) = self.b.reload.take() else {
            return;
        };
        for (_, group) in self
            .b
            .groups
            .iter()
            .filter(|(_, g)| g.retiring && g.is_failed())
        {
            tracing::error!(
                "group {}: its stop failed while it left haresources: its resources may still \
                 run here, unmanaged; stop them by hand",
                group.key
            );
        }
        let nodes = ctx.nodes;
        let node = |i: usize| nodes.id(i).unwrap_or(nodes.me());
        let old_ids: Vec<(String, GroupId)> = self
            .b
            .groups
            .iter()
            .map(|(g, group)| (group.key.clone(), g))
            .collect();
        let map = self.b.groups.replace(|take| {
            plan.groups
                .iter()
                .map(|c| {
                    let from = plan
                        .kept
                        .contains(&c.key)
                        .then(|| old_ids.iter().find(|(k, _)| k == &c.key).map(|(_, g)| *g))
                        .flatten();
                    match from.and_then(&mut *take) {
                        Some(group) => (from, group),
                        None => (
                            None,
                            Group::new(c, node(c.preferred), c.fingerprint(&ctx.cfg.nodes)),
                        ),
                    }
                })
                .collect()
        });
        self.b.remap(&map);
        self.b.reloaded = true;
        self.b.await_report = true;
        ctx.out.push(Action::UseGroups(plan.groups.clone()));
        let fresh: GroupSet = self
            .b
            .groups
            .iter()
            .filter(|(_, g)| !plan.kept.contains(&g.key))
            .map(|(g, _)| g)
            .collect();
        if fresh.is_empty() {
            tracing::info!("haresources reloaded: {} groups", plan.groups.len());
        } else {
            tracing::info!(
                "haresources reloaded: {} groups ({} new or changed, probing them)",
                plan.groups.len(),
                fresh.len()
            );
        }
        for &g in &fresh {
            let group = &self.b.groups[g];
            tracing::info!(
                "group {}: runs on its preferred node {} when both nodes have it, else on the \
                 node that has it",
                group.key,
                ctx.nodes[group.preferred].name
            );
        }
        for &g in &fresh {
            self.b.groups.probe(ctx, g);
        }
        if let Some(then) = self.b.batch(fresh, Then::ReloadProbed) {
            self.run_then(ctx, then);
        }
    }

    /// The new groups are probed: place them (see the module documentation).
    pub(super) fn reload_place(&mut self, ctx: &mut Ctx<'_>) {
        if !self.b.deciding() || self.b.isolated || self.b.takeover_deferred {
            return;
        }
        if self.b.peer_alive(ctx.nodes) {
            let peer = self.b.peer_name(ctx.nodes);
            for g in self.b.groups.ids() {
                if !self.b.agreed(g) && !self.b.groups[g].claims() {
                    tracing::info!(
                        "group {}: {peer}'s haresources gives it another node: it starts once \
                         both nodes agree",
                        self.b.groups[g].key
                    );
                }
            }
            // What the peer holds of the new groups is not known: tell it what we hold and
            // ask; once its answer is in, the orphan rule places what nobody holds.
            self.b
                .send_asking_report(ctx, self.policy.stable(), self.policy.giving());
        } else if !self.fence.blocks() {
            self.b.await_report = false;
            let free = self
                .b
                .groups
                .filter(|g| !g.claims() && !g.failed_here && !g.is_failed() && !g.retiring);
            if free.is_empty() {
                self.b.send_report(ctx, self.policy.stable(), None);
                return;
            }
            let then = self.b.acquire(
                ctx,
                &free,
                "in haresources now, no peer up",
                Then::Policy(Step::Acquired { mach_down: false }),
            );
            if let Some(then) = then {
                self.run_then(ctx, then);
            }
        }
    }
}
