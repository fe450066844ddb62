//! Durations as operators write them in agent parameters: like `ha.cf`, a plain number is
//! seconds (`2`, `0.5`) and a number with `ms` is milliseconds (`500ms`); `s` is accepted too
//! (`1.5s`).

use std::time::Duration;

/// The longest duration accepted (one day): anything longer is a typo.
pub const MAX_DURATION: Duration = Duration::from_secs(86_400);

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing but blanks.
    #[error("empty duration")]
    Empty,
    /// Not a number of seconds or milliseconds.
    #[error("invalid duration '{0}': expected seconds (2, 0.5) or milliseconds (500ms)")]
    Invalid(String),
    /// Longer than [`MAX_DURATION`].
    #[error("duration '{0}' is longer than one day")]
    TooLong(String),
}

/// Parses `2`, `0.5`, `2s`, `1.5s` (seconds) or `500ms` (whole milliseconds).
///
/// # Errors
/// [`DurationError`] for anything else, and for durations over one day.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationError::Empty);
    }
    let invalid = || DurationError::Invalid(s.to_owned());
    let d = if let Some(ms) = s.strip_suffix("ms") {
        if ms.is_empty() || !ms.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let n: u64 = ms
            .parse()
            .map_err(|_| DurationError::TooLong(s.to_owned()))?;
        Duration::from_millis(n)
    } else {
        let secs = s.strip_suffix('s').unwrap_or(s);
        parse_decimal_seconds(secs).ok_or_else(invalid)?
    };
    if d > MAX_DURATION {
        return Err(DurationError::TooLong(s.to_owned()));
    }
    Ok(d)
}

/// `12`, `12.5`, `0.001`: at most 9 fractional digits, no sign, no exponent.
fn parse_decimal_seconds(s: &str) -> Option<Duration> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if frac.len() > 9 || (s.contains('.') && frac.is_empty()) {
        return None;
    }
    // Bounded: more than 6 digits of seconds is over the one-day limit anyway.
    if int.len() > 12 {
        return Some(Duration::MAX);
    }
    let secs: u64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos: u32 = 0;
    for (i, b) in frac.bytes().enumerate() {
        nanos += u32::from(b - b'0') * 10u32.pow(8 - i as u32);
    }
    Some(Duration::new(secs, nanos))
}

/// Formats a duration the way the logs and `--dry-run` show it: whole milliseconds.
pub fn format_ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_fractions_and_milliseconds() {
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration(" 0.5 "), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(".25"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("0.000000001"), Ok(Duration::from_nanos(1)));
        assert_eq!(parse_duration("86400"), Ok(MAX_DURATION));
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
            parse_duration("86401"),
            Err(DurationError::TooLong("86401".into()))
        );
        assert!(matches!(
            parse_duration("99999999999999999999999"),
            Err(DurationError::TooLong(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999ms"),
            Err(DurationError::TooLong(_))
        ));
    }

    #[test]
    fn formats_whole_milliseconds() {
        assert_eq!(format_ms(Duration::from_millis(1500)), "1500 ms");
    }
}
