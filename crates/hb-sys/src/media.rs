//! Heartbeat media: UDP sockets for `bcast`, `ucast`, `mcast` (spec §9), `ucast6` and
//! `mcast6`, built with socket2, for the media `hb-config` parsed ([`Medium`]).
//!
//! Every configured medium gets a send socket bound to its device. Receive sockets are shared
//! per (device, port, address family): one socket bound to `0.0.0.0:port` (or `[::]:port`,
//! IPv6 only) on the device receives broadcasts and unicasts arriving there; each `mcast` and
//! `mcast6` line gets its own socket that joins the group on the device. Received datagrams
//! are reported with the index of their link (the device, as Heartbeat names links: `ucast6`
//! and `mcast6` media are named after their device too), in the order of [`Media::links`].

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

pub use hb_config::Medium;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// Largest datagram we receive (UDP's own maximum payload).
const RECV_BUFFER: usize = 65_536;
/// `IPTOS_LOWDELAY`, which Heartbeat sets on ucast sockets.
const IPTOS_LOWDELAY: u32 = 0x10;

/// Errors opening the media.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The device does not exist.
    #[error("heartbeat medium {medium}: interface {dev} not found")]
    NoDevice {
        /// The medium, as configured.
        medium: String,
        /// The device.
        dev: String,
    },
    /// A ucast peer name did not resolve to an IPv4 address.
    #[error("ucast {dev} {peer}: cannot resolve the peer to an IPv4 address: {why}")]
    Resolve {
        /// Device.
        dev: String,
        /// Peer as written.
        peer: String,
        /// Why.
        why: String,
    },
    /// A ucast6 peer's numeric scope is not the index of the medium's device.
    #[error("heartbeat medium {medium}: scope {scope} is not the index of {dev} ({ifindex})")]
    Scope {
        /// The medium, as configured.
        medium: String,
        /// The scope written after the peer.
        scope: u32,
        /// The device.
        dev: String,
        /// The device's index.
        ifindex: u32,
    },
    /// A socket operation failed.
    #[error("heartbeat medium {medium}: {what}: {source}")]
    Socket {
        /// The medium, as configured.
        medium: String,
        /// The operation.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

/// A datagram that arrived.
#[derive(Debug)]
pub struct Received {
    /// Index into [`Media::links`].
    pub link: usize,
    /// The payload.
    pub bytes: Vec<u8>,
}

#[derive(Debug)]
struct Sender {
    socket: std::net::UdpSocket,
    dest: SocketAddr,
    label: String,
}

/// The open media.
#[derive(Debug)]
pub struct Media {
    links: Vec<String>,
    senders: Vec<Sender>,
    receivers: Vec<(usize, std::net::UdpSocket)>,
    last_send_error: std::sync::Mutex<Option<Instant>>,
}

/// Where a medium's datagrams arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rx {
    /// The socket shared by the media of one device, port and address family: bound to the
    /// wildcard address on the device, it receives broadcasts and unicasts.
    Shared {
        /// Port.
        port: u16,
        /// IPv6 (`[::]`, IPv6 only) rather than IPv4 (`0.0.0.0`).
        v6: bool,
    },
    /// A socket of its own that joins this group on the device.
    Group(SocketAddr),
}

impl Media {
    /// Opens every medium: send sockets now, receive sockets ready for [`Media::spawn_receivers`].
    pub fn open(specs: &[Medium]) -> Result<Media, MediaError> {
        let mut links: Vec<String> = Vec::new();
        for s in specs {
            if !links.iter().any(|l| l == s.dev()) {
                links.push(s.dev().to_string());
            }
        }
        let addrs = interface_addresses();
        let mut senders = Vec::new();
        let mut receivers: Vec<(usize, std::net::UdpSocket)> = Vec::new();
        let mut shared_rx: Vec<(String, Rx)> = Vec::new();
        for spec in specs {
            let label = spec.to_string();
            let dev = spec.dev();
            let ifindex = nix::net::if_::if_nametoindex(dev).map_err(|_| MediaError::NoDevice {
                medium: label.clone(),
                dev: dev.to_string(),
            })?;
            let link = links.iter().position(|l| l == dev).unwrap_or(0);
            let sock_err = |what: &'static str| {
                let medium = label.clone();
                move |source| MediaError::Socket {
                    medium,
                    what,
                    source,
                }
            };
            let (tx, dest, rx) = open_sender(spec, ifindex, &addrs)?;
            tx.set_nonblocking(true).map_err(sock_err("non-blocking"))?;
            senders.push(Sender {
                socket: tx.into(),
                dest,
                label: label.clone(),
            });

            // Receiving: one socket per group, one per shared (device, port, family).
            let rx_socket = match rx {
                Rx::Group(group) => Some(open_group_receiver(dev, ifindex, group).map_err(
                    |(what, source)| MediaError::Socket {
                        medium: label.clone(),
                        what,
                        source,
                    },
                )?),
                Rx::Shared { .. } if shared_rx.iter().any(|(d, r)| d == dev && *r == rx) => None,
                Rx::Shared { port, v6 } => {
                    shared_rx.push((dev.to_string(), rx));
                    Some(
                        open_shared_receiver(dev, port, v6).map_err(|(what, source)| {
                            MediaError::Socket {
                                medium: label.clone(),
                                what,
                                source,
                            }
                        })?,
                    )
                }
            };
            if let Some(rx) = rx_socket {
                rx.set_nonblocking(true).map_err(sock_err("non-blocking"))?;
                receivers.push((link, rx.into()));
            }
            tracing::debug!("heartbeat medium {label} open (to {dest})");
        }
        Ok(Media {
            links,
            senders,
            receivers,
            last_send_error: std::sync::Mutex::new(None),
        })
    }

    /// Link names (devices), in the order link indexes refer to.
    pub fn links(&self) -> &[String] {
        &self.links
    }

    /// Sends one datagram on every medium; returns how many sends succeeded. Failures (a
    /// link that is down, say) are logged at most every few seconds.
    pub fn send(&self, datagram: &[u8]) -> usize {
        let mut ok = 0;
        for s in &self.senders {
            match s.socket.send_to(datagram, s.dest) {
                Ok(_) => ok += 1,
                Err(e) => self.send_failed(&s.label, &e),
            }
        }
        ok
    }

    fn send_failed(&self, label: &str, e: &io::Error) {
        let Ok(mut last) = self.last_send_error.lock() else {
            return;
        };
        let now = Instant::now();
        if last.is_none_or(|t| now.duration_since(t) > Duration::from_secs(5)) {
            *last = Some(now);
            tracing::warn!("heartbeat medium {label}: send failed: {e}");
        }
    }

    /// Starts one task per receive socket (on the current tokio runtime) that forwards every
    /// datagram to `tx`. The tasks end when `tx`'s receiver is dropped.
    pub fn spawn_receivers(&mut self, tx: mpsc::Sender<Received>) -> io::Result<()> {
        for (link, std_sock) in std::mem::take(&mut self.receivers) {
            let sock = UdpSocket::from_std(std_sock)?;
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; RECV_BUFFER];
                loop {
                    match sock.recv_from(&mut buf).await {
                        Ok((n, _from)) => {
                            let bytes = buf[..n.min(buf.len())].to_vec();
                            if tx.send(Received { link, bytes }).await.is_err() {
                                return;
                            }
                        }
                        Err(e) => {
                            tracing::warn!(
                                "heartbeat receive socket (fd {}): {e}",
                                sock.as_raw_fd()
                            );
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            });
        }
        Ok(())
    }
}

fn udp_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
}

fn udp6_socket() -> io::Result<Socket> {
    Socket::new(Domain::IPV6, Type::DGRAM, Some(Protocol::UDP))
}

/// A failed socket operation: what was attempted, and the error.
type SockFailure = (&'static str, io::Error);

/// Tags an `io::Result` with the operation, for [`MediaError::Socket`].
fn step<T>(what: &'static str, r: io::Result<T>) -> Result<T, SockFailure> {
    r.map_err(|e| (what, e))
}

/// The send socket of `spec` (bound to its device, with the medium's options set), where it
/// sends to, and where the answers arrive. Heartbeat's plugins: `bcast.c`, `ucast.c`,
/// `mcast.c`, `ucast6.c` (`ucast6_make_send_sock`) and `mcast6.c` (`mcast6_make_send_sock`).
fn open_sender(
    spec: &Medium,
    ifindex: u32,
    addrs: &[(String, IfV4)],
) -> Result<(Socket, SocketAddr, Rx), MediaError> {
    let dev = spec.dev();
    let fail = |(what, source): SockFailure| MediaError::Socket {
        medium: spec.to_string(),
        what,
        source,
    };
    let v4 = || -> Result<Socket, SockFailure> {
        let tx = step("socket", udp_socket())?;
        step("bind to device", tx.bind_device(Some(dev.as_bytes())))?;
        Ok(tx)
    };
    let v6 = || -> Result<Socket, SockFailure> {
        let tx = step("socket", udp6_socket())?;
        step("bind to device", tx.bind_device(Some(dev.as_bytes())))?;
        Ok(tx)
    };
    let shared = |port: u16, v6: bool| Rx::Shared { port, v6 };
    match spec {
        Medium::Bcast { port, .. } => {
            let tx = v4().map_err(fail)?;
            step("SO_BROADCAST", tx.set_broadcast(true)).map_err(fail)?;
            let brd = addrs
                .iter()
                .find_map(|(name, a)| if name == dev { a.broadcast } else { None })
                .unwrap_or(Ipv4Addr::BROADCAST);
            Ok((
                tx,
                SocketAddrV4::new(brd, *port).into(),
                shared(*port, false),
            ))
        }
        Medium::Ucast { peer, port, .. } => {
            let tx = v4().map_err(fail)?;
            step("IP_TOS", tx.set_tos_v4(IPTOS_LOWDELAY)).map_err(fail)?;
            let dest = SocketAddrV4::new(resolve(dev, peer)?, *port);
            Ok((tx, dest.into(), shared(*port, false)))
        }
        Medium::Mcast {
            group,
            port,
            ttl,
            looped,
            ..
        } => {
            let tx = v4().map_err(fail)?;
            // Heartbeat sets IP_MULTICAST_IF to the device's address; the socket is bound to
            // the device as well.
            if let Some(local) = addrs
                .iter()
                .find_map(|(name, a)| if name == dev { a.addr } else { None })
            {
                step("IP_MULTICAST_IF", tx.set_multicast_if_v4(&local)).map_err(fail)?;
            }
            step("IP_MULTICAST_TTL", tx.set_multicast_ttl_v4(u32::from(*ttl))).map_err(fail)?;
            step("IP_MULTICAST_LOOP", tx.set_multicast_loop_v4(*looped)).map_err(fail)?;
            let dest = SocketAddrV4::new(*group, *port);
            Ok((tx, dest.into(), Rx::Group(dest.into())))
        }
        Medium::Ucast6 {
            peer,
            scope_id,
            port,
            ..
        } => {
            if let Some(id) = scope_id.filter(|id| id.get() != ifindex) {
                return Err(MediaError::Scope {
                    medium: spec.to_string(),
                    scope: id.get(),
                    dev: dev.to_string(),
                    ifindex,
                });
            }
            // An IPv4-mapped peer: Heartbeat's dual-stack socket talks IPv4 to it, and so do
            // we, through the IPv4 paths.
            if let Some(mapped) = peer.to_ipv4_mapped() {
                let tx = v4().map_err(fail)?;
                let dest = SocketAddrV4::new(mapped, *port);
                return Ok((tx, dest.into(), shared(*port, false)));
            }
            let tx = v6().map_err(fail)?;
            // A link-local peer is reached through the device (Heartbeat sets the scope id
            // to the device's index).
            let scope = if peer.is_unicast_link_local() {
                ifindex
            } else {
                0
            };
            let dest = SocketAddrV6::new(*peer, *port, 0, scope);
            Ok((tx, dest.into(), shared(*port, true)))
        }
        Medium::Mcast6 {
            group,
            port,
            hops,
            looped,
            ..
        } => {
            let tx = v6().map_err(fail)?;
            step("IPV6_MULTICAST_IF", tx.set_multicast_if_v6(ifindex)).map_err(fail)?;
            step(
                "IPV6_MULTICAST_HOPS",
                tx.set_multicast_hops_v6(u32::from(*hops)),
            )
            .map_err(fail)?;
            step("IPV6_MULTICAST_LOOP", tx.set_multicast_loop_v6(*looped)).map_err(fail)?;
            let dest = SocketAddrV6::new(*group, *port, 0, mcast6_scope(group, ifindex));
            Ok((tx, dest.into(), Rx::Group(dest.into())))
        }
    }
}

/// The scope id for `group` on the device `ifindex`: the device for link-local groups
/// (`ffX2::`), none otherwise.
fn mcast6_scope(group: &Ipv6Addr, ifindex: u32) -> u32 {
    if group.octets()[1] & 0x0f == 0x2 {
        ifindex
    } else {
        0
    }
}

/// A receive socket of its own for a multicast group: bound to the device and to the group
/// and port (so it gets nothing else), member of the group on the device.
fn open_group_receiver(dev: &str, ifindex: u32, group: SocketAddr) -> Result<Socket, SockFailure> {
    let rx = match group {
        SocketAddr::V4(_) => step("socket", udp_socket())?,
        SocketAddr::V6(_) => {
            let rx = step("socket", udp6_socket())?;
            step("IPV6_V6ONLY", rx.set_only_v6(true))?;
            rx
        }
    };
    step("SO_REUSEADDR", rx.set_reuse_address(true))?;
    step("bind to device", rx.bind_device(Some(dev.as_bytes())))?;
    step("bind", rx.bind(&SockAddr::from(group)))?;
    match group {
        SocketAddr::V4(g) => step(
            "join the multicast group",
            rx.join_multicast_v4_n(g.ip(), &socket2::InterfaceIndexOrAddress::Index(ifindex)),
        )?,
        SocketAddr::V6(g) => step(
            "join the multicast group",
            rx.join_multicast_v6(g.ip(), ifindex),
        )?,
    }
    Ok(rx)
}

/// The receive socket shared by the unicast (and broadcast) media of a device, port and
/// family: the wildcard address on the device, with `SO_REUSEADDR` and `SO_REUSEPORT` as
/// Heartbeat sets them. The IPv6 one takes IPv6 only, so it never duplicates what the IPv4
/// one receives.
fn open_shared_receiver(dev: &str, port: u16, v6: bool) -> Result<Socket, SockFailure> {
    let (rx, any): (Socket, SocketAddr) = if v6 {
        let rx = step("socket", udp6_socket())?;
        step("IPV6_V6ONLY", rx.set_only_v6(true))?;
        (
            rx,
            SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0).into(),
        )
    } else {
        let rx = step("socket", udp_socket())?;
        (rx, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port).into())
    };
    step("SO_REUSEADDR", rx.set_reuse_address(true))?;
    step("SO_REUSEPORT", rx.set_reuse_port(true))?;
    step("bind to device", rx.bind_device(Some(dev.as_bytes())))?;
    step("bind", rx.bind(&SockAddr::from(any)))?;
    Ok(rx)
}

fn resolve(dev: &str, peer: &str) -> Result<Ipv4Addr, MediaError> {
    if let Ok(ip) = peer.parse::<Ipv4Addr>() {
        return Ok(ip);
    }
    let err = |why: String| MediaError::Resolve {
        dev: dev.to_string(),
        peer: peer.to_string(),
        why,
    };
    let addrs = (peer, 0u16)
        .to_socket_addrs()
        .map_err(|e| err(e.to_string()))?;
    addrs
        .filter_map(|a| match a {
            SocketAddr::V4(v4) => Some(*v4.ip()),
            SocketAddr::V6(_) => None,
        })
        .next()
        .ok_or_else(|| err("no IPv4 address".into()))
}

#[derive(Clone, Copy, Debug)]
struct IfV4 {
    addr: Option<Ipv4Addr>,
    broadcast: Option<Ipv4Addr>,
}

/// (interface, IPv4 address and broadcast) of every IPv4 address configured.
fn interface_addresses() -> Vec<(String, IfV4)> {
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    addrs
        .filter_map(|a| {
            let addr = a.address.as_ref()?.as_sockaddr_in()?.ip();
            let broadcast = a
                .broadcast
                .as_ref()
                .and_then(|b| b.as_sockaddr_in())
                .map(|b| b.ip());
            Some((
                a.interface_name,
                IfV4 {
                    addr: Some(addr),
                    broadcast,
                },
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_on_a_missing_device_fail_with_a_clear_error() {
        let err = Media::open(&[Medium::Bcast {
            dev: "hbrs-nodev0".into(),
            port: 694,
        }])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "heartbeat medium bcast hbrs-nodev0 (port 694): interface hbrs-nodev0 not found"
        );
    }

    #[test]
    fn numeric_ucast_peers_need_no_resolver() {
        assert_eq!(
            resolve("eth0", "192.0.2.12").unwrap(),
            Ipv4Addr::new(192, 0, 2, 12)
        );
        assert!(matches!(
            resolve("eth0", "no-such-host.invalid"),
            Err(MediaError::Resolve { .. })
        ));
    }

    fn free_udp_port() -> u16 {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    }

    /// Opens `specs`, or `None` (with a SKIP line) where binding to a device is not allowed.
    fn open_or_skip(specs: &[Medium]) -> Option<Media> {
        match Media::open(specs) {
            Ok(m) => Some(m),
            Err(MediaError::Socket { source, .. })
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                eprintln!("SKIP: binding to a device needs CAP_NET_RAW");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    /// Sends one datagram on every medium and returns the first one received.
    async fn round_trip(mut media: Media) -> Received {
        let (tx, mut rx) = mpsc::channel(4);
        media.spawn_receivers(tx).unwrap();
        assert_eq!(media.send(b"###\nhello"), 1);
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap()
    }

    #[tokio::test]
    async fn loopback_ucast6_delivers_to_the_shared_ipv6_receiver() {
        // ::1 is refused by the parser (as by Heartbeat), but it is the one IPv6 unicast
        // address every machine has: enough to exercise the IPv6 send and receive sockets.
        let spec = Medium::Ucast6 {
            dev: "lo".into(),
            peer: Ipv6Addr::LOCALHOST,
            scope_id: None,
            port: free_udp_port(),
        };
        let Some(media) = open_or_skip(&[spec]) else {
            return;
        };
        assert_eq!(media.links(), ["lo"]);
        assert!(matches!(media.senders[0].dest, SocketAddr::V6(_)));
        let got = round_trip(media).await;
        assert_eq!((got.link, got.bytes.as_slice()), (0, &b"###\nhello"[..]));
    }

    #[tokio::test]
    async fn an_ipv4_mapped_ucast6_peer_is_reached_over_ipv4() {
        let port = free_udp_port();
        let spec = Medium::Ucast6 {
            dev: "lo".into(),
            peer: Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
            scope_id: None,
            port,
        };
        let Some(media) = open_or_skip(&[spec]) else {
            return;
        };
        assert_eq!(
            media.senders[0].dest,
            SocketAddr::from((Ipv4Addr::LOCALHOST, port))
        );
        let got = round_trip(media).await;
        assert_eq!(got.bytes, b"###\nhello");
    }

    #[test]
    fn a_ucast6_scope_that_is_not_the_device_is_refused() {
        let lo = nix::net::if_::if_nametoindex("lo").unwrap();
        let err = Media::open(&[Medium::Ucast6 {
            dev: "lo".into(),
            peer: "fe80::12".parse().unwrap(),
            scope_id: std::num::NonZeroU32::new(lo + 1000),
            port: 694,
        }])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "heartbeat medium ucast6 lo fe80::12%{} (port 694): scope {} is not the index \
                 of lo ({lo})",
                lo + 1000,
                lo + 1000
            )
        );
    }

    #[test]
    fn link_local_groups_are_scoped_to_the_device() {
        assert_eq!(mcast6_scope(&"ff02::1:694".parse().unwrap(), 7), 7);
        assert_eq!(mcast6_scope(&"ff12::1".parse().unwrap(), 7), 7);
        assert_eq!(mcast6_scope(&"ff05::694".parse().unwrap(), 7), 0);
    }

    #[tokio::test]
    async fn loopback_ucast_delivers_to_the_shared_receiver() {
        // lo has no broadcast; a ucast to 127.0.0.1 on a free port exercises send and receive
        // without touching any real interface (run as any user).
        let port = {
            let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let spec = Medium::Ucast {
            dev: "lo".into(),
            peer: "127.0.0.1".into(),
            port,
        };
        let mut media = match Media::open(&[spec]) {
            Ok(m) => m,
            Err(MediaError::Socket { source, .. })
                if source.kind() == io::ErrorKind::PermissionDenied =>
            {
                eprintln!("SKIP: binding to a device needs CAP_NET_RAW");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert_eq!(media.links(), ["lo"]);
        let (tx, mut rx) = mpsc::channel(4);
        media.spawn_receivers(tx).unwrap();
        assert_eq!(media.send(b"###\nhello"), 1);
        let got = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((got.link, got.bytes.as_slice()), (0, &b"###\nhello"[..]));
    }
}
