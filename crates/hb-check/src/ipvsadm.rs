//! Driving `ipvsadm`: the command lines for a virtual service's real servers, and running
//! them with a time limit.
//!
//! The messages recognised are libipvs's (`Destination already exists`, `No such
//! destination`, `Service not defined`, ...), which the test stand-in
//! (`tests/fixtures/ipvsadm`) prints too.

use std::fmt;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::addr::RealServer;

/// How long one ipvsadm run may take before it is killed.
pub const IPVSADM_TIMEOUT: Duration = Duration::from_secs(10);

/// The protocol of a virtual service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `-t`
    Tcp,
    /// `-u`
    Udp,
}

impl Protocol {
    /// ipvsadm's option for a service of this protocol.
    pub fn flag(self) -> &'static str {
        match self {
            Protocol::Tcp => "-t",
            Protocol::Udp => "-u",
        }
    }

    /// As `ipvsadm -Ln` shows it.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// LVS forwarding method of the real servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forwarding {
    /// Direct routing (`-g`, gatewaying): the real servers answer clients themselves.
    Dr,
    /// Masquerading (`-m`, NAT).
    Nat,
    /// IP-in-IP tunnelling (`-i`).
    Tun,
}

impl Forwarding {
    /// ipvsadm's option.
    pub fn flag(self) -> &'static str {
        match self {
            Forwarding::Dr => "-g",
            Forwarding::Nat => "-m",
            Forwarding::Tun => "-i",
        }
    }

    /// The agent's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Forwarding::Dr => "dr",
            Forwarding::Nat => "nat",
            Forwarding::Tun => "tun",
        }
    }

    /// Whether ipvsadm forces the real server's port to the virtual port (it does for
    /// direct routing and tunnelling, silently).
    pub fn keeps_virtual_port(self) -> bool {
        matches!(self, Forwarding::Dr | Forwarding::Tun)
    }
}

/// A virtual service: protocol and address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualService {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The VIP and port.
    pub addr: SocketAddr,
}

impl fmt::Display for VirtualService {
    /// `192.0.2.100:80` for TCP (the common case, as in the log examples), `udp 192.0.2.100:53`
    /// for UDP.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Tcp => write!(f, "{}", self.addr),
            Protocol::Udp => write!(f, "udp {}", self.addr),
        }
    }
}

/// `ipvsadm -a -t VIP:PORT -r RS:PORT -g -w W`
pub fn add_server_args(vs: &VirtualService, fwd: Forwarding, rs: &RealServer) -> Vec<String> {
    vec![
        "-a".into(),
        vs.protocol.flag().into(),
        vs.addr.to_string(),
        "-r".into(),
        rs.addr.to_string(),
        fwd.flag().into(),
        "-w".into(),
        rs.weight.to_string(),
    ]
}

/// `ipvsadm -d -t VIP:PORT -r RS:PORT`
pub fn del_server_args(vs: &VirtualService, server: SocketAddr) -> Vec<String> {
    vec![
        "-d".into(),
        vs.protocol.flag().into(),
        vs.addr.to_string(),
        "-r".into(),
        server.to_string(),
    ]
}

/// An ipvsadm run that did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum IpvsadmError {
    /// It could not be started.
    #[error("cannot run {path}: {source}")]
    Spawn {
        /// The program.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It ran longer than [`IPVSADM_TIMEOUT`] and was killed.
    #[error("`ipvsadm {args}` did not finish within {secs} s and was killed")]
    TimedOut {
        /// The arguments, joined.
        args: String,
        /// The limit in seconds.
        secs: u64,
    },
    /// It exited unsuccessfully.
    #[error("`ipvsadm {args}` failed ({status}): {message}")]
    Failed {
        /// The arguments, joined.
        args: String,
        /// Its exit status.
        status: String,
        /// Its stderr (and stdout), trimmed.
        message: String,
    },
}

impl IpvsadmError {
    /// ipvsadm refused to add what is already there (`Destination already exists`).
    pub fn already_exists(&self) -> bool {
        matches!(self, IpvsadmError::Failed { message, .. } if message.contains("already exists"))
    }

    /// ipvsadm could not delete what is not there (`No such destination`).
    pub fn no_such_destination(&self) -> bool {
        matches!(self, IpvsadmError::Failed { message, .. } if message.contains("No such destination"))
    }
}

/// Runs ipvsadm commands.
#[derive(Debug, Clone)]
pub struct Ipvsadm {
    path: PathBuf,
    timeout: Duration,
}

impl Ipvsadm {
    /// ipvsadm at `path`, each run limited to [`IPVSADM_TIMEOUT`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Ipvsadm {
            path: path.into(),
            timeout: IPVSADM_TIMEOUT,
        }
    }

    /// The program run.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `ipvsadm ARGS` to completion (or the time limit).
    ///
    /// # Errors
    /// [`IpvsadmError`]: not started, timed out, or a non-zero exit with its message.
    pub fn run(&self, args: &[String]) -> Result<(), IpvsadmError> {
        let joined = args.join(" ");
        let mut child = Command::new(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| IpvsadmError::Spawn {
                path: self.path.clone(),
                source,
            })?;
        let deadline = Instant::now() + self.timeout;
        // ipvsadm's answers to -a/-d/-A/-D are a line at most: they fit in the pipe buffers,
        // so polling for the exit cannot deadlock on a full pipe.
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(IpvsadmError::TimedOut {
                        args: joined,
                        secs: self.timeout.as_secs(),
                    });
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(2)),
                Err(source) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(IpvsadmError::Spawn {
                        path: self.path.clone(),
                        source,
                    });
                }
            }
        };
        if status.success() {
            return Ok(());
        }
        let mut message = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = err.read_to_string(&mut message);
        }
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut message);
        }
        let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
        Err(IpvsadmError::Failed {
            args: joined,
            status: status.to_string(),
            message: if message.is_empty() {
                "no message".to_owned()
            } else {
                message
            },
        })
    }
}

/// Finds `name` in `PATH` (an executable regular file), or checks a path containing `/`.
pub fn find_in_path(name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let p = PathBuf::from(name);
        return executable(&p).then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| executable(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn vs() -> VirtualService {
        VirtualService {
            protocol: Protocol::Tcp,
            addr: "192.0.2.100:80".parse().unwrap(),
        }
    }

    #[test]
    fn command_lines() {
        let rs = RealServer {
            addr: "192.0.2.11:80".parse().unwrap(),
            weight: 3,
        };
        assert_eq!(
            add_server_args(&vs(), Forwarding::Dr, &rs).join(" "),
            "-a -t 192.0.2.100:80 -r 192.0.2.11:80 -g -w 3"
        );
        let udp = VirtualService {
            protocol: Protocol::Udp,
            addr: "[2001:db8::100]:53".parse().unwrap(),
        };
        let rs6 = RealServer {
            addr: "[2001:db8::11]:5353".parse().unwrap(),
            weight: 1,
        };
        assert_eq!(
            add_server_args(&udp, Forwarding::Nat, &rs6).join(" "),
            "-a -u [2001:db8::100]:53 -r [2001:db8::11]:5353 -m -w 1"
        );
        assert_eq!(
            del_server_args(&vs(), rs.addr).join(" "),
            "-d -t 192.0.2.100:80 -r 192.0.2.11:80"
        );
        assert_eq!(Forwarding::Tun.flag(), "-i");
        assert_eq!(vs().to_string(), "192.0.2.100:80");
        assert_eq!(udp.to_string(), "udp [2001:db8::100]:53");
    }

    fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn runs_and_classifies_failures() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Ipvsadm::new(script(dir.path(), "ok", "exit 0"));
        assert!(ok.run(&["-a".into()]).is_ok());

        let dup = Ipvsadm::new(script(
            dir.path(),
            "dup",
            "echo 'Destination already exists' >&2; exit 255",
        ));
        let e = dup.run(&["-a".into(), "-t".into()]).unwrap_err();
        assert!(e.already_exists() && !e.no_such_destination(), "{e}");
        assert!(e.to_string().contains("`ipvsadm -a -t` failed"), "{e}");

        let missing = Ipvsadm::new(dir.path().join("nope"));
        assert!(matches!(
            missing.run(&[]).unwrap_err(),
            IpvsadmError::Spawn { .. }
        ));

        let mut slow = Ipvsadm::new(script(dir.path(), "slow", "exec sleep 30"));
        slow.timeout = Duration::from_millis(100);
        let start = Instant::now();
        assert!(matches!(
            slow.run(&[]).unwrap_err(),
            IpvsadmError::TimedOut { .. }
        ));
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn path_lookup() {
        assert!(find_in_path("sh").is_some());
        assert_eq!(find_in_path("/nonexistent/ipvsadm"), None);
        assert_eq!(find_in_path("surely-not-a-command-hb-check"), None);
    }
}
