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
PY=/usr/bin/python3
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
work=$(mktemp -d /tmp/mcmcd-restore.XXXXXX)
. "$(cd "$(dirname "$0")" && pwd)/lib.sh" # use_token
pid=''
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok - $1"; }
bad() { failed=$((failed + 1)); echo "not ok - $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
show() { sed 's/^/# /'; }

start() { # a daemon on an ephemeral port; its URL in $URL
    "$MCMCD" serve --port 0 --data-dir "$work/data" >"$work/out" 2>>"$work/err" &
    pid=$!
    URL=''
    for _ in $(seq 300); do
        line=$(head -n 1 "$work/out" 2>/dev/null)
        case "$line" in "mcmcd listening on http://"*) URL=${line#mcmcd listening on } && break ;; esac
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -z "$URL" ] || use_token "$work/data"
    [ -n "$URL" ]
}
stop() {
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    pid=''
}
get() { curl -s --max-time 10 "$URL$1"; }
# jq-like: jget 'expr on j' < JSON
jget() { "$PY" -c "import json,sys; j=json.load(sys.stdin); print($1)" 2>/dev/null; }
submit() {
    curl -s --max-time 10 -H 'Content-Type: application/json' -d "$1" "$URL/v1/jobs" | jget 'j["id"]'
}
wait_done() { # JOB
    for _ in $(seq 200); do
        [ "$(get "/v1/jobs/$1" | jget 'j["state"]')" = succeeded ] && return 0
        sleep 0.05
    done
    return 1
}

check "the daemon starts" "start"
SPEC='{"data": {"synthetic": {"n": 50, "d": 2, "seed": 1}}, "sampler": {"type": "ula", "step_size": 0.001}, "num_samples": 20, "chains": 2}'
A=$(submit "$SPEC")
B=$(submit "$SPEC")
C=$(submit "$SPEC")
check "three jobs succeed" "wait_done '$A' && wait_done '$B' && wait_done '$C'"
get "/v1/jobs/$A/draws?format=json" >"$work/draws-before.json"
stop

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
check "the daemon restarts with the edited registry" "start"
sleep 0.3 # a queued job would be picked up at once
get "/v1/jobs/$A" >"$work/a.json"
show <"$work/a.json"
check "the job is kept, shown as failed" "[ \"\$(jget 'j[\"state\"]' <'$work/a.json')\" = failed ]"
check "its error names the parse errors and the state it had" \
    "jget 'j[\"error\"]' <'$work/a.json' | grep -q \"the job was succeeded.*sampler.type: unknown sampler .no_such_sampler.\""
check "its stored spec is shown as it was stored" \
    "[ \"\$(jget 'j[\"spec\"][\"sampler\"][\"type\"], j[\"shape\"]' <'$work/a.json')\" = 'no_such_sampler [2, 20, 2]' ]"
check "it is logged on stderr" "grep -q \"mcmcd: job $A: .*unknown sampler\" '$work/err'"
check "it is listed, as failed" \
    "get /v1/jobs | jget '[(x[\"id\"], x[\"state\"]) for x in j[\"jobs\"] if x[\"id\"] == \"$A\"]' | grep -q failed"
check "its events end with done: failed, and the reason" \
    "get /v1/jobs/$A/events | tail -n 1 | jget 'j[\"type\"], j[\"state\"], \"unknown sampler\" in j[\"error\"]' | grep -q 'done failed True'"
check "its draws are still there" \
    "get '/v1/jobs/$A/draws?format=json' | cmp -s - '$work/draws-before.json'"
get "/v1/jobs/$B" >"$work/b.json"
check "the queued one is failed and never ran" \
    "[ \"\$(jget 'j[\"state\"], j[\"progress\"][\"iter\"]' <'$work/b.json')\" = 'failed 0' ] &&
     jget 'j[\"error\"]' <'$work/b.json' | grep -q 'the job was queued'"
check "the queued one fails on disk too: ?state=failed lists it" \
    "get '/v1/jobs?state=failed' | jget '[x[\"id\"] for x in j[\"jobs\"]]' | grep -q '$B'"
check "the readable job is untouched" "[ \"\$(get /v1/jobs/$C | jget 'j[\"state\"]')\" = succeeded ]"
check "the unreadable jobs can be deleted" \
    "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$URL/v1/jobs/$A')\" = 204 ] &&
     [ \"\$(curl -s -o /dev/null -w '%{http_code}' -X DELETE '$URL/v1/jobs/$B')\" = 204 ] &&
     [ \"\$(curl -s -o /dev/null -w '%{http_code}' '$URL/v1/jobs/$A')\" = 404 ]"
stop
check "no sanitizer or crash report on stderr" \
    "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/err'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
