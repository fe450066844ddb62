//! The `watchdog DEVICE` of `ha.cf`: a Linux watchdog device (`/dev/watchdog`, or softdog)
//! that reboots the machine unless it is written to in time.
//!
//! As in Heartbeat 3.0.6: opened write-only, its timeout set to the deadtime plus 10 ms
//! rounded up to whole seconds (`WDIOC_SETTIMEOUT`; a device or stand-in that does not take
//! the ioctl keeps its own), petted by writing one NUL byte, and on a clean shutdown
//! disarmed by writing the magic character `V` before closing. The daemon pets it from its
//! event loop, so a hung loop stops petting and the machine reboots.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `WDIOC_SETTIMEOUT` (`_IOWR('W', 6, int)`, linux/watchdog.h).
mod ioctl {
    nix::ioctl_readwrite!(set_timeout, b'W', 6, libc::c_int);
}

/// Errors opening the device.
#[derive(Debug, thiserror::Error)]
#[error("watchdog {}: cannot open it for writing: {source}", path.display())]
pub struct WatchdogError {
    /// The device.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// An open watchdog device.
#[derive(Debug)]
pub struct Watchdog {
    file: Option<File>,
    path: PathBuf,
}

/// What setting the timeout came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The device took it (it may round it: the value it reports, in seconds).
    Set(i32),
    /// The device does not support the ioctl (a stand-in, or a fixed-timeout device).
    Unsupported,
}

impl Watchdog {
    /// Opens `path` write-only (close-on-exec) and sets its timeout to `deadtime` + 10 ms,
    /// rounded up to whole seconds, as Heartbeat does.
    pub fn open(path: &Path, deadtime: Duration) -> Result<(Watchdog, Timeout), WatchdogError> {
        let file = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|source| WatchdogError {
                path: path.to_owned(),
                source,
            })?;
        let ms = deadtime.as_millis().saturating_add(10);
        let mut secs = libc::c_int::try_from(ms.div_ceil(1000)).unwrap_or(libc::c_int::MAX);
        // SAFETY: the descriptor is open for the duration of the call and `secs` is a valid
        // int the kernel reads and writes back, as WDIOC_SETTIMEOUT defines.
        let timeout = match unsafe { ioctl::set_timeout(file.as_raw_fd(), &raw mut secs) } {
            Ok(_) => Timeout::Set(secs),
            Err(_) => Timeout::Unsupported,
        };
        Ok((
            Watchdog {
                file: Some(file),
                path: path.to_owned(),
            },
            timeout,
        ))
    }

    /// The device's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Pets the device (one NUL byte). A failed write closes it, as Heartbeat does ("Watchdog
    /// write failure"): the error is returned once, later pets do nothing.
    pub fn pet(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        if let Err(e) = file.write_all(b"\0") {
            self.file = None;
            return Err(e);
        }
        Ok(())
    }

    /// A clean shutdown: writes the magic character `V` (the driver disarms) and closes.
    pub fn disarm(mut self) -> io::Result<()> {
        match self.file.take() {
            Some(mut file) => file.write_all(b"V"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn a_stand_in_file_receives_nul_pets_then_the_magic_v() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wd");
        std::fs::write(&path, b"").unwrap();
        let (mut wd, timeout) = Watchdog::open(&path, Duration::from_millis(2990)).unwrap();
        assert_eq!(timeout, Timeout::Unsupported, "a plain file takes no ioctl");
        wd.pet().unwrap();
        wd.pet().unwrap();
        wd.disarm().unwrap();
        let mut got = Vec::new();
        File::open(&path).unwrap().read_to_end(&mut got).unwrap();
        assert_eq!(got, b"\0\0V");
    }

    #[test]
    fn a_missing_device_is_an_error_naming_it() {
        let e =
            Watchdog::open(Path::new("/nonexistent/watchdog"), Duration::from_secs(1)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("watchdog /nonexistent/watchdog: cannot open it for writing: "),
            "{e}"
        );
    }
}
