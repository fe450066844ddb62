//! The real-server watcher's state machine, free of I/O: check results go in, transitions
//! (log events and ipvsadm table operations) come out. The daemon around it
//! ([`crate::daemon`]) runs the checks, executes the operations and writes the logs.
//!
//! Rules (keepalived's, except where noted):
//! * every server starts **up** and in the table (the agent put it there);
//! * an up server is declared **gone** after `retries` consecutive failed checks; between
//!   those the next check comes after `delay_before_retry` instead of the check interval;
//! * a gone server is checked every interval and is **back** after one successful check;
//! * the table holds exactly the up servers, except under [`LastServerPolicy::Keep`], where
//!   the last server to fail stays in while no server is up;
//! * when the last up server goes, a [`Transition::NoServerLeft`] is emitted whatever the
//!   policy, so the daemon can log it loudly; adds are emitted before removes so the table
//!   never empties in between.
//!
//! Table operations the daemon could not carry out are reported back with
//! [`Watcher::op_failed`] and retried after the next check of any server.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use hb_time::rfc3339_millis;

use crate::addr::RealServer;

/// What happens when every real server has failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LastServerPolicy {
    /// Remove it like any other (keepalived's behaviour): the table shows the truth and
    /// clients get a fast failure instead of a hang on a dead server. The default.
    Remove,
    /// Keep the last failed server in the table while no server is up: a wrong health check
    /// (bad URL, firewall on the check port) cannot take the whole service down.
    Keep,
}

/// Timing of the checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Consecutive failed checks before an up server is declared gone (at least 1).
    pub retries: u32,
    /// Pause between the end of one check and the next one.
    pub interval: Duration,
    /// Pause after a failed check of an up server, before the next try.
    pub delay_before_retry: Duration,
}

/// Health of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Passing its checks (or not yet failed enough).
    Up,
    /// Declared gone.
    Down,
}

impl Health {
    /// `up` or `down`, as the state file writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Up => "up",
            Health::Down => "down",
        }
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check passed.
    Passed,
    /// The check failed, for this reason (`connect refused`, `HTTP status 503, expected 200`).
    Failed(String),
}

/// Something the daemon must do or log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// A failed check of an up server that is not gone yet (`try_no` of `retries`).
    Retrying {
        /// The server.
        server: SocketAddr,
        /// Why the check failed.
        reason: String,
        /// Consecutive failures so far.
        try_no: u32,
        /// Failures that make it gone.
        retries: u32,
    },
    /// The server was declared gone.
    Gone {
        /// The server.
        server: SocketAddr,
        /// Why its last check failed.
        reason: String,
        /// Consecutive failed checks.
        tries: u32,
    },
    /// The server passed a check after being gone.
    Back {
        /// The server.
        server: SocketAddr,
        /// No server was up before this one came back.
        restored: bool,
    },
    /// `ipvsadm -a` the server.
    Add {
        /// The server.
        server: SocketAddr,
        /// Its weight.
        weight: u32,
    },
    /// `ipvsadm -d` the server.
    Remove {
        /// The server.
        server: SocketAddr,
    },
    /// The last up server went: no server passes its checks any more.
    NoServerLeft {
        /// The server that failed last.
        last: SocketAddr,
        /// How many real servers the service has.
        total: usize,
        /// Whether `last` stays in the table ([`LastServerPolicy::Keep`]).
        kept: bool,
    },
}

/// One real server's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerState {
    /// Address and weight.
    pub server: RealServer,
    /// Up or down.
    pub health: Health,
    /// Consecutive failed checks.
    pub failures: u32,
    /// When the current health began (the watcher's start for servers never changed).
    pub since: SystemTime,
    /// Whether the server is in the ipvsadm table, as far as the watcher knows.
    pub in_table: bool,
    /// Why the latest failed check failed.
    pub last_failure: Option<String>,
}

/// The state machine for one virtual service.
#[derive(Debug, Clone)]
pub struct Watcher {
    timing: Timing,
    policy: LastServerPolicy,
    servers: Vec<ServerState>,
    /// Under [`LastServerPolicy::Keep`]: the down server kept in the table.
    kept: Option<SocketAddr>,
}

impl Watcher {
    /// Every server up and in the table, as of `now`. `timing.retries` below 1 counts as 1.
    pub fn new(
        servers: &[RealServer],
        timing: Timing,
        policy: LastServerPolicy,
        now: SystemTime,
    ) -> Self {
        Watcher {
            timing: Timing {
                retries: timing.retries.max(1),
                ..timing
            },
            policy,
            servers: servers
                .iter()
                .map(|s| ServerState {
                    server: *s,
                    health: Health::Up,
                    failures: 0,
                    since: now,
                    in_table: true,
                    last_failure: None,
                })
                .collect(),
            kept: None,
        }
    }

    /// The servers, in configuration order.
    pub fn servers(&self) -> &[ServerState] {
        &self.servers
    }

    /// How many servers are up.
    pub fn up_count(&self) -> usize {
        self.servers
            .iter()
            .filter(|s| s.health == Health::Up)
            .count()
    }

    fn index(&self, server: SocketAddr) -> Option<usize> {
        self.servers.iter().position(|s| s.server.addr == server)
    }

    /// Feeds the result of a check of `server` at wall-clock time `now`. Unknown servers are
    /// ignored (no transitions).
    pub fn observe(
        &mut self,
        server: SocketAddr,
        outcome: Outcome,
        now: SystemTime,
    ) -> Vec<Transition> {
        let Some(i) = self.index(server) else {
            return Vec::new();
        };
        let up_before = self.up_count();
        let mut out = Vec::new();
        let retries = self.timing.retries;
        let s = &mut self.servers[i];
        match (outcome, s.health) {
            (Outcome::Passed, Health::Up) => s.failures = 0,
            (Outcome::Passed, Health::Down) => {
                s.health = Health::Up;
                s.failures = 0;
                s.since = now;
                self.kept = None;
                out.push(Transition::Back {
                    server,
                    restored: up_before == 0,
                });
            }
            (Outcome::Failed(reason), Health::Up) => {
                s.failures = s.failures.saturating_add(1);
                s.last_failure = Some(reason.clone());
                if s.failures >= retries {
                    s.health = Health::Down;
                    s.since = now;
                    out.push(Transition::Gone {
                        server,
                        reason,
                        tries: s.failures,
                    });
                } else {
                    out.push(Transition::Retrying {
                        server,
                        reason,
                        try_no: s.failures,
                        retries,
                    });
                }
            }
            (Outcome::Failed(reason), Health::Down) => {
                s.failures = s.failures.saturating_add(1);
                s.last_failure = Some(reason);
            }
        }
        let last_went = up_before > 0 && self.up_count() == 0;
        if last_went && self.policy == LastServerPolicy::Keep {
            self.kept = Some(server);
        }
        out.extend(self.reconcile());
        if last_went {
            out.push(Transition::NoServerLeft {
                last: server,
                total: self.servers.len(),
                kept: self.kept == Some(server),
            });
        }
        out
    }

    fn wanted_in_table(&self, s: &ServerState) -> bool {
        s.health == Health::Up || self.kept == Some(s.server.addr)
    }

    /// Table operations that make the table match the wanted state, adds first.
    fn reconcile(&mut self) -> Vec<Transition> {
        let wanted: Vec<bool> = self
            .servers
            .iter()
            .map(|s| self.wanted_in_table(s))
            .collect();
        let mut adds = Vec::new();
        let mut removes = Vec::new();
        for (s, want) in self.servers.iter_mut().zip(wanted) {
            if want && !s.in_table {
                s.in_table = true;
                adds.push(Transition::Add {
                    server: s.server.addr,
                    weight: s.server.weight,
                });
            } else if !want && s.in_table {
                s.in_table = false;
                removes.push(Transition::Remove {
                    server: s.server.addr,
                });
            }
        }
        adds.extend(removes);
        adds
    }

    /// Reports that a [`Transition::Add`] or [`Transition::Remove`] could not be carried out:
    /// the table is assumed unchanged, and the operation is emitted again after the next
    /// check.
    pub fn op_failed(&mut self, op: &Transition) {
        let (server, in_table) = match op {
            Transition::Add { server, .. } => (*server, false),
            Transition::Remove { server } => (*server, true),
            _ => return,
        };
        if let Some(i) = self.index(server) {
            self.servers[i].in_table = in_table;
        }
    }

    /// How long to wait before the next check of `server`: `delay_before_retry` while an up
    /// server is failing, otherwise the interval.
    pub fn next_check_in(&self, server: SocketAddr) -> Duration {
        match self.index(server).map(|i| &self.servers[i]) {
            Some(s) if s.health == Health::Up && s.failures > 0 => self.timing.delay_before_retry,
            _ => self.timing.interval,
        }
    }

    /// The state file: one line per server, `ADDRESS up|down SINCE`, in configuration order.
    pub fn render_state(&self) -> String {
        self.servers
            .iter()
            .map(|s| {
                format!(
                    "{} {} {}\n",
                    s.server.addr,
                    s.health.as_str(),
                    rfc3339_millis(s.since)
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const A: &str = "192.0.2.11:80";
    const B: &str = "192.0.2.12:80";

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_527_900_000 + ms)
    }

    fn watcher(retries: u32, policy: LastServerPolicy) -> Watcher {
        let servers = [
            RealServer {
                addr: sa(A),
                weight: 1,
            },
            RealServer {
                addr: sa(B),
                weight: 2,
            },
        ];
        Watcher::new(
            &servers,
            Timing {
                retries,
                interval: Duration::from_secs(5),
                delay_before_retry: Duration::from_secs(1),
            },
            policy,
            t(0),
        )
    }

    fn fail(w: &mut Watcher, s: &str, at: u64) -> Vec<Transition> {
        w.observe(sa(s), Outcome::Failed("connect refused".into()), t(at))
    }

    fn pass(w: &mut Watcher, s: &str, at: u64) -> Vec<Transition> {
        w.observe(sa(s), Outcome::Passed, t(at))
    }

    #[test]
    fn gone_only_after_retries_consecutive_failures() {
        let mut w = watcher(3, LastServerPolicy::Remove);
        assert_eq!(w.next_check_in(sa(A)), Duration::from_secs(5));
        assert_eq!(
            fail(&mut w, A, 1),
            vec![Transition::Retrying {
                server: sa(A),
                reason: "connect refused".into(),
                try_no: 1,
                retries: 3
            }]
        );
        assert_eq!(w.next_check_in(sa(A)), Duration::from_secs(1));
        // A success in between resets the count.
        assert_eq!(pass(&mut w, A, 2), vec![]);
        assert_eq!(w.next_check_in(sa(A)), Duration::from_secs(5));
        assert_eq!(fail(&mut w, A, 3).len(), 1);
        assert_eq!(fail(&mut w, A, 4).len(), 1);
        assert_eq!(
            fail(&mut w, A, 5),
            vec![
                Transition::Gone {
                    server: sa(A),
                    reason: "connect refused".into(),
                    tries: 3
                },
                Transition::Remove { server: sa(A) },
            ]
        );
        let a = &w.servers()[0];
        assert_eq!((a.health, a.in_table, a.since), (Health::Down, false, t(5)));
        // A gone server is checked at the normal interval and failures are quiet.
        assert_eq!(w.next_check_in(sa(A)), Duration::from_secs(5));
        assert_eq!(fail(&mut w, A, 6), vec![]);
        assert_eq!(
            w.render_state(),
            "192.0.2.11:80 down 2026-11-24T13:45:00.005Z\n\
             192.0.2.12:80 up 2026-11-24T13:45:00.000Z\n"
        );
    }

    #[test]
    fn back_after_one_success_and_re_added_with_its_weight() {
        let mut w = watcher(1, LastServerPolicy::Remove);
        assert_eq!(fail(&mut w, B, 1).len(), 2);
        assert_eq!(
            pass(&mut w, B, 9),
            vec![
                Transition::Back {
                    server: sa(B),
                    restored: false
                },
                Transition::Add {
                    server: sa(B),
                    weight: 2
                },
            ]
        );
        let b = &w.servers()[1];
        assert_eq!((b.health, b.in_table, b.since), (Health::Up, true, t(9)));
        assert_eq!(pass(&mut w, B, 10), vec![]);
    }

    #[test]
    fn removing_the_last_server_is_announced_and_its_return_too() {
        let mut w = watcher(1, LastServerPolicy::Remove);
        fail(&mut w, A, 1);
        assert_eq!(
            fail(&mut w, B, 2),
            vec![
                Transition::Gone {
                    server: sa(B),
                    reason: "connect refused".into(),
                    tries: 1
                },
                Transition::Remove { server: sa(B) },
                Transition::NoServerLeft {
                    last: sa(B),
                    total: 2,
                    kept: false
                },
            ]
        );
        assert_eq!(w.up_count(), 0);
        assert!(w.servers().iter().all(|s| !s.in_table));
        assert_eq!(
            pass(&mut w, A, 3),
            vec![
                Transition::Back {
                    server: sa(A),
                    restored: true
                },
                Transition::Add {
                    server: sa(A),
                    weight: 1
                },
            ]
        );
    }

    #[test]
    fn keep_policy_keeps_the_last_server_until_another_is_back() {
        let mut w = watcher(2, LastServerPolicy::Keep);
        fail(&mut w, A, 1);
        assert_eq!(fail(&mut w, A, 2)[1], Transition::Remove { server: sa(A) });
        fail(&mut w, B, 3);
        assert_eq!(
            fail(&mut w, B, 4),
            vec![
                Transition::Gone {
                    server: sa(B),
                    reason: "connect refused".into(),
                    tries: 2
                },
                Transition::NoServerLeft {
                    last: sa(B),
                    total: 2,
                    kept: true
                },
            ]
        );
        assert!(w.servers()[1].in_table && w.servers()[1].health == Health::Down);
        // A comes back: it is added first, then the kept (dead) B goes.
        assert_eq!(
            pass(&mut w, A, 5),
            vec![
                Transition::Back {
                    server: sa(A),
                    restored: true
                },
                Transition::Add {
                    server: sa(A),
                    weight: 1
                },
                Transition::Remove { server: sa(B) },
            ]
        );
        assert!(!w.servers()[1].in_table);
    }

    #[test]
    fn keep_policy_kept_server_recovering_needs_no_table_change() {
        let mut w = watcher(1, LastServerPolicy::Keep);
        fail(&mut w, A, 1);
        fail(&mut w, B, 2);
        assert_eq!(
            pass(&mut w, B, 3),
            vec![Transition::Back {
                server: sa(B),
                restored: true
            }]
        );
        assert!(w.servers()[1].in_table);
    }

    #[test]
    fn failed_table_operations_are_retried_after_the_next_check() {
        let mut w = watcher(1, LastServerPolicy::Remove);
        let ops = fail(&mut w, A, 1);
        let remove = Transition::Remove { server: sa(A) };
        assert_eq!(ops[1], remove);
        w.op_failed(&remove);
        assert!(w.servers()[0].in_table);
        // The next check of any server (here B) emits the remove again.
        assert_eq!(pass(&mut w, B, 2), vec![remove.clone()]);
        assert_eq!(pass(&mut w, B, 3), vec![]);

        let ops = pass(&mut w, A, 4);
        let add = Transition::Add {
            server: sa(A),
            weight: 1,
        };
        assert_eq!(ops[1], add);
        w.op_failed(&add);
        assert_eq!(pass(&mut w, A, 5), vec![add]);
        // Non-table transitions and unknown servers are ignored.
        w.op_failed(&Transition::Back {
            server: sa(A),
            restored: false,
        });
        w.op_failed(&Transition::Remove {
            server: sa("192.0.2.99:80"),
        });
        assert!(w.servers()[0].in_table);
    }

    #[test]
    fn unknown_servers_and_zero_retries_are_harmless() {
        let mut w = watcher(0, LastServerPolicy::Remove);
        assert_eq!(fail(&mut w, "192.0.2.99:80", 1), vec![]);
        // retries 0 behaves as 1.
        assert!(matches!(
            fail(&mut w, A, 2)[0],
            Transition::Gone { tries: 1, .. }
        ));
        assert_eq!(w.next_check_in(sa("192.0.2.99:80")), Duration::from_secs(5));
    }
}
