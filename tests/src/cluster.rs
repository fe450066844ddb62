//! Drivers for the failover managers we run in the lab: heartbeat-rs (ours), Debian's
//! heartbeat 3.0.6 and Debian's keepalived 2.2.7, each configured for a VIP on `eth0` with a
//! given keepalive / deadtime.
//!
//! Ours runs from the build directory ([`ours_bin_dir`]) with `--agent-path
//! <repo>/resource-agents`. With `HB_INSTALLED=1` ([`installed`]; scripts/install-test sets
//! it) it runs the Debian package instead: the daemon from [`INSTALLED_BIN_DIR`] (unless
//! `HB_BIN_DIR` says otherwise), no `--agent-path`, and each node's `<config dir>/resource.d`
//! a symbolic link to the package's [`INSTALLED_RESOURCE_D`], so `IPaddr::...` resolves the
//! way it does on an installed node (to the wrapper that execs the package's OCF agent).

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use nix::unistd::{Group, User};

use crate::lab::{HOST_IF, Lab, PREFIX_LEN};
use crate::process::Proc;
use crate::wait::wait_for;

/// The implementations the lab can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Implementation {
    /// heartbeat-rs, this repository's `heartbeat` binary.
    Ours,
    /// Debian's heartbeat 3.0.6 (haresources mode, `IPaddr2`).
    Heartbeat306,
    /// Debian's keepalived 2.2.7 (VRRPv3).
    Keepalived,
}

impl Implementation {
    /// All implementations, ours first.
    pub const ALL: [Implementation; 3] = [
        Implementation::Ours,
        Implementation::Heartbeat306,
        Implementation::Keepalived,
    ];

    /// Short name used on command lines and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Implementation::Ours => "ours",
            Implementation::Heartbeat306 => "heartbeat",
            Implementation::Keepalived => "keepalived",
        }
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Implementation {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "ours" | "heartbeat-rs" => Ok(Implementation::Ours),
            "heartbeat" | "heartbeat306" | "hb306" => Ok(Implementation::Heartbeat306),
            "keepalived" => Ok(Implementation::Keepalived),
            _ => bail!("unknown implementation {s:?} (expected ours, heartbeat or keepalived)"),
        }
    }
}

/// Failure-detection timing: heartbeat's `keepalive`, `deadtime`, `warntime`, `initdead`.
/// keepalived uses `keepalive` as `advert_int` and ignores the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval between two heartbeats (VRRP advertisements).
    pub keepalive: Duration,
    /// Silence after which a peer is declared dead.
    pub deadtime: Duration,
    /// Silence after which a "late heartbeat" warning is logged.
    pub warntime: Duration,
    /// Deadtime used at startup until communication is up.
    pub initdead: Duration,
}

/// Startup grace (`initdead`) is never shorter than this by default: both nodes are started
/// together, but on a loaded machine one may come up a second later than the other.
const MIN_DEFAULT_INITDEAD: Duration = Duration::from_secs(3);

impl Timing {
    /// keepalive/deadtime in milliseconds, with heartbeat's default warntime (deadtime / 2,
    /// raised above keepalive if needed) and initdead = max(2 × deadtime, 3 s).
    pub fn from_ms(keepalive_ms: u64, deadtime_ms: u64) -> Timing {
        let keepalive = Duration::from_millis(keepalive_ms);
        let deadtime = Duration::from_millis(deadtime_ms);
        let half = Duration::from_millis(deadtime_ms / 2);
        let warntime = if half > keepalive {
            half
        } else {
            Duration::from_millis((keepalive_ms + deadtime_ms) / 2)
        };
        Timing {
            keepalive,
            deadtime,
            warntime,
            initdead: (deadtime * 2).max(MIN_DEFAULT_INITDEAD),
        }
    }

    /// `keepalive/deadtime` in milliseconds, e.g. `100/300`.
    pub fn label(&self) -> String {
        format!(
            "{}/{}",
            self.keepalive.as_millis(),
            self.deadtime.as_millis()
        )
    }

    /// Checks the constraints heartbeat 3.0.6 enforces (deadtime > 2 × keepalive, initdead ≥
    /// deadtime) and that warntime does not exceed deadtime.
    pub fn validate(&self) -> Result<()> {
        if self.keepalive.is_zero() || !self.keepalive.subsec_nanos().is_multiple_of(1_000_000) {
            bail!("keepalive must be a positive whole number of milliseconds: {self:?}");
        }
        if self.deadtime <= self.keepalive * 2 {
            bail!("deadtime must exceed 2 x keepalive: {}", self.label());
        }
        if self.warntime > self.deadtime {
            bail!("warntime must not exceed deadtime: {self:?}");
        }
        if self.initdead < self.deadtime {
            bail!("initdead must be at least deadtime: {self:?}");
        }
        Ok(())
    }
}

impl fmt::Display for Timing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl FromStr for Timing {
    type Err = anyhow::Error;
    /// `KEEPALIVE/DEADTIME[/WARNTIME[/INITDEAD]]`, all in milliseconds.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<u64> = s
            .split('/')
            .map(|p| p.trim().parse::<u64>())
            .collect::<std::result::Result<_, _>>()
            .with_context(|| {
                format!("bad timing {s:?}: expected KEEPALIVE/DEADTIME[/WARNTIME[/INITDEAD]] in ms")
            })?;
        let mut t = match parts[..] {
            [k, d] | [k, d, _] | [k, d, _, _] => Timing::from_ms(k, d),
            _ => bail!("bad timing {s:?}: expected KEEPALIVE/DEADTIME[/WARNTIME[/INITDEAD]] in ms"),
        };
        if let Some(&w) = parts.get(2) {
            t.warntime = Duration::from_millis(w);
        }
        if let Some(&i) = parts.get(3) {
            t.initdead = Duration::from_millis(i);
        }
        t.validate()?;
        Ok(t)
    }
}

/// What to run: implementation, timing, nodes and the VIP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSpec {
    /// Which failover manager.
    pub implementation: Implementation,
    /// Failure-detection timing.
    pub timing: Timing,
    /// The cluster's nodes (lab host names); the first is the VIP's preferred node (heartbeat:
    /// the haresources owner; keepalived: the highest priority).
    pub nodes: Vec<String>,
    /// The virtual IP.
    pub vip: Ipv4Addr,
    /// `auto_failback` (heartbeat and ours).
    pub auto_failback: Failback,
    /// The sha1 key of `authkeys` (heartbeat and ours).
    pub auth_secret: String,
    /// The whole `authkeys` file, replacing `auth 1` + `1 sha1 SECRET` (heartbeat and ours).
    pub authkeys: Option<String>,
    /// Directory holding our `heartbeat` binary; `None` means [`ours_bin_dir`].
    pub ours_bin_dir: Option<PathBuf>,
    /// Extra `ha.cf` lines (heartbeat and ours), appended after the generated ones.
    pub extra_ha_cf: Vec<String>,
    /// The media lines of `ha.cf` (heartbeat and ours), e.g. `ucast6 eth0 2001:db8::12`;
    /// `None` means `bcast eth0`.
    pub media: Option<Vec<String>>,
    /// The resources of the first node's group (ours), replacing `IPaddr::VIP/24/eth0`:
    /// e.g. `IPaddr::192.0.2.100/24/eth0 nginx::{node_dir}/nginx.conf`, where `{node_dir}`
    /// and `{node}` are replaced per node.
    pub resources: Option<String>,
    /// The whole `haresources` file, used as is by every implementation (overrides
    /// `resources`): mixed clusters need the same group keys on both sides (`IPaddr2::...`,
    /// which ours runs with its IPaddr agent).
    pub haresources: Option<String>,
}

/// `auto_failback` as written in `ha.cf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Failback {
    /// `auto_failback on`.
    On,
    /// `auto_failback off`.
    Off,
    /// `auto_failback legacy`.
    Legacy,
}

impl Failback {
    /// The directive's value.
    pub fn name(self) -> &'static str {
        match self {
            Failback::On => "on",
            Failback::Off => "off",
            Failback::Legacy => "legacy",
        }
    }
}

impl ClusterSpec {
    /// `node1` and `node2`, VIP 192.0.2.100/24, `auto_failback off`, secret `labsecret`.
    pub fn new(implementation: Implementation, timing: Timing) -> ClusterSpec {
        ClusterSpec {
            implementation,
            timing,
            nodes: vec!["node1".to_owned(), "node2".to_owned()],
            vip: Ipv4Addr::new(192, 0, 2, 100),
            auto_failback: Failback::Off,
            auth_secret: "labsecret".to_owned(),
            authkeys: None,
            ours_bin_dir: None,
            extra_ha_cf: Vec::new(),
            media: None,
            resources: None,
            haresources: None,
        }
    }

    /// The resource argument `VIP/24/eth0`.
    fn vip_resource(&self) -> String {
        format!("{}/{PREFIX_LEN}/{HOST_IF}", self.vip)
    }

    /// `ha.cf` for heartbeat 3.0.6 and ours. `logs` = (logfile, debugfile) paths, if any.
    pub fn ha_cf(&self, logs: Option<(&str, &str)>) -> String {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let t = &self.timing;
        let mut s = String::from("# generated by hb-nstests\n");
        if let Some((logfile, debugfile)) = logs {
            s += &format!("logfile {logfile}\ndebugfile {debugfile}\n");
        }
        s += &format!(
            "keepalive {}\ndeadtime {}\nwarntime {}\ninitdead {}\n",
            ms(t.keepalive),
            ms(t.deadtime),
            ms(t.warntime),
            ms(t.initdead),
        );
        match &self.media {
            Some(lines) => {
                for line in lines {
                    s += line;
                    s.push('\n');
                }
            }
            None => s += &format!("bcast {HOST_IF}\n"),
        }
        s += &format!("auto_failback {}\ncrm no\n", self.auto_failback.name());
        for n in &self.nodes {
            s += &format!("node {n}\n");
        }
        for line in &self.extra_ha_cf {
            s += line;
            s.push('\n');
        }
        s
    }

    /// `authkeys` (must be installed with mode 0600).
    pub fn authkeys(&self) -> String {
        if let Some(all) = &self.authkeys {
            return all.clone();
        }
        format!("auth 1\n1 sha1 {}\n", self.auth_secret)
    }

    /// `haresources` with the VIP owned by the first node, managed by `agent`
    /// (`IPaddr2` for heartbeat 3.0.6, `IPaddr` for ours).
    pub fn haresources(&self, agent: &str) -> Result<String> {
        if let Some(all) = &self.haresources {
            return Ok(all.clone());
        }
        let owner = self
            .nodes
            .first()
            .ok_or_else(|| anyhow!("a cluster needs nodes"))?;
        if let Some(r) = &self.resources {
            return Ok(format!("{owner} {r}\n"));
        }
        Ok(format!("{owner} {agent}::{}\n", self.vip_resource()))
    }

    /// keepalived's `advert_int` for the keepalive interval. VRRPv3 counts in centiseconds:
    /// keepalived 2.2.7 accepts 0.01 s to 255 s and rounds anything that is not a multiple of
    /// 10 ms, which we refuse instead of silently measuring another interval.
    pub fn advert_int(&self) -> Result<String> {
        let ms = self.timing.keepalive.as_millis();
        if !(10..=255_000).contains(&ms) || !ms.is_multiple_of(10) {
            bail!(
                "keepalived needs an advert interval of 10 ms to 255 s in steps of 10 ms, not {ms} ms"
            );
        }
        Ok(format!("{}.{:02}", ms / 1000, (ms % 1000) / 10))
    }

    /// keepalived.conf for `node`: VRRPv3, priority 150 for the first node, 100 for the second,
    /// 50 for the third.
    pub fn keepalived_conf(&self, node: &str) -> Result<String> {
        let rank = self
            .nodes
            .iter()
            .position(|n| n == node)
            .ok_or_else(|| anyhow!("{node} is not a cluster node"))?;
        let priority = 150usize.saturating_sub(50 * rank).max(1);
        Ok(format!(
            "# generated by hb-nstests\n\
             global_defs {{\n  router_id {node}\n  vrrp_version 3\n}}\n\
             vrrp_instance VI_1 {{\n  state BACKUP\n  interface {HOST_IF}\n  \
             virtual_router_id 51\n  priority {priority}\n  advert_int {}\n  \
             virtual_ipaddress {{\n    {}/{PREFIX_LEN} dev {HOST_IF}\n  }}\n}}\n",
            self.advert_int()?,
            self.vip
        ))
    }
}

// ----- binaries ---------------------------------------------------------------------------

/// Where the Debian package installs our `heartbeat` daemon (docs/install.md).
pub const INSTALLED_BIN_DIR: &str = "/usr/libexec/heartbeat";
/// Where the Debian package installs the `resource.d` forms of our agents.
pub const INSTALLED_RESOURCE_D: &str = "/etc/ha.d/resource.d";

/// Whether the lab runs the installed Debian package (`HB_INSTALLED=1`): see the module
/// documentation.
pub fn installed() -> bool {
    std::env::var_os("HB_INSTALLED").is_some_and(|v| v == "1")
}

/// Directory of our `heartbeat` binary: `$HB_BIN_DIR` if set, else [`INSTALLED_BIN_DIR`]
/// with `HB_INSTALLED=1`, else `$CARGO_TARGET_DIR/<profile>` if `CARGO_TARGET_DIR` is set,
/// else `<repo>/target/<profile>`, where `<profile>` is `debug` or `release` like the calling
/// code's build.
pub fn ours_bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HB_BIN_DIR") {
        return PathBuf::from(d);
    }
    if installed() {
        return PathBuf::from(INSTALLED_BIN_DIR);
    }
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"));
    target.join(profile)
}

/// Directory of our release-built binaries, for tests that measure capacity (what operators
/// run is a release build): `$HB_RELEASE_BIN_DIR` if set, else `$CARGO_TARGET_DIR/release`
/// or `<repo>/target/release`.
pub fn ours_release_bin_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HB_RELEASE_BIN_DIR") {
        return PathBuf::from(d);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::repo_root().join("target"))
        .join("release")
}

fn check_executable(path: &Path, hint: &str) -> Result<PathBuf> {
    match fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path.to_owned()),
        Ok(_) => bail!("{} is not an executable file ({hint})", path.display()),
        Err(e) => bail!("{} not found: {e} ({hint})", path.display()),
    }
}

/// Our `heartbeat` binary in `dir` (or [`ours_bin_dir`]), checked to exist.
pub fn ours_binary(dir: Option<&Path>) -> Result<PathBuf> {
    let dir = dir.map(Path::to_owned).unwrap_or_else(ours_bin_dir);
    check_executable(
        &dir.join("heartbeat"),
        "build hb-daemon and hb-addr, or set HB_BIN_DIR",
    )
}

/// Debian's heartbeat 3.0.6 daemon: `$HB306_BIN` if set, else the file named `heartbeat` that
/// `dpkg -L heartbeat` lists under a `heartbeat` directory.
pub fn heartbeat306_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("HB306_BIN") {
        return check_executable(Path::new(&p), "HB306_BIN is set");
    }
    let listing = crate::netns::run_tool("dpkg", &["-L", "heartbeat"])
        .context("Debian's heartbeat package is not installed")?;
    listing
        .lines()
        .map(Path::new)
        .find(|p| {
            p.file_name().is_some_and(|n| n == "heartbeat")
                && p.parent()
                    .and_then(Path::file_name)
                    .is_some_and(|n| n == "heartbeat")
                && p.is_file()
        })
        .map(Path::to_owned)
        .ok_or_else(|| anyhow!("`dpkg -L heartbeat` lists no heartbeat daemon binary"))
}

/// keepalived: `$KEEPALIVED_BIN` if set, else the first of /usr/sbin, /sbin, /usr/local/sbin
/// holding it.
pub fn keepalived_binary() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("KEEPALIVED_BIN") {
        return check_executable(Path::new(&p), "KEEPALIVED_BIN is set");
    }
    ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join("keepalived"))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow!("keepalived is not installed"))
}

/// Quotes `s` for a POSIX shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", p.display()))
}

fn write_file(path: &Path, contents: &str, mode: u32) -> Result<()> {
    fs::write(path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot chmod {}", path.display()))
}

// ----- node files and command lines -------------------------------------------------------

/// Sub-directories of a heartbeat 3.0.6 node, bind-mounted over the system paths.
const HB306_MOUNTS: [(&str, &str); 4] = [
    ("etc", "/etc/ha.d"),
    ("lib", "/var/lib/heartbeat"),
    ("run", "/run"),
    ("log", "/var/log"),
];

/// Writes `node`'s configuration (and, for heartbeat 3.0.6, its private system directories)
/// into `dir`.
pub fn write_node_config(spec: &ClusterSpec, node: &str, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir)?;
    match spec.implementation {
        Implementation::Ours => {
            let conf = dir.join("config");
            for d in [&conf, &dir.join("state"), &dir.join("run")] {
                fs::create_dir_all(d)?;
            }
            write_file(&conf.join("ha.cf"), &spec.ha_cf(None), 0o644)?;
            write_file(&conf.join("authkeys"), &spec.authkeys(), 0o600)?;
            // `{node}` and `{node_dir}` in custom resources name per-node files (an nginx
            // configuration with its own pid file: the nodes share one file system).
            let haresources = spec
                .haresources("IPaddr")?
                .replace("{node_dir}", path_str(dir)?)
                .replace("{node}", node);
            write_file(&conf.join("haresources"), &haresources, 0o644)?;
            if installed() {
                // The daemon searches <config dir>/resource.d: the package's agents.
                let link = conf.join("resource.d");
                if fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink(INSTALLED_RESOURCE_D, &link)
                        .with_context(|| format!("cannot link {}", link.display()))?;
                }
            }
        }
        Implementation::Heartbeat306 => prepare_hb306(spec, dir)?,
        Implementation::Keepalived => {
            fs::create_dir_all(dir.join("run"))?;
            write_file(
                &dir.join("keepalived.conf"),
                &spec.keepalived_conf(node)?,
                0o644,
            )?;
        }
    }
    Ok(())
}

/// A private copy of /etc/ha.d with our configuration, and fresh /var/lib/heartbeat, /run
/// and /var/log trees owned as the Debian package sets them up.
fn prepare_hb306(spec: &ClusterSpec, dir: &Path) -> Result<()> {
    for (sub, _) in HB306_MOUNTS {
        fs::create_dir_all(dir.join(sub))?;
    }
    let etc = dir.join("etc");
    crate::netns::run_tool("cp", &["-a", "/etc/ha.d/.", path_str(&etc)?])
        .context("cannot copy /etc/ha.d")?;
    for stale in ["ha.cf", "authkeys", "haresources", "nodeinfo"] {
        let _ = fs::remove_file(etc.join(stale));
    }
    write_file(
        &etc.join("ha.cf"),
        &spec.ha_cf(Some(("/var/log/ha-log", "/var/log/ha-debug"))),
        0o644,
    )?;
    write_file(&etc.join("authkeys"), &spec.authkeys(), 0o600)?;
    write_file(
        &etc.join("haresources"),
        &spec.haresources("IPaddr2")?,
        0o644,
    )?;

    let uid = User::from_name("hacluster")?
        .ok_or_else(|| anyhow!("user hacluster missing (is heartbeat installed?)"))?
        .uid;
    let gid = Group::from_name("haclient")?
        .ok_or_else(|| anyhow!("group haclient missing (is heartbeat installed?)"))?
        .gid;
    let lib = dir.join("lib");
    let run = dir.join("run");
    let cluster_owned = [
        lib.join("ccm"),
        lib.join("crm"),
        lib.join("pengine"),
        lib.join("cores/hacluster"),
        run.join("heartbeat"),
        run.join("heartbeat/ccm"),
        run.join("heartbeat/crm"),
        run.join("heartbeat/dopd"),
        run.join("crm"),
    ];
    let root_owned = [
        lib.join("api"),
        lib.join("casual"),
        lib.join("ckpt"),
        lib.join("lrm"),
        lib.join("cores/root"),
        lib.join("cores/nobody"),
        run.join("resource-agents"),
    ];
    for d in cluster_owned.iter().chain(&root_owned) {
        fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    for d in &cluster_owned {
        nix::unistd::chown(d, Some(uid), Some(gid))
            .with_context(|| format!("cannot chown {}", d.display()))?;
        fs::set_permissions(d, fs::Permissions::from_mode(0o750))?;
    }
    Ok(())
}

/// `sh -ec SCRIPT` in its own mount and UTS namespaces (private mount propagation), so the
/// script's bind mounts and host name stay invisible to the rest of the machine.
pub(crate) fn in_private_mount_and_uts(script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "sh",
        "-ec",
        script,
    ]);
    cmd
}

/// The command line that runs `spec`'s daemon for `node` whose files are in `dir` (to be
/// spawned inside the node's namespace).
pub fn node_command(spec: &ClusterSpec, binary: &Path, node: &str, dir: &Path) -> Result<Command> {
    match spec.implementation {
        Implementation::Ours => {
            let mut cmd = Command::new(binary);
            cmd.arg("-f")
                .arg("--config-dir")
                .arg(dir.join("config"))
                .arg("--node-name")
                .arg(node)
                .arg("--state-dir")
                .arg(dir.join("state"))
                .arg("--run-dir")
                .arg(dir.join("run"));
            if !installed() {
                cmd.arg("--agent-path")
                    .arg(crate::repo_root().join("resource-agents"));
            }
            Ok(cmd)
        }
        Implementation::Heartbeat306 => {
            // Own mount and UTS namespaces: per-node /etc/ha.d, /var/lib/heartbeat, /run,
            // /var/log and host name, invisible to the rest of the machine.
            let mut script = format!("hostname {}\n", sh_quote(node));
            for (sub, target) in HB306_MOUNTS {
                script += &format!(
                    "mount --bind {} {target}\n",
                    sh_quote(path_str(&dir.join(sub))?)
                );
            }
            // heartbeat -f then logs "ERROR: setsid() failure" because the lab already made it
            // a process-group leader (as systemd makes it a session leader): harmless.
            script += &format!("exec {} -f\n", sh_quote(path_str(binary)?));
            Ok(in_private_mount_and_uts(&script))
        }
        Implementation::Keepalived => {
            let run = dir.join("run");
            let script = format!(
                "hostname {node}\nmount --bind {run} /run\n\
                 exec {bin} -n -l -D -G -P -f {conf} -p /run/keepalived.pid \
                 -r /run/keepalived_vrrp.pid\n",
                node = sh_quote(node),
                run = sh_quote(path_str(&run)?),
                bin = sh_quote(path_str(binary)?),
                conf = sh_quote(path_str(&dir.join("keepalived.conf"))?),
            );
            Ok(in_private_mount_and_uts(&script))
        }
    }
}

// ----- the cluster ------------------------------------------------------------------------

/// A cluster of one implementation running on lab nodes. Dropping it SIGKILLs every daemon
/// still running.
pub struct Cluster<'lab> {
    lab: &'lab Lab,
    spec: ClusterSpec,
    binary: PathBuf,
    procs: BTreeMap<String, Proc>,
    /// Nodes whose daemon the test stopped or killed on purpose (not a failure).
    stopped: std::collections::BTreeSet<String>,
}

impl fmt::Debug for Cluster<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("spec", &self.spec)
            .field("running", &self.procs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl<'lab> Cluster<'lab> {
    /// Checks the spec against the lab, finds the binary and writes every node's
    /// configuration into `<lab dir>/<implementation>-<node>/`. Starts nothing.
    pub fn new(lab: &'lab Lab, spec: ClusterSpec) -> Result<Cluster<'lab>> {
        spec.timing.validate()?;
        if spec.nodes.is_empty() {
            bail!("a cluster needs nodes");
        }
        for n in &spec.nodes {
            lab.ip(n)?;
        }
        let binary = match spec.implementation {
            Implementation::Ours => ours_binary(spec.ours_bin_dir.as_deref())?,
            Implementation::Heartbeat306 => heartbeat306_binary()?,
            Implementation::Keepalived => {
                spec.advert_int()?;
                keepalived_binary()?
            }
        };
        let cluster = Cluster {
            lab,
            spec,
            binary,
            procs: BTreeMap::new(),
            stopped: std::collections::BTreeSet::new(),
        };
        for n in &cluster.spec.nodes {
            cluster
                .prepare(n)
                .with_context(|| format!("preparing {n}"))?;
        }
        Ok(cluster)
    }

    /// The spec this cluster runs.
    pub fn spec(&self) -> &ClusterSpec {
        &self.spec
    }

    /// The daemon binary in use.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// `<lab dir>/<implementation>-<node>`: the node's configuration, state and logs.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.lab
            .dir()
            .join(format!("{}-{node}", self.spec.implementation.name()))
    }

    fn prepare(&self, node: &str) -> Result<()> {
        write_node_config(&self.spec, node, &self.node_dir(node))
    }

    fn command(&self, node: &str) -> Result<Command> {
        node_command(&self.spec, &self.binary, node, &self.node_dir(node))
    }

    /// Starts the daemon on `node` (returns once it is spawned; wait for its effects with
    /// [`Cluster::wait_for_sole_holder`] or by following [`Cluster::log_path`]).
    pub fn start(&mut self, node: &str) -> Result<()> {
        if !self.spec.nodes.iter().any(|n| n == node) {
            bail!("{node} is not a node of this cluster");
        }
        if self.procs.get(node).is_some_and(Proc::is_running) {
            bail!("{} already runs on {node}", self.spec.implementation);
        }
        let cmd = self.command(node)?;
        let proc = self
            .lab
            .spawn(node, self.spec.implementation.name(), &cmd)?;
        self.procs.insert(node.to_owned(), proc);
        self.stopped.remove(node);
        Ok(())
    }

    /// Starts every node, in spec order, without waiting in between.
    pub fn start_all(&mut self) -> Result<()> {
        for n in self.spec.nodes.clone() {
            self.start(&n)?;
        }
        Ok(())
    }

    /// The daemon process of `node` (the last one started there).
    pub fn proc(&self, node: &str) -> Result<&Proc> {
        self.procs
            .get(node)
            .ok_or_else(|| anyhow!("nothing was started on {node}"))
    }

    /// Whether the daemon of `node` runs.
    pub fn is_running(&self, node: &str) -> bool {
        self.procs.get(node).is_some_and(Proc::is_running)
    }

    /// Requests a graceful stop (SIGTERM) of `node`'s daemon without waiting.
    pub fn terminate(&self, node: &str) -> Result<()> {
        self.proc(node)?.terminate()
    }

    /// Graceful stop: SIGTERM, then waits up to `timeout` for the daemon to exit. If it does not,
    /// its process group is SIGKILLed and an error is returned.
    pub fn stop(&mut self, node: &str, timeout: Duration) -> Result<ExitStatus> {
        self.stopped.insert(node.to_owned());
        let proc = self.proc(node)?;
        let (status, in_time) = proc.stop(timeout)?;
        if !in_time {
            bail!(
                "{} on {node} ignored SIGTERM for {timeout:?} and was killed",
                proc.name()
            );
        }
        Ok(status)
    }

    /// The daemon on `node` is about to be killed by something other than the test (a
    /// fencing device's reset): its exit is not a failure.
    pub fn expect_exit(&mut self, node: &str) {
        self.stopped.insert(node.to_owned());
    }

    /// SIGKILLs `node`'s daemon and its process group (a crash; whatever it configured, such
    /// as the VIP, stays).
    pub fn kill(&mut self, node: &str) -> Result<ExitStatus> {
        self.stopped.insert(node.to_owned());
        self.proc(node)?.kill()
    }

    /// The daemon's main log: heartbeat 3.0.6's `ha-log`, otherwise the process's
    /// stdout/stderr log.
    pub fn log_path(&self, node: &str) -> Result<PathBuf> {
        match self.spec.implementation {
            Implementation::Heartbeat306 => Ok(self.node_dir(node).join("log/ha-log")),
            _ => Ok(self.proc(node)?.log_path().to_owned()),
        }
    }

    /// The last `lines` lines of every log of `node` (daemon log and process output), for error
    /// messages. heartbeat 3.0.6's "Late heartbeat" warnings, which can flood the log at short
    /// timings, are left out and only counted.
    pub fn log_tail(&self, node: &str, lines: usize) -> String {
        let mut paths = Vec::new();
        if let Ok(p) = self.log_path(node) {
            paths.push(p);
        }
        if let Ok(p) = self.proc(node)
            && !paths.iter().any(|x| x == p.log_path())
        {
            paths.push(p.log_path().to_owned());
        }
        let mut out = String::new();
        for p in paths {
            let text = fs::read(&p).map(|b| String::from_utf8_lossy(&b).into_owned());
            let text = text.unwrap_or_else(|e| format!("(unreadable: {e})"));
            let (late, rest): (Vec<&str>, Vec<&str>) =
                text.lines().partition(|l| l.contains("Late heartbeat"));
            out += &format!("--- {} (last {lines} lines", p.display());
            if !late.is_empty() {
                out += &format!(", {} \"Late heartbeat\" warnings left out", late.len());
            }
            out += ")\n";
            for l in &rest[rest.len().saturating_sub(lines)..] {
                out += l;
                out.push('\n');
            }
        }
        out
    }

    /// Fails if a daemon that was started has exited (unless the test stopped or killed it),
    /// quoting its log.
    pub fn check_running(&self) -> Result<()> {
        for (node, proc) in self
            .procs
            .iter()
            .filter(|(n, _)| !self.stopped.contains(*n))
        {
            if let Some(status) = proc.try_wait()? {
                bail!(
                    "{} on {node} exited ({status})\n{}",
                    self.spec.implementation,
                    self.log_tail(node, 30)
                );
            }
        }
        Ok(())
    }

    /// The lab hosts currently holding the VIP.
    pub fn vip_holders(&self) -> Result<Vec<String>> {
        self.lab.address_holders(self.spec.vip)
    }

    /// Waits until `node`, and only `node`, holds the VIP, failing early (with logs) if a
    /// started daemon exits.
    pub fn wait_for_sole_holder(&self, node: &str, timeout: Duration) -> Result<Duration> {
        let what = format!("the VIP {} held by {node} alone", self.spec.vip);
        let mut last = Vec::new();
        wait_for(&what, timeout, || {
            self.check_running()?;
            last = self.vip_holders()?;
            Ok(last == [node])
        })
        .map_err(|e| {
            let holders = self.vip_holders().unwrap_or(last);
            let logs: String = self
                .spec
                .nodes
                .iter()
                .map(|n| self.log_tail(n, 15))
                .collect();
            // First line: what went wrong; then the evidence.
            anyhow!("{e:#} (VIP holders: {holders:?})\n{logs}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_parses_two_or_four_fields() {
        let t: Timing = "100/300".parse().unwrap();
        assert_eq!(t.keepalive, Duration::from_millis(100));
        assert_eq!(t.deadtime, Duration::from_millis(300));
        assert_eq!(t.warntime, Duration::from_millis(150));
        assert_eq!(t.initdead, Duration::from_secs(3));
        assert_eq!(t.label(), "100/300");
        let t: Timing = "10/30/20/5000".parse().unwrap();
        assert_eq!(t.warntime, Duration::from_millis(20));
        assert_eq!(t.initdead, Duration::from_millis(5000));
        let t: Timing = "1000/10000".parse().unwrap();
        assert_eq!(t.initdead, Duration::from_secs(20));
    }

    #[test]
    fn timing_rejects_what_heartbeat_rejects() {
        for bad in [
            "100",
            "100/200",
            "0/30",
            "a/300",
            "100/300/400",
            "100/300/150/200",
            "1/2/3/4/5",
        ] {
            assert!(bad.parse::<Timing>().is_err(), "{bad}");
        }
        // warntime is raised above keepalive when deadtime / 2 would not exceed it.
        let t = Timing::from_ms(100, 201);
        assert!(
            t.warntime > t.keepalive && t.warntime <= t.deadtime,
            "{t:?}"
        );
    }

    #[test]
    fn implementation_names_round_trip() {
        for i in Implementation::ALL {
            assert_eq!(i.name().parse::<Implementation>().unwrap(), i);
        }
        assert!("pacemaker".parse::<Implementation>().is_err());
    }

    #[test]
    fn ha_cf_uses_millisecond_syntax_and_lists_nodes() {
        let spec = ClusterSpec::new(Implementation::Heartbeat306, "100/300".parse().unwrap());
        let cf = spec.ha_cf(Some(("/var/log/ha-log", "/var/log/ha-debug")));
        for line in [
            "logfile /var/log/ha-log",
            "debugfile /var/log/ha-debug",
            "keepalive 100ms",
            "deadtime 300ms",
            "warntime 150ms",
            "initdead 3000ms",
            "bcast eth0",
            "auto_failback off",
            "crm no",
            "node node1",
            "node node2",
        ] {
            assert!(cf.lines().any(|l| l == line), "missing {line:?} in\n{cf}");
        }
        assert!(!spec.ha_cf(None).contains("logfile"));
        let mut v6 = spec.clone();
        v6.media = Some(vec![
            "ucast6 eth0 2001:db8::11".to_owned(),
            "ucast6 eth0 2001:db8::12".to_owned(),
        ]);
        let cf = v6.ha_cf(None);
        assert!(
            cf.contains("initdead 3000ms\nucast6 eth0 2001:db8::11\nucast6 eth0 2001:db8::12\n"),
            "{cf}"
        );
        assert!(!cf.contains("bcast"), "the media replace bcast:\n{cf}");
        assert_eq!(spec.authkeys(), "auth 1\n1 sha1 labsecret\n");
        assert_eq!(
            spec.haresources("IPaddr2").unwrap(),
            "node1 IPaddr2::192.0.2.100/24/eth0\n"
        );
    }

    #[test]
    fn keepalived_conf_has_vrrp3_priorities_and_advert_interval() {
        let mut spec = ClusterSpec::new(Implementation::Keepalived, "100/300".parse().unwrap());
        let c1 = spec.keepalived_conf("node1").unwrap();
        let c2 = spec.keepalived_conf("node2").unwrap();
        assert!(
            c1.contains("vrrp_version 3") && c1.contains("priority 150"),
            "{c1}"
        );
        assert!(
            c2.contains("priority 100") && c2.contains("advert_int 0.10"),
            "{c2}"
        );
        assert!(c1.contains("192.0.2.100/24 dev eth0"), "{c1}");
        assert!(spec.keepalived_conf("node9").is_err());
        spec.timing = "10/30".parse().unwrap();
        assert_eq!(spec.advert_int().unwrap(), "0.01");
        spec.timing = "1500/5000".parse().unwrap();
        assert_eq!(spec.advert_int().unwrap(), "1.50");
        spec.timing = "15/50".parse().unwrap();
        assert!(spec.advert_int().is_err(), "not a multiple of 10 ms");
        spec.timing = "5/50".parse().unwrap();
        assert!(spec.advert_int().is_err(), "below keepalived's minimum");
    }

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn ours_gets_the_fixed_command_line_and_private_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = ClusterSpec::new(Implementation::Ours, "100/300".parse().unwrap());
        spec.extra_ha_cf.push("udpport 7694".to_owned());
        write_node_config(&spec, "node2", dir.path()).unwrap();
        let conf = dir.path().join("config");
        let cf = fs::read_to_string(conf.join("ha.cf")).unwrap();
        assert!(
            !cf.contains("logfile"),
            "ours logs to stderr (the process log):\n{cf}"
        );
        assert!(cf.ends_with("node node2\nudpport 7694\n"), "{cf}");
        let keys = fs::metadata(conf.join("authkeys")).unwrap();
        assert_eq!(keys.permissions().mode() & 0o777, 0o600);
        assert_eq!(
            fs::read_to_string(conf.join("haresources")).unwrap(),
            "node1 IPaddr::192.0.2.100/24/eth0\n"
        );
        assert!(dir.path().join("state").is_dir() && dir.path().join("run").is_dir());

        let cmd = node_command(&spec, Path::new("/b/heartbeat"), "node2", dir.path()).unwrap();
        assert_eq!(cmd.get_program(), "/b/heartbeat");
        let d = dir.path().display();
        let agents = crate::repo_root().join("resource-agents");
        let mut expected = vec![
            "-f".to_owned(),
            "--config-dir".to_owned(),
            format!("{d}/config"),
            "--node-name".to_owned(),
            "node2".to_owned(),
            "--state-dir".to_owned(),
            format!("{d}/state"),
            "--run-dir".to_owned(),
            format!("{d}/run"),
        ];
        if installed() {
            // HB_INSTALLED=1: the package's agents, through <config dir>/resource.d.
            assert_eq!(
                fs::read_link(conf.join("resource.d")).unwrap(),
                Path::new(INSTALLED_RESOURCE_D)
            );
        } else {
            expected.extend(["--agent-path".to_owned(), agents.display().to_string()]);
            assert!(fs::symlink_metadata(conf.join("resource.d")).is_err());
        }
        assert_eq!(args(&cmd), expected);
    }

    #[test]
    fn references_run_in_private_mount_and_uts_namespaces() {
        let dir = Path::new("/lab/x");
        let hb = ClusterSpec::new(Implementation::Heartbeat306, "100/300".parse().unwrap());
        let cmd = node_command(
            &hb,
            Path::new("/usr/libexec/heartbeat/heartbeat"),
            "node1",
            dir,
        )
        .unwrap();
        assert_eq!(cmd.get_program(), "unshare");
        let a = args(&cmd);
        assert_eq!(
            a[..6],
            ["--mount", "--uts", "--propagation", "private", "sh", "-ec"]
        );
        let script = &a[6];
        for line in [
            "hostname 'node1'",
            "mount --bind '/lab/x/etc' /etc/ha.d",
            "mount --bind '/lab/x/lib' /var/lib/heartbeat",
            "mount --bind '/lab/x/run' /run",
            "mount --bind '/lab/x/log' /var/log",
            "exec '/usr/libexec/heartbeat/heartbeat' -f",
        ] {
            assert!(
                script.lines().any(|l| l == line),
                "missing {line:?} in\n{script}"
            );
        }
        let ka = ClusterSpec::new(Implementation::Keepalived, "100/300".parse().unwrap());
        let cmd = node_command(&ka, Path::new("/usr/sbin/keepalived"), "node2", dir).unwrap();
        let script = &args(&cmd)[6];
        assert!(
            script.contains("mount --bind '/lab/x/run' /run"),
            "{script}"
        );
        assert!(script.contains("-f '/lab/x/keepalived.conf'"), "{script}");
        assert!(
            script.contains(" -n -l "),
            "foreground, log to stderr: {script}"
        );
    }

    #[test]
    fn keepalived_node_config_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ClusterSpec::new(Implementation::Keepalived, "10/30".parse().unwrap());
        write_node_config(&spec, "node2", dir.path()).unwrap();
        let conf = fs::read_to_string(dir.path().join("keepalived.conf")).unwrap();
        assert!(
            conf.contains("priority 100") && conf.contains("advert_int 0.01"),
            "{conf}"
        );
        assert!(dir.path().join("run").is_dir());
    }

    #[test]
    fn shell_quoting_survives_quotes() {
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn ours_bin_dir_honours_hb_bin_dir() {
        // Only reads the environment; the variable is set for this process by the test runner
        // when the lead points the tests at another build.
        let dir = ours_bin_dir();
        match std::env::var_os("HB_BIN_DIR") {
            Some(d) => assert_eq!(dir, PathBuf::from(d)),
            None if installed() => assert_eq!(dir, Path::new(INSTALLED_BIN_DIR)),
            None => assert!(
                dir.ends_with("debug") || dir.ends_with("release"),
                "{dir:?}"
            ),
        }
    }
}
