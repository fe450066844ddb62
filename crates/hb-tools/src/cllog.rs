//! Heartbeat's `cl_log` lines on stderr:
//! `Nov 24 13:45:35 node1 cl_status: [18231]: ERROR: Cannot get heartbeat link status`.

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Local time as cl_log prints it (`%3s %02d %02d:%02d:%02d`: month, zero-padded day,
/// time), or UTC if the local time cannot be computed.
pub fn timestamp(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    };
    let (mon, day, h, m, s) = local_fields(secs).unwrap_or_else(|| utc_fields(secs));
    let month = MONTHS.get(mon).copied().unwrap_or("???");
    format!("{month} {day:02} {h:02}:{m:02}:{s:02}")
}

/// (month 0-11, day, hour, minute, second) in the local time zone.
fn local_fields(secs: i64) -> Option<(usize, u32, u32, u32, u32)> {
    // time_t is narrower than i64 on some 32-bit targets.
    #[allow(clippy::useless_conversion)]
    let t: libc::time_t = secs.try_into().ok()?;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers are valid for
    // the duration of the call, and localtime_r is the thread-safe variant.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return None;
        }
        tm
    };
    Some((
        usize::try_from(tm.tm_mon).ok()?,
        u32::try_from(tm.tm_mday).ok()?,
        u32::try_from(tm.tm_hour).ok()?,
        u32::try_from(tm.tm_min).ok()?,
        u32::try_from(tm.tm_sec).ok()?,
    ))
}

/// The same fields in UTC (civil-from-days).
fn utc_fields(secs: i64) -> (usize, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        (month - 1) as usize,
        day as u32,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// The machine's host name (the UTS node name, as Heartbeat's logging uses).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// One `ERROR:` line of `entity` (e.g. `cl_status`), newline included.
pub fn error_line(host: &str, entity: &str, text: &str) -> String {
    format!(
        "{} {host} {entity}: [{}]: ERROR: {text}\n",
        timestamp(SystemTime::now()),
        std::process::id()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_fields_are_right() {
        // 2026-11-24 13:45:35 UTC
        assert_eq!(utc_fields(1_795_527_935), (10, 24, 13, 45, 35));
        assert_eq!(utc_fields(0), (0, 1, 0, 0, 0));
        // 2024-02-29 23:59:59 UTC
        assert_eq!(utc_fields(1_709_251_199), (1, 29, 23, 59, 59));
    }

    #[test]
    fn timestamps_have_cl_logs_shape() {
        let ts = timestamp(UNIX_EPOCH + Duration::from_secs(1_795_527_935));
        let b = ts.as_bytes();
        assert_eq!(ts.len(), 15, "{ts}");
        assert!(MONTHS.contains(&&ts[..3]), "{ts}");
        for i in [4, 5, 7, 8, 10, 11, 13, 14] {
            assert!(b[i].is_ascii_digit(), "{ts}");
        }
        assert_eq!((b[3], b[6], b[9], b[12]), (b' ', b' ', b':', b':'));
    }

    #[test]
    fn error_lines_carry_host_entity_and_pid() {
        let line = error_line("node1", "cl_status", "REASON: ");
        let tail = format!(
            " node1 cl_status: [{}]: ERROR: REASON: \n",
            std::process::id()
        );
        assert!(line.ends_with(&tail), "{line:?}");
        assert_eq!(line.len(), 15 + tail.len());
    }
}
