//! Diagnostics: every problem found in a configuration file, with its file and line.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem (error or warning) found in a configuration file.
///
/// Displays as `file:line: message`, or `file: message` when the problem belongs to the file
/// as a whole (a missing directive, bad permissions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file the problem was found in, as given to the parser.
    pub file: PathBuf,
    /// 1-based line number, when the problem belongs to one line.
    pub line: Option<usize>,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic for `file`, optionally pinned to `line`.
    pub fn new(file: impl Into<PathBuf>, line: Option<usize>, message: impl Into<String>) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.message),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Every error found while reading a configuration (all three files, not just the first
/// problem). Displays one diagnostic per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A successfully parsed value plus the warnings found on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    /// The validated value.
    pub value: T,
    /// Problems that did not prevent parsing (deprecated or ignored directives, risky values).
    pub warnings: Vec<Diagnostic>,
}

/// Collects errors and warnings for one file while it is parsed.
#[derive(Debug)]
pub(crate) struct Diags {
    file: PathBuf,
    pub(crate) errors: Vec<Diagnostic>,
    pub(crate) warnings: Vec<Diagnostic>,
}

impl Diags {
    pub(crate) fn new(file: &Path) -> Self {
        Diags {
            file: file.to_path_buf(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.errors
            .push(Diagnostic::new(self.file.clone(), line, message));
    }

    pub(crate) fn warn(&mut self, line: Option<usize>, message: impl Into<String>) {
        self.warnings
            .push(Diagnostic::new(self.file.clone(), line, message));
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Ok(Parsed)` when no error was recorded, else every error.
    pub(crate) fn finish<T>(self, value: Option<T>) -> Result<Parsed<T>, ConfigErrors> {
        match value {
            Some(value) if self.errors.is_empty() => Ok(Parsed {
                value,
                warnings: self.warnings,
            }),
            _ => {
                let mut errors = self.errors;
                if errors.is_empty() {
                    errors.push(Diagnostic::new(self.file, None, "could not be parsed"));
                }
                Err(ConfigErrors(errors))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostic_displays_file_line_and_message() {
        let d = Diagnostic::new("ha.cf", Some(3), "unknown directive 'x'");
        assert_eq!(d.to_string(), "ha.cf:3: unknown directive 'x'");
        let d = Diagnostic::new("/etc/ha.d/authkeys", None, "missing 'auth N' line");
        assert_eq!(d.to_string(), "/etc/ha.d/authkeys: missing 'auth N' line");
    }

    #[test]
    fn config_errors_display_one_diagnostic_per_line() {
        let e = ConfigErrors(vec![
            Diagnostic::new("ha.cf", Some(1), "a"),
            Diagnostic::new("authkeys", None, "b"),
        ]);
        assert_eq!(e.to_string(), "ha.cf:1: a\nauthkeys: b");
    }

    #[test]
    fn finish_fails_when_any_error_was_recorded() {
        let mut d = Diags::new(Path::new("f"));
        d.warn(Some(1), "w");
        d.error(Some(2), "e");
        let err = d.finish(Some(())).unwrap_err();
        assert_eq!(err.to_string(), "f:2: e");

        let mut d = Diags::new(Path::new("f"));
        d.warn(None, "w");
        let ok = d.finish(Some(5)).unwrap();
        assert_eq!(ok.value, 5);
        assert_eq!(ok.warnings, vec![Diagnostic::new("f", None, "w")]);
    }
}
