//! Tests of the agents' shared sh library, `resource-agents/lib/hb-agent.sh`
//! (docs/agents.md, "Writing an agent with lib/hb-agent.sh"): leveled logging and its debug
//! switch, the OCF exit reason, hb_die, the /proc readers, hb_pid_alive, the bounded waits
//! and hb_terminate.
//!
//! Each case is a short script that sources the library and prints what it observed; it runs
//! under `/bin/sh` and, when installed, under bash (the agents' `#!/bin/sh` is dash on Debian,
//! bash elsewhere), with a clean environment, in its own process group, which is killed
//! afterwards so that no child outlives a failing case. No root and no namespace needed.
//! Run with `cargo test -p hb-nstests --test agent_lib`.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use hb_nstests::repo_root;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// How long one script may run (the slowest case waits about 1.5 s on purpose).
const SCRIPT_LIMIT: Duration = Duration::from_secs(60);

/// What a script printed and how it ended.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn lib_dir() -> PathBuf {
    repo_root().join("resource-agents").join("lib")
}

/// The shells every case runs under: `/bin/sh`, and bash when installed.
fn shells() -> Vec<&'static str> {
    let mut shells = vec!["/bin/sh"];
    if Path::new("/bin/bash").exists() {
        shells.push("/bin/bash");
    }
    shells
}

/// Runs `body` under `shell` after sourcing the library as agent "t", with only PATH, `LIB`,
/// `DIR` (a scratch directory) and `env` in the environment.
fn run_in(shell: &str, body: &str, env: &[(&str, &str)]) -> Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let script =
        format!("HB_AGENT_NAME=t\n. \"$LIB/ocf-returncodes.sh\"\n. \"$LIB/hb-agent.sh\"\n{body}\n");
    let mut cmd = Command::new(shell);
    cmd.arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .env("LIB", lib_dir())
        .env("DIR", dir.path())
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let child = cmd.spawn().expect("run the shell");
    let group = Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let result = rx.recv_timeout(SCRIPT_LIMIT);
    // Whatever the script left behind (only when a case fails) goes with it.
    let _ = killpg(group, Signal::SIGKILL);
    let out = result
        .unwrap_or_else(|_| panic!("{shell}: script still running after {SCRIPT_LIMIT:?}: {body}"))
        .expect("wait for the shell");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `run_in` under every shell; `check` gets the shell's name and the outcome.
fn each_shell(body: &str, env: &[(&str, &str)], check: impl Fn(&str, &Out)) {
    for shell in shells() {
        let out = run_in(shell, body, env);
        check(shell, &out);
    }
}

/// The value printed as `NAME=VALUE` on a line of `out`'s stdout.
fn field<'a>(shell: &str, out: &'a Out, name: &str) -> &'a str {
    let prefix = format!("{name}=");
    out.stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("{shell}: no {name}= line in {out:?}"))
}

fn number(shell: &str, out: &Out, name: &str) -> i64 {
    let v = field(shell, out, name);
    v.parse()
        .unwrap_or_else(|_| panic!("{shell}: {name}={v:?} is not a number: {out:?}"))
}

const LOG_EVERY_LEVEL: &str = "hb_log info 'one line' with words\n\
     hb_log warn 'a warning'\n\
     hb_log err 'an error'\n\
     hb_log crit 'critical'\n\
     hb_log debug 'some detail'\n\
     hb_log notice 'unknown level'\n\
     echo done";

#[test]
fn hb_log_writes_name_prefixed_lines_on_stderr() {
    each_shell(LOG_EVERY_LEVEL, &[], |shell, out| {
        assert_eq!(out.code, 0, "{shell}: {out:?}");
        assert_eq!(out.stdout, "done\n", "{shell}: nothing on stdout");
        assert_eq!(
            out.stderr,
            "t: one line with words\n\
             t: a warning\n\
             t: an error\n\
             t: critical\n\
             t: unknown level\n",
            "{shell}: debug is off by default"
        );
    });
}

#[test]
fn debug_lines_are_written_only_when_ha_debug_or_ha_debug_upper_is_set() {
    let with_debug = "t: one line with words\n\
                      t: a warning\n\
                      t: an error\n\
                      t: critical\n\
                      t: DEBUG: some detail\n\
                      t: unknown level\n";
    for on in [("HA_debug", "1"), ("HA_DEBUG", "2"), ("HA_debug", "yes")] {
        each_shell(LOG_EVERY_LEVEL, &[on], |shell, out| {
            assert_eq!(out.stderr, with_debug, "{shell} with {on:?}");
        });
    }
    for off in [("HA_debug", "0"), ("HA_debug", ""), ("HA_DEBUG", "0")] {
        each_shell(LOG_EVERY_LEVEL, &[off], |shell, out| {
            assert!(
                !out.stderr.contains("DEBUG"),
                "{shell} with {off:?}: {out:?}"
            );
            assert_eq!(out.stderr.lines().count(), 5, "{shell} with {off:?}");
        });
    }
}

#[test]
fn hb_exit_reason_prints_the_ocf_exit_reason_line() {
    // One argument is the message as is: no printf format, so '%' is kept.
    let body = "hb_exit_reason 'start failed: 100% of 3 tries' ; echo rc=$?";
    each_shell(body, &[], |shell, out| {
        assert_eq!(out.stdout, "rc=0\n", "{shell}");
        assert_eq!(
            out.stderr, "ocf-exit-reason:start failed: 100% of 3 tries\n",
            "{shell}"
        );
    });
    // The caller may choose the prefix (Pacemaker passes OCF_EXIT_REASON_PREFIX); an empty
    // one means the default.
    each_shell(
        body,
        &[("OCF_EXIT_REASON_PREFIX", "why> ")],
        |shell, out| {
            assert_eq!(
                out.stderr, "why> start failed: 100% of 3 tries\n",
                "{shell}"
            );
        },
    );
    each_shell(body, &[("OCF_EXIT_REASON_PREFIX", "")], |shell, out| {
        assert_eq!(
            out.stderr, "ocf-exit-reason:start failed: 100% of 3 tries\n",
            "{shell}"
        );
    });
}

#[test]
fn hb_fail_and_hb_die_add_the_exit_reason() {
    let fail = "hb_fail 'the URL did not answer' ; echo rc=$?";
    each_shell(fail, &[], |shell, out| {
        assert_eq!(out.stdout, "rc=0\n", "{shell}: hb_fail returns");
        assert_eq!(
            out.stderr, "t: the URL did not answer\nocf-exit-reason:the URL did not answer\n",
            "{shell}"
        );
    });
    each_shell(
        fail,
        &[("OCF_EXIT_REASON_PREFIX", "why> ")],
        |shell, out| {
            assert_eq!(
                out.stderr, "t: the URL did not answer\nwhy> the URL did not answer\n",
                "{shell}: the caller's prefix"
            );
        },
    );

    let die = "hb_die \"$OCF_ERR_CONFIGURED\" \"port '0' is not a port number\"\necho not reached";
    each_shell(die, &[], |shell, out| {
        assert_eq!(out.code, 6, "{shell}: {out:?}");
        assert_eq!(out.stdout, "", "{shell}");
        assert_eq!(
            out.stderr,
            "t: port '0' is not a port number\nocf-exit-reason:port '0' is not a port number\n",
            "{shell}"
        );
    });

    let helper = "hb_need_helper sh && echo found\nhb_need_helper /nonexistent/x\necho not reached";
    each_shell(helper, &[], |shell, out| {
        assert_eq!(out.code, 5, "{shell}: {out:?}");
        assert_eq!(out.stdout, "found\n", "{shell}");
        assert!(
            out.stderr
                .starts_with("t: helper '/nonexistent/x' not found (PATH="),
            "{shell}: {out:?}"
        );
    });
}

#[test]
fn hb_pid_alive_tells_live_from_dead_and_zombie_processes() {
    // The zombie is a grandchild whose parent (exec'd into sleep) never reaps it, so it stays
    // a zombie however the shells reap their own children.
    let body = r#"
for p in "$$" 1; do hb_pid_alive "$p" && echo "alive=$p"; done
for p in '' abc 12x -1; do hb_pid_alive "$p" || echo "refused=$p"; done
mkfifo "$DIR/pid"
sh -c 'sleep 600 & echo $! >"$1"; exec sleep 600' sh "$DIR/pid" >/dev/null 2>&1 &
parent=$!
read -r child <"$DIR/pid"
# Once the parent is sleep (after its exec) nothing reaps the child.
hb_deadline 10000
until hb_proc_stat "$parent" && [ "$hb_proc_comm" = sleep ]; do
    hb_expired && break
    hb_nap
done
hb_pid_alive "$child" && echo child=alive
kill -s KILL "$child"
hb_wait_gone "$child" 10000 && echo gone=yes
IFS= read -r stat <"/proc/$child/stat"
state=${stat##*) }
echo "state=${state%% *}"
hb_pid_alive "$parent" && echo parent=alive
kill -s KILL "$parent"
wait "$parent" 2>/dev/null
echo "status=$?"
hb_pid_alive "$parent" || echo reaped=dead
"#;
    each_shell(body, &[], |shell, out| {
        assert_eq!(stderr_sans_job_reports(out), Vec::<&str>::new(), "{shell}");
        assert!(out.stdout.contains("alive=1\n"), "{shell}: {out:?}");
        assert_eq!(
            out.stdout
                .lines()
                .filter(|l| l.starts_with("alive="))
                .count(),
            2,
            "{shell}: the shell itself and init: {out:?}"
        );
        for bad in ["", "abc", "12x", "-1"] {
            assert!(
                out.stdout.contains(&format!("refused={bad}\n")),
                "{shell}: {bad:?} is no pid: {out:?}"
            );
        }
        assert_eq!(field(shell, out, "child"), "alive");
        assert_eq!(field(shell, out, "gone"), "yes");
        assert_eq!(field(shell, out, "state"), "Z", "{shell}: a zombie");
        assert_eq!(field(shell, out, "parent"), "alive");
        assert_eq!(field(shell, out, "status"), "137", "{shell}: KILL");
        assert_eq!(field(shell, out, "reaped"), "dead");
    });
}

#[test]
fn proc_readers_parse_stat_and_cmdline() {
    // A process whose name has a blank and a parenthesis, as /proc/PID/stat shows it.
    let body = r#"
ln -s "$(command -v sleep)" "$DIR/we) ird"
"$DIR/we) ird" 600 >/dev/null 2>&1 &
child=$!
# Until the exec the child is a copy of this shell: wait for the name to change.
hb_deadline 10000
until hb_proc_stat "$child" && [ "$hb_proc_comm" = "we) ird" ]; do
    hb_expired && break
    hb_nap
done
echo "comm=$hb_proc_comm"
echo "state=$hb_proc_state"
echo "session=$hb_proc_session"
hb_proc_stat "$$"
echo "own_session=$hb_proc_session"
hb_proc_cmdline "$child"
echo "cmdline=$hb_proc_cmdline"
hb_proc_args "$child"
echo "args=$hb_proc_args|"
kill -s KILL "$child"
wait "$child" 2>/dev/null
hb_proc_stat "$child" || echo stat=none
hb_proc_cmdline "$child"
echo "gone_cmdline=$hb_proc_cmdline|"
"#;
    each_shell(body, &[], |shell, out| {
        assert_eq!(stderr_sans_job_reports(out), Vec::<&str>::new(), "{shell}");
        assert_eq!(field(shell, out, "comm"), "we) ird", "{shell}: {out:?}");
        assert!(
            matches!(field(shell, out, "state"), "S" | "R"),
            "{shell}: {out:?}"
        );
        assert_eq!(
            field(shell, out, "session"),
            field(shell, out, "own_session"),
            "{shell}: the child is in the script's session"
        );
        assert_ne!(field(shell, out, "session"), "", "{shell}");
        let dir_path = out
            .stdout
            .lines()
            .find_map(|l| l.strip_prefix("args="))
            .and_then(|a| a.strip_suffix(" 600 |"))
            .unwrap_or_else(|| panic!("{shell}: args: {out:?}"));
        assert!(dir_path.ends_with("/we) ird"), "{shell}: {out:?}");
        // The title reader drops the NUL separators; the argument reader keeps them apart.
        assert_eq!(
            field(shell, out, "cmdline"),
            format!("{dir_path}600"),
            "{shell}"
        );
        assert_eq!(field(shell, out, "stat"), "none", "{shell}");
        assert_eq!(field(shell, out, "gone_cmdline"), "|", "{shell}");
    });
}

#[test]
fn deadlines_expire_on_the_clock_or_on_the_poll_budget() {
    let body = r#"
hb_deadline 60000
hb_expired && echo early=yes
hb_remaining_ms
echo "left=$hb_left_ms"
hb_deadline 0
hb_expired && echo zero=expired
# Without a clock (it stands still) the poll budget still ends the wait: MS/10 + 2 naps.
hb_now() { hb_now_cs=100; }
hb_deadline 50
naps=0
until hb_expired; do hb_nap; naps=$((naps + 1)); done
echo "naps=$naps"
"#;
    each_shell(body, &[], |shell, out| {
        assert_eq!(out.stderr, "", "{shell}");
        assert!(!out.stdout.contains("early="), "{shell}: {out:?}");
        let left = number(shell, out, "left");
        assert!((59_000..=60_000).contains(&left), "{shell}: {out:?}");
        assert_eq!(field(shell, out, "zero"), "expired", "{shell}");
        assert_eq!(number(shell, out, "naps"), 7, "{shell}");
    });
}

#[test]
fn hb_terminate_ends_a_process_that_obeys_term() {
    let body = r#"
sleep 600 >/dev/null 2>&1 &
child=$!
hb_now; t0=$hb_now_cs
hb_terminate "$child" 20000 20000
echo "rc=$?"
hb_now; echo "cs=$((hb_now_cs - t0))"
wait "$child" 2>/dev/null
echo "status=$?"
# Nothing left to end: 0 at once, and no signal sent anywhere.
hb_terminate "$child" 20000 20000
echo "again=$?"
hb_terminate '' 20000 20000
echo "empty=$?"
"#;
    each_shell(body, &[("HA_debug", "1")], |shell, out| {
        assert_eq!(field(shell, out, "rc"), "0", "{shell}: {out:?}");
        assert!(
            number(shell, out, "cs") < 1000,
            "{shell}: did not wait for TERM_MS: {out:?}"
        );
        assert_eq!(field(shell, out, "status"), "143", "{shell}: TERM");
        assert_eq!(field(shell, out, "again"), "0", "{shell}");
        assert_eq!(field(shell, out, "empty"), "0", "{shell}");
        // Debug lines say what was sent; KILL was not.
        assert_eq!(
            agent_lines(out),
            [format!(
                "t: DEBUG: sending TERM to process {}",
                pid_of_debug_line(shell, out)
            )],
            "{shell}"
        );
    });
}

/// The library's lines on stderr (those of agent "t"): bash also reports there, at a time of
/// its choosing, a background job that a signal killed.
fn agent_lines(out: &Out) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("t: "))
        .collect()
}

/// stderr without bash's reports of background jobs killed by a signal
/// ("/bin/bash: line 24:  3126 Killed    sleep 600").
fn stderr_sans_job_reports(out: &Out) -> Vec<&str> {
    out.stderr
        .lines()
        .filter(|l| !l.contains(" Killed ") && !l.contains(" Terminated "))
        .collect()
}

/// The pid named by the first "sending TERM" debug line.
fn pid_of_debug_line(shell: &str, out: &Out) -> String {
    out.stderr
        .lines()
        .find_map(|l| l.strip_prefix("t: DEBUG: sending TERM to process "))
        .unwrap_or_else(|| panic!("{shell}: no TERM debug line: {out:?}"))
        .to_owned()
}

#[test]
fn hb_terminate_kills_a_process_that_ignores_term_after_term_ms() {
    // The child ignores TERM before it says it is ready (through a FIFO the script reads), so
    // TERM can never reach it with the default action.
    let body = r#"
mkfifo "$DIR/ready"
sh -c 'trap "" TERM; echo ready >"$1"; exec sleep 600' sh "$DIR/ready" >/dev/null 2>&1 &
child=$!
read -r ready <"$DIR/ready"
echo "child=$ready"
hb_now; t0=$hb_now_cs
hb_terminate "$child" 300 20000
echo "rc=$?"
hb_now; echo "cs=$((hb_now_cs - t0))"
wait "$child" 2>/dev/null
echo "status=$?"
"#;
    each_shell(body, &[("HA_debug", "1")], |shell, out| {
        assert_eq!(field(shell, out, "child"), "ready", "{shell}: {out:?}");
        assert_eq!(field(shell, out, "rc"), "1", "{shell}: took KILL: {out:?}");
        let cs = number(shell, out, "cs");
        assert!(
            (30..1000).contains(&cs),
            "{shell}: waited TERM_MS (300 ms), not KILL_MS: {cs} cs: {out:?}"
        );
        assert_eq!(field(shell, out, "status"), "137", "{shell}: KILL");
        let pid = pid_of_debug_line(shell, out);
        assert_eq!(
            agent_lines(out),
            [
                format!("t: DEBUG: sending TERM to process {pid}"),
                format!("t: DEBUG: process {pid} still runs 300 ms after TERM; sending KILL"),
            ],
            "{shell}"
        );
    });
}

#[test]
fn hb_terminate_reports_a_process_that_survives_kill() {
    // No process survives KILL on demand; a liveness check that always says "alive" stands in
    // for one (the child itself dies of the TERM).
    let body = r#"
sleep 600 >/dev/null 2>&1 &
child=$!
hb_pid_alive() { return 0; }
hb_now; t0=$hb_now_cs
hb_terminate "$child" 200 300
echo "rc=$?"
hb_now; echo "cs=$((hb_now_cs - t0))"
wait "$child" 2>/dev/null
echo "status=$?"
"#;
    each_shell(body, &[], |shell, out| {
        assert_eq!(field(shell, out, "rc"), "2", "{shell}: {out:?}");
        let cs = number(shell, out, "cs");
        assert!(
            (50..1500).contains(&cs),
            "{shell}: waited TERM_MS and KILL_MS (500 ms): {cs} cs: {out:?}"
        );
        assert_eq!(
            field(shell, out, "status"),
            "143",
            "{shell}: TERM came first"
        );
        assert_eq!(
            agent_lines(out),
            Vec::<&str>::new(),
            "{shell}: debug is off"
        );
    });
}
