use std::io::{BufRead as _, BufReader};
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Child, Command, Stdio};

use super::*;

fn me() -> i32 {
    i32::try_from(std::process::id()).unwrap()
}

/// A process that has nothing to do with heartbeat.
fn bystander() -> Child {
    Command::new("sleep").arg("600").spawn().unwrap()
}

fn still_running(child: &mut Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn the_lock_proves_the_daemon_and_a_second_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heartbeat.pid");
    let lock = PidLock::acquire(&path).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    match PidLock::acquire(&path) {
        Err(PidFileError::Locked { proven, recorded }) => {
            assert_eq!((proven, recorded), (Some(me()), Some(me())));
        }
        other => panic!("a second lock was not refused: {other:?}"),
    }
    match holder(&path).unwrap() {
        Holder::Daemon(d) => assert_eq!(d.pid(), me()),
        other => panic!("{other:?}"),
    }
    drop(lock);
    assert!(!path.exists(), "the pid file is removed on drop");
    assert!(matches!(
        holder(&path).unwrap(),
        Holder::Nobody { recorded: None }
    ));
}

#[test]
fn a_stale_file_naming_a_live_process_is_taken_over_and_never_proves_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heartbeat.pid");
    let mut other = bystander();
    let pid = i32::try_from(other.id()).unwrap();
    // A stale file whose pid was reused by an unrelated, live process.
    fs::write(&path, format!("{pid}\n")).unwrap();
    assert!(matches!(
        holder(&path).unwrap(),
        Holder::Nobody { recorded: Some(p) } if p == pid
    ));
    let lock = PidLock::acquire(&path).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
    // The lock is held, but the file names the bystander (as if rewritten): not proven.
    fs::write(&path, format!("{pid}\n")).unwrap();
    assert!(matches!(
        holder(&path).unwrap(),
        Holder::Unproven { recorded: Some(p) } if p == pid
    ));
    match PidLock::acquire(&path) {
        Err(PidFileError::Locked { proven, recorded }) => {
            assert_eq!((proven, recorded), (None, Some(pid)));
        }
        other => panic!("{other:?}"),
    }
    drop(lock);
    assert!(still_running(&mut other));
    other.kill().unwrap();
    other.wait().unwrap();
}

#[test]
fn a_symlink_at_the_pid_file_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let path = dir.path().join("heartbeat.pid");
    symlink(&victim, &path).unwrap();
    match PidLock::acquire(&path) {
        Err(PidFileError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ELOOP), "{source}");
        }
        other => panic!("{other:?}"),
    }
    assert!(holder(&path).is_err());
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
}

#[test]
fn the_proven_daemon_is_signalled_and_waited_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("heartbeat.pid");
    let mut daemon = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pidfile::tests::stand_in_daemon",
            "--ignored",
            "--quiet",
            "--nocapture",
        ])
        .env("HB_PIDLOCK_TEST_PATH", &path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(daemon.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|l| l.is_ok_and(|l| l == "locked")),
        "the stand-in never took the lock"
    );
    let d = match holder(&path).unwrap() {
        Holder::Daemon(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.pid(), i32::try_from(daemon.id()).unwrap());
    d.terminate().unwrap();
    assert!(d.wait_exit(Duration::from_secs(30)).unwrap());
    let status = daemon.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM));
    // Killed, it left its file behind: stale now, whatever process gets its pid.
    assert!(matches!(
        holder(&path).unwrap(),
        Holder::Nobody { recorded: Some(_) }
    ));
    assert_eq!(d.terminate().unwrap_err().raw_os_error(), Some(libc::ESRCH));
}

/// Not a test on its own: the daemon of `the_proven_daemon_is_signalled_and_waited_for`. It
/// holds the lock until killed (or until its stdin closes).
#[test]
#[ignore = "run by the_proven_daemon_is_signalled_and_waited_for"]
fn stand_in_daemon() {
    let Some(path) = std::env::var_os("HB_PIDLOCK_TEST_PATH") else {
        return;
    };
    let _lock = PidLock::acquire(Path::new(&path)).unwrap();
    println!("locked");
    let mut sink = String::new();
    let _ = io::stdin().read_line(&mut sink);
}
