//! [`Dialect::HA_CF_LENIENT`]: `ha.cf` values as cl_status reads them back (these were
//! `hb_tools::status::parse_ms`'s tests).

use super::*;
use proptest::prelude::*;

const D: &Dialect = &Dialect::HA_CF_LENIENT;

fn parse_ms(s: &str) -> Option<u64> {
    parse_duration(s, D)
        .ok()
        .and_then(|d| u64::try_from(d.as_millis()).ok())
}

#[test]
fn times_parse_like_heartbeat() {
    assert_eq!(parse_ms("4"), Some(4000));
    assert_eq!(parse_ms("300ms"), Some(300));
    assert_eq!(parse_ms("1.5"), Some(1500));
    assert_eq!(parse_ms("2s"), Some(2000));
    assert_eq!(parse_ms("500000us"), Some(500));
    assert_eq!(parse_ms("soon"), None);
    assert_eq!(parse_ms("4 fortnights"), None);
    assert_eq!(parse_ms(""), None);
}

#[test]
fn rounds_down_without_floating_point_artefacts() {
    assert_eq!(parse_ms("1500usec"), Some(1));
    assert_eq!(parse_ms("0.9999"), Some(999));
    // 1.001 × 1000 is 1000.999… in floating point.
    assert_eq!(parse_ms("1.001"), Some(1001));
    assert_eq!(parse_ms("2 SEC"), Some(2000));
    assert_eq!(parse_ms("5."), Some(5000));
    assert_eq!(parse_ms("18446744073709551615ms"), Some(u64::MAX));
    assert_eq!(parse_ms("18446744073709551616ms"), None);
}

/// The reader this dialect replaced: a floating-point number of seconds with a unit,
/// rounded down. Kept as the reference for which texts are accepted.
fn float_reference(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" => 1000.0,
        "ms" | "msec" => 1.0,
        "us" | "usec" => 0.001,
        _ => return None,
    };
    Some((num * factor).floor())
}

proptest! {
    #[test]
    fn accepts_what_the_floating_point_reader_accepted(
        s in r"[ ]?[0-9]{0,7}\.?[0-9]{0,7}[ ]?(|s|sec|ms|MSEC|us|Usec|x|e3|\.|-)[ ]?"
    ) {
        let old = float_reference(&s);
        let new = parse_ms(&s);
        prop_assert_eq!(old.is_some(), new.is_some(), "{:?}: {:?} vs {:?}", s, old, new);
        if let (Some(old), Some(new)) = (old, new) {
            // The same but for floating-point rounding just below a whole millisecond.
            let new = new as f64;
            prop_assert!(new == old || new == old + 1.0, "{:?}: {} vs {}", s, old, new);
        }
    }
}
