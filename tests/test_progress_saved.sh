#!/usr/bin/env bash
# test_progress_saved.sh - a running job's progress reaches the registry
# every second, written by the registry's sync thread (jobs.c
# persist_progress_soon), and a late one never overwrites a newer one or
# the job's end: while a long job runs, its row's progress counts more
# iterations from one read to the next (two reads 1.5 s apart, straight
# from registry.db, as a restart would read it), its seq follows, and the
# sync thread's write counter grows with them; once the job is cancelled,
# its row holds the end's progress, and still does 2.5 s later, when any
# write that was in flight has long landed.
# Usage: test_progress_saved.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_progress_saved.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir progress-saved

LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 1000000, "thin": 1000, "chains": 1, "progress_every": 100}'

# row ID: "ITER SEQ STATE" of the job's row in registry.db (a reader
# beside the daemon: WAL mode lets it)
row() {
    "$PY" - "$work/data/registry.db" "$1" <<'PY'
import json, sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, timeout=5)
progress, seq, state = db.execute(
    "SELECT progress, seq, state FROM jobs WHERE id = ?", (sys.argv[2],)).fetchone()
chains = json.loads(progress) if progress else []
print(sum(c.get("iter", 0) for c in chains), seq, state)
PY
}
batched() {
    c "$URL/metrics" | awk '$1 == "mcmcd_registry_batched_writes_total" {print $2}'
}

daemon_or_exit --workers 1
id=$(c --json "$LONG" "$URL/v1/jobs" | jin 'j["id"]')
wait_for 20 job_in_state "$id" running || bad "the long job runs"
sleep 2.2 # two saves at least
read -r iter1 seq1 state1 < <(row "$id")
writes1=$(batched)
sleep 1.5
read -r iter2 seq2 state2 < <(row "$id")
writes2=$(batched)
check "while it runs its row is saved: iterations $iter1, then $iter2 (1.5 s later)" \
    "[ '$state1' = running ] && [ '$state2' = running ] && [ '$iter1' -gt 0 ] &&
     [ '$iter2' -gt '$iter1' ]"
check "its seq follows its events: $seq1, then $seq2" "[ '$seq1' -ge 1 ] && [ '$seq2' -gt '$seq1' ]"
check "by the sync thread's writes: $writes1, then $writes2" \
    "[ -n '$writes1' ] && [ '$writes2' -gt '$writes1' ]"

c -o /dev/null -X POST "$URL/v1/jobs/$id/cancel"
wait_for 20 job_in_state "$id" cancelled || bad "the cancelled job ends"
read -r iter3 seq3 state3 < <(row "$id")
sleep 2.5
read -r iter4 seq4 state4 < <(row "$id")
check "cancelled, its row holds the end's progress ($iter3 iterations, seq $seq3)" \
    "[ '$state3' = cancelled ] && [ '$iter3' -ge '$iter2' ] && [ '$seq3' -ge '$seq2' ]"
check "and still does 2.5 s later ($iter4 iterations, seq $seq4)" \
    "[ '$iter4' = '$iter3' ] && [ '$seq4' = '$seq3' ] && [ '$state4' = cancelled ]"
stop_daemon
finish
