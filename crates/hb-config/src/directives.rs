//! The `ha.cf` keyword table: every directive Heartbeat 3.0.6 accepts, one handler each.
//!
//! Sources of the list: the directive table and whole-line directives of Heartbeat 3.0.6's
//! `config.c` (names confirmed in the strings of Debian's `/usr/libexec/heartbeat/heartbeat`),
//! its communication plugins (`/usr/lib/heartbeat/plugins/HBcomm/*.so`), the `ha.cf(5)` manual
//! page and the annotated sample `ha.cf` shipped in `/usr/share/doc/heartbeat`.
//! `docs/ha.cf.md` documents each entry; a test keeps the two in step.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::Diags;
use crate::fence;
use crate::hacf::{AutoFailback, Builder, GenMethod, HaCf, Line, Timed, UuidFrom};
use crate::media::{self, DEFAULT_UDPPORT, parse_port};
use crate::node::NodeName;
use crate::ping;
use crate::proto::MsgFmt;
use crate::time::{ms, parse_time};
use crate::value::{edit_distance, parse_bool};

/// What heartbeat-rs does with a directive.
#[derive(Clone, Copy)]
pub(crate) enum Status {
    /// Implemented by this handler.
    Implemented(Handler),
    /// Recognised, ignored with a warning; the optional handler still checks what Heartbeat
    /// itself would reject.
    Unsupported(Option<Handler>),
}

/// Applies one directive line to the builder, reporting problems into `diags`.
pub(crate) type Handler = fn(&mut Builder, &Line<'_>, &mut Diags);

/// How often a directive may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Repeat {
    /// Any number of times (lists, media, positional settings).
    Many,
    /// The last one wins (as in Heartbeat); repeats draw a warning.
    LastWins,
    /// At most once (Heartbeat refuses a repeat); the key is shared by aliases.
    Once(&'static str),
}

/// One entry of the keyword table.
pub(crate) struct Directive {
    pub(crate) name: &'static str,
    pub(crate) status: Status,
    pub(crate) repeat: Repeat,
    /// Whether Heartbeat records the value for `cl_status hbparameter`.
    pub(crate) recorded: bool,
    /// Heartbeat's recorded default, if it has one.
    pub(crate) default: Option<&'static str>,
}

const fn imp(
    name: &'static str,
    handler: Handler,
    repeat: Repeat,
    recorded: bool,
    default: Option<&'static str>,
) -> Directive {
    Directive {
        name,
        status: Status::Implemented(handler),
        repeat,
        recorded,
        default,
    }
}

const fn uns(name: &'static str, recorded: bool, default: Option<&'static str>) -> Directive {
    Directive {
        name,
        status: Status::Unsupported(None),
        repeat: Repeat::Many,
        recorded,
        default,
    }
}

use Repeat::{LastWins, Many, Once};

/// Every directive, in the order of `docs/ha.cf.md`.
pub(crate) static DIRECTIVES: &[Directive] = &[
    // Implemented.
    imp("node", node, Many, false, None),
    imp("keepalive", keepalive, LastWins, true, Some("1000ms")),
    imp("deadtime", deadtime, LastWins, true, Some("30000ms")),
    imp("warntime", warntime, LastWins, true, None),
    imp("initdead", initdead, LastWins, true, None),
    imp("udpport", udpport, Many, true, None),
    imp("bcast", bcast, Many, false, None),
    imp("udp", udp, Many, false, None),
    imp("ucast", ucast, Many, false, None),
    imp("mcast", mcast, Many, false, None),
    imp("ucast6", ucast6, Many, false, None),
    imp("mcast6", mcast6, Many, false, None),
    imp(
        "auto_failback",
        auto_failback,
        LastWins,
        true,
        Some("legacy"),
    ),
    imp("nice_failback", nice_failback, LastWins, false, None),
    imp("msgfmt", msgfmt, LastWins, true, Some("classic")),
    imp(
        "max_rexmit_delay",
        max_rexmit_delay,
        LastWins,
        true,
        Some("250"),
    ),
    imp("hopfudge", hopfudge, LastWins, true, Some("1")),
    imp("debug", debug, LastWins, true, None),
    imp("logfile", logfile, LastWins, true, None),
    imp("debugfile", debugfile, LastWins, true, None),
    imp("logfacility", logfacility, LastWins, true, None),
    imp("use_logd", use_logd, LastWins, true, None),
    imp("hbgenmethod", hbgenmethod, LastWins, true, Some("file")),
    imp("uuidfrom", uuidfrom, LastWins, true, Some("file")),
    imp("realtime", realtime, LastWins, true, Some("true")),
    imp("crm", crm, Once("pacemaker"), true, None),
    imp("pacemaker", crm, Once("pacemaker"), true, Some("false")),
    imp("autojoin", autojoin, LastWins, true, Some("none")),
    imp("agent_timeout", agent_timeout, LastWins, true, Some("30")),
    imp("monitor", monitor, Many, false, None),
    imp("ocf_root", ocf_root, LastWins, true, Some("/usr/lib/ocf")),
    imp("control_group", control_group, LastWins, true, None),
    imp("ping", ping::ping, Many, false, None),
    imp("ping6", ping::ping6, Many, false, None),
    imp("ping_group", ping::ping_group, Many, false, None),
    imp("deadping", ping::deadping, LastWins, true, None),
    imp("respawn", ping::respawn, Many, false, None),
    imp("ipfail", ping::ipfail, LastWins, true, Some("off")),
    imp(
        "isolation",
        ping::isolation,
        LastWins,
        true,
        Some("release"),
    ),
    imp("watchdog", watchdog, Once("watchdog"), true, None),
    imp("stonith", fence::stonith, Many, false, None),
    imp("stonith_host", fence::stonith_host, Many, false, None),
    imp("fence_agent", fence::fence_agent, Many, false, None),
    imp("fence_timeout", fence::fence_timeout, LastWins, true, None),
    // Recognised, not supported yet.
    Directive {
        name: "apiauth",
        status: Status::Unsupported(Some(apiauth)),
        repeat: Many,
        recorded: false,
        default: None,
    },
    Directive {
        name: "baud",
        status: Status::Unsupported(None),
        repeat: Once("baud"),
        recorded: true,
        default: Some("19200"),
    },
    uns("cluster", true, Some("linux-ha")),
    uns("compression", true, Some("zlib")),
    uns("compression_threshold", true, Some("2")),
    uns("conn_logd_time", true, Some("60")),
    uns("coredumps", true, Some("true")),
    uns("coreroot", true, None),
    uns("crm_daemon_dir", true, None),
    uns("crmd_spawns_pengine", true, None),
    uns("enable_config_writes", true, Some("on")),
    uns("env", false, None),
    uns("failfast", false, None),
    uns("hbaping", false, None),
    uns("log_badpack", true, Some("true")),
    uns("memreserve", true, Some("6500")),
    uns("quorum_server", true, None),
    uns("record_config_changes", true, Some("on")),
    uns("record_pengine_inputs", true, Some("on")),
    uns("rtprio", true, None),
    uns("serial", false, None),
    uns("syslogmsgfmt", true, Some("true")),
    uns("traditional_compression", true, Some("no")),
    uns("use_apphbd", false, None),
];

/// The table entry for `name` (exact, case-sensitive, as in Heartbeat).
pub(crate) fn lookup(name: &str) -> Option<&'static Directive> {
    DIRECTIVES.iter().find(|d| d.name == name)
}

/// The closest known directive within edit distance 2, for "did you mean".
pub(crate) fn suggest(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    DIRECTIVES
        .iter()
        .map(|d| {
            (
                edit_distance(&lower, d.name).min(edit_distance(name, d.name)),
                d.name,
            )
        })
        .filter(|(dist, _)| *dist <= 2)
        .min_by_key(|(dist, _)| *dist)
        .map(|(_, n)| n)
}

/// Applies one line: lookup, repeat rules, then the directive's handler.
pub(crate) fn apply(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let at = Some(line.lineno);
    let Some(d) = lookup(line.name) else {
        let mut msg = format!("unknown directive '{}'", line.name);
        if let Some(s) = suggest(line.name) {
            msg.push_str(&format!(" (did you mean '{s}'?)"));
        }
        diags.error(at, msg);
        return;
    };
    let key = match d.repeat {
        Once(key) => key,
        Many | LastWins => d.name,
    };
    if let Some(&first) = b.seen.get(key) {
        match d.repeat {
            Once(_) => {
                diags.error(
                    at,
                    format!(
                        "directive '{}' repeated (first set on line {first}); it may appear \
                         only once",
                        line.name
                    ),
                );
                return;
            }
            LastWins if matches!(d.status, Status::Implemented(_)) => diags.warn(
                at,
                format!(
                    "directive '{}' repeated (first set on line {first}); the last value wins",
                    line.name
                ),
            ),
            LastWins | Many => {}
        }
    }
    b.seen.entry(key).or_insert(line.lineno);
    b.parameters
        .push((line.name.to_owned(), line.rest.to_owned()));
    match d.status {
        Status::Implemented(handler) => handler(b, line, diags),
        Status::Unsupported(check) => {
            if let Some(check) = check {
                check(b, line, diags);
            }
            diags.warn(
                at,
                format!("directive '{}' is not supported yet (ignored)", line.name),
            );
        }
    }
}

impl HaCf {
    /// Every name [`HaCf::hbparameter`] can answer: the directives whose value Heartbeat 3.0.6
    /// records for `cl_status hbparameter -p NAME` (its `Directives[]` entries with
    /// `record_value`), plus heartbeat-rs's own recorded directives, in table order. A name's
    /// value may still be `None` for a configuration that neither sets it nor has a default
    /// for it (`logfacility`, `watchdog`, ...). `hbversion` is not a directive: the daemon
    /// answers it itself.
    pub fn hbparameter_names() -> impl Iterator<Item = &'static str> {
        DIRECTIVES.iter().filter(|d| d.recorded).map(|d| d.name)
    }
}

/// What `cl_status hbparameter -p NAME` reports (see [`HaCf::hbparameter`]).
pub(crate) fn hbparameter(hacf: &HaCf, name: &str) -> Option<String> {
    let d = lookup(name).filter(|d| d.recorded)?;
    // crm and pacemaker share one setting.
    let aliases: &[&str] = match name {
        "crm" | "pacemaker" => &["crm", "pacemaker"],
        _ => &[name],
    };
    let written = hacf
        .parameters
        .iter()
        .rev()
        .find(|(n, _)| aliases.contains(&n.as_str()))
        // Heartbeat records each value of an option line in turn: the last one stays.
        .and_then(|(_, v)| v.split([' ', '\t', ',']).rfind(|s| !s.is_empty()));
    if let Some(v) = written {
        return Some(v.to_owned());
    }
    let computed = |d: Duration| Some(ms(d));
    match name {
        "warntime" => computed(hacf.timing.warntime()),
        "initdead" => computed(hacf.timing.initdead()),
        "deadping" => computed(hacf.ping.deadping),
        "fence_timeout" => computed(hacf.fence.timeout),
        "udpport" => Some(DEFAULT_UDPPORT.to_string()),
        "debug" => Some("0".to_owned()),
        _ => d.default.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------------------
// Value helpers

/// The single value of an option directive, or an error.
pub(crate) fn one<'a>(line: &Line<'a>, diags: &mut Diags) -> Option<&'a str> {
    match line.values().as_slice() {
        [v] => Some(v),
        [] => {
            diags.error(
                Some(line.lineno),
                format!("directive '{}' needs a value", line.name),
            );
            None
        }
        more => {
            diags.error(
                Some(line.lineno),
                format!(
                    "directive '{}' takes one value, got {}",
                    line.name,
                    more.len()
                ),
            );
            None
        }
    }
}

fn time_value(line: &Line<'_>, diags: &mut Diags) -> Option<Duration> {
    let v = one(line, diags)?;
    match parse_time(v) {
        Ok(d) => Some(d),
        Err(e) => {
            diags.error(Some(line.lineno), format!("invalid {}: {e}", line.name));
            None
        }
    }
}

pub(crate) fn set_time(
    slot: &mut Timed,
    line: &Line<'_>,
    diags: &mut Diags,
    min_exclusive_zero: bool,
) {
    if let Some(d) = time_value(line, diags) {
        if min_exclusive_zero && d.is_zero() {
            diags.error(
                Some(line.lineno),
                format!("{} must be greater than 0 (got {})", line.name, ms(d)),
            );
            return;
        }
        *slot = Some((d, line.lineno));
    }
}

fn bool_value(line: &Line<'_>, diags: &mut Diags) -> Option<bool> {
    let v = one(line, diags)?;
    let parsed = parse_bool(v);
    if parsed.is_none() {
        diags.error(
            Some(line.lineno),
            format!(
                "invalid {} '{v}': expected on or off (or yes/no, true/false)",
                line.name
            ),
        );
    }
    parsed
}

fn int_value(line: &Line<'_>, diags: &mut Diags, max: u32) -> Option<u32> {
    let v = one(line, diags)?;
    let parsed = v
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| v.parse::<u32>().ok())
        .flatten()
        .filter(|n| *n <= max);
    if parsed.is_none() {
        diags.error(
            Some(line.lineno),
            format!(
                "invalid {} '{v}': expected a whole number 0-{max}",
                line.name
            ),
        );
    }
    parsed
}

fn keyword<T: Clone>(line: &Line<'_>, diags: &mut Diags, choices: &[(&str, T)]) -> Option<T> {
    let v = one(line, diags)?;
    let lower = v.to_ascii_lowercase();
    let found = choices
        .iter()
        .find(|(k, _)| *k == lower)
        .map(|(_, t)| t.clone());
    if found.is_none() {
        let names: Vec<&str> = choices.iter().map(|(k, _)| *k).collect();
        diags.error(
            Some(line.lineno),
            format!(
                "invalid {} '{v}': expected {}",
                line.name,
                names.join(" or ")
            ),
        );
    }
    found
}

fn path_value(line: &Line<'_>, diags: &mut Diags) -> Option<PathBuf> {
    let v = one(line, diags)?;
    if !v.starts_with('/') {
        diags.warn(
            Some(line.lineno),
            format!(
                "{} '{v}' is a relative path; use an absolute path",
                line.name
            ),
        );
    }
    Some(PathBuf::from(v))
}

// ---------------------------------------------------------------------------------------
// Handlers of implemented directives

fn node(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let names = line.values();
    if names.is_empty() {
        diags.error(Some(line.lineno), "node needs at least one node name");
    }
    for written in names {
        let Some(name) = NodeName::parse(written) else {
            diags.error(
                Some(line.lineno),
                format!(
                    "invalid node name '{written}': expected a host name as printed by uname -n"
                ),
            );
            continue;
        };
        if b.nodes.contains(&name) {
            diags.warn(
                Some(line.lineno),
                format!("node '{name}' is listed more than once"),
            );
        } else {
            b.nodes.push(name);
        }
    }
}

fn keepalive(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    set_time(&mut b.keepalive, line, diags, true);
}

fn deadtime(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    set_time(&mut b.deadtime, line, diags, false);
}

fn warntime(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    set_time(&mut b.warntime, line, diags, true);
}

fn initdead(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    set_time(&mut b.initdead, line, diags, false);
}

fn agent_timeout(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    set_time(&mut b.agent_timeout, line, diags, true);
}

fn monitor(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    match crate::monitor::parse_rule(&line.words(), line.lineno) {
        Ok(rule) => b.monitors.push(rule),
        Err(e) => diags.error(Some(line.lineno), e),
    }
}

fn ocf_root(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    if !v.starts_with('/') {
        diags.error(
            Some(line.lineno),
            format!("ocf_root must be an absolute directory, got '{v}'"),
        );
        return;
    }
    b.ocf_root = Some(PathBuf::from(v));
}

fn control_group(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    let ok = v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !v.starts_with('-');
    if !ok {
        diags.error(
            Some(line.lineno),
            format!("control_group: '{v}' is not a group name"),
        );
        return;
    }
    b.control_group = Some(v.to_owned());
}

fn udpport(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    let Some(port) = parse_port(v) else {
        diags.error(
            Some(line.lineno),
            format!("invalid udpport '{v}': expected a port number 1-65535"),
        );
        return;
    };
    let fixed: Vec<String> = b
        .udp_ports
        .iter()
        .filter(|(_, (p, _))| *p != port)
        .map(|(kind, (p, first))| format!("{kind} (port {p} since line {first})"))
        .collect();
    if !fixed.is_empty() {
        diags.warn(
            Some(line.lineno),
            format!(
                "udpport {port} does not apply to {}: Heartbeat reads udpport once per medium \
                 type, at its first line; put udpport before the media",
                fixed.join(", ")
            ),
        );
    }
    b.udpport = port;
}

/// The port of a `kind` line (`bcast`, `ucast`, `ucast6`): the `udpport` in effect at the
/// first line of that kind, as in Heartbeat, whose plugins read `udpport` once (checked
/// against Debian's binary). A line after a later `udpport` draws a warning.
fn udp_port(b: &mut Builder, kind: &'static str, line: &Line<'_>, diags: &mut Diags) -> u16 {
    let (port, first) = *b.udp_ports.entry(kind).or_insert((b.udpport, line.lineno));
    if port != b.udpport {
        diags.warn(
            Some(line.lineno),
            format!(
                "{kind} uses port {port}, the udpport of the first {kind} line (line {first}), \
                 as in Heartbeat: udpport {} does not apply to it",
                b.udpport
            ),
        );
    }
    port
}

fn push_media(
    b: &mut Builder,
    line: &Line<'_>,
    diags: &mut Diags,
    media: Result<Vec<media::Medium>, String>,
) {
    match media {
        Ok(media) => b.media.extend(media),
        Err(e) => diags.error(Some(line.lineno), e),
    }
}

fn bcast(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let port = udp_port(b, "bcast", line, diags);
    let media = media::parse_bcast(&line.values(), port);
    push_media(b, line, diags, media);
}

fn udp(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    diags.warn(
        Some(line.lineno),
        "directive 'udp' is an obsolete name for 'bcast'",
    );
    bcast(b, line, diags);
}

fn ucast(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    if let Some(extra) = words.get(2..).filter(|e| !e.is_empty()) {
        diags.warn(
            Some(line.lineno),
            format!(
                "ucast takes one peer per line: '{}' ignored, as Heartbeat does; add a ucast \
                 line per peer",
                extra.join(" ")
            ),
        );
    }
    let port = udp_port(b, "ucast", line, diags);
    let media = media::parse_ucast(words.get(..2).unwrap_or(&words), port);
    push_media(b, line, diags, media);
}

fn mcast(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    match media::parse_mcast(&line.words()) {
        Ok(m) => b.media.push(m),
        Err(e) => diags.error(Some(line.lineno), e),
    }
}

/// `ucast6 DEV PEER`: one peer per line, as `ucast`.
fn ucast6(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    if let Some(extra) = words.get(2..).filter(|e| !e.is_empty()) {
        diags.warn(
            Some(line.lineno),
            format!(
                "ucast6 takes one peer per line: '{}' ignored, as Heartbeat does; add a ucast6 \
                 line per peer",
                extra.join(" ")
            ),
        );
    }
    let port = udp_port(b, "ucast6", line, diags);
    match media::parse_ucast6(&words, port) {
        Ok((m, warning)) => {
            if let Some(w) = warning {
                diags.warn(Some(line.lineno), w);
            }
            b.media.push(m);
        }
        Err(e) => diags.error(Some(line.lineno), e),
    }
}

fn mcast6(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    match media::parse_mcast6(&line.words()) {
        Ok(m) => b.media.push(m),
        Err(e) => diags.error(Some(line.lineno), e),
    }
}

fn auto_failback(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    let value = match parse_bool(v) {
        Some(true) => AutoFailback::On,
        Some(false) => AutoFailback::Off,
        None if v.eq_ignore_ascii_case("legacy") => AutoFailback::Legacy,
        None => {
            diags.error(
                Some(line.lineno),
                format!("invalid auto_failback '{v}': expected on, off or legacy"),
            );
            return;
        }
    };
    b.auto_failback = Some((value, line.lineno));
}

/// `nice_failback BOOL`, read exactly as Heartbeat 3.0.6 reads it (verified against Debian's
/// binary): whatever the boolean, the result is `auto_failback off` if an earlier
/// `auto_failback` line chose on or off, else `auto_failback legacy`.
fn nice_failback(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if bool_value(line, diags).is_none() {
        return;
    }
    let after_on_off = matches!(
        b.auto_failback,
        Some((AutoFailback::On | AutoFailback::Off, _))
    );
    let (value, word) = if after_on_off {
        (AutoFailback::Off, "off")
    } else {
        (AutoFailback::Legacy, "legacy")
    };
    diags.warn(
        Some(line.lineno),
        format!(
            "nice_failback is obsolete; as in Heartbeat 3.0.6 this line means 'auto_failback \
             {word}': write 'auto_failback on' or 'auto_failback off' instead"
        ),
    );
    b.auto_failback = Some((value, line.lineno));
}

fn msgfmt(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(f) = keyword(
        line,
        diags,
        &[
            ("classic", MsgFmt::Classic),
            ("netstring", MsgFmt::Netstring),
        ],
    ) {
        b.msgfmt = f;
    }
}

fn max_rexmit_delay(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    // Heartbeat reads a whole number of milliseconds; an "ms" suffix is tolerated.
    let digits = v
        .strip_suffix("ms")
        .or_else(|| v.strip_suffix("MS"))
        .unwrap_or(v);
    let millis = digits
        .bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| digits.parse::<u32>().ok())
        .flatten()
        .filter(|m| *m > 0);
    match millis {
        Some(m) => b.max_rexmit_delay = Duration::from_millis(u64::from(m)),
        None => diags.error(
            Some(line.lineno),
            format!(
                "invalid max_rexmit_delay '{v}': expected a whole number of milliseconds above 0"
            ),
        ),
    }
}

fn hopfudge(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(n) = int_value(line, diags, 255) {
        b.hopfudge = n;
    }
}

fn debug(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(n) = int_value(line, diags, 255) {
        b.debug = n;
    }
}

fn logfile(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(p) = path_value(line, diags) {
        b.logfile = Some(p);
    }
}

fn watchdog(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(p) = path_value(line, diags) {
        b.watchdog = Some(p);
    }
}

fn debugfile(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(p) = path_value(line, diags) {
        b.debugfile = Some(p);
    }
}

/// syslog facility names (glibc's table) plus Heartbeat's `none` (no syslog).
const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "security",
    "syslog", "user", "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6",
    "local7", "none",
];

fn logfacility(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    let lower = v.to_ascii_lowercase();
    if FACILITIES.contains(&lower.as_str()) {
        b.logfacility = Some(lower);
    } else {
        diags.error(
            Some(line.lineno),
            format!(
                "invalid logfacility '{v}': expected a syslog facility (daemon, local0 ... \
                 local7, ...) or none"
            ),
        );
    }
}

fn use_logd(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(v) = bool_value(line, diags) {
        b.use_logd = v;
    }
}

fn hbgenmethod(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(m) = keyword(
        line,
        diags,
        &[("file", GenMethod::File), ("time", GenMethod::Time)],
    ) {
        b.hbgenmethod = m;
    }
}

fn uuidfrom(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(u) = keyword(
        line,
        diags,
        &[("file", UuidFrom::File), ("nodename", UuidFrom::NodeName)],
    ) {
        b.uuidfrom = u;
    }
}

fn realtime(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    if let Some(v) = bool_value(line, diags) {
        b.realtime = v;
    }
}

/// `crm` / `pacemaker`: only the haresources mode (off) exists here.
fn crm(_: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    if parse_bool(v) != Some(false) {
        diags.error(
            Some(line.lineno),
            format!(
                "{} '{v}' is not supported: heartbeat-rs only runs haresources resource \
                 management (crm no)",
                line.name
            ),
        );
    }
}

fn autojoin(_: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let Some(v) = one(line, diags) else { return };
    match v.to_ascii_lowercase().as_str() {
        "none" => {}
        "other" | "any" => diags.error(
            Some(line.lineno),
            format!(
                "autojoin '{v}' conflicts with haresources resource management (Heartbeat \
                 refuses this combination too); use autojoin none"
            ),
        ),
        _ => diags.error(
            Some(line.lineno),
            format!("invalid autojoin '{v}': expected none, other or any"),
        ),
    }
}

/// Checks what Heartbeat checks in an (otherwise ignored) `apiauth` line: a client name,
/// a uid= or gid= list, and no client declared twice.
fn apiauth(b: &mut Builder, line: &Line<'_>, diags: &mut Diags) {
    let words = line.words();
    let Some((client, lists)) = words.split_first() else {
        diags.error(
            Some(line.lineno),
            "apiauth needs a client name and a uid= or gid= list",
        );
        return;
    };
    if lists.is_empty()
        || lists
            .iter()
            .any(|w| !w.starts_with("uid=") && !w.starts_with("gid="))
    {
        diags.error(
            Some(line.lineno),
            format!(
                "invalid apiauth for '{client}': expected apiauth CLIENT [uid=LIST] [gid=LIST]"
            ),
        );
    }
    if let Some(first) = b.apiauth_clients.get(*client) {
        diags.error(
            Some(line.lineno),
            format!("apiauth for client '{client}' repeated (first on line {first})"),
        );
    } else {
        b.apiauth_clients.insert((*client).to_owned(), line.lineno);
    }
}

#[cfg(test)]
mod tests;
