//! Interfaces as the kernel reports them, and the choice of the interface that serves an
//! address. Pure: the values come from [`Netlink`](super::Netlink) or from tests.

use std::net::{IpAddr, Ipv4Addr};

use super::{AddrError, IpNet};

/// One address configured on an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfAddr {
    /// Local address and prefix length.
    pub net: IpNet,
    /// The peer address of a point-to-point entry (IFA_ADDRESS when it differs from the local).
    pub peer: Option<IpAddr>,
    /// Broadcast address, if any (IPv4 only).
    pub broadcast: Option<Ipv4Addr>,
    /// Address label (`eth0`, `eth0:0`), if the kernel reported one (IPv4 only).
    pub label: Option<String>,
    /// Whether the kernel marked it secondary (another address of the same subnet is primary;
    /// IPv4 only).
    pub secondary: bool,
}

/// A network interface with its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Device name.
    pub name: String,
    /// Kernel interface index.
    pub index: u32,
    /// Ethernet hardware address, when the link has one.
    pub mac: Option<[u8; 6]>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Whether the link resolves neighbours (Ethernet, not loopback, no IFF_NOARP): ARP for
    /// IPv4, neighbour discovery for IPv6.
    pub arp: bool,
    /// IPv4 and IPv6 addresses, in kernel order.
    pub addrs: Vec<IfAddr>,
}

impl Interface {
    /// The entries for `ip` (with exactly `prefix`, if given).
    pub fn entries(
        &self,
        ip: impl Into<IpAddr>,
        prefix: Option<u8>,
    ) -> impl Iterator<Item = &IfAddr> {
        let ip = ip.into();
        self.addrs
            .iter()
            .filter(move |a| a.net.addr() == ip && prefix.is_none_or(|p| a.net.prefix() == p))
    }

    /// Whether `ip` (with exactly `prefix`, if given) is configured here.
    pub fn has(&self, ip: impl Into<IpAddr>, prefix: Option<u8>) -> bool {
        self.entries(ip, prefix).next().is_some()
    }
}

/// What [`Netlink::add`](super::Netlink::add) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddOutcome {
    /// The address was added.
    Added,
    /// The address was already configured with the same prefix; nothing changed.
    AlreadyPresent,
}

/// What [`Netlink::delete`](super::Netlink::delete) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DelOutcome {
    /// This many entries were removed.
    Removed(usize),
    /// The address was not configured on the interface.
    NotPresent,
    /// The address is configured, but with another prefix length; it was left alone.
    OtherPrefix(u8),
}

/// An address to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddRequest {
    /// Address and prefix.
    pub net: IpNet,
    /// Label (checked with [`check_label`](super::check_label) against the interface; IPv4 only).
    pub label: Option<String>,
    /// Broadcast; `None` means
    /// [`Ipv4Net::default_broadcast`](super::Ipv4Net::default_broadcast) (IPv4 only).
    pub broadcast: Option<Ipv4Addr>,
}

/// The interface whose configured subnet contains `ip`: the longest matching prefix among
/// primary addresses of the same family. Returns the interface and that prefix length.
///
/// Secondary addresses are skipped (they sit in a subnet some primary already covers) and so
/// are /0 entries. Two interfaces tying on the longest prefix is an error. For IPv6 every
/// address counts (IPv6 has no secondaries); a link-local address only matches the fe80::/64
/// of every interface, so it needs an explicit interface.
pub fn select_interface(
    ifaces: &[Interface],
    ip: impl Into<IpAddr>,
) -> Result<(&Interface, u8), AddrError> {
    let ip = ip.into();
    let mut best: Option<(&Interface, u8)> = None;
    let mut tie: Option<&Interface> = None;
    for iface in ifaces {
        let longest = iface
            .addrs
            .iter()
            .filter(|a| !a.secondary && a.net.prefix() > 0 && a.net.contains(ip))
            .map(|a| a.net.prefix())
            .max();
        let Some(prefix) = longest else { continue };
        match best {
            Some((_, p)) if p > prefix => {}
            Some((_, p)) if p == prefix => tie = Some(iface),
            _ => {
                best = Some((iface, prefix));
                tie = None;
            }
        }
    }
    match (best, tie) {
        (None, _) => Err(AddrError::NoSubnet(ip)),
        (Some((first, prefix)), Some(second)) => Err(AddrError::AmbiguousSubnet {
            ip,
            prefix,
            first: first.name.clone(),
            second: second.name.clone(),
        }),
        (Some(found), None) => Ok(found),
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    fn iface(name: &str, index: u32, addrs: &[(&str, bool)]) -> Interface {
        Interface {
            name: name.into(),
            index,
            mac: Some([2, 0, 0, 0, 0, index as u8]),
            up: true,
            arp: true,
            addrs: addrs
                .iter()
                .map(|(n, secondary)| IfAddr {
                    net: n.parse().unwrap(),
                    peer: None,
                    broadcast: None,
                    label: None,
                    secondary: *secondary,
                })
                .collect(),
        }
    }

    #[test]
    fn select_prefers_the_longest_primary_prefix() {
        let ifaces = [
            iface("lo", 1, &[("127.0.0.1/8", false)]),
            iface("eth0", 2, &[("10.0.0.1/8", false)]),
            iface("eth1", 3, &[("10.1.0.1/16", false)]),
        ];
        let (found, prefix) = select_interface(&ifaces, ip("10.1.2.3")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth1", 16));
        let (found, prefix) = select_interface(&ifaces, ip("10.2.0.9")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth0", 8));
        let (found, prefix) = select_interface(&ifaces, ip("127.0.0.20")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("lo", 8));
    }

    #[test]
    fn select_ignores_secondaries_and_reports_no_subnet() {
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface(
                "eth1",
                3,
                &[("198.51.100.1/24", false), ("203.0.113.1/24", true)],
            ),
        ];
        let err = select_interface(&ifaces, ip("203.0.113.7")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no interface has a subnet containing 203.0.113.7"
        );
    }

    #[test]
    fn select_reports_ambiguity_only_at_the_longest_prefix() {
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface("eth1", 3, &[("192.0.2.2/24", false)]),
        ];
        let err = select_interface(&ifaces, ip("192.0.2.9")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "192.0.2.9 is in a /24 subnet of both eth0 and eth1; name the interface"
        );
        let ifaces = [
            iface("eth0", 2, &[("192.0.2.1/24", false)]),
            iface("eth1", 3, &[("192.0.2.2/24", false)]),
            iface("eth2", 4, &[("192.0.2.3/25", false)]),
        ];
        let (found, prefix) = select_interface(&ifaces, ip("192.0.2.9")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth2", 25));
        // Two primaries of one interface are not ambiguous.
        let ifaces = [iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("192.0.2.200/24", false)],
        )];
        assert_eq!(select_interface(&ifaces, ip("192.0.2.9")).unwrap().1, 24);
    }

    #[test]
    fn entries_match_address_and_optional_prefix() {
        let eth0 = iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("192.0.2.100/24", true)],
        );
        assert!(eth0.has(ip("192.0.2.100"), None));
        assert!(eth0.has(ip("192.0.2.100"), Some(24)));
        assert!(!eth0.has(ip("192.0.2.100"), Some(25)));
        assert!(!eth0.has(ip("192.0.2.101"), None));
    }

    #[test]
    fn select_matches_ipv6_prefixes_and_ignores_the_other_family() {
        let ifaces = [
            iface("lo", 1, &[("127.0.0.1/8", false), ("::1/128", false)]),
            iface(
                "eth0",
                2,
                &[
                    ("192.0.2.1/24", false),
                    ("2001:db8::1/64", false),
                    ("fe80::1/64", false),
                ],
            ),
            iface(
                "eth1",
                3,
                &[("2001:db8::2/32", false), ("fe80::2/64", false)],
            ),
        ];
        let (found, prefix) = select_interface(&ifaces, ip6("2001:db8::10")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth0", 64));
        let (found, prefix) = select_interface(&ifaces, ip6("2001:db8:5::10")).unwrap();
        assert_eq!((found.name.as_str(), prefix), ("eth1", 32));
        assert_eq!(
            select_interface(&ifaces, ip6("2001:db9::1"))
                .unwrap_err()
                .to_string(),
            "no interface has a subnet containing 2001:db9::1"
        );
        // A link-local address matches every link's fe80::/64.
        assert!(matches!(
            select_interface(&ifaces, ip6("fe80::99")),
            Err(AddrError::AmbiguousSubnet { prefix: 64, .. })
        ));
        // An IPv4 address never matches an IPv6 subnet, even ::/0.
        let v6_only = [iface("eth0", 2, &[("2001:db8::1/0", false)])];
        assert!(matches!(
            select_interface(&v6_only, ip("192.0.2.5")),
            Err(AddrError::NoSubnet(_))
        ));
    }

    #[test]
    fn entries_of_an_interface_are_family_exact() {
        let eth0 = iface(
            "eth0",
            2,
            &[("192.0.2.1/24", false), ("2001:db8::10/64", false)],
        );
        assert!(eth0.has(ip6("2001:db8::10"), None));
        assert!(eth0.has(ip6("2001:db8::10"), Some(64)));
        assert!(!eth0.has(ip6("2001:db8::10"), Some(128)));
        assert!(!eth0.has(ip6("::ffff:192.0.2.1"), None));
        assert!(eth0.has(ip("192.0.2.1"), Some(24)));
    }
}
