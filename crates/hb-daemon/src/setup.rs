//! Everything before the event loop: the node name, the persistent generation and UUID, the
//! pid file, and `heartbeat -k`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hb_config::{Config, GenMethod, UuidFrom};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

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
        reason = "held for its Drop, which removes the pid file when the daemon exits"
    )]
    pub(crate) pid_file: PidFile,
    pub(crate) config_dir: PathBuf,
    pub(crate) ocf_root: PathBuf,
}

/// Creates the state and run directories, bumps the generation, reads or creates the UUID
/// and takes the pid file.
pub(crate) fn prepare(
    state_dir: &Path,
    run_dir: &Path,
    cfg: &Config,
    node: &str,
) -> Result<Prepared, SetupError> {
    fs::create_dir_all(state_dir)
        .map_err(io_err(state_dir, "cannot create the state directory"))?;
    fs::create_dir_all(run_dir).map_err(io_err(run_dir, "cannot create the run directory"))?;
    let pid_file = PidFile::acquire(run_dir)?;
    let generation = next_generation(&state_dir.join("hb_generation"), cfg.ha_cf.hbgenmethod)?;
    let uuid = match cfg.ha_cf.uuidfrom {
        UuidFrom::File => load_uuid(&state_dir.join("hb_uuid"))?,
        UuidFrom::NodeName => uuid_from_name(node),
    };
    tracing::info!(
        "node {node}: generation {generation}, uuid {}",
        uuid::Uuid::from_bytes(uuid).hyphenated()
    );
    Ok(Prepared {
        node: node.to_string(),
        generation,
        uuid,
        pid_file,
        config_dir: cfg.dir.clone(),
        ocf_root: cfg.ha_cf.ocf_root.clone(),
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads the previous generation (Heartbeat's 16-byte `hb_generation` format), adds one,
/// writes it back durably. Missing or unreadable: start from the clock, as Heartbeat does.
pub(crate) fn next_generation(path: &Path, method: GenMethod) -> Result<u64, SetupError> {
    let previous = match method {
        GenMethod::Time => None,
        GenMethod::File => fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse::<u64>().ok()),
    };
    let generation = match previous {
        Some(p) => p + 1,
        None => {
            let g = unix_now() + 1;
            tracing::info!("no previous generation: starting at {g}");
            g
        }
    };
    let tmp = path.with_extension("new");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&tmp)
        .map_err(io_err(&tmp, "cannot write the generation"))?;
    f.write_all(format!("{generation:>15}\n").as_bytes())
        .map_err(io_err(&tmp, "cannot write the generation"))?;
    f.sync_all()
        .map_err(io_err(&tmp, "cannot sync the generation"))?;
    fs::rename(&tmp, path).map_err(io_err(path, "cannot replace the generation file"))?;
    Ok(generation)
}

/// The node's 16-byte UUID, created (random, version 4) on first start and kept forever.
pub(crate) fn load_uuid(path: &Path) -> Result<[u8; 16], SetupError> {
    if let Ok(bytes) = fs::read(path)
        && let Ok(uuid) = <[u8; 16]>::try_from(bytes.as_slice())
    {
        return Ok(uuid);
    }
    let uuid = *uuid::Uuid::new_v4().as_bytes();
    tracing::info!("no uuid found for this node: generated a new one");
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(io_err(path, "cannot write the uuid"))?;
    f.write_all(&uuid)
        .map_err(io_err(path, "cannot write the uuid"))?;
    f.sync_all().map_err(io_err(path, "cannot sync the uuid"))?;
    Ok(uuid)
}

/// `uuidfrom nodename`: a name-based UUID (MD5 of the name, version 3 bits).
fn uuid_from_name(node: &str) -> [u8; 16] {
    *uuid::Uuid::new_v3(&uuid::Uuid::NAMESPACE_DNS, node.as_bytes()).as_bytes()
}

/// Fails if a daemon already runs with this run dir.
pub(crate) fn check_not_running(run_dir: &Path) -> Result<(), SetupError> {
    match read_pid(run_dir) {
        Some(pid) if pid != std::process::id() as i32 && alive(pid) => {
            Err(SetupError::AlreadyRunning {
                dir: run_dir.to_path_buf(),
                pid,
            })
        }
        _ => Ok(()),
    }
}

/// The pid file of a running daemon; removed on drop.
#[derive(Debug)]
pub(crate) struct PidFile {
    path: PathBuf,
}

impl PidFile {
    fn acquire(run_dir: &Path) -> Result<PidFile, SetupError> {
        let path = run_dir.join("heartbeat.pid");
        if let Some(pid) = read_pid(run_dir)
            && pid != std::process::id() as i32
            && alive(pid)
        {
            return Err(SetupError::AlreadyRunning {
                dir: run_dir.to_path_buf(),
                pid,
            });
        }
        fs::write(&path, format!("{}\n", std::process::id()))
            .map_err(io_err(&path, "cannot write the pid file"))?;
        Ok(PidFile { path })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn read_pid(run_dir: &Path) -> Option<i32> {
    fs::read_to_string(run_dir.join("heartbeat.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A process with this pid exists and is not a zombie (a foreground daemon's parent may
/// not have reaped it yet: it has stopped all the same).
fn alive(pid: i32) -> bool {
    if pid <= 0 || kill(Pid::from_raw(pid), None).is_err() {
        return false;
    }
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next())
                != Some('Z')
        }
        Err(_) => false,
    }
}

/// `heartbeat -k`: SIGTERM to the daemon of this run dir, then wait until it is gone.
pub(crate) fn stop_running_daemon(run_dir: &Path) -> ExitCode {
    let Some(pid) = read_pid(run_dir).filter(|&p| alive(p)) else {
        eprintln!(
            "heartbeat: not running (no live pid in {})",
            run_dir.join("heartbeat.pid").display()
        );
        return ExitCode::from(1);
    };
    if let Err(e) = kill(Pid::from_raw(pid), Signal::SIGTERM) {
        eprintln!("heartbeat: cannot signal pid {pid}: {e}");
        return ExitCode::from(1);
    }
    // A graceful stop releases every group in order; agents may take their time.
    let limit = Duration::from_secs(600);
    let started = Instant::now();
    while alive(pid) {
        if started.elapsed() > limit {
            eprintln!(
                "heartbeat: pid {pid} still running after {} s",
                limit.as_secs()
            );
            return ExitCode::from(1);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    eprintln!("heartbeat: stopped (pid {pid})");
    ExitCode::SUCCESS
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
    fn a_second_daemon_with_the_same_run_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        // A live process (this test's parent, pid 1 in a container would do too): use init.
        fs::write(dir.path().join("heartbeat.pid"), "1\n").unwrap();
        assert!(matches!(
            PidFile::acquire(dir.path()),
            Err(SetupError::AlreadyRunning { pid: 1, .. })
        ));
        // A zombie is not alive.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zombie = child.id() as i32;
        wait_for_zombie(zombie);
        assert!(!alive(zombie));
        child.wait().unwrap();
        // A stale pid file is taken over.
        fs::write(dir.path().join("heartbeat.pid"), "999999999\n").unwrap();
        let pf = PidFile::acquire(dir.path()).unwrap();
        assert_eq!(read_pid(dir.path()), Some(std::process::id() as i32));
        drop(pf);
        assert!(!dir.path().join("heartbeat.pid").exists());
    }

    /// Waits until `pid` has exited but is not reaped yet.
    fn wait_for_zombie(pid: i32) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            if stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
            {
                return;
            }
            std::thread::yield_now();
        }
        panic!("pid {pid} never became a zombie");
    }

    #[test]
    fn node_name_comes_from_the_flag_then_nodeinfo() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(node_name(Some("Node1"), dir.path()).unwrap(), "node1");
        fs::write(dir.path().join("nodeinfo"), "WWW.centos1.com\nignored\n").unwrap();
        assert_eq!(node_name(None, dir.path()).unwrap(), "www.centos1.com");
    }
}
