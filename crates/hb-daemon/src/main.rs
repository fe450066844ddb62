//! `heartbeat`: the heartbeat-rs daemon.
//!
//! `heartbeat [-f] [-c DIR] [-n NAME] [--state-dir DIR] [--run-dir DIR] [--agent-path DIRS]
//! [--check] [-k]`: see `docs/daemon.md`. The binary is a thin tokio shell around `hb-core`:
//! one task owns the core and feeds it received datagrams, timeouts, agent results,
//! control-socket and command-FIFO requests and signals; everything it decides comes back as
//! actions.

#![forbid(unsafe_code)]

mod agents;
mod control;
mod convert;
mod fence;
mod fifo;
mod logging;
mod notify;
mod peers;
mod reload;
mod setup;
mod shell;

use std::process::ExitCode;

use clap::Parser;
use hb_daemon::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    if args.kill {
        return setup::stop_running_daemon(&args.run_dir);
    }
    let node = match setup::node_name(args.node_name.as_deref(), &args.config_dir) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            return ExitCode::from(1);
        }
    };
    if args.status {
        return setup::report_status(&args.run_dir, &node);
    }
    let opts = hb_config::LoadOptions {
        node_name: node.clone(),
        agent_path: args.agent_path.clone(),
        check_permissions: true,
    };
    let report = hb_config::check(&args.config_dir, &opts);
    if args.check || !report.errors.is_empty() {
        for w in &report.warnings {
            eprintln!("warning: {w}");
        }
    }
    let running = args
        .reread
        .then(|| setup::running_daemon(&args.run_dir).ok())
        .flatten();
    let config = match (report.config, report.errors.is_empty()) {
        (Some(c), true) => c,
        _ => {
            for e in &report.errors {
                eprintln!("{e}");
            }
            if let Some(d) = running {
                eprintln!(
                    "heartbeat: Config errors: Heartbeat pid {} NOT restarted",
                    d.pid()
                );
            }
            return ExitCode::from(1);
        }
    };
    if let Some(d) = running {
        return setup::signal_reread(&d);
    }
    let converted = match convert::core_config(&config, &node) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}: {e}", args.config_dir.join("haresources").display());
            return ExitCode::from(1);
        }
    };
    let fencer = match config.ha_cf.fence.device_for(&node) {
        None => None,
        Some(line) => match fence::Fencer::new(line, config.ha_cf.fence.timeout) {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("{}: {e:#}", args.config_dir.join("ha.cf").display());
                return ExitCode::from(1);
            }
        },
    };
    if args.check {
        print!("{}", convert::summary(&config, &node));
        return ExitCode::SUCCESS;
    }
    // What a detached daemon could only log is refused here, on the terminal, first.
    if let Err(e) = setup::check_not_running(&args.run_dir).and_then(|()| setup::check_own_dir()) {
        eprintln!("heartbeat: {e}");
        return ExitCode::from(2);
    }
    let media = match hb_sys::media::Media::open(&converted.media) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("heartbeat: {e}");
            return ExitCode::from(2);
        }
    };
    if !args.foreground
        && let Err(e) = nix::unistd::daemon(false, false)
    {
        eprintln!("heartbeat: cannot detach from the terminal: {e}");
        return ExitCode::from(2);
    }
    match logging::init(&config.ha_cf, args.foreground, &node) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("heartbeat: {e}");
            return ExitCode::from(1);
        }
    };
    for w in &report.warnings {
        tracing::warn!("{w}");
    }
    for m in &converted.media {
        tracing::info!("heartbeat medium {m} open");
    }
    let prepared = match setup::prepare(&args.state_dir, &args.run_dir, &config, &node) {
        Ok(p) => p,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("heartbeat: {e}");
            return ExitCode::from(2);
        }
    };
    let _ = hb_sys::rt::raise_nofile_limit(); // logs the limit (control.md)
    if config.ha_cf.realtime {
        match hb_sys::rt::enable_realtime() {
            Ok(prio) => {
                tracing::info!("real-time scheduling on (SCHED_RR priority {prio}, memory locked)")
            }
            Err(e) => tracing::warn!(
                "could not enable real-time scheduling ({e}); running at normal priority"
            ),
        }
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let ctx = shell::Context {
        media,
        load_options: opts,
        config,
        converted,
        fencer,
        prepared,
        args_run_dir: args.run_dir.clone(),
        state_dir: args.state_dir.clone(),
    };
    let result = runtime.block_on(shell::run(ctx, std::future::pending::<()>()));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("heartbeat: {e:#}");
            ExitCode::from(2)
        }
    }
}
