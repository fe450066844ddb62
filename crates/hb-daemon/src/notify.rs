//! systemd's notify protocol (`Type=notify`, sd_notify(3)), when the daemon runs under a
//! service manager that set `NOTIFY_SOCKET`: `READY=1` once the media are open and the
//! start-up probe has run, `STATUS=` lines saying what this node holds (sent when they
//! change), `RELOADING=1` and `READY=1` around a SIGHUP, `STOPPING=1` when a graceful stop
//! begins, and `WATCHDOG=1` from the event loop itself at half of `WATCHDOG_USEC` (a loop
//! that hangs stops petting, and systemd restarts the daemon). Without `NOTIFY_SOCKET`
//! nothing is sent; without `WATCHDOG_USEC` (or with a `WATCHDOG_PID` that is not ours) no
//! `WATCHDOG=1` either.

use std::time::Duration;

use hb_core::{GroupState, NodeKind, ResourceState, Snapshot};
use sd_notify::NotifyState;

/// What has been told to the service manager.
#[derive(Debug)]
pub(crate) struct Notifier {
    enabled: bool,
    watchdog: Option<Duration>,
    ready: bool,
    stopping: bool,
    status: String,
    /// One failure to send is logged; the rest are not (a stuck manager must not flood).
    failed: bool,
}

impl Notifier {
    /// From the environment the service manager gave this process.
    pub(crate) fn from_env() -> Notifier {
        let enabled = std::env::var_os("NOTIFY_SOCKET").is_some();
        let watchdog = sd_notify::watchdog_enabled().filter(|d| enabled && !d.is_zero());
        if let Some(d) = watchdog {
            tracing::info!(
                "systemd watchdog: WATCHDOG=1 every {} ms (WatchdogSec={} ms)",
                (d / 2).as_millis(),
                d.as_millis()
            );
        }
        Notifier {
            enabled,
            watchdog,
            ready: false,
            stopping: false,
            status: String::new(),
            failed: false,
        }
    }

    /// Whether a service manager listens (`NOTIFY_SOCKET` is set).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// How often the event loop sends `WATCHDOG=1`: half the service manager's timeout.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog.map(|d| d / 2)
    }

    fn send(&mut self, states: &[NotifyState<'_>]) {
        if !self.enabled {
            return;
        }
        if let Err(e) = sd_notify::notify(states)
            && !std::mem::replace(&mut self.failed, true)
        {
            tracing::warn!("cannot notify the service manager (NOTIFY_SOCKET): {e}");
        }
    }

    /// `WATCHDOG=1`.
    pub(crate) fn watchdog(&mut self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// Looks at the core's state: `READY=1` the first time the start-up probe is over,
    /// `STOPPING=1` the first time a shutdown is under way, `STATUS=` whenever the line
    /// changes.
    pub(crate) fn update(&mut self, snap: &Snapshot) {
        if !self.enabled {
            return;
        }
        let status = status_line(snap);
        let ready = !self.ready && probed(snap);
        let stopping = !self.stopping && snap.shutting_down;
        let changed = status != self.status;
        if !(ready || stopping || changed) {
            return;
        }
        let mut states = Vec::with_capacity(3);
        if ready {
            self.ready = true;
            states.push(NotifyState::Ready);
        }
        if stopping {
            self.stopping = true;
            states.push(NotifyState::Stopping);
        }
        self.status = status;
        let status = self.status.clone();
        states.push(NotifyState::Status(&status));
        self.send(&states);
    }

    /// A SIGHUP is being handled: `RELOADING=1` (with the monotonic time systemd wants).
    pub(crate) fn reloading(&mut self) {
        if !self.ready {
            return;
        }
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(_) => self.send(&[NotifyState::Reloading]),
        }
    }

    /// The SIGHUP was handled (applied or refused): `READY=1` again.
    pub(crate) fn reloaded(&mut self) {
        if self.ready {
            self.send(&[NotifyState::Ready]);
        }
    }
}

/// The start-up probe has run: no group is probing and no resource's state is unknown.
fn probed(snap: &Snapshot) -> bool {
    snap.groups.iter().all(|g| {
        g.state != GroupState::Probing
            && g.resources
                .iter()
                .all(|r| r.state != ResourceState::Unknown)
    })
}

/// `holds web, db; starting mail; node2 active` and the like: what this node holds or is
/// moving, then each peer's status, then what stands out (isolated, fencing, stopping).
pub(crate) fn status_line(snap: &Snapshot) -> String {
    let keys = |want: &dyn Fn(GroupState) -> bool| -> Vec<&str> {
        snap.groups
            .iter()
            .filter(|g| want(g.state))
            .map(|g| g.key.as_str())
            .collect()
    };
    let mut parts = Vec::new();
    if !probed(snap) {
        parts.push("probing resources".to_string());
    } else {
        let held = keys(&|s| {
            matches!(
                s,
                GroupState::Running | GroupState::Reannouncing | GroupState::Restarting
            )
        });
        if held.is_empty() {
            parts.push("holds nothing".to_string());
        } else {
            parts.push(format!("holds {}", held.join(", ")));
        }
        for (word, state) in [
            ("starting", GroupState::Starting),
            ("stopping", GroupState::Stopping),
            ("FAILED", GroupState::Failed),
        ] {
            let these = keys(&|s| s == state);
            if !these.is_empty() {
                parts.push(format!("{word} {}", these.join(", ")));
            }
        }
    }
    for n in snap
        .nodes
        .iter()
        .filter(|n| !n.is_self && n.kind == NodeKind::Normal)
    {
        parts.push(format!("{} {}", n.name, n.status));
    }
    if snap.isolated {
        parts.push("isolated".to_string());
    }
    if let Some(f) = &snap.fencing {
        parts.push(format!("fencing {}: {}", f.node, f.state));
    }
    if snap.awaiting_fence {
        parts.push("AWAITING FENCING".to_string());
    }
    if snap.shutting_down {
        parts.push("shutting down".to_string());
    }
    parts.join("; ")
}
