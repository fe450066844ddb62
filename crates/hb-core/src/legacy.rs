//! The legacy negotiation (`auto_failback legacy`, Heartbeat's default when the directive
//! is absent), spec §8.4(d)(e): a node asks for each of its own groups with `ip-request`;
//! whoever runs it releases it and answers `ip-request-resp ... ok=OK`. No `resource`
//! reports, except heartbeat-rs's report after a healed partition.

use std::collections::BTreeSet;

use hb_proto::Message;

use crate::action::Class;
use crate::res::Then;
use crate::wire;
use crate::{Core, Instant};

impl Core {
    pub(crate) fn legacy_begin(&mut self, now: Instant) {
        let me = self.me();
        let peer_active = self
            .res
            .peer
            .is_some_and(|p| self.nodes[p].status == crate::NodeStatus::Active);
        if !self.peer_alive() {
            self.legacy_takeover(now);
        } else {
            for g in self.class_groups(Class::Local, me) {
                if self.res.groups[g].claims() {
                    continue;
                }
                if peer_active {
                    let key = self.cfg.groups[g].key.clone();
                    self.res.legacy_asked.insert(g);
                    self.send(now, wire::ip_request(&key));
                } else {
                    // The only active node: no need to ask (HA_DONTASK).
                    self.legacy_self_grant(now, g);
                }
            }
        }
        for key in std::mem::take(&mut self.res.legacy_queued) {
            self.legacy_ip_request(now, &key);
        }
    }

    /// Grants ourselves a group as Heartbeat's `req_resource` does when it need not ask.
    pub(crate) fn legacy_self_grant(&mut self, now: Instant, g: usize) {
        let key = self.cfg.groups[g].key.clone();
        let name = self.node_name().to_string();
        self.send(now, wire::ip_request_resp(&name, &key, true));
        self.group_start(g, "our own group");
    }

    /// Peer dead or gone: run its groups and ours.
    pub(crate) fn legacy_takeover(&mut self, now: Instant) {
        let me = self.me();
        self.res.legacy_asked.clear();
        for g in 0..self.cfg.groups.len() {
            if self.res.groups[g].claims() {
                continue;
            }
            if self.cfg.groups[g].preferred == me {
                self.legacy_self_grant(now, g);
            } else {
                self.group_start(g, "takeover (mach_down)");
            }
        }
    }

    pub(crate) fn legacy_message(&mut self, now: Instant, t: &str, msg: &Message) {
        match t {
            "ip-request" => {
                let Some(key) = msg.str("ipaddr") else { return };
                if self.res.negotiating && self.res.shutdown.is_none() {
                    self.legacy_ip_request(now, key);
                } else if self.res.shutdown.is_none() {
                    self.res.legacy_queued.push(key.to_string());
                } else {
                    // Shutting down: we are releasing everything anyway; answer once it is.
                    self.legacy_ip_request(now, key);
                }
            }
            "ip-request-resp" => {
                if msg.str("ok") != Some("OK")
                    || !self.res.negotiating
                    || self.res.shutdown.is_some()
                {
                    return;
                }
                let Some(g) = msg.str("ipaddr").and_then(|k| self.group_by_key(k)) else {
                    return;
                };
                self.res.legacy_asked.remove(&g);
                self.group_start(g, "granted by the peer");
            }
            "shutdone" => {
                tracing::info!("received shutdown notice from {}", self.peer_name());
                self.res.view.left = true;
                self.res.view.holds.clear();
                if self.res.negotiating && self.res.shutdown.is_none() {
                    self.legacy_takeover(now);
                }
            }
            "resource" => {
                // Only heartbeat-rs sends these in legacy mode (after a healed partition).
                self.absorb_report(now, msg);
            }
            "ask_resources" | "hb_takeover" => {
                tracing::warn!("standby mode is only implemented when auto_failback is on or off");
            }
            _ => {}
        }
    }

    /// The peer wants group `key`: release it if we run it, then answer (spec §8.4e).
    fn legacy_ip_request(&mut self, now: Instant, key: &str) {
        let Some(g) = self.group_by_key(key) else {
            tracing::warn!(
                "{} asked for unknown group {key:?}: haresources must be identical",
                self.peer_name()
            );
            return;
        };
        tracing::info!("{} asks for group {key}", self.peer_name());
        if self.res.groups[g].active() {
            self.release(
                now,
                &BTreeSet::from([g]),
                "requested by its node",
                Then::LegacyReply { group: g },
            );
        } else {
            self.legacy_reply(now, g, false);
        }
    }

    /// Answers the peer's `ip-request` for `g`; `weown` says whether we ran it.
    pub(crate) fn legacy_reply(&mut self, now: Instant, g: usize, weown: bool) {
        if self.res.groups[g].claims() {
            tracing::error!(
                "group {}: could not be released; not answering the request",
                self.cfg.groups[g].key
            );
            return;
        }
        let key = self.cfg.groups[g].key.clone();
        let peer = self.peer_name();
        self.send(now, wire::ip_request_resp(&peer, &key, weown));
    }
}
