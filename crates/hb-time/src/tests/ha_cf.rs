//! [`Dialect::HA_CF`]: hb-config's `ha.cf` times (these were `hb_config::time`'s tests).

use super::*;

const D: &Dialect = &Dialect::HA_CF;

fn ms(s: &str) -> u128 {
    millis(s, D)
}

fn parse(s: &str) -> Result<Duration, DurationError> {
    parse_duration(s, D)
}

#[test]
fn plain_numbers_are_seconds() {
    assert_eq!(ms("1"), 1000);
    assert_eq!(ms("30"), 30_000);
    assert_eq!(ms("007"), 7000);
    assert_eq!(ms("0"), 0);
}

#[test]
fn decimals_are_accepted_and_rounded_to_milliseconds() {
    assert_eq!(ms("0.5"), 500);
    assert_eq!(ms("1.7"), 1700);
    assert_eq!(ms(".25"), 250);
    assert_eq!(ms("2."), 2000);
    assert_eq!(ms("0.001"), 1);
    assert_eq!(ms("0.0004"), 0);
    assert_eq!(ms("0.0005"), 1);
}

#[test]
fn millisecond_and_microsecond_units_case_insensitive() {
    assert_eq!(ms("500ms"), 500);
    assert_eq!(ms("1500MS"), 1500);
    assert_eq!(ms("250msec"), 250);
    assert_eq!(ms("1000000us"), 1000);
    assert_eq!(ms("499us"), 0);
    assert_eq!(ms("501us"), 1);
    assert_eq!(ms("1500usec"), 2);
    assert_eq!(ms("1.5ms"), 2);
}

#[test]
fn blanks_may_precede_the_unit_and_surround_the_value() {
    assert_eq!(ms("500 ms"), 500);
    assert_eq!(ms(" 2\t"), 2000);
}

#[test]
fn rounding_ignores_digits_beyond_any_precision() {
    assert_eq!(ms("0.00049999999999999999999999"), 0);
    assert_eq!(ms("0.000500000000000000000000001"), 1);
    assert_eq!(ms("1.4999999999999999999999usec"), 0);
    assert_eq!(parse("1.7").unwrap(), Duration::from_millis(1700));
}

#[test]
fn garbage_is_a_syntax_error() {
    for bad in [
        "",
        "ms",
        "x",
        "2s",
        "1.2.3",
        "-1",
        "+1",
        "1 0",
        "1e3",
        "10 minutes",
        ".",
    ] {
        assert_eq!(
            failure(parse(bad)),
            Some((ErrorKind::Syntax, bad.trim().to_owned())),
            "{bad:?}"
        );
    }
}

#[test]
fn huge_values_are_rejected_not_wrapped() {
    let too_large = |s| failure(parse(s)).map(|(k, _)| k) == Some(ErrorKind::TooLarge);
    assert!(too_large("4294968"));
    assert!(too_large("99999999999999999999999999"));
    assert_eq!(ms("4294967295ms"), 4_294_967_295);
    assert_eq!(D.max, Duration::from_millis(4_294_967_295));
    assert!(too_large("4294967296ms"));
    // Compared once rounded.
    assert_eq!(ms("4294967295.4ms"), 4_294_967_295);
    assert!(too_large("4294967295.5ms"));
}

#[test]
fn error_message_names_the_value() {
    assert_eq!(
        parse("2s").unwrap_err().to_string(),
        "'2s' is not a time (expected seconds such as 2 or 0.5, or 500ms)"
    );
    assert_eq!(
        parse("4294968").unwrap_err().to_string(),
        "time '4294968' is too large"
    );
}
