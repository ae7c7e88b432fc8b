#!/usr/bin/env bash
# test_restore_spec.sh - a stored job whose spec this mcmcd cannot read (as
# after an upgrade that dropped a sampler) is kept when the daemon
# restarts: it is shown as failed with the parse errors as its reason,
# logged on stderr, listable, showable with its stored spec, its events end
# failed, its draws stay readable, and it can be deleted. A queued one fails
# on disk too and is never run; the other jobs are untouched. The registry
# rows are edited with Python's sqlite3 while the daemon is stopped.
# Usage: test_restore_spec.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_restore_spec.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir restore

get() { c "$URL$1"; }
submit() { c -H 'Content-Type: application/json' -d "$1" "$URL/v1/jobs" | jin 'j["id"]'; }
wait_done() { [ "$(wait_job "$1")" = succeeded ]; } # JOB

daemon_or_exit
SPEC='{"data": {"synthetic": {"n": 50, "d": 2, "seed": 1}}, "sampler": {"type": "ula", "step_size": 0.001}, "num_samples": 20, "chains": 2}'
A=$(submit "$SPEC")
B=$(submit "$SPEC")
C=$(submit "$SPEC")
check "three jobs succeed" "wait_done '$A' && wait_done '$B' && wait_done '$C'"
get "/v1/jobs/$A/draws?format=json" >"$work/draws-before.json"
stop_daemon

# A: a finished job whose sampler this build does not have; B: the same,
# queued (it was waiting when the old daemon stopped).
"$PY" - "$work/data/registry.db" "$A" "$B" <<'PY'
import json, sqlite3, sys
db, a, b = sqlite3.connect(sys.argv[1]), sys.argv[2], sys.argv[3]
for job in (a, b):
    spec = json.loads(db.execute("SELECT spec FROM jobs WHERE id = ?", (job,)).fetchone()[0])
    spec["sampler"] = {"type": "no_such_sampler", "step_size": 0.001}
    db.execute("UPDATE jobs SET spec = ? WHERE id = ?", (json.dumps(spec), job))
db.execute("UPDATE jobs SET state = 'queued', started = NULL, finished = NULL, progress = NULL "
           "WHERE id = ?", (b,))
db.commit()
PY
daemon_or_exit # on the edited registry
sleep 0.3 # a queued job would be picked up at once
get "/v1/jobs/$A" >"$work/a.json"
show <"$work/a.json"
check "the job is kept, shown as failed" "[ \"\$(jin 'j[\"state\"]' <'$work/a.json')\" = failed ]"
check "its error names the parse errors and the state it had" \
    "jin 'j[\"error\"]' <'$work/a.json' | grep -q \"the job was succeeded.*sampler.type: unknown sampler .no_such_sampler.\""
check "its stored spec is shown as it was stored" \
    "[ \"\$(jin 'j[\"spec\"][\"sampler\"][\"type\"], j[\"shape\"]' <'$work/a.json')\" = 'no_such_sampler [2, 20, 2]' ]"
check "it is logged on stderr" "grep -q \"mcmcd: job $A: .*unknown sampler\" '$work/daemon.err'"
check "it is listed, as failed" \
    "get /v1/jobs | jin '[(x[\"id\"], x[\"state\"]) for x in j[\"jobs\"] if x[\"id\"] == \"$A\"]' | grep -q failed"
check "its events end with done: failed, and the reason" \
    "get /v1/jobs/$A/events | tail -n 1 | jin 'j[\"type\"], j[\"state\"], \"unknown sampler\" in j[\"error\"]' | grep -q 'done failed True'"
check "its draws are still there" \
    "get '/v1/jobs/$A/draws?format=json' | cmp -s - '$work/draws-before.json'"
get "/v1/jobs/$B" >"$work/b.json"
check "the queued one is failed and never ran" \
    "[ \"\$(jin 'j[\"state\"], j[\"progress\"][\"iter\"]' <'$work/b.json')\" = 'failed 0' ] &&
     jin 'j[\"error\"]' <'$work/b.json' | grep -q 'the job was queued'"
check "the queued one fails on disk too: ?state=failed lists it" \
    "get '/v1/jobs?state=failed' | jin '[x[\"id\"] for x in j[\"jobs\"]]' | grep -q '$B'"
check "the readable job is untouched" "[ \"\$(get /v1/jobs/$C | jin 'j[\"state\"]')\" = succeeded ]"
check "the unreadable jobs can be deleted" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' -X DELETE '$URL/v1/jobs/$A')\" = 204 ] &&
     [ \"\$(c -o /dev/null -w '%{http_code}' -X DELETE '$URL/v1/jobs/$B')\" = 204 ] &&
     [ \"\$(c -o /dev/null -w '%{http_code}' '$URL/v1/jobs/$A')\" = 404 ]"
stop_daemon
check "no sanitizer or crash report on stderr" \
    "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/daemon.err'"

finish
