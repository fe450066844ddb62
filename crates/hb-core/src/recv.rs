//! Receiving: authentication, identification of the sender, generation and sequence checks,
//! acknowledgements and retransmission requests, then dispatch by message type
//! (spec §2.4, §3, §5, §7).

use std::time::Duration;

use hb_proto::{Message, RejectKind};
use rand_core::RngCore;

use crate::membership::SeqVerdict;
use crate::wire::{self, parse_hex};
use crate::{Core, Instant};

/// Lower bound of the random delay before the first retransmission request.
const MIN_REXMIT_DELAY: Duration = Duration::from_millis(50);

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
        let msg = match hb_proto::open(datagram, &self.cfg.keys) {
            Ok(o) => o.msg,
            Err(e) => {
                match e.kind() {
                    RejectKind::Malformed => {
                        self.counters.malformed += 1;
                        self.warn_limited(now, "malformed", || {
                            format!("dropped a malformed datagram: {e}")
                        });
                    }
                    RejectKind::Unauthenticated => {
                        self.counters.auth_failed += 1;
                        self.warn_limited(now, "auth", || {
                            format!("dropped a datagram that failed authentication: {e}")
                        });
                    }
                }
                return;
            }
        };
        let (Some(t), Some(src)) = (msg.str("t"), msg.str("src")) else {
            return self.malformed(now, "a message without t or src");
        };
        if msg.str("ts").and_then(parse_hex).is_none_or(|ts| ts == 0) {
            return self.malformed(now, "a message without a valid ts");
        }
        let Some(from) = self.identify(now, &msg, src) else {
            return;
        };
        if from == self.me() {
            // Our own broadcast coming back, or a copy sent to ourselves by ucast.
            return;
        }
        let t = t.to_string();
        if let Some(rest) = t.strip_prefix("NS_") {
            self.refresh_link(now, from, link);
            self.counters.accepted += 1;
            return self.receive_ns(now, from, rest, &msg);
        }
        let Some(seq) = msg.str("seq").and_then(parse_hex).filter(|&s| s > 0) else {
            return self.malformed(now, "a sequenced message without a valid seq");
        };
        let Some(hg) = msg.str("hg").map_or(Some(0), parse_hex) else {
            return self.malformed(now, "a message with a bad hg");
        };
        let node = &mut self.nodes[from];
        if hg < node.generation {
            self.counters.replayed += 1;
            let (name, cur) = (node.name.clone(), node.generation);
            self.warn_limited(now, "replay", || {
                format!(
                    "dropped a message from {name} of an older generation ({hg} < {cur}): replay?"
                )
            });
            return;
        }
        if node.generation == 0 {
            // The first generation we learn of a peer, from whatever it sent first: a later
            // status with a higher one is then recognised as a restart (and what this
            // incarnation told us is forgotten), even if no status of it ever reached us.
            node.generation = hg;
        }
        if t == "status" {
            if hg > node.generation {
                // A higher generation than the one learned is a restart.
                let restarted = node.generation != 0;
                node.generation = hg;
                if restarted {
                    node.seq.reset();
                    node.held.clear();
                    node.last_status_seq = 0;
                }
                node.awaiting_status = false;
                if restarted {
                    let name = node.name.clone();
                    tracing::info!("node {name}: heartbeat restarted (new generation {hg})");
                    self.on_peer_restart(now, from);
                }
            } else if node.awaiting_status {
                if seq <= node.last_status_seq {
                    self.counters.duplicate += 1;
                    return;
                }
                let name = node.name.clone();
                tracing::warn!(
                    "node {name}: returning after partition (same generation, seq {seq})"
                );
                let node = &mut self.nodes[from];
                node.awaiting_status = false;
                node.seq.reset();
                node.held.clear();
            }
        } else if node.awaiting_status {
            // Declared dead: nothing but a fresh status message counts.
            self.counters.duplicate += 1;
            return;
        }
        let delay = self.first_rexmit_delay();
        let verdict = self.nodes[from].seq.accept(seq, || now + delay);
        self.refresh_link(now, from, link);
        if verdict == SeqVerdict::Duplicate {
            self.counters.duplicate += 1;
            return;
        }
        self.counters.accepted += 1;
        self.maybe_ack(now, from, seq, verdict);
        if t == "status" {
            self.dispatch(now, from, seq, &t, &msg);
        } else {
            self.nodes[from].held.insert(seq, msg);
        }
        self.release_held(now, from);
    }

    /// Acts upon held messages of node `from` that no missing message precedes, in order.
    pub(crate) fn release_held(&mut self, now: Instant, from: usize) {
        loop {
            let node = &mut self.nodes[from];
            let first_missing = node.seq.missing.keys().next().copied();
            let Some((&seq, _)) = node.held.first_key_value() else {
                return;
            };
            if first_missing.is_some_and(|m| m < seq)
                && node.held.len() < crate::membership::MAX_MISSING
            {
                tracing::debug!(
                    "holding seq {seq} of {} until seq {first_missing:?} arrives",
                    node.name
                );
                return;
            }
            let Some((seq, msg)) = node.held.remove(&seq).map(|m| (seq, m)) else {
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
        self.warn_limited(now, "malformed-fields", || format!("dropped {what}"));
    }

    /// Finds the configured node that sent `msg`: by `srcuuid` first, then by name.
    fn identify(&mut self, now: Instant, msg: &Message, src: &str) -> Option<usize> {
        let uuid: Option<[u8; 16]> = match msg.get("srcuuid") {
            Some(hb_proto::Value::Binary(b)) => b.as_slice().try_into().ok(),
            _ => None,
        };
        let by_uuid = uuid.and_then(|u| self.nodes.iter().position(|n| n.uuid == Some(u)));
        let by_name = self
            .nodes
            .iter()
            .position(|n| n.name.eq_ignore_ascii_case(src));
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
            self.warn_limited(now, "unknown-node", || {
                format!("dropped a message from unknown node {src:?}")
            });
            return None;
        };
        if let Some(u) = uuid
            && i != self.me()
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
    fn maybe_ack(&mut self, now: Instant, from: usize, seq: u64, verdict: SeqVerdict) {
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
        self.send(now, wire::ackmsg(&dest, ack));
    }

    /// Sends an acknowledgement now (used for `shutdone`, so the leaving node can go).
    pub(crate) fn ack_now(&mut self, now: Instant, from: usize) {
        let n = &self.nodes[from];
        if let Some(last) = n.seq.last
            && n.seq.missing.is_empty()
        {
            let dest = n.name.clone();
            self.send(now, wire::ackmsg(&dest, last));
        }
    }

    fn receive_ns(&mut self, now: Instant, from: usize, kind: &str, msg: &Message) {
        if let Some(dest) = msg.str("dest")
            && dest != self.node_name()
        {
            return;
        }
        match kind {
            "ackmsg" => {
                if let Some(ack) = msg.str("ackseq").and_then(parse_hex)
                    && ack <= self.last_sent_seq()
                {
                    let n = &mut self.nodes[from];
                    n.acked_by = n.acked_by.max(ack);
                }
                self.on_ack(now);
            }
            "rexmit" => self.serve_rexmit(now, from, msg),
            "nak_rexmit" => {
                if let Some(seq) = msg.str("firstseq").and_then(parse_hex) {
                    let n = &mut self.nodes[from];
                    if n.seq.missing.remove(&seq).is_some() {
                        let name = n.name.clone();
                        tracing::error!("irretrievably lost packet: node {name} seq {seq}");
                        self.release_held(now, from);
                    }
                }
            }
            other => tracing::debug!("ignoring NS_{other} from {}", self.nodes[from].name),
        }
    }

    /// Asks for retransmission of missing messages whose timer expired (spec §7.3).
    pub(crate) fn rexmit_tick(&mut self, now: Instant) {
        for i in 0..self.nodes.len() {
            if i == self.me() || !self.nodes[i].is_alive() {
                continue;
            }
            let due: Vec<u64> = self.nodes[i]
                .seq
                .missing
                .iter()
                .filter(|(_, t)| **t <= now)
                .map(|(s, _)| *s)
                .collect();
            if due.is_empty() {
                continue;
            }
            let again = now + self.cfg.max_rexmit_delay.max(MIN_REXMIT_DELAY);
            for s in &due {
                self.nodes[i].seq.missing.insert(*s, again);
            }
            let dest = self.nodes[i].name.clone();
            tracing::debug!("asking {dest} to retransmit {due:?}");
            // One request per run of consecutive numbers.
            let mut start = due[0];
            let mut prev = due[0];
            for &s in due.iter().skip(1).chain(std::iter::once(&u64::MAX)) {
                if s != prev.wrapping_add(1) {
                    self.send(now, wire::rexmit(&dest, start, prev));
                    start = s;
                }
                prev = s;
            }
        }
    }

    pub(crate) fn rexmit_deadline(&self) -> Option<Instant> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(i, n)| *i != self.me() && n.is_alive())
            .filter_map(|(_, n)| n.seq.missing.values().min().copied())
            .min()
    }

    fn dispatch(&mut self, now: Instant, from: usize, seq: u64, t: &str, msg: &Message) {
        match t {
            "status" => self.on_status(now, from, seq, msg),
            "reqnodes" => self.on_reqnodes(now, from),
            "repnodes" => self.on_repnodes(now, from, msg),
            "starting" | "resource" | "ask_resources" | "hb_takeover" | "ip-request"
            | "ip-request-resp" | "shutdone" => self.on_resource_message(now, from, seq, t, msg),
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
