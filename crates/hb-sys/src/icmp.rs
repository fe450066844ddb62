//! ICMP and ICMPv6 echo for ping nodes (`ping`, `ping6`, `ping_group`), from the daemon
//! itself: no `ping` processes.
//!
//! Raw sockets (the daemon runs as root; unprivileged ICMP datagram sockets depend on
//! `net.ipv4.ping_group_range`, which excludes root by default). Each request carries the
//! daemon's identifier (its pid, as Heartbeat's ping plugin uses) and a payload made of a
//! marker and a token drawn at start-up: a reply counts only if it echoes both, so replies to
//! another program's pings, or forged ones that do not know the token, are ignored.

use std::io;
use std::mem::MaybeUninit;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;

const ECHO_REQUEST_V4: u8 = 8;
const ECHO_REPLY_V4: u8 = 0;
const ECHO_REQUEST_V6: u8 = 128;
const ECHO_REPLY_V6: u8 = 129;
/// Start of every payload.
const MARKER: &[u8; 12] = b"heartbeat-rs";
/// Header (8) + marker (12) + token (8).
const PACKET_LEN: usize = 28;

/// Errors opening the ping sockets.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// A raw socket could not be opened (not root, or no IPv6).
    #[error("cannot open a raw {family} socket for ping nodes: {source}")]
    Open {
        /// ICMP or ICMPv6.
        family: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// One raw socket per address family in use.
#[derive(Debug)]
pub struct Pinger {
    v4: Option<Arc<AsyncFd<Socket>>>,
    v6: Option<Arc<AsyncFd<Socket>>>,
    ident: u16,
    token: [u8; 8],
    seq: AtomicU16,
}

impl Pinger {
    /// Opens the sockets for the families asked for and starts receiving: every valid echo
    /// reply's source address goes to `replies`. Must run inside a tokio runtime.
    pub fn open(
        v4: bool,
        v6: bool,
        token: [u8; 8],
        replies: mpsc::Sender<IpAddr>,
    ) -> Result<Pinger, PingError> {
        let ident = (std::process::id() & 0xffff) as u16;
        let open = |domain, proto, family| -> Result<Arc<AsyncFd<Socket>>, PingError> {
            let s = Socket::new(domain, Type::RAW, Some(proto))
                .and_then(|s| {
                    s.set_nonblocking(true)?;
                    s.set_cloexec(true)?;
                    Ok(s)
                })
                .map_err(|source| PingError::Open { family, source })?;
            // SAFETY: the socket owns its descriptor, which nothing else closes or replaces
            // while the AsyncFd holds it.
            let fd = unsafe { AsyncFd::register(s) }.map_err(|e| PingError::Open {
                family,
                source: io::Error::from(e),
            })?;
            Ok(Arc::new(fd))
        };
        let v4 = v4
            .then(|| open(Domain::IPV4, Protocol::ICMPV4, "ICMP"))
            .transpose()?;
        let v6 = v6
            .then(|| open(Domain::IPV6, Protocol::ICMPV6, "ICMPv6"))
            .transpose()?;
        for (sock, is_v6) in [(&v4, false), (&v6, true)] {
            if let Some(sock) = sock {
                tokio::spawn(receive(sock.clone(), is_v6, ident, token, replies.clone()));
            }
        }
        Ok(Pinger {
            v4,
            v6,
            ident,
            token,
            seq: AtomicU16::new(0),
        })
    }

    /// Sends one echo request to `to` without waiting. An unreachable network is an error
    /// the caller may log at debug level: the ping node simply does not answer.
    pub fn send(&self, to: IpAddr) -> io::Result<()> {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let (sock, packet) = match to {
            IpAddr::V4(_) => (
                &self.v4,
                request(ECHO_REQUEST_V4, self.ident, seq, self.token, true),
            ),
            IpAddr::V6(_) => (
                &self.v6,
                request(ECHO_REQUEST_V6, self.ident, seq, self.token, false),
            ),
        };
        let Some(sock) = sock else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "no socket for this address family",
            ));
        };
        let addr = SockAddr::from(SocketAddr::new(to, 0));
        sock.get_ref().send_to(&packet, &addr).map(|_| ())
    }
}

/// An echo request: ICMP header, marker, token. The ICMPv4 checksum is ours to compute;
/// the kernel computes ICMPv6's (it covers a pseudo-header).
fn request(kind: u8, ident: u16, seq: u16, token: [u8; 8], checksum: bool) -> [u8; PACKET_LEN] {
    let mut p = [0u8; PACKET_LEN];
    p[0] = kind;
    p[4..6].copy_from_slice(&ident.to_be_bytes());
    p[6..8].copy_from_slice(&seq.to_be_bytes());
    p[8..20].copy_from_slice(MARKER);
    p[20..28].copy_from_slice(&token);
    if checksum {
        let sum = internet_checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    p
}

/// RFC 1071.
fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = match pair {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from_be_bytes([*a, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Whether `packet` (what the raw socket returned) is an echo reply to one of our requests.
/// IPv4 raw sockets return the IP header too; IPv6 ones do not.
fn is_our_reply(packet: &[u8], v6: bool, ident: u16, token: [u8; 8]) -> bool {
    let icmp = if v6 {
        packet
    } else {
        let ihl = packet.first().map_or(0, |b| usize::from(b & 0x0f) * 4);
        if ihl < 20 {
            return false;
        }
        packet.get(ihl..).unwrap_or_default()
    };
    let want = if v6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    icmp.len() >= PACKET_LEN
        && icmp.first() == Some(&want)
        && icmp.get(4..6) == Some(&ident.to_be_bytes()[..])
        && icmp.get(8..20) == Some(&MARKER[..])
        && icmp.get(20..28) == Some(&token[..])
}

async fn receive(
    sock: Arc<AsyncFd<Socket>>,
    v6: bool,
    ident: u16,
    token: [u8; 8],
    replies: mpsc::Sender<IpAddr>,
) {
    let mut buf = [MaybeUninit::<u8>::uninit(); 1500];
    loop {
        let Ok(mut guard) = sock.readable().await else {
            return;
        };
        let got = guard.try_io(|s| s.get_ref().recv_from(&mut buf));
        let (len, from) = match got {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => {
                tracing::debug!("ping socket: {e}");
                continue;
            }
            Err(_would_block) => continue,
        };
        let len = len.min(buf.len());
        // SAFETY: recv_from initialised the first `len` bytes of `buf` (at most its length).
        let packet: &[u8] = unsafe { std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len) };
        let Some(from) = from.as_socket().map(|a| a.ip()) else {
            continue;
        };
        if is_our_reply(packet, v6, ident, token) && replies.send(from).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checksum_of_a_request_verifies() {
        let p = request(ECHO_REQUEST_V4, 0x1234, 7, [1; 8], true);
        assert_eq!(
            internet_checksum(&p),
            0,
            "a packet with its checksum sums to zero"
        );
        assert_eq!(p[0], 8);
        assert_eq!(&p[4..8], &[0x12, 0x34, 0, 7]);
    }

    #[test]
    fn only_replies_echoing_our_ident_and_token_count() {
        let token = [9; 8];
        let mut reply = request(ECHO_REPLY_V6, 42, 1, token, false);
        assert!(is_our_reply(&reply, true, 42, token));
        assert!(!is_our_reply(&reply, true, 43, token), "another ident");
        assert!(!is_our_reply(&reply, true, 42, [8; 8]), "another token");
        reply[0] = ECHO_REQUEST_V6;
        assert!(
            !is_our_reply(&reply, true, 42, token),
            "a request, not a reply"
        );
        // IPv4: a 20-byte IP header first.
        let mut v4 = vec![0x45u8];
        v4.resize(20, 0);
        v4.extend_from_slice(&request(ECHO_REPLY_V4, 42, 1, token, true));
        assert!(is_our_reply(&v4, false, 42, token));
        assert!(!is_our_reply(&v4[..30], false, 42, token), "truncated");
        assert!(
            !is_our_reply(&[0x41, 0, 0], false, 42, token),
            "bad header length"
        );
    }
}
