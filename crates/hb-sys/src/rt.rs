//! Real-time mode (`realtime on` in ha.cf, Heartbeat's default): round-robin real-time
//! scheduling for the daemon's thread, reset on fork so agents run at normal priority, and
//! memory locked so a heartbeat is never late because of paging.

use std::io;

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

/// The scheduling policy of the calling thread (for tests and status output).
pub fn current_policy() -> i32 {
    // SAFETY: no arguments besides the pid of the calling thread.
    unsafe { libc::sched_getscheduler(0) }
}

#[cfg(test)]
mod tests {
    use super::*;

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
