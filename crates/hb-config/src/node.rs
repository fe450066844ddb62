//! A cluster node's name, as `ha.cf`'s `node` lines give it: the one definition of what a
//! valid name is. Heartbeat compares node names without regard to case; a [`NodeName`] is
//! lower-cased once, here.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use crate::value::is_node_name;

/// A valid node name (a host name as `uname -n` prints it: letters, digits, `-`, `_`, `.`,
/// at most 64 bytes), lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName(String);

impl NodeName {
    /// The name, lower-cased, if it is valid.
    #[must_use]
    pub fn parse(name: &str) -> Option<NodeName> {
        is_node_name(name).then(|| NodeName(name.to_ascii_lowercase()))
    }

    /// The name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for NodeName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for NodeName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for NodeName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for NodeName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for NodeName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for NodeName {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl From<NodeName> for String {
    fn from(n: NodeName) -> String {
        n.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_host_names_lower_cased() {
        assert_eq!(
            NodeName::parse("WWW.Centos1.com").map(String::from),
            Some("www.centos1.com".to_string())
        );
        for bad in ["", "a b", "node1\t", "n@de", &"x".repeat(65)] {
            assert_eq!(NodeName::parse(bad), None, "{bad:?}");
        }
        let n = NodeName::parse("node1").expect("valid");
        assert_eq!(n, "node1");
        assert_eq!([n.clone(), n].join(" "), "node1 node1");
    }
}
