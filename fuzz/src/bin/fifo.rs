//! Fuzz target `fifo`: see [`hb_fuzz::fifo`] and docs/fuzzing.md. Outside afl-fuzz it runs once
//! on standard input (how a crash is reproduced).

fn main() {
    afl::fuzz!(|data: &[u8]| {
        hb_fuzz::fifo(data);
    });
}
