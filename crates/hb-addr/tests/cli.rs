//! hb-addr's argument checking, without root: every value is validated before the kernel is
//! asked anything, so these never touch an interface.

use std::process::Command;

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn hb_addr(args: &[&str]) -> Out {
    let out = Command::new(env!("CARGO_BIN_EXE_hb-addr"))
        .args(args)
        .output()
        .expect("run hb-addr");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[track_caller]
fn assert_error(args: &[&str], code: i32, line: &str) {
    let out = hb_addr(args);
    assert_eq!(out.code, Some(code), "{args:?}: {}", out.stderr);
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr, format!("{line}\n"), "{args:?}");
}

#[test]
fn invalid_values_exit_6() {
    assert_error(
        &["add", "300.1.1.1/24", "dev", "eth0"],
        6,
        "hb-addr: invalid IPv4 address '300.1.1.1'",
    );
    assert_error(
        &["add", "192.0.2.1/24x", "dev", "eth0"],
        6,
        "hb-addr: invalid prefix length or netmask '24x' (expected 0-32 or a dotted netmask)",
    );
    assert_error(
        &[
            "add",
            "192.0.2.1/24",
            "dev",
            "eth0",
            "--broadcast",
            "192.0.2",
        ],
        6,
        "hb-addr: invalid IPv4 address '192.0.2'",
    );
    assert_error(
        &["add", "192.0.2.1/24", "dev", "eth0", "--label", "eth1:0"],
        6,
        "hb-addr: invalid label 'eth1:0': must be 'eth0' or start with 'eth0:'",
    );
    assert_error(
        &["add", "192.0.2.1/24", "dev", "eth0", "--arp-count", "five"],
        6,
        "hb-addr: invalid --arp-count 'five' (expected a whole number)",
    );
    assert_error(
        &[
            "add",
            "192.0.2.1/24",
            "dev",
            "eth0",
            "--arp-interval-ms",
            "-3",
        ],
        6,
        "hb-addr: invalid --arp-interval-ms '-3' (expected a whole number)",
    );
    assert_error(
        &["status", "224.0.0.18"],
        6,
        "hb-addr: 224.0.0.18 cannot be a service address (unspecified, multicast or limited broadcast)",
    );
    assert_error(
        &["del", "192.0.2.1/24", "dev", "a/b"],
        6,
        "hb-addr: invalid interface name 'a/b'",
    );
    assert_error(
        &["find-iface", "1.2.3"],
        6,
        "hb-addr: invalid IPv4 address '1.2.3'",
    );
}

#[test]
fn invalid_ipv6_values_exit_6() {
    assert_error(
        &["add", "2001:db8::g/64", "dev", "eth0"],
        6,
        "hb-addr: invalid IPv6 address '2001:db8::g'",
    );
    assert_error(
        &["status", "2001:db8::10/129"],
        6,
        "hb-addr: invalid IPv6 prefix length '129' (expected 0-128)",
    );
    assert_error(
        &["validate", "2001:db8::10/255.255.255.0", "dev", "eth0"],
        6,
        "hb-addr: invalid IPv6 prefix length '255.255.255.0' (expected 0-128)",
    );
    assert_error(
        &["del", "ff02::1"],
        6,
        "hb-addr: ff02::1 cannot be a service address (unspecified, multicast or IPv4-mapped)",
    );
    // Labels and broadcasts are IPv4 notions: refused before the kernel is asked anything
    // (eth0 need not exist here).
    for cmd in ["add", "validate"] {
        assert_error(
            &[cmd, "2001:db8::10/64", "dev", "eth0", "--label", "eth0:0"],
            6,
            "hb-addr: 2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps \
             labels for IPv4 only); drop label 'eth0:0'",
        );
        assert_error(
            &[cmd, "2001:db8::10/64", "dev", "eth0", "--iflabel", "vip"],
            6,
            "hb-addr: 2001:db8::10: IPv6 addresses cannot have a label (the kernel keeps \
             labels for IPv4 only); drop label 'eth0:vip'",
        );
        assert_error(
            &[cmd, "2001:db8::10/64", "--broadcast", "2001:db8::ff"],
            6,
            "hb-addr: 2001:db8::10: IPv6 has no broadcast addresses; drop the broadcast",
        );
    }
    assert_error(
        &["find-iface", "2001:db8::10/64"],
        6,
        "hb-addr: invalid IPv6 address '2001:db8::10/64'",
    );
}

#[test]
fn validate_checks_values_like_add() {
    assert_error(
        &["validate", "300.1.1.1/24", "dev", "eth0"],
        6,
        "hb-addr: invalid IPv4 address '300.1.1.1'",
    );
    assert_error(
        &[
            "validate",
            "192.0.2.1/24",
            "dev",
            "eth0",
            "--iflabel",
            "0123456789a",
        ],
        6,
        "hb-addr: invalid label 'eth0:0123456789a': longer than 15 characters",
    );
    assert_error(
        &["validate", "192.0.2.1/24", "--arp-count", "x"],
        6,
        "hb-addr: invalid --arp-count 'x' (expected a whole number)",
    );
    let out = hb_addr(&["add", "192.0.2.1", "--label", "eth0:0", "--iflabel", "1"]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    assert_error(
        &["add", "192.0.2.1/24", "dev"],
        2,
        "hb-addr: expected 'dev IFACE' after the address, got 'dev'",
    );
    assert_error(
        &["status", "192.0.2.1", "eth0"],
        2,
        "hb-addr: expected 'dev IFACE' after the address, got 'eth0'",
    );
    assert_error(
        &[],
        2,
        "hb-addr: missing command (add, del, status, validate or find-iface); see --help",
    );
    for args in [
        &["frobnicate"][..],
        &["add"],
        &["add", "192.0.2.1", "--colour"],
    ] {
        let out = hb_addr(args);
        assert_eq!(out.code, Some(2), "{args:?}");
        assert!(out.stderr.starts_with("hb-addr: "), "{:?}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{:?}", out.stderr);
    }
}

#[test]
fn help_and_version_exit_0() {
    let out = hb_addr(&["--help"]);
    assert_eq!(out.code, Some(0));
    for cmd in ["add", "del", "status", "validate", "find-iface"] {
        assert!(out.stdout.contains(cmd), "help lacks {cmd}: {}", out.stdout);
    }
    let out = hb_addr(&["--version"]);
    assert_eq!(out.code, Some(0));
    assert!(out.stdout.starts_with("hb-addr "));
}
