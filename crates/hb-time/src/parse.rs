//! The one duration parser.

use std::time::Duration;

use crate::dialect::{Dialect, Rounding, Scale, Wording};

/// What was wrong with a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Not the dialect's syntax (empty text included).
    Syntax,
    /// Longer than the dialect's [`max`](Dialect::max).
    TooLarge,
    /// Zero once rounded, in a dialect that wants more.
    NotPositive,
}

/// Why a duration was rejected: what was wrong, with the text as given (trimmed), displayed
/// in its dialect's [`Wording`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
#[error("{}", self.message())]
pub struct DurationError {
    kind: ErrorKind,
    text: String,
    wording: Wording,
}

impl DurationError {
    /// What was wrong.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The rejected text, without its surrounding blanks.
    #[must_use]
    pub fn text(&self) -> &str {
        &self.text
    }

    fn message(&self) -> String {
        let t = &self.text;
        match (self.wording, self.kind) {
            (Wording::HaCf, ErrorKind::Syntax) => {
                format!("'{t}' is not a time (expected seconds such as 2 or 0.5, or 500ms)")
            }
            (Wording::HaCf, ErrorKind::TooLarge) => format!("time '{t}' is too large"),
            (Wording::HaCf, ErrorKind::NotPositive) => {
                format!("time '{t}' must be more than zero")
            }
            (Wording::Parameter, ErrorKind::Syntax) if t.is_empty() => "empty duration".into(),
            (Wording::Parameter, ErrorKind::Syntax) => {
                format!("invalid duration '{t}': expected seconds (2, 0.5) or milliseconds (500ms)")
            }
            (Wording::Parameter, ErrorKind::TooLarge) => {
                format!("duration '{t}' is longer than one day")
            }
            (Wording::Parameter, ErrorKind::NotPositive) => {
                format!("duration '{t}' must be more than zero")
            }
            (Wording::Seconds, ErrorKind::Syntax) => format!("'{t}' is not a number of seconds"),
            (Wording::Seconds, ErrorKind::TooLarge) => format!("'{t}' seconds is too long"),
            (Wording::Seconds, ErrorKind::NotPositive) => {
                format!("'{t}' is not more than zero seconds")
            }
            (Wording::Ocf, ErrorKind::Syntax) => {
                format!("'{t}' is not an OCF time (such as 20, 20s, 500ms, 2min or 1h)")
            }
            (Wording::Ocf, ErrorKind::TooLarge) => format!("OCF time '{t}' is too large"),
            (Wording::Ocf, ErrorKind::NotPositive) => {
                format!("OCF time '{t}' is not more than zero")
            }
        }
    }
}

/// Parses `text` in `dialect` (see [`Dialect`] and its presets).
///
/// The written value is exact (no floating point); it is then rounded as
/// [`Dialect::rounding`] says and checked against [`Dialect::zero`] and [`Dialect::max`].
///
/// # Errors
/// [`ErrorKind::Syntax`] for anything outside the dialect's syntax, empty text included,
/// [`ErrorKind::TooLarge`] above [`Dialect::max`], [`ErrorKind::NotPositive`] for a zero
/// duration where [`Dialect::zero`] is false. Syntax is checked before size.
pub fn parse_duration(text: &str, dialect: &Dialect) -> Result<Duration, DurationError> {
    let s = text.trim();
    let error = |kind| DurationError {
        kind,
        text: s.to_owned(),
        wording: dialect.wording,
    };
    let number = Number::scan(s, dialect).ok_or_else(|| error(ErrorKind::Syntax))?;
    let rest = &s[number.len..];
    let suffix = if dialect.blank_before_unit {
        rest.trim_start()
    } else {
        rest
    };
    let unit = dialect
        .units
        .iter()
        .find(|u| {
            if dialect.units_ignore_case {
                u.suffix.eq_ignore_ascii_case(suffix)
            } else {
                u.suffix == suffix
            }
        })
        .ok_or_else(|| error(ErrorKind::Syntax))?;
    if number.point && !unit.fraction {
        return Err(error(ErrorKind::Syntax));
    }
    if dialect
        .max_fraction_digits
        .is_some_and(|max| number.frac.len() > max)
    {
        return Err(error(ErrorKind::Syntax));
    }
    let (floor, half) = number
        .nanos(unit.scale)
        .ok_or_else(|| error(ErrorKind::TooLarge))?;
    const NANOS_PER_MILLI: u128 = 1_000_000;
    // Rounding from the whole nanoseconds below the value gives the same milliseconds as
    // rounding the exact value: a millisecond boundary is a whole number of nanoseconds.
    let nanos = match dialect.rounding {
        Rounding::NanoHalfUp => floor + u128::from(half),
        Rounding::MilliHalfUp => (floor + NANOS_PER_MILLI / 2) / NANOS_PER_MILLI * NANOS_PER_MILLI,
        Rounding::MilliDown => floor / NANOS_PER_MILLI * NANOS_PER_MILLI,
    };
    if nanos > dialect.max.as_nanos() {
        return Err(error(ErrorKind::TooLarge));
    }
    if nanos == 0 && !dialect.zero {
        return Err(error(ErrorKind::NotPositive));
    }
    const NANOS_PER_SEC: u128 = 1_000_000_000;
    let secs = u64::try_from(nanos / NANOS_PER_SEC).map_err(|_| error(ErrorKind::TooLarge))?;
    // Below one second, so it fits.
    let sub = (nanos % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, sub))
}

/// Above any bound a [`Duration`] can reach: 10²⁷ ns is 3·10¹⁰ years.
const MAX_NANO_DIGITS: i64 = 27;

/// The number at the start of a text, as written.
#[derive(Debug)]
struct Number<'a> {
    /// Digits before the point.
    int: &'a str,
    /// Digits after the point.
    frac: &'a str,
    /// Whether there was a point.
    point: bool,
    /// The decimal exponent (saturated far beyond any meaningful value).
    exp: i64,
    /// Bytes of text taken by the number.
    len: usize,
}

impl<'a> Number<'a> {
    /// The number that starts `s`, or `None` if the syntax is wrong there.
    fn scan(s: &'a str, dialect: &Dialect) -> Option<Number<'a>> {
        let b = s.as_bytes();
        let digits_from = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        let mut i = usize::from(dialect.plus_sign && b.first() == Some(&b'+'));
        let int_end = digits_from(i);
        let int = &s[i..int_end];
        i = int_end;
        let point = b.get(i) == Some(&b'.');
        let mut frac = "";
        if point {
            let frac_end = digits_from(i + 1);
            frac = &s[i + 1..frac_end];
            i = frac_end;
        }
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        if point && frac.is_empty() && !dialect.trailing_point {
            return None;
        }
        let mut exp = 0i64;
        if dialect.exponent && matches!(b.get(i), Some(b'e' | b'E')) {
            let mut j = i + 1;
            let negative = b.get(j) == Some(&b'-');
            if matches!(b.get(j), Some(b'-' | b'+')) {
                j += 1;
            }
            let end = digits_from(j);
            if end == j {
                return None;
            }
            for d in s[j..end].bytes() {
                exp = (exp * 10 + i64::from(d - b'0')).min(1_000_000_000_000);
            }
            if negative {
                exp = -exp;
            }
            i = end;
        }
        Some(Number {
            int,
            frac,
            point,
            exp,
            len: i,
        })
    }

    /// The value in `scale`, as whole nanoseconds below it and whether the rest is at least
    /// half a nanosecond; `None` if it has more than [`MAX_NANO_DIGITS`] integer digits.
    fn nanos(&self, scale: Scale) -> Option<(u128, bool)> {
        let (multiplier, exponent) = scale.nanos_factor();
        let mut digits: Vec<u8> = self
            .int
            .bytes()
            .chain(self.frac.bytes())
            .skip_while(|&d| d == b'0')
            .map(|d| d - b'0')
            .collect();
        // value = DIGITS × multiplier × 10^exponent: multiply the decimal digits exactly.
        if multiplier != 1 {
            let mut carry = 0u16;
            for d in digits.iter_mut().rev() {
                let v = u16::from(*d) * u16::from(multiplier) + carry;
                *d = (v % 10) as u8;
                carry = v / 10;
            }
            while carry > 0 {
                digits.insert(0, (carry % 10) as u8);
                carry /= 10;
            }
        }
        let Some(&first) = digits.first() else {
            return Some((0, false));
        };
        let count = i64::try_from(digits.len()).ok()?;
        let frac_len = i64::try_from(self.frac.len()).ok()?;
        // value = DIGITS × 10^shift nanoseconds.
        let shift = exponent + self.exp - frac_len;
        let int_digits = count + shift;
        if int_digits > MAX_NANO_DIGITS {
            return None;
        }
        let value = |ds: &[u8]| ds.iter().fold(0u128, |v, &d| v * 10 + u128::from(d));
        if shift >= 0 {
            // At most MAX_NANO_DIGITS digits in all: fits.
            let scale = 10u128.pow(u32::try_from(shift).ok()?);
            return Some((value(&digits) * scale, false));
        }
        if int_digits <= 0 {
            return Some((0, int_digits == 0 && first >= 5));
        }
        let split = usize::try_from(int_digits).ok()?;
        Some((value(&digits[..split]), digits[split] >= 5))
    }
}
