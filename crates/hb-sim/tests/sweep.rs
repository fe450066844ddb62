//! A short sweep of random fault schedules (CI runs more with the release binary:
//! `hb-sim --sweep N`). Every failure names its seed and the command that replays it.

#[test]
fn random_fault_schedules_keep_every_invariant() {
    let seeds: u64 = std::env::var("HB_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let mut failures = Vec::new();
    for seed in 0..seeds {
        let out = hb_sim::sweep::run(seed);
        if !out.ok() {
            let why = out
                .violations
                .first()
                .map(|v| v.what.clone())
                .or(out.not_converged.clone())
                .unwrap_or_default();
            failures.push(format!(
                "seed {seed}: {why}; faults {:?}; replay: cargo run -p hb-sim -- --seed {seed} -v",
                out.faults
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {seeds} schedules failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
