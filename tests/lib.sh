# lib.sh - helpers shared by the script tests and the bench scripts (source
# it): TAP-style checks, curl with a time limit, JSON fields, a work dir
# removed at exit, daemons on ephemeral ports over data dirs in it (start,
# restart on the same dir, a second one beside, stop, crash), and waits
# with a time limit. Callers set $MCMCD, then call test_workdir.

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
# a field of a job's status: job_field ID 'expr on j' (GET /v1/jobs/ID)
job_field() { c "$URL/v1/jobs/$1" >"$work/st.json" && jget "$work/st.json" "$2"; }
# job_in_state ID STATE: the job is in that state now (for wait_for)
job_in_state() { [ "$(job_field "$1" 'j["state"]')" = "$2" ]; }

# launch_daemon DIR OUT ERR [serve options]: `mcmcd serve` on an ephemeral
# port over data dir DIR, stdout to OUT, stderr appended to ERR; sets
# launched_pid and launched_url; returns 1 (with its stderr shown) when it
# does not say where it listens, with its token written (unless given
# --auth none), within 20 s.
launch_daemon() {
    local dir=$1 out=$2 err=$3 line token=yes a prev=''
    shift 3
    for a in "$@"; do # --auth none writes no token
        [ "$prev" = --auth ] && [ "$a" = none ] && token=''
        prev=$a
    done
    # emptied first: a restart must not read the last run's line (the
    # child's own > may come after the first look below)
    : >"$out"
    "$MCMCD" serve --port 0 --data-dir "$dir" "$@" >"$out" 2>>"$err" &
    launched_pid=$!
    launched_url=''
    for _ in $(seq 200); do # up to 20 s (an ASan build starts slowly)
        line=$(head -n 1 "$out" 2>/dev/null)
        case "$line" in "mcmcd listening on http://"* | "mcmcd listening on https://"*)
            if [ -z "$token" ] || [ -s "$dir/admin.token" ]; then
                launched_url=${line#mcmcd listening on } && return 0
            fi ;;
        esac
        kill -0 "$launched_pid" 2>/dev/null || break
        sleep 0.1
    done
    show <"$err"
    return 1
}

# Starts the daemon on $work/data (more `serve` options may follow, e.g.
# --config FILE), sets daemon_pid and URL and takes its admin token
# (use_token); returns 1 (with its stderr shown) when it does not start.
# Called again, it restarts on the same data dir.
start_daemon() {
    launch_daemon "$work/data" "$work/daemon.out" "$work/daemon.err" "$@"
    local rc=$?
    daemon_pid=$launched_pid URL=$launched_url
    [ "$rc" -eq 0 ] && use_token "$work/data"
}

# other_daemon NAME [serve options]: a second daemon beside the first, on
# data dir $work/NAME (output in $work/NAME.out, NAME.err); sets other_pid
# and other_url, and leaves the first's URL and token alone.
# stop_other_daemon ends it (at exit too).
other_daemon() {
    local name=$1
    shift
    launch_daemon "$work/$name" "$work/$name.out" "$work/$name.err" "$@"
    local rc=$?
    other_pid=$launched_pid other_url=$launched_url
    return "$rc"
}

# Every curl of the test (and mcmc, libmcmcclient) carries the admin
# token the daemon wrote into DATA_DIR on its first start: a curlrc in
# $work (CURL_HOME) adds the header; `curl -q` skips it. Sets TOKEN.
use_token() {
    TOKEN=$(cat "$1/admin.token") || return 1
    export MCMC_TOKEN=$TOKEN CURL_HOME=$work
    printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" >"$work/.curlrc"
}

# stop_pid PID [SECONDS]: SIGTERM, then up to SECONDS (2) before SIGKILL.
# Sets stop_rc (its exit status, or "killed") and stop_ms (how long it took).
stop_pid() {
    stop_rc='' stop_ms=0
    [ -n "$1" ] || return 0
    local t0 rc
    t0=$(date +%s%N)
    kill -TERM "$1" 2>/dev/null
    for _ in $(seq $((${2:-2} * 20))); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$1" 2>/dev/null; then
        kill -KILL "$1" 2>/dev/null
        stop_rc=killed
    fi
    wait "$1" 2>/dev/null
    rc=$?
    [ -n "$stop_rc" ] || stop_rc=$rc
    stop_ms=$((($(date +%s%N) - t0) / 1000000))
}
# stop_daemon [SECONDS], stop_other_daemon [SECONDS]: stop_pid on each.
stop_daemon() {
    stop_pid "${daemon_pid:-}" "${1:-2}"
    daemon_pid=''
}
stop_other_daemon() {
    stop_pid "${other_pid:-}" "${1:-2}"
    other_pid=''
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
pid_gone() { ! kill -0 "$1" 2>/dev/null; } # pid_gone PID: the process has ended

# hold_registry_lock SECONDS: another process takes registry.db's write
# lock (BEGIN EXCLUSIVE) for SECONDS, in the background; returns once it
# holds it (1 if it could not within 10 s). Sets locker (its pid).
hold_registry_lock() {
    rm -f "$work/lock.out"
    "$PY" - "$work/data/registry.db" "$1" >"$work/lock.out" 2>&1 <<'PY' &
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
PY
    locker=$!
    bg_pids="$bg_pids $locker"
    wait_for 10 grep -q locked "$work/lock.out"
}
# release_registry_lock: ends hold_registry_lock's process now (its lock
# goes with it) and reaps it.
release_registry_lock() {
    kill "$locker" 2>/dev/null
    wait "$locker" 2>/dev/null
    return 0
}

# refused_daemon DIR [serve options]: `mcmcd serve` on an ephemeral port
# (a later --port wins) over data dir DIR, one that must not start: waits
# up to 30 s (a hang guard) for it to exit. Sets refused_rc (its exit
# status, or "running", with refused_pid, then killed at exit); its stdout
# is in $work/refused.out, its stderr in $work/refused.err.
refused_daemon() {
    local dir=$1
    shift
    "$MCMCD" serve --port 0 --data-dir "$dir" "$@" >"$work/refused.out" 2>"$work/refused.err" &
    refused_pid=$! refused_rc=running
    if wait_for 30 pid_gone "$refused_pid"; then
        wait "$refused_pid"
        refused_rc=$? refused_pid=''
    else
        bg_pids="${bg_pids:-} $refused_pid"
    fi
}

# SIGKILL, as at a crash or an OOM kill; the daemon is reaped.
crash_daemon() {
    [ -n "${daemon_pid:-}" ] || return 0
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=''
}

# Polls a job until it has ended (at most 60 s); prints its final state,
# or "gone" once it answers 404 (deleted, or swept after its retention).
wait_job() {
    local state='' code
    for _ in $(seq 600); do
        code=$(c -o "$work/status.json" -w '%{http_code}' "$URL/v1/jobs/$1")
        [ "$code" = 404 ] && state=gone && break # deleted (or swept): no state will come
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
# (bg_pids="$bg_pids $!"), or, started from a subshell, one a line in a
# file $work/bg.pids.*; they are killed at exit.
kill_bg() {
    local p f
    for p in ${bg_pids:-}; do kill "$p" 2>/dev/null; done
    bg_pids=''
    for f in "$work"/bg.pids.*; do
        [ -f "$f" ] || continue
        while read -r p; do kill "$p" 2>/dev/null; done <"$f"
    done
}

# test_workdir NAME: a fresh $work (/tmp/mcmcd-NAME.XXXXXX), removed at exit
# (kept with KEEP=1) after the background helpers and the daemons are
# stopped and the commands given to at_exit have run. Call it right after
# sourcing this file.
test_workdir() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/mcmcd-$1.XXXXXX")
    daemon_pid='' other_pid='' bg_pids='' exit_commands=''
    trap 'kill_bg; stop_daemon; stop_other_daemon; eval "$exit_commands"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
    trap 'exit 130' INT TERM
}
# at_exit COMMAND: COMMAND runs at exit, once the daemons are stopped and
# before $work is removed (a cluster to stop, a file system to unmount).
at_exit() { exit_commands="$exit_commands $1;"; }

# in_mount_namespace "$@": runs the calling test script again in a mount
# namespace of its own (unshare -m as root, -Urm otherwise), so that what
# it mounts goes with it; returns at once in that copy. Call it before
# test_workdir.
in_mount_namespace() {
    [ -n "${MCMCD_MOUNT_NS:-}" ] && return 0
    export MCMCD_MOUNT_NS=1
    [ "$(id -u)" = 0 ] && exec unshare -m --propagation private bash "$0" "$@"
    exec unshare -Urm bash "$0" "$@"
}

# tmpfs_data_dir SIZE: a tmpfs of SIZE (16m) as $work/data, unmounted at
# exit; fails the whole test, saying why, where it cannot be mounted.
tmpfs_data_dir() {
    mkdir -p "$work/data"
    if ! mount -t tmpfs -o "size=$1,mode=0700" tmpfs "$work/data" 2>"$work/mount.err"; then
        bad "a $1 tmpfs mounts as the data dir: $(cat "$work/mount.err")"
        finish
        exit 1
    fi
    at_exit 'umount "$work/data" 2>/dev/null'
    ok "a $1 tmpfs is the data dir"
}
# free bytes on the data dir's file system
data_dir_avail() { df -B1 --output=avail "$work/data" | tail -n 1 | tr -d ' '; }
# fill_data_dir NAME: files $work/data/filler.NAME.* take what is free, in
# pieces if the daemon writes meanwhile (a fallocate of all that was free
# a moment ago then fails whole)
fill_data_dir() {
    local i=0 n
    while n=$(data_dir_avail) && [ "$n" -ge 4096 ] && [ $i -lt 20 ]; do
        fallocate -l "$n" "$work/data/filler.$1.$i" 2>/dev/null ||
            fallocate -l $((n / 2)) "$work/data/filler.$1.$i" 2>/dev/null
        i=$((i + 1))
    done
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
