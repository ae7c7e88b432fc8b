#!/usr/bin/env bash
# test_draws_heartbeat.sh - a following draw stream (draws?follow=1, NDJSON)
# stays alive while its job waits: with heartbeat_seconds = 0.5 and one
# worker busy with a long job, the draws of a job queued behind it carry
# {"heartbeat": "<RFC3339 UTC, ms>", "state": "queued"} lines; once the long
# job is cancelled the queued one runs and its draws follow, every draw line
# as before (chain, draw, theta; no heartbeat key), and the stream ends with
# the job. The event stream of the same job keeps its own heartbeats.
# A daemon that cannot start fails. Usage: test_draws_heartbeat.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_draws_heartbeat.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir hb

printf 'heartbeat_seconds = 0.5\n' >"$work/mcmcd.conf"
daemon_or_exit --config "$work/mcmcd.conf" --workers 1

# --- a long job takes the one worker; a short one queues behind it ----------
long='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "chains": 1,
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "progress_every": 100}'
short='{"data": {"synthetic": {"n": 200, "d": 3, "seed": 2}}, "chains": 1,
 "sampler": {"type": "mala", "step_size": 0.05}, "num_samples": 300, "num_warmup": 50, "key": 5}'
c --json "$long" "$URL/v1/jobs" >"$work/long.json"
LONG=$(jget "$work/long.json" 'j["id"]')
c --json "$short" "$URL/v1/jobs" >"$work/short.json"
JOB=$(jget "$work/short.json" 'j["id"]')
state=$(c "$URL/v1/jobs/$JOB" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
check "a short job waits behind the long one (state '$state')" "[ -n '$LONG' ] && [ '$state' = queued ]"

# --- follow its draws while it waits ---------------------------------------
curl -sN --max-time 90 "$URL/v1/jobs/$JOB/draws?follow=1" >"$work/follow.ndjson" &
follower=$!
bg_pids="$bg_pids $follower"
beats() { [ "$(grep -c "$1" "$2" 2>/dev/null)" -ge "$3" ] 2>/dev/null; } # beats TEXT FILE N: N lines hold TEXT
wait_for 30 beats heartbeat "$work/follow.ndjson" 3 # 0.5 s apart; 30 s: a hang guard
head -n 3 "$work/follow.ndjson" | show
check "the waiting stream sends heartbeat lines: {heartbeat: RFC3339 UTC ms, state: queued}" \
    "$PY - '$work/follow.ndjson' <<'PY'
import json, re, sys, time, calendar
lines = open(sys.argv[1]).read().split('\n')[:-1]
assert len(lines) >= 3, lines
for l in lines:
    h = json.loads(l)
    assert set(h) == {'heartbeat', 'state'} and h['state'] == 'queued', h
    m = re.fullmatch(r'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{3}Z', h['heartbeat'])
    assert m, h
    t = calendar.timegm(time.strptime(m.group(1), '%Y-%m-%dT%H:%M:%S'))
    assert abs(t - time.time()) < 60, (h, time.time())
PY"
check "the waiting stream is still open" "kill -0 $follower 2>/dev/null"
curl -sN --max-time 60 -D "$work/events.h" -o "$work/events" "$URL/v1/jobs/$JOB/events" &
events_pid=$!
bg_pids="$bg_pids $events_pid"
wait_for 30 beats '"type":"heartbeat"' "$work/events" 1
kill "$events_pid" 2>/dev/null
wait "$events_pid" 2>/dev/null
check "its event stream keeps its own heartbeats" \
    "head -n 1 '$work/events.h' | grep -q ' 200' && grep -q '\"type\":\"heartbeat\"' '$work/events' && grep -q '\"state\":\"queued\"' '$work/events'"

# --- it runs: the draws follow, and the stream ends with the job ------------
c -X POST "$URL/v1/jobs/$LONG/cancel" >/dev/null
rc=124
if wait_for 60 pid_gone "$follower"; then # the short job runs and the stream ends
    wait "$follower"
    rc=$?
fi
tail -n 2 "$work/follow.ndjson" | show
check "the stream ends when the job does (curl exit $rc)" "[ $rc -eq 0 ]"
check "300 draw lines in order, each without a heartbeat key; heartbeats only between lines" \
    "$PY - '$work/follow.ndjson' <<'PY'
import json, sys
text = open(sys.argv[1]).read()
assert text.endswith('\n'), text[-100:]
rows = [json.loads(l) for l in text.split('\n')[:-1]]
beats = [r for r in rows if 'heartbeat' in r]
draws = [r for r in rows if 'heartbeat' not in r]
assert all(set(b) == {'heartbeat', 'state'} and b['state'] in ('queued', 'running') for b in beats), beats
assert all(set(d) == {'chain', 'draw', 'theta'} and len(d['theta']) == 3 for d in draws), draws[:3]
assert [(d['chain'], d['draw']) for d in draws] == [(0, k) for k in range(300)], draws[:3]
assert rows[0] in beats and beats[0]['state'] == 'queued'
PY"
state=$(c "$URL/v1/jobs/$JOB" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
check "the short job succeeded ($state)" "[ '$state' = succeeded ]"

finish
