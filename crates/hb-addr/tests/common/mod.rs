//! Shared helpers of the hb-addr integration tests: private network namespaces torn down by
//! Drop guards, running the real IPaddr agent and hb-addr inside them, and an ARP capture
//! in the peer namespace.
#![allow(dead_code)] // each test binary uses a different subset

use std::fs::File;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The hb-addr binary built for this test run.
pub(crate) fn hb_addr_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hb-addr"))
}

/// The directory holding hb-addr: the only PATH entry the agent gets, so any other external
/// command on its start/stop path would fail.
pub(crate) fn bin_dir() -> PathBuf {
    hb_addr_bin()
        .parent()
        .expect("binary has a directory")
        .to_path_buf()
}

/// `resource-agents/<name>` of this repository.
pub(crate) fn agent_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../resource-agents")
        .join(name)
}

/// True when the test may run; otherwise prints a loud SKIP notice. Under `CI=true` not being
/// root is a failure.
pub(crate) fn root_or_skip(test: &str) -> bool {
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
pub(crate) struct Netns {
    pub name: String,
}

impl Netns {
    pub(crate) fn new(tag: &str) -> Self {
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
    pub(crate) fn ip(&self, args: &[&str]) -> String {
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
    pub(crate) fn exec(&self, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.exec_via(&[], program, args, env)
    }

    /// Like [`Netns::exec`], with `wrapper` (e.g. a `setpriv ...` command line) in front.
    pub(crate) fn exec_via(
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
    pub(crate) fn mac(&self, dev: &str) -> [u8; 6] {
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
    pub(crate) fn inet_lines(&self, dev: &str) -> Vec<String> {
        self.ip(&["-4", "-o", "addr", "show", "dev", dev])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The `inet` line for `ip` (any prefix) on `dev`, if any.
    pub(crate) fn inet_line(&self, dev: &str, ip: &str) -> Option<String> {
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

impl Netns {
    /// The `inet6` lines of `ip -6 -o addr show dev DEV`.
    pub(crate) fn inet6_lines(&self, dev: &str) -> Vec<String> {
        self.ip(&["-6", "-o", "addr", "show", "dev", dev])
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// The `inet6` line for `ip` (any prefix) on `dev`, if any. `ip` must be written the way
    /// `ip` prints it (RFC 5952).
    pub(crate) fn inet6_line(&self, dev: &str, ip: &str) -> Option<String> {
        let needle = format!(" inet6 {ip}/");
        let mut found = self
            .inet6_lines(dev)
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
pub(crate) struct Run {
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
    pub(crate) fn expect_code(self, code: i32) -> Self {
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
    pub(crate) fn expect_error(self, code: i32, line: &str) -> Self {
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
pub(crate) struct Lab {
    // Field order = drop order: nothing depends on it, both are deleted.
    pub node: Netns,
    pub peer: Netns,
}

impl Lab {
    pub(crate) fn new(tag: &str) -> Self {
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
    pub(crate) fn add_second_link(&self) {
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

    /// IPv6 on the first link: node eth0 2001:db8::1/64, peer peer0 2001:db8::2/64 (both
    /// without duplicate address detection, so usable at once), and on the second link when
    /// it exists: eth1 2001:db8:1::1/64, peer1 2001:db8:1::2/64.
    pub(crate) fn add_ipv6(&self) {
        self.node
            .ip(&["addr", "add", "2001:db8::1/64", "dev", "eth0", "nodad"]);
        self.peer
            .ip(&["addr", "add", "2001:db8::2/64", "dev", "peer0", "nodad"]);
        if self.node.ip(&["-o", "link", "show"]).contains(" eth1@") {
            self.node
                .ip(&["addr", "add", "2001:db8:1::1/64", "dev", "eth1", "nodad"]);
            self.peer
                .ip(&["addr", "add", "2001:db8:1::2/64", "dev", "peer1", "nodad"]);
        }
    }

    /// `resource-agents/IPaddr ARGS` in the node namespace.
    pub(crate) fn agent(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.node.exec(&agent_path("IPaddr"), args, env)
    }

    /// `hb-addr ARGS` in the node namespace.
    pub(crate) fn hb_addr(&self, args: &[&str]) -> Run {
        self.node.exec(&hb_addr_bin(), args, &[])
    }
}

/// A decoded ARP frame as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ArpFrame {
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

/// Frames of one EtherType received in a namespace on a background thread, decoded and
/// filtered by a closure.
#[derive(Debug)]
pub(crate) struct Capture<T> {
    rx: mpsc::Receiver<T>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Capture<T> {
    /// Starts capturing in `ns` frames of `ethertype` that `decode` accepts; returns once the
    /// socket is open, so nothing sent afterwards is missed.
    pub(crate) fn start<F>(ns: &Netns, ethertype: u16, decode: F) -> Self
    where
        F: Fn(Instant, &[u8]) -> Option<T> + Send + 'static,
    {
        let path = format!("/run/netns/{}", ns.name);
        let (tx, rx) = mpsc::channel();
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), String>>();
        let stop = Arc::new(AtomicBool::new(false));
        let stop_flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let socket = match open_capture(&path, ethertype) {
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
                        if let Some(frame) = decode(Instant::now(), &buf[..n])
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
            Ok(Err(e)) => panic!("capture: {e}"),
            Err(_) => panic!("capture thread died"),
        }
        Self {
            rx,
            stop,
            thread: Some(thread),
        }
    }

    /// Frames received until `n` have arrived or `timeout` has passed.
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> Vec<T> {
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

impl<T> Drop for Capture<T> {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Receives ARP frames announcing one address, in a namespace, on a background thread.
#[derive(Debug)]
pub(crate) struct ArpCapture(Capture<ArpFrame>);

impl ArpCapture {
    /// Starts capturing in `ns` ARP frames whose sender IP is `ip`; returns once the socket is
    /// open, so nothing sent afterwards is missed.
    pub(crate) fn start(ns: &Netns, ip: Ipv4Addr) -> Self {
        Self(Capture::start(ns, 0x0806, move |at, b| {
            ArpFrame::parse(at, b).filter(|f| f.spa == ip)
        }))
    }

    /// Frames received until `n` have arrived or `timeout` has passed.
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ArpFrame> {
        self.0.wait_for(n, timeout)
    }
}

/// A received ICMPv6 neighbour advertisement, decoded with etherparse (an independent
/// decoder), the checksum verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NaFrame {
    pub at: Instant,
    pub eth_dst: [u8; 6],
    pub eth_src: [u8; 6],
    pub src: Ipv6Addr,
    pub dst: Ipv6Addr,
    pub hop_limit: u8,
    pub router: bool,
    pub solicited: bool,
    pub override_: bool,
    pub target: Ipv6Addr,
    /// The link-layer address of the target link-layer address option (type 2), if any.
    pub target_mac: Option<[u8; 6]>,
    pub checksum_ok: bool,
}

impl NaFrame {
    pub(crate) fn parse(at: Instant, b: &[u8]) -> Option<Self> {
        use etherparse::{Icmpv6Type, LinkSlice, NetSlice, SlicedPacket, TransportSlice};
        let packet = SlicedPacket::from_ethernet(b).ok()?;
        let Some(LinkSlice::Ethernet2(eth)) = &packet.link else {
            return None;
        };
        let Some(NetSlice::Ipv6(ip)) = &packet.net else {
            return None;
        };
        let Some(TransportSlice::Icmpv6(icmp)) = &packet.transport else {
            return None;
        };
        let Icmpv6Type::NeighborAdvertisement(na) = icmp.icmp_type() else {
            return None;
        };
        let header = ip.header();
        let (src, dst) = (header.source_addr(), header.destination_addr());
        // The payload after the 8-byte ICMPv6 header: the target, then options.
        let body = icmp.payload();
        let target = Ipv6Addr::from(<[u8; 16]>::try_from(body.get(..16)?).ok()?);
        let mut target_mac = None;
        let mut options = &body[16..];
        while let [kind, len, ..] = *options {
            let size = usize::from(len) * 8;
            if size == 0 || options.len() < size {
                break;
            }
            if kind == 2 && len == 1 {
                target_mac = <[u8; 6]>::try_from(&options[2..8]).ok();
            }
            options = &options[size..];
        }
        Some(Self {
            at,
            eth_dst: eth.destination(),
            eth_src: eth.source(),
            src,
            dst,
            hop_limit: header.hop_limit(),
            router: na.router,
            solicited: na.solicited,
            override_: na.r#override,
            target,
            target_mac,
            checksum_ok: icmp.is_checksum_valid(src.octets(), dst.octets()),
        })
    }
}

/// Receives neighbour advertisements for one target address in a namespace.
#[derive(Debug)]
pub(crate) struct NaCapture(Capture<NaFrame>);

impl NaCapture {
    /// Starts capturing in `ns` neighbour advertisements whose target is `target`; returns
    /// once the socket is open.
    pub(crate) fn start(ns: &Netns, target: Ipv6Addr) -> Self {
        Self(Capture::start(ns, 0x86dd, move |at, b| {
            NaFrame::parse(at, b).filter(|f| f.target == target)
        }))
    }

    /// Advertisements received until `n` have arrived or `timeout` has passed.
    pub(crate) fn wait_for(&self, n: usize, timeout: Duration) -> Vec<NaFrame> {
        self.0.wait_for(n, timeout)
    }
}

/// Enters the namespace at `path` (this thread only) and opens a packet socket receiving
/// frames of `ethertype`.
fn open_capture(path: &str, ethertype: u16) -> Result<socket2::Socket, String> {
    let ns = File::open(path).map_err(|e| format!("open {path}: {e}"))?;
    nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns {path}: {e}"))?;
    let protocol = socket2::Protocol::from(i32::from(ethertype.to_be()));
    let socket = socket2::Socket::new(socket2::Domain::PACKET, socket2::Type::RAW, Some(protocol))
        .map_err(|e| format!("packet socket: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_millis(20)))
        .map_err(|e| format!("SO_RCVTIMEO: {e}"))?;
    Ok(socket)
}
