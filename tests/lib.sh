# lib.sh - helpers shared by the script tests (source it): TAP-style
# checks, curl with a time limit, JSON fields, and a daemon on an ephemeral
# port over a temporary data dir. Callers set $MCMCD and $work first.

PY=/usr/bin/python3
# loopback only: never let a proxy setting route these requests elsewhere
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY='*' no_proxy='*'

passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
bad() { failed=$((failed + 1)); echo "not ok - $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
show() { sed 's/^/# /'; } # stdin -> '# ' lines
# curl with a time limit: every request here answers in well under a second
c() { curl -s --max-time 20 "$@"; }
# the value of a JSON field: jget FILE 'expr on j'
jget() { "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null; }
# the same of the JSON on stdin: ... | jin 'expr on j'
jin() { "$PY" -c "import json,sys; j=json.load(sys.stdin); print($1)" 2>/dev/null; }

# Starts the daemon on $work/data (more `serve` options may follow, e.g.
# --config FILE), sets daemon_pid and URL; returns 1 (with its stderr shown)
# when it does not say where it listens within 20 s.
start_daemon() {
    "$MCMCD" serve --port 0 --data-dir "$work/data" "$@" >"$work/daemon.out" 2>>"$work/daemon.err" &
    daemon_pid=$!
    URL=''
    local line
    for _ in $(seq 200); do # up to 20 s (an ASan build starts slowly)
        line=$(head -n 1 "$work/daemon.out" 2>/dev/null)
        case "$line" in "mcmcd listening on http://"* | "mcmcd listening on https://"*)
            URL=${line#mcmcd listening on } && use_token "$work/data" && return 0 ;;
        esac
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    show <"$work/daemon.err"
    return 1
}

# Every curl of the test (and mcmc, libmcmcclient) carries the admin
# token the daemon wrote into DATA_DIR on its first start: a curlrc in
# $work (CURL_HOME) adds the header; `curl -q` skips it. Sets TOKEN.
use_token() {
    TOKEN=$(cat "$1/admin.token") || return 1
    export MCMC_TOKEN=$TOKEN CURL_HOME=$work
    printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" >"$work/.curlrc"
}

# stop_daemon [SECONDS]: SIGTERM, then up to SECONDS (2) before SIGKILL.
# Sets stop_rc (its exit status, or "killed") and stop_ms (how long it took).
stop_daemon() {
    stop_rc='' stop_ms=0
    [ -n "${daemon_pid:-}" ] || return 0
    local t0
    t0=$(date +%s%N)
    kill -TERM "$daemon_pid" 2>/dev/null
    for _ in $(seq $((${1:-2} * 20))); do
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$daemon_pid" 2>/dev/null; then
        kill -KILL "$daemon_pid" 2>/dev/null
        stop_rc=killed
    fi
    wait "$daemon_pid" 2>/dev/null
    local rc=$?
    [ -n "$stop_rc" ] || stop_rc=$rc
    stop_ms=$((($(date +%s%N) - t0) / 1000000))
    daemon_pid=''
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds;
# its status once SECONDS have passed.
wait_for() {
    local tries=$(($1 * 10))
    shift
    for _ in $(seq "$tries"); do
        "$@" && return 0
        sleep 0.1
    done
    "$@"
}
gone() { ! kill -0 "$1" 2>/dev/null; } # gone PID: the process has ended

# SIGKILL, as at a crash or an OOM kill; the daemon is reaped.
crash_daemon() {
    [ -n "${daemon_pid:-}" ] || return 0
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=''
}

# Polls a job until it has ended (at most 60 s); prints its final state.
wait_job() {
    local state=''
    for _ in $(seq 600); do
        c "$URL/v1/jobs/$1" >"$work/status.json"
        state=$(jget "$work/status.json" 'j["state"]')
        case "$state" in succeeded | failed | cancelled) break ;; esac
        sleep 0.1
    done
    echo "$state"
}

# Prints "N passed, M failed" and exits 1 if any failed.
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

# Background helpers of the test (watchers, clients) go in bg_pids
# (bg_pids="$bg_pids $!"); they are killed at exit.
kill_bg() {
    local p
    for p in ${bg_pids:-}; do kill "$p" 2>/dev/null; done
    bg_pids=''
}

# test_workdir NAME: a fresh $work (/tmp/mcmcd-NAME.XXXXXX), removed at exit
# after the background helpers and the daemon are stopped. Call it right
# after sourcing this file.
test_workdir() {
    work=$(mktemp -d "/tmp/mcmcd-$1.XXXXXX")
    daemon_pid='' bg_pids=''
    trap 'kill_bg; stop_daemon; rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
}

# daemon_or_exit [serve options]: start_daemon, or fail the whole test now.
daemon_or_exit() {
    if ! start_daemon "$@"; then
        bad "the daemon starts"
        finish
        exit 1
    fi
    ok "the daemon listens at $URL"
}
