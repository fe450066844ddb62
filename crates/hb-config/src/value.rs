//! Small value parsers shared by the ha.cf directive handlers.

use std::net::Ipv4Addr;

/// Heartbeat's boolean spellings (cluster-glue `cl_str_to_boolean`), case-insensitive:
/// `true on yes y 1` and `false off no n 0`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Linux's `IFNAMSIZ` including the terminating NUL: names have at most 15 bytes.
pub(crate) const IFNAMSIZ: usize = 16;

/// Checks an interface name the way the Linux kernel does (`dev_valid_name`): 1 to 15 bytes,
/// not `.` or `..`, no `/`, `:` or whitespace. Returns the reason when invalid.
pub(crate) fn check_ifname(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("interface name is empty".to_owned());
    }
    if name.len() >= IFNAMSIZ {
        return Err(format!(
            "invalid interface name '{name}': longer than {} characters",
            IFNAMSIZ - 1
        ));
    }
    if name == "." || name == ".." {
        return Err(format!("invalid interface name '{name}'"));
    }
    if name.contains(':') {
        return Err(format!(
            "invalid interface name '{name}': ':' marks an address label, not an interface; \
             use the interface itself (e.g. '{}')",
            name.split(':').next().unwrap_or_default()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| *c == '/' || c.is_whitespace() || c.is_control())
    {
        return Err(format!("invalid interface name '{name}': contains {c:?}"));
    }
    Ok(())
}

/// A host name as `uname -n` reports it (RFC 1123 labels; `_` tolerated): 1 to 64 bytes of
/// letters, digits, `-`, `_` and `.`.
pub(crate) fn is_node_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// A peer given as an IPv4 address or a DNS name (resolved later by the daemon).
pub(crate) fn check_peer(peer: &str) -> Result<(), String> {
    if peer.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return peer
            .parse::<Ipv4Addr>()
            .map(|_| ())
            .map_err(|_| format!("invalid IPv4 address '{peer}'"));
    }
    if peer.contains(':') {
        return Err(format!(
            "'{peer}' is not an IPv4 address or host name (IPv6 peers need ucast6)"
        ));
    }
    let labels_ok = peer.len() <= 253
        && peer.trim_end_matches('.').split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if labels_ok {
        Ok(())
    } else {
        Err(format!("'{peer}' is not an IPv4 address or host name"))
    }
}

/// Levenshtein distance, for "did you mean" suggestions (inputs are short directive names).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_use_heartbeat_spellings() {
        for t in ["true", "on", "yes", "y", "1", "YES", "On"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "off", "no", "n", "0", "NO", "Off"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        for bad in ["", "2", "enable", "respawn", "legacy"] {
            assert_eq!(parse_bool(bad), None, "{bad}");
        }
    }

    #[test]
    fn interface_names_follow_the_kernel_rules() {
        assert_eq!(check_ifname("eth0"), Ok(()));
        assert_eq!(check_ifname("enp0s31f6"), Ok(()));
        assert_eq!(check_ifname("a23456789012345"), Ok(()));
        assert_eq!(
            check_ifname("a234567890123456"),
            Err("invalid interface name 'a234567890123456': longer than 15 characters".into())
        );
        assert_eq!(check_ifname(""), Err("interface name is empty".into()));
        assert!(check_ifname("..").is_err());
        assert!(check_ifname("eth/0").is_err());
        assert_eq!(
            check_ifname("eth0:0"),
            Err(
                "invalid interface name 'eth0:0': ':' marks an address label, not an \
                 interface; use the interface itself (e.g. 'eth0')"
                    .into()
            )
        );
    }

    #[test]
    fn node_names_are_host_names() {
        assert!(is_node_name("www.centos1.com"));
        assert!(is_node_name("node_1-a"));
        assert!(!is_node_name(""));
        assert!(!is_node_name("a/b"));
        assert!(!is_node_name(&"a".repeat(65)));
    }

    #[test]
    fn peers_are_ipv4_addresses_or_host_names() {
        assert_eq!(check_peer("192.0.2.12"), Ok(()));
        assert_eq!(check_peer("node2.example.com"), Ok(()));
        assert_eq!(
            check_peer("192.0.2.300"),
            Err("invalid IPv4 address '192.0.2.300'".into())
        );
        assert!(check_peer("fe80::1").is_err());
        assert!(check_peer("bad..name").is_err());
        assert!(check_peer("-x").is_err());
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        assert_eq!(edit_distance("keepalive", "keepalive"), 0);
        assert_eq!(edit_distance("keepalve", "keepalive"), 1);
        assert_eq!(edit_distance("keepalvie", "keepalive"), 2);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("Node", "node"), 1);
    }
}
