//! `OnlyForTesting`: Heartbeat's test hook, a file in the configuration directory that makes
//! the daemon drop heartbeat traffic on purpose. Heartbeat's own Cluster Test System (CTS)
//! writes it (`TestHeartbeatComm break-communication`) to partition a node, then SIGHUPs the
//! daemon. Lines are `name=value`: `xmitloss` (probability of dropping each message sent),
//! `rcvloss` (of dropping each message received from another node) and `allownodes` (a list
//! of `node;` entries: received messages from those are never dropped, and with a non-empty
//! list nothing sent is). Heartbeat reads the numbers with `atof` (junk is 0) and stops at the
//! first line that is not `name=value`.

/// The file's name, in the configuration directory.
pub const TEST_OPTIONS_FILE: &str = "OnlyForTesting";

/// What `OnlyForTesting` enables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TestOptions {
    /// Probability (0 to 1) of dropping a message sent; `None` when not given.
    pub xmitloss: Option<f64>,
    /// Probability (0 to 1) of dropping a message received from another node.
    pub rcvloss: Option<f64>,
    /// `allownodes`, as written (`node1;node2;`).
    pub allownodes: String,
    /// Parameters Heartbeat does not know (it logs and ignores them).
    pub unknown: Vec<String>,
}

impl TestOptions {
    /// Parses the file's text as Heartbeat's `ParseTestOpts` does.
    #[must_use]
    pub fn parse(text: &str) -> TestOptions {
        let mut o = TestOptions::default();
        for line in text.split('\n') {
            let Some((name, value)) = line.split_once('=') else {
                break;
            };
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
                break;
            }
            let value = value.split_whitespace().next().unwrap_or("");
            match name {
                "xmitloss" => o.xmitloss = Some(atof(value)),
                "rcvloss" => o.rcvloss = Some(atof(value)),
                "allownodes" => o.allownodes = value.to_owned(),
                other => o.unknown.push(other.to_owned()),
            }
        }
        o
    }

    /// Whether a message sent should be dropped, given a uniform draw in [0, 1): with a
    /// non-empty `allownodes`, never.
    #[must_use]
    pub fn drop_sent(&self, draw: f64) -> bool {
        let open = self.allownodes.is_empty() || self.allownodes.starts_with(';');
        open && self.xmitloss.is_some_and(|p| draw < p)
    }

    /// Whether a message received from `from` should be dropped, given a uniform draw.
    #[must_use]
    pub fn drop_received(&self, from: &str, draw: f64) -> bool {
        let allowed = self
            .allownodes
            .split(';')
            .any(|n| !n.is_empty() && n == from);
        !allowed && self.rcvloss.is_some_and(|p| draw < p)
    }
}

/// C's `atof` on the leading number of `s` (0 when there is none).
fn atof(s: &str) -> f64 {
    let end = s
        .char_indices()
        .take_while(|&(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+')))
        .count();
    s[..end].parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_communication_drops_everything() {
        // What TestHeartbeatComm break-communication writes.
        let o = TestOptions::parse("xmitloss=1\nrcvloss=1\nallownodes=\n");
        assert_eq!((o.xmitloss, o.rcvloss), (Some(1.0), Some(1.0)));
        assert!(o.drop_sent(0.999) && o.drop_received("node2", 0.999));
    }

    #[test]
    fn allowed_nodes_are_heard_and_nothing_sent_is_dropped() {
        let o = TestOptions::parse("xmitloss=1\nrcvloss=1\nallownodes=node2;node3;\n");
        assert!(!o.drop_sent(0.0));
        assert!(!o.drop_received("node2", 0.0));
        assert!(o.drop_received("node4", 0.0));
        assert!(
            o.drop_received("node", 0.0),
            "a prefix of an allowed name is not allowed"
        );
    }

    #[test]
    fn probabilities_junk_and_unknown_names_read_as_heartbeat_reads_them() {
        let o = TestOptions::parse("rcvloss=0.25\nxmitloss=x\nfoo=1\nnot a line\nrcvloss=1\n");
        assert_eq!(o.rcvloss, Some(0.25), "parsing stops at the first bad line");
        assert_eq!(o.xmitloss, Some(0.0));
        assert_eq!(o.unknown, ["foo"]);
        assert!(o.drop_received("node2", 0.2) && !o.drop_received("node2", 0.3));
        assert!(!o.drop_sent(0.0));
        assert_eq!(atof("0.5abc"), 0.5);
        assert_eq!(atof(""), 0.0);
    }
}
