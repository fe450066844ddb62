//! Loads every sample configuration under the repository's `etc/` and checks what it means.
//!
//! A sample directory is any directory under `etc/` holding an `ha.cf`; each one must have a
//! checker in [`SAMPLES`], so adding a sample without covering it here fails.

use std::collections::BTreeSet;
use std::fs;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hb_config::{AuthMethod, AutoFailback, Config, LoadOptions, Loaded, Medium, MsgFmt, load};

fn etc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../etc")
}

/// Every directory under `etc/` that holds an `ha.cf`, relative to `etc/` ("" for `etc/`).
fn sample_dirs() -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        if dir.join("ha.cf").is_file() {
            let rel = dir.strip_prefix(root).unwrap_or(dir);
            out.insert(rel.display().to_string());
        }
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        entries.sort();
        for e in entries {
            walk(&e, root, out);
        }
    }
    let root = etc();
    let mut out = BTreeSet::new();
    walk(&root, &root, &mut out);
    out
}

/// Copies a sample to a temporary directory (authkeys mode 600) and loads it as `node`, with
/// stub agents so the result does not depend on this machine's /etc/init.d.
fn load_sample(rel: &str, node: &str) -> Loaded {
    let src = etc().join(rel);
    let dir = tempfile::tempdir().unwrap();
    for name in ["ha.cf", "haresources", "authkeys"] {
        fs::copy(src.join(name), dir.path().join(name))
            .unwrap_or_else(|e| panic!("{rel}/{name}: {e}"));
    }
    fs::set_permissions(
        dir.path().join("authkeys"),
        fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let agents = tempfile::tempdir().unwrap();
    for name in ["IPaddr", "IPaddr2", "nginx", "Filesystem", "ipvs"] {
        let p = agents.path().join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let opts = LoadOptions {
        node_name: node.to_owned(),
        agent_path: vec![agents.path().to_path_buf()],
        check_permissions: false,
    };
    let mut loaded = load(dir.path(), &opts).unwrap_or_else(|e| panic!("etc/{rel}:\n{e}"));
    // Make resolved paths independent of the temporary directory.
    for g in &mut loaded.config.haresources.groups {
        for r in &mut g.resources {
            r.path = r.path.strip_prefix(agents.path()).unwrap().to_path_buf();
        }
    }
    loaded.warnings.iter_mut().for_each(|w| {
        w.file = w.file.strip_prefix(dir.path()).unwrap().to_path_buf();
    });
    loaded
}

/// A group as `(node, key, [(agent, args)])`.
type GroupSummary = (String, String, Vec<(String, Vec<String>)>);

fn groups(c: &Config) -> Vec<GroupSummary> {
    c.haresources
        .groups
        .iter()
        .map(|g| {
            (
                g.node.clone(),
                g.key.clone(),
                g.resources
                    .iter()
                    .map(|r| (r.agent.clone(), r.args.clone()))
                    .collect(),
            )
        })
        .collect()
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn check_main(rel: &str) {
    for node in ["node1", "node2"] {
        let loaded = load_sample(rel, node);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config;
        let h = &c.ha_cf;
        assert_eq!(h.timing.keepalive(), Duration::from_millis(100));
        assert_eq!(h.timing.deadtime(), Duration::from_secs(1));
        assert_eq!(h.timing.warntime(), Duration::from_millis(500));
        assert_eq!(h.timing.initdead(), Duration::from_secs(10));
        assert_eq!(h.udpport, 694);
        assert_eq!(
            h.media,
            vec![Medium::Bcast {
                dev: "eth0".into(),
                port: 694
            }]
        );
        assert_eq!(h.nodes, strs(&["node1", "node2"]));
        assert_eq!(h.auto_failback, AutoFailback::On);
        assert_eq!(h.agent_timeout, Duration::from_secs(30));
        assert_eq!(h.logfacility.as_deref(), Some("daemon"));
        assert!(h.realtime);
        assert_eq!(
            groups(c),
            vec![(
                "node1".to_owned(),
                "IPaddr::192.0.2.100/24/eth0".to_owned(),
                vec![
                    ("IPaddr".to_owned(), strs(&["192.0.2.100/24/eth0"])),
                    ("nginx".to_owned(), vec![]),
                ]
            )]
        );
        assert_eq!(
            c.haresources.groups[0].resources[1].path,
            PathBuf::from("nginx")
        );
        assert_eq!(c.keys.sign_index(), 1);
        assert_eq!(c.keys.method(1), Some(AuthMethod::Sha1));
    }
}

fn check_tutorial(rel: &str) {
    let loaded = load_sample(rel, "www.centos1.com");
    let c = &loaded.config;
    assert_eq!(c.ha_cf.nodes, strs(&["www.centos1.com", "www.centos2.com"]));
    assert_eq!(
        c.ha_cf.media,
        vec![Medium::Bcast {
            dev: "eth0".into(),
            port: 694
        }]
    );
    assert_eq!(c.ha_cf.auto_failback, AutoFailback::Legacy);
    assert_eq!(c.ha_cf.timing.deadtime(), Duration::from_secs(30));
    assert_eq!(
        groups(c),
        vec![(
            "www.centos1.com".to_owned(),
            "IPaddr::10.10.10.100/24/eth0:0".to_owned(),
            vec![("IPaddr".to_owned(), strs(&["10.10.10.100/24/eth0:0"]))]
        )]
    );
    assert_eq!(c.keys.method(1), Some(AuthMethod::Md5));
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        vec![
            "ha.cf: auto_failback is not set: using 'legacy' (deprecated); set 'auto_failback \
             on' or 'auto_failback off'"
        ]
    );
    load_sample(rel, "www.centos2.com");
}

fn check_ucast(rel: &str) {
    for node in ["node1", "node2"] {
        let loaded = load_sample(rel, node);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config;
        assert_eq!(
            c.ha_cf.media,
            vec![
                Medium::Ucast {
                    dev: "eth1".into(),
                    peer: "192.0.2.11".into(),
                    port: 694
                },
                Medium::Ucast {
                    dev: "eth1".into(),
                    peer: "192.0.2.12".into(),
                    port: 694
                },
                Medium::Bcast {
                    dev: "eth0".into(),
                    port: 694
                },
            ]
        );
        assert_eq!(c.ha_cf.timing.keepalive(), Duration::from_millis(200));
        assert_eq!(c.ha_cf.timing.deadtime(), Duration::from_secs(2));
        assert_eq!(c.ha_cf.timing.warntime(), Duration::from_secs(1));
        assert_eq!(c.ha_cf.timing.initdead(), Duration::from_secs(15));
        assert_eq!(c.ha_cf.auto_failback, AutoFailback::Off);
        assert_eq!(
            groups(c),
            vec![(
                "node1".to_owned(),
                "IPaddr2::192.0.2.100/24/eth0".to_owned(),
                vec![
                    ("IPaddr2".to_owned(), strs(&["192.0.2.100/24/eth0"])),
                    ("nginx".to_owned(), vec![]),
                ]
            )]
        );
        assert_eq!(c.haresources.groups[0].resources[1].line, 3);
        assert_eq!(c.keys.sign_index(), 2);
        assert_eq!(c.keys.method(1), Some(AuthMethod::Sha1));
        assert_eq!(c.keys.method(2), Some(AuthMethod::Sha1));
    }
}

fn check_mcast(rel: &str) {
    for node in ["node1", "node2"] {
        let loaded = load_sample(rel, node);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config;
        assert_eq!(
            c.ha_cf.media,
            vec![Medium::Mcast {
                dev: "eth0".into(),
                group: Ipv4Addr::new(239, 192, 0, 1),
                port: 694,
                ttl: 1,
                looped: false
            }]
        );
        assert_eq!(c.ha_cf.timing.initdead(), Duration::from_secs(30));
        assert_eq!(c.ha_cf.msgfmt, MsgFmt::Netstring);
        assert_eq!(c.ha_cf.logfile, Some(PathBuf::from("/var/log/ha-log")));
        assert_eq!(
            groups(c),
            vec![
                (
                    "node1".to_owned(),
                    "192.0.2.100".to_owned(),
                    vec![
                        ("IPaddr".to_owned(), strs(&["192.0.2.100"])),
                        ("nginx".to_owned(), vec![]),
                    ]
                ),
                (
                    "node2".to_owned(),
                    "IPaddr::192.0.2.101/24/eth0".to_owned(),
                    vec![("IPaddr".to_owned(), strs(&["192.0.2.101/24/eth0"]))]
                ),
            ]
        );
        assert_eq!(c.keys.sign_index(), 3);
        assert_eq!(c.keys.method(3), Some(AuthMethod::Md5));
    }
}

fn check_lvs_dr(rel: &str) {
    for node in ["node1", "node2"] {
        let loaded = load_sample(rel, node);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = &loaded.config;
        assert_eq!(
            c.ha_cf.media,
            vec![Medium::Bcast {
                dev: "eth0".into(),
                port: 694
            }]
        );
        assert_eq!(c.ha_cf.timing.keepalive(), Duration::from_secs(1));
        assert_eq!(c.ha_cf.timing.deadtime(), Duration::from_secs(10));
        assert_eq!(c.ha_cf.auto_failback, AutoFailback::On);
        assert_eq!(
            groups(c),
            vec![(
                "node1".to_owned(),
                "IPaddr::192.0.2.100/24/eth0".to_owned(),
                vec![
                    ("IPaddr".to_owned(), strs(&["192.0.2.100/24/eth0"])),
                    (
                        "ipvs".to_owned(),
                        strs(&[
                            "192.0.2.100:80",
                            "rr",
                            "dr",
                            "192.0.2.11:80,192.0.2.12:80",
                            "check=http"
                        ])
                    ),
                ]
            )]
        );
        assert_eq!(c.keys.method(1), Some(AuthMethod::Sha1));
    }
}

/// Checks one sample directory (given relative to `etc/`).
type Checker = fn(&str);

/// Each sample directory (relative to `etc/`) and its checker.
const SAMPLES: &[(&str, Checker)] = &[
    ("", check_main),
    ("tutorial", check_tutorial),
    ("examples/ucast", check_ucast),
    ("examples/mcast", check_mcast),
    ("examples/lvs-dr", check_lvs_dr),
];

#[test]
fn every_sample_under_etc_loads_and_means_what_it_says() {
    let covered: BTreeSet<String> = SAMPLES.iter().map(|(d, _)| (*d).to_owned()).collect();
    let found = sample_dirs();
    assert_eq!(
        found, covered,
        "sample directories under etc/ and the checkers in tests/samples.rs differ"
    );
    for (rel, check) in SAMPLES {
        check(rel);
    }
}

#[test]
fn tutorial_files_are_the_tutorial_verbatim() {
    let t = etc().join("tutorial");
    assert_eq!(
        fs::read_to_string(t.join("ha.cf")).unwrap(),
        "bcast eth0\n#一主一备节点,需要注意能够被两台主机之间解析\nnode www.centos1.com\nnode www.centos2.com\n"
    );
    assert_eq!(
        fs::read_to_string(t.join("haresources")).unwrap(),
        "www.centos1.com IPaddr::10.10.10.100/24/eth0:0\n"
    );
    assert_eq!(
        fs::read_to_string(t.join("authkeys")).unwrap(),
        "auth 1\n1 md5 3530ba6f2c7d15fb93dc5b438c22f4a7\n"
    );
}
