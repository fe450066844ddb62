//! Heartbeat media: the `bcast`, `ucast` and `mcast` directives.

use std::net::Ipv4Addr;

use crate::value::{check_ifname, check_peer};

/// Heartbeat's default UDP port (IANA `ha-cluster`).
pub const DEFAULT_UDPPORT: u16 = 694;

/// One heartbeat communication path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Medium {
    /// `bcast DEV`: UDP broadcast to DEV's IPv4 broadcast address on `port` (the `udpport`
    /// in effect on the `bcast` line).
    Bcast {
        /// Interface name.
        dev: String,
        /// UDP port.
        port: u16,
    },
    /// `ucast DEV PEER`: UDP unicast to PEER (IPv4 address or host name) on `port` (the
    /// `udpport` in effect on the `ucast` line).
    Ucast {
        /// Interface name.
        dev: String,
        /// The peer's IPv4 address or host name, as written.
        peer: String,
        /// UDP port.
        port: u16,
    },
    /// `mcast DEV GROUP PORT TTL LOOP`: UDP multicast (not affected by `udpport`).
    Mcast {
        /// Interface name.
        dev: String,
        /// IPv4 multicast group (224.0.0.0/4).
        group: Ipv4Addr,
        /// UDP port.
        port: u16,
        /// IP multicast TTL.
        ttl: u8,
        /// `IP_MULTICAST_LOOP`.
        looped: bool,
    },
}

impl Medium {
    /// The interface the medium sends and receives on.
    #[must_use]
    pub fn dev(&self) -> &str {
        match self {
            Medium::Bcast { dev, .. } | Medium::Ucast { dev, .. } | Medium::Mcast { dev, .. } => {
                dev
            }
        }
    }

    /// The UDP port of the medium.
    #[must_use]
    pub fn port(&self) -> u16 {
        match self {
            Medium::Bcast { port, .. }
            | Medium::Ucast { port, .. }
            | Medium::Mcast { port, .. } => *port,
        }
    }
}

/// The medium as an `ha.cf` line with its port, e.g. `bcast eth0 (port 694)` or
/// `mcast eth0 239.0.0.43 694 1 0`.
impl std::fmt::Display for Medium {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Medium::Bcast { dev, port } => write!(f, "bcast {dev} (port {port})"),
            Medium::Ucast { dev, peer, port } => write!(f, "ucast {dev} {peer} (port {port})"),
            Medium::Mcast {
                dev,
                group,
                port,
                ttl,
                looped,
            } => {
                write!(f, "mcast {dev} {group} {port} {ttl} {}", u8::from(*looped))
            }
        }
    }
}

/// Parses a port number 1-65535.
pub(crate) fn parse_port(s: &str) -> Option<u16> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|&p| p != 0)
}

/// `bcast DEV [DEV...]`: one medium per interface.
pub(crate) fn parse_bcast(devs: &[&str], port: u16) -> Result<Vec<Medium>, String> {
    if devs.is_empty() {
        return Err("bcast needs at least one interface: bcast DEV [DEV...]".to_owned());
    }
    devs.iter()
        .map(|dev| {
            check_ifname(dev)?;
            Ok(Medium::Bcast {
                dev: (*dev).to_owned(),
                port,
            })
        })
        .collect()
}

/// `ucast DEV PEER [PEER...]`: one medium per peer (the ha.cf handler passes one peer, as
/// Heartbeat reads only the first).
pub(crate) fn parse_ucast(words: &[&str], port: u16) -> Result<Vec<Medium>, String> {
    let Some((dev, peers)) = words.split_first() else {
        return Err("ucast needs an interface and a peer: ucast DEV PEER".to_owned());
    };
    if peers.is_empty() {
        return Err(format!(
            "ucast needs a peer address after '{dev}': ucast DEV PEER"
        ));
    }
    check_ifname(dev)?;
    peers
        .iter()
        .map(|peer| {
            check_peer(peer).map_err(|e| format!("invalid ucast peer: {e}"))?;
            Ok(Medium::Ucast {
                dev: (*dev).to_owned(),
                peer: (*peer).to_owned(),
                port,
            })
        })
        .collect()
}

/// `mcast DEV GROUP PORT TTL LOOP`.
pub(crate) fn parse_mcast(words: &[&str]) -> Result<Medium, String> {
    let [dev, group, port, ttl, looped] = words else {
        return Err(format!(
            "mcast needs 5 values: mcast DEV GROUP PORT TTL LOOP (got {})",
            words.len()
        ));
    };
    check_ifname(dev)?;
    let group: Ipv4Addr = group
        .parse()
        .ok()
        .filter(Ipv4Addr::is_multicast)
        .ok_or_else(|| {
            format!("mcast group '{group}' is not an IPv4 multicast address (224.0.0.0/4)")
        })?;
    let port =
        parse_port(port).ok_or_else(|| format!("invalid mcast port '{port}': expected 1-65535"))?;
    let ttl = ttl
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| ttl.parse::<u8>().ok())
        .flatten()
        .ok_or_else(|| format!("invalid mcast ttl '{ttl}': expected 0-255"))?;
    let looped = match *looped {
        "0" => false,
        "1" => true,
        other => return Err(format!("invalid mcast loop '{other}': expected 0 or 1")),
    };
    Ok(Medium::Mcast {
        dev: (*dev).to_owned(),
        group,
        port,
        ttl,
        looped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_cover_every_kind() {
        let b = Medium::Bcast {
            dev: "eth0".into(),
            port: 694,
        };
        let u = Medium::Ucast {
            dev: "eth1".into(),
            peer: "192.0.2.12".into(),
            port: 700,
        };
        let m = Medium::Mcast {
            dev: "eth2".into(),
            group: Ipv4Addr::new(239, 0, 0, 1),
            port: 701,
            ttl: 1,
            looped: false,
        };
        assert_eq!((b.dev(), b.port()), ("eth0", 694));
        assert_eq!((u.dev(), u.port()), ("eth1", 700));
        assert_eq!((m.dev(), m.port()), ("eth2", 701));
    }

    #[test]
    fn ports_are_1_to_65535() {
        assert_eq!(parse_port("694"), Some(694));
        assert_eq!(parse_port("65535"), Some(65535));
        assert_eq!(parse_port("0"), None);
        assert_eq!(parse_port("65536"), None);
        assert_eq!(parse_port("+1"), None);
        assert_eq!(parse_port("69x"), None);
    }

    #[test]
    fn bcast_makes_one_medium_per_device() {
        assert_eq!(
            parse_bcast(&["eth0", "eth1"], 695),
            Ok(vec![
                Medium::Bcast {
                    dev: "eth0".into(),
                    port: 695
                },
                Medium::Bcast {
                    dev: "eth1".into(),
                    port: 695
                },
            ])
        );
        assert!(parse_bcast(&[], 694).is_err());
    }

    #[test]
    fn mcast_validates_every_field() {
        assert_eq!(
            parse_mcast(&["eth0", "239.0.0.43", "694", "255", "1"]),
            Ok(Medium::Mcast {
                dev: "eth0".into(),
                group: Ipv4Addr::new(239, 0, 0, 43),
                port: 694,
                ttl: 255,
                looped: true,
            })
        );
        assert_eq!(
            parse_mcast(&["eth0", "10.0.0.1", "694", "1", "0"]),
            Err("mcast group '10.0.0.1' is not an IPv4 multicast address (224.0.0.0/4)".into())
        );
        assert_eq!(
            parse_mcast(&["eth0", "239.0.0.1", "694", "256", "0"]),
            Err("invalid mcast ttl '256': expected 0-255".into())
        );
        assert_eq!(
            parse_mcast(&["eth0", "239.0.0.1", "694", "1", "2"]),
            Err("invalid mcast loop '2': expected 0 or 1".into())
        );
        assert_eq!(
            parse_mcast(&["eth0", "239.0.0.1", "0", "1", "0"]),
            Err("invalid mcast port '0': expected 1-65535".into())
        );
        assert_eq!(
            parse_mcast(&["eth0", "239.0.0.1"]),
            Err("mcast needs 5 values: mcast DEV GROUP PORT TTL LOOP (got 2)".into())
        );
    }

    #[test]
    fn ucast_needs_device_and_peer() {
        assert_eq!(
            parse_ucast(&["eth0", "192.0.2.12"], 694),
            Ok(vec![Medium::Ucast {
                dev: "eth0".into(),
                peer: "192.0.2.12".into(),
                port: 694
            }])
        );
        assert_eq!(
            parse_ucast(&["eth0"], 694),
            Err("ucast needs a peer address after 'eth0': ucast DEV PEER".into())
        );
        assert_eq!(
            parse_ucast(&["eth0", "1.2.3.256"], 694),
            Err("invalid ucast peer: invalid IPv4 address '1.2.3.256'".into())
        );
        assert_eq!(
            parse_ucast(&["eth0", "a", "b"], 694).map(|v| v.len()),
            Ok(2)
        );
    }
}
