//! The carrier of network interfaces, read from sysfs (`/sys/class/net/DEV/carrier`): the
//! isolation rule's witness that a node's own cables are out (docs/ha.cf.md#isolation).

use std::io;
use std::path::{Path, PathBuf};

/// Whether `dev` has carrier: `Some(true)` (`1`), `Some(false)` (`0`, or the kernel refuses the
/// read because the interface is down), `None` when it cannot tell (no such interface).
pub fn carrier(dev: &str) -> Option<bool> {
    carrier_at(&Path::new("/sys/class/net").join(dev))
}

fn carrier_at(dir: &Path) -> Option<bool> {
    let file: PathBuf = dir.join("carrier");
    match std::fs::read_to_string(&file) {
        Ok(s) => match s.trim() {
            "1" => Some(true),
            "0" => Some(false),
            _ => None,
        },
        // An interface that is administratively down answers EINVAL.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Some(false),
        Err(_) => None,
    }
}

/// Whether every interface of `devs` has lost its carrier: false if any has it or cannot
/// tell (an unknown state never isolates a node), and for an empty list.
pub fn all_lost(devs: &[String]) -> bool {
    !devs.is_empty() && devs.iter().all(|d| carrier(d) == Some(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_words_read_as_carrier_states() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(carrier_at(dir.path()), None, "no file");
        std::fs::write(dir.path().join("carrier"), "1\n").unwrap();
        assert_eq!(carrier_at(dir.path()), Some(true));
        std::fs::write(dir.path().join("carrier"), "0\n").unwrap();
        assert_eq!(carrier_at(dir.path()), Some(false));
        std::fs::write(dir.path().join("carrier"), "x\n").unwrap();
        assert_eq!(carrier_at(dir.path()), None);
    }

    #[test]
    fn loopback_has_carrier_and_a_missing_interface_does_not_isolate() {
        assert_eq!(carrier("lo"), Some(true));
        assert_eq!(carrier("hbrs-nonexistent0"), None);
        assert!(!all_lost(&["lo".to_owned()]));
        assert!(!all_lost(&["hbrs-nonexistent0".to_owned()]));
        assert!(!all_lost(&[]));
    }
}
