//! The status tree: the body of the `status` reply (docs/control.md, "The status object").
//!
//! Every field is written when encoding. When decoding, a missing or `null` field takes the
//! default its documentation names, which is also what the type's `Default` gives: an older
//! daemon's smaller reply reads as if it had sent those values.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::words::{
    GroupState, LinkStatus, NodeStatus, NodeType, ResourceClass, ResourceState, RscStatus,
};

/// `ha.cf` parameters as `cl_status hbparameter -p NAME` prints them, by name.
pub type Parameters = BTreeMap<String, String>;

/// The `status` reply's body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The answering node's name. Missing: `None`.
    #[serde(default)]
    pub node: Option<String>,
    /// The daemon's version string (`heartbeat-rs 0.1.0`). Missing: `None`.
    #[serde(default)]
    pub hbversion: Option<String>,
    /// Who manages resources: `haresources` (the only manager so far). Missing: `haresources`.
    #[serde(default = "haresources", deserialize_with = "managed_by_or_default")]
    pub managed_by: String,
    /// Heartbeat's `rscstatus`. Missing: `None`.
    #[serde(default)]
    pub rscstatus: Option<RscStatus>,
    /// Whether a graceful stop is under way. Missing: false.
    #[serde(default, deserialize_with = "nullable")]
    pub shutting_down: bool,
    /// Whether the node is isolated (no peer, no ping node) and holds nothing on purpose.
    /// Missing: false.
    #[serde(default, deserialize_with = "nullable")]
    pub isolated: bool,
    /// Fencing of a dead peer: while it holds back the takeover of its groups, and after it
    /// reset the peer (until the peer is heard again). Missing: `None`.
    #[serde(default)]
    pub fencing: Option<Fencing>,
    /// A stop failed here with fencing configured: this node stopped heartbeating for its peer
    /// to fence it. Missing: false.
    #[serde(default, deserialize_with = "nullable")]
    pub awaiting_fence: bool,
    /// The daemon's clock, UNIX seconds with a fraction. Missing: `None`.
    #[serde(default)]
    pub now: Option<f64>,
    /// Every parameter `cl_status hbparameter -p NAME` can print, as strings; a name that is
    /// not there has no value. When decoding, numbers and booleans are taken in their JSON
    /// form and other values are dropped. Missing: empty.
    #[serde(default, deserialize_with = "parameters")]
    pub parameters: Parameters,
    /// The nodes, in `ha.cf` order. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub nodes: Vec<Node>,
    /// The resource groups, in `haresources` order. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub groups: Vec<Group>,
    /// Rejected-input counters. Missing: all zero.
    #[serde(default, deserialize_with = "nullable")]
    pub counters: Counters,
}

impl Default for Status {
    fn default() -> Status {
        Status {
            node: None,
            hbversion: None,
            managed_by: haresources(),
            rscstatus: None,
            shutting_down: false,
            isolated: false,
            fencing: None,
            awaiting_fence: false,
            now: None,
            parameters: Parameters::new(),
            nodes: Vec::new(),
            groups: Vec::new(),
            counters: Counters::default(),
        }
    }
}

impl Status {
    /// The node called `name`.
    #[must_use]
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The group whose key is `key`.
    #[must_use]
    pub fn group(&self, key: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.key == key)
    }

    /// The answering node's name: `node`, else the node flagged `self`.
    #[must_use]
    pub fn my_name(&self) -> Option<&str> {
        self.node.as_deref().or_else(|| {
            self.nodes
                .iter()
                .find(|n| n.is_self)
                .map(|n| n.name.as_str())
        })
    }
}

/// Fencing of one node (docs/control.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fencing {
    /// The node. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub node: String,
    /// `needed` (waiting for the isolation check), `running`, `retrying` or `fenced`.
    /// Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub state: String,
    /// Attempts started. Missing: 0.
    #[serde(default, deserialize_with = "nullable")]
    pub attempts: u32,
    /// How the last finished attempt ended. Missing: `None`.
    #[serde(default)]
    pub last_result: Option<String>,
    /// When the next attempt starts, UNIX seconds (while retrying). Missing: `None`.
    #[serde(default)]
    pub retry_at: Option<f64>,
}

/// One cluster node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Its name. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Its status. Missing: `Other("unknown")`.
    #[serde(default = "unknown_node", deserialize_with = "node_status_or_default")]
    pub status: NodeStatus,
    /// Its type. Missing: `normal`.
    #[serde(
        rename = "type",
        default = "normal",
        deserialize_with = "node_type_or_default"
    )]
    pub node_type: NodeType,
    /// Heartbeat's node weight. Missing: 100, Heartbeat's default.
    #[serde(default = "weight", deserialize_with = "weight_or_default")]
    pub weight: i64,
    /// Heartbeat's node site. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub site: String,
    /// Whether it is the node that answers. Missing: false.
    #[serde(rename = "self", default, deserialize_with = "nullable")]
    pub is_self: bool,
    /// Whether it runs heartbeat-rs (false: Heartbeat 3). Missing: true.
    #[serde(default = "yes", deserialize_with = "true_or_default")]
    pub heartbeat_rs: bool,
    /// When its status last changed, UNIX seconds (`None`: not since the daemon started).
    #[serde(default)]
    pub since: Option<f64>,
    /// Its heartbeat links, in `ha.cf` media order. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub links: Vec<Link>,
}

impl Default for Node {
    fn default() -> Node {
        Node {
            name: String::new(),
            status: unknown_node(),
            node_type: normal(),
            weight: weight(),
            site: String::new(),
            is_self: false,
            heartbeat_rs: true,
            since: None,
            links: Vec::new(),
        }
    }
}

impl Node {
    /// Its link called `name`.
    #[must_use]
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }
}

/// One heartbeat link of a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "LinkFields")]
pub struct Link {
    /// The interface name.
    pub name: String,
    /// `up` or `dead`. Missing: from `up`.
    pub status: LinkStatus,
    /// Whether it is up (older replies give only this). Missing: from `status`.
    pub up: bool,
}

impl Default for Link {
    fn default() -> Link {
        Link {
            name: String::new(),
            status: LinkStatus::Dead,
            up: false,
        }
    }
}

/// A link as it may arrive: either of `status` and `up` may be missing.
#[derive(Deserialize)]
struct LinkFields {
    #[serde(default, deserialize_with = "nullable")]
    name: String,
    #[serde(default)]
    status: Option<LinkStatus>,
    #[serde(default)]
    up: Option<bool>,
}

impl From<LinkFields> for Link {
    fn from(f: LinkFields) -> Link {
        let status = f.status.unwrap_or(if f.up == Some(true) {
            LinkStatus::Up
        } else {
            LinkStatus::Dead
        });
        let up = f.up.unwrap_or(status == LinkStatus::Up);
        Link {
            name: f.name,
            status,
            up,
        }
    }
}

/// One resource group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Its key: the first resource of its `haresources` line. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub key: String,
    /// The node that prefers it. Missing: empty (no node).
    #[serde(default, deserialize_with = "nullable")]
    pub preferred: String,
    /// Its state on the answering node. Missing: `Other("unknown")`.
    #[serde(default = "unknown_group", deserialize_with = "group_state_or_default")]
    pub state: GroupState,
    /// The node that holds it as far as the answering node knows, or `None`.
    #[serde(default)]
    pub holder: Option<String>,
    /// Whether it failed here and will not run here until `hb_cleanup`. Missing: false.
    #[serde(default, deserialize_with = "nullable")]
    pub failed_here: bool,
    /// False while it is unmanaged after a failed stop. Missing: true.
    #[serde(default = "yes", deserialize_with = "true_or_default")]
    pub managed: bool,
    /// When its state here last changed, UNIX seconds (`None`: not since the daemon started).
    #[serde(default)]
    pub since: Option<f64>,
    /// Why it failed, or `None`.
    #[serde(default)]
    pub failure: Option<String>,
    /// Its resources, in start order. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub resources: Vec<Resource>,
}

impl Default for Group {
    fn default() -> Group {
        Group {
            key: String::new(),
            preferred: String::new(),
            state: unknown_group(),
            holder: None,
            failed_here: false,
            managed: true,
            since: None,
            failure: None,
            resources: Vec::new(),
        }
    }
}

impl Group {
    /// Whether `node` holds it.
    #[must_use]
    pub fn held_by(&self, node: &str) -> bool {
        self.holder.as_deref() == Some(node)
    }
}

/// One resource of a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    /// As written in `haresources`. Missing: empty.
    #[serde(default, deserialize_with = "nullable")]
    pub text: String,
    /// The agent's file name, or `None`.
    #[serde(default)]
    pub agent: Option<String>,
    /// The agent's class, or `None`.
    #[serde(default)]
    pub class: Option<ResourceClass>,
    /// Its state. Missing: `unknown`.
    #[serde(
        default = "unknown_resource",
        deserialize_with = "resource_state_or_default"
    )]
    pub state: ResourceState,
    /// The monitor interval in milliseconds, 0 when it is not monitored. Missing: 0.
    #[serde(default, deserialize_with = "nullable")]
    pub monitor_interval_ms: u64,
    /// Failed monitors within the current restart window. Missing: 0.
    #[serde(default, deserialize_with = "nullable")]
    pub failures: u64,
    /// In-place restarts since the daemon started. Missing: 0.
    #[serde(default, deserialize_with = "nullable")]
    pub restarts: u64,
    /// Monitor runs judged (passed or failed) since the daemon started. Missing: 0.
    #[serde(default, deserialize_with = "nullable")]
    pub monitors: u64,
    /// When it last failed, UNIX seconds, or `None`.
    #[serde(default)]
    pub last_failure: Option<f64>,
    /// How it last failed, or `None`.
    #[serde(default)]
    pub last_failure_reason: Option<String>,
}

impl Default for Resource {
    fn default() -> Resource {
        Resource {
            text: String::new(),
            agent: None,
            class: None,
            state: ResourceState::Unknown,
            monitor_interval_ms: 0,
            failures: 0,
            restarts: 0,
            monitors: 0,
            last_failure: None,
            last_failure_reason: None,
        }
    }
}

/// Counters of the answering node's rejected input. Each missing counter reads as 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Messages accepted.
    #[serde(default, deserialize_with = "nullable")]
    pub accepted: u64,
    /// Datagrams that could not be parsed.
    #[serde(default, deserialize_with = "nullable")]
    pub malformed: u64,
    /// Datagrams whose signature did not verify.
    #[serde(default, deserialize_with = "nullable")]
    pub auth_failed: u64,
    /// Authenticated messages from a node not in `ha.cf`.
    #[serde(default, deserialize_with = "nullable")]
    pub unknown_node: u64,
    /// Messages of an older generation (replays).
    #[serde(default, deserialize_with = "nullable")]
    pub replayed: u64,
    /// Duplicates and stale messages of the current generation.
    #[serde(default, deserialize_with = "nullable")]
    pub duplicate: u64,
    /// Missing messages this node asked a peer to retransmit (each request counts).
    #[serde(default, deserialize_with = "nullable")]
    pub rexmit_asked: u64,
    /// Messages this node retransmitted at a peer's request.
    #[serde(default, deserialize_with = "nullable")]
    pub rexmit_sent: u64,
}

/// Reads `null` like a missing field: the type's default.
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Defines the default of a field and a reader that also takes `null` for it.
macro_rules! default_field {
    ($default:ident, $reader:ident, $t:ty, $value:expr) => {
        fn $default() -> $t {
            $value
        }

        fn $reader<'de, D: Deserializer<'de>>(d: D) -> Result<$t, D::Error> {
            Ok(Option::<$t>::deserialize(d)?.unwrap_or_else($default))
        }
    };
}

default_field!(
    haresources,
    managed_by_or_default,
    String,
    "haresources".to_owned()
);
default_field!(
    unknown_node,
    node_status_or_default,
    NodeStatus,
    NodeStatus::Other("unknown".to_owned())
);
default_field!(normal, node_type_or_default, NodeType, NodeType::Normal);
default_field!(weight, weight_or_default, i64, 100);
default_field!(yes, true_or_default, bool, true);
default_field!(
    unknown_group,
    group_state_or_default,
    GroupState,
    GroupState::Other("unknown".to_owned())
);
default_field!(
    unknown_resource,
    resource_state_or_default,
    ResourceState,
    ResourceState::Unknown
);

/// Reads `parameters`: strings as they are, numbers and booleans in their JSON form; `null`,
/// lists and objects are no value.
fn parameters<'de, D: Deserializer<'de>>(d: D) -> Result<Parameters, D::Error> {
    let raw = Option::<BTreeMap<String, serde_json::Value>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .filter_map(|(name, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Null
                | serde_json::Value::Array(_)
                | serde_json::Value::Object(_) => {
                    return None;
                }
            };
            Some((name, text))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_object_reads_as_the_defaults() {
        let s: Status = serde_json::from_value(json!({})).unwrap();
        assert_eq!(s, Status::default());
        assert_eq!(
            serde_json::from_value::<Node>(json!({})).unwrap(),
            Node::default()
        );
        assert_eq!(
            serde_json::from_value::<Group>(json!({})).unwrap(),
            Group::default()
        );
        assert_eq!(
            serde_json::from_value::<Resource>(json!({})).unwrap(),
            Resource::default()
        );
        assert_eq!(
            serde_json::from_value::<Link>(json!({})).unwrap(),
            Link::default()
        );
        let nulls: Status = serde_json::from_value(json!({
            "node": null, "managed_by": null, "shutting_down": null, "parameters": null,
            "nodes": null, "groups": null, "counters": null
        }))
        .unwrap();
        assert_eq!(nulls, Status::default());
    }

    #[test]
    fn an_older_daemons_smaller_reply_reads_with_defaults() {
        // What hb-daemon sent before the protocol grew: fewer fields, links with `up` only.
        let s: Status = serde_json::from_value(json!({
            "version": 1, "ok": true, "node": "node1", "rscstatus": "transition",
            "shutting_down": false,
            "nodes": [{"name": "node1", "status": "active", "self": true, "heartbeat_rs": true,
                       "links": [{"name": "eth0", "up": false}, {"name": "eth1", "up": true}]}],
            "groups": [{"key": "g", "preferred": "node2", "state": "starting", "holder": null,
                        "failed_here": false}],
            "counters": {}, "something_new": {"x": 1}
        }))
        .unwrap();
        let n = &s.nodes[0];
        assert_eq!(
            (&n.node_type, n.weight, n.site.as_str()),
            (&NodeType::Normal, 100, "")
        );
        assert_eq!(n.links[0].status, LinkStatus::Dead);
        assert_eq!(n.links[1].status, LinkStatus::Up);
        assert!(s.groups[0].state.in_transition());
        assert!(s.groups[0].managed);
        assert_eq!(s.rscstatus, Some(RscStatus::Transition));
        assert_eq!(s.hbversion, None);
        assert_eq!(s.my_name(), Some("node1"));
    }

    #[test]
    fn a_link_with_only_a_status_gets_up_from_it() {
        let l: Link = serde_json::from_value(json!({"name": "eth0", "status": "up"})).unwrap();
        assert!(l.up);
        let l: Link = serde_json::from_value(json!({"name": "eth0", "status": "dead"})).unwrap();
        assert!(!l.up);
    }

    #[test]
    fn parameters_keep_scalars_as_text() {
        let s: Status = serde_json::from_value(json!({"parameters": {
            "deadtime": "4", "udpport": 694, "realtime": true, "odd": null, "list": [1]
        }}))
        .unwrap();
        let want: Parameters = [("deadtime", "4"), ("realtime", "true"), ("udpport", "694")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert_eq!(s.parameters, want);
    }

    #[test]
    fn the_self_node_names_the_answering_node_when_node_is_missing() {
        let s: Status = serde_json::from_value(json!({"nodes": [
            {"name": "a"}, {"name": "b", "self": true}
        ]}))
        .unwrap();
        assert_eq!(s.my_name(), Some("b"));
        assert_eq!(s.node("a").map(|n| n.status.as_str()), Some("unknown"));
        assert!(s.node("c").is_none());
    }
}
