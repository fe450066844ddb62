//! Fuzz target `control`: see [`hb_fuzz::control`] and docs/fuzzing.md. Outside afl-fuzz it runs
//! once on standard input (how a crash is reproduced).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        hb_fuzz::control(data);
    });
}
