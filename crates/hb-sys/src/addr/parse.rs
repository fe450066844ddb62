//! Parsing and validation of what an operator writes: addresses, prefixes, interface names
//! and labels. Everything here is pure.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::net::mask_bits;
use super::{AddrError, MAX_IFNAME_LEN};

/// Parses a strict dotted-quad IPv4 address (`300.1.1.1`, `1.2.3`, `01.2.3.4` are refused).
pub fn parse_ipv4(s: &str) -> Result<Ipv4Addr, AddrError> {
    Ipv4Addr::from_str(s).map_err(|_| AddrError::InvalidAddress(s.to_owned()))
}

/// Parses an IPv4 address (see [`parse_ipv4`]) or, when the text contains a `:`, an IPv6
/// address in RFC 4291 text form (no zone index, no brackets).
pub fn parse_ip(s: &str) -> Result<IpAddr, AddrError> {
    if s.contains(':') {
        Ipv6Addr::from_str(s)
            .map(IpAddr::V6)
            .map_err(|_| AddrError::InvalidIpv6Address(s.to_owned()))
    } else {
        parse_ipv4(s).map(IpAddr::V4)
    }
}

/// Parses a prefix length (`0`-`32`) or a contiguous dotted netmask (`255.255.255.0`).
pub fn parse_prefix(s: &str) -> Result<u8, AddrError> {
    let invalid = || AddrError::InvalidPrefix(s.to_owned());
    if s.contains('.') {
        let mask = u32::from(Ipv4Addr::from_str(s).map_err(|_| invalid())?);
        let prefix = mask.leading_ones();
        if mask_bits(prefix as u8) != mask {
            return Err(invalid());
        }
        return u8::try_from(prefix).map_err(|_| invalid());
    }
    if s.is_empty() || s.len() > 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 32 => Ok(p),
        _ => Err(invalid()),
    }
}

/// Parses an IPv6 prefix length: `0`-`128`, decimal digits only.
pub fn parse_ipv6_prefix(s: &str) -> Result<u8, AddrError> {
    let invalid = || AddrError::InvalidIpv6Prefix(s.to_owned());
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<u8>() {
        Ok(p) if p <= 128 => Ok(p),
        _ => Err(invalid()),
    }
}

/// Parses `IP` or `IP/PREFIX` (prefix as bits or dotted netmask) and checks that the address
/// can be assigned to an interface (see [`check_assignable`]). IPv4 only; see [`parse_spec`].
pub fn parse_host_spec(s: &str) -> Result<(Ipv4Addr, Option<u8>), AddrError> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, prefix)) => (ip, Some(parse_prefix(prefix)?)),
        None => (s, None),
    };
    let ip = parse_ipv4(ip)?;
    check_assignable(ip)?;
    Ok((ip, prefix))
}

/// Parses `IP` or `IP/PREFIX` of either family: an IPv4 address with a prefix of 0-32 bits or
/// a dotted netmask, or an IPv6 address with a prefix of 0-128 bits. The address is checked
/// first (so `300.1.1.1/99` is an address error) and must be assignable (see
/// [`check_assignable_ip`]).
pub fn parse_spec(s: &str) -> Result<(IpAddr, Option<u8>), AddrError> {
    let (ip, prefix) = match s.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (s, None),
    };
    let ip = parse_ip(ip)?;
    let prefix = match (ip, prefix) {
        (_, None) => None,
        (IpAddr::V4(_), Some(p)) => Some(parse_prefix(p)?),
        (IpAddr::V6(_), Some(p)) => Some(parse_ipv6_prefix(p)?),
    };
    check_assignable_ip(ip)?;
    Ok((ip, prefix))
}

/// Refuses addresses that can never be a host address: 0.0.0.0, multicast, 255.255.255.255.
pub fn check_assignable(ip: Ipv4Addr) -> Result<(), AddrError> {
    if ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast() {
        return Err(AddrError::UnusableAddress(ip));
    }
    Ok(())
}

/// [`check_assignable`] for IPv4; for IPv6 refuses `::`, multicast and IPv4-mapped
/// (`::ffff:a.b.c.d`) addresses.
pub fn check_assignable_ip(ip: IpAddr) -> Result<(), AddrError> {
    match ip {
        IpAddr::V4(ip) => check_assignable(ip),
        IpAddr::V6(ip) => {
            if ip.is_unspecified() || ip.is_multicast() || ip.to_ipv4_mapped().is_some() {
                return Err(AddrError::UnusableIpv6Address(ip));
            }
            Ok(())
        }
    }
}

/// Checks an interface name the way the kernel does: 1-15 bytes, not `.`/`..`, no `/`, `:` or
/// white space.
pub fn check_ifname(name: &str) -> Result<(), AddrError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_IFNAME_LEN
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(AddrError::InvalidInterfaceName(name.to_owned()))
    }
}

/// Checks an address label for device `dev`: at most 15 bytes and either `dev` itself or
/// `dev:` followed by at least one character (the rule `ip addr add ... label` enforces).
pub fn check_label(label: &str, dev: &str) -> Result<(), AddrError> {
    let invalid = |reason: String| AddrError::InvalidLabel {
        label: label.to_owned(),
        reason,
    };
    if label.len() > MAX_IFNAME_LEN {
        return Err(invalid(format!("longer than {MAX_IFNAME_LEN} characters")));
    }
    if label
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(invalid(
            "contains '/', white space or control characters".into(),
        ));
    }
    let ok = label == dev
        || label
            .strip_prefix(dev)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|suffix| !suffix.is_empty());
    if !ok {
        return Err(invalid(format!("must be '{dev}' or start with '{dev}:'")));
    }
    Ok(())
}

/// Checks that `label` and `broadcast` make sense for `ip`: IPv6 addresses have neither.
pub fn check_family_options(
    ip: IpAddr,
    label: Option<&str>,
    broadcast: bool,
) -> Result<(), AddrError> {
    let IpAddr::V6(ip) = ip else { return Ok(()) };
    if let Some(label) = label {
        return Err(AddrError::LabelOnIpv6 {
            ip,
            label: label.to_owned(),
        });
    }
    if broadcast {
        return Err(AddrError::BroadcastOnIpv6(ip));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::addr::Ipv4Net;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn ip6(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn prefix_accepts_bits_and_dotted_masks() {
        assert_eq!(parse_prefix("24").unwrap(), 24);
        assert_eq!(parse_prefix("0").unwrap(), 0);
        assert_eq!(parse_prefix("32").unwrap(), 32);
        assert_eq!(parse_prefix("255.255.255.0").unwrap(), 24);
        assert_eq!(parse_prefix("255.255.128.0").unwrap(), 17);
        assert_eq!(parse_prefix("0.0.0.0").unwrap(), 0);
        assert_eq!(parse_prefix("255.255.255.255").unwrap(), 32);
    }

    #[test]
    fn prefix_rejects_garbage() {
        for bad in [
            "33",
            "",
            "-1",
            "+4",
            "2 4",
            "100",
            "255.0.255.0",
            "255.255.255.1",
            "1.2.3",
            "x",
        ] {
            assert!(
                matches!(parse_prefix(bad), Err(AddrError::InvalidPrefix(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn ipv4_parsing_is_strict() {
        assert_eq!(parse_ipv4("192.0.2.1").unwrap(), ip("192.0.2.1"));
        for bad in [
            "300.1.1.1",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            " 1.2.3.4",
            "",
            "eth0",
            "1.2.3.4/24",
        ] {
            assert!(
                matches!(parse_ipv4(bad), Err(AddrError::InvalidAddress(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn host_spec_with_and_without_prefix() {
        assert_eq!(
            parse_host_spec("192.0.2.100").unwrap(),
            (ip("192.0.2.100"), None)
        );
        assert_eq!(
            parse_host_spec("192.0.2.100/24").unwrap(),
            (ip("192.0.2.100"), Some(24))
        );
        assert_eq!(
            parse_host_spec("192.0.2.100/255.255.0.0").unwrap(),
            (ip("192.0.2.100"), Some(16))
        );
        assert!(matches!(
            parse_host_spec("192.0.2.100/"),
            Err(AddrError::InvalidPrefix(_))
        ));
        assert!(matches!(
            parse_host_spec("300.1.1.1/24"),
            Err(AddrError::InvalidAddress(_))
        ));
        assert!(matches!(
            parse_host_spec("192.0.2.1/24/eth0"),
            Err(AddrError::InvalidPrefix(_))
        ));
        assert_eq!(
            "192.0.2.100/24".parse::<Ipv4Net>().unwrap().to_string(),
            "192.0.2.100/24"
        );
        assert!("192.0.2.100".parse::<Ipv4Net>().is_err());
    }

    #[test]
    fn unassignable_addresses_are_refused() {
        for bad in ["0.0.0.0", "224.0.0.18", "239.1.2.3", "255.255.255.255"] {
            assert!(
                matches!(parse_host_spec(bad), Err(AddrError::UnusableAddress(_))),
                "{bad}"
            );
        }
        assert!(parse_host_spec("127.0.0.20").is_ok());
    }

    #[test]
    fn interface_names_follow_kernel_rules() {
        for good in ["eth0", "enp0s31f6", "veth-a.100", "a23456789012345"] {
            assert!(check_ifname(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "eth0:0", "a/b", "eth 0", "a234567890123456"] {
            assert!(check_ifname(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn labels_must_start_with_the_device_name() {
        assert!(check_label("eth0", "eth0").is_ok());
        assert!(check_label("eth0:0", "eth0").is_ok());
        assert!(check_label("eth0:vip", "eth0").is_ok());
        let err = check_label("eth1:0", "eth0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid label 'eth1:0': must be 'eth0' or start with 'eth0:'"
        );
        assert!(check_label("eth0:", "eth0").is_err());
        assert!(check_label("eth00", "eth0").is_err());
        assert!(check_label("eth0:a b", "eth0").is_err());
        let long = check_label("eth0:0123456789a", "eth0").unwrap_err();
        assert!(long.to_string().contains("longer than 15"), "{long}");
    }

    #[test]
    fn spec_parses_both_families() {
        assert_eq!(
            parse_spec("192.0.2.100/255.255.255.0").unwrap(),
            (IpAddr::V4(ip("192.0.2.100")), Some(24))
        );
        assert_eq!(
            parse_spec("2001:db8::10/64").unwrap(),
            (IpAddr::V6(ip6("2001:db8::10")), Some(64))
        );
        assert_eq!(
            parse_spec("2001:db8:0:0:0:0:0:10").unwrap(),
            (IpAddr::V6(ip6("2001:db8::10")), None)
        );
        assert_eq!(parse_spec("2001:db8::10/128").unwrap().1, Some(128));
        assert_eq!(parse_spec("2001:db8::10/0").unwrap().1, Some(0));
        // The address is checked first: its family decides what a prefix may be.
        assert!(matches!(
            parse_spec("300.1.1.1/99"),
            Err(AddrError::InvalidAddress(s)) if s == "300.1.1.1"
        ));
        for (bad, prefix) in [
            ("2001:db8::10/129", "129"),
            ("2001:db8::10/ffff:ffff::", "ffff:ffff::"),
            ("2001:db8::10/255.255.255.0", "255.255.255.0"),
            ("2001:db8::10/", ""),
            ("2001:db8::10/0064", "0064"),
            ("2001:db8::10/+64", "+64"),
        ] {
            assert!(
                matches!(parse_spec(bad), Err(AddrError::InvalidIpv6Prefix(p)) if p == prefix),
                "{bad:?}: {:?}",
                parse_spec(bad)
            );
        }
        for bad in [
            "2001:db8::g",
            "2001:db8:::1",
            "[2001:db8::1]",
            "fe80::1%eth0",
            "1:2:3:4:5:6:7:8:9",
            ":",
        ] {
            assert!(
                matches!(parse_spec(bad), Err(AddrError::InvalidIpv6Address(s)) if s == bad),
                "{bad:?} accepted"
            );
        }
        assert_eq!(
            parse_spec("2001:db8::g").unwrap_err().to_string(),
            "invalid IPv6 address '2001:db8::g'"
        );
        assert_eq!(
            parse_spec("2001:db8::1/129").unwrap_err().to_string(),
            "invalid IPv6 prefix length '129' (expected 0-128)"
        );
    }

    #[test]
    fn unassignable_ipv6_addresses_are_refused() {
        for bad in ["::", "ff02::1", "ff05::1:3", "::ffff:192.0.2.1"] {
            let err = parse_spec(bad).unwrap_err();
            assert!(matches!(err, AddrError::UnusableIpv6Address(_)), "{bad}");
        }
        assert_eq!(
            parse_spec("ff02::1").unwrap_err().to_string(),
            "ff02::1 cannot be a service address (unspecified, multicast or IPv4-mapped)"
        );
        for good in ["::1", "fe80::10", "fd00::1", "2001:db8::10"] {
            assert!(parse_spec(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn ipv6_has_no_labels_and_no_broadcast() {
        let v6 = IpAddr::V6(ip6("2001:db8::10"));
        let v4 = IpAddr::V4(ip("192.0.2.10"));
        assert!(check_family_options(v4, Some("eth0:0"), true).is_ok());
        assert!(check_family_options(v6, None, false).is_ok());
        assert_eq!(
            check_family_options(v6, Some("eth0:0"), false)
                .unwrap_err()
                .to_string(),
            "2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps labels for IPv4 \
             only); drop label 'eth0:0'"
        );
        assert_eq!(
            check_family_options(v6, None, true)
                .unwrap_err()
                .to_string(),
            "2001:db8::10: IPv6 has no broadcast addresses; drop the broadcast"
        );
    }
}
