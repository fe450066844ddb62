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

/// `cl_status`'s own options; everything else is Heartbeat's command line. With the
/// sub-commands of [`SUB_COMMANDS`] this is also the description of the command that its
/// manual page and shell completions are generated from ([`command`]).
#[derive(clap::Parser, Debug)]
#[command(
    name = "cl_status",
    about = "Show the status of the cluster, its nodes, links and resources",
    long_about = "Answers Heartbeat 3.0.6's sub-commands with its texts and exit codes, from one \
                  `status` request on the control socket of the heartbeat-rs daemon, so scripts \
                  written for Heartbeat keep working. The options of a sub-command are parsed \
                  as Heartbeat parses them (GNU getopt on the arguments after the sub-command: \
                  before or after the operands, grouped as in `-mv`).\n\n\
                  Without a sub-command, or with `-h` alone, it prints Heartbeat's usage text. \
                  The options below are heartbeat-rs additions and may come before or after \
                  the sub-command.",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Globals {
    #[command(flatten)]
    common: Common,
    /// Print the daemon's status object as JSON, keys sorted (no sub-command).
    #[arg(long)]
    json: bool,
    /// Print the usage text and the heartbeat-rs additions.
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

/// A sub-command as the user sees it: its name, Heartbeat's options after it and its
/// operands. [`lookup`] finds sub-commands in [`SUB_COMMANDS`], and [`command`] describes
/// them from it for the manual page and the shell completions, so both have the same list.
struct SubCommand {
    name: &'static str,
    /// Another name that works as well (`parameter` for `hbparameter`).
    alias: Option<&'static str>,
    cmd: Cmd,
    /// One line: what it answers.
    about: &'static str,
    /// The options getopt accepts after it (a test checks them against getopt).
    flags: &'static [Flag],
    operands: &'static [Operand],
}

/// An option of a sub-command: `-v`, or `-p NAME` when it takes a value.
struct Flag {
    short: char,
    /// clap's id of the option.
    id: &'static str,
    value: Option<&'static str>,
    required: bool,
    help: &'static str,
}

/// An operand of a sub-command.
struct Operand {
    name: &'static str,
    required: bool,
    help: &'static str,
}

const HUMAN: Flag = Flag {
    short: 'm',
    id: "human",
    value: None,
    required: false,
    help: "Heartbeat's human-readable sentence instead of the bare value",
};

const NODE: Operand = Operand {
    name: "NODE",
    required: true,
    help: "A node of ha.cf (or a ping node)",
};

/// Heartbeat 3.0.6's sub-commands (its usage lists all but `test`), then ours (`status`,
/// and `parameter` for `hbparameter`).
const SUB_COMMANDS: &[SubCommand] = &[
    SubCommand {
        name: "hbstatus",
        alias: None,
        cmd: Cmd::HbStatus,
        about: "Whether heartbeat is running on this machine (exit 0 if it is, 1 if not)",
        flags: &[
            Flag {
                short: 'v',
                id: "verbose",
                value: None,
                required: false,
                help: "Also print the version, what manages the resources and `listnodes -v`",
            },
            HUMAN,
        ],
        operands: &[],
    },
    SubCommand {
        name: "listnodes",
        alias: None,
        cmd: Cmd::ListNodes,
        about: "List the nodes of the cluster, in the reverse of the ha.cf order (as Heartbeat)",
        flags: &[
            Flag {
                short: 'p',
                id: "ping",
                value: None,
                required: false,
                help: "Only the ping nodes",
            },
            Flag {
                short: 'n',
                id: "normal",
                value: None,
                required: false,
                help: "Only the normal nodes",
            },
            Flag {
                short: 'v',
                id: "verbose",
                value: None,
                required: false,
                help: "Also each node's type and status, and its links with their status",
            },
            HUMAN,
        ],
        operands: &[],
    },
    SubCommand {
        name: "nodestatus",
        alias: None,
        cmd: Cmd::NodeStatus,
        about: "A node's status, e.g. active, up, init or dead (exit 0 if it is up, else 1)",
        flags: &[HUMAN],
        operands: &[NODE],
    },
    SubCommand {
        name: "nodeweight",
        alias: None,
        cmd: Cmd::NodeWeight,
        about: "A node's weight",
        flags: &[HUMAN],
        operands: &[NODE],
    },
    SubCommand {
        name: "nodesite",
        alias: None,
        cmd: Cmd::NodeSite,
        about: "A node's site (an empty line when it has none)",
        flags: &[HUMAN],
        operands: &[NODE],
    },
    SubCommand {
        name: "nodetype",
        alias: None,
        cmd: Cmd::NodeType,
        about: "A node's type: normal or ping",
        flags: &[HUMAN],
        operands: &[NODE],
    },
    SubCommand {
        name: "listhblinks",
        alias: None,
        cmd: Cmd::ListHbLinks,
        about: "List a node's heartbeat links (its network interfaces)",
        flags: &[
            Flag {
                short: 'v',
                id: "verbose",
                value: None,
                required: false,
                help: "Also each link's status",
            },
            HUMAN,
        ],
        operands: &[NODE],
    },
    SubCommand {
        name: "hblinkstatus",
        alias: None,
        cmd: Cmd::HbLinkStatus,
        about: "The status of a node's heartbeat link: up or dead (exit 0 if up, 1 if dead)",
        flags: &[HUMAN],
        operands: &[
            NODE,
            Operand {
                name: "LINK",
                required: true,
                help: "The link's interface name, as listhblinks lists it",
            },
        ],
    },
    SubCommand {
        name: "clientstatus",
        alias: None,
        cmd: Cmd::ClientStatus,
        about: "The status of a Heartbeat API client: heartbeat-rs has none, so always \
                Heartbeat's answer for an unknown client (exit 13)",
        flags: &[HUMAN],
        operands: &[
            NODE,
            Operand {
                name: "CLIENT",
                required: true,
                help: "The client's name",
            },
            Operand {
                name: "TIMEOUT",
                required: false,
                help: "Accepted and not waited for",
            },
        ],
    },
    SubCommand {
        name: "rscstatus",
        alias: None,
        cmd: Cmd::RscStatus,
        about: "Which resources this node holds: none, local, foreign, all or transition",
        flags: &[HUMAN],
        operands: &[],
    },
    SubCommand {
        name: "hbparameter",
        alias: Some("parameter"),
        cmd: Cmd::HbParameter,
        about: "The value of a cluster parameter: the ha.cf directive as written, or \
                Heartbeat's default (hbversion: the daemon's version)",
        flags: &[
            Flag {
                short: 'p',
                id: "parameter",
                value: Some("NAME"),
                required: true,
                help: "The parameter (directive) name, e.g. deadtime",
            },
            HUMAN,
        ],
        operands: &[],
    },
    SubCommand {
        name: "test",
        alias: None,
        cmd: Cmd::Test,
        about: "Heartbeat's debugging output: dead time, keepalive, this node, rscstatus \
                (arguments are ignored)",
        flags: &[],
        operands: &[],
    },
    SubCommand {
        name: "status",
        alias: None,
        cmd: Cmd::Summary,
        about: "A summary for people: nodes, links, resource groups, recent transitions \
                (heartbeat-rs; scripts should use --json)",
        flags: &[],
        operands: &[],
    },
];

/// Heartbeat's table lookup: exact names only.
fn lookup(name: &str) -> Option<Cmd> {
    SUB_COMMANDS
        .iter()
        .find(|s| s.name == name || s.alias == Some(name))
        .map(|s| s.cmd)
}

impl SubCommand {
    fn command(&self) -> clap::Command {
        let mut cmd = clap::Command::new(self.name)
            .about(self.about)
            .disable_help_flag(true)
            .disable_version_flag(true);
        if let Some(alias) = self.alias {
            cmd = cmd.visible_alias(alias);
        }
        for f in self.flags {
            let arg = clap::Arg::new(f.id)
                .short(f.short)
                .help(f.help)
                .required(f.required);
            cmd = cmd.arg(match f.value {
                Some(v) => arg.value_name(v).action(clap::ArgAction::Set),
                None => arg.action(clap::ArgAction::SetTrue),
            });
        }
        for o in self.operands {
            cmd = cmd.arg(
                clap::Arg::new(o.name)
                    .value_name(o.name)
                    .required(o.required)
                    .help(o.help),
            );
        }
        cmd
    }
}

/// `cl_status`'s command line as clap describes it, for its manual page and its shell
/// completions (hb-man): our options ([`Globals`]) and every sub-command of
/// [`SUB_COMMANDS`] with Heartbeat's options and operands. `cl_status` itself does not parse
/// with it: see [`opts`](crate::opts) and `getopt`.
#[must_use]
pub fn command() -> clap::Command {
    let mut cmd = <Globals as clap::CommandFactory>::command()
        .subcommand_value_name("SUB-COMMAND")
        .subcommand_help_heading("Sub-commands")
        .disable_help_subcommand(true);
    for s in SUB_COMMANDS {
        cmd = cmd.subcommand(s.command());
    }
    cmd
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
    fn the_sub_command_table_has_the_options_getopt_accepts() {
        // `test` reads no options (Heartbeat's neither).
        for sub in SUB_COMMANDS.iter().filter(|sub| sub.cmd != Cmd::Test) {
            for c in ('a'..='z').chain('A'..='Z') {
                let flag = sub.flags.iter().find(|f| f.short == c);
                let arg = match flag {
                    Some(f) if f.value.is_some() => format!("-{c}x"),
                    _ => format!("-{c}"),
                };
                let out = render(&s(&[sub.name, &arg]), &Status::default());
                assert_eq!(
                    out.stderr.contains("invalid option"),
                    flag.is_none(),
                    "{} {arg}: {}",
                    sub.name,
                    out.stderr
                );
            }
        }
    }

    #[test]
    fn every_sub_command_is_in_the_table_once() {
        let mut names: Vec<&str> = SUB_COMMANDS
            .iter()
            .flat_map(|sub| std::iter::once(sub.name).chain(sub.alias))
            .collect();
        for name in &names {
            assert!(lookup(name).is_some(), "{name}");
        }
        let mut cmds: Vec<String> = SUB_COMMANDS
            .iter()
            .map(|sub| format!("{:?}", sub.cmd))
            .collect();
        cmds.sort();
        cmds.dedup();
        assert_eq!(cmds.len(), SUB_COMMANDS.len());
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SUB_COMMANDS.len() + 1);
        let cmd = command();
        assert_eq!(cmd.get_subcommands().count(), SUB_COMMANDS.len());
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
