//! The daemon's pid file, proven by a lock: the running daemon holds an exclusive open file
//! description lock (`F_OFD_SETLK`) on it for its whole life, so a pid file nobody holds is
//! stale whatever pid it names, and a pid is only signalled when the kernel says that this
//! very process holds the lock.
//!
//! * [`PidLock::acquire`] takes the lock (refused while another process holds it), then
//!   writes our pid; the file is removed when the lock is dropped.
//! * [`holder`] asks who holds it, without taking it: nobody (stale), the process the file
//!   names (proven through `/proc/PID/fdinfo`, which lists the locks each descriptor holds),
//!   or someone else.
//! * [`Daemon`] pins the proven process with a pidfd, so the signal and the wait for its exit
//!   reach that process even if its pid is reused meanwhile.
//!
//! An OFD lock (not a classic `F_SETLK` lock) survives the daemon opening and closing the file
//! elsewhere, conflicts between two opens in one process (testable in-process), and is not
//! inherited by agents (the descriptor is close-on-exec).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Seek as _, Write as _};
use std::os::fd::{AsFd, AsRawFd as _, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{FcntlArg, fcntl};

use crate::fs::open_nofollow;

/// Why the pid file cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    /// Another process holds the lock: a daemon runs.
    #[error("the pid file is locked by another process")]
    Locked {
        /// The holder, when proven to be the process the file names.
        proven: Option<i32>,
        /// The pid the file names.
        recorded: Option<i32>,
    },
    /// The file cannot be opened, locked or written.
    #[error("{what}: {source}")]
    Io {
        /// Which step failed.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> PidFileError {
    move |source| PidFileError::Io { what, source }
}

/// A whole-file lock request of `kind` (`F_WRLCK`, `F_UNLCK`).
fn whole_file(kind: libc::c_int) -> libc::flock {
    // SAFETY: `flock` is a plain C struct of integers (plus padding on some targets), for
    // which all-zero bytes are a valid value; the fields that matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as libc::c_short;
    fl.l_whence = libc::SEEK_SET as libc::c_short;
    fl.l_start = 0;
    fl.l_len = 0; // to the end of the file, however long
    fl
}

/// Whether some other open file description holds a lock conflicting with a write lock.
fn locked_by_other(file: &File) -> io::Result<bool> {
    let mut fl = whole_file(libc::F_WRLCK);
    fcntl(file.as_fd(), FcntlArg::F_OFD_GETLK(&mut fl)).map_err(io::Error::from)?;
    Ok(fl.l_type != libc::F_UNLCK as libc::c_short)
}

fn parse_pid(file: &mut File) -> Option<i32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|&p: &i32| p > 0)
}

/// The pid file of the running daemon, locked; removed (then unlocked) on drop.
#[derive(Debug)]
pub struct PidLock {
    file: File,
    path: PathBuf,
}

impl PidLock {
    /// Opens (or creates, mode 0644) `path` without following a symbolic link, takes the
    /// lock without waiting, and writes our pid into it. A file nobody holds is stale and
    /// is taken over whatever it says.
    ///
    /// # Errors
    /// [`PidFileError::Locked`] while another process holds it; `Io` otherwise (a symbolic
    /// link at `path` fails with `ELOOP`).
    pub fn acquire(path: &Path) -> Result<PidLock, PidFileError> {
        // A daemon stopping unlinks the file it locked: the lock may land on an unlinked
        // file, then try again with the new one.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(path)
                .map_err(io_err("cannot open the pid file"))?;
            let meta = file
                .metadata()
                .map_err(io_err("cannot inspect the pid file"))?;
            if !meta.is_file() {
                return Err(PidFileError::Io {
                    what: "cannot use the pid file",
                    source: io::Error::new(io::ErrorKind::InvalidInput, "not a regular file"),
                });
            }
            let fl = whole_file(libc::F_WRLCK);
            match fcntl(file.as_fd(), FcntlArg::F_OFD_SETLK(&fl)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => {
                    let recorded = parse_pid(&mut file);
                    let proven = recorded.filter(|&pid| holds_write_lock(pid, &file));
                    return Err(PidFileError::Locked { proven, recorded });
                }
                Err(e) => return Err(io_err("cannot lock the pid file")(e.into())),
            }
            let still_linked = fs::symlink_metadata(path)
                .is_ok_and(|now| now.dev() == meta.dev() && now.ino() == meta.ino());
            if !still_linked {
                continue;
            }
            file.set_len(0)
                .map_err(io_err("cannot write the pid file"))?;
            file.rewind().map_err(io_err("cannot write the pid file"))?;
            file.write_all(format!("{}\n", std::process::id()).as_bytes())
                .map_err(io_err("cannot write the pid file"))?;
            return Ok(PidLock {
                file,
                path: path.to_path_buf(),
            });
        }
        Err(PidFileError::Io {
            what: "cannot lock the pid file",
            source: io::Error::other("it was replaced again and again while being locked"),
        })
    }

    /// The pid file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidLock {
    fn drop(&mut self) {
        // Only our own file: never one a successor created after ours was removed.
        if let (Ok(ours), Ok(now)) = (self.file.metadata(), fs::symlink_metadata(&self.path))
            && ours.dev() == now.dev()
            && ours.ino() == now.ino()
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Whether process `pid` has a descriptor open on `file`'s inode that holds a write lock:
/// `/proc/PID/fdinfo/N` lists the locks held through descriptor N.
fn holds_write_lock(pid: i32, file: &File) -> bool {
    let Ok(ours) = file.metadata() else {
        return false;
    };
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        let same_file =
            fs::metadata(fd.path()).is_ok_and(|m| m.dev() == ours.dev() && m.ino() == ours.ino());
        same_file
            && fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().display()))
                .is_ok_and(|info| {
                    info.lines()
                        .any(|l| l.starts_with("lock:") && l.contains(" WRITE "))
                })
    })
}

/// Who holds the lock of a pid file.
#[derive(Debug)]
pub enum Holder {
    /// Nobody: there is no daemon; the file (if any) is stale.
    Nobody {
        /// The pid the stale file names.
        recorded: Option<i32>,
    },
    /// The process the file names holds the lock: the daemon.
    Daemon(Daemon),
    /// The lock is held, but not by the process the file names (the daemon may be between
    /// taking the lock and writing its pid).
    Unproven {
        /// The pid the file names.
        recorded: Option<i32>,
    },
}

/// Who holds the lock of the pid file at `path`, without taking it. A missing file is
/// [`Holder::Nobody`]; a symbolic link at `path` is not followed (an error).
///
/// # Errors
/// The file cannot be opened (other than missing) or queried.
pub fn holder(path: &Path) -> io::Result<Holder> {
    let mut file = match open_nofollow(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(Holder::Nobody { recorded: None });
        }
        Err(e) => return Err(e),
    };
    let recorded = parse_pid(&mut file);
    if !locked_by_other(&file)? {
        return Ok(Holder::Nobody { recorded });
    }
    let Some(pid) = recorded else {
        return Ok(Holder::Unproven { recorded });
    };
    // Pin the process first, then prove it holds the lock: if the pid is reused in between,
    // the pidfd refers to the process that exited and signalling it fails (ESRCH).
    let Ok(pidfd) = pidfd_open(pid) else {
        return Ok(Holder::Unproven { recorded });
    };
    if holds_write_lock(pid, &file) {
        Ok(Holder::Daemon(Daemon { pid, pidfd }))
    } else {
        Ok(Holder::Unproven { recorded })
    }
}

/// The process proven to hold a pid file's lock, pinned by a pidfd.
#[derive(Debug)]
pub struct Daemon {
    pid: i32,
    pidfd: OwnedFd,
}

impl Daemon {
    /// Its pid.
    #[must_use]
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends it SIGTERM (through the pidfd: never to a process that reused its pid).
    ///
    /// # Errors
    /// `ESRCH` when it has exited, `EPERM` without the right to signal it.
    pub fn terminate(&self) -> io::Result<()> {
        self.signal(libc::SIGTERM)
    }

    /// Sends it SIGHUP (re-read the configuration), through the pidfd.
    ///
    /// # Errors
    /// As [`Daemon::terminate`].
    pub fn hang_up(&self) -> io::Result<()> {
        self.signal(libc::SIGHUP)
    }

    fn signal(&self, signal: libc::c_int) -> io::Result<()> {
        // SAFETY: pidfd_send_signal reads only its integer arguments; a null siginfo is
        // allowed (the kernel fills in one as for kill(2)); the descriptor is ours and open.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.pidfd.as_raw_fd(),
                signal,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Waits until it has exited, at most `limit`. `Ok(true)` when it has.
    ///
    /// # Errors
    /// `poll` failing other than by a signal.
    pub fn wait_exit(&self, limit: Duration) -> io::Result<bool> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            let mut pfd = libc::pollfd {
                fd: self.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd that outlives the call; the count says one.
            let n = unsafe { libc::poll(&mut pfd, 1, ms) };
            match n {
                1.. => return Ok(true),
                0 if left.is_zero() => return Ok(false),
                0 => {}
                _ => {
                    let e = io::Error::last_os_error();
                    if e.kind() != io::ErrorKind::Interrupted {
                        return Err(e);
                    }
                }
            }
        }
    }
}

fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags (none) and returns a new descriptor or -1; no
    // memory is passed.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("pidfd out of range"))?;
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests;
