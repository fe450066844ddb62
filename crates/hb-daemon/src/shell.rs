//! The event loop: one task owns the core and `select!`s over received datagrams, agent
//! completions, the core's next deadline, control-socket and command-FIFO requests and
//! signals. Actions go out at once: datagrams are sent synchronously on every medium, agents
//! run in their own tasks so a slow agent never delays a heartbeat.

use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use hb_config::Config;
use hb_core::{Action, AgentResult, Boot, Command, Core, FenceResult, OpId};
use hb_sys::agent::{AgentCommand, run_agent};
use hb_sys::media::Media;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

/// Datagrams handled in a row before control requests get a turn (see the event loop).
const DATAGRAM_BURST: usize = 64;

use crate::agents::Resource;
use crate::control::{self, Call};
use crate::convert::Converted;
use crate::setup::Prepared;
use hb_control::{Request, Response};

/// Everything the loop needs.
#[derive(Debug)]
pub(crate) struct Context {
    /// The media, opened before the daemon detached (so a missing interface is reported on
    /// the terminal).
    pub(crate) media: Media,
    pub(crate) config: Config,
    /// How `config` was loaded: SIGHUP reads the files again the same way.
    pub(crate) load_options: hb_config::LoadOptions,
    pub(crate) converted: Converted,
    /// The fencing device this node uses, if any.
    pub(crate) fencer: Option<crate::fence::Fencer>,
    pub(crate) prepared: Prepared,
    pub(crate) args_run_dir: PathBuf,
    /// Persistent state (the remembered peers live there).
    pub(crate) state_dir: PathBuf,
}

/// The environment every agent gets (nothing else leaks from the daemon's own).
fn agent_env(prepared: &Prepared, run_dir: &std::path::Path) -> Vec<(String, String)> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.display().to_string()));
    let mut path = String::new();
    if let Some(d) = exe_dir {
        path.push_str(&d);
        path.push(':');
    }
    path.push_str("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    let dir = prepared.config_dir.display().to_string();
    let mut env = vec![
        ("PATH".to_string(), path),
        ("LANG".to_string(), "C".to_string()),
        ("HA_DIR".to_string(), dir.clone()),
        ("HA_RESOURCEDIR".to_string(), format!("{dir}/resource.d")),
        ("HA_CURHOST".to_string(), prepared.node.clone()),
        ("HA_LOGD".to_string(), "no".to_string()),
        (
            "OCF_ROOT".to_string(),
            prepared.ocf_root.display().to_string(),
        ),
        // Heartbeat's place for agents' state files (Debian's agents keep theirs there).
        (
            "HA_RSCTMP".to_string(),
            run_dir.join("rsctmp").display().to_string(),
        ),
    ];
    // Agent tuning knobs documented by our agents (HB_ARP_COUNT, ...) pass through.
    for (k, v) in std::env::vars() {
        if k.starts_with("HB_") && k != "HB_LOG" {
            env.push((k, v));
        }
    }
    env
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.lines().next().unwrap_or("").to_string())
        .unwrap_or_default()
}

/// Runs the daemon until a graceful shutdown completes. `shutdown` resolving asks for one
/// (tests use it; the binary passes a future that never resolves and relies on signals).
pub(crate) async fn run(ctx: Context, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let Context {
        mut media,
        config,
        load_options,
        converted,
        fencer,
        mut prepared,
        args_run_dir,
        state_dir,
    } = ctx;
    anyhow::ensure!(
        media.links() == converted.core.links.as_slice(),
        "internal error: media links {:?} differ from the core's {:?}",
        media.links(),
        converted.core.links
    );
    let (dg_tx, mut dg_rx) = mpsc::channel(1024);
    media
        .spawn_receivers(dg_tx)
        .context("cannot start the receivers")?;
    let (ping_tx, mut ping_rx) = mpsc::channel(64);
    let pinger = open_pinger(&converted.core.ping, ping_tx)?;
    let sock_path = hb_control::socket_path(&args_run_dir);
    let listener = control::bind(&sock_path, config.ha_cf.control_group.as_deref())
        .with_context(|| format!("{}: cannot create the control socket", sock_path.display()))?;
    let (call_tx, mut call_rx) = mpsc::channel::<Call>(16);
    if let Some(file) = prepared.fifo.take() {
        let fifo = tokio::net::unix::pipe::Receiver::from_file(file).with_context(|| {
            format!(
                "{}: cannot read the command FIFO",
                prepared.fifo_path.display()
            )
        })?;
        tokio::spawn(crate::fifo::read(
            fifo,
            prepared.fifo_path.clone(),
            call_tx.clone(),
        ));
    }
    tokio::spawn(control::serve(listener, call_tx));

    let rsctmp = args_run_dir.join("rsctmp");
    std::fs::create_dir_all(&rsctmp).with_context(|| {
        format!(
            "{}: cannot create the agents' state directory",
            rsctmp.display()
        )
    })?;
    let env = agent_env(&prepared, &args_run_dir);
    let mut resources = Resource::table(&config);
    // OCF agents tell their operation time limits in their meta-data: read it once, all
    // agents at the same time.
    load_meta_data_all(resources.iter_mut().flatten(), &env).await;
    let (agent_tx, mut agent_rx) = mpsc::unbounded_channel::<(OpId, AgentResult)>();
    let (fence_tx, mut fence_rx) = mpsc::unbounded_channel::<(OpId, FenceResult)>();
    if let Some(f) = fencer.clone() {
        tokio::spawn(async move { f.check_status().await });
    }

    let clock = tokio::time::Instant::now();
    let now = move || {
        hb_core::Instant::from_nanos(u64::try_from(clock.elapsed().as_nanos()).unwrap_or(u64::MAX))
    };
    let boot = Boot {
        generation: prepared.generation,
        uuid: prepared.uuid,
        wall_clock_secs: unix_secs(),
        seed: getrandom::u64().unwrap_or_else(|_| unix_secs()),
        peers: crate::peers::load(&state_dir),
    };
    let mut keeper = crate::peers::Keeper::new(&state_dir);
    let node = prepared.node.clone();
    let wall = control::WallClock::new(SystemTime::now());
    let mut status_info = control::StatusInfo::new(&node, &config);
    // A reload (SIGHUP) on its way: checked files whose new agents' meta-data is being read,
    // then, once the core applied them, the agent table waiting for its UseGroups.
    let (reload_tx, mut reload_rx) = mpsc::unbounded_channel::<crate::reload::Reload>();
    let mut reload_busy = false;
    let mut pending_table: Option<(Vec<Vec<Resource>>, hb_config::Haresources)> = None;
    // The haresources whose groups `resources` holds, in its order (what a reload carries
    // agents over from).
    let mut table_groups = config.haresources.clone();
    let mut core = Core::new(converted.core.clone(), boot, now())?;
    core.set_load_average(&load_average());
    crate::reload::test_options(&mut core, &config.dir);

    // Opened last, once everything else started: an open device is armed.
    let mut watchdog = open_watchdog(&config.ha_cf)?;

    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sighup = signal(SignalKind::hangup())?;
    let mut load_tick = tokio::time::interval(Duration::from_secs(5));
    // The isolation rule's other witness: the carrier of the heartbeat interfaces, read four
    // times a keepalive (10 to 250 ms; sysfs, no I/O wait) and reported when it changes.
    let carrier_devs: Vec<String> = if converted.core.ping.isolation {
        converted.core.links.clone()
    } else {
        Vec::new()
    };
    let mut carrier_tick = tokio::time::interval(
        (converted.core.timing.keepalive() / 4)
            .clamp(Duration::from_millis(10), Duration::from_millis(250)),
    );
    let mut carrier_lost = false;
    // systemd (Type=notify): READY, STATUS, STOPPING and the watchdog, from this loop.
    let mut notifier = crate::notify::Notifier::from_env();
    let mut watchdog_tick = notifier
        .watchdog_interval()
        .map(|d| tokio::time::interval(d.max(Duration::from_millis(1))));
    let mut last_notify: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    let mut shutdown_asked = false;
    let mut dg_streak = 0usize;

    loop {
        while let Some(action) = core.poll_action() {
            match action {
                Action::Transmit(bytes) => {
                    media.send(&bytes);
                }
                Action::RunAgent {
                    id,
                    group,
                    resource,
                    op,
                } => {
                    let Some(res) = resources.get(group).and_then(|g| g.get(resource)).cloned()
                    else {
                        core.handle_agent_done(now(), id, AgentResult::Failed(None));
                        continue;
                    };
                    let env = res.env_for(&env, op);
                    let tx = agent_tx.clone();
                    let key = core
                        .config()
                        .groups
                        .get(group)
                        .map(|g| g.key.clone())
                        .unwrap_or_default();
                    tokio::spawn(async move {
                        let cmd = AgentCommand {
                            program: &res.path,
                            args: &res.args,
                            action: Some(res.action(op)),
                            stdin: None,
                            timeout: res.timeout(op),
                            env: &env,
                        };
                        let out = run_agent(&cmd).await;
                        crate::agents::log_outcome(&key, &res, op, &out);
                        let _ = tx.send((id, res.verdict(op, &out.exit, &out.stdout)));
                    });
                }
                Action::RememberPeers(table) => keeper.store(&table),
                Action::PetWatchdog => {
                    if let Some(wd) = watchdog.as_mut()
                        && let Err(e) = wd.pet()
                    {
                        tracing::error!(
                            "Watchdog write failure: closing {}! ({e})",
                            wd.path().display()
                        );
                    }
                }
                Action::Fence { id, node } => {
                    let tx = fence_tx.clone();
                    match fencer.clone() {
                        Some(f) => {
                            tokio::spawn(async move {
                                let _ = tx.send((id, f.reset(&node).await));
                            });
                        }
                        None => core.handle_fence_done(now(), id, FenceResult::Failed(None)),
                    }
                }
                Action::UseGroups(groups) => {
                    reload_busy = false;
                    match pending_table.take() {
                        Some((t, h)) if t.len() == groups.len() => {
                            resources = t;
                            table_groups = h;
                        }
                        _ => tracing::error!(
                            "internal error: the core changed the group table without a \
                             matching reload; keeping the agents of the previous one"
                        ),
                    }
                }
                Action::Ping(to) => {
                    if let Some(Err(e)) = pinger.as_ref().map(|p| p.send(to)) {
                        tracing::debug!("echo request to ping node {to}: {e}");
                    }
                }
            }
        }
        // STATUS= after every input but a datagram, and after datagrams at most every 200 ms
        // (a flood must not cost a snapshot per datagram).
        if notifier.enabled()
            && (dg_streak == 0
                || last_notify.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)))
        {
            last_notify = Some(tokio::time::Instant::now());
            notifier.update(&core.snapshot());
        }
        if core.is_finished() {
            break;
        }
        let deadline = core
            .poll_timeout()
            .map(|t| clock + Duration::from_nanos(t.as_nanos()));
        let sleep = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        // Priorities: deadlines first (death is detected at the exact deadline), then the rare
        // inputs that must never wait behind a flood (signals, agent results), then
        // datagrams; control requests come after datagrams (a local client cannot delay
        // heartbeats), but after DATAGRAM_BURST datagrams in a row the datagram branch sits
        // out one turn so that requests are answered under a flood too.
        let streak = std::mem::take(&mut dg_streak);
        tokio::select! {
            biased;
            () = sleep => core.handle_timeout(now()),
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: graceful shutdown");
                let _ = core.handle_command(now(), Command::Shutdown);
            }
            _ = sigint.recv() => {
                tracing::info!("SIGINT: graceful shutdown");
                let _ = core.handle_command(now(), Command::Shutdown);
            }
            _ = sighup.recv() => {
                notifier.reloading();
                if reload_busy {
                    tracing::warn!(
                        "SIGHUP: the previous reload is still being applied: nothing read; \
                         reload again once it is done"
                    );
                    notifier.reloaded();
                } else if let Some(mut reload) =
                    crate::reload::check(
                        &mut core,
                        &config,
                        &load_options,
                        &table_groups,
                        &resources,
                    )
                {
                    // New OCF agents tell their time limits in their meta-data: read it
                    // without holding up the loop, then apply.
                    reload_busy = true;
                    let tx = reload_tx.clone();
                    let env = env.clone();
                    tokio::spawn(async move {
                        load_meta_data_all(
                            reload.table.iter_mut().flatten().filter(|r| r.meta_timeouts.is_empty()),
                            &env,
                        )
                        .await;
                        let _ = tx.send(reload);
                    });
                } else {
                    notifier.reloaded();
                }
            }
            Some(reload) = reload_rx.recv() => {
                match core.reconfigure(now(), reload.core) {
                    Ok(done) => {
                        crate::reload::log_outcome(&done, &config.ha_cf, &reload.config.ha_cf);
                        status_info = control::StatusInfo::new(&node, &reload.config);
                        if done.use_groups {
                            pending_table = Some((reload.table, reload.config.haresources));
                        } else {
                            reload_busy = false;
                            if !done.groups_deferred {
                                // Same groups in the same order: new time limits apply.
                                resources = reload.table;
                                table_groups = reload.config.haresources;
                            }
                        }
                    }
                    Err(e) => {
                        reload_busy = false;
                        tracing::error!("SIGHUP: {e}: nothing applied, running on with the previous configuration");
                    }
                }
                notifier.reloaded();
            }
            () = &mut shutdown, if !shutdown_asked => {
                shutdown_asked = true;
                let _ = core.handle_command(now(), Command::Shutdown);
            }
            Some((id, result)) = agent_rx.recv() => core.handle_agent_done(now(), id, result),
            Some((id, result)) = fence_rx.recv() => core.handle_fence_done(now(), id, result),
            Some(from) = ping_rx.recv() => core.handle_ping_reply(now(), from),
            Some(r) = dg_rx.recv(), if streak < DATAGRAM_BURST => {
                dg_streak = streak + 1;
                core.handle_datagram(now(), r.link, &r.bytes);
            }
            Some(call) = call_rx.recv() => {
                let via = call.via;
                let answer = match call.request {
                    Request::Status => Response::Status(Box::new(control::status(&status_info, &core.snapshot(), &wall, &resources))),
                    Request::Shutdown => {
                        tracing::info!("shutdown requested {via}");
                        let _ = core.handle_command(now(), Command::Shutdown);
                        Response::Done
                    }
                    Request::Standby { class } => {
                        tracing::info!("hb_standby {class} requested {via}");
                        control::reply(core.handle_command(now(), Command::Standby(control::core_class(class))))
                    }
                    Request::Takeover { class } => {
                        tracing::info!("hb_takeover {class} requested {via}");
                        control::reply(core.handle_command(now(), Command::Takeover(control::core_class(class))))
                    }
                    Request::Cleanup { group: key } => {
                        let which = match &key {
                            None => Ok(None),
                            Some(k) => core
                                .config()
                                .groups
                                .iter()
                                .position(|g| &g.key == k)
                                .map(Some)
                                .ok_or_else(|| format!("no resource group {k:?} in haresources")),
                        };
                        match which {
                            Ok(w) => {
                                tracing::info!("hb_cleanup {} requested {via}", key.as_deref().unwrap_or("(all)"));
                                control::cleanup_reply(core.handle_command(now(), Command::Cleanup(w)))
                            }
                            Err(e) => control::refused(&e),
                        }
                    }
                };
                let _ = call.reply.send(answer);
            }
            _ = load_tick.tick() => core.set_load_average(&load_average()),
            _ = async { watchdog_tick.as_mut()?.tick().await; Some(()) }, if watchdog_tick.is_some() => {
                notifier.watchdog();
            }
            _ = carrier_tick.tick(), if !carrier_devs.is_empty() => {
                let lost = hb_sys::carrier::all_lost(&carrier_devs);
                if lost != carrier_lost {
                    carrier_lost = lost;
                    if lost {
                        tracing::warn!("heartbeat interfaces {} have no carrier", carrier_devs.join(", "));
                    }
                    core.handle_carrier(now(), lost);
                }
            }
            // The datagram branch sat out this turn and nothing else was ready.
            () = std::future::ready(()), if streak >= DATAGRAM_BURST => {}
        }
    }
    if let Some(wd) = watchdog.take() {
        let path = wd.path().display().to_string();
        match wd.disarm() {
            Ok(()) => tracing::info!("watchdog {path} disarmed (magic character written)"),
            Err(e) => tracing::error!("Watchdog write magic character failure: {path}: {e}"),
        }
    }
    let _ = std::fs::remove_file(&sock_path);
    Ok(())
}

/// `watchdog DEVICE`: opened (and armed) with Heartbeat's timeout; start-up stops if it
/// cannot be opened.
fn open_watchdog(hacf: &hb_config::HaCf) -> anyhow::Result<Option<hb_sys::watchdog::Watchdog>> {
    let Some(path) = &hacf.watchdog else {
        return Ok(None);
    };
    let (wd, timeout) = hb_sys::watchdog::Watchdog::open(path, hacf.timing.deadtime())?;
    tracing::info!("Using watchdog device: {}", path.display());
    match timeout {
        hb_sys::watchdog::Timeout::Set(secs) => {
            tracing::info!("Set watchdog timer to {secs} seconds.");
        }
        hb_sys::watchdog::Timeout::Unsupported => tracing::info!(
            "watchdog {}: the device keeps its own timeout (no WDIOC_SETTIMEOUT)",
            path.display()
        ),
    }
    Ok(Some(wd))
}

/// Reads every OCF agent's meta-data concurrently.
async fn load_meta_data_all<'a>(
    resources: impl Iterator<Item = &'a mut Resource>,
    env: &[(String, String)],
) {
    let mut set = tokio::task::JoinSet::new();
    let mut all: Vec<&'a mut Resource> = resources.collect();
    for (i, r) in all.iter().enumerate() {
        let mut copy = (*r).clone();
        let env = env.to_vec();
        set.spawn(async move {
            copy.load_meta_data(&env).await;
            (i, copy.meta_timeouts)
        });
    }
    while let Some(done) = set.join_next().await {
        if let Ok((i, t)) = done
            && let Some(r) = all.get_mut(i)
        {
            r.meta_timeouts = t;
        }
    }
}

/// The ICMP sockets the ping nodes need (none without ping nodes), and the daemon's word on
/// the ipfail it replaces.
fn open_pinger(
    setup: &hb_core::PingSetup,
    replies: mpsc::Sender<std::net::IpAddr>,
) -> anyhow::Result<Option<hb_sys::icmp::Pinger>> {
    if setup.targets.is_empty() {
        return Ok(None);
    }
    let hosts = || setup.targets.iter().flat_map(|t| &t.hosts);
    let v4 = hosts().any(std::net::IpAddr::is_ipv4);
    let v6 = hosts().any(std::net::IpAddr::is_ipv6);
    let token = getrandom::u64()
        .unwrap_or_else(|_| unix_secs())
        .to_be_bytes();
    let pinger = hb_sys::icmp::Pinger::open(v4, v6, token, replies)?;
    if setup.ipfail {
        tracing::info!(
            "ipfail is built into heartbeat-rs: the respawn line's program is not started; ping \
             node counts are compared in the daemon (docs/ha.cf.md#ipfail)"
        );
    }
    Ok(Some(pinger))
}
