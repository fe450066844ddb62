//! Running the fencing device the core asks for ([`hb_core::Action::Fence`]): cluster-glue's
//! `stonith` command for `stonith`/`stonith_host` devices, a fence agent for `fence_agent`.
//!
//! - `stonith -t TYPE -p PARAMS -T reset NODE` (or `-F FILE`): exit 0 is `S_OK` (reset), 4 is
//!   `S_BADHOST`, anything else a failure (cluster-glue's return codes).
//! - a fence agent gets no arguments and `action=reboot`, the line's `NAME=VALUE` pairs and
//!   `plug=NODE` (unless the line sets `plug` or `port`) on its standard input; exit 0 is
//!   success.
//!
//! Each attempt runs as an agent does (its own process group, killed after `fence_timeout`,
//! killed with the daemon). Parameters are never logged: they often hold passwords.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use hb_config::{FenceDevice, FenceLine, StonithParams};
use hb_core::FenceResult;
use hb_sys::agent::{AgentCommand, AgentOutcome, Exit, run_agent};

/// cluster-glue's `S_BADHOST`: the device cannot reset this host.
const S_BADHOST: i32 = 4;

/// Where cluster-glue's `stonith` and fence agents are looked for.
const SEARCH: &[&str] = &["/usr/sbin", "/sbin", "/usr/bin", "/bin"];

/// The environment of a fencing run.
const PATH: &str = "/usr/sbin:/usr/bin:/sbin:/bin";

/// The configured device, ready to run.
#[derive(Clone, Debug)]
pub(crate) struct Fencer {
    device: FenceDevice,
    program: PathBuf,
    timeout: Duration,
}

fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    SEARCH
        .iter()
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

impl Fencer {
    /// The device of `line`: fails if its program is not installed (Heartbeat refuses an
    /// unknown STONITH type at start-up too) or a `stonith` file cannot be read.
    pub(crate) fn new(line: &FenceLine, timeout: Duration) -> anyhow::Result<Fencer> {
        let program = match &line.device {
            FenceDevice::Stonith { params, .. } => {
                if let StonithParams::File(f) = params {
                    std::fs::metadata(f).with_context(|| {
                        format!(
                            "ha.cf line {}: stonith configuration file {}",
                            line.line,
                            f.display()
                        )
                    })?;
                }
                find("stonith").with_context(|| {
                    format!(
                        "ha.cf line {}: cluster-glue's stonith command is not installed (Debian \
                         package cluster-glue)",
                        line.line
                    )
                })?
            }
            FenceDevice::Agent { agent, .. } => find(agent).with_context(|| {
                format!(
                    "ha.cf line {}: fence agent {agent} not found (in {})",
                    line.line,
                    SEARCH.join(", ")
                )
            })?,
        };
        Ok(Fencer {
            device: line.device.clone(),
            program,
            timeout,
        })
    }

    /// How log lines name the device.
    pub(crate) fn id(&self) -> &str {
        self.device.id()
    }

    /// The arguments and standard input of one run: `Some(node)` resets it, `None` asks for
    /// the device's status.
    fn invocation(&self, node: Option<&str>) -> (Vec<String>, Option<String>, Option<Vec<u8>>) {
        match &self.device {
            FenceDevice::Stonith { kind, params } => {
                let mut args = vec!["-t".to_owned(), kind.clone()];
                match params {
                    StonithParams::Inline(p) => args.extend(["-p".to_owned(), p.clone()]),
                    StonithParams::File(f) => {
                        args.extend(["-F".to_owned(), f.display().to_string()]);
                    }
                }
                match node {
                    Some(n) => {
                        args.extend(["-T".to_owned(), "reset".to_owned()]);
                        (args, Some(n.to_owned()), None)
                    }
                    None => {
                        args.push("-S".to_owned());
                        (args, None, None)
                    }
                }
            }
            FenceDevice::Agent { args, .. } => {
                let action = if node.is_some() { "reboot" } else { "monitor" };
                let mut input = format!("action={action}\n");
                for (name, value) in args {
                    input.push_str(&format!("{name}={value}\n"));
                }
                if let Some(n) = node
                    && !args.iter().any(|(k, _)| k == "plug" || k == "port")
                {
                    input.push_str(&format!("plug={n}\n"));
                }
                (Vec::new(), None, Some(input.into_bytes()))
            }
        }
    }

    async fn run(&self, node: Option<&str>) -> AgentOutcome {
        let (args, last, input) = self.invocation(node);
        let env = [("PATH".to_owned(), PATH.to_owned())];
        run_agent(&AgentCommand {
            program: &self.program,
            args: &args,
            action: last.as_deref(),
            stdin: input.as_deref(),
            timeout: self.timeout,
            env: &env,
        })
        .await
    }

    /// Resets `node`; logs what the device printed.
    pub(crate) async fn reset(&self, node: &str) -> FenceResult {
        let out = self.run(Some(node)).await;
        log_output(self.id(), &out);
        match (&self.device, &out.exit) {
            (_, Exit::Code(0)) => FenceResult::Ok,
            (FenceDevice::Stonith { .. }, Exit::Code(S_BADHOST)) => FenceResult::BadHost,
            (_, Exit::Code(c)) => FenceResult::Failed(Some(*c)),
            (_, Exit::TimedOut) => FenceResult::TimedOut,
            (_, Exit::Signal(_) | Exit::NotRun(_)) => {
                if let Exit::NotRun(why) = &out.exit {
                    tracing::error!("fencing device {}: cannot run it: {why}", self.id());
                }
                FenceResult::Failed(None)
            }
        }
    }

    /// Heartbeat's start-up check: "Checking status of STONITH device [ID]"; a failure is
    /// logged (the daemon runs on, as Heartbeat does).
    pub(crate) async fn check_status(&self) {
        tracing::info!("Checking status of STONITH device [{}]", self.id());
        let out = self.run(None).await;
        log_output(self.id(), &out);
        if out.succeeded() {
            tracing::info!("STONITH device [{}] is operational", self.id());
        } else {
            tracing::error!(
                "STONITH device {} not operational! ({:?}: a dead peer cannot be reset until it \
                 is)",
                self.id(),
                out.exit
            );
        }
    }
}

fn log_output(id: &str, out: &AgentOutcome) {
    for line in out.stdout.lines().chain(out.stderr.lines()) {
        let line = line.trim();
        if !line.is_empty() {
            tracing::info!("fencing device {id}: {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fencer(device: FenceDevice) -> Fencer {
        Fencer {
            device,
            program: PathBuf::from("/bin/true"),
            timeout: Duration::from_secs(1),
        }
    }

    #[test]
    fn stonith_plugins_get_heartbeats_parameters_and_the_node_last() {
        let f = fencer(FenceDevice::Stonith {
            kind: "external/ipmi".into(),
            params: StonithParams::Inline("node2 192.0.2.9 admin secret".into()),
        });
        let (args, last, input) = f.invocation(Some("node2"));
        assert_eq!(
            args,
            [
                "-t",
                "external/ipmi",
                "-p",
                "node2 192.0.2.9 admin secret",
                "-T",
                "reset"
            ]
        );
        assert_eq!(last.as_deref(), Some("node2"));
        assert_eq!(input, None);
        let f = fencer(FenceDevice::Stonith {
            kind: "null".into(),
            params: StonithParams::File("/etc/ha.d/null.cfg".into()),
        });
        let (args, last, _) = f.invocation(None);
        assert_eq!(args, ["-t", "null", "-F", "/etc/ha.d/null.cfg", "-S"]);
        assert_eq!(last, None);
    }

    #[test]
    fn fence_agents_read_their_options_from_standard_input() {
        let f = fencer(FenceDevice::Agent {
            agent: "fence_ipmilan".into(),
            args: vec![
                ("ip".into(), "192.0.2.9".into()),
                ("lanplus".into(), "1".into()),
            ],
        });
        let (args, last, input) = f.invocation(Some("node2"));
        assert!(args.is_empty() && last.is_none());
        assert_eq!(
            String::from_utf8(input.unwrap()).unwrap(),
            "action=reboot\nip=192.0.2.9\nlanplus=1\nplug=node2\n"
        );
        let f = fencer(FenceDevice::Agent {
            agent: "fence_virsh".into(),
            args: vec![("port".into(), "vm2".into())],
        });
        let (_, _, input) = f.invocation(Some("node2"));
        assert_eq!(
            String::from_utf8(input.unwrap()).unwrap(),
            "action=reboot\nport=vm2\n"
        );
        let (_, _, input) = f.invocation(None);
        assert_eq!(
            String::from_utf8(input.unwrap()).unwrap(),
            "action=monitor\nport=vm2\n"
        );
    }

    #[test]
    fn exit_codes_map_to_heartbeats_results() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("fake");
        std::fs::write(&script, "#!/bin/sh\nexit \"$(cat \"$0.code\")\"\n").unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let mut f = fencer(FenceDevice::Stonith {
            kind: "null".into(),
            params: StonithParams::Inline(String::new()),
        });
        f.program = script.clone();
        let code = dir.path().join("fake.code");
        for (c, want) in [
            ("0", FenceResult::Ok),
            ("4", FenceResult::BadHost),
            ("5", FenceResult::Failed(Some(5))),
        ] {
            std::fs::write(&code, c).unwrap();
            assert_eq!(rt.block_on(f.reset("node2")), want, "exit {c}");
        }
        std::fs::write(&script, "#!/bin/sh\nsleep 5\n").unwrap();
        f.timeout = Duration::from_millis(100);
        assert_eq!(rt.block_on(f.reset("node2")), FenceResult::TimedOut);
        // A fence agent's exit 4 is a plain failure.
        f.device = FenceDevice::Agent {
            agent: "fence_x".into(),
            args: Vec::new(),
        };
        std::fs::write(&script, "#!/bin/sh\nexit 4\n").unwrap();
        assert_eq!(rt.block_on(f.reset("node2")), FenceResult::Failed(Some(4)));
    }
}
