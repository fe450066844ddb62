//! Gratuitous ARP for an IPv4 service address, sent from an AF_PACKET socket.
//!
//! After a takeover the neighbours of the LAN still map the service address to the old
//! holder's MAC. Each *step* of a burst sends two broadcast frames that both announce
//! "`ip` is at `mac`":
//! - an ARP request with sender IP = target IP = `ip` and target MAC 00:00:00:00:00:00
//!   (the RFC 5227 announcement form), and
//! - an ARP reply with sender IP = target IP = `ip` and target MAC = `mac` (the RFC 5944 form),
//!   for the switches and hosts that only learn from replies.
//!
//! A [`Burst`] is `count` steps `interval` apart (default 5 × 200 ms, as heartbeat's IPaddr2).
//! [`spawn_detached`] lets a short-lived helper send the first step itself and leave the rest
//! (and the final, slow close of the packet socket) to a detached process, so that the caller
//! is not delayed.

use std::fs::{self, OpenOptions};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};
use nix::unistd::{
    ForkResult, Pid, chdir, dup2_stderr, dup2_stdin, dup2_stdout, fork, pipe2, read, setsid,
};

/// EtherType of ARP.
pub const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv4 (the ARP protocol type).
pub const ETH_P_IP: u16 = 0x0800;
/// Length of the frames we send: 14 bytes Ethernet header + 28 bytes ARP, zero-padded to the
/// 60-byte Ethernet minimum (the frame check sequence is added by the hardware).
pub const FRAME_LEN: usize = 60;
/// Ethernet broadcast address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];

/// Errors of sending gratuitous ARP or detaching the burst (of ARP or of neighbour
/// advertisements: [`spawn_detached`] serves both).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GarpError {
    /// Opening a packet socket needs CAP_NET_RAW.
    #[error("permission denied: sending gratuitous ARP needs CAP_NET_RAW")]
    PermissionDenied,
    /// The packet socket could not be opened.
    #[error("cannot open a packet socket: {0}")]
    Socket(#[source] io::Error),
    /// An interface index that does not fit `sockaddr_ll`.
    #[error("interface index {0} is out of range")]
    BadIndex(u32),
    /// A frame could not be sent.
    #[error("sending gratuitous ARP on {iface} failed: {source}")]
    Send {
        /// Interface name.
        iface: String,
        /// The error from `sendto`.
        #[source]
        source: io::Error,
    },
    /// [`spawn_detached`] needs a single-threaded process.
    #[error("cannot detach the announcement burst from a process with {0} threads")]
    MultiThreaded(usize),
    /// Preparing the detached process or forking it failed.
    #[error("cannot detach the announcement burst: {0}")]
    Detach(String),
}

/// The ARP operation of a gratuitous frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArpOp {
    /// Operation 1, target MAC all zeros.
    Request,
    /// Operation 2, target MAC = sender MAC.
    Reply,
}

/// Builds a broadcast gratuitous ARP frame announcing that `ip` is at `mac`.
pub fn gratuitous_frame(op: ArpOp, mac: [u8; 6], ip: Ipv4Addr) -> [u8; FRAME_LEN] {
    let (code, target_mac) = match op {
        ArpOp::Request => (1u16, [0u8; 6]),
        ArpOp::Reply => (2u16, mac),
    };
    let ip = ip.octets();
    let mut f = [0u8; FRAME_LEN];
    // Ethernet II header.
    f[0..6].copy_from_slice(&BROADCAST_MAC);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    // ARP for IPv4 over Ethernet.
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware type: Ethernet
    f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes()); // protocol type: IPv4
    f[18] = 6; // hardware address length
    f[19] = 4; // protocol address length
    f[20..22].copy_from_slice(&code.to_be_bytes());
    f[22..28].copy_from_slice(&mac); // sender hardware address
    f[28..32].copy_from_slice(&ip); // sender protocol address
    f[32..38].copy_from_slice(&target_mac); // target hardware address
    f[38..42].copy_from_slice(&ip); // target protocol address
    f
}

/// How many announcement steps, how far apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Burst {
    /// Number of steps (each step = one request + one reply); 0 sends nothing.
    pub count: u32,
    /// Time between the starts of consecutive steps.
    pub interval: Duration,
}

impl Default for Burst {
    /// 5 steps, 200 ms apart (heartbeat IPaddr2's `arp_count` / `arp_interval`).
    fn default() -> Self {
        Self {
            count: 5,
            interval: Duration::from_millis(200),
        }
    }
}

/// A packet socket ready to announce one address on one interface.
///
/// Dropping the last handle to it is slow: the kernel's packet_release waits for an RCU grace
/// period (`synchronize_net`), about 10 ms on a busy machine. A latency-sensitive caller
/// should let another process (e.g. the one [`spawn_detached`] starts) own the final close.
#[derive(Debug)]
pub struct GarpSender {
    socket: PacketSocket,
    iface: String,
    request: [u8; FRAME_LEN],
    reply: [u8; FRAME_LEN],
}

impl GarpSender {
    /// Opens a send-only packet socket (protocol 0: it receives nothing) for announcing `ip`
    /// at `mac` on interface `iface` (index `ifindex`).
    pub fn open(iface: &str, ifindex: u32, mac: [u8; 6], ip: Ipv4Addr) -> Result<Self, GarpError> {
        let socket = PacketSocket::open(ifindex).map_err(|e| match e {
            OpenError::BadIndex(i) => GarpError::BadIndex(i),
            OpenError::PermissionDenied => GarpError::PermissionDenied,
            OpenError::Socket(e) => GarpError::Socket(e),
        })?;
        Ok(Self {
            socket,
            iface: iface.to_owned(),
            request: gratuitous_frame(ArpOp::Request, mac, ip),
            reply: gratuitous_frame(ArpOp::Reply, mac, ip),
        })
    }

    /// Sends one step: the gratuitous request, then the gratuitous reply.
    pub fn send_step(&self) -> Result<(), GarpError> {
        self.send(&self.request)?;
        self.send(&self.reply)
    }

    fn send(&self, frame: &[u8; FRAME_LEN]) -> Result<(), GarpError> {
        self.socket
            .send(frame, ETH_P_ARP, BROADCAST_MAC)
            .map_err(|source| GarpError::Send {
                iface: self.iface.clone(),
                source,
            })
    }
}

/// Why [`PacketSocket::open`] failed.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The interface index does not fit `sockaddr_ll`.
    BadIndex(u32),
    /// No CAP_NET_RAW.
    PermissionDenied,
    /// Any other failure of `socket`.
    Socket(io::Error),
}

/// A send-only AF_PACKET socket (protocol 0: it receives nothing) for complete Ethernet
/// frames on one interface; shared by the ARP and the neighbour advertisement senders.
#[derive(Debug)]
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    /// Opens the socket for interface `ifindex`.
    pub(crate) fn open(ifindex: u32) -> Result<Self, OpenError> {
        let ifindex = i32::try_from(ifindex).map_err(|_| OpenError::BadIndex(ifindex))?;
        let fd = socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|errno| match errno {
            nix::errno::Errno::EPERM | nix::errno::Errno::EACCES => OpenError::PermissionDenied,
            other => OpenError::Socket(io::Error::from(other)),
        })?;
        Ok(Self { fd, ifindex })
    }

    /// Sends `frame` (Ethernet header included) to link-layer address `dst`, with
    /// `sll_protocol` = `protocol` (host byte order). A short send is an error.
    pub(crate) fn send(&self, frame: &[u8], protocol: u16, dst: [u8; 6]) -> io::Result<()> {
        let mut sll_addr = [0u8; 8];
        sll_addr[..6].copy_from_slice(&dst);
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as libc::c_ushort,
            sll_protocol: protocol.to_be(),
            sll_ifindex: self.ifindex,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 6,
            sll_addr,
        };
        loop {
            // SAFETY: `frame` is a live buffer of `frame.len()` bytes and `sll` a fully
            // initialised sockaddr_ll whose exact size we pass; `self.fd` is an open socket
            // owned by `self`. sendto does not retain either pointer.
            let sent = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&raw const sll).cast::<libc::sockaddr>(),
                    size_of::<libc::sockaddr_ll>() as libc::socklen_t,
                )
            };
            if sent >= 0 {
                return if sent as usize == frame.len() {
                    Ok(())
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short send: {sent} of {} bytes", frame.len()),
                    ))
                };
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

/// Runs `task` in a detached child process and returns its pid without waiting for it.
///
/// The child calls `setsid` (leaving the caller's process group and session, so a
/// process-group kill of the caller does not reach it), moves to `/` and puts
/// stdin/stdout/stderr on `/dev/null` (a caller reading our output through a pipe sees EOF
/// when we exit, not when the task ends); other descriptors, such as a socket captured by
/// `task`, are inherited. The task's return value becomes the child's exit status. There is
/// no second fork: the point is to return as fast as possible, and a short-lived caller
/// simply exits, leaving the child to init (or the nearest subreaper). A long-lived caller
/// must reap the returned pid.
///
/// The task starts only after this process has dropped its copy of `task` (closing the
/// descriptors it captured), so the child always holds the last reference to what it
/// captured: a slow final close (see [`GarpSender`]) is paid there, never here.
///
/// Only a single-threaded process may fork and then run arbitrary code in the child, so this
/// fails with [`GarpError::MultiThreaded`] otherwise (e.g. inside a multi-threaded tokio
/// runtime: drop the runtime first).
pub fn spawn_detached<F>(task: F) -> Result<Pid, GarpError>
where
    F: FnOnce() -> i32,
{
    let threads =
        thread_count().map_err(|e| GarpError::Detach(format!("counting threads: {e}")))?;
    if threads != 1 {
        return Err(GarpError::MultiThreaded(threads));
    }
    let devnull = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| GarpError::Detach(format!("opening /dev/null: {e}")))?;
    // The child waits for EOF on `gate`, i.e. until we closed `gate_w`, which we do only
    // after dropping `task`.
    let (gate, gate_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| GarpError::Detach(format!("pipe: {e}")))?;
    // SAFETY: the process has exactly one thread (checked just above), so the child is a
    // complete copy of it and may run any code, not only async-signal-safe functions.
    match unsafe { fork() } {
        Err(errno) => Err(GarpError::Detach(format!("fork: {errno}"))),
        Ok(ForkResult::Parent { child }) => {
            drop(task);
            drop(gate_w);
            Ok(child)
        }
        Ok(ForkResult::Child) => {
            drop(gate_w);
            if setsid().is_err() {
                exit_now(1);
            }
            wait_for_eof(&gate);
            drop(gate);
            let _ = chdir("/");
            let redirected = dup2_stdin(&devnull).is_ok()
                && dup2_stdout(&devnull).is_ok()
                && dup2_stderr(&devnull).is_ok();
            drop(devnull);
            if !redirected {
                exit_now(2);
            }
            exit_now(task())
        }
    }
}

/// Blocks until every write end of the pipe `fd` is closed (or reading fails).
fn wait_for_eof(fd: &OwnedFd) {
    let mut buf = [0u8; 16];
    loop {
        match read(fd, &mut buf) {
            Ok(0) => return,
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return,
        }
    }
}

/// Ends a forked process without running the parent's exit handlers or flushing buffers it
/// copied from the parent.
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit has no preconditions and never returns.
    unsafe { libc::_exit(code) }
}

fn thread_count() -> io::Result<usize> {
    Ok(fs::read_dir("/proc/self/task")?.count())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0x00, 0x5e, 0x10, 0x20, 0x30];

    #[test]
    fn request_frame_bytes_are_exact() {
        let frame = gratuitous_frame(ArpOp::Request, MAC, Ipv4Addr::new(192, 0, 2, 100));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // ethernet destination: broadcast
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // ethernet source
            0x08, 0x06,                         // ethertype ARP
            0x00, 0x01,                         // hardware type Ethernet
            0x08, 0x00,                         // protocol type IPv4
            0x06, 0x04,                         // address lengths
            0x00, 0x01,                         // operation: request
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // sender MAC
            192, 0, 2, 100,                     // sender IP
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target MAC: zero
            192, 0, 2, 100,                     // target IP
        ];
        assert_eq!(frame[..42], expected);
        assert_eq!(frame[42..], [0u8; 18]);
    }

    #[test]
    fn reply_frame_bytes_are_exact() {
        let frame = gratuitous_frame(ArpOp::Reply, MAC, Ipv4Addr::new(203, 0, 113, 7));
        #[rustfmt::skip]
        let expected: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            0x08, 0x06,
            0x00, 0x01,
            0x08, 0x00,
            0x06, 0x04,
            0x00, 0x02,                         // operation: reply
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30,
            203, 0, 113, 7,
            0x02, 0x00, 0x5e, 0x10, 0x20, 0x30, // target MAC: our own
            203, 0, 113, 7,
        ];
        assert_eq!(frame[..42], expected);
        assert_eq!(frame.len(), FRAME_LEN);
        assert_eq!(frame[42..], [0u8; 18]);
    }

    #[test]
    fn default_burst_is_five_steps_200ms_apart() {
        assert_eq!(
            Burst::default(),
            Burst {
                count: 5,
                interval: Duration::from_millis(200)
            }
        );
    }

    #[test]
    fn huge_interface_index_is_an_error_not_a_panic() {
        let err = GarpSender::open("x", u32::MAX, MAC, Ipv4Addr::LOCALHOST).unwrap_err();
        assert!(matches!(err, GarpError::BadIndex(u32::MAX)));
    }

    #[test]
    fn detaching_from_a_multithreaded_process_is_refused() {
        // The test harness runs tests on worker threads, so this process has several.
        let err = spawn_detached(|| 0).unwrap_err();
        assert!(matches!(err, GarpError::MultiThreaded(n) if n > 1), "{err}");
    }
}
