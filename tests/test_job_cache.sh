#!/usr/bin/env bash
# test_job_cache.sh - ended jobs leave memory and come back the same: with
# job_cache = 2, a job that ended is evicted once newer ones end (its log
# is then saved as events.ndjson), and its events (NDJSON, SSE, resumed),
# status and draws are served byte for byte as before, from the registry
# and that file, and again after a clean restart. A job that ended just
# before a kill -9 (its log never saved) gets the same made-up log on
# every read and every restart. Evicted jobs list, count in /metrics, and
# delete as before. Queued jobs (no files yet) list as queued until they
# start, and one cancelled while queued keeps its log the same way.
# Usage: test_job_cache.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_job_cache.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir job-cache

cat >"$work/mcmcd.conf" <<'CONF'
workers = 1
job_cache = 2
CONF
SPEC='{"data": {"synthetic": {"n": 40, "d": 2, "seed": 3}}, "sampler": {"type": "mala", "step_size": 0.05},
       "num_samples": 300, "num_warmup": 100, "chains": 2, "progress_every": 25}'

submit() {
    c -X POST -H 'Content-Type: application/json' -d "$SPEC" "$URL/v1/jobs" >"$work/submit.json"
    jget "$work/submit.json" 'j["id"]'
}
# snapshot JOB TAG: what a client reads of the job, into $work/TAG.*
snapshot() {
    c "$URL/v1/jobs/$1/events" >"$work/$2.ndjson"
    c -H 'Accept: text/event-stream' "$URL/v1/jobs/$1/events" >"$work/$2.sse"
    c -H 'Last-Event-ID: 3' "$URL/v1/jobs/$1/events" >"$work/$2.resumed"
    c "$URL/v1/jobs/$1" >"$work/$2.status"
    c "$URL/v1/jobs/$1/draws?format=csv" >"$work/$2.csv"
}
same() { # TAG1 TAG2
    local k
    for k in ndjson sse resumed status csv; do
        cmp -s "$work/$1.$k" "$work/$2.$k" || { echo "# $1.$k differs from $2.$k"; return 1; }
    done
}
saved() { [ -s "$work/data/jobs/$1/events.ndjson" ]; }
n_lines() { wc -l <"$work/$1.ndjson"; }

daemon_or_exit --config "$work/mcmcd.conf"
A=$(submit)
check "the first job succeeds" "[ \"\$(wait_job '$A')\" = succeeded ]"
snapshot "$A" a1
check "its events hold states, progress and done" \
    "[ \$(n_lines a1) -gt 6 ] && grep -q '\"type\":\"progress\"' '$work/a1.ndjson' &&
     tail -n 1 '$work/a1.ndjson' | grep -q '\"type\":\"done\"'"
check "while it is in memory its log is not on disk" "! saved '$A'"

ids=''
for _ in 1 2 3 4; do
    id=$(submit)
    ids="$ids $id"
    [ "$(wait_job "$id")" = succeeded ] || bad "job $id succeeds"
done
c "$URL/v1/jobs?page_size=10" >/dev/null
sleep 1.3 # the wall-time tick prunes the live jobs every second
c "$URL/metrics" >/dev/null
# the log is written on the thread pool, just after the eviction
check "once four newer jobs ended it was evicted, its log saved" "wait_for 10 saved '$A'"
snapshot "$A" a2
check "read back, its events, status and draws are the same bytes" "same a1 a2"
c "$URL/v1/jobs?page_size=10" >"$work/list.json"
check "every job is listed, succeeded" \
    "[ \"\$(jget '$work/list.json' 'sum(x[\"state\"] == \"succeeded\" for x in j[\"jobs\"])')\" = 5 ]"
c "$URL/metrics" >"$work/metrics.txt"
check "/metrics counts the evicted jobs" "grep -q '^mcmcd_jobs{state=\"succeeded\"} 5$' '$work/metrics.txt'"
E=$(submit)
check "one more job succeeds" "[ \"\$(wait_job '$E')\" = succeeded ]"
snapshot "$E" e1
check "it is in memory, its log not on disk" "! saved '$E'"

# Queued jobs have no files; their list items are kept as text until they
# start. Q1 is cancelled while queued (it never made files): listed
# queued, then cancelled; evicted, its log is saved all the same, its dir
# made then. Q2 waits, then runs: listed queued, then succeeded.
# a million iterations that keep 1000 draws: small files, a quick start
LONG='{"data": {"synthetic": {"n": 2000, "d": 5, "seed": 3}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 1000000, "thin": 1000}'
L=$(c -X POST -H 'Content-Type: application/json' -d "$LONG" "$URL/v1/jobs" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
Q1=$(submit)
Q2=$(submit)
listed() { # ID: its state in the list
    c "$URL/v1/jobs?page_size=100" | "$PY" -c "import json,sys; print([x['state'] for x in json.load(sys.stdin)['jobs'] if x['id'] == '$1'])"
}
check "behind a long job, two are listed queued, with no files made" \
    "[ \"\$(listed '$Q1')\" = \"['queued']\" ] && [ \"\$(listed '$Q2')\" = \"['queued']\" ] &&
     [ ! -e '$work/data/jobs/$Q1' ] && [ ! -e '$work/data/jobs/$Q2' ]"
c -X POST "$URL/v1/jobs/$Q1/cancel" >/dev/null
check "the first, cancelled while queued, is listed cancelled" \
    "[ \"\$(wait_job '$Q1')\" = cancelled ] && [ \"\$(listed '$Q1')\" = \"['cancelled']\" ]"
snapshot "$Q1" q1
c -X POST "$URL/v1/jobs/$L/cancel" >/dev/null
check "the long one cancelled, the second runs and is listed succeeded" \
    "[ \"\$(wait_job '$Q2')\" = succeeded ] && [ \"\$(listed '$Q2')\" = \"['succeeded']\" ]"
sleep 1.3 # the prune evicts Q1: L and Q2 ended after it, job_cache is 2
check "evicted, the job cancelled while queued has its log saved" "wait_for 10 saved '$Q1'"
snapshot "$Q1" q2
check "and reads the same bytes" "same q1 q2"

stop_daemon
check "a clean stop saves the log of the jobs still in memory" "saved '$E'"
daemon_or_exit --config "$work/mcmcd.conf"
snapshot "$A" a3
snapshot "$E" e2
check "after a restart the evicted job reads the same" "same a1 a3"
check "after a restart the job that was in memory reads the same" "same e1 e2"
snapshot "$Q1" q3
check "after a restart the job cancelled while queued reads the same" "same q1 q3"

# A job that ends right before a kill -9: its log was never saved.
F=$(submit)
check "a job run before the kill succeeds" "[ \"\$(wait_job '$F')\" = succeeded ]"
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=''
daemon_or_exit --config "$work/mcmcd.conf"
snapshot "$F" f1
check "its log is made from its row: state and done" \
    "[ \$(n_lines f1) = 2 ] && head -n 1 '$work/f1.ndjson' | grep -q '\"state\":\"succeeded\"'"
for id in $ids; do c "$URL/v1/jobs/$id/events" >/dev/null; done # evicts F
sleep 1.3
snapshot "$F" f2
stop_daemon
daemon_or_exit --config "$work/mcmcd.conf"
snapshot "$F" f3
check "that log is the same after eviction and after a restart" "same f1 f2 && same f1 f3"

# A log still being written when the job is read back: strace holds the
# pool's open of G's events.ndjson for 3 s; meanwhile G, evicted, reads
# the same bytes (the text kept in memory), and the file fills in after.
G=$(submit)
check "one more job succeeds" "[ \"\$(wait_job '$G')\" = succeeded ]"
snapshot "$G" g1
strace -f -qq -p "$daemon_pid" -P "$work/data/jobs/$G/events.ndjson" -e trace=openat \
    -e inject=openat:delay_exit=3000000 -o "$work/delay.trace" 2>"$work/strace.err" &
tracer=$!
sleep 0.5 # strace attached
for _ in 1 2 3; do
    id=$(submit)
    [ "$(wait_job "$id")" = succeeded ] || bad "job $id succeeds"
done
sleep 1.3 # the prune: G is evicted, its log handed to the pool
snapshot "$G" g2
check "while its log is being written G is read back: the same bytes, from memory" \
    "! saved '$G' && same g1 g2"
check "then the log is on disk" "wait_for 10 saved '$G'"
kill "$tracer" 2>/dev/null
wait "$tracer" 2>/dev/null
check "strace held the pool's open of that file" "grep -q 'events.ndjson' '$work/delay.trace'"
snapshot "$G" g3
check "read from the file, the same bytes again" "same g1 g3"

check "an evicted job can be deleted" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' -X DELETE '$URL/v1/jobs/$A')\" = 204 ] &&
     [ \"\$(c -o /dev/null -w '%{http_code}' '$URL/v1/jobs/$A')\" = 404 ] &&
     [ \"\$(c -o /dev/null -w '%{http_code}' '$URL/v1/jobs/$A/events')\" = 404 ] &&
     [ ! -e '$work/data/jobs/$A' ]"
check "an unknown job is 404" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' '$URL/v1/jobs/000000000000000000000000')\" = 404 ]"
stop_daemon
check "no sanitizer or crash report on stderr" \
    "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/daemon.err'"
finish
