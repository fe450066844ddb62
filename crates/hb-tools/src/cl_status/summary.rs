//! The heartbeat-rs additions: `cl_status status`, a summary for people, and
//! `cl_status --json`, the status object for programs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_control::Status;
use serde_json::Value;

use super::compat::simple_opts;
use super::{Ctx, OK, PARAMETER_ERROR, signon_failed};
use crate::client::ClientError;
use crate::{Outcome, cllog, view};

/// `cl_status --json`: the status object as the daemon sent it, indented, keys sorted.
pub(super) fn json(mut ctx: Ctx, fetched: Result<(Status, Value), ClientError>) -> Outcome {
    match fetched {
        Ok((_, raw)) => {
            let text = serde_json::to_string_pretty(&raw).unwrap_or_else(|_| raw.to_string());
            ctx.print(&text);
            ctx.print("\n");
            ctx.finish(OK)
        }
        Err(e) => {
            let code = signon_failed(&mut ctx, &e);
            ctx.finish(code)
        }
    }
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
    // Whole seconds of a non-negative, finite age (`as` saturates).
    let s = secs.max(0.0) as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        3600..86400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{:02}h", s / 86400, s % 86400 / 3600),
    }
}

/// `cl_status status`: a short summary for people.
pub(super) fn summary(ctx: &mut Ctx, cmd: &str, args: &[String], status: &Status) -> u8 {
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
        view::version(status)
            .as_deref()
            .unwrap_or("version unknown"),
        if view::haresources(status) {
            "from haresources".to_string()
        } else {
            format!("managed by {}", status.managed_by)
        },
        format_args!(
            "rscstatus {}",
            status.rscstatus.as_ref().map_or("?", |r| r.as_str())
        ),
        view::held_list(status, &me),
    );
    if status.shutting_down {
        header.push_str(", SHUTTING DOWN");
    }
    if status.isolated {
        header.push_str(", ISOLATED (no peer, no ping node or no carrier: holding nothing)");
    }
    if status.awaiting_fence {
        header.push_str(", AWAITING FENCING (a stop failed: heartbeats stopped for the peer to reset this node)");
    }
    ctx.print(&format!("{header}\n"));
    if let Some(f) = &status.fencing {
        let mut line = format!(
            "Fencing {}: {} after {} attempt{}",
            f.node,
            f.state,
            f.attempts,
            if f.attempts == 1 { "" } else { "s" }
        );
        if let Some(r) = &f.last_result {
            line.push_str(&format!(", last: {r}"));
        }
        if let Some(t) = f.retry_at {
            line.push_str(&format!(", next attempt in {}", age(t - now)));
        }
        if f.state != "fenced" {
            line.push_str(&format!(" ({}'s resources wait for its reset)", f.node));
        }
        ctx.print(&format!("{line}\n"));
    }

    ctx.print("Nodes:\n");
    let name_w = status.nodes.iter().map(|n| n.name.len()).max().unwrap_or(0);
    for n in &status.nodes {
        let mut line = format!("  {:name_w$}  {:6}", n.name, n.status.as_str());
        let links: Vec<String> = n
            .links
            .iter()
            .map(|l| format!("{} {}", l.name, l.status))
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
        if !n.heartbeat_rs {
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
            g.state.as_str(),
            g.holder.as_deref().unwrap_or("none"),
            Some(g.preferred.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("?"),
            since(g.since)
        );
        if !g.managed {
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
                r.state
            );
            if r.monitor_interval_ms > 0 {
                line.push_str(&format!("  monitor {} ms", r.monitor_interval_ms));
            }
            line.push_str(&format!(
                "  failures {}  restarts {}",
                r.failures, r.restarts
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
                .map(|t| (t, format!("node {} {}", n.name, n.status)))
        })
        .chain(status.groups.iter().filter_map(|g| {
            g.since.map(|t| {
                let holder = g
                    .holder
                    .as_deref()
                    .map_or_else(String::new, |h| format!(" on {h}"));
                (t, format!("group {} {}{holder}", g.key, g.state))
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

    #[test]
    fn ages_read_well() {
        assert_eq!(age(-3.0), "0s");
        assert_eq!(age(59.9), "59s");
        assert_eq!(age(125.0), "2m05s");
        assert_eq!(age(7500.0), "2h05m");
        assert_eq!(age(3.0 * 86400.0 + 7200.0), "3d02h");
    }
}
