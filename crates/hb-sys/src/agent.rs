//! Running resource agents: one process group per run, a clean environment, a timeout after
//! which the whole group is killed, and stdout/stderr captured for the log.
//!
//! Output goes to anonymous memory files (memfd) rather than pipes: an agent that starts a
//! daemon which keeps its descriptors (nginx, the ARP burst of `hb-addr`) can never make us
//! wait for an end-of-file, and the result is known the moment the agent exits.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// At most this much of each output stream is kept.
const MAX_OUTPUT: u64 = 64 * 1024;

/// One agent run.
#[derive(Clone, Debug)]
pub struct AgentCommand<'a> {
    /// The script.
    pub program: &'a Path,
    /// Arguments before the action (heartbeat's `Name::arg::arg`).
    pub args: &'a [String],
    /// The action, passed last (`start`, `stop`, `status`).
    pub action: &'a str,
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
    /// Its standard output (at most 64 KiB, lossily decoded).
    pub stdout: String,
    /// Its standard error (likewise).
    pub stderr: String,
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

fn memfd(name: &str) -> std::io::Result<OwnedFd> {
    let cname = std::ffi::CString::new(name).map_err(std::io::Error::other)?;
    memfd_create(cname.as_c_str(), MFdFlags::MFD_CLOEXEC).map_err(std::io::Error::from)
}

fn read_back(fd: OwnedFd) -> String {
    let mut file = File::from(fd);
    let mut buf = Vec::new();
    if file.seek(SeekFrom::Start(0)).is_ok() {
        let _ = file.take(MAX_OUTPUT).read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// Runs one agent to completion (or its timeout).
pub async fn run_agent(cmd: &AgentCommand<'_>) -> AgentOutcome {
    let started = Instant::now();
    let not_run = |why: String| AgentOutcome {
        exit: Exit::NotRun(why),
        stdout: String::new(),
        stderr: String::new(),
        elapsed: started.elapsed(),
    };
    let (out, err) = match (memfd("hb-agent-stdout"), memfd("hb-agent-stderr")) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return not_run(format!("cannot capture output: {e}")),
    };
    let (out_child, err_child) = match (out.try_clone(), err.try_clone()) {
        (Ok(o), Ok(e)) => (o, e),
        (Err(e), _) | (_, Err(e)) => return not_run(format!("cannot capture output: {e}")),
    };
    let mut command = tokio::process::Command::new(cmd.program);
    command
        .args(cmd.args)
        .arg(cmd.action)
        .env_clear()
        .envs(cmd.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out_child))
        .stderr(Stdio::from(err_child))
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
        Err(e) => return not_run(format!("cannot run {}: {e}", cmd.program.display())),
    };
    let pgid = child
        .id()
        .and_then(|p| i32::try_from(p).ok())
        .map(Pid::from_raw);
    let exit = match tokio::time::timeout(cmd.timeout, child.wait()).await {
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
    };
    AgentOutcome {
        exit,
        stdout: read_back(out),
        stderr: read_back(err),
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            action: "start",
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
            action: "start",
            timeout: Duration::from_secs(30),
            env: &[],
        };
        rt.block_on(run_agent(&cmd));
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
            action: "status",
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
