//! What the resource side of the core may use of the rest while it handles one input: the
//! time, the configuration, what membership knows (read only), the outbox and the rate
//! limiter for repetitive warnings.

use std::collections::BTreeMap;
use std::time::Duration;

use hb_proto::Message;

use crate::Instant;
use crate::action::{Action, AgentOp, OpId};
use crate::config::CoreConfig;
use crate::nodes::Nodes;
use crate::send::Outbox;

/// Rate limit for repetitive warnings (rejected packets).
const WARN_INTERVAL: Duration = Duration::from_secs(5);

/// Warnings that may repeat at packet rate, each logged at most every [`WARN_INTERVAL`]
/// per kind with the number suppressed since.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    last: BTreeMap<&'static str, (Instant, u64)>,
}

impl Warnings {
    pub(crate) fn limited(
        &mut self,
        now: Instant,
        kind: &'static str,
        text: impl FnOnce() -> String,
    ) {
        match self.last.get_mut(kind) {
            None => {
                self.last.insert(kind, (now, 0));
                tracing::warn!("{}", text());
            }
            Some(entry) if now.saturating_since(entry.0) >= WARN_INTERVAL => {
                let suppressed = std::mem::replace(entry, (now, 0)).1;
                if suppressed > 0 {
                    tracing::warn!("{} ({suppressed} more like it suppressed)", text());
                } else {
                    tracing::warn!("{}", text());
                }
            }
            Some(entry) => entry.1 += 1,
        }
    }
}

/// The rest of the core, as one input's handler sees it.
#[derive(Debug)]
pub(crate) struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) cfg: &'a CoreConfig,
    pub(crate) nodes: &'a Nodes,
    pub(crate) out: &'a mut Outbox,
    pub(crate) warnings: &'a mut Warnings,
}

impl Ctx<'_> {
    /// Signs and queues a message; returns its sequence number, if it has one.
    pub(crate) fn send(&mut self, msg: Message) -> Option<u64> {
        self.out.send(self.now, msg, self.nodes, self.cfg)
    }

    /// Asks the shell to run an agent.
    pub(crate) fn run_agent(&mut self, id: OpId, group: usize, resource: usize, op: AgentOp) {
        self.out.push(Action::RunAgent {
            id,
            group,
            resource,
            op,
        });
    }

    /// A warning that may repeat at packet rate.
    pub(crate) fn warn_limited(&mut self, kind: &'static str, text: impl FnOnce() -> String) {
        self.warnings.limited(self.now, kind, text);
    }

    /// This node's name.
    pub(crate) fn my_name(&self) -> &str {
        self.nodes.my_name()
    }
}
