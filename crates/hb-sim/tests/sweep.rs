//! A short sweep of random fault schedules (CI runs more with the release binary:
//! `hb-sim --sweep N`). Every failure names its seed and the command that replays it.

#[test]
fn random_fault_schedules_keep_every_invariant() {
    let seeds: u64 = std::env::var("HB_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let failures: Vec<String> = (0..seeds)
        .map(hb_sim::sweep::run)
        .filter(|out| !out.ok())
        .map(|out| out.failure_line())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {seeds} schedules failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
