//! Files in the daemon's own directories (run dir, state dir), written so that nothing planted
//! there can redirect a write: directories created with a safe mode and refused when others
//! can write them, files opened without following symbolic links, replacements written to a
//! freshly created temporary file and renamed into place; the command FIFO made or replaced
//! so that only its owner can have it open.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt as _};
use std::path::{Path, PathBuf};

use hb_config::trust::{self, Untrusted};

/// Mode of the run and state directories when they are created (Heartbeat's).
pub const DIR_MODE: u32 = 0o755;

/// Why a private directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// It did not exist and could not be created.
    #[error("{path}: cannot create the directory: {source}")]
    Create {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It (or a directory above it) is owned by someone else or writable by others.
    #[error("{path}: refusing to use it: {source}")]
    Untrusted {
        /// The directory.
        path: PathBuf,
        /// Which path is at fault and why.
        #[source]
        source: Untrusted,
    },
}

/// Creates `path` (and missing parents) with mode [`DIR_MODE`] if it does not exist, then
/// refuses it unless it and every directory above it are owned by root (or our effective
/// user) and not writable by others (sticky directories above it excepted): see
/// [`hb_config::trust`].
///
/// # Errors
/// [`DirError`]; its message is one line naming the directory and the offending path.
pub fn ensure_private_dir(path: &Path) -> Result<(), DirError> {
    if fs::symlink_metadata(path).is_err() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(DIR_MODE)
            .create(path)
            .map_err(|source| DirError::Create {
                path: path.to_path_buf(),
                source,
            })?;
    }
    trust::check_path(path).map_err(|source| DirError::Untrusted {
        path: path.to_path_buf(),
        source,
    })
}

/// [`ensure_private_dir`] for a directory that may also be owned by the user `also`
/// (Debian's `/run/heartbeat`, `hacluster`'s): see
/// [`hb_config::trust::check_path_also_owned_by`].
///
/// # Errors
/// As [`ensure_private_dir`].
pub fn ensure_dir_also_owned_by(path: &Path, also: u32) -> Result<(), DirError> {
    if fs::symlink_metadata(path).is_err() {
        return ensure_private_dir(path);
    }
    trust::check_path_also_owned_by(path, also).map_err(|source| DirError::Untrusted {
        path: path.to_path_buf(),
        source,
    })
}

/// Opens `path` for reading without following a symbolic link (`ELOOP` if it is one) and
/// refuses anything but a regular file (a FIFO planted there cannot block the reader).
///
/// # Errors
/// The open's error, or `InvalidInput` for a non-regular file.
pub fn open_nofollow(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// Largest file [`read_nofollow`] reads: the daemon's own files (generation, uuid, remembered
/// peers) are a few lines; anything larger was not written by us.
pub const MAX_OWN_FILE: u64 = 64 * 1024;

/// The contents of the regular file `path`, not following a symbolic link, at most
/// [`MAX_OWN_FILE`] bytes.
///
/// # Errors
/// As [`open_nofollow`], a read error, or `InvalidData` for a larger file.
pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    let mut data = Vec::new();
    open_nofollow(path)?
        .take(MAX_OWN_FILE + 1)
        .read_to_end(&mut data)?;
    if data.len() as u64 > MAX_OWN_FILE {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_OWN_FILE} bytes"),
        ));
    }
    Ok(data)
}

/// How far [`replace_file`] makes a replacement survive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Synced to disk (file and directory) before returning: survives a crash of the machine.
    /// For rare writes (the generation at start-up).
    Synced,
    /// Left in the page cache: survives a crash of the daemon, not of the machine, and never
    /// stalls the caller on the disk. For writes from the event loop.
    Cached,
}

/// Whether `e` says the path was a symbolic link that was not followed.
#[must_use]
pub fn is_symlink_refusal(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::ELOOP)
}

/// Replaces `path` with `data`: writes `<path>.tmp` created afresh (`O_EXCL`, not following
/// links: whatever was planted under that name is removed first, never written through),
/// renames it over `path` (which replaces a symbolic link there, never its target), so a
/// reader sees the old contents or the new; with [`Durability::Synced`] the file is synced
/// before the rename and the directory after it.
///
/// # Errors
/// Any step's I/O error.
pub fn replace_file(path: &Path, data: &[u8], mode: u32, durability: Durability) -> io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)?;
    let written = f.write_all(data).and_then(|()| match durability {
        Durability::Synced => f.sync_all(),
        Durability::Cached => Ok(()),
    });
    drop(f);
    if let Err(e) = written.and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    if durability == Durability::Cached {
        return Ok(());
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

/// Mode of the command FIFO: Heartbeat's `FIFOMODE`, only its owner (root) may write it.
pub const FIFO_MODE: u32 = 0o600;

/// What [`open_fifo`] found at the FIFO's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FifoSetup {
    /// Nothing: a FIFO was created.
    Created,
    /// A FIFO owned by our effective user with mode [`FIFO_MODE`]: used as it is.
    Reused,
    /// Something else, described here, that was removed and replaced by a fresh FIFO: a FIFO
    /// with another owner or mode (someone else may hold it open for writing), or a regular
    /// file (what `ha_clustermsg`'s `>>` leaves when it runs while no FIFO exists).
    Replaced(String),
}

/// Why the command FIFO cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    /// The path is a symbolic link.
    #[error("{path}: is a symbolic link: refusing to follow it (remove it)")]
    Symlink {
        /// The FIFO's path.
        path: PathBuf,
    },
    /// The path is a directory, a socket or a device.
    #[error("{path}: is {what}, not a FIFO: refusing to replace it (remove it)")]
    NotFifo {
        /// The FIFO's path.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A step failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The FIFO's path.
        path: PathBuf,
        /// The step.
        what: &'static str,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// What was opened is not the FIFO that was checked or made (it was swapped meanwhile).
    #[error("{path}: changed while it was being set up (now {found}): refusing to use it")]
    Changed {
        /// The FIFO's path.
        path: PathBuf,
        /// What was opened.
        found: String,
    },
}

/// Makes sure `path` is a FIFO owned by our effective user with mode [`FIFO_MODE`] and opens
/// it for reading **and writing**, non-blocking, without following a symbolic link: holding
/// a write end ourselves, reads never see end-of-file when writers come and go, and writers
/// never block on `open` while we run.
///
/// Nothing there: a FIFO is made. A FIFO of ours with the right mode is used (a writer that
/// was blocked opening it gets through). A FIFO with another owner or mode, or a regular file,
/// is removed and replaced by a fresh FIFO ([`FifoSetup::Replaced`]): a fresh inode, so
/// nobody can still hold it open from before. Anything else (a symbolic link, a directory, a
/// socket, a device) is refused and left alone. The directory must be one nobody else can
/// write ([`ensure_private_dir`]); what was opened is checked again through the descriptor.
///
/// # Errors
/// [`FifoError`]; its message is one line naming the path.
pub fn open_fifo(path: &Path) -> Result<(File, FifoSetup), FifoError> {
    use std::os::unix::fs::{FileTypeExt as _, MetadataExt as _};
    let io_err = |what: &'static str| {
        move |source| FifoError::Io {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let euid = nix::unistd::geteuid().as_raw();
    let setup = match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => FifoSetup::Created,
        Err(e) => return Err(io_err("cannot inspect it")(e)),
        Ok(meta) => {
            let kind = meta.file_type();
            let mode = meta.mode() & 0o7777;
            if kind.is_symlink() {
                return Err(FifoError::Symlink {
                    path: path.to_path_buf(),
                });
            } else if kind.is_fifo() && meta.uid() == euid && mode == FIFO_MODE {
                FifoSetup::Reused
            } else if kind.is_fifo() {
                FifoSetup::Replaced(format!(
                    "a FIFO owned by uid {} with mode {mode:04o}",
                    meta.uid()
                ))
            } else if kind.is_file() {
                FifoSetup::Replaced(format!("a regular file of {} bytes", meta.len()))
            } else {
                let what = if kind.is_dir() {
                    "a directory"
                } else if kind.is_socket() {
                    "a socket"
                } else {
                    "a device"
                };
                return Err(FifoError::NotFifo {
                    path: path.to_path_buf(),
                    what,
                });
            }
        }
    };
    if let FifoSetup::Replaced(_) = setup {
        fs::remove_file(path).map_err(io_err("cannot remove it"))?;
    }
    if setup != FifoSetup::Reused {
        nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(FIFO_MODE))
            .map_err(|e| io_err("cannot create the FIFO")(io::Error::from(e)))?;
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if is_symlink_refusal(&e) {
                FifoError::Changed {
                    path: path.to_path_buf(),
                    found: "a symbolic link".to_owned(),
                }
            } else {
                io_err("cannot open it")(e)
            }
        })?;
    let meta = file.metadata().map_err(io_err("cannot inspect it"))?;
    if setup != FifoSetup::Reused && meta.file_type().is_fifo() && meta.mode() & 0o7777 != FIFO_MODE
    {
        // A umask took bits away from the FIFO just made: set the mode through our descriptor.
        file.set_permissions(fs::Permissions::from_mode(FIFO_MODE))
            .map_err(io_err("cannot set its mode"))?;
    }
    let meta = file.metadata().map_err(io_err("cannot inspect it"))?;
    let mode = meta.mode() & 0o7777;
    if !meta.file_type().is_fifo() || meta.uid() != euid || mode != FIFO_MODE {
        return Err(FifoError::Changed {
            path: path.to_path_buf(),
            found: format!(
                "{} owned by uid {} with mode {mode:04o}",
                if meta.file_type().is_fifo() {
                    "a FIFO"
                } else {
                    "not a FIFO"
                },
                meta.uid()
            ),
        });
    }
    Ok((file, setup))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};

    #[test]
    fn replace_file_never_writes_through_a_planted_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let path = dir.path().join("hb_uuid");
        // A link planted at the temporary name and at the file itself.
        symlink(&victim, dir.path().join("hb_uuid.tmp")).unwrap();
        symlink(&victim, &path).unwrap();
        replace_file(&path, b"new", 0o644, Durability::Synced).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious\n");
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.is_file(), "the link itself was replaced");
        assert_eq!(meta.mode() & 0o7777, 0o644);
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!dir.path().join("hb_uuid.tmp").exists());
    }

    #[test]
    fn reading_refuses_symlinks_and_fifos() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "secret").unwrap();
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let e = read_nofollow(&link).unwrap_err();
        assert!(is_symlink_refusal(&e), "{e}");
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        assert_eq!(
            read_nofollow(&fifo).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        assert_eq!(read_nofollow(&victim).unwrap(), b"secret");
    }

    #[test]
    fn private_dirs_are_created_safe_and_refused_when_others_can_write() {
        let top = tempfile::tempdir().unwrap();
        fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let run = top.path().join("run/heartbeat");
        ensure_private_dir(&run).unwrap();
        let mode = fs::metadata(&run).unwrap().mode() & 0o7777;
        assert_eq!(mode & 0o022, 0, "created with mode {mode:04o}");
        fs::set_permissions(&run, fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private_dir(&run).unwrap_err();
        assert!(matches!(e, DirError::Untrusted { .. }), "{e}");
        assert!(e.to_string().ends_with("(mode is 0777)"), "{e}");
        // Sticky does not make the directory itself acceptable either.
        fs::set_permissions(&run, fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(ensure_private_dir(&run).is_err());
        fs::set_permissions(&run, fs::Permissions::from_mode(0o700)).unwrap();
        ensure_private_dir(&run).unwrap();
    }

    /// A writer end of the FIFO at `path`, opened without blocking (it fails when nobody
    /// reads the FIFO).
    fn writer(path: &Path) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
    }

    /// What can be read from `fifo` now (it is non-blocking).
    fn available(mut fifo: &File) -> Vec<u8> {
        let mut buf = [0u8; 64];
        match fifo.read(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Vec::new(),
            Err(e) => panic!("{e}"),
        }
    }

    fn private_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        dir
    }

    #[test]
    fn the_fifo_is_made_owner_only_and_read_while_writers_come_and_go() {
        use std::os::unix::fs::FileTypeExt;
        let dir = private_dir();
        let path = dir.path().join("fifo");
        let (fifo, setup) = open_fifo(&path).unwrap();
        assert_eq!(setup, FifoSetup::Created);
        let meta = fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.mode() & 0o7777, 0o600);
        assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
        // Two writers one after the other: no end-of-file in between (we hold a write end),
        // nothing to read is "would block", not end-of-file.
        writer(&path).unwrap().write_all(b"one\n").unwrap();
        assert_eq!(available(&fifo), b"one\n");
        assert_eq!(available(&fifo), b"");
        writer(&path).unwrap().write_all(b"two\n").unwrap();
        assert_eq!(available(&fifo), b"two\n");
        // Opened again: the same FIFO, used as it is.
        let ino = meta.ino();
        let (_again, setup) = open_fifo(&path).unwrap();
        assert_eq!(setup, FifoSetup::Reused);
        assert_eq!(fs::metadata(&path).unwrap().ino(), ino);
    }

    #[test]
    fn a_fifo_with_another_mode_is_replaced_and_its_old_writers_reach_nothing() {
        let dir = private_dir();
        let path = dir.path().join("fifo");
        let (old, _) = open_fifo(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        // Someone opened it while anyone could.
        let mut stale = writer(&path).unwrap();
        let (fifo, setup) = open_fifo(&path).unwrap();
        assert_eq!(
            setup,
            FifoSetup::Replaced(format!(
                "a FIFO owned by uid {} with mode 0666",
                nix::unistd::geteuid().as_raw()
            ))
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
        stale.write_all(b"forged\n").unwrap();
        assert_eq!(
            available(&fifo),
            b"",
            "the stale writer reaches the old FIFO only"
        );
        drop(old);
    }

    #[test]
    fn a_fifo_of_another_user_is_replaced() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP a_fifo_of_another_user_is_replaced: needs root (chown)");
            return;
        }
        let dir = private_dir();
        let path = dir.path().join("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        let (_fifo, setup) = open_fifo(&path).unwrap();
        assert_eq!(
            setup,
            FifoSetup::Replaced("a FIFO owned by uid 65534 with mode 0600".into())
        );
        assert_eq!(fs::metadata(&path).unwrap().uid(), 0);
    }

    #[test]
    fn a_regular_file_is_replaced_and_links_directories_and_sockets_are_refused() {
        use std::os::unix::fs::FileTypeExt;
        let dir = private_dir();
        let path = dir.path().join("fifo");
        // What `cat - >> $HA_FIFO` leaves when no FIFO was there.
        fs::write(&path, b">>>\nt=hb_takeover\n<<<\n").unwrap();
        let (_fifo, setup) = open_fifo(&path).unwrap();
        assert_eq!(
            setup,
            FifoSetup::Replaced("a regular file of 22 bytes".into())
        );
        assert!(fs::metadata(&path).unwrap().file_type().is_fifo());

        let victim = dir.path().join("victim");
        fs::write(&victim, "precious").unwrap();
        let link = dir.path().join("link");
        symlink(&victim, &link).unwrap();
        let e = open_fifo(&link).unwrap_err();
        assert!(matches!(e, FifoError::Symlink { .. }), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is a symbolic link: refusing to follow it (remove it)",
                link.display()
            )
        );
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );

        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let e = open_fifo(&sub).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "{}: is a directory, not a FIFO: refusing to replace it (remove it)",
                sub.display()
            )
        );
        assert!(sub.is_dir());
        let sock = dir.path().join("sock");
        let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        assert!(matches!(
            open_fifo(&sock),
            Err(FifoError::NotFifo {
                what: "a socket",
                ..
            })
        ));
    }
}
