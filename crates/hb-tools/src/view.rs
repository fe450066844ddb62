//! What the tools read from hb-control's [`Status`] beyond its fields: the answers that
//! fall back to an older reply's fields, and Heartbeat's orders and units.

use hb_control::{Node, Status};

/// The groups `me` holds, comma-separated, or `no group`.
#[must_use]
pub fn held_list(status: &Status, me: &str) -> String {
    let held: Vec<&str> = status
        .groups
        .iter()
        .filter(|g| g.held_by(me))
        .map(|g| g.key.as_str())
        .collect();
    if held.is_empty() {
        "no group".to_string()
    } else {
        held.join(", ")
    }
}

/// Nodes in the order Heartbeat's node walk lists them: the reverse of `ha.cf`.
pub fn nodes_heartbeat_order(status: &Status) -> impl Iterator<Item = &Node> {
    status.nodes.iter().rev()
}

/// A parameter's value as cl_status prints it; older replies carry the version only at the
/// top level.
#[must_use]
pub fn parameter(status: &Status, name: &str) -> Option<String> {
    status.parameters.get(name).cloned().or_else(|| {
        (name == "hbversion")
            .then(|| status.hbversion.clone())
            .flatten()
    })
}

/// The version string: `hbversion`, else the `hbversion` parameter.
#[must_use]
pub fn version(status: &Status) -> Option<String> {
    status
        .hbversion
        .clone()
        .or_else(|| status.parameters.get("hbversion").cloned())
}

/// Whether resources are managed the haresources way (the only way so far).
#[must_use]
pub fn haresources(status: &Status) -> bool {
    status.managed_by == "haresources"
}

/// A time parameter (`deadtime`, `keepalive`, ...) in milliseconds, as Heartbeat's API
/// reports it; `None` if absent or not a time.
#[must_use]
pub fn parameter_ms(status: &Status, name: &str) -> Option<u64> {
    parameter(status, name).as_deref().and_then(parse_ms)
}

/// Parses an `ha.cf` time: a decimal number of seconds, or with a unit `s`, `sec`, `ms`,
/// `msec`, `us`, `usec`; returns whole milliseconds, rounded down (hb-time's
/// [`HA_CF_LENIENT`](hb_time::Dialect::HA_CF_LENIENT) dialect).
#[must_use]
pub fn parse_ms(s: &str) -> Option<u64> {
    let d = hb_time::parse_duration(s, &hb_time::Dialect::HA_CF_LENIENT).ok()?;
    u64::try_from(d.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_control::{Group, Reply};

    /// The example of docs/control.md, as the tools read it.
    fn documented() -> Status {
        let doc = include_str!("../../../docs/control.md");
        let start = doc.find("```json\n").expect("a JSON example") + 8;
        let len = doc[start..].find("```").expect("its end");
        serde_json::from_str::<Reply<Status>>(&doc[start..start + len])
            .expect("the example decodes")
            .body
    }

    #[test]
    fn the_documented_example_answers() {
        let s = documented();
        assert_eq!(s.my_name(), Some("node1"));
        assert_eq!(parameter(&s, "deadtime").as_deref(), Some("4"));
        assert_eq!(parameter_ms(&s, "deadtime"), Some(4000));
        assert_eq!(parameter(&s, "node"), None);
        assert!(haresources(&s));
        assert!(s.groups[0].held_by("node1"));
        assert_eq!(held_list(&s, "node1"), "192.0.2.100");
        assert_eq!(held_list(&s, "node2"), "no group");
    }

    #[test]
    fn an_older_reply_has_the_version_at_the_top_only() {
        let s = Status {
            hbversion: Some("heartbeat-rs 0.0.9".into()),
            ..Status::default()
        };
        assert_eq!(
            parameter(&s, "hbversion").as_deref(),
            Some("heartbeat-rs 0.0.9")
        );
        assert_eq!(version(&Status::default()), None);
        let mut s = Status::default();
        s.parameters.insert("hbversion".into(), "3.0.6".into());
        assert_eq!(version(&s).as_deref(), Some("3.0.6"));
    }

    #[test]
    fn nodes_are_listed_in_heartbeats_order() {
        let s = Status {
            nodes: ["a", "b", "c"]
                .map(|n| Node {
                    name: n.into(),
                    ..Node::default()
                })
                .into(),
            groups: vec![Group::default()],
            ..Status::default()
        };
        let names: Vec<&str> = nodes_heartbeat_order(&s).map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["c", "b", "a"]);
    }
}
