//! The daemon refuses to start from a directory others can write: it comes first on the
//! agents' PATH, so whoever writes it chooses what `hb-addr` the agents run as root.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

#[test]
fn a_daemon_in_a_world_writable_directory_refuses_to_start() {
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let conf = top.path().join("conf");
    let bin = top.path().join("bin");
    fs::create_dir(&conf).unwrap();
    fs::create_dir(&bin).unwrap();
    fs::write(conf.join("ha.cf"), "bcast lo\nnode node1\n").unwrap();
    fs::write(conf.join("haresources"), "").unwrap();
    fs::write(conf.join("authkeys"), "auth 1\n1 sha1 secret\n").unwrap();
    fs::set_permissions(conf.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
    let exe = bin.join("heartbeat");
    fs::copy(env!("CARGO_BIN_EXE_heartbeat"), &exe).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o777)).unwrap();
    let out = Command::new(&exe)
        .args(["-f", "-n", "node1", "-c"])
        .arg(&conf)
        .arg("--run-dir")
        .arg(top.path().join("run"))
        .arg("--state-dir")
        .arg(top.path().join("state"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "heartbeat: {0}: the daemon's own directory, first on the agents' PATH, is unsafe: \
             {0} must be owned by",
            bin.display()
        )),
        "{stderr}"
    );
    assert!(stderr.trim_end().ends_with("(mode is 0777)"), "{stderr}");
    assert!(!top.path().join("run").exists(), "nothing was started");
}

/// Root running a binary another user owns already runs that user's code: that user's
/// directories are trusted like root's (a checkout built by a developer, run with sudo), and
/// nobody else's are.
#[test]
fn the_owner_of_the_binary_is_trusted_and_nobody_else() {
    if nix::unistd::geteuid().as_raw() != 0 {
        eprintln!("SKIP the_owner_of_the_binary_is_trusted_and_nobody_else: needs root (chown)");
        return;
    }
    let (dev, other) = (4242, 4343);
    let top = tempfile::tempdir().unwrap();
    fs::set_permissions(top.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = top.path().join("bin");
    fs::create_dir(&bin).unwrap();
    let exe = bin.join("heartbeat");
    fs::copy(env!("CARGO_BIN_EXE_heartbeat"), &exe).unwrap();
    std::os::unix::fs::chown(&bin, Some(dev), Some(dev)).unwrap();
    std::os::unix::fs::chown(&exe, Some(dev), Some(dev)).unwrap();
    let check = |owner: u32| {
        let conf = top.path().join(format!("conf-{owner}"));
        fs::create_dir(&conf).unwrap();
        fs::write(conf.join("ha.cf"), "bcast lo\nnode node1\n").unwrap();
        fs::write(conf.join("haresources"), "").unwrap();
        fs::write(conf.join("authkeys"), "auth 1\n1 sha1 secret\n").unwrap();
        fs::set_permissions(conf.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
        for f in ["ha.cf", "haresources"] {
            std::os::unix::fs::chown(conf.join(f), Some(owner), Some(owner)).unwrap();
        }
        std::os::unix::fs::chown(&conf, Some(owner), Some(owner)).unwrap();
        Command::new(&exe)
            .args(["--check", "-n", "node1", "-c"])
            .arg(&conf)
            .output()
            .unwrap()
    };
    let ok = check(dev);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let refused = check(other);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_ne!(refused.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("owner is uid 4343"), "{stderr}");
}
