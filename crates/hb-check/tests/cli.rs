//! The `hb-check` command line as agents use it: exit statuses and messages of `tcp` and
//! `http` (a fixed contract), and `ipvs-watch` as a process (foreground and `--daemon`,
//! SIGTERM, pid and state files), all on 127.0.0.1 with servers this test owns.
//!
//! This machine's kernel has no IPVS, so `ipvs-watch` drives the stand-in
//! `tests/fixtures/ipvsadm` (a file-backed table printing ipvsadm's format) instead of the
//! real ipvsadm.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hb-check");
const LIMIT: Duration = Duration::from_secs(20);

fn hb_check(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run hb-check")
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An HTTP server on 127.0.0.1 answering `count` requests with `reply`.
fn http_server(reply: &'static str, count: usize) -> (SocketAddr, thread::JoinHandle<()>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let h = thread::spawn(move || {
        for _ in 0..count {
            let Ok((mut s, _)) = l.accept() else { return };
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut req = Vec::new();
            let mut b = [0u8; 512];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            let _ = s.write_all(reply.as_bytes());
        }
    });
    (addr, h)
}

fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn tcp_exit_statuses() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let open = l.local_addr().unwrap().to_string();
    let o = hb_check(&["tcp", &open, "--timeout-ms", "2000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(o.stderr.is_empty());
    drop(l);
    let o = hb_check(&["tcp", &open]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("connect refused") && err.contains(&open),
        "{err}"
    );
    for bad in [
        vec!["tcp", "127.0.0.1"],
        vec!["tcp", "127.0.0.1:0"],
        vec!["tcp"],
    ] {
        assert_eq!(code(&hb_check(&bad)), 2, "{bad:?}");
    }
    assert_eq!(code(&hb_check(&["tcp", &open, "--timeout-ms", "x"])), 2);
}

#[test]
fn http_exit_statuses() {
    let (addr, h) = http_server("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", 4);
    let url = format!("http://{addr}/status");
    let o = hb_check(&["http", &url, "--expect", "200", "--timeout-ms", "3000"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = hb_check(&["http", &url, "--expect", "204", "--timeout-ms", "3000"]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("HTTP status 200, expected 204"), "{err}");
    let o = hb_check(&["http", &url, "--contains", "hell"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = hb_check(&["http", &url, "--contains", "bye"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("does not contain 'bye'"),
        "{}",
        stderr(&o)
    );
    h.join().unwrap();

    let o = hb_check(&["http", &format!("http://{}/", closed_port())]);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("connect refused"), "{}", stderr(&o));
    for bad in [
        vec!["http", "https://127.0.0.1/"],
        vec!["http", "127.0.0.1/"],
        vec!["http", "http://127.0.0.1:99999/"],
        vec!["http", "http://127.0.0.1/", "--expect", "abc"],
        vec!["http", "http://127.0.0.1/", "--expect", "42"],
        vec!["http"],
    ] {
        let o = hb_check(&bad);
        assert_eq!(code(&o), 2, "{bad:?}: {}", stderr(&o));
    }
}

#[test]
fn http_timeout_is_bounded() {
    // Accepts (kernel backlog) but never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    let start = Instant::now();
    let o = hb_check(&["http", &url, "--timeout-ms", "300"]);
    assert_eq!(code(&o), 1);
    assert!(
        stderr(&o).contains("no complete response within 300 ms"),
        "{}",
        stderr(&o)
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    drop(l);
}

// ----- ipvs-watch ----------------------------------------------------------------------------

fn standin() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/ipvsadm")
}

struct Watch {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Watch {
    fn new() -> Watch {
        let w = Watch {
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        w.ipvsadm(&["-A", "-t", "192.0.2.100:80", "-s", "rr"]);
        w
    }

    fn p(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ipvsadm(&self, args: &[&str]) -> String {
        let o = Command::new(standin())
            .args(args)
            .env("IPVSADM_STANDIN_STATE", self.p("table"))
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn command(&self, servers: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["ipvs-watch", "-t", "192.0.2.100:80", "-r", servers])
            .args([
                "--forwarding",
                "nat",
                "--interval",
                "50ms",
                "--retries",
                "2",
            ])
            .args(["--delay-before-retry", "20ms", "--connect-timeout", "2"])
            .arg("--ipvsadm")
            .arg(standin())
            .arg("--pidfile")
            .arg(self.p("w.pid"))
            .arg("--state")
            .arg(self.p("w.state"))
            .arg("--log")
            .arg(self.p("w.log"))
            .args(extra)
            .env("IPVSADM_STANDIN_STATE", self.p("table"))
            .stdin(Stdio::null());
        c
    }

    fn wait_until(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + LIMIT;
        while !cond() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; log:\n{}",
                std::fs::read_to_string(self.p("w.log")).unwrap_or_default()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    fn state(&self) -> String {
        std::fs::read_to_string(self.p("w.state")).unwrap_or_default()
    }

    fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.p("w.pid"))
            .ok()?
            .trim()
            .parse()
            .ok()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
        if let Some(pid) = self.pid() {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*self.dir.path().to_string_lossy()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

#[test]
fn watcher_removes_a_dead_server_and_stops_cleanly_on_sigterm() {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let up_addr = up.local_addr().unwrap().to_string();
    let down_addr = closed_port().to_string();
    let mut w = Watch::new();
    let mut cmd = w.command(&format!("{up_addr},{down_addr}:3"), &[]);
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    w.child = Some(cmd.spawn().unwrap());

    w.wait_until("the dead server to be gone", || {
        w.state().contains(&format!("{down_addr} down "))
    });
    let table = w.ipvsadm(&["-L", "-n", "-t", "192.0.2.100:80"]);
    assert!(
        table.contains(&up_addr) && !table.contains(&down_addr),
        "{table}"
    );
    assert!(
        w.state().contains(&format!("{up_addr} up ")),
        "{}",
        w.state()
    );
    let pid = w.pid().expect("pid file");
    assert_eq!(Some(pid as u32), w.child.as_ref().map(Child::id));

    // The server comes up: it is added back with its weight.
    let back = TcpListener::bind(&down_addr);
    if let Ok(_listener) = back {
        w.wait_until("the server to be back", || {
            w.state().contains(&format!("{down_addr} up "))
        });
        let table = w.ipvsadm(&["-Ln"]);
        assert!(
            table.contains(&format!("  -> {down_addr:<28} Masq    3 ")),
            "{table}"
        );
    }

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let child = w.child.as_mut().unwrap();
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        thread::sleep(Duration::from_millis(5));
    };
    w.child = None;
    assert!(status.success(), "{status}");
    assert!(!w.p("w.pid").exists() && !w.p("w.state").exists());
    let log = std::fs::read_to_string(w.p("w.log")).unwrap();
    assert!(
        log.contains(&format!(
            "real server {down_addr} gone (connect refused after 2 tries)"
        )),
        "{log}"
    );
    assert!(
        log.lines()
            .last()
            .unwrap_or("")
            .ends_with("stopping (SIGTERM)"),
        "{log}"
    );
    drop(up);
}

#[test]
fn daemon_mode_returns_once_running_and_refuses_a_second_watcher() {
    let up = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = up.local_addr().unwrap().to_string();
    let w = Watch::new();
    let start = Instant::now();
    let o = w.command(&addr, &["--daemon"]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(start.elapsed() < LIMIT);
    // Ready means: pid file, state file and the first log line exist, the process runs in
    // its own session.
    let pid = w.pid().expect("pid file when --daemon returns");
    assert!(w.state().contains(&format!("{addr} up ")), "{}", w.state());
    assert!(
        std::fs::read_to_string(w.p("w.log"))
            .unwrap()
            .contains("watching: TCP 192.0.2.100:80")
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    assert_eq!(fields[3], pid.to_string(), "session leader: {stat}");

    // A second watcher for the same pid file refuses to start.
    let o = w.command(&addr, &["--daemon"]).output().unwrap();
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).contains("another watcher"), "{}", stderr(&o));
    assert_eq!(w.pid(), Some(pid));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    w.wait_until("the daemon to exit", || {
        !Path::new(&format!("/proc/{pid}")).exists() && !w.p("w.pid").exists()
    });
    drop(up);
}

#[test]
fn dry_run_validates_and_describes() {
    let w = Watch::new();
    let o = w
        .command(
            "127.0.0.1:8080:2",
            &["--dry-run", "--check", "http", "--http-path", "/h"],
        )
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("TCP 192.0.2.100:80 forwarding nat"), "{out}");
    assert!(out.contains("127.0.0.1:8080 (weight 2)"), "{out}");
    assert!(out.contains("HTTP GET /h expecting 200"), "{out}");
    assert!(!w.p("w.pid").exists(), "a dry run starts nothing");

    let o = w
        .command("127.0.0.1:8080", &["--check", "none"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    let o = w
        .command("127.0.0.1:8080", &["--check", "none", "--dry-run"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    let o = Command::new(BIN)
        .args(["ipvs-watch", "-t", "192.0.2.100:80", "-r", "127.0.0.1:8080"])
        .args(["--forwarding", "dr", "--dry-run", "--ipvsadm"])
        .arg(standin())
        .output()
        .unwrap();
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("should be port 80"), "{}", stderr(&o));
}
