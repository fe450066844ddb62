//! Writes the starting corpus of every fuzz target: `seeds OUT_DIR` fills `OUT_DIR/<target>/`.
//!
//! * `datagram`: the Heartbeat datagrams of the real captures (`shared/interop/captures`,
//!   found through `HB_SHARED_DIR` like the capture tests; read with hb-testdata's pcap
//!   reader): the first datagram of each kind (scenario, `t`, `st`, injected or not), every
//!   one that does not decode, and for some scenarios the peer's first datagrams in a row
//!   (joined by the target's separator).
//! * `hacf`, `haresources`, `authkeys`: every sample file under `etc/` (the tutorial's setup
//!   among them), and a few variants.
//! * `control`: each request of `docs/control.md`, replies, and the document's status object.
//! * `fifo`: what Debian's `hb_standby` and `hb_takeover` write into the command FIFO for
//!   each class, two messages in one write, and garbage, cut and oversized messages.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use hb_fuzz::{DATAGRAM_SEPARATOR, MAX_DATAGRAMS, TARGETS};
use hb_proto::{Message, MsgFmt};

fn main() {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: seeds OUT_DIR");
        std::process::exit(2);
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for t in TARGETS {
        fs::create_dir_all(out.join(t)).expect("create corpus directory");
    }
    let mut n = 0;
    let mut write = |target: &str, name: &str, data: &[u8]| {
        fs::write(out.join(target).join(name), data).expect("write seed");
        n += 1;
    };

    // Datagrams: two of our own (so the corpus is never empty), then the captures.
    // hb-testdata fails under CI=true when the captures are missing.
    let keys = hb_fuzz::capture_keys();
    let status = |seq: &str| {
        let mut m = Message::new()
            .with("t", "status")
            .with("st", "active")
            .with("dt", "bb8")
            .with("protocol", "1")
            .with("src", "node2");
        m.push_bin("srcuuid", [2u8; 16]);
        m.with("seq", seq)
            .with("hg", "c8")
            .with("ts", "6b49d200")
            .with("ld", "0.00 0.00 0.00 1/100 1")
            .with("ttl", "3")
    };
    write(
        "datagram",
        "own-status",
        &hb_proto::seal(&status("1"), &keys, MsgFmt::Classic),
    );
    write(
        "datagram",
        "own-status-run",
        &[
            hb_proto::seal(&status("1"), &keys, MsgFmt::Classic),
            hb_proto::seal(&status("2"), &keys, MsgFmt::Netstring),
        ]
        .join(DATAGRAM_SEPARATOR),
    );
    if let Some(shared) = hb_testdata::shared_dir() {
        let all = hb_testdata::all_datagrams(&shared);
        let mut kinds = BTreeSet::new();
        for d in &all {
            let kind = match hb_proto::decode(&d.payload) {
                Ok(dec) => Some((
                    d.scenario.clone(),
                    dec.msg.str("t").unwrap_or_default().to_owned(),
                    dec.msg.str("st").unwrap_or_default().to_owned(),
                    d.sent_by_real_daemon(),
                )),
                Err(_) => None,
            };
            if kind.is_none_or(|k| kinds.insert(k)) {
                write(
                    "datagram",
                    &format!("{}-{}", d.scenario, d.number),
                    &d.payload,
                );
            }
        }
        for scenario in ["A1", "A2", "A5", "C6", "D1", "E1", "L2"] {
            let run: Vec<&[u8]> = all
                .iter()
                .filter(|d| d.scenario == scenario && d.src.octets()[3] == 12)
                .take(MAX_DATAGRAMS)
                .map(|d| d.payload.as_slice())
                .collect();
            write(
                "datagram",
                &format!("{scenario}-node2-run"),
                &run.join(DATAGRAM_SEPARATOR),
            );
        }
    }

    // The target gets past authentication: say how many seed datagrams the core accepted.
    let (mut seeds, mut accepted) = (0, 0);
    for entry in fs::read_dir(out.join("datagram"))
        .expect("read corpus")
        .flatten()
    {
        let core = hb_fuzz::feed_core(&fs::read(entry.path()).expect("read seed"));
        seeds += 1;
        accepted += core.snapshot().counters.accepted;
    }
    eprintln!("seeds: the core accepts {accepted} datagrams of the {seeds} datagram seeds");
    assert!(
        accepted > 0,
        "no seed reaches the core: the datagram target is broken"
    );

    // Configuration files.
    for (target, file) in [
        ("hacf", "ha.cf"),
        ("haresources", "haresources"),
        ("authkeys", "authkeys"),
    ] {
        for path in sample_files(&root.join("etc"), file) {
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('/', "_");
            write(target, &name, &fs::read(&path).expect("read sample"));
        }
    }
    let authkeys: [&[u8]; 4] = [
        b"auth 2\n2 md5 othersecret\n",
        b"auth 3\n3 crc\n",
        b"auth 1\n1 sha1 labsecret\n2 md5 othersecret\n3 crc\n",
        b"# comment\n\nauth\t15\n15 SHA1 \x01\xfe\xff key with spaces\n",
    ];
    for (i, data) in authkeys.iter().enumerate() {
        write("authkeys", &format!("extra-{i}"), data);
    }
    for (i, text) in [
        "keepalive 500ms\ndeadtime 3\nwarntime 2s\ninitdead 10\nudpport 694\n\
         ucast eth0 192.0.2.12\nmcast eth0 225.0.0.1 694 1 0\nbcast eth0 eth1\n\
         auto_failback legacy\nnode node1 node2\nmsgfmt netstring\nhopfudge 2\n\
         agent_timeout 30s\nmonitor nginx interval=10s restarts=2 window=5min\n\
         control_group haclient\nocf_root /usr/lib/ocf\nuse_logd no\nlogfacility local0\n",
        "node node1\nnode node2\nbcast eth0\nkeepalive 2\ndeadtime 1\ncrm on\n",
    ]
    .iter()
    .enumerate()
    {
        write("hacf", &format!("extra-{i}"), text.as_bytes());
    }
    for (i, text) in [
        "node1 IPaddr::192.0.2.100/24/eth0/192.0.2.255 nginx::/etc/nginx/nginx.conf\n",
        "node2 192.0.2.101 ocf:heartbeat:IPaddr2::192.0.2.101 lsb:nginx\n",
        "node1 \\\n  IPaddr::192.0.2.100 # comment\nnode2 ipvs::192.0.2.101:80::rr::dr::192.0.2.11:80\n",
    ]
    .iter()
    .enumerate()
    {
        write("haresources", &format!("extra-{i}"), text.as_bytes());
    }

    // Control protocol: requests, replies, and the status object of docs/control.md.
    let lines = [
        r#"{"version":1,"command":"status"}"#,
        r#"{"version":1,"command":"standby","class":"local"}"#,
        r#"{"version":1,"command":"takeover","class":"failback"}"#,
        r#"{"version":1,"command":"takeover","class":null}"#,
        r#"{"version":1,"command":"cleanup","group":"192.0.2.100"}"#,
        r#"{"version":1,"command":"cleanup"}"#,
        r#"{"version":1,"command":"shutdown"}"#,
        r#"{"version":2,"command":"status"}"#,
        r#"{"version":1,"ok":true}"#,
        r#"{"version":1,"ok":false,"error":"no stable peer"}"#,
        r#"{"version":1,"ok":true,"cleared":["192.0.2.100"]}"#,
    ];
    for (i, line) in lines.iter().enumerate() {
        write(
            "control",
            &format!("line-{i}"),
            format!("{line}\n").as_bytes(),
        );
    }
    let doc = fs::read_to_string(root.join("docs/control.md")).expect("read docs/control.md");
    let mut in_json = false;
    let mut status = String::new();
    for line in doc.lines() {
        match line.trim() {
            "```json" => in_json = true,
            "```" => in_json = false,
            l if in_json => status.push_str(l),
            _ => {}
        }
    }
    if !status.is_empty() {
        write("control", "status-reply", format!("{status}\n").as_bytes());
    }
    // Command FIFO: what Debian's scripts write (ha_clustermsg), and worse.
    let mut fifo_seeds = Vec::new();
    for class in ["all", "local", "foreign", "failback"] {
        let standby = format!(">>>\nt=ask_resources\nrsc_hold={class}\ninfo=me\n<<<\n");
        let takeover = format!(">>>\nt=hb_takeover\nrsc_hold={class}\n<<<\n");
        fifo_seeds.push(format!("{standby}{takeover}").into_bytes());
        fifo_seeds.push(standby.into_bytes());
        fifo_seeds.push(takeover.into_bytes());
    }
    fifo_seeds.push(b"junk\n\n>>>\nt=status\nst=active\n<<<\n<<<\n".to_vec());
    fifo_seeds.push(b">>>\nt=ask_resources\n>>>\nt=hb_takeover\n<<<\n".to_vec());
    fifo_seeds.push(b">>>\nnoequals\n<<<\n>>>\n(2)n=>>>\x14t=x\x14<<<\x14\n<<<\n".to_vec());
    let mut big = b">>>\nt=hb_takeover\npad=".to_vec();
    big.extend(std::iter::repeat_n(b'x', hb_control::MAX_FIFO_MESSAGE));
    big.extend_from_slice(b"\n<<<\n>>>\nt=hb_takeover\n<<<\n");
    fifo_seeds.push(big);
    for (i, seed) in fifo_seeds.iter().enumerate() {
        write("fifo", &format!("fifo-{i}"), seed);
    }
    eprintln!("seeds: {n} files written to {}", out.display());
}

/// Files named `name` under `dir`, sorted.
fn sample_files(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == name) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}
