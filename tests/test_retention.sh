#!/usr/bin/env bash
# test_retention.sh - finished jobs expire job_retention after they end:
# the status shows "expires" (finished + retention), and the sweep (every
# sweep_seconds) deletes the job, its files and its row. A user with
# job_retention=0 keeps jobs; a queued or running job is never swept; a
# change made with `mcmcd user set` while the daemon runs is seen by the
# sweep; a dataset whose reference was deleted while a job used it goes
# once the job has ended. The daemon runs with one worker, a 0.2 s sweep
# and a 3 s retention. Usage: test_retention.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_retention.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir retention

RETENTION_MS=3000
cat >"$work/mcmcd.conf" <<'EOF'
workers = 1
sweep_seconds = 0.2
user_job_retention = 3s
EOF

# submit SPEC [curl args]: prints the new job's id
submit() {
    c -X POST -H 'Content-Type: application/json' -d "$1" "${@:2}" "$URL/v1/jobs" >"$work/submit.json"
    jget "$work/submit.json" 'j["id"]'
}
status() { c -o /dev/null -w '%{http_code}' "${@:2}" "$URL/v1/jobs/$1"; }
state() {
    c "$URL/v1/jobs/$1" >"$work/state.json"
    jget "$work/state.json" 'j["state"]'
}
# The status's "expires" minus "finished", in ms ("None" when expires is null).
expires_after() {
    c "$URL/v1/jobs/$1" >"$work/exp.json"
    jget "$work/exp.json" '(lambda f, e: None if e is None else round((__import__("datetime").datetime.fromisoformat(e.replace("Z", "+00:00")) - __import__("datetime").datetime.fromisoformat(f.replace("Z", "+00:00"))).total_seconds() * 1000))(j["finished"], j["expires"])'
}
gone() { [ "$(status "$1")" = 404 ]; }
is_state() { [ "$(state "$1")" = "$2" ]; }
has_payload() { compgen -G "$work/data/datasets/$1*" >/dev/null; }
no_payload() { ! has_payload "$1"; }
ms_now() { echo $(($(date +%s%N) / 1000000)); }

if ! start_daemon --config "$work/mcmcd.conf"; then
    bad "the daemon starts"
    finish
    exit 1
fi
"$MCMCD" user add keeper --data-dir "$work/data" >/dev/null
"$MCMCD" user set keeper job_retention=0 --data-dir "$work/data" >/dev/null
KEEPER=$("$MCMCD" token new keeper --data-dir "$work/data" 2>/dev/null)
check "a user 'keeper' with job_retention=0 and a token" '[ -n "$KEEPER" ]'
kc() { curl -q -s --max-time 20 -H "Authorization: Bearer $KEEPER" "$@"; }

short='{"model": {"type": "gaussian", "mean": [0, 1], "cov": [[1, 0], [0, 1]]},
        "sampler": {"type": "mala", "step_size": 0.5}, "num_samples": 200, "chains": 1}'

# --- a finished job expires --------------------------------------------------
A=$(submit "$short")
check "admin's job A succeeds" '[ "$(wait_job "$A")" = succeeded ]'
check "A's status shows expires = finished + 3 s" '[ "$(expires_after "$A")" = $RETENTION_MS ]'
check "A's files are in the data dir" '[ -d "$work/data/jobs/$A" ]'

# keeper's job, kept for ever
kc -X POST -H 'Content-Type: application/json' -d "$short" "$URL/v1/jobs" >"$work/k.json"
K=$(jget "$work/k.json" 'j["id"]')
check "keeper's job K succeeds" '[ "$(wait_job "$K")" = succeeded ]'
k_done=$(ms_now)
check "K's expires is null (job_retention=0)" '[ "$(expires_after "$K")" = None ]'

# --- a running and a queued job are never swept ------------------------------
printf 'x1,x2,y\n1,2,0\n3,4,1\n0.5,-1,1\n-1,0.3,0\n' >"$work/d.csv"
c -X POST -H 'Content-Type: text/csv' --data-binary @"$work/d.csv" "$URL/v1/datasets?name=d" >"$work/d.json"
D=$(jget "$work/d.json" 'j["id"]')
check "a dataset D is uploaded" '[ -n "$D" ] && has_payload "$D"'
# about 4e9 iterations: runs until cancelled
L=$(submit '{"data": {"dataset": "d"}, "sampler": {"type": "mala", "step_size": 0.1},
             "num_samples": 4000000, "thin": 1000, "chains": 1, "progress_every": 100000}')
Q=$(submit "$short")
check "a long job L on D runs" 'wait_for 20 is_state "$L" running'
check "job Q waits in the queue behind it (one worker)" '[ "$(state "$Q")" = queued ]'
c -o /dev/null -w '%{http_code}' -X DELETE "$URL/v1/datasets/$D" >"$work/del.status"
check "D's reference is deleted while L uses it: 204" '[ "$(cat "$work/del.status")" = 204 ]'
check "D's payload stays while L runs" 'has_payload "$D"'

check "A is swept: 404 within 10 s" 'wait_for 10 gone "$A"'
check "A's files are gone from the data dir" '[ ! -e "$work/data/jobs/$A" ]'
check "the daemon logged the sweep" 'grep -q "mcmcd: sweep: deleted 1 expired job" "$work/daemon.err"'
check "GET /v1/jobs no longer lists A" \
    '! c "$URL/v1/jobs" | grep -q "$A"'

# make sure K ended more than the default retention (+ a sweep) ago
while [ $(($(ms_now) - k_done)) -lt $((RETENTION_MS + 1000)) ]; do sleep 0.1; done
check "keeper's K is kept past the retention" '[ "$(status "$K")" = 200 ]'
check "the running L is kept, still running, expires null" \
    '[ "$(state "$L")" = running ] && [ "$(jget "$work/state.json" "j[\"expires\"]")" = None ]'
check "the queued Q is kept, still queued" '[ "$(state "$Q")" = queued ]'
check "D's payload is still there" 'has_payload "$D"'

# --- `mcmcd user set` while the daemon runs: the sweep reads it --------------
"$MCMCD" user set keeper job_retention=1s --data-dir "$work/data" >/dev/null
check "after 'user set keeper job_retention=1s', K is swept (no request by keeper)" \
    'wait_for 10 gone "$K"'

# --- `mcmcd user rm` while the daemon runs: the sweep collects the bytes ------
"$MCMCD" user add leaver --data-dir "$work/data" >/dev/null
LEAVER=$("$MCMCD" token new leaver --data-dir "$work/data" 2>/dev/null)
printf 'x1,y\n1,0\n2,1\n3,1\n' >"$work/e.csv"
curl -q -s --max-time 20 -H "Authorization: Bearer $LEAVER" -H 'Content-Type: text/csv' \
    --data-binary @"$work/e.csv" "$URL/v1/datasets" >"$work/e.json"
E=$(jget "$work/e.json" 'j["id"]')
check "user 'leaver' uploads a dataset E" '[ -n "$E" ] && has_payload "$E"'
"$MCMCD" user rm leaver --data-dir "$work/data" >/dev/null
check "after 'user rm leaver' the sweep removes E's payload" 'wait_for 10 no_payload "$E"'

# --- the dataset goes once the job that needed it ended ----------------------
c -X POST "$URL/v1/jobs/$L/cancel" >/dev/null
check "L is cancelled" '[ "$(wait_job "$L")" = cancelled ]'
check "L's expires = finished + 3 s" '[ "$(expires_after "$L")" = $RETENTION_MS ]'
check "D's payload is removed once L ended" 'wait_for 10 no_payload "$D"'
check "Q runs to the end" '[ "$(wait_job "$Q")" = succeeded ]'
check "L and Q are swept after their retention" 'wait_for 10 gone "$L" && wait_for 10 gone "$Q"'
check "no job is left" '[ "$(c "$URL/v1/jobs" | "$PY" -c "import json,sys; print(len(json.load(sys.stdin)[\"jobs\"]))")" = 0 ]'
check "no job dir is left" '[ -z "$(ls "$work/data/jobs")" ]'

finish
