//! Waiting for conditions without guessing sleeps: poll a condition every few milliseconds
//! until it holds or a deadline passes, or follow a log file until a matching line appears.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// Interval between two evaluations of a polled condition.
pub const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// A log file as text, or empty when it does not exist (yet). Lossy: Heartbeat 3.0.6 dumps
/// the datagrams it rejects into its log, bytes and all, which must not make a check of the
/// log read nothing.
pub fn read_log(path: &std::path::Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Polls `cond` every [`POLL_INTERVAL`] until it returns `Ok(true)` and returns the time
/// waited. Fails with a message naming `what` once `timeout` has passed, or at once with the
/// condition's own error if it returns `Err`.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    mut cond: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    wait_for_some(what, timeout, || Ok(cond()?.then_some(()))).map(|((), waited)| waited)
}

/// Polls `f` every [`POLL_INTERVAL`] until it returns `Ok(Some(value))` and returns the value
/// and the time waited. Fails like [`wait_for`].
pub fn wait_for_some<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>>,
) -> Result<(T, Duration)> {
    let start = Instant::now();
    let deadline = start + timeout;
    loop {
        let now = Instant::now();
        if let Some(v) = f().with_context(|| format!("while waiting for {what}"))? {
            return Ok((v, start.elapsed()));
        }
        if now >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(POLL_INTERVAL.min(deadline.saturating_duration_since(Instant::now())));
    }
}

/// Follows a growing text file (a daemon's log) line by line, like `tail -F`: the file may not
/// exist yet, and if it shrinks (truncated or replaced) reading restarts at its beginning.
#[derive(Debug)]
pub struct LogFollower {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogFollower {
    /// Follows `path` from its beginning.
    pub fn new(path: impl Into<PathBuf>) -> LogFollower {
        LogFollower {
            path: path.into(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// Follows `path` from its current end: only lines written from now on are seen.
    pub fn from_end(path: impl Into<PathBuf>) -> Result<LogFollower> {
        let path = path.into();
        let offset = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e).with_context(|| format!("cannot stat {}", path.display())),
        };
        Ok(LogFollower {
            path,
            offset,
            partial: Vec::new(),
        })
    }

    /// The followed file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete lines appended since the previous call (without their newlines).
    pub fn new_lines(&mut self) -> Result<Vec<String>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open {}", self.path.display()));
            }
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        file.read_to_end(&mut buf)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        self.offset += buf.len() as u64;
        self.partial.extend_from_slice(&buf);
        let mut lines = Vec::new();
        while let Some(pos) = self.partial.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            lines.push(String::from_utf8_lossy(&line[..pos]).into_owned());
        }
        Ok(lines)
    }

    /// Waits until a line for which `pred` holds is appended and returns it. Lines read while
    /// waiting are consumed.
    pub fn wait_for_line(
        &mut self,
        what: &str,
        timeout: Duration,
        mut pred: impl FnMut(&str) -> bool,
    ) -> Result<String> {
        let path = self.path.display().to_string();
        wait_for_some(&format!("{what} in {path}"), timeout, || {
            Ok(self.new_lines()?.into_iter().find(|l| pred(l)))
        })
        .map(|(line, _)| line)
    }
}

/// Waits until a line containing `needle` appears anywhere in the file at `path` (including
/// lines written before the call) and returns that line.
pub fn wait_for_log_line(path: &Path, needle: &str, timeout: Duration) -> Result<String> {
    LogFollower::new(path).wait_for_line(&format!("a line containing {needle:?}"), timeout, |l| {
        l.contains(needle)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn wait_for_returns_as_soon_as_the_condition_holds() {
        let mut calls = 0;
        let waited = wait_for("third call", Duration::from_secs(5), || {
            calls += 1;
            Ok(calls == 3)
        })
        .unwrap();
        assert_eq!(calls, 3);
        assert!(waited < Duration::from_millis(500), "{waited:?}");
    }

    #[test]
    fn wait_for_times_out_with_the_description() {
        let start = Instant::now();
        let err = wait_for("the impossible", Duration::from_millis(30), || Ok(false)).unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(start.elapsed() < Duration::from_secs(2));
        let msg = format!("{err:#}");
        assert!(
            msg.contains("the impossible") && msg.contains("timed out"),
            "{msg}"
        );
    }

    #[test]
    fn wait_for_propagates_condition_errors_at_once() {
        let err = wait_for("x", Duration::from_secs(60), || bail!("broken probe")).unwrap_err();
        assert!(format!("{err:#}").contains("broken probe"));
    }

    #[test]
    fn wait_for_some_returns_the_value() {
        let mut n = 0;
        let (v, _) = wait_for_some("n > 1", Duration::from_secs(5), || {
            n += 1;
            Ok((n > 1).then_some(n * 10))
        })
        .unwrap();
        assert_eq!(v, 20);
    }

    #[test]
    fn follower_sees_only_complete_new_lines_and_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut f = LogFollower::new(&path);
        assert!(
            f.new_lines().unwrap().is_empty(),
            "missing file reads as empty"
        );
        let mut w = File::create(&path).unwrap();
        write!(w, "one\ntw").unwrap();
        assert_eq!(f.new_lines().unwrap(), vec!["one"]);
        write!(w, "o\nthree\n").unwrap();
        assert_eq!(f.new_lines().unwrap(), vec!["two", "three"]);
        drop(w);
        std::fs::write(&path, "fresh\n").unwrap();
        assert_eq!(f.new_lines().unwrap(), vec!["fresh"]);
        let mut tail = LogFollower::from_end(&path).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"new\n")
            .unwrap();
        assert_eq!(tail.new_lines().unwrap(), vec!["new"]);
    }

    #[test]
    fn wait_for_log_line_follows_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.log");
        let writer_path = path.clone();
        let writer = thread::spawn(move || {
            let mut w = File::create(&writer_path).unwrap();
            for i in 0..5 {
                writeln!(w, "line {i}").unwrap();
                thread::sleep(Duration::from_millis(10));
            }
            writeln!(w, "info: resources acquired").unwrap();
        });
        let line = wait_for_log_line(&path, "acquired", Duration::from_secs(10)).unwrap();
        assert_eq!(line, "info: resources acquired");
        writer.join().unwrap();
        let err = wait_for_log_line(&path, "never", Duration::from_millis(20)).unwrap_err();
        assert!(format!("{err:#}").contains("never"));
    }
}
