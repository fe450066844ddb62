//! The simulated LAN's faults: which datagrams it drops, loses or duplicates, and how the
//! fencing device behaves. (Delays and the random draws themselves are the simulator's.)

use std::collections::BTreeSet;

/// The faults currently injected into the LAN.
#[derive(Debug, Default)]
pub(crate) struct Lan {
    /// Nodes cut off the LAN.
    pub(crate) cut: BTreeSet<usize>,
    /// One-way blocks (from, to).
    pub(crate) blocked: BTreeSet<(usize, usize)>,
    /// Probability (per mille) that a datagram is lost.
    pub(crate) loss_permille: u32,
    /// Probability (per mille) that a datagram is duplicated.
    pub(crate) dup_permille: u32,
    /// Nodes whose route to the ping node is lost (the LAN between nodes is unaffected).
    pub(crate) ping_lost: BTreeSet<usize>,
    /// Nodes whose cable is pulled: cut, and their interface has no carrier.
    pub(crate) no_carrier: BTreeSet<usize>,
    /// What the fencing device does with a reset request.
    pub(crate) fence: FenceMode,
}

/// How the simulated fencing device answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FenceMode {
    /// Resets the node (its daemon and every resource on it are gone; it boots again later).
    #[default]
    Works,
    /// Fails every attempt (exit 1).
    Fails,
    /// Never answers: each attempt times out.
    Hangs,
}

impl Lan {
    /// Whether what `a` sends reaches `b` (a node always hears itself).
    pub(crate) fn connected(&self, a: usize, b: usize) -> bool {
        a == b
            || (!self.cut.contains(&a) && !self.cut.contains(&b) && !self.blocked.contains(&(a, b)))
    }

    /// Whether node `n` reaches the ping node (a cut node reaches nothing).
    pub(crate) fn reaches_ping(&self, n: usize) -> bool {
        !self.cut.contains(&n) && !self.ping_lost.contains(&n)
    }

    /// No node cut off, no one-way block, no loss (duplication does not count).
    pub(crate) fn whole(&self) -> bool {
        self.cut.is_empty() && self.blocked.is_empty() && self.loss_permille == 0
    }
}
