//! Heartbeat media: UDP sockets for `bcast`, `ucast` and `mcast` (spec §9), built with socket2,
//! for the media `hb-config` parsed ([`Medium`]).
//!
//! Every configured medium gets a send socket bound to its device. Receive sockets are shared
//! per (device, port): one socket bound to `0.0.0.0:port` on the device receives broadcasts
//! and unicasts arriving there; each `mcast` line gets its own socket that joins the group on
//! the device. Received datagrams are reported with the index of their link (the device, as
//! Heartbeat names links), in the order of [`Media::links`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
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
        let mut shared_rx: Vec<(String, u16)> = Vec::new();
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
            let tx = udp_socket().map_err(sock_err("socket"))?;
            tx.bind_device(Some(dev.as_bytes()))
                .map_err(sock_err("bind to device"))?;
            let dest = match spec {
                Medium::Bcast { port, .. } => {
                    tx.set_broadcast(true).map_err(sock_err("SO_BROADCAST"))?;
                    let brd = addrs
                        .iter()
                        .find_map(|(name, a)| if name == dev { a.broadcast } else { None })
                        .unwrap_or(Ipv4Addr::BROADCAST);
                    SocketAddrV4::new(brd, *port)
                }
                Medium::Ucast { peer, port, .. } => {
                    tx.set_tos_v4(IPTOS_LOWDELAY).map_err(sock_err("IP_TOS"))?;
                    SocketAddrV4::new(resolve(dev, peer)?, *port)
                }
                Medium::Mcast {
                    group,
                    port,
                    ttl,
                    looped,
                    ..
                } => {
                    // Heartbeat sets IP_MULTICAST_IF to the device's address; the socket is
                    // bound to the device as well.
                    if let Some((_, a)) = addrs
                        .iter()
                        .find(|(name, a)| name == dev && a.addr.is_some())
                    {
                        let local = a.addr.unwrap_or(Ipv4Addr::UNSPECIFIED);
                        tx.set_multicast_if_v4(&local)
                            .map_err(sock_err("IP_MULTICAST_IF"))?;
                    }
                    tx.set_multicast_ttl_v4(u32::from(*ttl))
                        .map_err(sock_err("IP_MULTICAST_TTL"))?;
                    tx.set_multicast_loop_v4(*looped)
                        .map_err(sock_err("IP_MULTICAST_LOOP"))?;
                    SocketAddrV4::new(*group, *port)
                }
            };
            tx.set_nonblocking(true).map_err(sock_err("non-blocking"))?;
            senders.push(Sender {
                socket: tx.into(),
                dest: dest.into(),
                label: label.clone(),
            });

            // Receiving.
            let rx = match spec {
                Medium::Mcast { group, port, .. } => {
                    let rx = udp_socket().map_err(sock_err("socket"))?;
                    rx.set_reuse_address(true)
                        .map_err(sock_err("SO_REUSEADDR"))?;
                    rx.bind_device(Some(dev.as_bytes()))
                        .map_err(sock_err("bind to device"))?;
                    rx.bind(&SockAddr::from(SocketAddrV4::new(*group, *port)))
                        .map_err(sock_err("bind"))?;
                    rx.join_multicast_v4_n(
                        group,
                        &socket2::InterfaceIndexOrAddress::Index(ifindex),
                    )
                    .map_err(sock_err("join the multicast group"))?;
                    Some(rx)
                }
                Medium::Bcast { port, .. } | Medium::Ucast { port, .. } => {
                    if shared_rx.iter().any(|(d, p)| d == dev && p == port) {
                        None
                    } else {
                        shared_rx.push((dev.to_string(), *port));
                        let rx = udp_socket().map_err(sock_err("socket"))?;
                        rx.set_reuse_address(true)
                            .map_err(sock_err("SO_REUSEADDR"))?;
                        rx.set_reuse_port(true).map_err(sock_err("SO_REUSEPORT"))?;
                        rx.bind_device(Some(dev.as_bytes()))
                            .map_err(sock_err("bind to device"))?;
                        rx.bind(&SockAddr::from(SocketAddrV4::new(
                            Ipv4Addr::UNSPECIFIED,
                            *port,
                        )))
                        .map_err(sock_err("bind"))?;
                        Some(rx)
                    }
                }
            };
            if let Some(rx) = rx {
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
