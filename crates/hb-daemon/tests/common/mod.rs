//! What the daemon's integration tests share: the root check, a daemon killed on drop, and
//! waiting for a log line.

#![allow(dead_code)] // each test file uses part of it

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long a test waits for a line or a state.
pub(crate) const TIMEOUT: Duration = Duration::from_secs(20);

/// Whether the test can run here (root); under `CI=true` not being root is a failure.
pub(crate) fn runnable(test: &str, why_root: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    assert!(
        !std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true")),
        "{test}: needs root, and CI=true forbids skipping"
    );
    eprintln!("SKIP {test}: needs root ({why_root})");
    false
}

/// A daemon process, killed (and reaped) when dropped.
pub(crate) struct Daemon(pub(crate) Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `path` has a line containing `text` and returns that line (read lossily).
pub(crate) fn wait_line(path: &Path, text: &str) -> String {
    let until = Instant::now() + TIMEOUT;
    loop {
        let log = std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if let Some(line) = log.lines().find(|l| l.contains(text)) {
            return line.to_owned();
        }
        assert!(
            Instant::now() < until,
            "timed out waiting for {text:?} in {}:\n{log}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
