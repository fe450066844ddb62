//! The lab: a bridge LAN of network namespaces, torn down on drop.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::netns::{self, LabNsName};
use crate::probe::{self, ProbeConfig, ProbeOutcome, Prober};
use crate::process::Proc;
use crate::service::Listener;

/// Names of the node hosts, in order: `node1` = 192.0.2.11, `node2` = .12, ...
pub const NODE_NAMES: [&str; 3] = ["node1", "node2", "node3"];
/// Name of the client host (192.0.2.50).
pub const CLIENT: &str = "client";
/// Prefix length of the lab LAN 192.0.2.0/24.
pub const PREFIX_LEN: u8 = 24;
/// Prefix length of the lab's IPv6 LAN 2001:db8::/64 (the documentation prefix), which
/// [`Lab::add_ipv6`] sets up.
pub const PREFIX_LEN_V6: u8 = 64;
/// Broadcast address of the lab LAN.
pub const BROADCAST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 255);
/// The interface every host has on the LAN.
pub const HOST_IF: &str = "eth0";
const BRIDGE: &str = "br0";
const BRIDGE_HOST: &str = "br";
/// Upper bound for commands run to completion with [`Lab::run`].
const RUN_TIMEOUT: Duration = Duration::from_secs(30);

static LAB_COUNTER: AtomicU32 = AtomicU32::new(0);

/// One host of the lab.
#[derive(Debug, Clone)]
struct Host {
    name: String,
    ns: String,
    ip: Ipv4Addr,
}

/// Carrier and administrative state of a host's `eth0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkState {
    /// The interface is administratively up.
    pub up: bool,
    /// The interface has carrier (`LOWER_UP`); false shows as `NO-CARRIER`.
    pub carrier: bool,
}

/// A LAN of network namespaces (see the crate docs). Dropping it kills every process and
/// thread it started and deletes its namespaces; its directory (configs and logs) is removed
/// too, unless the thread is panicking, [`Lab::keep_files`] was called or `HB_LAB_KEEP` is set,
/// in which case its path is printed.
pub struct Lab {
    id: String,
    dir: PathBuf,
    bridge_ns: String,
    hosts: Vec<Host>,
    /// Every namespace this lab created, in creation order (bridge first).
    created: Vec<String>,
    listeners: Mutex<BTreeMap<(String, u16), Listener>>,
    log_seq: AtomicU32,
    keep: AtomicBool,
}

impl fmt::Debug for Lab {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lab")
            .field("id", &self.id)
            .field("dir", &self.dir)
            .finish()
    }
}

impl Lab {
    /// A lab with `node1`, `node2` and `client`.
    pub fn new(tag: &str) -> Result<Lab> {
        Lab::with_nodes(tag, 2)
    }

    /// A lab with `nodes` node hosts (1 to 3) and `client`. `tag` (letters and digits, cut to
    /// 10) becomes part of every namespace name, together with the pid and a per-process
    /// counter, so parallel tests and processes never clash. Namespaces left behind by lab
    /// processes that no longer exist are swept first.
    pub fn with_nodes(tag: &str, nodes: usize) -> Result<Lab> {
        if !(1..=NODE_NAMES.len()).contains(&nodes) {
            bail!("a lab has 1 to {} nodes, not {nodes}", NODE_NAMES.len());
        }
        if let Err(e) = netns::sweep_stale_namespaces() {
            eprintln!("hb-nstests: {e:#}");
        }
        let base = LabNsName {
            tag: netns::sanitize_tag(tag),
            pid: std::process::id(),
            counter: LAB_COUNTER.fetch_add(1, Ordering::SeqCst),
            host: BRIDGE_HOST.to_owned(),
        };
        let id = base.lab_id();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{id}-"))
            .tempdir()
            .context("cannot create the lab directory")?
            .keep();
        let hosts: Vec<Host> = NODE_NAMES[..nodes]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.to_string(), Ipv4Addr::new(192, 0, 2, 11 + i as u8)))
            .chain([(CLIENT.to_owned(), Ipv4Addr::new(192, 0, 2, 50))])
            .map(|(name, ip)| Host {
                ns: LabNsName {
                    host: name.clone(),
                    ..base.clone()
                }
                .name(),
                name,
                ip,
            })
            .collect();
        let mut lab = Lab {
            id,
            dir,
            bridge_ns: base.name(),
            hosts: Vec::new(),
            created: Vec::new(),
            listeners: Mutex::new(BTreeMap::new()),
            log_seq: AtomicU32::new(0),
            keep: AtomicBool::new(false),
        };
        // On error `lab` is dropped here, which removes whatever was created so far.
        lab.build(hosts)?;
        Ok(lab)
    }

    fn build(&mut self, hosts: Vec<Host>) -> Result<()> {
        fs::create_dir_all(self.dir.join("logs"))?;
        let br = self.bridge_ns.clone();
        self.created.push(br.clone());
        netns::add(&br)?;
        netns::ip(&["-n", &br, "link", "set", "lo", "up"])?;
        netns::ip(&[
            "-n",
            &br,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
        ])?;
        netns::ip(&["-n", &br, "link", "set", BRIDGE, "up"])?;
        for host in hosts {
            let ns = host.ns.clone();
            self.created.push(ns.clone());
            netns::add(&ns)?;
            let addr = format!("{}/{PREFIX_LEN}", host.ip);
            let brd = BROADCAST.to_string();
            let port = &host.name;
            netns::ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            netns::ip(&[
                "-n", &ns, "link", "add", HOST_IF, "type", "veth", "peer", "name", port, "netns",
                &br,
            ])?;
            netns::ip(&["-n", &ns, "addr", "add", &addr, "brd", &brd, "dev", HOST_IF])?;
            netns::ip(&["-n", &ns, "link", "set", HOST_IF, "up"])?;
            netns::ip(&["-n", &br, "link", "set", port, "master", BRIDGE])?;
            netns::ip(&["-n", &br, "link", "set", port, "up"])?;
            self.hosts.push(host);
        }
        Ok(())
    }

    /// The lab id (`hblab-<tag>-<pid>-<counter>`), the common prefix of its namespaces.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The lab's directory, for configs and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Keeps the lab directory (configs and logs) after the lab is dropped, e.g. because a
    /// benchmark trial failed; its path is printed at teardown.
    pub fn keep_files(&self) {
        self.keep.store(true, Ordering::SeqCst);
    }

    /// Names of all hosts: the nodes, then `client`.
    pub fn hosts(&self) -> Vec<&str> {
        self.hosts.iter().map(|h| h.name.as_str()).collect()
    }

    /// Names of the node hosts.
    pub fn nodes(&self) -> Vec<&str> {
        self.hosts
            .iter()
            .map(|h| h.name.as_str())
            .filter(|h| *h != CLIENT)
            .collect()
    }

    fn host(&self, name: &str) -> Result<&Host> {
        self.hosts.iter().find(|h| h.name == name).ok_or_else(|| {
            anyhow!(
                "no host {name} in lab {} (hosts: {:?})",
                self.id,
                self.hosts()
            )
        })
    }

    /// The network namespace of a host.
    pub fn ns(&self, host: &str) -> Result<&str> {
        Ok(&self.host(host)?.ns)
    }

    /// The namespace holding the bridge.
    pub fn bridge_ns(&self) -> &str {
        &self.bridge_ns
    }

    /// A host's own address on the LAN.
    pub fn ip(&self, host: &str) -> Result<Ipv4Addr> {
        Ok(self.host(host)?.ip)
    }

    /// A host's IPv6 address on the LAN, once [`Lab::add_ipv6`] has given it: 2001:db8:: and
    /// the last byte of its IPv4 address written with the same digits (node1, 192.0.2.11, is
    /// 2001:db8::11; client is 2001:db8::50).
    pub fn ipv6(&self, host: &str) -> Result<Ipv6Addr> {
        let last = self.host(host)?.ip.octets()[3];
        let digits = u16::from_str_radix(&last.to_string(), 16)?;
        Ok(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, digits))
    }

    /// Gives every host its IPv6 address ([`Lab::ipv6`], prefix [`PREFIX_LEN_V6`]) on `eth0`,
    /// without duplicate address detection (`nodad`), so it is usable when this returns. The
    /// bridge's automatic link-local addresses are left alone.
    pub fn add_ipv6(&self) -> Result<()> {
        for h in &self.hosts {
            let addr = format!("{}/{PREFIX_LEN_V6}", self.ipv6(&h.name)?);
            netns::ip(&["-n", &h.ns, "addr", "add", &addr, "dev", HOST_IF, "nodad"])
                .with_context(|| format!("IPv6 address of {}", h.name))?;
        }
        Ok(())
    }

    // ----- faults -------------------------------------------------------------------------

    fn bridge_port(&self, host: &str, args: &[&str]) -> Result<()> {
        let h = self.host(host)?;
        let mut full = vec!["-n", &self.bridge_ns, "link", "set", &h.name];
        full.extend_from_slice(args);
        netns::ip(&full)
            .map(drop)
            .with_context(|| format!("bridge port of {host}"))
    }

    /// Link cut: sets the host's bridge-side veth down, so the host's `eth0` loses carrier
    /// (`NO-CARRIER`) and nothing passes.
    pub fn cut(&self, host: &str) -> Result<()> {
        self.bridge_port(host, &["down"])
    }

    /// Undoes [`Lab::cut`].
    pub fn heal(&self, host: &str) -> Result<()> {
        self.bridge_port(host, &["up"])
    }

    /// Silent partition: detaches the host's port from the bridge. The host keeps carrier, but
    /// its frames go nowhere and it receives nothing.
    pub fn isolate_silently(&self, host: &str) -> Result<()> {
        self.bridge_port(host, &["nomaster"])
    }

    /// Undoes [`Lab::isolate_silently`].
    pub fn rejoin(&self, host: &str) -> Result<()> {
        self.bridge_port(host, &["master", BRIDGE])
    }

    /// State of a host's `eth0`.
    pub fn link_state(&self, host: &str) -> Result<LinkState> {
        let out = netns::ip(&["-n", self.ns(host)?, "-o", "link", "show", "dev", HOST_IF])?;
        let flags = out
            .split_once('<')
            .and_then(|(_, rest)| rest.split_once('>'))
            .map(|(f, _)| f.split(',').collect::<Vec<_>>())
            .ok_or_else(|| anyhow!("cannot parse `ip link` output: {out}"))?;
        Ok(LinkState {
            up: flags.contains(&"UP"),
            carrier: flags.contains(&"LOWER_UP"),
        })
    }

    // ----- processes ----------------------------------------------------------------------

    fn new_log_path(&self, host: &str, name: &str) -> PathBuf {
        let seq = self.log_seq.fetch_add(1, Ordering::SeqCst);
        let safe: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        self.dir
            .join("logs")
            .join(format!("{seq:03}-{host}-{safe}.log"))
    }

    /// Starts `cmd` inside `host`'s network namespace (through `ip netns exec`, which also gives
    /// it the namespace's view of /sys), as the leader of a new process group, with stdin from
    /// /dev/null and stdout and stderr appended to a fresh log file in the lab directory. The
    /// command's program, arguments, environment changes and working directory are kept.
    pub fn spawn(&self, host: &str, name: &str, cmd: &Command) -> Result<Proc> {
        let ns = self.ns(host)?;
        let log = self.new_log_path(host, name);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut wrapped = Command::new("ip");
        wrapped
            .args(["netns", "exec", ns])
            .arg(cmd.get_program())
            .args(cmd.get_args());
        for (k, v) in cmd.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        if let Some(d) = cmd.get_current_dir() {
            wrapped.current_dir(d);
        }
        std::os::unix::process::CommandExt::process_group(&mut wrapped, 0);
        wrapped
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        let child = wrapped
            .spawn()
            .with_context(|| format!("cannot start {name} ({cmd:?}) on {host}"))?;
        Ok(Proc::new(name, host, child, log))
    }

    /// Runs `args` to completion inside `host`'s namespace (bounded by 30 s) and returns its
    /// stdout; a non-zero exit is an error quoting the command's output.
    pub fn run(&self, host: &str, args: &[&str]) -> Result<String> {
        let (status, output) = self.run_status(host, args)?;
        if !status.success() {
            bail!(
                "`{}` on {host} failed ({status}): {}",
                args.join(" "),
                output.trim()
            );
        }
        Ok(output)
    }

    /// Like [`Lab::run`], but a non-zero exit is not an error: returns the exit status and
    /// the output (stdout and stderr together).
    pub fn run_status(&self, host: &str, args: &[&str]) -> Result<(ExitStatus, String)> {
        let (program, rest) = args
            .split_first()
            .ok_or_else(|| anyhow!("Lab::run needs a command"))?;
        let mut cmd = Command::new(program);
        cmd.args(rest);
        let proc = self.spawn(host, program, &cmd)?;
        let status = match proc.wait_timeout(RUN_TIMEOUT) {
            Ok(s) => s,
            Err(e) => {
                let _ = proc.kill();
                return Err(e);
            }
        };
        let output = proc.log_text()?;
        // The log was only needed to collect the output.
        let _ = fs::remove_file(proc.log_path());
        Ok((status, output))
    }

    // ----- observation --------------------------------------------------------------------

    /// IPv4 addresses configured on any interface of `host`.
    pub fn addresses(&self, host: &str) -> Result<Vec<Ipv4Addr>> {
        netns::in_netns(self.ns(host)?, || {
            let addrs = nix::ifaddrs::getifaddrs().context("getifaddrs")?;
            Ok(addrs
                .filter_map(|a| a.address?.as_sockaddr_in().map(|s| s.ip()))
                .collect::<Vec<_>>())
        })
    }

    /// Whether `host` has address `ip` on any interface.
    pub fn has_address(&self, host: &str, ip: Ipv4Addr) -> Result<bool> {
        Ok(self.addresses(host)?.contains(&ip))
    }

    /// The hosts (nodes and client) that currently hold `ip`, in lab order.
    pub fn address_holders(&self, ip: Ipv4Addr) -> Result<Vec<String>> {
        let mut holders = Vec::new();
        for h in &self.hosts {
            if self.has_address(&h.name, ip)? {
                holders.push(h.name.clone());
            }
        }
        Ok(holders)
    }

    // ----- the TCP service and the prober ----------------------------------------------------

    /// Starts the "who am I" service on `host`: a thread in its namespace accepting on
    /// 0.0.0.0:`port`, answering every connection with the host name and a newline. Returns once
    /// it listens.
    pub fn start_listener(&self, host: &str, port: u16) -> Result<()> {
        let ns = self.ns(host)?;
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let key = (host.to_owned(), port);
        if listeners.contains_key(&key) {
            bail!("a listener already runs on {host}:{port}");
        }
        listeners.insert(key, Listener::start(ns, port, host)?);
        Ok(())
    }

    /// Stops the service on `host`:`port`. When this returns, connections are refused.
    pub fn stop_listener(&self, host: &str, port: u16) -> Result<()> {
        let mut listeners = self.listeners.lock().unwrap_or_else(|e| e.into_inner());
        let listener = listeners
            .remove(&(host.to_owned(), port))
            .ok_or_else(|| anyhow!("no listener on {host}:{port}"))?;
        listener.stop();
        Ok(())
    }

    /// One connection attempt from `from` to `target` with the given timeouts; tells who
    /// answered.
    pub fn probe_once(
        &self,
        from: &str,
        target: SocketAddrV4,
        cfg: &ProbeConfig,
    ) -> Result<ProbeOutcome> {
        netns::in_netns(self.ns(from)?, || probe::probe_once(target, cfg))
    }

    /// Starts the client prober in `from`'s namespace (see [`crate::probe`]).
    pub fn start_prober(
        &self,
        from: &str,
        target: SocketAddrV4,
        cfg: ProbeConfig,
    ) -> Result<Prober<'_>> {
        Prober::start(self.ns(from)?, target, cfg)
    }

    /// Replaces the nftables table `table` of `host`'s namespace by one with a single
    /// accepting base chain on `hook` (`input` or `output`) holding one rule; with no rule,
    /// only removes the table.
    fn nft_rule(&self, host: &str, table: &str, hook: &str, rule: Option<&[&str]>) -> Result<()> {
        let _ = self.run_status(host, &["nft", "delete", "table", "inet", table]);
        let Some(rule) = rule else {
            return Ok(());
        };
        self.run(host, &["nft", "add", "table", "inet", table])?;
        let chain = format!("{{ type filter hook {hook} priority 0; policy accept; }}");
        self.run(host, &["nft", "add", "chain", "inet", table, hook, &chain])?;
        let mut add = vec!["nft", "add", "rule", "inet", table, hook];
        add.extend_from_slice(rule);
        self.run(host, &add)?;
        Ok(())
    }

    /// Drops `percent` % of the UDP datagrams to `port` that `host` receives, at random
    /// (nftables' `numgen random`, in the host's namespace: this kernel has no netem). Each
    /// call replaces the previous rule; 0 removes it.
    pub fn lose_udp(&self, host: &str, port: u16, percent: u8) -> Result<()> {
        if percent > 100 {
            bail!("cannot lose {percent} % of the datagrams");
        }
        let (port, percent) = (port.to_string(), percent.to_string());
        let rule = [
            "udp", "dport", &port, "numgen", "random", "mod", "100", "<", &percent, "counter",
            "drop",
        ];
        let rule = (percent != "0").then_some(&rule[..]);
        self.nft_rule(host, "hblab_loss", "input", rule)
    }

    /// With `block`, drops every ICMP and ICMPv6 packet `host` sends to `peer` (its echo
    /// requests to a ping node, say), in the host's namespace; without, removes the rule.
    /// Everything else passes.
    pub fn block_icmp_to(&self, host: &str, peer: IpAddr, block: bool) -> Result<()> {
        let (family, proto) = match peer {
            IpAddr::V4(_) => ("ip", "icmp"),
            IpAddr::V6(_) => ("ip6", "icmpv6"),
        };
        let peer = peer.to_string();
        let rule = [
            family, "daddr", &peer, "meta", "l4proto", proto, "counter", "drop",
        ];
        self.nft_rule(host, "hblab_icmp", "output", block.then_some(&rule[..]))
    }

    /// How many datagrams the rule of [`Lab::lose_udp`] dropped on `host` so far.
    pub fn udp_lost(&self, host: &str) -> Result<u64> {
        let out = self.run(host, &["nft", "list", "table", "inet", "hblab_loss"])?;
        out.split_whitespace()
            .skip_while(|w| *w != "packets")
            .nth(1)
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow!("no drop counter on {host}: {out}"))
    }

    /// Whether `to` answers ICMP echo from `from` within one second (uses `ping`).
    pub fn pings(&self, from: &str, to: IpAddr) -> Result<bool> {
        let ns = self.ns(from)?;
        let out = Command::new("ip")
            .args([
                "netns", "exec", ns, "ping", "-n", "-q", "-c", "1", "-W", "1",
            ])
            .arg(to.to_string())
            .output()
            .context("cannot run ping")?;
        Ok(out.status.success())
    }

    // ----- teardown -----------------------------------------------------------------------

    fn teardown(&mut self) -> Vec<String> {
        let mut errors = Vec::new();
        // Service threads hold sockets in our namespaces: stop them first.
        let listeners = std::mem::take(self.listeners.get_mut().unwrap_or_else(|e| e.into_inner()));
        drop(listeners);
        // Hosts first, the bridge last (so no veth peer is left dangling in the bridge).
        for ns in self.created.iter().rev() {
            if let Err(e) = netns::delete(ns) {
                errors.push(format!("{e:#}"));
            }
        }
        errors
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let errors = self.teardown();
        for e in &errors {
            eprintln!("hb-nstests: teardown of {}: {e}", self.id);
        }
        let keep = std::thread::panicking()
            || self.keep.load(Ordering::SeqCst)
            || std::env::var_os("HB_LAB_KEEP").is_some();
        if keep {
            eprintln!(
                "hb-nstests: lab {} files kept in {}",
                self.id,
                self.dir.display()
            );
        } else if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("hb-nstests: cannot remove {}: {e}", self.dir.display());
        }
    }
}
