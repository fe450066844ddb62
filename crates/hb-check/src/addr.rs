//! Addresses of LVS virtual services and real servers: `IPv4:PORT` or `[IPv6]:PORT`, and real
//! server lists `ADDR:PORT[:WEIGHT],...` as ipvsadm and the `ipvs` agent write them.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

/// The largest weight accepted (ipvsadm's limit is INT_MAX; nobody needs more than this).
pub const MAX_WEIGHT: u32 = 65_535;

/// Why an address did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// Not `IP:PORT` / `[IPv6]:PORT`.
    #[error("'{0}' is not ADDRESS:PORT (IPv4 as 192.0.2.10:80, IPv6 as [2001:db8::10]:80)")]
    Shape(String),
    /// The address part is not an IP literal.
    #[error("'{0}' is not an IPv4 or IPv6 address")]
    Ip(String),
    /// The address cannot be a service or server address.
    #[error("{0} cannot be used here (unspecified, multicast or broadcast address)")]
    Unusable(IpAddr),
    /// Not a port number 1-65535.
    #[error("'{0}' is not a port number 1-65535")]
    Port(String),
    /// Not a weight 0-65535.
    #[error("'{0}' is not a weight 0-{MAX_WEIGHT}")]
    Weight(String),
    /// An empty list or an empty element in a list.
    #[error("empty real server in list '{0}'")]
    EmptyItem(String),
    /// The same server twice.
    #[error("real server {0} is listed twice")]
    Duplicate(SocketAddr),
}

/// One real server of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RealServer {
    /// Its address and port.
    pub addr: SocketAddr,
    /// Its ipvsadm weight (0 = quiesced: in the table, no new connections).
    pub weight: u32,
}

fn parse_port(s: &str) -> Result<u16, AddrError> {
    let bad = || AddrError::Port(s.to_owned());
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(bad()),
        Ok(p) => Ok(p),
    }
}

fn parse_weight(s: &str) -> Result<u32, AddrError> {
    let bad = || AddrError::Weight(s.to_owned());
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let w: u32 = s.parse().map_err(|_| bad())?;
    if w > MAX_WEIGHT {
        return Err(bad());
    }
    Ok(w)
}

fn usable(ip: IpAddr) -> Result<IpAddr, AddrError> {
    let bad = match ip {
        IpAddr::V4(v4) => v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
    };
    if bad {
        Err(AddrError::Unusable(ip))
    } else {
        Ok(ip)
    }
}

/// Splits `ADDR:REST` / `[V6]:REST` into the IP and the rest after the first colon that
/// follows the address.
fn split_ip(s: &str) -> Result<(IpAddr, &str), AddrError> {
    let shape = || AddrError::Shape(s.to_owned());
    if let Some(inner) = s.strip_prefix('[') {
        let (ip, rest) = inner.split_once(']').ok_or_else(shape)?;
        let rest = rest.strip_prefix(':').ok_or_else(shape)?;
        let ip: std::net::Ipv6Addr = ip.parse().map_err(|_| AddrError::Ip(ip.to_owned()))?;
        Ok((usable(IpAddr::V6(ip))?, rest))
    } else {
        let (ip, rest) = s.split_once(':').ok_or_else(shape)?;
        let ip: std::net::Ipv4Addr = ip.parse().map_err(|_| AddrError::Ip(ip.to_owned()))?;
        Ok((usable(IpAddr::V4(ip))?, rest))
    }
}

/// Parses a service or server endpoint, `192.0.2.100:80` or `[2001:db8::100]:80`.
///
/// # Errors
/// [`AddrError`] naming the bad part.
pub fn parse_endpoint(s: &str) -> Result<SocketAddr, AddrError> {
    let (ip, rest) = split_ip(s.trim())?;
    Ok(SocketAddr::new(ip, parse_port(rest)?))
}

/// Parses one real server, `ADDR:PORT[:WEIGHT]` (weight 1 when absent).
///
/// # Errors
/// [`AddrError`] naming the bad part.
pub fn parse_real_server(s: &str) -> Result<RealServer, AddrError> {
    let s = s.trim();
    let (ip, rest) = split_ip(s)?;
    let (port, weight) = match rest.split_once(':') {
        Some((p, w)) => (parse_port(p)?, parse_weight(w)?),
        None => (parse_port(rest)?, 1),
    };
    Ok(RealServer {
        addr: SocketAddr::new(ip, port),
        weight,
    })
}

/// Parses a comma-separated real server list (blanks around items are ignored). Each item may
/// itself come from a separate argument: `items` are joined first.
///
/// # Errors
/// [`AddrError`] for a bad item, an empty item or a server listed twice.
pub fn parse_real_servers<S: AsRef<str>>(items: &[S]) -> Result<Vec<RealServer>, AddrError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for item in items {
        let item = item.as_ref();
        for part in item.split(',') {
            if part.trim().is_empty() {
                return Err(AddrError::EmptyItem(item.to_owned()));
            }
            let rs = parse_real_server(part)?;
            if !seen.insert(rs.addr) {
                return Err(AddrError::Duplicate(rs.addr));
            }
            out.push(rs);
        }
    }
    if out.is_empty() {
        return Err(AddrError::EmptyItem(String::new()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn endpoints_v4_and_v6() {
        assert_eq!(parse_endpoint("192.0.2.100:80"), Ok(sa("192.0.2.100:80")));
        assert_eq!(
            parse_endpoint(" [2001:db8::64]:443 "),
            Ok(sa("[2001:db8::64]:443"))
        );
        assert_eq!(
            parse_endpoint("192.0.2.100"),
            Err(AddrError::Shape("192.0.2.100".into()))
        );
        assert_eq!(
            parse_endpoint("192.0.2.100:0"),
            Err(AddrError::Port("0".into()))
        );
        assert_eq!(
            parse_endpoint("192.0.2.100:65536"),
            Err(AddrError::Port("65536".into()))
        );
        assert_eq!(
            parse_endpoint("192.0.2.100:+80"),
            Err(AddrError::Port("+80".into()))
        );
        assert_eq!(
            parse_endpoint("300.0.2.1:80"),
            Err(AddrError::Ip("300.0.2.1".into()))
        );
        assert_eq!(
            parse_endpoint("www.example.com:80"),
            Err(AddrError::Ip("www.example.com".into()))
        );
        assert!(matches!(
            parse_endpoint("0.0.0.0:80"),
            Err(AddrError::Unusable(_))
        ));
        assert!(matches!(
            parse_endpoint("224.0.0.1:80"),
            Err(AddrError::Unusable(_))
        ));
        assert!(matches!(
            parse_endpoint("[ff02::1]:80"),
            Err(AddrError::Unusable(_))
        ));
        assert!(matches!(
            parse_endpoint("2001:db8::1:80"),
            Err(AddrError::Ip(_))
        ));
        assert!(matches!(
            parse_endpoint("[2001:db8::1]80"),
            Err(AddrError::Shape(_))
        ));
        assert!(matches!(
            parse_endpoint("[2001:db8::1:80"),
            Err(AddrError::Shape(_))
        ));
    }

    #[test]
    fn real_servers_with_and_without_weight() {
        assert_eq!(
            parse_real_server("192.0.2.11:80"),
            Ok(RealServer {
                addr: sa("192.0.2.11:80"),
                weight: 1
            })
        );
        assert_eq!(
            parse_real_server("192.0.2.11:80:0"),
            Ok(RealServer {
                addr: sa("192.0.2.11:80"),
                weight: 0
            })
        );
        assert_eq!(
            parse_real_server("[2001:db8::11]:80:3"),
            Ok(RealServer {
                addr: sa("[2001:db8::11]:80"),
                weight: 3
            })
        );
        assert_eq!(
            parse_real_server("192.0.2.11:80:65536"),
            Err(AddrError::Weight("65536".into()))
        );
        assert_eq!(
            parse_real_server("192.0.2.11:80:1:2"),
            Err(AddrError::Weight("1:2".into()))
        );
        assert_eq!(
            parse_real_server("192.0.2.11:80:"),
            Err(AddrError::Weight(String::new()))
        );
    }

    #[test]
    fn lists_reject_empty_items_and_duplicates() {
        let list =
            parse_real_servers(&["192.0.2.11:80, 192.0.2.12:80:2", "192.0.2.13:80"]).unwrap();
        let addrs: Vec<_> = list.iter().map(|r| (r.addr, r.weight)).collect();
        assert_eq!(
            addrs,
            vec![
                (sa("192.0.2.11:80"), 1),
                (sa("192.0.2.12:80"), 2),
                (sa("192.0.2.13:80"), 1)
            ]
        );
        assert!(matches!(
            parse_real_servers(&["192.0.2.11:80,,192.0.2.12:80"]),
            Err(AddrError::EmptyItem(_))
        ));
        assert!(matches!(
            parse_real_servers::<&str>(&[]),
            Err(AddrError::EmptyItem(_))
        ));
        assert_eq!(
            parse_real_servers(&["192.0.2.11:80,192.0.2.11:80:5"]),
            Err(AddrError::Duplicate(sa("192.0.2.11:80")))
        );
    }
}
