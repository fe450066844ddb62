//! The client prober: from inside a host's namespace, start a TCP connection attempt to a
//! target every `interval` (attempts overlap, so a slow or lost attempt does not delay the next
//! one), record when each started, how it ended and which node answered, and compute the
//! client-visible outage around an event from that record.
//!
//! Times are `Instant`s (CLOCK_MONOTONIC) taken in the prober thread, so they compare directly
//! with `Instant::now()` taken by the caller when it injects a fault.

use std::collections::VecDeque;
use std::fmt;
use std::io::{ErrorKind, Read};
use std::mem;
use std::net::SocketAddrV4;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use nix::poll::{PollFd, PollFlags, ppoll};
use nix::sys::time::TimeSpec;
use socket2::{Domain, SockAddr, Socket, Type};

use crate::netns;

/// Prober settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Time between the starts of two attempts.
    pub interval: Duration,
    /// An attempt whose connection is not established within this time failed.
    pub connect_timeout: Duration,
    /// After connecting, how long to wait for the server's name before recording the attempt
    /// as [`ProbeOutcome::NoAnswer`].
    pub reply_timeout: Duration,
    /// The prober stops by itself after this long (a bound for forgotten probers).
    pub max_duration: Duration,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            interval: Duration::from_millis(2),
            connect_timeout: Duration::from_millis(20),
            reply_timeout: Duration::from_millis(200),
            max_duration: Duration::from_secs(600),
        }
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// Connected and the server sent this name.
    Answered(String),
    /// Connected, but no name arrived within the reply timeout (still a working service).
    NoAnswer,
    /// The connection was refused (RST): the address is up but nothing listens.
    Refused,
    /// No connection within the connect timeout.
    TimedOut,
    /// Any other failure (reset after connecting, unreachable, ...).
    Failed(String),
}

impl ProbeOutcome {
    /// Whether the attempt reached a working service.
    pub fn is_success(&self) -> bool {
        matches!(self, ProbeOutcome::Answered(_) | ProbeOutcome::NoAnswer)
    }

    /// The name of the node that answered, if any.
    pub fn answered_by(&self) -> Option<&str> {
        match self {
            ProbeOutcome::Answered(n) => Some(n),
            _ => None,
        }
    }

    fn label(&self) -> &str {
        match self {
            ProbeOutcome::Answered(n) => n,
            ProbeOutcome::NoAnswer => "no-answer",
            ProbeOutcome::Refused => "refused",
            ProbeOutcome::TimedOut => "timeout",
            ProbeOutcome::Failed(_) => "failed",
        }
    }
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// When the connection attempt started.
    pub start: Instant,
    /// When its outcome was known.
    pub end: Instant,
    /// How it ended.
    pub outcome: ProbeOutcome,
}

/// The client-visible outage around an event, computed by [`ProbeRecord::outage_after`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outage {
    /// Start of the last successful attempt before the outage.
    pub last_ok_before: Instant,
    /// Who served that attempt.
    pub last_ok_by: Option<String>,
    /// Start of the first successful attempt (by the expected node, if one was given) after
    /// the outage.
    pub first_ok_after: Instant,
    /// Who served it.
    pub first_ok_by: Option<String>,
    /// `first_ok_after - last_ok_before`: the client-visible outage.
    pub duration: Duration,
    /// `first_ok_after - event`: time from the event until service resumed.
    pub since_event: Duration,
    /// Failed attempts started inside the outage.
    pub failed_probes: usize,
    /// Successful attempts inside the outage that did not count as the end (answered by a node
    /// other than the expected one, or without a name).
    pub interim_successes: usize,
}

/// Everything a prober recorded, ordered by attempt start.
#[derive(Debug, Clone, Default)]
pub struct ProbeRecord {
    /// The attempts, ordered by start time.
    pub probes: Vec<Probe>,
}

impl ProbeRecord {
    /// Builds a record from attempts in any order.
    pub fn new(mut probes: Vec<Probe>) -> ProbeRecord {
        probes.sort_by_key(|p| p.start);
        ProbeRecord { probes }
    }

    /// Number of successful attempts.
    pub fn successes(&self) -> usize {
        self.probes
            .iter()
            .filter(|p| p.outcome.is_success())
            .count()
    }

    /// The outage caused by an event (a fault injected, a daemon stopped) at time `event`.
    ///
    /// The outage starts at the last success before the first attempt that failed while or after
    /// the event happened (attempts already in flight at the event count), and ends at the first
    /// success started after both the event and that failure, answered by `new_server` when
    /// given (answers from other nodes in between, e.g. the old node still serving during a
    /// graceful stop, do not end it). If no attempt failed, the outage is the gap before the
    /// first qualifying success after the event.
    pub fn outage_after(&self, event: Instant, new_server: Option<&str>) -> Result<Outage> {
        let p = &self.probes;
        let qualifies = |pr: &Probe| match new_server {
            Some(n) => pr.outcome.answered_by() == Some(n),
            None => pr.outcome.is_success(),
        };
        let first_fail = p
            .iter()
            .position(|pr| !pr.outcome.is_success() && pr.end >= event);
        // The outage ends with an attempt started after both the event and the first failure.
        let search_from = first_fail.map_or(event, |i| p[i].start.max(event));
        let end_idx = p
            .iter()
            .position(|pr| pr.start >= search_from && qualifies(pr))
            .ok_or_else(|| {
                anyhow!(
                    "no successful attempt{} after the event; record: {}",
                    new_server
                        .map(|n| format!(" answered by {n}"))
                        .unwrap_or_default(),
                    self.timeline(event)
                )
            })?;
        let gap_begin = first_fail.map_or(p[end_idx].start, |i| p[i].start);
        let start_idx = p
            .iter()
            .rposition(|pr| pr.outcome.is_success() && pr.start < gap_begin)
            .ok_or_else(|| {
                anyhow!(
                    "no successful attempt before the outage: {}",
                    self.timeline(event)
                )
            })?;
        let (first, last) = (&p[end_idx], &p[start_idx]);
        let inside = &p[start_idx + 1..end_idx];
        Ok(Outage {
            last_ok_before: last.start,
            last_ok_by: last.outcome.answered_by().map(str::to_owned),
            first_ok_after: first.start,
            first_ok_by: first.outcome.answered_by().map(str::to_owned),
            duration: first.start - last.start,
            since_event: first.start.saturating_duration_since(event),
            failed_probes: inside.iter().filter(|pr| !pr.outcome.is_success()).count(),
            interim_successes: inside.iter().filter(|pr| pr.outcome.is_success()).count(),
        })
    }

    /// A compact human-readable history: runs of equal outcomes with their count and the time
    /// of their first attempt relative to `origin`, e.g.
    /// `[-512.0ms] node1 x256 | [+0.4ms] timeout x150 | [+301.2ms] node2 x90`.
    pub fn timeline(&self, origin: Instant) -> String {
        let mut runs: Vec<(Instant, &str, usize)> = Vec::new();
        for pr in &self.probes {
            match runs.last_mut() {
                Some((_, label, n)) if *label == pr.outcome.label() => *n += 1,
                _ => runs.push((pr.start, pr.outcome.label(), 1)),
            }
        }
        if runs.is_empty() {
            return "(no attempts)".to_owned();
        }
        runs.iter()
            .map(|(t, label, n)| format!("[{}] {label} x{n}", signed_ms(*t, origin)))
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

/// `t - origin` in milliseconds with a sign, e.g. `+12.3ms`.
fn signed_ms(t: Instant, origin: Instant) -> String {
    if t >= origin {
        format!("+{:.1}ms", (t - origin).as_secs_f64() * 1e3)
    } else {
        format!("-{:.1}ms", (origin - t).as_secs_f64() * 1e3)
    }
}

/// A running prober (see the module docs). Stop it with [`Prober::stop`] to get its record;
/// dropping it stops it too. It borrows the lab so that it always stops before the lab's
/// namespaces are deleted.
pub struct Prober<'lab> {
    stop: Arc<AtomicBool>,
    probes: Arc<Mutex<Vec<Probe>>>,
    handle: Option<JoinHandle<Result<()>>>,
    started: Instant,
    _lab: std::marker::PhantomData<&'lab ()>,
}

impl fmt::Debug for Prober<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prober")
            .field("attempts", &self.lock().len())
            .finish()
    }
}

impl<'lab> Prober<'lab> {
    pub(crate) fn start(ns: &str, target: SocketAddrV4, cfg: ProbeConfig) -> Result<Prober<'lab>> {
        if cfg.interval.is_zero() || cfg.connect_timeout.is_zero() {
            bail!("prober interval and connect timeout must be positive: {cfg:?}");
        }
        let stop = Arc::new(AtomicBool::new(false));
        let probes = Arc::new(Mutex::new(Vec::new()));
        let (ns_name, t_stop, t_probes) = (ns.to_owned(), Arc::clone(&stop), Arc::clone(&probes));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let handle = thread::Builder::new()
            .name("prober".to_owned())
            .spawn(move || {
                if let Err(e) = netns::enter(&ns_name) {
                    let msg = format!("{e:#}");
                    let _ = ready_tx.send(Err(e));
                    bail!("{msg}");
                }
                let _ = ready_tx.send(Ok(()));
                probe_loop(target, cfg, &t_stop, &t_probes)
            })
            .context("cannot spawn prober thread")?;
        let mut prober = Prober {
            stop,
            probes,
            handle: Some(handle),
            started: Instant::now(),
            _lab: std::marker::PhantomData,
        };
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(prober),
            Ok(Err(e)) => {
                let _ = prober.finish();
                Err(e)
            }
            Err(_) => Err(prober
                .finish()
                .err()
                .unwrap_or_else(|| anyhow!("prober died"))),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Probe>> {
        self.probes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// When the prober was started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Attempts completed so far.
    pub fn completed(&self) -> usize {
        self.lock().len()
    }

    /// Number of completed attempts answered by `node`.
    pub fn answers_from(&self, node: &str) -> usize {
        self.lock()
            .iter()
            .filter(|p| p.outcome.answered_by() == Some(node))
            .count()
    }

    /// Start of the first attempt started at or after `after` that `node` answered.
    pub fn first_answer_from(&self, node: &str, after: Instant) -> Option<Instant> {
        self.lock()
            .iter()
            .filter(|p| p.start >= after && p.outcome.answered_by() == Some(node))
            .map(|p| p.start)
            .min()
    }

    /// A copy of the record so far.
    pub fn snapshot(&self) -> ProbeRecord {
        ProbeRecord::new(self.lock().clone())
    }

    fn finish(&mut self) -> Result<()> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take() {
            Some(h) => h.join().map_err(|_| anyhow!("prober thread panicked"))?,
            None => Ok(()),
        }
    }

    /// Stops the prober and returns its record. Attempts still in flight are dropped.
    pub fn stop(mut self) -> Result<ProbeRecord> {
        self.finish()?;
        Ok(ProbeRecord::new(mem::take(&mut *self.lock())))
    }
}

impl Drop for Prober<'_> {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// One connection attempt in flight.
#[derive(Debug)]
struct Attempt {
    sock: Socket,
    start: Instant,
    connected: Option<Instant>,
    reply: Vec<u8>,
}

impl Attempt {
    /// Starts a non-blocking connect; an immediate failure is returned as the outcome.
    fn launch(target: &SockAddr, now: Instant) -> std::result::Result<Attempt, ProbeOutcome> {
        let sock = Socket::new(Domain::IPV4, Type::STREAM.nonblocking(), None)
            .map_err(|e| ProbeOutcome::Failed(format!("socket: {e}")))?;
        let mut a = Attempt {
            sock,
            start: now,
            connected: None,
            reply: Vec::new(),
        };
        match a.sock.connect(target) {
            Ok(()) => {
                a.connected = Some(now);
                Ok(a)
            }
            Err(e) if e.raw_os_error() == Some(nix::errno::Errno::EINPROGRESS as i32) => Ok(a),
            Err(e) => Err(Attempt::classify(&e)),
        }
    }

    fn classify(e: &std::io::Error) -> ProbeOutcome {
        if e.kind() == ErrorKind::ConnectionRefused {
            ProbeOutcome::Refused
        } else {
            ProbeOutcome::Failed(e.to_string())
        }
    }

    fn deadline(&self, cfg: &ProbeConfig) -> Instant {
        match self.connected {
            None => self.start + cfg.connect_timeout,
            Some(c) => c + cfg.reply_timeout,
        }
    }

    fn interest(&self) -> PollFlags {
        if self.connected.is_none() {
            PollFlags::POLLOUT
        } else {
            PollFlags::POLLIN
        }
    }

    /// Progress after poll reported readiness; `Some(outcome)` once the attempt is over.
    fn advance(&mut self, now: Instant) -> Option<ProbeOutcome> {
        if self.connected.is_none() {
            match self.sock.take_error() {
                Ok(None) => self.connected = Some(now),
                Ok(Some(e)) | Err(e) => return Some(Attempt::classify(&e)),
            }
        }
        let mut buf = [0u8; 128];
        loop {
            match (&self.sock).read(&mut buf) {
                Ok(0) => return Some(self.answer()),
                Ok(n) => {
                    self.reply.extend_from_slice(&buf[..n]);
                    if self.reply.contains(&b'\n') || self.reply.len() > 256 {
                        return Some(self.answer());
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Some(ProbeOutcome::Failed(format!("after connect: {e}"))),
            }
        }
    }

    fn answer(&self) -> ProbeOutcome {
        let text = String::from_utf8_lossy(&self.reply);
        let name = text.lines().next().unwrap_or("").trim();
        if name.is_empty() {
            ProbeOutcome::NoAnswer
        } else {
            ProbeOutcome::Answered(name.into())
        }
    }

    fn expired(&self) -> ProbeOutcome {
        if self.connected.is_some() {
            ProbeOutcome::NoAnswer
        } else {
            ProbeOutcome::TimedOut
        }
    }

    /// Closes the socket; an established connection is reset (no TIME_WAIT left behind, so
    /// thousands of attempts never exhaust ports).
    fn close(self) {
        if self.connected.is_some() {
            let _ = self.sock.set_linger(Some(Duration::ZERO));
        }
    }
}

/// Runs attempts every `cfg.interval` until `stop` is set or `cfg.max_duration` passed,
/// pushing each completed attempt into `sink`.
fn probe_loop(
    target: SocketAddrV4,
    cfg: ProbeConfig,
    stop: &AtomicBool,
    sink: &Mutex<Vec<Probe>>,
) -> Result<()> {
    let target = SockAddr::from(target);
    let begin = Instant::now();
    let hard_end = begin + cfg.max_duration;
    let mut next_launch = begin;
    let mut pending: VecDeque<Attempt> = VecDeque::new();
    let record = |start: Instant, end: Instant, outcome: ProbeOutcome| {
        sink.lock().unwrap_or_else(|e| e.into_inner()).push(Probe {
            start,
            end,
            outcome,
        });
    };
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        if now >= hard_end {
            break;
        }
        if now >= next_launch {
            match Attempt::launch(&target, now) {
                Ok(a) => pending.push_back(a),
                Err(outcome) => record(now, now, outcome),
            }
            next_launch += cfg.interval;
            if next_launch <= now {
                // We fell behind (descheduled): skip the missed slots rather than burst.
                next_launch = now + cfg.interval;
            }
        }
        // Expire attempts whose time is up.
        let mut i = 0;
        while i < pending.len() {
            if pending[i].deadline(&cfg) <= now {
                if let Some(a) = pending.remove(i) {
                    record(a.start, now, a.expired());
                    a.close();
                }
            } else {
                i += 1;
            }
        }
        let wake = pending
            .iter()
            .map(|a| a.deadline(&cfg))
            .fold(next_launch, Instant::min);
        let timeout = TimeSpec::from_duration(wake.saturating_duration_since(Instant::now()));
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = pending
                .iter()
                .map(|a| PollFd::new(a.sock.as_fd(), a.interest()))
                .collect();
            match ppoll(&mut fds, Some(timeout), None) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(anyhow!("ppoll: {e}")),
            }
            fds.iter()
                .enumerate()
                .filter(|(_, fd)| fd.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        let now = Instant::now();
        let mut done = Vec::new();
        for &i in &ready {
            if let Some(outcome) = pending[i].advance(now) {
                done.push((i, outcome));
            }
        }
        for (i, outcome) in done.into_iter().rev() {
            if let Some(a) = pending.remove(i) {
                record(a.start, now, outcome);
                a.close();
            }
        }
    }
    Ok(())
}

/// One attempt from the calling thread's namespace, waiting at most for the configured
/// timeouts.
pub(crate) fn probe_once(target: SocketAddrV4, cfg: &ProbeConfig) -> Result<ProbeOutcome> {
    let target = SockAddr::from(target);
    let mut a = match Attempt::launch(&target, Instant::now()) {
        Ok(a) => a,
        Err(outcome) => return Ok(outcome),
    };
    loop {
        let now = Instant::now();
        let deadline = a.deadline(cfg);
        if now >= deadline {
            let outcome = a.expired();
            a.close();
            return Ok(outcome);
        }
        let mut fds = [PollFd::new(a.sock.as_fd(), a.interest())];
        match ppoll(
            &mut fds,
            Some(TimeSpec::from_duration(deadline - now)),
            None,
        ) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(anyhow!("ppoll: {e}")),
        }
        if let Some(outcome) = a.advance(Instant::now()) {
            a.close();
            return Ok(outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(base: Instant, t: u64) -> Instant {
        base + Duration::from_millis(t)
    }

    /// A record with one attempt every 2 ms from t=0 to t<`until`, outcome chosen by `f(t)`.
    fn record(base: Instant, until: u64, f: impl Fn(u64) -> ProbeOutcome) -> ProbeRecord {
        let probes = (0..until)
            .step_by(2)
            .map(|t| {
                let outcome = f(t);
                let dur = if outcome == ProbeOutcome::TimedOut {
                    20
                } else {
                    1
                };
                Probe {
                    start: ms(base, t),
                    end: ms(base, t + dur),
                    outcome,
                }
            })
            .collect();
        ProbeRecord::new(probes)
    }

    fn by(n: &str) -> ProbeOutcome {
        ProbeOutcome::Answered(n.to_owned())
    }

    #[test]
    fn outage_of_a_cut_spans_last_old_to_first_new_answer() {
        let base = Instant::now();
        // node1 serves until t=98, nothing from 100 to 398, node2 from 400.
        let rec = record(base, 600, |t| match t {
            0..100 => by("node1"),
            100..400 => ProbeOutcome::TimedOut,
            _ => by("node2"),
        });
        let o = rec.outage_after(ms(base, 101), Some("node2")).unwrap();
        assert_eq!(o.last_ok_before, ms(base, 98));
        assert_eq!(o.first_ok_after, ms(base, 400));
        assert_eq!(o.duration, Duration::from_millis(302));
        assert_eq!(o.since_event, Duration::from_millis(299));
        assert_eq!(o.failed_probes, 150);
        assert_eq!(o.interim_successes, 0);
        assert_eq!(o.last_ok_by.as_deref(), Some("node1"));
        assert_eq!(o.first_ok_by.as_deref(), Some("node2"));
    }

    #[test]
    fn attempts_in_flight_at_the_event_belong_to_the_outage() {
        let base = Instant::now();
        // The attempt started at t=96 times out at t=116, after the event at t=100.
        let rec = record(base, 400, |t| match t {
            0..96 => by("node1"),
            96..200 => ProbeOutcome::TimedOut,
            _ => by("node2"),
        });
        let o = rec.outage_after(ms(base, 100), None).unwrap();
        assert_eq!(o.last_ok_before, ms(base, 94));
        assert_eq!(o.first_ok_after, ms(base, 200));
    }

    #[test]
    fn old_node_answers_after_a_graceful_stop_do_not_end_the_outage() {
        let base = Instant::now();
        // Stop requested at t=50; node1 serves until t=148, refused until 300, node1 answers
        // once more at 300 (interim), node2 from 350.
        let rec = record(base, 500, |t| match t {
            0..150 => by("node1"),
            300 => by("node1"),
            150..350 => ProbeOutcome::Refused,
            _ => by("node2"),
        });
        let o = rec.outage_after(ms(base, 50), Some("node2")).unwrap();
        assert_eq!(o.last_ok_before, ms(base, 148));
        assert_eq!(o.first_ok_after, ms(base, 350));
        assert_eq!(o.interim_successes, 1);
        assert_eq!(o.failed_probes, 100 - 1);
        assert_eq!(o.since_event, Duration::from_millis(300));
    }

    #[test]
    fn a_switch_without_failures_is_one_interval() {
        let base = Instant::now();
        let rec = record(
            base,
            200,
            |t| if t < 100 { by("node1") } else { by("node2") },
        );
        let o = rec.outage_after(ms(base, 90), Some("node2")).unwrap();
        assert_eq!(o.duration, Duration::from_millis(2));
        assert_eq!(o.failed_probes, 0);
    }

    #[test]
    fn missing_recovery_and_missing_baseline_are_errors() {
        let base = Instant::now();
        let never = record(base, 100, |t| {
            if t < 50 {
                by("node1")
            } else {
                ProbeOutcome::Refused
            }
        });
        let err = never.outage_after(ms(base, 40), Some("node2")).unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("answered by node2") && msg.contains("refused x25"),
            "{msg}"
        );
        let no_base = record(base, 100, |t| {
            if t < 50 {
                ProbeOutcome::TimedOut
            } else {
                by("a")
            }
        });
        assert!(no_base.outage_after(ms(base, 10), None).is_err());
    }

    #[test]
    fn timeline_compresses_runs() {
        let base = Instant::now();
        let rec = record(base, 10, |t| {
            if t < 4 {
                by("node1")
            } else {
                ProbeOutcome::Refused
            }
        });
        assert_eq!(
            rec.timeline(ms(base, 4)),
            "[-4.0ms] node1 x2 | [+0.0ms] refused x3"
        );
        assert_eq!(ProbeRecord::default().timeline(base), "(no attempts)");
    }

    #[test]
    fn probe_once_classifies_refused_answered_and_timeout_on_loopback() {
        let cfg = ProbeConfig::default();
        // Refused: bind a port, learn it, close it.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let addr = SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port);
        assert_eq!(probe_once(addr, &cfg).unwrap(), ProbeOutcome::Refused);
        // Answered.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = match l.local_addr().unwrap() {
            std::net::SocketAddr::V4(a) => a,
            other => panic!("{other}"),
        };
        let server = thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = l.accept().unwrap();
            s.write_all(b"node7\n").unwrap();
            // Keep the listener alive until the client closed.
            let mut sink = Vec::new();
            let _ = s.read_to_end(&mut sink);
            l
        });
        assert_eq!(probe_once(addr, &cfg).unwrap(), by("node7"));
        // Connected but silent: the listener still exists, nobody accepts, so the handshake
        // completes in the backlog and no name ever arrives.
        let l = server.join().unwrap();
        let quick = ProbeConfig {
            reply_timeout: Duration::from_millis(20),
            ..cfg
        };
        assert_eq!(probe_once(addr, &quick).unwrap(), ProbeOutcome::NoAnswer);
        drop(l);
    }
}
