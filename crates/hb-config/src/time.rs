//! Heartbeat's time syntax, `2` or `0.5` (seconds), `500ms`/`500msec`, `1500us`/`1500usec`:
//! hb-time's [`Dialect::HA_CF`] (rounded to whole milliseconds, halves up; no `s` suffix,
//! which Heartbeat rejects too).

use std::time::Duration;

use hb_time::{Dialect, MillisStyle};

/// Largest accepted time, in milliseconds (about 49.7 days).
pub const MAX_MILLIS: u64 = u32::MAX as u64;

/// Why a time value was rejected (hb-time's error, in `ha.cf`'s wording).
pub type TimeError = hb_time::DurationError;

/// Parses a Heartbeat time value (see the module documentation).
///
/// # Errors
/// A [`TimeError`] of kind `Syntax` for anything that is not
/// `DIGITS[.DIGITS][ms|msec|us|usec]`, `TooLarge` above [`MAX_MILLIS`].
pub fn parse_time(text: &str) -> Result<Duration, TimeError> {
    hb_time::parse_duration(text, &Dialect::HA_CF)
}

/// Formats a duration as `ha.cf` values and our messages show times: whole milliseconds,
/// `1500ms`.
pub(crate) fn ms(d: Duration) -> String {
    hb_time::format_millis(d, MillisStyle::Value)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The syntax itself is tested in hb-time (`Dialect::HA_CF`); these pin what this crate
    // promises on top.
    #[test]
    fn the_bound_is_hb_times() {
        assert_eq!(Duration::from_millis(MAX_MILLIS), Dialect::HA_CF.max);
        assert_eq!(
            parse_time("4294967295ms"),
            Ok(Duration::from_millis(MAX_MILLIS))
        );
    }

    #[test]
    fn errors_and_formatting_are_ha_cfs() {
        assert_eq!(
            parse_time("2s").unwrap_err().to_string(),
            "'2s' is not a time (expected seconds such as 2 or 0.5, or 500ms)"
        );
        assert_eq!(ms(Duration::from_millis(1500)), "1500ms");
    }
}
