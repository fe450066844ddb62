//! Everything before the event loop: the node name, the persistent generation and UUID, the
//! pid file, the command FIFO, and `heartbeat -k`.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hb_config::{Config, GenMethod, UuidFrom};
use hb_sys::fs::{
    DirError, Durability, FifoError, FifoSetup, is_symlink_refusal, read_nofollow, replace_file,
};
use hb_sys::pidfile::{self, Holder, PidFileError, PidLock};

/// The pid file's name in the run dir.
const PID_FILE: &str = "heartbeat.pid";
/// The user Heartbeat's packaging runs its helpers as, owner of Debian's `/run/heartbeat`.
const HACLUSTER: &str = "hacluster";

/// Setup failures; each is one clear line.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SetupError {
    #[error("cannot determine the node name: {0}")]
    NodeName(String),
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("heartbeat is already running with run dir {dir} (pid {pid})")]
    AlreadyRunning { dir: PathBuf, pid: i32 },
    #[error(
        "heartbeat is already running with run dir {dir} (its pid file is locked by a process \
         other than the pid it names{})",
        .recorded.map(|p| format!(", {p}")).unwrap_or_default()
    )]
    LockedByOther { dir: PathBuf, recorded: Option<i32> },
    #[error("{path}: {source}")]
    PidFile {
        path: PathBuf,
        #[source]
        source: PidFileError,
    },
    #[error(transparent)]
    Dir(#[from] DirError),
    #[error("the command FIFO: {0}")]
    Fifo(#[from] FifoError),
    #[error("{path}: is a symbolic link: refusing to follow it (remove it)")]
    Symlink { path: PathBuf },
    #[error(
        "{path}: generation {} cannot be incremented; remove the file (the next start counts \
         from the clock) and restart the peers, which remember the old generation",
        u64::MAX
    )]
    GenerationExhausted { path: PathBuf },
    #[error("{dir}: the daemon's own directory, first on the agents' PATH, is unsafe: {source}")]
    UnsafeOwnDir {
        dir: PathBuf,
        #[source]
        source: hb_config::trust::Untrusted,
    },
}

fn io_err<'a>(path: &'a Path, what: &'static str) -> impl FnOnce(io::Error) -> SetupError + 'a {
    move |source| SetupError::Io {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// `-n`, else the first line of `<config dir>/nodeinfo`, else `uname -n`; lower-cased.
pub(crate) fn node_name(cli: Option<&str>, config_dir: &Path) -> Result<String, SetupError> {
    if let Some(n) = cli {
        return Ok(n.trim().to_ascii_lowercase());
    }
    if let Ok(text) = fs::read_to_string(config_dir.join("nodeinfo"))
        && let Some(first) = text.lines().next().map(str::trim).filter(|l| !l.is_empty())
    {
        return Ok(first.to_ascii_lowercase());
    }
    let uts = nix::sys::utsname::uname().map_err(|e| SetupError::NodeName(e.to_string()))?;
    let name = uts.nodename().to_string_lossy().trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(SetupError::NodeName("uname -n is empty".into()));
    }
    Ok(name)
}

/// What `prepare` established.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub(crate) node: String,
    pub(crate) generation: u64,
    pub(crate) uuid: [u8; 16],
    #[expect(
        dead_code,
        reason = "held for its lock, proof that this daemon runs; removed when it exits"
    )]
    pub(crate) pid_file: PidLock,
    pub(crate) config_dir: PathBuf,
    pub(crate) ocf_root: PathBuf,
    /// The command FIFO (`<state dir>/fifo`), open for reading and writing; the event loop
    /// takes it to read it.
    pub(crate) fifo: Option<fs::File>,
    pub(crate) fifo_path: PathBuf,
}

/// Creates the state and run directories (mode 0755) or refuses them when others can write
/// them, takes the pid file, bumps the generation, reads or creates the UUID, makes (or
/// replaces) and opens the command FIFO.
pub(crate) fn prepare(
    state_dir: &Path,
    run_dir: &Path,
    cfg: &Config,
    node: &str,
) -> Result<Prepared, SetupError> {
    hb_sys::fs::ensure_private_dir(state_dir)?;
    // Debian's heartbeat package makes /run/heartbeat hacluster's (mode 0750): accepted as
    // Heartbeat's own run directory.
    match nix::unistd::User::from_name(HACLUSTER).ok().flatten() {
        Some(u) => hb_sys::fs::ensure_dir_also_owned_by(run_dir, u.uid.as_raw())?,
        None => hb_sys::fs::ensure_private_dir(run_dir)?,
    }
    let pid_file = acquire_pid_file(run_dir)?;
    let generation = next_generation(&state_dir.join("hb_generation"), cfg.ha_cf.hbgenmethod)?;
    let uuid = match cfg.ha_cf.uuidfrom {
        UuidFrom::File => load_uuid(&state_dir.join("hb_uuid"))?,
        UuidFrom::NodeName => uuid_from_name(node),
    };
    tracing::info!(
        "node {node}: generation {generation}, uuid {}",
        uuid::Uuid::from_bytes(uuid).hyphenated()
    );
    let fifo_path = hb_control::fifo_path(state_dir);
    let (fifo, setup) = hb_sys::fs::open_fifo(&fifo_path)?;
    match setup {
        FifoSetup::Created => tracing::info!("created the command FIFO {}", fifo_path.display()),
        FifoSetup::Reused => tracing::debug!("using the command FIFO {}", fifo_path.display()),
        FifoSetup::Replaced(what) => tracing::warn!(
            "{}: replaced {what} with a fresh command FIFO (mode 0600)",
            fifo_path.display()
        ),
    }
    Ok(Prepared {
        node: node.to_string(),
        generation,
        uuid,
        pid_file,
        config_dir: cfg.dir.clone(),
        ocf_root: cfg.ha_cf.ocf_root.clone(),
        fifo: Some(fifo),
        fifo_path,
    })
}

/// Refuses to start when the daemon's own directory (first on the agents' `PATH`, where
/// they find `hb-addr`) or a directory above it can be written by others.
pub(crate) fn check_own_dir() -> Result<(), SetupError> {
    let exe = std::env::current_exe().map_err(io_err(
        Path::new("/proc/self/exe"),
        "cannot find the daemon's own directory",
    ))?;
    let Some(dir) = exe.parent() else {
        return Ok(());
    };
    hb_config::trust::check_path(dir).map_err(|source| SetupError::UnsafeOwnDir {
        dir: dir.to_path_buf(),
        source,
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The contents of `path` in a directory of ours, not following a symbolic link; `None`
/// when it is missing or unreadable.
fn read_own_file(path: &Path) -> Result<Option<Vec<u8>>, SetupError> {
    match read_nofollow(path) {
        Ok(data) => Ok(Some(data)),
        Err(e) if is_symlink_refusal(&e) => Err(SetupError::Symlink {
            path: path.to_path_buf(),
        }),
        Err(_) => Ok(None),
    }
}

/// Reads the previous generation (Heartbeat's 16-byte `hb_generation` format), adds one,
/// writes it back durably. Missing or unreadable: start from the clock, as Heartbeat does.
/// At `u64::MAX` it refuses: a generation that wrapped (or stayed) would make the peers take
/// this start for a replay of an old one.
pub(crate) fn next_generation(path: &Path, method: GenMethod) -> Result<u64, SetupError> {
    let previous = match method {
        GenMethod::Time => None,
        GenMethod::File => read_own_file(path)?
            .and_then(|data| String::from_utf8(data).ok())
            .and_then(|t| t.trim().parse::<u64>().ok()),
    };
    let generation = match previous {
        Some(p) => p
            .checked_add(1)
            .ok_or_else(|| SetupError::GenerationExhausted {
                path: path.to_path_buf(),
            })?,
        None => {
            let g = unix_now() + 1;
            tracing::info!("no previous generation: starting at {g}");
            g
        }
    };
    replace_file(
        path,
        format!("{generation:>15}\n").as_bytes(),
        0o644,
        Durability::Synced,
    )
    .map_err(io_err(path, "cannot write the generation"))?;
    Ok(generation)
}

/// The node's 16-byte UUID, created (random, version 4) on first start and kept forever.
pub(crate) fn load_uuid(path: &Path) -> Result<[u8; 16], SetupError> {
    if let Some(bytes) = read_own_file(path)?
        && let Ok(uuid) = <[u8; 16]>::try_from(bytes.as_slice())
    {
        return Ok(uuid);
    }
    let uuid = *uuid::Uuid::new_v4().as_bytes();
    tracing::info!("no uuid found for this node: generated a new one");
    replace_file(path, &uuid, 0o644, Durability::Synced)
        .map_err(io_err(path, "cannot write the uuid"))?;
    Ok(uuid)
}

/// `uuidfrom nodename`: a name-based UUID (MD5 of the name, version 3 bits).
fn uuid_from_name(node: &str) -> [u8; 16] {
    *uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_DNS, node.as_bytes()).as_bytes()
}

fn pid_path(run_dir: &Path) -> PathBuf {
    run_dir.join(PID_FILE)
}

/// Fails if a daemon already runs with this run dir: its pid file's lock is held. A file
/// nobody holds is stale, whatever process has the pid it names.
pub(crate) fn check_not_running(run_dir: &Path) -> Result<(), SetupError> {
    let path = pid_path(run_dir);
    match pidfile::holder(&path) {
        Ok(Holder::Nobody { .. }) => Ok(()),
        Ok(Holder::Daemon(d)) => Err(SetupError::AlreadyRunning {
            dir: run_dir.to_path_buf(),
            pid: d.pid(),
        }),
        Ok(Holder::Unproven { recorded }) => Err(SetupError::LockedByOther {
            dir: run_dir.to_path_buf(),
            recorded,
        }),
        Err(e) if is_symlink_refusal(&e) => Err(SetupError::Symlink { path }),
        Err(source) => Err(SetupError::Io {
            path,
            what: "cannot read the pid file",
            source,
        }),
    }
}

fn acquire_pid_file(run_dir: &Path) -> Result<PidLock, SetupError> {
    let path = pid_path(run_dir);
    PidLock::acquire(&path).map_err(|e| match e {
        PidFileError::Locked {
            proven: Some(pid), ..
        } => SetupError::AlreadyRunning {
            dir: run_dir.to_path_buf(),
            pid,
        },
        PidFileError::Locked { recorded, .. } => SetupError::LockedByOther {
            dir: run_dir.to_path_buf(),
            recorded,
        },
        source => SetupError::PidFile { path, source },
    })
}

/// `heartbeat -k`: SIGTERM to the daemon of this run dir, then wait until it is gone. Only a
/// process proven to hold the pid file's lock is signalled; a stale file is reported and
/// nothing is signalled.
/// The daemon running with `run_dir`, proven by its pid file's lock; otherwise the line that
/// says why none is (for stderr).
pub(crate) fn running_daemon(run_dir: &Path) -> Result<pidfile::Daemon, String> {
    let path = pid_path(run_dir);
    match pidfile::holder(&path) {
        Ok(Holder::Daemon(d)) => Ok(d),
        Ok(Holder::Nobody { recorded: None }) => Err(format!(
            "heartbeat: not running (no live pid in {})",
            path.display()
        )),
        Ok(Holder::Nobody {
            recorded: Some(pid),
        }) => Err(format!(
            "heartbeat: not running (stale pid file {}: pid {pid} does not hold its lock; \
             nothing signalled)",
            path.display()
        )),
        Ok(Holder::Unproven { recorded }) => {
            let names = recorded.map_or_else(|| "no pid".to_owned(), |p| format!("pid {p}"));
            Err(format!(
                "heartbeat: {} is locked by a process other than the one it names ({names}); \
                 nothing signalled",
                path.display()
            ))
        }
        Err(e) => Err(format!("heartbeat: {}: {e}", path.display())),
    }
}

/// `heartbeat -s`, in Heartbeat's words: `heartbeat OK [pid N et al] is running on HOST
/// [NODE]...` and exit 0, or `heartbeat is stopped. No process` and exit 3 (LSB "not
/// running"); Heartbeat's CTS and init scripts read them.
pub(crate) fn report_status(run_dir: &Path, node: &str) -> ExitCode {
    match running_daemon(run_dir) {
        Ok(d) => {
            let host = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_else(|| node.to_owned())
                .to_ascii_lowercase();
            println!(
                "heartbeat OK [pid {} et al] is running on {host} [{node}]...",
                d.pid()
            );
            ExitCode::SUCCESS
        }
        Err(_) => {
            println!("heartbeat is stopped. No process");
            ExitCode::from(3)
        }
    }
}

/// `heartbeat -r` with a daemon running and a valid configuration: SIGHUP it (it re-reads
/// the files), as Heartbeat does.
pub(crate) fn signal_reread(daemon: &pidfile::Daemon) -> ExitCode {
    let pid = daemon.pid();
    match daemon.hang_up() {
        Ok(()) => {
            eprintln!("heartbeat: Signalling heartbeat pid {pid} to reread config files");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("heartbeat: Unable to send SIGHUP to pid {pid}: {e}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn stop_running_daemon(run_dir: &Path) -> ExitCode {
    let daemon = match running_daemon(run_dir) {
        Ok(d) => d,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(1);
        }
    };
    let pid = daemon.pid();
    if let Err(e) = daemon.terminate() {
        eprintln!("heartbeat: cannot signal pid {pid}: {e}");
        return ExitCode::from(1);
    }
    // A graceful stop releases every group in order; agents may take their time.
    let limit = Duration::from_secs(600);
    match daemon.wait_exit(limit) {
        Ok(true) => {
            eprintln!("heartbeat: stopped (pid {pid})");
            ExitCode::SUCCESS
        }
        Ok(false) => {
            eprintln!(
                "heartbeat: pid {pid} still running after {} s",
                limit.as_secs()
            );
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("heartbeat: cannot wait for pid {pid}: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_uses_heartbeats_file_format_and_never_goes_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb_generation");
        fs::write(&path, "     1795527731\n").unwrap();
        assert_eq!(
            next_generation(&path, GenMethod::File).unwrap(),
            1_795_527_732
        );
        assert_eq!(fs::read(&path).unwrap(), b"     1795527732\n");
        assert_eq!(
            next_generation(&path, GenMethod::File).unwrap(),
            1_795_527_733
        );
        fs::remove_file(&path).unwrap();
        let fresh = next_generation(&path, GenMethod::File).unwrap();
        assert!(fresh > 1_700_000_000, "clock-based start: {fresh}");
        assert_eq!(fs::read(&path).unwrap().len(), 16);
    }

    #[test]
    fn uuid_is_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb_uuid");
        let a = load_uuid(&path).unwrap();
        let b = load_uuid(&path).unwrap();
        assert_eq!(a, b);
        assert_eq!(fs::read(&path).unwrap(), a);
        assert_eq!(uuid_from_name("node1"), uuid_from_name("node1"));
        assert_ne!(uuid_from_name("node1"), uuid_from_name("node2"));
    }

    #[test]
    fn generation_at_its_largest_is_refused_not_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hb_generation");
        fs::write(&path, format!("{}\n", u64::MAX - 1)).unwrap();
        assert_eq!(next_generation(&path, GenMethod::File).unwrap(), u64::MAX);
        let err = next_generation(&path, GenMethod::File).unwrap_err();
        assert!(
            matches!(err, SetupError::GenerationExhausted { .. }),
            "{err}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "{}: generation 18446744073709551615 cannot be incremented; remove the file \
                 (the next start counts from the clock) and restart the peers, which remember \
                 the old generation",
                path.display()
            )
        );
        assert_eq!(
            fs::read_to_string(&path).unwrap().trim(),
            u64::MAX.to_string(),
            "left as it was"
        );
    }

    fn me() -> i32 {
        i32::try_from(std::process::id()).unwrap()
    }

    #[test]
    fn a_stale_pid_file_naming_a_live_process_neither_blocks_nor_gets_it_killed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heartbeat.pid");
        // The pid of a stopped daemon, reused by an unrelated process.
        let mut bystander = std::process::Command::new("sleep")
            .arg("600")
            .spawn()
            .unwrap();
        fs::write(&path, format!("{}\n", bystander.id())).unwrap();
        check_not_running(dir.path()).unwrap();
        assert_eq!(stop_running_daemon(dir.path()), ExitCode::from(1));
        assert!(
            bystander.try_wait().unwrap().is_none(),
            "heartbeat -k signalled a process that is not the daemon"
        );
        // The stale file is taken over; then a second daemon is refused, naming the first.
        let held = acquire_pid_file(dir.path()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), format!("{}\n", me()));
        let refused = [
            check_not_running(dir.path()).unwrap_err(),
            acquire_pid_file(dir.path()).unwrap_err(),
        ];
        for e in refused {
            assert_eq!(
                e.to_string(),
                format!(
                    "heartbeat is already running with run dir {} (pid {})",
                    dir.path().display(),
                    me()
                )
            );
        }
        drop(held);
        assert!(!path.exists());
        assert_eq!(stop_running_daemon(dir.path()), ExitCode::from(1));
        bystander.kill().unwrap();
        bystander.wait().unwrap();
    }

    #[test]
    fn symlinks_planted_in_the_state_and_run_dirs_are_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        let state = dir.path().join("state");
        let run = dir.path().join("run");
        fs::create_dir(&state).unwrap();
        fs::create_dir(&run).unwrap();
        // At the temporary name: removed, never written through.
        std::os::unix::fs::symlink(&victim, state.join("hb_generation.tmp")).unwrap();
        next_generation(&state.join("hb_generation"), GenMethod::File).unwrap();
        // At the files themselves: refused.
        for name in ["hb_generation", "hb_uuid"] {
            fs::remove_file(state.join(name)).ok();
            std::os::unix::fs::symlink(&victim, state.join(name)).unwrap();
        }
        let gen_err = next_generation(&state.join("hb_generation"), GenMethod::File).unwrap_err();
        assert_eq!(
            gen_err.to_string(),
            format!(
                "{}: is a symbolic link: refusing to follow it (remove it)",
                state.join("hb_generation").display()
            )
        );
        assert!(matches!(
            load_uuid(&state.join("hb_uuid")),
            Err(SetupError::Symlink { .. })
        ));
        std::os::unix::fs::symlink(&victim, run.join("heartbeat.pid")).unwrap();
        assert!(matches!(
            check_not_running(&run),
            Err(SetupError::Symlink { .. })
        ));
        let pid_err = acquire_pid_file(&run).unwrap_err();
        assert!(
            pid_err
                .to_string()
                .contains("Too many levels of symbolic links"),
            "{pid_err}"
        );
        assert_eq!(stop_running_daemon(&run), ExitCode::from(1));
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    }

    fn config(dir: &Path) -> Config {
        fs::write(dir.join("ha.cf"), "bcast lo\nnode node1\n").unwrap();
        fs::write(dir.join("haresources"), "").unwrap();
        fs::write(dir.join("authkeys"), "auth 1\n1 sha1 secret\n").unwrap();
        let mut opts = hb_config::LoadOptions::new("node1");
        opts.check_permissions = false;
        hb_config::load(dir, &opts)
            .unwrap_or_else(|e| panic!("{e}"))
            .config
    }

    #[test]
    fn prepare_creates_safe_dirs_and_refuses_ones_others_can_write() {
        use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
        let dir = tempfile::tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let cfg = config(dir.path());
        let (state, run) = (dir.path().join("lib/heartbeat"), dir.path().join("run/hb"));
        let p = prepare(&state, &run, &cfg, "node1").unwrap();
        for d in [&state, &run] {
            assert_eq!(
                fs::metadata(d).unwrap().mode() & 0o022,
                0,
                "{}",
                d.display()
            );
        }
        // Heartbeat's FIFO, where Heartbeat has it with the default state directory.
        assert_eq!(p.fifo_path, state.join("fifo"));
        let fifo = fs::symlink_metadata(state.join("fifo")).unwrap();
        assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fifo.file_type()));
        assert_eq!(fifo.mode() & 0o7777, 0o600);
        drop(p);
        fs::set_permissions(&state, fs::Permissions::from_mode(0o777)).unwrap();
        let before = fs::read(state.join("hb_generation")).unwrap();
        let err = prepare(&state, &run, &cfg, "node1").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{0}: refusing to use it: {0} must be owned by {1} and not writable by group \
                 or others (mode is 0777)",
                state.display(),
                if hb_config::trust::euid() == 0 {
                    "root".to_owned()
                } else {
                    format!("root or uid {}", hb_config::trust::euid())
                }
            )
        );
        assert_eq!(fs::read(state.join("hb_generation")).unwrap(), before);
        // Something at the FIFO's path that is not ours to remove stops the start.
        fs::set_permissions(&state, fs::Permissions::from_mode(0o755)).unwrap();
        fs::remove_file(state.join("fifo")).unwrap();
        fs::create_dir(state.join("fifo")).unwrap();
        let err = prepare(&state, &run, &cfg, "node1").unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "the command FIFO: {}: is a directory, not a FIFO: refusing to replace it \
                 (remove it)",
                state.join("fifo").display()
            )
        );
    }

    #[test]
    fn node_name_comes_from_the_flag_then_nodeinfo() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(node_name(Some("Node1"), dir.path()).unwrap(), "node1");
        fs::write(dir.path().join("nodeinfo"), "WWW.centos1.com\nignored\n").unwrap();
        assert_eq!(node_name(None, dir.path()).unwrap(), "www.centos1.com");
    }
}
