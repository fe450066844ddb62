use std::fs;
use std::os::unix::fs::PermissionsExt;

use super::*;

/// A directory of executable stub agents.
struct Agents {
    dir: tempfile::TempDir,
}

impl Agents {
    fn new(names: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            let p = dir.path().join(name);
            fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        Agents { dir }
    }

    fn search(&self) -> AgentSearch {
        AgentSearch::new(vec![self.dir.path().to_path_buf()], false)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn nodes() -> Vec<crate::NodeName> {
    ["node1", "node2", "www.centos1.com"]
        .iter()
        .filter_map(|n| crate::NodeName::parse(n))
        .collect()
}

fn parse(text: &str, agents: &Agents) -> Result<Parsed<Haresources>, ConfigErrors> {
    parse_haresources(text, Path::new("haresources"), &nodes(), &agents.search())
}

fn errors(text: &str, agents: &Agents) -> Vec<String> {
    match parse(text, agents) {
        Ok(p) => panic!("expected errors, parsed {:?}", p.value),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn tutorial_haresources_loads() {
    let agents = Agents::new(&["IPaddr"]);
    let parsed = parse("www.centos1.com IPaddr::10.10.10.100/24/eth0:0\n", &agents).unwrap();
    assert!(parsed.warnings.is_empty());
    assert_eq!(
        parsed.value.groups,
        vec![GroupSpec {
            node: "www.centos1.com".into(),
            key: "IPaddr::10.10.10.100/24/eth0:0".into(),
            resources: vec![ResourceSpec {
                text: "IPaddr::10.10.10.100/24/eth0:0".into(),
                agent: "IPaddr".into(),
                args: vec!["10.10.10.100/24/eth0:0".into()],
                params: vec![],
                class: AgentClass::Heartbeat,
                path: agents.path("IPaddr"),
                line: 1,
            }],
            line: 1,
        }]
    );
}

#[test]
fn groups_resources_arguments_and_shorthand() {
    let agents = Agents::new(&["IPaddr", "IPaddr2", "Filesystem", "nginx"]);
    let text = "\
# comment line
NODE1   10.0.0.5 Filesystem::/dev/sda1::/data1::ext2\tnginx   # trailing comment

node2 IPaddr2::192.0.2.101/24/eth0 10.0.0.6/24/eth0
";
    let groups = parse(text, &agents).unwrap().value.groups;
    assert_eq!(groups.len(), 2);
    let g = &groups[0];
    assert_eq!(
        (g.node.as_str(), g.key.as_str(), g.line),
        ("node1", "10.0.0.5", 2)
    );
    let summary: Vec<(&str, Vec<&str>)> = g
        .resources
        .iter()
        .map(|r| {
            (
                r.agent.as_str(),
                r.args.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("IPaddr", vec!["10.0.0.5"]),
            ("Filesystem", vec!["/dev/sda1", "/data1", "ext2"]),
            ("nginx", vec![]),
        ]
    );
    assert_eq!(g.resources[0].text, "10.0.0.5");
    assert_eq!(g.resources[2].path, agents.path("nginx"));
    let g = &groups[1];
    assert_eq!((g.node.as_str(), g.line), ("node2", 4));
    assert_eq!(g.resources[1].agent, "IPaddr");
    assert_eq!(g.resources[1].args, vec!["10.0.0.6/24/eth0"]);
}

#[test]
fn backslash_continues_a_group_and_lines_are_tracked() {
    let agents = Agents::new(&["IPaddr", "nginx", "mysql"]);
    let text =
        "\n\nnode1 IPaddr::192.0.2.100 \\\n   nginx \\\n   mysql\nnode2 IPaddr::192.0.2.101\n";
    let groups = parse(text, &agents).unwrap().value.groups;
    assert_eq!(groups.len(), 2);
    assert_eq!(groups[0].line, 3);
    let lines: Vec<usize> = groups[0].resources.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![3, 4, 5]);
    assert_eq!(groups[1].line, 6);
    // A backslash joins without inserting a blank, as ResourceManager's sed does.
    let groups = parse("node1 ngi\\\nnx\n", &agents).unwrap().value.groups;
    assert_eq!(groups[0].resources[0].agent, "nginx");
    assert_eq!(groups[0].resources[0].line, 1);
}

#[test]
fn empty_arguments_are_dropped_like_shell_words() {
    let agents = Agents::new(&["Delay"]);
    let groups = parse("node1 Delay::::5::\n", &agents).unwrap().value.groups;
    assert_eq!(groups[0].resources[0].args, vec!["5"]);
}

#[test]
fn unknown_node_is_an_error() {
    let agents = Agents::new(&["IPaddr"]);
    assert_eq!(
        errors("node3 10.0.0.5\n", &agents),
        vec![
            "haresources:1: node 'node3' is not declared in ha.cf (nodes: node1, node2, \
             www.centos1.com)"
        ]
    );
}

#[test]
fn group_without_resources_is_an_error() {
    let agents = Agents::new(&[]);
    assert_eq!(
        errors("node1\n", &agents),
        vec!["haresources:1: resource group of node 'node1' lists no resources"]
    );
}

#[test]
fn duplicate_group_key_is_an_error() {
    let agents = Agents::new(&["IPaddr"]);
    assert_eq!(
        errors("node1 10.0.0.5\nnode2 10.0.0.5\n", &agents),
        vec!["haresources:2: resource group '10.0.0.5' is defined twice (first on line 1)"]
    );
}

#[test]
fn missing_agent_names_the_searched_directories() {
    let agents = Agents::new(&["IPaddr"]);
    assert_eq!(
        errors("node1 \\\n  hb-config-test-no-such-agent::x\n", &agents),
        vec![format!(
            "haresources:2: no resource agent 'hb-config-test-no-such-agent' (searched: {})",
            agents.dir.path().display()
        )]
    );
}

#[test]
fn invalid_ip_shorthand_is_an_error() {
    let agents = Agents::new(&["IPaddr"]);
    assert_eq!(
        errors("node1 10.0.0.300/24\n", &agents),
        vec![
            "haresources:1: '10.0.0.300/24' looks like an IP address resource, but '10.0.0.300' \
             is not a valid IPv4 address"
        ]
    );
    assert_eq!(
        errors("node1 ::x\n", &agents),
        vec!["haresources:1: invalid resource agent name '' (a script name without '/')"]
    );
}

#[test]
fn every_error_is_reported() {
    let agents = Agents::new(&["IPaddr"]);
    let e = errors(
        "nodeX 10.0.0.5\nnode1\nnode1 nope-agent-xyz 10.0.0.7\n",
        &agents,
    );
    assert_eq!(e.len(), 3, "{e:?}");
}

#[test]
fn empty_file_has_no_groups() {
    let agents = Agents::new(&[]);
    assert_eq!(
        parse("# nothing\n\n", &agents).unwrap().value,
        Haresources::default()
    );
}

#[test]
fn ip_detection_follows_the_resource_manager_pattern() {
    assert!(looks_like_ip("10.0.0.5"));
    assert!(looks_like_ip("10.0.0.5/24/eth0"));
    assert!(looks_like_ip("1x.2.3.4"));
    assert!(!looks_like_ip("IPaddr::10.0.0.5"));
    assert!(!looks_like_ip("nginx"));
    assert!(!looks_like_ip("1.2.3"));
    assert!(!looks_like_ip("a.1.2.3"));
}

/// An OCF root with `resource.d/PROV/TYPE` agents and an init directory with scripts.
fn ocf_and_init(ocf: &[(&str, &str)], init: &[&str]) -> (tempfile::TempDir, AgentSearch) {
    let root = tempfile::tempdir().unwrap();
    for (prov, kind) in ocf {
        let d = root.path().join("ocf/resource.d").join(prov);
        fs::create_dir_all(&d).unwrap();
        let p = d.join(kind);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let initd = root.path().join("init.d");
    fs::create_dir_all(&initd).unwrap();
    for name in init {
        let p = initd.join(name);
        fs::write(&p, "#!/bin/sh\nexit 0\n").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let search = AgentSearch::new(vec![root.path().join("rd"), initd.clone()], false)
        .with_ocf_root(root.path().join("ocf"))
        .with_init_dir(initd);
    (root, search)
}

fn parse_with(text: &str, search: &AgentSearch) -> Result<Parsed<Haresources>, ConfigErrors> {
    parse_haresources(text, Path::new("haresources"), &nodes(), search)
}

#[test]
fn ocf_resources_carry_their_parameters() {
    let (root, search) = ocf_and_init(&[("heartbeat", "IPaddr2")], &[]);
    let parsed = parse_with(
        "node1 ocf:heartbeat:IPaddr2::ip=192.0.2.100::cidr_netmask=24 \\\n  ocf:heartbeat:IPaddr2::ip=192.0.2.101::nic=eth0\n",
        &search,
    )
    .unwrap();
    let g = &parsed.value.groups[0];
    assert_eq!(
        g.key,
        "ocf:heartbeat:IPaddr2::ip=192.0.2.100::cidr_netmask=24"
    );
    let r = &g.resources[0];
    assert_eq!(r.agent, "ocf:heartbeat:IPaddr2");
    assert_eq!(
        r.class,
        AgentClass::Ocf {
            provider: "heartbeat".into(),
            kind: "IPaddr2".into()
        }
    );
    assert_eq!(
        r.params,
        vec![
            ("ip".to_string(), "192.0.2.100".to_string()),
            ("cidr_netmask".to_string(), "24".to_string())
        ]
    );
    assert!(r.args.is_empty());
    assert_eq!(r.path, root.path().join("ocf/resource.d/heartbeat/IPaddr2"));
    assert_eq!(g.resources[1].line, 2);
}

#[test]
fn bad_ocf_resources_are_explained() {
    let (_root, search) = ocf_and_init(&[("heartbeat", "Dummy")], &[]);
    let errs = |text: &str| match parse_with(text, &search) {
        Ok(p) => panic!("parsed {:?}", p.value),
        Err(e) => {
            e.0.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    assert!(errs("node1 ocf:Dummy").contains("ocf:PROVIDER:TYPE"));
    assert!(errs("node1 ocf:heartbeat:Dummy::state").contains("'state' is not name=value"));
    assert!(errs("node1 ocf:heartbeat:Dummy::a-b=1").contains("not a valid OCF parameter name"));
    assert!(errs("node1 ocf:heartbeat:Dummy::a=1::a=2").contains("given twice"));
    assert!(errs("node1 ocf:heartbeat:Nope").contains("no OCF agent ocf:heartbeat:Nope"));
    assert!(errs("node1 ocf:..:Dummy").contains("invalid OCF provider"));
    assert!(errs("node1 lsb:ssh::x").contains("takes no arguments"));
    assert!(errs("node1 lsb:nope").contains("no init script"));
}

#[test]
fn init_scripts_are_lsb_and_others_heartbeat() {
    let (_root, search) = ocf_and_init(&[], &["ssh"]);
    let parsed = parse_with("node1 ssh lsb:ssh\n", &search).unwrap();
    let rs = &parsed.value.groups[0].resources;
    assert_eq!(rs[0].class, AgentClass::Lsb);
    assert_eq!(rs[1].class, AgentClass::Lsb);
    assert_eq!(rs[1].agent, "ssh");
    let agents = Agents::new(&["IPaddr"]);
    let parsed = parse("node1 192.0.2.5\n", &agents).unwrap();
    assert_eq!(
        parsed.value.groups[0].resources[0].class,
        AgentClass::Heartbeat
    );
}
