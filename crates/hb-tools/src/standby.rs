//! `hb_standby` and `hb_takeover`: Heartbeat's argument handling and texts, a request on
//! the control socket, and optionally (`--wait`) polling `status` until the groups moved.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use hb_control::{Group, RequestClass, RscStatus, Status};

use crate::client::ClientError;
use crate::opts::{self, Common, DoubleDash};
use crate::{Outcome, prog_name, view};

/// How long `--wait` waits unless `--wait-timeout` says otherwise.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);
/// Interval between two `status` polls while waiting.
pub const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Which command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Give up groups (`hb_standby`).
    Standby,
    /// Take groups over (`hb_takeover`).
    Takeover,
}

impl Action {
    fn command(self) -> &'static str {
        match self {
            Action::Standby => "standby",
            Action::Takeover => "takeover",
        }
    }

    fn default_prog(self) -> &'static str {
        match self {
            Action::Standby => "hb_standby",
            Action::Takeover => "hb_takeover",
        }
    }
}

/// The heartbeat-rs options of `hb_standby` and `hb_takeover`; the rest is Heartbeat's
/// one class argument ([`command`] adds it for the manual pages and completions).
#[derive(clap::Parser, Debug)]
#[command(disable_help_flag = true, disable_version_flag = true)]
struct Opts {
    #[command(flatten)]
    common: Common,
    /// Wait until the request has taken effect.
    #[arg(long)]
    wait: bool,
    /// How long `--wait` waits, in seconds.
    #[arg(long = "wait-timeout", value_name = "SECS", value_parser = opts::seconds, default_value = "60")]
    wait_timeout: Duration,
}

/// The class words, as the usage lists them: what each asks `action` to move. `run` reads
/// them with [`RequestClass::parse`] or [`RequestClass::parse_takeover`].
fn classes(action: Action) -> [(&'static str, &'static str); 4] {
    let failback = match action {
        Action::Standby => "The same as foreign (Heartbeat's alias)",
        Action::Takeover => {
            "Every group, as Heartbeat 3.0.6 ends up doing: its failback request is read as all"
        }
    };
    [
        ("all", "Every resource group (the default)"),
        (
            "foreign",
            "The groups whose preferred node is the other node",
        ),
        ("local", "The groups whose preferred node is this node"),
        ("failback", failback),
    ]
}

/// The command line of `hb_standby` or `hb_takeover` as clap describes it, for the manual
/// pages and shell completions (hb-man): [`Opts`] plus the class argument. The tools parse it
/// with [`opts::parse`] and Heartbeat's rules (`run`).
#[must_use]
pub fn command(action: Action) -> clap::Command {
    let (name, about, long_about) = match action {
        Action::Standby => (
            "hb_standby",
            "Ask this node to give up resource groups",
            "Asks the heartbeat-rs daemon on this machine, through its control socket, to give \
             up the resource groups of CLASS to the other node, and returns once the daemon \
             accepted or refused the request (with `--wait`, once the groups have moved). The \
             class is seen from this node: `local` groups prefer this node, `foreign` ones the \
             other. The arguments and texts are those of Heartbeat 3.0.6's `hb_standby`; the \
             options are heartbeat-rs additions and may come before or after CLASS.",
        ),
        Action::Takeover => (
            "hb_takeover",
            "Ask this node to take resource groups over",
            "Asks the heartbeat-rs daemon on this machine, through its control socket, to take \
             over the resource groups of CLASS from the other node, and returns once the \
             daemon accepted or refused the request (with `--wait`, once the groups run \
             here). The class is seen from this node: `local` groups prefer this node, \
             `foreign` ones the other. The arguments and texts are those of Heartbeat 3.0.6's \
             `hb_takeover`; the options are heartbeat-rs additions and may come before or \
             after CLASS.",
        ),
    };
    let values =
        classes(action).map(|(word, help)| clap::builder::PossibleValue::new(word).help(help));
    <Opts as clap::CommandFactory>::command()
        .name(name)
        .bin_name(name)
        .about(about)
        .long_about(long_about)
        .arg(
            clap::Arg::new("class")
                .value_name("CLASS")
                .help("Which groups")
                .value_parser(clap::builder::PossibleValuesParser::new(values)),
        )
}

/// Heartbeat's usage: `usage:` on stdout, the synopsis on stderr, exit 1.
fn usage(out: &mut Outcome, argv0: &str) {
    out.stdout.push_str("usage:\n");
    let _ = writeln!(out.stderr, "{argv0} [all|foreign|local|failback]");
    out.stderr.push_str(
        "\theartbeat-rs options: [--wait [--wait-timeout SECS]] [--run-dir DIR] [--timeout SECS]\n",
    );
    out.code = 1;
}

/// Runs `hb_standby` or `hb_takeover`; `argv0` is the program as invoked (Heartbeat's
/// messages start with `$0`).
pub fn run(action: Action, argv0: &str, args: &[String]) -> Outcome {
    let mut out = Outcome::default();
    let prog = prog_name(argv0, action.default_prog());
    // `--` is an ordinary argument here, as in Heartbeat's script.
    let (opts, positional) = match opts::parse::<Opts>(args, DoubleDash::Ordinary) {
        Ok(p) => (p.opts, p.args),
        Err(e) => {
            let _ = writeln!(out.stderr, "{prog}: {e}");
            usage(&mut out, argv0);
            return out;
        }
    };
    if positional.len() >= 2 {
        let _ = writeln!(out.stdout, "{argv0}: too many arguments");
        usage(&mut out, argv0);
        return out;
    }
    let arg = positional.first().map_or("all", String::as_str);
    if arg == "--help" {
        usage(&mut out, argv0);
        return out;
    }
    let parsed = match action {
        Action::Standby => RequestClass::parse(arg),
        Action::Takeover => RequestClass::parse_takeover(arg),
    };
    let Some(class) = parsed else {
        let _ = writeln!(out.stdout, "{argv0}: wrong resources({arg}).");
        usage(&mut out, argv0);
        return out;
    };
    let client = opts.common.client();
    let sent = match action {
        Action::Standby => client.standby(class),
        Action::Takeover => client.takeover(class),
    };
    match sent {
        Ok(()) => {}
        Err(ClientError::Daemon(why)) => {
            let _ = writeln!(
                out.stderr,
                "{prog}: heartbeat refused the {} request: {why}",
                action.command()
            );
            out.code = 1;
            return out;
        }
        Err(e) => {
            let _ = writeln!(out.stderr, "{prog}: {e}");
            out.code = 1;
            return out;
        }
    }
    if action == Action::Standby {
        // What Heartbeat's hb_standby logs (to stderr when run from a terminal).
        let _ = writeln!(out.stderr, "Going standby [{}].", class.as_str());
    }
    if !opts.wait {
        return out;
    }
    let limit = opts.wait_timeout;
    let what = format!("{} [{}]", action.command(), class.as_str());
    let deadline = Instant::now() + limit;
    loop {
        let pending = match client.status() {
            Ok((status, _)) => match pending(&status, action, class) {
                Ok(None) => {
                    let me = status.my_name().unwrap_or("this node");
                    let _ = writeln!(
                        out.stdout,
                        "{} complete: {me} holds {}.",
                        capitalise(&what),
                        view::held_list(&status, me)
                    );
                    return out;
                }
                Ok(Some(p)) => p,
                Err(e) => {
                    let _ = writeln!(out.stderr, "{prog}: cannot wait: {e}");
                    out.code = 1;
                    return out;
                }
            },
            Err(e @ ClientError::Timeout(_)) => e.to_string(),
            Err(e) => {
                let _ = writeln!(out.stderr, "{prog}: while waiting for the {what}: {e}");
                out.code = 1;
                return out;
            }
        };
        if Instant::now() >= deadline {
            let _ = writeln!(
                out.stderr,
                "{prog}: timed out after {} s waiting for the {what}: {pending}",
                fmt_secs(limit)
            );
            out.code = 1;
            return out;
        }
        std::thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn fmt_secs(d: Duration) -> String {
    let s = format!("{:.3}", d.as_secs_f64());
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Whether `g` is of `class` as seen from `me` (a group that names no preferred node is
/// only in `all`).
fn in_class(g: &Group, class: RequestClass, me: &str) -> bool {
    let preferred = Some(g.preferred.as_str()).filter(|p| !p.is_empty());
    match (class, preferred) {
        (RequestClass::All, _) => true,
        (RequestClass::Local, Some(p)) => p == me,
        (RequestClass::Foreign, Some(p)) => p != me,
        (_, None) => false,
    }
}

/// `None` when the request has taken effect and nothing is moving; otherwise what is
/// still pending, for the time-out message. An error if the status names no node.
///
/// # Errors
/// When the status names no node.
pub fn pending(
    status: &Status,
    action: Action,
    class: RequestClass,
) -> Result<Option<String>, String> {
    let me = status
        .my_name()
        .ok_or("the status reply names no node")?
        .to_string();
    let mut still = Vec::new();
    if status.rscstatus == Some(RscStatus::Transition) {
        still.push("resources are in transition (rscstatus transition)".to_string());
    }
    for g in &status.groups {
        if g.state.in_transition() {
            still.push(format!("{} is {} here", g.key, g.state));
        }
    }
    for g in status.groups.iter().filter(|g| in_class(g, class, &me)) {
        match action {
            Action::Standby if g.held_by(&me) => {
                still.push(format!("{} is still held by {me}", g.key));
            }
            Action::Takeover if !g.held_by(&me) => {
                let mut s = match g.holder.as_deref() {
                    Some(h) => format!("{} is held by {h}", g.key),
                    None => format!("{} is held by no node", g.key),
                };
                if g.failed_here {
                    let _ = write!(s, " (it failed here: hb_cleanup {} allows it again)", g.key);
                }
                still.push(s);
            }
            _ => {}
        }
    }
    Ok((!still.is_empty()).then(|| still.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_control::GroupState;

    fn group(key: &str, preferred: &str, holder: Option<&str>, state: &str) -> Group {
        Group {
            key: key.into(),
            preferred: preferred.into(),
            holder: holder.map(Into::into),
            state: GroupState::from_word(state),
            ..Group::default()
        }
    }

    fn two_groups(h1: Option<&str>, s1: &str, h2: Option<&str>, s2: &str, rsc: &str) -> Status {
        Status {
            node: Some("node1".into()),
            rscstatus: Some(RscStatus::from_word(rsc)),
            groups: vec![group("A", "node1", h1, s1), group("B", "node2", h2, s2)],
            ..Status::default()
        }
    }

    #[test]
    fn standby_waits_for_the_class_to_leave() {
        let before = two_groups(Some("node1"), "running", Some("node1"), "running", "all");
        assert_eq!(
            pending(&before, Action::Standby, RequestClass::Foreign).unwrap(),
            Some("B is still held by node1".into())
        );
        assert_eq!(
            pending(&before, Action::Standby, RequestClass::Local).unwrap(),
            Some("A is still held by node1".into())
        );
        let moving = two_groups(Some("node1"), "running", None, "stopping", "transition");
        assert_eq!(
            pending(&moving, Action::Standby, RequestClass::Foreign).unwrap(),
            Some("resources are in transition (rscstatus transition); B is stopping here".into())
        );
        let after = two_groups(Some("node1"), "running", Some("node2"), "stopped", "local");
        assert_eq!(
            pending(&after, Action::Standby, RequestClass::Foreign).unwrap(),
            None
        );
        assert!(
            pending(&after, Action::Standby, RequestClass::All)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn takeover_waits_for_the_class_to_arrive() {
        let before = two_groups(Some("node1"), "running", Some("node2"), "stopped", "local");
        assert_eq!(
            pending(&before, Action::Takeover, RequestClass::Local).unwrap(),
            None
        );
        assert_eq!(
            pending(&before, Action::Takeover, RequestClass::All).unwrap(),
            Some("B is held by node2".into())
        );
        let after = two_groups(Some("node1"), "running", Some("node1"), "running", "all");
        assert_eq!(
            pending(&after, Action::Takeover, RequestClass::All).unwrap(),
            None
        );
        let nameless = Status::default();
        assert!(pending(&nameless, Action::Takeover, RequestClass::All).is_err());
    }

    #[test]
    fn arguments_follow_heartbeat() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = run(Action::Standby, "/x/hb_standby", &s(&["local", "foreign"]));
        assert_eq!(out.code, 1);
        assert_eq!(out.stdout, "/x/hb_standby: too many arguments\nusage:\n");
        assert!(
            out.stderr
                .starts_with("/x/hb_standby [all|foreign|local|failback]\n")
        );
        let out = run(Action::Takeover, "hb_takeover", &s(&["everything"]));
        assert_eq!(out.code, 1);
        assert_eq!(
            out.stdout,
            "hb_takeover: wrong resources(everything).\nusage:\n"
        );
        let out = run(Action::Takeover, "hb_takeover", &s(&["--help"]));
        assert_eq!((out.code, out.stdout.as_str()), (1, "usage:\n"));
        let out = run(Action::Standby, "hb_standby", &s(&["--wait-timeout", "x"]));
        assert_eq!(out.code, 1);
        assert!(out.stderr.starts_with("hb_standby: bad --wait-timeout"));
    }

    #[test]
    fn option_defaults_are_the_documented_ones() {
        let p = opts::parse::<Opts>(&[], DoubleDash::Ordinary).unwrap();
        assert_eq!(p.opts.wait_timeout, DEFAULT_WAIT);
        assert_eq!(p.opts.common, Common::default());
        assert!(!p.opts.wait);
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let out = run(Action::Standby, "hb_standby", &s(&["--wait-timeout", "x"]));
        assert_eq!(
            out.stderr.lines().next(),
            Some("hb_standby: bad --wait-timeout \"x\" (seconds, more than 0)")
        );
        let out = run(Action::Standby, "hb_standby", &s(&["--run-dir"]));
        assert_eq!(
            out.stderr.lines().next(),
            Some("hb_standby: option --run-dir needs a value")
        );
    }

    #[test]
    fn the_documented_classes_are_the_accepted_ones() {
        for action in [Action::Standby, Action::Takeover] {
            let words = classes(action).map(|(word, _)| word);
            let mut out = Outcome::default();
            usage(&mut out, "x");
            assert!(
                out.stderr
                    .starts_with(&format!("x [{}]\n", words.join("|"))),
                "{}",
                out.stderr
            );
            for word in words {
                let parsed = match action {
                    Action::Standby => RequestClass::parse(word),
                    Action::Takeover => RequestClass::parse_takeover(word),
                };
                assert!(parsed.is_some(), "{word}");
            }
            assert_eq!(command(action).get_name(), action.default_prog());
        }
        assert_eq!(
            RequestClass::parse_takeover("failback"),
            Some(RequestClass::All)
        );
        assert_eq!(RequestClass::parse("failback"), Some(RequestClass::Foreign));
    }

    #[test]
    fn seconds_print_briefly() {
        assert_eq!(fmt_secs(Duration::from_millis(300)), "0.3");
        assert_eq!(fmt_secs(Duration::from_secs(60)), "60");
    }
}
