//! The remembered peers: what the core has seen of each peer, kept across restarts of the
//! daemon in `<state dir>/hbrs_peers` so that recordings of a peer's messages are known as
//! replays after a restart of ours (docs/protocol.md, "Replays and generations").
//!
//! The file is text, one peer a line, numbers in decimal:
//!
//! ```text
//! # heartbeat-rs remembered peers: NODE GENERATION SEQ TS
//! node2 1800000123 4711 1800004242
//! ```
//!
//! `#` starts a comment line. It is rewritten whole when the core asks
//! ([`hb_core::Action::RememberPeers`]) through `hb_sys::fs::replace_file`: a new file (never through a
//! symlink: `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600) and renamed over it, so a reader sees the
//! old table or the new one. It is not synced to disk on each write: what a crash of the
//! daemon needs is in the page cache; after a crash of the machine the file may be older,
//! or unreadable (then the daemon starts with an empty table and says so). A missing or
//! unparsable file is never fatal.

use std::io;
use std::path::{Path, PathBuf};

use hb_core::{PeerMark, RememberedPeers};

/// The file's name in the state directory.
pub(crate) const FILE_NAME: &str = "hbrs_peers";

/// Where the table lives.
pub(crate) fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Reads the table; missing or unparsable: an empty table, logged.
pub(crate) fn load(state_dir: &Path) -> RememberedPeers {
    let path = path(state_dir);
    match read(&path) {
        Ok(Some(text)) => match parse(&text) {
            Ok(table) => table,
            Err(e) => {
                tracing::warn!(
                    "{}: {e}; starting without remembered peers (replays of messages seen before \
                     this start cannot be recognised until they are heard from again)",
                    path.display()
                );
                RememberedPeers::new()
            }
        },
        Ok(None) => {
            tracing::info!(
                "{}: no remembered peers (first start, or the file was removed)",
                path.display()
            );
            RememberedPeers::new()
        }
        Err(e) => {
            tracing::warn!(
                "{}: cannot read it ({e}); starting without remembered peers",
                path.display()
            );
            RememberedPeers::new()
        }
    }
}

fn read(path: &Path) -> io::Result<Option<String>> {
    match hb_sys::fs::read_nofollow(path) {
        Ok(data) => String::from_utf8(data)
            .map(Some)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Parses the text format (see the module documentation).
pub(crate) fn parse(text: &str) -> Result<RememberedPeers, String> {
    let mut table = RememberedPeers::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = || format!("line {}: expected NODE GENERATION SEQ TS", i + 1);
        let [name, generation, seq, ts] = line.split_ascii_whitespace().collect::<Vec<_>>()[..]
        else {
            return Err(bad());
        };
        let num = |s: &str| s.parse::<u64>().map_err(|_| bad());
        let mark = PeerMark {
            generation: num(generation)?,
            seq: num(seq)?,
            ts: num(ts)?,
        };
        if table.insert(name.to_string(), mark).is_some() {
            return Err(format!("line {}: node {name} listed twice", i + 1));
        }
    }
    Ok(table)
}

/// The text of a table.
pub(crate) fn format(table: &RememberedPeers) -> String {
    let mut text = String::from("# heartbeat-rs remembered peers: NODE GENERATION SEQ TS\n");
    for (name, m) in table {
        text.push_str(&format!("{name} {} {} {}\n", m.generation, m.seq, m.ts));
    }
    text
}

/// Replaces the table on disk through [`hb_sys::fs::replace_file`]: a new file (never
/// through a symlink), renamed over the old, left in the page cache (this runs in the event
/// loop, which must not wait for the disk).
pub(crate) fn store(state_dir: &Path, table: &RememberedPeers) -> io::Result<()> {
    hb_sys::fs::replace_file(
        &path(state_dir),
        format(table).as_bytes(),
        0o600,
        hb_sys::fs::Durability::Cached,
    )
}

/// Writes the tables the core asks for, logging a failure once until a write succeeds.
#[derive(Debug)]
pub(crate) struct Keeper {
    state_dir: PathBuf,
    failing: bool,
}

impl Keeper {
    pub(crate) fn new(state_dir: &Path) -> Keeper {
        Keeper {
            state_dir: state_dir.to_path_buf(),
            failing: false,
        }
    }

    pub(crate) fn store(&mut self, table: &RememberedPeers) {
        match store(&self.state_dir, table) {
            Ok(()) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!("{}: written again", path(&self.state_dir).display());
                }
            }
            Err(e) if !self.failing => {
                self.failing = true;
                tracing::warn!(
                    "{}: cannot write the remembered peers ({e}); replays of what was seen since \
                     will not be recognised after a restart",
                    path(&self.state_dir).display()
                );
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn table() -> RememberedPeers {
        RememberedPeers::from([(
            "node2".to_string(),
            PeerMark {
                generation: 1_800_000_123,
                seq: 4711,
                ts: 1_800_004_242,
            },
        )])
    }

    #[test]
    fn a_table_survives_a_write_and_a_read() {
        let dir = tempfile::tempdir().unwrap();
        assert!(load(dir.path()).is_empty(), "missing file: empty table");
        store(dir.path(), &table()).unwrap();
        assert_eq!(
            fs::read_to_string(path(dir.path())).unwrap(),
            "# heartbeat-rs remembered peers: NODE GENERATION SEQ TS\n\
             node2 1800000123 4711 1800004242\n"
        );
        assert_eq!(load(dir.path()), table());
        let mut newer = table();
        newer.get_mut("node2").unwrap().seq = 4800;
        store(dir.path(), &newer).unwrap();
        assert_eq!(load(dir.path()), newer);
        let mode = fs::metadata(path(dir.path())).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    #[test]
    fn an_unparsable_file_gives_an_empty_table() {
        for bad in [
            "node2 1 2\n",
            "node2 1 2 x\n",
            "node2 1 2 3\nnode2 1 2 3\n",
            "node2 -1 2 3\n",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
            let dir = tempfile::tempdir().unwrap();
            fs::write(path(dir.path()), bad).unwrap();
            assert!(load(dir.path()).is_empty(), "{bad:?}");
        }
        assert_eq!(
            parse("# c\n\n node2 1800000123 4711 1800004242 \n"),
            Ok(table())
        );
    }

    #[test]
    fn writes_never_follow_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "precious\n").unwrap();
        // A planted temp file pointing elsewhere is removed, not written through.
        std::os::unix::fs::symlink(&victim, dir.path().join("hbrs_peers.tmp")).unwrap();
        store(dir.path(), &table()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(load(dir.path()), table());
        // The file itself a symlink: replaced by the rename, the target untouched; reading
        // through one is refused.
        fs::remove_file(path(dir.path())).unwrap();
        std::os::unix::fs::symlink(&victim, path(dir.path())).unwrap();
        assert!(load(dir.path()).is_empty());
        store(dir.path(), &table()).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(load(dir.path()), table());
    }
}
