//! `hb_cleanup` against a fake daemon.

mod common;

use common::*;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_hb_cleanup");

fn clearing_daemon() -> FakeDaemon {
    FakeDaemon::start(|req, _| match req.get("group").and_then(|g| g.as_str()) {
        None => Reply::Json(json!({"version": 1, "ok": true,
                                   "cleared": ["192.0.2.100", "192.0.2.101"]})),
        Some("nosuch") => Reply::Json(json!({"version": 1, "ok": false,
                                             "error": "no group \"nosuch\""})),
        Some("clean") => Reply::Json(json!({"version": 1, "ok": true, "cleared": []})),
        Some(g) => Reply::Json(json!({"version": 1, "ok": true, "cleared": [g]})),
    })
}

#[test]
fn no_group_clears_every_group() {
    let d = clearing_daemon();
    let r = run_in(BIN, d.run_dir(), &[]);
    assert_eq!(
        (r.stdout.as_str(), r.stderr.as_str(), r.code),
        (
            "Cleared the failures of group 192.0.2.100.\nCleared the failures of group 192.0.2.101.\n",
            "",
            0
        )
    );
    assert_eq!(
        d.requests(),
        vec![json!({"version": 1, "command": "cleanup"})]
    );
}

#[test]
fn each_named_group_is_one_request_and_errors_do_not_stop_the_rest() {
    let d = clearing_daemon();
    let r = run_in(BIN, d.run_dir(), &["192.0.2.100", "nosuch", "clean"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stdout,
        "Cleared the failures of group 192.0.2.100.\nNothing to clear for group clean.\n"
    );
    assert_eq!(r.stderr, "hb_cleanup: group nosuch: no group \"nosuch\"\n");
    assert_eq!(
        d.requests(),
        vec![
            json!({"version": 1, "command": "cleanup", "group": "192.0.2.100"}),
            json!({"version": 1, "command": "cleanup", "group": "nosuch"}),
            json!({"version": 1, "command": "cleanup", "group": "clean"}),
        ]
    );
}

#[test]
fn bad_options_and_a_stopped_daemon() {
    let d = clearing_daemon();
    let r = run_in(BIN, d.run_dir(), &["-x"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("hb_cleanup: unknown option -x\nusage: hb_cleanup")
    );
    let r = run_in(BIN, d.run_dir(), &["--", "-odd-key"]);
    assert_eq!(
        (r.stdout.as_str(), r.code),
        ("Cleared the failures of group -odd-key.\n", 0)
    );
    let r = run_in(BIN, d.run_dir(), &["--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("usage: hb_cleanup"));
    assert_eq!(d.requests().len(), 1);

    let dir = no_daemon();
    let r = run_in(BIN, dir.path(), &["a", "b"]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("hb_cleanup: Heartbeat is not running on this machine")
    );
}
