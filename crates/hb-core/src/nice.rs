//! The nice-failback negotiation (`auto_failback on|off`), spec §8.3-§8.8: `starting`,
//! `resource` reports, local acquisition, the three-phase `ask_resources` standby exchange,
//! auto-failback, takeover of a dead or leaving peer.
//!
//! Heartbeat waits a fixed 10 s (`RQSTDELAY`) when both nodes start together. heartbeat-rs
//! peers report their exact holdings, so with them we acquire our own groups as soon as the
//! peer's first report arrives.

use std::collections::BTreeSet;

use hb_proto::Message;

use crate::action::Class;
use crate::res::{RQSTDELAY, RState, STANDBY_GUARD, STANDBY_REPLY, Standby, Then};
use crate::wire;
use crate::{AutoFailback, Core, Instant};

impl Core {
    /// Active and probed: announce ourselves and start negotiating.
    pub(crate) fn nice_begin(&mut self, now: Instant) {
        self.send(now, wire::starting());
        self.res.rstate = RState::Starting;
        let peer_present = self.peer_alive();
        if !peer_present {
            // Alone: everything is ours.
            self.nice_takeover(now, "no peer alive at start-up");
            return;
        }
        if std::mem::take(&mut self.res.view.starting_pending) {
            self.nice_peer_starting(now);
        }
        self.nice_progress(now);
    }

    pub(crate) fn nice_message(&mut self, now: Instant, t: &str, msg: &Message) {
        if !self.res.negotiating {
            match t {
                "starting" => self.res.view.starting_pending = true,
                "resource" => {
                    self.absorb_report(now, msg);
                }
                "shutdone" => {
                    self.res.view.left = true;
                    self.res.view.holds.clear();
                }
                _ => tracing::debug!(
                    "ignoring {t} from {}: resources not negotiated yet",
                    self.peer_name()
                ),
            }
            return;
        }
        if self.res.shutdown.is_some() && t != "resource" {
            tracing::debug!("ignoring {t} from {}: shutting down", self.peer_name());
            return;
        }
        match t {
            "starting" => self.nice_peer_starting(now),
            "resource" => self.nice_report(now, msg),
            "ask_resources" => self.nice_ask_resources(now, msg),
            "hb_takeover" => {
                // The peer wants `rsc_hold` (its view): we give up the mirror image.
                let class = match msg.str("rsc_hold") {
                    Some("failback") | None => Class::All,
                    Some(s) => Class::parse(s).unwrap_or(Class::All),
                };
                let _ =
                    self.request_standby(now, class.mirrored(), "takeover requested by the peer");
            }
            "shutdone" => {
                tracing::info!("received shutdown notice from {}", self.peer_name());
                self.res.view.left = true;
                self.res.view.leaving = true;
                self.res.view.holds.clear();
                self.res.view.stable = true;
                self.cancel_standby("peer left");
                self.nice_takeover(now, "peer shut down");
            }
            "ip-request" | "ip-request-resp" => {
                tracing::debug!("ignoring {t}: only used with auto_failback legacy");
            }
            _ => {}
        }
    }

    fn nice_peer_starting(&mut self, now: Instant) {
        self.res.view.stable = false;
        self.res.view.reported = false;
        self.res.view.holds.clear();
        self.res.view.left = false;
        self.res.view.leaving = false;
        if self.res.rstate == RState::Starting {
            self.res.rstate = RState::BothStarting;
        }
        let stable = self.res.rstate == RState::Stable;
        self.send_report(now, stable, None);
    }

    fn nice_report(&mut self, now: Instant, msg: &Message) {
        let was_stable = self.res.view.stable;
        let Some(full) = self.absorb_report(now, msg) else {
            return;
        };
        if full {
            let stable = msg.str("isstable") == Some("1");
            self.res.view.stable = stable;
            if stable && !was_stable {
                tracing::info!("{}: remote resource transition completed", self.peer_name());
                let ours = self.res.rstate == RState::Stable;
                self.send_report(now, ours, None);
                if ours {
                    // Groups that failed here while the peer could not take them.
                    self.hand_off_failed_groups(now);
                }
            }
        }
        self.nice_progress(now);
    }

    /// Moves the start-up negotiation forward and tries auto-failback.
    pub(crate) fn nice_progress(&mut self, now: Instant) {
        if matches!(self.res.rstate, RState::Starting | RState::BothStarting)
            && self.res.view.reported
        {
            self.res.rstate = RState::RscRcvd;
        }
        if self.res.rstate == RState::RscRcvd && !self.res.acquiring_local {
            let peer_hbrs = self.res.peer.is_some_and(|p| self.nodes[p].hbrs);
            if self.res.view.stable || peer_hbrs {
                self.acquire_local(now);
            } else if self.res.rqst_deadline.is_none() {
                tracing::info!(
                    "{} is not stable yet: waiting up to {} s as Heartbeat does",
                    self.peer_name(),
                    RQSTDELAY.as_secs()
                );
                self.res.rqst_deadline = Some(now + RQSTDELAY);
            }
        }
        self.try_failback(now);
    }

    pub(crate) fn nice_rqst_timeout(&mut self, now: Instant) {
        if self.res.rstate == RState::RscRcvd && !self.res.acquiring_local {
            self.acquire_local(now);
        }
    }

    /// `req_our_resources`: start our own groups that the peer does not hold.
    fn acquire_local(&mut self, now: Instant) {
        self.res.acquiring_local = true;
        self.res.rqst_deadline = None;
        let me = self.me();
        let mine: BTreeSet<usize> = self
            .class_groups(Class::Local, me)
            .into_iter()
            .filter(|g| !self.res.view.holds.contains(g))
            .collect();
        let name = self.node_name().to_string();
        for &g in &mine {
            if !self.res.groups[g].claims() && !self.res.groups[g].failed_here {
                let key = self.cfg.groups[g].key.clone();
                self.send(now, wire::ip_request_resp(&name, &key, true));
            }
        }
        self.acquire(
            now,
            &mine,
            "our own group",
            Then::Acquired { mach_down: false },
        );
    }

    /// Take every group: the peer is dead, gone, or absent.
    pub(crate) fn nice_takeover(&mut self, now: Instant, why: &str) {
        self.res.acquiring_local = true;
        self.res.rqst_deadline = None;
        let all: BTreeSet<usize> = (0..self.cfg.groups.len()).collect();
        let mach_down = self.res.peer.is_some();
        tracing::info!(
            "node {}: taking over all resource groups ({why})",
            self.node_name()
        );
        self.acquire(now, &all, why, Then::Acquired { mach_down });
    }

    pub(crate) fn on_acquired(&mut self, now: Instant, mach_down: bool) {
        if self.res.shutdown.is_some() {
            return;
        }
        if !self.cfg.auto_failback.is_nice() {
            return;
        }
        let newly_stable = self.res.rstate != RState::Stable;
        self.res.rstate = RState::Stable;
        if newly_stable {
            tracing::info!(
                "node {}: local resource transition completed",
                self.node_name()
            );
        }
        self.send_report(now, true, Some("req_our_resources()"));
        if mach_down {
            self.send_mach_down(now);
        }
        self.hand_off_failed_groups(now);
        self.try_failback(now);
    }

    /// After a start failure, ask the peer to take the failed group's class (Heartbeat runs
    /// `hb_standby` for it 30 s later; we ask at once).
    pub(crate) fn hand_off_failed_groups(&mut self, now: Instant) {
        let me = self.me();
        let failed: BTreeSet<usize> = (0..self.res.groups.len())
            .filter(|&g| self.res.groups[g].failed_here && !self.res.groups[g].active())
            .filter(|g| !self.res.view.holds.contains(g) && !self.res.view.failed.contains(g))
            .collect();
        if failed.is_empty() || !self.peer_ready() {
            return;
        }
        let class = self.class_of(&failed, me);
        let _ = self.request_standby(now, class, "a start failed here");
    }

    fn peer_ready(&self) -> bool {
        self.res.peer.is_some_and(|p| self.nodes[p].is_alive())
            && self.res.view.stable
            && !self.res.view.leaving
            && !self.res.view.left
    }

    /// auto_failback on: give foreign groups back once their node is up and stable.
    fn try_failback(&mut self, now: Instant) {
        if self.cfg.auto_failback != AutoFailback::On
            || self.res.rstate != RState::Stable
            || self.res.standby != Standby::Not
            || self.res.shutdown.is_some()
            || !self.peer_ready()
        {
            return;
        }
        let me = self.me();
        let foreign_held = (0..self.res.groups.len()).any(|g| {
            self.cfg.groups[g].preferred != me
                && self.res.groups[g].is_running()
                && !self.res.view.failed.contains(&g)
                && !(self.res.view.exact && self.res.view.holds.contains(&g))
        });
        if foreign_held {
            let _ = self.request_standby(now, Class::Foreign, "auto_failback");
        }
    }

    /// Why a standby request would be refused now, if it would.
    pub(crate) fn standby_refusal(&self) -> Option<&'static str> {
        if !self.cfg.auto_failback.is_nice() {
            Some("standby mode is only implemented with auto_failback on or off")
        } else if self.res.shutdown.is_some() {
            Some("this node is shutting down")
        } else if self.res.standby != Standby::Not {
            Some("a standby exchange is in progress")
        } else if !self.peer_ready() {
            Some("no stable peer to take the resources")
        } else if self.res.rstate != RState::Stable || !self.res.negotiating {
            Some("local resources in flux")
        } else {
            None
        }
    }

    /// Starts the standby exchange: give up the groups of `class` (our view) to the peer.
    /// Returns why it was refused, if it was (the refusal is logged too).
    pub(crate) fn request_standby(
        &mut self,
        now: Instant,
        class: Class,
        why: &str,
    ) -> Result<(), String> {
        if let Some(no) = self.standby_refusal() {
            tracing::warn!("standby [{class}] ({why}) ignored: {no}");
            return Err(no.to_string());
        }
        tracing::info!("going standby [{class}] ({why})");
        self.send(now, wire::ask_resources(class, "me"));
        self.res.standby = Standby::Asked {
            class,
            deadline: now + STANDBY_REPLY,
        };
        Ok(())
    }

    /// `hb_takeover CLASS`: ask the peer to give us `class` (our view).
    pub(crate) fn request_takeover(&mut self, now: Instant, class: Class) -> Result<(), String> {
        let refusal = if self.res.peer.is_none() {
            Some("no peer")
        } else if !self.peer_alive() {
            Some("the peer is not up")
        } else if !self.cfg.auto_failback.is_nice() {
            Some("takeover is only implemented with auto_failback on or off")
        } else if self.res.shutdown.is_some() {
            Some("this node is shutting down")
        } else {
            None
        };
        if let Some(no) = refusal {
            tracing::warn!("takeover [{class}] ignored: {no}");
            return Err(no.to_string());
        }
        tracing::info!("asking {} to hand over [{class}]", self.peer_name());
        self.send(now, wire::hb_takeover(class));
        Ok(())
    }

    fn nice_ask_resources(&mut self, now: Instant, msg: &Message) {
        let (Some(class), Some(info)) =
            (msg.str("rsc_hold").and_then(Class::parse), msg.str("info"))
        else {
            self.warn_limited(now, "bad-ask", || {
                "ask_resources without valid rsc_hold/info".into()
            });
            return;
        };
        let peer = self.peer_name();
        match info {
            "me" => {
                if self.res.standby != Standby::Not {
                    tracing::warn!(
                        "standby in progress: new request [{class}] from {peer} ignored"
                    );
                } else if !self.res.view.stable {
                    tracing::warn!(
                        "standby message [me] from {peer} ignored: other side is in flux"
                    );
                } else if self.res.rstate != RState::Stable {
                    tracing::warn!(
                        "standby message [me] from {peer} ignored: local resources in flux"
                    );
                } else {
                    tracing::info!("{peer} goes standby [{class}]: taking its groups");
                    self.send(now, wire::ask_resources(class, "other"));
                    self.res.standby = Standby::Accepted {
                        class,
                        deadline: now + STANDBY_GUARD,
                    };
                }
            }
            "other" => {
                if let Standby::Asked { class: asked, .. } = self.res.standby
                    && asked == class
                {
                    let me = self.me();
                    let give = self.class_groups(class, me);
                    let keep: BTreeSet<usize> = self.claimed().difference(&give).copied().collect();
                    self.send_report_as(now, &keep, false, Some("standby"));
                    self.res.standby = Standby::Releasing { class };
                    let active: BTreeSet<usize> = give
                        .into_iter()
                        .filter(|&g| self.res.groups[g].active())
                        .collect();
                    self.release(now, &active, "standby", Then::StandbyReleased);
                }
            }
            "done" => match self.res.standby {
                Standby::Accepted {
                    class: accepted, ..
                } if accepted == class => {
                    let p = self.res.peer.unwrap_or(0);
                    let take = self.class_groups(class, p);
                    self.res.standby = Standby::Acquiring { class };
                    self.acquire(now, &take, "standby of the peer", Then::StandbyAcquired);
                }
                Standby::Released {
                    class: released, ..
                } if released == class => {
                    self.res.standby = Standby::Not;
                    tracing::info!("standby [{class}] done: {peer} took the resources");
                    self.send_report(now, true, None);
                }
                _ => {}
            },
            other => tracing::debug!("ignoring ask_resources info={other}"),
        }
    }

    pub(crate) fn on_standby_released(&mut self, now: Instant) {
        let Standby::Releasing { class } = self.res.standby else {
            return;
        };
        let me = self.me();
        let stuck = self
            .class_groups(class, me)
            .into_iter()
            .any(|g| self.res.groups[g].claims());
        if stuck {
            tracing::error!(
                "standby [{class}] aborted: a group could not be released (it stays here)"
            );
            self.res.standby = Standby::Not;
            self.send_report(now, true, None);
            return;
        }
        self.send(now, wire::ask_resources(class, "done"));
        self.res.standby = Standby::Released {
            class,
            deadline: now + STANDBY_GUARD,
        };
    }

    pub(crate) fn on_standby_acquired(&mut self, now: Instant) {
        let Standby::Acquiring { class } = self.res.standby else {
            return;
        };
        tracing::info!("standby resource acquisition done [{class}]");
        self.res.standby = Standby::Not;
        self.send_report(now, true, None);
        self.send(now, wire::ask_resources(class, "done"));
        self.hand_off_failed_groups(now);
    }
}
