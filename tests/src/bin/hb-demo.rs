//! `hb-demo`: a two-node heartbeat-rs cluster on this machine, in network namespaces.
//!
//! Builds a LAN (node1 192.0.2.11, node2 192.0.2.12, client 192.0.2.50, a private bridge),
//! runs a small web service on both nodes, starts heartbeat-rs on both with a virtual IP
//! 192.0.2.100 that prefers node1, and then shows, with a client connecting to the VIP every
//! 2 ms: the start-up, a cut of node1's cable, the heal, and a graceful stop. Everything is
//! torn down at the end (and on failure). Needs root. Run it through `scripts/demo`.

#![forbid(unsafe_code)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hb_control::NodeStatus;
use hb_nstests::ours::{peer_status, status};
use hb_nstests::{Cluster, ClusterSpec, Implementation, Lab, ProbeConfig, wait_for};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);

fn say(what: &str) {
    println!("\n== {what}");
}

fn main() -> Result<()> {
    if !hb_nstests::is_root() {
        bail!("the demo creates network namespaces: run it as root (sudo scripts/demo)");
    }
    let timing = "100/300/150/2000";
    let lab = Lab::new("demo")?;
    for n in ["node1", "node2"] {
        lab.start_listener(n, 80)?;
    }
    let spec = ClusterSpec::new(Implementation::Ours, timing.parse()?);
    let mut cluster = Cluster::new(&lab, spec)?;
    say("configuration (the files Heartbeat 3 reads; both nodes use the same)");
    let config = cluster.node_dir("node1").join("config");
    for f in ["ha.cf", "haresources"] {
        println!("--- {f}");
        print!("{}", std::fs::read_to_string(config.join(f))?);
    }

    say("starting heartbeat-rs on node1 and node2");
    let t0 = Instant::now();
    cluster.start_all()?;
    let took = cluster.wait_for_sole_holder("node1", Duration::from_secs(20))?;
    println!(
        "VIP {VIP} up on node1 {} ms after start (Heartbeat 3.0.6 needs ~11 s)",
        took.as_millis()
    );
    wait_for("both nodes active", Duration::from_secs(10), || {
        Ok(
            peer_status(&cluster, "node1", "node2")? == NodeStatus::Active
                && peer_status(&cluster, "node2", "node1")? == NodeStatus::Active,
        )
    })?;
    let _ = t0;
    let s = status(&cluster, "node1")?;
    let group = s.groups.first();
    println!(
        "node1's view: rscstatus {:?}, group {:?} {:?}",
        s.rscstatus.as_ref().map_or("?", |r| r.as_str()),
        group.map_or("?", |g| g.key.as_str()),
        group.map_or("?", |g| g.state.as_str()),
    );

    let target = SocketAddrV4::new(VIP, 80);
    let prober = lab.start_prober("client", target, ProbeConfig::default())?;
    wait_for(
        "the client is served by node1",
        Duration::from_secs(10),
        || Ok(prober.answers_from("node1") >= 20),
    )?;

    say("cutting node1's cable (its link goes down)");
    let cut_at = Instant::now();
    lab.cut("node1")?;
    wait_for("node2 serves the client", Duration::from_secs(10), || {
        Ok(prober.first_answer_from("node2", cut_at).is_some())
    })?;
    let outage = prober.snapshot().outage_after(cut_at, Some("node2"))?;
    println!(
        "client outage {:.1} ms (deadtime 300 ms; {} failed connections); node2 now serves the VIP",
        outage.duration.as_secs_f64() * 1000.0,
        outage.failed_probes
    );

    say("healing the cable: both nodes held the VIP; exactly one keeps it");
    lab.heal("node1")?;
    wait_for("one VIP holder", Duration::from_secs(10), || {
        Ok(cluster.vip_holders()?.len() == 1)
    })?;
    let holder = cluster.vip_holders()?.join(",");
    println!("VIP held by {holder} only (the earlier acquisition wins; see docs/protocol.md)");
    let heal_at = Instant::now();
    wait_for(
        "the client is served by the holder",
        Duration::from_secs(10),
        || Ok(prober.first_answer_from(&holder, heal_at).is_some()),
    )?;

    say(&format!("graceful stop of {holder} (heartbeat -k)"));
    let other = if holder == "node1" { "node2" } else { "node1" };
    let stop_at = Instant::now();
    let out = std::process::Command::new(cluster.binary())
        .arg("-k")
        .arg("--run-dir")
        .arg(cluster.node_dir(&holder).join("run"))
        .output()
        .context("running heartbeat -k")?;
    if !out.status.success() {
        bail!(
            "heartbeat -k failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    wait_for("the other node serves", Duration::from_secs(10), || {
        Ok(prober.first_answer_from(other, stop_at).is_some())
    })?;
    let record = prober.stop()?;
    let graceful = record.outage_after(stop_at, Some(other))?;
    println!(
        "{other} took over at once: client outage {:.1} ms ({} failed connections), no deadtime wait",
        graceful.duration.as_secs_f64() * 1000.0,
        graceful.failed_probes
    );

    say(&format!("{other}'s log (state changes)"));
    let log = std::fs::read_to_string(cluster.log_path(other)?)?;
    for line in log
        .lines()
        .filter(|l| l.contains(" -> ") || l.contains("taking over") || l.contains("partition"))
    {
        println!("{line}");
    }
    say("done; tearing the lab down");
    Ok(())
}
