//! `cl_status`: Heartbeat 3.0.6's sub-commands, options, texts and exit codes, answered
//! from one `status` request on the control socket; plus `--json` and `status`.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::{self, Client, ClientError};
use crate::cllog;
use crate::status::Status;
use crate::{Outcome, parse_seconds};

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
\t--run-dir DIR\tthe daemon's run directory (default $HB_RUN_DIR, else /var/run/heartbeat)
\t--timeout SECS\thow long to wait for the daemon (default 5)
";

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

/// Options of ours, recognised anywhere before a `--`.
#[derive(Debug)]
struct Globals {
    run_dir: Option<PathBuf>,
    timeout: Duration,
    json: bool,
    help: bool,
    rest: Vec<String>,
}

fn parse_globals(args: &[String]) -> Result<Globals, String> {
    let mut g = Globals {
        run_dir: None,
        timeout: client::DEFAULT_TIMEOUT,
        json: false,
        help: false,
        rest: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--" {
            g.rest.push(a.clone());
            g.rest.extend(it.by_ref().cloned());
            break;
        }
        let (name, inline) = match a.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (a.as_str(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or_else(|| format!("option {name} needs a value"))
        };
        match name {
            "--run-dir" => {
                let v = value(name)?;
                if v.is_empty() {
                    return Err("option --run-dir needs a directory".into());
                }
                g.run_dir = Some(PathBuf::from(v));
            }
            "--timeout" => {
                let v = value(name)?;
                g.timeout = parse_seconds(&v)
                    .ok_or_else(|| format!("bad --timeout {v:?} (seconds, more than 0)"))?;
            }
            "--json" if inline.is_none() => g.json = true,
            "--help" if inline.is_none() => g.help = true,
            _ => g.rest.push(a.clone()),
        }
    }
    Ok(g)
}

/// One option as GNU getopt(3) returns it (Heartbeat runs getopt on the arguments after
/// the sub-command, so the sub-command is getopt's program name in its messages).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Opt {
    Flag(char),
    Arg(char, String),
    /// getopt's `?`, with the message getopt itself writes to stderr.
    Bad(String),
}

/// GNU getopt with argument permutation: options anywhere, `--` ends them.
fn getopt(cmd: &str, args: &[String], optstr: &str) -> (Vec<Opt>, Vec<String>) {
    let spec = |c: char| -> Option<bool> {
        if c == ':' {
            return None;
        }
        let i = optstr.find(c)?;
        Some(optstr[i + c.len_utf8()..].starts_with(':'))
    };
    let mut opts = Vec::new();
    let mut operands = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--" {
            operands.extend(args[i..].iter().cloned());
            break;
        }
        let Some(cluster) = a.strip_prefix('-').filter(|c| !c.is_empty()) else {
            operands.push(a.clone());
            continue;
        };
        let chars: Vec<char> = cluster.chars().collect();
        let mut j = 0;
        while j < chars.len() {
            let c = chars[j];
            j += 1;
            match spec(c) {
                None => opts.push(Opt::Bad(format!("{cmd}: invalid option -- '{c}'\n"))),
                Some(false) => opts.push(Opt::Flag(c)),
                Some(true) => {
                    let rest: String = chars[j..].iter().collect();
                    if !rest.is_empty() {
                        opts.push(Opt::Arg(c, rest));
                    } else if i < args.len() {
                        opts.push(Opt::Arg(c, args[i].clone()));
                        i += 1;
                    } else {
                        opts.push(Opt::Bad(format!(
                            "{cmd}: option requires an argument -- '{c}'\n"
                        )));
                    }
                    break;
                }
            }
        }
    }
    (opts, operands)
}

/// Output being built, with the host name for ERROR lines.
struct Ctx {
    out: Outcome,
    host: String,
    human: bool,
}

impl Ctx {
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
}

/// Runs `cl_status` with the arguments after the program name.
pub fn run(args: &[String]) -> Outcome {
    let mut ctx = Ctx {
        out: Outcome::default(),
        host: cllog::hostname(),
        human: false,
    };
    let g = match parse_globals(args) {
        Ok(g) => g,
        Err(e) => {
            ctx.error(&e);
            ctx.out.code = PARAMETER_ERROR;
            return ctx.out;
        }
    };
    if g.help {
        ctx.print(USAGE);
        ctx.print(EXTENSIONS);
        return ctx.out;
    }
    let client = Client::new(&client::run_dir(g.run_dir.clone()), g.timeout);
    if g.json {
        if let Some(extra) = g.rest.first() {
            ctx.error(&format!("--json takes no sub-command ({extra})"));
            ctx.out.code = PARAMETER_ERROR;
            return ctx.out;
        }
        return json(ctx, &client);
    }
    let Some(name) = g.rest.first() else {
        ctx.print(USAGE);
        return ctx.out;
    };
    if g.rest.len() == 1 && name == "-h" {
        ctx.print(USAGE);
        return ctx.out;
    }
    let Some(cmd) = lookup(name) else {
        ctx.error(&format!("{name}: invalid sub-command."));
        ctx.out.code = PARAMETER_ERROR;
        return ctx.out;
    };
    let args = &g.rest[1..];
    let fetched = client.status();
    if let Ok((status, _)) = &fetched
        && let Some(me) = status.my_name()
    {
        ctx.host = me.to_string();
    }
    let code = match (cmd, fetched) {
        (Cmd::HbStatus, fetched) => hbstatus(&mut ctx, name, args, fetched.map(|(s, _)| s)),
        (_, Err(e)) => signon_failed(&mut ctx, &e),
        (Cmd::ListNodes, Ok((s, _))) => listnodes(&mut ctx, name, args, &s),
        (Cmd::NodeStatus, Ok((s, _))) => node_query(&mut ctx, name, args, &s, NodeQuery::Status),
        (Cmd::NodeWeight, Ok((s, _))) => node_query(&mut ctx, name, args, &s, NodeQuery::Weight),
        (Cmd::NodeSite, Ok((s, _))) => node_query(&mut ctx, name, args, &s, NodeQuery::Site),
        (Cmd::NodeType, Ok((s, _))) => node_query(&mut ctx, name, args, &s, NodeQuery::Type),
        (Cmd::ListHbLinks, Ok((s, _))) => listhblinks(&mut ctx, name, args, &s),
        (Cmd::HbLinkStatus, Ok((s, _))) => hblinkstatus(&mut ctx, name, args, &s),
        (Cmd::ClientStatus, Ok(_)) => clientstatus(&mut ctx, name, args),
        (Cmd::RscStatus, Ok((s, _))) => rscstatus(&mut ctx, name, args, &s),
        (Cmd::HbParameter, Ok((s, _))) => hbparameter(&mut ctx, name, args, &s),
        (Cmd::Test, Ok((s, _))) => test(&mut ctx, &s),
        (Cmd::Summary, Ok((s, _))) => summary(&mut ctx, name, args, &s),
    };
    ctx.out.code = code;
    ctx.out
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

fn json(mut ctx: Ctx, client: &Client) -> Outcome {
    match client.status() {
        Ok((_, raw)) => {
            let text = serde_json::to_string_pretty(&raw).unwrap_or_else(|_| raw.to_string());
            ctx.print(&text);
            ctx.print("\n");
        }
        Err(e) => ctx.out.code = signon_failed(&mut ctx, &e),
    }
    ctx.out
}

/// Heartbeat's `general_simple_opt_deal`: `-m` only.
fn simple_opts(ctx: &mut Ctx, cmd: &str, args: &[String], optstr: &str) -> Option<Vec<String>> {
    let (opts, operands) = getopt(cmd, args, optstr);
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Bad(diag) => {
                ctx.eprint(&diag);
                ctx.error("Error: getopt returnedcharacter ?.");
                return None;
            }
            Opt::Flag(_) | Opt::Arg(..) => {}
        }
    }
    Some(operands)
}

fn hbstatus(ctx: &mut Ctx, cmd: &str, args: &[String], fetched: Result<Status, ClientError>) -> u8 {
    let (opts, _) = getopt(cmd, args, "mv");
    let mut verbose = false;
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Flag('v') => verbose = true,
            // Heartbeat's hbstatus ignores bad options (getopt has complained already).
            Opt::Bad(diag) => ctx.eprint(&diag),
            Opt::Flag(_) | Opt::Arg(..) => {}
        }
    }
    let status = match fetched {
        Ok(s) => s,
        Err(ClientError::NotRunning { .. }) => {
            ctx.print("Heartbeat is stopped on this machine.\n");
            if verbose {
                ctx.print(&format!("({NOT_RUNNING_REASON})\n"));
            }
            return NORMAL_FAIL;
        }
        Err(e @ (ClientError::PermissionDenied { .. } | ClientError::Daemon(_))) => {
            ctx.print(
                "Heartbeat is apparently running on this machine, but refuses my connection\n",
            );
            if verbose {
                ctx.print(&format!("({e})\n"));
            }
            return OK;
        }
        Err(e) => return signon_failed(ctx, &e),
    };
    if !verbose {
        ctx.print("Heartbeat is running on this machine.\n");
        return OK;
    }
    let version = status.version();
    if ctx.human {
        match &version {
            Some(v) => ctx.print(&format!("Heartbeat version {v}\n")),
            None => ctx.print("Heartbeat is running on this machine.\n"),
        }
        if status.haresources() {
            ctx.print("Resources controlled by \"haresources\"\n");
        } else {
            let m = status.managed_by.clone().unwrap_or_default();
            ctx.print(&format!("Resources controlled by {m}.\n"));
        }
    } else {
        ctx.print(&format!(
            "version:\t{}\n",
            version.as_deref().unwrap_or("unknown")
        ));
        if status.haresources() {
            ctx.print("managed by:\t\"haresources\"\n");
        } else {
            let m = status.managed_by.clone().unwrap_or_default();
            ctx.print(&format!("managed by:\t{m}\n"));
        }
    }
    list_nodes(ctx, &status, false, false, true);
    OK
}

fn listnodes(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let (opts, _) = getopt(cmd, args, "mpnv");
    let (mut normal, mut ping, mut verbose) = (false, false, false);
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Flag('p') => ping = true,
            Opt::Flag('n') => normal = true,
            Opt::Flag('v') => verbose = true,
            Opt::Bad(diag) => {
                ctx.eprint(&diag);
                ctx.error("Error: getopt returnedcharacter code ?.");
                return PARAMETER_ERROR;
            }
            Opt::Flag(_) | Opt::Arg(..) => {}
        }
    }
    list_nodes(ctx, status, normal, ping, verbose);
    OK
}

/// Heartbeat's `__listnodes`.
fn list_nodes(ctx: &mut Ctx, status: &Status, normal_only: bool, ping_only: bool, verbose: bool) {
    let (normal_only, ping_only) = if normal_only && ping_only {
        (false, false)
    } else {
        (normal_only, ping_only)
    };
    if ctx.human {
        ctx.print("The nodes are as follow:\n");
    }
    for node in status.nodes_heartbeat_order() {
        if (normal_only && node.node_type() != "normal")
            || (ping_only && node.node_type() != "ping")
        {
            continue;
        }
        if verbose {
            ctx.print(&format!(
                "\n{}\t{}\t(nodetype: {})\n",
                node.name,
                node.status(),
                node.node_type()
            ));
            list_links(ctx, node, true);
        } else {
            ctx.print(&format!("{}\n", node.name));
        }
    }
}

/// Heartbeat's `__listhblinks`.
fn list_links(ctx: &mut Ctx, node: &crate::status::Node, verbose: bool) {
    if ctx.human {
        ctx.print("\tthis node has the following heartbeat links:\n");
    }
    for link in &node.links {
        if verbose {
            ctx.print(&format!("\t{}\t{}\n", link.name, link.status()));
        } else {
            ctx.print(&format!("\t{}\n", link.name));
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum NodeQuery {
    Status,
    Weight,
    Site,
    Type,
}

fn node_query(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status, q: NodeQuery) -> u8 {
    let Some(operands) = simple_opts(ctx, cmd, args, "m") else {
        return PARAMETER_ERROR;
    };
    let Some(name) = operands.first() else {
        ctx.eprint(match q {
            NodeQuery::Type => "No enough parameter.\n",
            _ => "Not enough parameters.\n",
        });
        return PARAMETER_ERROR;
    };
    let Some(node) = status.node(name) else {
        ctx.eprint(match q {
            NodeQuery::Weight => "Error. Maybe due to incorrect node name.\n",
            _ => "Error. May be due to incorrect node name\n",
        });
        return PARAMETER_ERROR;
    };
    let human = ctx.human;
    match q {
        NodeQuery::Status => {
            let s = node.status();
            if human {
                ctx.print(&format!("The cluster node {name} is {s}\n"));
            } else {
                ctx.print(&format!("{s}\n"));
            }
            if matches!(s, "active" | "up" | "ping") {
                OK
            } else {
                NORMAL_FAIL
            }
        }
        NodeQuery::Weight => {
            let w = node.weight();
            if human {
                ctx.print(&format!("The weight of the cluster node {name} is {w}\n"));
            } else {
                ctx.print(&format!("{w}\n"));
            }
            OK
        }
        NodeQuery::Site => {
            let s = node.site();
            if human {
                ctx.print(&format!("The site of the cluster node {name} is {s}\n"));
            } else {
                ctx.print(&format!("{s}\n"));
            }
            OK
        }
        NodeQuery::Type => {
            let t = node.node_type();
            if human {
                ctx.print(&format!("The node {name}'s type: {t}\n"));
            } else {
                ctx.print(&format!("{t}\n"));
            }
            OK
        }
    }
}

fn listhblinks(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let (opts, operands) = getopt(cmd, args, "mv");
    let mut verbose = false;
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Flag('v') => verbose = true,
            Opt::Bad(diag) => {
                ctx.eprint(&diag);
                ctx.error("Error: getopt returnedcharacter code ?.");
                return PARAMETER_ERROR;
            }
            Opt::Flag(_) | Opt::Arg(..) => {}
        }
    }
    let Some(name) = operands.first() else {
        ctx.eprint("No enough parameter.\n");
        return PARAMETER_ERROR;
    };
    let Some(node) = status.node(name) else {
        ctx.error_pair("Cannot start heartbeat link interface walk.", "");
        return UNKNOWN_ERROR;
    };
    list_links(ctx, node, verbose);
    OK
}

fn hblinkstatus(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let Some(operands) = simple_opts(ctx, cmd, args, "m") else {
        return PARAMETER_ERROR;
    };
    let [node_name, link_name, ..] = operands.as_slice() else {
        ctx.eprint("No enough parameter.\n");
        return PARAMETER_ERROR;
    };
    let Some(link) = status.node(node_name).and_then(|n| n.link(link_name)) else {
        ctx.error_pair("Cannot get heartbeat link status", "");
        return UNKNOWN_ERROR;
    };
    let s = link.status();
    if ctx.human {
        ctx.print(&format!(
            "The node {node_name}'s heartbeat link {link_name} is {s}\n"
        ));
    } else {
        ctx.print(&format!("{s}\n"));
    }
    if s == "up" { OK } else { NORMAL_FAIL }
}

/// heartbeat-rs has no API clients, so every client is unknown: Heartbeat's answer for an
/// unknown client.
fn clientstatus(ctx: &mut Ctx, cmd: &str, args: &[String]) -> u8 {
    let Some(operands) = simple_opts(ctx, cmd, args, "m") else {
        return PARAMETER_ERROR;
    };
    let [_node, client, ..] = operands.as_slice() else {
        ctx.eprint("No enough parameter.\n");
        return PARAMETER_ERROR;
    };
    ctx.error_pair(
        &format!("Cannot get heartbeat client {client}'s status"),
        "No timely response.",
    );
    UNKNOWN_ERROR
}

fn rscstatus(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    if simple_opts(ctx, cmd, args, "m").is_none() {
        return PARAMETER_ERROR;
    }
    if !status.haresources() {
        ctx.error("Cannot get cluster resource status of a pacemaker cluster; try crm_mon");
        return NORMAL_FAIL;
    }
    let Some(r) = status.rscstatus.as_deref() else {
        ctx.error_pair("Cannot get cluster resource status", "");
        return UNKNOWN_ERROR;
    };
    if ctx.human {
        ctx.print(&format!("This node is holding {r} resources.\n"));
    } else {
        ctx.print(&format!("{r}\n"));
    }
    OK
}

fn hbparameter(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let (opts, _) = getopt(cmd, args, "mp:");
    let mut name = None;
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Arg('p', v) => name = Some(v),
            Opt::Bad(diag) => {
                ctx.eprint(&diag);
                ctx.error("Error: getopt returnedcharacter code ?.");
                return PARAMETER_ERROR;
            }
            Opt::Flag(_) | Opt::Arg(..) => {}
        }
    }
    let Some(name) = name else {
        ctx.error("parameter name required");
        return PARAMETER_ERROR;
    };
    let Some(value) = status.parameter(&name) else {
        ctx.error_pair(&format!("Cannot get parameter {name}'s value"), "");
        return NORMAL_FAIL;
    };
    if ctx.human {
        ctx.print(&format!("Heartbeat parameter {name}'s value: {value}\n"));
    } else {
        ctx.print(&format!("{value}\n"));
    }
    OK
}

/// Heartbeat's `test` sub-command (its "keeplive" typo included).
fn test(ctx: &mut Ctx, status: &Status) -> u8 {
    let deadtime = status.parameter_ms("deadtime").unwrap_or(0);
    let keepalive = status.parameter_ms("keepalive").unwrap_or(0);
    let me = status.my_name().unwrap_or("(null)").to_string();
    let rsc = status.rscstatus.as_deref().unwrap_or("(null)");
    ctx.print(&format!(
        "Dead time: {deadtime}\n keeplive time: {keepalive}\n mynodeid: {me}\n rsc: {rsc}\n"
    ));
    OK
}

/// Seconds since the UNIX epoch as a `SystemTime` (None for nonsense).
fn system_time(secs: f64) -> Option<SystemTime> {
    (secs.is_finite() && secs >= 0.0)
        .then(|| UNIX_EPOCH.checked_add(Duration::from_secs_f64(secs)))
        .flatten()
}

/// `Nov 24 13:45:35`, or `-` for no time.
fn when(secs: Option<f64>) -> String {
    secs.and_then(system_time)
        .map_or_else(|| "-".to_string(), cllog::timestamp)
}

/// `12s`, `3m04s`, `2h05m`, `3d04h`.
fn age(secs: f64) -> String {
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `cl_status status`: a short summary for people.
fn summary(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    if simple_opts(ctx, cmd, args, "").is_none() {
        return PARAMETER_ERROR;
    }
    let now = status.now.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    });
    let since = |t: Option<f64>| match t {
        Some(t) => format!("since {} ({} ago)", when(Some(t)), age(now - t)),
        None => "since start".to_string(),
    };
    let me = status.my_name().unwrap_or("?").to_string();
    let mut header = format!(
        "Node {me}: {}, resources {} ({}), this node holds {}",
        status.version().as_deref().unwrap_or("version unknown"),
        if status.haresources() {
            "from haresources".to_string()
        } else {
            format!("managed by {}", status.managed_by.as_deref().unwrap_or("?"))
        },
        format_args!("rscstatus {}", status.rscstatus.as_deref().unwrap_or("?")),
        status.held_list(&me),
    );
    if status.shutting_down {
        header.push_str(", SHUTTING DOWN");
    }
    ctx.print(&format!("{header}\n"));

    ctx.print("Nodes:\n");
    let name_w = status.nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
    for n in &status.nodes {
        let mut line = format!("  {:name_w$}  {:6}", n.name, n.status());
        let links: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} {}", l.name, l.status()))
            .collect();
        line.push_str(&format!(
            "  links: {}",
            if links.is_empty() {
                "none".to_string()
            } else {
                links.join(", ")
            }
        ));
        line.push_str(&format!("  {}", since(n.since)));
        if n.is_self {
            line.push_str("  (this node)");
        }
        if n.heartbeat_rs == Some(false) {
            line.push_str("  (Heartbeat 3)");
        }
        ctx.print(&format!("{line}\n"));
    }

    ctx.print("Groups:\n");
    if status.groups.is_empty() {
        ctx.print("  none\n");
    }
    let key_w = status.groups.iter().map(|g| g.key.len()).max().unwrap_or(0);
    for g in &status.groups {
        let mut line = format!(
            "  {:key_w$}  {:12}  holder {}  prefers {}  {}",
            g.key,
            g.state(),
            g.holder.as_deref().unwrap_or("none"),
            g.preferred.as_deref().unwrap_or("?"),
            since(g.since)
        );
        if g.managed == Some(false) {
            line.push_str("  UNMANAGED");
        }
        if g.failed_here {
            line.push_str(&format!(
                "  FAILED HERE (hb_cleanup {} to allow it again)",
                g.key
            ));
        }
        ctx.print(&format!("{line}\n"));
        if let Some(f) = g.failure.as_deref().filter(|f| !f.is_empty()) {
            ctx.print(&format!("      failure: {f}\n"));
        }
        for r in &g.resources {
            let mut line = format!(
                "      {}{}  {}",
                r.agent
                    .as_deref()
                    .filter(|a| !r.text.starts_with(a))
                    .map_or_else(String::new, |a| format!("{a} ")),
                r.text,
                r.state.as_deref().unwrap_or("unknown")
            );
            match r.monitor_interval_ms {
                Some(ms) if ms > 0 => line.push_str(&format!("  monitor {ms} ms")),
                _ => {}
            }
            line.push_str(&format!(
                "  failures {}  restarts {}",
                r.failures.unwrap_or(0),
                r.restarts.unwrap_or(0)
            ));
            if r.last_failure.is_some() || r.last_failure_reason.is_some() {
                line.push_str(&format!(
                    "  last failure {}: {}",
                    when(r.last_failure),
                    r.last_failure_reason.as_deref().unwrap_or("?")
                ));
            }
            ctx.print(&format!("{line}\n"));
        }
    }

    let mut changes: Vec<(f64, String)> = status
        .nodes
        .iter()
        .filter_map(|n| {
            n.since
                .map(|t| (t, format!("node {} {}", n.name, n.status())))
        })
        .chain(status.groups.iter().filter_map(|g| {
            g.since.map(|t| {
                let holder = g
                    .holder
                    .as_deref()
                    .map_or_else(String::new, |h| format!(" on {h}"));
                (t, format!("group {} {}{holder}", g.key, g.state()))
            })
        }))
        .collect();
    changes.sort_by(|a, b| b.0.total_cmp(&a.0));
    if !changes.is_empty() {
        ctx.print("Last transitions:\n");
        for (t, what) in changes.iter().take(5) {
            ctx.print(&format!(
                "  {}  {what} ({} ago)\n",
                when(Some(*t)),
                age(now - t)
            ));
        }
    }
    OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn getopt_permutes_and_clusters_like_gnu() {
        let (opts, ops) = getopt("nodestatus", &s(&["node2", "-m"]), "m");
        assert_eq!((opts, ops), (vec![Opt::Flag('m')], s(&["node2"])));
        let (opts, ops) = getopt("hbparameter", &s(&["-mpdeadtime", "x"]), "mp:");
        assert_eq!(opts, vec![Opt::Flag('m'), Opt::Arg('p', "deadtime".into())]);
        assert_eq!(ops, s(&["x"]));
        let (opts, _) = getopt("hbparameter", &s(&["-p"]), "mp:");
        assert_eq!(
            opts,
            vec![Opt::Bad(
                "hbparameter: option requires an argument -- 'p'\n".into()
            )]
        );
        let (opts, ops) = getopt("listnodes", &s(&["-x", "--", "-v"]), "mpnv");
        assert_eq!(
            opts,
            vec![Opt::Bad("listnodes: invalid option -- 'x'\n".into())]
        );
        assert_eq!(ops, s(&["-v"]));
        let (opts, ops) = getopt("x", &s(&["-", "-:"]), "m");
        assert_eq!(ops, s(&["-"]));
        assert_eq!(opts, vec![Opt::Bad("x: invalid option -- ':'\n".into())]);
    }

    #[test]
    fn globals_are_taken_from_anywhere_before_double_dash() {
        let g = parse_globals(&s(&[
            "--run-dir",
            "/tmp/x",
            "rscstatus",
            "--timeout=0.5",
            "-m",
            "--",
            "--json",
        ]))
        .unwrap();
        assert_eq!(g.run_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(g.timeout, Duration::from_millis(500));
        assert!(!g.json);
        assert_eq!(g.rest, s(&["rscstatus", "-m", "--", "--json"]));
        assert!(parse_globals(&s(&["--run-dir"])).is_err());
        assert!(parse_globals(&s(&["--timeout", "0"])).is_err());
        assert!(parse_globals(&s(&["--timeout", "soon"])).is_err());
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
    }

    #[test]
    fn ages_read_well() {
        assert_eq!(age(-3.0), "0s");
        assert_eq!(age(59.9), "59s");
        assert_eq!(age(125.0), "2m05s");
        assert_eq!(age(7500.0), "2h05m");
        assert_eq!(age(3.0 * 86400.0 + 7200.0), "3d02h");
    }
}
