//! UTC timestamps with milliseconds, `2026-11-24T13:45:01.123Z`, for log lines and the state
//! file (no time-zone database needed, and they sort as text).

use std::time::{SystemTime, UNIX_EPOCH};

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Shift the epoch to 0000-03-01 so that leap days end each 4/100/400-year cycle.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // 0..=365, from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Formats milliseconds since the Unix epoch (negative before 1970).
pub fn format_unix_millis(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let milli = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, mo, d) = civil_from_days(days);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Formats a wall-clock time.
pub fn format_system_time(t: SystemTime) -> String {
    let ms = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    };
    format_unix_millis(ms)
}

/// The current time, formatted.
pub fn now() -> String {
    format_system_time(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn known_instants() {
        assert_eq!(format_unix_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_unix_millis(-1), "1969-12-31T23:59:59.999Z");
        // 2000-02-29 (a leap day in a century year divisible by 400).
        assert_eq!(
            format_unix_millis(951_782_400_000),
            "2000-02-29T00:00:00.000Z"
        );
        // 2024-12-31T23:59:59.999Z, then the new year.
        assert_eq!(
            format_unix_millis(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
        assert_eq!(
            format_unix_millis(1_735_689_600_000),
            "2025-01-01T00:00:00.000Z"
        );
        // The example of the log format.
        assert_eq!(
            format_unix_millis(1_795_527_901_123),
            "2026-11-24T13:45:01.123Z"
        );
        // 2100 is not a leap year: Feb 28 is followed by Mar 1.
        assert_eq!(
            format_unix_millis(4_107_456_000_000),
            "2100-02-28T00:00:00.000Z"
        );
        assert_eq!(
            format_unix_millis(4_107_542_400_000),
            "2100-03-01T00:00:00.000Z"
        );
    }

    #[test]
    fn every_day_of_four_centuries_round_trips_through_the_calendar() {
        // Days increase by one and the calendar fields stay in range.
        let mut prev = civil_from_days(-1);
        for day in 0..146_097 * 2 {
            let cur = civil_from_days(day);
            let (y, m, d) = cur;
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{cur:?}");
            if d == 1 {
                assert!(prev.2 >= 28, "{prev:?} -> {cur:?}");
                if m == 1 {
                    assert_eq!((prev.0 + 1, prev.1), (y, 12));
                } else {
                    assert_eq!((prev.0, prev.1 + 1), (y, m));
                }
            } else {
                assert_eq!((prev.0, prev.1, prev.2 + 1), cur);
            }
            prev = cur;
        }
    }

    #[test]
    fn system_time_formats() {
        let t = UNIX_EPOCH + Duration::from_millis(1_795_527_901_123);
        assert_eq!(format_system_time(t), "2026-11-24T13:45:01.123Z");
        assert_eq!(now().len(), "2026-11-24T13:45:01.123Z".len());
    }
}
