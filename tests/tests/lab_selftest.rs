//! Self-tests of the namespace lab, independent of heartbeat-rs: the lab itself, its fault
//! injection, process handling and prober, and smoke tests of the reference implementations
//! (Debian's heartbeat 3.0.6 and keepalived) running in it.
//!
//! Needs root (prints a loud SKIP otherwise; fails under `CI=true`). Run with
//! `cargo test -p hb-nstests --test lab_selftest`.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use hb_nstests::cluster::{heartbeat306_binary, keepalived_binary};
use hb_nstests::netns;
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, LogFollower, ProbeConfig, ProbeOutcome, Timing,
    root_or_skip, skip_or_fail, wait_for, wait_for_log_line,
};

const PORT: u16 = 80;
const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
/// Generous connect timeout for one-shot reachability checks on a loaded 2-core machine.
fn patient() -> ProbeConfig {
    ProbeConfig {
        connect_timeout: Duration::from_millis(300),
        reply_timeout: Duration::from_millis(500),
        ..ProbeConfig::default()
    }
}

fn answered(lab: &Lab, target: SocketAddrV4) -> Option<String> {
    match lab.probe_once("client", target, &patient()) {
        Ok(ProbeOutcome::Answered(n)) => Some(n),
        _ => None,
    }
}

fn namespaces_of(lab: &Lab) -> Vec<String> {
    let mut v: Vec<String> = lab
        .hosts()
        .iter()
        .map(|h| lab.ns(h).expect("host").to_owned())
        .collect();
    v.push(lab.bridge_ns().to_owned());
    v
}

fn pid_gone(pid: u32) -> bool {
    // Gone, or a zombie waiting for its parent.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn lab_builds_a_lan_and_tears_everything_down() {
    if !root_or_skip("lab_builds_a_lan_and_tears_everything_down") {
        return;
    }
    let lab = Lab::new("selftest").expect("lab");
    let names = namespaces_of(&lab);
    for ns in &names {
        assert!(netns::exists(ns), "{ns} missing");
        assert!(ns.starts_with(lab.id()), "{ns}");
    }
    assert_eq!(lab.hosts(), ["node1", "node2", "client"]);
    assert_eq!(lab.ip("node1").unwrap(), Ipv4Addr::new(192, 0, 2, 11));
    assert_eq!(lab.ip("client").unwrap(), Ipv4Addr::new(192, 0, 2, 50));
    assert!(
        lab.has_address("node2", Ipv4Addr::new(192, 0, 2, 12))
            .unwrap()
    );
    assert!(
        !lab.has_address("node2", Ipv4Addr::new(192, 0, 2, 11))
            .unwrap()
    );
    assert!(
        lab.has_address("client", Ipv4Addr::LOCALHOST).unwrap(),
        "loopback is up"
    );
    let addr = lab
        .run("node1", &["ip", "-4", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(addr.contains("192.0.2.11/24 brd 192.0.2.255"), "{addr}");
    let link = lab.link_state("node1").unwrap();
    assert!(link.up && link.carrier, "{link:?}");
    assert!(lab.pings("client", "192.0.2.12".parse().unwrap()).unwrap());

    // A process, and a grandchild that escapes its process group and session.
    let pidfile = lab.dir().join("grandchild.pid");
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(format!(
        "setsid sleep 600 & echo $! > {}; echo started; exec sleep 600",
        pidfile.display()
    ));
    let proc = lab.spawn("node1", "sleeper", &cmd).unwrap();
    wait_for_log_line(proc.log_path(), "started", Duration::from_secs(10)).unwrap();
    let grandchild: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(!pid_gone(grandchild));
    let dir = lab.dir().to_owned();

    drop(lab);
    for ns in &names {
        assert!(!netns::exists(ns), "{ns} left behind");
    }
    assert!(!dir.exists(), "lab directory left behind");
    assert!(
        proc.try_wait().unwrap().is_some(),
        "spawned process still running"
    );
    wait_for(
        "the escaped grandchild to die",
        Duration::from_secs(5),
        || Ok(pid_gone(grandchild)),
    )
    .unwrap();
}

#[test]
fn ipv6_addresses_are_given_without_dad_and_usable_at_once() {
    if !root_or_skip("ipv6_addresses_are_given_without_dad_and_usable_at_once") {
        return;
    }
    let lab = Lab::new("v6self").expect("lab");
    assert_eq!(
        lab.ipv6("node1").unwrap(),
        "2001:db8::11".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        lab.ipv6("client").unwrap(),
        "2001:db8::50".parse::<Ipv6Addr>().unwrap()
    );
    lab.add_ipv6().expect("IPv6 addresses");
    let addr = lab
        .run("node2", &["ip", "-6", "-o", "addr", "show", "dev", "eth0"])
        .unwrap();
    assert!(addr.contains("2001:db8::12/64"), "{addr}");
    // No duplicate address detection: nothing is tentative, the first ping answers.
    assert!(
        !addr.contains("2001:db8::12/64 scope global tentative"),
        "{addr}"
    );
    assert!(
        lab.pings("node1", "2001:db8::12".parse().unwrap()).unwrap(),
        "node1 reaches node2 over IPv6"
    );
}

#[test]
fn lab_is_torn_down_when_the_test_body_panics() {
    if !root_or_skip("lab_is_torn_down_when_the_test_body_panics") {
        return;
    }
    let mut seen: Option<(Vec<String>, PathBuf)> = None;
    let result = catch_unwind(AssertUnwindSafe(|| {
        let lab = Lab::with_nodes("panic", 1).expect("lab");
        let _proc = lab
            .spawn("node1", "sleeper", Command::new("sleep").arg("600"))
            .unwrap();
        seen = Some((namespaces_of(&lab), lab.dir().to_owned()));
        panic!("deliberate panic inside a lab test");
    }));
    assert!(result.is_err());
    let (names, dir) = seen.expect("lab was built");
    assert_eq!(names.len(), 3, "node1, client, bridge");
    for ns in &names {
        assert!(!netns::exists(ns), "{ns} left behind after a panic");
    }
    // Files are kept for post-mortems when a test panics; this one was deliberate.
    assert!(dir.exists(), "a panicking lab keeps its files");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Removes a namespace this test created by hand, also on panic.
struct NsGuard(String);
impl Drop for NsGuard {
    fn drop(&mut self) {
        let _ = netns::delete(&self.0);
    }
}

#[test]
fn stale_namespaces_of_dead_lab_processes_are_swept() {
    if !root_or_skip("stale_namespaces_of_dead_lab_processes_are_swept") {
        return;
    }
    let mut child = Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let stale = format!("hblab-stale-{dead_pid}-0-node1");
    let live = format!("hblab-stale-{}-{}-node1", std::process::id(), u32::MAX);
    let _guards = (NsGuard(stale.clone()), NsGuard(live.clone()));
    netns::add(&stale).unwrap();
    netns::add(&live).unwrap();
    let swept = netns::sweep_stale_namespaces().unwrap();
    // A lab built by a parallel test may have swept it first; either way it must be gone.
    assert!(
        !netns::exists(&stale),
        "stale namespace survived the sweep: {swept:?}"
    );
    assert!(
        netns::exists(&live),
        "the namespace of a live process was swept"
    );
    assert!(!swept.contains(&live));
}

#[test]
fn client_reachability_follows_cut_heal_isolate_and_rejoin() {
    if !root_or_skip("client_reachability_follows_cut_heal_isolate_and_rejoin") {
        return;
    }
    let lab = Lab::new("faults").unwrap();
    for n in lab.nodes() {
        lab.start_listener(n, PORT).unwrap();
    }
    let node1 = SocketAddrV4::new(lab.ip("node1").unwrap(), PORT);
    let node2 = SocketAddrV4::new(lab.ip("node2").unwrap(), PORT);
    assert_eq!(answered(&lab, node1).as_deref(), Some("node1"));
    assert_eq!(answered(&lab, node2).as_deref(), Some("node2"));

    lab.cut("node1").unwrap();
    let link = lab.link_state("node1").unwrap();
    assert!(
        link.up && !link.carrier,
        "cut must show NO-CARRIER on node1: {link:?}"
    );
    assert_eq!(answered(&lab, node1), None);
    assert_eq!(
        answered(&lab, node2).as_deref(),
        Some("node2"),
        "node2 unaffected"
    );

    lab.heal("node1").unwrap();
    wait_for(
        "node1 reachable after heal",
        Duration::from_secs(10),
        || Ok(answered(&lab, node1).as_deref() == Some("node1")),
    )
    .unwrap();

    lab.isolate_silently("node1").unwrap();
    let link = lab.link_state("node1").unwrap();
    assert!(
        link.up && link.carrier,
        "silent isolation keeps carrier: {link:?}"
    );
    assert_eq!(answered(&lab, node1), None);
    assert_eq!(answered(&lab, node2).as_deref(), Some("node2"));

    lab.rejoin("node1").unwrap();
    wait_for(
        "node1 reachable after rejoin",
        Duration::from_secs(10),
        || Ok(answered(&lab, node1).as_deref() == Some("node1")),
    )
    .unwrap();

    lab.stop_listener("node1", PORT).unwrap();
    assert_eq!(
        lab.probe_once("client", node1, &patient()).unwrap(),
        ProbeOutcome::Refused,
        "a stopped listener refuses"
    );
    assert!(lab.stop_listener("node1", PORT).is_err(), "already stopped");
}

#[test]
fn processes_log_output_and_stop_on_signals() {
    if !root_or_skip("processes_log_output_and_stop_on_signals") {
        return;
    }
    let lab = Lab::with_nodes("procs", 1).unwrap();
    let mut cmd = Command::new("sh");
    cmd.args([
        "-c",
        "echo \"ip=$(ip -4 -o addr show dev eth0)\"; echo ready >&2; exec sleep 600",
    ]);
    let proc = lab.spawn("node1", "script", &cmd).unwrap();
    let line = wait_for_log_line(proc.log_path(), "ready", Duration::from_secs(10)).unwrap();
    assert_eq!(line, "ready");
    assert!(
        proc.log_text().unwrap().contains("192.0.2.11/24"),
        "stdout is logged too"
    );
    assert!(proc.is_running());
    assert!(
        proc.wait_timeout(Duration::from_millis(20)).is_err(),
        "still running"
    );
    proc.terminate().unwrap();
    let status = proc.wait_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15)
    );
    assert!(
        proc.terminate().is_err(),
        "signalling an exited process is an error"
    );

    // A process ignoring SIGTERM is killed after the grace period.
    let mut stubborn = Command::new("sh");
    stubborn.args(["-c", "trap '' TERM; echo armed; while :; do sleep 1; done"]);
    let proc = lab.spawn("node1", "stubborn", &stubborn).unwrap();
    wait_for_log_line(proc.log_path(), "armed", Duration::from_secs(10)).unwrap();
    let (status, in_time) = proc.stop(Duration::from_millis(200)).unwrap();
    assert!(!in_time);
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );

    assert!(lab.run("node1", &["false"]).is_err());
    assert!(
        lab.spawn("node7", "x", &Command::new("true")).is_err(),
        "unknown host"
    );
}

#[test]
fn prober_measures_a_known_listener_outage() {
    if !root_or_skip("prober_measures_a_known_listener_outage") {
        return;
    }
    let lab = Lab::with_nodes("prober", 1).unwrap();
    lab.start_listener("node1", PORT).unwrap();
    let target = SocketAddrV4::new(lab.ip("node1").unwrap(), PORT);
    let cfg = ProbeConfig::default();
    let prober = lab.start_prober("client", target, cfg).unwrap();
    wait_for("100 answers from node1", Duration::from_secs(10), || {
        Ok(prober.answers_from("node1") >= 100)
    })
    .unwrap();

    let t0 = Instant::now();
    lab.stop_listener("node1", PORT).unwrap();
    // The outage we inject: its length is the stimulus, not a synchronisation.
    thread::sleep(Duration::from_millis(300));
    lab.start_listener("node1", PORT).unwrap();
    let t1 = Instant::now();
    wait_for("node1 to answer again", Duration::from_secs(10), || {
        Ok(prober.first_answer_from("node1", t1).is_some())
    })
    .unwrap();
    let record = prober.stop().unwrap();

    let known = t1 - t0;
    let outage = record.outage_after(t0, Some("node1")).unwrap();
    eprintln!(
        "prober: injected {known:?}, measured {:?}, {} failed attempts",
        outage.duration, outage.failed_probes
    );
    let slack_low = Duration::from_millis(3);
    let slack_high = cfg.interval + Duration::from_millis(12);
    assert!(
        outage.duration + slack_low >= known && outage.duration <= known + slack_high,
        "measured {:?}, injected {known:?}; {}",
        outage.duration,
        record.timeline(t0)
    );
    let expected_failures = (known.as_millis() / cfg.interval.as_millis()) as usize;
    assert!(
        outage.failed_probes >= expected_failures / 2
            && outage.failed_probes <= expected_failures + 5,
        "{} failed attempts for a {known:?} outage at {:?} intervals",
        outage.failed_probes,
        cfg.interval
    );
    assert_eq!(outage.last_ok_by.as_deref(), Some("node1"));
    assert!(outage.since_event <= known + slack_high);
    // Attempts start every interval: no large holes in the record outside the outage.
    let starts: Vec<Instant> = record.probes.iter().map(|p| p.start).collect();
    let max_gap = starts.windows(2).map(|w| w[1] - w[0]).max().unwrap();
    assert!(
        max_gap < Duration::from_millis(50),
        "prober stalled for {max_gap:?}"
    );
}

fn reference_available(test: &str, imp: Implementation) -> bool {
    let found = match imp {
        Implementation::Heartbeat306 => heartbeat306_binary().map(drop),
        Implementation::Keepalived => keepalived_binary().map(drop),
        Implementation::Ours => Ok(()),
    };
    match found {
        Ok(()) => true,
        Err(e) => skip_or_fail(test, &format!("{imp} is not available: {e:#}")),
    }
}

/// Starts `imp` on node1 and node2, checks node1 alone holds the VIP and serves the client, cuts
/// node1 and checks node2 takes over. Returns node2's daemon log for further checks.
fn vip_fails_over_on_cut(
    lab: &Lab,
    imp: Implementation,
    timing: &str,
    startup: Duration,
) -> PathBuf {
    for n in lab.nodes() {
        lab.start_listener(n, PORT).unwrap();
    }
    let timing: Timing = timing.parse().unwrap();
    let mut cluster = Cluster::new(lab, ClusterSpec::new(imp, timing)).unwrap();
    cluster.start_all().unwrap();
    cluster.wait_for_sole_holder("node1", startup).unwrap();
    let vip = SocketAddrV4::new(VIP, PORT);
    wait_for(
        "the client served by node1",
        Duration::from_secs(10),
        || Ok(answered(lab, vip).as_deref() == Some("node1")),
    )
    .unwrap();

    lab.cut("node1").unwrap();
    wait_for("node2 to hold the VIP", Duration::from_secs(10), || {
        cluster.check_running()?;
        Ok(cluster.vip_holders()?.contains(&"node2".to_owned()))
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", cluster.log_tail("node2", 30)));
    wait_for(
        "the client served by node2",
        Duration::from_secs(10),
        || Ok(answered(lab, vip).as_deref() == Some("node2")),
    )
    .unwrap();
    cluster.log_path("node2").unwrap()
}

#[test]
fn debian_heartbeat_brings_up_the_vip_and_fails_over_on_cut() {
    let name = "debian_heartbeat_brings_up_the_vip_and_fails_over_on_cut";
    if !root_or_skip(name) || !reference_available(name, Implementation::Heartbeat306) {
        return;
    }
    let lab = Lab::new("hb306").unwrap();
    // heartbeat 3.0.6 waits a fixed ~10 s before acquiring resources at startup.
    let log = vip_fails_over_on_cut(
        &lab,
        Implementation::Heartbeat306,
        "100/300",
        Duration::from_secs(60),
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("node node1: is dead"),
        "node2 declared node1 dead:\n{text}"
    );
    assert!(
        text.contains("Taking over resource group IPaddr2::192.0.2.100/24/eth0"),
        "node2 took the group over:\n{text}"
    );
    // Each node ran with its own host name, /etc/ha.d and /var/log.
    let node1_log = lab.dir().join("heartbeat-node1/log/ha-log");
    let mut f = LogFollower::new(&node1_log);
    let line = f
        .wait_for_line("node1's own log", Duration::from_secs(1), |l| {
            l.contains(" node1 heartbeat: ")
        })
        .unwrap();
    assert!(!line.contains("node2"), "{line}");
    assert!(
        !std::fs::read_to_string(&node1_log)
            .unwrap()
            .contains(" node2 heartbeat: ")
    );
}

#[test]
fn debian_keepalived_brings_up_the_vip_and_fails_over_on_cut() {
    let name = "debian_keepalived_brings_up_the_vip_and_fails_over_on_cut";
    if !root_or_skip(name) || !reference_available(name, Implementation::Keepalived) {
        return;
    }
    let lab = Lab::new("keepalived").unwrap();
    let log = vip_fails_over_on_cut(
        &lab,
        Implementation::Keepalived,
        "100/300",
        Duration::from_secs(30),
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Entering MASTER STATE"),
        "node2 became master:\n{text}"
    );
    // The cut node sees no carrier, enters FAULT and drops the VIP.
    wait_for(
        "node2 alone to hold the VIP",
        Duration::from_secs(10),
        || Ok(lab.address_holders(VIP)? == ["node2"]),
    )
    .unwrap();
}

/// A stand-in for heartbeat-rs: records its command line, takes the VIP of `haresources` when
/// the node owns it, and releases it on SIGTERM.
const FAKE_DAEMON: &str = r#"#!/bin/sh
set -eu
while [ $# -gt 0 ]; do
  case "$1" in
    --config-dir) conf=$2; shift ;;
    --node-name) node=$2; shift ;;
    --run-dir) run=$2; shift ;;
  esac
  shift
done
set -- $(cat "$conf/haresources")
owner=$1; resource=${2#IPaddr::}; addr=${resource%/*}
release() { if [ "$owner" = "$node" ]; then ip addr del "$addr" dev eth0; fi; exit 0; }
trap release TERM
if [ "$owner" = "$node" ]; then ip addr add "$addr" dev eth0; fi
echo "$node running" > "$run/status"
while :; do sleep 0.05; done
"#;

#[test]
fn ours_driver_follows_the_command_line_contract() {
    if !root_or_skip("ours_driver_follows_the_command_line_contract") {
        return;
    }
    let lab = Lab::new("oursdrv").unwrap();
    let bin_dir = lab.dir().join("fakebin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    let fake = bin_dir.join("heartbeat");
    std::fs::write(&fake, FAKE_DAEMON).unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();

    let mut spec = ClusterSpec::new(Implementation::Ours, "100/300".parse().unwrap());
    spec.ours_bin_dir = Some(bin_dir.clone());
    let mut cluster = Cluster::new(&lab, spec).unwrap();
    assert_eq!(cluster.binary(), fake);
    cluster.start_all().unwrap();
    cluster
        .wait_for_sole_holder("node1", Duration::from_secs(10))
        .unwrap();
    for node in ["node1", "node2"] {
        let status = cluster.node_dir(node).join("run/status");
        wait_for(
            &format!("{node}'s daemon to run"),
            Duration::from_secs(10),
            || Ok(std::fs::read_to_string(&status).is_ok_and(|s| s == format!("{node} running\n"))),
        )
        .unwrap();
        assert!(cluster.is_running(node));
    }
    let status = cluster.stop("node1", Duration::from_secs(10)).unwrap();
    assert!(status.success(), "graceful stop exits 0: {status}");
    assert!(
        lab.address_holders(VIP).unwrap().is_empty(),
        "VIP released on SIGTERM"
    );
    cluster.kill("node2").unwrap();
    assert!(!cluster.is_running("node2"));
}
