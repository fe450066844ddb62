//! Real-time mode (`realtime on` in ha.cf, Heartbeat's default): round-robin real-time
//! scheduling for the daemon's thread, reset on fork so agents run at normal priority, and
//! memory locked so a heartbeat is never late because of paging. And the open-files limit:
//! raised to the hard limit at start ([`raise_nofile_limit`]), the original one given back to
//! agents.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The SCHED_RR priority we ask for (of 1..99): above ordinary work, below the kernel's own
/// real-time threads (which sit at 50 and above).
pub const RT_PRIORITY: i32 = 10;

/// Switches the calling thread to SCHED_RR with `SCHED_RESET_ON_FORK` and locks all current
/// and future memory. Returns the priority set.
pub fn enable_realtime() -> io::Result<i32> {
    let param = libc::sched_param {
        sched_priority: RT_PRIORITY,
    };
    // SAFETY: sched_setscheduler only reads `param`, which lives across the call; pid 0 is
    // the calling thread.
    let rc =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: mlockall takes flags only and has no memory-safety preconditions.
    let rc = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(RT_PRIORITY)
}

/// The soft and hard `RLIMIT_NOFILE` the daemon started with, once [`raise_nofile_limit`]
/// changed them (`u64::MAX`: unchanged).
static NOFILE_AT_START: [AtomicU64; 2] = [AtomicU64::new(u64::MAX), AtomicU64::new(u64::MAX)];

/// Raises the soft open-files limit (`RLIMIT_NOFILE`) to the hard limit, so that a daemon
/// started with a service manager's soft limit (systemd: 1024) has every descriptor it is
/// allowed for agents, media and control connections. Agents are given back the limit the
/// daemon started with ([`restore_nofile_limit`]), as systemd asks of programs that raise it.
/// Logs the new limit at debug level, a failure as a warning; returns the limits now in force
/// (soft, hard).
pub fn raise_nofile_limit() -> io::Result<(u64, u64)> {
    let result = (|| {
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
        if soft < hard {
            setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
            NOFILE_AT_START[1].store(hard, Ordering::Relaxed);
            NOFILE_AT_START[0].store(soft, Ordering::Relaxed);
        }
        Ok::<_, nix::Error>((soft, hard))
    })();
    match result {
        Ok((soft, hard)) if soft < hard => {
            tracing::debug!("open-files limit raised from {soft} to the hard limit, {hard}");
            Ok((hard, hard))
        }
        Ok((soft, hard)) => {
            tracing::debug!("open-files limit {soft} (already the hard limit)");
            Ok((soft, hard))
        }
        Err(e) => {
            tracing::warn!("cannot raise the open-files limit: {e}");
            Err(e.into())
        }
    }
}

/// Gives the calling process back the open-files limit the daemon started with, if
/// [`raise_nofile_limit`] changed it. Async-signal-safe (one `setrlimit`): agents call it
/// between fork and exec.
pub fn restore_nofile_limit() -> io::Result<()> {
    let soft = NOFILE_AT_START[0].load(Ordering::Relaxed);
    let hard = NOFILE_AT_START[1].load(Ordering::Relaxed);
    if soft == u64::MAX {
        return Ok(());
    }
    setrlimit(Resource::RLIMIT_NOFILE, soft, hard).map_err(io::Error::from)
}

/// The scheduling policy of the calling thread (for tests and status output).
pub fn current_policy() -> i32 {
    // SAFETY: no arguments besides the pid of the calling thread.
    unsafe { libc::sched_getscheduler(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_nofile_limit_is_raised_and_agents_get_the_original() {
        // In a child started with soft 256, hard 4096 (this process's limits stay as they are).
        let out = std::process::Command::new("prlimit")
            .args(["--nofile=256:4096", "--"])
            .arg(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "rt::tests::nofile_child",
                "--ignored",
                "--nocapture",
            ])
            .env("HB_RT_TEST_NOFILE", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("DAEMON 4096 4096\n"), "{text}");
        assert!(text.contains("AGENT 256\n"), "{text}");
    }

    /// Not a test on its own: the daemon of `the_soft_nofile_limit_is_raised_...`.
    #[test]
    #[ignore]
    fn nofile_child() {
        if std::env::var_os("HB_RT_TEST_NOFILE").is_none() {
            return;
        }
        assert_eq!(raise_nofile_limit().unwrap(), (4096, 4096));
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        println!("DAEMON {soft} {hard}");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let args = vec!["-c".to_string(), "ulimit -n".to_string()];
        let out = rt.block_on(crate::agent::run_agent(&crate::agent::AgentCommand {
            program: std::path::Path::new("/bin/sh"),
            args: &args,
            action: Some("status"),
            stdin: None,
            timeout: std::time::Duration::from_secs(10),
            env: &[],
        }));
        println!("AGENT {}", out.stdout.trim());
    }

    #[test]
    fn realtime_is_set_on_this_thread_and_not_inherited_by_children() {
        // Runs in its own thread so the test harness's threads keep their policy.
        let result = std::thread::spawn(|| {
            let set = enable_realtime();
            let policy = current_policy();
            let child = std::process::Command::new("chrt")
                .args(["-p", &std::process::id().to_string()])
                .output();
            let child_policy = std::process::Command::new("sh")
                .args(["-c", "chrt -p $$"])
                .output();
            (
                set.map_err(|e| e.raw_os_error()),
                policy,
                child.is_ok(),
                child_policy,
            )
        })
        .join()
        .unwrap();
        match result {
            (Err(Some(libc::EPERM)), ..) => {
                eprintln!("SKIP: real-time scheduling needs CAP_SYS_NICE")
            }
            (Err(e), ..) => panic!("enable_realtime failed: {e:?}"),
            (Ok(_), policy, _, child) => {
                assert_eq!(policy & !libc::SCHED_RESET_ON_FORK, libc::SCHED_RR);
                if let Ok(out) = child {
                    let text = String::from_utf8_lossy(&out.stdout);
                    assert!(
                        text.contains("SCHED_OTHER"),
                        "a child inherited real-time scheduling: {text}"
                    );
                }
            }
        }
    }
}
