//! Invariant 5, **replays dropped**.

use hb_core::Counters;

/// **Replays dropped** (invariant 5): a sequenced datagram that node `to`'s daemon received
/// before it last wrote its table of peers, replayed after that daemon crashed and started
/// again ([`Sim::replay_recorded`]), is never accepted. Checked on each such delivery with
/// the daemon's counters before and after it.
///
/// [`Sim::replay_recorded`]: crate::Sim::replay_recorded
pub(crate) fn check(to: usize, before: Counters, after: Counters) -> Option<String> {
    (after.accepted > before.accepted).then(|| {
        format!(
            "node{} accepted a recording replayed after its restart (replayed {} -> {})",
            to + 1,
            before.replayed,
            after.replayed
        )
    })
}
