//! From the parsed configuration files to what the core and the media need.

use std::fmt::Write as _;

use hb_config::{AutoFailback as CfgFailback, Config, Medium};
use hb_core::{
    AutoFailback, CoreConfig, FenceSetup, GroupConfig, MonitorPolicy, PingSetup, PingTarget,
};

/// The core's configuration plus the media to open.
#[derive(Debug, Clone)]
pub(crate) struct Converted {
    /// For the core.
    pub(crate) core: CoreConfig,
    /// For the media; their devices are the core's links, in the same order.
    pub(crate) media: Vec<Medium>,
}

/// Builds the core configuration; fails only on what the parser cannot know (e.g. more
/// than two nodes with resource groups).
pub(crate) fn core_config(cfg: &Config, node: &str) -> Result<Converted, hb_core::CoreError> {
    let hacf = &cfg.ha_cf;
    let nodes = hacf.nodes.clone();
    let me = nodes
        .iter()
        .position(|n| n.eq_ignore_ascii_case(node))
        .unwrap_or(0);
    let media = hacf.media.clone();
    let mut links: Vec<String> = Vec::new();
    for m in &media {
        if !links.iter().any(|l| l == m.dev()) {
            links.push(m.dev().to_string());
        }
    }
    let groups = cfg
        .haresources
        .groups
        .iter()
        .map(|g| GroupConfig {
            key: g.key.clone(),
            preferred: nodes.iter().position(|n| *n == g.node).unwrap_or(0),
            resources: g.resources.iter().map(|r| r.text.clone()).collect(),
            monitor: g
                .resources
                .iter()
                .map(|r| {
                    let p = hb_config::resource_policy(&hacf.monitors, r);
                    MonitorPolicy {
                        interval: p.interval,
                        restarts: p.restarts,
                        window: p.window,
                    }
                })
                .collect(),
        })
        .collect();
    let core = CoreConfig {
        nodes,
        me,
        timing: hacf.timing,
        links,
        groups,
        auto_failback: match hacf.auto_failback {
            CfgFailback::On => AutoFailback::On,
            CfgFailback::Off => AutoFailback::Off,
            CfgFailback::Legacy => AutoFailback::Legacy,
        },
        msgfmt: hacf.msgfmt,
        keys: cfg.keys.clone(),
        hopfudge: hacf.hopfudge,
        max_rexmit_delay: hacf.max_rexmit_delay,
        ping: ping_setup(&hacf.ping)?,
        watchdog: hacf.watchdog.is_some(),
        fencing: hacf
            .fence
            .device_for(node)
            .map(|l| FenceSetup::new(l.device.id())),
    };
    core.validate()?;
    Ok(Converted { core, media })
}

/// The ping nodes with their host names resolved (as Heartbeat resolves them at start-up).
fn ping_setup(p: &hb_config::PingConfig) -> Result<PingSetup, hb_core::CoreError> {
    let mut targets = Vec::new();
    for node in &p.nodes {
        let mut hosts = Vec::new();
        for host in &node.hosts {
            hosts.push(resolve(host, node.family).map_err(|why| {
                hb_core::CoreError::InvalidConfig(format!(
                    "ping node {} (ha.cf line {}): cannot resolve {host}: {why}",
                    node.name, node.line
                ))
            })?);
        }
        targets.push(PingTarget {
            name: node.name.clone(),
            hosts,
            nodes_before: node.nodes_before,
        });
    }
    Ok(PingSetup {
        targets,
        deadping: Some(p.deadping),
        ipfail: p.ipfail.is_some(),
        isolation: p.releases_when_isolated(),
    })
}

/// An address literal, or the first address of the family a host name resolves to.
fn resolve(host: &str, family: hb_config::PingFamily) -> Result<std::net::IpAddr, String> {
    use std::net::ToSocketAddrs as _;
    let v6 = family == hb_config::PingFamily::V6;
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(ip);
    }
    (host, 0)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?
        .map(|a| a.ip())
        .find(|ip| ip.is_ipv6() == v6)
        .ok_or_else(|| format!("no {} address", if v6 { "IPv6" } else { "IPv4" }))
}

/// `1500 ms`.
fn prose(d: std::time::Duration) -> String {
    hb_time::format_millis(d, hb_time::MillisStyle::Prose)
}

/// What `--check` prints for a valid configuration.
pub(crate) fn summary(cfg: &Config, node: &str) -> String {
    let h = &cfg.ha_cf;
    let mut s = String::new();
    let _ = writeln!(s, "{}: configuration OK", cfg.dir.display());
    let _ = writeln!(s, "  this node: {node}");
    let _ = writeln!(s, "  nodes: {}", h.nodes.join(" "));
    let _ = writeln!(
        s,
        "  timing: keepalive {}, deadtime {}, warntime {}, initdead {}",
        prose(h.timing.keepalive()),
        prose(h.timing.deadtime()),
        prose(h.timing.warntime()),
        prose(h.timing.initdead())
    );
    for m in &h.media {
        let _ = writeln!(s, "  medium: {m}");
    }
    for p in &h.ping.nodes {
        let kind = match (p.group, p.family) {
            (true, _) => "ping_group",
            (false, hb_config::PingFamily::V4) => "ping",
            (false, hb_config::PingFamily::V6) => "ping6",
        };
        let _ = writeln!(s, "  ping node: {} ({kind} {})", p.name, p.hosts.join(" "));
    }
    if let Some(w) = &h.watchdog {
        let state = match std::fs::metadata(w) {
            Ok(_) => String::new(),
            Err(e) => format!(" (cannot be opened now: {e}; the daemon will not start)"),
        };
        let _ = writeln!(s, "  watchdog: {}{state}", w.display());
    }
    match h.fence.device_for(node) {
        Some(l) => {
            let how = match &l.device {
                hb_config::FenceDevice::Stonith {
                    params: hb_config::StonithParams::File(f),
                    ..
                } => format!("cluster-glue stonith plugin, parameters in {}", f.display()),
                hb_config::FenceDevice::Stonith { .. } => "cluster-glue stonith plugin".into(),
                hb_config::FenceDevice::Agent { .. } => "fence agent".into(),
            };
            let _ = writeln!(
                s,
                "  fencing: {} ({how}, line {}; timeout {})",
                l.device.id(),
                l.line,
                prose(h.fence.timeout)
            );
        }
        None => {
            let _ = writeln!(
                s,
                "  fencing: none (a dead peer's resources are taken over without resetting it)"
            );
        }
    }
    if !h.ping.nodes.is_empty() {
        let ipfail = match h.ping.ipfail {
            Some(hb_config::IpfailFrom::Respawn { line }) => {
                format!("built in (replaces the respawned ipfail of line {line})")
            }
            Some(hb_config::IpfailFrom::Directive { .. }) => "built in".to_string(),
            None => "off".to_string(),
        };
        let isolation = match h.ping.isolation {
            hb_config::Isolation::Release => "release",
            hb_config::Isolation::Keep => "keep",
        };
        let _ = writeln!(
            s,
            "  deadping {}; ipfail: {ipfail}; isolation: {isolation}",
            prose(h.ping.deadping)
        );
    } else if h.ping.releases_when_isolated() {
        let _ = writeln!(
            s,
            "  isolation: release (no ping nodes: a node whose heartbeat interfaces lost carrier)"
        );
    }
    let _ = writeln!(
        s,
        "  auto_failback: {}; signing with key {} ({})",
        match h.auto_failback {
            CfgFailback::On => "on",
            CfgFailback::Off => "off",
            CfgFailback::Legacy => "legacy",
        },
        cfg.keys.sign_index(),
        cfg.keys
            .method(cfg.keys.sign_index())
            .map(|m| m.to_string())
            .unwrap_or_default()
    );
    for g in &cfg.haresources.groups {
        let _ = writeln!(s, "  group {} (prefers {}):", g.key, g.node);
        for r in &g.resources {
            let args = if r.args.is_empty() {
                String::new()
            } else {
                format!(" {}", r.args.join(" "))
            };
            let _ = writeln!(s, "    {}{} -> {}", r.agent, args, r.path.display());
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ha_cf: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("ha.cf"), ha_cf).unwrap();
        std::fs::write(d.join("haresources"), "").unwrap();
        std::fs::write(d.join("authkeys"), "auth 1\n1 sha1 secret\n").unwrap();
        let mut opts = hb_config::LoadOptions::new("node1");
        opts.check_permissions = false;
        hb_config::load(d, &opts)
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    #[test]
    fn ipv6_media_are_listed_by_check_and_named_after_their_device() {
        let cfg = config(
            "udpport 7694\nucast6 eth0 2001:db8::12\nucast6 eth1 fe80::12\n\
             mcast6 eth0 ff12::1:694 694 1 0\nauto_failback on\nnode node1 node2\n",
        );
        let s = summary(&cfg, "node1");
        for line in [
            "  medium: ucast6 eth0 2001:db8::12 (port 7694)",
            "  medium: ucast6 eth1 fe80::12%eth1 (port 7694)",
            "  medium: mcast6 eth0 ff12::1:694 694 1 0",
        ] {
            assert!(s.lines().any(|l| l == line), "no {line:?} in\n{s}");
        }
        // Links are devices, as Heartbeat names ucast6 and mcast6 links.
        let converted = core_config(&cfg, "node1").unwrap();
        assert_eq!(converted.core.links, ["eth0", "eth1"]);
    }

    #[test]
    fn check_names_the_fencing_device_this_node_uses_and_the_core_gets_it() {
        let cfg = config(
            "bcast eth0\nauto_failback on\nnode node1 node2\nstonith_host node2 null node1\n\
             stonith_host node1 external/ipmi node2 192.0.2.9 admin secret\n",
        );
        let s = summary(&cfg, "node1");
        assert!(
            s.lines().any(|l| l
                == "  fencing: external/ipmi (cluster-glue stonith plugin, line 5; timeout 60000 ms)"),
            "{s}"
        );
        assert!(!s.contains("secret"), "parameters must not be printed: {s}");
        let core = core_config(&cfg, "node1").unwrap().core;
        assert_eq!(core.fencing.map(|f| f.device), Some("external/ipmi".into()));
        let none = config("bcast eth0\nauto_failback on\nnode node1 node2\n");
        assert!(summary(&none, "node1").contains("  fencing: none ("));
        assert_eq!(core_config(&none, "node1").unwrap().core.fencing, None);
    }
}
