//! `cl_status`: Heartbeat 3.0.6's sub-commands, options, texts and exit codes, answered
//! from one `status` request on the control socket; plus `--json` and `status`.
//!
//! * this module: the command line (our options through [`opts`](crate::opts), the
//!   sub-command), the ERROR lines, the exit codes, and [`render`], which answers a
//!   sub-command from a status object;
//! * `getopt`: GNU getopt, which Heartbeat runs on the arguments after the sub-command;
//! * `compat`: the sub-commands of Heartbeat, with its exact texts;
//! * `summary`: the heartbeat-rs additions, `status` and `--json`.

mod compat;
mod getopt;
mod summary;

use hb_control::Status;

use crate::Outcome;
use crate::client::ClientError;
use crate::cllog;
use crate::opts::{self, Common, DoubleDash};

/// Success (node or link up, ...).
pub const OK: u8 = 0;
/// A "normal" failure: node or link not up, heartbeat not running, parameter not set.
pub const NORMAL_FAIL: u8 = 1;
/// Bad sub-command, option, node name or missing argument.
pub const PARAMETER_ERROR: u8 = 11;
/// The daemon did not answer in time.
pub const TIMEOUT: u8 = 12;
/// Anything else (unknown link, client status, bad reply).
pub const UNKNOWN_ERROR: u8 = 13;

const ENTITY: &str = "cl_status";
/// The signon failure reason Heartbeat's API library gives when the daemon is not running.
const NOT_RUNNING_REASON: &str = "hb_api_signon: Can't initiate connection to heartbeat";

/// Heartbeat 3.0.6's usage text (printed for no argument or `-h`).
pub const USAGE: &str = "\
Usage: cl_status <sub-command> [<options>] [<parameters>]

Sub-commands:
clientstatus <node-name> <client-id> [<timeout>]
\tShow the status of heartbeat clients.
hblinkstatus <node-name> <link-name>
\tShow the status of a heartbeat link
hbstatus
\tIndicate if heartbeat is running on the local system.
\tOptions:
\t\t-v\tverbose: also add \"listnodes -v\" output
listnodes [<option>]
\tList the nodes in the cluster.
\tOptions:
\t\t-p\tlist only 'ping' type nodes
\t\t-n\tlist only 'normal' type nodes
\t\t-v\tverbose: also list type and status,
\t\t\tthen add \"listhblinks -v\" output
listhblinks <node-name>
\tList the network interfaces used as hearbeat links.
\tOptions:
\t\t-v\tverbose: list link status as well
nodestatus <node-name>
\tList the node status.
nodeweight <node-name>
\tList the node weight.
nodesite <node-name>
\tList the node site.
nodetype <node-name>
\tList the nodes of a given type.
rscstatus
\tShow the status of cluster resources.
hbparameter -p <parameter-name>
\tRetrieve the value of a cluster parameter.
\tAs for the valid parameter names, please refer to the man page.
";

/// What `--help` adds to the usage text.
pub const EXTENSIONS: &str = "
heartbeat-rs additions:
status
\tA short summary: nodes, links, resource groups, last transitions.
parameter -p <parameter-name>
\tThe same as hbparameter.
Global options (before or after the sub-command):
\t--json\t\tprint the daemon's status object as JSON (no sub-command)
\t--run-dir DIR\tthe daemon's run directory (default $HB_RUN_DIR, else /run/heartbeat)
\t--timeout SECS\thow long to wait for the daemon (default 5)
";

/// `cl_status`'s own options; everything else is Heartbeat's command line.
#[derive(clap::Parser, Debug)]
#[command(
    name = "cl_status",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Globals {
    #[command(flatten)]
    common: Common,
    /// Print the daemon's status object as JSON.
    #[arg(long)]
    json: bool,
    /// The usage and the heartbeat-rs additions.
    #[arg(long)]
    help: bool,
}

/// A sub-command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    HbStatus,
    ListNodes,
    NodeStatus,
    NodeWeight,
    NodeSite,
    NodeType,
    ListHbLinks,
    HbLinkStatus,
    ClientStatus,
    RscStatus,
    HbParameter,
    Test,
    Summary,
}

/// Heartbeat's table lookup: exact names only.
fn lookup(name: &str) -> Option<Cmd> {
    Some(match name {
        "hbstatus" => Cmd::HbStatus,
        "listnodes" => Cmd::ListNodes,
        "nodestatus" => Cmd::NodeStatus,
        "nodeweight" => Cmd::NodeWeight,
        "nodesite" => Cmd::NodeSite,
        "nodetype" => Cmd::NodeType,
        "listhblinks" => Cmd::ListHbLinks,
        "hblinkstatus" => Cmd::HbLinkStatus,
        "clientstatus" => Cmd::ClientStatus,
        "rscstatus" => Cmd::RscStatus,
        "hbparameter" | "parameter" => Cmd::HbParameter,
        "test" => Cmd::Test,
        "status" => Cmd::Summary,
        _ => return None,
    })
}

/// Output being built, with the node name for ERROR lines.
struct Ctx {
    out: Outcome,
    host: String,
    /// `-m`: Heartbeat's human-readable sentences.
    human: bool,
}

impl Ctx {
    fn new() -> Ctx {
        Ctx {
            out: Outcome::default(),
            host: cllog::hostname(),
            human: false,
        }
    }

    fn print(&mut self, s: &str) {
        self.out.stdout.push_str(s);
    }

    fn eprint(&mut self, s: &str) {
        self.out.stderr.push_str(s);
    }

    fn error(&mut self, text: &str) {
        let line = cllog::error_line(&self.host, ENTITY, text);
        self.out.stderr.push_str(&line);
    }

    /// Heartbeat's two-line failure report.
    fn error_pair(&mut self, what: &str, reason: &str) {
        self.error(what);
        self.error(&format!("REASON: {reason}"));
    }

    fn finish(mut self, code: u8) -> Outcome {
        self.out.code = code;
        self.out
    }
}

/// Runs `cl_status` with the arguments after the program name.
pub fn run(args: &[String]) -> Outcome {
    let mut ctx = Ctx::new();
    let parsed = match opts::parse::<Globals>(args, DoubleDash::EndsOptions) {
        Ok(p) => p,
        Err(e) => {
            ctx.error(&e.to_string());
            return ctx.finish(PARAMETER_ERROR);
        }
    };
    let g = parsed.opts;
    // Heartbeat's getopt sees the `--` and what follows it.
    let mut rest = parsed.args;
    if let Some(after) = parsed.after_double_dash {
        rest.push("--".to_owned());
        rest.extend(after);
    }
    if g.help {
        ctx.print(USAGE);
        ctx.print(EXTENSIONS);
        return ctx.finish(OK);
    }
    let client = g.common.client();
    if g.json {
        if let Some(extra) = rest.first() {
            ctx.error(&format!("--json takes no sub-command ({extra})"));
            return ctx.finish(PARAMETER_ERROR);
        }
        return summary::json(ctx, client.status());
    }
    let Some(name) = rest.first() else {
        ctx.print(USAGE);
        return ctx.finish(OK);
    };
    if rest.len() == 1 && name == "-h" {
        ctx.print(USAGE);
        return ctx.finish(OK);
    }
    let Some(cmd) = lookup(name) else {
        ctx.error(&format!("{name}: invalid sub-command."));
        return ctx.finish(PARAMETER_ERROR);
    };
    let fetched = client.status().map(|(status, _)| status);
    respond(ctx, cmd, name, &rest[1..], fetched)
}

/// What `cl_status SUB-COMMAND ARGS...` prints when the daemon answered `status` with
/// `status`: `args` are the sub-command and its arguments, as after `cl_status`'s own
/// options. (The daemon's tests render its real status with it.)
#[must_use]
pub fn render(args: &[String], status: &Status) -> Outcome {
    let ctx = Ctx::new();
    let Some(name) = args.first() else {
        let mut ctx = ctx;
        ctx.print(USAGE);
        return ctx.finish(OK);
    };
    let Some(cmd) = lookup(name) else {
        let mut ctx = ctx;
        ctx.error(&format!("{name}: invalid sub-command."));
        return ctx.finish(PARAMETER_ERROR);
    };
    respond(ctx, cmd, name, &args[1..], Ok(status.clone()))
}

/// Answers sub-command `cmd` (called `name`) with `args` from the fetched status.
fn respond(
    mut ctx: Ctx,
    cmd: Cmd,
    name: &str,
    args: &[String],
    fetched: Result<Status, ClientError>,
) -> Outcome {
    if let Ok(status) = &fetched
        && let Some(me) = status.my_name()
    {
        ctx.host = me.to_string();
    }
    let code = match (cmd, fetched) {
        (Cmd::HbStatus, fetched) => compat::hbstatus(&mut ctx, name, args, fetched),
        (_, Err(e)) => signon_failed(&mut ctx, &e),
        (Cmd::ListNodes, Ok(s)) => compat::listnodes(&mut ctx, name, args, &s),
        (Cmd::NodeStatus, Ok(s)) => {
            compat::node_query(&mut ctx, name, args, &s, compat::NodeQuery::Status)
        }
        (Cmd::NodeWeight, Ok(s)) => {
            compat::node_query(&mut ctx, name, args, &s, compat::NodeQuery::Weight)
        }
        (Cmd::NodeSite, Ok(s)) => {
            compat::node_query(&mut ctx, name, args, &s, compat::NodeQuery::Site)
        }
        (Cmd::NodeType, Ok(s)) => {
            compat::node_query(&mut ctx, name, args, &s, compat::NodeQuery::Type)
        }
        (Cmd::ListHbLinks, Ok(s)) => compat::listhblinks(&mut ctx, name, args, &s),
        (Cmd::HbLinkStatus, Ok(s)) => compat::hblinkstatus(&mut ctx, name, args, &s),
        (Cmd::ClientStatus, Ok(_)) => compat::clientstatus(&mut ctx, name, args),
        (Cmd::RscStatus, Ok(s)) => compat::rscstatus(&mut ctx, name, args, &s),
        (Cmd::HbParameter, Ok(s)) => compat::hbparameter(&mut ctx, name, args, &s),
        (Cmd::Test, Ok(s)) => compat::test(&mut ctx, &s),
        (Cmd::Summary, Ok(s)) => summary::summary(&mut ctx, name, args, &s),
    };
    ctx.finish(code)
}

/// The exit code and report when the status request failed (Heartbeat: signon failed).
fn signon_failed(ctx: &mut Ctx, e: &ClientError) -> u8 {
    let reason = match e {
        ClientError::NotRunning { .. } => NOT_RUNNING_REASON.to_string(),
        other => other.to_string(),
    };
    ctx.error_pair("Cannot signon with heartbeat", &reason);
    failure_code(e)
}

fn failure_code(e: &ClientError) -> u8 {
    match e {
        ClientError::Timeout(_) => TIMEOUT,
        ClientError::BadReply(_) => UNKNOWN_ERROR,
        _ => NORMAL_FAIL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn unknown_sub_commands_fail_without_a_daemon() {
        let out = run(&s(&["--run-dir", "/nonexistent/dir", "bogus"]));
        assert_eq!(out.code, PARAMETER_ERROR);
        assert!(out.stdout.is_empty());
        assert!(
            out.stderr
                .ends_with("]: ERROR: bogus: invalid sub-command.\n"),
            "{}",
            out.stderr
        );
        let out = render(&s(&["bogus"]), &Status::default());
        assert_eq!(out.code, PARAMETER_ERROR);
    }

    #[test]
    fn our_options_are_worded_as_before() {
        for (args, text) in [
            (
                &["--run-dir"][..],
                "ERROR: option --run-dir needs a value\n",
            ),
            (
                &["--run-dir="],
                "ERROR: option --run-dir needs a directory\n",
            ),
            (
                &["--timeout", "0"],
                "ERROR: bad --timeout \"0\" (seconds, more than 0)\n",
            ),
            (
                &["rscstatus", "--timeout=soon"],
                "ERROR: bad --timeout \"soon\" (seconds, more than 0)\n",
            ),
        ] {
            let out = run(&s(args));
            assert_eq!(out.code, PARAMETER_ERROR, "{args:?}");
            assert!(out.stderr.ends_with(text), "{args:?}: {}", out.stderr);
        }
    }

    #[test]
    fn double_dash_reaches_getopt() {
        // `--json` after `--` is an operand of rscstatus, not our option: the daemon is
        // asked (and is not running).
        let out = run(&s(&[
            "--run-dir",
            "/nonexistent/dir",
            "rscstatus",
            "-m",
            "--",
            "--json",
        ]));
        assert_eq!(out.code, NORMAL_FAIL);
        assert!(
            out.stderr.contains("Cannot signon with heartbeat"),
            "{}",
            out.stderr
        );
        let out = run(&s(&["--run-dir", "/nonexistent/dir", "--", "rscstatus"]));
        assert!(
            out.stderr.ends_with("ERROR: --: invalid sub-command.\n"),
            "{}",
            out.stderr
        );
    }
}
