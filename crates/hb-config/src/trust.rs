//! Whether a path can be trusted with what runs as root: the path and every directory on the
//! way to it, from `/`, owned by root (or by the one other user this process already trusts,
//! see [`trusted_uid`]) and writable by nobody else.
//!
//! The one place this rule lives: the configuration files (`ha.cf`, `haresources`), the
//! directories above the resource agents', the daemon's run and state directories and its own
//! directory are all checked here.
//!
//! A directory above the path may be world-writable if it is sticky (`/tmp`, mode 1777):
//! there, nobody can rename or remove an entry they do not own, and an entry another user
//! created first is owned by them, so the next component's owner check refuses it. The path
//! itself must never be writable by others, sticky or not (anyone could add files to it).
//!
//! Both the path as given and its canonical form are walked, so a symbolic link on the way is
//! judged by the directory it lives in and the directories it leads to. ACLs and
//! capabilities other than ownership and mode bits are not looked at.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Why a path is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum Untrusted {
    /// A path (the checked one or a directory above it) is owned by someone else or writable
    /// by others.
    #[error("{path} must be owned by {owners} and not writable by group or others ({why})")]
    Unsafe {
        /// The offending path: the checked path itself or one of its directories.
        path: PathBuf,
        /// `root`, or `root or uid N` when running as user N.
        owners: String,
        /// What is wrong: `owner is uid 1000`, `mode is 0777`, or both.
        why: String,
    },
    /// The path or a directory above it could not be inspected.
    #[error("cannot inspect {path}: {source}")]
    Inspect {
        /// The path that could not be inspected.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

impl Untrusted {
    /// The offending path.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Untrusted::Unsafe { path, .. } | Untrusted::Inspect { path, .. } => path,
        }
    }

    /// The message for a diagnostic about `subject`: without the path when the subject itself
    /// is at fault (the diagnostic names it already), `directory D ...` otherwise.
    #[must_use]
    pub fn describe(&self, subject: &Path) -> String {
        match self {
            Untrusted::Unsafe {
                path, owners, why, ..
            } if path == subject => {
                format!("must be owned by {owners} and not writable by group or others ({why})")
            }
            Untrusted::Unsafe { .. } => format!("directory {self}"),
            Untrusted::Inspect { .. } => self.to_string(),
        }
    }
}

/// This process's effective user id.
#[must_use]
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// The one user besides root whose files are trusted: this process's effective user when it is
/// not root; when it is root, the owner of its own executable if that is not root (root
/// already runs that user's code, so their directories add nothing they could not do: a
/// checkout built by a developer and run with sudo works); otherwise root alone (0).
#[must_use]
pub fn trusted_uid() -> u32 {
    let euid = euid();
    if euid != 0 {
        return euid;
    }
    fs::metadata("/proc/self/exe").map_or(0, |m| m.uid())
}

/// Why a path with this owner and mode is not trusted by a process running as `euid`, if it
/// is not. `sticky_ok`: a sticky directory may be writable by others (a directory above the
/// checked path).
#[must_use]
pub fn problem(uid: u32, mode: u32, euid: u32, sticky_ok: bool) -> Option<String> {
    let mode = mode & 0o7777;
    let foreign = uid != 0 && uid != euid;
    let writable = mode & 0o022 != 0 && !(sticky_ok && mode & 0o1000 != 0);
    match (foreign, writable) {
        (false, false) => None,
        (true, false) => Some(format!("owner is uid {uid}")),
        (false, true) => Some(format!("mode is {mode:04o}")),
        (true, true) => Some(format!("owner is uid {uid}, mode is {mode:04o}")),
    }
}

fn owners(euid: u32) -> String {
    if euid == 0 {
        "root".to_owned()
    } else {
        format!("root or uid {euid}")
    }
}

fn inspect(path: &Path) -> Result<fs::Metadata, Untrusted> {
    fs::metadata(path).map_err(|source| Untrusted::Inspect {
        path: path.to_path_buf(),
        source,
    })
}

fn judge(path: &Path, euid: u32, sticky_ok: bool) -> Result<(), Untrusted> {
    let meta = inspect(path)?;
    match problem(meta.uid(), meta.mode(), euid, sticky_ok) {
        None => Ok(()),
        Some(why) => Err(Untrusted::Unsafe {
            path: path.to_path_buf(),
            owners: owners(euid),
            why,
        }),
    }
}

/// The directories above `path` (as given, made absolute, then as its canonical form), from
/// `/` down, without duplicates.
fn ancestors_of(path: &Path) -> Result<Vec<PathBuf>, Untrusted> {
    let fail = |source| Untrusted::Inspect {
        path: path.to_path_buf(),
        source,
    };
    let lexical = std::path::absolute(path).map_err(fail)?;
    let canonical = fs::canonicalize(path).map_err(fail)?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in [&lexical, &canonical] {
        let mut up: Vec<PathBuf> = p.ancestors().skip(1).map(Path::to_path_buf).collect();
        up.reverse();
        for d in up {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
    }
    Ok(dirs)
}

/// Refuses `path` unless every directory above it, up to `/`, is owned by root (or
/// [`trusted_uid`]) and not writable by others, sticky directories excepted. The
/// path itself is not judged (callers with their own rule for it use this).
///
/// # Errors
/// The first offending directory, from `/` down, or one that cannot be inspected.
pub fn check_ancestors(path: &Path) -> Result<(), Untrusted> {
    check_ancestors_as(path, trusted_uid())
}

fn check_ancestors_as(path: &Path, euid: u32) -> Result<(), Untrusted> {
    for dir in ancestors_of(path)? {
        judge(&dir, euid, true)?;
    }
    Ok(())
}

/// Refuses `path` (a file or directory) unless it and every directory above it are owned by
/// root (or [`trusted_uid`]) and not writable by others; only directories above
/// it may be writable by others if sticky.
///
/// # Errors
/// The first offending path, from `/` down, or one that cannot be inspected.
pub fn check_path(path: &Path) -> Result<(), Untrusted> {
    check_path_as(path, trusted_uid())
}

/// Like [`check_path`], but `path` itself may also be owned by the user `also` (still not
/// writable by group or others). Heartbeat's packaging makes the run directory
/// `/run/heartbeat` `hacluster:haclient` 0750 (its tmpfiles.d), and heartbeat-rs runs there
/// when it replaces Heartbeat.
///
/// # Errors
/// As [`check_path`].
pub fn check_path_also_owned_by(path: &Path, also: u32) -> Result<(), Untrusted> {
    let trusted = trusted_uid();
    check_ancestors_as(path, trusted)?;
    let owner = inspect(path)?.uid();
    judge(path, if owner == also { also } else { trusted }, false)
}

fn check_path_as(path: &Path, euid: u32) -> Result<(), Untrusted> {
    check_ancestors_as(path, euid)?;
    judge(path, euid, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn chmod(p: &Path, mode: u32) {
        fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
    }

    /// A root-owned mode-0755 directory under the system's temporary directory (sticky).
    fn root_dir() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        chmod(d.path(), 0o755);
        d
    }

    fn running_as_root() -> bool {
        if euid() == 0 {
            return true;
        }
        eprintln!("not root: the ownership cases need root to chown");
        false
    }

    #[test]
    fn a_directory_of_the_extra_owner_is_accepted_but_not_when_group_writable() {
        if !running_as_root() {
            return;
        }
        let top = root_dir();
        let run = top.path().join("run");
        fs::create_dir(&run).unwrap();
        chmod(&run, 0o750);
        nix::unistd::chown(&run, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
        assert!(check_path_also_owned_by(&run, 4242).is_ok());
        assert!(check_path_also_owned_by(&run, 4343).is_err());
        assert!(check_path(&run).is_err());
        chmod(&run, 0o770);
        assert!(check_path_also_owned_by(&run, 4242).is_err());
        // Only the directory itself: its parents are judged as ever.
        let inner = run.join("inner");
        fs::create_dir(&inner).unwrap();
        chmod(&run, 0o750);
        chmod(&inner, 0o750);
        nix::unistd::chown(&inner, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
        assert!(check_path_also_owned_by(&inner, 4242).is_err());
    }

    #[test]
    fn problem_covers_owner_mode_and_sticky() {
        assert_eq!(problem(0, 0o40755, 0, false), None);
        assert_eq!(problem(1000, 0o755, 1000, false), None, "our own euid");
        assert_eq!(
            problem(1000, 0o755, 0, false),
            Some("owner is uid 1000".into())
        );
        assert_eq!(problem(0, 0o775, 0, false), Some("mode is 0775".into()));
        assert_eq!(problem(0, 0o1777, 0, false), Some("mode is 1777".into()));
        assert_eq!(problem(0, 0o1777, 0, true), None, "sticky above the path");
        assert_eq!(problem(0, 0o777, 0, true), Some("mode is 0777".into()));
        assert_eq!(
            problem(7, 0o1777, 0, true),
            Some("owner is uid 7".into()),
            "a sticky directory must still be ours"
        );
        assert_eq!(
            problem(7, 0o666, 0, false),
            Some("owner is uid 7, mode is 0666".into())
        );
    }

    #[test]
    fn a_safe_path_under_sticky_tmp_passes() {
        let d = root_dir();
        let f = d.path().join("ha.cf");
        fs::write(&f, "").unwrap();
        chmod(&f, 0o644);
        check_path(&f).unwrap();
        check_path(d.path()).unwrap();
    }

    #[test]
    fn a_writable_file_or_directory_on_the_way_is_refused() {
        let d = root_dir();
        let sub = d.path().join("etc");
        fs::create_dir(&sub).unwrap();
        let f = sub.join("haresources");
        fs::write(&f, "").unwrap();
        chmod(&f, 0o664);
        let e = check_path(&f).unwrap_err();
        assert_eq!(e.path(), f);
        assert_eq!(
            e.describe(&f),
            "must be owned by root and not writable by group or others (mode is 0664)"
                .replace("root", &owners(euid()))
        );
        chmod(&f, 0o644);
        // World-writable, even sticky, is refused for a directory above the file.
        chmod(&sub, 0o1777);
        chmod(d.path(), 0o777);
        let e = check_path(&f).unwrap_err();
        assert_eq!(e.path(), d.path(), "the first offender from / down");
        assert_eq!(
            e.describe(&f),
            format!(
                "directory {} must be owned by {} and not writable by group or others (mode is \
                 0777)",
                d.path().display(),
                owners(euid())
            )
        );
        chmod(d.path(), 0o755);
        // Sticky and world-writable above the file is allowed...
        check_path(&f).unwrap();
        // ...but not as the checked directory itself.
        assert_eq!(check_path(&sub).unwrap_err().path(), sub);
        check_ancestors(&sub).unwrap();
    }

    #[test]
    fn a_symlink_is_judged_by_where_it_lives_and_where_it_leads() {
        let d = root_dir();
        let real = d.path().join("real");
        let open = real.join("open");
        fs::create_dir_all(&open).unwrap();
        fs::write(open.join("ha.cf"), "").unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        check_path(&link.join("ha.cf")).unwrap();
        // The link leads through a directory others can write: refused although the path as
        // given never names it.
        chmod(&real, 0o777);
        let e = check_path(&link.join("ha.cf")).unwrap_err();
        assert_eq!(e.path(), real);
    }

    #[test]
    fn a_directory_owned_by_another_user_is_refused_even_in_sticky_tmp() {
        if !running_as_root() {
            return;
        }
        let d = root_dir();
        // Another user pre-created the name in a sticky directory.
        chmod(d.path(), 0o1777);
        let theirs = d.path().join("heartbeat");
        fs::create_dir(&theirs).unwrap();
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
        let f = theirs.join("haresources");
        fs::write(&f, "").unwrap();
        let e = check_path(&f).unwrap_err();
        assert_eq!(e.path(), theirs);
        assert!(e.to_string().ends_with("(owner is uid 4242)"), "{e}");
        // A file owned by the user this process runs as is trusted; by another, not.
        nix::unistd::chown(&theirs, Some(nix::unistd::Uid::from_raw(0)), None).unwrap();
        nix::unistd::chown(&f, Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
        assert_eq!(check_path_as(&f, 0).unwrap_err().path(), f);
        nix::unistd::chown(d.path(), Some(nix::unistd::Uid::from_raw(4242)), None).unwrap();
        chmod(d.path(), 0o755);
        check_path_as(&f, 4242).unwrap();
        assert_eq!(check_path_as(&f, 0).unwrap_err().path(), d.path());
    }

    #[test]
    fn a_missing_path_cannot_be_inspected() {
        let d = root_dir();
        let e = check_path(&d.path().join("nope")).unwrap_err();
        assert!(matches!(e, Untrusted::Inspect { .. }), "{e}");
    }
}
