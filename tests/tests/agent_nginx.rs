//! Tests of the nginx resource agent (`resource-agents/nginx`, docs/agents/nginx.md) against a
//! real nginx. Every test builds its own lab and runs nginx inside `node1`'s private network
//! namespace, with the configuration, pid file, logs and temp paths in the lab directory and
//! listening on 127.0.0.1:80 and 192.0.2.11:80 of that namespace only. Dropping the lab (also
//! when a test panics) kills every process left in its namespaces, nginx included.
//!
//! Needs root, `/usr/sbin/nginx` (nginx-light) and, for the conformance test, Debian's
//! `ocf-tester` (resource-agents); without them the tests print a loud SKIP (and fail under
//! `CI=true`). The agent's HTTP checks use our `hb-check`, which must be built first
//! (`cargo build -p hb-check`, found like the daemon: `HB_BIN_DIR` or the cargo target dir).
//! Run with `cargo test -p hb-nstests --test agent_nginx`.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail, ensure};
use hb_nstests::cluster::ours_bin_dir;
use hb_nstests::{Lab, netns, repo_root, root_or_skip, skip_or_fail, wait_for};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const HOST: &str = "node1";
const NGINX: &str = "/usr/sbin/nginx";
const OCF_TESTER: &str = "/usr/sbin/ocf-tester";
/// Upper bound for one agent run; the agent's own bounds are far shorter with these settings.
const AGENT_TIMEOUT: Duration = Duration::from_secs(90);
const SECOND: Duration = Duration::from_secs(1);
const BODY: &str = "served by nginx";

fn agent_path() -> PathBuf {
    repo_root().join("resource-agents").join("nginx")
}

/// Our hb-check binary; a missing build is a failure, not a skip.
fn hb_check() -> PathBuf {
    let path = ours_bin_dir().join("hb-check");
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => path,
        _ => panic!(
            "{} not found: build it first (`cargo build -p hb-check`) or set HB_BIN_DIR",
            path.display()
        ),
    }
}

/// Whether `test` can run here: root and nginx.
fn ready(test: &str) -> bool {
    if !root_or_skip(test) {
        return false;
    }
    if !Path::new(NGINX).exists() {
        return skip_or_fail(test, "nginx is not installed (Debian package nginx-light)");
    }
    true
}

/// The outcome of one agent (or ocf-tester) run.
#[derive(Debug)]
struct Run {
    code: i32,
    /// stdout and stderr, interleaved.
    output: String,
    elapsed: Duration,
}

impl Run {
    /// Whether a line of the output is exactly `line` (status prints one word on stdout; the
    /// agent's messages on stderr start with "nginx: ").
    fn has_line(&self, line: &str) -> bool {
        self.output.lines().any(|l| l.trim() == line)
    }
}

/// An nginx site in the lab: its files and the agent run against it.
struct Site<'l> {
    lab: &'l Lab,
    dir: PathBuf,
    conf: PathBuf,
    pid_file: PathBuf,
    hb_check: PathBuf,
}

impl<'l> Site<'l> {
    fn new(lab: &'l Lab) -> Result<Site<'l>> {
        let dir = lab.dir().join("nginx");
        std::fs::create_dir_all(dir.join("tmp"))?;
        let site = Site {
            lab,
            conf: dir.join("nginx.conf"),
            pid_file: dir.join("nginx.pid"),
            dir,
            hb_check: hb_check(),
        };
        site.write_conf("nginx.conf", "")?;
        Ok(site)
    }

    /// Writes a configuration `name` in the site directory, with `extra` added to the main
    /// context, and returns its path.
    fn write_conf(&self, name: &str, extra: &str) -> Result<PathBuf> {
        let d = self.dir.display();
        // Served slowly (1 byte/s): a request for it keeps a graceful shutdown waiting.
        let slow = "x".repeat(2000);
        let text = format!(
            "# nginx test site (hb-nstests agent_nginx)\n\
             worker_processes 2;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log notice;\n\
             {extra}\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   access_log {d}/access.log;\n\
             \x20   client_body_temp_path {d}/tmp/client_body;\n\
             \x20   proxy_temp_path {d}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {d}/tmp/scgi;\n\
             \x20   send_timeout 300s;\n\
             \x20   server {{\n\
             \x20       listen 127.0.0.1:80;\n\
             \x20       listen 192.0.2.11:80;\n\
             \x20       location = / {{ return 200 \"{BODY}\\n\"; }}\n\
             \x20       location = /down {{ return 503; }}\n\
             \x20       location = /slow {{ limit_rate 1; return 200 \"{slow}\"; }}\n\
             \x20   }}\n\
             }}\n"
        );
        let path = self.dir.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    /// Runs `cmd` inside node1's namespace, bounded by [`AGENT_TIMEOUT`].
    fn run_cmd(&self, cmd: &Command) -> Result<Run> {
        let started = Instant::now();
        let proc = self.lab.spawn(HOST, "agent", cmd)?;
        let status = match proc.wait_timeout(AGENT_TIMEOUT) {
            Ok(s) => s,
            Err(e) => {
                let _ = proc.kill();
                return Err(e.context(format!("{cmd:?} hangs: {}", proc.log_text()?)));
            }
        };
        let elapsed = started.elapsed();
        let output = proc.log_text()?;
        let code = status
            .code()
            .ok_or_else(|| anyhow!("{cmd:?} died of a signal ({status}): {output}"))?;
        Ok(Run {
            code,
            output,
            elapsed,
        })
    }

    /// The agent with `args` (positional form when a configuration file comes first) and the
    /// environment `env`; only HB_CHECK is set besides.
    fn agent(&self, args: &[&str], env: &[(&str, &str)]) -> Result<Run> {
        self.run_cmd(&self.agent_cmd(args, env, false))
    }

    /// The command running the agent; with `stdout_only` its stderr is discarded (a heartbeat
    /// daemon judges `status` by stdout alone).
    fn agent_cmd(&self, args: &[&str], env: &[(&str, &str)], stdout_only: bool) -> Command {
        let mut cmd = if stdout_only {
            let mut sh = Command::new("sh");
            sh.args(["-c", "exec \"$0\" \"$@\" 2>/dev/null"])
                .arg(agent_path());
            sh
        } else {
            Command::new(agent_path())
        };
        cmd.args(args).env("HB_CHECK", &self.hb_check);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The OCF form: `nginx ACTION` with this site's configfile and status10url, and `extra`
    /// parameters (by parameter name; they override those two) or environment variables.
    fn ocf(&self, action: &str, extra: &[(&str, &str)]) -> Result<Run> {
        self.ocf_run(action, extra, false)
    }

    fn ocf_run(&self, action: &str, extra: &[(&str, &str)], stdout_only: bool) -> Result<Run> {
        let conf = self.conf.display().to_string();
        let mut env: Vec<(String, String)> = vec![
            ("OCF_ROOT".into(), "/usr/lib/ocf".into()),
            ("OCF_RESOURCE_INSTANCE".into(), "web".into()),
            ("OCF_RESKEY_configfile".into(), conf),
            (
                "OCF_RESKEY_status10url".into(),
                "http://127.0.0.1:80/".into(),
            ),
        ];
        for (k, v) in extra {
            // Upper-case names (OCF_RESKEY_CRM_meta_timeout, HB_CHECK) are variables as given.
            let key = if k.starts_with(|c: char| c.is_ascii_uppercase()) {
                (*k).to_owned()
            } else {
                format!("OCF_RESKEY_{k}")
            };
            env.retain(|(old, _)| *old != key);
            env.push((key, (*v).to_owned()));
        }
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        self.run_cmd(&self.agent_cmd(&[action], &env, stdout_only))
    }

    /// `status` in the OCF form, its stdout only.
    fn status_stdout(&self, extra: &[(&str, &str)]) -> Result<Run> {
        self.ocf_run("status", extra, true)
    }

    /// Runs the OCF `action` and asserts its exit code.
    fn expect(&self, action: &str, extra: &[(&str, &str)], code: i32) -> Result<Run> {
        let run = self.ocf(action, extra)?;
        ensure!(
            run.code == code,
            "{action} {extra:?}: exit {} (expected {code}) after {:?}:\n{}",
            run.code,
            run.elapsed,
            run.output
        );
        Ok(run)
    }

    /// The pid in the pid file, if there is one.
    fn master_pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// Every nginx process in node1's namespace.
    fn nginx_pids(&self) -> Result<Vec<i32>> {
        let pids = netns::pids_in(self.lab.ns(HOST)?)?;
        Ok(pids
            .into_iter()
            .filter(|p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "nginx")
            })
            .collect())
    }

    fn assert_no_nginx(&self) -> Result<()> {
        let left = self.nginx_pids()?;
        ensure!(left.is_empty(), "nginx processes left: {left:?}");
        ensure!(
            !self.pid_file.exists(),
            "pid file {} left",
            self.pid_file.display()
        );
        Ok(())
    }

    /// `GET path` over HTTP/1.0 from inside node1's namespace (independent of hb-check):
    /// the status code and the body.
    fn get(&self, path: &str) -> Result<(u16, String)> {
        let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let response = netns::in_netns(self.lab.ns(HOST)?, move || {
            let mut s = connect()?;
            s.write_all(request.as_bytes())?;
            let mut buf = String::new();
            s.read_to_string(&mut buf)?;
            Ok(buf)
        })?;
        let code = response
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| anyhow!("not an HTTP response: {response:?}"))?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((code, body))
    }

    fn assert_serves(&self) -> Result<()> {
        let (code, body) = self.get("/")?;
        ensure!(
            code == 200 && body.trim() == BODY,
            "GET / answered {code} {body:?}"
        );
        Ok(())
    }

    /// Starts a request for /slow inside node1's namespace and returns once the first byte of
    /// the answer has arrived: nginx is then busy with it until the connection closes.
    fn slow_request(&self) -> Result<TcpStream> {
        netns::in_netns(self.lab.ns(HOST)?, || {
            let mut s = connect()?;
            s.write_all(b"GET /slow HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
            let mut first = [0u8; 1];
            s.read_exact(&mut first)?;
            ensure!(first[0] == b'H', "unexpected first byte {first:?}");
            Ok(s)
        })
    }
}

fn connect() -> Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 80));
    let s = TcpStream::connect_timeout(&addr, 2 * SECOND).context("connect 127.0.0.1:80")?;
    s.set_read_timeout(Some(10 * SECOND))?;
    s.set_write_timeout(Some(10 * SECOND))?;
    Ok(s)
}

/// Whether `pid` is alive (not gone, not a zombie).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'))
    })
}

fn kill9(pid: i32) -> Result<()> {
    kill(Pid::from_raw(pid), Signal::SIGKILL).with_context(|| format!("kill -9 {pid}"))?;
    wait_for(&format!("process {pid} to die"), 5 * SECOND, || {
        Ok(!alive(pid))
    })?;
    Ok(())
}

#[test]
fn meta_data_declares_the_parameters_and_operation_timeouts() {
    // Needs nothing but sh: no namespace, no nginx.
    let out = Command::new(agent_path())
        .arg("meta-data")
        .output()
        .expect("run the agent");
    assert!(out.status.success(), "{out:?}");
    let xml = String::from_utf8(out.stdout).unwrap();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(xml.contains("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">"));
    for p in [
        "configfile",
        "httpd",
        "pid",
        "port",
        "status10url",
        "status10code",
        "status10contains",
        "options",
        "stop_timeout",
    ] {
        assert!(
            xml.contains(&format!("<parameter name=\"{p}\"")),
            "parameter {p} missing:\n{xml}"
        );
    }
    for action in [
        "<action name=\"start\" timeout=\"60s\"/>",
        "<action name=\"stop\" timeout=\"60s\"/>",
        "<action name=\"monitor\" timeout=\"20s\" interval=\"10s\" depth=\"0\"/>",
        "<action name=\"validate-all\"",
        "<action name=\"meta-data\"",
    ] {
        assert!(xml.contains(action), "{action} missing:\n{xml}");
    }
    assert!(xml.contains("default=\"/etc/nginx/nginx.conf\""));
    assert!(xml.contains("default=\"/usr/sbin/nginx\""));
}

#[test]
fn ocf_tester_passes() -> Result<()> {
    let name = "ocf_tester_passes";
    if !ready(name) {
        return Ok(());
    }
    if !Path::new(OCF_TESTER).exists() {
        skip_or_fail(
            name,
            "ocf-tester is not installed (Debian package resource-agents)",
        );
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxocf", 1)?;
    let site = Site::new(&lab)?;
    let mut cmd = Command::new(OCF_TESTER);
    cmd.args(["-n", "web", "-o"])
        .arg(format!("configfile={}", site.conf.display()))
        .args(["-o", "status10url=http://127.0.0.1:80/"])
        .arg(agent_path())
        .env("OCF_ROOT", "/usr/lib/ocf")
        .env("HB_CHECK", &site.hb_check);
    let run = site.run_cmd(&cmd)?;
    assert_eq!(run.code, 0, "ocf-tester failed:\n{}", run.output);
    assert!(run.output.contains("passed all tests"), "{}", run.output);
    assert!(!run.output.contains("* rc="), "{}", run.output);
    // It ends with stop, monitor, stop, monitor.
    site.assert_no_nginx()
}

#[test]
fn start_serves_and_a_killed_master_is_detected_and_recovered() -> Result<()> {
    if !ready("start_serves_and_a_killed_master_is_detected_and_recovered") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxkill", 1)?;
    let site = Site::new(&lab)?;
    site.expect("monitor", &[], 7)?;
    site.expect("start", &[], 0)?;
    site.assert_serves()?;
    site.expect("monitor", &[], 0)?;
    let status = site.expect("status", &[], 0)?;
    assert!(status.has_line("running"), "{}", status.output);

    // kill -9 the master: its workers live on (and still answer), so the resource is not
    // cleanly stopped: monitor says failed (1), and status does not say running.
    let master = site.master_pid().context("pid file")?;
    let workers: Vec<i32> = site
        .nginx_pids()?
        .into_iter()
        .filter(|&p| p != master)
        .collect();
    assert_eq!(workers.len(), 2, "worker_processes 2");
    kill9(master)?;
    assert!(
        workers.iter().all(|&w| alive(w)),
        "workers outlive the master"
    );
    assert_eq!(site.get("/")?.0, 200, "orphaned workers still answer");
    let run = site.expect("monitor", &[], 1)?;
    assert!(run.output.contains("are left"), "{}", run.output);
    let status = site.status_stdout(&[])?;
    assert_eq!(status.code, 1);
    assert_eq!(
        status.output,
        "failed: the master process is gone, workers are left\n"
    );

    // start cleans the orphans up and starts a new master.
    let run = site.expect("start", &[], 0)?;
    assert!(
        run.output.contains("killing nginx processes"),
        "{}",
        run.output
    );
    let second = site.master_pid().context("pid file")?;
    assert_ne!(second, master);
    assert!(workers.iter().all(|&w| !alive(w)), "old workers killed");
    site.assert_serves()?;
    site.expect("monitor", &[], 0)?;

    // Master and workers all killed (the master first, or it would replace the workers):
    // only a stale pid file is left, which is "stopped".
    assert_eq!(site.nginx_pids()?.len(), 3);
    kill9(site.master_pid().context("pid file")?)?;
    for pid in site.nginx_pids()? {
        kill9(pid)?;
    }
    assert_eq!(site.nginx_pids()?, Vec::<i32>::new());
    assert!(site.pid_file.exists(), "stale pid file");
    site.expect("monitor", &[], 7)?;
    let status = site.expect("status", &[], 7)?;
    assert!(status.has_line("stopped"), "{}", status.output);
    site.expect("start", &[], 0)?;
    assert_ne!(site.master_pid(), Some(second));
    site.assert_serves()?;
    site.expect("monitor", &[], 0)?;

    site.expect("stop", &[], 0)?;
    site.assert_no_nginx()?;
    site.expect("monitor", &[], 7)?;
    Ok(())
}

#[test]
fn stop_escalates_to_term_and_kill_when_nginx_does_not_finish() -> Result<()> {
    if !ready("stop_escalates_to_term_and_kill_when_nginx_does_not_finish") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxstop", 1)?;
    let site = Site::new(&lab)?;

    // A response in progress (1 byte/s) keeps a graceful shutdown (QUIT) waiting.
    site.expect("start", &[], 0)?;
    let slow = site.slow_request()?;
    let run = site.expect("stop", &[("stop_timeout", "1")], 0)?;
    assert!(
        run.output.contains("after QUIT; sending TERM") && !run.output.contains("sending KILL"),
        "{}",
        run.output
    );
    assert!(
        run.elapsed >= SECOND * 9 / 10 && run.elapsed < 10 * SECOND,
        "stop took {:?}",
        run.elapsed
    );
    site.assert_no_nginx()?;
    drop(slow);
    site.expect("monitor", &[], 7)?;

    // Without the slow client QUIT is enough.
    site.expect("start", &[], 0)?;
    let run = site.expect("stop", &[("stop_timeout", "5")], 0)?;
    assert!(!run.output.contains("sending TERM"), "{}", run.output);
    assert!(
        run.elapsed < 5 * SECOND,
        "graceful stop took {:?}",
        run.elapsed
    );
    site.assert_no_nginx()?;

    // A stopped (SIGSTOP) master ignores QUIT and TERM until it is killed; its workers are
    // killed with it.
    site.expect("start", &[], 0)?;
    let master = site.master_pid().context("pid file")?;
    kill(Pid::from_raw(master), Signal::SIGSTOP)?;
    let run = site.expect(
        "stop",
        &[
            ("stop_timeout", "1"),
            ("OCF_RESKEY_CRM_meta_timeout", "2500"),
        ],
        0,
    )?;
    assert!(
        run.output.contains("sending TERM") && run.output.contains("sending KILL"),
        "{}",
        run.output
    );
    assert!(run.elapsed < 10 * SECOND, "stop took {:?}", run.elapsed);
    site.assert_no_nginx()?;
    site.expect("monitor", &[], 7)?;
    Ok(())
}

#[test]
fn a_configuration_that_fails_the_test_is_not_started() -> Result<()> {
    if !ready("a_configuration_that_fails_the_test_is_not_started") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxbad", 1)?;
    let site = Site::new(&lab)?;
    let bad = site.write_conf("bad.conf", "no_such_directive on;")?;
    let bad = bad.to_str().unwrap();
    let run = site.expect("start", &[("configfile", bad)], 6)?;
    assert!(run.output.contains("no_such_directive"), "{}", run.output);
    site.assert_no_nginx()?;
    site.expect("validate-all", &[("configfile", bad)], 6)?;
    site.expect("monitor", &[("configfile", bad)], 7)?;

    // nginx would not detach: refused rather than hanging.
    let foreground = site.write_conf("foreground.conf", "daemon off;")?;
    let run = site.expect("start", &[("configfile", foreground.to_str().unwrap())], 6)?;
    assert!(run.output.contains("daemon off"), "{}", run.output);
    site.assert_no_nginx()?;

    // Missing pieces are "not installed" (5); bad values are "not configured" (6).
    site.expect("start", &[("httpd", "/nonexistent/nginx")], 5)?;
    site.expect("validate-all", &[("httpd", "/nonexistent/nginx")], 5)?;
    site.expect("start", &[("configfile", "/nonexistent/nginx.conf")], 5)?;
    site.expect("start", &[("HB_CHECK", "/nonexistent/hb-check")], 5)?;
    site.expect("start", &[("status10code", "20")], 6)?;
    site.expect("start", &[("status10url", "https://127.0.0.1/")], 6)?;
    site.expect("start", &[("port", "65536")], 6)?;
    site.assert_no_nginx()?;
    // ... and the good configuration validates.
    site.expect("validate-all", &[], 0)?;
    Ok(())
}

#[test]
fn an_unexpected_status_code_is_a_failure() -> Result<()> {
    if !ready("an_unexpected_status_code_is_a_failure") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxcode", 1)?;
    let site = Site::new(&lab)?;
    let down = [("status10url", "http://127.0.0.1/down")];
    site.expect("start", &[], 0)?;
    let run = site.expect("monitor", &down, 1)?;
    assert!(run.output.contains("did not answer 200"), "{}", run.output);
    let status = site.status_stdout(&down)?;
    assert_eq!(status.code, 1);
    assert_eq!(status.output, "failed: the status URL check fails\n");
    // Not even a URL with the words heartbeat reads as "running" gets onto stdout.
    let status = site.status_stdout(&[("status10url", "http://127.0.0.1/running-OK")])?;
    assert_eq!(status.code, 1);
    assert_eq!(status.output, "failed: the status URL check fails\n");
    assert_eq!(site.status_stdout(&[])?.output, "running\n");
    // The expected code is configurable.
    site.expect("monitor", &[down[0], ("status10code", "503")], 0)?;
    // So is a text the page must contain.
    site.expect("monitor", &[("status10contains", BODY)], 0)?;
    let run = site.expect("monitor", &[("status10contains", "not on the page")], 1)?;
    assert!(
        run.output
            .contains("did not answer 200 containing 'not on the page'"),
        "{}",
        run.output
    );
    // Served on the node's own address too.
    site.expect("monitor", &[("status10url", "http://192.0.2.11/")], 0)?;
    site.expect("stop", &[], 0)?;

    // A start that never serves the expected code fails within the operation's timeout and
    // leaves nothing running.
    let run = site.expect(
        "start",
        &[down[0], ("OCF_RESKEY_CRM_meta_timeout", "3000")],
        1,
    )?;
    assert!(run.output.contains("did not come up"), "{}", run.output);
    assert!(
        run.elapsed >= 2 * SECOND && run.elapsed < 10 * SECOND,
        "start took {:?}",
        run.elapsed
    );
    site.assert_no_nginx()?;
    Ok(())
}

#[test]
fn the_heartbeat_positional_form_works() -> Result<()> {
    if !ready("the_heartbeat_positional_form_works") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxpos", 1)?;
    let site = Site::new(&lab)?;
    let conf = site.conf.to_str().unwrap();
    // haresources `nginx::CONF`: no OCF_RESKEY_ at all, the default status URL
    // (http://127.0.0.1:80/) and the pid file named in the configuration.
    let run = |action: &str, code: i32| -> Result<Run> {
        let run = site.agent(&[conf, action], &[])?;
        ensure!(
            run.code == code,
            "{action}: exit {} (expected {code}):\n{}",
            run.code,
            run.output
        );
        Ok(run)
    };
    assert!(run("status", 7)?.has_line("stopped"));
    run("start", 0)?;
    site.assert_serves()?;
    assert!(site.master_pid().is_some());
    assert!(run("status", 0)?.has_line("running"));
    run("monitor", 0)?;
    run("start", 0)?;
    run("stop", 0)?;
    site.assert_no_nginx()?;
    assert!(run("status", 7)?.has_line("stopped"));
    run("stop", 0)?;

    assert_eq!(site.agent(&[], &[])?.code, 2, "no action");
    assert_eq!(site.agent(&[conf, "x", "start"], &[])?.code, 2);
    assert_eq!(site.agent(&[conf, "frobnicate"], &[])?.code, 3);
    assert_eq!(site.agent(&["", "start"], &[])?.code, 6);
    let usage = site.agent(&["usage"], &[])?;
    assert_eq!(usage.code, 0);
    assert!(usage.output.contains("usage:"), "{}", usage.output);
    site.assert_no_nginx()?;
    Ok(())
}

#[test]
fn start_and_stop_are_idempotent() -> Result<()> {
    if !ready("start_and_stop_are_idempotent") {
        return Ok(());
    }
    let lab = Lab::with_nodes("ngxidem", 1)?;
    let site = Site::new(&lab)?;
    site.expect("stop", &[], 0)?;
    site.expect("start", &[], 0)?;
    let master = site.master_pid().context("pid file")?;
    let run = site.expect("start", &[], 0)?;
    assert!(run.output.contains("already running"), "{}", run.output);
    assert_eq!(site.master_pid(), Some(master), "no second nginx");
    assert_eq!(site.nginx_pids()?.len(), 3, "one master, two workers");
    site.assert_serves()?;
    site.expect("stop", &[], 0)?;
    site.assert_no_nginx()?;
    site.expect("stop", &[], 0)?;
    site.expect("monitor", &[], 7)?;

    // A stale pid file naming an unrelated live process: not nginx, so never signalled.
    let mut sleeper = Command::new("sleep");
    sleeper.arg("600");
    let bystander = lab.spawn(HOST, "bystander", &sleeper)?;
    std::fs::write(&site.pid_file, format!("{}\n", bystander.pid()))?;
    site.expect("monitor", &[], 7)?;
    site.expect("stop", &[], 0)?;
    assert!(
        bystander.is_running(),
        "stop signalled an unrelated process"
    );
    assert!(!site.pid_file.exists(), "stale pid file removed");
    site.expect("start", &[], 0)?;
    site.assert_serves()?;
    site.expect("stop", &[], 0)?;
    site.assert_no_nginx()?;
    if bystander.try_wait()?.is_some() {
        bail!("the bystander died");
    }
    Ok(())
}
