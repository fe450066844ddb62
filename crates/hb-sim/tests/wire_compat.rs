//! Everything heartbeat-rs sends must parse and verify with the independent decoder of the
//! shared captures (`hbdecode.py`, written from the wire spec): wire test 22 of the spec.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use hb_core::{AgentOp, AutoFailback, Class, Command};
use hb_sim::{Params, Sim};

/// Drives two nodes through start-up, standby and takeover, a cut and heal, a start failure,
/// a crash and restart and a graceful stop, recording every datagram.
fn traffic(mode: AutoFailback) -> Vec<(usize, Vec<u8>)> {
    let ms = Duration::from_millis;
    let mut sim = Sim::new(Params::two_nodes(mode, 5));
    sim.capture = Some(Vec::new());
    sim.run_for(ms(1500));
    sim.command(0, Command::Standby(Class::All));
    sim.run_for(ms(1000));
    sim.command(0, Command::Takeover(Class::Local));
    sim.run_for(ms(1000));
    sim.cut(1);
    sim.run_for(ms(1000));
    sim.heal(1);
    sim.run_for(ms(1000));
    sim.set_loss(300, 100);
    sim.run_for(ms(1000));
    sim.set_loss(0, 0);
    sim.crash(0);
    sim.run_for(ms(800));
    sim.fail_agent(0, 1, 0, AgentOp::Start);
    sim.restart(0);
    sim.run_for(ms(2000));
    sim.shutdown(1);
    sim.run_for(ms(2000));
    sim.capture.take().unwrap_or_default()
}

#[test]
fn every_datagram_we_send_verifies_with_the_independent_decoder() {
    let Some(shared) = hb_testdata::shared_dir() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut kinds = BTreeSet::new();
    for mode in [AutoFailback::On, AutoFailback::Off, AutoFailback::Legacy] {
        let sent = traffic(mode);
        let frames: Vec<(Ipv4Addr, Vec<u8>)> = sent
            .iter()
            .map(|(n, d)| (Ipv4Addr::new(192, 0, 2, 11 + *n as u8), d.clone()))
            .collect();
        let pcap = dir.path().join(format!("{mode:?}.pcap"));
        hb_testdata::write_pcap(&pcap, &frames).unwrap();
        let lines = hb_testdata::hbdecode_brief(&shared, &pcap, "1 sha1 simsecret").unwrap();
        let packets: Vec<&String> = lines.iter().filter(|l| l.starts_with('#')).collect();
        assert_eq!(
            packets.len(),
            frames.len(),
            "{mode:?}: hbdecode.py saw a different number of datagrams"
        );
        for line in &packets {
            assert!(
                line.ends_with("OK | OK"),
                "{mode:?}: hbdecode.py did not verify both signatures: {line}"
            );
            if let Some(t) = line.split_whitespace().find_map(|w| w.strip_prefix("t=")) {
                kinds.insert(t.to_string());
            }
        }
    }
    for t in [
        "status",
        "NS_ackmsg",
        "NS_rexmit",
        "reqnodes",
        "repnodes",
        "starting",
        "resource",
        "ask_resources",
        "hb_takeover",
        "ip-request",
        "ip-request-resp",
        "shutdone",
        "stonith",
    ] {
        assert!(
            kinds.contains(t),
            "no {t} message was exercised (saw {kinds:?})"
        );
    }
}
