#!/usr/bin/env bash
# test_faults.sh - broken storage is a clear, logged error, never a crash:
# - another process holds the registry's write lock (python3's sqlite3,
#   BEGIN EXCLUSIVE, 8 s): a submit gets 503 with Retry-After within the
#   busy timeout (5 s) plus a margin, not a hang and not a crash; once the
#   lock is gone the same submit gets 201;
# - a job that ends while the lock is held stays running until its end
#   can be recorded, then shows succeeded, as the registry does;
# - a dataset file removed from under the daemon: GET of the dataset is a
#   JSON 500 naming it (logged with its id), and a queued job on it fails
#   as it starts with an error naming the dataset;
# - a data dir that is a regular file, and one this user may not use (run
#   as nobody through setpriv when the test runs as root): the start exits
#   non-zero with a message naming the path and the errno text.
# Usage: test_faults.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_faults.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir faults

daemon_or_exit --workers 1
submit() { c -o "$work/sub.json" --json "$1" "$URL/v1/jobs" && jget "$work/sub.json" 'j["id"]'; }
SMALL='{"data": {"synthetic": {"n": 100, "d": 2}}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200}'
LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "chains": 1, "progress_every": 100}'

# --- the registry's write lock held by another process ----------------------
# a request first, so that the token's last_used (written hourly) is not
# what waits on the lock
c -o /dev/null "$URL/v1/jobs"
hold_registry_lock 8
check "another process holds the registry's write lock" "grep -q locked '$work/lock.out'"
t0=$(date +%s.%N)
st=$(c -o "$work/busy.json" -D "$work/busy.h" -w '%{http_code}' --json "$SMALL" "$URL/v1/jobs")
t1=$(date +%s.%N)
secs=$("$PY" -c "print(round($t1 - $t0, 2))")
check "a submit meanwhile: 503 unavailable with Retry-After, after ${secs}s (busy timeout 5 s)" \
    "[ '$st' = 503 ] && grep -qi '^retry-after: [0-9]' '$work/busy.h' && [ \"\$(jget '$work/busy.json' 'j[\"error\"][\"code\"]')\" = unavailable ] && $PY -c 'import sys; sys.exit(not $secs < 7.5)'"
jget "$work/busy.json" 'j["error"]["message"]' | show
release_registry_lock
check "the daemon is alive" "[ \"\$(c -o /dev/null -w '%{http_code}' '$URL/healthz')\" = 200 ]"
S=$(submit "$SMALL")
check "with the lock gone the submit is accepted and succeeds ($S)" \
    "[ -n '$S' ] && [ \"\$(wait_job '$S')\" = succeeded ]"

# --- a job ends while the lock is held: its end waits for the registry -------
# python3 ready first, so that the lock comes within milliseconds of "go";
# it holds the lock until the daemon logs that the job's end waits, then 2 s
# more. At most 300 s: the job takes 0.6 s in the plain build but 30 s and
# more under ThreadSanitizer (./dev tsan), where 60 s once ran out
rm -f "$work/lock.out" "$work/go"
"$PY" - "$work/data/registry.db" "$work/go" "$work/daemon.err" >"$work/lock.out" 2>&1 <<'PY' &
import os, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
while not os.path.exists(sys.argv[2]):
    time.sleep(0.005)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
end = time.time() + 300
while time.time() < end and "cannot record that it" not in open(sys.argv[3]).read():
    time.sleep(0.2)
time.sleep(2)
db.execute("ROLLBACK")
PY
locker=$!
E=$(submit '{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 2}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 20000, "chains": 1, "progress_every": 100}')
for _ in $(seq 200); do
    [ "$(job_field "$E" 'j["chains"][0]["draws"]')" -gt 0 ] 2>/dev/null && break
    sleep 0.05
done
touch "$work/go"
wait "$locker"
check "a job that ended while the lock was held: its end could not be recorded then" \
    "grep -q 'job $E: cannot record that it succeeded' '$work/daemon.err'"
check "once the lock is gone it is recorded, and the job shows succeeded" \
    "[ \"\$(wait_job '$E')\" = succeeded ] && grep -q 'job $E: its end (succeeded) is recorded now' '$work/daemon.err'"
row=$("$PY" -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select state from jobs where id=?', (sys.argv[2],)).fetchone()[0])" "$work/data/registry.db" "$E")
check "the registry agrees: $row" "[ '$row' = succeeded ]"

# --- a dataset file removed from under the daemon ----------------------------
c -o "$work/ds.json" --json '{"X": [[1, 2], [3, 4], [5, 6]], "y": [0, 1, 1]}' "$URL/v1/datasets"
DS=$(jget "$work/ds.json" 'j["id"]')
L=$(submit "$LONG")
F=$(submit '{"data": {"dataset": "'"$DS"'"}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 100}')
sleep 0.5
check "a job on dataset $DS waits behind a long one ($F)" \
    "[ -n '$F' ] && [ \"\$(job_field '$F' 'j[\"state\"]')\" = queued ]"
rm -f "$work/data/datasets/$DS.ds"
st=$(c -o "$work/dsget.json" -w '%{http_code}' "$URL/v1/datasets/$DS")
check "GET of the dataset whose file is gone: a JSON 500 naming it, with an id" \
    "[ '$st' = 500 ] && jget '$work/dsget.json' 'j[\"error\"][\"message\"]' | grep -q '$DS' && [ -n \"\$(jget '$work/dsget.json' 'j[\"error\"][\"id\"]')\" ]"
check "it is logged under that id" \
    "grep -q \"error \$(jget '$work/dsget.json' 'j[\"error\"][\"id\"]').*$DS\" '$work/daemon.err'"
c -o /dev/null -X POST "$URL/v1/jobs/$L/cancel"
check "the queued job fails as it starts, its error naming the dataset" \
    "[ \"\$(wait_job '$F')\" = failed ] && jget '$work/status.json' 'j[\"error\"]' | grep -q '$DS'"
jget "$work/status.json" 'j["error"]' | show
check "the daemon is alive" "[ \"\$(c -o /dev/null -w '%{http_code}' '$URL/healthz')\" = 200 ]"
stop_daemon

# --- a data dir the daemon cannot use ------------------------------------------
: >"$work/plain-file"
"$MCMCD" serve --port 0 --data-dir "$work/plain-file" >/dev/null 2>"$work/file.err"
rc=$?
check "a data dir that is a regular file: exit $rc (non-zero), the path and 'Not a directory'" \
    "[ '$rc' -ne 0 ] && grep -q '$work/plain-file' '$work/file.err' && grep -q 'Not a directory' '$work/file.err'"
show <"$work/file.err"
mkdir -p "$work/locked"
chmod 700 "$work/locked"
if [ "$(id -u)" = 0 ]; then
    chmod 755 "$work" # nobody may reach the directory, not use it
    setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$MCMCD" serve --port 0 --data-dir "$work/locked" >/dev/null 2>"$work/locked.err"
else
    chmod 000 "$work/locked"
    "$MCMCD" serve --port 0 --data-dir "$work/locked" >/dev/null 2>"$work/locked.err"
fi
rc=$?
chmod 700 "$work/locked"
check "a data dir this user may not use: exit $rc (non-zero), the path and 'Permission denied'" \
    "[ '$rc' -ne 0 ] && grep -q '$work/locked' '$work/locked.err' && grep -q 'Permission denied' '$work/locked.err'"
show <"$work/locked.err"
check "no sanitizer report" "! grep -qi 'sanitizer\|runtime error' '$work/daemon.err' '$work/file.err' '$work/locked.err'"
finish
