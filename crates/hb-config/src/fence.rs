//! Fencing devices: Heartbeat's `stonith` and `stonith_host`, and heartbeat-rs's
//! `fence_agent` and `fence_timeout`.
//!
//! Heartbeat 3.0.6 keeps one device: each `stonith TYPE CONFIGFILE` line, and each
//! `stonith_host HOSTFROM TYPE PARAMS...` line whose `HOSTFROM` (lower-cased) is this node or
//! `*`, replaces the one before; other `stonith_host` lines are ignored. A device is a
//! cluster-glue plugin (`stonith -L` lists them, `external/*` scripts included) given its
//! parameters as one string (`-p`) or a file (`-F`). `fence_agent HOSTFROM AGENT
//! [NAME=VALUE...]` names a Red Hat/ClusterLabs fence agent (`fence_ipmilan`, ...) in the same
//! list, so the last applicable line of the three wins. Which lines apply depends on this
//! node's name, known once the configuration is loaded: [`FenceConfig::device_for`].

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Diags;
use crate::hacf::{Builder, Line};

/// How long one fencing attempt may run before it is killed and counted as failed (the
/// default of `fence_timeout`).
pub const DEFAULT_FENCE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where a cluster-glue plugin gets its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StonithParams {
    /// `stonith_host`: the rest of the line, handed to the plugin as one string (`-p`).
    Inline(String),
    /// `stonith`: a file (`-F`).
    File(PathBuf),
}

/// One fencing device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FenceDevice {
    /// A cluster-glue STONITH plugin, run as `stonith -t TYPE ... -T reset NODE`.
    Stonith {
        /// The plugin type (`external/ipmi`, `null`, ...).
        kind: String,
        /// Its parameters.
        params: StonithParams,
    },
    /// A fence agent, run with `action=reboot`, `plug=NODE` (unless the line sets `plug` or
    /// `port`) and the line's `NAME=VALUE` pairs on its standard input.
    Agent {
        /// The agent's program name or path (`fence_ipmilan`).
        agent: String,
        /// The line's `NAME=VALUE` pairs, in order.
        args: Vec<(String, String)>,
    },
}

impl FenceDevice {
    /// How the device is named in log lines (Heartbeat's `[DEVICE-ID]`): the plugin type or
    /// the agent. Never the parameters, which often hold passwords.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            FenceDevice::Stonith { kind, .. } => kind,
            FenceDevice::Agent { agent, .. } => agent,
        }
    }
}

/// One device line of `ha.cf`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FenceLine {
    /// The node that uses this device (lower-cased); `None` for `*` and for `stonith`.
    pub host: Option<String>,
    /// The device.
    pub device: FenceDevice,
    /// Its line in `ha.cf`.
    pub line: usize,
}

/// Everything `ha.cf` says about fencing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FenceConfig {
    /// The device lines, in file order.
    pub lines: Vec<FenceLine>,
    /// `fence_timeout` (default [`DEFAULT_FENCE_TIMEOUT`]).
    pub timeout: Duration,
}

impl Default for FenceConfig {
    fn default() -> Self {
        FenceConfig {
            lines: Vec::new(),
            timeout: DEFAULT_FENCE_TIMEOUT,
        }
    }
}

impl FenceConfig {
    /// The device node `me` uses: the last line for it or for every node (Heartbeat
    /// compares the lower-cased `HOSTFROM` with its own node name).
    #[must_use]
    pub fn device_for(&self, me: &str) -> Option<&FenceLine> {
        let me = me.to_ascii_lowercase();
        self.lines
            .iter()
            .rev()
            .find(|l| l.host.as_deref().is_none_or(|h| h == me))
    }
}

/// What the builder collects.
#[derive(Debug, Default)]
pub(crate) struct FenceBuilder {
    pub(crate) lines: Vec<FenceLine>,
    pub(crate) timeout: Option<Duration>,
}

fn host_of(word: &str) -> Option<String> {
    (word != "*").then(|| word.to_ascii_lowercase())
}

/// `stonith TYPE CONFIGFILE`.
pub(crate) fn stonith(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    let [kind, file] = words.as_slice() else {
        diags.error(
            Some(line.lineno),
            "stonith needs a device type and its configuration file (stonith TYPE FILE)",
        );
        return;
    };
    b.fence.lines.push(FenceLine {
        host: None,
        device: FenceDevice::Stonith {
            kind: (*kind).to_owned(),
            params: StonithParams::File(PathBuf::from(file)),
        },
        line: line.lineno,
    });
}

/// `stonith_host HOSTFROM TYPE PARAMS...`.
pub(crate) fn stonith_host(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let mut parts = line.rest.splitn(3, |c: char| c.is_ascii_whitespace());
    let (Some(host), Some(kind)) = (parts.next(), parts.next()) else {
        diags.error(
            Some(line.lineno),
            "stonith_host needs a host (or *), a device type and its parameters \
             (stonith_host HOSTFROM TYPE PARAMS...)",
        );
        return;
    };
    let params = parts.next().unwrap_or_default().trim().to_owned();
    b.fence.lines.push(FenceLine {
        host: host_of(host),
        device: FenceDevice::Stonith {
            kind: kind.to_owned(),
            params: StonithParams::Inline(params),
        },
        line: line.lineno,
    });
}

/// `fence_agent HOSTFROM AGENT [NAME=VALUE...]` (heartbeat-rs extension).
pub(crate) fn fence_agent(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    let [host, agent, pairs @ ..] = words.as_slice() else {
        diags.error(
            Some(line.lineno),
            "fence_agent needs a host (or *) and an agent (fence_agent HOSTFROM AGENT \
             [NAME=VALUE...])",
        );
        return;
    };
    let mut args = Vec::new();
    for pair in pairs {
        match pair.split_once('=') {
            Some((name, value)) if !name.is_empty() => {
                args.push((name.to_owned(), value.to_owned()));
            }
            _ => {
                diags.error(
                    Some(line.lineno),
                    format!("fence_agent: '{pair}' is not NAME=VALUE"),
                );
                return;
            }
        }
        if args.iter().any(|(n, _)| n == "action") {
            diags.error(
                Some(line.lineno),
                "fence_agent: do not set action (heartbeat-rs always asks for reboot)",
            );
            return;
        }
    }
    b.fence.lines.push(FenceLine {
        host: host_of(host),
        device: FenceDevice::Agent {
            agent: (*agent).to_owned(),
            args,
        },
        line: line.lineno,
    });
}

/// `fence_timeout TIME` (heartbeat-rs extension).
pub(crate) fn fence_timeout(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let mut slot = None;
    crate::directives::set_time(&mut slot, line, diags, true);
    if let Some((d, _)) = slot {
        b.fence.timeout = Some(d);
    }
}

/// The collected lines.
pub(crate) fn finish(f: FenceBuilder) -> FenceConfig {
    FenceConfig {
        lines: f.lines,
        timeout: f.timeout.unwrap_or(DEFAULT_FENCE_TIMEOUT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hacf::parse_ha_cf;
    use std::path::Path;

    fn parse(extra: &str) -> Result<FenceConfig, String> {
        let text = format!(
            "keepalive 1\ndeadtime 10\nbcast eth0\nauto_failback on\nnode node1\nnode node2\n{extra}"
        );
        parse_ha_cf(&text, Path::new("ha.cf"))
            .map(|p| p.value.fence)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_last_applicable_line_wins_as_in_heartbeat() {
        let f = parse(
            "stonith_host * null node1 node2\nstonith_host NODE2 external/ssh node1\n\
             stonith_host node3 meatware node1\n",
        )
        .unwrap();
        assert_eq!(f.lines.len(), 3);
        let d1 = f.device_for("node1").unwrap();
        assert_eq!(d1.line, 7);
        assert_eq!(
            d1.device,
            FenceDevice::Stonith {
                kind: "null".into(),
                params: StonithParams::Inline("node1 node2".into())
            }
        );
        let d2 = f.device_for("node2").unwrap();
        assert_eq!(d2.device.id(), "external/ssh");
        assert_eq!(d2.line, 8);
        assert_eq!(f.timeout, DEFAULT_FENCE_TIMEOUT);
    }

    #[test]
    fn stonith_with_a_file_and_fence_agents_share_the_list() {
        let f = parse(
            "stonith external/ipmi /etc/ha.d/ipmi.cfg\nfence_agent node1 fence_ipmilan \
             ip=192.0.2.9 username=admin password=a=b\nfence_timeout 20\n",
        )
        .unwrap();
        assert_eq!(
            f.device_for("node2").unwrap().device,
            FenceDevice::Stonith {
                kind: "external/ipmi".into(),
                params: StonithParams::File("/etc/ha.d/ipmi.cfg".into())
            }
        );
        match &f.device_for("node1").unwrap().device {
            FenceDevice::Agent { agent, args } => {
                assert_eq!(agent, "fence_ipmilan");
                assert_eq!(args[2], ("password".into(), "a=b".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(f.timeout, Duration::from_secs(20));
    }

    #[test]
    fn bad_lines_are_errors_on_their_line() {
        let e = parse("stonith_host node1\n").unwrap_err();
        assert!(
            e.contains("ha.cf:7") && e.contains("stonith_host needs"),
            "{e}"
        );
        let e = parse("stonith null\n").unwrap_err();
        assert!(e.contains("stonith needs"), "{e}");
        let e = parse("fence_agent * fence_ipmilan ip\n").unwrap_err();
        assert!(e.contains("'ip' is not NAME=VALUE"), "{e}");
        let e = parse("fence_agent * fence_x action=off\n").unwrap_err();
        assert!(e.contains("do not set action"), "{e}");
        let e = parse("fence_timeout 0\n").unwrap_err();
        assert!(e.contains("greater than 0"), "{e}");
    }

    #[test]
    fn no_line_means_no_device() {
        assert_eq!(parse("").unwrap().device_for("node1"), None);
    }
}
