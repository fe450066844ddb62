//! Running resource agents: one process group per run, a clean environment, a timeout after
//! which the whole group is killed, and stdout/stderr captured for the log.
//!
//! Output goes through pipes read while the agent runs: at most [`MAX_OUTPUT`] bytes of each
//! stream are kept, the rest is read and dropped (and counted), so an agent that writes without
//! end costs the daemon nothing but the reading. The result never waits for an end-of-file: an
//! agent that starts a daemon which keeps its descriptors (nginx, the ARP burst of `hb-addr`)
//! is done the moment the agent exits. Then what is already in the pipes is read without
//! waiting, and the read ends are closed, so such a stray writer gets EPIPE (SIGPIPE) instead
//! of filling memory nobody reads.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};

/// At most this much of each output stream (stdout, stderr) of a run is kept, in bytes.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// After the agent exited, at most this much more is read from each pipe before it is closed
/// (what a stray writer wrote meanwhile; counted as dropped if past [`MAX_OUTPUT`]).
const MAX_DRAIN: usize = 4 * MAX_OUTPUT;

/// One agent run.
#[derive(Clone, Debug)]
pub struct AgentCommand<'a> {
    /// The script.
    pub program: &'a Path,
    /// Arguments before the action (heartbeat's `Name::arg::arg`).
    pub args: &'a [String],
    /// The action, passed last (`start`, `stop`, `status`); `None` for a program that takes
    /// no arguments (a fence agent reads its options from its standard input).
    pub action: Option<&'a str>,
    /// Written to the program's standard input, which is then closed; `None`: `/dev/null`.
    pub stdin: Option<&'a [u8]>,
    /// After this the agent's process group is killed.
    pub timeout: Duration,
    /// The complete environment of the agent.
    pub env: &'a [(String, String)],
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Exited with this code.
    Code(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Ran past its timeout; its process group was killed.
    TimedOut,
    /// Could not be started.
    NotRun(String),
}

/// The result of a run.
#[derive(Clone, Debug)]
pub struct AgentOutcome {
    /// How it ended.
    pub exit: Exit,
    /// Its standard output: the first [`MAX_OUTPUT`] bytes, lossily decoded.
    pub stdout: String,
    /// Its standard error (likewise).
    pub stderr: String,
    /// How many bytes of standard output were read past [`MAX_OUTPUT`] and dropped.
    pub stdout_dropped: u64,
    /// How many bytes of standard error were dropped.
    pub stderr_dropped: u64,
    /// Wall time from spawn to exit.
    pub elapsed: Duration,
}

impl AgentOutcome {
    /// Exit code 0.
    pub fn succeeded(&self) -> bool {
        self.exit == Exit::Code(0)
    }
}

/// Heartbeat's rule for `status` of `resource.d` scripts, which looks at the text, not the
/// exit code: output saying "not running" (either capitalisation) means stopped; otherwise
/// output containing "running" or "OK" means running; anything else means stopped.
pub fn status_says_running(stdout: &str) -> bool {
    let lower = stdout.to_ascii_lowercase();
    if lower.contains("not running") {
        return false;
    }
    lower.contains("running") || stdout.contains("OK")
}

/// One output stream as read: the first [`MAX_OUTPUT`] bytes, and how many more were dropped.
#[derive(Debug, Default)]
struct Capture {
    kept: Vec<u8>,
    dropped: u64,
}

impl Capture {
    fn push(&mut self, data: &[u8]) {
        let room = MAX_OUTPUT.saturating_sub(self.kept.len());
        let (keep, drop) = data.split_at(room.min(data.len()));
        self.kept.extend_from_slice(keep);
        self.dropped = self
            .dropped
            .saturating_add(u64::try_from(drop.len()).unwrap_or(u64::MAX));
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.kept).into_owned()
    }
}

/// Reads `from` into `into` until end-of-file (or an error); cancelled when the agent exits.
async fn pump(from: Option<&mut (impl AsyncRead + Unpin)>, into: &mut Capture) {
    let Some(from) = from else { return };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => into.push(&buf[..n]),
        }
    }
}

/// Reads what is already in the pipe `fd` without waiting (at most [`MAX_DRAIN`] bytes), then
/// closes it: a writer that is left gets EPIPE.
fn drain_and_close(fd: io::Result<OwnedFd>, into: &mut Capture) {
    let Ok(fd) = fd else { return };
    // tokio hands the descriptor back in blocking mode; a stray writer must not block us.
    let nonblocking = fcntl(fd.as_fd(), FcntlArg::F_GETFL)
        .map(|f| OFlag::from_bits_retain(f) | OFlag::O_NONBLOCK)
        .and_then(|f| fcntl(fd.as_fd(), FcntlArg::F_SETFL(f)));
    if nonblocking.is_err() {
        return;
    }
    let mut buf = vec![0u8; 16 * 1024];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        match nix::unistd::read(&fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => {
                into.push(&buf[..n]);
                drained += n;
            }
            Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
}

/// Why a process could not be started, in words: running out of descriptors is named as such.
fn spawn_error(program: &Path, e: &io::Error) -> String {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::EMFILE | Errno::ENFILE) => format!(
            "cannot run {}: out of file descriptors ({e})",
            program.display()
        ),
        _ => format!("cannot run {}: {e}", program.display()),
    }
}

/// Agent output made safe to log: control characters (C0 but tab, DEL, C1), which could
/// rewrite a terminal or forge log lines, are shown as `\xNN` (`\u{NN}` for C1). Text is
/// already valid UTF-8 (invalid bytes were decoded lossily, as U+FFFD).
pub fn escape_control(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            '\u{80}'..='\u{9f}' => {
                let _ = write!(out, "\\u{{{:02x}}}", u32::from(c));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Runs one agent to completion (or its timeout).
pub async fn run_agent(cmd: &AgentCommand<'_>) -> AgentOutcome {
    let started = Instant::now();
    let not_run = |why: String| AgentOutcome {
        exit: Exit::NotRun(why),
        stdout: String::new(),
        stderr: String::new(),
        stdout_dropped: 0,
        stderr_dropped: 0,
        elapsed: started.elapsed(),
    };
    let mut command = tokio::process::Command::new(cmd.program);
    command
        .args(cmd.args)
        .args(cmd.action)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir("/")
        .stdin(if cmd.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // An agent must not outlive a daemon that is killed (`kill -9`): a start still running
    // would otherwise complete after the restarted daemon's start-up probe, leaving a
    // resource (a duplicate VIP) that nobody knows of. Daemons the agent starts are not
    // affected: the setting is not inherited across fork.
    let daemon = nix::unistd::getpid();
    // SAFETY: the closure runs in the child between fork and exec and only makes
    // async-signal-safe system calls (prctl, getppid, setrlimit, _exit).
    unsafe {
        command.pre_exec(move || {
            // Agents get the open-files limit the daemon was started with.
            crate::rt::restore_nofile_limit()?;
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL)?;
            if nix::unistd::getppid() != daemon {
                // The daemon died between fork and prctl.
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => return not_run(spawn_error(cmd.program, &e)),
    };
    if let (Some(input), Some(mut pipe)) = (cmd.stdin, child.stdin.take()) {
        // Small (a fence agent's options): written at once; a program that does not read it
        // gets EPIPE, which is its business.
        let input = input.to_vec();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            let _ = pipe.write_all(&input).await;
        });
    }
    let (mut stdout, mut stderr) = (child.stdout.take(), child.stderr.take());
    let (mut out, mut err) = (Capture::default(), Capture::default());
    let pgid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw);
    let exit = {
        // The pipes are read while the agent runs, and no longer than it runs.
        let reading = async {
            tokio::join!(
                pump(stdout.as_mut(), &mut out),
                pump(stderr.as_mut(), &mut err)
            );
            std::future::pending::<Exit>().await
        };
        tokio::select! {
            exit = wait(&mut child, pgid, cmd.timeout) => exit,
            exit = reading => exit,
        }
    };
    drain_and_close(
        stdout.map_or(Err(io::ErrorKind::NotFound.into()), |p| p.into_owned_fd()),
        &mut out,
    );
    drain_and_close(
        stderr.map_or(Err(io::ErrorKind::NotFound.into()), |p| p.into_owned_fd()),
        &mut err,
    );
    AgentOutcome {
        exit,
        stdout: out.text(),
        stderr: err.text(),
        stdout_dropped: out.dropped,
        stderr_dropped: err.dropped,
        elapsed: started.elapsed(),
    }
}

/// Waits for the agent's exit, killing its process group `pgid` after `timeout`.
async fn wait(child: &mut tokio::process::Child, pgid: Option<Pid>, timeout: Duration) -> Exit {
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(s)) => Exit::Signal(s),
                (None, None) => Exit::NotRun("no exit status".into()),
            }
        }
        Ok(Err(e)) => Exit::NotRun(format!("waiting for it failed: {e}")),
        Err(_) => {
            if let Some(pgid) = pgid {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            let _ = child.wait().await;
            Exit::TimedOut
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_without_action_reads_its_standard_input() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = vec![
            "-c".to_string(),
            "[ $# -eq 0 ] || exit 9; while read l; do echo \"<$l>\"; done".to_string(),
        ];
        let out = rt.block_on(run_agent(&AgentCommand {
            program: Path::new("/bin/sh"),
            args: &args,
            action: None,
            stdin: Some(b"action=reboot\nplug=node1\n"),
            timeout: Duration::from_secs(5),
            env: &[],
        }));
        assert_eq!(out.exit, Exit::Code(0), "{out:?}");
        assert_eq!(out.stdout, "<action=reboot>\n<plug=node1>\n");
    }

    fn sh(script: &str, timeout_ms: u64) -> AgentOutcome {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = vec!["-c".to_string(), script.to_string(), "agent".to_string()];
        let env = vec![
            ("PATH".to_string(), "/usr/bin:/bin".to_string()),
            ("HB_TEST".to_string(), "x".to_string()),
        ];
        rt.block_on(run_agent(&AgentCommand {
            program: Path::new("/bin/sh"),
            args: &args,
            action: Some("start"),
            stdin: None,
            timeout: Duration::from_millis(timeout_ms),
            env: &env,
        }))
    }

    #[test]
    fn status_text_follows_heartbeats_rule() {
        assert!(status_says_running("running"));
        assert!(status_says_running("INFO: Running OK"));
        assert!(status_says_running("OK"));
        assert!(!status_says_running("stopped"));
        assert!(!status_says_running("nginx is Not Running"));
        assert!(!status_says_running("INFO: Resource is stopped"));
        assert!(!status_says_running(""));
    }

    #[test]
    fn output_exit_code_action_and_clean_environment_are_captured() {
        let out = sh(
            r#"echo "out $1 $HB_TEST ${HOME:-nohome}"; echo err >&2; exit 3"#,
            5000,
        );
        assert_eq!(out.exit, Exit::Code(3));
        assert_eq!(out.stdout, "out start x nohome\n");
        assert_eq!(out.stderr, "err\n");
        assert!(!out.succeeded());
    }

    #[test]
    fn a_hanging_agent_is_killed_with_its_whole_process_group() {
        let marker = std::env::temp_dir().join(format!("hb-agent-test-{}", std::process::id()));
        let script = format!("(sleep 30; touch {}) & sleep 30", marker.display());
        let out = sh(&script, 200);
        assert_eq!(out.exit, Exit::TimedOut);
        assert!(out.elapsed < Duration::from_secs(5), "{:?}", out.elapsed);
        // The background child was in the same process group: it must be gone too.
        let ps = std::process::Command::new("pgrep")
            .args(["-f", &marker.display().to_string()])
            .output()
            .unwrap();
        assert!(
            ps.stdout.is_empty(),
            "a child of the agent survived: {}",
            String::from_utf8_lossy(&ps.stdout)
        );
    }

    #[test]
    fn a_daemon_left_running_does_not_delay_the_result() {
        // The agent starts a daemon that keeps stdout open for 30 s and exits at once.
        let out = sh("setsid sleep 29.25 >&1 & echo started", 5000);
        assert_eq!(out.exit, Exit::Code(0));
        assert!(out.elapsed < Duration::from_secs(2), "{:?}", out.elapsed);
        assert_eq!(out.stdout, "started\n");
        let _ = std::process::Command::new("pkill")
            .args(["-f", "^sleep 29.25$"])
            .status();
    }

    /// Polls `cond` every 5 ms for at most 5 s.
    fn eventually(mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::yield_now();
            std::thread::sleep(Duration::from_millis(5));
        }
        cond()
    }

    #[test]
    fn an_agent_dies_with_the_daemon_that_started_it() {
        // A stand-in daemon (this test binary, running only `stand_in_daemon`) starts an agent
        // that records its pid and sleeps; the stand-in is killed; the agent must die too.
        let pidfile = std::env::temp_dir().join(format!("hb-agent-orphan-{}", std::process::id()));
        let _ = std::fs::remove_file(&pidfile);
        let mut stand_in = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "agent::tests::stand_in_daemon",
                "--ignored",
                "--quiet",
            ])
            .env("HB_AGENT_TEST_PIDFILE", &pidfile)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut agent_pid = 0;
        assert!(
            eventually(|| {
                agent_pid = std::fs::read_to_string(&pidfile)
                    .ok()
                    .and_then(|t| t.trim().parse().ok())
                    .unwrap_or(0);
                agent_pid > 0
            }),
            "the agent never started"
        );
        stand_in.kill().unwrap();
        stand_in.wait().unwrap();
        let gone = || !Path::new(&format!("/proc/{agent_pid}")).exists();
        assert!(eventually(gone), "agent {agent_pid} outlived its daemon");
        let _ = std::fs::remove_file(&pidfile);
    }

    /// Not a test on its own: the daemon of `an_agent_dies_with_the_daemon_that_started_it`.
    #[test]
    #[ignore]
    fn stand_in_daemon() {
        let Ok(pidfile) = std::env::var("HB_AGENT_TEST_PIDFILE") else {
            return;
        };
        // exec keeps the pid; the agent is the direct child of this process.
        let script =
            format!("echo $$ > {pidfile}.tmp && mv {pidfile}.tmp {pidfile} && exec sleep 30");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = vec!["-c".to_string(), script];
        let cmd = AgentCommand {
            program: Path::new("/bin/sh"),
            args: &args,
            action: Some("start"),
            stdin: None,
            timeout: Duration::from_secs(30),
            env: &[],
        };
        rt.block_on(run_agent(&cmd));
    }

    #[test]
    fn output_is_bounded_and_a_stray_writer_gets_epipe_once_the_agent_exited() {
        let dir = std::env::temp_dir().join(format!("hb-agent-flood-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (pidfile, marker) = (dir.join("pgid"), dir.join("epipe"));
        // 10 MiB on stdout, then a child left behind that writes until its pipe is closed
        // and then records how its write failed.
        let script = format!(
            "echo $$ > {pid}; head -c 10485760 /dev/zero; \
             (trap '' PIPE; while printf x 2>/dev/null; do :; done; echo closed > {marker}) & \
             echo done >&2",
            pid = pidfile.display(),
            marker = marker.display()
        );
        let out = sh(&script, 20_000);
        assert_eq!(out.exit, Exit::Code(0));
        assert_eq!(out.stdout.len(), MAX_OUTPUT, "kept at most MAX_OUTPUT");
        assert!(
            out.stdout_dropped >= 10 * 1024 * 1024 - MAX_OUTPUT as u64,
            "{}",
            out.stdout_dropped
        );
        assert_eq!((out.stderr.as_str(), out.stderr_dropped), ("done\n", 0));
        let closed = eventually(|| marker.exists());
        if !closed && let Ok(pgid) = std::fs::read_to_string(&pidfile) {
            // The stray writer is still at it: end it (its process group is the agent's).
            let _ = killpg(
                Pid::from_raw(pgid.trim().parse().unwrap_or(0)),
                Signal::SIGKILL,
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(closed, "the stray writer never got EPIPE");
    }

    #[test]
    fn control_characters_are_escaped_for_the_log() {
        assert_eq!(
            escape_control("\u{1b}[31mred\rX\0\u{7f}\ttab\u{9b}2J \u{fffd} é"),
            "\\x1b[31mred\\x0dX\\x00\\x7f\ttab\\u{9b}2J \u{fffd} é"
        );
        assert_eq!(escape_control("plain text"), "plain text");
    }

    #[test]
    fn running_out_of_descriptors_is_a_clear_not_run() {
        // In a child whose open-files limit is used up (this process keeps its own).
        let out = std::process::Command::new("prlimit")
            .args(["--nofile=64:64", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "agent::tests::no_descriptors_left",
                "--ignored",
                "--nocapture",
            ])
            .env("HB_AGENT_TEST_NOFILE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(
            text.contains("NOT RUN cannot run /bin/true: out of file descriptors"),
            "{text}"
        );
    }

    /// Not a test on its own: the daemon of `running_out_of_descriptors_is_a_clear_not_run`.
    #[test]
    #[ignore]
    fn no_descriptors_left() {
        if std::env::var_os("HB_AGENT_TEST_NOFILE").is_none() {
            return;
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut held = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            held.push(f);
        }
        let out = rt.block_on(run_agent(&AgentCommand {
            program: Path::new("/bin/true"),
            args: &[],
            action: Some("status"),
            stdin: None,
            timeout: Duration::from_secs(5),
            env: &[],
        }));
        match out.exit {
            Exit::NotRun(why) => println!("NOT RUN {why}"),
            other => println!("RAN {other:?}"),
        }
    }

    #[test]
    fn a_missing_agent_is_reported_not_run() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let out = rt.block_on(run_agent(&AgentCommand {
            program: Path::new("/nonexistent/agent"),
            args: &[],
            action: Some("status"),
            stdin: None,
            timeout: Duration::from_secs(1),
            env: &[],
        }));
        assert!(
            matches!(out.exit, Exit::NotRun(ref why) if why.contains("/nonexistent/agent")),
            "{:?}",
            out.exit
        );
    }
}
