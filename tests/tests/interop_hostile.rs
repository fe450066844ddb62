//! Hostile input against a mixed cluster: Debian's Heartbeat 3.0.6 on node1, ours on node2,
//! and the client host sending them junk. A malformed datagram kills a 3.0.6 node (captures
//! E2-E4, spec §13); ours must survive every one. The junk: a few thousand mutations of every
//! datagram of the shared captures (raw byte mutations, which fail authentication or framing,
//! and field mutations signed with the cluster's key, which reach the parsers and the core),
//! the AFL++ corpus of the `datagram` fuzz target when a fuzz run left one
//! (`fuzz/target/afl/datagram/corpus`), then E2, E3 and E4 themselves. Before the junk, the
//! Heartbeat node must not have complained about a single datagram of ours.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hb_nstests::mixed::{Pair, Pairing};
use hb_nstests::netns;
use hb_nstests::ours::counters;
use hb_nstests::{ClusterSpec, Implementation, Lab, read_log, root_or_skip, wait_for};
use hb_proto::{Message, MsgFmt, Value};

const SECOND: Duration = Duration::from_secs(1);
/// Mutations per captured datagram.
const MUTATIONS: usize = 6;
/// At most this many files of the AFL++ corpus.
const AFL_FILES: usize = 2_000;

/// A small deterministic generator (xorshift64*): the same junk on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Values that have broken parsers: empty, huge, signs, non-hex, separators, NULs.
const NASTY: [&[u8]; 12] = [
    b"",
    b"-1",
    b"18446744073709551616",
    b"ffffffffffffffffffff",
    b"zz",
    b"1,2",
    b"=\n=",
    b"\0",
    b"(7)x",
    b"node1 node2 node3 node4",
    b"%%%",
    b"0x10",
];

/// Raw mutations of `d`: flipped bytes, truncation, duplication, inserted framing.
fn raw_mutation(rng: &mut Rng, d: &[u8]) -> Vec<u8> {
    let mut v = d.to_vec();
    match rng.below(5) {
        0 => {
            for _ in 0..=rng.below(8) {
                let i = rng.below(v.len());
                if let Some(b) = v.get_mut(i) {
                    *b ^= 1 << rng.below(8);
                }
            }
        }
        1 => v.truncate(rng.below(v.len())),
        2 => {
            let i = rng.below(v.len());
            v.splice(i..i, b"(7)".iter().copied());
        }
        3 => {
            let tail = v[rng.below(v.len())..].to_vec();
            v.extend(tail);
        }
        _ => {
            let i = rng.below(v.len());
            v.splice(i..i, NASTY[rng.below(NASTY.len())].iter().copied());
        }
    }
    v
}

/// A field mutation of `msg`, signed with the cluster's key so that it passes authentication.
fn signed_mutation(rng: &mut Rng, msg: &Message, keys: &hb_proto::KeyRing) -> Vec<u8> {
    let mut m = msg.clone();
    m.remove_all("auth");
    let names: Vec<String> = m.fields().iter().map(|f| f.name.clone()).collect();
    for _ in 0..=rng.below(3) {
        match rng.below(4) {
            0 if !names.is_empty() => {
                let name = &names[rng.below(names.len())];
                m.set_str(name, NASTY[rng.below(NASTY.len())]);
            }
            1 => {
                const TYPES: [&str; 12] = [
                    "status",
                    "NS_rexmit",
                    "NS_ackmsg",
                    "NS_reqnodes",
                    "NS_repnodes",
                    "ask_resources",
                    "ip-request",
                    "ip-request-resp",
                    "resource",
                    "starting",
                    "shutdone",
                    "stonith",
                ];
                m.set_str("t", TYPES[rng.below(TYPES.len())]);
            }
            2 => m.push(hb_proto::Field {
                name: "x".to_owned(),
                value: Value::Binary(vec![0xff; rng.below(600)]),
            }),
            _ if !names.is_empty() => {
                let name = &names[rng.below(names.len())];
                m.remove_all(name);
            }
            _ => {}
        }
    }
    let fmt = if rng.below(2) == 0 {
        MsgFmt::Classic
    } else {
        MsgFmt::Netstring
    };
    hb_proto::seal(&m, keys, fmt)
}

/// The AFL++ corpus of the `datagram` target, if a fuzz run left one.
fn afl_corpus() -> Vec<Vec<u8>> {
    let dir = hb_nstests::repo_root().join("fuzz/target/afl/datagram/corpus");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries.filter_map(|e| Some(e.ok()?.path())).collect();
    files.sort();
    files
        .into_iter()
        .take(AFL_FILES)
        .filter_map(|p| std::fs::read(p).ok())
        .filter(|d| !d.is_empty() && d.len() <= 65_507)
        .collect()
}

#[test]
fn junk_may_kill_heartbeat_306_but_never_ours() -> Result<()> {
    if !root_or_skip("junk_may_kill_heartbeat_306_but_never_ours") {
        return Ok(());
    }
    let Some(shared) = hb_testdata::shared_dir() else {
        return Ok(());
    };
    let captured = hb_testdata::all_datagrams(&shared);
    ensure!(!captured.is_empty(), "no captured datagrams");
    let find = |scenario: &str| -> Result<Vec<Vec<u8>>> {
        let v: Vec<Vec<u8>> = captured
            .iter()
            .filter(|d| d.scenario == scenario && !d.sent_by_real_daemon())
            .map(|d| d.payload.clone())
            .collect();
        ensure!(!v.is_empty(), "no injected datagram in {scenario}");
        Ok(v)
    };
    let killers: Vec<Vec<u8>> = ["E2", "E3", "E4"]
        .iter()
        .map(|s| find(s))
        .collect::<Result<Vec<_>>>()?
        .concat();

    let lab = Lab::new("hostile")?;
    // The lab's key is the captures' (`1 sha1 labsecret`): E2 and E3 are signed with it.
    let mut spec = ClusterSpec::new(Implementation::Ours, "200/2000/1000/6000".parse()?);
    spec.haresources = Some("node1 IPaddr2::192.0.2.100/24/eth0\n".to_owned());
    let keys = hb_testdata::default_ring("E2");
    let pairing = Pairing::new(Implementation::Heartbeat306, Implementation::Ours);
    let mut pair = Pair::new(&lab, pairing, &spec)?;
    pair.start("node1")?;
    pair.start("node2")?;
    wait_for("both active", 30 * SECOND, || {
        pair.check_running()?;
        Ok(
            pair.nodestatus("node1", "node2").unwrap_or_default() == "active"
                && pair.nodestatus("node2", "node1").unwrap_or_default() == "active",
        )
    })
    .with_context(|| pair.log_tails(20))?;
    let hb_log = pair.cluster("node1")?.log_path("node1")?;
    let before = read_log(&hb_log);
    for bad in [
        "authentication failed",
        "authtoken does not match",
        "bad packet",
    ] {
        ensure!(
            !before.contains(bad),
            "Heartbeat complained about ours before any junk ({bad})"
        );
    }

    let mut rng = Rng(0x6865_6172_7462_6561);
    let mut junk = Vec::new();
    for d in &captured {
        for _ in 0..MUTATIONS {
            junk.push(raw_mutation(&mut rng, &d.payload));
        }
        if let Ok(decoded) = hb_proto::decode(&d.payload) {
            for _ in 0..MUTATIONS {
                junk.push(signed_mutation(&mut rng, &decoded.msg, &keys));
            }
        }
    }
    let afl = afl_corpus();
    let generated = junk.len();
    junk.extend(afl.iter().cloned());

    let sock = netns::in_netns(lab.ns("client")?, || {
        let s = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        s.set_broadcast(true)?;
        Ok(s)
    })?;
    let to = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 255), 694);
    let ours = pair.cluster("node2")?;
    let base = counters(ours, "node2")?;
    let seen = |c: hb_control::Counters| {
        c.malformed + c.auth_failed + c.unknown_node + c.replayed + c.duplicate + c.accepted
    };
    let mut last = seen(base);
    for (i, d) in junk.iter().enumerate() {
        // An oversized datagram is refused by the kernel: that is not the test's concern.
        let _ = sock.send_to(d, to);
        if i % 200 == 199 {
            // Keep pace with ours (its socket queue is bounded): it has read some of this
            // batch (not every datagram is counted: copies of its own are ignored), and lives.
            wait_for("ours to read the junk so far", 10 * SECOND, || {
                ensure!(
                    ours.is_running("node2"),
                    "ours died after {} junk datagrams\n{}",
                    i + 1,
                    pair.log_tails(30)
                );
                Ok(seen(counters(ours, "node2")?) > last)
            })?;
            last = seen(counters(ours, "node2")?);
        }
    }
    ensure!(ours.is_running("node2"), "ours died");
    // The captured killers, one at a time while Heartbeat lives: each has killed a 3.0.6
    // node. Its death shows as ours declaring it dead.
    let mut killed_by = None;
    for (name, d) in ["E2", "E3", "E4"].iter().zip(&killers) {
        if killed_by.is_some() {
            let _ = sock.send_to(d, to);
            continue;
        }
        let _ = sock.send_to(d, to);
        let dead = wait_for(&format!("{name} to kill Heartbeat"), 10 * SECOND, || {
            Ok(pair.nodestatus("node2", "node1")? == "dead")
        });
        if dead.is_ok() {
            killed_by = Some(*name);
        }
    }
    ensure!(ours.is_running("node2"), "ours died");
    let rsc = pair.cl_status("node2", &["rscstatus"])?;
    // Heartbeat died: ours takes the VIP over as from any dead node.
    if killed_by.is_some() {
        wait_for("ours to take the VIP over", 20 * SECOND, || {
            Ok(pair.holders("192.0.2.100".parse()?)? == ["node2"])
        })
        .with_context(|| pair.log_tails(20))?;
    }
    let c = counters(ours, "node2")?;
    println!(
        "sent {} datagrams ({generated} generated, {} from the AFL++ corpus, {} of E2-E4): \
         ours alive (rscstatus {rsc}), refused {} malformed and {} unauthenticated; Heartbeat \
         3.0.6 {}",
        junk.len() + killers.len(),
        afl.len(),
        killers.len(),
        c.malformed - base.malformed,
        c.auth_failed - base.auth_failed,
        killed_by.map_or_else(|| "survived".to_owned(), |k| format!("was killed by {k}"))
    );
    Ok(())
}
