//! The operator commands of heartbeat-rs — `cl_status`, `hb_standby`, `hb_takeover` and
//! `hb_cleanup` — as clients of the daemon's control socket (docs/control.md, docs/tools.md).
//!
//! The protocol and the status tree are hb-control's; this library holds the client
//! ([`client`]), the options the tools share ([`opts`]), what the tools read from the status
//! beyond its fields ([`view`]), and each command as a function from its arguments to an
//! [`Outcome`]; the binaries only print it. [`cli`] describes the four command lines for
//! their manual pages and shell completions.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cl_status;
pub mod cleanup;
pub mod cli;
pub mod client;
pub mod cllog;
pub mod opts;
pub mod standby;
pub mod view;

use std::io::Write;
use std::time::Duration;

/// What a command printed and its exit code.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Text for stdout.
    pub stdout: String,
    /// Text for stderr.
    pub stderr: String,
    /// The exit status.
    pub code: u8,
}

impl Outcome {
    /// Writes the output and returns the exit code for `main`.
    pub fn emit(self) -> std::process::ExitCode {
        // A closed stdout (e.g. `| head`) must not turn into a panic; the exit code stands.
        let _ = std::io::stdout().write_all(self.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(self.stderr.as_bytes());
        std::process::ExitCode::from(self.code)
    }
}

/// The arguments after the program name, as strings (invalid UTF-8 is replaced).
#[must_use]
pub fn args() -> (String, Vec<String>) {
    let mut it = std::env::args_os().map(|a| a.to_string_lossy().into_owned());
    let argv0 = it.next().unwrap_or_default();
    (argv0, it.collect())
}

/// Parses a positive number of seconds below 10⁹ (`5`, `0.5`): hb-time's
/// [`SECONDS`](hb_time::Dialect::SECONDS) dialect.
#[must_use]
pub fn parse_seconds(s: &str) -> Option<Duration> {
    hb_time::parse_duration(s, &hb_time::Dialect::SECONDS).ok()
}

/// The last component of a program path, for error messages.
#[must_use]
pub fn prog_name(argv0: &str, default: &str) -> String {
    std::path::Path::new(argv0)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| default.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names() {
        assert_eq!(
            prog_name("/usr/share/heartbeat/hb_standby", "x"),
            "hb_standby"
        );
        assert_eq!(prog_name("", "hb_takeover"), "hb_takeover");
    }
}
