//! The tutorial's Heartbeat + nginx setup under heartbeat-rs, in network namespaces: a VIP
//! (our IPaddr) then real nginx (Debian's nginx-light, driven by our `nginx` agent) on each of
//! two nodes, a client probing `VIP:80` every 2 ms. Each test prints the client-visible outage.
//!
//! - nginx killed: the monitor notices and restarts it in place;
//! - nginx cannot start any more: the group moves to the peer;
//! - `hb_standby` and `hb_takeover` move the group.
//!
//! Root is required (loud SKIP otherwise; a failure under CI=true). Run after
//! `cargo build --workspace --bins` (heartbeat, hb-addr, hb-check, hb_standby, hb_takeover).

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use hb_control::{GroupState, RscStatus};
use hb_nstests::cluster::ours_bin_dir;
use hb_nstests::ours::{start_settled, status, wait_group_running};
use hb_nstests::{Cluster, ClusterSpec, Implementation, Lab, ProbeConfig, root_or_skip, wait_for};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const SECOND: Duration = Duration::from_secs(1);
const NGINX: &str = "/usr/sbin/nginx";

/// An nginx configuration whose files all live in `dir`, answering with the node's name.
fn nginx_conf(dir: &Path, node: &str) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/ngx-body;\n\
         proxy_temp_path {d}/ngx-proxy;\n  fastcgi_temp_path {d}/ngx-fastcgi;\n\
         uwsgi_temp_path {d}/ngx-uwsgi;\n  scgi_temp_path {d}/ngx-scgi;\n\
         server {{ listen 80; location / {{ return 200 \"{node}\\n\"; }} }}\n}}\n"
    )
}

fn spec() -> ClusterSpec {
    let mut s = ClusterSpec::new(Implementation::Ours, "100/300".parse().expect("timing"));
    s.resources = Some("IPaddr::192.0.2.100/24/eth0 nginx::{node_dir}/nginx.conf".into());
    s.extra_ha_cf = vec!["monitor nginx interval=500ms restarts=1 window=60".into()];
    s
}

fn nginx_or_skip(test: &str) -> bool {
    if Path::new(NGINX).exists() {
        return true;
    }
    hb_nstests::skip_or_fail(test, "Debian's nginx-light is not installed")
}

/// Writes each node's nginx configuration, starts the cluster and waits until node1 serves.
fn started<'l>(lab: &'l Lab) -> Result<Cluster<'l>> {
    let mut c = Cluster::new(lab, spec())?;
    for node in ["node1", "node2"] {
        let dir = c.node_dir(node);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join("nginx.conf"), nginx_conf(&dir, node))?;
    }
    start_settled(&mut c)?;
    Ok(c)
}

fn wait_running(c: &Cluster<'_>, node: &str) -> Result<()> {
    wait_group_running(c, node, 20 * SECOND)
}

fn nginx_pid(c: &Cluster<'_>, node: &str) -> Result<i32> {
    let p = c.node_dir(node).join("nginx.pid");
    let text = fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?;
    text.trim().parse().context("pid file")
}

fn probe() -> ProbeConfig {
    ProbeConfig {
        reply_timeout: Duration::from_millis(20),
        ..ProbeConfig::default()
    }
}

/// Runs an operator tool of ours against `node`'s daemon.
fn tool(c: &Cluster<'_>, name: &str, node: &str, args: &[&str]) -> Result<String> {
    let bin: PathBuf = ours_bin_dir().join(name);
    let out = Command::new(&bin)
        .arg("--run-dir")
        .arg(c.node_dir(node).join("run"))
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    ensure!(
        out.status.success(),
        "{name} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn killed_nginx_is_restarted_in_place() -> Result<()> {
    let name = "killed_nginx_is_restarted_in_place";
    if !root_or_skip(name) || !nginx_or_skip(name) {
        return Ok(());
    }
    let lab = Lab::new("ngxkill")?;
    let c = started(&lab)?;
    let prober = lab.start_prober("client", SocketAddrV4::new(VIP, 80), probe())?;
    wait_for("the client reaching nginx", 5 * SECOND, || {
        Ok(prober.completed() > 50)
    })?;
    let old = nginx_pid(&c, "node1")?;
    let killed = Instant::now();
    // kill -9 of the master and its workers (its process group).
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    wait_for("nginx restarted on node1", 10 * SECOND, || {
        let s = status(&c, "node1")?;
        let g = &s.groups[0];
        Ok(g.resources[1].restarts == 1 && g.state == GroupState::Running)
    })?;
    wait_for("the client served again", 5 * SECOND, || {
        let rec = prober.snapshot();
        Ok(rec.outage_after(killed, None).is_ok())
    })?;
    let record = prober.stop()?;
    let outage = record.outage_after(killed, None)?;
    eprintln!(
        "nginx killed on node1: monitor (interval 500 ms) restarted it; client outage {:.1} ms \
         ({} failed probes at 2 ms)",
        outage.duration.as_secs_f64() * 1000.0,
        outage.failed_probes
    );
    ensure!(nginx_pid(&c, "node1")? != old, "a new nginx runs");
    ensure!(c.vip_holders()? == ["node1"], "the group stayed on node1");
    ensure!(
        outage.duration < 3 * SECOND,
        "outage {:?} longer than interval + restart",
        outage.duration
    );
    Ok(())
}

#[test]
fn nginx_that_cannot_start_moves_the_group_to_the_peer() -> Result<()> {
    let name = "nginx_that_cannot_start_moves_the_group_to_the_peer";
    if !root_or_skip(name) || !nginx_or_skip(name) {
        return Ok(());
    }
    let lab = Lab::new("ngxmove")?;
    let c = started(&lab)?;
    let prober = lab.start_prober("client", SocketAddrV4::new(VIP, 80), probe())?;
    wait_for("the client reaching nginx", 5 * SECOND, || {
        Ok(prober.completed() > 50)
    })?;
    // Break node1's configuration (its pid line stays readable), then kill nginx and its
    // workers: the restart's start fails (nginx -t).
    let conf = c.node_dir("node1").join("nginx.conf");
    let mut text = fs::read_to_string(&conf)?;
    text.push_str("no_such_directive on;\n");
    fs::write(&conf, text)?;
    let old = nginx_pid(&c, "node1")?;
    let killed = Instant::now();
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(old),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    c.wait_for_sole_holder("node2", 15 * SECOND)?;
    wait_running(&c, "node2")?;
    wait_for("the client served again", 5 * SECOND, || {
        Ok(prober.snapshot().outage_after(killed, None).is_ok())
    })?;
    let record = prober.stop()?;
    let outage = record.outage_after(killed, None)?;
    eprintln!(
        "nginx on node1 killed and unable to start: group moved to node2; client outage \
         {:.1} ms ({} failed probes at 2 ms)",
        outage.duration.as_secs_f64() * 1000.0,
        outage.failed_probes
    );
    let s = status(&c, "node1")?;
    ensure!(s.groups[0].failed_here, "{s:?}");
    let why = s.groups[0].failure.clone().unwrap_or_default();
    ensure!(why.contains("start"), "the failure names the start: {s:?}");
    Ok(())
}

#[test]
fn hb_standby_and_hb_takeover_move_the_group() -> Result<()> {
    let name = "hb_standby_and_hb_takeover_move_the_group";
    if !root_or_skip(name) || !nginx_or_skip(name) {
        return Ok(());
    }
    let lab = Lab::new("ngxstby")?;
    let c = started(&lab)?;
    let prober = lab.start_prober("client", SocketAddrV4::new(VIP, 80), probe())?;
    wait_for("the client reaching nginx", 5 * SECOND, || {
        Ok(prober.completed() > 50)
    })?;
    let at = Instant::now();
    tool(&c, "hb_standby", "node1", &["all"])?;
    c.wait_for_sole_holder("node2", 15 * SECOND)?;
    wait_running(&c, "node2")?;
    wait_for("the client served by node2", 5 * SECOND, || {
        Ok(prober.snapshot().outage_after(at, None).is_ok())
    })?;
    let standby = prober.snapshot().outage_after(at, None)?;
    eprintln!(
        "hb_standby all on node1: group moved to node2; client outage {:.1} ms ({} failed \
         probes at 2 ms)",
        standby.duration.as_secs_f64() * 1000.0,
        standby.failed_probes
    );
    let s = status(&c, "node1")?;
    ensure!(s.rscstatus == Some(RscStatus::None), "{s:?}");

    let at = Instant::now();
    tool(&c, "hb_takeover", "node1", &["all"])?;
    c.wait_for_sole_holder("node1", 15 * SECOND)?;
    wait_running(&c, "node1")?;
    wait_for("the client served by node1", 5 * SECOND, || {
        Ok(prober.snapshot().outage_after(at, None).is_ok())
    })?;
    let record = prober.stop()?;
    let takeover = record.outage_after(at, None)?;
    eprintln!(
        "hb_takeover all on node1: group moved back; client outage {:.1} ms ({} failed probes \
         at 2 ms)",
        takeover.duration.as_secs_f64() * 1000.0,
        takeover.failed_probes
    );
    Ok(())
}
