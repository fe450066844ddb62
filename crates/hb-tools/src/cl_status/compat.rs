//! Heartbeat 3.0.6's sub-commands, with its texts and exit codes (docs/tools.md).

use hb_control::{LinkStatus, Node, NodeStatus, NodeType, Status};

use super::getopt::{Opt, getopt};
use super::{
    Ctx, NORMAL_FAIL, NOT_RUNNING_REASON, OK, PARAMETER_ERROR, UNKNOWN_ERROR, signon_failed,
};
use crate::client::ClientError;
use crate::view;

/// Heartbeat's `general_simple_opt_deal`: `-m` only.
pub(super) fn simple_opts(
    ctx: &mut Ctx,
    cmd: &str,
    args: &[String],
    optstr: &str,
) -> Option<Vec<String>> {
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

/// Heartbeat's option loop of the sub-commands with their own options: `m` plus `flags`;
/// `None` after a bad option (getopt's line, then Heartbeat's ERROR).
fn flag_opts(
    ctx: &mut Ctx,
    cmd: &str,
    args: &[String],
    flags: &str,
) -> Option<(Vec<char>, Vec<String>)> {
    let (opts, operands) = getopt(cmd, args, &format!("m{flags}"));
    let mut set = Vec::new();
    for o in opts {
        match o {
            Opt::Flag('m') => ctx.human = true,
            Opt::Flag(c) => set.push(c),
            Opt::Bad(diag) => {
                ctx.eprint(&diag);
                ctx.error("Error: getopt returnedcharacter code ?.");
                return None;
            }
            Opt::Arg(..) => {}
        }
    }
    Some((set, operands))
}

pub(super) fn hbstatus(
    ctx: &mut Ctx,
    cmd: &str,
    args: &[String],
    fetched: Result<Status, ClientError>,
) -> u8 {
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
    let version = view::version(&status);
    let haresources = view::haresources(&status);
    if ctx.human {
        match &version {
            Some(v) => ctx.print(&format!("Heartbeat version {v}\n")),
            None => ctx.print("Heartbeat is running on this machine.\n"),
        }
        if haresources {
            ctx.print("Resources controlled by \"haresources\"\n");
        } else {
            ctx.print(&format!("Resources controlled by {}.\n", status.managed_by));
        }
    } else {
        ctx.print(&format!(
            "version:\t{}\n",
            version.as_deref().unwrap_or("unknown")
        ));
        if haresources {
            ctx.print("managed by:\t\"haresources\"\n");
        } else {
            ctx.print(&format!("managed by:\t{}\n", status.managed_by));
        }
    }
    list_nodes(ctx, &status, false, false, true);
    OK
}

pub(super) fn listnodes(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let Some((flags, _)) = flag_opts(ctx, cmd, args, "pnv") else {
        return PARAMETER_ERROR;
    };
    let has = |c| flags.contains(&c);
    list_nodes(ctx, status, has('n'), has('p'), has('v'));
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
    for node in view::nodes_heartbeat_order(status) {
        if (normal_only && node.node_type != NodeType::Normal)
            || (ping_only && node.node_type != NodeType::Ping)
        {
            continue;
        }
        if verbose {
            ctx.print(&format!(
                "\n{}\t{}\t(nodetype: {})\n",
                node.name, node.status, node.node_type
            ));
            list_links(ctx, node, true);
        } else {
            ctx.print(&format!("{}\n", node.name));
        }
    }
}

/// Heartbeat's `__listhblinks`.
fn list_links(ctx: &mut Ctx, node: &Node, verbose: bool) {
    if ctx.human {
        ctx.print("\tthis node has the following heartbeat links:\n");
    }
    for link in &node.links {
        if verbose {
            ctx.print(&format!("\t{}\t{}\n", link.name, link.status));
        } else {
            ctx.print(&format!("\t{}\n", link.name));
        }
    }
}

/// The four sub-commands that ask about one node.
#[derive(Debug, Clone, Copy)]
pub(super) enum NodeQuery {
    Status,
    Weight,
    Site,
    Type,
}

pub(super) fn node_query(
    ctx: &mut Ctx,
    cmd: &str,
    args: &[String],
    status: &Status,
    q: NodeQuery,
) -> u8 {
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
    let (sentence, value, code) = match q {
        NodeQuery::Status => {
            let up = matches!(
                node.status,
                NodeStatus::Active | NodeStatus::Up | NodeStatus::Ping
            );
            let s = node.status.to_string();
            (
                format!("The cluster node {name} is {s}"),
                s,
                if up { OK } else { NORMAL_FAIL },
            )
        }
        NodeQuery::Weight => {
            let w = node.weight;
            (
                format!("The weight of the cluster node {name} is {w}"),
                w.to_string(),
                OK,
            )
        }
        NodeQuery::Site => {
            let s = &node.site;
            (
                format!("The site of the cluster node {name} is {s}"),
                s.clone(),
                OK,
            )
        }
        NodeQuery::Type => {
            let t = node.node_type.to_string();
            (format!("The node {name}'s type: {t}"), t, OK)
        }
    };
    if ctx.human {
        ctx.print(&format!("{sentence}\n"));
    } else {
        ctx.print(&format!("{value}\n"));
    }
    code
}

pub(super) fn listhblinks(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    let Some((flags, operands)) = flag_opts(ctx, cmd, args, "v") else {
        return PARAMETER_ERROR;
    };
    let Some(name) = operands.first() else {
        ctx.eprint("No enough parameter.\n");
        return PARAMETER_ERROR;
    };
    let Some(node) = status.node(name) else {
        ctx.error_pair("Cannot start heartbeat link interface walk.", "");
        return UNKNOWN_ERROR;
    };
    list_links(ctx, node, flags.contains(&'v'));
    OK
}

pub(super) fn hblinkstatus(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
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
    let s = &link.status;
    if ctx.human {
        ctx.print(&format!(
            "The node {node_name}'s heartbeat link {link_name} is {s}\n"
        ));
    } else {
        ctx.print(&format!("{s}\n"));
    }
    if *s == LinkStatus::Up {
        OK
    } else {
        NORMAL_FAIL
    }
}

/// heartbeat-rs has no API clients, so every client is unknown: Heartbeat's answer for an
/// unknown client.
pub(super) fn clientstatus(ctx: &mut Ctx, cmd: &str, args: &[String]) -> u8 {
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

pub(super) fn rscstatus(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
    if simple_opts(ctx, cmd, args, "m").is_none() {
        return PARAMETER_ERROR;
    }
    if !view::haresources(status) {
        ctx.error("Cannot get cluster resource status of a pacemaker cluster; try crm_mon");
        return NORMAL_FAIL;
    }
    let Some(r) = &status.rscstatus else {
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

pub(super) fn hbparameter(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
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
    let Some(value) = view::parameter(status, &name) else {
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
pub(super) fn test(ctx: &mut Ctx, status: &Status) -> u8 {
    let deadtime = view::parameter_ms(status, "deadtime").unwrap_or(0);
    let keepalive = view::parameter_ms(status, "keepalive").unwrap_or(0);
    let me = status.my_name().unwrap_or("(null)").to_string();
    let rsc = status.rscstatus.as_ref().map_or("(null)", |r| r.as_str());
    ctx.print(&format!(
        "Dead time: {deadtime}\n keeplive time: {keepalive}\n mynodeid: {me}\n rsc: {rsc}\n"
    ));
    OK
}
