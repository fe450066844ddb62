use super::*;

#[test]
fn table_names_are_unique() {
    let mut names: Vec<&str> = DIRECTIVES.iter().map(|d| d.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(before, names.len());
}

#[test]
fn every_directive_is_documented_in_docs_ha_cf_md() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/ha.cf.md"))
        .expect("docs/ha.cf.md exists");
    for d in DIRECTIVES {
        assert!(
            doc.contains(&format!("### `{}`", d.name)),
            "docs/ha.cf.md has no section for '{}'",
            d.name
        );
    }
}

/// Heartbeat 3.0.6 records these (config.c's `Directives[]` with `record_value`) and
/// answers `cl_status hbparameter -p NAME` from them for the lab configuration of the
/// interop captures: the default, the computed value (`deadping` is the deadtime in
/// milliseconds), or no value.
#[test]
fn every_recorded_directive_is_a_parameter_name() {
    let names: Vec<&str> = HaCf::hbparameter_names().collect();
    for name in [
        "keepalive",
        "crm",
        "pacemaker",
        "agent_timeout",
        "control_group",
    ] {
        assert!(names.contains(&name), "{name}");
    }
    for name in [
        "node",
        "bcast",
        "respawn",
        "monitor",
        "nice_failback",
        "hbversion",
    ] {
        assert!(!names.contains(&name), "{name}");
    }
    let lab = "logfile /var/log/ha-log\ndebugfile /var/log/ha-debug\nkeepalive 1\n\
               deadtime 4\nwarntime 2\ninitdead 8\nudpport 694\nbcast eth0\n\
               auto_failback on\ncrm no\nnode node1\nnode node2\n";
    let h = crate::hacf::parse_ha_cf(lab, std::path::Path::new("ha.cf"))
        .unwrap()
        .value;
    for (name, heartbeat) in [
        ("cluster", Some("linux-ha")),
        ("conn_logd_time", Some("60")),
        ("coredumps", Some("true")),
        ("coreroot", None),
        ("crm_daemon_dir", None),
        ("crmd_spawns_pengine", None),
        ("deadping", Some("4000ms")),
        ("enable_config_writes", Some("on")),
        ("log_badpack", Some("true")),
        ("memreserve", Some("6500")),
        ("quorum_server", None),
        ("record_config_changes", Some("on")),
        ("record_pengine_inputs", Some("on")),
        ("rtprio", None),
        ("syslogmsgfmt", Some("true")),
        ("watchdog", None),
    ] {
        assert!(names.contains(&name), "{name}");
        assert_eq!(h.hbparameter(name).as_deref(), heartbeat, "{name}");
    }
    for name in names {
        assert!(
            lookup(name).is_some_and(|d| d.recorded),
            "{name} is a recorded directive"
        );
    }
}

#[test]
fn suggestions_are_within_edit_distance_two() {
    assert_eq!(suggest("keepalvie"), Some("keepalive"));
    assert_eq!(suggest("Node"), Some("node"));
    assert_eq!(suggest("deadtim"), Some("deadtime"));
    assert_eq!(suggest("autofailback"), Some("auto_failback"));
    assert_eq!(suggest("frobnicate"), None);
}
