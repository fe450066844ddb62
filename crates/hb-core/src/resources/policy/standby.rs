//! Heartbeat's three-phase standby exchange (spec §8.5), in the nice-failback policy: the
//! node giving groups up sends `ask_resources info=me`, the other answers `other`, the
//! giver releases and sends `done`, the taker acquires and sends `done`. Classes are from
//! the point of view of the node giving groups up.

use std::time::Duration;

use hb_proto::Message;

use crate::Instant;
use crate::action::Class;
use crate::ctx::Ctx;
use crate::wire;

use super::super::batch::{Step, Then};
use super::super::board::Board;
use super::super::groups::GroupSet;
use super::nice::{Nice, RState};

/// How long a standby request waits for the peer's `other`.
const STANDBY_REPLY: Duration = Duration::from_secs(10);
/// Guard for the later phases of a standby exchange.
const STANDBY_GUARD: Duration = Duration::from_secs(600);

/// Where a standby exchange stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Standby {
    Not,
    /// We asked to give up `class` and wait for `other`.
    Asked {
        class: Class,
        deadline: Instant,
    },
    /// We are stopping `class`.
    Releasing {
        class: Class,
    },
    /// We released `class`, sent `done`, and wait for the peer's `done`.
    Released {
        class: Class,
        deadline: Instant,
    },
    /// The peer asked to give up `class` (its view); we answered `other`.
    Accepted {
        class: Class,
        deadline: Instant,
    },
    /// The peer sent `done`; we are starting its `class` groups.
    Acquiring {
        class: Class,
    },
}

impl Standby {
    /// We are the side giving groups away.
    pub(super) fn giving(self) -> bool {
        matches!(
            self,
            Standby::Asked { .. } | Standby::Releasing { .. } | Standby::Released { .. }
        )
    }

    pub(super) fn deadline(self) -> Option<Instant> {
        match self {
            Standby::Asked { deadline, .. }
            | Standby::Released { deadline, .. }
            | Standby::Accepted { deadline, .. } => Some(deadline),
            _ => None,
        }
    }
}

impl Nice {
    /// Why a standby request would be refused now, if it would.
    fn standby_refusal(&self, b: &Board, ctx: &Ctx<'_>) -> Option<&'static str> {
        if b.shutdown.is_some() {
            Some("this node is shutting down")
        } else if self.standby != Standby::Not {
            Some("a standby exchange is in progress")
        } else if !b.peer_ready(ctx.nodes) {
            Some("no stable peer to take the resources")
        } else if self.rstate != RState::Stable || !b.negotiating {
            Some("local resources in flux")
        } else {
            None
        }
    }

    /// Starts the standby exchange: give up the groups of `class` (our view) to the peer.
    /// Returns why it was refused, if it was (the refusal is logged too).
    pub(super) fn request_standby(
        &mut self,
        b: &mut Board,
        ctx: &mut Ctx<'_>,
        class: Class,
        why: &str,
    ) -> Result<(), String> {
        if let Some(no) = self.standby_refusal(b, ctx) {
            tracing::warn!("standby [{class}] ({why}) ignored: {no}");
            return Err(no.to_string());
        }
        tracing::info!("{} wants to go standby [{class}] ({why})", ctx.my_name());
        ctx.send(wire::ask_resources(class, "me"));
        self.standby = Standby::Asked {
            class,
            deadline: ctx.now + STANDBY_REPLY,
        };
        Ok(())
    }

    pub(super) fn cancel_standby(&mut self, why: &str) {
        if self.standby != Standby::Not {
            tracing::info!("standby exchange cancelled: {why}");
            self.standby = Standby::Not;
        }
    }

    /// An `ask_resources` from the peer.
    pub(super) fn ask_resources(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, msg: &Message) {
        let (Some(class), Some(info)) =
            (msg.str("rsc_hold").and_then(Class::parse), msg.str("info"))
        else {
            ctx.warn_limited("bad-ask", || {
                "ask_resources without valid rsc_hold/info".into()
            });
            return;
        };
        match info {
            "me" => self.peer_goes_standby(b, ctx, class),
            "other" => self.peer_accepted(b, ctx, class),
            "done" => self.peer_done(b, ctx, class),
            other => tracing::debug!("ignoring ask_resources info={other}"),
        }
    }

    /// The peer wants to give up `class` (its view).
    fn peer_goes_standby(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, class: Class) {
        let peer = b.peer_name(ctx.nodes);
        // Crossing requests (each side asked and waits for the other's `other`): Heartbeat
        // ignores both and each lapses after 10 s. Between heartbeat-rs nodes the request of
        // the node whose name sorts first goes on and the other side withdraws its own: both
        // apply the same rule, so exactly one exchange runs.
        if let Standby::Asked { class: mine, .. } = self.standby
            && b.peer_is_hbrs(ctx.nodes)
            && peer.as_str() < ctx.my_name()
        {
            tracing::info!(
                "crossing standby requests: {peer}'s [{class}] goes first, ours [{mine}] is \
                 withdrawn"
            );
            self.standby = Standby::Not;
        }
        if self.standby != Standby::Not {
            tracing::warn!("Standby in progress- new request from {peer} ignored [{class}]");
        } else if !b.view.stable {
            tracing::warn!("standby message [me] from {peer} ignored.  Other side is in flux.");
        } else if self.rstate != RState::Stable {
            tracing::warn!("standby message [me] from {peer} ignored.  local resources in flux.");
        } else {
            tracing::info!("{peer} wants to go standby [{class}] (taking its groups)");
            ctx.send(wire::ask_resources(class, "other"));
            self.standby = Standby::Accepted {
                class,
                deadline: ctx.now + STANDBY_GUARD,
            };
        }
    }

    /// The peer accepted our request: release `class`.
    fn peer_accepted(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, class: Class) {
        let Standby::Asked { class: asked, .. } = self.standby else {
            return;
        };
        if asked != class {
            return;
        }
        tracing::info!(
            "standby: {} can take our {class} resources",
            b.peer_name(ctx.nodes)
        );
        let give = b.groups.of_class(class, ctx.nodes.me());
        let keep: GroupSet = b.groups.claimed().difference(&give).copied().collect();
        b.send_report_as(ctx, &keep, false, Some("standby"));
        self.standby = Standby::Releasing { class };
        let active: GroupSet = give.into_iter().filter(|&g| b.groups[g].active()).collect();
        let then = b.release(ctx, &active, "standby", Then::Policy(Step::StandbyReleased));
        self.then(b, ctx, then);
    }

    /// The peer finished its side: it released what it gave us, or took what we gave.
    fn peer_done(&mut self, b: &mut Board, ctx: &mut Ctx<'_>, class: Class) {
        match self.standby {
            Standby::Accepted {
                class: accepted, ..
            } if accepted == class => {
                let Some(p) = b.peer else { return };
                tracing::info!(
                    "standby: acquire [{class}] resources from {}",
                    b.peer_name(ctx.nodes)
                );
                let take = b.groups.of_class(class, p);
                self.standby = Standby::Acquiring { class };
                let then = b.acquire(
                    ctx,
                    &take,
                    "standby of the peer",
                    Then::Policy(Step::StandbyAcquired),
                );
                self.then(b, ctx, then);
            }
            Standby::Released {
                class: released, ..
            } if released == class => {
                self.standby = Standby::Not;
                tracing::info!(
                    "Other node completed standby takeover of {class} resources. ({} took them)",
                    b.peer_name(ctx.nodes)
                );
                b.send_report(ctx, true, None);
            }
            _ => {}
        }
    }

    pub(super) fn standby_released(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let Standby::Releasing { class } = self.standby else {
            return;
        };
        let stuck = b
            .groups
            .of_class(class, ctx.nodes.me())
            .into_iter()
            .any(|g| b.groups[g].claims());
        if stuck {
            tracing::error!(
                "standby [{class}] aborted: a group could not be released (it stays here)"
            );
            self.standby = Standby::Not;
            b.send_report(ctx, true, None);
            return;
        }
        tracing::info!("Local standby process completed [{class}].");
        self.held.0 &= !class.has_local();
        self.held.1 &= !class.has_foreign();
        ctx.send(wire::ask_resources(class, "done"));
        self.standby = Standby::Released {
            class,
            deadline: ctx.now + STANDBY_GUARD,
        };
    }

    pub(super) fn standby_acquired(&mut self, b: &mut Board, ctx: &mut Ctx<'_>) {
        let Standby::Acquiring { class } = self.standby else {
            return;
        };
        tracing::info!("Standby resource acquisition done [{class}].");
        self.standby = Standby::Not;
        let ours = class.mirrored();
        self.held.0 |= ours.has_local();
        self.held.1 |= ours.has_foreign();
        // Groups that came because they failed on the peer go home after their cleanup
        // there (auto_failback on); groups an operator moved stay.
        if let Some(p) = b.peer
            && b.groups
                .of_class(class, p)
                .iter()
                .any(|g| b.view.failed.contains(g))
        {
            self.needs_failback = true;
        }
        b.send_report(ctx, true, None);
        ctx.send(wire::ask_resources(class, "done"));
        self.hand_off_failed_groups(b, ctx);
    }

    /// An unanswered request lapses; an exchange that never finishes is cancelled.
    pub(super) fn standby_tick(&mut self, b: &Board, ctx: &Ctx<'_>) {
        match self.standby {
            Standby::Asked { deadline, .. } if ctx.now >= deadline => {
                tracing::warn!("No reply to standby request.  Standby request cancelled.");
                self.standby = Standby::Not;
            }
            Standby::Released { deadline, .. } | Standby::Accepted { deadline, .. }
                if ctx.now >= deadline =>
            {
                tracing::warn!(
                    "standby exchange with {} did not finish: cancelled",
                    b.peer_name(ctx.nodes)
                );
                self.standby = Standby::Not;
            }
            _ => {}
        }
    }
}
