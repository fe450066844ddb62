//! The negotiation policies of Heartbeat's haresources protocol, chosen once from
//! `auto_failback` when the core is built:
//!
//! - [`Nice`] (`auto_failback on|off`, spec §8.3-§8.8): `starting`, `resource` reports,
//!   local acquisition, the three-phase `ask_resources` standby exchange, auto-failback;
//! - [`Legacy`] (`auto_failback legacy`, Heartbeat's default, spec §8.4(d)(e)):
//!   `ip-request` / `ip-request-resp`, no reports.
//!
//! A policy owns its own state and acts on the shared [`Board`]; everything that does not
//! depend on the policy is in [`super::Resources`].

mod legacy;
mod nice;
mod standby;

use std::fmt::Debug;

use hb_proto::Message;

use crate::Instant;
use crate::action::Class;
use crate::config::AutoFailback;
use crate::ctx::Ctx;
use crate::nodes::Nodes;

use super::batch::Step;
use super::board::Board;
use super::groups::GroupId;

pub(crate) use legacy::Legacy;
pub(crate) use nice::Nice;

/// What differs between the negotiation protocols.
pub(crate) trait Policy: Debug {
    /// This node is active and probed: negotiation begins.
    fn begin(&mut self, b: &mut Board, ctx: &mut Ctx<'_>);

    /// A resource message from the peer (`t` is its type).
    fn on_message(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, t: &str, msg: &Message);

    /// The peer was declared dead (the board already forgot what it held).
    fn on_peer_dead(&mut self, b: &mut Board, ctx: &mut Ctx<'_>);

    /// The peer restarted (the board already forgot what it held): our groups that do not
    /// run here must run here again.
    fn on_peer_restart(&mut self, b: &mut Board, ctx: &mut Ctx<'_>);

    /// A continuation this policy asked for.
    fn step(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, step: Step);

    /// The peer came back from a partition (same generation).
    fn on_peer_returned(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}

    /// This node is cut off and is releasing every group: forget pending exchanges and what
    /// was taken over.
    fn on_isolated(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}

    /// The peer is heard again after this node was isolated: close what the isolation left
    /// open on the peer's side.
    fn on_rejoined(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}

    /// The peer asked for our report after an isolation or a partition: messages of ours it
    /// may have lost that still matter are sent again; with `giving_over` (it says it gives
    /// nothing away any more) a standby we accepted from it is over.
    fn on_report_asked(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>, _giving_over: bool) {}

    /// A standby exchange in which this node gives groups away is going on.
    fn giving(&self) -> bool {
        false
    }

    /// Every group is settled again (no agent running or queued): what waited for that may
    /// go on (Heartbeat retries a delayed auto-failback every second; we retry at once).
    fn on_settled(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}

    /// `auto_failback` switched between `on` and `off` (a reload); false if this policy
    /// cannot (legacy).
    fn set_failback(&mut self, _on: bool) -> bool {
        false
    }

    /// Whether our `resource` reports say we are stable.
    fn stable(&self) -> bool;

    /// Group `g` failed here and is stopped; the peer is alive. Offer it, or say why not.
    fn after_local_failure(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, g: GroupId);

    /// `hb_standby CLASS`: give the groups of `class` (our view) to the peer.
    fn standby(
        &mut self,
        b: &mut Board,
        ctx: &mut Ctx<'_>,
        class: Class,
        why: &str,
    ) -> Result<(), String>;

    /// `hb_takeover CLASS` with the peer alive: ask it to give us `class` (our view).
    fn takeover(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, class: Class) -> Result<(), String>;

    /// A graceful shutdown begins (before the groups are stopped).
    fn on_shutdown(&mut self, b: &mut Board, ctx: &mut Ctx<'_>);

    /// A standby exchange is in progress.
    fn exchanging(&self) -> bool;

    /// Heartbeat's `rscstatus`: the class this node holds, `None` in transition.
    fn rsc_class(&self, b: &Board, nodes: &Nodes) -> Option<Class>;

    /// The policy's next deadline.
    fn deadline(&self) -> Option<Instant>;

    /// The clock reached (or passed) the deadline.
    fn tick(&mut self, b: &mut Board, ctx: &mut Ctx<'_>);
}

/// The policy for `auto_failback`.
pub(crate) fn for_mode(mode: AutoFailback) -> Box<dyn Policy> {
    match mode {
        AutoFailback::On => Box::new(Nice::new(true)),
        AutoFailback::Off => Box::new(Nice::new(false)),
        AutoFailback::Legacy => Box::new(Legacy::default()),
    }
}
