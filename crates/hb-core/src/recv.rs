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

/// Who sent a message, its type and its timestamp.
struct Sender {
    from: NodeId,
    t: String,
    ts: u64,
}

/// An unsequenced (`NS_*`) message whose timestamp is more than this many seconds older than
/// the newest sequenced message of the same incarnation is stale: a recording. The slack
/// allows a message overtaken by a later one on another link across a second boundary.
const NS_TS_SLACK_SECS: u64 = 2;

impl Core {
    /// A datagram arrived on heartbeat link `link` (an index into [`crate::CoreConfig::links`]).
    ///
    /// Malformed, unauthenticated, unknown-node, replayed and duplicate datagrams are counted,
    /// logged at a limited rate, and never change membership.
    pub fn handle_datagram(&mut self, now: Instant, link: usize, datagram: &[u8]) {
        let now = self.advance(now);
        self.receive(now, link, datagram);
        self.flush_status(now);
        self.remember_peers(now);
    }

    fn receive(&mut self, now: Instant, link: usize, datagram: &[u8]) {
        let Some(msg) = self.authenticate(now, datagram) else {
            return;
        };
        let Some(Sender { from, t, ts }) = self.sender(now, &msg) else {
            return;
        };
        if self.test_options.is_some() {
            let draw = self.draw();
            let name = &self.nodes[from].name;
            if self
                .test_options
                .as_ref()
                .is_some_and(|o| o.drop_received(name, draw))
            {
                return;
            }
        }
        let Some(hg) = msg.str("hg").map_or(Some(0), parse_hex) else {
            self.malformed(now, "a message with a bad hg");
            return;
        };
        if let Some(kind) = t.strip_prefix("NS_") {
            if !self.check_unsequenced(now, from, kind, hg, ts) {
                return;
            }
            self.refresh_link(now, from, link);
            self.counters.accepted += 1;
            return self.receive_ns(now, from, kind, &msg);
        }
        let Some(Sequenced { seq }) = self.check_generation(now, from, &t, hg, ts, &msg) else {
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

    /// The configured node that sent `msg` (not ourselves), the message type and its
    /// timestamp.
    fn sender(&mut self, now: Instant, msg: &Message) -> Option<Sender> {
        let (Some(t), Some(src)) = (msg.str("t"), msg.str("src")) else {
            self.malformed(now, "a message without t or src");
            return None;
        };
        let Some(ts) = msg.str("ts").and_then(parse_hex).filter(|&ts| ts != 0) else {
            self.malformed(now, "a message without a valid ts");
            return None;
        };
        let from = self.identify(now, msg, src)?;
        // Our own broadcast coming back, or a copy sent to ourselves by ucast.
        (from != self.nodes.me()).then(|| Sender {
            from,
            t: t.to_string(),
            ts,
        })
    }

    /// Counts and logs (at a limited rate) a replayed message of node `from`.
    fn replayed(&mut self, now: Instant, kind: &'static str, from: NodeId, why: String) {
        self.counters.replayed += 1;
        let name = self.nodes[from].name.clone();
        self.warnings.limited(now, kind, || {
            format!("dropped a message from {name} {why}: replay?")
        });
    }

    /// Checks an unsequenced (`NS_*`) message of node `from`. It has no sequence number,
    /// but its generation and timestamp say whether it can belong to the incarnation we
    /// hear: of an older generation than known or remembered, or older than that
    /// incarnation's newest sequenced message, it is a replay; before that incarnation's
    /// first sequenced message (a newer generation than known, none known yet, or a node
    /// declared dead), it is ignored: only a status starts or restarts an incarnation.
    fn check_unsequenced(
        &mut self,
        now: Instant,
        from: NodeId,
        kind: &str,
        hg: u64,
        ts: u64,
    ) -> bool {
        let node = &self.nodes[from];
        let known = node.generation.max(node.floor.map_or(0, |f| f.generation));
        if hg < known {
            self.replayed(
                now,
                "replay-ns",
                from,
                format!("(NS_{kind}) of an older generation ({hg} < {known})"),
            );
            return false;
        }
        if hg > node.generation || node.awaiting_status {
            self.counters.duplicate += 1;
            tracing::debug!(
                "ignoring NS_{kind} from {} (generation {hg}) until a status of that generation \
                 arrives",
                node.name
            );
            return false;
        }
        if let Some(m) = node.mark
            && m.generation == hg
            && ts.saturating_add(NS_TS_SLACK_SECS) < m.ts
        {
            let newest = m.ts;
            self.replayed(
                now,
                "replay-ns-stale",
                from,
                format!("(NS_{kind}) stamped {ts}, older than its newest message ({newest})"),
            );
            return false;
        }
        true
    }

    /// Checks the generation of a sequenced message from `from`: replays of an older
    /// generation, or of messages an earlier run of ours saw, are dropped, a newer
    /// generation is a restart, and a node declared dead only comes back with a status
    /// message.
    fn check_generation(
        &mut self,
        now: Instant,
        from: NodeId,
        t: &str,
        hg: u64,
        ts: u64,
        msg: &Message,
    ) -> Option<Sequenced> {
        let Some(seq) = msg.str("seq").and_then(parse_hex).filter(|&s| s > 0) else {
            self.malformed(now, "a sequenced message without a valid seq");
            return None;
        };
        if let Some(f) = self.nodes[from].floor
            && (hg, seq) <= (f.generation, f.seq)
        {
            let why = if hg < f.generation {
                format!(
                    "of generation {hg}, older than generation {} seen by an earlier run of this \
                     node (if {}'s generation file was reset, write a number above {} into it \
                     and restart heartbeat there)",
                    f.generation, self.nodes[from].name, f.generation
                )
            } else {
                format!(
                    "(seq {seq} of generation {hg}) that an earlier run of this node saw (up to seq {})",
                    f.seq
                )
            };
            self.replayed(now, "replay-remembered", from, why);
            return None;
        }
        let cur = self.nodes[from].generation;
        if hg < cur {
            self.replayed(
                now,
                "replay",
                from,
                format!("of an older generation ({hg} < {cur})"),
            );
            return None;
        }
        self.note_seen(from, hg, seq, ts);
        let node = &mut self.nodes[from];
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
                    "Heartbeat restart on node {} (new generation {hg})",
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
                "Cluster node {} returning after partition. (same generation, seq {seq})",
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
            let t = msg.str("t").unwrap_or_default().to_string();
            // Addressed to another node: not ours, except a peer's answer to itself (it
            // granted itself a group, Heartbeat's `req_resource` with HA_DONTASK), which the
            // legacy policy must see.
            if let Some(dest) = msg.str("dest")
                && dest != self.node_name()
                && !(t == "ip-request-resp" && dest == self.nodes[from].name)
            {
                continue;
            }
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
                // Only an acknowledgement of something we sent and not acknowledged yet
                // changes anything (a replayed one cannot end a lingering shutdown: see
                // `check_unsequenced` and docs/protocol.md).
                let Some(ack) = msg.str("ackseq").and_then(parse_hex) else {
                    return self.malformed(now, "an NS_ackmsg without a valid ackseq");
                };
                let last_sent = self.out.last_sent_seq();
                let n = &mut self.nodes[from];
                if ack > last_sent || ack <= n.acked_by {
                    tracing::debug!(
                        "ignoring {}'s acknowledgement of seq {ack} (acknowledged {}, sent {last_sent})",
                        n.name,
                        n.acked_by
                    );
                    return;
                }
                n.acked_by = ack;
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
            if due.is_empty() {
                continue;
            }
            for s in &due {
                node.seq.missing.insert(*s, again);
            }
            self.counters.rexmit_asked += due.len() as u64;
            let dest = node.name.clone();
            tracing::debug!("asking {dest} to retransmit {due:?}");
            // One request per run of consecutive numbers.
            for (start, end) in runs(&due) {
                self.send(wire::rexmit(&dest, start, end));
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

/// The runs of consecutive numbers in `sorted` (ascending), as (first, last).
fn runs(sorted: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &s in sorted {
        match out.last_mut() {
            Some((_, end)) if end.checked_add(1) == Some(s) => *end = s,
            _ => out.push((s, s)),
        }
    }
    out
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
