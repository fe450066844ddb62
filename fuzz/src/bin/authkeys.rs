//! Fuzz target `authkeys`: see [`hb_fuzz::authkeys`] and docs/fuzzing.md. Outside afl-fuzz it runs
//! once on standard input (how a crash is reproduced).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        hb_fuzz::authkeys(data);
    });
}
