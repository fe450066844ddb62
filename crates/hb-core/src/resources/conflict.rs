//! A group held on both sides of a healed partition (heartbeat-rs peers only: their
//! reports carry each holding's acquisition epoch). Exactly one side keeps it, decided
//! alike on both: the earlier acquisition (lower epoch) wins; on a tie the group's
//! preferred node wins (docs/protocol.md, "Dual holding").

use std::collections::BTreeMap;

use crate::ctx::Ctx;

use super::batch::Then;
use super::board::Board;
use super::groups::GroupId;

impl Board {
    /// The peer's report shows it holds the groups of `theirs` (with their epochs): resolve
    /// those we hold too, now or once our side settles. `stable` is what our reports say.
    pub(crate) fn detect_conflicts(
        &mut self,
        ctx: &mut Ctx<'_>,
        theirs: &BTreeMap<GroupId, u64>,
        is_reply: bool,
        stable: bool,
    ) {
        self.pending_conflicts.retain(|g, _| theirs.contains_key(g));
        let dual: Vec<(GroupId, u64)> = theirs
            .iter()
            .filter(|(g, _)| self.groups[**g].claims())
            .map(|(g, e)| (*g, *e))
            .collect();
        if dual.is_empty() {
            return;
        }
        // Make sure the peer sees our epochs too, so both sides decide alike. A reply is
        // marked and never answered: two nodes that both keep a group (a stop failed) do not
        // answer each other's reports forever.
        if !is_reply {
            self.send_reply_report(ctx, stable);
        }
        for (g, epoch) in dual {
            let group = &self.groups[g];
            if group.settled() && group.is_running() {
                self.resolve_conflict(ctx, g, epoch, stable);
            } else if !group.is_failed() {
                self.pending_conflicts.insert(g, epoch);
            }
        }
    }

    /// Both we and the peer hold group `g`: keep it or release it.
    pub(crate) fn resolve_conflict(
        &mut self,
        ctx: &mut Ctx<'_>,
        g: GroupId,
        theirs: u64,
        stable: bool,
    ) {
        let group = &self.groups[g];
        let mine = group.epoch;
        let me_wins = if mine != theirs {
            mine < theirs
        } else {
            group.preferred == ctx.nodes.me()
        };
        let key = group.key.clone();
        let peer = self.peer_name(ctx.nodes);
        if me_wins {
            tracing::warn!(
                "group {key}: held here (epoch {mine}) and on {peer} (epoch {theirs}) after a partition: \
                 this node keeps it and re-announces it"
            );
            if self.groups[g].is_running() {
                self.groups.reannounce(ctx, g);
            }
        } else {
            tracing::warn!(
                "group {key}: held here (epoch {mine}) and on {peer} (epoch {theirs}) after a partition: \
                 {peer} keeps it; releasing it here"
            );
            self.groups
                .stop(ctx, g, "dual holding resolved for the peer");
            if let Some(then) = self.batch(GroupId::set([g]), Then::ConflictReleased) {
                self.conflict_released(ctx, then, stable);
            }
        }
    }

    /// A group that lost a dual holding is released: tell the peer.
    pub(crate) fn conflict_released(&mut self, ctx: &mut Ctx<'_>, then: Then, stable: bool) {
        debug_assert_eq!(then, Then::ConflictReleased);
        self.send_report(ctx, stable, None);
    }
}
