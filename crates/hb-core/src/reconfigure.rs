//! A new configuration while the core runs (SIGHUP, `systemctl reload`): what applies at
//! once and what waits for the next restart. Keys, timings (`keepalive`, `deadtime`,
//! `warntime`), `auto_failback on|off`, monitor rules and the groups of `haresources`
//! (see `resources/reload.rs`) apply at once; the node list, the media, `msgfmt`, ping
//! nodes, the watchdog, the fencing device and a switch to or from `auto_failback legacy`
//! need a restart and are named in [`Reconfigured::deferred`].

use crate::config::AutoFailback;
use crate::resources::GroupChanges;
use crate::{Core, CoreConfig, CoreError, Instant};

/// What [`Core::reconfigure`] applied, and what waits for the next restart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reconfigured {
    /// The keys changed.
    pub keys: bool,
    /// `keepalive`, `deadtime`, `warntime` or `initdead` changed.
    pub timing: bool,
    /// `auto_failback` changed between `on` and `off`.
    pub auto_failback: bool,
    /// What changed in `haresources` (and was applied, unless `groups_deferred`).
    pub groups: GroupChanges,
    /// The group changes wait for the next restart (the reason is in `deferred`).
    pub groups_deferred: bool,
    /// The group table changes: an [`crate::Action::UseGroups`] is queued, now or once the
    /// removed and changed groups have stopped.
    pub use_groups: bool,
    /// Changes kept for the next restart, each with its reason.
    pub deferred: Vec<String>,
}

impl Reconfigured {
    /// Nothing changed at all.
    pub fn is_empty(&self) -> bool {
        *self == Reconfigured::default()
    }
}

impl Core {
    /// Applies a new configuration (see the module documentation). Parts that need a
    /// restart keep their running values and are listed in [`Reconfigured::deferred`].
    ///
    /// # Errors
    /// The new configuration is not valid on its own ([`CoreConfig::validate`]); nothing is
    /// applied then.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        new: CoreConfig,
    ) -> Result<Reconfigured, CoreError> {
        new.validate()?;
        let now = self.advance(now);
        let mut done = Reconfigured::default();
        let cfg = &self.cfg;
        for (changed, what) in [
            (new.nodes != cfg.nodes || new.me != cfg.me, "the node list"),
            (new.links != cfg.links, "the heartbeat media"),
            (new.msgfmt != cfg.msgfmt, "msgfmt"),
            (new.ping != cfg.ping, "ping nodes, deadping and ipfail"),
            (new.watchdog != cfg.watchdog, "the watchdog"),
            (new.fencing != cfg.fencing, "the fencing device"),
        ] {
            if changed {
                done.deferred.push(format!("{what} (needs a restart)"));
            }
        }
        done.keys = self.set_keys(new.keys.clone());
        self.cfg.hopfudge = new.hopfudge;
        self.cfg.max_rexmit_delay = new.max_rexmit_delay;
        if new.timing != self.cfg.timing {
            self.cfg.timing = new.timing;
            for n in self.nodes.iter_mut() {
                n.retime(&self.cfg);
            }
            self.pings.retime(
                &self.cfg.ping,
                self.cfg.timing.keepalive(),
                self.cfg.timing.deadtime(),
            );
            self.next_status_at = self.next_status_at.min(now + self.cfg.timing.keepalive());
            tracing::info!(
                "timing changed: keepalive {} ms, deadtime {} ms, warntime {} ms (applied now)",
                self.cfg.timing.keepalive().as_millis(),
                self.cfg.timing.deadtime().as_millis(),
                self.cfg.timing.warntime().as_millis()
            );
            done.timing = true;
        }
        if new.auto_failback != self.cfg.auto_failback {
            let both_nice = new.auto_failback.is_nice() && self.cfg.auto_failback.is_nice();
            if both_nice && self.res.set_failback(new.auto_failback == AutoFailback::On) {
                tracing::info!(
                    "auto_failback {} (applied now: it governs the next placement decision)",
                    failback_word(new.auto_failback)
                );
                self.cfg.auto_failback = new.auto_failback;
                done.auto_failback = true;
            } else {
                done.deferred.push(format!(
                    "auto_failback {} (to or from legacy changes the protocol: needs a restart)",
                    failback_word(new.auto_failback)
                ));
            }
        }
        let (res, mut ctx) = self.split();
        match res.reload_groups(&mut ctx, &new.groups) {
            Ok((changes, use_groups)) => {
                done.groups = changes;
                done.use_groups = use_groups;
            }
            Err((changes, why)) => {
                done.groups_deferred = true;
                done.deferred
                    .push(format!("the haresources group changes ({why})"));
                done.groups = changes;
            }
        }
        self.flush_status(now);
        Ok(done)
    }
}

fn failback_word(mode: AutoFailback) -> &'static str {
    match mode {
        AutoFailback::On => "on",
        AutoFailback::Off => "off",
        AutoFailback::Legacy => "legacy",
    }
}
