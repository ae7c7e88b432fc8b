#!/usr/bin/env bash
# test_budget.sh - the memory budget and the restarts that must not loop.
# With memory_budget = 32M (a config file) and 2 workers:
# - the issue's job (429496729 x 5 synthetic rows) and the same synthetic
#   dataset get 413 too_large naming the size and the limit, with the
#   field's path, and the daemon stays up;
# - a job of about 19 MB runs; a second one waits in the queue with a
#   worker free, and runs once the first has ended;
# - kill -9 right after a cancel's 202: the next start ends the job
#   cancelled, with the draws it wrote, and never runs it again;
# - with 1 worker and a long job ahead, a job whose dataset file is deleted
#   before it starts ends failed, and stays failed across a restart;
# - a job that is running each time the daemon dies, 3 times in a row,
#   ends failed with reason crash_loop instead of running forever.
# Usage: test_budget.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_budget.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir budget

BUDGET=$((32 << 20))
printf 'memory_budget = 32M\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 2 --config "$work/mcmcd.conf"

# submit SPEC: prints the new job's id (empty on failure)
submit() { c -o "$work/sub.json" --json "$1" "$URL/v1/jobs" && jget "$work/sub.json" 'j["id"]'; }
# job $1's state is $2 and chain 0 has draws
has_draws_in() { [ "$(job_field "$1" 'j["state"] == "'"$2"'" and j["chains"][0]["draws"] > 0')" = True ]; }
wait_running() { wait_for 60 has_draws_in "$1" "$2"; } # at most 60 s
# too_large FILE PATH: a 413 body naming the size and the limit at PATH
too_large() {
    "$PY" - "$1" "$2" "$BUDGET" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))['error']
path, budget = sys.argv[2], int(sys.argv[3])
assert e['code'] == 'too_large', e
d = e['details'][0]
assert d['path'] == path and d['limit'] == budget and d['needs'] > budget, d
assert str(d['needs']) in e['message'] and str(budget) in e['message'], e['message']
PY
}

# about 19 MB: X and y (9.6 MB), the model's y and panels (9.6 MB); long
LONG='{"data": {"synthetic": {"n": 200000, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 100000, "thin": 100, "progress_every": 100}'
SHORT='{"data": {"synthetic": {"n": 200000, "d": 5, "seed": 1}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 200, "progress_every": 100}'

# --- too large: refused before anything is allocated ----------------------
HUGE='{"data": {"synthetic": {"n": 429496729, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.01}}'
st=$(c -o "$work/huge.json" -w '%{http_code}' --json "$HUGE" "$URL/v1/jobs")
check "POST /v1/jobs with 429496729 x 5 synthetic rows: 413 too_large at data.synthetic.n" \
    "[ '$st' = 413 ] && too_large '$work/huge.json' data.synthetic.n"
jget "$work/huge.json" 'j["error"]["message"]' | show
st=$(c -o "$work/huged.json" -w '%{http_code}' --json '{"synthetic": {"n": 429496729, "d": 5}}' \
    "$URL/v1/datasets")
check "POST /v1/datasets with the same synthetic rows: 413 too_large at synthetic.n" \
    "[ '$st' = 413 ] && too_large '$work/huged.json' synthetic.n"
check "the daemon is up: GET /healthz answers 200" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' '$URL/healthz')\" = 200 ]"
c "$URL/v1/jobs" >"$work/list.json"
check "no job was recorded for them" "[ \"\$(jget '$work/list.json' 'len(j[\"jobs\"])')\" = 0 ]"

# --- two jobs that do not fit together: the second waits ------------------
A=$(submit "$LONG")
check "a 19 MB job starts ($A)" "[ -n '$A' ] && wait_running '$A' running"
B=$(submit "$SHORT")
sleep 1.5
check "a second 19 MB job waits in the queue beside it, a worker free (budget 32M)" \
    "[ \"\$(job_field '$B' 'j[\"state\"]')\" = queued ] && [ \"\$(job_field '$A' 'j[\"state\"]')\" = running ]"
st=$(c -o /dev/null -w '%{http_code}' -X POST "$URL/v1/jobs/$A/cancel")
check "the first is cancelled (202) and ends cancelled" \
    "[ '$st' = 202 ] && [ \"\$(wait_job '$A')\" = cancelled ]"
check "then the second runs and succeeds" "[ \"\$(wait_job '$B')\" = succeeded ]"

# --- kill -9 right after a cancel's 202 -------------------------------------
C=$(submit "$LONG")
check "a long job runs and has draws ($C)" "[ -n '$C' ] && wait_running '$C' running"
st=$(c -o /dev/null -w '%{http_code}' -X POST "$URL/v1/jobs/$C/cancel")
crash_daemon # as at an OOM kill
check "cancel answered 202, then kill -9" "[ '$st' = 202 ]"
daemon_or_exit --workers 2 --config "$work/mcmcd.conf"
check "after the restart the job is cancelled, with the draws it wrote" \
    "[ \"\$(job_field '$C' 'j[\"state\"] + \" \" + str(j[\"chains\"][0][\"draws\"] > 0)')\" = 'cancelled True' ]"
check "its draws are served" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' '$URL/v1/jobs/$C/draws?chain=0&stop=5')\" = 200 ]"
sleep 1
check "and it is not run again" "[ \"\$(job_field '$C' 'j[\"state\"]')\" = cancelled ]"
stop_daemon

# --- a job that fails at start-up ends failed, across a restart ----------
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
c -o "$work/ds.json" --json '{"X": [[1, 2], [3, 4], [5, 6]], "y": [0, 1, 1]}' "$URL/v1/datasets"
DS=$(jget "$work/ds.json" 'j["id"]')
L=$(submit "$LONG")
check "a long job holds the only worker ($L)" "[ -n '$L' ] && wait_running '$L' running"
F=$(submit '{"data": {"dataset": "'"$DS"'"}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 100}')
check "a job on dataset $DS waits ($F)" "[ \"\$(job_field '$F' 'j[\"state\"]')\" = queued ]"
rm -f "$work/data/datasets/$DS.ds"
c -o /dev/null -X POST "$URL/v1/jobs/$L/cancel"
check "its dataset file deleted, it fails as it starts" "[ \"\$(wait_job '$F')\" = failed ]"
jget "$work/status.json" 'j["error"]' | show
started=$(job_field "$F" 'j["started"]')
crash_daemon # as at an OOM kill
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
sleep 1
check "after a restart it is still failed, not started again" \
    "[ \"\$(job_field '$F' 'j[\"state\"] + \" \" + j[\"started\"]')\" = 'failed $started' ]"

# --- a crash loop: 3 deaths in a row while the job runs -------------------
K=$(submit "$LONG")
for i in 1 2 3; do
    check "death $i: the job is running ($K)" "wait_running '$K' running"
    crash_daemon # as at an OOM kill
    daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
done
check "after the third, the job is failed with reason crash_loop" \
    "[ \"\$(job_field '$K' 'j[\"state\"] + \" \" + str(j[\"reason\"])')\" = 'failed crash_loop' ]"
jget "$work/st.json" 'j["error"]' | show
sleep 1
check "and stays failed" "[ \"\$(job_field '$K' 'j[\"state\"]')\" = failed ]"
check "the daemon said so at start" "grep -q 'failed (crash_loop)' '$work/daemon.err'"
stop_daemon
finish
