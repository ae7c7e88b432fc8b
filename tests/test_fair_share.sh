#!/usr/bin/env bash
# test_fair_share.sh - a free worker goes to the user with the fewest
# running chains: on 2 workers alice queues 20 one-chain jobs (about a
# second each) and one more with priority 10; then bob submits one job.
# Bob's job starts as soon as a worker frees: at most one of alice's jobs
# starts between bob's submit and bob's start, and the first worker freed
# once his POST has returned goes to him (an order, not a time).
# Within alice's jobs the priority-10 job, submitted last, starts before
# her earlier priority-0 jobs still waiting.
# Usage: test_fair_share.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_fair_share.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir fair

daemon_or_exit --workers 2

cli() { "$MCMCD" "$@" --data-dir "$work/data" 2>/dev/null; }
cli user add alice >/dev/null && cli user add bob >/dev/null
ALICE=$(cli token new alice) BOB=$(cli token new bob)
check "users alice and bob with tokens" "[ -n '$ALICE' ] && [ -n '$BOB' ]"
as() { # as TOKEN CURL-ARGS...: curl as that user (-q: without the admin's curlrc)
    local t=$1
    shift
    curl -q -s --max-time 20 -H "Authorization: Bearer $t" "$@"
}

# one chain, about a second on an idle core
job() { printf '{"data": {"synthetic": {"n": 10000, "d": 3, "seed": %d}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 2500, "thin": 10, "chains": 1, "progress_every": 50, "priority": %d, "name": "%s"}' "$1" "$2" "$3"; }
for i in $(seq 1 20); do
    as "$ALICE" -o /dev/null --json "$(job "$i" 0 "a$i")" "$URL/v1/jobs"
done
as "$ALICE" -o /dev/null --json "$(job 21 10 a-urgent)" "$URL/v1/jobs"
as "$BOB" -o "$work/bob.json" --json "$(job 22 0 b)" "$URL/v1/jobs"
# Bob's job joins the queue when its row is written, after its created
# time and before his POST returns: from this instant (same clock as the
# daemon's) it is certainly waiting.
b_queued=$(date +%s.%N)
BJ=$(jget "$work/bob.json" 'j["id"]')
check "alice queued 21 jobs, then bob submitted one ($BJ)" "[ -n '$BJ' ]"

# until bob's job and alice's urgent one have started (at most 60 s)
both_started() {
    bs=$(as "$BOB" "$URL/v1/jobs/$BJ" | jin 'j["started"] is not None')
    urgent=$(as "$ALICE" "$URL/v1/jobs?name=a-urgent" | jin 'j["jobs"][0]["started"] is not None')
    [ "$bs $urgent" = 'True True' ]
}
wait_for 60 both_started
check "bob's job and alice's priority-10 job have started" "[ '$bs $urgent' = 'True True' ]"
c "$URL/v1/jobs?page_size=100" >"$work/all.json"
"$PY" - "$work/all.json" <<'PY' | show
import json, sys
for j in sorted(json.load(open(sys.argv[1]))['jobs'], key=lambda j: j['created']):
    print(j['owner'], j['name'], j['priority'], j['state'], 'created', j['created'][11:], 'started',
          (j['started'] or '-')[11:], 'finished', (j['finished'] or '-')[11:])
PY

timeline() { "$PY" - "$work/all.json" "$1" "$b_queued" <<'PY'
import json, sys
from datetime import datetime
t = lambda s: datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() if s else None
jobs = json.load(open(sys.argv[1]))['jobs']
b = next(j for j in jobs if j['owner'] == 'bob')
a = [j for j in jobs if j['owner'] == 'alice']
b_sub, b_start = t(b['created']), t(b['started'])
what = sys.argv[2]
if what == 'busy':  # alice held both workers when bob submitted
    n = sum(1 for j in a if j['started'] and t(j['started']) <= b_sub and
            (not j['finished'] or t(j['finished']) > b_sub))
    assert n == 2, n
elif what == 'between':  # at most one of alice's jobs started while bob waited
    n = [j['name'] for j in a if j['started'] and b_sub < t(j['started']) < b_start]
    assert len(n) <= 1, n
elif what == 'first_finish':  # bob took the first worker freed after his submit
    # by order, not by seconds: none of alice's jobs started between the
    # first of hers to end after his job was surely queued and his start
    # (a worker freed while his row was being written may go to alice)
    b_queued = float(sys.argv[3])
    ends = sorted(t(j['finished']) for j in a if j['finished'] and t(j['finished']) >= b_queued)
    took = [j['name'] for j in a if j['started'] and ends and ends[0] <= t(j['started']) < b_start]
    assert ends and not took, (b_start, ends[:2], took)
elif what == 'priority':  # the urgent job went before alice's earlier jobs still waiting
    u = next(j for j in a if j['name'] == 'a-urgent')
    waiting = [j for j in a if j['priority'] == 0 and (not j['started'] or t(j['started']) > t(u['created']))]
    late = [j['name'] for j in waiting if j['started'] and t(j['started']) < t(u['started'])]
    assert waiting and not late, (len(waiting), late)
PY
}
check "alice's jobs held both workers when bob submitted" "timeline busy"
check "at most one of alice's jobs started between bob's submit and bob's start" "timeline between"
check "the first worker freed after bob's submit went to bob" \
    "timeline first_finish"
check "alice's priority-10 job, submitted last, started before her waiting priority-0 jobs" \
    "timeline priority"

for id in $("$PY" -c 'import json,sys; [print(j["id"]) for j in json.load(open(sys.argv[1]))["jobs"]]' "$work/all.json"); do
    c -o /dev/null -X POST "$URL/v1/jobs/$id/cancel"
done
stop_daemon
check "no sanitizer or crash report on the daemon's stderr" \
    "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/daemon.err'"
finish
