//! `watchdog DEVICE` with a stand-in device (a FIFO the test reads): the daemon pets it with
//! one NUL byte per status heartbeat, stops petting while its event loop does not run
//! (SIGSTOP), writes the magic `V` on a clean shutdown, and refuses to start when the device
//! cannot be opened. One daemon on the loopback interface; needs root (the medium binds to a
//! device).

use std::fs;
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

mod common;
use common::{Daemon, TIMEOUT, runnable, wait_line};

const KEEPALIVE_MS: u64 = 100;

fn write_config(dir: &Path, log: &Path, watchdog: &Path) {
    fs::create_dir_all(dir).unwrap();
    let port = 23_000 + std::process::id() % 40_000;
    fs::write(
        dir.join("ha.cf"),
        format!(
            "keepalive {KEEPALIVE_MS}ms\ndeadtime 1\ninitdead 2\nudpport {port}\nucast lo 127.0.0.1\n\
             realtime off\nauto_failback on\nlogfile {}\nwatchdog {}\nnode node1\n",
            log.display(),
            watchdog.display()
        ),
    )
    .unwrap();
    fs::write(dir.join("haresources"), "").unwrap();
    fs::write(
        dir.join("authkeys"),
        format!("auth 1\n1 sha1 wd-test-{}\n", std::process::id()),
    )
    .unwrap();
    fs::set_permissions(dir.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
}

fn heartbeat(top: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_heartbeat"));
    c.args(["-f", "-n", "node1", "-c"])
        .arg(top.join("conf"))
        .arg("--run-dir")
        .arg(top.join("run"))
        .arg("--state-dir")
        .arg(top.join("state"));
    c
}

/// Reads what is there within `wait`: the bytes, or nothing when the wait ran out.
fn read_within(fifo: &OwnedFd, wait: Duration) -> Vec<u8> {
    let mut fds = [PollFd::new(fifo.as_fd(), PollFlags::POLLIN)];
    let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
    let ready = poll(&mut fds, PollTimeout::from(ms)).unwrap();
    if ready == 0 {
        return Vec::new();
    }
    let mut buf = [0u8; 256];
    match nix::unistd::read(fifo, &mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(nix::errno::Errno::EAGAIN) => Vec::new(),
        Err(e) => panic!("reading the stand-in watchdog: {e}"),
    }
}

#[test]
fn the_watchdog_is_petted_by_the_event_loop_and_disarmed_on_a_clean_stop() {
    if !runnable(
        "the_watchdog_is_petted_by_the_event_loop_and_disarmed_on_a_clean_stop",
        "the medium binds to a device",
    ) {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let device: PathBuf = top.path().join("watchdog");
    nix::unistd::mkfifo(&device, Mode::from_bits_truncate(0o600)).unwrap();
    // The read end first, so that the daemon's write-only open does not wait.
    let fifo: OwnedFd =
        nix::fcntl::open(&device, OFlag::O_RDONLY | OFlag::O_NONBLOCK, Mode::empty()).unwrap();
    let log = top.path().join("ha-log");
    write_config(&top.path().join("conf"), &log, &device);
    let mut daemon = Daemon(heartbeat(top.path()).spawn().unwrap());
    wait_line(
        &log,
        &format!("Using watchdog device: {}", device.display()),
    );
    let pid = Pid::from_raw(i32::try_from(daemon.0.id()).unwrap());

    // Pets arrive: count them for a while and print the rate.
    let start = Instant::now();
    let mut pets = 0usize;
    while pets < 20 {
        assert!(start.elapsed() < TIMEOUT, "only {pets} pets in {TIMEOUT:?}");
        let got = read_within(&fifo, Duration::from_secs(1));
        assert!(got.iter().all(|&b| b == 0), "pets are NUL bytes: {got:?}");
        pets += got.len();
    }
    let took = start.elapsed();
    println!(
        "watchdog: {pets} pets in {} ms, one per {} ms (keepalive {KEEPALIVE_MS} ms)",
        took.as_millis(),
        took.as_millis() / pets as u128
    );

    // A stopped event loop pets nothing: ten keepalives pass without a byte.
    kill(pid, Signal::SIGSTOP).unwrap();
    // Drain what was written before the stop took effect.
    while !read_within(&fifo, Duration::from_millis(50)).is_empty() {}
    let quiet = read_within(&fifo, Duration::from_millis(10 * KEEPALIVE_MS));
    assert!(quiet.is_empty(), "petted while stopped: {quiet:?}");
    kill(pid, Signal::SIGCONT).unwrap();
    let resumed = read_within(&fifo, Duration::from_secs(5));
    assert!(!resumed.is_empty(), "no pet after SIGCONT");

    // A clean stop: the last byte is the magic V, then the device is closed.
    kill(pid, Signal::SIGTERM).unwrap();
    assert!(daemon.0.wait().unwrap().success());
    let mut tail = Vec::new();
    loop {
        let got = read_within(&fifo, Duration::from_secs(2));
        if got.is_empty() {
            break;
        }
        tail.extend(got);
    }
    assert_eq!(tail.last(), Some(&b'V'), "the last bytes: {tail:?}");
    wait_line(&log, "disarmed (magic character written)");
}

#[test]
fn a_watchdog_device_that_cannot_be_opened_stops_the_start() {
    if !runnable(
        "a_watchdog_device_that_cannot_be_opened_stops_the_start",
        "the medium binds to a device",
    ) {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let device = top.path().join("no-such-watchdog");
    let log = top.path().join("ha-log");
    write_config(&top.path().join("conf"), &log, &device);
    let out = heartbeat(top.path()).output().unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "watchdog {}: cannot open it for writing: ",
            device.display()
        )),
        "{stderr}"
    );
}
