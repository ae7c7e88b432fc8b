#!/usr/bin/env bash
# test_disk_promised.sh - the room a queued job will need, on a 16 MB tmpfs
# as the data dir, with one worker held by a long job:
# - a queued job makes no files, but the room its draws and statistics
#   will take is promised to it at submit: once the jobs queued fill the
#   free space on paper, the next one gets 507 insufficient_storage whose
#   message says how much of the free space is promised, although the disk
#   itself still has room for it;
# - submissions sent all at once are promised the room one at a time: as
#   many are accepted as were one after the other (a submission's row is
#   written off the loop, and the ones in flight still count);
# - a queued job whose turn comes on a disk that filled meanwhile (not by
#   the daemon) ends failed with reason disk_full before its chains start;
#   its draws and summary still answer, and it can be deleted;
# - with the space back the next job runs to the end, with no restart.
# test_disk_full.sh covers a running job's ENOSPC, reads and restarts on
# a full disk. The checks read the daemon's own numbers, not the disk's
# exact fullness, which SQLite's WAL moves by a few pages at any time.
# Usage: test_disk_promised.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_disk_promised.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
in_mount_namespace "$@"
test_workdir disk-promised
tmpfs_data_dir 16m
daemon_or_exit --workers 1

status_of() { c -o /dev/null -w '%{http_code}' "$@"; }

# holds the only worker: 4 MB of draws, minutes of sampling
LONG='{"data": {"synthetic": {"n": 200000, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 100000, "progress_every": 100}'
# 3.2 MB of draws and statistics each: two fit in what the long job leaves
QUEUED='{"data": {"synthetic": {"n": 100, "d": 5}}, "sampler": {"type": "mala", "step_size": 0.01}, "num_samples": 50000}'
SMALL='{"data": {"synthetic": {"n": 100, "d": 2}}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200}'

c -o "$work/long.json" --json "$LONG" "$URL/v1/jobs"
L=$(jget "$work/long.json" 'j["id"]')
wait_for 30 job_in_state "$L" running
check "a long job holds the only worker ($L)" "job_in_state '$L' running"

# --- submits until one is refused on paper -----------------------------------
queued='' st=''
for i in $(seq 12); do
    st=$(c -o "$work/q.json" -w '%{http_code}' --json "$QUEUED" "$URL/v1/jobs")
    [ "$st" = 201 ] || break
    queued="$queued $(jget "$work/q.json" 'j["id"]')"
done
disk_free=$(data_dir_avail)
n_queued=$(echo $queued | wc -w)
jget "$work/q.json" 'j["error"]["message"]' | show
check "after $n_queued queued jobs the next gets 507 insufficient_storage" \
    "[ '$st' = 507 ] && [ '$n_queued' -ge 1 ] && [ \"\$(jget '$work/q.json' 'j[\"error\"][\"code\"]')\" = insufficient_storage ]"
# "...: N bytes needed, F free on the data dir's disk, of which P are
# promised to the jobs queued before it"
check "its message: the bytes needed fit in what is free, not in what is free less what is promised" \
    "$PY - '$work/q.json' <<'PY'
import json, re, sys
m = json.load(open(sys.argv[1]))['error']['message']
g = re.search(r': (\d+) bytes needed, (\d+) free .*, of which (\d+) are promised to the jobs queued before it', m)
assert g, m
need, free, promised = map(int, g.groups())
assert 0 < need <= free < need + promised, (need, free, promised)
PY"
check "no queued job has made files yet: the disk has room for the refused one ($disk_free bytes free)" \
    "$PY -c 'import json,re,sys; m=json.load(open(sys.argv[1]))[\"error\"][\"message\"]; sys.exit(not int(re.search(r\": (\\d+) bytes needed\", m).group(1)) <= int(sys.argv[2]))' '$work/q.json' '$disk_free'"

# --- the same submissions all at once ------------------------------------------
# the queued ones cancelled (their promises go), then 12 at once: each one's
# room is checked after the earlier ones' were promised, whether or not
# their rows are on disk yet
for q in $queued; do c -o /dev/null -X POST "$URL/v1/jobs/$q/cancel"; done
pids=''
for i in $(seq 12); do
    c -o "$work/burst.$i.json" -w '%{http_code}' --json "$QUEUED" "$URL/v1/jobs" >"$work/burst.$i.code" &
    pids="$pids $!"
done
wait $pids
burst_ok=0
for i in $(seq 12); do [ "$(cat "$work/burst.$i.code")" = 201 ] && burst_ok=$((burst_ok + 1)); done
check "12 submissions at once: $burst_ok accepted, as many as one after the other ($n_queued)" \
    "[ '$burst_ok' = '$n_queued' ]"
queued=''
for i in $(seq 12); do
    [ "$(cat "$work/burst.$i.code")" = 201 ] && queued="$queued $(jget "$work/burst.$i.json" 'j["id"]')"
done

# --- the first queued job's turn comes on a full disk -----------------------
first=$(echo $queued | cut -d' ' -f1)
fill_data_dir 1
check "the disk is filled from outside the daemon" "[ \"\$(data_dir_avail)\" -lt 1000000 ]"
c -o /dev/null -X POST "$URL/v1/jobs/$L/cancel"
check "the long job is cancelled" "[ \"\$(wait_job '$L')\" = cancelled ]"
state=$(wait_job "$first")
job_field "$first" 'j["error"]' | show
check "the first queued job ends failed, reason disk_full, its error starts disk_full:" \
    "[ \"\$(job_field '$first' 'j[\"state\"] + \" \" + str(j[\"reason\"]) + \" \" + j[\"error\"][:10]')\" = 'failed disk_full disk_full:' ]"
check "no chain of it ran: 0 draws" "[ \"\$(job_field '$first' 'sum(k[\"draws\"] for k in j[\"chains\"])')\" = 0 ]"
check "its status, draws and summary answer 200" \
    "[ \"\$(status_of '$URL/v1/jobs/$first')\$(status_of '$URL/v1/jobs/$first/draws')\$(status_of '$URL/v1/jobs/$first/summary')\" = 200200200 ]"
check "it can be deleted: 204, then 404" \
    "[ \"\$(status_of -X DELETE '$URL/v1/jobs/$first')\" = 204 ] && [ \"\$(status_of '$URL/v1/jobs/$first')\" = 404 ]"

# --- the space comes back -------------------------------------------------------
rm -f "$work/data"/filler.*
for q in $queued; do wait_job "$q" >/dev/null; done
S=$(c --json "$SMALL" "$URL/v1/jobs" | jin 'j["id"]')
check "with space back, a new job is accepted and succeeds, no restart ($S)" \
    "[ -n '$S' ] && [ \"\$(wait_job '$S')\" = succeeded ]"
stop_daemon
grep -i 'sanitizer\|runtime error' "$work/daemon.err" | show
check "no sanitizer report" "! grep -qi 'sanitizer\|runtime error' '$work/daemon.err'"
finish
