#!/usr/bin/env bash
# test_port_in_use.sh - two daemons on one port. The first (--workers 3)
# listens on an ephemeral port; a second (--workers 5) started on the same
# port must exit 1 (30 s at most: a hang guard), saying the address is in use and what to
# do, print no "listening" line and create no data dir. Then 50 requests to
# the port all reach the first daemon (/v1/info says workers 3; were the
# second still running with SO_REUSEPORT, the kernel would split them).
# Last, the first daemon stops and a new one binds the same port at once
# (SO_REUSEADDR: no wait for TIME_WAIT). A daemon that cannot start fails.
# Usage: test_port_in_use.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_port_in_use.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir port
daemon_or_exit --workers 3
port=${URL##*:}

# --- a second daemon on the same port ------------------------------------------
refused_daemon "$work/second" --port "$port" --workers 5
show <"$work/refused.err"
check "the second daemon exits 1 (got $refused_rc)" '[ "$refused_rc" = 1 ]'
check "... saying the address is in use" \
    'grep -qF "cannot listen on 127.0.0.1:$port: address already in use" "$work/refused.err"'
check "... and what to do" 'grep -qF "is another mcmcd running? choose another --port" "$work/refused.err"'
check "... it prints no listening line" '[ ! -s "$work/refused.out" ]'
check "... and creates no data dir" '[ ! -e "$work/second" ]'

# --- every request reaches the first (with a second still running, as
# with SO_REUSEPORT, some would reach it) ----------------------------------------
n=0
for _ in $(seq 50); do
    code=$(c -o "$work/info.json" -w '%{http_code}' "$URL/v1/info")
    [ "$code" = 200 ] && [ "$(jget "$work/info.json" 'j["workers"]')" = 3 ] && n=$((n + 1))
done
check "50 of 50 GET /v1/info answer 200 from the first daemon (workers 3): $n" '[ "$n" = 50 ]'
check "the first daemon still runs" 'kill -0 "$daemon_pid" 2>/dev/null'
if [ -n "$refused_pid" ]; then
    kill -KILL "$refused_pid" 2>/dev/null
    wait "$refused_pid" 2>/dev/null
fi

# --- a restart takes the port back at once ---------------------------------------
stop_daemon
if start_daemon --workers 3 --port "$port"; then
    ok "after it stops, a new daemon binds port $port at once"
    code=$(c -o /dev/null -w '%{http_code}' "$URL/healthz")
    check "... and answers /healthz with 200" '[ "$code" = 200 ]'
else
    bad "after it stops, a new daemon binds port $port at once"
fi

finish
