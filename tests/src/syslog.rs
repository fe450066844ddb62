//! A syslog collector for the lab: the `/dev/log` of each node is a datagram socket of ours,
//! and every message is appended to one file in the traditional syslog file format,
//! `Mon dd HH:MM:SS HOST TAG: MESSAGE`, with the host name of the node it came from, as a
//! central syslog server writes the messages of its clients. Heartbeat's CTS watches such a
//! file for the cluster managers' messages of all nodes.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};

/// How often a receiving thread looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Receives the syslog messages of several hosts, each on its own socket, and appends them to
/// one file. Dropping it stops the threads and removes the sockets.
#[derive(Debug)]
pub struct SyslogCollector {
    file: PathBuf,
    stop: Arc<AtomicBool>,
    threads: Vec<(PathBuf, JoinHandle<()>)>,
}

impl SyslogCollector {
    /// A collector appending to `file` (created if missing), with no socket yet.
    pub fn new(file: &Path) -> Result<SyslogCollector> {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .with_context(|| format!("cannot create {}", file.display()))?;
        Ok(SyslogCollector {
            file: file.to_owned(),
            stop: Arc::new(AtomicBool::new(false)),
            threads: Vec::new(),
        })
    }

    /// The file the messages go to.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Binds a datagram socket at `socket` (mode 0666, as `/dev/log`) whose messages are
    /// written as coming from `host`.
    pub fn listen(&mut self, host: &str, socket: &Path) -> Result<()> {
        let _ = fs::remove_file(socket);
        let sock = UnixDatagram::bind(socket)
            .with_context(|| format!("cannot bind {}", socket.display()))?;
        fs::set_permissions(socket, fs::Permissions::from_mode(0o666))?;
        sock.set_read_timeout(Some(STOP_CHECK))?;
        let out = OpenOptions::new().append(true).open(&self.file)?;
        let stop = Arc::clone(&self.stop);
        let host = host.to_owned();
        let handle = std::thread::Builder::new()
            .name(format!("syslog-{host}"))
            .spawn(move || receive(&sock, &host, out, &stop))?;
        self.threads.push((socket.to_owned(), handle));
        Ok(())
    }
}

fn receive(sock: &UnixDatagram, host: &str, mut out: File, stop: &AtomicBool) {
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::SeqCst) {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let line = format_line(SystemTime::now(), host, &buf[..n]);
                // One write per line: appends of whole lines never interleave.
                let _ = out.write_all(line.as_bytes());
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// `<PRI>[Mmm dd hh:mm:ss ]TAG: MESSAGE` (what glibc's `syslog(3)` and `logger` send; the
/// time stamp is optional) becomes `Mmm dd hh:mm:ss HOST TAG: MESSAGE\n`, stamped with the
/// time of arrival. Bytes that are not UTF-8 are replaced, control characters (a trailing
/// newline, an embedded one) become spaces.
pub fn format_line(now: SystemTime, host: &str, datagram: &[u8]) -> String {
    let text = String::from_utf8_lossy(datagram);
    let mut rest: &str = &text;
    if let Some(after) = rest.strip_prefix('<')
        && let Some((pri, tail)) = after.split_once('>')
        && !pri.is_empty()
        && pri.len() <= 3
        && pri.bytes().all(|b| b.is_ascii_digit())
    {
        rest = tail;
    }
    if has_rfc3164_stamp(rest) {
        rest = &rest[16..];
    }
    let message: String = rest
        .trim_end()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    format!("{} {host} {message}\n", hb_time::cl_log_stamp(now))
}

/// Whether `s` starts with `Mmm dd hh:mm:ss ` (16 characters, the day space-padded).
fn has_rfc3164_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 16 {
        return false;
    }
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let digit = |i: usize| b[i].is_ascii_digit();
    MONTHS.iter().any(|m| s.starts_with(m))
        && b[3] == b' '
        && (b[4] == b' ' || digit(4))
        && digit(5)
        && b[6] == b' '
        && digit(7)
        && digit(8)
        && b[9] == b':'
        && digit(10)
        && digit(11)
        && b[12] == b':'
        && digit(13)
        && digit(14)
        && b[15] == b' '
}

impl Drop for SyslogCollector {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for (socket, handle) in self.threads.drain(..) {
            let _ = handle.join();
            let _ = fs::remove_file(socket);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_and_bare_messages_get_the_host_name() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(86_400 * 40);
        let stamp = hb_time::cl_log_stamp(t);
        assert_eq!(
            format_line(
                t,
                "node1",
                b"<30>Dec  4 01:02:03 heartbeat: [123]: info: Initial resource acquisition complete (T_RESOURCES(us))"
            ),
            format!(
                "{stamp} node1 heartbeat: [123]: info: Initial resource acquisition complete (T_RESOURCES(us))\n"
            )
        );
        assert_eq!(
            format_line(t, "node2", b"<29>heartbeat[77]: node node1: is dead\n"),
            format!("{stamp} node2 heartbeat[77]: node node1: is dead\n")
        );
        assert_eq!(
            format_line(t, "node2", b"no priority\nsecond line"),
            format!("{stamp} node2 no priority second line\n")
        );
    }

    #[test]
    fn collects_from_several_sockets_into_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("all.log");
        let mut c = SyslogCollector::new(&file).unwrap();
        for n in ["a", "b"] {
            c.listen(n, &dir.path().join(format!("{n}.sock"))).unwrap();
        }
        for n in ["a", "b"] {
            let s = UnixDatagram::unbound().unwrap();
            s.send_to(
                format!("<30>tag: hello from {n}").as_bytes(),
                dir.path().join(format!("{n}.sock")),
            )
            .unwrap();
        }
        crate::wait_for("both lines", Duration::from_secs(5), || {
            let text = fs::read_to_string(&file)?;
            Ok(text.contains(" a tag: hello from a\n") && text.contains(" b tag: hello from b\n"))
        })
        .unwrap();
        drop(c);
        assert!(!dir.path().join("a.sock").exists());
    }
}
