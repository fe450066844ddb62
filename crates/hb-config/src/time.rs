//! Heartbeat's time syntax: `2` or `0.5` (seconds), `500ms`/`500msec`, `1500us`/`1500usec`.
//!
//! Like Heartbeat 3.0.6 the value is rounded to whole milliseconds (half up: `499us` is 0 ms,
//! `501us` is 1 ms). Units are case-insensitive; there is no `s` suffix (Heartbeat rejects
//! `2s`, and so do we, so a file keeps one meaning in both).

use std::time::Duration;

/// Largest accepted time, in milliseconds (about 49.7 days).
pub const MAX_MILLIS: u64 = u32::MAX as u64;

/// Why a time value was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// Not a number with an optional `ms`/`us` unit.
    #[error("'{0}' is not a time (expected seconds such as 2 or 0.5, or 500ms)")]
    Syntax(String),
    /// More than [`MAX_MILLIS`] milliseconds.
    #[error("time '{0}' is too large")]
    TooLarge(String),
}

const NANOS_PER_MILLI: u128 = 1_000_000;

/// Parses a Heartbeat time value (see the module documentation).
///
/// # Errors
/// [`TimeError::Syntax`] for anything that is not `DIGITS[.DIGITS][ms|msec|us|usec]`,
/// [`TimeError::TooLarge`] above [`MAX_MILLIS`].
pub fn parse_time(text: &str) -> Result<Duration, TimeError> {
    let s = text.trim();
    let syntax = || TimeError::Syntax(s.to_owned());
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit_nanos: u128 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" => 1_000_000_000,
        "ms" | "msec" => 1_000_000,
        "us" | "usec" => 1_000,
        _ => return Err(syntax()),
    };
    let (int_part, frac_part) = match number.split_once('.') {
        Some((i, f)) => (i, f),
        None => (number, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(syntax());
    }
    // Leading zeros are harmless; more than 15 significant integer digits is always too large.
    let int_digits = int_part.trim_start_matches('0');
    if int_digits.len() > 15 {
        return Err(TimeError::TooLarge(s.to_owned()));
    }
    let int_value: u128 = if int_digits.is_empty() {
        0
    } else {
        int_digits.parse().map_err(|_| syntax())?
    };
    // Digits beyond the 18th cannot change the rounded millisecond for any unit.
    let frac_digits = &frac_part[..frac_part.len().min(18)];
    let frac_value: u128 = if frac_digits.is_empty() {
        0
    } else {
        frac_digits.parse().map_err(|_| syntax())?
    };
    let frac_scale = 10u128.pow(u32::try_from(frac_digits.len()).unwrap_or(18));
    let nanos = int_value * unit_nanos + frac_value * unit_nanos / frac_scale;
    let millis = (nanos + NANOS_PER_MILLI / 2) / NANOS_PER_MILLI;
    let millis = u64::try_from(millis)
        .ok()
        .filter(|&m| m <= MAX_MILLIS)
        .ok_or_else(|| TimeError::TooLarge(s.to_owned()))?;
    Ok(Duration::from_millis(millis))
}

/// Formats a duration the way our messages show times: whole milliseconds, `1500ms`.
pub(crate) fn ms(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn millis(s: &str) -> u128 {
        parse_time(s).unwrap().as_millis()
    }

    #[test]
    fn plain_numbers_are_seconds() {
        assert_eq!(millis("1"), 1000);
        assert_eq!(millis("30"), 30_000);
        assert_eq!(millis("007"), 7000);
        assert_eq!(millis("0"), 0);
    }

    #[test]
    fn decimals_are_accepted_and_rounded_to_milliseconds() {
        assert_eq!(millis("0.5"), 500);
        assert_eq!(millis("1.7"), 1700);
        assert_eq!(millis(".25"), 250);
        assert_eq!(millis("2."), 2000);
        assert_eq!(millis("0.001"), 1);
        assert_eq!(millis("0.0004"), 0);
        assert_eq!(millis("0.0005"), 1);
    }

    #[test]
    fn millisecond_and_microsecond_units_case_insensitive() {
        assert_eq!(millis("500ms"), 500);
        assert_eq!(millis("1500MS"), 1500);
        assert_eq!(millis("250msec"), 250);
        assert_eq!(millis("1000000us"), 1000);
        assert_eq!(millis("499us"), 0);
        assert_eq!(millis("501us"), 1);
        assert_eq!(millis("1500usec"), 2);
        assert_eq!(millis("1.5ms"), 2);
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
                parse_time(bad),
                Err(TimeError::Syntax(bad.trim().to_owned())),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn huge_values_are_rejected_not_wrapped() {
        assert!(matches!(parse_time("4294968"), Err(TimeError::TooLarge(_))));
        assert!(matches!(
            parse_time("99999999999999999999999999"),
            Err(TimeError::TooLarge(_))
        ));
        assert_eq!(millis("4294967295ms"), 4_294_967_295);
        assert!(matches!(
            parse_time("4294967296ms"),
            Err(TimeError::TooLarge(_))
        ));
    }

    #[test]
    fn error_message_names_the_value() {
        assert_eq!(
            parse_time("2s").unwrap_err().to_string(),
            "'2s' is not a time (expected seconds such as 2 or 0.5, or 500ms)"
        );
    }
}
