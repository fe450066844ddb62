//! `hb_cleanup [GROUP...]`: forget the failures recorded for groups on this node, so they
//! may run here again (a heartbeat-rs command; Heartbeat 3 has none).

use std::fmt::Write as _;

use crate::client::ClientError;
use crate::opts::{self, Common, DoubleDash, OptError};
use crate::{Outcome, prog_name};

/// The options of `hb_cleanup`; the rest are group keys ([`command`] adds them for the
/// manual page and completions).
#[derive(clap::Parser, Debug)]
#[command(
    name = "hb_cleanup",
    about = "Forget the failures recorded for resource groups on this node",
    long_about = "Asks the heartbeat-rs daemon on this machine, through its control socket, to \
                  forget the failures recorded on this node for each GROUP, or for every group \
                  when none is named, so that a group that failed to start here or exceeded its \
                  restart limit may run here again. A heartbeat-rs command: Heartbeat 3 has \
                  none. `--` ends the options (for a key that starts with `-`).",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Opts {
    #[command(flatten)]
    common: Common,
    /// Print the usage.
    #[arg(short = 'h', long)]
    help: bool,
}

/// The command line of `hb_cleanup` as clap describes it, for its manual page and shell
/// completions (hb-man): [`Opts`] plus the group keys, which [`run`] takes as the arguments
/// that are not options.
#[must_use]
pub fn command() -> clap::Command {
    <Opts as clap::CommandFactory>::command().arg(
        clap::Arg::new("group")
            .value_name("GROUP")
            .num_args(0..)
            .help(
                "A resource group's key: the first resource of its haresources line, as \
                 `cl_status status` shows it",
            ),
    )
}

/// The usage text.
pub const USAGE: &str = "\
usage: hb_cleanup [--run-dir DIR] [--timeout SECS] [GROUP...]
\tForget the failures recorded on this node for each GROUP (a group's key: the first
\tresource of its haresources line), or for every group when none is named, so the
\tgroups may run on this node again.
";

/// Runs `hb_cleanup` with the arguments after the program name.
pub fn run(argv0: &str, args: &[String]) -> Outcome {
    let mut out = Outcome::default();
    let prog = prog_name(argv0, "hb_cleanup");
    let bad = |out: &mut Outcome, msg: String| {
        let _ = writeln!(out.stderr, "{prog}: {msg}");
        out.stderr.push_str(USAGE);
        out.code = 1;
    };
    let parsed = match opts::parse::<Opts>(args, DoubleDash::EndsOptions) {
        Ok(p) => p,
        Err(e) => {
            let msg = match e {
                OptError::MissingValue(o) | OptError::BadValue { option: o, .. }
                    if o == "--run-dir" =>
                {
                    "option --run-dir needs a directory"
                }
                _ => "option --timeout needs seconds (more than 0)",
            };
            bad(&mut out, msg.to_owned());
            return out;
        }
    };
    if parsed.opts.help {
        out.stdout.push_str(USAGE);
        return out;
    }
    if let Some(option) = parsed
        .args
        .iter()
        .find(|a| a.starts_with('-') && a.len() > 1)
    {
        bad(&mut out, format!("unknown option {option}"));
        return out;
    }
    let mut groups = parsed.args;
    groups.extend(parsed.after_double_dash.unwrap_or_default());
    let client = parsed.opts.common.client();
    let targets: Vec<Option<&str>> = if groups.is_empty() {
        vec![None]
    } else {
        groups.iter().map(|g| Some(g.as_str())).collect()
    };
    for target in targets {
        match client.cleanup(target) {
            Ok(cleared) if cleared.is_empty() => match target {
                Some(g) => {
                    let _ = writeln!(out.stdout, "Nothing to clear for group {g}.");
                }
                None => out.stdout.push_str("Nothing to clear.\n"),
            },
            Ok(cleared) => {
                for key in cleared {
                    let _ = writeln!(out.stdout, "Cleared the failures of group {key}.");
                }
            }
            Err(e @ ClientError::Daemon(_)) => {
                let what =
                    target.map_or_else(|| "all groups".to_string(), |g| format!("group {g}"));
                let _ = writeln!(out.stderr, "{prog}: {what}: {e}");
                out.code = 1;
            }
            Err(e) => {
                // Not running, no permission, time-out: every other request would fail too.
                let _ = writeln!(out.stderr, "{prog}: {e}");
                out.code = 1;
                return out;
            }
        }
    }
    out
}
