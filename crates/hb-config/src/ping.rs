//! Ping nodes and what the cluster does with them: `ping`, `ping6`, `ping_group`, `deadping`,
//! Heartbeat's `respawn ... ipfail` line, and heartbeat-rs's `ipfail` and `isolation`.
//!
//! Heartbeat 3.0.6 makes every `ping` host (and every `ping_group`) a pseudo-node of type
//! `ping` whose status is `ping` while it answers ICMP echoes and `dead` once it has been
//! silent for `deadping` (default: `deadtime`; at most twice `keepalive` is an error). Names
//! are lower-cased, as Heartbeat's node names are. Host names are kept as written: the daemon
//! resolves them (Heartbeat resolves them with `gethostbyname` at start-up).

use std::time::Duration;

use crate::error::Diags;
use crate::hacf::{Builder, Line};
use crate::time::ms;
use crate::value::parse_bool;

/// The address family a ping node is reached with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingFamily {
    /// ICMP (`ping`, `ping_group`).
    V4,
    /// ICMPv6 (`ping6`).
    V6,
}

/// One ping pseudo-node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PingNode {
    /// Its node name: the host as written (lower-cased), or the `ping_group` name.
    pub name: String,
    /// The hosts it pings: one for `ping`/`ping6`, several for `ping_group` (the group
    /// answers while any of them does).
    pub hosts: Vec<String>,
    /// ICMP or ICMPv6.
    pub family: PingFamily,
    /// Declared by `ping_group`.
    pub group: bool,
    /// How many cluster nodes `ha.cf` declared before it: Heartbeat lists nodes and ping
    /// nodes in file order (`cl_status listnodes`).
    pub nodes_before: usize,
    /// Its line in `ha.cf`.
    pub line: usize,
}

/// What a node that hears no peer and reaches no ping node does (heartbeat-rs's
/// `isolation` directive; only meaningful with ping nodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Isolation {
    /// Release every group and take none over until a peer or a ping node is heard again
    /// (the default when ping nodes are configured).
    Release,
    /// Keep running (Heartbeat 3.0.6's behaviour).
    Keep,
}

/// Where the ipfail policy was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpfailFrom {
    /// Heartbeat's `respawn USER PATH/ipfail` line (the built-in replaces the program).
    Respawn {
        /// Its line.
        line: usize,
    },
    /// heartbeat-rs's `ipfail on`.
    Directive {
        /// Its line.
        line: usize,
    },
}

/// Everything `ha.cf` says about ping nodes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PingConfig {
    /// The ping nodes, in file order.
    pub nodes: Vec<PingNode>,
    /// `deadping` (default: `deadtime`).
    pub deadping: Duration,
    /// The ipfail policy, when asked for (and usable: ping nodes and a nice-failback mode).
    pub ipfail: Option<IpfailFrom>,
    /// What an isolated node does.
    pub isolation: Isolation,
}

impl PingConfig {
    /// Whether the isolation rule applies: `isolation release`, the default with ping nodes
    /// (without them the carrier of the heartbeat interfaces is the only witness).
    #[must_use]
    pub fn releases_when_isolated(&self) -> bool {
        self.isolation == Isolation::Release
    }
}

/// What the builder collects.
#[derive(Debug, Default)]
pub(crate) struct PingBuilder {
    pub(crate) nodes: Vec<PingNode>,
    pub(crate) deadping: Option<(Duration, usize)>,
    /// `respawn ... ipfail` line.
    pub(crate) respawn_ipfail: Option<usize>,
    /// `ipfail on|off` and its line.
    pub(crate) ipfail: Option<(bool, usize)>,
    pub(crate) isolation: Option<(Isolation, usize)>,
}

/// A host as `ping`, `ping6` and `ping_group` accept it: an address of the right family, or
/// a host name for the daemon to resolve.
fn check_host(host: &str, family: PingFamily) -> Result<(), String> {
    match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) if family == PingFamily::V6 => Err(format!(
            "'{host}' is an IPv4 address: ping6 takes an IPv6 address or host name (use ping)"
        )),
        Ok(std::net::IpAddr::V6(_)) if family == PingFamily::V4 => Err(format!(
            "'{host}' is an IPv6 address: use ping6 for IPv6 ping nodes"
        )),
        Ok(_) => Ok(()),
        Err(_) => {
            let valid = host.len() <= 253
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                });
            if valid {
                Ok(())
            } else {
                Err(format!(
                    "invalid ping host '{host}': expected an IP address or a host name"
                ))
            }
        }
    }
}

fn add(b: &mut Builder, line: &Line<'_>, diags: &mut Diags, node: PingNode) {
    if let Some(first) = b.ping.nodes.iter().find(|n| n.name == node.name) {
        diags.error(
            Some(line.lineno),
            format!(
                "ping node '{}' is declared twice (first on line {})",
                node.name, first.line
            ),
        );
        return;
    }
    b.ping.nodes.push(node);
}

fn hosts(b: &mut Builder, line: &Line<'_>, diags: &mut Diags, family: PingFamily) {
    let words = line.words();
    if words.is_empty() {
        diags.error(
            Some(line.lineno),
            format!("{} needs at least one host", line.name),
        );
    }
    for host in words {
        if let Err(e) = check_host(host, family) {
            diags.error(Some(line.lineno), e);
            continue;
        }
        let node = PingNode {
            name: host.to_ascii_lowercase(),
            hosts: vec![host.to_owned()],
            family,
            group: false,
            nodes_before: b.nodes.len(),
            line: line.lineno,
        };
        add(b, line, diags, node);
    }
}

/// `ping HOST...`: one ping node per host.
pub(crate) fn ping(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    hosts(b, line, diags, PingFamily::V4);
}

/// `ping6 HOST...`.
pub(crate) fn ping6(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    hosts(b, line, diags, PingFamily::V6);
}

/// `ping_group NAME HOST...`: one ping node that answers while any host does.
pub(crate) fn ping_group(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    let Some((name, members)) = words.split_first().filter(|(_, m)| !m.is_empty()) else {
        diags.error(
            Some(line.lineno),
            "ping_group needs a group name and at least one host",
        );
        return;
    };
    let mut hosts = Vec::new();
    for host in members {
        match check_host(host, PingFamily::V4) {
            Ok(()) => hosts.push((*host).to_owned()),
            Err(e) => diags.error(Some(line.lineno), e),
        }
    }
    if hosts.is_empty() {
        return;
    }
    let node = PingNode {
        name: name.to_ascii_lowercase(),
        hosts,
        family: PingFamily::V4,
        group: true,
        nodes_before: b.nodes.len(),
        line: line.lineno,
    };
    add(b, line, diags, node);
}

/// `deadping TIME`.
pub(crate) fn deadping(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    crate::directives::set_time(&mut b.ping.deadping, line, diags, false);
}

/// `respawn USER PATH [ARGS]`: Heartbeat's ipfail is built in; other programs are not run.
pub(crate) fn respawn(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    let [_user, path, ..] = words.as_slice() else {
        diags.error(
            Some(line.lineno),
            "respawn needs a user and a program (respawn USER PATH [ARGS])",
        );
        return;
    };
    let program = std::path::Path::new(path)
        .file_name()
        .and_then(|f| f.to_str())
        .unwrap_or_default();
    if program == "ipfail" {
        b.ping.respawn_ipfail = Some(line.lineno);
    } else {
        diags.warn(
            Some(line.lineno),
            format!("respawn of '{path}' is not supported: heartbeat-rs does not run it (ignored)"),
        );
    }
}

/// `ipfail on|off` (heartbeat-rs extension).
pub(crate) fn ipfail(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = crate::directives::one(line, diags) else {
        return;
    };
    match parse_bool(v) {
        Some(on) => b.ping.ipfail = Some((on, line.lineno)),
        None => diags.error(
            Some(line.lineno),
            format!("ipfail must be on or off, not '{v}'"),
        ),
    }
}

/// `isolation release|keep` (heartbeat-rs extension).
pub(crate) fn isolation(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = crate::directives::one(line, diags) else {
        return;
    };
    let value = match v.to_ascii_lowercase().as_str() {
        "release" => Isolation::Release,
        "keep" => Isolation::Keep,
        _ => {
            diags.error(
                Some(line.lineno),
                format!("isolation must be release or keep, not '{v}'"),
            );
            return;
        }
    };
    b.ping.isolation = Some((value, line.lineno));
}

/// Whole-file checks: `deadping` against `keepalive`, ipfail's prerequisites.
pub(crate) fn finish(
    p: PingBuilder,
    keepalive: Duration,
    deadtime: Duration,
    nice_failback: bool,
    cluster_nodes: &[crate::node::NodeName],
    diags: &mut Diags,
) -> PingConfig {
    for node in &p.nodes {
        if cluster_nodes.iter().any(|n| n.as_str() == node.name) {
            diags.error(
                Some(node.line),
                format!("ping node '{}' has the name of a cluster node", node.name),
            );
        }
    }
    let deadping = match p.deadping {
        Some((d, line)) => {
            if d <= keepalive.saturating_mul(2) {
                diags.error(
                    Some(line),
                    format!(
                        "Ping dead time [{}] is too small compared to keepalive [{}]: deadping \
                         must be more than twice keepalive",
                        ms(d),
                        ms(keepalive)
                    ),
                );
            }
            d
        }
        None => deadtime,
    };
    let asked = match (p.ipfail, p.respawn_ipfail) {
        (Some((false, _)), _) => None,
        (Some((true, line)), _) => Some(IpfailFrom::Directive { line }),
        (None, Some(line)) => Some(IpfailFrom::Respawn { line }),
        (None, None) => None,
    };
    let ipfail = asked.filter(|from| {
        let line = match from {
            IpfailFrom::Respawn { line } | IpfailFrom::Directive { line } => *line,
        };
        if p.nodes.is_empty() {
            diags.warn(
                Some(line),
                "ipfail without ping nodes has nothing to compare (add a ping line); ignored",
            );
            false
        } else if !nice_failback {
            diags.warn(
                Some(line),
                "ipfail needs auto_failback on or off (legacy mode has no standby); ignored",
            );
            false
        } else {
            true
        }
    });
    // Default: release with ping nodes; without them only an explicit `isolation release`
    // turns the rule on, with the carrier of the heartbeat interfaces as the only witness.
    let default = if p.nodes.is_empty() {
        Isolation::Keep
    } else {
        Isolation::Release
    };
    let mut isolation = p.isolation.map_or(default, |(v, _)| v);
    if isolation == Isolation::Release && !nice_failback {
        // The legacy negotiation has no exact reports to place what an isolated node
        // released: keep Heartbeat's behaviour there.
        let line = p
            .isolation
            .map(|(_, l)| l)
            .or(p.nodes.first().map(|n| n.line));
        diags.warn(
            line,
            "the isolation rule needs auto_failback on or off; with legacy a node cut off \
             keeps its groups, as Heartbeat's does",
        );
        isolation = Isolation::Keep;
    }
    PingConfig {
        nodes: p.nodes,
        deadping,
        ipfail,
        isolation,
    }
}
