#!/usr/bin/env bash
# test_slurm.sh - the slurm executor against a real single-node Slurm
# (Debian's slurm-wlm and munge: munged, slurmctld and slurmd, started here
# by tests/slurm/cluster.sh with a generated slurm.conf in the work dir, and
# stopped at exit). It checks, on small jobs:
#   1. a 4-chain job through Slurm streams its events to done, and its draws
#      are the bytes the local executor gives for the same spec; the same
#      again when the tasks cannot post (they are read from shared_dir);
#   2. a cancel reaches Slurm (the array's tasks end CANCELLED);
#   3. tasks killed with scancel from outside fail their chains with Slurm's
#      state and reason, and the job keeps the draws they wrote;
#   4. a daemon restart while tasks run loses nothing (same job, same draws);
#   5. a queue longer than the node's CPUs waits in Slurm (tasks PENDING),
#      not in mcmcd (every job running, one worker thread), and the chains
#      in Slurm count as the user's running chains.
# When Slurm cannot start here the test fails, saying why. Runs as root
# (slurmd starts the tasks). Usage: test_slurm.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_slurm.sh PATH/TO/mcmcd}
MCMCD=$(cd "$(dirname "$MCMCD")" && pwd)/$(basename "$MCMCD") # the tasks run it from elsewhere
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

test_workdir slurm
cluster=$work/cluster
at_exit '"$here/slurm/cluster.sh" stop "$cluster" >/dev/null 2>&1'

if ! line=$("$here/slurm/cluster.sh" start "$cluster" 2>"$work/cluster.err"); then
    show <"$work/cluster.err"
    bad "a single-node Slurm starts here (see above; tests/slurm/cluster.sh)"
    finish
    exit 1
fi
eval "$line" # SLURM_CONF
export SLURM_CONF
CPUS=$(sinfo -h -o '%c' | head -n 1)
ok "Slurm is up: one node of $CPUS CPUs ($SLURM_CONF)"

mkdir -p "$work/shared"
conf() { # conf FILE [extra lines]: a slurm executor config
    local f=$1
    shift
    {
        echo "executor = slurm"
        echo "shared_dir = $work/shared"
        echo "workers = 1"
        printf '%s\n' "$@"
    } >"$f"
}
conf "$work/slurm.conf" "slurm_max_time_limit = 60" "slurm_partitions = nope"
daemon_or_exit --config "$work/slurm.conf"

H='Content-Type: application/json'
submit() { c -X POST -H "$H" "$URL/v1/jobs" -d "$1" | jin 'j["id"]'; }
state_of() { c "$URL/v1/jobs/$1" | jin 'j["state"]'; }
array_of() { cat "$work/shared/$1/array" 2>/dev/null; }
# tasks_in ARRAY STATE: how many of the array's tasks Slurm shows in STATE
tasks_in() { squeue -h -r -j "$1" -t "$2" -o %i 2>/dev/null | wc -l; }
npy() { c -H 'Accept: application/x-npy' "$URL/v1/jobs/$1/draws" -o "$2"; }
# on_other URL JOB_SPEC NPY: runs the spec on the daemon at URL, its draws to NPY; prints its end
on_other() {
    local saved=$URL id st
    URL=$1
    id=$(submit "$2")
    st=$(wait_job "$id")
    npy "$id" "$3"
    URL=$saved
    echo "$id $st"
}

# --- 1. a 4-chain job: events to done, the local executor's bytes --------------

SPEC='{"data": {"synthetic": {"n": 200, "d": 3, "seed": 1}}, "sampler": {"type": "mala", "step_size": 0.01}, "num_samples": 2000, "num_warmup": 200, "chains": 4, "key": 7, "progress_every": 200}'
J1=$(submit "$SPEC")
timeout 60 curl -sN "$URL/v1/jobs/$J1/events" >"$work/events1.ndjson"
check "1. a 4-chain Slurm job streams its events to done: seq 1, 2, ..., progress of every chain to 2200, done succeeded" \
    "$PY - '$work/events1.ndjson' <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
evs = [e for e in evs if e['type'] != 'heartbeat']
assert [e['seq'] for e in evs] == list(range(1, len(evs) + 1)), [e['seq'] for e in evs]
assert [e.get('state') for e in evs if e['type'] == 'state'] == ['queued', 'running'], evs[:3]
last = evs[-1]
assert last['type'] == 'done' and last['state'] == 'succeeded', last
assert last['draws_per_chain'] == [2000] * 4, last
top = {}
for e in evs:
    if e['type'] == 'progress':
        top[e['chain']] = max(top.get(e['chain'], 0), e['iter'])
assert top == {c: 2200 for c in range(4)}, top
PY"
A1=$(array_of "$J1")
check "1. the job was one Slurm array of 4 tasks, all COMPLETED (array $A1)" \
    "[ \"\$(scontrol show job -o '$A1' | grep -c 'JobState=COMPLETED')\" = 4 ]"
npy "$J1" "$work/slurm1.npy"
other_daemon local --auth none
read -r _ st < <(on_other "$other_url" "$SPEC" "$work/local1.npy")
stop_other_daemon
check "1. its draws are byte for byte the local executor's ($st; $(wc -c <"$work/local1.npy") bytes of .npy)" \
    "[ '$st' = succeeded ] && cmp -s '$work/slurm1.npy' '$work/local1.npy'"
check "1. the daemon's log names the array and the blocks the tasks posted" \
    "grep -q 'Slurm job $A1 (submitted)' '$work/daemon.err' && grep -Eq 'job $J1: [1-9][0-9]* blocks posted' '$work/daemon.err'"

# The same job when the tasks cannot reach the daemon: read from shared_dir.
conf "$work/deaf.conf" "slurm_callback_url = http://127.0.0.1:1"
other_daemon deaf --config "$work/deaf.conf" --auth none
read -r JD st < <(on_other "$other_url" "$SPEC" "$work/deaf.npy")
stop_other_daemon
check "1. with every post failing the job still succeeds ($st), read from shared_dir, with the same bytes" \
    "[ '$st' = succeeded ] && cmp -s '$work/deaf.npy' '$work/local1.npy' && grep -Eq 'job $JD: 0 blocks posted' '$work/deaf.err'"

# A long job: chains that run until stopped (minutes, thinned).
LONG='{"data": {"synthetic": {"n": 2000, "d": 5, "seed": 2}}, "sampler": {"type": "mala", "step_size": 0.002}, "num_samples": 1000, "thin": 20000, "chains": 2, "progress_every": 20000}'
running_with_draws() { # running_with_draws JOB: every chain has a draw in
    c "$URL/v1/jobs/$1" | jin 'all(ch["draws"] > 0 for ch in j["chains"]) and j["state"] == "running"' | grep -q True
}

# --- 2. a cancel reaches Slurm ---------------------------------------------------

J2=$(submit "${LONG%\}}, \"slurm\": {\"time_limit\": 7}}")
wait_for 30 running_with_draws "$J2"
A2=$(array_of "$J2")
check "2. the long job runs in Slurm (array $A2: $(tasks_in "$A2" RUNNING) tasks RUNNING), with the time limit its spec asked for" \
    "[ -n '$A2' ] && [ \"\$(tasks_in '$A2' RUNNING)\" = 2 ] && [ \"\$(scontrol show job -o '$A2' | grep -c 'TimeLimit=00:07:00')\" = 2 ]"
c -X POST "$URL/v1/jobs/$J2/cancel" >/dev/null
st=$(wait_job "$J2")
check "2. the cancel reaches Slurm: the job is $st and its tasks CANCELLED" \
    "[ '$st' = cancelled ] && [ \"\$(scontrol show job -o '$A2' | grep -c 'JobState=CANCELLED')\" = 2 ]"

# --- 3. tasks killed from outside -------------------------------------------------

J3=$(submit "$LONG")
wait_for 30 running_with_draws "$J3"
A3=$(array_of "$J3")
scancel "$A3" # both tasks, from outside mcmcd
st=$(wait_job "$J3")
c "$URL/v1/jobs/$J3" >"$work/j3.json"
echo "# $(jget "$work/j3.json" 'j["error"]')"
check "3. a task killed with scancel fails its chain: failed, with Slurm's state and reason" \
    "[ '$st' = failed ] && jget '$work/j3.json' 'j[\"error\"]' | grep -Eq '^chain [01]: Slurm ended its task ${A3}_[01] CANCELLED \\(reason: [^)]*\\); the draws it wrote are kept'"
check "3. the job keeps the draws its tasks wrote" \
    "jget '$work/j3.json' 'all(ch[\"draws\"] > 0 for ch in j[\"chains\"])' | grep -q True && c '$URL/v1/jobs/$J3/draws?chain=0&stop=1' | jin 'len(j[\"draws\"][0]) == 1 and None not in j[\"draws\"][0][0]' | grep -q True"

# --- 4. a restart while tasks run -------------------------------------------------

MID='{"data": {"synthetic": {"n": 2000, "d": 5, "seed": 3}}, "sampler": {"type": "mala", "step_size": 0.002}, "num_samples": 300, "thin": 2000, "chains": 2, "key": 3, "progress_every": 10000}'
J4=$(submit "$MID")
wait_for 30 running_with_draws "$J4"
A4=$(array_of "$J4")
stop_daemon 10
running=$(tasks_in "$A4" RUNNING)
start_daemon --config "$work/slurm.conf" || bad "the daemon starts again"
st=$(wait_job "$J4")
check "4. a restart while $running tasks ran loses nothing: the job is $st, re-attached to array $A4" \
    "[ '$running' -ge 1 ] && [ '$st' = succeeded ] && grep -q 'job $J4: Slurm job $A4 (re-attached)' '$work/daemon.err'"
npy "$J4" "$work/slurm4.npy"
echo "$MID" >"$work/mid.json"
"$MCMCD" run -q --spec "$work/mid.json" --out "$work/local4.npy" 2>/dev/null
check "4. its draws are the local executor's bytes" "cmp -s '$work/slurm4.npy' '$work/local4.npy'"

# --- 5. a queue longer than the node's CPUs waits in Slurm --------------------------

N=$((CPUS + 1))
WIDE=${LONG/\"chains\": 2/\"chains\": $N}
J5=$(submit "$WIDE")
J6=$(submit "$WIDE")
pending_in() { [ -n "$(array_of "$1")" ] && [ "$(tasks_in "$(array_of "$1")" PENDING)" -ge 1 ]; }
wait_for 20 pending_in "$J6"
s5=$(state_of "$J5") s6=$(state_of "$J6")
pend=$(($(tasks_in "$(array_of "$J5")" PENDING) + $(tasks_in "$(array_of "$J6")" PENDING)))
chains=$(c "$URL/v1/users/me" | jin 'j["usage"]["running_chains"]')
check "5. $((2 * N)) chains on $CPUS CPUs with 1 worker: both jobs running in mcmcd ($s5, $s6), $pend tasks PENDING in Slurm" \
    "[ '$s5' = running ] && [ '$s6' = running ] && [ '$pend' -ge $((2 * N - CPUS)) ]"
check "5. the chains in Slurm count as the user's running chains ($chains of $((2 * N)))" \
    "[ '$chains' = $((2 * N)) ]"
c -X POST "$URL/v1/jobs/$J5/cancel" >/dev/null
c -X POST "$URL/v1/jobs/$J6/cancel" >/dev/null
s5=$(wait_job "$J5") s6=$(wait_job "$J6")
chains=$(c "$URL/v1/users/me" | jin 'j["usage"]["running_chains"]')
check "5. cancelled ($s5, $s6), queued tasks too; they count no more ($chains running chains)" \
    "[ '$s5' = cancelled ] && [ '$s6' = cancelled ] && [ '$chains' = 0 ]"

# --- 6. what Slurm refuses, and what the admin does not allow -----------------------

code=$(c -o "$work/over.json" -w '%{http_code}' -X POST -H "$H" "$URL/v1/jobs" \
    -d "${SPEC%\}}, \"slurm\": {\"time_limit\": 61, \"cpus_per_task\": 2}}")
check "6. a spec asking past the admin's limits is refused: $code, naming slurm.time_limit and slurm.cpus_per_task" \
    "[ '$code' = 422 ] && jget '$work/over.json' '[d[\"path\"] for d in j[\"error\"][\"details\"]]' | grep -q \"\\['slurm.time_limit', 'slurm.cpus_per_task'\\]\""
J7=$(submit "${SPEC%\}}, \"slurm\": {\"partition\": \"nope\"}}")
st=$(wait_job "$J7")
c "$URL/v1/jobs/$J7" >"$work/j7.json"
echo "# $(jget "$work/j7.json" 'j["error"]')"
check "6. an sbatch that Slurm refuses fails the job ($st) with its message; the daemon runs on" \
    "[ '$st' = failed ] && jget '$work/j7.json' 'j[\"error\"]' | grep -q '^slurm: sbatch failed (exit status 1): .*nope' && c '$URL/healthz' | grep -q ok"

finish
