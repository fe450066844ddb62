//! Heartbeat's command FIFO with Debian's own scripts: the daemon makes `<state dir>/fifo`
//! (mode 0600, root's), and `/usr/share/heartbeat/hb_standby` and `hb_takeover` (package
//! `heartbeat`), pointed at it with `HA_FIFO`, reach the core: their requests are logged and,
//! on a node without a peer, refused by the core with its reason. One daemon on the loopback
//! interface, no namespaces; root is needed (the medium binds to a device). The scripts log
//! into a file of the test's directory (no syslog), so they need nothing outside it.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _, PermissionsExt as _};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

const HB_STANDBY: &str = "/usr/share/heartbeat/hb_standby";
const HB_TAKEOVER: &str = "/usr/share/heartbeat/hb_takeover";
const TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the test can run here; under `CI=true` a reason to skip is a failure.
fn runnable(test: &str) -> bool {
    let reason = if !nix::unistd::geteuid().is_root() {
        "needs root (the medium binds to a device)"
    } else if !Path::new(HB_STANDBY).exists() || !Path::new(HB_TAKEOVER).exists() {
        "needs Debian's heartbeat package (its hb_standby and hb_takeover scripts)"
    } else {
        return true;
    };
    assert!(
        !std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")),
        "{test}: {reason}, and CI=true forbids skipping"
    );
    eprintln!("SKIP {test}: {reason}");
    false
}

/// Polls `done` every 20 ms until it holds, failing after [`TIMEOUT`] with `what`.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + TIMEOUT;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit, killing it after [`TIMEOUT`] (a script blocked on the FIFO).
fn exit_of(mut child: Child, what: &str) -> ExitStatus {
    let until = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Node {
    top: tempfile::TempDir,
    daemon: Option<Child>,
}

impl Node {
    fn state(&self) -> PathBuf {
        self.top.path().join("state")
    }

    fn fifo(&self) -> PathBuf {
        self.state().join("fifo")
    }

    fn log(&self) -> String {
        fs::read_to_string(self.top.path().join("ha-log")).unwrap_or_default()
    }

    /// Waits until the daemon's log has a line containing `text`.
    fn wait_log(&self, text: &str) {
        let until = Instant::now() + TIMEOUT;
        while !self.log().contains(text) {
            assert!(
                Instant::now() < until,
                "timed out waiting for {text:?} in the daemon's log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs one of Debian's scripts with `HA_FIFO` pointing at our FIFO and its logging
    /// going to a file of the test's directory.
    fn script(&self, path: &str, arg: &str) -> String {
        let ha_log = self.top.path().join("script-log");
        let child = Command::new(path)
            .arg(arg)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("HA_FIFO", self.fifo())
            .env("HA_LOGD", "no")
            .env("HA_LOGFACILITY", "none")
            .env("HA_LOGFILE", &ha_log)
            .env("HA_DEBUGLOG", self.top.path().join("script-debug"))
            .spawn()
            .unwrap();
        let status = exit_of(child, &format!("{path} {arg}"));
        assert!(status.success(), "{path} {arg}: {status}");
        fs::read_to_string(ha_log).unwrap_or_default()
    }

    fn status_answers(&self) -> bool {
        let Ok(mut s) = UnixStream::connect(self.top.path().join("run/heartbeat.sock")) else {
            return false;
        };
        let request = hb_control::encode_request(&hb_control::Request::Status).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut line = String::new();
        s.write_all(request.as_bytes()).is_ok()
            && BufReader::new(s).read_line(&mut line).is_ok()
            && hb_control::decode_reply::<hb_control::Status>(line.trim_end().as_bytes()).is_ok()
    }

    fn start() -> Node {
        let top = tempfile::tempdir().unwrap();
        fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let conf = top.path().join("conf");
        fs::create_dir(&conf).unwrap();
        // A port of our own, a secret of our own: another test's daemon on the loopback
        // interface never counts.
        let port = 20_000 + std::process::id() % 40_000;
        fs::write(
            conf.join("ha.cf"),
            format!(
                "keepalive 100ms\ndeadtime 1\ninitdead 2\nudpport {port}\nucast lo 127.0.0.1\n\
                 realtime off\nauto_failback on\nlogfile {}\nnode node1\n",
                top.path().join("ha-log").display()
            ),
        )
        .unwrap();
        fs::write(conf.join("haresources"), "").unwrap();
        fs::write(
            conf.join("authkeys"),
            format!("auth 1\n1 sha1 fifo-test-{}\n", std::process::id()),
        )
        .unwrap();
        fs::set_permissions(conf.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
        let daemon = Command::new(env!("CARGO_BIN_EXE_heartbeat"))
            .args(["-f", "-n", "node1", "-c"])
            .arg(&conf)
            .arg("--run-dir")
            .arg(top.path().join("run"))
            .arg("--state-dir")
            .arg(top.path().join("state"))
            .spawn()
            .unwrap();
        let mut node = Node {
            top,
            daemon: Some(daemon),
        };
        wait_for("the daemon's control socket", || {
            let exited = node.daemon.as_mut().unwrap().try_wait().unwrap();
            assert!(exited.is_none(), "the daemon exited: {}", node.log());
            node.status_answers()
        });
        node
    }

    /// SIGTERM, and the exit status.
    fn stop(&mut self) -> ExitStatus {
        let child = self.daemon.take().unwrap();
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        exit_of(child, "the daemon's graceful stop")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn debians_hb_standby_and_hb_takeover_reach_the_daemon_through_its_fifo() {
    let test = "debians_hb_standby_and_hb_takeover_reach_the_daemon_through_its_fifo";
    if !runnable(test) {
        return;
    }
    let mut node = Node::start();
    node.wait_log(&format!(
        "created the command FIFO {}",
        node.fifo().display()
    ));
    let meta = fs::symlink_metadata(node.fifo()).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.uid(), 0);

    // Debian's hb_standby: logged as requested, refused by the core (no peer here).
    let said = node.script(HB_STANDBY, "all");
    assert!(said.contains("Going standby [all]."), "{said}");
    node.wait_log("hb_standby all requested through the command FIFO");
    node.wait_log("standby [all] (hb_standby) ignored: no stable peer to take the resources");
    // Its writer has gone: the next one is read too (no end-of-file, no blocked writer).
    // Debian's hb_takeover writes rsc_hold=failback, read as all (as Heartbeat's peer does).
    node.script(HB_TAKEOVER, "failback");
    node.wait_log("hb_takeover all requested through the command FIFO");
    node.wait_log("takeover [all] ignored: no peer");

    // Anything else written there is not sent anywhere: it is warned about and ignored.
    let mut w = fs::OpenOptions::new()
        .append(true)
        .open(node.fifo())
        .unwrap();
    w.write_all(b"junk\n>>>\nt=status\nst=dead\n<<<\n").unwrap();
    drop(w);
    node.wait_log(&format!(
        "{}: skipped a line outside a message (one starts with a line \">>>\"): \"junk\"",
        node.fifo().display()
    ));
    node.wait_log("message type \"status\" is not supported from the FIFO");
    let status = node.stop();
    assert!(status.success(), "{status}: {}", node.log());
    // Left in place, as Heartbeat leaves it.
    assert!(
        fs::symlink_metadata(node.fifo())
            .unwrap()
            .file_type()
            .is_fifo()
    );
}
