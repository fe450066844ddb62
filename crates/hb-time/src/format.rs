//! The one duration formatter.

use std::time::Duration;

/// How [`format_millis`] writes a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MillisStyle {
    /// `1500ms`: a value in the duration syntax itself, as `ha.cf` parameters are reported;
    /// every preset [`Dialect`](crate::Dialect) with an `ms` unit reads it back.
    Value,
    /// `1500 ms`: in prose, log lines and summaries.
    Prose,
}

/// Formats a duration as whole milliseconds (anything below one millisecond is dropped).
#[must_use]
pub fn format_millis(d: Duration, style: MillisStyle) -> String {
    let ms = d.as_millis();
    match style {
        MillisStyle::Value => format!("{ms}ms"),
        MillisStyle::Prose => format!("{ms} ms"),
    }
}
