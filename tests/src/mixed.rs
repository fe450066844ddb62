//! Two-node clusters whose nodes may run different implementations (heartbeat-rs or Debian's
//! Heartbeat 3.0.6), driven and observed the way a user does: the daemon of each node, its own
//! `cl_status`, `hb_standby` and `hb_takeover`, and who holds each virtual IP.
//!
//! A [`Pair`] keeps one [`Cluster`] per implementation in the same [`Lab`] (each writes its
//! configuration for every node; only the nodes of its implementation are started), with one
//! `haresources` shared by both so that the group keys agree on the wire.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use crate::cluster::{Cluster, ClusterSpec, Implementation, ours_binary};
use crate::lab::Lab;

/// Debian's installed copies of Heartbeat 3.0.6's client tools.
const HB306_CL_STATUS: &str = "/usr/bin/cl_status";
const HB306_TOOLS: &str = "/usr/share/heartbeat";

/// Which implementation runs on node1 and on node2 (and on node3, in a three-node cluster).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pairing {
    /// node1's implementation.
    pub node1: Implementation,
    /// node2's implementation.
    pub node2: Implementation,
    /// node3's implementation, when the cluster has a third node.
    pub node3: Option<Implementation>,
}

impl Pairing {
    /// Heartbeat + Heartbeat (the reference), ours + ours, and both mixed orders.
    pub const ALL: [Pairing; 4] = [
        Pairing::new(Implementation::Heartbeat306, Implementation::Heartbeat306),
        Pairing::new(Implementation::Ours, Implementation::Ours),
        Pairing::new(Implementation::Ours, Implementation::Heartbeat306),
        Pairing::new(Implementation::Heartbeat306, Implementation::Ours),
    ];

    /// node1 runs `node1`, node2 runs `node2`.
    pub const fn new(node1: Implementation, node2: Implementation) -> Pairing {
        Pairing {
            node1,
            node2,
            node3: None,
        }
    }

    /// Three nodes: node1 runs `node1`, node2 `node2`, node3 `node3`.
    pub const fn three(
        node1: Implementation,
        node2: Implementation,
        node3: Implementation,
    ) -> Pairing {
        Pairing {
            node1,
            node2,
            node3: Some(node3),
        }
    }

    /// The node names, in order.
    pub fn nodes(&self) -> &'static [&'static str] {
        if self.node3.is_some() {
            &["node1", "node2", "node3"]
        } else {
            &["node1", "node2"]
        }
    }

    /// The implementation of `node` (`node1`, `node2`, or `node3` when there is one).
    pub fn of(&self, node: &str) -> Result<Implementation> {
        match (node, self.node3) {
            ("node1", _) => Ok(self.node1),
            ("node2", _) => Ok(self.node2),
            ("node3", Some(i)) => Ok(i),
            _ => bail!("the cluster has nodes {:?}, not {node}", self.nodes()),
        }
    }

    /// Whether both nodes run Heartbeat 3.0.6.
    pub fn is_reference(&self) -> bool {
        self.node1 == Implementation::Heartbeat306 && self.node2 == Implementation::Heartbeat306
    }

    fn short(i: Implementation) -> &'static str {
        match i {
            Implementation::Ours => "ours",
            Implementation::Heartbeat306 => "hb",
            Implementation::Keepalived => "ka",
        }
    }
}

impl fmt::Display for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}+{}",
            Pairing::short(self.node1),
            Pairing::short(self.node2)
        )?;
        match self.node3 {
            Some(i) => write!(f, "+{}", Pairing::short(i)),
            None => Ok(()),
        }
    }
}

/// Whose client tool issues a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// The tool of the implementation that runs on the node.
    Native,
    /// Debian's `/usr/share/heartbeat/hb_standby` / `hb_takeover` (they write Heartbeat's
    /// command FIFO), whichever implementation runs on the node.
    Debian,
}

/// A two-node (or three-node) cluster, each node running its pairing's implementation. The
/// lab must have the pairing's nodes, and `spec.nodes` list them.
///
/// Heartbeat 3.0.6 restarts itself after a healed partition: it re-executes itself without
/// `-f`, so the process the lab started exits (status 0) and a daemonized successor, in a
/// session of its own, runs on (its pid in `<run>/heartbeat.pid`). The pair follows it there:
/// [`Pair::is_running`], [`Pair::stop`] and [`Pair::kill`] act on the daemon of the pid file.
pub struct Pair<'lab> {
    lab: &'lab Lab,
    pairing: Pairing,
    clusters: BTreeMap<Implementation, Cluster<'lab>>,
    /// Nodes started and not stopped or killed by the test.
    up: std::collections::BTreeSet<String>,
    /// When each node's daemon was last seen running (a Heartbeat restarting itself is gone
    /// for a moment between its exit and its successor's pid file).
    last_alive: std::cell::RefCell<BTreeMap<String, Instant>>,
}

/// How long a Heartbeat node may be between a self-restart's exit and its successor.
const HB306_RESTART_GRACE: Duration = Duration::from_secs(15);

impl fmt::Debug for Pair<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pair")
            .field("pairing", &self.pairing)
            .finish()
    }
}

impl<'lab> Pair<'lab> {
    /// Writes both nodes' configuration from `spec` (its implementation is ignored; its
    /// `haresources` should be set, with `IPaddr2` resources). Starts nothing.
    pub fn new(lab: &'lab Lab, pairing: Pairing, spec: &ClusterSpec) -> Result<Pair<'lab>> {
        let mut clusters = BTreeMap::new();
        for i in pairing
            .nodes()
            .iter()
            .map(|n| pairing.of(n))
            .collect::<Result<Vec<_>>>()?
        {
            if i == Implementation::Keepalived {
                bail!("keepalived does not speak Heartbeat's protocol");
            }
            if let std::collections::btree_map::Entry::Vacant(e) = clusters.entry(i) {
                let mut s = spec.clone();
                s.implementation = i;
                e.insert(Cluster::new(lab, s)?);
            }
        }
        Ok(Pair {
            lab,
            pairing,
            clusters,
            up: std::collections::BTreeSet::new(),
            last_alive: std::cell::RefCell::new(BTreeMap::new()),
        })
    }

    /// The pairing.
    pub fn pairing(&self) -> Pairing {
        self.pairing
    }

    /// The cluster driver that runs `node`.
    pub fn cluster(&self, node: &str) -> Result<&Cluster<'lab>> {
        let i = self.pairing.of(node)?;
        self.clusters
            .get(&i)
            .ok_or_else(|| anyhow!("no {i} cluster"))
    }

    fn cluster_mut(&mut self, node: &str) -> Result<&mut Cluster<'lab>> {
        let i = self.pairing.of(node)?;
        self.clusters
            .get_mut(&i)
            .ok_or_else(|| anyhow!("no {i} cluster"))
    }

    /// Starts `node`'s daemon.
    pub fn start(&mut self, node: &str) -> Result<()> {
        self.cluster_mut(node)?.start(node)?;
        self.up.insert(node.to_owned());
        Ok(())
    }

    /// From its next start, `node` runs `implementation` (a node-by-node migration, or its
    /// rollback). `node` must be stopped.
    pub fn replace(&mut self, node: &str, implementation: Implementation) -> Result<()> {
        if self.up.contains(node) || self.is_running(node) {
            bail!("stop {node} before replacing its implementation");
        }
        if implementation == Implementation::Keepalived {
            bail!("keepalived does not speak Heartbeat's protocol");
        }
        if !self.clusters.contains_key(&implementation) {
            let mut spec = self
                .clusters
                .values()
                .next()
                .ok_or_else(|| anyhow!("a pair without clusters"))?
                .spec()
                .clone();
            spec.implementation = implementation;
            self.clusters
                .insert(implementation, Cluster::new(self.lab, spec)?);
        }
        // Both keep the node's generation and UUID in /var/lib/heartbeat (same files, same
        // format); the lab gives each implementation its own directory, so carry them over as
        // the shared directory of a real machine does.
        let old = self.state_dir(node)?;
        match node {
            "node1" => self.pairing.node1 = implementation,
            "node2" => self.pairing.node2 = implementation,
            "node3" if self.pairing.node3.is_some() => self.pairing.node3 = Some(implementation),
            _ => bail!(
                "the cluster has nodes {:?}, not {node}",
                self.pairing.nodes()
            ),
        }
        let new = self.state_dir(node)?;
        for file in ["hb_generation", "hb_uuid"] {
            if old.join(file).exists() {
                std::fs::create_dir_all(&new)?;
                std::fs::copy(old.join(file), new.join(file))
                    .with_context(|| format!("cannot carry {file} over to {}", new.display()))?;
            }
        }
        Ok(())
    }

    /// The directory that stands for `node`'s /var/lib/heartbeat under its current
    /// implementation.
    fn state_dir(&self, node: &str) -> Result<PathBuf> {
        let dir = self.cluster(node)?.node_dir(node);
        Ok(match self.pairing.of(node)? {
            Implementation::Heartbeat306 => dir.join("lib"),
            _ => dir.join("state"),
        })
    }

    /// The pid of the Heartbeat 3.0.6 daemon that runs `node` now, if one does: the one the
    /// lab started, or its successor after a self-restart (from its pid file).
    fn hb306_daemon(&self, node: &str) -> Option<Pid> {
        let c = self.cluster(node).ok()?;
        let file = c.node_dir(node).join("run/heartbeat.pid");
        let from_file = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .map(Pid::from_raw)
            .filter(|p| kill(*p, None).is_ok());
        let started = c
            .proc(node)
            .ok()
            .filter(|p| p.is_running())
            .map(|p| Pid::from_raw(p.pid() as i32));
        started.or(from_file)
    }

    /// Whether Heartbeat on `node` restarted itself (the lab's process is gone, a successor
    /// runs).
    fn hb306_successor(&self, node: &str) -> Option<Pid> {
        let c = self.cluster(node).ok()?;
        if self.pairing.of(node).ok()? != Implementation::Heartbeat306 || c.is_running(node) {
            return None;
        }
        self.hb306_daemon(node)
    }

    /// Graceful stop of `node` (SIGTERM), waiting up to `timeout`.
    pub fn stop(&mut self, node: &str, timeout: Duration) -> Result<()> {
        self.up.remove(node);
        if let Some(pid) = self.hb306_successor(node) {
            kill(pid, Signal::SIGTERM).context("SIGTERM to heartbeat")?;
            return crate::wait_for(&format!("heartbeat on {node} to stop"), timeout, || {
                Ok(kill(pid, None).is_err())
            })
            .map(drop);
        }
        self.cluster_mut(node)?.stop(node, timeout).map(drop)
    }

    /// `node`'s daemon is about to be killed by something other than the test (a fencing
    /// device's reset): its exit is not a failure.
    pub fn expect_exit(&mut self, node: &str) -> Result<()> {
        self.up.remove(node);
        self.cluster_mut(node)?.expect_exit(node);
        Ok(())
    }

    /// SIGKILLs `node`'s daemon (and its process group).
    pub fn kill(&mut self, node: &str) -> Result<()> {
        self.up.remove(node);
        if let Some(pid) = self.hb306_successor(node) {
            // The successor leads its own session and process group.
            let _ = killpg(pid, Signal::SIGKILL);
            return crate::wait_for(
                &format!("heartbeat on {node} to die"),
                Duration::from_secs(10),
                || Ok(kill(pid, None).is_err()),
            )
            .map(drop);
        }
        self.cluster_mut(node)?.kill(node).map(drop)
    }

    /// Sends `signal` to `node`'s daemon (Heartbeat's master process, also after a
    /// self-restart).
    pub fn signal(&self, node: &str, signal: Signal) -> Result<()> {
        let pid = match self.pairing.of(node)? {
            Implementation::Heartbeat306 => self
                .hb306_daemon(node)
                .ok_or_else(|| anyhow!("heartbeat is not running on {node}"))?,
            _ => Pid::from_raw(self.cluster(node)?.proc(node)?.pid() as i32),
        };
        kill(pid, signal).with_context(|| format!("{signal} to {node}'s daemon"))
    }

    /// Whether `node`'s daemon runs.
    pub fn is_running(&self, node: &str) -> bool {
        match self.pairing.of(node) {
            Ok(Implementation::Heartbeat306) => self.hb306_daemon(node).is_some(),
            Ok(_) => self.cluster(node).is_ok_and(|c| c.is_running(node)),
            Err(_) => false,
        }
    }

    /// Fails (quoting logs) if a daemon the test started and did not stop has exited.
    pub fn check_running(&self) -> Result<()> {
        for node in &self.up {
            let now = Instant::now();
            if self.is_running(node) {
                self.last_alive.borrow_mut().insert(node.clone(), now);
                continue;
            }
            let restarting = self.pairing.of(node)? == Implementation::Heartbeat306
                && self
                    .last_alive
                    .borrow()
                    .get(node)
                    .is_some_and(|t| now.duration_since(*t) < HB306_RESTART_GRACE);
            if !restarting {
                bail!(
                    "{} on {node} exited\n{}",
                    self.pairing.of(node)?,
                    self.log_tails(30)
                );
            }
        }
        Ok(())
    }

    /// The last lines of both nodes' logs.
    pub fn log_tails(&self, lines: usize) -> String {
        self.pairing
            .nodes()
            .iter()
            .filter_map(|n| Some(self.cluster(n).ok()?.log_tail(n, lines)))
            .collect()
    }

    /// The lab hosts holding `ip`.
    pub fn holders(&self, ip: Ipv4Addr) -> Result<Vec<String>> {
        self.lab.address_holders(ip)
    }

    /// The pid of `node`'s Heartbeat 3.0.6 master process (its mount namespace holds the
    /// node's /etc/ha.d, /var/lib/heartbeat and /run).
    fn hb306_pid(&self, node: &str) -> Result<String> {
        self.hb306_daemon(node)
            .map(|p| p.to_string())
            .ok_or_else(|| anyhow!("heartbeat is not running on {node}"))
    }

    /// Runs `args` inside `node`'s Heartbeat mount and UTS namespaces.
    fn in_hb306_status(
        &self,
        node: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<(ExitStatus, String)> {
        let pid = self.hb306_pid(node)?;
        let mut full = vec!["nsenter", "-t", &pid, "-m", "-u", "env"];
        let pairs: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        full.extend(pairs.iter().map(String::as_str));
        full.extend_from_slice(args);
        self.lab.run_status(node, &full)
    }

    fn ours_tool(&self, node: &str, tool: &str) -> Result<PathBuf> {
        let c = self.cluster(node)?;
        let dir = ours_binary(c.spec().ours_bin_dir.as_deref())?
            .parent()
            .map(PathBuf::from)
            .ok_or_else(|| anyhow!("our binary has no directory"))?;
        Ok(dir.join(tool))
    }

    fn run_dir(&self, node: &str) -> Result<String> {
        let dir = self.cluster(node)?.node_dir(node).join("run");
        dir.to_str()
            .map(str::to_owned)
            .context("non-UTF-8 run directory")
    }

    /// `cl_status ARGS` on `node` with the node's own implementation's tool: its output,
    /// trimmed. A non-zero exit is not an error when the tool answered (`nodestatus` of a
    /// dead node exits 1), only when it printed an ERROR (no daemon to sign on to).
    pub fn cl_status(&self, node: &str, args: &[&str]) -> Result<String> {
        let (status, out) = match self.pairing.of(node)? {
            Implementation::Ours => {
                let bin = self.ours_tool(node, "cl_status")?;
                let run = self.run_dir(node)?;
                let mut full = vec![
                    bin.to_str().context("non-UTF-8 path")?,
                    "--run-dir",
                    run.as_str(),
                ];
                full.extend_from_slice(args);
                self.lab.run_status(node, &full)?
            }
            _ => {
                let mut full = vec![HB306_CL_STATUS];
                full.extend_from_slice(args);
                self.in_hb306_status(node, &full, &[])?
            }
        };
        if !status.success() && (out.contains("ERROR") || out.trim().is_empty()) {
            bail!(
                "`cl_status {}` on {node} failed ({status}): {}",
                args.join(" "),
                out.trim()
            );
        }
        Ok(out.trim().to_owned())
    }

    /// `cl_status rscstatus` on `node`, or `-` when its daemon does not run.
    pub fn rscstatus(&self, node: &str) -> Result<String> {
        if !self.is_running(node) {
            return Ok("-".to_owned());
        }
        self.cl_status(node, &["rscstatus"])
    }

    /// `cl_status nodestatus OF` on `node`, or `-` when its daemon does not run.
    pub fn nodestatus(&self, node: &str, of: &str) -> Result<String> {
        if !self.is_running(node) {
            return Ok("-".to_owned());
        }
        self.cl_status(node, &["nodestatus", of])
    }

    /// `hb_standby CLASS` (or `hb_takeover CLASS` when `takeover`) on `node` with `tool`:
    /// the tool's exit status and output. Heartbeat's scripts always exit 0 (they write a
    /// FIFO and cannot know what the daemon makes of it); ours exit 1 when it refuses.
    pub fn command(
        &self,
        node: &str,
        takeover: bool,
        class: &str,
        tool: Tool,
    ) -> Result<(ExitStatus, String)> {
        let name = if takeover {
            "hb_takeover"
        } else {
            "hb_standby"
        };
        let debian = format!("{HB306_TOOLS}/{name}");
        match (self.pairing.of(node)?, tool) {
            (Implementation::Ours, Tool::Native) => {
                let bin = self.ours_tool(node, name)?;
                let run = self.run_dir(node)?;
                self.lab.run_status(
                    node,
                    &[
                        bin.to_str().context("non-UTF-8 path")?,
                        "--run-dir",
                        &run,
                        class,
                    ],
                )
            }
            (Implementation::Ours, Tool::Debian) => {
                // Heartbeat's scripts write `$HA_FIFO`; ours keeps it in its state directory.
                // Their `ha_log` goes to a file of the node's, not to syslog.
                let dir = self.cluster(node)?.node_dir(node);
                let path = |p: PathBuf| p.to_str().map(str::to_owned).context("non-UTF-8 path");
                let fifo = path(dir.join("state/fifo"))?;
                let log = path(dir.join("debian-tools.log"))?;
                self.lab.run_status(
                    node,
                    &[
                        "env",
                        &format!("HA_FIFO={fifo}"),
                        "HA_LOGD=no",
                        "HA_LOGFACILITY=none",
                        &format!("HA_LOGFILE={log}"),
                        &format!("HA_DEBUGLOG={log}"),
                        &debian,
                        class,
                    ],
                )
            }
            (_, _) => self.in_hb306_status(node, &[&debian, class], &[]),
        }
    }
}

impl Drop for Pair<'_> {
    /// A Heartbeat that restarted itself is no longer the lab's child: stop it here.
    fn drop(&mut self) {
        for node in ["node1", "node2"] {
            if let Some(pid) = self.hb306_successor(node) {
                let _ = killpg(pid, Signal::SIGKILL);
                let _ = kill(pid, Signal::SIGKILL);
            }
        }
    }
}
