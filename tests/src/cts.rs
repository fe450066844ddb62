//! Heartbeat's own Cluster Test System (CTS, `/usr/share/heartbeat/cts` of Debian's heartbeat
//! package) run against a pair of nodes in the lab, in its classic (haresources) mode.
//!
//! What the lab provides so that CTS runs unchanged (only ported to Python 3 by
//! `scripts/cts-port`, at run time, into the lab directory):
//!
//! * **Nodes**: each node is a "container" in its lab network namespace, with its own mount,
//!   UTS and PID namespaces (`unshare`), whose init (a tiny reaper, PID 1) lives as long as the
//!   run. Inside, the node has its own `/etc/ha.d` (a copy of the installed one with our
//!   `ha.cf`, `haresources`, `authkeys`), `/var/lib/heartbeat`, `/run`, `/var/log`, host name,
//!   and the daemon where CTS starts it, `/usr/lib/heartbeat/heartbeat` (Heartbeat 3.0.6's
//!   upstream location, which Debian moved to `/usr/libexec/heartbeat`): Debian's daemon, or
//!   ours (also at `/usr/libexec/heartbeat/heartbeat`, which Debian's init script and
//!   `TestHeartbeatComm` call), each laid as a read-only overlay over the installed
//!   directory. `/usr/share/heartbeat/cts` is the ported copy (CTS runs its `CTSproxy.py`
//!   there), and `/dev` a small tmpfs with the usual devices and the node's `/dev/log`. Its own PID namespace keeps CTS's `killall -9 heartbeat` on one
//!   node, and killing the init at the end kills everything that ran on the node.
//! * **Remote commands**: CTS runs them as `/usr/bin/ssh -l root -n -x NODE 'COMMAND'`
//!   (a fixed path). The CTS process has a private mount namespace where
//!   `scripts/cts-ssh` is mounted over `/usr/bin/ssh`: it enters the node's namespaces through
//!   its init and runs the command there. Node names resolve through a lab `/etc/hosts`
//!   mounted there too; CTS itself runs in the lab's `client` network namespace (it pings the
//!   nodes).
//! * **Logs**: CTS waits for the cluster managers' syslog messages in one file (`-L`), as
//!   collected from all nodes by a central syslog server (its patterns include the node's
//!   host name). Each node's `/dev/log` is a socket of a [`SyslogCollector`] that writes the
//!   file in syslog's format; both daemons log with `logfacility daemon` (Heartbeat also
//!   keeps its `/var/log/ha-log`; ours, which logs to syslog only without a `logfile`, keeps
//!   a `debugfile`). CTS's own messages and the `logger` test messages it sends from the nodes
//!   arrive there too, as on a real test cluster.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::cluster::{
    ClusterSpec, Failback, Implementation, Timing, heartbeat306_binary, ours_binary,
    write_node_config,
};
use crate::lab::{CLIENT, Lab};
use crate::mixed::Pairing;
use crate::process::Proc;
use crate::syslog::SyslogCollector;
use crate::wait::wait_for;

/// The classic-mode tests CTS runs for a heartbeat cluster with `auto_failback` on or off and
/// no STONITH (every test of its `TestList` that applies then).
pub const CLASSIC_TESTS: [&str; 11] = [
    "Flip",
    "Restart",
    "StartOnebyOne",
    "SimulStart",
    "SimulStop",
    "StopOnebyOne",
    "RestartOnebyOne",
    "standby",
    "DetectionTime",
    "Split_brain",
    "SpecialTest1",
];

/// The two groups of the cluster: VIP1 owned by node1, VIP2 by node2.
pub const HARESOURCES: &str =
    "node1 IPaddr2::192.0.2.100/24/eth0\nnode2 IPaddr2::192.0.2.101/24/eth0\n";

/// Set by the caller (e.g. on SIGINT) to end a run early: CTS is killed, everything the run
/// started is torn down and [`run`] returns an error.
pub static INTERRUPT: AtomicBool = AtomicBool::new(false);

/// How often [`run`] looks whether CTS has finished (a run takes minutes).
const CTS_POLL: Duration = Duration::from_millis(250);

/// Installed locations CTS and the nodes use.
const CTS_INSTALLED: &str = "/usr/share/heartbeat/cts";
const HB_LIB: &str = "/usr/lib/heartbeat";
const HB_LIBEXEC: &str = "/usr/libexec/heartbeat";

/// A CTS run: which pair, which tests, how long.
#[derive(Debug, Clone)]
pub struct CtsSpec {
    /// Implementation of node1 and node2.
    pub pairing: Pairing,
    /// `ha.cf` timing of both nodes.
    pub timing: Timing,
    /// `auto_failback` (not `legacy`: CTS's standby tests do not apply then).
    pub failback: Failback,
    /// One test (`--choose`); `None` picks at random among all that apply.
    pub test: Option<String>,
    /// Number of test iterations.
    pub iterations: u32,
    /// CTS's random seed (`--seed`), for repeatable choices of tests and nodes.
    pub seed: Option<String>,
    /// Upper bound for the whole run.
    pub timeout: Duration,
    /// Diagnosis only, never for results: work around what stops our daemon before CTS can
    /// test anything, to see what fails beyond it. On our nodes, CTS's status command
    /// (`heartbeat -s`, which our daemon does not have yet) is answered in Heartbeat's wording
    /// from our `cl_status hbstatus`, and `/run/heartbeat` is root's (Debian's tmpfiles.d
    /// makes it hacluster's, mode 0750, which our daemon refuses).
    pub ours_workarounds: bool,
}

impl CtsSpec {
    /// `iterations` of `test` (or random tests) on `pairing`, with the conformance suite's
    /// timing (keepalive 200 ms, deadtime 2 s, warntime 1 s, initdead 6 s) and
    /// `auto_failback on`.
    pub fn new(pairing: Pairing, test: Option<&str>, iterations: u32) -> CtsSpec {
        CtsSpec {
            pairing,
            timing: Timing {
                keepalive: Duration::from_millis(200),
                deadtime: Duration::from_secs(2),
                warntime: Duration::from_secs(1),
                initdead: Duration::from_secs(6),
            },
            failback: Failback::On,
            test: test.map(str::to_owned),
            iterations,
            seed: None,
            // CTS sleeps 30 s after most steps (its StableTime): about 6 minutes for start-up,
            // shut-down and audits, and up to 5 per iteration.
            timeout: Duration::from_secs(360 + 300 * u64::from(iterations)),
            ours_workarounds: false,
        }
    }

    /// The `CTSlab.py` arguments (after the script name).
    pub fn cts_args(&self, ha_dir: &Path, log: &Path) -> Vec<String> {
        let mut a = vec![
            "-D".to_owned(),
            ha_dir.display().to_string(),
            "-L".to_owned(),
            log.display().to_string(),
            "--stonith".to_owned(),
            "no".to_owned(),
        ];
        if let Some(t) = &self.test {
            a.extend(["--choose".to_owned(), t.clone()]);
        }
        if let Some(s) = &self.seed {
            a.extend(["--seed".to_owned(), s.clone()]);
        }
        a.push(self.iterations.to_string());
        a
    }
}

/// Counters CTS prints as a Python dict (`{'success': 1, 'failure': 0, ...}`).
pub type Stats = BTreeMap<String, f64>;

/// What a CTS run printed.
#[derive(Debug, Clone)]
pub struct CtsOutcome {
    /// CTSlab.py's exit status (its number of failed tests, or 1).
    pub status: ExitStatus,
    /// "Overall Results": success, failure, BadNews, auditfail.
    pub overall: Stats,
    /// "Detailed Results" per test: calls, success, failure, skipped, auditfail, ...
    pub tests: BTreeMap<String, Stats>,
    /// CTS's lines that explain failures: failed tests with their reason, patterns not found,
    /// BadNews (bad log lines), audit failures.
    pub problems: Vec<String>,
    /// CTS's own output.
    pub output: PathBuf,
    /// The collected syslog of the nodes (what CTS watched).
    pub syslog: PathBuf,
}

impl CtsOutcome {
    /// A counter of the overall results (0 when absent).
    pub fn overall_count(&self, key: &str) -> u64 {
        count(&self.overall, key)
    }

    /// Whether the run passed: CTS's own verdict (exit status 0: every iteration successful)
    /// and no audit failure (which CTS counts without failing the run). Bad news (log lines
    /// matching CTS's BadRegexes) do not fail a run, as in CTS: they are counted and shown.
    pub fn passed(&self, iterations: u32) -> bool {
        self.status.success()
            && self.overall_count("success") == u64::from(iterations)
            && self.overall_count("failure") == 0
            && self.overall_count("auditfail") == 0
    }

    /// One line per test that ran: `NAME calls/success/failure/skipped/auditfail`.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "overall: success {} failure {} BadNews {} auditfail {}\n",
            self.overall_count("success"),
            self.overall_count("failure"),
            self.overall_count("BadNews"),
            self.overall_count("auditfail"),
        );
        for (name, st) in &self.tests {
            if count(st, "calls") == 0 {
                continue;
            }
            let _ = writeln!(
                s,
                "{name}: calls {} success {} failure {} skipped {} auditfail {}",
                count(st, "calls"),
                count(st, "success"),
                count(st, "failure"),
                count(st, "skipped"),
                count(st, "auditfail"),
            );
        }
        s
    }
}

fn count(stats: &Stats, key: &str) -> u64 {
    stats.get(key).map_or(0, |v| *v as u64)
}

/// Parses a Python dict of numbers as CTS prints it: `{'success': 1, 'min_time': 3.2}`.
/// Entries whose value is not a number are left out.
pub fn parse_stats(text: &str) -> Option<Stats> {
    let inner = text.trim().strip_prefix('{')?.strip_suffix('}')?;
    let mut stats = Stats::new();
    for entry in inner.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (k, v) = entry.split_once(':')?;
        let k = k.trim().trim_matches(|c| c == '\'' || c == '"');
        if let Ok(v) = v.trim().parse::<f64>() {
            stats.insert(k.to_owned(), v);
        }
    }
    Some(stats)
}

/// Reads CTS's output: the overall and per-test results, and the lines that explain failures.
pub fn parse_output(text: &str) -> (Stats, BTreeMap<String, Stats>, Vec<String>) {
    let mut overall = Stats::new();
    let mut tests = BTreeMap::new();
    let mut problems = Vec::new();
    for line in text.lines() {
        // StdErrLog lines: "Mon dd HH:MM:SS\tMESSAGE".
        let msg = line.split_once('\t').map_or(line, |(_, m)| m).trim();
        if let Some(d) = msg.strip_prefix("Overall Results:") {
            overall = parse_stats(d).unwrap_or_default();
        } else if let Some(rest) = msg.strip_prefix("Test ")
            && let Some((name, d)) = rest.split_once(':')
            && d.trim_start().starts_with('{')
        {
            if let Some(st) = parse_stats(d) {
                tests.insert(name.trim().to_owned(), st);
            }
        } else if [
            "failed [reason:",
            "[FAILED]",
            "BadNews:",
            "pattern not found",
            "Patterns not found",
            "Audit ",
            "Fatal Audit error",
            "ERROR:",
            "Warn:",
            "Traceback",
            "Exception by",
        ]
        .iter()
        .any(|p| msg.contains(p))
        {
            problems.push(msg.to_owned());
        }
    }
    (overall, tests, problems)
}

// ----- the run ------------------------------------------------------------------------------

/// A node container (see the module docs): the process that holds its namespaces.
struct NodeContainer {
    /// `unshare` and the node's init, killed (with everything in its PID namespace) on drop.
    proc: Proc,
}

/// Everything a run started; fields drop in order: CTS first, then the nodes, then the
/// syslog collector.
struct Running {
    cts: Option<Proc>,
    _nodes: Vec<NodeContainer>,
    _syslog: SyslogCollector,
}

/// Runs CTS as `spec` says in `lab` (which needs node1, node2 and the client) and reads its
/// results. Files go to `<lab dir>/cts`; the run's own problems (a node that cannot be set up,
/// CTS that does not finish in time) are errors, CTS's test results are in the outcome.
pub fn run(lab: &Lab, spec: &CtsSpec) -> Result<CtsOutcome> {
    let root = lab.dir().join("cts");
    fs::create_dir_all(root.join("nodes"))?;
    let port = root.join("port");
    port_cts(&port)?;

    let mut cluster = ClusterSpec::new(Implementation::Heartbeat306, spec.timing);
    cluster.auto_failback = spec.failback;
    cluster.haresources = Some(HARESOURCES.to_owned());
    cluster.extra_ha_cf.push("logfacility daemon".to_owned());
    // Heartbeat's default `realtime on` logs "ERROR: Cannot lock ourselves into memory" on
    // this machine (its mlockall fails, and the sandbox cannot raise RLIMIT_MEMLOCK): a line
    // CTS counts as bad news. Off for both implementations alike.
    cluster.extra_ha_cf.push("realtime off".to_owned());

    let syslog_file = root.join("syslog");
    let mut syslog = SyslogCollector::new(&syslog_file)?;
    let mut nodes = Vec::new();
    for node in ["node1", "node2"] {
        let implementation = spec.pairing.of(node)?;
        let dir = root.join(node);
        prepare_node(&cluster, implementation, node, &dir, spec.ours_workarounds)?;
        syslog.listen(node, &dir.join("syslog.sock"))?;
        let container = start_node(lab, node, &dir, &port)?;
        fs::write(root.join("nodes").join(node), container.1.to_string())?;
        nodes.push(container.0);
    }

    // CTS's view of the cluster: ha.cf (node names, auto_failback, logfacility) and
    // haresources, as on a node.
    let ha_dir = root.join("ha.d");
    fs::create_dir_all(&ha_dir)?;
    fs::write(ha_dir.join("ha.cf"), cluster.ha_cf(None))?;
    fs::write(ha_dir.join("haresources"), HARESOURCES)?;
    let mut hosts = String::from("127.0.0.1\tlocalhost\n");
    for h in lab.hosts() {
        let alias = if h == CLIENT { " cts" } else { "" };
        let _ = writeln!(hosts, "{}\t{h}{alias}", lab.ip(h)?);
    }
    fs::write(root.join("hosts"), hosts)?;
    let cts_dir = root.join("exerciser");
    fs::create_dir_all(&cts_dir)?;
    syslog.listen("cts", &cts_dir.join("syslog.sock"))?;

    let ssh = crate::repo_root().join("scripts/cts-ssh");
    let args: Vec<String> = spec
        .cts_args(&ha_dir, &syslog_file)
        .iter()
        .map(|a| sh_quote(a))
        .collect();
    let mut script = String::from("hostname cts\n");
    script += &bind(&root.join("hosts"), "/etc/hosts")?;
    script += &bind(&port, CTS_INSTALLED)?;
    script += &bind(&ssh, "/usr/bin/ssh")?;
    script += &dev_with_log(&cts_dir)?;
    script += &format!(
        "cd {CTS_INSTALLED}\nexec /usr/bin/python3 -u CTSlab.py {}\n",
        args.join(" ")
    );
    let mut cmd = crate::cluster::in_private_mount_and_uts(&script);
    cmd.env("HB_CTS_NODES", root.join("nodes"));
    let mut running = Running {
        cts: None,
        _nodes: nodes,
        _syslog: syslog,
    };
    let started = Instant::now();
    let cts = lab.spawn(CLIENT, "cts", &cmd)?;
    let output = cts.log_path().to_owned();
    let deadline = started + spec.timeout;
    let status = loop {
        if let Some(s) = cts.try_wait()? {
            break s;
        }
        if INTERRUPT.load(Ordering::SeqCst) {
            let _ = cts.kill();
            lab.keep_files();
            bail!("interrupted; CTS's output: {}", output.display());
        }
        if Instant::now() >= deadline {
            let _ = cts.kill();
            lab.keep_files();
            bail!(
                "CTS did not finish within {:?}; its output ends with:\n{}",
                spec.timeout,
                tail(&output, 40)
            );
        }
        std::thread::sleep(CTS_POLL);
    };
    running.cts = Some(cts);
    let text = String::from_utf8_lossy(&fs::read(&output)?).into_owned();
    let (overall, tests, problems) = parse_output(&text);
    if overall.is_empty() {
        lab.keep_files();
        bail!(
            "CTS ({status}, after {:?}) printed no results; its output ends with:\n{}",
            started.elapsed(),
            tail(&output, 40)
        );
    }
    drop(running);
    Ok(CtsOutcome {
        status,
        overall,
        tests,
        problems,
        output,
        syslog: syslog_file,
    })
}

fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(unreadable: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Ports the installed CTS into `dest` with `scripts/cts-port`.
pub fn port_cts(dest: &Path) -> Result<()> {
    let script = crate::repo_root().join("scripts/cts-port");
    let out = Command::new(&script)
        .arg(dest)
        .output()
        .with_context(|| format!("cannot run {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed ({}): {}{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Writes `node`'s tree in `dir`: `etc` (its /etc/ha.d), `lib`, `run`, `log`, and `usrlib`
/// (`libexec` too for ours) holding only the daemon `heartbeat`, laid over the installed
/// directory (a read-only overlay: the rest of the directory shows through).
fn prepare_node(
    cluster: &ClusterSpec,
    implementation: Implementation,
    node: &str,
    dir: &Path,
    ours_workarounds: bool,
) -> Result<()> {
    // Heartbeat's layout for both: ours reads the same files at the same default paths.
    write_node_config(cluster, node, dir).with_context(|| format!("preparing {node}"))?;
    let daemon_dir = |name: &str| -> Result<PathBuf> {
        let d = dir.join(name);
        fs::create_dir_all(&d)?;
        Ok(d)
    };
    let usrlib = daemon_dir("usrlib")?;
    match implementation {
        Implementation::Heartbeat306 => {
            std::os::unix::fs::symlink(heartbeat306_binary()?, usrlib.join("heartbeat"))?;
        }
        Implementation::Ours => {
            // No logfile: ours then logs to syslog (a debugfile keeps the details).
            let mut cf = cluster.ha_cf(None);
            cf += "debugfile /var/log/ha-debug\n";
            fs::write(dir.join("etc/ha.cf"), cf)?;
            let bin = ours_binary(cluster.ours_bin_dir.as_deref())?;
            let agents = crate::repo_root().join("resource-agents");
            let mut wrapper = String::from(
                "#!/bin/sh\n# heartbeat-rs, installed in place of Heartbeat's daemon (hb-nstests)\n",
            );
            if ours_workarounds {
                let cl_status = bin.with_file_name("cl_status");
                wrapper += &format!(
                    "# DIAGNOSIS ONLY: Heartbeat's `heartbeat -s` emulated with our cl_status\n\
                     if [ \"$1\" = -s ]; then\n  \
                       if {} hbstatus >/dev/null 2>&1; then\n    \
                         echo \"heartbeat OK [pid $(cat /run/heartbeat/heartbeat.pid) et al] is running on $(uname -n) [$(uname -n)]...\"; exit 0\n  \
                       fi\n  \
                       echo 'heartbeat is stopped. No process'; exit 3\n\
                     fi\n",
                    sh_quote(path_str(&cl_status)?)
                );
            }
            wrapper += &format!(
                "exec {} --agent-path {} \"$@\"\n",
                sh_quote(path_str(&bin)?),
                sh_quote(path_str(&agents)?)
            );
            if ours_workarounds {
                let run = dir.join("run/heartbeat");
                nix::unistd::chown(
                    &run,
                    Some(nix::unistd::Uid::from_raw(0)),
                    Some(nix::unistd::Gid::from_raw(0)),
                )?;
                fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            }
            let libexec = daemon_dir("libexec")?;
            for d in [&usrlib, &libexec] {
                let f = d.join("heartbeat");
                fs::write(&f, &wrapper)?;
                fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
            }
        }
        Implementation::Keepalived => bail!("keepalived does not speak Heartbeat's protocol"),
    }
    Ok(())
}

/// Starts `node`'s container and returns it with the global pid of its init.
fn start_node(lab: &Lab, node: &str, dir: &Path, port: &Path) -> Result<(NodeContainer, u32)> {
    let ready = dir.join("ready");
    let _ = fs::remove_file(&ready);
    let mut script = format!("hostname {}\n", sh_quote(node));
    for (sub, target) in [
        ("etc", "/etc/ha.d"),
        ("lib", "/var/lib/heartbeat"),
        ("run", "/run"),
        ("log", "/var/log"),
    ] {
        script += &bind(&dir.join(sub), target)?;
    }
    script += &overlay(&dir.join("usrlib"), HB_LIB)?;
    if dir.join("libexec").is_dir() {
        script += &overlay(&dir.join("libexec"), HB_LIBEXEC)?;
    }
    script += &bind(port, CTS_INSTALLED)?;
    script += &dev_with_log(dir)?;
    script += &format!(": > {}\n", sh_quote(path_str(&ready)?));
    script += &format!("exec /usr/bin/python3 -c {}\n", sh_quote(INIT));
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--kill-child",
        "--mount-proc",
        "--mount",
        "--uts",
        "--propagation",
        "private",
        "sh",
        "-ec",
        &script,
    ]);
    let proc = lab.spawn(node, &format!("{node}-container"), &cmd)?;
    let container = NodeContainer { proc };
    wait_for(
        &format!("{node}'s container"),
        Duration::from_secs(20),
        || {
            if let Some(st) = container.proc.try_wait()? {
                bail!(
                    "{node}'s container exited ({st}): {}",
                    tail(container.proc.log_path(), 20)
                );
            }
            Ok(ready.exists())
        },
    )?;
    let init = find_init(container.proc.pid())
        .ok_or_else(|| anyhow!("no init process found under {node}'s container"))?;
    Ok((container, init))
}

/// PID 1 of the node: a reaper of orphans (daemons that detached), nothing else. It exits only
/// when killed, which kills every process in the node's PID namespace.
const INIT: &str = "import os, signal
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
while True:
    signal.sigwait({signal.SIGCHLD})
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
";

/// The descendant of `pid` that is PID 1 of its own PID namespace.
fn find_init(pid: u32) -> Option<u32> {
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        let status = fs::read_to_string(format!("/proc/{p}/status")).ok()?;
        let nspid = status
            .lines()
            .find_map(|l| l.strip_prefix("NSpid:"))
            .map(|v| v.split_whitespace().collect::<Vec<_>>())
            .unwrap_or_default();
        if nspid.len() > 1 && nspid.last() == Some(&"1") {
            return Some(p);
        }
        let children =
            fs::read_to_string(format!("/proc/{p}/task/{p}/children")).unwrap_or_default();
        queue.extend(
            children
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok()),
        );
    }
    None
}

/// Shell lines that replace `/dev` (in the calling private mount namespace) with a small
/// tmpfs holding the usual device nodes, bound from the real `/dev`, and `/dev/log` bound to
/// the collector's socket `<dir>/syslog.sock`. The real `/dev` stays untouched.
fn dev_with_log(dir: &Path) -> Result<String> {
    let old = dir.join("olddev");
    fs::create_dir_all(&old)?;
    let old = sh_quote(path_str(&old)?);
    let sock = sh_quote(path_str(&dir.join("syslog.sock"))?);
    Ok(format!(
        "mount --rbind /dev {old}\n\
         mount -t tmpfs -o mode=0755,nosuid tmpfs /dev\n\
         for n in null zero full random urandom tty ptmx; do\n  \
           if [ -e {old}/$n ]; then : > /dev/$n; mount --bind {old}/$n /dev/$n; fi\n\
         done\n\
         for d in pts shm mqueue; do\n  \
           if [ -d {old}/$d ]; then mkdir /dev/$d; mount --rbind {old}/$d /dev/$d; fi\n\
         done\n\
         ln -s /proc/self/fd /dev/fd\n\
         ln -s /proc/self/fd/0 /dev/stdin\n\
         ln -s /proc/self/fd/1 /dev/stdout\n\
         ln -s /proc/self/fd/2 /dev/stderr\n\
         : > /dev/log\n\
         mount --bind {sock} /dev/log\n\
         umount -l {old}\n"
    ))
}

fn bind(src: &Path, target: &str) -> Result<String> {
    Ok(format!(
        "mount --bind {} {target}\n",
        sh_quote(path_str(src)?)
    ))
}

/// `target` shows the files of `top` over its own (a read-only overlay).
fn overlay(top: &Path, target: &str) -> Result<String> {
    Ok(format!(
        "mount -t overlay overlay -o lowerdir={}:{target} {target}\n",
        sh_quote(path_str(top)?)
    ))
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .ok_or_else(|| anyhow!("non-UTF-8 path {}", p.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_and_problems_are_read_from_the_output() {
        let out = "Dec 04 01:00:00\t>>>>>>>>>>>>>>>> BEGINNING 2 TESTS \n\
                   Dec 04 01:05:00\tTest Flip failed [reason:up->down failure]\n\
                   Dec 04 01:05:00\tBadNews: Dec 04 01:04:59 node1 heartbeat: [1]: ERROR: x\n\
                   Dec 04 01:09:00\tOverall Results:{'success': 1, 'failure': 1, 'BadNews': 1}\n\
                   Dec 04 01:09:00\tDetailed Results\n\
                   Dec 04 01:09:00\tTest Flip: \t{'calls': 2, 'success': 1, 'failure': 1, 'skipped': 0, 'auditfail': 0, 'elapsed_time': 61.5, 'stopped': 1}\n\
                   Dec 04 01:09:00\tTest standby: \t{'calls': 0, 'success': 0, 'failure': 0, 'skipped': 0, 'auditfail': 0}\n";
        let (overall, tests, problems) = parse_output(out);
        assert_eq!(overall.get("failure"), Some(&1.0));
        assert_eq!(tests["Flip"]["elapsed_time"], 61.5);
        assert_eq!(tests["standby"]["calls"], 0.0);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("Test Flip failed"));
    }

    #[test]
    fn cts_arguments_are_classic_without_stonith() {
        let mut s = CtsSpec::new(
            Pairing::new(Implementation::Ours, Implementation::Ours),
            Some("Flip"),
            3,
        );
        s.seed = Some("7".to_owned());
        assert_eq!(
            s.cts_args(Path::new("/h"), Path::new("/l")),
            [
                "-D",
                "/h",
                "-L",
                "/l",
                "--stonith",
                "no",
                "--choose",
                "Flip",
                "--seed",
                "7",
                "3"
            ]
        );
    }
}
