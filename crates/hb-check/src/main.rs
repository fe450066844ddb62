//! `hb-check`: health checks for resource agents.
//!
//! ```text
//! hb-check tcp HOST:PORT [--timeout-ms N]
//! hb-check http URL [--expect CODE] [--timeout-ms N] [--contains TEXT]
//! hb-check ipvs-watch -t|-u VIP:PORT -r RS:PORT[:WEIGHT][,...] [options]
//! ```
//!
//! Exit statuses: 0 check passed (or the watcher stopped cleanly), 1 check failed (or the
//! watcher could not run), 2 usage error. A failure is one line on stderr. The `tcp` and
//! `http` command lines are a fixed contract for agents (see `docs/agents/hb-check.md`).

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use hb_check::addr::{self, RealServer};
use hb_check::check::{self, Check, HttpCheck};
use hb_check::daemon::{self, WatchConfig};
use hb_check::ipvsadm::{self, Forwarding, Protocol, VirtualService};
use hb_check::url::parse_http_url;
use hb_check::watch::{LastServerPolicy, Timing};
use hb_time::{Dialect, parse_duration};

const FAILED: u8 = 1;
const USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "hb-check",
    version,
    about = "Health checks for heartbeat-rs resource agents",
    long_about = "Health checks for heartbeat-rs resource agents. Exit status: 0 passed, \
                  1 failed, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// One TCP connect attempt: exit 0 if it connects, 1 otherwise.
    Tcp {
        /// HOST:PORT; HOST is an IPv4 address, [IPv6] address or a name.
        target: String,
        /// Connect timeout in milliseconds.
        #[arg(long = "timeout-ms", default_value_t = 3000,
              value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
        timeout_ms: u64,
    },
    /// One HTTP/1.0 GET: exit 0 if the status is CODE (and the body contains TEXT).
    Http {
        /// http://HOST[:PORT][/PATH]; HOST is an IPv4 address, [IPv6] address or a name.
        url: String,
        /// Expected status code.
        #[arg(long, default_value_t = 200,
              value_parser = clap::value_parser!(u16).range(100..=999))]
        expect: u16,
        /// Limit of the whole exchange (connect, request, response) in milliseconds.
        #[arg(long = "timeout-ms", default_value_t = 3000,
              value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
        timeout_ms: u64,
        /// Text the first 64 KiB of the body must contain.
        #[arg(long)]
        contains: Option<String>,
    },
    /// Health-check the real servers of an LVS virtual service and keep the ipvsadm table in
    /// step: remove a server that fails, add it back when it recovers.
    IpvsWatch(Box<WatchArgs>),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FwdArg {
    /// Direct routing (ipvsadm -g).
    Dr,
    /// NAT / masquerading (ipvsadm -m).
    Nat,
    /// IP-in-IP tunnelling (ipvsadm -i).
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CheckArg {
    /// TCP connect (keepalived TCP_CHECK).
    Tcp,
    /// HTTP GET (keepalived HTTP_GET).
    Http,
    /// No check (only with --dry-run: validates the arguments).
    None,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LastArg {
    /// Remove the last failing server too (keepalived's behaviour).
    Remove,
    /// Keep the last failing server in the table while none is up.
    Keep,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("service").required(true).args(["tcp_service", "udp_service"]))]
struct WatchArgs {
    /// The TCP virtual service, VIP:PORT.
    #[arg(short = 't', long = "tcp-service", value_name = "VIP:PORT")]
    tcp_service: Option<String>,
    /// The UDP virtual service, VIP:PORT.
    #[arg(short = 'u', long = "udp-service", value_name = "VIP:PORT")]
    udp_service: Option<String>,
    /// Real servers, ADDR:PORT[:WEIGHT] (weight 1 by default); repeat or separate with commas.
    #[arg(short = 'r', long = "real-server", value_name = "RS", required = true)]
    real_servers: Vec<String>,
    /// Forwarding method used when a server is added back.
    #[arg(long, value_enum, default_value_t = FwdArg::Dr)]
    forwarding: FwdArg,
    /// The check.
    #[arg(long, value_enum, default_value_t = CheckArg::Tcp)]
    check: CheckArg,
    /// HTTP check: the path requested.
    #[arg(long = "http-path", default_value = "/")]
    http_path: String,
    /// HTTP check: the expected status code.
    #[arg(long = "http-expect", default_value_t = 200,
          value_parser = clap::value_parser!(u16).range(100..=999))]
    http_expect: u16,
    /// HTTP check: the Host header (default: the server's address).
    #[arg(long = "http-host")]
    http_host: Option<String>,
    /// HTTP check: text the first 64 KiB of the body must contain.
    #[arg(long = "http-contains")]
    http_contains: Option<String>,
    /// Port to check instead of each server's own port.
    #[arg(long = "check-port", value_parser = clap::value_parser!(u16).range(1..))]
    check_port: Option<u16>,
    /// Limit of one check (seconds, or e.g. 500ms).
    #[arg(long = "connect-timeout", default_value = "3", value_parser = parse_positive)]
    connect_timeout: Duration,
    /// Consecutive failed checks before a server is declared gone.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    retries: u32,
    /// Pause before the next try after a failed check of a server that is up.
    #[arg(long = "delay-before-retry", default_value = "1", value_parser = parse_any)]
    delay_before_retry: Duration,
    /// Pause between two checks of a server.
    #[arg(long, default_value = "5", value_parser = parse_positive)]
    interval: Duration,
    /// What to do when the last server that is up fails.
    #[arg(long = "last-server", value_enum, default_value_t = LastArg::Remove)]
    last_server: LastArg,
    /// The ipvsadm program (default: ipvsadm found on PATH).
    #[arg(long)]
    ipvsadm: Option<PathBuf>,
    /// Pid file to write (removed on exit).
    #[arg(long)]
    pidfile: Option<PathBuf>,
    /// State file to write: one line per real server, ADDRESS up|down SINCE.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Log file to append to (log lines also go to stderr).
    #[arg(long)]
    log: Option<PathBuf>,
    /// Run in the background; return once the watcher runs.
    #[arg(long)]
    daemon: bool,
    /// Validate the arguments, print the configuration and exit.
    #[arg(long = "dry-run")]
    dry_run: bool,
    /// Internal (--daemon): print a ready line, then detach stdout and stderr.
    #[arg(long = "notify-ready", hide = true)]
    notify_ready: bool,
}

fn parse_any(s: &str) -> Result<Duration, String> {
    parse_duration(s, &Dialect::PARAMETER).map_err(|e| e.to_string())
}

fn parse_positive(s: &str) -> Result<Duration, String> {
    match parse_duration(s, &Dialect::PARAMETER) {
        Ok(d) if d.is_zero() => Err("must be more than zero".into()),
        Ok(d) => Ok(d),
        Err(e) => Err(e.to_string()),
    }
}

fn fail(what: &str, why: impl std::fmt::Display) -> ExitCode {
    eprintln_safe(&format!("hb-check: {what}: {why}"));
    ExitCode::from(FAILED)
}

fn usage(what: &str, why: impl std::fmt::Display) -> ExitCode {
    eprintln_safe(&format!("hb-check {what}: {why}"));
    ExitCode::from(USAGE)
}

/// `eprintln!` panics when stderr is gone; a health check must not.
fn eprintln_safe(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Tcp { target, timeout_ms } => tcp(&target, timeout_ms),
        Cmd::Http {
            url,
            expect,
            timeout_ms,
            contains,
        } => http(&url, expect, timeout_ms, contains.as_deref()),
        Cmd::IpvsWatch(args) => ipvs_watch(*args),
    }
}

fn tcp(target: &str, timeout_ms: u64) -> ExitCode {
    let Some((host, port)) = check::split_host_port(target) else {
        return usage(
            "tcp",
            format!("'{target}' is not HOST:PORT (IPv6 as [2001:db8::1]:80)"),
        );
    };
    let timeout = Duration::from_millis(timeout_ms);
    let result = check::resolve(&host, port).and_then(|addrs| check::connect(&addrs, timeout));
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("tcp {target}"), e),
    }
}

fn http(url: &str, expect: u16, timeout_ms: u64, contains: Option<&str>) -> ExitCode {
    let parsed = match parse_http_url(url) {
        Ok(u) => u,
        Err(e) => return usage("http", e),
    };
    match check::check_url(&parsed, expect, contains, Duration::from_millis(timeout_ms)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(url, e),
    }
}

fn absolute(p: Option<PathBuf>) -> Result<Option<PathBuf>, String> {
    p.map(|p| std::path::absolute(&p).map_err(|e| format!("{}: {e}", p.display())))
        .transpose()
}

fn no_blanks(what: &str, s: &str) -> Result<(), String> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{what} '{s}' is empty or contains blanks"));
    }
    Ok(())
}

/// Validates the arguments into a configuration (`Ok(None)` for `--check none`).
fn watch_config(a: &WatchArgs) -> Result<Option<WatchConfig>, String> {
    let (protocol, text) = match (&a.tcp_service, &a.udp_service) {
        (Some(t), None) => (Protocol::Tcp, t),
        (None, Some(u)) => (Protocol::Udp, u),
        _ => return Err("give exactly one of -t and -u".into()),
    };
    let vip = addr::parse_endpoint(text).map_err(|e| format!("virtual service: {e}"))?;
    let service = VirtualService {
        protocol,
        addr: vip,
    };
    let servers: Vec<RealServer> =
        addr::parse_real_servers(&a.real_servers).map_err(|e| format!("real servers: {e}"))?;
    let forwarding = match a.forwarding {
        FwdArg::Dr => Forwarding::Dr,
        FwdArg::Nat => Forwarding::Nat,
        FwdArg::Tun => Forwarding::Tun,
    };
    for rs in &servers {
        if rs.addr.is_ipv4() != vip.is_ipv4() && forwarding != Forwarding::Tun {
            return Err(format!(
                "real server {} and virtual service {vip} differ in address family \
                 (only tun forwarding allows that)",
                rs.addr
            ));
        }
        if forwarding.keeps_virtual_port() && rs.addr.port() != vip.port() {
            return Err(format!(
                "with {} forwarding a real server listens on the virtual port: {} should be \
                 port {} (ipvsadm would silently use {})",
                forwarding.name(),
                rs.addr,
                vip.port(),
                vip.port()
            ));
        }
    }
    let check = match a.check {
        CheckArg::None => None,
        CheckArg::Tcp => Some(Check::Tcp),
        CheckArg::Http => {
            no_blanks("--http-path", &a.http_path)?;
            if !a.http_path.starts_with('/') {
                return Err(format!("--http-path '{}' must start with '/'", a.http_path));
            }
            if let Some(h) = &a.http_host {
                no_blanks("--http-host", h)?;
            }
            Some(Check::Http(HttpCheck {
                path: a.http_path.clone(),
                expect: a.http_expect,
                host: a.http_host.clone(),
                contains: a.http_contains.clone(),
            }))
        }
    };
    let ipvsadm_path = match &a.ipvsadm {
        Some(p) => ipvsadm::find_in_path(&p.to_string_lossy())
            .ok_or_else(|| format!("--ipvsadm {} is not an executable file", p.display()))?,
        None => ipvsadm::find_in_path("ipvsadm").ok_or("ipvsadm not found on PATH")?,
    };
    let Some(check) = check else {
        return Ok(None);
    };
    Ok(Some(WatchConfig {
        service,
        forwarding,
        servers,
        check,
        check_port: a.check_port,
        connect_timeout: a.connect_timeout,
        timing: Timing {
            retries: a.retries,
            interval: a.interval,
            delay_before_retry: a.delay_before_retry,
        },
        last_server: match a.last_server {
            LastArg::Remove => LastServerPolicy::Remove,
            LastArg::Keep => LastServerPolicy::Keep,
        },
        ipvsadm: std::path::absolute(&ipvsadm_path).unwrap_or(ipvsadm_path),
        pidfile: absolute(a.pidfile.clone())?,
        state: absolute(a.state.clone())?,
        log: absolute(a.log.clone())?,
    }))
}

fn ipvs_watch(args: WatchArgs) -> ExitCode {
    if args.notify_ready {
        // First thing: leave the agent's session and process group.
        daemon::detach_session();
    }
    let cfg = match watch_config(&args) {
        Ok(c) => c,
        Err(e) => return usage("ipvs-watch", e),
    };
    if args.dry_run {
        let text = match &cfg {
            Some(c) => c.describe(),
            None => "check none: no watcher needed; arguments valid".to_owned(),
        };
        println!("{text}");
        return ExitCode::SUCCESS;
    }
    let Some(cfg) = cfg else {
        return usage(
            "ipvs-watch",
            "--check none has nothing to watch (use it with --dry-run)",
        );
    };
    if args.daemon {
        let program = match std::env::current_exe() {
            Ok(p) => p,
            Err(e) => return fail("ipvs-watch --daemon", format!("cannot find myself: {e}")),
        };
        let forwarded: Vec<OsString> = std::env::args_os()
            .skip(2)
            .filter(|a| a != "--daemon")
            .collect();
        let mut full = vec![OsString::from("ipvs-watch")];
        full.extend(forwarded);
        return match daemon::spawn_daemon(&program, &full, daemon::DAEMON_READY_TIMEOUT) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => fail("ipvs-watch", e),
        };
    }
    let hook = args.notify_ready.then(daemon::notify_ready_hook);
    match daemon::run(cfg, hook) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail("ipvs-watch", e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<WatchArgs, clap::Error> {
        let mut full = vec!["hb-check", "ipvs-watch", "--ipvsadm", "/bin/sh"];
        full.extend_from_slice(args);
        Cli::try_parse_from(full).map(|c| match c.command {
            Cmd::IpvsWatch(w) => *w,
            other => panic!("{other:?}"),
        })
    }

    fn config(args: &[&str]) -> Result<Option<WatchConfig>, String> {
        watch_config(&parse(args).map_err(|e| e.to_string())?)
    }

    #[test]
    fn watch_arguments_validate() {
        let c = config(&[
            "-t",
            "192.0.2.100:80",
            "-r",
            "192.0.2.11:80,192.0.2.12:80:2",
            "--check",
            "http",
            "--http-path",
            "/health",
            "--retries",
            "2",
            "--interval",
            "500ms",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.servers.len(), 2);
        assert_eq!(c.timing.interval, Duration::from_millis(500));
        assert_eq!(c.timing.retries, 2);
        assert!(
            c.describe().contains("HTTP GET /health expecting 200"),
            "{}",
            c.describe()
        );

        // -r repeated works as well as commas.
        let c = config(&[
            "-u",
            "192.0.2.100:53",
            "-r",
            "192.0.2.11:53",
            "-r",
            "192.0.2.12:53",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(c.service.protocol, Protocol::Udp);
        assert_eq!(c.servers.len(), 2);

        assert!(
            config(&[
                "-t",
                "192.0.2.100:80",
                "-r",
                "192.0.2.11:80",
                "--check",
                "none"
            ])
            .unwrap()
            .is_none()
        );
    }

    #[test]
    fn watch_arguments_refused() {
        let dr_port = config(&["-t", "192.0.2.100:80", "-r", "192.0.2.11:8080"]).unwrap_err();
        assert!(dr_port.contains("should be port 80"), "{dr_port}");
        assert!(
            config(&[
                "-t",
                "192.0.2.100:80",
                "-r",
                "192.0.2.11:8080",
                "--forwarding",
                "nat"
            ])
            .is_ok()
        );
        let family = config(&["-t", "192.0.2.100:80", "-r", "[2001:db8::1]:80"]).unwrap_err();
        assert!(family.contains("address family"), "{family}");
        assert!(
            config(&[
                "-t",
                "192.0.2.100:80",
                "-r",
                "192.0.2.11:80",
                "--check",
                "http",
                "--http-path",
                "health"
            ])
            .is_err()
        );
        assert!(config(&["-t", "192.0.2.100", "-r", "192.0.2.11:80"]).is_err());
        assert!(config(&["-t", "192.0.2.100:80", "-r", "192.0.2.11:80,192.0.2.11:80"]).is_err());
        // clap-level refusals.
        assert!(parse(&["-t", "192.0.2.100:80"]).is_err(), "no real server");
        assert!(parse(&["-r", "192.0.2.11:80"]).is_err(), "no service");
        assert!(parse(&["-t", "a:1", "-u", "b:2", "-r", "c:3"]).is_err());
        assert!(parse(&["-t", "a:1", "-r", "c:3", "--retries", "0"]).is_err());
        assert!(parse(&["-t", "a:1", "-r", "c:3", "--interval", "0"]).is_err());
        assert!(parse(&["-t", "a:1", "-r", "c:3", "--connect-timeout", "5 s"]).is_err());
        assert!(parse(&["-t", "a:1", "-r", "c:3", "--forwarding", "fullnat"]).is_err());
        assert!(parse(&["-t", "a:1", "-r", "c:3", "--delay-before-retry", "0"]).is_ok());
    }

    #[test]
    fn fixed_contract_of_tcp_and_http() {
        let c = Cli::try_parse_from([
            "hb-check",
            "http",
            "http://192.0.2.11/",
            "--expect",
            "204",
            "--timeout-ms",
            "250",
        ])
        .unwrap();
        assert!(matches!(
            c.command,
            Cmd::Http {
                expect: 204,
                timeout_ms: 250,
                ..
            }
        ));
        let c = Cli::try_parse_from(["hb-check", "tcp", "192.0.2.11:80", "--timeout-ms", "100"])
            .unwrap();
        assert!(matches!(
            c.command,
            Cmd::Tcp {
                timeout_ms: 100,
                ..
            }
        ));
        let c = Cli::try_parse_from(["hb-check", "http", "http://h/"]).unwrap();
        assert!(matches!(
            c.command,
            Cmd::Http {
                expect: 200,
                timeout_ms: 3000,
                contains: None,
                ..
            }
        ));
        assert!(Cli::try_parse_from(["hb-check", "http", "http://h/", "--expect", "abc"]).is_err());
        assert!(Cli::try_parse_from(["hb-check", "tcp", "h:1", "--timeout-ms", "0"]).is_err());
    }
}
