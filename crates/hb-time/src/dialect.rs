//! The options of the duration grammar, and one preset per kind of input.
//!
//! The grammar itself (see [`parse_duration`](crate::parse_duration)) is, after trimming
//! blanks at both ends:
//!
//! ```text
//! [+] DIGITS [. [DIGITS]] [e|E [+|-] DIGITS] [blanks] [UNIT]
//! [+]        . DIGITS     [e|E [+|-] DIGITS] [blanks] [UNIT]
//! ```
//!
//! where the sign, the exponent, the trailing point (`2.`), the blanks and every unit are
//! each allowed or not by the [`Dialect`].

use std::time::Duration;

/// What one unit of a number is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scale {
    /// Seconds.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Microseconds.
    Micros,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
}

impl Scale {
    /// One unit in nanoseconds, as `multiplier × 10^exponent`.
    pub(crate) const fn nanos_factor(self) -> (u8, i64) {
        match self {
            Scale::Seconds => (1, 9),
            Scale::Millis => (1, 6),
            Scale::Micros => (1, 3),
            Scale::Minutes => (6, 10),
            Scale::Hours => (36, 11),
        }
    }
}

/// One accepted unit suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unit {
    /// The suffix as written after the number; `""` is a bare number.
    pub suffix: &'static str,
    /// What one unit is worth.
    pub scale: Scale,
    /// Whether the number may have a decimal point with this unit (`1.5ms`).
    pub fraction: bool,
}

impl Unit {
    const fn new(suffix: &'static str, scale: Scale) -> Unit {
        Unit {
            suffix,
            scale,
            fraction: true,
        }
    }
}

/// How the exact written value becomes a [`Duration`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rounding {
    /// To the nearest whole millisecond, halves up (`499us` is 0 ms, `500us` is 1 ms), as
    /// Heartbeat 3.0.6 reads `ha.cf`.
    MilliHalfUp,
    /// Down to a whole millisecond (`1500us` is 1 ms).
    MilliDown,
    /// To the nearest nanosecond, halves up: the resolution of [`Duration`] itself.
    NanoHalfUp,
}

/// Which texts a [`DurationError`](crate::DurationError) displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Wording {
    /// `ha.cf`'s: `'2s' is not a time (expected seconds such as 2 or 0.5, or 500ms)`,
    /// `time '…' is too large`.
    HaCf,
    /// Agent parameters': `empty duration`, `invalid duration '…': expected seconds (2, 0.5)
    /// or milliseconds (500ms)`, `duration '…' is longer than one day` (the bound of
    /// [`Dialect::PARAMETER`]).
    Parameter,
    /// A plain number of seconds: `'…' is not a number of seconds`, `'…' seconds is too
    /// long`, `'…' is not more than zero seconds`.
    Seconds,
    /// OCF meta-data times: `'…' is not an OCF time (such as 20, 20s, 500ms, 2min or 1h)`,
    /// `OCF time '…' is too large`, `OCF time '…' is not more than zero`.
    Ocf,
}

/// The options of the one duration grammar: what one kind of input accepts, how it rounds
/// and where it stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dialect {
    /// The accepted units. A bare number is accepted only if one of them has the suffix `""`.
    pub units: &'static [Unit],
    /// Whether unit suffixes are compared without regard to ASCII case (`500MS`).
    pub units_ignore_case: bool,
    /// Whether blanks may separate the number from its unit (`500 ms`).
    pub blank_before_unit: bool,
    /// Whether the number may start with `+`.
    pub plus_sign: bool,
    /// Whether the number may have a decimal exponent (`1e3`, `2.5E-1`).
    pub exponent: bool,
    /// Whether a point may end the number (`2.`); `.5` is always accepted.
    pub trailing_point: bool,
    /// At most this many digits after the point, if limited.
    pub max_fraction_digits: Option<usize>,
    /// How the exact value is rounded.
    pub rounding: Rounding,
    /// Whether a duration that is zero once rounded is accepted.
    pub zero: bool,
    /// The longest accepted duration (inclusive), compared once rounded.
    pub max: Duration,
    /// The texts of the errors.
    pub wording: Wording,
}

const HA_CF_UNITS: &[Unit] = &[
    Unit::new("", Scale::Seconds),
    Unit::new("ms", Scale::Millis),
    Unit::new("msec", Scale::Millis),
    Unit::new("us", Scale::Micros),
    Unit::new("usec", Scale::Micros),
];

const HA_CF_LENIENT_UNITS: &[Unit] = &[
    Unit::new("", Scale::Seconds),
    Unit::new("s", Scale::Seconds),
    Unit::new("sec", Scale::Seconds),
    Unit::new("ms", Scale::Millis),
    Unit::new("msec", Scale::Millis),
    Unit::new("us", Scale::Micros),
    Unit::new("usec", Scale::Micros),
];

const PARAMETER_UNITS: &[Unit] = &[
    Unit::new("", Scale::Seconds),
    Unit::new("s", Scale::Seconds),
    Unit {
        suffix: "ms",
        scale: Scale::Millis,
        fraction: false,
    },
];

const SECONDS_UNITS: &[Unit] = &[Unit::new("", Scale::Seconds)];

/// A unit of a whole number only.
const fn whole(suffix: &'static str, scale: Scale) -> Unit {
    Unit {
        suffix,
        scale,
        fraction: false,
    }
}

const OCF_UNITS: &[Unit] = &[
    whole("", Scale::Seconds),
    whole("s", Scale::Seconds),
    whole("sec", Scale::Seconds),
    whole("secs", Scale::Seconds),
    whole("ms", Scale::Millis),
    whole("msec", Scale::Millis),
    whole("m", Scale::Minutes),
    whole("min", Scale::Minutes),
    whole("mins", Scale::Minutes),
    whole("h", Scale::Hours),
    whole("hr", Scale::Hours),
];

impl Dialect {
    /// Heartbeat 3.0.6's `ha.cf` times (hb-config: `keepalive`, `deadtime`, `monitor`
    /// settings...): `2` or `0.5` seconds, `500ms`/`500msec`, `1500us`/`1500usec`, units in
    /// any case and possibly after blanks. There is no `s` suffix (Heartbeat rejects `2s`, and
    /// so do we, so a file keeps one meaning in both). Rounded to whole milliseconds, halves
    /// up; at most `u32::MAX` milliseconds (about 49.7 days).
    pub const HA_CF: Dialect = Dialect {
        units: HA_CF_UNITS,
        units_ignore_case: true,
        blank_before_unit: true,
        plus_sign: false,
        exponent: false,
        trailing_point: true,
        max_fraction_digits: None,
        rounding: Rounding::MilliHalfUp,
        zero: true,
        max: Duration::from_millis(u32::MAX as u64),
        wording: Wording::HaCf,
    };

    /// `ha.cf` values read back by a client (cl_status's `test` reads `deadtime` and
    /// `keepalive` from the daemon's parameters): the [`HA_CF`](Self::HA_CF) syntax plus the
    /// `s`/`sec` units, rounded down to whole milliseconds, up to `u64::MAX` milliseconds.
    pub const HA_CF_LENIENT: Dialect = Dialect {
        units: HA_CF_LENIENT_UNITS,
        rounding: Rounding::MilliDown,
        max: Duration::from_millis(u64::MAX),
        ..Dialect::HA_CF
    };

    /// Agent and tool parameters (hb-check's `--interval`, `--connect-timeout`...): `2`, `0.5`,
    /// `2s` or `1.5s` seconds with at most 9 decimals, or a whole number of milliseconds
    /// `500ms`; units in lower case right after the number, no trailing point. Exact to the
    /// nanosecond; at most one day.
    pub const PARAMETER: Dialect = Dialect {
        units: PARAMETER_UNITS,
        units_ignore_case: false,
        blank_before_unit: false,
        plus_sign: false,
        exponent: false,
        trailing_point: false,
        max_fraction_digits: Some(9),
        rounding: Rounding::NanoHalfUp,
        zero: true,
        max: Duration::from_secs(86_400),
        wording: Wording::Parameter,
    };

    /// A plain number of seconds as the operator tools read `--timeout` (`5`, `0.25`): no
    /// unit, and what a floating-point reader accepts besides (`+5`, `5.`, `1e3`). Rounded to
    /// the nanosecond; more than zero and less than 10⁹ seconds.
    pub const SECONDS: Dialect = Dialect {
        units: SECONDS_UNITS,
        units_ignore_case: false,
        blank_before_unit: false,
        plus_sign: true,
        exponent: true,
        trailing_point: true,
        max_fraction_digits: None,
        rounding: Rounding::NanoHalfUp,
        zero: false,
        max: Duration::new(999_999_999, 999_999_999),
        wording: Wording::Seconds,
    };

    /// OCF and Pacemaker operation times, as resource agents write them in their meta-data
    /// (`<action name="start" timeout="20s"/>`; hb-daemon reads them): a whole number, bare
    /// or with `s`, `sec`, `secs` (seconds), `ms`, `msec`, `m`, `min`, `mins` or `h`, `hr`,
    /// in lower case, possibly after blanks (`20 s`). No fraction, sign or exponent; more than
    /// zero; at most `u64::MAX` milliseconds.
    pub const OCF: Dialect = Dialect {
        units: OCF_UNITS,
        units_ignore_case: false,
        blank_before_unit: true,
        plus_sign: false,
        exponent: false,
        trailing_point: false,
        max_fraction_digits: None,
        rounding: Rounding::MilliDown,
        zero: false,
        max: Duration::from_millis(u64::MAX),
        wording: Wording::Ocf,
    };
}
