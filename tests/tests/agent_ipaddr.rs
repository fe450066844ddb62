//! The IPaddr agent as a cluster manager sees it, in the namespace lab (root only): Debian's
//! `ocf-tester` passes for IPv4 and IPv6 addresses, `monitor` notices an address removed by
//! hand, labels show in `ip addr`, heartbeat's positional form still works, and Debian's own
//! IPaddr2 and ours can take over each other's addresses (same parameters, same result).
//!
//! The agent runs inside `node1`'s namespace with the directory of our `hb-addr` first in
//! `PATH` (found like the `heartbeat` binary: `$HB_BIN_DIR`, else `$CARGO_TARGET_DIR/<profile>`
//! or `target/<profile>`; `cargo build --workspace --bins` builds it).

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hb_nstests::cluster::ours_bin_dir;
use hb_nstests::{Lab, netns, repo_root, root_or_skip, skip_or_fail};

const OCF_TESTER: &str = "/usr/sbin/ocf-tester";
const DEBIAN_IPADDR2: &str = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2";
/// Upper bound for one command (ocf-tester runs about 25 agent actions).
const RUN_TIMEOUT: Duration = Duration::from_secs(120);

fn agent() -> PathBuf {
    repo_root().join("resource-agents/IPaddr")
}

/// The directory holding our hb-addr, checked to exist.
fn hb_addr_dir() -> PathBuf {
    let dir = ours_bin_dir();
    assert!(
        dir.join("hb-addr").is_file(),
        "hb-addr not found in {}: build it (cargo build --workspace --bins) or set HB_BIN_DIR",
        dir.display()
    );
    dir
}

/// The result of one command run in a lab host: exit code and stdout + stderr together.
#[derive(Debug)]
struct Ran {
    code: Option<i32>,
    output: String,
}

impl Ran {
    #[track_caller]
    fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code,
            Some(code),
            "unexpected exit status; output:\n{}",
            self.output
        );
        self
    }
}

/// Runs `program args` in `host`'s namespace with `PATH` = hb-addr's directory, then the
/// system directories, and `env` on top of a scrubbed environment (no inherited `OCF_*` or
/// `HB_*` variables).
fn run(lab: &Lab, host: &str, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args);
    for (key, _) in std::env::vars_os() {
        let text = key.to_string_lossy();
        if text.starts_with("OCF_") || text.starts_with("HB_") || text.starts_with("HA_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env(
        "PATH",
        format!(
            "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            hb_addr_dir().display()
        ),
    );
    cmd.envs(env.iter().copied());
    let name = program
        .file_name()
        .map_or_else(|| "cmd".into(), |n| n.to_string_lossy().into_owned());
    let proc = lab.spawn(host, &name, &cmd).expect("spawn in the lab");
    let status = match proc.wait_timeout(RUN_TIMEOUT) {
        Ok(status) => status,
        Err(e) => {
            let _ = proc.kill();
            panic!(
                "{} {args:?} did not finish: {e:#}\n{}",
                program.display(),
                proc.log_text().unwrap_or_default()
            );
        }
    };
    Ran {
        code: status.code(),
        output: proc.log_text().expect("read the log"),
    }
}

/// `IPaddr ACTION` in OCF mode with parameters `params` (`("ip", X)` = `OCF_RESKEY_ip=X`).
fn ocf(lab: &Lab, agent: &Path, action: &str, params: &[(&str, &str)]) -> Ran {
    let keys: Vec<(String, &str)> = params
        .iter()
        .map(|(k, v)| (format!("OCF_RESKEY_{k}"), *v))
        .collect();
    let mut env: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    env.extend([
        ("OCF_ROOT", "/usr/lib/ocf"),
        ("OCF_RESOURCE_INSTANCE", "vip"),
        ("HB_ARP_COUNT", "1"),
    ]);
    run(lab, "node1", agent, &[action], &env)
}

fn ocf_tester_available(test: &str) -> bool {
    Path::new(OCF_TESTER).exists()
        || skip_or_fail(
            test,
            &format!("{OCF_TESTER} is missing (Debian's resource-agents)"),
        )
}

/// `ip -o ADDR_FAMILY addr show dev eth0` on node1.
fn addr_lines(lab: &Lab, family: &str) -> Vec<String> {
    let ns = lab.ns("node1").expect("node1");
    netns::ip(&["-n", ns, family, "-o", "addr", "show", "dev", "eth0"])
        .expect("ip addr show")
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The line of `ip -o addr show dev eth0` on node1 holding `ip`, if any.
fn addr_line(lab: &Lab, ip: &str) -> Option<String> {
    let (family, key) = if ip.contains(':') {
        ("-6", "inet6")
    } else {
        ("-4", "inet")
    };
    let needle = format!(" {key} {ip}/");
    addr_lines(lab, family)
        .into_iter()
        .find(|l| l.contains(&needle))
}

/// IPv6 on the lab LAN: node1 2001:db8::11/64, client 2001:db8::50/64 (no DAD: usable now).
fn add_ipv6(lab: &Lab) {
    for (host, addr) in [("node1", "2001:db8::11/64"), ("client", "2001:db8::50/64")] {
        let ns = lab.ns(host).expect("host");
        netns::ip(&["-n", ns, "addr", "add", addr, "dev", "eth0", "nodad"]).expect("add IPv6");
    }
}

fn ocf_tester(lab: &Lab, params: &[&str]) -> Ran {
    let agent = agent();
    let mut args = vec!["-n", "vip"];
    for p in params {
        args.extend(["-o", p]);
    }
    let agent_text = agent.to_str().expect("utf-8 path");
    args.push(agent_text);
    run(
        lab,
        "node1",
        Path::new(OCF_TESTER),
        &args,
        &[("OCF_ROOT", "/usr/lib/ocf")],
    )
}

#[track_caller]
fn assert_passed(ran: &Ran) {
    assert_eq!(ran.code, Some(0), "ocf-tester failed:\n{}", ran.output);
    assert!(
        ran.output.contains("passed all tests"),
        "ocf-tester:\n{}",
        ran.output
    );
    assert!(
        !ran.output.lines().any(|l| l.starts_with("* rc=")),
        "ocf-tester reported failures:\n{}",
        ran.output
    );
}

#[test]
fn ocf_tester_passes_for_ipv4() {
    let name = "ocf_tester_passes_for_ipv4";
    if !root_or_skip(name) || !ocf_tester_available(name) {
        return;
    }
    let lab = Lab::with_nodes("ocft4", 1).unwrap();
    let ran = ocf_tester(&lab, &["ip=192.0.2.200", "cidr_netmask=24", "nic=eth0"]);
    assert_passed(&ran);
    // It ends with stop: nothing is left behind.
    assert_eq!(addr_line(&lab, "192.0.2.200"), None);
    // With a label and without nic (found from the subnet) too.
    let ran = ocf_tester(&lab, &["ip=192.0.2.201", "iflabel=vip"]);
    assert_passed(&ran);
    assert_eq!(addr_line(&lab, "192.0.2.201"), None);
}

#[test]
fn ocf_tester_passes_for_ipv6() {
    let name = "ocf_tester_passes_for_ipv6";
    if !root_or_skip(name) || !ocf_tester_available(name) {
        return;
    }
    let lab = Lab::with_nodes("ocft6", 1).unwrap();
    add_ipv6(&lab);
    let ran = ocf_tester(&lab, &["ip=2001:db8::100", "cidr_netmask=64", "nic=eth0"]);
    assert_passed(&ran);
    assert_eq!(addr_line(&lab, "2001:db8::100"), None);
    let ran = ocf_tester(&lab, &["ip=2001:db8::101"]);
    assert_passed(&ran);
    // A label is a configuration error for IPv6: validate-all fails, and ocf-tester with it.
    let ran = ocf_tester(&lab, &["ip=2001:db8::102", "nic=eth0", "iflabel=0"]);
    assert_ne!(ran.code, Some(0), "{}", ran.output);
    assert!(
        ran.output.contains("IPv6 addresses cannot have a label"),
        "{}",
        ran.output
    );
    assert_eq!(addr_line(&lab, "2001:db8::102"), None);
}

#[test]
fn ocf_monitor_notices_an_address_removed_by_hand() {
    if !root_or_skip("ocf_monitor_notices_an_address_removed_by_hand") {
        return;
    }
    let lab = Lab::with_nodes("byhand", 1).unwrap();
    add_ipv6(&lab);
    let node1 = lab.ns("node1").unwrap().to_owned();
    let agent = agent();
    for (ip, prefix, family) in [("192.0.2.210", "24", "-4"), ("2001:db8::210", "64", "-6")] {
        let params = [("ip", ip), ("cidr_netmask", prefix), ("nic", "eth0")];
        ocf(&lab, &agent, "monitor", &params).expect_code(7);
        ocf(&lab, &agent, "start", &params).expect_code(0);
        ocf(&lab, &agent, "monitor", &params).expect_code(0);
        let addr: IpAddr = ip.parse().unwrap();
        assert!(
            lab.pings("client", addr).unwrap(),
            "client cannot reach {ip}"
        );
        let cidr = format!("{ip}/{prefix}");
        netns::ip(&["-n", &node1, family, "addr", "del", &cidr, "dev", "eth0"]).unwrap();
        let ran = ocf(&lab, &agent, "monitor", &params).expect_code(7);
        assert!(ran.output.contains("stopped"), "{}", ran.output);
        // Recovery as a cluster manager does it: stop (succeeds), start, monitor.
        ocf(&lab, &agent, "stop", &params).expect_code(0);
        ocf(&lab, &agent, "start", &params).expect_code(0);
        ocf(&lab, &agent, "monitor", &params).expect_code(0);
        ocf(&lab, &agent, "stop", &params).expect_code(0);
        ocf(&lab, &agent, "monitor", &params).expect_code(7);
    }
}

#[test]
fn ocf_iflabel_shows_in_ip_addr() {
    if !root_or_skip("ocf_iflabel_shows_in_ip_addr") {
        return;
    }
    let lab = Lab::with_nodes("label", 1).unwrap();
    let agent = agent();
    // With nic, and without (the label is composed with the interface found).
    for params in [
        &[
            ("ip", "192.0.2.220"),
            ("cidr_netmask", "24"),
            ("nic", "eth0"),
            ("iflabel", "vip"),
        ][..],
        &[("ip", "192.0.2.220"), ("iflabel", "vip")],
    ] {
        ocf(&lab, &agent, "start", params).expect_code(0);
        let line = addr_line(&lab, "192.0.2.220").expect("address added");
        assert!(
            line.contains(" inet 192.0.2.220/24 brd 192.0.2.255 scope global secondary eth0:vip"),
            "{line}"
        );
        assert!(
            lab.pings("client", IpAddr::V4(Ipv4Addr::new(192, 0, 2, 220)))
                .unwrap()
        );
        ocf(&lab, &agent, "stop", params).expect_code(0);
        assert_eq!(addr_line(&lab, "192.0.2.220"), None);
    }
    // Debian's deprecated nic=eth0:N form.
    let params = [("ip", "192.0.2.221"), ("nic", "eth0:7")];
    ocf(&lab, &agent, "start", &params).expect_code(0);
    let line = addr_line(&lab, "192.0.2.221").expect("address added");
    assert!(line.contains(" secondary eth0:7\\"), "{line}");
    ocf(&lab, &agent, "stop", &params).expect_code(0);
    // Too long once composed: eth0:0123456789ab is 17 characters.
    let ran = ocf(
        &lab,
        &agent,
        "start",
        &[("ip", "192.0.2.222"), ("iflabel", "0123456789ab")],
    )
    .expect_code(6);
    assert!(
        ran.output
            .contains("invalid label 'eth0:0123456789ab': longer than 15 characters"),
        "{}",
        ran.output
    );
    assert_eq!(addr_line(&lab, "192.0.2.222"), None);
}

#[test]
fn positional_form_still_works() {
    if !root_or_skip("positional_form_still_works") {
        return;
    }
    let lab = Lab::with_nodes("posit", 1).unwrap();
    add_ipv6(&lab);
    let agent = agent();
    let one = [("HB_ARP_COUNT", "1")];
    for (arg, ip, shown) in [
        (
            "192.0.2.230/24/eth0:1",
            "192.0.2.230",
            " inet 192.0.2.230/24 brd 192.0.2.255 scope global secondary eth0:1",
        ),
        (
            "192.0.2.231",
            "192.0.2.231",
            " inet 192.0.2.231/24 brd 192.0.2.255 scope global secondary eth0",
        ),
        (
            "2001:db8::230/64/eth0",
            "2001:db8::230",
            " inet6 2001:db8::230/64 scope global nodad",
        ),
    ] {
        let ran = run(&lab, "node1", &agent, &[arg, "status"], &one).expect_code(7);
        assert_eq!(ran.output, "stopped\n");
        let ran = run(&lab, "node1", &agent, &[arg, "start"], &one).expect_code(0);
        assert_eq!(ran.output, "");
        let line = addr_line(&lab, ip).expect("address added");
        assert!(line.contains(shown), "{line}");
        let ran = run(&lab, "node1", &agent, &[arg, "status"], &one).expect_code(0);
        assert_eq!(ran.output, "running\n");
        assert!(lab.pings("client", ip.parse().unwrap()).unwrap(), "{ip}");
        run(&lab, "node1", &agent, &[arg, "stop"], &one).expect_code(0);
        assert_eq!(addr_line(&lab, ip), None);
        run(&lab, "node1", &agent, &[arg, "stop"], &one).expect_code(0);
    }
}

#[test]
fn debian_ipaddr2_and_ours_take_over_each_others_address() {
    let name = "debian_ipaddr2_and_ours_take_over_each_others_address";
    if !root_or_skip(name) {
        return;
    }
    if !Path::new(DEBIAN_IPADDR2).exists() {
        skip_or_fail(name, &format!("{DEBIAN_IPADDR2} is missing"));
        return;
    }
    let lab = Lab::with_nodes("swap", 1).unwrap();
    let ours = agent();
    let debian = Path::new(DEBIAN_IPADDR2);
    let params = [
        ("ip", "192.0.2.240"),
        ("cidr_netmask", "24"),
        ("nic", "eth0"),
        ("iflabel", "sw"),
        ("arp_count", "1"),
    ];
    // Started by Debian's agent: ours sees it running and stops it.
    ocf(&lab, debian, "start", &params).expect_code(0);
    let line = addr_line(&lab, "192.0.2.240").expect("Debian's IPaddr2 added it");
    ocf(&lab, &ours, "monitor", &params).expect_code(0);
    // Ours would add exactly the same entry: starting it again changes nothing.
    ocf(&lab, &ours, "start", &params).expect_code(0);
    assert_eq!(addr_line(&lab, "192.0.2.240"), Some(line.clone()));
    ocf(&lab, &ours, "stop", &params).expect_code(0);
    assert_eq!(addr_line(&lab, "192.0.2.240"), None);
    ocf(&lab, debian, "monitor", &params).expect_code(7);
    // And the other way round.
    ocf(&lab, &ours, "start", &params).expect_code(0);
    assert_eq!(addr_line(&lab, "192.0.2.240"), Some(line));
    ocf(&lab, debian, "monitor", &params).expect_code(0);
    ocf(&lab, debian, "stop", &params).expect_code(0);
    ocf(&lab, &ours, "monitor", &params).expect_code(7);
}
