//! Processes the lab starts inside a host namespace, each in its own process group with its
//! stdout and stderr appended to a per-process log file.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

/// How long [`Drop`] waits for a SIGKILLed process to be reaped.
const REAP_TIMEOUT: Duration = Duration::from_secs(5);
const WAIT_POLL: Duration = Duration::from_millis(2);

struct State {
    child: Child,
    status: Option<ExitStatus>,
}

/// A process started by [`crate::Lab::spawn`]: the leader of its own process group inside a
/// host's network namespace.
///
/// Dropping it SIGKILLs the whole process group (if the leader has not been reaped yet) and
/// reaps the leader. The lab additionally kills every process left in its namespaces when it is
/// dropped, which catches descendants that left the group.
pub struct Proc {
    name: String,
    host: String,
    pid: i32,
    log: PathBuf,
    state: Mutex<State>,
}

impl fmt::Debug for Proc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proc")
            .field("name", &self.name)
            .field("host", &self.host)
            .field("pid", &self.pid)
            .field("log", &self.log)
            .finish()
    }
}

impl Proc {
    pub(crate) fn new(name: &str, host: &str, child: Child, log: PathBuf) -> Proc {
        Proc {
            name: name.to_owned(),
            host: host.to_owned(),
            pid: child.id() as i32,
            log,
            state: Mutex::new(State {
                child,
                status: None,
            }),
        }
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The lab host whose namespace the process runs in.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid as u32
    }

    /// The file collecting the process's stdout and stderr.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The process's output so far.
    pub fn log_text(&self) -> Result<String> {
        let bytes =
            fs::read(&self.log).with_context(|| format!("cannot read {}", self.log.display()))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked while holding it; the state is a
        // Child handle and a cached status, both still meaningful.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn poll_state(state: &mut State) -> Result<Option<ExitStatus>> {
        if state.status.is_none() {
            state.status = state.child.try_wait().context("waitpid")?;
        }
        Ok(state.status)
    }

    /// The exit status if the process has exited (reaping it), `None` while it runs.
    pub fn try_wait(&self) -> Result<Option<ExitStatus>> {
        Self::poll_state(&mut self.lock())
    }

    /// Whether the process still runs.
    pub fn is_running(&self) -> bool {
        matches!(self.try_wait(), Ok(None))
    }

    /// Sends `sig` to the process itself. Fails if it has already exited.
    pub fn signal(&self, sig: Signal) -> Result<()> {
        let state = self.lock();
        // While the status is unknown the leader is not reaped, so its pid cannot be reused.
        if let Some(status) = state.status {
            bail!("{self:?} already exited ({status})");
        }
        kill(Pid::from_raw(self.pid), sig).with_context(|| format!("kill {sig} {self:?}"))
    }

    /// Sends `sig` to the process's whole process group. Fails if the leader has already been
    /// reaped (the group id could then belong to someone else).
    pub fn signal_group(&self, sig: Signal) -> Result<()> {
        let state = self.lock();
        if let Some(status) = state.status {
            bail!("{self:?} already exited ({status})");
        }
        match killpg(Pid::from_raw(self.pid), sig) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(e) => Err(anyhow!("killpg {sig} {self:?}: {e}")),
        }
    }

    /// Sends SIGTERM to the process (a graceful stop request); does not wait.
    pub fn terminate(&self) -> Result<()> {
        self.signal(Signal::SIGTERM)
    }

    /// Waits up to `timeout` for the process to exit and returns its status.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                bail!("{self:?} still running after {timeout:?}");
            }
            thread::sleep(WAIT_POLL);
        }
    }

    /// SIGKILLs the whole process group and reaps the leader.
    pub fn kill(&self) -> Result<ExitStatus> {
        if self.try_wait()?.is_none() {
            self.signal_group(Signal::SIGKILL)?;
        }
        self.wait_timeout(REAP_TIMEOUT)
    }

    /// Graceful stop: SIGTERM, wait up to `grace`, then SIGKILL the group. Returns the exit
    /// status and whether the process exited within the grace period.
    pub fn stop(&self, grace: Duration) -> Result<(ExitStatus, bool)> {
        if let Some(status) = self.try_wait()? {
            return Ok((status, true));
        }
        self.terminate()?;
        match self.wait_timeout(grace) {
            Ok(status) => Ok((status, true)),
            Err(_) => Ok((self.kill()?, false)),
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        if state.status.is_none() {
            // Not reaped yet: the group id is still ours.
            let _ = killpg(Pid::from_raw(self.pid), Signal::SIGKILL);
            let deadline = Instant::now() + REAP_TIMEOUT;
            while Instant::now() < deadline {
                match state.child.try_wait() {
                    Ok(Some(_)) | Err(_) => return,
                    Ok(None) => thread::sleep(WAIT_POLL),
                }
            }
            eprintln!(
                "hb-nstests: {} (pid {}) not reaped after SIGKILL",
                self.name, self.pid
            );
        }
    }
}
