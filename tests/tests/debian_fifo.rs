//! Debian's own `hb_standby` and `hb_takeover` (package `heartbeat`, Heartbeat 3.0.6's shell
//! scripts) drive heartbeat-rs through its command FIFO, `<state dir>/fifo`: two of our
//! daemons in network namespaces, the scripts run on node1 with `HA_FIFO` naming node1's FIFO
//! (a file: no namespace needed to write it). The VIP moves to node2 after `hb_standby all`
//! and back after `hb_takeover local`. The scripts log into a temporary directory (no syslog,
//! no logd). Root is required (loud SKIP otherwise; a failure under CI=true).
//!
//! Run after `cargo build --workspace --bins`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hb_control::RscStatus;
use hb_nstests::ours::{start_settled, status, wait_group_running};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, root_or_skip, skip_or_fail, wait_for_log_line,
};

const HB_STANDBY: &str = "/usr/share/heartbeat/hb_standby";
const HB_TAKEOVER: &str = "/usr/share/heartbeat/hb_takeover";
const SECOND: Duration = Duration::from_secs(1);

/// Runs Debian's `script ARG` against `node`'s daemon, its logging going to `logs` (no
/// syslog, no logd), and returns what it logged. A script still running after 10 s (blocked
/// opening a FIFO nobody reads) is killed and the test fails.
fn debian_script(
    c: &Cluster<'_>,
    node: &str,
    script: &str,
    arg: &str,
    logs: &Path,
) -> Result<String> {
    let log = logs.join("ha-log");
    let mut child = Command::new(script)
        .arg(arg)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env(
            "HA_FIFO",
            hb_control::fifo_path(&c.node_dir(node).join("state")),
        )
        .env("HA_LOGD", "no")
        .env("HA_LOGFACILITY", "none")
        .env("HA_LOGFILE", &log)
        .env("HA_DEBUGLOG", logs.join("ha-debug"))
        .spawn()
        .with_context(|| format!("running {script}"))?;
    let until = Instant::now() + 10 * SECOND;
    let exit = loop {
        if let Some(exit) = child.try_wait()? {
            break exit;
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{script} {arg} was still running after 10 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    ensure!(exit.success(), "{script} {arg}: {exit}");
    Ok(std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn debians_hb_standby_and_hb_takeover_move_the_vip_through_the_fifo() -> Result<()> {
    let name = "debians_hb_standby_and_hb_takeover_move_the_vip_through_the_fifo";
    if !root_or_skip(name) {
        return Ok(());
    }
    if !Path::new(HB_STANDBY).exists() || !Path::new(HB_TAKEOVER).exists() {
        skip_or_fail(
            name,
            "Debian's heartbeat package (hb_standby, hb_takeover) is missing",
        );
        return Ok(());
    }
    let lab = Lab::new("fifo")?;
    let mut c = Cluster::new(
        &lab,
        ClusterSpec::new(Implementation::Ours, "100/300".parse()?),
    )?;
    start_settled(&mut c)?;
    let logs = tempfile::tempdir()?;
    let node1_log = c.log_path("node1")?;

    let said = debian_script(&c, "node1", HB_STANDBY, "all", logs.path())?;
    ensure!(
        said.contains("Going standby [all]."),
        "hb_standby logged {said:?}"
    );
    wait_for_log_line(
        &node1_log,
        "hb_standby all requested through the command FIFO",
        5 * SECOND,
    )?;
    c.wait_for_sole_holder("node2", 15 * SECOND)?;
    wait_group_running(&c, "node2", 15 * SECOND)?;
    let s = status(&c, "node1")?;
    ensure!(s.rscstatus == Some(RscStatus::None), "{s:?}");

    debian_script(&c, "node1", HB_TAKEOVER, "local", logs.path())?;
    wait_for_log_line(
        &node1_log,
        "hb_takeover local requested through the command FIFO",
        5 * SECOND,
    )?;
    c.wait_for_sole_holder("node1", 15 * SECOND)?;
    wait_group_running(&c, "node1", 15 * SECOND)?;
    let s = status(&c, "node1")?;
    ensure!(s.rscstatus == Some(RscStatus::Local), "{s:?}");
    Ok(())
}
