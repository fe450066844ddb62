//! How each resource is run: the calling convention of its agent class (heartbeat
//! `resource.d`, LSB, OCF), its environment, its per-operation time limits, and how an exit
//! becomes the core's verdict.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use hb_config::{AgentClass, Config, ResourcePolicy, ResourceSpec};
use hb_core::{AgentOp, AgentResult};
use hb_sys::agent::{
    AgentCommand, AgentOutcome, Exit, MAX_OUTPUT, escape_control, run_agent, status_says_running,
};

/// Time limit of the one `meta-data` run per OCF agent at start-up.
const META_DATA_TIMEOUT: Duration = Duration::from_secs(10);

/// One resource, ready to run.
#[derive(Clone, Debug)]
pub(crate) struct Resource {
    /// As written in haresources.
    pub(crate) text: String,
    pub(crate) path: PathBuf,
    pub(crate) class: AgentClass,
    /// Arguments before the action (heartbeat class only).
    pub(crate) args: Vec<String>,
    /// Environment added to the common one (OCF parameters and identity).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) policy: ResourcePolicy,
    /// Operation time limits from the agent's meta-data (`start`, `stop`, `monitor`).
    pub(crate) meta_timeouts: BTreeMap<String, Duration>,
    pub(crate) agent_timeout: Duration,
}

impl Resource {
    /// Every resource of every group of `cfg`, indexed as the core's `RunAgent` names them
    /// (group, then resource).
    pub(crate) fn table(cfg: &Config) -> Vec<Vec<Resource>> {
        cfg.haresources
            .groups
            .iter()
            .enumerate()
            .map(|(g, grp)| {
                grp.resources
                    .iter()
                    .enumerate()
                    .map(|(r, spec)| Resource::new(spec, cfg, g, r))
                    .collect()
            })
            .collect()
    }

    /// Builds the resource `r` of group `g`.
    pub(crate) fn new(spec: &ResourceSpec, cfg: &Config, g: usize, r: usize) -> Resource {
        let mut env = Vec::new();
        if let AgentClass::Ocf { provider, kind } = &spec.class {
            env.push(("OCF_RA_VERSION_MAJOR".into(), "1".into()));
            env.push(("OCF_RA_VERSION_MINOR".into(), "0".into()));
            env.push((
                "OCF_RESOURCE_INSTANCE".into(),
                format!("{kind}_g{}_r{}", g + 1, r + 1),
            ));
            env.push(("OCF_RESOURCE_TYPE".into(), kind.clone()));
            env.push(("OCF_RESOURCE_PROVIDER".into(), provider.clone()));
            for (k, v) in &spec.params {
                env.push((format!("OCF_RESKEY_{k}"), v.clone()));
            }
        }
        Resource {
            text: spec.text.clone(),
            path: spec.path.clone(),
            class: spec.class.clone(),
            args: spec.args.clone(),
            env,
            policy: hb_config::resource_policy(&cfg.ha_cf.monitors, spec),
            meta_timeouts: BTreeMap::new(),
            agent_timeout: cfg.ha_cf.agent_timeout,
        }
    }

    /// The action word passed to the agent.
    pub(crate) fn action(&self, op: AgentOp) -> &'static str {
        match (op, &self.class) {
            (AgentOp::Start, _) => "start",
            (AgentOp::Stop, _) => "stop",
            (AgentOp::Status | AgentOp::Monitor, AgentClass::Ocf { .. }) => "monitor",
            (AgentOp::Status | AgentOp::Monitor, _) => "status",
        }
    }

    /// The time limit of `op`: a `monitor` rule of ha.cf, else the agent's meta-data, else
    /// `agent_timeout`.
    pub(crate) fn timeout(&self, op: AgentOp) -> Duration {
        let (rule, meta) = match op {
            AgentOp::Start => (self.policy.start_timeout, "start"),
            AgentOp::Stop => (self.policy.stop_timeout, "stop"),
            AgentOp::Status => (None, "monitor"),
            AgentOp::Monitor => (self.policy.monitor_timeout, "monitor"),
        };
        rule.or_else(|| self.meta_timeouts.get(meta).copied())
            .unwrap_or(self.agent_timeout)
    }

    /// The complete environment of one run: the common part, this resource's part, and the
    /// operation's time limit (and interval) as OCF agents expect them.
    pub(crate) fn env_for(
        &self,
        common: &[(String, String)],
        op: AgentOp,
    ) -> Vec<(String, String)> {
        let mut env = common.to_vec();
        env.extend(self.env.iter().cloned());
        if matches!(self.class, AgentClass::Ocf { .. }) {
            env.push((
                "OCF_RESKEY_CRM_meta_timeout".into(),
                self.timeout(op).as_millis().to_string(),
            ));
            let interval = match op {
                AgentOp::Monitor => self.policy.interval.map_or(0, |i| i.as_millis()),
                _ => 0,
            };
            env.push(("OCF_RESKEY_CRM_meta_interval".into(), interval.to_string()));
            env.push(("OCF_CHECK_LEVEL".into(), "0".into()));
        }
        env
    }

    /// Reads the operation time limits from an OCF agent's meta-data (other classes have
    /// none). A failure is logged and leaves the defaults.
    pub(crate) async fn load_meta_data(&mut self, common: &[(String, String)]) {
        if !matches!(self.class, AgentClass::Ocf { .. }) {
            return;
        }
        let env = self.env_for(common, AgentOp::Status);
        let cmd = AgentCommand {
            program: &self.path,
            args: &[],
            action: Some("meta-data"),
            stdin: None,
            timeout: META_DATA_TIMEOUT,
            env: &env,
        };
        let out = run_agent(&cmd).await;
        if !out.succeeded() {
            tracing::warn!(
                "{}: meta-data failed ({:?}): using agent_timeout for every operation",
                self.text,
                out.exit
            );
            return;
        }
        match action_timeouts(&out.stdout) {
            Ok(t) => {
                tracing::debug!("{}: operation timeouts from meta-data: {t:?}", self.text);
                self.meta_timeouts = t;
            }
            Err(e) => tracing::warn!(
                "{}: unreadable meta-data ({}): using agent_timeout for every operation",
                self.text,
                escape_control(&e)
            ),
        }
    }

    /// The core's verdict on one run.
    pub(crate) fn verdict(&self, op: AgentOp, exit: &Exit, stdout: &str) -> AgentResult {
        let code = match exit {
            Exit::TimedOut => return AgentResult::TimedOut,
            Exit::NotRun(_) | Exit::Signal(_) => return AgentResult::Failed(None),
            Exit::Code(c) => *c,
        };
        let probing = matches!(op, AgentOp::Status | AgentOp::Monitor);
        match (&self.class, probing) {
            (_, false) if code == 0 => AgentResult::Success,
            (_, false) => AgentResult::Failed(Some(code)),
            // Heartbeat judges a resource.d script's status by its output.
            (AgentClass::Heartbeat, true) => {
                if status_says_running(stdout) {
                    AgentResult::Running
                } else {
                    AgentResult::NotRunning
                }
            }
            // LSB: 0 running, 3 stopped; 1 and 2 ("dead but pid/lock file exists") and 4
            // (unknown) are failures: the probe then stops the service to be safe.
            (AgentClass::Lsb, true) => match code {
                0 => AgentResult::Running,
                3 => AgentResult::NotRunning,
                c => AgentResult::Failed(Some(c)),
            },
            // OCF: 0 running, 7 not running, 8 running as master; anything else failed.
            (AgentClass::Ocf { .. }, true) => match code {
                0 | 8 => AgentResult::Running,
                7 => AgentResult::NotRunning,
                c => AgentResult::Failed(Some(c)),
            },
        }
    }

    /// An exit code explained, for the log (OCF and LSB codes have names).
    pub(crate) fn explain(&self, code: i32) -> String {
        let name = match (&self.class, code) {
            (AgentClass::Heartbeat, _) => None,
            (AgentClass::Ocf { .. }, c) => ocf_name(c),
            (AgentClass::Lsb, 3) => Some("not running"),
            (AgentClass::Lsb, 1) => Some("dead, pid file exists"),
            (AgentClass::Lsb, 2) => Some("dead, lock file exists"),
            (AgentClass::Lsb, 4) => Some("status unknown"),
            (AgentClass::Lsb, _) => None,
        };
        match name {
            Some(n) => format!("{code} ({n})"),
            None => code.to_string(),
        }
    }
}

/// Logs one run of `res` (of group `key`): its output lines and how it ended. Agent output
/// and error texts are logged through [`escape_control`], so an agent cannot rewrite a
/// terminal or forge log lines; output past [`MAX_OUTPUT`] is noted as dropped. Probes and
/// monitors log at debug level unless they could not run or ran out of time.
pub(crate) fn log_outcome(key: &str, res: &Resource, op: AgentOp, out: &AgentOutcome) {
    let ms = out.elapsed.as_secs_f64() * 1000.0;
    let resource = &res.text;
    let quiet = matches!(op, AgentOp::Status | AgentOp::Monitor);
    let lines = out.stdout.lines().chain(out.stderr.lines());
    let dropped = [
        ("stdout", out.stdout_dropped),
        ("stderr", out.stderr_dropped),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(stream, n)| {
        format!(
            "(the first {} KiB of {stream} are kept: {n} more bytes dropped)",
            MAX_OUTPUT / 1024
        )
    });
    for line in lines
        .filter(|l| !l.trim().is_empty())
        .map(escape_control)
        .chain(dropped)
    {
        if quiet {
            tracing::debug!("group {key}: {resource} {op}: {line}");
        } else {
            tracing::info!("group {key}: {resource} {op}: {line}");
        }
    }
    match &out.exit {
        Exit::Code(0) => tracing::debug!("group {key}: {resource} {op} exited 0 after {ms:.1} ms"),
        Exit::Code(c) if quiet => {
            tracing::debug!(
                "group {key}: {resource} {op} exited {} after {ms:.1} ms",
                res.explain(*c)
            )
        }
        Exit::Code(c) => tracing::warn!(
            "group {key}: {resource} {op} exited {} after {ms:.1} ms",
            res.explain(*c)
        ),
        Exit::Signal(s) => {
            tracing::warn!("group {key}: {resource} {op} killed by signal {s} after {ms:.1} ms")
        }
        Exit::TimedOut => tracing::error!(
            "group {key}: {resource} {op} did not finish within its {} time limit: its process group was killed",
            hb_time::format_millis(res.timeout(op), hb_time::MillisStyle::Prose)
        ),
        Exit::NotRun(why) => {
            tracing::error!("group {key}: {resource} {op}: {}", escape_control(why))
        }
    }
}

/// The names of the OCF exit codes.
fn ocf_name(code: i32) -> Option<&'static str> {
    Some(match code {
        0 => "OCF_SUCCESS",
        1 => "OCF_ERR_GENERIC",
        2 => "OCF_ERR_ARGS",
        3 => "OCF_ERR_UNIMPLEMENTED",
        4 => "OCF_ERR_PERM",
        5 => "OCF_ERR_INSTALLED",
        6 => "OCF_ERR_CONFIGURED",
        7 => "OCF_NOT_RUNNING",
        8 => "OCF_RUNNING_MASTER",
        9 => "OCF_FAILED_MASTER",
        _ => return None,
    })
}

/// The `timeout` of each `<action>` of OCF meta-data, by action name.
pub(crate) fn action_timeouts(xml: &str) -> Result<BTreeMap<String, Duration>, String> {
    // OCF meta-data starts with a DOCTYPE naming ra-api-1.dtd (not fetched, just allowed).
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).map_err(|e| e.to_string())?;
    let mut out = BTreeMap::new();
    for node in doc.descendants().filter(|n| {
        n.has_tag_name("action") && n.parent().is_some_and(|p| p.has_tag_name("actions"))
    }) {
        let (Some(name), Some(timeout)) = (node.attribute("name"), node.attribute("timeout"))
        else {
            continue;
        };
        // The first recurring and non-recurring entries agree for the agents we know; keep
        // the first of each name.
        if out.contains_key(name) {
            continue;
        }
        let d = parse_ocf_time(timeout)
            .ok_or_else(|| format!("action {name}: timeout {timeout:?} is not a time"))?;
        out.insert(name.to_string(), d);
    }
    Ok(out)
}

/// OCF/Pacemaker times: `20`, `20s`, `20sec`, `500ms`, `2m`, `2min`, `1h` (hb-time's
/// [`OCF`](hb_time::Dialect::OCF) dialect).
fn parse_ocf_time(s: &str) -> Option<Duration> {
    hb_time::parse_duration(s, &hb_time::Dialect::OCF).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hb_config::{DEFAULT_MONITOR_INTERVAL, DEFAULT_RESTART_WINDOW, DEFAULT_RESTARTS};

    fn resource(class: AgentClass) -> Resource {
        Resource {
            text: "x".into(),
            path: "/x".into(),
            class,
            args: vec![],
            env: vec![],
            policy: ResourcePolicy {
                interval: Some(DEFAULT_MONITOR_INTERVAL),
                monitor_timeout: None,
                start_timeout: None,
                stop_timeout: None,
                restarts: DEFAULT_RESTARTS,
                window: DEFAULT_RESTART_WINDOW,
            },
            meta_timeouts: BTreeMap::new(),
            agent_timeout: Duration::from_secs(30),
        }
    }

    fn ocf() -> AgentClass {
        AgentClass::Ocf {
            provider: "heartbeat".into(),
            kind: "Dummy".into(),
        }
    }

    #[test]
    fn verdicts_follow_each_class() {
        let hb = resource(AgentClass::Heartbeat);
        assert_eq!(
            hb.verdict(AgentOp::Start, &Exit::Code(0), ""),
            AgentResult::Success
        );
        assert_eq!(
            hb.verdict(AgentOp::Stop, &Exit::Code(1), ""),
            AgentResult::Failed(Some(1))
        );
        assert_eq!(
            hb.verdict(AgentOp::Status, &Exit::Code(7), "running"),
            AgentResult::Running
        );
        assert_eq!(
            hb.verdict(AgentOp::Monitor, &Exit::Code(0), "stopped"),
            AgentResult::NotRunning
        );
        let lsb = resource(AgentClass::Lsb);
        assert_eq!(
            lsb.verdict(AgentOp::Status, &Exit::Code(0), ""),
            AgentResult::Running
        );
        assert_eq!(
            lsb.verdict(AgentOp::Status, &Exit::Code(3), "running"),
            AgentResult::NotRunning
        );
        assert_eq!(
            lsb.verdict(AgentOp::Monitor, &Exit::Code(1), ""),
            AgentResult::Failed(Some(1))
        );
        let o = resource(ocf());
        assert_eq!(
            o.verdict(AgentOp::Monitor, &Exit::Code(0), ""),
            AgentResult::Running
        );
        assert_eq!(
            o.verdict(AgentOp::Monitor, &Exit::Code(8), ""),
            AgentResult::Running
        );
        assert_eq!(
            o.verdict(AgentOp::Status, &Exit::Code(7), ""),
            AgentResult::NotRunning
        );
        assert_eq!(
            o.verdict(AgentOp::Monitor, &Exit::Code(1), "running"),
            AgentResult::Failed(Some(1))
        );
        assert_eq!(
            o.verdict(AgentOp::Start, &Exit::TimedOut, ""),
            AgentResult::TimedOut
        );
        assert_eq!(
            o.verdict(AgentOp::Start, &Exit::Signal(9), ""),
            AgentResult::Failed(None)
        );
        assert_eq!(o.explain(7), "7 (OCF_NOT_RUNNING)");
        assert_eq!(lsb.explain(3), "3 (not running)");
        assert_eq!(hb.explain(3), "3");
    }

    #[test]
    fn actions_depend_on_the_class() {
        assert_eq!(resource(ocf()).action(AgentOp::Status), "monitor");
        assert_eq!(resource(ocf()).action(AgentOp::Monitor), "monitor");
        assert_eq!(resource(AgentClass::Lsb).action(AgentOp::Monitor), "status");
        assert_eq!(
            resource(AgentClass::Heartbeat).action(AgentOp::Start),
            "start"
        );
    }

    #[test]
    fn timeouts_prefer_rules_then_meta_data_then_agent_timeout() {
        let mut r = resource(ocf());
        assert_eq!(r.timeout(AgentOp::Start), Duration::from_secs(30));
        r.meta_timeouts = action_timeouts(
            r#"<?xml version="1.0"?><resource-agent name="Dummy"><parameters/><actions>
            <action name="start" timeout="20s"/><action name="stop" timeout="2min"/>
            <action name="monitor" timeout="500ms" interval="10s" depth="0"/>
            <action name="monitor" timeout="99s" interval="20s"/>
            <action name="meta-data" timeout="5"/></actions></resource-agent>"#,
        )
        .unwrap();
        assert_eq!(r.timeout(AgentOp::Start), Duration::from_secs(20));
        assert_eq!(r.timeout(AgentOp::Stop), Duration::from_secs(120));
        assert_eq!(r.timeout(AgentOp::Monitor), Duration::from_millis(500));
        assert_eq!(r.timeout(AgentOp::Status), Duration::from_millis(500));
        r.policy.start_timeout = Some(Duration::from_secs(3));
        r.policy.monitor_timeout = Some(Duration::from_secs(4));
        assert_eq!(r.timeout(AgentOp::Start), Duration::from_secs(3));
        assert_eq!(r.timeout(AgentOp::Monitor), Duration::from_secs(4));
        let env = r.env_for(&[("PATH".into(), "/bin".into())], AgentOp::Monitor);
        assert!(env.contains(&("OCF_RESKEY_CRM_meta_timeout".into(), "4000".into())));
        assert!(env.contains(&("OCF_RESKEY_CRM_meta_interval".into(), "3000".into())));
        assert_eq!(env[0], ("PATH".into(), "/bin".into()));
    }

    /// Runs `log_outcome` for `out` and returns what it logged (no colours).
    fn logged(res: &Resource, op: AgentOp, out: &AgentOutcome) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone)]
        struct Sink(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink(Arc::new(Mutex::new(Vec::new())));
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || log_outcome("g", res, op, out));
        String::from_utf8(sink.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn agent_output_is_logged_with_control_characters_escaped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        // A real agent run: ANSI colours, a carriage return that would hide the start of the
        // line on a terminal, a NUL and DEL; and a forged second log line on stderr.
        let args = vec![
            "-c".to_owned(),
            r"printf '\033[31mred\033[0m ok\rFAKE\000\177\n'; printf 'x\r2026 ERROR forged\n' >&2; exit 1"
                .to_owned(),
        ];
        let out = rt.block_on(run_agent(&AgentCommand {
            program: std::path::Path::new("/bin/sh"),
            args: &args,
            action: Some("start"),
            stdin: None,
            timeout: Duration::from_secs(10),
            env: &[],
        }));
        let text = logged(&resource(AgentClass::Heartbeat), AgentOp::Start, &out);
        assert!(
            text.contains(r"x start: \x1b[31mred\x1b[0m ok\x0dFAKE\x00\x7f"),
            "{text}"
        );
        assert!(text.contains(r"x start: x\x0d2026 ERROR forged"), "{text}");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "a raw control character reached the log: {text:?}"
        );
        // Output past the limit is noted, not logged.
        let big = AgentOutcome {
            stdout_dropped: 12_345,
            ..out
        };
        let text = logged(&resource(AgentClass::Heartbeat), AgentOp::Monitor, &big);
        assert!(
            text.contains("(the first 64 KiB of stdout are kept: 12345 more bytes dropped)"),
            "{text}"
        );
    }

    #[test]
    fn bad_meta_data_is_an_error_not_a_panic() {
        assert!(action_timeouts("not xml").is_err());
        assert!(
            action_timeouts(r#"<r><actions><action name="start" timeout="soon"/></actions></r>"#)
                .unwrap_err()
                .contains("soon")
        );
        assert_eq!(parse_ocf_time("0"), None);
        assert_eq!(parse_ocf_time("1h"), Some(Duration::from_secs(3600)));
    }

    #[test]
    fn debian_agents_meta_data_parses_when_installed() {
        let path = std::path::Path::new("/usr/lib/ocf/resource.d/heartbeat/Dummy");
        if !path.exists() {
            eprintln!("resource-agents not installed: skipped");
            return;
        }
        let out = std::process::Command::new(path)
            .arg("meta-data")
            .env("OCF_ROOT", "/usr/lib/ocf")
            .output()
            .unwrap();
        let t = action_timeouts(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert_eq!(t.get("start"), Some(&Duration::from_secs(20)));
        assert!(t.contains_key("monitor"));
    }
}
