//! Heartbeat's log sinks and line format: a daemon with `logfile`, `debugfile` and
//! `logfacility local7` writes cl_log's lines (`Nov 24 13:42:22 node1 heartbeat: [PID]:
//! info: TEXT`) to both files and `heartbeat: [PID]: info: TEXT` to syslog, and the transition
//! lines carry Heartbeat's wording (what operators and Heartbeat's CTS grep for).
//!
//! One daemon on the loopback interface with one group of a stand-in agent, its peer node2
//! never started. Its syslog socket is
//! the test's own: the daemon runs in a private mount namespace whose `/dev` is a tmpfs with
//! `null` and the test's datagram socket as `log`, so nothing of the machine's `/dev` or
//! syslog is touched. Needs root (the medium binds to a device, and the mount namespace).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{Daemon, TIMEOUT, runnable, wait_line};

/// Splits `Mmm dd hh:mm:ss HOST ENTITY: [PID]: PRIO: TEXT` into (host, entity, pid, prio,
/// text), checking the stamp's shape.
fn cl_log_fields(line: &str) -> (&str, &str, u32, &str, &str) {
    let (stamp, rest) = line.split_at(15);
    let b = stamp.as_bytes();
    assert!(
        b[0].is_ascii_uppercase()
            && b[3] == b' '
            && b[4].is_ascii_digit()
            && b[6] == b' '
            && b[9] == b':'
            && b[12] == b':',
        "not a cl_log stamp: {line:?}"
    );
    let rest = rest.strip_prefix(' ').expect(line);
    let (host, rest) = rest.split_once(' ').expect(line);
    let (entity, rest) = rest.split_once(": [").expect(line);
    let (pid, rest) = rest.split_once("]: ").expect(line);
    let (prio, text) = rest.split_once(": ").expect(line);
    (host, entity, pid.parse().expect(line), prio, text)
}

#[test]
fn logs_go_where_heartbeat_puts_them_in_heartbeats_format() {
    let test = "logs_go_where_heartbeat_puts_them_in_heartbeats_format";
    if !runnable(test, "the medium binds to a device; a mount namespace") {
        return;
    }
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let conf = top.path().join("conf");
    fs::create_dir(&conf).unwrap();
    let logfile = top.path().join("ha-log");
    let debugfile = top.path().join("ha-debug");
    let port = 21_000 + std::process::id() % 40_000;
    fs::write(
        conf.join("ha.cf"),
        format!(
            "keepalive 100ms\ndeadtime 500ms\ninitdead 1\nudpport {port}\nucast lo 127.0.0.1\n\
             realtime off\nauto_failback on\nlogfile {}\ndebugfile {}\nlogfacility local7\n\
             node node1\nnode node2\n",
            logfile.display(),
            debugfile.display()
        ),
    )
    .unwrap();
    // One group, of a stand-in agent that starts and stops at once.
    fs::write(conf.join("haresources"), "node1 Stub\n").unwrap();
    let agents = top.path().join("agents");
    fs::create_dir(&agents).unwrap();
    fs::write(
        agents.join("Stub"),
        "#!/bin/sh\ncase \"$1\" in start|stop) exit 0 ;; *) echo stopped; exit 3 ;; esac\n",
    )
    .unwrap();
    fs::set_permissions(agents.join("Stub"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        conf.join("authkeys"),
        format!("auth 1\n1 sha1 logging-test-{}\n", std::process::id()),
    )
    .unwrap();
    fs::set_permissions(conf.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
    // The test's syslog: a thread drains the socket (a full queue makes the daemon drop
    // lines, by design) until the test ends.
    let sock_path = top.path().join("syslog");
    let syslog = UnixDatagram::bind(&sock_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let received = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (received, done) = (received.clone(), done.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while !done.load(Ordering::SeqCst) {
                if let Ok(n) = syslog.recv(&mut buf) {
                    let line = String::from_utf8_lossy(&buf[..n]).into_owned();
                    received.lock().unwrap().push(line);
                }
            }
        })
    };
    let realdev = top.path().join("realdev");
    fs::create_dir(&realdev).unwrap();
    let script = r#"
        mount --bind /dev "$T/realdev"
        mount -t tmpfs -o mode=755 tmpfs /dev
        touch /dev/null /dev/log
        mount --bind "$T/realdev/null" /dev/null
        mount --bind "$T/syslog" /dev/log
        exec "$@"
    "#;
    let child = Command::new("unshare")
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-ec",
            script,
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["-f", "-n", "node1", "-c"])
        .arg(&conf)
        .arg("--run-dir")
        .arg(top.path().join("run"))
        .arg("--state-dir")
        .arg(top.path().join("state"))
        .arg("--agent-path")
        .arg(&agents)
        .env("T", top.path())
        .env_remove("HB_LOG")
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);

    // The logfile: cl_log's line, node name as the host, Heartbeat's words.
    let up = wait_line(&logfile, "Local status now set to: 'up'");
    let (host, entity, pid, prio, _) = cl_log_fields(&up);
    assert_eq!((host, entity, prio), ("node1", "heartbeat", "info"), "{up}");
    let dead = wait_line(&logfile, "node node2: is dead");
    assert_eq!(cl_log_fields(&dead).3, "WARN", "{dead}");
    assert_eq!(cl_log_fields(&dead).2, pid, "one daemon, one pid: {dead}");
    wait_line(
        &logfile,
        "Initial resource acquisition complete (mach_down)",
    );
    assert!(
        !fs::read_to_string(&logfile)
            .unwrap()
            .lines()
            .any(|l| cl_log_fields(l).3 == "debug"),
        "the logfile gets info and above only"
    );
    // The debugfile: the same lines and the debug ones.
    wait_line(&debugfile, "node node2: is dead");
    let debug = wait_line(&debugfile, ": debug: ");
    assert_eq!(cl_log_fields(&debug).0, "node1", "{debug}");

    // Syslog: `<PRI>STAMP heartbeat: [PID]: info: TEXT`, facility local7 (23).
    let until = Instant::now() + TIMEOUT;
    let seen = loop {
        let seen = received.lock().unwrap().clone();
        if seen
            .iter()
            .any(|m| m.contains("Initial resource acquisition complete"))
        {
            break seen;
        }
        assert!(Instant::now() < until, "syslog got only {seen:#?}");
        std::thread::sleep(Duration::from_millis(20));
    };
    let line = seen
        .iter()
        .find(|m| m.contains("node node2: is dead"))
        .unwrap_or_else(|| panic!("no death line in syslog: {seen:#?}"));
    let body = line.strip_prefix(&format!("<{}>", 23 * 8 + 4)).expect(line);
    assert!(
        body[15..].starts_with(&format!(" heartbeat: [{pid}]: WARN: node node2: is dead")),
        "{line}"
    );
    assert!(
        !seen.iter().any(|m| m.contains(": debug: ")),
        "syslog gets info and above only: {seen:#?}"
    );

    // A graceful stop ends with Heartbeat's last line.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(daemon.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "{status}");
    let last = wait_line(&logfile, "Heartbeat shutdown complete");
    assert_eq!(cl_log_fields(&last).4, "node1 Heartbeat shutdown complete.");
    done.store(true, Ordering::SeqCst);
    reader.join().unwrap();
}

/// Runs the daemon in the foreground (no `logfile`: stderr is its sink) with stderr going to
/// `err` and `JOURNAL_STREAM` set to `stream`, until node2 is declared dead; returns what it
/// wrote.
fn stderr_with_journal_stream(
    top: &std::path::Path,
    stream: impl Fn(&fs::File) -> String,
) -> String {
    let conf = top.join("conf");
    fs::create_dir_all(&conf).unwrap();
    let port = 22_000 + std::process::id() % 40_000;
    fs::write(
        conf.join("ha.cf"),
        format!(
            "keepalive 100ms\ndeadtime 500ms\ninitdead 1\nudpport {port}\nucast lo 127.0.0.1\n\
             realtime off\nnode node1\nnode node2\n"
        ),
    )
    .unwrap();
    fs::write(conf.join("haresources"), "").unwrap();
    fs::write(
        conf.join("authkeys"),
        format!("auth 1\n1 sha1 journal-test-{}\n", std::process::id()),
    )
    .unwrap();
    fs::set_permissions(conf.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
    let err_path = top.join("stderr");
    let err = fs::File::create(&err_path).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
        .args(["-f", "-n", "node1", "-c"])
        .arg(&conf)
        .arg("--run-dir")
        .arg(top.join("run"))
        .arg("--state-dir")
        .arg(top.join("state"))
        .env("JOURNAL_STREAM", stream(&err))
        .env_remove("HB_LOG")
        .stderr(err)
        .spawn()
        .unwrap();
    let mut daemon = Daemon(child);
    wait_line(&err_path, "node node2: is dead");
    let pid = nix::unistd::Pid::from_raw(i32::try_from(daemon.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert!(daemon.0.wait().unwrap().success());
    fs::read_to_string(&err_path).unwrap()
}

#[test]
fn under_systemd_stderr_lines_carry_the_journals_priorities_and_no_stamp() {
    let test = "under_systemd_stderr_lines_carry_the_journals_priorities_and_no_stamp";
    if !runnable(test, "the medium binds to a device") {
        return;
    }
    use std::os::unix::fs::MetadataExt as _;
    let top = tempfile::tempdir().unwrap();
    // JOURNAL_STREAM names stderr (DEV:INODE): the journal's format.
    let journal = stderr_with_journal_stream(&top.path().join("a"), |f| {
        let m = f.metadata().unwrap();
        format!("{}:{}", m.dev(), m.ino())
    });
    for line in journal.lines() {
        let (prefix, rest) = line.split_at(3);
        assert!(
            matches!(prefix, "<3>" | "<4>" | "<6>" | "<7>"),
            "not a journal priority prefix: {line:?}"
        );
        let word = rest.split(": ").next().unwrap();
        let expected = match prefix {
            "<3>" => "ERROR",
            "<4>" => "WARN",
            "<6>" => "info",
            _ => "debug",
        };
        assert_eq!(word, expected, "{line:?}");
    }
    assert!(
        journal.contains("<4>WARN: node node2: is dead"),
        "{journal}"
    );
    assert!(
        journal.contains("<6>info: node1 Heartbeat shutdown complete."),
        "{journal}"
    );
    // Another stream (stderr redirected elsewhere): cl_log's whole line, as without systemd.
    let plain = stderr_with_journal_stream(&top.path().join("b"), |_| "1:1".to_owned());
    let dead = plain
        .lines()
        .find(|l| l.contains("node node2: is dead"))
        .unwrap();
    assert_eq!(cl_log_fields(dead).3, "WARN", "{dead}");
}
