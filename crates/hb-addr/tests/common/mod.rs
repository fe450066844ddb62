//! Shared helpers of the hb-addr integration tests: private network namespaces torn down by
//! Drop guards, running the real IPaddr agent and hb-addr inside them, and an ARP capture
//! in the peer namespace.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The hb-addr binary built for this test run.
pub fn hb_addr_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hb-addr"))
}

/// The directory holding hb-addr: the only PATH entry the agent gets, so any other external
/// command on its start/stop path would fail.
pub fn bin_dir() -> PathBuf {
    hb_addr_bin()
        .parent()
        .expect("binary has a directory")
        .to_path_buf()
}

/// `resource-agents/<name>` of this repository.
pub fn agent_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../resource-agents")
        .join(name)
}

/// True when the test may run; otherwise prints a loud SKIP notice. Under `CI=true` not being
/// root is a failure.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: network namespace tests need root, and CI=true does not allow skipping");
    }
    // Written to the stderr handle directly: the test harness captures eprintln! output of
    // passing tests, and this notice must be seen.
    let notice = format!(
        "\n*** SKIP {test}: not root; network namespace tests need root (CI=true makes this a failure)\n"
    );
    let _ = std::io::stderr().write_all(notice.as_bytes());
    false
}

fn check(output: Output, what: &str) -> Output {
    assert!(
        output.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// A network namespace of our own, deleted on drop (also when the test panics).
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Self {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "hbaddr-{}-{tag}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let out = Command::new("ip")
            .args(["netns", "add", &name])
            .output()
            .expect("run ip netns add");
        check(out, &format!("ip netns add {name}"));
        Self { name }
    }

    /// `ip -n NAME ARGS`, which must succeed; returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("run ip");
        let out = check(out, &format!("ip -n {} {}", self.name, args.join(" ")));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `program args` inside the namespace with `ip netns exec`, in a clean environment
    /// holding only PATH=<hb-addr's directory> and `env`.
    pub fn exec(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.exec_via(&[], program, args, env)
    }

    /// Like [`Netns::exec`], with `wrapper` (e.g. a `setpriv ...` command line) in front.
    pub fn exec_via(
        &self,
        wrapper: &[&str],
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Run {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.name]);
        cmd.args(wrapper);
        cmd.args(["/usr/bin/env", "-i"]);
        cmd.arg(format!("PATH={}", bin_dir().display()));
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.arg(program).args(args);
        let started = Instant::now();
        let out = cmd.output().expect("run ip netns exec");
        Run::new(out, started.elapsed())
    }

    /// The `link/ether` address of `dev`.
    pub fn mac(&self, dev: &str) -> [u8; 6] {
        let text = self.ip(&["-o", "link", "show", "dev", dev]);
        let hex = text
            .split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_else(|| panic!("no MAC in {text}"));
        let bytes: Vec<u8> = hex
            .split(':')
            .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
            .collect();
        bytes.try_into().expect("6 bytes")
    }

    /// The `inet` lines of `ip -4 -o addr show dev DEV`.
    pub fn inet_lines(&self, dev: &str) -> Vec<String> {
        self.ip(&["-4", "-o", "addr", "show", "dev", dev])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The `inet` line for `ip` (any prefix) on `dev`, if any.
    pub fn inet_line(&self, dev: &str, ip: &str) -> Option<String> {
        let needle = format!(" inet {ip}/");
        let mut found = self
            .inet_lines(dev)
            .into_iter()
            .filter(|l| l.contains(&needle));
        let line = found.next();
        assert!(found.next().is_none(), "{ip} configured twice on {dev}");
        line
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// The result of one command.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    fn new(out: Output, elapsed: Duration) -> Self {
        Self {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            elapsed,
        }
    }

    /// Asserts the exit code and returns self.
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts exit code `code` and exactly one stderr line equal to `line`.
    #[track_caller]
    pub fn expect_error(self, code: i32, line: &str) -> Self {
        let run = self.expect_code(code);
        assert_eq!(
            run.stderr,
            format!("{line}\n"),
            "stderr is not the one expected line"
        );
        run
    }
}

/// Two namespaces joined by a veth pair: `node` (eth0, 192.0.2.1/24) and `peer` (peer0,
/// 192.0.2.2/24). The agent runs in `node`.
#[derive(Debug)]
pub struct Lab {
    // Field order = drop order: nothing depends on it, both are deleted.
    pub node: Netns,
    pub peer: Netns,
}

impl Lab {
    pub fn new(tag: &str) -> Self {
        let node = Netns::new(&format!("{tag}-n"));
        let peer = Netns::new(&format!("{tag}-p"));
        let lab = Self { node, peer };
        lab.node.ip(&[
            "link",
            "add",
            "eth0",
            "type",
            "veth",
            "peer",
            "name",
            "peer0",
            "netns",
            &lab.peer.name,
        ]);
        for (ns, dev, addr) in [
            (&lab.node, "eth0", "192.0.2.1/24"),
            (&lab.peer, "peer0", "192.0.2.2/24"),
        ] {
            ns.ip(&["link", "set", "lo", "up"]);
            ns.ip(&["link", "set", dev, "up"]);
            ns.ip(&["addr", "add", addr, "dev", dev]);
        }
        lab
    }

    /// Adds a second pair: node eth1 198.51.100.1/24 <-> peer peer1 198.51.100.2/24.
    pub fn add_second_link(&self) {
        self.node.ip(&[
            "link",
            "add",
            "eth1",
            "type",
            "veth",
            "peer",
            "name",
            "peer1",
            "netns",
            &self.peer.name,
        ]);
        self.node.ip(&["link", "set", "eth1", "up"]);
        self.node
            .ip(&["addr", "add", "198.51.100.1/24", "dev", "eth1"]);
        self.peer.ip(&["link", "set", "peer1", "up"]);
        self.peer
            .ip(&["addr", "add", "198.51.100.2/24", "dev", "peer1"]);
    }

    /// `resource-agents/IPaddr ARGS` in the node namespace.
    pub fn agent(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.node.exec(&agent_path("IPaddr"), args, env)
    }

    /// `hb-addr ARGS` in the node namespace.
    pub fn hb_addr(&self, args: &[&str]) -> Run {
        self.node.exec(&hb_addr_bin(), args, &[])
    }
}

/// A decoded ARP frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpFrame {
    pub at: Instant,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub op: u16,
    pub sha: [u8; 6],
    pub spa: Ipv4Addr,
    pub tha: [u8; 6],
    pub tpa: Ipv4Addr,
}

impl ArpFrame {
    fn parse(at: Instant, b: &[u8]) -> Option<Self> {
        if b.len() < 42
            || b[12..14] != [0x08, 0x06]
            || b[14..22] != [0, 1, 8, 0, 6, 4, b[20], b[21]]
        {
            return None;
        }
        let mac = |r: std::ops::Range<usize>| <[u8; 6]>::try_from(&b[r]).ok();
        let ip = |i: usize| Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]);
        Some(Self {
            at,
            eth_dst: mac(0..6)?,
            eth_src: mac(6..12)?,
            op: u16::from_be_bytes([b[20], b[21]]),
            sha: mac(22..28)?,
            spa: ip(28),
            tha: mac(32..38)?,
            tpa: ip(38),
        })
    }
}

/// Receives ARP frames announcing one address, in a namespace, on a background thread.
#[derive(Debug)]
pub struct ArpCapture {
    rx: mpsc::Receiver<ArpFrame>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ArpCapture {
    /// Starts capturing in `ns` ARP frames whose sender IP is `ip`; returns once the socket is
    /// open, so nothing sent afterwards is missed.
    pub fn start(ns: &Netns, ip: Ipv4Addr) -> Self {
        let path = format!("/run/netns/{}", ns.name);
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let socket = match open_capture(&path) {
                Ok(s) => s,
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut buf = [0u8; 2048];
            while !stop_flag.load(Ordering::Relaxed) {
                match (&socket).read(&mut buf) {
                    Ok(n) => {
                        if let Some(frame) = ArpFrame::parse(Instant::now(), &buf[..n])
                            && frame.spa == ip
                            && tx.send(frame).is_err()
                        {
                            return;
                        }
                    }
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock
                                | std::io::ErrorKind::TimedOut
                                | std::io::ErrorKind::Interrupted
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("ARP capture: {e}"),
            Err(_) => panic!("ARP capture thread died"),
        }
        Self {
            rx,
            stop,
            thread: Some(thread),
        }
    }

    /// Frames received until `n` have arrived or `timeout` has passed.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ArpFrame> {
        let deadline = Instant::now() + timeout;
        let mut frames = Vec::new();
        while frames.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(frame) => frames.push(frame),
                Err(_) => break,
            }
        }
        frames
    }
}

impl Drop for ArpCapture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Enters the namespace at `path` (this thread only) and opens a packet socket receiving ARP.
fn open_capture(path: &str) -> Result<socket2::Socket, String> {
    let ns = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns {path}: {e}"))?;
    let protocol = socket2::Protocol::from(i32::from(0x0806u16.to_be()));
    let socket = socket2::Socket::new(socket2::Domain::PACKET, socket2::Type::RAW, Some(protocol))
        .map_err(|e| format!("packet socket: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    Ok(socket)
}
