//! [`Dialect::PARAMETER`]: hb-check's agent parameters (these were
//! `hb_check::duration`'s tests).

use super::*;

const D: &Dialect = &Dialect::PARAMETER;

fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    crate::parse_duration(s, D)
}

#[test]
fn seconds_fractions_and_milliseconds() {
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration(" 0.5 "), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration(".25"), Ok(Duration::from_millis(250)));
    assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
    assert_eq!(parse_duration("0.000000001"), Ok(Duration::from_nanos(1)));
    assert_eq!(parse_duration("86400"), Ok(D.max));
    assert_eq!(D.max, Duration::from_secs(86_400));
}

#[test]
fn rejects_garbage_and_huge_values() {
    for bad in [
        "",
        " ",
        "ms",
        "s",
        "-1",
        "+1",
        "1e3",
        "1.",
        ".",
        "1.2.3",
        "5 ms",
        "1.5ms",
        "2m",
        "0x10",
        "1.0000000001",
        "abc",
    ] {
        assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
    }
    assert_eq!(
        failure(parse_duration("86401")),
        Some((ErrorKind::TooLarge, "86401".into()))
    );
    let too_long = |s| failure(parse_duration(s)).map(|(k, _)| k) == Some(ErrorKind::TooLarge);
    assert!(too_long("99999999999999999999999"));
    assert!(too_long("99999999999999999999999ms"));
}

#[test]
fn units_are_lower_case_and_milliseconds_whole() {
    for bad in ["2S", "500MS", "500msec", "500us", "1.0ms", "2 s"] {
        assert_eq!(
            failure(parse_duration(bad)),
            Some((ErrorKind::Syntax, bad.to_owned())),
            "{bad:?}"
        );
    }
    assert_eq!(parse_duration("86400000ms"), Ok(D.max));
}

#[test]
fn messages_are_the_agent_parameters() {
    let message = |s| parse_duration(s).unwrap_err().to_string();
    assert_eq!(message("  "), "empty duration");
    assert_eq!(
        message("2m"),
        "invalid duration '2m': expected seconds (2, 0.5) or milliseconds (500ms)"
    );
    assert_eq!(message("86401"), "duration '86401' is longer than one day");
}
