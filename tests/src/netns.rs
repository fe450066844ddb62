//! Named network namespaces: naming scheme, creation and deletion, the processes inside one,
//! running a closure on a thread inside one, and the sweeper for namespaces left behind by
//! lab processes that died without cleaning up.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::sched::CloneFlags;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Every namespace the lab creates is named `hblab-<tag>-<pid>-<counter>-<host>`.
pub const PREFIX: &str = "hblab";

/// Where `ip netns` keeps its named namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// The parts of a lab namespace name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabNsName {
    /// Short tag given by the test (letters and digits only).
    pub tag: String,
    /// Pid of the process that created the namespace.
    pub pid: u32,
    /// Per-process lab counter.
    pub counter: u32,
    /// Host inside the lab (`br`, `node1`, `client`, ...).
    pub host: String,
}

impl LabNsName {
    /// The lab id shared by all namespaces of one lab: `hblab-<tag>-<pid>-<counter>`.
    pub fn lab_id(&self) -> String {
        format!("{PREFIX}-{}-{}-{}", self.tag, self.pid, self.counter)
    }

    /// The full namespace name.
    pub fn name(&self) -> String {
        format!("{}-{}", self.lab_id(), self.host)
    }

    /// Parses a namespace name created by this crate; `None` for any other name.
    pub fn parse(name: &str) -> Option<LabNsName> {
        let mut parts = name.split('-');
        if parts.next()? != PREFIX {
            return None;
        }
        let tag = parts.next()?;
        let pid = parts.next()?.parse().ok()?;
        let counter = parts.next()?.parse().ok()?;
        let host = parts.next()?;
        if parts.next().is_some() || !is_token(tag) || !is_token(host) {
            return None;
        }
        Some(LabNsName {
            tag: tag.to_owned(),
            pid,
            counter,
            host: host.to_owned(),
        })
    }
}

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Reduces a free-form tag to at most 10 lower-case letters and digits (`lab` if none is left).
pub fn sanitize_tag(tag: &str) -> String {
    let t: String = tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .take(10)
        .collect();
    if t.is_empty() { "lab".to_owned() } else { t }
}

/// Path of a named namespace's handle.
pub fn ns_path(name: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Whether a named namespace exists.
pub fn exists(name: &str) -> bool {
    ns_path(name).exists()
}

/// Runs `ip ARGS...` to completion and returns its stdout; a non-zero exit is an error that
/// quotes the command and its stderr.
pub fn ip(args: &[&str]) -> Result<String> {
    run_tool("ip", args)
}

pub(crate) fn run_tool(program: &str, args: &[&str]) -> Result<String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program} {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "`{program} {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Creates a named network namespace.
pub fn add(name: &str) -> Result<()> {
    ip(&["netns", "add", name]).map(drop)
}

/// Kills every process inside the namespace, then deletes it. Deleting a namespace that does not
/// exist is not an error.
pub fn delete(name: &str) -> Result<()> {
    if !exists(name) {
        return Ok(());
    }
    let killed = kill_all_in(name, Duration::from_secs(5));
    let deleted = ip(&["netns", "delete", name]).map(drop);
    killed.and(deleted)
}

/// (device, inode) identity of a namespace handle or `/proc/PID/ns/net` link.
fn ns_identity(path: &Path) -> std::io::Result<(u64, u64)> {
    let m = fs::metadata(path)?;
    Ok((m.dev(), m.ino()))
}

/// Pids of the processes whose (main thread's) network namespace is `name`, excluding the
/// calling process itself. Zombies have no namespace any more and are not listed.
pub fn pids_in(name: &str) -> Result<Vec<i32>> {
    let target =
        ns_identity(&ns_path(name)).with_context(|| format!("namespace {name} does not exist"))?;
    let me = std::process::id() as i32;
    let mut pids = Vec::new();
    for entry in fs::read_dir("/proc").context("cannot list /proc")? {
        let Ok(entry) = entry else { continue };
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        // The process may exit while we look: every error just means "not in the namespace".
        if ns_identity(&entry.path().join("ns/net")).is_ok_and(|id| id == target) {
            pids.push(pid);
        }
    }
    Ok(pids)
}

/// SIGKILLs every process inside the namespace until none is left or `timeout` expires (an
/// error then names the survivors).
pub fn kill_all_in(name: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let pids = pids_in(name)?;
        if pids.is_empty() {
            return Ok(());
        }
        for &pid in &pids {
            // ESRCH: it exited meanwhile; nothing else can fail for root.
            let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        }
        if Instant::now() >= deadline {
            bail!("processes {pids:?} in namespace {name} survive SIGKILL");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Moves the calling thread into the named network namespace (other threads are unaffected).
pub fn enter(name: &str) -> Result<()> {
    let file =
        File::open(ns_path(name)).with_context(|| format!("cannot open namespace {name}"))?;
    nix::sched::setns(&file, CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("setns into {name}"))?;
    Ok(())
}

/// Runs `f` on a fresh thread that has entered the named network namespace and returns its
/// result. Sockets `f` creates live in that namespace.
pub fn in_netns<T, F>(name: &str, f: F) -> Result<T>
where
    T: Send,
    F: FnOnce() -> Result<T> + Send,
{
    thread::scope(|s| {
        let handle = s.spawn(|| {
            enter(name)?;
            f()
        });
        handle
            .join()
            .map_err(|_| anyhow!("thread inside namespace {name} panicked"))?
    })
}

/// Whether a process with this pid exists.
fn pid_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}

/// Deletes lab namespaces (named by [`LabNsName`]) whose creating process no longer exists,
/// killing whatever still runs inside them. Returns the names it deleted.
pub fn sweep_stale_namespaces() -> Result<Vec<String>> {
    let entries = match fs::read_dir(NETNS_DIR) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).context("cannot list /run/netns"),
    };
    let mut stale = BTreeSet::new();
    for entry in entries {
        let Ok(entry) = entry else { continue };
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if let Some(parsed) = LabNsName::parse(&name)
            && !pid_alive(parsed.pid)
        {
            stale.insert(name);
        }
    }
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    for name in stale {
        match delete(&name) {
            Ok(()) => deleted.push(name),
            Err(e) => errors.push(format!("{name}: {e:#}")),
        }
    }
    if !errors.is_empty() {
        bail!("cannot sweep stale lab namespaces: {}", errors.join("; "));
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let n = LabNsName {
            tag: "bench".into(),
            pid: 4242,
            counter: 7,
            host: "node1".into(),
        };
        assert_eq!(n.name(), "hblab-bench-4242-7-node1");
        assert_eq!(n.lab_id(), "hblab-bench-4242-7");
        assert_eq!(LabNsName::parse(&n.name()), Some(n));
    }

    #[test]
    fn foreign_and_malformed_names_are_not_lab_names() {
        for name in [
            "node1",
            "hbx-node1",
            "hblab-bench-x-1-node1",
            "hblab-bench-12-1",
            "hblab-bench-12-1-node1-extra",
            "hblab--12-1-node1",
            "hblab-Bench-12-1-node1",
        ] {
            assert_eq!(LabNsName::parse(name), None, "{name}");
        }
    }

    #[test]
    fn tags_are_sanitized_to_short_tokens() {
        assert_eq!(sanitize_tag("lab_self-Test!"), "labselftes");
        assert_eq!(sanitize_tag("--"), "lab");
        assert!(LabNsName::parse(&format!("hblab-{}-1-2-br", sanitize_tag("a-b c"))).is_some());
    }
}
