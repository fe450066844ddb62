//! Heartbeat's `cl_log` lines on stderr:
//! `Nov 24 13:45:35 node1 cl_status: [18231]: ERROR: Cannot get heartbeat link status`.

use std::time::SystemTime;

/// Local time as cl_log prints it (`%3s %02d %02d:%02d:%02d`: month, zero-padded day,
/// time), or UTC if the local time zone cannot be determined (hb-time's
/// [`cl_log_stamp`](hb_time::cl_log_stamp)).
pub fn timestamp(t: SystemTime) -> String {
    hb_time::cl_log_stamp(t)
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
    hb_time::cl_log_line(
        SystemTime::now(),
        host,
        entity,
        std::process::id(),
        "ERROR",
        text,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    // The calendar and the time zones are tested in hb-time (`cl_log_stamp`).
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
