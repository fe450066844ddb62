//! `hb-addr`: the fast helper the IPaddr resource agent execs.
//!
//! It adds, removes and reports IPv4 and IPv6 service addresses over rtnetlink and announces
//! them from a packet socket — gratuitous ARP for IPv4, unsolicited neighbour advertisements
//! for IPv6 — so that a takeover costs a few milliseconds and no `ip`/`arping`/`send_arp`
//! processes. `add` returns as soon as the address is configured and the first announcement
//! step is out; the rest of the burst runs in a detached process that stops early when the
//! address disappears. `validate` checks everything `add` would need and changes nothing.
//!
//! Exit statuses follow the OCF codes the agent passes on unchanged: 0 success, 1 generic
//! error, 2 bad arguments or invalid on this host (unknown interface, no matching subnet),
//! 4 insufficient privilege, 5 not installed, 6 inherently invalid value (e.g. `300.1.1.1`,
//! a label on an IPv6 address), 7 not running (`status` only). Errors are one line on stderr.

#![forbid(unsafe_code)]

mod announce;
mod cli;
mod commands;
mod plan;

use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use cli::{Cli, Command, Failure, Status, clap_reason};
use commands::{cmd_add, cmd_del, cmd_find_iface, cmd_status, cmd_validate};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err)
            if matches!(
                err.kind(),
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
            ) =>
        {
            // Printing help can only fail on a closed stdout; nothing useful to do then.
            let _ = err.print();
            return Status::Success.into();
        }
        Err(err) => {
            eprintln!("hb-addr: {}", clap_reason(&err));
            return Status::Args.into();
        }
    };
    let result = match cli.command {
        Command::Add(args) => cmd_add(args).map(|()| Status::Success),
        Command::Del(target) => cmd_del(target).map(|()| Status::Success),
        Command::Status(target) => cmd_status(target),
        Command::Validate(args) => cmd_validate(args).map(|()| Status::Success),
        Command::FindIface { ip } => cmd_find_iface(&ip).map(|()| Status::Success),
    };
    match result {
        Ok(status) => status.into(),
        Err(failure) => {
            eprintln!("hb-addr: {}", failure.message);
            failure.status.into()
        }
    }
}

/// The single-threaded runtime a command runs its netlink requests on.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            Failure::new(
                Status::Generic,
                format!("cannot start the I/O runtime: {e}"),
            )
        })
}
