#!/usr/bin/env bash
# test_disk_full.sh - a full disk, on a 16 MB tmpfs as the data dir:
# - a job whose draws cannot fit and a dataset that cannot fit get 507
#   insufficient_storage saying how many bytes were needed and are free;
#   nothing is left of them;
# - a running job whose next write finds the disk full (the space it took
#   as it started punched out ahead of it, then the disk filled) ends failed
#   with reason disk_full, keeps the draws it wrote, and can be deleted;
#   meanwhile reads answer (status, list, events, draws, summary) and new
#   jobs and uploads get 507;
# - with the space back, a new job runs to the end, with no restart;
# - a restart on the full disk (kill -9 with a job running) starts and
#   serves reads; once there is room the job can be cancelled and deleted;
#   a start on a full disk after a clean stop serves reads too.
# It runs in a mount namespace of its own (unshare -m as root, -Urm
# otherwise), so the tmpfs goes with it; a system where neither can mount
# a tmpfs fails the test, saying why.
# Usage: test_disk_full.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_disk_full.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
in_mount_namespace "$@"
test_workdir disk-full
tmpfs_data_dir 16m

printf 'sweep_seconds = 1\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"

submit() { c -o "$work/sub.json" --json "$1" "$URL/v1/jobs" && jget "$work/sub.json" 'j["id"]'; }
status_of() { c -o /dev/null -w '%{http_code}' "$@"; }
# insufficient FILE: a 507 body with both numbers in its message
insufficient() {
    "$PY" - "$1" <<'PY'
import json, re, sys
e = json.load(open(sys.argv[1]))['error']
assert e['code'] == 'insufficient_storage', e
assert re.search(r': \d+ bytes needed, \d+ free', e['message']), e['message']
PY
}
draws_of() { job_field "$1" 'j["chains"][0]["draws"]'; }

# about 22 MB of draws and statistics: more than the disk
BIG='{"data": {"synthetic": {"n": 100, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.01}, "chains": 2, "num_samples": 200000}'
# 4 MB of draws (5 x 8 bytes a row), about a minute and a half of sampling
LONG='{"data": {"synthetic": {"n": 200000, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 100000, "progress_every": 100}'
SMALL='{"data": {"synthetic": {"n": 100, "d": 2}}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200}'

# --- refused at submit and at upload --------------------------------------
st=$(c -o "$work/big.json" -w '%{http_code}' --json "$BIG" "$URL/v1/jobs")
check "a job whose 22 MB of draws cannot fit: 507 insufficient_storage, bytes needed and free" \
    "[ '$st' = 507 ] && insufficient '$work/big.json'"
jget "$work/big.json" 'j["error"]["message"]' | show
check "nothing is left of it: no job listed, no job dir" \
    "[ \"\$(c '$URL/v1/jobs' | $PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"jobs\"]))')\" = 0 ] && [ -z \"\$(ls '$work/data/jobs')\" ]"
st=$(c -o "$work/bigd.json" -w '%{http_code}' --json '{"synthetic": {"n": 400000, "d": 5}}' "$URL/v1/datasets")
check "a 19 MB dataset upload: 507 insufficient_storage" "[ '$st' = 507 ] && insufficient '$work/bigd.json'"
check "no dataset and no temporary file is left of it" \
    "[ -z \"\$(ls -A '$work/data/datasets')\" ]"

# --- a running job finds the disk full -------------------------------------
L=$(submit "$LONG")
for _ in $(seq 300); do
    [ "$(draws_of "$L")" -gt 0 ] 2>/dev/null && break
    sleep 0.1
done
d0=$(draws_of "$L")
check "a long job runs and has draws ($L: $d0)" "[ -n '$L' ] && [ '${d0:-0}' -gt 0 ]"
# the space it took as it started is punched out 1000 rows ahead, then taken
off=$(((d0 + 1000) * 40))
fallocate -p -o "$off" -l $((4000000 - off)) "$work/data/jobs/$L/draws.f64"
fill_data_dir 1
check "the disk is full" "[ \"\$(data_dir_avail)\" -lt 4096 ]"

st=$(c -o "$work/small.json" -w '%{http_code}' --json "$SMALL" "$URL/v1/jobs")
check "a new job on the full disk: 507" "[ '$st' = 507 ] && insufficient '$work/small.json'"
st=$(c -o "$work/up.json" -w '%{http_code}' --json '{"X": [[1, 2], [3, 4]], "y": [0, 1]}' "$URL/v1/datasets")
check "an upload on the full disk: 507" "[ '$st' = 507 ] && insufficient '$work/up.json'"

state=''
for _ in $(seq 1200); do
    state=$(job_field "$L" 'j["state"]')
    [ "$state" = running ] || break
    sleep 0.1
done
check "the job ends failed, reason disk_full, its error starts disk_full:" \
    "[ \"\$(job_field '$L' 'j[\"state\"] + \" \" + str(j[\"reason\"]) + \" \" + j[\"error\"][:10]')\" = 'failed disk_full disk_full:' ]"
jget "$work/st.json" 'j["error"]' | show
kept=$(draws_of "$L")
check "it keeps the draws it wrote ($kept, at least the $d0 seen running)" \
    "[ '${kept:-0}' -ge '$d0' ] && [ '${kept:-0}' -lt 100000 ]"
rows=$(c "$URL/v1/jobs/$L/draws?format=csv" | tail -n +2 | wc -l)
check "its draws are served on the full disk: $rows rows" "[ '$rows' = '$kept' ]"
check "status, list, events, summary and health answer 200 on the full disk" \
    "[ \"\$(status_of '$URL/v1/jobs/$L')\$(status_of '$URL/v1/jobs')\$(status_of '$URL/v1/jobs/$L/events')\$(status_of '$URL/v1/jobs/$L/summary')\$(status_of '$URL/healthz')\" = 200200200200200 ]"
c "$URL/v1/jobs/$L/events" | tail -n 1 | grep -q '"done"' && ok "its event stream ends with done" ||
    bad "its event stream ends with done"
st=$(status_of -X DELETE "$URL/v1/jobs/$L")
check "it can be deleted: 204, then 404" "[ '$st' = 204 ] && [ \"\$(status_of '$URL/v1/jobs/$L')\" = 404 ]"

# --- the space comes back ------------------------------------------------------
rm -f "$work/data"/filler.*
S=$(submit "$SMALL")
check "with space back, a new job is accepted and succeeds, no restart ($S)" \
    "[ -n '$S' ] && [ \"\$(wait_job '$S')\" = succeeded ]"
st=$(c -o /dev/null -w '%{http_code}' --json '{"X": [[1, 2], [3, 4]], "y": [0, 1]}' "$URL/v1/datasets")
check "and an upload is stored: 201" "[ '$st' = 201 ]"

# --- a restart on the full disk ----------------------------------------------
R=$(submit "$LONG")
for _ in $(seq 300); do
    [ "$(draws_of "$R")" -gt 0 ] 2>/dev/null && break
    sleep 0.1
done
fill_data_dir 2
kill -KILL "$daemon_pid"
wait "$daemon_pid" 2>/dev/null
daemon_pid=''
check "the disk is full, a job ($R) was running at kill -9" "[ \"\$(data_dir_avail)\" -lt 4096 ]"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
check "after the restart on the full disk: list, status and draws answer 200" \
    "[ \"\$(status_of '$URL/v1/jobs')\$(status_of '$URL/v1/jobs/$R')\$(status_of '$URL/v1/jobs/$S/draws')\" = 200200200 ]"
state=$(job_field "$R" 'j["state"]')
check "the interrupted job is shown as it is ($state)" "[ '$state' = running ] || [ '$state' = queued ]"
rm -f "$work/data"/filler.*
st=$(status_of -X POST "$URL/v1/jobs/$R/cancel")
check "with room again it is cancelled (202), ends cancelled and is deleted (204)" \
    "[ '$st' = 202 ] && [ \"\$(wait_job '$R')\" = cancelled ] && [ \"\$(status_of -X DELETE '$URL/v1/jobs/$R')\" = 204 ]"
# a clean stop removes SQLite's -wal and -shm files: they are made again
# at the next start, on a full disk too (the registry's reserve makes room)
fill_data_dir 3
stop_daemon
check "the disk is full again, the daemon stopped cleanly" "[ \"\$(data_dir_avail)\" -lt 4096 ]"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
check "after a clean stop, a start on the full disk serves reads: list and draws 200" \
    "[ \"\$(status_of '$URL/v1/jobs')\$(status_of '$URL/v1/jobs/$S/draws')\" = 200200 ]"
stop_daemon
grep -i 'sanitizer\|runtime error' "$work/daemon.err" | show
check "no sanitizer report" "! grep -qi 'sanitizer\|runtime error' '$work/daemon.err'"
finish
