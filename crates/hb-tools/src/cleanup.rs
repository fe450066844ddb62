//! `hb_cleanup [GROUP...]`: forget the failures recorded for groups on this node, so they
//! may run here again (a heartbeat-rs command; Heartbeat 3 has none).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use crate::client::{self, Client, ClientError};
use crate::{Outcome, parse_seconds, prog_name};

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
    let mut run_dir: Option<PathBuf> = None;
    let mut timeout: Duration = client::DEFAULT_TIMEOUT;
    let mut groups: Vec<String> = Vec::new();
    let mut it = args.iter();
    let bad = |out: &mut Outcome, msg: String| {
        let _ = writeln!(out.stderr, "{prog}: {msg}");
        out.stderr.push_str(USAGE);
        out.code = 1;
    };
    while let Some(a) = it.next() {
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = || inline.clone().or_else(|| it.next().cloned());
        match name {
            "--" => {
                groups.extend(it.by_ref().cloned());
                break;
            }
            "--help" | "-h" => {
                out.stdout.push_str(USAGE);
                return out;
            }
            "--run-dir" => match value().filter(|v| !v.is_empty()) {
                Some(v) => run_dir = Some(PathBuf::from(v)),
                None => {
                    bad(&mut out, "option --run-dir needs a directory".into());
                    return out;
                }
            },
            "--timeout" => match value().as_deref().and_then(parse_seconds) {
                Some(t) => timeout = t,
                None => {
                    bad(
                        &mut out,
                        "option --timeout needs seconds (more than 0)".into(),
                    );
                    return out;
                }
            },
            _ if a.starts_with('-') && a.len() > 1 => {
                bad(&mut out, format!("unknown option {a}"));
                return out;
            }
            _ => groups.push(a.clone()),
        }
    }
    let client = Client::new(&client::run_dir(run_dir), timeout);
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
