//! Files in the daemon's own directories (run dir, state dir), written so that nothing planted
//! there can redirect a write: directories created with a safe mode and refused when others
//! can write them, files opened without following symbolic links, replacements written to a
//! freshly created temporary file and renamed into place.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
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
}
