//! What this node knows of the peer's resources, from its `resource` reports (exact with
//! heartbeat-rs's extension fields, by class with Heartbeat 3) and its notices.

use super::groups::GroupSet;

/// The peer's resources as far as we know.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerView {
    /// Groups it holds.
    pub(crate) holds: GroupSet,
    /// Groups that failed on it (it will not take them).
    pub(crate) failed: GroupSet,
    /// The holdings came from heartbeat-rs's exact extension fields.
    pub(crate) exact: bool,
    /// The keys of `holds` and `failed` as the peer's last exact report named them, those
    /// not in our table included: a reload that adds a group knows at once whether the peer
    /// holds it.
    pub(crate) held_keys: Vec<String>,
    pub(crate) failed_keys: Vec<String>,
    /// Its last full report said it is stable.
    pub(crate) stable: bool,
    /// A resource report arrived since the peer (re)started.
    pub(crate) reported: bool,
    /// The peer sent `starting` before we could act on it.
    pub(crate) starting_pending: bool,
    /// The peer announced a graceful shutdown (`info=shutdown`).
    pub(crate) leaving: bool,
    /// The peer finished its graceful shutdown (`shutdone`).
    pub(crate) left: bool,
}

impl PeerView {
    /// The peer came back from a partition with the same generation: nothing it told us
    /// still holds, but it was stable before.
    pub(crate) fn returned() -> PeerView {
        PeerView {
            stable: true,
            ..PeerView::default()
        }
    }

    /// The peer announced `starting`: it negotiates afresh.
    pub(crate) fn restart_negotiation(&mut self) {
        self.stable = false;
        self.reported = false;
        self.holds.clear();
        self.held_keys.clear();
        self.left = false;
        self.leaving = false;
    }

    /// The peer is known to hold nothing: it left, or its last report said it holds nothing
    /// and is stable (a peer that is not stable may be starting groups as we speak, its report
    /// of them still on the way: Heartbeat trusts any report, which a partition at that moment
    /// turns into a group started on both sides).
    pub(crate) fn known_empty(&self) -> bool {
        self.holds.is_empty() && (self.left || (self.reported && self.stable))
    }

    /// The peer sent `shutdone`.
    pub(crate) fn gone(&mut self) {
        self.left = true;
        self.holds.clear();
        self.held_keys.clear();
    }
}
