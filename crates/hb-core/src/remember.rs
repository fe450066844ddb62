//! What this node remembers of its peers across its own restarts: for each peer, the newest
//! message accepted from it (generation, highest sequence number of that generation, and
//! that message's timestamp).
//!
//! The shell hands the table read at start-up to [`crate::Core::new`] in
//! [`crate::Boot::peers`]; the core asks for it to be written with
//! [`crate::Action::RememberPeers`]. A message at or below the remembered mark (an older
//! generation, or the same generation and a sequence number not above the remembered one)
//! was seen by an earlier run of this daemon: it is a replay and is dropped
//! (`docs/protocol.md`, "Replays and generations").
//!
//! When the table is written: at once when a peer's generation changes (first heard of, or
//! restarted), otherwise at most once per [`persist_interval`] while sequence numbers
//! advance, and at the end of a graceful shutdown. What a crash of ours loses is at most
//! one interval of the peer's messages: those are the only recordings that a replay after
//! our restart can still get accepted.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::action::Action;
use crate::config::CoreConfig;
use crate::nodes::NodeId;
use crate::{Core, Instant};

/// The newest message accepted from one peer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PeerMark {
    /// Its heartbeat generation (`hg`).
    pub generation: u64,
    /// The highest sequence number (`seq`) accepted of that generation.
    pub seq: u64,
    /// The sender's wall-clock timestamp (`ts`, UNIX seconds) of that message.
    pub ts: u64,
}

/// The remembered marks by node name (as in `ha.cf`).
pub type RememberedPeers = BTreeMap<String, PeerMark>;

/// Shortest interval between two writes of the table while only sequence numbers advance:
/// our keepalive, but at least one second. At Heartbeat's default keepalive (2 s) a crash of
/// ours leaves at most about one status of each peer unremembered; at sub-second keepalives
/// the write rate is capped at one small file a second.
pub(crate) fn persist_interval(cfg: &CoreConfig) -> Duration {
    cfg.timing.keepalive().max(Duration::from_secs(1))
}

/// When the table must next be written.
#[derive(Debug, Default)]
pub(crate) struct Persist {
    /// A generation changed since the last write: write at the next opportunity.
    urgent: bool,
    /// A sequence number advanced since the last write.
    dirty: bool,
    /// When the table was last written (asked for).
    written_at: Option<Instant>,
    /// The final table of a graceful shutdown was written.
    final_written: bool,
}

impl Persist {
    pub(crate) fn generation_changed(&mut self) {
        self.urgent = true;
        self.dirty = true;
    }

    pub(crate) fn seq_advanced(&mut self) {
        self.dirty = true;
    }

    /// Whether to write now.
    fn due(&self, now: Instant, interval: Duration, finished: bool) -> bool {
        if finished {
            return !self.final_written;
        }
        self.urgent
            || (self.dirty
                && self
                    .written_at
                    .is_none_or(|w| now.saturating_since(w) >= interval))
    }

    fn written(&mut self, now: Instant, finished: bool) {
        self.urgent = false;
        self.dirty = false;
        self.written_at = Some(now);
        self.final_written |= finished;
    }
}

impl Core {
    /// Asks the shell to write the remembered table if it is due (called after every input).
    pub(crate) fn remember_peers(&mut self, now: Instant) {
        let finished = self.is_finished();
        if !self.persist.due(now, persist_interval(&self.cfg), finished) {
            return;
        }
        self.persist.written(now, finished);
        let table: RememberedPeers = self
            .nodes
            .peers()
            .filter_map(|i| self.nodes[i].mark.map(|m| (self.nodes[i].name.clone(), m)))
            .collect();
        self.out.push(Action::RememberPeers(table));
    }

    /// Records an authenticated sequenced message of node `from` that is not a replay
    /// (whether or not it is then acted upon) in its mark, which only moves forward.
    pub(crate) fn note_seen(&mut self, from: NodeId, generation: u64, seq: u64, ts: u64) {
        let node = &mut self.nodes[from];
        let seen = PeerMark {
            generation,
            seq,
            ts,
        };
        match node.mark {
            Some(m) if (generation, seq) <= (m.generation, m.seq) => {}
            Some(m) if m.generation == generation => {
                node.mark = Some(seen);
                self.persist.seq_advanced();
            }
            _ => {
                node.mark = Some(seen);
                self.persist.generation_changed();
            }
        }
    }
}
