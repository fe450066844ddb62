//! SIGHUP, as Heartbeat 3.0.6 handles it for what it can apply at once: `authkeys` is read
//! again and the new keys are used from the next datagram ("Rereading authentication
//! file."), which is how keys are rotated. All three files are checked first; a file with
//! errors is refused with its `file:line` and the daemon runs on with what it has (Heartbeat
//! exits on a bad `authkeys`). Changes to `ha.cf` or `haresources` are named in the log and
//! applied at the next restart (Heartbeat restarts itself for an `ha.cf` change). Heartbeat's
//! test hook `OnlyForTesting` is read at start and on every SIGHUP too.

use std::path::Path;

use hb_config::{Config, LoadOptions};
use hb_core::Core;

/// Heartbeat's test hook: reads `<dir>/OnlyForTesting` (at start and on SIGHUP, as Heartbeat
/// does) and enables its deliberate message loss, or disables it when the file is gone.
pub(crate) fn test_options(core: &mut Core, dir: &Path) {
    let path = dir.join(hb_config::TEST_OPTIONS_FILE);
    let options = match hb_sys::fs::read_nofollow(&path) {
        Ok(data) => Some(hb_config::TestOptions::parse(&String::from_utf8_lossy(
            &data,
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::error!(
                "{}: cannot read it ({e}): test options unchanged",
                path.display()
            );
            return;
        }
    };
    core.set_test_options(options);
}

/// Handles one SIGHUP: re-reads the configuration in `running.dir` and applies the keys.
pub(crate) fn sighup(core: &mut Core, running: &Config, opts: &LoadOptions) {
    test_options(core, &running.dir);
    let report = hb_config::check(&running.dir, opts);
    let new = match report.config {
        Some(c) if report.errors.is_empty() => c,
        _ => {
            for e in &report.errors {
                tracing::error!("SIGHUP: {e}");
            }
            tracing::error!(
                "SIGHUP: the configuration in {} has errors: nothing applied, running on with \
                 the previous one",
                running.dir.display()
            );
            return;
        }
    };
    let keys = core.set_keys(new.keys);
    let mut later = Vec::new();
    if new.ha_cf != running.ha_cf {
        later.push("ha.cf");
    }
    if new.haresources != running.haresources {
        later.push("haresources");
    }
    if !later.is_empty() {
        tracing::warn!(
            "SIGHUP: {} changed: applied at the next restart of heartbeat (only authkeys is \
             applied at once)",
            later.join(" and ")
        );
    } else if !keys {
        tracing::info!("Configuration unchanged.");
    }
}
