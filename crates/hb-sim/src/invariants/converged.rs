//! The end-of-schedule check, **convergence**.

use super::View;

/// **Convergence** (checked at the end of a schedule, after the network healed and every
/// daemon was restarted, by [`Sim::converged`]): no group is active on several hosts, and
/// each group some running daemon could start (see [`TakeoverLiveness`]'s exemption) runs
/// fully on exactly one host, one with a running daemon, and partly nowhere else. No bound of
/// its own: the sweep waits twice [`Params::settle_bound`] before asking.
///
/// Returns, for the first group in index order that breaks it,
/// `"group {g} active on several hosts {holders:?}"` or
/// `"group {g} not running fully on one live host (holders {holders:?}, full {full:?})"`.
///
/// [`Sim::converged`]: crate::Sim::converged
/// [`TakeoverLiveness`]: super::TakeoverLiveness
/// [`Params::settle_bound`]: crate::Params::settle_bound
pub(crate) fn check(view: &View<'_>) -> Result<(), String> {
    for g in 0..view.params.groups.len() {
        let holders = view.holders(g);
        let full = view.full_holders(g);
        let runnable = view.hosts.iter().any(|h| h.can_start(g));
        if holders.len() > 1 {
            return Err(format!("group {g} active on several hosts {holders:?}"));
        }
        if runnable && (full.len() != 1 || holders != full || view.hosts[full[0]].core.is_none()) {
            return Err(format!(
                "group {g} not running fully on one live host (holders {holders:?}, full {full:?})"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::invariants::testing::{settled, unmonitored};

    #[test]
    fn convergence_fails_for_a_group_not_fully_on_one_host_or_on_two() {
        let mut sim = settled(unmonitored());
        assert_eq!(sim.converged(), Ok(()));
        sim.kill_resource(0, 0, 0);
        assert_eq!(
            sim.converged(),
            Err("group 0 not running fully on one live host (holders [0], full [])".into())
        );
        // Test-only: a resource of group 1 appears on node1 too.
        sim.hosts[0].active.insert((1, 1));
        assert_eq!(
            sim.converged(),
            Err("group 0 not running fully on one live host (holders [0], full [])".into()),
            "groups are checked in order"
        );
        sim.hosts[0].active.insert((0, 0));
        assert_eq!(
            sim.converged(),
            Err("group 1 active on several hosts [0, 1]".into())
        );
    }
}
