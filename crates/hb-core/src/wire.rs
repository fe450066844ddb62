//! The originator fields of every message type the core sends, in Heartbeat 3.0.6's field
//! order (checked against the shared captures), and small parsers for received fields.
//!
//! The header fields (`src`, `srcuuid`, `seq`, `hg`, `ts`, `ld`, `ttl`, and `destuuid` for
//! addressed messages) are appended by [`crate::send`].

use hb_proto::Message;

use crate::action::Class;

/// Version of heartbeat-rs's protocol extension, announced in every status message as
/// `hbrs=<version>`. Heartbeat 3 ignores unknown fields.
pub const EXTENSION_VERSION: &str = "1";

/// Status field announcing a heartbeat-rs peer.
pub(crate) const F_HBRS: &str = "hbrs";
/// Status field: how many ping nodes the sender reaches (sent only with ping nodes).
pub(crate) const F_PING: &str = "hbrs_ping";
/// `resource` field: the exact groups the sender holds, `key@epoch` separated by spaces,
/// or `-` for none.
pub(crate) const F_HELD: &str = "hbrs_held";
/// `resource` field: groups whose start failed on the sender (it will not take them), or `-`.
pub(crate) const F_FAILED: &str = "hbrs_failed";
/// The highest acquisition epoch a peer may report. Epochs count acquisitions of a group
/// (each needs at least one agent run), carried from node to node while either runs: at a
/// thousand acquisitions a second a cluster would take nearly 9,000 years to reach it. A
/// larger one cannot be real; trusting it would make our next epoch overflow.
pub(crate) const MAX_EPOCH: u64 = 1 << 48;
/// `resource` field `1`: the sender asks for a full report in return (sent after an
/// isolation, when reports may have been lost); the answer is a reply report.
pub(crate) const F_ASK: &str = "hbrs_ask";
/// `resource` field `1`: this report answers a report that showed a group held on both
/// sides; it is not answered in turn.
pub(crate) const F_REPLY: &str = "hbrs_reply";
/// `resource` field: the fingerprint of the preferred node of every group of the sender's
/// `haresources`, `key#hex` separated by spaces ([`crate::GroupConfig::fingerprint`]): while
/// the two files disagree about a group's node (one reloaded before the other), neither
/// node starts it.
pub(crate) const F_DEFS: &str = "hbrs_defs";
/// On a report that asks for the peer's (`hbrs_ask=1`): `0` when the sender gives no groups
/// away (no standby exchange of its own is going on): a peer that accepted its standby request
/// stops waiting for its `done`.
pub(crate) const F_GIVING: &str = "hbrs_giving";

pub(crate) fn hex(n: u64) -> String {
    format!("{n:x}")
}

/// Parses Heartbeat's `%lx` hex numbers.
pub(crate) fn parse_hex(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Parses a decimal number the way `atoi` would accept a well-formed one.
pub(crate) fn parse_dec(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub(crate) fn status(st: &str, deadtime_ms: u64) -> Message {
    Message::new()
        .with("t", "status")
        .with("st", st)
        .with("dt", hex(deadtime_ms))
        .with("protocol", "1")
        .with(F_HBRS, EXTENSION_VERSION)
}

pub(crate) fn ackmsg(dest: &str, ackseq: u64) -> Message {
    Message::new()
        .with("t", "NS_ackmsg")
        .with("dest", dest)
        .with("ackseq", hex(ackseq))
}

pub(crate) fn rexmit(dest: &str, first: u64, last: u64) -> Message {
    Message::new()
        .with("t", "NS_rexmit")
        .with("dest", dest)
        .with("firstseq", first.to_string())
        .with("lastseq", last.to_string())
}

pub(crate) fn nak_rexmit(seq: u64, dest: &str, info: &str) -> Message {
    Message::new()
        .with("t", "NS_nak_rexmit")
        .with("firstseq", hex(seq))
        .with("dest", dest)
        .with("info", info)
}

pub(crate) fn reqnodes(dest: &str) -> Message {
    Message::new().with("t", "reqnodes").with("dest", dest)
}

pub(crate) fn repnodes<N: AsRef<str>>(dest: &str, nodes: impl IntoIterator<Item = N>) -> Message {
    let mut list = String::new();
    for n in nodes {
        list.push_str(n.as_ref());
        list.push(' ');
    }
    Message::new()
        .with("dest", dest)
        .with("t", "repnodes")
        .with("nodelist", list)
        .with("delnodelist", " ")
}

pub(crate) fn starting() -> Message {
    Message::new().with("t", "starting")
}

/// Exact holdings for the extension fields.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Holdings {
    /// (group key, epoch) of every group held.
    pub held: Vec<(String, u64)>,
    /// Keys of groups that failed to start on the sender.
    pub failed: Vec<String>,
    /// The report answers a dual-holding report.
    pub reply: bool,
    /// (group key, fingerprint of its preferred node) of every group of the sender's
    /// `haresources`; `None` when the report had none (an older heartbeat-rs).
    pub defs: Option<Vec<(String, u64)>>,
}

impl Holdings {
    fn held_field(&self) -> String {
        if self.held.is_empty() {
            return "-".into();
        }
        let parts: Vec<String> = self.held.iter().map(|(k, e)| format!("{k}@{e}")).collect();
        parts.join(" ")
    }

    fn failed_field(&self) -> String {
        if self.failed.is_empty() {
            "-".into()
        } else {
            self.failed.join(" ")
        }
    }

    /// Parses the extension fields of a `resource` message; `None` if it has none (a
    /// message from Heartbeat 3) or they are malformed.
    pub(crate) fn parse(msg: &Message) -> Option<Holdings> {
        let held = msg.str(F_HELD)?;
        let mut out = Holdings::default();
        if held != "-" {
            for item in held.split_ascii_whitespace() {
                let (key, epoch) = item.rsplit_once('@')?;
                out.held.push((key.to_string(), parse_dec(epoch)?));
            }
        }
        if let Some(failed) = msg.str(F_FAILED)
            && failed != "-"
        {
            out.failed = failed
                .split_ascii_whitespace()
                .map(str::to_string)
                .collect();
        }
        out.reply = msg.str(F_REPLY) == Some("1");
        if let Some(defs) = msg.str(F_DEFS) {
            let mut list = Vec::new();
            if defs != "-" {
                for item in defs.split_ascii_whitespace() {
                    let (key, hash) = item.rsplit_once('#')?;
                    list.push((key.to_string(), parse_hex(hash)?));
                }
            }
            out.defs = Some(list);
        }
        Some(out)
    }
}

/// A `resource` report. `rtype=full` reports carry `isstable`; `mach_down` notices carry
/// neither (spec §8.2).
pub(crate) fn resource(
    class: Class,
    report: Option<bool>,
    info: Option<&str>,
    ext: &Holdings,
) -> Message {
    let mut m = Message::new()
        .with("t", "resource")
        .with("rsc_hold", class.as_str());
    if let Some(stable) = report {
        m.push_str("rtype", "full");
        m.push_str("isstable", if stable { "1" } else { "0" });
    }
    if let Some(info) = info {
        m.push_str("info", info);
    }
    m.push_str(F_HELD, ext.held_field());
    m.push_str(F_FAILED, ext.failed_field());
    if let Some(defs) = &ext.defs {
        let field = if defs.is_empty() {
            "-".to_string()
        } else {
            let parts: Vec<String> = defs
                .iter()
                .map(|(k, h)| format!("{k}#{}", hex(*h)))
                .collect();
            parts.join(" ")
        };
        m.push_str(F_DEFS, field);
    }
    if ext.reply {
        m.push_str(F_REPLY, "1");
    }
    m
}

pub(crate) fn ask_resources(class: Class, info: &str) -> Message {
    Message::new()
        .with("t", "ask_resources")
        .with("rsc_hold", class.as_str())
        .with("info", info)
}

pub(crate) fn hb_takeover(class: Class) -> Message {
    Message::new()
        .with("t", "hb_takeover")
        .with("rsc_hold", class.as_str())
}

pub(crate) fn ip_request(key: &str) -> Message {
    Message::new().with("t", "ip-request").with("ipaddr", key)
}

pub(crate) fn ip_request_resp(dest: &str, key: &str, weown: bool) -> Message {
    Message::new()
        .with("t", "ip-request-resp")
        .with("dest", dest)
        .with("ipaddr", key)
        .with("weown", if weown { "yes" } else { "no" })
        .with("ok", "OK")
}

pub(crate) fn shutdone() -> Message {
    Message::new().with("t", "shutdone").with("st", "dead")
}

/// Heartbeat's `stonith` message: `result` is `unneeded`, `n_stnth` (needed, no device),
/// or an attempt's `OK`, `badhost` or `bad`.
pub(crate) fn stonith_result(node: &str, result: &str) -> Message {
    Message::new()
        .with("t", "stonith")
        .with("node", node)
        .with("result", result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_parse_like_heartbeat() {
        assert_eq!(parse_hex("1f"), Some(31));
        assert_eq!(parse_hex(""), None);
        assert_eq!(parse_hex("xyz"), None);
        assert_eq!(parse_hex("11111111111111111"), None);
        assert_eq!(parse_dec("31"), Some(31));
        assert_eq!(parse_dec("-1"), None);
        assert_eq!(parse_dec("1f"), None);
    }

    #[test]
    fn holdings_round_trip_through_resource_fields() {
        let h = Holdings {
            held: vec![("IPaddr::10.0.0.1".into(), 3), ("a@b".into(), 12)],
            failed: vec!["nginx".into()],
            reply: true,
            defs: Some(vec![
                ("IPaddr::10.0.0.1".into(), 0xab),
                ("ocf:heartbeat:IPaddr2::ip=10.0.0.2".into(), u64::MAX),
            ]),
        };
        let m = resource(Class::Local, Some(true), None, &h);
        assert_eq!(m.str("hbrs_held"), Some("IPaddr::10.0.0.1@3 a@b@12"));
        assert_eq!(
            m.str("hbrs_defs"),
            Some("IPaddr::10.0.0.1#ab ocf:heartbeat:IPaddr2::ip=10.0.0.2#ffffffffffffffff")
        );
        assert_eq!(Holdings::parse(&m), Some(h));
        let no_groups = Holdings {
            defs: Some(Vec::new()),
            ..Holdings::default()
        };
        let m = resource(Class::None, Some(true), None, &no_groups);
        assert_eq!(m.str("hbrs_defs"), Some("-"));
        assert_eq!(Holdings::parse(&m), Some(no_groups));
        let none = resource(
            Class::None,
            Some(false),
            Some("shutdown"),
            &Holdings::default(),
        );
        assert_eq!(none.str("hbrs_held"), Some("-"));
        assert_eq!(Holdings::parse(&none), Some(Holdings::default()));
    }

    #[test]
    fn holdings_absent_or_malformed_mean_a_plain_heartbeat_report() {
        let plain = Message::new().with("t", "resource").with("rsc_hold", "all");
        assert_eq!(Holdings::parse(&plain), None);
        let bad = Message::new().with("hbrs_held", "key-without-epoch");
        assert_eq!(Holdings::parse(&bad), None);
    }

    #[test]
    fn field_orders_match_heartbeat() {
        let names = |m: &Message| {
            m.fields()
                .iter()
                .map(|f| f.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(&repnodes(
                "node1",
                &["node1".to_string(), "node2".to_string()]
            )),
            ["dest", "t", "nodelist", "delnodelist"]
        );
        assert_eq!(
            repnodes("n", &["a".to_string(), "b".to_string()]).str("nodelist"),
            Some("a b ")
        );
        assert_eq!(
            names(&nak_rexmit(1, "x", "y")),
            ["t", "firstseq", "dest", "info"]
        );
        assert_eq!(
            names(&ip_request_resp("n", "k", true)),
            ["t", "dest", "ipaddr", "weown", "ok"]
        );
        assert_eq!(
            names(&resource(
                Class::All,
                Some(true),
                Some("req_our_resources()"),
                &Holdings::default()
            ))[..5],
            ["t", "rsc_hold", "rtype", "isstable", "info"]
        );
    }
}
