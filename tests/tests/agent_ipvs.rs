//! Tests of the ipvs resource agent (`resource-agents/ipvs`, docs/agents/ipvs.md) and of its
//! real-server health checker, `hb-check ipvs-watch`.
//!
//! **This machine's kernel has no IPVS** (no `ip_vs` module), so the real `ipvsadm` cannot
//! work here. Every test therefore puts the stand-in `tests/fixtures/ipvsadm` first on the
//! agent's `PATH`: it keeps the table in the file named by `IPVSADM_STANDIN_STATE` (one per
//! test) and prints ipvsadm's `-Ln` format and error messages. What is tested is the agent's
//! and the watcher's behaviour and the ipvsadm command lines they run, not the kernel's
//! forwarding.
//!
//! * `ocf_tester_passes`: Debian's `ocf-tester` against the agent (skips loudly without it);
//! * `tcp_check_in_a_lab_*` and `http_check_in_a_lab_*`: real servers 192.0.2.11 and .12 in
//!   a namespace lab (root needed; loud SKIP otherwise, failure under `CI=true`), the agent
//!   and its watcher running in the `client` namespace as the director; servers are stopped
//!   and restarted and the table, state file and log are awaited with deadlines;
//! * the rest run on 127.0.0.1 with listeners the test owns: idempotent start and stop, a dead
//!   watcher, `check=none`, the heartbeat (positional) form, parameter errors, the stand-in.
//!
//! `hb-check` must be built first (`cargo build --workspace --bins`); it is found like the
//! daemon (`HB_BIN_DIR`, else the cargo target directory). Every watcher a test starts is
//! killed when the test's environment is dropped, also when the test fails.
//! Run with `cargo test -p hb-nstests --test agent_ipvs`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use hb_nstests::cluster::ours_bin_dir;
use hb_nstests::{Lab, netns, repo_root, root_or_skip, skip_or_fail, wait_for, wait_for_some};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

const VIP: &str = "192.0.2.100:80";
const RS1: &str = "192.0.2.11:80";
const RS2: &str = "192.0.2.12:80";
const OCF_TESTER: &str = "/usr/sbin/ocf-tester";
/// Upper bound of one agent run (the agent's own waits are far shorter).
const AGENT_LIMIT: Duration = Duration::from_secs(60);
/// Upper bound for a watcher reaction (a few check intervals of 100 ms here).
const REACT: Duration = Duration::from_secs(15);

fn agent() -> PathBuf {
    repo_root().join("resource-agents").join("ipvs")
}

fn standin() -> PathBuf {
    repo_root().join("tests").join("fixtures").join("ipvsadm")
}

/// Our hb-check binary; a missing build is a failure, not a skip.
fn hb_check() -> PathBuf {
    let path = ours_bin_dir().join("hb-check");
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => path,
        _ => panic!(
            "{} not found: build it first (`cargo build --workspace --bins`) or set HB_BIN_DIR",
            path.display()
        ),
    }
}

// ----- running commands ----------------------------------------------------------------------

/// The outcome of one command run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn output(&self) -> String {
        format!("stdout:\n{}stderr:\n{}", self.stdout, self.stderr)
    }
}

/// Runs `cmd` (its own process group, stdin from /dev/null, stdout and stderr piped) to
/// completion within `limit`. Both pipes must reach end-of-file soon after the exit: an agent
/// whose background watcher kept them open would make every caller that reads its output
/// (heartbeat, ocf-tester's `$(...)`) hang, and fails here.
fn run_bounded(mut cmd: Command, limit: Duration) -> Result<Run> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn().with_context(|| format!("cannot run {cmd:?}"))?;
    let (tx, rx) = mpsc::channel::<(usize, Vec<u8>)>();
    let pipes: [(usize, Option<Box<dyn Read + Send>>); 2] = [
        (
            0,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            1,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ];
    for (which, pipe) in pipes {
        let tx = tx.clone();
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            let _ = tx.send((which, buf));
        });
    }
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            let _ = child.wait();
            bail!("{cmd:?} still running after {limit:?}; killed");
        }
        thread::sleep(Duration::from_millis(5));
    };
    let mut outs = [Vec::new(), Vec::new()];
    let eof_deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..2 {
        let left = eof_deadline.saturating_duration_since(Instant::now());
        let (which, buf) = rx.recv_timeout(left).map_err(|_| {
            anyhow!("{cmd:?} exited ({status}) but its stdout/stderr stayed open: a background process kept them")
        })?;
        outs[which] = buf;
    }
    Ok(Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&outs[0]).into_owned(),
        stderr: String::from_utf8_lossy(&outs[1]).into_owned(),
    })
}

/// Live `hb-check ipvs-watch` processes whose command line mentions `dir` (every file of a
/// test's watcher is in its own temporary directory).
fn watchers_in(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let zombie = std::fs::read_to_string(e.path().join("stat")).map_or(true, |s| {
            s.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        });
        if !zombie
            && args.iter().any(|a| a == "ipvs-watch")
            && args.iter().any(|a| a.contains(&needle))
        {
            pids.push(pid);
        }
    }
    pids
}

// ----- a test environment ------------------------------------------------------------------

/// One test's files: the stand-in's table, the agent's state directory and the watcher's
/// log, all in a temporary directory; `bin/` holds `ipvsadm` (the stand-in) and `hb-check`.
/// Dropping it kills every watcher that mentions the directory.
struct Env {
    dir: tempfile::TempDir,
    params: Vec<(String, String)>,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("hb-ipvs-")
            .tempdir()
            .expect("temporary directory");
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(standin(), bin.join("ipvsadm")).unwrap();
        std::os::unix::fs::symlink(hb_check(), bin.join("hb-check")).unwrap();
        let mut env = Env {
            dir,
            params: Vec::new(),
        };
        let state = env.state_dir();
        let log = env.log_path();
        env.set("state_dir", &state.to_string_lossy());
        env.set("logfile", &log.to_string_lossy());
        env
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn table_file(&self) -> PathBuf {
        self.path().join("ipvs.table")
    }

    fn state_dir(&self) -> PathBuf {
        self.path().join("run")
    }

    fn log_path(&self) -> PathBuf {
        self.path().join("ipvs.log")
    }

    fn pidfile(&self) -> PathBuf {
        self.state_dir().join("ipvs-tcp-192.0.2.100_80.pid")
    }

    fn statefile(&self) -> PathBuf {
        self.state_dir().join("ipvs-tcp-192.0.2.100_80.state")
    }

    fn search_path(&self) -> String {
        format!(
            "{}:/usr/sbin:/usr/bin:/sbin:/bin",
            self.path().join("bin").display()
        )
    }

    /// Sets (or replaces) an OCF parameter.
    fn set(&mut self, name: &str, value: &str) -> &mut Env {
        self.params.retain(|(n, _)| n != name);
        self.params.push((name.to_owned(), value.to_owned()));
        self
    }

    /// A clean environment like the daemon gives agents, plus the stand-in's table.
    fn base_command(&self, program: &Path, netns: Option<&str>) -> Command {
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(program);
                c
            }
            None => Command::new(program),
        };
        cmd.env_clear()
            .env("PATH", self.search_path())
            .env("LANG", "C")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .env("IPVSADM_STANDIN_STATE", self.table_file())
            .current_dir("/");
        cmd
    }

    /// `ipvs ACTION` in the OCF form with the parameters set.
    fn ocf(&self, action: &str, netns: Option<&str>) -> Run {
        let mut cmd = self.base_command(&agent(), netns);
        for (n, v) in &self.params {
            cmd.env(format!("OCF_RESKEY_{n}"), v);
        }
        cmd.arg(action);
        run_bounded(cmd, AGENT_LIMIT).unwrap_or_else(|e| panic!("ipvs {action}: {e:#}"))
    }

    /// `ipvs ARGS...` (the heartbeat form), with `extra_env` and no OCF parameters.
    fn positional(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Run {
        let mut cmd = self.base_command(&agent(), None);
        cmd.args(args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        run_bounded(cmd, AGENT_LIMIT).unwrap_or_else(|e| panic!("ipvs {args:?}: {e:#}"))
    }

    /// Runs the stand-in ipvsadm on this test's table.
    fn ipvsadm(&self, args: &[&str]) -> Run {
        let mut cmd = self.base_command(&standin(), None);
        cmd.args(args);
        run_bounded(cmd, AGENT_LIMIT).expect("stand-in ipvsadm")
    }

    /// The real servers of VIP in the table; `None` when the service does not exist.
    fn servers(&self) -> Option<Vec<String>> {
        let run = self.ipvsadm(&["-L", "-n", "-t", VIP]);
        if run.code == 1 && run.stderr.contains("No such service") {
            return None;
        }
        assert_eq!(run.code, 0, "{}", run.output());
        Some(
            run.stdout
                .lines()
                .filter_map(|l| l.strip_prefix("  -> "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|a| *a != "RemoteAddress:Port")
                .map(str::to_owned)
                .collect(),
        )
    }

    /// The watcher's state file: address -> "up" / "down" (empty when absent).
    fn health(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.statefile()).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (addr, state, since) = (f.next()?, f.next()?, f.next()?);
                assert_timestamp(since);
                Some((addr.to_owned(), state.to_owned()))
            })
            .collect()
    }

    fn watcher_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Waits until the table's servers of VIP are exactly `want` (in any order).
    fn await_servers(&self, want: &[&str]) {
        let mut want: Vec<String> = want.iter().map(|s| (*s).to_owned()).collect();
        want.sort();
        let mut last = None;
        let r = wait_for(
            &format!("real servers {want:?} in the table"),
            REACT,
            || {
                let mut got = self.servers().unwrap_or_default();
                got.sort();
                let done = got == want;
                last = Some(got);
                Ok(done)
            },
        );
        if let Err(e) = r {
            panic!("{e:#}; last seen {last:?}\nlog:\n{}", self.log_text());
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for pid in watchers_in(self.path()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

/// Asserts that `s` is a timestamp like `2026-11-24T13:45:01.123Z`.
fn assert_timestamp(s: &str) {
    let b = s.as_bytes();
    let shape_ok = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(shape_ok, "not a timestamp: {s:?}");
}

/// Reads the watcher's log in order: each wait finds the first complete line after the
/// previous match, so lines written together are never skipped.
struct LogCursor {
    path: PathBuf,
    next: usize,
}

impl LogCursor {
    fn new(env: &Env) -> LogCursor {
        LogCursor {
            path: env.log_path(),
            next: 0,
        }
    }

    /// Waits for a line containing every one of `parts`, checks that it starts with a
    /// timestamp and returns it.
    fn await_line(&mut self, parts: &[&str]) -> String {
        let found = wait_for_some(&format!("a log line with {parts:?}"), REACT, || {
            let text = std::fs::read_to_string(&self.path).unwrap_or_default();
            let hit = text
                .split_inclusive('\n')
                .enumerate()
                .skip(self.next)
                .filter(|(_, l)| l.ends_with('\n'))
                .find(|(_, l)| parts.iter().all(|p| l.contains(p)));
            Ok(hit.map(|(i, l)| (i, l.trim_end().to_owned())))
        });
        let ((i, line), _) = found.unwrap_or_else(|e| {
            let log = std::fs::read_to_string(&self.path).unwrap_or_default();
            panic!("{e:#}\nlog:\n{log}")
        });
        self.next = i + 1;
        assert_timestamp(line.split(' ').next().unwrap_or(""));
        line
    }
}

/// Fast check timings for the tests.
fn fast_checks(env: &mut Env) {
    env.set("connect_timeout", "2")
        .set("retries", "2")
        .set("delay_before_retry", "50ms")
        .set("check_interval", "100ms");
}

// ----- an HTTP server with a switchable status -----------------------------------------------

/// A tiny HTTP/1.0 server on 0.0.0.0:PORT inside a namespace, answering every request with
/// the current status code, and recording the request heads it received.
struct HttpServer {
    stop: Arc<AtomicBool>,
    status: Arc<AtomicU16>,
    requests: Arc<Mutex<Vec<String>>>,
    socket: Arc<TcpListener>,
    handle: Option<JoinHandle<()>>,
}

impl HttpServer {
    fn start(ns: &str, port: u16, status: u16) -> Result<HttpServer> {
        let stop = Arc::new(AtomicBool::new(false));
        let code = Arc::new(AtomicU16::new(status));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<Result<Arc<TcpListener>>>();
        let (t_stop, t_code, t_req, ns_name) = (
            Arc::clone(&stop),
            Arc::clone(&code),
            Arc::clone(&requests),
            ns.to_owned(),
        );
        let handle = thread::spawn(move || {
            let bound = netns::enter(&ns_name).and_then(|()| {
                TcpListener::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
                    .map(Arc::new)
                    .with_context(|| format!("bind 0.0.0.0:{port} in {ns_name}"))
            });
            let listener = match bound {
                Ok(l) => l,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let _ = tx.send(Ok(Arc::clone(&listener)));
            for conn in listener.incoming() {
                if t_stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut s) = conn else { continue };
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                t_req
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(String::from_utf8_lossy(&head).into_owned());
                let code = t_code.load(Ordering::SeqCst);
                let body = format!("status {code}\n");
                let _ = write!(
                    s,
                    "HTTP/1.0 {code} Test\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let socket = match rx.recv() {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                let _ = handle.join();
                return Err(e);
            }
            Err(_) => bail!("HTTP server thread died before binding"),
        };
        Ok(HttpServer {
            stop,
            status: code,
            requests,
            socket,
            handle: Some(handle),
        })
    }

    fn set_status(&self, code: u16) {
        self.status.store(code, Ordering::SeqCst);
    }

    fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Shutting the listening socket down wakes the blocked accept.
        let _ = socket2::SockRef::from(&*self.socket).shutdown(std::net::Shutdown::Both);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

// ----- tests -------------------------------------------------------------------------------

#[test]
fn ocf_tester_passes() {
    let test = "ocf_tester_passes";
    if !Path::new(OCF_TESTER).exists() {
        skip_or_fail(
            test,
            "ocf-tester is not installed (Debian package resource-agents)",
        );
        return;
    }
    let mut env = Env::new();
    // Real servers on closed loopback ports: the watcher runs and finds them gone.
    env.set("vip", VIP)
        .set("real_servers", "127.0.0.1:9,127.0.0.1:19:2")
        .set("forwarding", "nat")
        .set("scheduler", "rr");
    fast_checks(&mut env);
    let mut cmd = env.base_command(Path::new(OCF_TESTER), None);
    cmd.args(["-n", "ipvs_test"]);
    for (n, v) in &env.params {
        cmd.arg("-o").arg(format!("{n}={v}"));
    }
    cmd.arg(agent());
    let run = run_bounded(cmd, Duration::from_secs(180)).expect("ocf-tester");
    assert_eq!(run.code, 0, "ocf-tester failed:\n{}", run.output());
    assert!(run.stdout.contains("passed all tests"), "{}", run.output());
    // ocf-tester started and stopped the watcher twice, and left nothing behind.
    let log = env.log_text();
    assert!(
        log.matches("watching: TCP 192.0.2.100:80").count() >= 2,
        "{log}"
    );
    assert!(log.matches("stopping (SIGTERM)").count() >= 2, "{log}");
    assert_eq!(env.servers(), None, "the service is deleted");
    assert!(watchers_in(env.path()).is_empty(), "a watcher survived");
    assert!(!env.pidfile().exists() && !env.statefile().exists());
}

#[test]
fn tcp_check_in_a_lab_removes_and_readds_real_servers() {
    if !root_or_skip("tcp_check_in_a_lab_removes_and_readds_real_servers") {
        return;
    }
    let lab = Lab::new("ipvstcp").expect("lab");
    let director = lab.ns("client").unwrap().to_owned();
    lab.start_listener("node1", 80).unwrap();
    lab.start_listener("node2", 80).unwrap();
    let mut env = Env::new();
    env.set("vip", VIP)
        .set("scheduler", "rr")
        .set("forwarding", "dr")
        .set("real_servers", &format!("{RS1},{RS2}"))
        .set("check", "tcp");
    fast_checks(&mut env);
    let mut log = LogCursor::new(&env);

    let run = env.ocf("start", Some(&director));
    assert_eq!(run.code, 0, "{}", run.output());
    let listing = env.ipvsadm(&["-Ln"]).stdout;
    assert!(listing.contains("TCP  192.0.2.100:80 rr\n"), "{listing}");
    assert!(
        listing.contains("  -> 192.0.2.11:80                Route   1      0          0"),
        "{listing}"
    );
    assert!(
        listing.contains("  -> 192.0.2.12:80                Route   1"),
        "{listing}"
    );
    log.await_line(&["ipvs 192.0.2.100:80: watching:"]);
    assert_eq!(env.ocf("monitor", Some(&director)).code, 0);

    // node1's service stops: the watcher removes it after 2 failed checks and logs it.
    lab.stop_listener("node1", 80).unwrap();
    env.await_servers(&[RS2]);
    let gone = log.await_line(&["real server 192.0.2.11:80 gone (connect refused after 2 tries)"]);
    assert!(gone.contains(" ipvs 192.0.2.100:80: real server"), "{gone}");
    assert_eq!(env.health().get(RS1).map(String::as_str), Some("down"));
    assert_eq!(env.health().get(RS2).map(String::as_str), Some("up"));
    // A failed real server does not fail the resource.
    let mon = env.ocf("monitor", Some(&director));
    assert_eq!(mon.code, 0, "{}", mon.output());
    assert!(
        mon.stderr.contains("real servers down: 192.0.2.11:80"),
        "{}",
        mon.output()
    );

    // It comes back: added again and logged.
    lab.start_listener("node1", 80).unwrap();
    env.await_servers(&[RS1, RS2]);
    log.await_line(&["real server 192.0.2.11:80 back"]);
    wait_for("192.0.2.11 up in the state file", REACT, || {
        Ok(env.health().get(RS1).map(String::as_str) == Some("up"))
    })
    .unwrap();

    // Everything stops: the last removal is logged as an ERROR.
    lab.stop_listener("node1", 80).unwrap();
    lab.stop_listener("node2", 80).unwrap();
    env.await_servers(&[]);
    let error = log.await_line(&["ERROR: no real server left"]);
    assert!(error.contains("was removed"), "{error}");
    assert!(error.contains("answers no client"), "{error}");
    assert_eq!(env.servers(), Some(vec![]), "the service itself stays");
    assert_eq!(env.ocf("monitor", Some(&director)).code, 0);

    // One comes back: the service has a real server again.
    lab.start_listener("node2", 80).unwrap();
    env.await_servers(&[RS2]);
    log.await_line(&["real server 192.0.2.12:80 back"]);
    log.await_line(&["has a real server again"]);

    let pid = env.watcher_pid().expect("pid file");
    let run = env.ocf("stop", Some(&director));
    assert_eq!(run.code, 0, "{}", run.output());
    assert_eq!(env.servers(), None, "stop deletes the service");
    assert!(
        watchers_in(env.path()).is_empty(),
        "watcher {pid} survived stop"
    );
    log.await_line(&["stopping (SIGTERM)"]);
    assert_eq!(env.ocf("monitor", Some(&director)).code, 7);
}

#[test]
fn http_check_in_a_lab_with_expected_code_and_last_server_kept() {
    if !root_or_skip("http_check_in_a_lab_with_expected_code_and_last_server_kept") {
        return;
    }
    let lab = Lab::new("ipvshttp").expect("lab");
    let director = lab.ns("client").unwrap().to_owned();
    let web1 = HttpServer::start(lab.ns("node1").unwrap(), 80, 200).unwrap();
    let web2 = HttpServer::start(lab.ns("node2").unwrap(), 80, 200).unwrap();
    let mut env = Env::new();
    env.set("vip", VIP)
        .set("scheduler", "wrr")
        .set("real_servers", &format!("{RS1}:3,{RS2}"))
        .set("check", "http")
        .set("check_url_path", "/health")
        .set("check_expect", "200")
        .set("last_server", "keep");
    fast_checks(&mut env);
    let mut log = LogCursor::new(&env);

    let run = env.ocf("start", Some(&director));
    assert_eq!(run.code, 0, "{}", run.output());
    let listing = env.ipvsadm(&["-Ln"]).stdout;
    assert!(listing.contains("TCP  192.0.2.100:80 wrr\n"), "{listing}");
    assert!(
        listing.contains("  -> 192.0.2.11:80                Route   3"),
        "{listing}"
    );
    log.await_line(&["HTTP GET /health expecting 200"]);
    wait_for("a health request on node1", REACT, || {
        Ok(!web1.requests().is_empty())
    })
    .unwrap();
    let req = web1.requests()[0].clone();
    assert!(req.starts_with("GET /health HTTP/1.0\r\n"), "{req}");
    assert!(req.contains("\r\nHost: 192.0.2.11\r\n"), "{req}");

    // node2 answers 503: the status differs from the expected code.
    web2.set_status(503);
    env.await_servers(&[RS1]);
    log.await_line(&[
        "real server 192.0.2.12:80 gone (HTTP status 503, expected 200 after 2 tries)",
    ]);
    web2.set_status(200);
    env.await_servers(&[RS1, RS2]);
    log.await_line(&["real server 192.0.2.12:80 back"]);

    // Both fail: with last_server=keep the last one to fail stays, loudly.
    web1.set_status(500);
    web2.set_status(500);
    let error = log.await_line(&["ERROR: no real server left", "keeping the last one"]);
    let kept = if error.contains(RS1) { RS1 } else { RS2 };
    env.await_servers(&[kept]);
    wait_for("both down in the state file", REACT, || {
        Ok(env.health().values().all(|h| h == "down") && env.health().len() == 2)
    })
    .unwrap();
    assert_eq!(env.ocf("monitor", Some(&director)).code, 0);

    // node1 recovers: it is the only server again (the kept, failing one goes).
    web1.set_status(200);
    env.await_servers(&[RS1]);
    log.await_line(&["real server 192.0.2.11:80 back"]);
    let weights = env.ipvsadm(&["-Ln"]).stdout;
    assert!(
        weights.contains("  -> 192.0.2.11:80                Route   3"),
        "{weights}"
    );

    assert_eq!(env.ocf("stop", Some(&director)).code, 0);
    assert_eq!(env.servers(), None);
    assert!(watchers_in(env.path()).is_empty());
}

/// A TCP listener on 127.0.0.1 (any free port): a real server that is up.
fn loopback_server() -> (TcpListener, String) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = l.local_addr().unwrap().to_string();
    (l, addr)
}

#[test]
fn start_and_stop_are_idempotent_and_a_dead_watcher_fails_monitor() {
    let (_server, rs) = loopback_server();
    let mut env = Env::new();
    env.set("vip", VIP)
        .set("forwarding", "nat")
        .set("real_servers", &rs);
    fast_checks(&mut env);

    assert_eq!(env.ocf("monitor", None).code, 7);
    let first = env.ocf("start", None);
    assert_eq!(first.code, 0, "{}", first.output());
    let pid = env.watcher_pid().expect("pid file after start");
    assert_eq!(watchers_in(env.path()), vec![pid]);
    assert_eq!(env.servers(), Some(vec![rs.clone()]));
    assert_eq!(env.health().get(&rs).map(String::as_str), Some("up"));

    let again = env.ocf("start", None);
    assert_eq!(again.code, 0, "{}", again.output());
    assert!(
        again.stderr.contains("already running"),
        "{}",
        again.output()
    );
    assert_eq!(
        watchers_in(env.path()),
        vec![pid],
        "a second watcher was started"
    );
    assert_eq!(env.ocf("monitor", None).code, 0);

    // The watcher dies: monitor fails (1), status says so without "running".
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    wait_for("the killed watcher to go", REACT, || {
        Ok(watchers_in(env.path()).is_empty())
    })
    .unwrap();
    let mon = env.ocf("monitor", None);
    assert_eq!(mon.code, 1, "{}", mon.output());
    let status = env.ocf("status", None);
    assert_eq!(status.code, 1);
    assert!(
        status.stdout.starts_with("failed:") && !status.stdout.contains("running"),
        "{}",
        status.output()
    );

    // start recovers: a new watcher, the table untouched.
    let restart = env.ocf("start", None);
    assert_eq!(restart.code, 0, "{}", restart.output());
    let new_pid = env.watcher_pid().expect("pid file");
    assert_ne!(new_pid, pid);
    assert_eq!(env.ocf("monitor", None).code, 0);

    for round in 0..2 {
        let stop = env.ocf("stop", None);
        assert_eq!(stop.code, 0, "stop #{round}: {}", stop.output());
        assert_eq!(env.servers(), None);
        assert!(watchers_in(env.path()).is_empty());
        assert!(!env.pidfile().exists() && !env.statefile().exists());
        assert_eq!(env.ocf("monitor", None).code, 7);
    }
    let status = env.ocf("status", None);
    assert_eq!((status.code, status.stdout.as_str()), (7, "stopped\n"));
}

#[test]
fn start_converges_a_table_left_by_another_configuration() {
    let (_s1, rs1) = loopback_server();
    let (_s2, rs2) = loopback_server();
    let mut env = Env::new();
    env.set("vip", VIP)
        .set("forwarding", "nat")
        .set("real_servers", &format!("{rs1},{rs2}"));
    fast_checks(&mut env);
    // Leftovers: a service with another scheduler, a stale server and rs1 with weight 7.
    for args in [
        vec!["-A", "-t", VIP, "-s", "lc"],
        vec!["-a", "-t", VIP, "-r", "127.0.0.9:99", "-m"],
        vec!["-a", "-t", VIP, "-r", &rs1, "-m", "-w", "7"],
    ] {
        assert_eq!(env.ipvsadm(&args).code, 0);
    }
    let run = env.ocf("start", None);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        run.stderr.contains("removing real server 127.0.0.9:99"),
        "{}",
        run.output()
    );
    let listing = env.ipvsadm(&["-Ln"]).stdout;
    assert!(listing.contains("TCP  192.0.2.100:80 wlc\n"), "{listing}");
    assert!(
        listing.contains(&format!("  -> {rs1:<28} Masq    1 ")),
        "{listing}"
    );
    let mut got = env.servers().unwrap();
    got.sort();
    let mut want = vec![rs1, rs2];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(env.ocf("stop", None).code, 0);
}

#[test]
fn check_none_runs_no_watcher() {
    let mut env = Env::new();
    env.set("vip", VIP)
        .set("real_servers", "192.0.2.11:80,192.0.2.12:80")
        .set("check", "none")
        .set("persistence", "600");
    let run = env.ocf("start", None);
    assert_eq!(run.code, 0, "{}", run.output());
    assert!(
        env.ipvsadm(&["-Ln"])
            .stdout
            .contains("TCP  192.0.2.100:80 wlc persistent 600\n")
    );
    assert!(!env.pidfile().exists());
    assert!(watchers_in(env.path()).is_empty());
    assert_eq!(env.ocf("monitor", None).code, 0);
    assert_eq!(env.ocf("start", None).code, 0);
    assert_eq!(env.ocf("stop", None).code, 0);
    assert_eq!(env.ocf("monitor", None).code, 7);
}

#[test]
fn heartbeat_positional_form() {
    let (_server, rs) = loopback_server();
    let env = Env::new();
    let rsctmp = env.path().join("rsctmp");
    let log = format!("logfile={}", env.log_path().display());
    let list = format!("{rs}:2,127.0.0.1:9");
    // haresources: ipvs::192.0.2.100:80::rr::nat::RS-LIST::check_interval=100ms::...
    let args = |action: &'static str| -> Vec<String> {
        vec![
            VIP.into(),
            "rr".into(),
            "nat".into(),
            list.clone(),
            "check_interval=100ms".into(),
            "retries=1".into(),
            log.clone(),
            action.into(),
        ]
    };
    let rsctmp_s = rsctmp.to_string_lossy().into_owned();
    let env_vars = [("HA_RSCTMP", rsctmp_s.as_str())];
    let call = |action: &'static str| {
        let a = args(action);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        env.positional(&refs, &env_vars)
    };

    let status = call("status");
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (7, "stopped\n"),
        "{}",
        status.output()
    );
    let start = call("start");
    assert_eq!(start.code, 0, "{}", start.output());
    let listing = env.ipvsadm(&["-Ln"]).stdout;
    assert!(listing.contains("TCP  192.0.2.100:80 rr\n"), "{listing}");
    // (127.0.0.1:9 may already be gone: the watcher's first check runs at once.)
    assert!(
        listing.contains(&format!("  -> {rs:<28} Masq    2 ")),
        "{listing}"
    );
    // State files in HA_RSCTMP, as heartbeat-rs's daemon sets it.
    assert!(rsctmp.join("ipvs-tcp-192.0.2.100_80.pid").exists());
    let status = call("status");
    assert_eq!(
        (status.code, status.stdout.as_str()),
        (0, "running\n"),
        "{}",
        status.output()
    );
    // The closed port is gone after one failed check (retries=1); the open one stays.
    env.await_servers(&[rs.as_str()]);
    assert!(
        env.log_text()
            .contains("real server 127.0.0.1:9 gone (connect refused after 1 try)")
    );
    assert_eq!(call("stop").code, 0);
    assert_eq!(call("stop").code, 0);
    assert_eq!(call("status").stdout, "stopped\n");
    assert!(watchers_in(env.path()).is_empty());
}

#[test]
fn bad_parameters_and_missing_helpers_have_ocf_codes() {
    let env = Env::new();
    let pos = |args: &[&str]| env.positional(args, &[]);
    let code_and = |r: &Run, text: &str| {
        assert!(
            r.stderr.contains(text),
            "expected {text:?} in:\n{}",
            r.output()
        );
        r.code
    };
    let r = pos(&[VIP, "foo", "dr", RS1, "validate-all"]);
    assert_eq!(
        code_and(&r, "scheduler 'foo' is not one of rr, wrr, lc, wlc, sh"),
        6
    );
    let r = pos(&[VIP, "rr", "fullnat", RS1, "start"]);
    assert_eq!(code_and(&r, "forwarding 'fullnat'"), 6);
    // dr needs the virtual port on the real servers (hb-check knows the exact rules).
    let r = pos(&[VIP, "rr", "dr", "192.0.2.11:8080", "validate-all"]);
    assert_eq!(code_and(&r, "should be port 80"), 6);
    let r = pos(&[VIP, "rr", "nat", "300.1.1.1:80", "validate-all"]);
    assert_eq!(code_and(&r, "300.1.1.1"), 6);
    let r = pos(&[VIP, "rr", "dr", RS1, "colour=blue", "start"]);
    assert_eq!(code_and(&r, "unknown parameter 'colour'"), 6);
    let r = pos(&[VIP, "rr", "dr", RS1, "retries=0", "validate-all"]);
    assert_eq!(code_and(&r, "retries '0'"), 6);
    let r = pos(&["192.0.2.100", "rr", "dr", RS1, "validate-all"]);
    assert_eq!(code_and(&r, "is not VIP:PORT"), 6);
    let r = pos(&[VIP, "rr", "start"]);
    assert_eq!(
        code_and(&r, "expected VIP:PORT SCHEDULER FORWARDING RS-LIST"),
        2
    );
    let r = pos(&[]);
    assert_eq!(r.code, 2);
    let r = pos(&[VIP, "rr", "dr", RS1, "promote"]);
    assert_eq!(code_and(&r, "unknown action 'promote'"), 3);
    let r = pos(&[VIP, "rr", "dr", RS1, "validate-all"]);
    assert_eq!(r.code, 0, "{}", r.output());

    // Helpers missing: 5 (not installed) from validate-all and start.
    let r = env.positional(
        &[VIP, "rr", "dr", RS1, "validate-all"],
        &[("HB_CHECK", "/nonexistent/hb-check")],
    );
    assert_eq!(code_and(&r, "/nonexistent/hb-check"), 5);
    let mut cmd = Command::new(agent());
    cmd.env_clear()
        .env("PATH", "/nonexistent")
        .args([VIP, "rr", "dr", RS1, "start"]);
    let r = run_bounded(cmd, AGENT_LIMIT).unwrap();
    assert_eq!(code_and(&r, "ipvsadm not found"), 5);
    // Without ipvsadm nothing can be running: monitor says stopped, stop succeeds.
    let mut cmd = Command::new(agent());
    cmd.env_clear()
        .env("PATH", "/nonexistent")
        .args([VIP, "rr", "dr", RS1, "monitor"]);
    assert_eq!(run_bounded(cmd, AGENT_LIMIT).unwrap().code, 7);

    // meta-data needs no parameters and is valid XML naming every parameter.
    let meta = env.positional(&["meta-data"], &[]);
    assert_eq!(meta.code, 0);
    for p in [
        "vip",
        "protocol",
        "scheduler",
        "forwarding",
        "real_servers",
        "persistence",
        "check",
        "check_url_path",
        "check_expect",
        "check_virtualhost",
        "check_port",
        "connect_timeout",
        "retries",
        "delay_before_retry",
        "check_interval",
        "last_server",
        "state_dir",
        "logfile",
    ] {
        assert!(
            meta.stdout.contains(&format!("<parameter name=\"{p}\"")),
            "{p}"
        );
    }
    assert!(
        meta.stdout
            .contains("<action name=\"monitor\" timeout=\"20s\" interval=\"10s\"")
    );
}

#[test]
fn standin_ipvsadm_prints_ipvsadm_format_and_errors() {
    let env = Env::new();
    let ok = |args: &[&str]| {
        let r = env.ipvsadm(args);
        assert_eq!(r.code, 0, "{args:?}: {}", r.output());
    };
    let err = |args: &[&str], code: i32, msg: &str| {
        let r = env.ipvsadm(args);
        assert_eq!((r.code, r.stderr.trim()), (code, msg), "{args:?}");
    };
    ok(&["-A", "-t", VIP, "-s", "rr"]);
    err(
        &["-A", "-t", VIP, "-s", "rr"],
        255,
        "Service already exists",
    );
    ok(&["-a", "-t", VIP, "-r", RS2, "-g", "-w", "1"]);
    ok(&["-a", "-t", VIP, "-r", RS1, "-g"]);
    err(
        &["-a", "-t", VIP, "-r", RS1, "-g"],
        255,
        "Destination already exists",
    );
    // Direct routing uses the virtual port, as in ipvsadm.
    ok(&["-a", "-t", VIP, "-r", "192.0.2.13:8080", "-g"]);
    err(
        &["-d", "-t", VIP, "-r", "192.0.2.99:80"],
        255,
        "No such destination",
    );
    err(
        &["-d", "-t", "192.0.2.100:81", "-r", RS1],
        255,
        "Service not defined",
    );
    err(&["-D", "-t", "192.0.2.100:81"], 255, "No such service");
    err(&["-L", "-n", "-t", "192.0.2.100:81"], 1, "No such service");
    err(
        &["-a", "-t", VIP],
        2,
        "You need to supply the 'real-server' option for the 'add-server' command",
    );
    err(
        &["-a", "-t", VIP, "-r", "300.0.2.1:80"],
        2,
        "illegal real server address[:port] specified",
    );
    err(
        &["-A", "-t", "192.0.2.101:80", "-s", "nosuch"],
        255,
        "Scheduler not found",
    );
    ok(&["-A", "-u", "192.0.2.100:53", "-p", "120"]);
    ok(&[
        "-a",
        "-u",
        "192.0.2.100:53",
        "-r",
        "192.0.2.11:5353",
        "-m",
        "-w",
        "2",
    ]);
    let run = env.ipvsadm(&["-Ln"]);
    assert_eq!(
        run.stdout,
        "IP Virtual Server version 1.2.1 (size=4096)\n\
         Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  192.0.2.100:80 rr\n  \
         -> 192.0.2.11:80                Route   1      0          0         \n  \
         -> 192.0.2.12:80                Route   1      0          0         \n  \
         -> 192.0.2.13:80                Route   1      0          0         \n\
         UDP  192.0.2.100:53 wlc persistent 120\n  \
         -> 192.0.2.11:5353              Masq    2      0          0         \n"
    );
    ok(&["-e", "-t", VIP, "-r", RS1, "-w", "5"]);
    ok(&["-d", "-t", VIP, "-r", "192.0.2.13:80"]);
    ok(&["-D", "-u", "192.0.2.100:53"]);
    let run = env.ipvsadm(&["-L", "-n", "-t", VIP]);
    assert_eq!(
        run.stdout,
        "Prot LocalAddress:Port Scheduler Flags\n  \
         -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
         TCP  192.0.2.100:80 rr\n  \
         -> 192.0.2.11:80                Route   5      0          0         \n  \
         -> 192.0.2.12:80                Route   1      0          0         \n"
    );
    ok(&["-C"]);
    assert_eq!(env.servers(), None);
    // Without its state file variable the stand-in refuses to run.
    let mut cmd = Command::new(standin());
    cmd.env_clear().arg("-Ln");
    let r = run_bounded(cmd, AGENT_LIMIT).unwrap();
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("IPVSADM_STANDIN_STATE"), "{}", r.output());
}
