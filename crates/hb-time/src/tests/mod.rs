//! The parser's tests, one file per preset dialect (each the tests of the parser it
//! replaces), and the properties that tie the formatter to the parser.

use std::time::Duration;

use crate::{Dialect, DurationError, ErrorKind, parse_duration};

mod formatting;
mod ha_cf;
mod ha_cf_lenient;
mod ocf;
mod parameter;
mod seconds;

/// What went wrong, and with which (trimmed) text.
fn failure(r: Result<Duration, DurationError>) -> Option<(ErrorKind, String)> {
    r.err().map(|e| (e.kind(), e.text().to_owned()))
}

/// `text` in `dialect`, as whole milliseconds.
fn millis(text: &str, dialect: &Dialect) -> u128 {
    parse_duration(text, dialect).unwrap().as_millis()
}
