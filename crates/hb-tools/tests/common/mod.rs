//! Test support: a fake daemon on a Unix socket in a temporary run directory, the canned
//! status of the captured two-node cluster, and running the real binaries.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// What the fake daemon does with one request.
pub enum Reply {
    /// Send this object as one line.
    Json(Value),
    /// Send these bytes as they are (a newline is not added).
    Raw(Vec<u8>),
    /// Keep the connection open and never answer.
    Silent,
}

type Responder = Box<dyn FnMut(&Value, usize) -> Reply + Send>;

/// A daemon stand-in answering on `<run_dir>/heartbeat.sock`, recording every request.
pub struct FakeDaemon {
    dir: tempfile::TempDir,
    requests: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    /// Starts a daemon whose replies come from `respond(request, index)` (`index` counts
    /// the requests, from 0).
    pub fn start(respond: impl FnMut(&Value, usize) -> Reply + Send + 'static) -> FakeDaemon {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("heartbeat.sock")).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let requests = Arc::clone(&requests);
            let stop = Arc::clone(&stop);
            let mut respond: Responder = Box::new(respond);
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let mut line = String::new();
                    if BufReader::new(&stream).read_line(&mut line).is_err() {
                        continue;
                    }
                    let request: Value = serde_json::from_str(line.trim())
                        .unwrap_or_else(|_| Value::String(line.clone()));
                    let index = {
                        let mut r = requests.lock().unwrap();
                        r.push(request.clone());
                        r.len() - 1
                    };
                    let mut stream = stream;
                    match respond(&request, index) {
                        Reply::Json(v) => {
                            let _ = stream.write_all(format!("{v}\n").as_bytes());
                        }
                        Reply::Raw(bytes) => {
                            let _ = stream.write_all(&bytes);
                        }
                        Reply::Silent => held.push(stream),
                    }
                }
            })
        };
        FakeDaemon {
            dir,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// A daemon answering `status` with `status` and every other command with `ok`.
    pub fn with_status(status: Value) -> FakeDaemon {
        FakeDaemon::start(move |req, _| {
            if req["command"] == "status" {
                Reply::Json(status.clone())
            } else {
                Reply::Json(json!({"version": 1, "ok": true}))
            }
        })
    }

    /// The run directory to pass with `--run-dir`.
    pub fn run_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag; if the socket is gone (a test moved
        // it), the thread cannot be woken and is left to end with the process.
        if UnixStream::connect(self.dir.path().join("heartbeat.sock")).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

/// A run directory with no daemon.
pub fn no_daemon() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The version string of the captured Heartbeat.
pub const HB_VERSION: &str = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)";

/// The status node1 of the captured cluster reports (ha.cf: `node node1`, `node node2`,
/// `bcast eth0`, keepalive 1, deadtime 4, warntime 2, initdead 8, auto_failback on).
pub fn cluster_status(node2_up: bool, rscstatus: &str) -> Value {
    let (n2, l2) = if node2_up {
        ("active", "up")
    } else {
        ("dead", "dead")
    };
    json!({
        "version": 1, "ok": true,
        "node": "node1",
        "hbversion": HB_VERSION,
        "managed_by": "haresources",
        "rscstatus": rscstatus,
        "shutting_down": false,
        "now": 1795527935.5,
        "parameters": {
            "keepalive": "1", "deadtime": "4", "warntime": "2", "initdead": "8",
            "udpport": "694", "hopfudge": "1", "auto_failback": "on", "msgfmt": "classic",
            "baud": "19200", "debug": "0", "crm": "no", "pacemaker": "no",
            "hbversion": HB_VERSION
        },
        "nodes": [
            {"name": "node1", "status": "active", "type": "normal", "weight": 100, "site": "",
             "self": true, "heartbeat_rs": true, "since": 1795527900.25,
             "links": [{"name": "eth0", "status": "up", "up": true}]},
            {"name": "node2", "status": n2, "type": "normal", "weight": 100, "site": "",
             "self": false, "heartbeat_rs": false, "since": 1795527910.0,
             "links": [{"name": "eth0", "status": l2, "up": node2_up}]}
        ],
        "groups": [
            {"key": "192.0.2.100", "preferred": "node1", "state": "running", "holder": "node1",
             "failed_here": false, "managed": true, "since": 1795527902.0, "failure": null,
             "resources": [{"text": "IPaddr2::192.0.2.100/24/eth0", "agent": "IPaddr2",
                            "class": "heartbeat", "state": "running",
                            "monitor_interval_ms": 0, "failures": 0, "restarts": 0,
                            "last_failure": null, "last_failure_reason": null}]},
            {"key": "192.0.2.101", "preferred": "node2",
             "state": if node2_up { "stopped" } else { "running" },
             "holder": if node2_up { "node2" } else { "node1" },
             "failed_here": false, "managed": true, "since": 1795527920.0, "failure": null,
             "resources": [{"text": "IPaddr2::192.0.2.101/24/eth0", "agent": "IPaddr2",
                            "class": "heartbeat", "state": if node2_up { "stopped" } else { "running" },
                            "monitor_interval_ms": 0, "failures": 0, "restarts": 0,
                            "last_failure": null, "last_failure_reason": null}]}
        ],
        "counters": {"accepted": 10, "malformed": 0, "auth_failed": 0, "unknown_node": 0,
                     "replayed": 0, "duplicate": 0}
    })
}

/// A finished run of a binary.
#[derive(Debug)]
pub struct Run {
    pub pid: u32,
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `bin` with `args` (no `HB_RUN_DIR` in its environment unless `env` sets it).
pub fn run_env(bin: &str, args: &[&str], env: &[(&str, &Path)]) -> Run {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("HB_RUN_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id();
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    Run {
        pid,
        stdout: String::from_utf8(stdout).unwrap(),
        stderr: String::from_utf8(stderr).unwrap(),
        code: status.code().expect("exited normally"),
    }
}

/// Runs `bin --run-dir DIR args...`.
pub fn run_in(bin: &str, dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_str().unwrap();
    let mut all = vec!["--run-dir", dir];
    all.extend_from_slice(args);
    run_env(bin, &all, &[])
}

/// The machine's host name, as the tools read it.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Splits a cl_log ERROR line `Mon dd hh:mm:ss HOST ENTITY: [PID]: ERROR: TEXT` into
/// (host, entity, pid, text), checking the timestamp's shape; `None` if it is not one.
pub fn parse_error_line(line: &str) -> Option<(String, String, u32, String)> {
    let b = line.as_bytes();
    if b.len() < 16 || !MONTHS.contains(&&line[..3]) {
        return None;
    }
    let digits = [4, 5, 7, 8, 10, 11, 13, 14];
    if !digits.iter().all(|&i| b[i].is_ascii_digit())
        || (b[3], b[6], b[9], b[12], b[15]) != (b' ', b' ', b':', b':', b' ')
    {
        return None;
    }
    let day: u32 = line[4..6].parse().ok()?;
    let (h, m, s): (u32, u32, u32) = (
        line[7..9].parse().ok()?,
        line[10..12].parse().ok()?,
        line[13..15].parse().ok()?,
    );
    if !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let rest = &line[16..];
    let (host, rest) = rest.split_once(' ')?;
    let (entity, rest) = rest.split_once(": [")?;
    let (pid, text) = rest.split_once("]: ERROR: ")?;
    Some((
        host.to_string(),
        entity.to_string(),
        pid.parse().ok()?,
        text.to_string(),
    ))
}

/// Asserts that `stderr` is exactly these ERROR lines of cl_status from `pid` on `host`.
pub fn assert_error_lines(stderr: &str, pid: u32, host: &str, texts: &[&str]) {
    let lines: Vec<&str> = stderr.split_inclusive('\n').collect();
    assert_eq!(lines.len(), texts.len(), "stderr: {stderr:?}");
    for (line, want) in lines.iter().zip(texts) {
        let body = line.strip_suffix('\n').expect("newline-terminated");
        let (h, entity, p, text) =
            parse_error_line(body).unwrap_or_else(|| panic!("not an ERROR line: {body:?}"));
        assert_eq!(
            (h.as_str(), entity.as_str(), p, text.as_str()),
            (host, "cl_status", pid, *want),
            "{body:?}"
        );
    }
}

/// Replaces the timestamp, host and pid of every ERROR line with placeholders.
pub fn normalise_error_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|line| {
            let body = line.strip_suffix('\n').unwrap_or(line);
            match parse_error_line(body) {
                Some((_, entity, _, msg)) => format!(
                    "<TIME> <HOST> {entity}: [<PID>]: ERROR: {msg}{}",
                    if line.ends_with('\n') { "\n" } else { "" }
                ),
                None => line.to_string(),
            }
        })
        .collect()
}

/// The shared captures' directory, if present (see hb-testdata).
pub fn captures() -> Option<PathBuf> {
    hb_testdata::shared_dir().map(|d| d.join("interop/captures"))
}
