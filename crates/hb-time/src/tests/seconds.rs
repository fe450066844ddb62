//! [`Dialect::SECONDS`]: the operator tools' `--timeout` (these were
//! `hb_tools::parse_seconds`'s tests).

use super::*;
use proptest::prelude::*;

const D: &Dialect = &Dialect::SECONDS;

fn parse_seconds(s: &str) -> Option<Duration> {
    parse_duration(s, D).ok()
}

#[test]
fn seconds_parse() {
    assert_eq!(parse_seconds("5"), Some(Duration::from_secs(5)));
    assert_eq!(parse_seconds("0.25"), Some(Duration::from_millis(250)));
    for bad in ["0", "-1", "nan", "inf", "", "1e20", "5s"] {
        assert_eq!(parse_seconds(bad), None, "{bad}");
    }
}

#[test]
fn floating_point_spellings_are_accepted() {
    assert_eq!(parse_seconds("+5"), Some(Duration::from_secs(5)));
    assert_eq!(parse_seconds("5."), Some(Duration::from_secs(5)));
    assert_eq!(parse_seconds("1e3"), Some(Duration::from_secs(1000)));
    assert_eq!(parse_seconds("2.5E-1"), Some(Duration::from_millis(250)));
    assert_eq!(parse_seconds("1.e1"), Some(Duration::from_secs(10)));
    assert_eq!(parse_seconds("0.000000001"), Some(Duration::from_nanos(1)));
    assert_eq!(
        parse_seconds("999999999.999999999"),
        Some(Duration::new(999_999_999, 999_999_999))
    );
    for bad in [
        "1e",
        "e3",
        ".e3",
        "1e+",
        "++1",
        "+-1",
        " 5 s",
        "1000000000",
        "0e5",
        "1e-10",
    ] {
        assert_eq!(parse_seconds(bad), None, "{bad}");
    }
}

#[test]
fn errors_say_what_was_wrong() {
    let message = |s| parse_duration(s, D).unwrap_err().to_string();
    assert_eq!(message("soon"), "'soon' is not a number of seconds");
    assert_eq!(message("1e9"), "'1e9' seconds is too long");
    assert_eq!(message("0"), "'0' is not more than zero seconds");
}

/// The reader this dialect replaced: a positive floating-point number below 10⁹. Kept as
/// the reference for which texts are accepted.
fn float_reference(s: &str) -> Option<Duration> {
    let v: f64 = s.trim().parse().ok()?;
    (v.is_finite() && v > 0.0 && v < 1e9).then(|| Duration::from_secs_f64(v))
}

proptest! {
    #[test]
    fn accepts_what_the_floating_point_reader_accepted(
        s in r"[ ]?[+-]?[0-9]{0,6}\.?[0-9]{0,6}([eE][+-]?[0-9]{0,2})?(|s|x|\.|inf|nan)[ ]?"
    ) {
        let old = float_reference(&s);
        let new = parse_seconds(&s);
        // Below half a nanosecond, the float was positive but its duration zero.
        if old != Some(Duration::ZERO) {
            prop_assert_eq!(old.is_some(), new.is_some(), "{:?}: {:?} vs {:?}", s, old, new);
        }
        if let (Some(old), Some(new)) = (old, new) {
            // Equal but for the float's own precision (about 16 significant digits).
            let (a, b) = (old.as_nanos(), new.as_nanos());
            prop_assert!(a.abs_diff(b) <= 1 + b / 1_000_000_000_000_000, "{:?}: {:?} vs {:?}", s, old, new);
        }
    }
}
