//! Graceful shutdown: wait for running operations, stop the groups one by one (last
//! haresources line first), send `shutdone`, and linger until the peer acknowledges it.

use std::time::Duration;

use crate::Instant;
use crate::ctx::Ctx;
use crate::wire;

use super::batch::Then;
use super::board::Board;
use super::groups::GroupId;

/// Graceful shutdown progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shutdown {
    /// Waiting for running operations (or the start-up probe) to finish.
    Waiting,
    /// Stopping groups one by one, last haresources line first.
    Stopping,
    /// A stop failed: we keep running and keep claiming the group.
    Blocked,
    /// `shutdone` sent; waiting for the peer's acknowledgement.
    Lingering { seq: u64, deadline: Instant },
}

impl Board {
    /// Takes the next step of a shutdown in progress.
    pub(crate) fn shutdown_progress(&mut self, ctx: &mut Ctx<'_>) {
        loop {
            match self.shutdown {
                Some(Shutdown::Waiting | Shutdown::Stopping) => {}
                _ => return,
            }
            if !self.probe_done || self.groups.iter().any(|(_, g)| g.is_busy()) {
                if self.shutdown != Some(Shutdown::Waiting) {
                    self.shutdown = Some(Shutdown::Waiting);
                }
                tracing::info!("Shutdown delayed until current resource activity finishes.");
                return;
            }
            if self.shutdown != Some(Shutdown::Stopping) {
                tracing::info!("Giving up all HA resources.");
                self.shutdown = Some(Shutdown::Stopping);
            }
            let next = self
                .groups
                .ids()
                .rev()
                .find(|&g| self.groups[g].is_running());
            if let Some(g) = next {
                let set = GroupId::set([g]);
                if self
                    .release(ctx, &set, "graceful shutdown", Then::ShutdownStep)
                    .is_some()
                {
                    continue;
                }
                return;
            }
            if self.groups.iter().any(|(_, g)| g.is_failed()) {
                tracing::error!(
                    "graceful shutdown blocked: a group failed to stop and may still run here; heartbeat keeps \
                     running and keeps it from starting elsewhere. Stop its resources by hand, then stop \
                     heartbeat again"
                );
                self.shutdown = Some(Shutdown::Blocked);
                return;
            }
            let seq = ctx.send(wire::shutdone()).unwrap_or(0);
            tracing::info!(
                "All HA resources relinquished. (node {}: shutdown notice sent)",
                ctx.my_name()
            );
            if self.peer_alive(ctx.nodes) {
                let linger = ctx
                    .cfg
                    .timing
                    .deadtime()
                    .min(Duration::from_secs(2))
                    .max(ctx.cfg.timing.keepalive() * 4);
                self.shutdown = Some(Shutdown::Lingering {
                    seq,
                    deadline: ctx.now + linger,
                });
            } else {
                self.finish(ctx);
            }
            return;
        }
    }

    /// The shutdown is complete: the shell may exit.
    pub(crate) fn finish(&mut self, ctx: &Ctx<'_>) {
        if !self.finished {
            tracing::info!("{} Heartbeat shutdown complete.", ctx.my_name());
            self.finished = true;
        }
    }

    /// The peer acknowledged our messages: done if it acknowledged `shutdone`.
    pub(crate) fn on_ack(&mut self, ctx: &Ctx<'_>) {
        if let (Some(Shutdown::Lingering { seq, .. }), Some(p)) = (self.shutdown, self.peer)
            && ctx.nodes[p].acked_by >= seq
        {
            self.finish(ctx);
        }
    }

    /// When the lingering after `shutdone` ends.
    pub(crate) fn linger_deadline(&self) -> Option<Instant> {
        match self.shutdown {
            Some(Shutdown::Lingering { deadline, .. }) => Some(deadline),
            _ => None,
        }
    }

    /// No acknowledgement of `shutdone` in time: leave anyway.
    pub(crate) fn linger_tick(&mut self, ctx: &Ctx<'_>) {
        if let Some(Shutdown::Lingering { deadline, .. }) = self.shutdown
            && ctx.now >= deadline
        {
            tracing::info!("no acknowledgement of the shutdown notice; leaving anyway");
            self.finish(ctx);
        }
    }
}
