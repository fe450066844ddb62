//! `hb_standby` and `hb_takeover` against a fake daemon: the class sent for each argument,
//! Heartbeat's argument errors, refusals, and `--wait`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use hb_control::{GroupState, Request, RequestClass, Response, RscStatus, Status};

const STANDBY: &str = env!("CARGO_BIN_EXE_hb_standby");
const TAKEOVER: &str = env!("CARGO_BIN_EXE_hb_takeover");

#[test]
fn each_argument_sends_its_class() {
    for (bin, command) in [(STANDBY, "standby"), (TAKEOVER, "takeover")] {
        for (arg, class) in [
            (None, RequestClass::All),
            (Some("all"), RequestClass::All),
            (Some("local"), RequestClass::Local),
            (Some("foreign"), RequestClass::Foreign),
            (Some("failback"), RequestClass::Foreign),
        ] {
            // Heartbeat 3.0.6: hb_takeover failback ends with every group here.
            let class = if command == "takeover" && arg == Some("failback") {
                RequestClass::All
            } else {
                class
            };
            let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
            let args: Vec<&str> = arg.into_iter().collect();
            let r = run_in(bin, d.run_dir(), &args);
            assert_eq!(r.code, 0, "{command} {arg:?}: {r:?}");
            assert_eq!(
                d.requests(),
                vec![match command {
                    "standby" => Request::Standby { class },
                    _ => Request::Takeover { class },
                }],
                "{command} {arg:?}"
            );
            assert_eq!(r.stdout, "");
            if command == "standby" {
                assert_eq!(r.stderr, format!("Going standby [{class}].\n"));
            } else {
                assert_eq!(r.stderr, "", "hb_takeover is silent, as Heartbeat's");
            }
        }
    }
}

#[test]
fn bad_arguments_print_heartbeats_usage_and_send_nothing() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    for bin in [STANDBY, TAKEOVER] {
        let r = run_in(bin, d.run_dir(), &["everything"]);
        assert_eq!(r.code, 1);
        assert_eq!(
            r.stdout,
            format!("{bin}: wrong resources(everything).\nusage:\n")
        );
        assert!(
            r.stderr
                .starts_with(&format!("{bin} [all|foreign|local|failback]\n")),
            "{}",
            r.stderr
        );
        let r = run_in(bin, d.run_dir(), &["local", "foreign"]);
        assert_eq!(r.code, 1);
        assert_eq!(r.stdout, format!("{bin}: too many arguments\nusage:\n"));
        let r = run_in(bin, d.run_dir(), &["--help"]);
        assert_eq!((r.stdout.as_str(), r.code), ("usage:\n", 1));
        let r = run_in(bin, d.run_dir(), &["--timeout", "0"]);
        assert_eq!(r.code, 1);
    }
    assert!(d.requests().is_empty());
}

#[test]
fn a_refusal_is_reported() {
    let d = FakeDaemon::start(|_, _| Reply::Json(Response::Refused("resources in flux".into())));
    let r = run_in(STANDBY, d.run_dir(), &["local"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "",
            "hb_standby: heartbeat refused the standby request: resources in flux\n",
            1
        )
    );
    let r = run_in(TAKEOVER, d.run_dir(), &[]);
    assert_eq!(
        (r.stderr.as_str(), r.code),
        (
            "hb_takeover: heartbeat refused the takeover request: resources in flux\n",
            1
        )
    );
}

#[test]
fn not_running_is_one_line() {
    let dir = no_daemon();
    for (bin, name) in [(STANDBY, "hb_standby"), (TAKEOVER, "hb_takeover")] {
        let r = run_in(bin, dir.path(), &[]);
        assert_eq!((r.stdout.as_str(), r.code), ("", 1));
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!(
                "{name}: Heartbeat is not running on this machine (cannot connect to {}",
                dir.path().join("heartbeat.sock").display()
            )),
            "{}",
            r.stderr
        );
    }
}

/// A daemon that accepts the request and answers `status` with `before` for the first
/// `polls` status requests, then with `after`.
fn moving_daemon(polls: usize, before: Status, after: Status) -> FakeDaemon {
    let seen = Arc::new(AtomicUsize::new(0));
    FakeDaemon::start(move |req, _| {
        if *req == Request::Status {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let status = if n < polls { &before } else { &after };
            Reply::Json(Response::Status(Box::new(status.clone())))
        } else {
            Reply::Json(Response::Done)
        }
    })
}

#[test]
fn wait_returns_once_the_groups_moved() {
    // Standby all on node1: first in transition, then node2 holds everything.
    let mut moving = cluster_status(true, RscStatus::Transition);
    moving.groups[0].state = GroupState::Stopping;
    let mut done = cluster_status(true, RscStatus::None);
    done.groups[0].holder = Some("node2".into());
    done.groups[0].state = GroupState::Stopped;
    let d = moving_daemon(3, moving, done);
    let r = run_in(STANDBY, d.run_dir(), &["--wait", "--wait-timeout", "30"]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "Standby [all] complete: node1 holds no group.\n",
            "Going standby [all].\n",
            0
        )
    );
    let reqs = d.requests();
    assert_eq!(
        reqs[0],
        Request::Standby {
            class: RequestClass::All
        }
    );
    assert_eq!(
        reqs.len(),
        5,
        "one request, then polls until the fourth status: {reqs:?}"
    );
    assert!(reqs[1..].iter().all(|r| *r == Request::Status));

    // Takeover failback (= all, as Heartbeat 3.0.6): node2's group arrives.
    let before = cluster_status(true, RscStatus::Local);
    let after = cluster_status(false, RscStatus::All);
    let d = moving_daemon(2, before, after);
    let r = run_in(TAKEOVER, d.run_dir(), &["failback", "--wait"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        (
            "Takeover [all] complete: node1 holds 192.0.2.100, 192.0.2.101.\n",
            0
        )
    );
    assert_eq!(d.requests().len(), 4);
}

#[test]
fn wait_times_out_saying_what_is_still_where() {
    let d = FakeDaemon::with_status(cluster_status(true, RscStatus::Local));
    let r = run_in(TAKEOVER, d.run_dir(), &["--wait", "--wait-timeout=0.2"]);
    assert_eq!((r.stdout.as_str(), r.code), ("", 1));
    assert_eq!(
        r.stderr,
        "hb_takeover: timed out after 0.2 s waiting for the takeover [all]: 192.0.2.101 is held by node2\n"
    );
    let r = run_in(
        STANDBY,
        d.run_dir(),
        &["local", "--wait", "--wait-timeout", "0.1"],
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "Going standby [local].\nhb_standby: timed out after 0.1 s waiting for the standby [local]: 192.0.2.100 is still held by node1\n"
    );
    assert!(d.requests().len() > 2);
}

#[test]
fn wait_stops_when_the_daemon_goes_away() {
    // Accepts the request, then answers status with an error as a stopping daemon would.
    let d = FakeDaemon::start(|req, _| {
        if *req == Request::Status {
            Reply::Json(Response::Refused("the daemon is stopping".into()))
        } else {
            Reply::Json(Response::Done)
        }
    });
    let r = run_in(TAKEOVER, d.run_dir(), &["--wait"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "hb_takeover: while waiting for the takeover [all]: the daemon is stopping\n"
    );
}
