//! Invariant 4, **no message storm**.

/// **No message storm** (invariant 4): a run processes at most `budget` events
/// ([`Sim::event_budget`], 5 million unless changed). Checked before each event is processed
/// (event number `events`, counting from 1); on a violation the simulator records
/// `"more than {budget} events: message storm"` and drops its queue, ending the run.
///
/// [`Sim::event_budget`]: crate::Sim::event_budget
pub(crate) fn check(events: u64, budget: u64) -> Option<String> {
    (events > budget).then(|| format!("more than {budget} events: message storm"))
}

#[cfg(test)]
mod tests {
    use crate::Sim;
    use crate::invariants::testing::{ms, two_nodes, whats};

    #[test]
    fn no_message_storm_fires_past_the_event_budget_and_ends_the_run() {
        let mut sim = Sim::new(two_nodes());
        sim.event_budget = 100;
        sim.run_for(ms(1000));
        assert_eq!(whats(&sim), ["more than 100 events: message storm"]);
        assert_eq!(sim.events, 101);
        assert!(!sim.step(), "the queue is dropped");
    }
}
