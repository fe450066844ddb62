//! The `status` reply object of docs/control.md, read tolerantly: unknown fields are
//! ignored, missing or `null` optional fields take their documented defaults.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Treats `null` like a missing field.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The whole status object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Status {
    /// This node's name.
    #[serde(default)]
    pub node: Option<String>,
    /// The daemon's version string.
    #[serde(default)]
    pub hbversion: Option<String>,
    /// `haresources` (the only resource manager so far).
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Heartbeat's `none|local|foreign|all|transition`.
    #[serde(default)]
    pub rscstatus: Option<String>,
    /// Whether a graceful stop is under way.
    #[serde(default, deserialize_with = "nullable")]
    pub shutting_down: bool,
    /// The daemon's clock (UNIX seconds).
    #[serde(default)]
    pub now: Option<f64>,
    /// `ha.cf` parameters as `cl_status hbparameter` prints them.
    #[serde(default, deserialize_with = "nullable")]
    pub parameters: BTreeMap<String, Value>,
    /// Nodes in `ha.cf` order.
    #[serde(default, deserialize_with = "nullable")]
    pub nodes: Vec<Node>,
    /// Resource groups in `haresources` order.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<Group>,
}

/// One cluster node.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Node {
    /// Its name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `init`, `up`, `active` or `dead`.
    #[serde(default)]
    pub status: Option<String>,
    /// `normal` or `ping`.
    #[serde(default, rename = "type")]
    pub node_type: Option<String>,
    /// Heartbeat's node weight.
    #[serde(default)]
    pub weight: Option<i64>,
    /// Heartbeat's node site.
    #[serde(default)]
    pub site: Option<String>,
    /// Whether this is the node that answered.
    #[serde(default, rename = "self", deserialize_with = "nullable")]
    pub is_self: bool,
    /// Whether the node runs heartbeat-rs.
    #[serde(default)]
    pub heartbeat_rs: Option<bool>,
    /// When its status last changed.
    #[serde(default)]
    pub since: Option<f64>,
    /// Its heartbeat links.
    #[serde(default, deserialize_with = "nullable")]
    pub links: Vec<Link>,
}

impl Node {
    /// The status as cl_status prints it.
    pub fn status(&self) -> &str {
        self.status.as_deref().unwrap_or("unknown")
    }

    /// The type, `normal` when not given.
    pub fn node_type(&self) -> &str {
        self.node_type.as_deref().unwrap_or("normal")
    }

    /// The weight, Heartbeat's default 100 when not given.
    pub fn weight(&self) -> i64 {
        self.weight.unwrap_or(100)
    }

    /// The site, empty when not given.
    pub fn site(&self) -> &str {
        self.site.as_deref().unwrap_or("")
    }

    /// A link by name.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}

/// One heartbeat link of a node.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Link {
    /// Interface name.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `up` or `dead`.
    #[serde(default)]
    pub status: Option<String>,
    /// Older replies give only this.
    #[serde(default)]
    pub up: Option<bool>,
}

impl Link {
    /// `up` or `dead`, from `status` or else from `up`.
    pub fn status(&self) -> &str {
        match (&self.status, self.up) {
            (Some(s), _) => s,
            (None, Some(true)) => "up",
            (None, _) => "dead",
        }
    }
}

/// One resource group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Group {
    /// Its key (the first resource of the `haresources` line).
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// The node that prefers it.
    #[serde(default)]
    pub preferred: Option<String>,
    /// Its state on this node.
    #[serde(default)]
    pub state: Option<String>,
    /// Who holds it, as far as this node knows.
    #[serde(default)]
    pub holder: Option<String>,
    /// Whether it may not run here until `hb_cleanup`.
    #[serde(default, deserialize_with = "nullable")]
    pub failed_here: bool,
    /// False while unmanaged after a failed stop.
    #[serde(default)]
    pub managed: Option<bool>,
    /// When its state last changed.
    #[serde(default)]
    pub since: Option<f64>,
    /// Why it failed.
    #[serde(default)]
    pub failure: Option<String>,
    /// Its resources.
    #[serde(default, deserialize_with = "nullable")]
    pub resources: Vec<Resource>,
}

impl Group {
    /// The state, `unknown` when not given.
    pub fn state(&self) -> &str {
        self.state.as_deref().unwrap_or("unknown")
    }

    /// Whether the group is between two stable states on this node.
    pub fn in_transition(&self) -> bool {
        matches!(
            self.state(),
            "probing" | "starting" | "stopping" | "reannouncing" | "restarting"
        )
    }

    /// Whether `node` holds it.
    pub fn held_by(&self, node: &str) -> bool {
        self.holder.as_deref() == Some(node)
    }
}

/// One resource of a group.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resource {
    /// The `haresources` text.
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    /// The agent name.
    #[serde(default)]
    pub agent: Option<String>,
    /// `heartbeat`, `lsb` or `ocf`.
    #[serde(default)]
    pub class: Option<String>,
    /// Its state.
    #[serde(default)]
    pub state: Option<String>,
    /// Monitor interval (0: not monitored).
    #[serde(default)]
    pub monitor_interval_ms: Option<u64>,
    /// Failed monitors in the current window.
    #[serde(default)]
    pub failures: Option<u64>,
    /// In-place restarts since the daemon started.
    #[serde(default)]
    pub restarts: Option<u64>,
    /// When it last failed.
    #[serde(default)]
    pub last_failure: Option<f64>,
    /// Why it last failed.
    #[serde(default)]
    pub last_failure_reason: Option<String>,
}

impl Status {
    /// The groups `me` holds, comma-separated, or `no group`.
    pub fn held_list(&self, me: &str) -> String {
        let held: Vec<&str> = self
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

    /// A node by name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// This node's name: `node`, else the node flagged `self`.
    pub fn my_name(&self) -> Option<&str> {
        self.node.as_deref().or_else(|| {
            self.nodes
                .iter()
                .find(|n| n.is_self)
                .map(|n| n.name.as_str())
        })
    }

    /// Nodes in the order Heartbeat's node walk lists them: the reverse of `ha.cf`.
    pub fn nodes_heartbeat_order(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().rev()
    }

    /// A parameter's value as cl_status prints it (strings as they are, other scalars
    /// in JSON form; `null` and objects are no value).
    pub fn parameter(&self, name: &str) -> Option<String> {
        self.parameters.get(name).and_then(scalar).or_else(|| {
            // Older replies carry the version only at the top level.
            (name == "hbversion")
                .then(|| self.hbversion.clone())
                .flatten()
        })
    }

    /// The version string: `hbversion`, else the `hbversion` parameter.
    pub fn version(&self) -> Option<String> {
        self.hbversion
            .clone()
            .or_else(|| self.parameters.get("hbversion").and_then(scalar))
    }

    /// Whether resources are managed the haresources way (the default).
    pub fn haresources(&self) -> bool {
        self.managed_by
            .as_deref()
            .is_none_or(|m| m == "haresources")
    }

    /// A time parameter (`deadtime`, `keepalive`, ...) in milliseconds, as Heartbeat's
    /// API reports it; `None` if absent or not a time.
    pub fn parameter_ms(&self, name: &str) -> Option<u64> {
        self.parameter(name).as_deref().and_then(parse_ms)
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses an `ha.cf` time: a decimal number of seconds, or with a unit `s`, `sec`, `ms`,
/// `msec`, `us`, `usec`; returns whole milliseconds, rounded down (hb-time's
/// [`HA_CF_LENIENT`](hb_time::Dialect::HA_CF_LENIENT) dialect).
pub fn parse_ms(s: &str) -> Option<u64> {
    let d = hb_time::parse_duration(s, &hb_time::Dialect::HA_CF_LENIENT).ok()?;
    u64::try_from(d.as_millis()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_example_parses() {
        let s: Status = serde_json::from_value(json!({
            "version": 1, "ok": true, "node": "node1", "hbversion": "heartbeat-rs 0.1.0",
            "managed_by": "haresources", "rscstatus": "local", "shutting_down": false,
            "now": 1795000000.123,
            "parameters": {"keepalive": "1", "deadtime": "4", "hbversion": "heartbeat-rs 0.1.0"},
            "nodes": [{"name": "node1", "status": "active", "type": "normal", "weight": 100,
                       "site": "", "self": true, "heartbeat_rs": true, "since": 1795000000.001,
                       "links": [{"name": "eth0", "status": "up", "up": true}]}],
            "groups": [{"key": "192.0.2.100", "preferred": "node1", "state": "running",
                        "holder": "node1", "failed_here": false, "managed": true,
                        "since": 1795000000.050, "failure": null,
                        "resources": [{"text": "192.0.2.100", "agent": "IPaddr",
                                       "class": "heartbeat", "state": "running",
                                       "monitor_interval_ms": 3000, "failures": 0,
                                       "restarts": 0, "last_failure": null,
                                       "last_failure_reason": null}]}],
            "counters": {"accepted": 10}
        }))
        .unwrap();
        assert_eq!(s.my_name(), Some("node1"));
        assert_eq!(s.parameter("deadtime").as_deref(), Some("4"));
        assert_eq!(s.parameter_ms("deadtime"), Some(4000));
        assert_eq!(s.parameter("node"), None);
        assert_eq!(s.nodes[0].links[0].status(), "up");
        assert!(s.haresources());
        assert!(s.groups[0].held_by("node1"));
        assert!(!s.groups[0].in_transition());
    }

    #[test]
    fn the_current_daemon_reply_parses_with_defaults() {
        // What hb-daemon's control.rs sends today: fewer fields, links with `up` only.
        let s: Status = serde_json::from_value(json!({
            "version": 1, "ok": true, "node": "node1", "rscstatus": "transition",
            "shutting_down": false,
            "nodes": [{"name": "node1", "status": "active", "self": true, "heartbeat_rs": true,
                       "links": [{"name": "eth0", "up": false}]}],
            "groups": [{"key": "g", "preferred": "node2", "state": "starting", "holder": null,
                        "failed_here": false}],
            "counters": {}, "something_new": {"x": 1}
        }))
        .unwrap();
        let n = &s.nodes[0];
        assert_eq!((n.node_type(), n.weight(), n.site()), ("normal", 100, ""));
        assert_eq!(n.links[0].status(), "dead");
        assert!(s.groups[0].in_transition());
        assert_eq!(s.version(), None);
        let s: Status = serde_json::from_value(json!({"nodes": null, "parameters": null})).unwrap();
        assert!(s.nodes.is_empty());
    }
}
