//! Heartbeat media: the `bcast`, `ucast`, `mcast`, `ucast6` and `mcast6` directives.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU32;

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
    /// `ucast6 DEV PEER`: UDP over IPv6 unicast to PEER on `port` (the `udpport` of the first
    /// `ucast6` line, as in Heartbeat).
    Ucast6 {
        /// Interface name.
        dev: String,
        /// The peer: an IPv6 address, not multicast, unspecified (`::`) or loopback (`::1`).
        peer: Ipv6Addr,
        /// A numeric scope written after a link-local peer (`fe80::2%3`): it must be the index
        /// of `dev`, which only the daemon can check. `None`: the scope is `dev` (implied, or
        /// written as `%DEV`).
        scope_id: Option<NonZeroU32>,
        /// UDP port.
        port: u16,
    },
    /// `mcast6 DEV GROUP PORT HOPS LOOP`: UDP over IPv6 multicast (not affected by
    /// `udpport`).
    Mcast6 {
        /// Interface name.
        dev: String,
        /// IPv6 multicast group of link-, admin-, site- or organisation-local scope.
        group: Ipv6Addr,
        /// UDP port.
        port: u16,
        /// `IPV6_MULTICAST_HOPS`, 0-4.
        hops: u8,
        /// `IPV6_MULTICAST_LOOP`.
        looped: bool,
    },
}

impl Medium {
    /// The interface the medium sends and receives on.
    #[must_use]
    pub fn dev(&self) -> &str {
        match self {
            Medium::Bcast { dev, .. }
            | Medium::Ucast { dev, .. }
            | Medium::Mcast { dev, .. }
            | Medium::Ucast6 { dev, .. }
            | Medium::Mcast6 { dev, .. } => dev,
        }
    }

    /// The UDP port of the medium.
    #[must_use]
    pub fn port(&self) -> u16 {
        match self {
            Medium::Bcast { port, .. }
            | Medium::Ucast { port, .. }
            | Medium::Mcast { port, .. }
            | Medium::Ucast6 { port, .. }
            | Medium::Mcast6 { port, .. } => *port,
        }
    }
}

/// The medium as an `ha.cf` line with its port, e.g. `bcast eth0 (port 694)`,
/// `mcast eth0 239.0.0.43 694 1 0` or `ucast6 eth0 fe80::12%eth0 (port 694)` (a link-local
/// peer with its scope, as Heartbeat logs it).
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
            Medium::Ucast6 {
                dev,
                peer,
                scope_id,
                port,
            } => {
                write!(f, "ucast6 {dev} {peer}")?;
                match scope_id {
                    Some(id) => write!(f, "%{id}")?,
                    None if peer.is_unicast_link_local() => write!(f, "%{dev}")?,
                    None => {}
                }
                write!(f, " (port {port})")
            }
            Medium::Mcast6 {
                dev,
                group,
                port,
                hops,
                looped,
            } => {
                write!(
                    f,
                    "mcast6 {dev} {group} {port} {hops} {}",
                    u8::from(*looped)
                )
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

/// A `ucast6` medium and, when part of the line was ignored, a warning saying so.
pub(crate) type Ucast6 = (Medium, Option<String>);

/// `ucast6 DEV PEER`, checked as Heartbeat 3.0.6's `ucast6.c` checks it (`ucast6_parse`,
/// `is_valid_ucast6_addr`, `new_ucast6_private`): PEER is a numeric IPv6 address (no host
/// names), not multicast, `::` or `::1`; a `%SCOPE` suffix is an interface or a number on a
/// link-local peer (the interface must be DEV), only a number (ignored) on any other.
/// Words after PEER are the handler's business (Heartbeat ignores them).
pub(crate) fn parse_ucast6(words: &[&str], port: u16) -> Result<Ucast6, String> {
    let [dev, peer, ..] = words else {
        return Err(match words.first() {
            None => "ucast6 needs an interface and a peer: ucast6 DEV PEER".to_owned(),
            Some(dev) => format!("ucast6 needs a peer IPv6 address after '{dev}': ucast6 DEV PEER"),
        });
    };
    check_ifname(dev)?;
    let bad = |why: &str| format!("invalid ucast6 peer '{peer}': {why}");
    let (text, scope) = match peer.split_once('%') {
        Some((a, s)) => (a, Some(s)),
        None => (*peer, None),
    };
    let Ok(ip) = text.parse::<Ipv6Addr>() else {
        return Err(if text.parse::<Ipv4Addr>().is_ok() {
            bad(&format!("an IPv4 address (use ucast {dev} {text})"))
        } else {
            bad("not an IPv6 address (ucast6 takes no host names, as in Heartbeat)")
        });
    };
    if ip.is_multicast() {
        return Err(bad("a multicast address (use mcast6)"));
    }
    if ip.is_unspecified() {
        return Err(bad("the unspecified address"));
    }
    if ip.is_loopback() {
        return Err(bad("the loopback address"));
    }
    let link_local = ip.is_unicast_link_local();
    let mut warning = None;
    let scope_id = match scope {
        None => None,
        Some("") => return Err(bad("empty scope after '%'")),
        Some(n) if n.bytes().all(|b| b.is_ascii_digit()) => {
            let id = n
                .parse::<u32>()
                .map_err(|_| bad(&format!("scope {n} is not a 32-bit number")))?;
            if link_local {
                NonZeroU32::new(id)
            } else {
                warning = Some(format!(
                    "ucast6 peer '{peer}': the scope %{n} of an address that is not link-local \
                     is ignored, as Heartbeat ignores it"
                ));
                None
            }
        }
        Some(name) if !link_local => {
            return Err(bad(&format!(
                "an interface scope (%{name}) needs a link-local address (fe80::/10)"
            )));
        }
        Some(name) if name != *dev => {
            return Err(bad(&format!(
                "its scope {name} is not the device {dev} (leave the scope off: the device \
                 implies it)"
            )));
        }
        Some(_) => None,
    };
    Ok((
        Medium::Ucast6 {
            dev: (*dev).to_owned(),
            peer: ip,
            scope_id,
            port,
        },
        warning,
    ))
}

/// The multicast scopes Heartbeat's `is_valid_mcast6_addr` accepts: link-local (2),
/// admin-local (4), site-local (5) and organisation-local (8).
const MCAST6_SCOPES: [u8; 4] = [0x2, 0x4, 0x5, 0x8];

/// An `mcast6` group, checked as Heartbeat 3.0.6's `is_valid_mcast6_addr` checks it: a
/// multicast address (no `%scope`) whose flags are none or only "transient" (`ff0S`, `ff1S`),
/// whose scope S is 2, 4, 5 or 8 and whose group ID is not zero.
fn parse_mcast6_group(text: &str) -> Result<Ipv6Addr, String> {
    let bad = |why: &str| format!("invalid mcast6 group '{text}': {why}");
    if text.contains('%') {
        return Err(bad("a group takes no %scope (the device is the interface)"));
    }
    let group: Ipv6Addr = text.parse().map_err(|_| bad("not an IPv6 address"))?;
    let [first, flags_scope, id @ ..] = group.octets();
    if first != 0xff {
        return Err(bad("not a multicast address (ff00::/8)"));
    }
    if flags_scope & 0xe0 != 0 {
        return Err(bad(
            "only the transient flag may be set (ff0S:: or ff1S::, as in Heartbeat)",
        ));
    }
    let scope = flags_scope & 0x0f;
    if !MCAST6_SCOPES.contains(&scope) {
        return Err(bad(&format!(
            "scope {scope:x} is not allowed: use 2 (link-local, e.g. ff12::1:694), 4 \
             (admin-local), 5 (site-local) or 8 (organisation-local), as in Heartbeat"
        )));
    }
    if id.iter().all(|b| *b == 0) {
        return Err(bad("group ID 0 is reserved"));
    }
    Ok(group)
}

/// `mcast6 DEV GROUP PORT HOPS LOOP`, checked as Heartbeat 3.0.6's `mcast6_parse` checks it
/// (hops 0-4, loop 0 or 1); see [`parse_mcast6_group`] for the group.
pub(crate) fn parse_mcast6(words: &[&str]) -> Result<Medium, String> {
    let [dev, group, port, hops, looped] = words else {
        return Err(format!(
            "mcast6 needs 5 values: mcast6 DEV GROUP PORT HOPS LOOP (got {})",
            words.len()
        ));
    };
    check_ifname(dev)?;
    let group = parse_mcast6_group(group)?;
    let port = parse_port(port)
        .ok_or_else(|| format!("invalid mcast6 port '{port}': expected 1-65535"))?;
    let hops = hops
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| hops.parse::<u8>().ok())
        .flatten()
        .filter(|h| *h <= 4)
        .ok_or_else(|| format!("invalid mcast6 hops '{hops}': expected 0-4"))?;
    let looped = match *looped {
        "0" => false,
        "1" => true,
        other => return Err(format!("invalid mcast6 loop '{other}': expected 0 or 1")),
    };
    Ok(Medium::Mcast6 {
        dev: (*dev).to_owned(),
        group,
        port,
        hops,
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
        let u6 = Medium::Ucast6 {
            dev: "eth3".into(),
            peer: "2001:db8::12".parse().unwrap(),
            scope_id: None,
            port: 702,
        };
        let m6 = Medium::Mcast6 {
            dev: "eth4".into(),
            group: "ff12::1:694".parse().unwrap(),
            port: 703,
            hops: 1,
            looped: false,
        };
        assert_eq!((u6.dev(), u6.port()), ("eth3", 702));
        assert_eq!((m6.dev(), m6.port()), ("eth4", 703));
    }

    fn ucast6(words: &[&str]) -> Result<Ucast6, String> {
        parse_ucast6(words, 694)
    }

    #[test]
    fn ucast6_takes_a_numeric_ipv6_peer() {
        assert_eq!(
            parse_ucast6(&["eth0", "2001:db8::12"], 700),
            Ok((
                Medium::Ucast6 {
                    dev: "eth0".into(),
                    peer: "2001:db8::12".parse().unwrap(),
                    scope_id: None,
                    port: 700,
                },
                None
            ))
        );
        // Heartbeat's checks: no host names, no multicast, unspecified or loopback address.
        for (peer, why) in [
            (
                "node2",
                "not an IPv6 address (ucast6 takes no host names, as in Heartbeat)",
            ),
            ("192.0.2.12", "an IPv4 address (use ucast eth0 192.0.2.12)"),
            ("ff02::1", "a multicast address (use mcast6)"),
            ("::", "the unspecified address"),
            ("::1", "the loopback address"),
            (
                "2001:db8::g",
                "not an IPv6 address (ucast6 takes no host names, as in Heartbeat)",
            ),
        ] {
            assert_eq!(
                ucast6(&["eth0", peer]),
                Err(format!("invalid ucast6 peer '{peer}': {why}")),
                "{peer}"
            );
        }
        // An IPv4-mapped address is an IPv6 address to Heartbeat too.
        assert!(ucast6(&["eth0", "::ffff:192.0.2.12"]).is_ok());
        assert_eq!(
            ucast6(&["eth0"]),
            Err("ucast6 needs a peer IPv6 address after 'eth0': ucast6 DEV PEER".into())
        );
        assert_eq!(
            ucast6(&[]),
            Err("ucast6 needs an interface and a peer: ucast6 DEV PEER".into())
        );
        assert!(ucast6(&["eth0:1", "2001:db8::12"]).is_err());
    }

    #[test]
    fn ucast6_link_local_peers_take_the_device_as_scope() {
        let ll: Ipv6Addr = "fe80::12".parse().unwrap();
        let medium = |scope_id| Medium::Ucast6 {
            dev: "eth0".into(),
            peer: ll,
            scope_id,
            port: 694,
        };
        assert_eq!(ucast6(&["eth0", "fe80::12"]), Ok((medium(None), None)));
        assert_eq!(ucast6(&["eth0", "fe80::12%eth0"]), Ok((medium(None), None)));
        assert_eq!(ucast6(&["eth0", "fe80::12%0"]), Ok((medium(None), None)));
        assert_eq!(
            ucast6(&["eth0", "fe80::12%3"]),
            Ok((medium(NonZeroU32::new(3)), None))
        );
        assert_eq!(
            medium(None).to_string(),
            "ucast6 eth0 fe80::12%eth0 (port 694)"
        );
        assert_eq!(
            medium(NonZeroU32::new(3)).to_string(),
            "ucast6 eth0 fe80::12%3 (port 694)"
        );
        assert_eq!(
            ucast6(&["eth0", "fe80::12%eth1"]),
            Err(
                "invalid ucast6 peer 'fe80::12%eth1': its scope eth1 is not the device eth0 \
                 (leave the scope off: the device implies it)"
                    .into()
            )
        );
        assert_eq!(
            ucast6(&["eth0", "fe80::12%"]),
            Err("invalid ucast6 peer 'fe80::12%': empty scope after '%'".into())
        );
        assert_eq!(
            ucast6(&["eth0", "fe80::12%4294967296"]),
            Err(
                "invalid ucast6 peer 'fe80::12%4294967296': scope 4294967296 is not a 32-bit \
                 number"
                    .into()
            )
        );
    }

    #[test]
    fn ucast6_scopes_of_other_peers_are_ignored_or_refused_like_heartbeat() {
        // Debian's binary accepts 2001:db8::12%5 (and ignores the number) but refuses
        // 2001:db8::12%eth0 (getaddrinfo: "Name or service not known").
        let (m, warning) = ucast6(&["eth0", "2001:db8::12%5"]).unwrap();
        assert_eq!(m.to_string(), "ucast6 eth0 2001:db8::12 (port 694)");
        assert_eq!(
            warning.as_deref(),
            Some(
                "ucast6 peer '2001:db8::12%5': the scope %5 of an address that is not \
                 link-local is ignored, as Heartbeat ignores it"
            )
        );
        assert_eq!(
            ucast6(&["eth0", "2001:db8::12%eth0"]),
            Err(
                "invalid ucast6 peer '2001:db8::12%eth0': an interface scope (%eth0) needs a \
                 link-local address (fe80::/10)"
                    .into()
            )
        );
    }

    #[test]
    fn mcast6_validates_every_field_like_heartbeat() {
        assert_eq!(
            parse_mcast6(&["eth0", "ff12::1:2:3:4", "694", "1", "0"]),
            Ok(Medium::Mcast6 {
                dev: "eth0".into(),
                group: "ff12::1:2:3:4".parse().unwrap(),
                port: 694,
                hops: 1,
                looped: false,
            })
        );
        assert_eq!(
            parse_mcast6(&["eth0", "ff08::694", "7000", "4", "1"])
                .unwrap()
                .to_string(),
            "mcast6 eth0 ff08::694 7000 4 1"
        );
        // Scopes 2, 4, 5 and 8, with or without the transient flag.
        for ok in ["ff02::1:694", "ff14::1", "ff05::694", "ff18::1", "ff02::1"] {
            assert!(parse_mcast6(&["eth0", ok, "694", "1", "0"]).is_ok(), "{ok}");
        }
        let group_error = |g: &str| parse_mcast6(&["eth0", g, "694", "1", "0"]).unwrap_err();
        for (group, why) in [
            ("2001:db8::1", "not a multicast address (ff00::/8)"),
            ("239.0.0.1", "not an IPv6 address"),
            (
                "ff02::1%eth0",
                "a group takes no %scope (the device is the interface)",
            ),
            (
                "ff32::694",
                "only the transient flag may be set (ff0S:: or ff1S::, as in Heartbeat)",
            ),
            ("ff02::", "group ID 0 is reserved"),
        ] {
            assert_eq!(
                group_error(group),
                format!("invalid mcast6 group '{group}': {why}")
            );
        }
        for scope in [
            "ff00::1", "ff01::1", "ff03::1", "ff06::1", "ff0e::1", "ff1f::1",
        ] {
            assert!(
                group_error(scope).contains("is not allowed: use 2 (link-local"),
                "{scope}"
            );
        }
        let error = |w: &[&str]| parse_mcast6(w).unwrap_err();
        assert_eq!(
            error(&["eth0", "ff02::1:694", "694", "5", "0"]),
            "invalid mcast6 hops '5': expected 0-4"
        );
        assert_eq!(
            error(&["eth0", "ff02::1:694", "694", "x", "0"]),
            "invalid mcast6 hops 'x': expected 0-4"
        );
        assert_eq!(
            error(&["eth0", "ff02::1:694", "694", "1", "2"]),
            "invalid mcast6 loop '2': expected 0 or 1"
        );
        assert_eq!(
            error(&["eth0", "ff02::1:694", "0", "1", "0"]),
            "invalid mcast6 port '0': expected 1-65535"
        );
        assert_eq!(
            error(&["eth0", "ff02::1:694", "694", "1"]),
            "mcast6 needs 5 values: mcast6 DEV GROUP PORT HOPS LOOP (got 4)"
        );
        assert!(parse_mcast6(&["eth0/1", "ff02::1:694", "694", "1", "0"]).is_err());
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
