//! Wall-clock stamps. The calendar and the time zones are jiff's: it reads `TZ` (a zone name,
//! a POSIX rule or a file) and `/etc/localtime` itself.

use std::time::{SystemTime, UNIX_EPOCH};

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// Signed whole units since the epoch, each side truncated towards the epoch.
fn since_epoch(t: SystemTime, unit: fn(std::time::Duration) -> u128) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(unit(d)).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(unit(e.duration())).unwrap_or(i64::MAX),
    }
}

/// The instant `n` units since the epoch, or the nearest one jiff represents (years
/// -9999 to 9999).
fn timestamp(n: i64, from: fn(i64) -> Result<Timestamp, jiff::Error>) -> Timestamp {
    from(n).unwrap_or(if n < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    })
}

/// UTC, RFC 3339 with milliseconds: `2026-11-24T13:45:01.123Z` (the log lines and state
/// file of hb-check; no time-zone database involved, and the stamps sort as text).
#[must_use]
pub fn rfc3339_millis(t: SystemTime) -> String {
    let ms = since_epoch(t, |d| d.as_millis());
    let ts = timestamp(ms, Timestamp::from_millisecond);
    TimeZone::UTC
        .to_datetime(ts)
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// [`rfc3339_millis`] of the current time.
#[must_use]
pub fn rfc3339_millis_now() -> String {
    rfc3339_millis(SystemTime::now())
}

/// Heartbeat's `cl_log` stamp, `Nov 24 13:45:35` (month, zero-padded day, time), in the local
/// time zone (`TZ`, else `/etc/localtime`), or in UTC if that cannot be determined.
#[must_use]
pub fn cl_log_stamp(t: SystemTime) -> String {
    cl_log_stamp_in(t, &TimeZone::try_system().unwrap_or(TimeZone::UTC))
}

/// One line as Heartbeat's `cl_log` writes it to a log file or stderr in its default
/// (`syslogmsgfmt`) form, newline included:
/// `Nov 24 13:42:22 node1 heartbeat: [1066]: info: Initial resource acquisition complete`.
/// `priority` is cl_log's word (`debug`, `info`, `WARN`, `ERROR`, `CRIT`).
#[must_use]
pub fn cl_log_line(
    t: SystemTime,
    host: &str,
    entity: &str,
    pid: u32,
    priority: &str,
    text: &str,
) -> String {
    format!(
        "{} {host} {entity}: [{pid}]: {priority}: {text}\n",
        cl_log_stamp(t)
    )
}

/// [`cl_log_stamp`] in the time zone `tz`.
fn cl_log_stamp_in(t: SystemTime, tz: &TimeZone) -> String {
    let secs = since_epoch(t, |d| u128::from(d.as_secs()));
    let ts = timestamp(secs, Timestamp::from_second);
    tz.to_datetime(ts).strftime("%b %d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests;
