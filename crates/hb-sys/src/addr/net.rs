//! Address values: an IPv4 or IPv6 host address with its prefix length.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use super::{AddrError, parse_host_spec, parse_spec};

/// An IPv4 address together with its prefix length (a host address in a subnet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Net {
    addr: Ipv4Addr,
    prefix: u8,
}

impl Ipv4Net {
    /// `addr/prefix`; fails when `prefix > 32`.
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Self, AddrError> {
        if prefix > 32 {
            return Err(AddrError::InvalidPrefix(prefix.to_string()));
        }
        Ok(Self { addr, prefix })
    }

    /// The host address.
    pub const fn addr(self) -> Ipv4Addr {
        self.addr
    }

    /// The prefix length, 0-32.
    pub const fn prefix(self) -> u8 {
        self.prefix
    }

    /// The netmask as a dotted quad.
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(mask_bits(self.prefix))
    }

    /// The subnet's network address.
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & mask_bits(self.prefix))
    }

    /// Whether `ip` lies in this subnet.
    pub fn contains(self, ip: Ipv4Addr) -> bool {
        let mask = mask_bits(self.prefix);
        u32::from(ip) & mask == u32::from(self.addr) & mask
    }

    /// The broadcast address `ip addr add ... brd +` would set: all host bits set, for
    /// prefixes up to /30; `None` for /31 (RFC 3021 point-to-point) and /32.
    pub fn default_broadcast(self) -> Option<Ipv4Addr> {
        (self.prefix <= 30).then(|| Ipv4Addr::from(u32::from(self.addr) | !mask_bits(self.prefix)))
    }
}

impl fmt::Display for Ipv4Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Ipv4Net {
    type Err = AddrError;

    /// `IP/PREFIX`, the prefix as bits (`24`) or as a dotted netmask (`255.255.255.0`).
    fn from_str(s: &str) -> Result<Self, AddrError> {
        match parse_host_spec(s)? {
            (addr, Some(prefix)) => Ok(Self { addr, prefix }),
            (_, None) => Err(AddrError::InvalidPrefix(String::new())),
        }
    }
}

/// The netmask of a `prefix`-bit IPv4 prefix as a number (prefixes above 32 count as 32).
pub(super) fn mask_bits(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

fn mask_bits_v6(prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => u128::MAX << (128 - u32::from(p.min(128))),
    }
}

/// An IPv4 or IPv6 address together with its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `addr/prefix`; fails when the prefix is longer than the address (32 or 128 bits).
    pub fn new(addr: IpAddr, prefix: u8) -> Result<Self, AddrError> {
        match addr {
            IpAddr::V4(_) if prefix > 32 => Err(AddrError::InvalidPrefix(prefix.to_string())),
            IpAddr::V6(_) if prefix > 128 => Err(AddrError::InvalidIpv6Prefix(prefix.to_string())),
            _ => Ok(Self { addr, prefix }),
        }
    }

    /// The host address.
    pub const fn addr(self) -> IpAddr {
        self.addr
    }

    /// The prefix length (0-32 or 0-128).
    pub const fn prefix(self) -> u8 {
        self.prefix
    }

    /// The IPv4 form, for an IPv4 address.
    pub fn v4(self) -> Option<Ipv4Net> {
        match self.addr {
            IpAddr::V4(addr) => Some(Ipv4Net {
                addr,
                prefix: self.prefix,
            }),
            IpAddr::V6(_) => None,
        }
    }

    /// Whether `ip` lies in this subnet (never for an address of the other family).
    pub fn contains(self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(_), IpAddr::V4(ip)) => self.v4().is_some_and(|n| n.contains(ip)),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = mask_bits_v6(self.prefix);
                u128::from(ip) & mask == u128::from(net) & mask
            }
            _ => false,
        }
    }

    /// [`Ipv4Net::default_broadcast`] for IPv4; `None` for IPv6.
    pub fn default_broadcast(self) -> Option<Ipv4Addr> {
        self.v4().and_then(Ipv4Net::default_broadcast)
    }
}

impl From<Ipv4Net> for IpNet {
    fn from(net: Ipv4Net) -> Self {
        Self {
            addr: IpAddr::V4(net.addr),
            prefix: net.prefix,
        }
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for IpNet {
    type Err = AddrError;

    /// `IP/PREFIX` of either family (see [`parse_spec`]); the prefix is required.
    fn from_str(s: &str) -> Result<Self, AddrError> {
        match parse_spec(s)? {
            (addr, Some(prefix)) => Self::new(addr, prefix),
            (IpAddr::V4(_), None) => Err(AddrError::InvalidPrefix(String::new())),
            (IpAddr::V6(_), None) => Err(AddrError::InvalidIpv6Prefix(String::new())),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn default_broadcast_sets_all_host_bits() {
        assert_eq!(
            net("192.0.2.100/24").default_broadcast(),
            Some(ip("192.0.2.255"))
        );
        assert_eq!(
            net("10.10.10.100/8").default_broadcast(),
            Some(ip("10.255.255.255"))
        );
        assert_eq!(
            net("198.51.100.5/25").default_broadcast(),
            Some(ip("198.51.100.127"))
        );
        assert_eq!(
            net("198.51.100.200/25").default_broadcast(),
            Some(ip("198.51.100.255"))
        );
        assert_eq!(
            net("203.0.113.9/30").default_broadcast(),
            Some(ip("203.0.113.11"))
        );
        assert_eq!(
            net("192.0.2.1/0").default_broadcast(),
            Some(ip("255.255.255.255"))
        );
    }

    #[test]
    fn no_default_broadcast_for_31_and_32() {
        assert_eq!(net("203.0.113.8/31").default_broadcast(), None);
        assert_eq!(net("203.0.113.8/32").default_broadcast(), None);
    }

    #[test]
    fn netmask_network_and_contains() {
        let n = net("192.0.2.100/26");
        assert_eq!(n.netmask(), ip("255.255.255.192"));
        assert_eq!(n.network(), ip("192.0.2.64"));
        assert!(n.contains(ip("192.0.2.127")));
        assert!(!n.contains(ip("192.0.2.128")));
        assert!(net("192.0.2.1/0").contains(ip("203.0.113.1")));
        assert!(net("192.0.2.1/32").contains(ip("192.0.2.1")));
        assert!(!net("192.0.2.1/32").contains(ip("192.0.2.2")));
    }

    #[test]
    fn ipnet_contains_within_its_family_only() {
        let n: IpNet = "2001:db8:1::1/48".parse().unwrap();
        assert!(n.contains("2001:db8:1:ffff::9".parse().unwrap()));
        assert!(!n.contains("2001:db8:2::9".parse().unwrap()));
        assert!(!n.contains("192.0.2.1".parse().unwrap()));
        let all: IpNet = "2001:db8::1/0".parse().unwrap();
        assert!(all.contains("fd00::1".parse().unwrap()));
        let host: IpNet = "2001:db8::1/128".parse().unwrap();
        assert!(host.contains("2001:db8::1".parse().unwrap()));
        assert!(!host.contains("2001:db8::2".parse().unwrap()));
        let v4: IpNet = net("192.0.2.1/24").into();
        assert!(v4.contains("192.0.2.77".parse().unwrap()));
        assert!(!v4.contains("2001:db8::1".parse().unwrap()));
        assert_eq!(v4.default_broadcast(), Some(ip("192.0.2.255")));
        assert_eq!(n.default_broadcast(), None);
        assert_eq!(n.to_string(), "2001:db8:1::1/48");
        assert!("2001:db8::1".parse::<IpNet>().is_err());
        assert!(matches!(
            IpNet::new(IpAddr::V6(ip6("2001:db8::1")), 129),
            Err(AddrError::InvalidIpv6Prefix(_))
        ));
        assert!(matches!(
            IpNet::new(IpAddr::V4(ip("192.0.2.1")), 33),
            Err(AddrError::InvalidPrefix(_))
        ));
    }
}
