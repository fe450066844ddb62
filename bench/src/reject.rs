//! `reject-bench`: what one rejected datagram costs the receiving node, through
//! `hb_proto::open` and through `hb_core::Core::handle_datagram` (which adds counting and
//! rate-limited logging). Each figure is the median of several runs of many datagrams, in
//! nanoseconds per datagram. See docs/benchmarks.md.
//!
//! It uses only APIs that predate the verify-first change, so the same source can be built
//! against an older hb-proto for a before/after comparison.

#![forbid(unsafe_code)]

use std::hint::black_box;
use std::time::{Duration, Instant as WallInstant};

use anyhow::Result;
use clap::Parser;
use hb_config::{NodeName, Timing};
use hb_core::{AutoFailback, Boot, Core, CoreConfig, Instant};
use hb_proto::{AuthMethod, KeyRing, Message, MsgFmt, open, seal};

/// Cost per rejected datagram of hb_proto::open and hb_core::Core::handle_datagram.
#[derive(Debug, Parser)]
#[command(name = "reject-bench", version)]
struct Args {
    /// Runs per case; the median is reported.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=1000))]
    runs: u32,
    /// Minimum duration of one run, in milliseconds.
    #[arg(long, default_value_t = 200)]
    run_ms: u64,
}

fn keys(secret: &str) -> KeyRing {
    KeyRing::single(1, AuthMethod::Sha1, secret).expect("valid key ring")
}

/// node2's status heartbeat with sequence number `seq`, as Heartbeat 3.0.6 sends it.
fn status(seq: u64) -> Message {
    let mut m = Message::new()
        .with("t", "status")
        .with("st", "active")
        .with("dt", "bb8")
        .with("protocol", "1")
        .with("src", "node2");
    m.push_bin("srcuuid", [2u8; 16]);
    m.with("seq", format!("{seq:x}"))
        .with("hg", "c8")
        .with("ts", "6b059432")
        .with("ld", "0.10 0.14 0.07 4/140 1114")
        .with("ttl", "3")
}

fn core() -> Core {
    let cfg = CoreConfig {
        nodes: ["node1", "node2"]
            .iter()
            .filter_map(|n| NodeName::parse(n))
            .collect(),
        me: 0,
        timing: Timing::new(
            Duration::from_millis(50),
            Duration::from_millis(500),
            None,
            None,
        )
        .expect("valid timing"),
        links: vec!["eth0".into()],
        groups: Vec::new(),
        auto_failback: AutoFailback::Off,
        msgfmt: MsgFmt::Classic,
        keys: keys("labsecret"),
        hopfudge: 1,
        max_rexmit_delay: Duration::from_millis(250),
        ping: hb_core::PingSetup::default(),
        watchdog: false,
        fencing: None,
    };
    let boot = Boot {
        generation: 100,
        uuid: [1; 16],
        wall_clock_secs: 1_800_000_000,
        seed: 7,
        peers: hb_core::RememberedPeers::new(),
    };
    Core::new(cfg, boot, Instant::from_millis(0)).expect("valid core")
}

/// Median over `runs` runs of the cost of one call of `f`, in nanoseconds; each run calls it
/// for at least `run` (cycling through `inputs`).
fn median_ns(runs: u32, run: Duration, inputs: &[Vec<u8>], mut f: impl FnMut(&[u8])) -> f64 {
    let mut per_run = Vec::new();
    for _ in 0..runs {
        let start = WallInstant::now();
        let mut n: u64 = 0;
        while start.elapsed() < run {
            for d in inputs {
                f(black_box(d));
            }
            n += inputs.len() as u64;
        }
        per_run.push(start.elapsed().as_nanos() as f64 / n as f64);
    }
    per_run.sort_by(f64::total_cmp);
    per_run[per_run.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let run = Duration::from_millis(args.run_ms);
    let ours = keys("labsecret");
    let forger = keys("not-the-secret");
    let netstring_junk = hb_testdata::junk::netstring(32 * 1024 + 128, 4095);
    let classic_junk = hb_testdata::junk::classic(32 * 1024, 4096);
    let forged: Vec<Vec<u8>> = (1..=64)
        .map(|s| seal(&status(s), &forger, MsgFmt::Classic))
        .collect();
    let valid: Vec<Vec<u8>> = (1..=64)
        .map(|s| seal(&status(s), &ours, MsgFmt::Classic))
        .collect();
    assert!(open(&netstring_junk, &ours).is_err());
    assert!(open(&classic_junk, &ours).is_err());
    assert!(open(&forged[0], &ours).is_err());
    assert!(open(&valid[0], &ours).is_ok());

    let cases: [(&str, Vec<Vec<u8>>, bool); 4] = [
        (
            "(a) 32 KiB netstring, 4096 fields, wrong signature",
            vec![netstring_junk],
            true,
        ),
        (
            "(b) forged status (309 bytes), wrong signature",
            forged,
            true,
        ),
        ("(c) valid status (accepted, for reference)", valid, false),
        (
            "(d) 32 KiB classic, 4096 lines, wrong auth=",
            vec![classic_junk],
            true,
        ),
    ];
    println!(
        "reject-bench: median of {} runs of >= {} ms, ns per datagram",
        args.runs, args.run_ms
    );
    println!(
        "{:<55} {:>12} {:>14}",
        "datagram", "open", "handle_datagram"
    );
    for (name, inputs, rejected) in &cases {
        let open_ns = median_ns(args.runs, run, inputs, |d| {
            let r = open(d, &ours);
            assert_eq!(r.is_err(), *rejected);
            black_box(r.ok());
        });
        // The core: one fresh core per case; the clock advances by 1 us per datagram so
        // nothing expires (the valid statuses carry increasing sequence numbers, and
        // repeat as duplicates once all were seen).
        let mut c = core();
        let mut now = 0u64;
        let core_ns = median_ns(args.runs, run, inputs, |d| {
            now += 1_000;
            c.handle_datagram(Instant::from_nanos(now), 0, d);
            while c.poll_action().is_some() {}
        });
        println!("{name:<55} {open_ns:>12.0} {core_ns:>14.0}");
    }
    Ok(())
}
