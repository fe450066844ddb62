//! The `heartbeat` command line, as a library so that other crates (hb-man, which generates
//! the `heartbeat(8)` manual page and the shell completions from it) read the one definition
//! the daemon parses with.

#![forbid(unsafe_code)]

use std::path::PathBuf;

use clap::Parser;

/// Command line (the flags are a contract: tests and tools depend on them).
#[derive(Parser, Debug)]
#[command(
    name = "heartbeat",
    version,
    about = "heartbeat-rs: a Heartbeat 3 compatible failover cluster daemon"
)]
pub struct Args {
    /// Stay in the foreground (log to stderr unless ha.cf names a logfile).
    #[arg(short = 'f')]
    pub foreground: bool,
    /// Directory holding ha.cf, haresources and authkeys.
    #[arg(short = 'c', long = "config-dir", default_value = "/etc/ha.d")]
    pub config_dir: PathBuf,
    /// This node's name (default: the first line of <config-dir>/nodeinfo, else uname -n).
    #[arg(short = 'n', long = "node-name")]
    pub node_name: Option<String>,
    /// Persistent state: generation number and node UUID.
    #[arg(long = "state-dir", default_value = "/var/lib/heartbeat")]
    pub state_dir: PathBuf,
    /// Pid file and control socket.
    #[arg(long = "run-dir", default_value = hb_control::DEFAULT_RUN_DIR)]
    pub run_dir: PathBuf,
    /// Directories searched for resource scripts before <config-dir>/resource.d and
    /// /etc/init.d (colon-separated).
    #[arg(long = "agent-path", value_delimiter = ':')]
    pub agent_path: Vec<PathBuf>,
    /// Validate the configuration, print a summary and exit; start nothing.
    #[arg(long = "check")]
    pub check: bool,
    /// Stop the daemon running with the same run dir, gracefully, and wait for it.
    #[arg(short = 'k')]
    pub kill: bool,
    /// Report whether a daemon runs with the same run dir (Heartbeat's wording; exit 0 if it
    /// does, 3 if not).
    #[arg(short = 's')]
    pub status: bool,
    /// Make the running daemon re-read its configuration (SIGHUP) after checking it; with no
    /// daemon running, start one.
    #[arg(short = 'r')]
    pub reread: bool,
}
