use std::net::Ipv4Addr;

use super::*;
use crate::error::Diagnostic;
use crate::ping::{IpfailFrom, Isolation, PingFamily};

/// A valid minimal tail: one medium, two nodes, auto_failback set (3 lines).
const BASE: &str = "bcast eth0\nnode node1 node2\nauto_failback on\n";

fn parse(text: &str) -> Result<Parsed<HaCf>, ConfigErrors> {
    parse_ha_cf(text, Path::new("ha.cf"))
}

fn ok(text: &str) -> HaCf {
    match parse(text) {
        Ok(p) => p.value,
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn warnings(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => p.warnings.iter().map(ToString::to_string).collect(),
        Err(e) => panic!("unexpected errors:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text) {
        Ok(p) => panic!("expected errors, parsed {:?}", p.value),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// Errors of `line` placed first, before [`BASE`].
fn line_errors(line: &str) -> Vec<String> {
    errors(&format!("{line}\n{BASE}"))
}

#[test]
fn tutorial_ha_cf_loads_with_heartbeat_defaults() {
    let text = "bcast eth0\n#一主一备节点,需要注意能够被两台主机之间解析\nnode www.centos1.com\nnode www.centos2.com\n";
    let parsed = parse(text).unwrap();
    let h = parsed.value;
    assert_eq!(h.timing.keepalive(), Duration::from_secs(1));
    assert_eq!(h.timing.deadtime(), Duration::from_secs(30));
    assert_eq!(h.timing.warntime(), Duration::from_secs(15));
    assert_eq!(h.timing.initdead(), Duration::from_secs(30));
    assert_eq!(h.udpport, 694);
    assert_eq!(
        h.media,
        vec![Medium::Bcast {
            dev: "eth0".into(),
            port: 694
        }]
    );
    assert_eq!(h.nodes, vec!["www.centos1.com", "www.centos2.com"]);
    assert_eq!(h.auto_failback, AutoFailback::Legacy);
    assert_eq!(h.msgfmt, MsgFmt::Classic);
    assert_eq!(h.max_rexmit_delay, Duration::from_millis(250));
    assert_eq!(h.hopfudge, 1);
    assert_eq!(h.debug, 0);
    assert_eq!((h.logfile, h.debugfile, h.logfacility), (None, None, None));
    assert!(!h.use_logd);
    assert_eq!(h.hbgenmethod, GenMethod::File);
    assert_eq!(h.uuidfrom, UuidFrom::File);
    assert!(h.realtime);
    assert_eq!(h.agent_timeout, Duration::from_secs(30));
    assert_eq!(
        h.parameters,
        vec![
            ("bcast".to_owned(), "eth0".to_owned()),
            ("node".to_owned(), "www.centos1.com".to_owned()),
            ("node".to_owned(), "www.centos2.com".to_owned()),
        ]
    );
    assert_eq!(
        parsed.warnings,
        vec![Diagnostic::new(
            "ha.cf",
            None,
            "auto_failback is not set: using 'legacy' (deprecated); set 'auto_failback on' or \
             'auto_failback off'"
        )]
    );
}

#[test]
fn every_implemented_directive_is_applied() {
    let text = "\
debugfile /var/log/ha-debug
logfile\t/var/log/ha-log
logfacility LOCAL0
use_logd yes
keepalive 500ms
deadtime 5
warntime 2.5
initdead 12
udpport 7694
bcast eth0 eth1
ucast eth2 192.0.2.12
mcast eth3 239.192.0.1 6940 2 1
auto_failback off
msgfmt netstring
max_rexmit_delay 400
hopfudge 3
debug 2
hbgenmethod time
uuidfrom nodename
realtime off
crm no
autojoin none
agent_timeout 90
node Node1, node2
";
    let h = ok(text);
    assert_eq!(h.timing.keepalive(), Duration::from_millis(500));
    assert_eq!(h.timing.deadtime(), Duration::from_secs(5));
    assert_eq!(h.timing.warntime(), Duration::from_millis(2500));
    assert_eq!(h.timing.initdead(), Duration::from_secs(12));
    assert_eq!(h.udpport, 7694);
    assert_eq!(
        h.media,
        vec![
            Medium::Bcast {
                dev: "eth0".into(),
                port: 7694
            },
            Medium::Bcast {
                dev: "eth1".into(),
                port: 7694
            },
            Medium::Ucast {
                dev: "eth2".into(),
                peer: "192.0.2.12".into(),
                port: 7694
            },
            Medium::Mcast {
                dev: "eth3".into(),
                group: Ipv4Addr::new(239, 192, 0, 1),
                port: 6940,
                ttl: 2,
                looped: true
            },
        ]
    );
    assert_eq!(h.nodes, vec!["node1", "node2"]);
    assert_eq!(h.auto_failback, AutoFailback::Off);
    assert_eq!(h.msgfmt, MsgFmt::Netstring);
    assert_eq!(h.max_rexmit_delay, Duration::from_millis(400));
    assert_eq!((h.hopfudge, h.debug), (3, 2));
    assert_eq!(h.logfile, Some(PathBuf::from("/var/log/ha-log")));
    assert_eq!(h.debugfile, Some(PathBuf::from("/var/log/ha-debug")));
    assert_eq!(h.logfacility.as_deref(), Some("local0"));
    assert!(h.use_logd);
    assert_eq!(h.hbgenmethod, GenMethod::Time);
    assert_eq!(h.uuidfrom, UuidFrom::NodeName);
    assert!(!h.realtime);
    assert_eq!(h.agent_timeout, Duration::from_secs(90));
    assert_eq!(h.parameters.len(), 24);
    assert_eq!(
        h.parameters[1],
        ("logfile".to_owned(), "/var/log/ha-log".to_owned())
    );
    assert_eq!(
        h.parameters[23],
        ("node".to_owned(), "Node1, node2".to_owned())
    );
}

#[test]
fn comments_blank_lines_and_crlf_are_ignored() {
    let h = ok(
        "# header\r\n\r\n   \r\nkeepalive 2 # two seconds\r\nbcast eth0#no space\r\nnode a b\r\nauto_failback on\r\n",
    );
    assert_eq!(h.timing.keepalive(), Duration::from_secs(2));
    assert_eq!(h.media.len(), 1);
    assert_eq!(h.nodes, vec!["a", "b"]);
}

#[test]
fn udpport_applies_to_media_after_it() {
    let text = "udpport 700\nbcast eth0\nudpport 701\nucast eth1 192.0.2.2\nmcast eth2 239.0.0.1 694 1 0\nnode a\nauto_failback on\n";
    let parsed = parse(text).unwrap();
    let ports: Vec<u16> = parsed.value.media.iter().map(Medium::port).collect();
    assert_eq!(ports, vec![700, 701, 694]);
    assert_eq!(parsed.value.udpport, 701);
    assert_eq!(
        parsed.warnings,
        vec![Diagnostic::new(
            "ha.cf",
            Some(3),
            "udpport 701 does not apply to bcast (port 700 since line 2): Heartbeat reads \
             udpport once per medium type, at its first line; put udpport before the media"
        )]
    );
}

#[test]
fn udpport_is_read_once_per_medium_type_at_its_first_line() {
    // Debian's Heartbeat 3.0.6 binds both bcast sockets to 7001 here (its plugins keep the
    // port they read at their first line).
    let text = "udpport 7001\nbcast eth0\nudpport 7002\nbcast eth1\nucast eth0 192.0.2.12\n\
                udp eth2\nnode a\nauto_failback on\n";
    let parsed = parse(text).unwrap();
    let ports: Vec<u16> = parsed.value.media.iter().map(Medium::port).collect();
    assert_eq!(ports, vec![7001, 7001, 7002, 7001]);
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "ha.cf:3: udpport 7002 does not apply to bcast (port 7001 since line 2): Heartbeat \
             reads udpport once per medium type, at its first line; put udpport before the \
             media",
            "ha.cf:4: bcast uses port 7001, the udpport of the first bcast line (line 2), as in \
             Heartbeat: udpport 7002 does not apply to it",
            "ha.cf:6: directive 'udp' is an obsolete name for 'bcast'",
            "ha.cf:6: bcast uses port 7001, the udpport of the first bcast line (line 2), as in \
             Heartbeat: udpport 7002 does not apply to it",
        ]
    );
}

#[test]
fn default_initdead_follows_heartbeat() {
    assert_eq!(
        default_initdead(Duration::from_secs(30)),
        Duration::from_secs(30)
    );
    assert_eq!(
        default_initdead(Duration::from_millis(10_001)),
        Duration::from_millis(10_001)
    );
    assert_eq!(
        default_initdead(Duration::from_secs(10)),
        Duration::from_secs(20)
    );
    assert_eq!(
        default_initdead(Duration::from_secs(6)),
        Duration::from_secs(12)
    );
    assert_eq!(
        default_initdead(Duration::from_millis(5999)),
        Duration::from_secs(12)
    );
    assert_eq!(
        default_initdead(Duration::from_secs(1)),
        Duration::from_secs(12)
    );
    let h = ok(&format!("deadtime 8\n{BASE}"));
    assert_eq!(
        (h.timing.initdead(), h.timing.warntime()),
        (Duration::from_secs(16), Duration::from_secs(4))
    );
}

#[test]
fn unknown_directive_is_an_error_with_suggestion() {
    assert_eq!(
        line_errors("keepalvie 2"),
        vec!["ha.cf:1: unknown directive 'keepalvie' (did you mean 'keepalive'?)"]
    );
    assert_eq!(
        line_errors("Deadtime 2"),
        vec!["ha.cf:1: unknown directive 'Deadtime' (did you mean 'deadtime'?)"]
    );
    assert_eq!(
        line_errors("frobnicate yes"),
        vec!["ha.cf:1: unknown directive 'frobnicate'"]
    );
}

#[test]
fn recognised_but_unsupported_directives_warn() {
    let w = warnings(&format!(
        "{BASE}respawn hacluster /usr/lib/heartbeat/dopd\nhbaping eth0\nwatchdog /dev/watchdog\n"
    ));
    assert_eq!(
        w,
        vec![
            "ha.cf:4: respawn of '/usr/lib/heartbeat/dopd' is not supported: heartbeat-rs does not run it (ignored)",
            "ha.cf:5: directive 'hbaping' is not supported yet (ignored)",
        ]
    );
    assert_eq!(
        ok(&format!("{BASE}watchdog /dev/watchdog\n")).watchdog,
        Some(PathBuf::from("/dev/watchdog"))
    );
}

#[test]
fn ping_nodes_are_read_as_heartbeat_reads_them() {
    let h = ok(&format!(
        "ping 192.0.2.1 Gw.Example\n{BASE}ping6 2001:db8::1\nping_group lan 192.0.2.2 192.0.2.3\n\
         respawn hacluster /usr/lib/heartbeat/ipfail\n"
    ));
    let nodes: Vec<(&str, Vec<&str>, PingFamily, bool, usize)> = h
        .ping
        .nodes
        .iter()
        .map(|n| {
            (
                n.name.as_str(),
                n.hosts.iter().map(String::as_str).collect(),
                n.family,
                n.group,
                n.nodes_before,
            )
        })
        .collect();
    assert_eq!(
        nodes,
        vec![
            ("192.0.2.1", vec!["192.0.2.1"], PingFamily::V4, false, 0),
            ("gw.example", vec!["Gw.Example"], PingFamily::V4, false, 0),
            ("2001:db8::1", vec!["2001:db8::1"], PingFamily::V6, false, 2),
            (
                "lan",
                vec!["192.0.2.2", "192.0.2.3"],
                PingFamily::V4,
                true,
                2
            ),
        ]
    );
    assert_eq!(
        h.ping.deadping,
        h.timing.deadtime(),
        "deadping defaults to deadtime"
    );
    assert_eq!(h.ping.ipfail, Some(IpfailFrom::Respawn { line: 7 }));
    assert_eq!(h.ping.isolation, Isolation::Release);
    assert!(h.ping.releases_when_isolated());
    assert_eq!(h.hbparameter("deadping").as_deref(), Some("30000ms"));
}

#[test]
fn ping_mistakes_are_errors_on_their_line() {
    assert_eq!(
        line_errors("ping6 192.0.2.1"),
        vec![
            "ha.cf:1: '192.0.2.1' is an IPv4 address: ping6 takes an IPv6 address or host name (use ping)"
        ]
    );
    assert_eq!(
        line_errors("ping 2001:db8::1"),
        vec!["ha.cf:1: '2001:db8::1' is an IPv6 address: use ping6 for IPv6 ping nodes"]
    );
    assert_eq!(
        line_errors("ping_group lan"),
        vec!["ha.cf:1: ping_group needs a group name and at least one host"]
    );
    assert_eq!(
        line_errors("ping node1"),
        vec!["ha.cf:1: ping node 'node1' has the name of a cluster node"]
    );
    assert_eq!(
        errors(&format!("{BASE}ping 192.0.2.1\nping 192.0.2.1\n")),
        vec!["ha.cf:5: ping node '192.0.2.1' is declared twice (first on line 4)"]
    );
    assert_eq!(
        errors(&format!("{BASE}keepalive 2\ndeadtime 10\ndeadping 4\n")),
        vec![
            "ha.cf:6: Ping dead time [4000ms] is too small compared to keepalive [2000ms]: deadping must be more than twice keepalive"
        ]
    );
    assert_eq!(
        line_errors("isolation maybe"),
        vec!["ha.cf:1: isolation must be release or keep, not 'maybe'"]
    );
}

#[test]
fn ipfail_and_isolation_need_what_they_use() {
    let legacy = "bcast eth0\nnode node1 node2\nauto_failback legacy\nping 192.0.2.1\nipfail on\n";
    let w = warnings(legacy);
    assert!(
        w.contains(
            &"ha.cf:5: ipfail needs auto_failback on or off (legacy mode has no standby); ignored"
                .to_string()
        ),
        "{w:?}"
    );
    assert!(
        w.contains(&"ha.cf:4: the isolation rule needs auto_failback on or off; with legacy a node cut off keeps its groups, as Heartbeat's does".to_string()),
        "{w:?}"
    );
    let p = ok(legacy).ping;
    assert_eq!(p.ipfail, None);
    assert_eq!(p.isolation, Isolation::Keep);
    let w = warnings(&format!("{BASE}ipfail on\nisolation keep\n"));
    assert_eq!(
        w,
        vec![
            "ha.cf:4: ipfail without ping nodes has nothing to compare (add a ping line); ignored"
        ]
    );
    // Without ping nodes the rule is off unless asked for (the carrier is then its witness).
    assert!(!ok(BASE).ping.releases_when_isolated());
    assert!(
        ok(&format!("{BASE}isolation release\n"))
            .ping
            .releases_when_isolated()
    );
    let p = ok(&format!("{BASE}ping 192.0.2.1\nisolation keep\nipfail off\nrespawn hacluster /usr/lib/heartbeat/ipfail\n")).ping;
    assert_eq!(p.ipfail, None, "ipfail off wins over the respawn line");
    assert!(!p.releases_when_isolated());
}

#[test]
fn time_errors_name_directive_and_value() {
    assert_eq!(
        line_errors("keepalive 2s"),
        vec![
            "ha.cf:1: invalid keepalive: '2s' is not a time (expected seconds such as 2 or 0.5, \
             or 500ms)"
        ]
    );
    assert_eq!(
        line_errors("keepalive 0"),
        vec!["ha.cf:1: keepalive must be greater than 0 (got 0ms)"]
    );
    assert_eq!(
        line_errors("warntime 0.0001"),
        vec!["ha.cf:1: warntime must be greater than 0 (got 0ms)"]
    );
    assert_eq!(
        line_errors("deadtime"),
        vec!["ha.cf:1: directive 'deadtime' needs a value"]
    );
    assert_eq!(
        line_errors("deadtime 30 seconds"),
        vec!["ha.cf:1: directive 'deadtime' takes one value, got 2"]
    );
}

#[test]
fn deadtime_must_exceed_twice_keepalive() {
    assert_eq!(
        errors(&format!("keepalive 2\ndeadtime 4\n{BASE}")),
        vec!["ha.cf:2: deadtime (4000ms) must be more than twice keepalive (2000ms)"]
    );
    // Without a deadtime line the keepalive line is blamed.
    assert_eq!(
        errors(&format!("{BASE}keepalive 15\n")),
        vec!["ha.cf:4: deadtime (30000ms) must be more than twice keepalive (15000ms)"]
    );
    assert_eq!(
        ok(&format!("keepalive 2\ndeadtime 4001ms\n{BASE}"))
            .timing
            .deadtime()
            .as_millis(),
        4001
    );
}

#[test]
fn initdead_below_deadtime_is_an_error_and_below_10s_a_warning() {
    assert_eq!(
        errors(&format!("deadtime 20\ninitdead 10\n{BASE}")),
        vec!["ha.cf:2: initdead (10000ms) must not be smaller than deadtime (20000ms)"]
    );
    assert_eq!(
        warnings(&format!("deadtime 3\ninitdead 5\n{BASE}")),
        vec![
            "ha.cf:2: initdead (5000ms) may be too small: it covers slow network start-up and \
             should be at least deadtime and at least 10s"
        ]
    );
}

#[test]
fn warntime_outside_keepalive_deadtime_warns() {
    assert_eq!(
        warnings(&format!("deadtime 10\nwarntime 10\n{BASE}")),
        vec![
            "ha.cf:2: warntime (10000ms) should be less than deadtime (10000ms), or no \
             late-heartbeat warning comes before a node is declared dead"
        ]
    );
    assert_eq!(
        warnings(&format!("keepalive 2\nwarntime 2\n{BASE}")),
        vec![
            "ha.cf:2: warntime (2000ms) should be more than keepalive (2000ms), or every \
             heartbeat is reported late"
        ]
    );
}

#[test]
fn media_and_node_are_required() {
    assert_eq!(
        errors("auto_failback on\n"),
        vec![
            "ha.cf: no heartbeat media defined (add a bcast, ucast, mcast, ucast6 or mcast6 line)",
            "ha.cf: no nodes defined (add a node line for every cluster node)",
        ]
    );
}

#[test]
fn bad_media_lines_are_errors() {
    assert_eq!(
        line_errors("bcast"),
        vec!["ha.cf:1: bcast needs at least one interface: bcast DEV [DEV...]"]
    );
    assert_eq!(
        line_errors("bcast averyveryverylongname"),
        vec!["ha.cf:1: invalid interface name 'averyveryverylongname': longer than 15 characters"]
    );
    assert_eq!(
        line_errors("ucast eth0"),
        vec!["ha.cf:1: ucast needs a peer address after 'eth0': ucast DEV PEER"]
    );
    assert_eq!(
        line_errors("mcast eth0 192.0.2.1 694 1 0"),
        vec!["ha.cf:1: mcast group '192.0.2.1' is not an IPv4 multicast address (224.0.0.0/4)"]
    );
    assert_eq!(
        line_errors("mcast eth0 239.0.0.1 694 300 0"),
        vec!["ha.cf:1: invalid mcast ttl '300': expected 0-255"]
    );
    assert_eq!(
        line_errors("udpport 0"),
        vec!["ha.cf:1: invalid udpport '0': expected a port number 1-65535"]
    );
    assert_eq!(
        line_errors("udpport 65536"),
        vec!["ha.cf:1: invalid udpport '65536': expected a port number 1-65535"]
    );
}

#[test]
fn ipv6_media_are_parsed_in_file_order_with_their_ports() {
    // ucast6 takes the udpport of the first ucast6 line (Debian's binary binds 7001 for both
    // here); mcast6 has its own port.
    let text = "udpport 7001\nucast6 eth0 2001:db8::12\nudpport 7002\n\
                ucast6 eth1 fe80::5054:ff:fe29:3949 2001:db8::99\n\
                mcast6 eth0 ff12::1:2:3:4 694 1 0\nnode a\nauto_failback on\n";
    let parsed = parse(text).unwrap();
    assert_eq!(
        parsed.value.media,
        vec![
            Medium::Ucast6 {
                dev: "eth0".into(),
                peer: "2001:db8::12".parse().unwrap(),
                scope_id: None,
                port: 7001,
            },
            Medium::Ucast6 {
                dev: "eth1".into(),
                peer: "fe80::5054:ff:fe29:3949".parse().unwrap(),
                scope_id: None,
                port: 7001,
            },
            Medium::Mcast6 {
                dev: "eth0".into(),
                group: "ff12::1:2:3:4".parse().unwrap(),
                port: 694,
                hops: 1,
                looped: false,
            },
        ]
    );
    let warnings: Vec<String> = parsed.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "ha.cf:3: udpport 7002 does not apply to ucast6 (port 7001 since line 2): Heartbeat \
             reads udpport once per medium type, at its first line; put udpport before the \
             media",
            "ha.cf:4: ucast6 takes one peer per line: '2001:db8::99' ignored, as Heartbeat \
             does; add a ucast6 line per peer",
            "ha.cf:4: ucast6 uses port 7001, the udpport of the first ucast6 line (line 2), as \
             in Heartbeat: udpport 7002 does not apply to it",
        ]
    );
    // An IPv6 medium alone is enough.
    assert_eq!(
        ok("mcast6 eth0 ff05::694 694 1 0\nnode a\nauto_failback on\n")
            .media
            .len(),
        1
    );
}

#[test]
fn bad_ipv6_media_lines_are_errors_with_their_line() {
    assert_eq!(
        line_errors("ucast6 eth0 node2"),
        vec![
            "ha.cf:1: invalid ucast6 peer 'node2': not an IPv6 address (ucast6 takes no host \
             names, as in Heartbeat)"
        ]
    );
    assert_eq!(
        line_errors("ucast6 eth0 fe80::12%eth1"),
        vec![
            "ha.cf:1: invalid ucast6 peer 'fe80::12%eth1': its scope eth1 is not the device \
             eth0 (leave the scope off: the device implies it)"
        ]
    );
    assert_eq!(
        line_errors("ucast6"),
        vec!["ha.cf:1: ucast6 needs an interface and a peer: ucast6 DEV PEER"]
    );
    assert_eq!(
        line_errors("mcast6 eth0 ff0e::694 694 1 0"),
        vec![
            "ha.cf:1: invalid mcast6 group 'ff0e::694': scope e is not allowed: use 2 \
             (link-local, e.g. ff12::1:694), 4 (admin-local), 5 (site-local) or 8 \
             (organisation-local), as in Heartbeat"
        ]
    );
    assert_eq!(
        line_errors("mcast6 eth0 ff12::694 694 5 0"),
        vec!["ha.cf:1: invalid mcast6 hops '5': expected 0-4"]
    );
    assert_eq!(
        line_errors("mcast6 eth0 ff12::694 694 1 0 extra"),
        vec!["ha.cf:1: mcast6 needs 5 values: mcast6 DEV GROUP PORT HOPS LOOP (got 6)"]
    );
    // A global peer's numeric scope is ignored, as Heartbeat ignores it.
    assert_eq!(
        warnings(&format!("ucast6 eth0 2001:db8::12%5\n{BASE}")),
        vec![
            "ha.cf:1: ucast6 peer '2001:db8::12%5': the scope %5 of an address that is not \
             link-local is ignored, as Heartbeat ignores it"
        ]
    );
}

#[test]
fn udp_is_an_obsolete_alias_of_bcast() {
    let parsed = parse("udp eth0\nnode a\nauto_failback on\n").unwrap();
    assert_eq!(
        parsed.value.media,
        vec![Medium::Bcast {
            dev: "eth0".into(),
            port: 694
        }]
    );
    assert_eq!(
        parsed.warnings[0].to_string(),
        "ha.cf:1: directive 'udp' is an obsolete name for 'bcast'"
    );
}

#[test]
fn nodes_are_lower_cased_deduplicated_and_validated() {
    let parsed = parse("bcast eth0\nnode A B\nnode a\nnode C,d\nauto_failback on\n").unwrap();
    assert_eq!(parsed.value.nodes, vec!["a", "b", "c", "d"]);
    assert_eq!(
        parsed
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "ha.cf:3: node 'a' is listed more than once",
            "ha.cf: 4 nodes defined: haresources resource management is only well-defined for \
             two nodes",
        ]
    );
    assert!(parsed.value.has_node("C"));
    assert_eq!(
        line_errors("node bad/name"),
        vec!["ha.cf:1: invalid node name 'bad/name': expected a host name as printed by uname -n"]
    );
    assert_eq!(
        line_errors("node"),
        vec!["ha.cf:1: node needs at least one node name"]
    );
}

#[test]
fn auto_failback_accepts_booleans_and_legacy() {
    for (v, want) in [
        ("on", AutoFailback::On),
        ("yes", AutoFailback::On),
        ("TRUE", AutoFailback::On),
        ("off", AutoFailback::Off),
        ("0", AutoFailback::Off),
        ("legacy", AutoFailback::Legacy),
    ] {
        let h = ok(&format!("bcast eth0\nnode a\nauto_failback {v}\n"));
        assert_eq!(h.auto_failback, want, "{v}");
    }
    assert_eq!(
        warnings("bcast eth0\nnode a\nauto_failback legacy\n"),
        vec!["ha.cf:3: auto_failback legacy is deprecated: use 'auto_failback on' (or off)"]
    );
    assert_eq!(
        line_errors("auto_failback sometimes"),
        vec!["ha.cf:1: invalid auto_failback 'sometimes': expected on, off or legacy"]
    );
}

/// Heartbeat 3.0.6's actual reading (checked against Debian's binary): the boolean is
/// ignored; the result depends on whether an earlier auto_failback chose on/off.
#[test]
fn nice_failback_is_read_as_heartbeat_reads_it() {
    for v in ["on", "off"] {
        let parsed = parse(&format!("bcast eth0\nnode a\nnice_failback {v}\n")).unwrap();
        assert_eq!(parsed.value.auto_failback, AutoFailback::Legacy, "{v}");
        assert_eq!(
            parsed.warnings[0].to_string(),
            "ha.cf:3: nice_failback is obsolete; as in Heartbeat 3.0.6 this line means \
             'auto_failback legacy': write 'auto_failback on' or 'auto_failback off' instead"
        );
        let parsed = parse(&format!(
            "bcast eth0\nnode a\nauto_failback on\nnice_failback {v}\n"
        ))
        .unwrap();
        assert_eq!(parsed.value.auto_failback, AutoFailback::Off, "{v}");
        let parsed = parse(&format!(
            "bcast eth0\nnode a\nauto_failback legacy\nnice_failback {v}\n"
        ))
        .unwrap();
        assert_eq!(parsed.value.auto_failback, AutoFailback::Legacy, "{v}");
    }
    // A later auto_failback line overrides.
    let h = ok("bcast eth0\nnode a\nnice_failback on\nauto_failback on\n");
    assert_eq!(h.auto_failback, AutoFailback::On);
    assert_eq!(
        line_errors("nice_failback perhaps"),
        vec![
            "ha.cf:1: invalid nice_failback 'perhaps': expected on or off (or yes/no, true/false)"
        ]
    );
}

#[test]
fn ucast_reads_one_peer_per_line_like_heartbeat() {
    let parsed = parse("ucast eth0 192.0.2.11 192.0.2.12\nnode a\nauto_failback on\n").unwrap();
    assert_eq!(
        parsed.value.media,
        vec![Medium::Ucast {
            dev: "eth0".into(),
            peer: "192.0.2.11".into(),
            port: 694
        }]
    );
    assert_eq!(
        parsed.warnings[0].to_string(),
        "ha.cf:1: ucast takes one peer per line: '192.0.2.12' ignored, as Heartbeat does; add a \
         ucast line per peer"
    );
}

#[test]
fn repeated_last_wins_directive_warns() {
    let parsed = parse(&format!("keepalive 1\nkeepalive 2\n{BASE}")).unwrap();
    assert_eq!(parsed.value.timing.keepalive(), Duration::from_secs(2));
    assert_eq!(
        parsed.warnings[0].to_string(),
        "ha.cf:2: directive 'keepalive' repeated (first set on line 1); the last value wins"
    );
}

#[test]
fn crm_and_pacemaker_only_accept_off() {
    for v in ["no", "off", "false", "n", "0", "No"] {
        ok(&format!("crm {v}\n{BASE}"));
        ok(&format!("pacemaker {v}\n{BASE}"));
    }
    assert_eq!(
        line_errors("crm yes"),
        vec![
            "ha.cf:1: crm 'yes' is not supported: heartbeat-rs only runs haresources resource \
             management (crm no)"
        ]
    );
    assert_eq!(
        line_errors("pacemaker respawn"),
        vec![
            "ha.cf:1: pacemaker 'respawn' is not supported: heartbeat-rs only runs haresources \
             resource management (crm no)"
        ]
    );
    assert_eq!(
        errors(&format!("crm no\npacemaker no\n{BASE}")),
        vec![
            "ha.cf:2: directive 'pacemaker' repeated (first set on line 1); it may appear only once"
        ]
    );
}

#[test]
fn duplicates_heartbeat_refuses_are_errors() {
    assert_eq!(
        errors(&format!(
            "watchdog /dev/watchdog\nwatchdog /dev/watchdog1\n{BASE}"
        )),
        vec![
            "ha.cf:2: directive 'watchdog' repeated (first set on line 1); it may appear only once"
        ]
    );
    assert_eq!(
        errors(&format!(
            "apiauth ipfail uid=hacluster\napiauth ipfail gid=haclient\n{BASE}"
        )),
        vec!["ha.cf:2: apiauth for client 'ipfail' repeated (first on line 1)"]
    );
    assert_eq!(
        line_errors("apiauth ipfail"),
        vec![
            "ha.cf:1: invalid apiauth for 'ipfail': expected apiauth CLIENT [uid=LIST] [gid=LIST]"
        ]
    );
}

#[test]
fn scalar_value_errors() {
    assert_eq!(
        line_errors("msgfmt xml"),
        vec!["ha.cf:1: invalid msgfmt 'xml': expected classic or netstring"]
    );
    assert_eq!(
        line_errors("hopfudge 256"),
        vec!["ha.cf:1: invalid hopfudge '256': expected a whole number 0-255"]
    );
    assert_eq!(
        line_errors("debug -1"),
        vec!["ha.cf:1: invalid debug '-1': expected a whole number 0-255"]
    );
    assert_eq!(
        line_errors("max_rexmit_delay 0"),
        vec![
            "ha.cf:1: invalid max_rexmit_delay '0': expected a whole number of milliseconds \
             above 0"
        ]
    );
    assert_eq!(
        line_errors("use_logd maybe"),
        vec!["ha.cf:1: invalid use_logd 'maybe': expected on or off (or yes/no, true/false)"]
    );
    assert_eq!(
        line_errors("logfacility local9"),
        vec![
            "ha.cf:1: invalid logfacility 'local9': expected a syslog facility (daemon, local0 \
             ... local7, ...) or none"
        ]
    );
    assert_eq!(
        line_errors("hbgenmethod disk"),
        vec!["ha.cf:1: invalid hbgenmethod 'disk': expected file or time"]
    );
    assert_eq!(
        line_errors("uuidfrom mac"),
        vec!["ha.cf:1: invalid uuidfrom 'mac': expected file or nodename"]
    );
    assert_eq!(
        line_errors("autojoin any"),
        vec![
            "ha.cf:1: autojoin 'any' conflicts with haresources resource management (Heartbeat \
             refuses this combination too); use autojoin none"
        ]
    );
    assert_eq!(
        line_errors("agent_timeout 0"),
        vec!["ha.cf:1: agent_timeout must be greater than 0 (got 0ms)"]
    );
    assert_eq!(
        ok(&format!("max_rexmit_delay 100ms\n{BASE}"))
            .max_rexmit_delay
            .as_millis(),
        100
    );
    assert_eq!(
        ok(&format!("logfacility none\n{BASE}"))
            .logfacility
            .as_deref(),
        Some("none")
    );
}

#[test]
fn relative_log_paths_warn() {
    assert_eq!(
        warnings(&format!("logfile ha.log\n{BASE}")),
        vec!["ha.cf:1: logfile 'ha.log' is a relative path; use an absolute path"]
    );
}

#[test]
fn all_errors_are_collected_not_just_the_first() {
    let e = errors("keepalive x\nfoo\nbcast\nnode a\n");
    assert_eq!(e.len(), 4, "{e:?}");
    assert!(e[0].starts_with("ha.cf:1: invalid keepalive"));
    assert!(e[1].starts_with("ha.cf:2: unknown directive 'foo'"));
    assert!(e[2].starts_with("ha.cf:3: bcast needs"));
    assert!(e[3].starts_with("ha.cf: no heartbeat media defined"));
}

/// The lab configuration of the interop captures; `cl_status hbparameter` answers recorded in
/// `shared/interop/captures/cl_status-outputs.txt`.
#[test]
fn hbparameter_matches_heartbeat_for_the_lab_config() {
    let lab = "logfile /var/log/ha-log\ndebugfile /var/log/ha-debug\nkeepalive 1\ndeadtime 4\nwarntime 2\ninitdead 8\nudpport 694\nbcast eth0\nauto_failback on\ncrm no\nnode node1\nnode node2\n";
    let h = ok(lab);
    let p = |n: &str| h.hbparameter(n);
    assert_eq!(p("keepalive").as_deref(), Some("1"));
    assert_eq!(p("deadtime").as_deref(), Some("4"));
    assert_eq!(p("warntime").as_deref(), Some("2"));
    assert_eq!(p("initdead").as_deref(), Some("8"));
    assert_eq!(p("udpport").as_deref(), Some("694"));
    assert_eq!(p("hopfudge").as_deref(), Some("1"));
    assert_eq!(p("auto_failback").as_deref(), Some("on"));
    assert_eq!(p("msgfmt").as_deref(), Some("classic"));
    assert_eq!(p("baud").as_deref(), Some("19200"));
    assert_eq!(p("debug").as_deref(), Some("0"));
    assert_eq!(p("crm").as_deref(), Some("no"));
    assert_eq!(p("pacemaker").as_deref(), Some("no"));
    assert_eq!(p("node"), None);
    assert_eq!(p("generation_method"), None);
    assert_eq!(p("logfacility"), None);
    // Computed defaults are reported in milliseconds, as Heartbeat does.
    let t = ok(BASE);
    assert_eq!(t.hbparameter("warntime").as_deref(), Some("15000ms"));
    assert_eq!(t.hbparameter("initdead").as_deref(), Some("30000ms"));
    assert_eq!(t.hbparameter("keepalive").as_deref(), Some("1000ms"));
}
