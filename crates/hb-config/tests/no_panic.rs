//! The parsers return diagnostics, never panic, whatever the input.

use std::path::{Path, PathBuf};

use hb_config::{AgentSearch, parse_authkeys_bytes, parse_ha_cf, parse_haresources};
use proptest::prelude::*;

/// Directive names and value-like words, to reach the handlers rather than only the
/// "unknown directive" path.
const WORDS: &[&str] = &[
    "node",
    "keepalive",
    "deadtime",
    "warntime",
    "initdead",
    "udpport",
    "bcast",
    "ucast",
    "mcast",
    "udp",
    "auto_failback",
    "nice_failback",
    "msgfmt",
    "max_rexmit_delay",
    "hopfudge",
    "debug",
    "logfile",
    "logfacility",
    "use_logd",
    "hbgenmethod",
    "uuidfrom",
    "realtime",
    "crm",
    "pacemaker",
    "autojoin",
    "agent_timeout",
    "apiauth",
    "watchdog",
    "baud",
    "respawn",
    "auth",
    "crc",
    "md5",
    "sha1",
    "IPaddr",
    "node1",
    "eth0",
    "239.0.0.1",
    "10.0.0.5/24",
    "::",
    "\\",
    "#",
    "0",
    "1",
    "15",
    "16",
    "694",
    "65536",
    "0.5",
    "500ms",
    "1us",
    "on",
    "legacy",
    "uid=x",
    "99999999999999999999",
    ".",
    ",",
    "\t",
    "é",
    "\u{0}",
];

fn wordy() -> impl Strategy<Value = String> {
    let word = prop::sample::select(WORDS);
    let line = prop::collection::vec(word, 0..7).prop_map(|w| w.join(" "));
    prop::collection::vec(line, 0..12).prop_map(|l| l.join("\n"))
}

fn agents() -> AgentSearch {
    AgentSearch::new(
        vec![PathBuf::from("/nonexistent/hb-config-no-panic")],
        false,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn ha_cf_never_panics(text in "(?s).{0,400}", words in wordy()) {
        let _ = parse_ha_cf(&text, Path::new("ha.cf"));
        let _ = parse_ha_cf(&words, Path::new("ha.cf"));
    }

    #[test]
    fn haresources_never_panics(text in "(?s).{0,400}", words in wordy()) {
        let nodes: Vec<hb_config::NodeName> = ["node1", "eth0"].iter().filter_map(|n| hb_config::NodeName::parse(n)).collect();
        let _ = parse_haresources(&text, Path::new("haresources"), &nodes, &agents());
        let _ = parse_haresources(&words, Path::new("haresources"), &nodes, &agents());
    }

    #[test]
    fn authkeys_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), words in wordy()) {
        let _ = parse_authkeys_bytes(&bytes, Path::new("authkeys"));
        let _ = parse_authkeys_bytes(words.as_bytes(), Path::new("authkeys"));
    }

    /// Whatever the text, a successful parse upholds the documented invariants.
    #[test]
    fn parsed_ha_cf_upholds_invariants(extra in wordy()) {
        let text = format!("bcast eth0\nnode node1\n{extra}");
        if let Ok(p) = parse_ha_cf(&text, Path::new("ha.cf")) {
            let h = p.value;
            prop_assert!(!h.media.is_empty());
            prop_assert!(!h.nodes.is_empty());
            prop_assert!(h.timing.deadtime() > h.timing.keepalive() * 2);
            prop_assert!(h.timing.initdead() >= h.timing.deadtime());
            prop_assert!(h.nodes.iter().all(|n| *n == n.to_ascii_lowercase()));
            prop_assert!(h.media.iter().all(|m| m.port() != 0 && !m.dev().is_empty()));
        }
    }
}
