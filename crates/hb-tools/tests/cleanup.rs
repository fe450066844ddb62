//! `hb_cleanup` against a fake daemon.

mod common;

use common::*;
use hb_control::{Request, Response};

const BIN: &str = env!("CARGO_BIN_EXE_hb_cleanup");

fn clearing_daemon() -> FakeDaemon {
    FakeDaemon::start(|req, _| {
        let Request::Cleanup { group } = req else {
            return Reply::Json(Response::Refused(format!("not a cleanup: {req:?}")));
        };
        Reply::Json(match group.as_deref() {
            None => Response::Cleared(vec!["192.0.2.100".into(), "192.0.2.101".into()]),
            Some("nosuch") => Response::Refused("no group \"nosuch\"".into()),
            Some("clean") => Response::Cleared(vec![]),
            Some(g) => Response::Cleared(vec![g.to_owned()]),
        })
    })
}

fn cleanup(group: &str) -> Request {
    Request::Cleanup {
        group: Some(group.to_owned()),
    }
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
    assert_eq!(d.requests(), vec![Request::Cleanup { group: None }]);
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
        vec![cleanup("192.0.2.100"), cleanup("nosuch"), cleanup("clean"),]
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
