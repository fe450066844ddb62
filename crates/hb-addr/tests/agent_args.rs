//! Argument handling of `resource-agents/IPaddr`, without root: HB_ADDR points at a stub
//! that prints the argv it was exec'd with, so these tests see exactly what the agent would
//! run and that it runs nothing else (PATH is empty).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::agent_path;

/// A stub helper printing one argument per line, in a temporary directory.
struct Stub {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Stub {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hb-addr-stub");
        fs::write(
            &path,
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\nexit 0\n",
        )
        .expect("write stub");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).expect("chmod stub");
        Self { _dir: dir, path }
    }
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run_agent(agent: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let out = Command::new(agent)
        .args(args)
        .env_clear()
        .env("PATH", "/nonexistent")
        .envs(env.iter().copied())
        .output()
        .expect("run agent");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The argv the agent exec's for `args`, one element per entry.
fn argv(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let stub = Stub::new();
    let mut env = env.to_vec();
    let helper = stub.path.to_str().expect("utf-8 path");
    env.push(("HB_ADDR", helper));
    let out = run_agent(&agent_path("IPaddr"), args, &env);
    assert_eq!(out.code, Some(0), "{args:?}: stderr {}", out.stderr);
    assert_eq!(out.stderr, "");
    out.stdout.lines().map(str::to_owned).collect()
}

#[track_caller]
fn assert_argv(args: &[&str], expected: &[&str]) {
    assert_eq!(argv(args, &[]), expected, "for {args:?}");
}

#[track_caller]
fn assert_fails(args: &[&str], code: i32, message: &str) {
    let stub = Stub::new();
    let out = run_agent(
        &agent_path("IPaddr"),
        args,
        &[("HB_ADDR", stub.path.to_str().unwrap())],
    );
    assert_eq!(out.code, Some(code), "{args:?}: stderr {}", out.stderr);
    assert_eq!(out.stdout, "", "{args:?} ran the helper");
    assert_eq!(
        out.stderr.lines().count(),
        1,
        "not one line: {:?}",
        out.stderr
    );
    assert!(out.stderr.starts_with("IPaddr: "), "{:?}", out.stderr);
    assert!(
        out.stderr.contains(message),
        "{:?} lacks {message:?}",
        out.stderr
    );
}

#[test]
fn label_form_passes_device_and_label() {
    assert_argv(
        &["10.10.10.100/24/eth0:0", "start"],
        &["add", "10.10.10.100/24", "dev", "eth0", "--label", "eth0:0"],
    );
}

#[test]
fn interface_form() {
    assert_argv(
        &["192.0.2.100/24/eth0", "start"],
        &["add", "192.0.2.100/24", "dev", "eth0"],
    );
}

#[test]
fn bare_address_leaves_interface_and_prefix_to_the_helper() {
    assert_argv(&["192.0.2.100", "start"], &["add", "192.0.2.100"]);
    assert_argv(&["192.0.2.100/24", "start"], &["add", "192.0.2.100/24"]);
    assert_argv(
        &["192.0.2.100//eth0", "start"],
        &["add", "192.0.2.100", "dev", "eth0"],
    );
}

#[test]
fn numeric_third_field_is_a_broadcast() {
    assert_argv(
        &["192.0.2.100/24/192.0.2.255", "start"],
        &["add", "192.0.2.100/24", "--broadcast", "192.0.2.255"],
    );
}

#[test]
fn full_form_with_label_and_broadcast() {
    assert_argv(
        &["192.0.2.100/255.255.255.0/eth0:vip/192.0.2.255", "start"],
        &[
            "add",
            "192.0.2.100/255.255.255.0",
            "dev",
            "eth0",
            "--label",
            "eth0:vip",
            "--broadcast",
            "192.0.2.255",
        ],
    );
}

#[test]
fn stop_and_status_pass_address_and_device_only() {
    assert_argv(
        &["192.0.2.100/24/eth0:1/192.0.2.255", "stop"],
        &["del", "192.0.2.100/24", "dev", "eth0"],
    );
    assert_argv(
        &["192.0.2.100/24/eth0:1", "status"],
        &["status", "192.0.2.100/24", "dev", "eth0"],
    );
    assert_argv(&["192.0.2.100", "monitor"], &["status", "192.0.2.100"]);
}

#[test]
fn arp_knobs_come_from_the_environment() {
    let got = argv(
        &["192.0.2.100/24/eth0", "start"],
        &[("HB_ARP_COUNT", "3"), ("HB_ARP_INTERVAL_MS", "50")],
    );
    assert_eq!(
        got,
        [
            "add",
            "192.0.2.100/24",
            "dev",
            "eth0",
            "--arp-count",
            "3",
            "--arp-interval-ms",
            "50"
        ]
    );
    // Not passed to stop.
    let got = argv(&["192.0.2.100/24/eth0", "stop"], &[("HB_ARP_COUNT", "3")]);
    assert_eq!(got, ["del", "192.0.2.100/24", "dev", "eth0"]);
}

#[test]
fn ipaddr2_is_the_same_agent() {
    let stub = Stub::new();
    let out = run_agent(
        &agent_path("IPaddr2"),
        &["10.10.10.100/24/eth0:0", "start"],
        &[("HB_ADDR", stub.path.to_str().unwrap())],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "add\n10.10.10.100/24\ndev\neth0\n--label\neth0:0\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_fails(&[], 2, "missing arguments; usage: IPaddr IP[/PREFIX");
    assert_fails(&["start"], 2, "missing address argument");
    assert_fails(
        &["192.0.2.1/24", "192.0.2.2/24", "start"],
        2,
        "got 3 arguments",
    );
}

#[test]
fn unknown_action_exits_3() {
    assert_fails(
        &["192.0.2.1/24/eth0", "restart"],
        3,
        "unknown action 'restart'",
    );
}

#[test]
fn malformed_address_arguments_exit_6() {
    assert_fails(&["/24/eth0", "start"], 6, "no IP address in '/24/eth0'");
    assert_fails(
        &["192.0.2.1/24/eth0/192.0.2.255/x", "start"],
        6,
        "too many fields",
    );
    assert_fails(
        &["192.0.2.1/24/192.0.2.255/x", "start"],
        6,
        "numeric third field",
    );
    assert_fails(
        &["192.0.2.1/24/:0", "start"],
        6,
        "label ':0' in '192.0.2.1/24/:0' has no interface name",
    );
}

#[test]
fn usage_action_prints_usage() {
    let out = run_agent(&agent_path("IPaddr"), &["usage"], &[]);
    assert_eq!(out.code, Some(0));
    assert!(
        out.stdout
            .starts_with("usage: IPaddr IP[/PREFIX[/IFACE[:LABEL][/BROADCAST]]]")
    );
}

#[test]
fn missing_helper_exits_5() {
    let out = run_agent(&agent_path("IPaddr"), &["192.0.2.1/24/eth0", "start"], &[]);
    assert_eq!(out.code, Some(5), "{}", out.stderr);
    assert!(
        out.stderr.starts_with("IPaddr: helper 'hb-addr' not found"),
        "{}",
        out.stderr
    );
    let out = run_agent(
        &agent_path("IPaddr"),
        &["192.0.2.1/24/eth0", "stop"],
        &[("HB_ADDR", "/nonexistent/hb-addr")],
    );
    assert_eq!(out.code, Some(5), "{}", out.stderr);
}

#[test]
fn missing_library_exits_5() {
    let out = run_agent(
        &agent_path("IPaddr"),
        &["192.0.2.1/24/eth0", "start"],
        &[("HB_AGENT_LIB", "/nonexistent")],
    );
    assert_eq!(out.code, Some(5));
    assert_eq!(
        out.stderr,
        "IPaddr: cannot read the agent library in /nonexistent\n"
    );
}

#[test]
fn shellcheck_is_clean() {
    let Ok(out) = Command::new("shellcheck").arg("--version").output() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("shellcheck is not installed");
        }
        eprintln!("*** SKIP shellcheck_is_clean: shellcheck not installed");
        return;
    };
    assert!(out.status.success());
    let dir = agent_path("");
    let out = Command::new("shellcheck")
        .current_dir(&dir)
        .args([
            "-s",
            "sh",
            "IPaddr",
            "IPaddr2",
            "lib/ocf-returncodes.sh",
            "lib/hb-agent.sh",
        ])
        .output()
        .expect("run shellcheck");
    assert!(
        out.status.success(),
        "shellcheck:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
