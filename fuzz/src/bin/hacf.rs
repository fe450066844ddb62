//! Fuzz target `hacf`: see [`hb_fuzz::hacf`] and docs/fuzzing.md. Outside afl-fuzz it runs
//! once on standard input (how a crash is reproduced).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        hb_fuzz::hacf(data);
    });
}
