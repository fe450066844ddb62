//! The options of the tools, defined once with clap, and how they are picked out of a
//! command line that otherwise follows Heartbeat's conventions.
//!
//! [`Common`] (`--run-dir`, `--timeout`) is flattened into each tool's own clap definition
//! (`cl_status`'s adds `--json` and `--help`, `hb_standby`'s `--wait` and `--wait-timeout`,
//! `hb_cleanup`'s `--help`/`-h`). clap parses and validates those options; [`parse`] only
//! decides which arguments are ours, because Heartbeat's command lines are not clap's:
//!
//! * our options may come anywhere, before or after Heartbeat's arguments, and everything
//!   else must reach the tool untouched: `cl_status` hands the arguments after the
//!   sub-command to its getopt (`-mv`, `-pdeadtime`, options after operands, `--`), and an
//!   unknown `-x` is an argument for Heartbeat's own error texts (`hb_standby -x` says
//!   `wrong resources(-x)`). clap can pass unknown arguments through only as a trailing
//!   positional list, after which it stops recognising its own options
//!   (`trailing_var_arg`/`allow_hyphen_values`), and it swallows `--`;
//! * `--` is the tool's to interpret: it ends `cl_status`'s and `hb_cleanup`'s options but is
//!   an ordinary argument of `hb_standby` (as in Heartbeat's script).
//!
//! So [`parse`] walks the arguments once, takes out the long options the clap definition
//! declares (`--name VALUE`, `--name=VALUE`, flags without `=`) and its short flags, and
//! gives them to clap; the rest is returned in order. Help and error texts stay the tools'
//! own (clap's help and version flags are off): a clap error becomes an [`OptError`] naming
//! the option and the value, which each tool words as it always has.

use std::path::PathBuf;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue};

use crate::client::{Client, DEFAULT_TIMEOUT};

/// `--run-dir DIR` and `--timeout SECS`, shared by every tool.
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// The daemon's run directory (default `$HB_RUN_DIR`, else `/run/heartbeat`).
    #[arg(long = "run-dir", value_name = "DIR", value_parser = directory)]
    pub run_dir: Option<PathBuf>,
    /// How long one request may take, in seconds.
    #[arg(long, value_name = "SECS", value_parser = seconds, default_value = "5")]
    pub timeout: Duration,
}

impl Default for Common {
    fn default() -> Common {
        Common {
            run_dir: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Common {
    /// The client of the daemon these options name.
    #[must_use]
    pub fn client(&self) -> Client {
        Client::new(&hb_control::run_dir(self.run_dir.clone()), self.timeout)
    }
}

/// A non-empty directory name.
fn directory(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("an empty directory name".into())
    } else {
        Ok(PathBuf::from(s))
    }
}

/// A positive number of seconds ([`parse_seconds`](crate::parse_seconds)).
pub(crate) fn seconds(s: &str) -> Result<Duration, String> {
    crate::parse_seconds(s).ok_or_else(|| format!("{s:?} is not a number of seconds above 0"))
}

/// A rejected option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptError {
    /// The option (`--timeout`) was last, without its value.
    MissingValue(String),
    /// The option's value was refused (an empty `--run-dir`, a `--timeout` that is not a
    /// positive number of seconds).
    BadValue {
        /// The option, `--timeout`.
        option: String,
        /// The value as given.
        value: String,
    },
}

/// How `cl_status`, `hb_standby` and `hb_takeover` word a rejected option of ours.
impl std::fmt::Display for OptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptError::MissingValue(option) => write!(f, "option {option} needs a value"),
            OptError::BadValue { option, .. } if option == "--run-dir" => {
                f.write_str("option --run-dir needs a directory")
            }
            OptError::BadValue { option, value } => {
                write!(f, "bad {option} {value:?} (seconds, more than 0)")
            }
        }
    }
}

/// Where `--` leaves the options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoubleDash {
    /// `--` ends the options: what follows is returned in [`Parsed::after_double_dash`].
    EndsOptions,
    /// `--` is an ordinary argument.
    Ordinary,
}

/// A command line split into our options and the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed<T> {
    /// Our options, parsed by clap.
    pub opts: T,
    /// The other arguments before `--` (all of them with [`DoubleDash::Ordinary`]), in order.
    pub args: Vec<String>,
    /// With [`DoubleDash::EndsOptions`], the arguments after a `--`, if there was one.
    pub after_double_dash: Option<Vec<String>>,
}

/// Takes the options `T` declares out of `args` (the arguments after the program name) and
/// parses them with clap; see the module documentation.
///
/// # Errors
/// An [`OptError`] for a value-taking option without its value or with a refused value.
pub fn parse<T: clap::Parser>(args: &[String], dd: DoubleDash) -> Result<Parsed<T>, OptError> {
    let cmd = T::command()
        .no_binary_name(true)
        .args_override_self(true)
        .disable_help_flag(true)
        .disable_version_flag(true);
    let long = |name: &str| {
        cmd.get_arguments()
            .find(|a| a.get_long() == Some(name))
            .map(|a| a.get_action().takes_values())
    };
    let short_flag = |arg: &str| {
        let mut chars = arg.chars();
        match (chars.next(), chars.next(), chars.next()) {
            (Some('-'), Some(c), None) => cmd
                .get_arguments()
                .any(|a| a.get_short() == Some(c) && !a.get_action().takes_values()),
            _ => false,
        }
    };
    let mut ours: Vec<String> = Vec::new();
    let mut rest = Vec::new();
    let mut after_double_dash = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--" && dd == DoubleDash::EndsOptions {
            after_double_dash = Some(it.by_ref().cloned().collect());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            match (long(name), inline) {
                (Some(true), inline) => {
                    let value = inline
                        .map(str::to_owned)
                        .or_else(|| it.next().cloned())
                        .ok_or_else(|| OptError::MissingValue(format!("--{name}")))?;
                    // `--name=VALUE`, so that clap takes a value starting with `-` as one.
                    ours.push(format!("--{name}={value}"));
                    continue;
                }
                (Some(false), None) => {
                    ours.push(arg.clone());
                    continue;
                }
                _ => {}
            }
        } else if short_flag(arg) {
            ours.push(arg.clone());
            continue;
        }
        rest.push(arg.clone());
    }
    let opts = cmd
        .try_get_matches_from(&ours)
        .and_then(|m| T::from_arg_matches(&m))
        .map_err(|e| bad_value(&e))?;
    Ok(Parsed {
        opts,
        args: rest,
        after_double_dash,
    })
}

/// The option and value clap refused.
fn bad_value(e: &clap::Error) -> OptError {
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        _ => String::new(),
    };
    // clap names the argument `--timeout <SECS>`.
    let option = text(ContextKind::InvalidArg)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned();
    OptError::BadValue {
        option,
        value: text(ContextKind::InvalidValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser, Debug, PartialEq, Eq)]
    #[command(disable_help_flag = true, disable_version_flag = true)]
    struct Tool {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        flag: bool,
        #[arg(short = 'h', long)]
        help: bool,
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|a| (*a).to_owned()).collect()
    }

    fn parsed(v: &[&str], dd: DoubleDash) -> Parsed<Tool> {
        parse(&s(v), dd).unwrap()
    }

    #[test]
    fn our_options_are_taken_from_anywhere() {
        let p = parsed(
            &[
                "x",
                "--run-dir",
                "/tmp/x",
                "-m",
                "--timeout=0.5",
                "--flag",
                "y",
            ],
            DoubleDash::EndsOptions,
        );
        assert_eq!(p.opts.common.run_dir, Some(PathBuf::from("/tmp/x")));
        assert_eq!(p.opts.common.timeout, Duration::from_millis(500));
        assert!(p.opts.flag);
        assert_eq!(p.args, s(&["x", "-m", "y"]));
        assert_eq!(p.after_double_dash, None);
    }

    #[test]
    fn defaults_and_the_last_value_wins() {
        let p = parsed(&[], DoubleDash::Ordinary);
        assert_eq!(p.opts.common, Common::default());
        let p = parsed(&["--timeout", "1", "--timeout", "2"], DoubleDash::Ordinary);
        assert_eq!(p.opts.common.timeout, Duration::from_secs(2));
    }

    #[test]
    fn values_may_start_with_a_dash() {
        let p = parsed(&["--run-dir", "-odd", "--run-dir=--"], DoubleDash::Ordinary);
        assert_eq!(p.opts.common.run_dir, Some(PathBuf::from("--")));
        let p = parsed(&["--run-dir", "--", "a"], DoubleDash::EndsOptions);
        assert_eq!(
            (p.opts.common.run_dir, p.args),
            (Some(PathBuf::from("--")), s(&["a"]))
        );
    }

    #[test]
    fn double_dash_ends_the_options_or_not() {
        let p = parsed(&["a", "--", "--flag", "-h"], DoubleDash::EndsOptions);
        assert!(!p.opts.flag && !p.opts.help);
        assert_eq!(p.args, s(&["a"]));
        assert_eq!(p.after_double_dash, Some(s(&["--flag", "-h"])));
        let p = parsed(&["--", "--flag"], DoubleDash::Ordinary);
        assert!(p.opts.flag);
        assert_eq!(p.args, s(&["--"]));
    }

    #[test]
    fn what_is_not_ours_stays() {
        let p = parsed(
            &["--flag=x", "--other", "-hv", "-x", "--help", "-h", "-"],
            DoubleDash::EndsOptions,
        );
        assert!(p.opts.help);
        assert!(!p.opts.flag);
        assert_eq!(p.args, s(&["--flag=x", "--other", "-hv", "-x", "-"]));
    }

    #[test]
    fn bad_values_name_the_option() {
        let err = |v: &[&str]| parse::<Tool>(&s(v), DoubleDash::Ordinary).unwrap_err();
        assert_eq!(
            err(&["--run-dir"]),
            OptError::MissingValue("--run-dir".into())
        );
        assert_eq!(
            err(&["x", "--timeout"]),
            OptError::MissingValue("--timeout".into())
        );
        assert_eq!(
            err(&["--run-dir="]),
            OptError::BadValue {
                option: "--run-dir".into(),
                value: String::new()
            }
        );
        for bad in ["0", "soon", "-1", "5s"] {
            assert_eq!(
                err(&["--timeout", bad]),
                OptError::BadValue {
                    option: "--timeout".into(),
                    value: bad.into()
                }
            );
        }
    }
}
