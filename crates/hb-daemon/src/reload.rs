//! SIGHUP (`systemctl reload heartbeat`, `heartbeat -r`): the three files are read and
//! checked again. A file with errors is refused with its `file:line` and the daemon runs on
//! with what it has. A valid set is applied in two steps: [`check`] here, synchronously;
//! then, once the OCF meta-data of resources new to the table has been read (in a task,
//! never blocking the event loop), [`hb_core::Core::reconfigure`] applies keys, timings,
//! `auto_failback`, monitor rules and the groups of `haresources` at once, and the shell
//! swaps its table of agents when the core says the group table changed
//! ([`hb_core::Action::UseGroups`]). What needs a restart is named in the log and applied at
//! the next one. Heartbeat's test hook `OnlyForTesting` is read at start and on every SIGHUP
//! too.

use std::path::Path;

use hb_config::{Config, HaCf, Haresources, LoadOptions};
use hb_core::{Core, CoreConfig, Reconfigured};

use crate::agents::Resource;

/// Heartbeat's test hook: reads `<dir>/OnlyForTesting` (at start and on SIGHUP, as Heartbeat
/// does) and enables its deliberate message loss, or disables it when the file is gone.
pub(crate) fn test_options(core: &mut Core, dir: &Path) {
    let path = dir.join(hb_config::TEST_OPTIONS_FILE);
    let options = match hb_sys::fs::read_nofollow(&path) {
        Ok(data) => Some(hb_config::TestOptions::parse(&String::from_utf8_lossy(
            &data,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::error!(
                "{}: cannot read it ({e}): test options unchanged",
                path.display()
            );
            return;
        }
    };
    core.set_test_options(options);
}

/// A checked configuration on its way to the core.
#[derive(Debug)]
pub(crate) struct Reload {
    pub(crate) config: Config,
    pub(crate) core: CoreConfig,
    /// The agents of the new group table (meta-data still to be read for the new ones).
    pub(crate) table: Vec<Vec<Resource>>,
}

/// Reads and checks the files of `started.dir` again (`current` is the agent table, built
/// from `current_groups`). `None` (logged) when they have errors
/// or cannot be used: nothing changes then.
pub(crate) fn check(
    core: &mut Core,
    started: &Config,
    opts: &LoadOptions,
    current_groups: &Haresources,
    current: &[Vec<Resource>],
) -> Option<Reload> {
    test_options(core, &started.dir);
    let report = hb_config::check(&started.dir, opts);
    let refuse = |errors: &[String]| {
        for e in errors {
            tracing::error!("SIGHUP: {e}");
        }
        tracing::error!(
            "SIGHUP: the configuration in {} has errors: nothing applied, running on with the \
             previous one",
            started.dir.display()
        );
    };
    let config = match report.config {
        Some(c) if report.errors.is_empty() => c,
        _ => {
            refuse(
                &report
                    .errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>(),
            );
            return None;
        }
    };
    for w in &report.warnings {
        tracing::warn!("SIGHUP: {w}");
    }
    let converted = match crate::convert::core_config(&config, &opts.node_name) {
        Ok(c) => c,
        Err(e) => {
            refuse(&[format!(
                "{}: {e}",
                started.dir.join("haresources").display()
            )]);
            return None;
        }
    };
    let table = carry_over_table(&config, current_groups, current);
    Some(Reload {
        core: converted.core,
        config,
        table,
    })
}

/// The agent table of `new`: a group defined as before (in `old`, whose groups `current`
/// holds) keeps its agents' environment (their identity, such as `OCF_RESOURCE_INSTANCE`) and
/// the time limits read from their meta-data, with the new file's time limits and monitor
/// rules; a new or changed group gets new agents.
fn carry_over_table(
    new: &Config,
    old: &Haresources,
    current: &[Vec<Resource>],
) -> Vec<Vec<Resource>> {
    let mut table = Resource::table(new);
    for (g, spec) in new.haresources.groups.iter().enumerate() {
        let Some((i, _)) = old.groups.iter().enumerate().find(|(_, o)| {
            o.key == spec.key
                && o.node.eq_ignore_ascii_case(&spec.node)
                && o.resources.len() == spec.resources.len()
                && o.resources
                    .iter()
                    .zip(&spec.resources)
                    .all(|(a, b)| a.text == b.text)
        }) else {
            continue;
        };
        let (Some(slot), Some(before)) = (table.get_mut(g), current.get(i)) else {
            continue;
        };
        for (r, (fresh, was)) in spec.resources.iter().zip(before).enumerate() {
            let mut res = Resource::new(fresh, new, g, r);
            res.env.clone_from(&was.env);
            res.meta_timeouts.clone_from(&was.meta_timeouts);
            if let Some(s) = slot.get_mut(r) {
                *s = res;
            }
        }
    }
    table
}

/// Logs what [`Core::reconfigure`] did, and what this daemon keeps until its next restart
/// (compared with the configuration it started with, so the reminder repeats until then).
pub(crate) fn log_outcome(done: &Reconfigured, started: &HaCf, new: &HaCf) {
    let g = &done.groups;
    for (what, keys) in [
        ("added", &g.added),
        ("removed", &g.removed),
        ("changed", &g.changed),
    ] {
        if !keys.is_empty() {
            tracing::info!("SIGHUP: haresources: {what} {}", keys.join(", "));
        }
    }
    let mut later = done.deferred.clone();
    for (changed, what) in [
        (new.media != started.media, "the heartbeat media"),
        (new.udpport != started.udpport, "udpport"),
        (
            new.logfile != started.logfile
                || new.debugfile != started.debugfile
                || new.logfacility != started.logfacility
                || new.debug != started.debug
                || new.use_logd != started.use_logd,
            "logging (logfile, debugfile, logfacility, debug, use_logd)",
        ),
        (new.realtime != started.realtime, "realtime"),
        (new.control_group != started.control_group, "control_group"),
        (new.ocf_root != started.ocf_root, "ocf_root"),
        (
            new.hbgenmethod != started.hbgenmethod || new.uuidfrom != started.uuidfrom,
            "hbgenmethod and uuidfrom",
        ),
        (
            new.fence != started.fence,
            "the fencing device (stonith, stonith_host, fence_agent, fence_timeout)",
        ),
        (new.watchdog != started.watchdog, "the watchdog"),
        (new.ping != started.ping, "ping nodes"),
    ] {
        let known = |l: &String| {
            let head = l.split(" (").next().unwrap_or(l);
            what.starts_with(head) || l.starts_with(what)
        };
        if changed && !later.iter().any(known) {
            later.push(format!("{what} (needs a restart)"));
        }
    }
    later.dedup();
    for l in &later {
        tracing::warn!("SIGHUP: not applied until heartbeat restarts: {l}");
    }
    if done.is_empty() && later.is_empty() {
        tracing::info!("Configuration unchanged.");
    } else {
        tracing::info!("SIGHUP: configuration reloaded");
    }
}
