//! The legacy negotiation (`auto_failback legacy`, Heartbeat's default when the directive
//! is absent), spec §8.4(d)(e): a node asks for each of its own groups with `ip-request`;
//! whoever runs it releases it and answers `ip-request-resp ... ok=OK`. No `resource`
//! reports, except heartbeat-rs's report after a healed partition.

use hb_proto::Message;

use crate::Instant;
use crate::action::Class;
use crate::ctx::Ctx;
use crate::nodes::Nodes;
use crate::snapshot::NodeStatus;
use crate::wire;

use super::super::batch::{Step, Then};
use super::super::board::Board;
use super::super::groups::{GroupId, GroupSet};
use super::Policy;

/// Why standby and takeover are refused in this mode.
const NO_STANDBY: &str = "standby mode is only implemented with auto_failback on or off";

/// The legacy policy and its state.
#[derive(Debug, Default)]
pub(crate) struct Legacy {
    /// Groups we asked for with `ip-request`.
    asked: GroupSet,
    /// `ip-request`s that arrived before we could act.
    queued: Vec<String>,
}

impl Legacy {
    /// Grants ourselves a group as Heartbeat's `req_resource` does when it need not ask.
    fn self_grant(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, g: GroupId) {
        let key = b.groups[g].key.clone();
        let name = ctx.my_name().to_string();
        ctx.send(wire::ip_request_resp(&name, &key, true));
        b.groups.start(ctx, g, "our own group");
    }

    /// Peer dead or gone: run its groups and ours.
    fn take_everything(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let me = ctx.nodes.me();
        self.asked.clear();
        for g in b.groups.ids() {
            if b.groups[g].claims() {
                continue;
            }
            if b.groups[g].preferred == me {
                self.self_grant(b, ctx, g);
            } else {
                b.groups.start(ctx, g, "takeover (mach_down)");
            }
        }
    }

    /// The peer wants group `key`: release it if we run it, then answer (spec §8.4e).
    fn ip_request(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, key: &str) {
        let Some(g) = b.groups.by_key(key) else {
            tracing::warn!(
                "{} asked for unknown group {key:?}: haresources must be identical",
                b.peer_name(ctx.nodes)
            );
            return;
        };
        tracing::info!("{} asks for group {key}", b.peer_name(ctx.nodes));
        if b.groups[g].active() {
            let then = b.release(
                ctx,
                &GroupId::set([g]),
                "requested by its node",
                Then::Policy(Step::Reply { group: g }),
            );
            if then.is_some() {
                self.reply(b, ctx, g, true);
            }
        } else {
            self.reply(b, ctx, g, false);
        }
    }

    /// The peer granted itself one of its groups without asking (Heartbeat's `req_resource`
    /// does so when it counts no other active node, e.g. when our first packet after its
    /// restart was not a status message): it is starting the group now. If it runs here, we
    /// release it, or both would hold it for good (the legacy protocol has no later check).
    fn peer_granted_itself(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, msg: &Message) {
        if msg.str("ok") != Some("OK") || msg.str("weown") != Some("yes") || !b.deciding() {
            return;
        }
        let Some(g) = msg.str("ipaddr").and_then(|k| b.groups.by_key(k)) else {
            return;
        };
        let peer = b.peer_name(ctx.nodes);
        if b.peer.is_none_or(|p| b.groups[g].preferred != p) || !b.groups[g].active() {
            return;
        }
        tracing::warn!(
            "{peer} granted itself group {} without asking (it saw no other active node): \
             releasing it here so that only {peer} runs it",
            b.groups[g].key
        );
        self.asked.remove(&g);
        b.groups.stop(ctx, g, "taken by its node");
    }

    /// Answers the peer's `ip-request` for `g`; `weown` says whether we ran it.
    fn reply(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, g: GroupId, weown: bool) {
        let group = &b.groups[g];
        if group.claims() {
            tracing::error!(
                "group {}: could not be released; not answering the request",
                group.key
            );
            return;
        }
        let key = group.key.clone();
        let peer = b.peer_name(ctx.nodes);
        ctx.send(wire::ip_request_resp(&peer, &key, weown));
    }
}

impl Policy for Legacy {
    fn begin(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let me = ctx.nodes.me();
        let peer_active = b
            .peer
            .is_some_and(|p| ctx.nodes[p].status == NodeStatus::Active);
        if !b.peer_alive(ctx.nodes) {
            self.take_everything(b, ctx);
        } else {
            for g in b.groups.of_class(Class::Local, me) {
                if b.groups[g].claims() {
                    continue;
                }
                if peer_active {
                    let key = b.groups[g].key.clone();
                    self.asked.insert(g);
                    ctx.send(wire::ip_request(&key));
                } else {
                    // The only active node: no need to ask (HA_DONTASK).
                    self.self_grant(b, ctx, g);
                }
            }
        }
        for key in std::mem::take(&mut self.queued) {
            self.ip_request(b, ctx, &key);
        }
    }

    fn on_message(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, t: &str, msg: &Message) {
        match t {
            "ip-request" => {
                let Some(key) = msg.str("ipaddr") else { return };
                if b.deciding() {
                    self.ip_request(b, ctx, key);
                } else if b.shutdown.is_none() {
                    self.queued.push(key.to_string());
                } else {
                    // Shutting down: we are releasing everything anyway; answer once it is.
                    self.ip_request(b, ctx, key);
                }
            }
            "ip-request-resp" if msg.str("dest") != Some(ctx.my_name()) => {
                self.peer_granted_itself(b, ctx, msg);
            }
            "ip-request-resp" => {
                if msg.str("ok") != Some("OK") || !b.deciding() {
                    return;
                }
                let Some(g) = msg.str("ipaddr").and_then(|k| b.groups.by_key(k)) else {
                    return;
                };
                self.asked.remove(&g);
                b.groups.start(ctx, g, "granted by the peer");
            }
            "shutdone" => {
                tracing::info!(
                    "Received shutdown notice from '{}'.",
                    b.peer_name(ctx.nodes)
                );
                b.view.gone();
                if b.deciding() {
                    self.take_everything(b, ctx);
                }
            }
            "resource" => {
                // Only heartbeat-rs sends these in legacy mode (after a healed partition).
                b.absorb_report(ctx, msg, self.stable());
            }
            "ask_resources" | "hb_takeover" => {
                tracing::warn!("standby mode is only implemented when auto_failback is on or off");
            }
            _ => {}
        }
    }

    fn on_peer_dead(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if b.deciding() {
            self.take_everything(b, ctx);
        }
    }

    fn on_isolated(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {
        self.asked.clear();
    }

    fn on_peer_restart(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        if !b.deciding() {
            return;
        }
        for g in b.own_groups_to_restart(ctx) {
            self.self_grant(b, ctx, g);
        }
    }

    fn step(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, step: Step) {
        if let Step::Reply { group } = step {
            self.reply(b, ctx, group, true);
        }
    }

    fn stable(&self) -> bool {
        true
    }

    fn after_local_failure(&mut self, b: &mut Board, _ctx: &mut Ctx<'_>, g: GroupId) {
        tracing::warn!(
            "group {} failed here; with auto_failback legacy it moves only when this \
             node stops or an operator runs hb_standby",
            b.groups[g].key
        );
    }

    fn standby(
        &mut self,
        _b: &mut Board,
        _ctx: &mut Ctx<'_>,
        class: Class,
        why: &str,
    ) -> Result<(), String> {
        tracing::warn!("standby [{class}] ({why}) ignored: {NO_STANDBY}");
        Err(NO_STANDBY.to_string())
    }

    fn takeover(
        &mut self,
        _b: &mut Board,
        _ctx: &mut Ctx<'_>,
        _class: Class,
    ) -> Result<(), String> {
        Err("takeover is only implemented with auto_failback on or off".into())
    }

    fn on_shutdown(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}

    fn exchanging(&self) -> bool {
        false
    }

    fn rsc_class(&self, _b: &Board, _nodes: &Nodes) -> Option<Class> {
        // The legacy protocol has no notion of a class held: always `none`.
        Some(Class::None)
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn tick(&mut self, _b: &mut Board, _ctx: &mut Ctx<'_>) {}
}
