//! The groups of `haresources`, by [`GroupId`], and the agent runs they have out: issuing
//! each run as an action and routing its result back to its group.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Index, IndexMut};

use crate::Instant;
use crate::action::{AgentResult, Class, OpId};
use crate::config::CoreConfig;
use crate::ctx::Ctx;
use crate::membership::NodeId;

use super::group::Group;
use super::job::{OpIds, Run};

/// A group, by its position in `haresources`. Only [`Groups`] makes them, so one is always
/// a valid index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct GroupId(usize);

impl GroupId {
    /// A set of the given groups.
    pub(crate) fn set<const N: usize>(groups: [GroupId; N]) -> GroupSet {
        GroupSet::from(groups)
    }
}

/// A set of groups.
pub(crate) type GroupSet = BTreeSet<GroupId>;

/// Who an agent run belongs to.
#[derive(Clone, Copy, Debug)]
enum Owner {
    /// A step of the group's job.
    Job(GroupId),
    /// A monitor of one resource.
    Monitor(GroupId, usize),
}

/// Every group and the agent runs in flight.
#[derive(Debug)]
pub(crate) struct Groups {
    list: Vec<Group>,
    ids: OpIds,
    runs: BTreeMap<OpId, Owner>,
    /// Runs of groups a reload removed: their late results are expected and ignored.
    retired_runs: BTreeSet<OpId>,
}

impl Index<GroupId> for Groups {
    type Output = Group;
    #[allow(clippy::indexing_slicing)] // a GroupId is made by this type, in range
    fn index(&self, g: GroupId) -> &Group {
        &self.list[g.0]
    }
}

impl IndexMut<GroupId> for Groups {
    #[allow(clippy::indexing_slicing)] // a GroupId is made by this type, in range
    fn index_mut(&mut self, g: GroupId) -> &mut Group {
        &mut self.list[g.0]
    }
}

impl Groups {
    pub(crate) fn new(cfg: &CoreConfig, node: impl Fn(usize) -> NodeId) -> Groups {
        Groups {
            list: cfg
                .groups
                .iter()
                .map(|g| Group::new(g, node(g.preferred), g.fingerprint(&cfg.nodes)))
                .collect(),
            ids: OpIds::default(),
            runs: BTreeMap::new(),
            retired_runs: BTreeSet::new(),
        }
    }

    /// A reload replaces the table: the groups in their new order, built by `make` from the
    /// old ones (`take(old id)` hands over a group carried over). Returns the old-to-new
    /// map of the groups carried over; runs of the others are forgotten.
    pub(crate) fn replace(
        &mut self,
        make: impl FnOnce(&mut dyn FnMut(GroupId) -> Option<Group>) -> Vec<(Option<GroupId>, Group)>,
    ) -> BTreeMap<GroupId, GroupId> {
        let mut old: Vec<Option<Group>> = std::mem::take(&mut self.list)
            .into_iter()
            .map(Some)
            .collect();
        let made = make(&mut |g: GroupId| old.get_mut(g.0).and_then(Option::take));
        let mut map = BTreeMap::new();
        for (i, (from, group)) in made.into_iter().enumerate() {
            if let Some(from) = from {
                map.insert(from, GroupId(i));
            }
            self.list.push(group);
        }
        let runs = std::mem::take(&mut self.runs);
        for (id, owner) in runs {
            let moved = match owner {
                Owner::Job(g) => map.get(&g).map(|&n| Owner::Job(n)),
                Owner::Monitor(g, r) => map.get(&g).map(|&n| Owner::Monitor(n, r)),
            };
            match moved {
                Some(o) => {
                    self.runs.insert(id, o);
                }
                None => {
                    self.retired_runs.insert(id);
                }
            }
        }
        map
    }

    /// Every group, in haresources order.
    pub(crate) fn ids(&self) -> impl DoubleEndedIterator<Item = GroupId> + use<> {
        (0..self.list.len()).map(GroupId)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (GroupId, &Group)> {
        self.list.iter().enumerate().map(|(i, g)| (GroupId(i), g))
    }

    pub(crate) fn all(&self) -> GroupSet {
        self.ids().collect()
    }

    /// A group by its index (from the shell).
    pub(crate) fn id(&self, index: usize) -> Option<GroupId> {
        (index < self.list.len()).then_some(GroupId(index))
    }

    pub(crate) fn by_key(&self, key: &str) -> Option<GroupId> {
        self.list.iter().position(|g| g.key == key).map(GroupId)
    }

    /// The groups that match `f`.
    pub(crate) fn filter(&self, f: impl Fn(&Group) -> bool) -> GroupSet {
        self.iter()
            .filter(|(_, g)| f(g))
            .map(|(id, _)| id)
            .collect()
    }

    /// Groups whose resources may be active here.
    pub(crate) fn claimed(&self) -> GroupSet {
        self.filter(Group::claims)
    }

    /// Groups of `class` from node `node`'s point of view.
    pub(crate) fn of_class(&self, class: Class, node: NodeId) -> GroupSet {
        self.filter(|g| {
            let local = g.preferred == node;
            (local && class.has_local()) || (!local && class.has_foreign())
        })
    }

    /// The class a set of groups forms from node `node`'s point of view.
    pub(crate) fn class_of(&self, set: &GroupSet, node: NodeId) -> Class {
        let local = set.iter().any(|&g| self[g].preferred == node);
        let foreign = set.iter().any(|&g| self[g].preferred != node);
        Class::from_parts(local, foreign)
    }

    /// No group has a job running or a request queued.
    pub(crate) fn all_settled(&self) -> bool {
        self.list.iter().all(Group::settled)
    }

    // ----- operations -----

    /// A group and the run-id allocator, borrowed together.
    #[allow(clippy::indexing_slicing)] // a GroupId is made by this type, in range
    fn with_ids(&mut self, g: GroupId) -> (&mut Group, &mut OpIds) {
        (&mut self.list[g.0], &mut self.ids)
    }

    fn issue(&mut self, ctx: &mut Ctx<'_>, g: GroupId, run: Option<Run>) {
        if let Some(run) = run {
            self.runs.insert(run.id, Owner::Job(g));
            ctx.run_agent(run.id, g.0, run.resource, run.op);
        }
    }

    pub(crate) fn probe(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        let (group, ids) = self.with_ids(g);
        let run = group.probe(ctx.now, ids);
        self.issue(ctx, g, run);
    }

    /// Starts group `g` (or queues the start). Returns false if it cannot be started here.
    pub(crate) fn start(&mut self, ctx: &mut Ctx<'_>, g: GroupId, why: &str) -> bool {
        let (ok, run) = {
            let (group, ids) = self.with_ids(g);
            group.start(ctx.now, why, ids)
        };
        self.issue(ctx, g, run);
        ok
    }

    /// Stops group `g` (or queues the stop).
    pub(crate) fn stop(&mut self, ctx: &mut Ctx<'_>, g: GroupId, why: &str) {
        let run = {
            let (group, ids) = self.with_ids(g);
            group.stop(ctx.now, why, ids)
        };
        self.issue(ctx, g, run);
    }

    /// Runs `start` again on every resource of a running group.
    pub(crate) fn reannounce(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        let run = {
            let (group, ids) = self.with_ids(g);
            group.reannounce(ctx.now, ids)
        };
        self.issue(ctx, g, run);
    }

    /// An operator cleared the failures of a group left unmanaged: probe it again.
    pub(crate) fn reprobe(&mut self, ctx: &mut Ctx<'_>, g: GroupId) {
        let run = {
            let (group, ids) = self.with_ids(g);
            group.reprobe(ctx.now, ids)
        };
        self.issue(ctx, g, run);
    }

    /// An agent run finished. Returns the group whose job step it was, if that group has
    /// now settled (no job, nothing queued).
    pub(crate) fn agent_done(
        &mut self,
        ctx: &mut Ctx<'_>,
        id: OpId,
        result: AgentResult,
    ) -> Option<GroupId> {
        let Some(owner) = self.runs.remove(&id) else {
            if !self.retired_runs.remove(&id) {
                tracing::warn!("result for unknown agent run {id} ignored");
            }
            return None;
        };
        match owner {
            Owner::Monitor(g, r) => {
                let run = {
                    let (group, ids) = self.with_ids(g);
                    group.monitor_done(ctx.now, r, id, result, ids)
                };
                self.issue(ctx, g, run);
                // A group stopped for its restart limit settles when the stop ends.
                None
            }
            Owner::Job(g) => {
                let run = {
                    let (group, ids) = self.with_ids(g);
                    group.agent_done(ctx.now, id, result, ids)
                };
                self.issue(ctx, g, run);
                self[g].settled().then_some(g)
            }
        }
    }

    // ----- monitoring -----

    /// The earliest monitor due.
    pub(crate) fn monitor_deadline(&self) -> Option<Instant> {
        self.list.iter().filter_map(Group::monitor_deadline).min()
    }

    /// Starts every monitor that is due.
    pub(crate) fn monitor_tick(&mut self, ctx: &mut Ctx<'_>) {
        for (i, group) in self.list.iter_mut().enumerate() {
            for run in group.due_monitors(ctx.now, &mut self.ids) {
                self.runs
                    .insert(run.id, Owner::Monitor(GroupId(i), run.resource));
                ctx.run_agent(run.id, i, run.resource, run.op);
            }
        }
    }
}
