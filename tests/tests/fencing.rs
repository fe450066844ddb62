//! STONITH fencing in namespaces (docs/ha.cf.md#stonith), through cluster-glue's real
//! `stonith` command and a recording `external/` plugin (`tests/fixtures/stonith/hbrs-test`,
//! installed as `external/hbrs-test-LABID` for one test and removed after it, also when it
//! fails). A successful reset of node1 is the test's power switch: the plugin runs
//! `reset-node1`, which SIGKILLs node1's daemon and removes node1's addresses.
//!
//! - node1's daemon is killed (its VIP stays up): node2 resets node1 before it adds the VIP,
//!   so the VIP never has two holders; the figures (detection, reset, takeover) are printed;
//! - a failing device blocks the takeover (attempts retried, the VIP stays where it was)
//!   until the operator confirms node1 is down with `hb_takeover all`;
//! - a hanging device is killed after `fence_timeout` and counted as failed;
//! - a stop that fails on node1 (an OCF agent whose stop is jammed) gets node1 fenced and the
//!   group moves to node2.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use hb_control::{Empty, Request, RequestClass, Status};
use hb_nstests::cluster::Failback;
use hb_nstests::ours::{request, start_settled, status, wait_group_running};
use hb_nstests::{
    Cluster, ClusterSpec, Implementation, Lab, Pair, Pairing, Timeline, holds, repo_root,
    root_or_skip, wait_for,
};

const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 100);
const SECOND: Duration = Duration::from_secs(1);
const PLUGINS: &str = "/usr/lib/stonith/plugins/external";

/// The test plugin, installed under a name of its own for one lab; removed when dropped.
struct Plugin {
    path: PathBuf,
    /// The plugin's type for `stonith_host`.
    kind: String,
    /// Its control directory (`hbrs_dir`).
    dir: PathBuf,
}

impl Plugin {
    fn install(lab: &Lab) -> Result<Plugin> {
        let name = format!("hbrs-test-{}", lab.id());
        let path = Path::new(PLUGINS).join(&name);
        ensure!(
            Path::new(PLUGINS).is_dir(),
            "{PLUGINS} is missing: install cluster-glue"
        );
        std::fs::copy(repo_root().join("tests/fixtures/stonith/hbrs-test"), &path)
            .with_context(|| format!("installing {}", path.display()))?;
        let plugin = Plugin {
            path,
            kind: format!("external/{name}"),
            dir: lab.dir().join("fence"),
        };
        std::fs::create_dir_all(&plugin.dir)?;
        std::fs::write(plugin.dir.join("hosts"), "node1\nnode2\n")?;
        plugin.set_mode("ok")?;
        Ok(plugin)
    }

    fn set_mode(&self, mode: &str) -> Result<()> {
        Ok(std::fs::write(self.dir.join("mode"), format!("{mode}\n"))?)
    }

    /// The test's power switch for `node`: kill its daemon (`pid`, 0 for none), drop its
    /// addresses, run `extra`.
    fn power_off_script(&self, lab: &Lab, node: &str, pid: u32, extra: &str) -> Result<()> {
        let script = format!(
            "#!/bin/sh\n[ {pid} -eq 0 ] || kill -9 {pid} 2>/dev/null\nip netns exec {ns} ip addr del {VIP}/24 dev eth0 \
             2>/dev/null\n{extra}\nexit 0\n",
            ns = lab.ns(node)?,
        );
        let path = self.dir.join(format!("reset-{node}"));
        std::fs::write(&path, script)?;
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(())
    }

    /// The plugin's requests: (operation, node, event, nanoseconds since the epoch).
    fn log(&self) -> Vec<(String, String, String, u128)> {
        std::fs::read_to_string(self.dir.join("log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let w: Vec<&str> = l.split_whitespace().collect();
                Some((
                    (*w.first()?).to_owned(),
                    (*w.get(1)?).to_owned(),
                    (*w.get(2)?).to_owned(),
                    w.get(3)?.parse().ok()?,
                ))
            })
            .collect()
    }

    /// Requests of `node` that reached `event`: `reset` from cluster-glue, `reboot` from a
    /// fence agent.
    fn resets_of(&self, node: &str, event: &str) -> usize {
        self.log()
            .iter()
            .filter(|(op, n, e, _)| (op == "reset" || op == "reboot") && n == node && e == event)
            .count()
    }

    /// The same device as a fence agent (`fence_agent`, the stand-in
    /// `tests/fixtures/fence/fence_hbrs_test`).
    fn fence_agent(&self) -> String {
        format!(
            "fence_agent * {} hbrs_dir={}",
            repo_root()
                .join("tests/fixtures/fence/fence_hbrs_test")
                .display(),
            self.dir.display()
        )
    }

    fn stonith_host(&self) -> String {
        format!("stonith_host * {} {}", self.kind, self.dir.display())
    }
}

impl Drop for Plugin {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn spec(extra: Vec<String>) -> ClusterSpec {
    let mut spec = ClusterSpec::new(
        Implementation::Ours,
        "100/300".parse().expect("valid timing"),
    );
    spec.auto_failback = Failback::Off;
    spec.extra_ha_cf = extra;
    spec
}

fn epoch_nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

fn fencing(s: &Status) -> Option<(String, u32)> {
    s.fencing.as_ref().map(|f| (f.state.clone(), f.attempts))
}

fn log_of(c: &Cluster<'_>, node: &str) -> String {
    c.log_path(node)
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default()
}

#[test]
fn a_killed_node_is_reset_before_its_peer_takes_the_vip() -> Result<()> {
    if !root_or_skip("a_killed_node_is_reset_before_its_peer_takes_the_vip") {
        return Ok(());
    }
    let lab = Lab::new("fenceok")?;
    let plugin = Plugin::install(&lab)?;
    let mut c = Cluster::new(&lab, spec(vec![plugin.stonith_host()]))?;
    start_settled(&mut c)?;
    let pid = c.proc("node1")?.pid();
    plugin.power_off_script(&lab, "node1", pid, "")?;
    let deadtime = c.spec().timing.deadtime;
    // kill -9 of node1's daemon: its VIP stays up until the reset.
    let t0 = Instant::now();
    let wall0 = epoch_nanos();
    let mut detected = None;
    let mut taken = Duration::ZERO;
    let timeline = Timeline::record(&lab, VIP, || {
        c.kill("node1")?;
        wait_for("node2 alone holds the VIP", 20 * SECOND, || {
            if detected.is_none() && status(&c, "node2")?.fencing.is_some() {
                detected = Some(t0.elapsed());
            }
            let alone = lab.address_holders(VIP)? == ["node2"];
            if alone {
                taken = t0.elapsed();
            }
            Ok(alone)
        })?;
        Ok(())
    })
    .with_context(|| c.log_tail("node2", 40))?;
    let log = plugin.log();
    let start = log.iter().find(|(_, n, e, _)| n == "node1" && e == "start");
    let done = log.iter().find(|(_, n, e, _)| n == "node1" && e == "done");
    let (Some(start), Some(done)) = (start, done) else {
        bail!(
            "no reset of node1 recorded: {log:?}\n{}",
            c.log_tail("node2", 40)
        );
    };
    let released = timeline.last(|h| holds(h, "node1")).unwrap_or_default();
    // The sampler's first sight of node2's VIP, or the wait's if the sampler missed it.
    let taken = timeline.first(|h| holds(h, "node2")).unwrap_or(taken);
    let detected = detected.unwrap_or_default();
    let ms_after_kill = |ns: u128| ns.saturating_sub(wall0) / 1_000_000;
    let s = status(&c, "node2")?;
    let node2_log = log_of(&c, "node2");
    println!(
        "fencing (keepalive 100 ms, deadtime {} ms, an external/ plugin run by cluster-glue's \
         stonith), in ms after the kill of node1's daemon: node2 fencing {} (its status), the \
         plugin's reset began {} and ended {}, node1's VIP gone {}, node2's VIP up {}: fencing \
         added {} ms to the takeover; dual holding {} ms ({} samples)",
        deadtime.as_millis(),
        detected.as_millis(),
        ms_after_kill(start.3),
        ms_after_kill(done.3),
        released.as_millis(),
        taken.as_millis(),
        taken.saturating_sub(detected).as_millis(),
        timeline.dual_holding().as_millis(),
        timeline.samples.len()
    );
    ensure!(timeline.most_holders() <= 1, "two VIP holders at once");
    ensure!(
        released <= taken,
        "node2 took the VIP before node1's was gone"
    );
    ensure!(
        fencing(&s) == Some(("fenced".to_owned(), 1)),
        "status: {:?}",
        s.fencing
    );
    for line in [
        "Resetting node node1 with [",
        "node node1 now reset.",
        "Checking status of STONITH device [",
    ] {
        ensure!(node2_log.contains(line), "no {line:?} in node2's log");
    }
    ensure!(
        node2_log.find("node node1 now reset.")
            < node2_log.find(": stopped -> starting (acquiring)"),
        "node2 started the group before the reset\n{}",
        c.log_tail("node2", 40)
    );
    Ok(())
}

#[test]
fn a_fence_agent_resets_a_killed_node_through_its_stdin_protocol() -> Result<()> {
    if !root_or_skip("a_fence_agent_resets_a_killed_node_through_its_stdin_protocol") {
        return Ok(());
    }
    let lab = Lab::new("fenceagent")?;
    let plugin = Plugin::install(&lab)?;
    let mut c = Cluster::new(&lab, spec(vec![plugin.fence_agent()]))?;
    start_settled(&mut c)?;
    let pid = c.proc("node1")?.pid();
    plugin.power_off_script(&lab, "node1", pid, "")?;
    let t0 = Instant::now();
    let mut taken = Duration::ZERO;
    let timeline = Timeline::record(&lab, VIP, || {
        c.kill("node1")?;
        c.wait_for_sole_holder("node2", 20 * SECOND)?;
        taken = t0.elapsed();
        Ok(())
    })
    .with_context(|| c.log_tail("node2", 40))?;
    ensure!(timeline.most_holders() <= 1, "two VIP holders at once");
    ensure!(
        plugin.resets_of("node1", "done") == 1,
        "requests: {:?}",
        plugin.log()
    );
    let node2_log = log_of(&c, "node2");
    ensure!(
        node2_log.contains("Resetting node node1 with [") && node2_log.contains("fence_hbrs_test]")
    );
    ensure!(node2_log.contains("node node1 now reset."));
    println!(
        "fence agent: node2 alone held the VIP {} ms after the kill of node1's daemon \
         (deadtime 300 ms)",
        taken.as_millis()
    );
    Ok(())
}

#[test]
fn a_failing_device_blocks_the_takeover_until_the_operator_confirms() -> Result<()> {
    if !root_or_skip("a_failing_device_blocks_the_takeover_until_the_operator_confirms") {
        return Ok(());
    }
    let lab = Lab::new("fencebad")?;
    let plugin = Plugin::install(&lab)?;
    let mut c = Cluster::new(&lab, spec(vec![plugin.stonith_host()]))?;
    start_settled(&mut c)?;
    plugin.set_mode("fail")?;
    c.kill("node1")?;
    // Heartbeat's retry interval is 5 s: two failed attempts prove the takeover waited.
    wait_for("two failed resets of node1", 20 * SECOND, || {
        Ok(plugin.resets_of("node1", "failed") >= 2)
    })
    .with_context(|| c.log_tail("node2", 40))?;
    let s = status(&c, "node2")?;
    let (state, attempts) = fencing(&s).context("no fencing in node2's status")?;
    ensure!(state == "retrying" || state == "running", "state {state}");
    ensure!(attempts >= 2, "{attempts} attempts");
    ensure!(
        lab.address_holders(VIP)? == ["node1"],
        "the VIP moved while node1 was not reset: {:?}",
        lab.address_holders(VIP)?
    );
    let node2_log = log_of(&c, "node2");
    for line in [
        "Host node1 not reset!",
        "STONITH of node1 failed.  Retrying...",
    ] {
        ensure!(node2_log.contains(line), "no {line:?} in node2's log");
    }
    // The operator powers node1 off by hand and says so.
    lab.run(
        "node1",
        &["ip", "addr", "del", "192.0.2.100/24", "dev", "eth0"],
    )?;
    let _: Empty = request(
        &c,
        "node2",
        &Request::Takeover {
            class: RequestClass::All,
        },
    )?;
    c.wait_for_sole_holder("node2", 15 * SECOND)
        .with_context(|| c.log_tail("node2", 40))?;
    ensure!(log_of(&c, "node2").contains("operator confirms node node1 is down (hb_takeover)"));
    Ok(())
}

#[test]
fn a_hanging_device_is_killed_after_fence_timeout() -> Result<()> {
    if !root_or_skip("a_hanging_device_is_killed_after_fence_timeout") {
        return Ok(());
    }
    let lab = Lab::new("fencehang")?;
    let plugin = Plugin::install(&lab)?;
    let mut c = Cluster::new(
        &lab,
        spec(vec![
            plugin.stonith_host(),
            "fence_timeout 1500ms".to_owned(),
        ]),
    )?;
    start_settled(&mut c)?;
    plugin.set_mode("hang")?;
    c.kill("node1")?;
    wait_for("a timed-out reset of node1", 20 * SECOND, || {
        Ok(status(&c, "node2")?
            .fencing
            .and_then(|f| f.last_result)
            .as_deref()
            == Some("timed out"))
    })
    .with_context(|| c.log_tail("node2", 40))?;
    ensure!(plugin.resets_of("node1", "start") >= 1);
    ensure!(
        lab.address_holders(VIP)? == ["node1"],
        "the VIP moved without a reset"
    );
    ensure!(log_of(&c, "node2").contains("Host node1 not reset!"));
    Ok(())
}

#[test]
fn a_stop_that_fails_gets_its_node_fenced_and_the_group_moves() -> Result<()> {
    if !root_or_skip("a_stop_that_fails_gets_its_node_fenced_and_the_group_moves") {
        return Ok(());
    }
    let lab = Lab::new("fencestop")?;
    let plugin = Plugin::install(&lab)?;
    let ocf = lab.dir().join("ocf");
    let provider = ocf.join("resource.d/hbrstest");
    std::fs::create_dir_all(&provider)?;
    std::fs::copy(
        repo_root().join("tests/fixtures/ocf/Stuck"),
        provider.join("Stuck"),
    )?;
    let jam = lab.dir().join("jam");
    let mut sp = spec(vec![
        plugin.stonith_host(),
        format!("ocf_root {}", ocf.display()),
    ]);
    sp.resources = Some(format!(
        "IPaddr::192.0.2.100/24/eth0 ocf:hbrstest:Stuck::state={{node_dir}}/stuck.state::jam={}",
        jam.display()
    ));
    let mut c = Cluster::new(&lab, sp)?;
    start_settled(&mut c)?;
    let state1 = c.node_dir("node1").join("stuck.state");
    ensure!(state1.exists(), "Stuck does not run on node1");
    let pid = c.proc("node1")?.pid();
    plugin.power_off_script(&lab, "node1", pid, &format!("rm -f {}", state1.display()))?;
    std::fs::write(&jam, "")?;
    c.expect_exit("node1");
    let _: Empty = request(
        &c,
        "node1",
        &Request::Standby {
            class: RequestClass::All,
        },
    )?;
    c.wait_for_sole_holder("node2", 20 * SECOND)
        .with_context(|| format!("{}\n{}", c.log_tail("node1", 30), c.log_tail("node2", 30)))?;
    ensure!(plugin.resets_of("node1", "done") == 1, "{:?}", plugin.log());
    // The VIP is the group's first resource: the second (Stuck) starts after it.
    wait_group_running(&c, "node2", 10 * SECOND).with_context(|| c.log_tail("node2", 30))?;
    ensure!(c.node_dir("node2").join("stuck.state").exists());
    let node1_log = log_of(&c, "node1");
    ensure!(
        node1_log.contains("CRIT: Resource STOP failure. Reboot required!"),
        "{}",
        c.log_tail("node1", 30)
    );
    Ok(())
}

/// A mixed pair with the same `ping` and `stonith_host` lines: both list the ping node alike,
/// and the survivor of either implementation resets the other through the same plugin before
/// taking the VIP, with the same log lines (Heartbeat's own device id aside).
fn mixed_fencing(
    tag: &str,
    victim_impl: Implementation,
    fencer_impl: Implementation,
) -> Result<()> {
    let lab = Lab::new(tag)?;
    let plugin = Plugin::install(&lab)?;
    let mut spec = spec(vec!["ping 192.0.2.50".to_owned(), plugin.stonith_host()]);
    spec.timing = "200/2000/1000/6000".parse()?;
    spec.haresources = Some("node1 IPaddr2::192.0.2.100/24/eth0\n".to_owned());
    let mut pair = Pair::new(&lab, Pairing::new(victim_impl, fencer_impl), &spec)?;
    for n in ["node1", "node2"] {
        pair.start(n)?;
    }
    let ping = "192.0.2.50";
    wait_for(
        "both nodes active, the ping node up on both, node1 holding the VIP",
        60 * SECOND,
        || {
            pair.check_running()?;
            Ok(
                pair.nodestatus("node1", "node2").unwrap_or_default() == "active"
                    && pair.nodestatus("node2", "node1").unwrap_or_default() == "active"
                    && pair.nodestatus("node1", ping).unwrap_or_default() == "ping"
                    && pair.nodestatus("node2", ping).unwrap_or_default() == "ping"
                    && pair.holders(VIP)? == ["node1"],
            )
        },
    )
    .with_context(|| pair.log_tails(20))?;
    let theirs = pair.cl_status("node1", &["listnodes"])?;
    let ours = pair.cl_status("node2", &["listnodes"])?;
    ensure!(theirs == ours, "listnodes: {theirs:?} vs {ours:?}");
    // node1 dies hard; its reset removes its VIP (its daemon is already gone). Heartbeat runs
    // the plugin in its own mount namespace, where the lab's /run/netns is not: the plugin
    // asks the test to cut the power and waits for it (at most 10 s).
    let asked = plugin.dir.join("power-off-node1");
    let done = plugin.dir.join("powered-off-node1");
    let script = format!(
        "#!/bin/sh\ntouch {asked}\ni=0\nwhile [ ! -e {done} ] && [ $i -lt 200 ]; do sleep 0.05; \
         i=$((i+1)); done\n",
        asked = asked.display(),
        done = done.display()
    );
    let hook = plugin.dir.join("reset-node1");
    std::fs::write(&hook, script)?;
    std::fs::set_permissions(&hook, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    pair.kill("node1")?;
    wait_for("node2 alone holds the VIP", 40 * SECOND, || {
        if asked.exists() && !done.exists() {
            let _ = lab.run_status(
                "node1",
                &["ip", "addr", "del", "192.0.2.100/24", "dev", "eth0"],
            );
            std::fs::write(&done, "")?;
        }
        Ok(pair.holders(VIP)? == ["node2"])
    })
    .with_context(|| pair.log_tails(30))?;
    ensure!(
        plugin.resets_of("node1", "done") == 1,
        "resets: {:?}",
        plugin.log()
    );
    let log = std::fs::read_to_string(pair.cluster("node2")?.log_path("node2")?)?;
    let reset = log.find("Resetting node node1 with [");
    let done = log.find("node node1 now reset.");
    ensure!(
        reset.is_some() && done.is_some() && reset < done,
        "{fencer_impl} on node2 did not log the reset in Heartbeat's words\n{}",
        pair.log_tails(30)
    );
    println!("{fencer_impl} fenced {victim_impl}: the same lines, the VIP moved after the reset");
    Ok(())
}

#[test]
fn ours_fences_a_dead_heartbeat_peer_with_the_same_stonith_host_line() -> Result<()> {
    if !root_or_skip("ours_fences_a_dead_heartbeat_peer_with_the_same_stonith_host_line") {
        return Ok(());
    }
    mixed_fencing(
        "fencemix1",
        Implementation::Heartbeat306,
        Implementation::Ours,
    )
}

#[test]
fn heartbeat_fences_a_dead_heartbeat_rs_peer_with_the_same_stonith_host_line() -> Result<()> {
    if !root_or_skip("heartbeat_fences_a_dead_heartbeat_rs_peer_with_the_same_stonith_host_line") {
        return Ok(());
    }
    mixed_fencing(
        "fencemix2",
        Implementation::Ours,
        Implementation::Heartbeat306,
    )
}
