//! Receiving: authentication, identification of the sender, generation and sequence checks,
//! acknowledgements and retransmission requests, then dispatch by message type
//! (spec §2.4, §3, §5, §7).

use std::time::Duration;

use hb_proto::{Message, RejectKind};
use rand_core::RngCore;

use crate::ctx::Ctx;
use crate::nodes::{MAX_MISSING, NodeId, SeqVerdict};
use crate::wire::{self, parse_hex};
use crate::{Core, Instant};

/// Lower bound of the random delay before the first retransmission request.
const MIN_REXMIT_DELAY: Duration = Duration::from_millis(50);

/// The sequence fields of a message that passed the generation check.
struct Sequenced {
    seq: u64,
}

impl Core {
    /// A datagram arrived on heartbeat link `link` (an index into [`crate::CoreConfig::links`]).
    ///
    /// Malformed, unauthenticated, unknown-node, replayed and duplicate datagrams are counted,
    /// logged at a limited rate, and never change membership.
    pub fn handle_datagram(&mut self, now: Instant, link: usize, datagram: &[u8]) {
        let now = self.advance(now);
        self.receive(now, link, datagram);
        self.flush_status(now);
    }

    fn receive(&mut self, now: Instant, link: usize, datagram: &[u8]) {
        let Some(msg) = self.authenticate(now, datagram) else {
            return;
        };
        let Some((from, t)) = self.sender(now, &msg) else {
            return;
        };
        if let Some(kind) = t.strip_prefix("NS_") {
            self.refresh_link(now, from, link);
            self.counters.accepted += 1;
            return self.receive_ns(now, from, kind, &msg);
        }
        let Some(Sequenced { seq }) = self.check_generation(now, from, &t, &msg) else {
            return;
        };
        let delay = self.first_rexmit_delay();
        let verdict = self.nodes[from].seq.accept(seq, || now + delay);
        self.refresh_link(now, from, link);
        if verdict == SeqVerdict::Duplicate {
            self.counters.duplicate += 1;
            return;
        }
        self.counters.accepted += 1;
        self.maybe_ack(from, seq, verdict);
        if t == "status" {
            self.dispatch(now, from, seq, &t, &msg);
        } else {
            self.nodes[from].held.insert(seq, msg);
        }
        self.release_held(now, from);
    }

    /// Opens the datagram: parsed and signed with one of our keys.
    fn authenticate(&mut self, now: Instant, datagram: &[u8]) -> Option<Message> {
        match hb_proto::open(datagram, &self.cfg.keys) {
            Ok(o) => Some(o.msg),
            Err(e) => {
                match e.kind() {
                    RejectKind::Malformed => {
                        self.counters.malformed += 1;
                        self.warnings.limited(now, "malformed", || {
                            format!("dropped a malformed datagram: {e}")
                        });
                    }
                    RejectKind::Unauthenticated => {
                        self.counters.auth_failed += 1;
                        self.warnings.limited(now, "auth", || {
                            format!("dropped a datagram that failed authentication: {e}")
                        });
                    }
                }
                None
            }
        }
    }

    /// The configured node that sent `msg` (not ourselves) and the message type.
    fn sender(&mut self, now: Instant, msg: &Message) -> Option<(NodeId, String)> {
        let (Some(t), Some(src)) = (msg.str("t"), msg.str("src")) else {
            self.malformed(now, "a message without t or src");
            return None;
        };
        if msg.str("ts").and_then(parse_hex).is_none_or(|ts| ts == 0) {
            self.malformed(now, "a message without a valid ts");
            return None;
        }
        let from = self.identify(now, msg, src)?;
        // Our own broadcast coming back, or a copy sent to ourselves by ucast.
        (from != self.nodes.me()).then(|| (from, t.to_string()))
    }

    /// Checks the generation of a sequenced message from `from`: replays of an older
    /// generation are dropped, a newer one is a restart, and a node declared dead only
    /// comes back with a status message.
    fn check_generation(
        &mut self,
        now: Instant,
        from: NodeId,
        t: &str,
        msg: &Message,
    ) -> Option<Sequenced> {
        let Some(seq) = msg.str("seq").and_then(parse_hex).filter(|&s| s > 0) else {
            self.malformed(now, "a sequenced message without a valid seq");
            return None;
        };
        let Some(hg) = msg.str("hg").map_or(Some(0), parse_hex) else {
            self.malformed(now, "a message with a bad hg");
            return None;
        };
        let node = &mut self.nodes[from];
        if hg < node.generation {
            self.counters.replayed += 1;
            let (name, cur) = (node.name.clone(), node.generation);
            self.warnings.limited(now, "replay", || {
                format!(
                    "dropped a message from {name} of an older generation ({hg} < {cur}): replay?"
                )
            });
            return None;
        }
        if node.generation == 0 {
            // The first generation we learn of a peer, from whatever it sent first: a later
            // status with a higher one is then recognised as a restart (and what this
            // incarnation told us is forgotten), even if no status of it ever reached us.
            node.generation = hg;
        }
        if t != "status" {
            if node.awaiting_status {
                // Declared dead: nothing but a fresh status message counts.
                self.counters.duplicate += 1;
                return None;
            }
            return Some(Sequenced { seq });
        }
        if hg > node.generation {
            // A higher generation than the one learned is a restart.
            let restarted = node.generation != 0;
            node.generation = hg;
            if restarted {
                node.forget_sequence();
                node.last_status_seq = 0;
            }
            node.awaiting_status = false;
            if restarted {
                tracing::info!(
                    "node {}: heartbeat restarted (new generation {hg})",
                    node.name
                );
                let (res, mut ctx) = self.split();
                res.on_peer_restart(&mut ctx, from);
            }
        } else if node.awaiting_status {
            if seq <= node.last_status_seq {
                self.counters.duplicate += 1;
                return None;
            }
            tracing::warn!(
                "node {}: returning after partition (same generation, seq {seq})",
                node.name
            );
            node.awaiting_status = false;
            node.forget_sequence();
        }
        Some(Sequenced { seq })
    }

    /// Acts upon held messages of node `from` that no missing message precedes, in order.
    fn release_held(&mut self, now: Instant, from: NodeId) {
        loop {
            let node = &mut self.nodes[from];
            let first_missing = node.seq.missing.keys().next().copied();
            let Some((&seq, _)) = node.held.first_key_value() else {
                return;
            };
            if first_missing.is_some_and(|m| m < seq) && node.held.len() < MAX_MISSING {
                tracing::debug!(
                    "holding seq {seq} of {} until seq {first_missing:?} arrives",
                    node.name
                );
                return;
            }
            let Some(msg) = node.held.remove(&seq) else {
                return;
            };
            if let Some(dest) = msg.str("dest")
                && dest != self.node_name()
            {
                continue;
            }
            let t = msg.str("t").unwrap_or_default().to_string();
            self.dispatch(now, from, seq, &t, &msg);
        }
    }

    fn malformed(&mut self, now: Instant, what: &str) {
        self.counters.malformed += 1;
        let what = what.to_string();
        self.warnings
            .limited(now, "malformed-fields", || format!("dropped {what}"));
    }

    /// Finds the configured node that sent `msg`: by `srcuuid` first, then by name.
    fn identify(&mut self, now: Instant, msg: &Message, src: &str) -> Option<NodeId> {
        let uuid: Option<[u8; 16]> = match msg.get("srcuuid") {
            Some(hb_proto::Value::Binary(b)) => b.as_slice().try_into().ok(),
            _ => None,
        };
        let by_uuid = uuid.and_then(|u| self.nodes.by_uuid(u));
        let by_name = self.nodes.by_name(src);
        let found = match (by_uuid, by_name) {
            (Some(u), Some(n)) if u != n => {
                // A known UUID under another configured name: trust the name (Heartbeat
                // renames; we keep ha.cf authoritative) and rebind below.
                Some(n)
            }
            (u, n) => u.or(n),
        };
        let Some(i) = found else {
            self.counters.unknown_node += 1;
            let src = src.to_string();
            self.warnings.limited(now, "unknown-node", || {
                format!("dropped a message from unknown node {src:?}")
            });
            return None;
        };
        if let Some(u) = uuid
            && i != self.nodes.me()
            && self.nodes[i].uuid != Some(u)
        {
            if self.nodes[i].uuid.is_some() {
                tracing::info!("node {}: changed its uuid", self.nodes[i].name);
            }
            self.nodes[i].uuid = Some(u);
        }
        Some(i)
    }

    fn first_rexmit_delay(&mut self) -> Duration {
        let max = self.cfg.max_rexmit_delay.max(MIN_REXMIT_DELAY);
        let span = u64::try_from((max - MIN_REXMIT_DELAY).as_micros()).unwrap_or(0);
        let jitter = if span == 0 {
            0
        } else {
            self.rng.next_u64() % (span + 1)
        };
        MIN_REXMIT_DELAY + Duration::from_micros(jitter)
    }

    /// Acknowledges about every tenth message of each sender (spec §7.2).
    fn maybe_ack(&mut self, from: NodeId, seq: u64, verdict: SeqVerdict) {
        let n = &self.nodes[from];
        if !n.protocol || !n.seq.missing.is_empty() {
            return;
        }
        let ack = match verdict {
            SeqVerdict::New if seq % 10 == n.ack_trigger => seq,
            // The last missing message arrived: acknowledge everything up to the last.
            SeqVerdict::Late => n.seq.last.unwrap_or(seq),
            _ => return,
        };
        let dest = n.name.clone();
        tracing::debug!("acknowledging {dest}'s messages up to seq {ack} ({verdict:?} seq {seq})");
        self.send(wire::ackmsg(&dest, ack));
    }

    fn receive_ns(&mut self, now: Instant, from: NodeId, kind: &str, msg: &Message) {
        if let Some(dest) = msg.str("dest")
            && dest != self.node_name()
        {
            return;
        }
        match kind {
            "ackmsg" => {
                if let Some(ack) = msg.str("ackseq").and_then(parse_hex)
                    && ack <= self.out.last_sent_seq()
                {
                    let n = &mut self.nodes[from];
                    n.acked_by = n.acked_by.max(ack);
                }
                let (res, ctx) = self.split();
                res.on_ack(&ctx);
            }
            "rexmit" => self.ctx().serve_rexmit(from, msg),
            "nak_rexmit" => {
                if let Some(seq) = msg.str("firstseq").and_then(parse_hex) {
                    let n = &mut self.nodes[from];
                    if n.seq.missing.remove(&seq).is_some() {
                        tracing::error!("irretrievably lost packet: node {} seq {seq}", n.name);
                        self.release_held(now, from);
                    }
                }
            }
            other => tracing::debug!("ignoring NS_{other} from {}", self.nodes[from].name),
        }
    }

    /// Asks for retransmission of missing messages whose timer expired (spec §7.3).
    pub(crate) fn rexmit_tick(&mut self, now: Instant) {
        let again = now + self.cfg.max_rexmit_delay.max(MIN_REXMIT_DELAY);
        for i in self.nodes.peers() {
            let node = &mut self.nodes[i];
            if !node.is_alive() {
                continue;
            }
            let due: Vec<u64> = node
                .seq
                .missing
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(s, _)| *s)
                .collect();
            let Some(&first) = due.first() else {
                continue;
            };
            for s in &due {
                node.seq.missing.insert(*s, again);
            }
            let dest = node.name.clone();
            tracing::debug!("asking {dest} to retransmit {due:?}");
            // One request per run of consecutive numbers.
            let mut start = first;
            let mut prev = first;
            for &s in due.iter().skip(1).chain(std::iter::once(&u64::MAX)) {
                if s != prev.wrapping_add(1) {
                    self.send(wire::rexmit(&dest, start, prev));
                    start = s;
                }
                prev = s;
            }
        }
    }

    pub(crate) fn rexmit_deadline(&self) -> Option<Instant> {
        self.nodes
            .peers()
            .map(|i| &self.nodes[i])
            .filter(|n| n.is_alive())
            .filter_map(|n| n.seq.missing.values().min().copied())
            .min()
    }

    fn dispatch(&mut self, now: Instant, from: NodeId, seq: u64, t: &str, msg: &Message) {
        match t {
            "status" => self.on_status(now, from, seq, msg),
            "reqnodes" => self.on_reqnodes(from),
            "repnodes" => self.on_repnodes(now, from, msg),
            "starting" | "resource" | "ask_resources" | "hb_takeover" | "ip-request"
            | "ip-request-resp" | "shutdone" => {
                let (res, mut ctx) = self.split();
                res.on_message(&mut ctx, from, t, msg);
            }
            "stonith" => {
                let node = msg.str("node").unwrap_or("?");
                let result = msg.str("result").unwrap_or("?");
                tracing::info!(
                    "node {} reports stonith of {node}: {result}",
                    self.nodes[from].name
                );
            }
            other => tracing::debug!(
                "ignoring message type {other:?} from {}",
                self.nodes[from].name
            ),
        }
    }
}

impl Ctx<'_> {
    /// Acknowledges everything received from `from` at once (used for `shutdone`, so the
    /// leaving node can go).
    pub(crate) fn ack_now(&mut self, from: NodeId) {
        let n = &self.nodes[from];
        if let Some(last) = n.seq.last
            && n.seq.missing.is_empty()
        {
            let dest = n.name.clone();
            self.send(wire::ackmsg(&dest, last));
        }
    }
}
