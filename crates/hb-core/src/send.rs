//! Sending: the header Heartbeat appends to every message, signing, the transmit history
//! and the service side of retransmission (spec §3, §7).

use std::collections::VecDeque;
use std::time::Duration;

use hb_proto::Message;

use crate::config::CoreConfig;
use crate::ctx::Ctx;
use crate::nodes::{NodeId, Nodes};
use crate::wire::{self, hex};
use crate::{Action, Instant};

/// Heartbeat keeps the last 500 sequenced messages for retransmission.
const HISTORY_SLOTS: usize = 500;
/// At most this many retransmissions per request.
const MAX_REXMIT_PER_REQUEST: u64 = 50;

#[derive(Debug)]
struct Sent {
    seq: u64,
    bytes: Vec<u8>,
    last_rexmit: Option<Instant>,
}

/// The transmit history: the last [`HISTORY_SLOTS`] sequenced datagrams, byte for byte.
#[derive(Debug, Default)]
pub(crate) struct History {
    sent: VecDeque<Sent>,
}

impl History {
    fn push(&mut self, seq: u64, bytes: Vec<u8>) {
        if self.sent.len() == HISTORY_SLOTS {
            self.sent.pop_front();
        }
        self.sent.push_back(Sent {
            seq,
            bytes,
            last_rexmit: None,
        });
    }

    fn oldest(&self) -> Option<u64> {
        self.sent.front().map(|s| s.seq)
    }

    fn find_mut(&mut self, seq: u64) -> Option<&mut Sent> {
        let first = self.oldest()?;
        let idx = usize::try_from(seq.checked_sub(first)?).ok()?;
        self.sent.get_mut(idx).filter(|s| s.seq == seq)
    }
}

/// Everything that goes out: the queue of actions for the shell, and what signing and
/// numbering this node's datagrams needs (its identity, its sequence numbers, the
/// retransmission history).
#[derive(Debug)]
pub(crate) struct Outbox {
    actions: VecDeque<Action>,
    uuid: [u8; 16],
    generation: u64,
    boot_at: Instant,
    wall_clock_secs: u64,
    load_average: String,
    next_seq: u64,
    history: History,
    /// Messages retransmitted at a peer's request.
    pub(crate) rexmit_sent: u64,
}

impl Outbox {
    pub(crate) fn new(
        uuid: [u8; 16],
        generation: u64,
        boot_at: Instant,
        wall_clock_secs: u64,
    ) -> Outbox {
        Outbox {
            actions: VecDeque::new(),
            uuid,
            generation,
            boot_at,
            wall_clock_secs,
            load_average: "n/a".to_string(),
            next_seq: 1,
            rexmit_sent: 0,
            history: History::default(),
        }
    }

    pub(crate) fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    pub(crate) fn pop(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The informational `ld` field of later messages.
    pub(crate) fn set_load_average(&mut self, load: String) {
        self.load_average = load;
    }

    /// Appends the header to `msg`, signs it, records it for retransmission (unless it is an
    /// `NS_*` message) and queues it for transmission on every medium. Returns the sequence
    /// number, if one was assigned.
    pub(crate) fn send(
        &mut self,
        now: Instant,
        mut msg: Message,
        nodes: &Nodes,
        cfg: &CoreConfig,
    ) -> Option<u64> {
        let ns = msg.str("t").is_some_and(|t| t.starts_with("NS_"));
        if let Some(dest) = msg.str("dest").map(str::to_string)
            && msg.get("destuuid").is_none()
            && let Some(uuid) = nodes.uuid_of(&dest)
        {
            msg.push_bin("destuuid", uuid);
        }
        msg.set_str("src", nodes.my_name());
        set_bin(&mut msg, "srcuuid", &self.uuid);
        let seq = if ns {
            None
        } else {
            let seq = self.next_seq;
            self.next_seq += 1;
            msg.set_str("seq", hex(seq));
            Some(seq)
        };
        msg.set_str("hg", hex(self.generation));
        msg.set_str("ts", hex(self.wall_clock(now)));
        if !ns {
            msg.set_str("ld", self.load_average.clone());
        }
        msg.set_str("ttl", cfg.ttl().to_string());
        let bytes = hb_proto::seal(&msg, &cfg.keys, cfg.msgfmt);
        if let Some(seq) = seq {
            self.history.push(seq, bytes.clone());
        }
        tracing::trace!(
            t = msg.str("t").unwrap_or(""),
            seq,
            len = bytes.len(),
            "transmit"
        );
        self.actions.push_back(Action::Transmit(bytes));
        seq
    }

    /// Highest sequence number sent so far (0 before the first).
    pub(crate) fn last_sent_seq(&self) -> u64 {
        self.next_seq - 1
    }

    fn wall_clock(&self, now: Instant) -> u64 {
        self.wall_clock_secs
            .saturating_add(now.saturating_since(self.boot_at).as_secs())
    }
}

impl Ctx<'_> {
    /// Serves an `NS_rexmit` addressed to us (spec §7.3).
    pub(crate) fn serve_rexmit(&mut self, from: NodeId, msg: &Message) {
        let (Some(first), Some(last)) = (
            msg.str("firstseq").and_then(wire::parse_dec),
            msg.str("lastseq").and_then(wire::parse_dec),
        ) else {
            self.warn_limited("bad-rexmit", || {
                "ignoring NS_rexmit without valid firstseq/lastseq".into()
            });
            return;
        };
        let requester = self.nodes[from].name.clone();
        let acked = self.nodes[from].acked_by;
        let max = self.out.last_sent_seq();
        let min_gap = self
            .cfg
            .max_rexmit_delay
            .saturating_sub(Duration::from_millis(10));
        let last = last.min(first.saturating_add(MAX_REXMIT_PER_REQUEST - 1));
        for seq in first..=last {
            if seq == 0 || seq <= acked {
                tracing::debug!("not retransmitting seq {seq}: {requester} acknowledged it");
                continue;
            }
            if seq > max {
                self.warn_limited("rexmit-beyond", || {
                    format!("{requester} asked for retransmission of seq {seq}; {max} is the highest sent")
                });
                break;
            }
            let now = self.now;
            match self.out.history.find_mut(seq) {
                Some(sent) => {
                    if sent
                        .last_rexmit
                        .is_some_and(|t| now.saturating_since(t) < min_gap)
                    {
                        continue;
                    }
                    sent.last_rexmit = Some(now);
                    tracing::debug!("retransmitting seq {seq} for {requester}");
                    let bytes = sent.bytes.clone();
                    self.out.push(Action::Transmit(bytes));
                    self.out.rexmit_sent += 1;
                }
                None => {
                    let why = if self.out.history.oldest().is_some_and(|o| seq < o) {
                        "seqno too low"
                    } else {
                        "seqno not found"
                    };
                    self.send(wire::nak_rexmit(seq, &requester, why));
                }
            }
        }
    }
}

/// Sets a binary field, keeping the position of an existing one.
fn set_bin(msg: &mut Message, name: &str, value: &[u8]) {
    if msg.get(name).is_some() {
        let mut rebuilt = Message::new();
        for f in msg.fields() {
            if f.name == name {
                rebuilt.push_bin(name, value);
            } else {
                rebuilt.push(f.clone());
            }
        }
        *msg = rebuilt;
    } else {
        msg.push_bin(name, value);
    }
}
