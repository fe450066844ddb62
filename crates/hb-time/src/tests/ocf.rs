//! [`Dialect::OCF`]: the operation times of OCF meta-data, read by hb-daemon (these were
//! `parse_ocf_time`'s tests in hb-daemon's agents.rs).

use super::*;
use crate::Unit;

const D: &Dialect = &Dialect::OCF;

fn parse_ocf_time(s: &str) -> Option<Duration> {
    parse_duration(s, D).ok()
}

#[test]
fn every_unit_of_ocf_times() {
    let secs = Duration::from_secs;
    for (text, want) in [
        ("20", secs(20)),
        ("20s", secs(20)),
        ("20sec", secs(20)),
        ("20secs", secs(20)),
        ("500ms", Duration::from_millis(500)),
        ("500msec", Duration::from_millis(500)),
        ("2m", secs(120)),
        ("2min", secs(120)),
        ("2mins", secs(120)),
        ("1h", secs(3600)),
        ("3hr", secs(3 * 3600)),
        (" 20 s ", secs(20)),
        ("007", secs(7)),
    ] {
        assert_eq!(parse_ocf_time(text), Some(want), "{text:?}");
    }
}

#[test]
fn what_ocf_times_do_not_accept() {
    for bad in [
        "", "0", "0s", "00", "s", "-1", "+1", "1.5s", "1.", ".5", "1e3", "20S", "2 hours", "20x",
        "1d", "20us",
    ] {
        assert_eq!(parse_ocf_time(bad), None, "{bad:?}");
    }
}

#[test]
fn large_values_stop_at_u64_milliseconds() {
    let max_ms = u64::MAX;
    assert_eq!(
        parse_ocf_time(&format!("{max_ms}ms")),
        Some(Duration::from_millis(max_ms))
    );
    assert_eq!(parse_ocf_time(&format!("{}", u128::from(max_ms) + 1)), None);
    assert_eq!(
        parse_ocf_time(&format!("{}h", max_ms / 3_600_000)),
        Some(Duration::from_millis(max_ms / 3_600_000 * 3_600_000))
    );
    assert_eq!(
        parse_ocf_time(&format!("{}h", max_ms / 3_600_000 + 1)),
        None
    );
    assert_eq!(parse_ocf_time("99999999999999999999999999999999h"), None);
}

#[test]
fn errors_say_what_was_wrong() {
    let message = |s| parse_duration(s, D).unwrap_err().to_string();
    assert_eq!(
        message("soon"),
        "'soon' is not an OCF time (such as 20, 20s, 500ms, 2min or 1h)"
    );
    assert_eq!(message("0min"), "OCF time '0min' is not more than zero");
    assert_eq!(
        message("99999999999999999999999h"),
        "OCF time '99999999999999999999999h' is too large"
    );
}

#[test]
fn minutes_and_hours_keep_fractions_exact_in_dialects_that_allow_them() {
    const FRACTIONAL: &[Unit] = &[
        Unit {
            suffix: "min",
            scale: crate::Scale::Minutes,
            fraction: true,
        },
        Unit {
            suffix: "h",
            scale: crate::Scale::Hours,
            fraction: true,
        },
    ];
    let d = Dialect {
        units: FRACTIONAL,
        max_fraction_digits: None,
        ..Dialect::PARAMETER
    };
    assert_eq!(parse_duration("1.5min", &d), Ok(Duration::from_secs(90)));
    assert_eq!(
        parse_duration("0.001h", &d),
        Ok(Duration::from_millis(3600))
    );
    assert_eq!(
        parse_duration("0.000000000001h", &d),
        Ok(Duration::from_nanos(4))
    );
}
