//! The control socket under a flood of idle connections, in network namespaces: our daemon
//! runs with the open-files limit of a systemd service (1024, soft and hard), a local client
//! opens 1,100 connections to its control socket and never sends a request, and yet status
//! requests are answered, the monitored resource keeps being monitored (its monitor runs and
//! passes after the flood began), and SIGTERM stops the daemon cleanly. Root is required (loud
//! SKIP otherwise; a failure under CI=true).
//!
//! Run after `cargo build --workspace --bins`.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use hb_control::{GroupState, ResourceState};
use hb_nstests::cluster::node_command;
use hb_nstests::ours::{control_socket, first_group_resource, status, wait_group_running};
use hb_nstests::{Cluster, ClusterSpec, Implementation, Lab, root_or_skip, wait_for};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use socket2::{Domain, SockAddr, Socket, Type};

const SECOND: Duration = Duration::from_secs(1);
/// The open-files limit systemd gives a service (soft and hard here, so the daemon cannot
/// raise it).
const NOFILE: u64 = 1024;
/// More idle connections than the daemon has descriptors.
const FLOOD: usize = 1100;

/// Opens up to `n` connections to `path` without sending anything. Connecting does not block
/// (a full backlog ends the flood early); returns the connected sockets.
fn idle_connections(path: &Path, n: usize) -> Result<Vec<OwnedFd>> {
    let addr = SockAddr::unix(path)?;
    let mut open = Vec::with_capacity(n);
    for _ in 0..n {
        let s = Socket::new(Domain::UNIX, Type::STREAM, None)?;
        s.set_nonblocking(true)?;
        match s.connect(&addr) {
            Ok(()) => open.push(OwnedFd::from(s)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e).context("connecting to the control socket"),
        }
    }
    Ok(open)
}

/// This test process holds the flood's client ends: make sure it may.
fn allow_our_own_descriptors(n: usize) -> Result<()> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    let want = u64::try_from(n)? + 256;
    if soft < want {
        ensure!(
            hard >= want,
            "this test needs an open-files limit of {want}"
        );
        setrlimit(Resource::RLIMIT_NOFILE, want, hard)?;
    }
    Ok(())
}

#[test]
fn idle_control_connections_do_not_wedge_the_daemon() -> Result<()> {
    let name = "idle_control_connections_do_not_wedge_the_daemon";
    if !root_or_skip(name) {
        return Ok(());
    }
    allow_our_own_descriptors(FLOOD)?;
    let lab = Lab::new("ctlflood")?;
    let mut spec = ClusterSpec::new(Implementation::Ours, "100/300".parse()?);
    spec.extra_ha_cf = vec!["monitor default interval=200ms".to_owned()];
    let mut c = Cluster::new(&lab, spec)?;
    // node1 runs under `prlimit`, which sets the limit and execs the daemon (same pid).
    let plain = node_command(c.spec(), c.binary(), "node1", &c.node_dir("node1"))?;
    let mut limited = Command::new("prlimit");
    limited
        .arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg("--")
        .arg(plain.get_program())
        .args(plain.get_args());
    let node1 = lab.spawn("node1", "ours-nofile-1024", &limited)?;
    c.start("node2")?;
    c.wait_for_sole_holder("node1", 20 * SECOND)?;
    wait_group_running(&c, "node1", 20 * SECOND)?;

    let before = first_group_resource(&c, "node1", 0)?.monitors;
    let flood = idle_connections(&control_socket(&c, "node1"), FLOOD)?;
    eprintln!(
        "{} idle connections open; {before} monitor runs before the flood",
        flood.len()
    );
    // Status is answered again (at worst once the idle connections' request time ran out),
    // and the monitor runs and passes: two more runs after the flood began.
    let waited = wait_for("a status reply during the flood", 15 * SECOND, || {
        Ok(status(&c, "node1").is_ok())
    })?;
    eprintln!(
        "status answered {:.0} ms into the flood",
        waited.as_secs_f64() * 1000.0
    );
    wait_for("two monitor runs during the flood", 15 * SECOND, || {
        let Ok(s) = status(&c, "node1") else {
            return Ok(false);
        };
        let r = &s.groups[0].resources[0];
        Ok(r.monitors >= before + 2)
    })?;
    let s = status(&c, "node1")?;
    let (g, r) = (&s.groups[0], &s.groups[0].resources[0]);
    ensure!(
        g.state == GroupState::Running && g.managed && !g.failed_here,
        "{s:?}"
    );
    ensure!(
        r.state == ResourceState::Running && r.failures == 0,
        "a monitor failed during the flood: {r:?}"
    );
    // The real cl_status answers too.
    let out = Command::new(c.binary().with_file_name("cl_status"))
        .arg("hbstatus")
        .arg("--run-dir")
        .arg(c.node_dir("node1").join("run"))
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        text.contains("Heartbeat is running on this machine"),
        "cl_status: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // SIGTERM still stops it, with the flood's connections still open on our side.
    let (exit, in_time) = node1.stop(20 * SECOND)?;
    ensure!(in_time, "the daemon ignored SIGTERM during the flood");
    ensure!(exit.success(), "the daemon exited with {exit}");
    let log = node1.log_text()?;
    ensure!(
        !log.contains("Too many open files"),
        "the daemon ran out of descriptors:\n{log}"
    );
    drop(flood);
    Ok(())
}
