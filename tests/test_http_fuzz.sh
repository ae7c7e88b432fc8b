#!/usr/bin/env bash
# test_http_fuzz.sh - random and mutated HTTP requests (tests/http_fuzz.py,
# raw sockets) for MCMCD_FUZZ_SECONDS (25) from a fixed seed, printed
# (MCMCD_FUZZ_SEED overrides it), by 6 clients at once against a daemon
# with small limits (1 MB bodies, a 2 s idle timeout, jobs stopped after
# 2 s). Every answer must be JSON or a documented exception, none a 500,
# none missing (see http_fuzz.py); afterwards the daemon answers
# GET /healthz, exits 0 on SIGTERM, and its stderr has no sanitizer report.
# It found a use after free in libmicrohttpd reached through http.c
# (MHD_get_daemon_info from inside a request callback) that killed the
# plain build within about 130 requests; this test is its regression check.
# Runs in the plain pass (10 s: tests/CMakeLists.txt) and the ASan + UBSan pass.
# Usage: test_http_fuzz.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_http_fuzz.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir http-fuzz

SEED=${MCMCD_FUZZ_SEED:-20261206}
SECONDS_=${MCMCD_FUZZ_SECONDS:-25}
echo "# seed $SEED, $SECONDS_ s (rerun with MCMCD_FUZZ_SEED=$SEED)"
cat >"$work/mcmcd.conf" <<'CONF'
idle_timeout_seconds = 2
max_body_bytes = 1M
user_job_seconds = 2
max_draw_values_per_job = 1000000
memory_budget = 256M
max_queued_jobs = 40
max_streams = 16
heartbeat_seconds = 0.5
CONF
daemon_or_exit --config "$work/mcmcd.conf" --workers 1
PORT=${URL##*:}

# Real ids for the routes' {id}: a finished job and a dataset.
c -o "$work/job.json" --json '{"data": {"synthetic": {"n": 60, "d": 2, "seed": 3}},
 "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200, "progress_every": 50}' \
    "$URL/v1/jobs"
JOB=$(jget "$work/job.json" 'j["id"]')
printf 'a,b,y\n0.5,1.25,1\n-1,2e-3,0\n3,4,1\n' |
    c -o "$work/ds.json" -H 'Content-Type: text/csv' --data-binary @- "$URL/v1/datasets?name=fuzz"
DS=$(jget "$work/ds.json" 'j["id"]')
check "a job ($JOB) ends succeeded and a dataset ($DS) is stored, for the fuzzer's ids" \
    "[ -n '$DS' ] && [ \"\$(wait_job '$JOB')\" = succeeded ]"
printf 'jobs %s\ndatasets %s\n' "$JOB" "$DS" >"$work/ids"
"$MCMCD" routes | awk '{print $1, $2}' >"$work/routes"
check "mcmcd routes lists the routes ($(wc -l <"$work/routes"))" "[ \$(wc -l <'$work/routes') -ge 10 ]"

"$PY" "$here/http_fuzz.py" --port "$PORT" --token "$TOKEN" --routes "$work/routes" \
    --ids "$work/ids" --seed "$SEED" --seconds "$SECONDS_" --workers 6 --idle-timeout 2 \
    --max-body $((1 << 20)) >"$work/fuzz.out" 2>&1
rc=$?
grep -v '^[0-9]* requests' "$work/fuzz.out" | show
summary=$(grep '^[0-9]* requests' "$work/fuzz.out")
check "every answer JSON or a documented exception, none a 500, none missing (${summary:-no summary})" \
    "[ $rc = 0 ] && [ -n '$summary' ]"
code=$(c -o /dev/null -w '%{http_code}' "$URL/healthz")
check "the daemon is alive after it: GET /healthz answers 200 ($code)" "[ '$code' = 200 ]"

stop_daemon 30 # up to 30 s: an ASan build checks for leaks as it exits
rc=$stop_rc
check "SIGTERM stops it with status 0 ($rc)" "[ '$rc' = 0 ]"
check "no sanitizer or crash report on its stderr" \
    "! grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' '$work/daemon.err'"
grep -E 'AddressSanitizer|runtime error|LeakSanitizer' -A20 "$work/daemon.err" | head -40 | show
finish
