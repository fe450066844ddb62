//! A junk flood at one node must not wedge it: two of our daemons run a cluster with
//! millisecond timings (keepalive 50 ms, deadtime 500 ms) while the client namespace sends
//! node1 maximum-size netstring datagrams with thousands of fields and a well-formed but
//! wrong sha1 signature, as fast as one thread can, for a bounded time and count: first the
//! largest UDP datagrams, then the largest that fit one frame. Nobody may
//! be declared dead, no takeover may happen, and node2's heartbeats must keep reaching node1.
//! The victim's authentication-failure counter proves the flood arrived (and so that the
//! time it lasted, many deadtimes, really passed for the daemon), and the victim must answer
//! a status request on its control socket while the flood is still going.
//!
//! The daemons are release builds (`cargo build --release -p hb-daemon -p hb-addr`;
//! `$HB_RELEASE_BIN_DIR` overrides the directory): this is a capacity test, and what operators
//! run is a release build. A debug daemon rejects about 40,000 one-frame junk datagrams a
//! second, less than one sender reaches in the lab, and then loses heartbeats with the junk.
//!
//! Root is required (without it the test prints a loud SKIP, and fails under CI=true).
//! Under `CI=true` each flood lasts 1.5 s, else 5 s.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use hb_control::NodeStatus;
use hb_nstests::cluster::ours_release_bin_dir;
use hb_nstests::ours::{counters, peer_status, start_settled};
use hb_nstests::{Cluster, ClusterSpec, Implementation, Lab, LogFollower, netns, root_or_skip};

/// The heartbeat port.
const PORT: u16 = 694;
/// The largest UDP payload over IPv4.
const MAX_UDP: usize = 65_507;
/// The largest UDP payload in one 1500-byte Ethernet frame.
const MTU_UDP: usize = 1_472;
/// Upper bound of datagrams sent, whatever the rate.
const MAX_SENT: u64 = 5_000_000;

/// A netstring datagram of exactly `len` bytes: as many one-letter fields as fit (at most
/// 4095, the most the old item cap let through), one padding field, and a well-formed sha1
/// trailer for key 1 that does not verify.
fn junk(len: usize) -> Vec<u8> {
    hb_testdata::junk::netstring(len, ((len - 100) / 8).min(4095))
}

/// Sends `datagram` to `to` from `sock` until `duration` has passed or `MAX_SENT` were sent.
/// Returns (sent, refused by the local stack, elapsed).
fn flood(
    sock: &UdpSocket,
    to: SocketAddrV4,
    datagram: &[u8],
    duration: Duration,
) -> (u64, u64, Duration) {
    let start = Instant::now();
    let (mut sent, mut refused) = (0u64, 0u64);
    while sent < MAX_SENT {
        if sent % 256 == 0 && start.elapsed() >= duration {
            break;
        }
        // ENOBUFS or an ICMP-induced ECONNREFUSED: the flood goes on.
        match sock.send_to(datagram, to) {
            Ok(_) => sent += 1,
            Err(_) => refused += 1,
        }
    }
    (sent, refused, start.elapsed())
}

/// One flood of `size`-byte junk at node1 for `duration`, then the checks.
fn flood_phase(lab: &Lab, c: &Cluster<'_>, size: usize, duration: Duration) -> Result<()> {
    let mut logs = [
        LogFollower::from_end(c.log_path("node1")?)?,
        LogFollower::from_end(c.log_path("node2")?)?,
    ];
    let before = counters(c, "node1")?;
    let datagram = junk(size);
    let sock = netns::in_netns(lab.ns("client")?, || {
        Ok(UdpSocket::bind(SocketAddrV4::new(
            Ipv4Addr::UNSPECIFIED,
            0,
        ))?)
    })?;
    let victim = SocketAddrV4::new(lab.ip("node1")?, PORT);
    let base = before.auth_failed + before.malformed;
    let flooding = AtomicBool::new(true);
    let ((sent, refused, took), during) = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let r = flood(&sock, victim, &datagram, duration);
            flooding.store(false, Ordering::SeqCst);
            r
        });
        // The control socket answers during the flood: a status whose counters show the
        // junk arriving, received before the flood ended.
        let mut during = None;
        while flooding.load(Ordering::SeqCst) {
            let asked = Instant::now();
            let Ok(now) = counters(c, "node1") else { break };
            let seen = now.auth_failed + now.malformed - base;
            if seen >= 1_000 && flooding.load(Ordering::SeqCst) {
                during = Some((seen, asked.elapsed()));
                break;
            }
        }
        (sender.join().expect("the flood thread panicked"), during)
    });
    let Some((seen, answered_in)) = during else {
        anyhow::bail!("node1 answered no status request during the {size}-byte flood");
    };
    println!(
        "during the flood node1 answered a status request in {answered_in:.2?} ({seen} junk \
         datagrams rejected by then)"
    );

    let after = counters(c, "node1")?;
    let rejected = (after.auth_failed + after.malformed) - (before.auth_failed + before.malformed);
    let heartbeats = after.accepted - before.accepted;
    let rate = sent as f64 / took.as_secs_f64();
    println!(
        "flood of {size}-byte datagrams: {sent} sent in {took:.2?} ({rate:.0}/s, {:.0} Mbit/s), \
         {refused} refused locally; node1 rejected {rejected} ({:.0}/s; auth_failed +{}, \
         malformed +{}) and accepted {heartbeats} from node2",
        rate * size as f64 * 8.0 / 1e6,
        rejected as f64 / took.as_secs_f64(),
        after.auth_failed - before.auth_failed,
        after.malformed - before.malformed,
    );
    // The flood arrived: many times more junk than the heartbeats of the whole flood.
    ensure!(
        rejected >= 1_000,
        "only {rejected} junk datagrams reached node1 of {sent} sent"
    );
    // Nobody died and nothing moved.
    for (log, node) in logs.iter_mut().zip(["node1", "node2"]) {
        let deaths: Vec<String> = log
            .new_lines()?
            .into_iter()
            .filter(|l| l.contains("-> dead") || l.contains("taking over"))
            .collect();
        ensure!(deaths.is_empty(), "{node} during the flood: {deaths:#?}");
    }
    ensure!(peer_status(c, "node1", "node2")? == NodeStatus::Active);
    ensure!(peer_status(c, "node2", "node1")? == NodeStatus::Active);
    ensure!(c.vip_holders()? == ["node1"]);
    // node2's heartbeats kept arriving: at least 90 % of one per keepalive.
    let expected = took.as_millis() as u64 / 50;
    ensure!(
        heartbeats * 10 >= expected * 9,
        "node1 accepted only {heartbeats} datagrams from node2 in {took:?} (about {expected} \
         heartbeats were sent)"
    );
    Ok(())
}

#[test]
fn a_junk_flood_does_not_stop_heartbeats_or_declare_anyone_dead() -> Result<()> {
    if !root_or_skip("a_junk_flood_does_not_stop_heartbeats_or_declare_anyone_dead") {
        return Ok(());
    }
    let lab = Lab::new("flood")?;
    let mut spec = ClusterSpec::new(Implementation::Ours, "50/500".parse()?);
    spec.ours_bin_dir = Some(ours_release_bin_dir());
    let mut c = Cluster::new(&lab, spec)?;
    start_settled(&mut c)?;
    let each = if hb_nstests::under_ci() { 1500 } else { 5000 };
    // The largest UDP datagram (fragmented on the wire: the kernel's reassembly limits how
    // many arrive), then the largest that fits one frame of the lab's 1500-byte MTU (no
    // fragmentation: the highest rate of datagrams the sender reaches).
    for size in [MAX_UDP, MTU_UDP] {
        flood_phase(&lab, &c, size, Duration::from_millis(each))?;
    }
    Ok(())
}
