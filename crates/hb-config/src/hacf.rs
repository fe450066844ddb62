//! `ha.cf`: the main configuration file, parsed line by line through the keyword table in
//! [`crate::directives`], then checked as a whole the way Heartbeat 3.0.6 checks it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::directives;
use crate::error::{ConfigErrors, Diags, Parsed};
use crate::media::{DEFAULT_UDPPORT, Medium};
use crate::node::NodeName;
use crate::proto::MsgFmt;
use crate::time::ms;
use crate::timing::{Timing, TimingAdvice, TimingError, advise, default_initdead};

/// Default `keepalive` (Heartbeat 3.0.6's code default; its sample file says 2 s).
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(1);
/// Default `deadtime`.
pub const DEFAULT_DEADTIME: Duration = Duration::from_secs(30);
/// Default `max_rexmit_delay`.
pub const DEFAULT_MAX_REXMIT_DELAY: Duration = Duration::from_millis(250);
/// Default `agent_timeout` (heartbeat-rs extension).
pub const DEFAULT_AGENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default `hopfudge`.
pub const DEFAULT_HOPFUDGE: u32 = 1;

/// `ha.cf`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaCf {
    /// `keepalive` (default 1 s), `deadtime` (default 30 s), `warntime` (default
    /// deadtime/2) and `initdead` (default: [`crate::default_initdead`]), consistent.
    pub timing: Timing,
    /// The last `udpport` of the file (default 694). Media carry their own port.
    pub udpport: u16,
    /// Every medium, in file order.
    pub media: Vec<Medium>,
    /// Cluster nodes, in file order, without duplicates.
    pub nodes: Vec<NodeName>,
    /// `auto_failback` (absent: [`AutoFailback::Legacy`], with a warning).
    pub auto_failback: AutoFailback,
    /// Wire format (`msgfmt`, default classic).
    pub msgfmt: MsgFmt,
    /// Upper bound of the random delay before a retransmission request (default 250 ms).
    pub max_rexmit_delay: Duration,
    /// Extra hops above the node count for the message `ttl` (default 1).
    pub hopfudge: u32,
    /// Debug level 0-255 (default 0).
    pub debug: u32,
    /// `logfile`.
    pub logfile: Option<PathBuf>,
    /// `debugfile`.
    pub debugfile: Option<PathBuf>,
    /// `logfacility` (lower-cased syslog facility name, or `none`).
    pub logfacility: Option<String>,
    /// `use_logd` (default off).
    pub use_logd: bool,
    /// `hbgenmethod` (default file).
    pub hbgenmethod: GenMethod,
    /// `uuidfrom` (default file).
    pub uuidfrom: UuidFrom,
    /// `realtime` (default on, as in Heartbeat).
    pub realtime: bool,
    /// Time limit of one resource-agent operation (`agent_timeout`, heartbeat-rs extension,
    /// default 30 s).
    pub agent_timeout: Duration,
    /// `monitor` rules (heartbeat-rs extension), in file order.
    pub monitors: Vec<crate::monitor::MonitorRule>,
    /// `ocf_root` (heartbeat-rs extension, default `/usr/lib/ocf`): `$OCF_ROOT` of OCF agents.
    pub ocf_root: PathBuf,
    /// `control_group` (heartbeat-rs extension): a group allowed to use the control socket.
    pub control_group: Option<String>,
    /// Ping nodes, `deadping`, ipfail and the isolation rule.
    pub ping: crate::ping::PingConfig,
    /// `watchdog DEVICE`: the device the daemon pets every keepalive.
    pub watchdog: Option<PathBuf>,
    /// Fencing devices (`stonith`, `stonith_host`, `fence_agent`) and `fence_timeout`.
    pub fence: crate::fence::FenceConfig,
    /// Every recognised directive as written, `(name, value text)`, in file order.
    pub parameters: Vec<(String, String)>,
}

impl HaCf {
    /// The value `cl_status hbparameter -p NAME` reports for this configuration, as Heartbeat
    /// 3.0.6 would: the last value written for the directive, else its default. `None` for
    /// directives Heartbeat does not record (`node`, media, `respawn`, ...) and unknown names.
    #[must_use]
    pub fn hbparameter(&self, name: &str) -> Option<String> {
        directives::hbparameter(self, name)
    }

    /// Whether `name` (any case) is one of the cluster nodes.
    #[must_use]
    pub fn has_node(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.nodes.iter().any(|n| *n == name)
    }
}

/// `auto_failback`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutoFailback {
    /// Groups move back to their preferred node when it returns.
    On,
    /// Groups stay where they run until that node fails or an operator moves them.
    Off,
    /// Pre-nice-failback behaviour (deprecated; Heartbeat's default when unset).
    Legacy,
}

/// `hbgenmethod`: how the generation number (`hg`) is chosen at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GenMethod {
    /// Stored and incremented in a file.
    File,
    /// Taken from the clock.
    Time,
}

/// `uuidfrom`: where the node's UUID comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UuidFrom {
    /// A random UUID stored in a file at first start.
    File,
    /// Derived from the node name.
    NodeName,
}

/// A time directive's value and the line that set it.
pub(crate) type Timed = Option<(Duration, usize)>;

/// State accumulated while the lines of `ha.cf` are applied in order.
#[derive(Debug)]
pub(crate) struct Builder {
    pub(crate) keepalive: Timed,
    pub(crate) deadtime: Timed,
    pub(crate) warntime: Timed,
    pub(crate) initdead: Timed,
    pub(crate) agent_timeout: Timed,
    pub(crate) udpport: u16,
    pub(crate) media: Vec<Medium>,
    /// The port each medium type that uses `udpport` (`bcast`, `ucast`, `ucast6`) took at its
    /// first line, with that line: Heartbeat's plugins read `udpport` once.
    pub(crate) udp_ports: BTreeMap<&'static str, (u16, usize)>,
    pub(crate) nodes: Vec<NodeName>,
    pub(crate) auto_failback: Option<(AutoFailback, usize)>,
    pub(crate) msgfmt: MsgFmt,
    pub(crate) max_rexmit_delay: Duration,
    pub(crate) hopfudge: u32,
    pub(crate) debug: u32,
    pub(crate) logfile: Option<PathBuf>,
    pub(crate) debugfile: Option<PathBuf>,
    pub(crate) logfacility: Option<String>,
    pub(crate) use_logd: bool,
    pub(crate) hbgenmethod: GenMethod,
    pub(crate) uuidfrom: UuidFrom,
    pub(crate) realtime: bool,
    pub(crate) parameters: Vec<(String, String)>,
    pub(crate) monitors: Vec<crate::monitor::MonitorRule>,
    pub(crate) ocf_root: Option<PathBuf>,
    pub(crate) control_group: Option<String>,
    /// First line of each directive (keyed by the table's duplicate key).
    pub(crate) seen: BTreeMap<&'static str, usize>,
    /// `apiauth` clients already declared, with their line.
    pub(crate) apiauth_clients: BTreeMap<String, usize>,
    /// Ping nodes and their policies.
    pub(crate) ping: crate::ping::PingBuilder,
    pub(crate) watchdog: Option<PathBuf>,
    /// Fencing device lines.
    pub(crate) fence: crate::fence::FenceBuilder,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            keepalive: None,
            deadtime: None,
            warntime: None,
            initdead: None,
            agent_timeout: None,
            udpport: DEFAULT_UDPPORT,
            media: Vec::new(),
            udp_ports: BTreeMap::new(),
            nodes: Vec::new(),
            auto_failback: None,
            msgfmt: MsgFmt::default(),
            max_rexmit_delay: DEFAULT_MAX_REXMIT_DELAY,
            hopfudge: DEFAULT_HOPFUDGE,
            debug: 0,
            logfile: None,
            debugfile: None,
            logfacility: None,
            use_logd: false,
            hbgenmethod: GenMethod::File,
            uuidfrom: UuidFrom::File,
            realtime: true,
            parameters: Vec::new(),
            monitors: Vec::new(),
            ocf_root: None,
            control_group: None,
            seen: BTreeMap::new(),
            apiauth_clients: BTreeMap::new(),
            ping: crate::ping::PingBuilder::default(),
            watchdog: None,
            fence: crate::fence::FenceBuilder::default(),
        }
    }
}

/// One directive line: `name rest`, comment removed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub(crate) lineno: usize,
    pub(crate) name: &'a str,
    pub(crate) rest: &'a str,
}

impl<'a> Line<'a> {
    /// The values of an option directive: split on blanks and commas, as Heartbeat does.
    pub(crate) fn values(&self) -> Vec<&'a str> {
        self.rest
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .collect()
    }

    /// The words of a whole-line directive (`mcast`, `ucast`, `apiauth`, ...).
    pub(crate) fn words(&self) -> Vec<&'a str> {
        self.rest.split_ascii_whitespace().collect()
    }
}

/// Splits `ha.cf` into directive lines (comments and blank lines dropped).
pub(crate) fn lines(text: &str) -> impl Iterator<Item = Line<'_>> {
    text.lines().enumerate().filter_map(|(idx, raw)| {
        // Heartbeat cuts every line at its first '#'.
        let content = raw.split('#').next().unwrap_or_default().trim();
        if content.is_empty() {
            return None;
        }
        let (name, rest) = content
            .split_once(|c: char| c.is_ascii_whitespace())
            .unwrap_or((content, ""));
        let rest = rest
            .trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',')
            .trim_end();
        Some(Line {
            lineno: idx + 1,
            name,
            rest,
        })
    })
}

/// Parses `ha.cf` text. `file` only names the file in diagnostics.
///
/// Does not check that the local node is listed (that needs the node name; [`crate::load`]
/// does it).
///
/// # Errors
/// Every problem found, each as `file:line: message`.
pub fn parse_ha_cf(text: &str, file: &Path) -> Result<Parsed<HaCf>, ConfigErrors> {
    let mut diags = Diags::new(file);
    let (hacf, _nodes) = parse_into(text, &mut diags);
    diags.finish(hacf)
}

/// Parses into `diags`; returns the configuration when it is valid, and the node names seen
/// in any case (so `haresources` can still be checked when `ha.cf` has errors).
pub(crate) fn parse_into(text: &str, diags: &mut Diags) -> (Option<HaCf>, Vec<NodeName>) {
    let mut b = Builder::default();
    for line in lines(text) {
        directives::apply(&mut b, &line, diags);
    }
    let nodes = b.nodes.clone();
    (finish(b, diags), nodes)
}

/// Whole-file checks and defaults, after every line was applied.
fn finish(b: Builder, diags: &mut Diags) -> Option<HaCf> {
    if b.media.is_empty() {
        diags.error(
            None,
            "no heartbeat media defined (add a bcast, ucast, mcast, ucast6 or mcast6 line)",
        );
    }
    if b.nodes.is_empty() {
        diags.error(
            None,
            "no nodes defined (add a node line for every cluster node)",
        );
    } else if b.nodes.len() > 2 {
        diags.warn(
            None,
            format!(
                "{} nodes defined: haresources resource management is only well-defined for \
                 two nodes",
                b.nodes.len()
            ),
        );
    }

    let timing = timing(&b, diags);

    let auto_failback = match b.auto_failback {
        Some((AutoFailback::Legacy, line)) => {
            diags.warn(
                Some(line),
                "auto_failback legacy is deprecated: use 'auto_failback on' (or off)",
            );
            AutoFailback::Legacy
        }
        Some((value, _)) => value,
        None => {
            diags.warn(
                None,
                "auto_failback is not set: using 'legacy' (deprecated); set 'auto_failback on' \
                 or 'auto_failback off'",
            );
            AutoFailback::Legacy
        }
    };

    let timing = timing?;
    let ping = crate::ping::finish(
        b.ping,
        timing.keepalive(),
        timing.deadtime(),
        auto_failback != AutoFailback::Legacy,
        &b.nodes,
        diags,
    );
    if diags.has_errors() {
        return None;
    }
    Some(HaCf {
        timing,
        udpport: b.udpport,
        media: b.media,
        nodes: b.nodes,
        auto_failback,
        msgfmt: b.msgfmt,
        max_rexmit_delay: b.max_rexmit_delay,
        hopfudge: b.hopfudge,
        debug: b.debug,
        logfile: b.logfile,
        debugfile: b.debugfile,
        logfacility: b.logfacility,
        use_logd: b.use_logd,
        hbgenmethod: b.hbgenmethod,
        uuidfrom: b.uuidfrom,
        realtime: b.realtime,
        agent_timeout: b.agent_timeout.map_or(DEFAULT_AGENT_TIMEOUT, |(d, _)| d),
        monitors: b.monitors,
        ocf_root: b
            .ocf_root
            .unwrap_or_else(|| PathBuf::from(crate::agents::DEFAULT_OCF_ROOT)),
        control_group: b.control_group,
        ping,
        watchdog: b.watchdog,
        fence: crate::fence::finish(b.fence),
        parameters: b.parameters,
    })
}

/// The timing of the file: its rules broken are errors, its risky values warnings, each on
/// the line of the directive concerned (the defaults are never risky).
fn timing(b: &Builder, diags: &mut Diags) -> Option<Timing> {
    let keepalive = b.keepalive.map_or(DEFAULT_KEEPALIVE, |(d, _)| d);
    let deadtime = b.deadtime.map_or(DEFAULT_DEADTIME, |(d, _)| d);
    let line = |t: Timed| t.map(|(_, l)| l);
    let timing = Timing::new(
        keepalive,
        deadtime,
        b.warntime.map(|(d, _)| d),
        b.initdead.map(|(d, _)| d),
    );
    if let Err(errors) = &timing {
        for e in errors {
            let at = match e {
                TimingError::ZeroKeepalive => line(b.keepalive),
                TimingError::DeadtimeTooShort { .. } => line(b.deadtime.or(b.keepalive)),
                TimingError::InitdeadTooShort { .. } => line(b.initdead),
            };
            diags.error(at, e.to_string());
        }
    }
    let warntime = b.warntime.map_or(deadtime / 2, |(d, _)| d);
    let initdead = b.initdead.map_or(default_initdead(deadtime), |(d, _)| d);
    for advice in advise(keepalive, deadtime, warntime, initdead) {
        match advice {
            TimingAdvice::ShortInitdead => {
                if let Some(l) = line(b.initdead) {
                    diags.warn(
                        Some(l),
                        format!(
                            "initdead ({}) may be too small: it covers slow network start-up and \
                             should be at least deadtime and at least 10s",
                            ms(initdead)
                        ),
                    );
                }
            }
            TimingAdvice::WarntimeNotBelowDeadtime => {
                if let Some(l) = line(b.warntime) {
                    diags.warn(
                        Some(l),
                        format!(
                            "warntime ({}) should be less than deadtime ({}), or no late-heartbeat \
                             warning comes before a node is declared dead",
                            ms(warntime),
                            ms(deadtime)
                        ),
                    );
                }
            }
            TimingAdvice::WarntimeNotAboveKeepalive => {
                if let Some(l) = line(b.warntime) {
                    diags.warn(
                        Some(l),
                        format!(
                            "warntime ({}) should be more than keepalive ({}), or every heartbeat \
                             is reported late",
                            ms(warntime),
                            ms(keepalive)
                        ),
                    );
                }
            }
        }
    }
    timing.ok()
}

#[cfg(test)]
mod tests;
