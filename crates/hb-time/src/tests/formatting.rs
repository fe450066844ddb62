//! The formatter, and its round trip through the parser.

use super::*;
use crate::{MillisStyle, format_millis};
use proptest::prelude::*;

#[test]
fn formats_whole_milliseconds() {
    assert_eq!(
        format_millis(Duration::from_millis(1500), MillisStyle::Prose),
        "1500 ms"
    );
    assert_eq!(
        format_millis(Duration::from_millis(1500), MillisStyle::Value),
        "1500ms"
    );
    assert_eq!(
        format_millis(Duration::from_micros(2_999), MillisStyle::Value),
        "2ms"
    );
    assert_eq!(format_millis(Duration::ZERO, MillisStyle::Prose), "0 ms");
}

proptest! {
    #[test]
    fn values_read_back_in_every_dialect_with_milliseconds(ms in 0..=u64::from(u32::MAX)) {
        let d = Duration::from_millis(ms);
        let value = format_millis(d, MillisStyle::Value);
        prop_assert_eq!(parse_duration(&value, &Dialect::HA_CF), Ok(d));
        prop_assert_eq!(parse_duration(&value, &Dialect::HA_CF_LENIENT), Ok(d));
        if d <= Dialect::PARAMETER.max {
            prop_assert_eq!(parse_duration(&value, &Dialect::PARAMETER), Ok(d));
        }
    }

    #[test]
    fn prose_reads_back_where_blanks_may_precede_the_unit(ms in 0..=u64::from(u32::MAX)) {
        let d = Duration::from_millis(ms);
        let prose = format_millis(d, MillisStyle::Prose);
        prop_assert_eq!(parse_duration(&prose, &Dialect::HA_CF), Ok(d));
        prop_assert_eq!(parse_duration(&prose, &Dialect::HA_CF_LENIENT), Ok(d));
    }

    #[test]
    fn parsing_then_formatting_keeps_the_milliseconds(ms in 0..=u64::from(u32::MAX)) {
        let text = format!("{}.{:03}", ms / 1000, ms % 1000);
        let d = parse_duration(&text, &Dialect::HA_CF).unwrap();
        prop_assert_eq!(format_millis(d, MillisStyle::Value), format!("{ms}ms"));
    }
}
