//! The state words of the status tree: one enum per field, each with an `Other` variant for a
//! word this version does not know, so that a newer daemon's reply still reads.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Defines an enum whose values travel as fixed words, plus `Other(String)`.
macro_rules! words {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A word this version does not know (from a newer daemon), as sent. Decoding
            /// never puts a known word here.
            Other(String),
        }

        impl $name {
            /// The word on the wire.
            #[must_use]
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $word, )+
                    $name::Other(word) => word,
                }
            }

            /// The value of a word; unknown words become [`Other`](Self::Other).
            #[must_use]
            pub fn from_word(word: &str) -> $name {
                match word {
                    $( $word => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<$name, D::Error> {
                let word = String::deserialize(d)?;
                Ok($name::from_word(&word))
            }
        }
    };
}

words! {
    /// A node's status, Heartbeat's words.
    NodeStatus {
        /// Not heard from yet (or, for the node itself, just started).
        Init = "init",
        /// Heartbeating, cluster communication not up yet.
        Up = "up",
        /// Taking part in resource management.
        Active = "active",
        /// Silent for longer than its deadtime, or gone.
        Dead = "dead",
        /// A ping node that answers (Heartbeat's word).
        Ping = "ping",
    }
}

words! {
    /// A node's type.
    NodeType {
        /// A cluster member.
        Normal = "normal",
        /// A ping node (`ping`, `ping6`, `ping_group`).
        Ping = "ping",
    }
}

words! {
    /// A heartbeat link's status.
    LinkStatus {
        /// Something authenticated arrived on it within the deadtime.
        Up = "up",
        /// Silent.
        Dead = "dead",
    }
}

words! {
    /// A resource group's state on the node that answers.
    GroupState {
        /// Not running here.
        Stopped = "stopped",
        /// The start-up probe of its resources is running.
        Probing = "probing",
        /// Starting its resources left to right.
        Starting = "starting",
        /// Every resource started.
        Running = "running",
        /// Running its resources' start again to re-announce it.
        Reannouncing = "reannouncing",
        /// Stopping its resources right to left.
        Stopping = "stopping",
        /// A failed monitor is being recovered in place.
        Restarting = "restarting",
        /// A stop failed: unmanaged until an operator clears it.
        Failed = "failed",
    }
}

impl GroupState {
    /// Whether the group is between two stable states (`probing`, `starting`, `stopping`,
    /// `reannouncing`, `restarting`).
    #[must_use]
    pub fn in_transition(&self) -> bool {
        matches!(
            self,
            GroupState::Probing
                | GroupState::Starting
                | GroupState::Stopping
                | GroupState::Reannouncing
                | GroupState::Restarting
        )
    }
}

words! {
    /// What the answering node believes of one resource.
    ResourceState {
        /// Not known yet (before the start-up probe).
        Unknown = "unknown",
        /// Stopped here.
        Stopped = "stopped",
        /// Its start is running.
        Starting = "starting",
        /// Running here.
        Running = "running",
        /// Its stop is running.
        Stopping = "stopping",
        /// A start, stop or monitor failed.
        Failed = "failed",
    }
}

words! {
    /// The calling convention of a resource's agent.
    ResourceClass {
        /// A Heartbeat `resource.d` script.
        Heartbeat = "heartbeat",
        /// An LSB init script.
        Lsb = "lsb",
        /// An OCF resource agent.
        Ocf = "ocf",
    }
}

words! {
    /// Heartbeat's `rscstatus`: which resource groups the answering node holds.
    RscStatus {
        /// None.
        None = "none",
        /// The groups that prefer it.
        Local = "local",
        /// The groups that prefer the peer.
        Foreign = "foreign",
        /// Both.
        All = "all",
        /// Resources are moving.
        Transition = "transition",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_words_round_trip_and_unknown_ones_are_kept() {
        for s in [
            GroupState::Stopped,
            GroupState::Restarting,
            GroupState::Other("hibernating".into()),
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(serde_json::from_str::<GroupState>(&json).unwrap(), s);
        }
        assert_eq!(
            serde_json::from_str::<NodeStatus>("\"active\"").unwrap(),
            NodeStatus::Active
        );
        let newer: RscStatus = serde_json::from_str("\"quorumless\"").unwrap();
        assert_eq!(newer, RscStatus::Other("quorumless".into()));
        assert_eq!(newer.to_string(), "quorumless");
        assert_eq!(format!("[{:8}]", NodeStatus::Up), "[up      ]");
        assert_eq!(ResourceState::from_word("unknown"), ResourceState::Unknown);
        assert!(serde_json::from_str::<LinkStatus>("3").is_err());
    }

    #[test]
    fn transitional_group_states() {
        assert!(GroupState::Probing.in_transition());
        assert!(GroupState::Restarting.in_transition());
        assert!(!GroupState::Running.in_transition());
        assert!(!GroupState::Failed.in_transition());
        assert!(!GroupState::Other("x".into()).in_transition());
    }
}
