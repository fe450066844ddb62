# shellcheck shell=sh
# Helpers shared by heartbeat-rs resource agents (docs/agents.md, "Writing an agent with
# lib/hb-agent.sh"). Needs lib/ocf-returncodes.sh sourced first and HB_AGENT_NAME set to the
# agent's name (the prefix of its messages). Sourcing this file only defines functions.
#
# Agents run on the takeover path, where every fork counts: everything here is shell
# built-ins, except hb_nap (sleep) and hb_proc_args (tr), which say so. Variables set for
# the caller are named hb_*; the functions keep their own state in hb_* variables as well.
# Linux only: processes are read from /proc.

# ----- messages ----------------------------------------------------------------------------

# hb_debug_enabled: whether debug lines are written: HA_debug (ClusterLabs' agents, which
# ocf-tester -d and Pacemaker set) or HA_DEBUG (exported by Heartbeat 3) is set to anything
# but empty or 0.
hb_debug_enabled() {
    case ${HA_debug:-0} in
        0) ;;
        *) return 0 ;;
    esac
    case ${HA_DEBUG:-0} in
        0) return 1 ;;
    esac
    return 0
}

# hb_log LEVEL MESSAGE...: one line on stderr (the daemon logs an agent's stderr). LEVEL is
# debug, info, warn or err (crit is taken as err). info, warn and err lines read
# "NAME: MESSAGE"; debug lines read "NAME: DEBUG: MESSAGE" and are written only when
# hb_debug_enabled. The words of MESSAGE are joined as "$*" joins them. An unknown LEVEL is
# written like info: a message is never lost.
hb_log() {
    hb_log_level=$1
    shift
    case $hb_log_level in
        debug)
            hb_debug_enabled || return 0
            printf '%s: DEBUG: %s\n' "$HB_AGENT_NAME" "$*" >&2
            ;;
        *)
            printf '%s: %s\n' "$HB_AGENT_NAME" "$*" >&2
            ;;
    esac
    return 0
}

# hb_exit_reason MESSAGE...: the OCF exit reason, one line on stderr: the prefix
# OCF_EXIT_REASON_PREFIX (default "ocf-exit-reason:"), then MESSAGE, nothing between them.
# A cluster manager (Pacemaker) shows it as the human reason for a failure.
hb_exit_reason() {
    printf '%s%s\n' "${OCF_EXIT_REASON_PREFIX:-ocf-exit-reason:}" "$*" >&2
}

# hb_fail MESSAGE...: reports why the action fails (the caller then returns or exits with a
# failure code): MESSAGE at level err, then as the OCF exit reason, as ClusterLabs' agents
# report every failure (ocf_exit_reason).
hb_fail() {
    hb_log err "$@"
    hb_exit_reason "$@"
}

# hb_die CODE MESSAGE...: hb_fail MESSAGE, then exit with CODE.
hb_die() {
    hb_die_code=$1
    shift
    hb_fail "$@"
    exit "$hb_die_code"
}

# hb_find_helper COMMAND: sets hb_helper to the program to run for COMMAND and returns 0, or
# returns 1 (hb_helper empty) when there is none. A COMMAND holding a '/' is taken as it is
# (it must be an executable regular file). A name is looked up in the directories of PATH
# (empty entries skipped), then in /usr/local/sbin and /usr/sbin: the Debian package
# installs hb-addr and hb-check in /usr/sbin, and an agent run with a minimal PATH (cron's
# /usr/bin:/bin, a manager that sets its own) must still find them; the order is the one of
# the daemon's agent PATH, so both find the same program. hb_helper is then a full path.
# Shell built-ins only: no process is started.
# shellcheck disable=SC2034 # hb_helper is for the caller
hb_find_helper() {
    hb_helper=
    case $1 in
        '') return 1 ;;
        */*)
            [ -f "$1" ] && [ -x "$1" ] || return 1
            hb_helper=$1
            return 0
            ;;
    esac
    hb_find_rest=${PATH-}:/usr/local/sbin:/usr/sbin
    while :; do
        hb_find_dir=${hb_find_rest%%:*}
        if [ -n "$hb_find_dir" ] && [ -f "$hb_find_dir/$1" ] && [ -x "$hb_find_dir/$1" ]; then
            hb_helper=$hb_find_dir/$1
            return 0
        fi
        case $hb_find_rest in
            *:*) hb_find_rest=${hb_find_rest#*:} ;;
            *) return 1 ;;
        esac
    done
}

# hb_need_helper COMMAND: hb_find_helper COMMAND (hb_helper is the program to run), or exit
# OCF_ERR_INSTALLED.
hb_need_helper() {
    hb_find_helper "$1" ||
        hb_die "$OCF_ERR_INSTALLED" "helper '$1' not found (PATH=${PATH-}, then /usr/local/sbin and /usr/sbin)"
}

# ----- time --------------------------------------------------------------------------------

# hb_now: sets hb_now_cs to the time since boot in centiseconds (/proc/uptime; 0 if it
# cannot be read).
hb_now() {
    hb_up=
    { read -r hb_up _ </proc/uptime; } 2>/dev/null
    case $hb_up in
        *[0-9].[0-9][0-9]) hb_up=${hb_up%.*}${hb_up#*.} ;;
        *) hb_up=0 ;;
    esac
    hb_up=${hb_up#"${hb_up%%[!0]*}"}
    hb_now_cs=${hb_up:-0}
}

# hb_deadline MS: starts a bounded wait of MS milliseconds (see hb_expired, hb_nap,
# hb_remaining_ms). There is one deadline at a time; hb_wait_gone and hb_terminate set it.
hb_deadline() {
    hb_now
    hb_deadline_cs=$((hb_now_cs + $1 / 10))
    # Every nap lasts at least 10 ms: a second bound that holds even without a clock.
    hb_polls_left=$(($1 / 10 + 2))
    hb_nap_step=0
}

# hb_expired: true once the deadline has passed (or the poll budget is used up).
hb_expired() {
    hb_now
    [ "$hb_now_cs" -ge "$hb_deadline_cs" ] || [ "$hb_polls_left" -le 0 ]
}

# hb_remaining_ms: sets hb_left_ms to the milliseconds left before the deadline (>= 0).
hb_remaining_ms() {
    hb_now
    hb_left_ms=$(((hb_deadline_cs - hb_now_cs) * 10))
    [ "$hb_left_ms" -ge 0 ] || hb_left_ms=0
}

# hb_nap: sleeps between two polls (runs sleep): 10 ms five times, then 20 ms three times,
# then 50 and 100 ms, then 200 ms, so that a quick change is seen quickly and a slow one
# costs few processes.
hb_nap() {
    hb_polls_left=$((hb_polls_left - 1))
    case $hb_nap_step in
        [0-4]) sleep 0.01 ;;
        [5-7]) sleep 0.02 ;;
        8) sleep 0.05 ;;
        9) sleep 0.1 ;;
        *) sleep 0.2 ;;
    esac
    hb_nap_step=$((hb_nap_step + 1))
}

# ----- processes ---------------------------------------------------------------------------

# hb_proc_stat PID: reads /proc/PID/stat into hb_proc_comm (the name, at most 15 bytes),
# hb_proc_state and hb_proc_session. False if the process does not exist or is a zombie.
# shellcheck disable=SC2034 # the hb_proc_* variables are for the caller
hb_proc_stat() {
    hb_stat=
    { IFS= read -r hb_stat <"/proc/$1/stat"; } 2>/dev/null
    [ -n "$hb_stat" ] || return 1
    # "PID (COMM) state ppid pgrp session ...": COMM may hold blanks and parentheses.
    hb_proc_comm=${hb_stat#*\(}
    hb_proc_comm=${hb_proc_comm%\)*}
    hb_rest=${hb_stat##*\) }
    hb_proc_state=${hb_rest%% *}
    hb_rest=${hb_rest#* }
    hb_rest=${hb_rest#* }
    hb_rest=${hb_rest#* }
    hb_proc_session=${hb_rest%% *}
    case $hb_proc_state in
        Z | X | x) return 1 ;;
    esac
    return 0
}

# hb_pid_alive PID: whether PID is a number naming a live process (not a zombie).
hb_pid_alive() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
    esac
    hb_proc_stat "$1"
}

# hb_proc_cmdline PID: sets hb_proc_cmdline to /proc/PID/cmdline with its NUL bytes dropped
# (no process started): right for a process title that a program wrote over its arguments
# ("nginx: master process ..."), not for telling arguments apart. Empty if unreadable.
# shellcheck disable=SC2034 # for the caller
hb_proc_cmdline() {
    hb_proc_cmdline=
    { IFS= read -r hb_proc_cmdline <"/proc/$1/cmdline"; } 2>/dev/null
    return 0
}

# hb_proc_args PID: sets hb_proc_args to the arguments of PID, each followed by one blank
# ("hb-check ipvs-watch -t 192.0.2.100:80 ... "). Runs tr. Empty if unreadable.
# shellcheck disable=SC2034 # for the caller
hb_proc_args() {
    hb_proc_args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null)
    return 0
}

# hb_wait_gone PID MS: waits up to MS milliseconds for PID to exit (hb_pid_alive false);
# false if it is still alive then.
hb_wait_gone() {
    hb_deadline "$2"
    while hb_pid_alive "$1"; do
        ! hb_expired || return 1
        hb_nap
    done
    return 0
}

# hb_terminate PID TERM_MS KILL_MS: ends PID: sends TERM and waits up to TERM_MS for it to
# go; if it is still there, sends KILL and waits up to KILL_MS. Returns 0 when it went
# after TERM (or was not running), 1 when it took KILL, 2 when it survives KILL. Logs
# nothing but debug lines: the caller says what the process was.
hb_terminate() {
    hb_pid_alive "$1" || return 0
    hb_log debug "sending TERM to process $1"
    kill -s TERM "$1" 2>/dev/null
    hb_wait_gone "$1" "$2" && return 0
    hb_log debug "process $1 still runs $2 ms after TERM; sending KILL"
    kill -s KILL "$1" 2>/dev/null
    hb_wait_gone "$1" "$3" && return 1
    return 2
}
