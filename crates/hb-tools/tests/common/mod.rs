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

use hb_control::{
    Counters, Group, GroupState, Link, LinkStatus, Node, NodeStatus, NodeType, Request, Resource,
    ResourceClass, ResourceState, Response, RscStatus, Status, decode_request, encode_request,
};

/// What the fake daemon does with one request.
pub(crate) enum Reply {
    /// Send this reply as one line.
    Json(Response),
    /// Send these bytes as they are (a newline is not added): replies the daemon would never
    /// send, or an older daemon's.
    Raw(Vec<u8>),
    /// Keep the connection open and never answer.
    Silent,
}

type Responder = Box<dyn FnMut(&Request, usize) -> Reply + Send>;

/// A daemon stand-in answering on `<run_dir>/heartbeat.sock`, recording every request line.
pub(crate) struct FakeDaemon {
    dir: tempfile::TempDir,
    lines: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeDaemon {
    /// Starts a daemon whose replies come from `respond(request, index)` (`index` counts
    /// the requests, from 0). A request line that does not decode is refused (and makes
    /// [`FakeDaemon::requests`] fail).
    pub(crate) fn start(
        respond: impl FnMut(&Request, usize) -> Reply + Send + 'static,
    ) -> FakeDaemon {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(hb_control::socket_path(dir.path())).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let lines = Arc::clone(&lines);
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
                    let index = {
                        let mut l = lines.lock().unwrap();
                        l.push(line.clone());
                        l.len() - 1
                    };
                    let reply = match decode_request(&line) {
                        Ok(request) => respond(&request, index),
                        Err(e) => Reply::Json(Response::Refused(e.to_string())),
                    };
                    let mut stream = stream;
                    match reply {
                        Reply::Json(r) => {
                            let _ = stream.write_all(r.encode().unwrap().as_bytes());
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
            lines,
            stop,
            thread: Some(thread),
        }
    }

    /// A daemon answering `status` with `status` and every other command with `ok`.
    pub(crate) fn with_status(status: Status) -> FakeDaemon {
        FakeDaemon::start(move |req, _| {
            if *req == Request::Status {
                Reply::Json(Response::Status(Box::new(status.clone())))
            } else {
                Reply::Json(Response::Done)
            }
        })
    }

    /// A daemon answering `status` with this hand-written JSON object (an older daemon's
    /// reply, say) and every other command with `ok`.
    pub(crate) fn with_json(status: serde_json::Value) -> FakeDaemon {
        FakeDaemon::start(move |req, _| {
            if *req == Request::Status {
                Reply::Raw(format!("{status}\n").into_bytes())
            } else {
                Reply::Json(Response::Done)
            }
        })
    }

    /// The run directory to pass with `--run-dir`.
    pub(crate) fn run_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The request lines received so far, as sent.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The requests received so far. Every line must be a valid request, exactly as
    /// hb-control encodes it (no extra or `null` fields).
    pub(crate) fn requests(&self) -> Vec<Request> {
        self.lines()
            .iter()
            .map(|l| {
                let r = decode_request(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
                assert_eq!(&encode_request(&r).unwrap(), l, "not the canonical line");
                r
            })
            .collect()
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag; if the socket is gone (a test moved
        // it), the thread cannot be woken and is left to end with the process.
        if UnixStream::connect(hb_control::socket_path(self.dir.path())).is_ok()
            && let Some(t) = self.thread.take()
        {
            let _ = t.join();
        }
    }
}

/// A run directory with no daemon.
pub(crate) fn no_daemon() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The version string of the captured Heartbeat.
pub(crate) const HB_VERSION: &str = "3.0.6 (node: 958e11be8686759f1b99204c17812f2c2633b169)";

/// The status node1 of the captured cluster reports (ha.cf: `node node1`, `node node2`,
/// `bcast eth0`, keepalive 1, deadtime 4, warntime 2, initdead 8, auto_failback on).
pub(crate) fn cluster_status(node2_up: bool, rscstatus: RscStatus) -> Status {
    let (n2, l2) = if node2_up {
        (NodeStatus::Active, LinkStatus::Up)
    } else {
        (NodeStatus::Dead, LinkStatus::Dead)
    };
    let parameters = [
        ("keepalive", "1"),
        ("deadtime", "4"),
        ("warntime", "2"),
        ("initdead", "8"),
        ("udpport", "694"),
        ("hopfudge", "1"),
        ("auto_failback", "on"),
        ("msgfmt", "classic"),
        ("baud", "19200"),
        ("debug", "0"),
        ("crm", "no"),
        ("pacemaker", "no"),
        ("hbversion", HB_VERSION),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let node = |name: &str, status: NodeStatus, link: LinkStatus, me: bool, since: f64| Node {
        name: name.into(),
        status,
        node_type: NodeType::Normal,
        weight: 100,
        site: String::new(),
        is_self: me,
        heartbeat_rs: me,
        since: Some(since),
        links: vec![Link {
            name: "eth0".into(),
            up: link == LinkStatus::Up,
            status: link,
        }],
    };
    let group = |ip: &str, preferred: &str, state: GroupState, holder: &str, since: f64| {
        let resource_state = if state == GroupState::Running {
            ResourceState::Running
        } else {
            ResourceState::Stopped
        };
        Group {
            key: ip.into(),
            preferred: preferred.into(),
            state,
            holder: Some(holder.into()),
            failed_here: false,
            managed: true,
            since: Some(since),
            failure: None,
            resources: vec![Resource {
                text: format!("IPaddr2::{ip}/24/eth0"),
                agent: Some("IPaddr2".into()),
                class: Some(ResourceClass::Heartbeat),
                state: resource_state,
                monitor_interval_ms: 0,
                failures: 0,
                restarts: 0,
                monitors: 0,
                last_failure: None,
                last_failure_reason: None,
            }],
        }
    };
    let (state2, holder2) = if node2_up {
        (GroupState::Stopped, "node2")
    } else {
        (GroupState::Running, "node1")
    };
    Status {
        node: Some("node1".into()),
        hbversion: Some(HB_VERSION.into()),
        managed_by: "haresources".into(),
        rscstatus: Some(rscstatus),
        shutting_down: false,
        isolated: false,
        fencing: None,
        awaiting_fence: false,
        now: Some(1795527935.5),
        parameters,
        nodes: vec![
            node(
                "node1",
                NodeStatus::Active,
                LinkStatus::Up,
                true,
                1795527900.25,
            ),
            node("node2", n2, l2, false, 1795527910.0),
        ],
        groups: vec![
            group(
                "192.0.2.100",
                "node1",
                GroupState::Running,
                "node1",
                1795527902.0,
            ),
            group("192.0.2.101", "node2", state2, holder2, 1795527920.0),
        ],
        counters: Counters {
            accepted: 10,
            ..Counters::default()
        },
    }
}

/// A finished run of a binary.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) pid: u32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) code: i32,
}

/// Runs `bin` with `args` (no `HB_RUN_DIR` in its environment unless `env` sets it).
pub(crate) fn run_env(bin: &str, args: &[&str], env: &[(&str, &Path)]) -> Run {
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
pub(crate) fn run_in(bin: &str, dir: &Path, args: &[&str]) -> Run {
    let dir = dir.to_str().unwrap();
    let mut all = vec!["--run-dir", dir];
    all.extend_from_slice(args);
    run_env(bin, &all, &[])
}

/// The machine's host name, as the tools read it.
pub(crate) fn hostname() -> String {
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
pub(crate) fn parse_error_line(line: &str) -> Option<(String, String, u32, String)> {
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
pub(crate) fn assert_error_lines(stderr: &str, pid: u32, host: &str, texts: &[&str]) {
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
pub(crate) fn normalise_error_lines(text: &str) -> String {
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
pub(crate) fn captures() -> Option<PathBuf> {
    hb_testdata::shared_dir().map(|d| d.join("interop/captures"))
}
