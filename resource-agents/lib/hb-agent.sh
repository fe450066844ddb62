# shellcheck shell=sh
# Helpers shared by heartbeat-rs resource agents. Needs lib/ocf-returncodes.sh sourced first
# and HB_AGENT_NAME set to the agent's name (used as the prefix of messages).
#
# Everything here is shell built-ins only: agents run on the takeover path, where every
# fork counts.

# hb_die CODE MESSAGE: print "NAME: MESSAGE" as one line on stderr and exit with CODE.
hb_die() {
    printf '%s: %s\n' "$HB_AGENT_NAME" "$2" >&2
    exit "$1"
}

# hb_need_helper COMMAND: exit OCF_ERR_INSTALLED unless COMMAND is found (a path, or a name
# looked up in PATH). `command -v` is a built-in: no process is started.
hb_need_helper() {
    command -v "$1" >/dev/null 2>&1 ||
        hb_die "$OCF_ERR_INSTALLED" "helper '$1' not found (PATH=$PATH)"
}
