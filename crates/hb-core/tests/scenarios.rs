//! Scenario tables of one core: `crates/hb-core/testdata/*.scn`, each a sequence of inputs
//! with the exact actions and log lines (INFO and above) they produce. The peer is scripted
//! in the file: its datagrams are built, signed and fed to the core as written. See
//! `testdata/README.md` for the language.
//!
//! `HB_BLESS=1 cargo test -p hb-core --test scenarios` rewrites the expected blocks from
//! what the core does now; review the diff before committing it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hb_config::{NodeName, Timing};
use hb_core::{
    Action, AgentOp, AgentResult, AutoFailback, Boot, Class, Command, Core, CoreConfig,
    FenceResult, FenceSetup, GroupConfig, Instant, MonitorPolicy, OpId, PeerMark, PingSetup,
    PingTarget, RememberedPeers,
};
use hb_proto::{AuthMethod, KeyRing, Message, MsgFmt, Value};

/// Header fields the output leaves out: they are the same in every message (`src`,
/// `srcuuid`, `hg`, `ttl`, `ld`), derived from the clock (`ts`), or the signature.
const HIDDEN: &[&str] = &[
    "src", "srcuuid", "destuuid", "hg", "ts", "ld", "ttl", "auth",
];

/// Wall-clock seconds of both sides at instant zero.
const WALL: u64 = 1_800_000_000;

#[test]
fn scenario_tables() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "scn"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "scenario files missing in {}",
        dir.display()
    );
    let bless = std::env::var_os("HB_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let actual = run_file(&text).unwrap_or_else(|(e, partial)| {
            panic!("{}: {e}\noutput so far:\n{partial}", path.display())
        });
        if actual != text {
            if bless {
                std::fs::write(path, &actual).unwrap();
            } else {
                failures.push(format!(
                    "{}:\n{}",
                    path.display(),
                    first_difference(&text, &actual)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "scenarios differ (HB_BLESS=1 rewrites them):\n{}",
        failures.join("\n")
    );
}

fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let i = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    format!(
        "  line {}:\n  expected: {:?}\n  actual:   {:?}",
        i + 1,
        e.get(i).copied().unwrap_or("<end>"),
        a.get(i).copied().unwrap_or("<end>")
    )
}

/// Runs a scenario file and returns it with every expected block replaced by what
/// happened.
fn run_file(text: &str) -> Result<String, (String, String)> {
    let mut out = String::new();
    let mut world = World::default();
    let mut lines = text.lines().peekable();
    let mut lineno = 0;
    while let Some(line) = lines.next() {
        lineno += 1;
        out.push_str(line);
        out.push('\n');
        let cmd = line.trim();
        if cmd.is_empty() || cmd.starts_with('#') {
            continue;
        }
        if cmd == "----" {
            return Err((format!("line {lineno}: '----' without a command"), out));
        }
        let produced = match world.command(cmd) {
            Ok(p) => p,
            Err(e) => {
                out.push_str(&world.flush());
                return Err((format!("line {lineno}: {cmd}: {e}"), out));
            }
        };
        // A command with output is followed by `----` and the expected lines up to a
        // blank line; consecutive commands share one block.
        if lines.peek().is_some_and(|l| l.trim() == "----") {
            lines.next();
            lineno += 1;
            let mut all = produced;
            all.push_str(&world.flush());
            out.push_str("----\n");
            out.push_str(&all);
            for l in lines.by_ref() {
                lineno += 1;
                if l.trim().is_empty() {
                    break;
                }
            }
            out.push('\n');
        } else {
            world.pending.push_str(&produced);
        }
    }
    let rest = world.flush();
    if !rest.is_empty() {
        return Err((
            "the file ends with output that no '----' block shows".into(),
            out + &rest,
        ));
    }
    Ok(out)
}

/// The core under test, its configuration, the scripted peer and the captured log.
struct World {
    cfg: CoreConfig,
    /// The authkeys lines: `cfg.keys` is these, signing with index 1.
    keys: BTreeMap<u8, (AuthMethod, Vec<u8>)>,
    generation: u64,
    core: Option<Core>,
    now: Instant,
    peer: usize,
    peer_generation: u64,
    peer_seq: u64,
    /// Agent runs not answered yet: op -> (resource, op).
    running: BTreeMap<OpId, (String, AgentOp)>,
    /// The core's group table (`cfg.groups` at boot, then each `use groups`); `cfg` is what
    /// the next `boot` or `reload` reads.
    table: Vec<GroupConfig>,
    log: Arc<Mutex<Vec<u8>>>,
    /// Output of commands whose block is still to come.
    pending: String,
    /// The last table the core asked to remember (what the disk holds), handed to the next
    /// boot.
    remembered: RememberedPeers,
    /// Print the core's requests to remember its peers (`show remember`).
    show_remember: bool,
}

impl Default for World {
    fn default() -> World {
        let keys = BTreeMap::from([(1, (AuthMethod::Sha1, b"scenario".to_vec()))]);
        World {
            cfg: CoreConfig {
                nodes: ["node1", "node2"]
                    .iter()
                    .filter_map(|n| NodeName::parse(n))
                    .collect(),
                me: 0,
                timing: Timing::new(
                    Duration::from_secs(1),
                    Duration::from_secs(3),
                    Some(Duration::from_secs(2)),
                    Some(Duration::from_secs(6)),
                )
                .unwrap(),
                links: vec!["eth0".into()],
                groups: Vec::new(),
                auto_failback: AutoFailback::On,
                msgfmt: MsgFmt::Classic,
                keys: KeyRing::new(1, keys.clone()).unwrap(),
                hopfudge: 1,
                max_rexmit_delay: Duration::from_millis(250),
                ping: PingSetup::default(),
                watchdog: false,
                fencing: None,
            },
            keys,
            generation: 100,
            core: None,
            now: Instant::from_millis(0),
            peer: 1,
            peer_generation: 200,
            peer_seq: 0,
            running: BTreeMap::new(),
            table: Vec::new(),
            log: Arc::default(),
            pending: String::new(),
            remembered: RememberedPeers::new(),
            show_remember: false,
        }
    }
}

impl World {
    fn command(&mut self, line: &str) -> Result<String, String> {
        let words = split_words(line)?;
        let (verb, args) = words.split_first().ok_or("empty command")?;
        let log = self.log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || LogWriter(log.clone()))
            .with_max_level(tracing::Level::INFO)
            .without_time()
            .with_target(false)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || self.dispatch(verb, args))
    }

    fn dispatch(&mut self, verb: &str, args: &[String]) -> Result<String, String> {
        match verb {
            "me" => {
                self.cfg.me = node_index(self.one(args)?)?;
                self.peer = 1 - self.cfg.me;
                Ok(String::new())
            }
            "timing" => {
                let [k, d, w, i] = args else {
                    return Err("timing KEEPALIVE DEADTIME WARNTIME INITDEAD".into());
                };
                self.cfg.timing = Timing::new(
                    duration(k)?,
                    duration(d)?,
                    Some(duration(w)?),
                    Some(duration(i)?),
                )
                .map_err(|e| format!("{e:?}"))?;
                Ok(String::new())
            }
            "auto_failback" => {
                self.cfg.auto_failback = match self.one(args)? {
                    "on" => AutoFailback::On,
                    "off" => AutoFailback::Off,
                    "legacy" => AutoFailback::Legacy,
                    other => return Err(format!("auto_failback {other}?")),
                };
                Ok(String::new())
            }
            "ping" => {
                let [name, hosts @ ..] = args else {
                    return Err("ping NAME ADDRESS...".into());
                };
                let hosts = hosts
                    .iter()
                    .map(|h| h.parse().map_err(|e| format!("{h}: {e}")))
                    .collect::<Result<Vec<_>, _>>()?;
                self.cfg.ping.targets.push(PingTarget {
                    name: name.clone(),
                    hosts,
                    nodes_before: self.cfg.nodes.len(),
                });
                Ok(String::new())
            }
            "deadping" => {
                self.cfg.ping.deadping = Some(duration(self.one(args)?)?);
                Ok(String::new())
            }
            "ipfail" => {
                self.cfg.ping.ipfail = self.one(args)? == "on";
                Ok(String::new())
            }
            "watchdog" => {
                self.cfg.watchdog = self.one(args)? == "on";
                Ok(String::new())
            }
            "fencing" => {
                self.cfg.fencing = Some(FenceSetup::new(self.one(args)?));
                Ok(String::new())
            }
            "fenced" => self.fence_done(args),
            "isolation" => {
                self.cfg.ping.isolation = self.one(args)? == "release";
                Ok(String::new())
            }
            "carrier" => {
                let lost = match self.one(args)? {
                    "lost" => true,
                    "up" => false,
                    other => return Err(format!("carrier lost|up, not {other:?}")),
                };
                let now = self.now;
                self.core()?.handle_carrier(now, lost);
                Ok(String::new())
            }
            "echo" => {
                let from = self.one(args)?.parse().map_err(|e| format!("{e}"))?;
                let now = self.now;
                self.core
                    .as_mut()
                    .ok_or("not booted")?
                    .handle_ping_reply(now, from);
                Ok(String::new())
            }
            "group" => {
                let [key, node, resources @ ..] = args else {
                    return Err("group KEY NODE RESOURCE...".into());
                };
                let group = GroupConfig {
                    key: key.clone(),
                    preferred: node_index(node)?,
                    resources: resources.to_vec(),
                    monitor: vec![MonitorPolicy::OFF; resources.len()],
                };
                // A key already listed is redefined in place (an edit, for `reload`).
                match self.cfg.groups.iter_mut().find(|g| &g.key == key) {
                    Some(g) => *g = group,
                    None => self.cfg.groups.push(group),
                }
                Ok(String::new())
            }
            "ungroup" => {
                let key = self.one(args)?.to_string();
                self.cfg.groups.retain(|g| g.key != key);
                Ok(String::new())
            }
            "reload" => {
                let now = self.now;
                let cfg = self.cfg.clone();
                let done = self
                    .core()?
                    .reconfigure(now, cfg)
                    .map_err(|e| e.to_string())?;
                let g = &done.groups;
                let mut line = format!(
                    "reloaded added={:?} removed={:?} changed={:?} monitors={:?}",
                    g.added, g.removed, g.changed, g.monitors
                );
                if done.timing {
                    line += " timing";
                }
                if done.auto_failback {
                    line += " auto_failback";
                }
                for d in &done.deferred {
                    line += &format!(" deferred={d:?}");
                }
                self.pending += &line;
                self.pending.push('\n');
                Ok(String::new())
            }
            "monitor" => {
                // monitor RESOURCE INTERVAL RESTARTS WINDOW
                let [name, interval, restarts, window] = args else {
                    return Err("monitor RESOURCE INTERVAL RESTARTS WINDOW".into());
                };
                let (g, r) = self.resource(name)?;
                self.cfg.groups[g].monitor[r] = MonitorPolicy {
                    interval: Some(duration(interval)?),
                    restarts: restarts.parse().map_err(|e| format!("{e}"))?,
                    window: duration(window)?,
                };
                Ok(String::new())
            }
            "authkey" => {
                // authkey INDEX METHOD [KEY]: one more authkeys line; `auth 1` still signs.
                let (index, method, key) = match args {
                    [i, m] => (i, m, ""),
                    [i, m, k] => (i, m, k.as_str()),
                    _ => return Err("authkey INDEX METHOD [KEY]".into()),
                };
                self.keys.insert(
                    u8::try_from(number(index)?).map_err(|e| e.to_string())?,
                    (method.parse().map_err(|e| format!("{e}"))?, key.into()),
                );
                self.cfg.keys = KeyRing::new(1, self.keys.clone()).map_err(|e| e.to_string())?;
                Ok(String::new())
            }
            "generation" => {
                self.generation = number(self.one(args)?)?;
                Ok(String::new())
            }
            "show" => match self.one(args)? {
                "remember" => {
                    self.show_remember = true;
                    Ok(String::new())
                }
                other => Err(format!("show {other}?")),
            },
            "remember" => {
                // remember NODE GENERATION SEQ TS: what an earlier run wrote.
                let [node, generation, seq, ts] = args else {
                    return Err("remember NODE GENERATION SEQ TS".into());
                };
                let mark = PeerMark {
                    generation: number(generation)?,
                    seq: number(seq)?,
                    ts: number(ts)?,
                };
                self.remembered.insert(node.clone(), mark);
                Ok(String::new())
            }
            "restart" => {
                // The daemon under test dies (kill -9) and starts again: a new generation,
                // the table it last asked to remember, agents of the old run forgotten.
                let out = self.flush();
                self.core = None;
                self.running.clear();
                self.generation += 1;
                self.dispatch("boot", &[]).map(|o| out + &o)
            }
            "boot" => {
                if self.core.is_some() {
                    return Err("already booted".into());
                }
                let mut uuid = [0u8; 16];
                uuid[15] = u8::try_from(self.cfg.me + 1).unwrap_or(0);
                let boot = Boot {
                    generation: self.generation,
                    uuid,
                    wall_clock_secs: WALL + self.now.as_nanos() / 1_000_000_000,
                    seed: 7,
                    peers: self.remembered.clone(),
                };
                self.core =
                    Some(Core::new(self.cfg.clone(), boot, self.now).map_err(|e| e.to_string())?);
                self.table = self.cfg.groups.clone();
                Ok(String::new())
            }
            "at" => self.advance_to(Instant::from_millis(millis(self.one(args)?)?)),
            "recv" => self.receive(args),
            "peer-restart" => {
                self.peer_generation += 1;
                self.peer_seq = 0;
                Ok(String::new())
            }
            "done" => self.agent_done(args),
            "cmd" => self.operator(args),
            "state" => Ok(self.state()),
            other => Err(format!("unknown command {other:?}")),
        }
    }

    fn one<'a>(&self, args: &'a [String]) -> Result<&'a str, String> {
        match args {
            [a] => Ok(a),
            _ => Err("expected one argument".into()),
        }
    }

    fn core(&mut self) -> Result<&mut Core, String> {
        self.core.as_mut().ok_or_else(|| "not booted".to_string())
    }

    fn resource(&self, name: &str) -> Result<(usize, usize), String> {
        for (g, group) in self.cfg.groups.iter().enumerate() {
            if let Some(r) = group.resources.iter().position(|x| x == name) {
                return Ok((g, r));
            }
        }
        Err(format!("no resource {name:?}"))
    }

    /// Fires every deadline up to `to`, in order, and moves the clock there.
    fn advance_to(&mut self, to: Instant) -> Result<String, String> {
        let mut out = self.flush();
        if to < self.now {
            return Err("time goes forward only".into());
        }
        while let Some(t) = self.core()?.poll_timeout() {
            if t > to {
                break;
            }
            self.now = t;
            self.core()?.handle_timeout(t);
            let step = self.flush();
            if !step.is_empty() {
                let _ = writeln!(out, "@{}", show_instant(t));
                out.push_str(&step);
            }
        }
        self.now = to;
        Ok(out)
    }

    /// `recv [link=N] [key=N] TYPE field=value...`: a datagram from the peer.
    fn receive(&mut self, args: &[String]) -> Result<String, String> {
        let mut link = 0;
        let mut args = args;
        if let Some(l) = args.first().and_then(|a| a.strip_prefix("link=")) {
            link = number(l)? as usize;
            args = &args[1..];
        }
        let mut keys = self.cfg.keys.clone();
        if let Some(k) = args.first().and_then(|a| a.strip_prefix("key=")) {
            let index = u8::try_from(number(k)?).map_err(|e| e.to_string())?;
            keys = KeyRing::new(index, self.keys.clone()).map_err(|e| e.to_string())?;
            args = &args[1..];
        }
        // `recv TYPE f=v...`, or `recv f=v... t=TYPE ...` for a field order with `t` later.
        let (mut msg, fields) = match args.split_first() {
            Some((t, rest)) if !t.contains('=') => (Message::new().with("t", t), rest),
            Some(_) => (Message::new(), args),
            None => return Err("recv TYPE field=value...".into()),
        };
        // `seq=`, `hg=` and `ts=` given replace the header's (to script replays).
        let (mut seq, mut hg, mut ts) = (None, None, None);
        for f in fields {
            let (k, v) = f
                .split_once('=')
                .ok_or(format!("{f}: expected name=value"))?;
            match k {
                "seq" => seq = Some(v.to_string()),
                "hg" => hg = Some(v.to_string()),
                "ts" => ts = Some(v.to_string()),
                _ => msg.push_str(k, v),
            }
        }
        let t = msg.str("t").ok_or("no t=")?.to_string();
        let peer = self.cfg.nodes[self.peer].to_string();
        msg.push_str("src", &peer);
        let mut uuid = [0u8; 16];
        uuid[15] = u8::try_from(self.peer + 1).unwrap_or(0);
        msg.push_bin("srcuuid", uuid);
        if !t.starts_with("NS_") {
            let seq = match seq {
                Some(s) => s,
                None => {
                    self.peer_seq += 1;
                    format!("{:x}", self.peer_seq)
                }
            };
            msg.push_str("seq", seq);
        }
        msg.push_str(
            "hg",
            hg.unwrap_or_else(|| format!("{:x}", self.peer_generation)),
        );
        let elapsed = self.now.as_nanos() / 1_000_000_000;
        msg.push_str("ts", ts.unwrap_or_else(|| format!("{:x}", WALL + elapsed)));
        if !t.starts_with("NS_") {
            msg.push_str("ld", "0.00 0.00 0.00 1/100 1");
        }
        msg.push_str("ttl", "3");
        let bytes = hb_proto::seal(&msg, &keys, self.cfg.msgfmt);
        let now = self.now;
        self.core()?.handle_datagram(now, link, &bytes);
        Ok(String::new())
    }

    /// `done RESOURCE|opN RESULT`: an agent run finished.
    fn agent_done(&mut self, args: &[String]) -> Result<String, String> {
        let [which, result] = args else {
            return Err("done RESOURCE|opN RESULT".into());
        };
        let id = match which.strip_prefix("op") {
            Some(n) => OpId(number(n)?),
            None => {
                let ids: Vec<OpId> = self
                    .running
                    .iter()
                    .filter(|(_, (name, _))| name == which)
                    .map(|(id, _)| *id)
                    .collect();
                match ids[..] {
                    [id] => id,
                    [] => return Err(format!("no run of {which} outstanding")),
                    _ => return Err(format!("several runs of {which} outstanding: name one")),
                }
            }
        };
        if self.running.remove(&id).is_none() {
            return Err(format!("{id} is not outstanding"));
        }
        let result = match result.as_str() {
            "success" => AgentResult::Success,
            "running" => AgentResult::Running,
            "not-running" => AgentResult::NotRunning,
            "timeout" => AgentResult::TimedOut,
            other => AgentResult::Failed(failure(other)?),
        };
        let now = self.now;
        self.core()?.handle_agent_done(now, id, result);
        Ok(String::new())
    }

    /// `fenced opN ok|badhost|exitN|killed|timeout`: a fencing attempt finished.
    fn fence_done(&mut self, args: &[String]) -> Result<String, String> {
        let [which, result] = args else {
            return Err("fenced opN RESULT".into());
        };
        let id = OpId(number(which.strip_prefix("op").ok_or("fenced opN")?)?);
        let result = match result.as_str() {
            "ok" => FenceResult::Ok,
            "badhost" => FenceResult::BadHost,
            "timeout" => FenceResult::TimedOut,
            other => FenceResult::Failed(failure(other)?),
        };
        let now = self.now;
        self.core()?.handle_fence_done(now, id, result);
        Ok(String::new())
    }

    /// `cmd shutdown | standby CLASS | takeover CLASS | cleanup [KEY]`.
    fn operator(&mut self, args: &[String]) -> Result<String, String> {
        let class = |a: Option<&String>| {
            a.and_then(|c| Class::parse(c))
                .ok_or_else(|| "expected a class".to_string())
        };
        let cmd = match args.first().map(String::as_str) {
            Some("shutdown") => Command::Shutdown,
            Some("standby") => Command::Standby(class(args.get(1))?),
            Some("takeover") => Command::Takeover(class(args.get(1))?),
            Some("cleanup") => Command::Cleanup(match args.get(1) {
                None => None,
                Some(key) => Some(
                    self.cfg
                        .groups
                        .iter()
                        .position(|g| &g.key == key)
                        .ok_or(format!("no group {key}"))?,
                ),
            }),
            _ => return Err("cmd shutdown|standby|takeover|cleanup".into()),
        };
        let now = self.now;
        let reply = match self.core()?.handle_command(now, cmd) {
            Ok(v) if v.is_empty() => "reply ok\n".to_string(),
            Ok(v) => format!("reply ok {}\n", v.join(" ")),
            Err(e) => format!("reply refused: {e}\n"),
        };
        let mut out = self.flush();
        out.push_str(&reply);
        Ok(out)
    }

    /// What the core would tell the control socket.
    fn state(&mut self) -> String {
        let Some(core) = &self.core else {
            return "not booted\n".into();
        };
        let s = core.snapshot();
        let mut out = String::new();
        for n in &s.nodes {
            let links: Vec<String> = n
                .links
                .iter()
                .map(|l| format!("{}:{}", l.name, if l.up { "up" } else { "dead" }))
                .collect();
            let _ = writeln!(out, "node {} {} {}", n.name, n.status, links.join(" "));
        }
        for g in &s.groups {
            let res: Vec<String> = g
                .resources
                .iter()
                .map(|r| {
                    let mut x = format!("{}:{}", r.name, r.state);
                    if r.failures > 0 || r.restarts > 0 {
                        let _ = write!(x, "(failures {} restarts {})", r.failures, r.restarts);
                    }
                    x
                })
                .collect();
            let _ = write!(
                out,
                "group {} {} holder={}",
                g.key,
                g.state,
                g.holder.as_deref().unwrap_or("-")
            );
            if g.failed_here {
                out.push_str(" failed_here");
            }
            if !g.managed {
                out.push_str(" unmanaged");
            }
            if let Some(f) = &g.failure {
                let _ = write!(out, " failure={f:?}");
            }
            let _ = writeln!(out, " [{}]", res.join(" "));
        }
        let _ = writeln!(
            out,
            "rscstatus {}{}",
            s.rsc_class.map_or("transition", Class::as_str),
            if s.shutting_down {
                " shutting-down"
            } else {
                ""
            }
        );
        if let Some(f) = &s.fencing {
            let _ = writeln!(
                out,
                "fencing {} {} attempts={} last={}",
                f.node,
                f.state,
                f.attempts,
                f.last_result.as_deref().unwrap_or("-")
            );
        }
        if s.awaiting_fence {
            out.push_str("awaiting fence\n");
        }
        if core.is_finished() {
            out.push_str("finished\n");
        }
        out
    }

    /// The log lines and actions produced since the last flush.
    fn flush(&mut self) -> String {
        let mut out = std::mem::take(&mut self.pending);
        let log = std::mem::take(&mut *self.log.lock().unwrap());
        for line in String::from_utf8_lossy(&log).lines() {
            let line = line.trim_start();
            let (level, text) = line.split_once(' ').unwrap_or((line, ""));
            let _ = writeln!(out, "log {level} {}", text.trim_start());
        }
        let Some(core) = self.core.as_mut() else {
            return out;
        };
        while let Some(a) = core.poll_action() {
            match a {
                Action::Transmit(bytes) => {
                    let _ = writeln!(out, "send {}", show_datagram(&bytes));
                }
                Action::RunAgent {
                    id,
                    group,
                    resource,
                    op,
                } => {
                    let name = self.table[group].resources[resource].clone();
                    let _ = writeln!(out, "run {id} {name} {op}");
                    self.running.insert(id, (name, op));
                }
                Action::RememberPeers(table) => {
                    if self.show_remember {
                        let marks: Vec<String> = table
                            .iter()
                            .map(|(n, m)| format!("{n}={}/{}/{}", m.generation, m.seq, m.ts))
                            .collect();
                        let _ = writeln!(out, "remember {}", marks.join(" "));
                    }
                    self.remembered = table;
                }
                Action::Ping(addr) => {
                    let _ = writeln!(out, "ping {addr}");
                }
                Action::PetWatchdog => {
                    let _ = writeln!(out, "pet watchdog");
                }
                Action::Fence { id, node } => {
                    let _ = writeln!(out, "fence {id} {node}");
                }
                Action::UseGroups(groups) => {
                    let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
                    let _ = writeln!(out, "use groups {}", keys.join(" "));
                    self.table = groups;
                }
            }
        }
        out
    }
}

/// Collects the formatted log of the core.
struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A failed run's words, for `done` and `fenced`: `killed` (no exit code) or `exitN`.
fn failure(word: &str) -> Result<Option<i32>, String> {
    match word {
        "killed" => Ok(None),
        other => match other.strip_prefix("exit") {
            Some(code) => code.parse().map(Some).map_err(|e| format!("{e}")),
            None => Err(format!("unknown result {other:?}")),
        },
    }
}

fn show_datagram(bytes: &[u8]) -> String {
    let msg = hb_proto::decode(bytes).unwrap().msg;
    let mut parts = Vec::new();
    for f in msg.fields() {
        if HIDDEN.contains(&f.name.as_str()) {
            continue;
        }
        let v = match &f.value {
            Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
            other => format!("{other:?}"),
        };
        if v.is_empty() || v.contains(char::is_whitespace) || v.contains('"') {
            parts.push(format!("{}={v:?}", f.name));
        } else {
            parts.push(format!("{}={v}", f.name));
        }
    }
    parts.join(" ")
}

fn show_instant(t: Instant) -> String {
    let ns = t.as_nanos();
    if ns.is_multiple_of(1_000_000) {
        format!("{}ms", ns / 1_000_000)
    } else {
        format!("{}ns", ns)
    }
}

/// Splits on blanks, keeping `name="a b"` together (the quotes are removed).
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    words.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if quoted {
        return Err("unbalanced quote".into());
    }
    if any {
        words.push(cur);
    }
    Ok(words)
}

fn node_index(name: &str) -> Result<usize, String> {
    match name {
        "node1" => Ok(0),
        "node2" => Ok(1),
        other => Err(format!("nodes are node1 and node2, not {other:?}")),
    }
}

fn number(s: &str) -> Result<u64, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

fn millis(s: &str) -> Result<u64, String> {
    let d = duration(s)?;
    u64::try_from(d.as_millis()).map_err(|e| e.to_string())
}

fn duration(s: &str) -> Result<Duration, String> {
    if let Some(ms) = s.strip_suffix("ms") {
        Ok(Duration::from_millis(number(ms)?))
    } else if let Some(secs) = s.strip_suffix('s') {
        Ok(Duration::from_secs(number(secs)?))
    } else {
        Err(format!("{s:?}: write 300ms or 3s"))
    }
}
