//! `heartbeat -s` and `-r` as Heartbeat's CTS and init scripts use them, Debian's
//! `/run/heartbeat` ownership (the `hacluster` user's, mode 0750) accepted for the run
//! directory, and Heartbeat's test hook `OnlyForTesting` read on `-r`. One daemon on the
//! loopback interface; needs root (the medium binds to a device).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Command, Output};

mod common;
use common::{Daemon, runnable, wait_line};

struct Node {
    top: tempfile::TempDir,
}

impl Node {
    fn conf(&self) -> PathBuf {
        self.top.path().join("conf")
    }
    fn run(&self) -> PathBuf {
        self.top.path().join("run")
    }
    fn log(&self) -> PathBuf {
        self.top.path().join("ha-log")
    }
    fn heartbeat(&self, flags: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_heartbeat"));
        c.args(flags)
            .args(["-n", "node1", "-c"])
            .arg(self.conf())
            .arg("--run-dir")
            .arg(self.run())
            .arg("--state-dir")
            .arg(self.top.path().join("state"));
        c
    }
    fn output(&self, flags: &[&str]) -> Output {
        self.heartbeat(flags).output().unwrap()
    }
}

#[test]
fn status_reread_and_debians_run_directory() {
    if !runnable(
        "status_reread_and_debians_run_directory",
        "the medium binds to a device",
    ) {
        return;
    }
    let node = Node {
        top: tempfile::tempdir().unwrap(),
    };
    fs::set_permissions(node.top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::create_dir(node.conf()).unwrap();
    let port = 22_000 + std::process::id() % 40_000;
    fs::write(
        node.conf().join("ha.cf"),
        format!(
            "keepalive 100ms\ndeadtime 1\ninitdead 2\nudpport {port}\nucast lo 127.0.0.1\n\
             realtime off\nauto_failback on\nlogfile {}\nnode node1\n",
            node.log().display()
        ),
    )
    .unwrap();
    fs::write(node.conf().join("haresources"), "").unwrap();
    fs::write(
        node.conf().join("authkeys"),
        format!("auth 1\n1 sha1 cli-test-{}\n", std::process::id()),
    )
    .unwrap();
    fs::set_permissions(
        node.conf().join("authkeys"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    // The run directory as Debian's heartbeat package leaves it.
    fs::create_dir(node.run()).unwrap();
    fs::set_permissions(node.run(), fs::Permissions::from_mode(0o750)).unwrap();
    if let Some(u) = nix::unistd::User::from_name("hacluster").unwrap() {
        nix::unistd::chown(&node.run(), Some(u.uid), None).unwrap();
    } else {
        eprintln!("no hacluster user here: the run directory stays root's");
    }

    let stopped = node.output(&["-s"]);
    assert_eq!(
        (
            String::from_utf8_lossy(&stopped.stdout).as_ref(),
            stopped.status.code()
        ),
        ("heartbeat is stopped. No process\n", Some(3))
    );

    let mut daemon = Daemon(node.heartbeat(&["-f"]).spawn().unwrap());
    wait_line(&node.log(), "Local status now set to: 'up'");
    let pid = daemon.0.id();
    let up = node.output(&["-s"]);
    let text = String::from_utf8_lossy(&up.stdout).into_owned();
    assert_eq!(up.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with(&format!("heartbeat OK [pid {pid} et al] is running on "))
            && text.ends_with(" [node1]...\n"),
        "{text}"
    );

    // -r: the configuration is checked, the daemon re-reads it (SIGHUP) and the test hook.
    fs::write(
        node.conf().join("OnlyForTesting"),
        "xmitloss=1\nrcvloss=1\nallownodes=\n",
    )
    .unwrap();
    let r = node.output(&["-r"]);
    assert!(r.status.success(), "{r:?}");
    wait_line(&node.log(), "WARNING: Enabling Test Code");
    wait_line(&node.log(), "Xmit loss probability = 1.000");
    fs::remove_file(node.conf().join("OnlyForTesting")).unwrap();
    assert!(node.output(&["-r"]).status.success());
    wait_line(&node.log(), "Test Code Now disabled.");
    // A broken file is refused by -r: the daemon is not signalled.
    fs::write(node.conf().join("ha.cf"), "keepalive x\n").unwrap();
    let bad = node.output(&["-r"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains(&format!("Config errors: Heartbeat pid {pid} NOT restarted")),
        "{bad:?}"
    );

    let term = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    );
    term.unwrap();
    assert!(daemon.0.wait().unwrap().success());
    wait_line(&node.log(), "node1 Heartbeat shutdown complete.");
}
