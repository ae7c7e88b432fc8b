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
work=$(mktemp -d /tmp/mcmcd-hb.XXXXXX)
daemon_pid='' follower=''
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
cleanup() {
    [ -n "$follower" ] && kill "$follower" 2>/dev/null
    stop_daemon
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

printf 'heartbeat_seconds = 0.5\n' >"$work/mcmcd.conf"
if ! start_daemon --config "$work/mcmcd.conf" --workers 1; then
    bad "the daemon starts (heartbeat_seconds = 0.5, one worker)"
    finish
    exit 1
fi
ok "the daemon listens at $URL"

# --- a long job takes the one worker; a short one queues behind it ----------
long='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "chains": 1,
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 100000000, "progress_every": 100}'
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
for _ in $(seq 100); do # up to 10 s for three heartbeats (0.5 s apart)
    [ "$(grep -c heartbeat "$work/follow.ndjson")" -ge 3 ] && break
    sleep 0.1
done
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
code=$(c -o "$work/events" -w '%{http_code}' --max-time 1.3 "$URL/v1/jobs/$JOB/events")
check "its event stream keeps its own heartbeats" \
    "[ '$code' = 200 ] && grep -q '\"type\":\"heartbeat\"' '$work/events' && grep -q '\"state\":\"queued\"' '$work/events'"

# --- it runs: the draws follow, and the stream ends with the job ------------
c -X POST "$URL/v1/jobs/$LONG/cancel" >/dev/null
rc=124
for _ in $(seq 600); do # up to 60 s for the short job to run and the stream to end
    if ! kill -0 "$follower" 2>/dev/null; then
        wait "$follower"
        rc=$?
        break
    fi
    sleep 0.1
done
follower=''
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
