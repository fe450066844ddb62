//! The status the daemon really builds, read by the tools: two real cores (hb-core) run a
//! small cluster in simulated time, the daemon's builder makes node1's status object, it
//! crosses the protocol as a reply line, and `cl_status`'s renderer answers from what it
//! decoded.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use hb_control::{GroupState, NodeStatus, Request, RequestClass, Response, RscStatus};
use hb_core::{Action, AgentOp, AgentResult, Boot, Core};

use super::*;
use crate::convert;

const HA_CF: &str = "\
keepalive 100ms
deadtime 1
warntime 500ms
initdead 2
udpport 694
bcast eth0
auto_failback on
node node1
node node2
";

const HARESOURCES: &str = "\
node1 IPaddr::192.0.2.100/24/eth0
node2 IPaddr::192.0.2.101/24/eth0
";

/// The repository's agents (IPaddr), so the configuration loads as the daemon loads it.
fn agents_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../resource-agents")
}

fn config(dir: &Path, node: &str) -> Config {
    std::fs::write(dir.join("ha.cf"), HA_CF).unwrap();
    std::fs::write(dir.join("haresources"), HARESOURCES).unwrap();
    std::fs::write(dir.join("authkeys"), "auth 1\n1 sha1 secret\n").unwrap();
    std::fs::set_permissions(dir.join("authkeys"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let opts = hb_config::LoadOptions {
        node_name: node.to_owned(),
        agent_path: vec![agents_dir()],
        check_permissions: false,
    };
    hb_config::load(dir, &opts)
        .unwrap_or_else(|e| panic!("{e}"))
        .config
}

fn boot(seed: u64) -> Boot {
    Boot {
        generation: 1,
        uuid: [u8::try_from(seed).unwrap(); 16],
        wall_clock_secs: 1_800_000_000,
        seed,
        peers: hb_core::RememberedPeers::new(),
    }
}

/// Runs both cores until `end`, delivering every datagram at once to the other node and
/// answering every agent run at once: starts and stops succeed, probes and monitors see
/// what was started.
fn run(cores: &mut [Core; 2], end: Instant) {
    let mut running: [BTreeSet<(usize, usize)>; 2] = Default::default();
    let mut now = Instant::from_nanos(0);
    loop {
        let mut busy = true;
        while busy {
            busy = false;
            for i in 0..2 {
                while let Some(action) = cores[i].poll_action() {
                    busy = true;
                    match action {
                        Action::Transmit(bytes) => cores[1 - i].handle_datagram(now, 0, &bytes),
                        Action::RememberPeers(_)
                        | Action::Ping(_)
                        | Action::PetWatchdog
                        | Action::Fence { .. }
                        | Action::UseGroups(_) => {}
                        Action::RunAgent {
                            id,
                            group,
                            resource,
                            op,
                        } => {
                            let here = &mut running[i];
                            let result = match op {
                                AgentOp::Start => {
                                    here.insert((group, resource));
                                    AgentResult::Success
                                }
                                AgentOp::Stop => {
                                    here.remove(&(group, resource));
                                    AgentResult::Success
                                }
                                AgentOp::Status | AgentOp::Monitor => {
                                    if here.contains(&(group, resource)) {
                                        AgentResult::Running
                                    } else {
                                        AgentResult::NotRunning
                                    }
                                }
                            };
                            cores[i].handle_agent_done(now, id, result);
                        }
                    }
                }
            }
        }
        let Some(next) = cores.iter().filter_map(Core::poll_timeout).min() else {
            return;
        };
        if next > end {
            return;
        }
        now = next;
        for core in cores.iter_mut() {
            if core.poll_timeout().is_some_and(|t| t <= now) {
                core.handle_timeout(now);
            }
        }
    }
}

/// node1's status after ten simulated seconds, built by the daemon's builder and sent as a
/// reply line, and what a client decodes from that line.
fn node1_status() -> (Status, Status) {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let configs = [
        config(dirs[0].path(), "node1"),
        config(dirs[1].path(), "node2"),
    ];
    let mut cores = [0, 1].map(|i| {
        let name = ["node1", "node2"][i];
        let converted = convert::core_config(&configs[i], name).unwrap();
        Core::new(converted.core, boot(i as u64 + 1), Instant::from_nanos(0)).unwrap()
    });
    run(&mut cores, Instant::from_millis(10_000));

    let config = &configs[0];
    let resources = agents::Resource::table(config);
    let wall = WallClock::new(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let info = StatusInfo::new("node1", config);
    let built = status(&info, &cores[0].snapshot(), &wall, &resources);
    let line = Response::Status(Box::new(built.clone())).encode().unwrap();
    assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
    let decoded: Status = hb_control::decode_reply(line.trim_end().as_bytes()).unwrap();
    (built, decoded)
}

fn cl_status(status: &Status, args: &[&str]) -> (String, String, u8) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let out = hb_tools::cl_status::render(&args, status);
    (out.stdout, out.stderr, out.code)
}

#[test]
fn the_real_status_crosses_the_wire_unchanged() {
    let (built, decoded) = node1_status();
    assert_eq!(decoded, built);
    assert_eq!(decoded.rscstatus, Some(RscStatus::Local));
    assert_eq!(decoded.nodes[1].status, NodeStatus::Active);
    assert_eq!(decoded.groups[0].state, GroupState::Running);
    assert_eq!(decoded.groups[0].holder.as_deref(), Some("node1"));
    assert_eq!(decoded.groups[1].holder.as_deref(), Some("node2"));
    let r = &decoded.groups[0].resources[0];
    assert_eq!(
        (
            r.agent.as_deref(),
            r.class.as_ref().map(ResourceClass::as_str)
        ),
        (Some("IPaddr"), Some("heartbeat"))
    );
    // Every directive the table records reaches the parameters, with Heartbeat's value.
    for (name, value) in [
        ("deadtime", "1"),
        ("keepalive", "100ms"),
        ("cluster", "linux-ha"),
        ("deadping", "1000ms"),
        ("memreserve", "6500"),
    ] {
        assert_eq!(
            decoded.parameters.get(name).map(String::as_str),
            Some(value),
            "{name}"
        );
    }
    assert!(!decoded.parameters.contains_key("watchdog"));
}

#[test]
fn cl_status_answers_from_the_daemons_real_status() {
    let (_, status) = node1_status();
    assert_eq!(
        cl_status(&status, &["rscstatus"]),
        ("local\n".into(), String::new(), 0)
    );
    assert_eq!(
        cl_status(&status, &["rscstatus", "-m"]).0,
        "This node is holding local resources.\n"
    );
    assert_eq!(cl_status(&status, &["listnodes"]).0, "node2\nnode1\n");
    assert_eq!(
        cl_status(&status, &["listnodes", "-v"]).0,
        "\nnode2\tactive\t(nodetype: normal)\n\teth0\tup\n\
         \nnode1\tactive\t(nodetype: normal)\n\teth0\tup\n"
    );
    assert_eq!(
        cl_status(&status, &["nodestatus", "node2"]),
        ("active\n".into(), String::new(), 0)
    );
    assert_eq!(
        cl_status(&status, &["hblinkstatus", "node2", "eth0"]).0,
        "up\n"
    );
    assert_eq!(
        cl_status(&status, &["hbparameter", "-p", "deadtime"]).0,
        "1\n"
    );
    assert_eq!(
        cl_status(&status, &["hbparameter", "-m", "-p", "cluster"]).0,
        "Heartbeat parameter cluster's value: linux-ha\n"
    );
    assert_eq!(
        cl_status(&status, &["hbparameter", "-p", "hbversion"]).0,
        format!("{}\n", hbversion())
    );
    let (out, err, code) = cl_status(&status, &["hbparameter", "-p", "watchdog"]);
    assert_eq!((out.as_str(), code), ("", 1));
    assert!(err.contains(" node1 cl_status: ["), "{err}");
    assert!(
        err.contains("ERROR: Cannot get parameter watchdog's value\n"),
        "{err}"
    );
    assert_eq!(
        cl_status(&status, &["test"]).0,
        "Dead time: 1000\n keeplive time: 100\n mynodeid: node1\n rsc: local\n"
    );
    let (summary, _, code) = cl_status(&status, &["status"]);
    assert_eq!(code, 0);
    assert!(
        summary.starts_with(&format!(
            "Node node1: {}, resources from haresources (rscstatus local), this node holds IPaddr::192.0.2.100/24/eth0\n",
            hbversion()
        )),
        "{summary}"
    );
}

#[test]
fn requested_classes_become_the_cores() {
    assert_eq!(core_class(RequestClass::All), Class::All);
    assert_eq!(core_class(RequestClass::Local), Class::Local);
    assert_eq!(core_class(RequestClass::Foreign), Class::Foreign);
    let r = hb_control::decode_request(r#"{"version":1,"command":"standby","class":"failback"}"#);
    assert_eq!(
        r.unwrap(),
        Request::Standby {
            class: RequestClass::Foreign
        }
    );
}

#[test]
fn replies_are_one_line_of_the_documented_shape() {
    let v = |r: Response| serde_json::from_str::<serde_json::Value>(&r.encode().unwrap()).unwrap();
    assert_eq!(
        v(reply(Ok(vec![]))),
        serde_json::json!({"version": 1, "ok": true})
    );
    assert_eq!(
        v(reply(Err("no stable peer".into()))),
        serde_json::json!({"version": 1, "ok": false, "error": "no stable peer"})
    );
    assert_eq!(
        v(cleanup_reply(Ok(vec!["g".into()]))),
        serde_json::json!({"version": 1, "ok": true, "cleared": ["g"]})
    );
}
