use super::*;
use std::time::Duration;

/// The instant `ms` milliseconds from the epoch (before it if negative).
fn at_millis(ms: i64) -> SystemTime {
    let d = Duration::from_millis(ms.unsigned_abs());
    if ms < 0 {
        UNIX_EPOCH - d
    } else {
        UNIX_EPOCH + d
    }
}

fn utc(ms: i64) -> String {
    rfc3339_millis(at_millis(ms))
}

#[test]
fn known_instants() {
    assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(utc(-1), "1969-12-31T23:59:59.999Z");
    // 2000-02-29 (a leap day in a century year divisible by 400).
    assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    // 2024-12-31T23:59:59.999Z, then the new year.
    assert_eq!(utc(1_735_689_599_999), "2024-12-31T23:59:59.999Z");
    assert_eq!(utc(1_735_689_600_000), "2025-01-01T00:00:00.000Z");
    // The example of the log format.
    assert_eq!(utc(1_795_527_901_123), "2026-11-24T13:45:01.123Z");
    // 2100 is not a leap year: Feb 28 is followed by Mar 1.
    assert_eq!(utc(4_107_456_000_000), "2100-02-28T00:00:00.000Z");
    assert_eq!(utc(4_107_542_400_000), "2100-03-01T00:00:00.000Z");
}

#[test]
fn every_day_of_four_centuries_follows_the_calendar() {
    // Days increase by one and the calendar fields stay in range.
    let fields = |day: i64| {
        let s = utc(day * 86_400_000);
        assert!(s.ends_with("T00:00:00.000Z"), "{s}");
        let y: i64 = s[..4].parse().unwrap();
        let m: u32 = s[5..7].parse().unwrap();
        let d: u32 = s[8..10].parse().unwrap();
        (y, m, d)
    };
    let mut prev = fields(-1);
    for day in 0..146_097 * 2 {
        let cur = fields(day);
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
    assert_eq!(rfc3339_millis(t), "2026-11-24T13:45:01.123Z");
    assert_eq!(rfc3339_millis_now().len(), "2026-11-24T13:45:01.123Z".len());
}

#[test]
fn sub_milliseconds_are_truncated_towards_the_epoch() {
    let after = UNIX_EPOCH + Duration::from_micros(1_999);
    assert_eq!(rfc3339_millis(after), "1970-01-01T00:00:00.001Z");
    let before = UNIX_EPOCH - Duration::from_micros(1_500);
    assert_eq!(rfc3339_millis(before), "1969-12-31T23:59:59.999Z");
}

#[test]
fn instants_beyond_year_9999_stay_in_shape() {
    let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
    assert!(
        rfc3339_millis(far).starts_with("9999-12-"),
        "{}",
        rfc3339_millis(far)
    );
    assert!(
        cl_log_stamp(far).starts_with("Dec "),
        "{}",
        cl_log_stamp(far)
    );
}

fn secs(s: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(s)
}

#[test]
fn cl_log_stamps_in_utc() {
    // 2026-11-24 13:45:35 UTC
    assert_eq!(
        cl_log_stamp_in(secs(1_795_527_935), &TimeZone::UTC),
        "Nov 24 13:45:35"
    );
    assert_eq!(cl_log_stamp_in(secs(0), &TimeZone::UTC), "Jan 01 00:00:00");
    // 2024-02-29 23:59:59 UTC
    assert_eq!(
        cl_log_stamp_in(secs(1_709_251_199), &TimeZone::UTC),
        "Feb 29 23:59:59"
    );
    // Sub-seconds are dropped, not rounded.
    let t = UNIX_EPOCH + Duration::from_millis(1_999);
    assert_eq!(cl_log_stamp_in(t, &TimeZone::UTC), "Jan 01 00:00:01");
}

#[test]
fn cl_log_stamps_follow_the_zone_and_its_summer_time() {
    let paris = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap();
    assert_eq!(
        cl_log_stamp_in(secs(1_795_527_935), &paris),
        "Nov 24 14:45:35"
    );
    // 2024-07-01 12:00:00 UTC
    assert_eq!(
        cl_log_stamp_in(secs(1_719_835_200), &paris),
        "Jul 01 14:00:00"
    );
    // The day changes with the zone: 1970-01-01 00:00:00 UTC in New York.
    let new_york = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").unwrap();
    assert_eq!(cl_log_stamp_in(secs(0), &new_york), "Dec 31 19:00:00");
}

#[test]
fn cl_log_stamps_have_their_shape_in_the_system_zone() {
    let ts = cl_log_stamp(secs(1_795_527_935));
    let b = ts.as_bytes();
    assert_eq!(ts.len(), 15, "{ts}");
    for i in [4, 5, 7, 8, 10, 11, 13, 14] {
        assert!(b[i].is_ascii_digit(), "{ts}");
    }
    assert_eq!((b[3], b[6], b[9], b[12]), (b' ', b' ', b':', b':'));
}

#[test]
fn cl_log_lines_have_heartbeats_shape() {
    let t = secs(1_795_527_935);
    let line = cl_log_line(t, "node1", "heartbeat", 1066, "info", "Link node2:eth0 up.");
    assert_eq!(
        line,
        format!(
            "{} node1 heartbeat: [1066]: info: Link node2:eth0 up.\n",
            cl_log_stamp(t)
        )
    );
}
