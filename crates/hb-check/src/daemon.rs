//! `hb-check ipvs-watch`: the long-running real-server checker for one virtual service.
//!
//! One thread per real server runs that server's checks when the main thread asks; the main
//! thread owns the [`Watcher`] state machine, schedules checks, runs ipvsadm, writes the log,
//! the pid file and the state file. SIGTERM and SIGINT are taken by a dedicated thread
//! (`sigwait`) and end the loop cleanly; SIGHUP is ignored (the log file is opened for each
//! line, so rotating it needs no signal).
//!
//! With `--daemon` the command starts a copy of itself in a new session with stdin, stdout
//! and stderr away from the caller, waits until that copy has written its pid file, state
//! file and first log line, and exits 0 (or 1 with the copy's error): an agent that runs it
//! knows the watcher runs when the command returns, and no descriptor of the agent is kept.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use hb_time::{MillisStyle, format_millis, rfc3339_millis_now};
use nix::sys::signal::{SigSet, Signal};

use crate::addr::RealServer;
use crate::check::Check;
use crate::ipvsadm::{self, Forwarding, Ipvsadm, VirtualService};
use crate::watch::{LastServerPolicy, Outcome, Timing, Transition, Watcher};

/// The line a `--notify-ready` watcher prints on stdout once it runs.
pub const READY_MARKER: &str = "hb-check ipvs-watch ready pid ";
/// How long `--daemon` waits for the watcher to become ready.
pub const DAEMON_READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything the watcher needs, validated.
#[derive(Debug, Clone)]
pub struct WatchConfig {
    /// The virtual service.
    pub service: VirtualService,
    /// Forwarding method used when a server is added back.
    pub forwarding: Forwarding,
    /// The real servers.
    pub servers: Vec<RealServer>,
    /// The check.
    pub check: Check,
    /// Port the check connects to instead of each server's port (keepalived's
    /// `connect_port`).
    pub check_port: Option<u16>,
    /// Limit of one check.
    pub connect_timeout: Duration,
    /// Retries, interval, delay before retry.
    pub timing: Timing,
    /// What to do with the last server.
    pub last_server: LastServerPolicy,
    /// The ipvsadm program.
    pub ipvsadm: PathBuf,
    /// Pid file to write (removed on exit).
    pub pidfile: Option<PathBuf>,
    /// State file to write (removed on exit).
    pub state: Option<PathBuf>,
    /// Log file to append to (besides stderr).
    pub log: Option<PathBuf>,
}

impl WatchConfig {
    /// A human-readable summary (what `--dry-run` prints and the first log line says).
    pub fn describe(&self) -> String {
        let servers: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{} (weight {})", s.addr, s.weight))
            .collect();
        format!(
            "{} {} forwarding {}, real servers {}; check: {}{}, timeout {}, gone after {} failed \
             tries {} apart, every {}; last server: {}",
            self.service.protocol.name(),
            self.service.addr,
            self.forwarding.name(),
            servers.join(", "),
            self.check.describe(),
            self.check_port
                .map(|p| format!(" on port {p}"))
                .unwrap_or_default(),
            format_millis(self.connect_timeout, MillisStyle::Prose),
            self.timing.retries,
            format_millis(self.timing.delay_before_retry, MillisStyle::Prose),
            format_millis(self.timing.interval, MillisStyle::Prose),
            match self.last_server {
                LastServerPolicy::Remove => "remove",
                LastServerPolicy::Keep => "keep",
            }
        )
    }
}

/// Why the watcher could not run.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A file could not be written or read.
    #[error("cannot {what} {}: {source}", path.display())]
    File {
        /// What was attempted.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Another watcher holds the pid file.
    #[error("another watcher (pid {pid}) is running for this service (pid file {})", pidfile.display())]
    AlreadyRunning {
        /// Its pid.
        pid: i32,
        /// The pid file.
        pidfile: PathBuf,
    },
    /// Signals could not be set up.
    #[error("cannot set up signal handling: {0}")]
    Signals(nix::Error),
    /// A thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// `--daemon`: the detached watcher failed to start.
    #[error("{0}")]
    Daemon(String),
}

/// Writes timestamped lines to stderr and, when configured, appends them to a file (opened
/// for each line, so log rotation needs no signal). Write errors are ignored: logging must not
/// stop the watcher.
#[derive(Debug, Clone)]
pub struct Logger {
    prefix: String,
    file: Option<PathBuf>,
}

impl Logger {
    /// Lines will read `TIMESTAMP ipvs SERVICE: MESSAGE`.
    pub fn new(service: &VirtualService, file: Option<PathBuf>) -> Self {
        Logger {
            prefix: format!("ipvs {service}"),
            file,
        }
    }

    fn write(&self, message: &str) {
        let line = format!("{} {}: {message}\n", rfc3339_millis_now(), self.prefix);
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(path) = &self.file
            && let Ok(mut f) = OpenOptions::new().create(true).append(true).open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }

    /// An informational line.
    pub fn info(&self, message: &str) {
        self.write(message);
    }

    /// An error line: `... ERROR: message`.
    pub fn error(&self, message: &str) {
        self.write(&format!("ERROR: {message}"));
    }
}

/// Replaces `path` with `contents` atomically (a temporary file in the same directory, then
/// rename), so readers never see a partial file.
pub fn write_atomically(path: &Path, contents: &str) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, contents)?;
    fs::rename(&tmp, path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Whether `pid` is a live `hb-check ipvs-watch` process (not a zombie, not a reused pid).
pub fn is_watcher_process(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    if zombie {
        return false;
    }
    fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
        c.split(|&b| b == 0)
            .any(|arg| arg == b"ipvs-watch".as_slice())
    })
}

/// Reads the pid in a pid file (`None` when absent or not a number).
pub fn read_pidfile(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn claim_pidfile(path: &Path) -> Result<(), WatchError> {
    let me = std::process::id() as i32;
    if let Some(pid) = read_pidfile(path)
        && pid != me
        && is_watcher_process(pid)
    {
        return Err(WatchError::AlreadyRunning {
            pid,
            pidfile: path.to_owned(),
        });
    }
    write_atomically(path, &format!("{me}\n")).map_err(|source| WatchError::File {
        what: "write the pid file",
        path: path.to_owned(),
        source,
    })
}

enum Msg {
    Checked(usize, Outcome),
    Signal(Signal),
}

/// The result of a check of `server`, with the check port applied.
fn check_target(server: SocketAddr, check_port: Option<u16>) -> SocketAddr {
    match check_port {
        Some(p) => SocketAddr::new(server.ip(), p),
        None => server,
    }
}

struct Runner {
    cfg: WatchConfig,
    log: Logger,
    ipvsadm: Ipvsadm,
    watcher: Watcher,
    last_state: String,
}

impl Runner {
    fn apply(&mut self, transitions: Vec<Transition>) {
        for t in transitions {
            match &t {
                Transition::Retrying {
                    server,
                    reason,
                    try_no,
                    retries,
                } => self.log.info(&format!(
                    "real server {server}: check failed ({reason}), try {try_no} of {retries}"
                )),
                Transition::Gone {
                    server,
                    reason,
                    tries,
                } => {
                    let tries = if *tries == 1 {
                        "1 try".to_owned()
                    } else {
                        format!("{tries} tries")
                    };
                    self.log.info(&format!(
                        "real server {server} gone ({reason} after {tries})"
                    ));
                }
                Transition::Back { server, restored } => {
                    self.log.info(&format!("real server {server} back"));
                    if *restored {
                        self.log.info(&format!(
                            "the virtual service has a real server again ({server})"
                        ));
                    }
                }
                Transition::Add { server, weight } => {
                    let rs = RealServer {
                        addr: *server,
                        weight: *weight,
                    };
                    let args =
                        ipvsadm::add_server_args(&self.cfg.service, self.cfg.forwarding, &rs);
                    match self.ipvsadm.run(&args) {
                        Ok(()) => {}
                        Err(e) if e.already_exists() => {}
                        Err(e) => {
                            self.log.error(&format!(
                                "cannot add real server {server} back: {e} (retried after the next check)"
                            ));
                            self.watcher.op_failed(&t);
                        }
                    }
                }
                Transition::Remove { server } => {
                    let args = ipvsadm::del_server_args(&self.cfg.service, *server);
                    match self.ipvsadm.run(&args) {
                        Ok(()) => {}
                        Err(e) if e.no_such_destination() => {}
                        Err(e) => {
                            self.log.error(&format!(
                                "cannot remove real server {server}: {e} (retried after the next check)"
                            ));
                            self.watcher.op_failed(&t);
                        }
                    }
                }
                Transition::NoServerLeft { last, total, kept } => {
                    if *kept {
                        self.log.error(&format!(
                            "no real server left: all {total} real servers failed their checks; \
                             keeping the last one, {last}, in the table (last_server=keep) \
                             although it fails its check"
                        ));
                    } else {
                        self.log.error(&format!(
                            "no real server left: all {total} real servers failed their checks \
                             and the last one, {last}, was removed; the virtual service {} \
                             answers no client until a real server is back",
                            self.cfg.service
                        ));
                    }
                }
            }
        }
    }

    fn write_state(&mut self) {
        let Some(path) = self.cfg.state.clone() else {
            return;
        };
        let state = self.watcher.render_state();
        if state == self.last_state {
            return;
        }
        match write_atomically(&path, &state) {
            Ok(()) => self.last_state = state,
            Err(e) => self.log.error(&format!(
                "cannot write the state file {}: {e}",
                path.display()
            )),
        }
    }

    /// Puts every server in the table (already present is fine): the agent normally did it,
    /// but a watcher may be restarted on a table changed meanwhile.
    fn sync_table(&mut self) {
        for rs in self.cfg.servers.clone() {
            let args = ipvsadm::add_server_args(&self.cfg.service, self.cfg.forwarding, &rs);
            match self.ipvsadm.run(&args) {
                Ok(()) => {}
                Err(e) if e.already_exists() => {}
                Err(e) => {
                    self.log
                        .error(&format!("cannot add real server {}: {e}", rs.addr));
                    self.watcher.op_failed(&Transition::Add {
                        server: rs.addr,
                        weight: rs.weight,
                    });
                }
            }
        }
    }
}

fn block_signals() -> Result<SigSet, WatchError> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(s);
    }
    set.thread_block().map_err(WatchError::Signals)?;
    Ok(set)
}

/// Called once the watcher runs: `--notify-ready` prints the marker and detaches stdio.
pub type ReadyHook = Box<dyn FnOnce()>;

/// Runs the watcher until SIGTERM or SIGINT. `ready` is called once the pid file, state file
/// and table are in place and the check threads run.
///
/// # Errors
/// [`WatchError`] when it cannot start (pid file, another watcher, signals, threads).
pub fn run(cfg: WatchConfig, ready: Option<ReadyHook>) -> Result<(), WatchError> {
    // Block the signals before any thread exists, so every thread inherits the mask and only
    // the signal thread receives them.
    let sigset = block_signals()?;
    let log = Logger::new(&cfg.service, cfg.log.clone());
    if let Some(p) = &cfg.pidfile {
        claim_pidfile(p)?;
    }
    let watcher = Watcher::new(&cfg.servers, cfg.timing, cfg.last_server, SystemTime::now());
    let mut runner = Runner {
        ipvsadm: Ipvsadm::new(&cfg.ipvsadm),
        cfg,
        log,
        watcher,
        last_state: String::new(),
    };
    let result = main_loop(&mut runner, sigset, ready);
    if let Some(p) = &runner.cfg.pidfile
        && read_pidfile(p) == Some(std::process::id() as i32)
    {
        let _ = fs::remove_file(p);
    }
    if let Some(p) = &runner.cfg.state {
        let _ = fs::remove_file(p);
    }
    result
}

fn main_loop(
    runner: &mut Runner,
    sigset: SigSet,
    ready: Option<ReadyHook>,
) -> Result<(), WatchError> {
    let (tx, rx) = mpsc::channel::<Msg>();
    let sig_tx = tx.clone();
    thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            while let Ok(sig) = sigset.wait() {
                if sig_tx.send(Msg::Signal(sig)).is_err() {
                    return;
                }
            }
        })
        .map_err(WatchError::Thread)?;

    runner.log.info(&format!(
        "watching: {} (pid {})",
        runner.cfg.describe(),
        std::process::id()
    ));
    runner.sync_table();
    runner.write_state();

    let check = Arc::new(runner.cfg.check.clone());
    let mut requests = Vec::new();
    for (i, rs) in runner.cfg.servers.iter().enumerate() {
        let (req_tx, req_rx) = mpsc::channel::<()>();
        let tx = tx.clone();
        let check = Arc::clone(&check);
        let target = check_target(rs.addr, runner.cfg.check_port);
        let timeout = runner.cfg.connect_timeout;
        thread::Builder::new()
            .name(format!("check-{}", rs.addr))
            .spawn(move || {
                while req_rx.recv().is_ok() {
                    let outcome = match check.run(target, timeout) {
                        Ok(()) => Outcome::Passed,
                        Err(e) => Outcome::Failed(e.to_string()),
                    };
                    if tx.send(Msg::Checked(i, outcome)).is_err() {
                        return;
                    }
                }
            })
            .map_err(WatchError::Thread)?;
        requests.push(req_tx);
    }
    drop(tx);
    if let Some(hook) = ready {
        hook();
    }

    // None = a check is running; Some(t) = the next check is due at t.
    let mut due: Vec<Option<Instant>> = vec![Some(Instant::now()); requests.len()];
    loop {
        let now = Instant::now();
        for (i, slot) in due.iter_mut().enumerate() {
            if slot.is_some_and(|t| t <= now) {
                *slot = None;
                if requests[i].send(()).is_err() {
                    runner.log.error(&format!(
                        "the check thread of {} died",
                        runner.cfg.servers[i].addr
                    ));
                }
            }
        }
        let next = due.iter().flatten().min().copied();
        let msg = match next {
            Some(t) => rx.recv_timeout(t.saturating_duration_since(Instant::now())),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match msg {
            Ok(Msg::Checked(i, outcome)) => {
                let Some(rs) = runner.cfg.servers.get(i).copied() else {
                    continue;
                };
                let transitions = runner.watcher.observe(rs.addr, outcome, SystemTime::now());
                runner.apply(transitions);
                runner.write_state();
                due[i] = Some(Instant::now() + runner.watcher.next_check_in(rs.addr));
            }
            Ok(Msg::Signal(Signal::SIGHUP)) => runner.log.info("SIGHUP ignored"),
            Ok(Msg::Signal(sig)) => {
                runner.log.info(&format!("stopping ({sig})"));
                return Ok(());
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                runner.log.error("every check thread died; stopping");
                return Err(WatchError::Daemon("every check thread died".into()));
            }
        }
    }
}

/// The `--notify-ready` hook: prints the ready marker on stdout, then points stdout and stderr
/// at /dev/null so the `--daemon` parent sees end-of-file and nothing of the caller is kept.
pub fn notify_ready_hook() -> ReadyHook {
    Box::new(|| {
        let mut out = std::io::stdout();
        let _ = writeln!(out, "{READY_MARKER}{}", std::process::id());
        let _ = out.flush();
        if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
            let _ = nix::unistd::dup2_stdout(&null);
            let _ = nix::unistd::dup2_stderr(&null);
        }
    })
}

/// Detaches the current process from the caller's session (the `--notify-ready` side of
/// `--daemon`): a new session and process group, so a kill of the agent's process group does
/// not reach the watcher; the working directory becomes `/`.
pub fn detach_session() {
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir("/");
}

/// `--daemon`: starts `program args --notify-ready` in the background and waits until it is
/// ready (its pid) or failed (its error output).
///
/// # Errors
/// [`WatchError::Daemon`] with the watcher's own message, or a timeout.
pub fn spawn_daemon(
    program: &Path,
    args: &[OsString],
    timeout: Duration,
) -> Result<u32, WatchError> {
    let (reader, writer) = std::io::pipe().map_err(WatchError::Thread)?;
    let writer2 = writer.try_clone().map_err(WatchError::Thread)?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .arg("--notify-ready")
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2);
    let mut child = cmd
        .spawn()
        .map_err(|e| WatchError::Daemon(format!("cannot start {}: {e}", program.display())))?;
    // Our copies of the pipe's write end must go, or end-of-file never comes.
    drop(cmd);
    let (tx, rx) = mpsc::channel::<Vec<u8>>();
    thread::Builder::new()
        .name("daemon-output".into())
        .spawn(move || {
            let mut reader = reader;
            let mut buf = Vec::new();
            let _ = reader.read_to_end(&mut buf);
            let _ = tx.send(buf);
        })
        .map_err(WatchError::Thread)?;
    let output = match rx.recv_timeout(timeout) {
        Ok(out) => String::from_utf8_lossy(&out).into_owned(),
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WatchError::Daemon(format!(
                "the watcher did not become ready within {} s; killed it",
                timeout.as_secs()
            )));
        }
    };
    let mut pid = None;
    for line in output.lines() {
        match line.strip_prefix(READY_MARKER) {
            Some(p) => pid = p.trim().parse::<u32>().ok(),
            None => {
                let _ = writeln!(std::io::stderr(), "{line}");
            }
        }
    }
    match pid {
        Some(p) => Ok(p),
        None => {
            let status = child
                .wait()
                .map(|s| s.to_string())
                .unwrap_or_else(|e| e.to_string());
            Err(WatchError::Daemon(format!(
                "the watcher failed to start ({status})"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        write_atomically(&p, "one\n").unwrap();
        write_atomically(&p, "two\n").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "two\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn pid_files_and_process_identity() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.pid");
        assert_eq!(read_pidfile(&p), None);
        fs::write(&p, "garbage").unwrap();
        assert_eq!(read_pidfile(&p), None);
        // The test binary is not an ipvs-watch process, so its pid file can be claimed over.
        fs::write(&p, format!("{}\n", std::process::id())).unwrap();
        assert!(!is_watcher_process(std::process::id() as i32));
        assert!(!is_watcher_process(0));
        assert!(!is_watcher_process(-5));
        claim_pidfile(&p).unwrap();
        assert_eq!(read_pidfile(&p), Some(std::process::id() as i32));
    }

    #[test]
    fn check_port_overrides_the_server_port() {
        let s: SocketAddr = "192.0.2.11:80".parse().unwrap();
        assert_eq!(check_target(s, None), s);
        assert_eq!(
            check_target(s, Some(8080)),
            "192.0.2.11:8080".parse::<SocketAddr>().unwrap()
        );
    }
}
