//! `cl_status` against a fake daemon: the captured Heartbeat 3.0.6 transcript byte for
//! byte, every exit code, the ERROR line format, and the heartbeat-rs extensions.

mod common;

use common::*;
use hb_control::{Request, Response, RscStatus};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_cl_status");

fn cl_status(d: &FakeDaemon, args: &[&str]) -> Run {
    run_in(BIN, d.run_dir(), args)
}

/// One command of the captured transcript.
#[derive(Debug)]
struct Entry {
    args: Vec<String>,
    note: String,
    output: String,
    code: i32,
}

fn transcript(text: &str) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let Some(cmd) = line.strip_prefix("$ cl_status") else {
            continue;
        };
        let (args, note) = match cmd.rfind('(') {
            Some(i) => (&cmd[..i], cmd[i + 1..].trim_end_matches(')')),
            None => (cmd, ""),
        };
        let mut output = String::new();
        let code = loop {
            let l = lines.next().expect("an [exit status N] line");
            if let Some(c) = l.strip_prefix("[exit status ") {
                break c.trim_end_matches(']').parse().unwrap();
            }
            output.push_str(l);
            output.push('\n');
        };
        entries.push(Entry {
            args: args.split_whitespace().map(str::to_string).collect(),
            note: note.to_string(),
            output,
            code,
        });
    }
    entries
}

#[test]
fn the_captured_transcript_is_reproduced_byte_for_byte() {
    let Some(dir) = captures() else { return };
    let text = std::fs::read_to_string(dir.join("cl_status-outputs.txt")).unwrap();
    let entries = transcript(&text);
    assert!(entries.len() >= 55, "only {} entries parsed", entries.len());
    let running = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let node2_stopped = FakeDaemon::with_status(cluster_status(false, RscStatus::All));
    let stopped = no_daemon();
    let mut after_stop = false;
    let mut failures = Vec::new();
    for e in &entries {
        after_stop |= e.note.contains("node2 stopped");
        let dir = if e.note.contains("not running") {
            stopped.path()
        } else if after_stop {
            node2_stopped.run_dir()
        } else {
            running.run_dir()
        };
        let args: Vec<&str> = e.args.iter().map(String::as_str).collect();
        let r = run_in(BIN, dir, &args);
        assert!(
            r.stdout.is_empty() || r.stderr.is_empty(),
            "{args:?}: output on both streams: {r:?}"
        );
        let got = normalise_error_lines(&format!("{}{}", r.stdout, r.stderr));
        let want = normalise_error_lines(&e.output);
        if (got.as_str(), r.code) != (want.as_str(), e.code) {
            failures.push(format!(
                "cl_status {args:?} ({}):\n  want {:?} exit {}\n  got  {:?} exit {}",
                e.note, want, e.code, got, r.code
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_command_sends_one_status_request() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let r = cl_status(&d, &["nodestatus", "node2"]);
    assert_eq!((r.stdout.as_str(), r.code), ("active\n", 0));
    assert_eq!(d.requests(), vec![Request::Status]);
}

#[test]
fn node_and_link_exit_codes() {
    let up = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let down = FakeDaemon::with_status(cluster_status(false, RscStatus::All));

    let r = cl_status(&down, &["nodestatus", "node2"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("dead\n", "", 1)
    );
    let r = cl_status(&down, &["nodestatus", "-m", "node2"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("The cluster node node2 is dead\n", 1)
    );

    let r = cl_status(&up, &["nodestatus", "nosuchnode"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("", "Error. May be due to incorrect node name\n", 11)
    );
    let r = cl_status(&up, &["nodeweight", "nosuchnode"]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        ("Error. Maybe due to incorrect node name.\n", 11)
    );
    for cmd in ["nodetype", "nodesite"] {
        let r = cl_status(&up, &[cmd, "nosuchnode"]);
        assert_eq!(
            (r.stderr.as_str(), r.code),
            ("Error. May be due to incorrect node name\n", 11),
            "{cmd}"
        );
    }

    let r = cl_status(&down, &["hblinkstatus", "node2", "eth0"]);
    assert_eq!((r.stdout.as_str(), r.code), ("dead\n", 1));
    let r = cl_status(&up, &["hblinkstatus", "-m", "node1", "eth0"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("The node node1's heartbeat link eth0 is up\n", 0)
    );
    let r = cl_status(&up, &["hblinkstatus", "node2", "eth9"]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 13));
    assert_error_lines(
        &r.stderr,
        r.pid,
        "node1",
        &["Cannot get heartbeat link status", "REASON: "],
    );
    let r = cl_status(&up, &["hblinkstatus", "node9", "eth0"]);
    assert_eq!(r.code, 13);

    let r = cl_status(&up, &["listhblinks", "-v", "nosuchnode"]);
    assert_eq!(r.code, 13);
    assert_error_lines(
        &r.stderr,
        r.pid,
        "node1",
        &["Cannot start heartbeat link interface walk.", "REASON: "],
    );
}

#[test]
fn missing_arguments_and_bad_options_are_parameter_errors() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    for (args, stderr) in [
        (&["nodestatus"][..], "Not enough parameters.\n"),
        (&["nodeweight", "-m"][..], "Not enough parameters.\n"),
        (&["nodesite"][..], "Not enough parameters.\n"),
        (&["nodetype"][..], "No enough parameter.\n"),
        (&["listhblinks"][..], "No enough parameter.\n"),
        (&["hblinkstatus", "node1"][..], "No enough parameter.\n"),
        (&["clientstatus", "node1"][..], "No enough parameter.\n"),
    ] {
        let r = cl_status(&d, args);
        assert_eq!(
            (r.stdout.as_str(), r.stderr.as_str(), r.code),
            ("", stderr, 11),
            "{args:?}"
        );
    }

    // GNU getopt's own complaint (the sub-command is its program name), then Heartbeat's.
    let r = cl_status(&d, &["nodestatus", "-v", "node1"]);
    assert_eq!(r.code, 11);
    let (diag, rest) = r.stderr.split_once('\n').unwrap();
    assert_eq!(diag, "nodestatus: invalid option -- 'v'");
    assert_error_lines(
        rest,
        r.pid,
        "node1",
        &["Error: getopt returnedcharacter ?."],
    );

    let r = cl_status(&d, &["listnodes", "-x"]);
    assert_eq!(r.code, 11);
    let (diag, rest) = r.stderr.split_once('\n').unwrap();
    assert_eq!(diag, "listnodes: invalid option -- 'x'");
    assert_error_lines(
        rest,
        r.pid,
        "node1",
        &["Error: getopt returnedcharacter code ?."],
    );

    let r = cl_status(&d, &["hbparameter", "-m"]);
    assert_eq!(r.code, 11);
    assert_error_lines(&r.stderr, r.pid, "node1", &["parameter name required"]);
    let r = cl_status(&d, &["hbparameter", "-p"]);
    assert_eq!(r.code, 11);
    assert!(
        r.stderr
            .starts_with("hbparameter: option requires an argument -- 'p'\n"),
        "{}",
        r.stderr
    );

    // hbstatus ignores bad options after getopt's complaint, like Heartbeat's.
    let r = cl_status(&d, &["hbstatus", "-x"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "Heartbeat is running on this machine.\n",
            "hbstatus: invalid option -- 'x'\n",
            0
        )
    );
}

#[test]
fn unknown_sub_commands_fail_before_contacting_the_daemon() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let r = cl_status(&d, &["bogus"]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 11));
    assert_error_lines(
        &r.stderr,
        r.pid,
        &hostname(),
        &["bogus: invalid sub-command."],
    );
    // Sub-commands match exactly, as Heartbeat's table lookup.
    let r = cl_status(&d, &["hbstat"]);
    assert_eq!(r.code, 11);
    let r = cl_status(&d, &["-h", "extra"]);
    assert_eq!(r.code, 11);
    assert!(d.requests().is_empty());
}

#[test]
fn a_stopped_daemon_is_reported_like_heartbeat() {
    let dir = no_daemon();
    let r = run_in(BIN, dir.path(), &["hbstatus"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        ("Heartbeat is stopped on this machine.\n", "", 1)
    );
    let r = run_in(BIN, dir.path(), &["hbstatus", "-v"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (
            "Heartbeat is stopped on this machine.\n(hb_api_signon: Can't initiate connection to heartbeat)\n",
            1
        )
    );
    for cmd in [
        &["rscstatus"][..],
        &["listnodes"],
        &["nodestatus", "node1"],
        &["status"],
        &["--json"],
    ] {
        let r = run_in(BIN, dir.path(), cmd);
        assert_eq!((r.stdout.as_str(), r.code), ("", 1), "{cmd:?}");
        assert_error_lines(
            &r.stderr,
            r.pid,
            &hostname(),
            &[
                "Cannot signon with heartbeat",
                "REASON: hb_api_signon: Can't initiate connection to heartbeat",
            ],
        );
    }
    // A stale socket nobody listens on is the same.
    let stale = tempfile::tempdir().unwrap();
    drop(std::os::unix::net::UnixListener::bind(stale.path().join("heartbeat.sock")).unwrap());
    assert!(stale.path().join("heartbeat.sock").exists());
    let r = run_in(BIN, stale.path(), &["hbstatus"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("Heartbeat is stopped on this machine.\n", 1)
    );
}

#[test]
fn rscstatus_sentences() {
    for (rsc, sentence) in [
        ("none", "This node is holding none resources.\n"),
        ("local", "This node is holding local resources.\n"),
        ("foreign", "This node is holding foreign resources.\n"),
        ("all", "This node is holding all resources.\n"),
        ("transition", "This node is holding transition resources.\n"),
    ] {
        let d = FakeDaemon::with_status(cluster_status(true, RscStatus::from_word(rsc)));
        let r = cl_status(&d, &["rscstatus"]);
        assert_eq!((r.stdout, r.code), (format!("{rsc}\n"), 0));
        let r = cl_status(&d, &["rscstatus", "-m"]);
        assert_eq!((r.stdout.as_str(), r.code), (sentence, 0));
    }
}

#[test]
fn parameters_and_the_alias() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let r = cl_status(&d, &["parameter", "-p", "deadtime"]);
    assert_eq!((r.stdout.as_str(), r.code), ("4\n", 0));
    let r = cl_status(&d, &["hbparameter", "-m", "-pkeepalive"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("Heartbeat parameter keepalive's value: 1\n", 0)
    );
    let r = cl_status(&d, &["hbparameter", "-p", "hbversion"]);
    assert_eq!(r.stdout, format!("{HB_VERSION}\n"));
    let r = cl_status(&d, &["parameter", "-p", "logfacility"]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 1));
    assert_error_lines(
        &r.stderr,
        r.pid,
        "node1",
        &["Cannot get parameter logfacility's value", "REASON: "],
    );
}

#[test]
fn clientstatus_is_heartbeats_unknown_client() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let r = cl_status(&d, &["clientstatus", "node1", "nosuch", "2"]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 13));
    assert_error_lines(
        &r.stderr,
        r.pid,
        "node1",
        &[
            "Cannot get heartbeat client nosuch's status",
            "REASON: No timely response.",
        ],
    );
}

#[test]
fn global_options_go_anywhere_and_the_run_dir_comes_from_the_environment() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Foreign));
    let dir = d.run_dir().to_str().unwrap();
    let r = run_env(BIN, &["rscstatus", "--run-dir", dir, "-m"], &[]);
    assert_eq!(r.stdout, "This node is holding foreign resources.\n");
    let r = run_env(
        BIN,
        &[&format!("--run-dir={dir}"), "--timeout", "2", "rscstatus"],
        &[],
    );
    assert_eq!(r.stdout, "foreign\n");
    let r = run_env(BIN, &["rscstatus"], &[("HB_RUN_DIR", d.run_dir())]);
    assert_eq!((r.stdout.as_str(), r.code), ("foreign\n", 0));
    let r = run_env(BIN, &["--timeout", "never", "rscstatus"], &[]);
    assert_eq!(r.code, 11);
    // Global options alone: the usage, as with no argument at all.
    let r = run_env(BIN, &["--run-dir", dir], &[]);
    assert!(r.stdout.starts_with("Usage: cl_status <sub-command>"));
    assert_eq!(r.code, 0);
    let r = run_env(BIN, &["--help"], &[]);
    assert!(r.stdout.contains("heartbeat-rs additions:"), "{}", r.stdout);
    assert_eq!(r.code, 0);
}

#[test]
fn json_prints_the_status_object() {
    let status = cluster_status(true, RscStatus::Local);
    let d = FakeDaemon::with_status(status.clone());
    let r = cl_status(&d, &["--json"]);
    assert_eq!(r.code, 0);
    let printed: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        printed,
        Response::Status(Box::new(status)).to_value().unwrap()
    );
    assert!(r.stdout.ends_with("}\n"));
    let r = cl_status(&d, &["--json", "rscstatus"]);
    assert_eq!(r.code, 11);
}

#[test]
fn status_summarises_nodes_links_groups_and_transitions() {
    let mut status = cluster_status(true, RscStatus::Local);
    status.groups[1].failed_here = true;
    status.groups[1].failure = Some("start failed: exit 1".into());
    let r = &mut status.groups[0].resources[0];
    r.failures = 2;
    r.restarts = 1;
    r.last_failure_reason = Some("monitor: not running".into());
    let d = FakeDaemon::with_status(status);
    let r = cl_status(&d, &["status"]);
    assert_eq!((r.stderr.as_str(), r.code), ("", 0));
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with(&format!(
        "Node node1: {HB_VERSION}, resources from haresources"
    )));
    assert!(
        lines[0].ends_with("this node holds 192.0.2.100"),
        "{}",
        lines[0]
    );
    let find = |needle: &str| {
        lines
            .iter()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?} in\n{}", r.stdout))
            .to_string()
    };
    assert_eq!(lines[1], "Nodes:");
    assert!(find("  node1  active").contains("links: eth0 up"));
    assert!(find("  node1  active").contains("(this node)"));
    assert!(find("  node2  active").contains("(Heartbeat 3)"));
    assert!(find("  192.0.2.100  running").contains("holder node1  prefers node1"));
    let g2 = find("  192.0.2.101  stopped");
    assert!(g2.contains("holder node2"));
    assert!(g2.contains("FAILED HERE (hb_cleanup 192.0.2.101 to allow it again)"));
    assert_eq!(find("failure: "), "      failure: start failed: exit 1");
    assert!(
        find("IPaddr2::192.0.2.100/24/eth0")
            .contains("running  failures 2  restarts 1  last failure -: monitor: not running")
    );
    // The newest change first, with its age against the daemon's clock.
    let i = lines
        .iter()
        .position(|l| *l == "Last transitions:")
        .unwrap();
    assert!(
        lines[i + 1].ends_with("group 192.0.2.101 stopped on node2 (15s ago)"),
        "{}",
        lines[i + 1]
    );
    assert!(
        lines[i + 2].ends_with("node node2 active (25s ago)"),
        "{}",
        lines[i + 2]
    );
}

#[test]
fn the_current_daemons_smaller_status_is_accepted() {
    // What hb-daemon sent before the protocol extension: no parameters, links with `up`
    // (hand-written: the types of today would write every field).
    let d = FakeDaemon::with_json(json!({
        "version": 1, "ok": true, "node": "node1", "rscstatus": "local",
        "shutting_down": false,
        "nodes": [
            {"name": "node1", "status": "active", "self": true, "heartbeat_rs": true,
             "links": [{"name": "eth0", "up": true}]},
            {"name": "node2", "status": "dead", "self": false, "heartbeat_rs": true,
             "links": [{"name": "eth0", "up": false}]}
        ],
        "groups": [{"key": "g", "preferred": "node1", "state": "running", "holder": "node1",
                    "failed_here": false}],
        "counters": {"accepted": 1}
    }));
    let r = cl_status(&d, &["listnodes", "-v"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (
            "\nnode2\tdead\t(nodetype: normal)\n\teth0\tdead\n\nnode1\tactive\t(nodetype: normal)\n\teth0\tup\n",
            0
        )
    );
    let r = cl_status(&d, &["hbstatus", "-v"]);
    assert!(
        r.stdout
            .starts_with("version:\tunknown\nmanaged by:\t\"haresources\"\n")
    );
    let r = cl_status(&d, &["test"]);
    assert_eq!(
        r.stdout,
        "Dead time: 0\n keeplive time: 0\n mynodeid: node1\n rsc: local\n"
    );
    let r = cl_status(&d, &["hbparameter", "-p", "deadtime"]);
    assert_eq!(r.code, 1);
}

#[test]
fn bad_replies_refusals_and_time_outs() {
    let garbage = FakeDaemon::start(|_, _| Reply::Raw(b"this is not json\n".to_vec()));
    let r = cl_status(&garbage, &["rscstatus"]);
    assert_eq!(r.code, 13);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stderr);
    assert!(lines[1].contains("ERROR: REASON: bad reply from heartbeat: not JSON"));

    let closes = FakeDaemon::start(|_, _| Reply::Raw(Vec::new()));
    let r = cl_status(&closes, &["nodestatus", "node1"]);
    assert_eq!(r.code, 13);
    assert!(r.stderr.contains("closed the connection without replying"));

    let wrong = FakeDaemon::start(|_, _| Reply::Raw(b"{\"version\":2,\"ok\":true}\n".to_vec()));
    let r = cl_status(&wrong, &["rscstatus"]);
    assert_eq!(r.code, 13);
    assert!(r.stderr.contains("protocol version 2"));

    let refuses =
        FakeDaemon::start(|_, _| Reply::Json(Response::Refused("the daemon is stopping".into())));
    let r = cl_status(&refuses, &["rscstatus"]);
    assert_eq!(r.code, 1);
    assert_error_lines(
        &r.stderr,
        r.pid,
        &hostname(),
        &[
            "Cannot signon with heartbeat",
            "REASON: the daemon is stopping",
        ],
    );
    let r = cl_status(&refuses, &["hbstatus", "-v"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (
            "Heartbeat is apparently running on this machine, but refuses my connection\n(the daemon is stopping)\n",
            0
        )
    );

    let silent = FakeDaemon::start(|_, _| Reply::Silent);
    let r = cl_status(&silent, &["--timeout", "0.2", "rscstatus"]);
    assert_eq!(r.code, 12);
    assert_error_lines(
        &r.stderr,
        r.pid,
        &hostname(),
        &[
            "Cannot signon with heartbeat",
            "REASON: no reply from heartbeat within 0.2 s",
        ],
    );
}

#[test]
fn a_socket_this_user_may_not_use_is_reported() {
    if nix::unistd::geteuid().is_root() {
        eprintln!("skipped: root may use any socket");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let sock = hb_control::socket_path(d.run_dir());
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o000)).unwrap();
    let r = cl_status(&d, &["rscstatus"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("REASON: permission denied on"),
        "{}",
        r.stderr
    );
    let r = cl_status(&d, &["hbstatus"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (
            "Heartbeat is apparently running on this machine, but refuses my connection\n",
            0
        )
    );
}

#[test]
fn status_says_when_fencing_holds_a_takeover_back_and_when_this_node_awaits_it() {
    let mut status = cluster_status(true, RscStatus::Local);
    status.fencing = Some(hb_control::Fencing {
        node: "node2".into(),
        state: "retrying".into(),
        attempts: 3,
        last_result: Some("failed (exit 1)".into()),
        retry_at: status.now.map(|t| t + 20.0),
    });
    let d = FakeDaemon::with_status(status.clone());
    let r = cl_status(&d, &["status"]);
    assert_eq!((r.stderr.as_str(), r.code), ("", 0));
    let line = r.stdout.lines().nth(1).unwrap_or_default();
    assert_eq!(
        line,
        "Fencing node2: retrying after 3 attempts, last: failed (exit 1), next attempt in 20s \
         (node2's resources wait for its reset)"
    );
    status.fencing = None;
    status.awaiting_fence = true;
    let d = FakeDaemon::with_status(status);
    let r = cl_status(&d, &["status"]);
    let header = r.stdout.lines().next().unwrap_or_default();
    assert!(
        header.ends_with(
            ", AWAITING FENCING (a stop failed: heartbeats stopped for the peer to reset this node)"
        ),
        "{header}"
    );
    assert!(!r.stdout.contains("Fencing node"));
}
