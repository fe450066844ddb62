//! systemd's notify protocol without systemd: node1's daemon runs in its namespace with
//! `NOTIFY_SOCKET` naming a datagram socket this test listens on (a stand-in for the service
//! manager), beside node2. Checked: `READY=1` once the start-up probe has run, `STATUS=`
//! lines that say what the node holds, `WATCHDOG=1` at half of `WATCHDOG_USEC` from the
//! event loop, `RELOADING=1` then `READY=1` around a SIGHUP, `STOPPING=1` on SIGTERM; no
//! `WATCHDOG=1` without `WATCHDOG_USEC`. Root is required.
//!
//! Run after `cargo build --workspace --bins`.

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use hb_nstests::cluster::node_command;
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, Proc, read_log, root_or_skip, wait_for_log_line,
};
use nix::sys::signal::Signal;

const SECOND: Duration = Duration::from_secs(1);

/// One notification: when it arrived and its `NAME=value` lines.
#[derive(Debug, Clone)]
struct Note {
    at: Instant,
    lines: Vec<String>,
}

impl Note {
    fn has(&self, line: &str) -> bool {
        self.lines.iter().any(|l| l == line)
    }

    fn status(&self) -> Option<&str> {
        self.lines.iter().find_map(|l| l.strip_prefix("STATUS="))
    }
}

/// The stand-in service manager's socket.
struct Manager {
    sock: UnixDatagram,
    notes: Vec<Note>,
}

impl Manager {
    fn bind(path: &Path) -> Result<Manager> {
        let sock =
            UnixDatagram::bind(path).with_context(|| format!("binding {}", path.display()))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))?;
        Ok(Manager {
            sock,
            notes: Vec::new(),
        })
    }

    /// Receives notifications until one satisfies `want` (returned), failing after `timeout`
    /// or if the daemon exits first.
    fn until(
        &mut self,
        what: &str,
        timeout: Duration,
        want: impl Fn(&Note) -> bool,
    ) -> Result<Note> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline {
            match self.sock.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let note = Note {
                        at: Instant::now(),
                        lines: text.lines().map(str::to_owned).collect(),
                    };
                    self.notes.push(note.clone());
                    if want(&note) {
                        return Ok(note);
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e.into()),
            }
        }
        anyhow::bail!(
            "no notification {what} within {timeout:?}; received: {:#?}",
            self.notes
        )
    }
}

/// node1's daemon, started with `env` added to its command line's environment.
fn spawn_node1(lab: &Lab, c: &Cluster<'_>, name: &str, env: &[(&str, String)]) -> Result<Proc> {
    let mut cmd = node_command(c.spec(), c.binary(), "node1", &c.node_dir("node1"))?;
    for (k, v) in env {
        cmd.env(k, v);
    }
    lab.spawn("node1", name, &cmd)
}

/// A cluster of ours on `lab`, node2 started as usual, the stand-in service manager bound in
/// the lab directory, and node1 started with `NOTIFY_SOCKET` naming it plus `env`.
fn start_notified<'l>(
    lab: &'l Lab,
    env: &[(&str, String)],
) -> Result<(Cluster<'l>, Manager, Proc)> {
    let mut c = Cluster::new(
        lab,
        ClusterSpec::new(Implementation::Ours, "100/300".parse().expect("timing")),
    )?;
    let path = lab.dir().join("notify.sock");
    let manager = Manager::bind(&path)?;
    c.start("node2")?;
    let mut all = vec![("NOTIFY_SOCKET", path.display().to_string())];
    all.extend(env.iter().cloned());
    let node1 = spawn_node1(lab, &c, "ours", &all)?;
    Ok((c, manager, node1))
}

#[test]
fn ready_status_watchdog_reloading_and_stopping_reach_the_service_manager() -> Result<()> {
    if !root_or_skip("ready_status_watchdog_reloading_and_stopping_reach_the_service_manager") {
        return Ok(());
    }
    let lab = Lab::new("notify")?;
    // 400 ms: WATCHDOG=1 every 200 ms.
    let (_c, mut manager, node1) = start_notified(&lab, &[("WATCHDOG_USEC", "400000".to_owned())])?;
    let ready = manager.until("READY=1", 10 * SECOND, |n| n.has("READY=1"))?;
    assert!(
        ready.status().is_some(),
        "READY=1 without STATUS=: {ready:?}"
    );
    let holding = manager.until("STATUS= holding the VIP", 10 * SECOND, |n| {
        n.status().is_some_and(|s| {
            s.starts_with("holds IPaddr::192.0.2.100/24/eth0") && s.contains("node2 active")
        })
    })?;
    println!("STATUS={}", holding.status().unwrap_or_default());

    // The watchdog, over one second.
    let from = Instant::now();
    manager.until("a second of watchdog", 5 * SECOND, |n| {
        n.at >= from + SECOND
    })?;
    let pets: Vec<Instant> = manager
        .notes
        .iter()
        .filter(|n| n.has("WATCHDOG=1"))
        .map(|n| n.at)
        .collect();
    let recent: Vec<&Instant> = pets.iter().filter(|&&t| t >= from).collect();
    let longest = pets
        .windows(2)
        .map(|w| w[1].saturating_duration_since(w[0]))
        .max()
        .unwrap_or_default();
    println!(
        "WATCHDOG=1: {} in the last second, longest gap {} ms (WATCHDOG_USEC 400 ms)",
        recent.len(),
        longest.as_millis()
    );
    assert!(recent.len() >= 3, "too few WATCHDOG=1: {}", recent.len());
    assert!(longest < Duration::from_millis(400), "a gap of {longest:?}");

    // SIGHUP: RELOADING=1, then READY=1 again.
    let before = manager.notes.len();
    node1.signal(Signal::SIGHUP)?;
    manager.until("READY=1 after RELOADING=1", 10 * SECOND, |n| {
        n.has("READY=1")
    })?;
    let reload: Vec<&Note> = manager.notes[before..]
        .iter()
        .filter(|n| n.has("RELOADING=1") || n.has("READY=1"))
        .collect();
    assert!(
        reload.len() == 2 && reload[0].has("RELOADING=1"),
        "{reload:#?}"
    );
    assert!(
        reload[0]
            .lines
            .iter()
            .any(|l| l.starts_with("MONOTONIC_USEC=")),
        "{reload:#?}"
    );

    // SIGTERM: STOPPING=1 and a status saying so, then the daemon exits.
    node1.terminate()?;
    let stopping = manager.until("STOPPING=1", 10 * SECOND, |n| n.has("STOPPING=1"))?;
    assert!(
        stopping
            .status()
            .is_some_and(|s| s.contains("shutting down")),
        "{stopping:?}"
    );
    assert!(node1.wait_timeout(10 * SECOND)?.success());
    let readies = manager.notes.iter().filter(|n| n.has("READY=1")).count();
    assert_eq!(readies, 2, "READY=1 at start and after the reload only");
    Ok(())
}

#[test]
fn without_watchdog_usec_no_watchdog_and_without_notify_socket_nothing() -> Result<()> {
    if !root_or_skip("without_watchdog_usec_no_watchdog_and_without_notify_socket_nothing") {
        return Ok(());
    }
    let lab = Lab::new("nowd")?;
    let (c, mut manager, node1) = start_notified(&lab, &[])?;
    manager.until("READY=1", 10 * SECOND, |n| n.has("READY=1"))?;
    manager.until("STATUS= holding the VIP", 10 * SECOND, |n| {
        n.status().is_some_and(|s| s.starts_with("holds IPaddr::"))
    })?;
    // STOPPING=1 is the event that proves the daemon ran long enough to pet a watchdog.
    node1.terminate()?;
    manager.until("STOPPING=1", 10 * SECOND, |n| n.has("STOPPING=1"))?;
    assert!(node1.wait_timeout(10 * SECOND)?.success());
    assert!(
        !manager.notes.iter().any(|n| n.has("WATCHDOG=1")),
        "WATCHDOG=1 without WATCHDOG_USEC: {:#?}",
        manager.notes
    );

    // WATCHDOG_USEC alone (no NOTIFY_SOCKET): the daemon runs as usual and sends nothing
    // (no watchdog is announced in its log).
    let again = spawn_node1(
        &lab,
        &c,
        "ours-again",
        &[("WATCHDOG_USEC", "400000".to_owned())],
    )?;
    wait_for_log_line(
        again.log_path(),
        "Initial resource acquisition complete",
        10 * SECOND,
    )?;
    again.terminate()?;
    assert!(again.wait_timeout(10 * SECOND)?.success());
    let log = read_log(again.log_path());
    assert!(!log.contains("systemd watchdog"), "{log}");
    assert!(log.contains("Heartbeat shutdown"), "{log}");
    Ok(())
}
