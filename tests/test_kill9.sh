#!/usr/bin/env bash
# test_kill9.sh - kill -9 at random moments loses nothing. Twelve times the
# daemon is killed with SIGKILL and started again on the same data dir, at
# each of six moments twice: right after a 201, mid-chain (a MALA job at a
# random fraction of its iterations), mid-download (the CSV of 600,000 draws,
# about 62 MB, more than loopback's socket buffers hold, read at 2 MB/s),
# mid-upload (a 3 MB CSV sent at 1 MB/s), in a burst of 16
# concurrent submissions, and right after a cancel's 202. The moments come
# from a fixed seed, printed (MCMCD_KILL9_SEED overrides it). While the
# daemon is dead, SQLite's integrity check of registry.db (read-only) must
# say ok; after each restart:
# - every job and dataset a client saw a 201 for is there, and each such
#   job has its job.submit audit row;
# - every job ends, and each one not cancelled ends succeeded with .npy
#   draws byte-identical to `mcmcd run` of the same spec (same key), a run
#   never interrupted;
# - every job whose cancel was answered 202 is cancelled at once, and stays
#   cancelled through every later kill;
# - once the jobs have ended, no temporary file (datasets/.ID.tmp.*,
#   jobs/ID/*.tmp, any *.tmp) is left in the data dir.
# At the end SIGTERM stops it with status 0, the registry checks ok again,
# and its stderr has no sanitizer report. The draws of each job are compared
# once it has ended, again after a mid-download kill for the job read, and
# all of them at the end. On the 2-core VM, 25-35 s. It runs in the plain
# pass only (label plain): the sanitizer pass crashes and restarts the
# daemon in test_faults and test_daemon.restart.
# Usage: test_kill9.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_kill9.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir kill9

SEED=${MCMCD_KILL9_SEED:-20261206}
RANDOM=$SEED # bash's generator: the same moments for the same seed
echo "# seed $SEED (rerun with MCMCD_KILL9_SEED=$SEED to get the same moments)"
# random_ms LO HI: a whole number of milliseconds in [LO, HI]
random_ms() { echo $(($1 + (RANDOM * 32768 + RANDOM) % ($2 - $1 + 1))); }
pause_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# --- the specs, and their draws from runs never interrupted -------------------
mkdir -p "$work/spec" "$work/ref"
spec() { printf '%s\n' "$2" >"$work/spec/$1.json"; }
spec short '{"data": {"synthetic": {"n": 300, "d": 3, "seed": 5}}, "sampler": {"type": "mala", "step_size": 0.05},
 "chains": 2, "num_samples": 1000, "num_warmup": 100, "progress_every": 100, "key": 101}'
spec rwm '{"data": {"synthetic": {"n": 300, "d": 3, "seed": 6}}, "sampler": {"type": "rwm", "step_size": 0.1},
 "chains": 2, "num_samples": 1000, "num_warmup": 100, "progress_every": 100, "key": 102}'
# about 1 s plain on 2 workers (8 s with ASan), in blocks of 100
# iterations: long enough to be caught at a chosen point
spec mid '{"data": {"synthetic": {"n": 2000, "d": 4, "seed": 7}}, "sampler": {"type": "mala", "step_size": 0.05},
 "chains": 2, "num_samples": 15000, "num_warmup": 500, "progress_every": 100, "key": 103}'
# 4 chains x 150000 draws x 5 parameters: 24 MB as .npy, about 62 MB as
# CSV: more than the socket buffers can take in at once (here tcp_rmem's
# 32 MB and tcp_wmem's 4 MB at most), so the daemon is still sending when it
# is killed (at 50000 draws, 20.5 MB, the whole CSV sometimes sat in them)
spec big '{"data": {"synthetic": {"n": 50, "d": 5, "seed": 8}}, "sampler": {"type": "rwm", "step_size": 0.3},
 "chains": 4, "num_samples": 150000, "progress_every": 10000, "key": 104}'
# runs for minutes: only ever cancelled
spec long '{"data": {"synthetic": {"n": 2000, "d": 3, "seed": 9}}, "sampler": {"type": "mala", "step_size": 0.01},
 "chains": 1, "num_samples": 5000000, "progress_every": 200, "key": 105}'
refs_ok=1
for s in short rwm mid big; do
    "$MCMCD" run --threads 2 --spec "$work/spec/$s.json" --out "$work/ref/$s.npy" \
        >/dev/null 2>"$work/ref/$s.err" ||
        refs_ok=0
done
check "mcmcd run writes the reference draws of the 4 specs" "[ $refs_ok = 1 ]"

# A 3 MB CSV (covariates, then y) to upload slowly.
"$PY" - "$work/upload.csv" <<'PY'
import random, sys
r = random.Random(7)
with open(sys.argv[1], 'w') as f:
    f.write('a,b,c,d,e,y\n')
    for _ in range(60000):
        f.write(','.join('%.6f' % r.gauss(0, 1) for _ in range(5)) + ',%d\n' % r.randint(0, 1))
PY

# --- what the clients saw -----------------------------------------------------
# $work/accepted: "job ID SPEC" or "dataset ID", one per 201 seen;
# $work/cancelled: the ids whose cancel was answered 202; $work/verified:
# the jobs whose draws matched already (compared again when listed in
# $work/recheck, and all of them at the end).
: >"$work/accepted"
: >"$work/cancelled"
: >"$work/verified"
: >"$work/recheck"
# post_job SPEC OUT: POST /v1/jobs; on a 201 the job is recorded as accepted
post_job() {
    local code
    code=$(c -o "$2" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary "@$work/spec/$1.json" "$URL/v1/jobs")
    [ "$code" = 201 ] && echo "job $(jget "$2" 'j["id"]') $1" >>"$work/accepted"
    echo "$code"
}
# run_until SPEC FRACTION: submits SPEC (a 201 is recorded as accepted)
# and polls the job every 10 ms, in one process so that no start-up time
# comes between, until it is running with draws and at least FRACTION of
# its iterations are done (at most 60 s). Prints the job's id; 1 when it
# was refused, ended first or never ran.
run_until() {
    "$PY" - "$URL" "$TOKEN" "$work" "$1" "$2" <<'PY'
import json, sys, time, urllib.request
url, token, work, spec, frac = sys.argv[1:5] + [float(sys.argv[5])]
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
auth = {'Authorization': 'Bearer ' + token}
body = open('%s/spec/%s.json' % (work, spec), 'rb').read()
post = urllib.request.Request(url + '/v1/jobs', data=body,
                              headers=dict(auth, **{'Content-Type': 'application/json'}))
with http.open(post, timeout=20) as r:
    job = json.load(r)['id']
    status = r.status
if status != 201: sys.exit('# POST answered %d' % status)
open(work + '/accepted', 'a').write('job %s %s\n' % (job, spec))
print(job, flush=True)
req = urllib.request.Request(url + '/v1/jobs/' + job, headers=auth)
deadline = time.time() + 60
while time.time() < deadline:
    with http.open(req, timeout=10) as r:
        j = json.load(r)
    p = j['progress']
    if j['state'] in ('succeeded', 'failed', 'cancelled'):
        sys.exit('# it ended %s first, at %d of %d iterations' % (j['state'], p['iter'], p['total']))
    if j['state'] == 'running' and p['iter'] >= frac * p['total'] and j['chains'][0]['draws'] > 0:
        sys.exit(0)
    time.sleep(0.01)
sys.exit('# still %s after 60 s' % j['state'])
PY
}

# The registry checked read-only with the daemon dead: "ok", or what is wrong.
integrity() {
    "$PY" - "$work/data/registry.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect('file:%s?mode=ro' % sys.argv[1], uri=True)
print(' '.join(r[0] for r in db.execute('PRAGMA integrity_check')))
PY
}
tmp_files() { find "$work/data" \( -name '.*.tmp*' -o -name '*.tmp' -o -name '*.tmp.*' \) | sort; }

kills=0
# kill9 WHAT: SIGKILL now; the registry checked while the daemon is dead; a
# restart on the same data dir
kill9() {
    kill -KILL "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
    daemon_pid=''
    kills=$((kills + 1))
    local ic left
    ic=$(integrity 2>&1)
    check "kill $kills ($1): registry.db's integrity check with the daemon dead says ok ($ic)" \
        "[ '$ic' = ok ]"
    left=$(tmp_files | wc -l)
    echo "# $left temporary files in the data dir at the kill"
    if ! start_daemon --workers 2; then
        bad "kill $kills ($1): the daemon starts again"
        finish
        exit 1
    fi
}

# verify TAG [all]: after a restart, every 201 is there; the jobs end, each
# as it must (see the top); the draws of jobs not verified yet (or all)
# compared. Lines "ok|..." or "bad|...".
verify() {
    "$PY" - "$URL" "$TOKEN" "$work" "$1" "${2:-}" <<'PY'
import hashlib, json, sys, time, urllib.request, urllib.error
url, token, work, tag, everything = sys.argv[1:6]
http = urllib.request.build_opener(urllib.request.ProxyHandler({}))
def get(path):
    req = urllib.request.Request(url + path, headers={'Authorization': 'Bearer ' + token})
    try:
        with http.open(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
def sha(data): return hashlib.sha256(data).hexdigest()
refs = {}
jobs, datasets = {}, []
for line in open(work + '/accepted'):
    f = line.split()
    if f[0] == 'job': jobs[f[1]] = f[2]
    else: datasets.append(f[1])
cancelled = set(open(work + '/cancelled').read().split())
verified = set(open(work + '/verified').read().split())
verified -= set(open(work + '/recheck').read().split())
if everything: verified = set()
def say(good, what): print(('ok|' if good else 'bad|') + tag + ': ' + what)

missing = [j for j in jobs if get('/v1/jobs/' + j)[0] != 200]
missing += [d for d in datasets if get('/v1/datasets/' + d)[0] != 200]
say(not missing, 'every 201 seen is there (%d jobs, %d datasets)%s' % (
    len(jobs), len(datasets), ', missing: ' + ' '.join(missing) if missing else ''))
# a job's row and its audit row are one transaction: no 201 without both
audited, page, code = set(), '', 200
while code == 200:
    code, body = get('/v1/audit?action=job.submit&page_size=1000' + (page and '&page_token=' + page))
    if code != 200: break
    answer = json.loads(body)
    audited |= {e['object'] for e in answer['events']}
    page = answer['next_page_token']
    if not page: break
unaudited = [j for j in jobs if j not in audited]
say(code == 200 and not unaudited, 'every job answered 201 has its job.submit audit row (%d)%s' % (
    len(jobs), ', not: ' + ' '.join(unaudited) if unaudited else ''))
state = {}
now_cancelled = {j: json.loads(get('/v1/jobs/' + j)[1]).get('state') for j in cancelled}
wrong = ['%s %s' % (j, s) for j, s in now_cancelled.items() if s != 'cancelled']
say(not wrong, 'every job whose cancel was answered 202 is cancelled right after the restart '
    '(%d)%s' % (len(cancelled), ', not: ' + ', '.join(wrong) if wrong else ''))
deadline = time.time() + 120
while time.time() < deadline:
    for j in jobs:
        if state.get(j) not in ('succeeded', 'failed', 'cancelled'):
            code, body = get('/v1/jobs/' + j)
            state[j] = json.loads(body).get('state') if code == 200 else 'missing'
    if all(s in ('succeeded', 'failed', 'cancelled', 'missing') for s in state.values()): break
    time.sleep(0.1)
wrong = ['%s %s' % (j, state[j]) for j in jobs if j in cancelled and state[j] != 'cancelled']
say(not wrong, 'cancelled jobs stay cancelled%s' % (': ' + ', '.join(wrong) if wrong else ''))
wrong, same = [], 0
for j, spec in jobs.items():
    if j in cancelled: continue
    if j in verified and state[j] == 'succeeded':
        same += 1
        continue
    if state[j] != 'succeeded':
        wrong.append('%s %s' % (j, state[j]))
        continue
    if spec not in refs: refs[spec] = sha(open('%s/ref/%s.npy' % (work, spec), 'rb').read())
    code, body = get('/v1/jobs/%s/draws?format=npy' % j)
    if code != 200 or sha(body) != refs[spec]: wrong.append('%s (%s) %d bytes' % (j, spec, len(body)))
    else:
        same += 1
        verified.add(j)
open(work + '/verified', 'w').write('\n'.join(sorted(verified)) + '\n')
open(work + '/recheck', 'w').close()
say(not wrong, 'every job not cancelled ended succeeded with draws byte-identical to the '
    'reference (%d)%s' % (same, ', not: ' + ', '.join(wrong) if wrong else ''))
PY
}
# round_checks WHAT [all]: verify, then no temporary file once the jobs
# have ended
round_checks() {
    local rc r line
    verify "kill $kills ($1)" "${2:-}" >"$work/verify.out" 2>&1
    rc=$?
    while IFS='|' read -r r line; do
        if [ "$r" = ok ]; then ok "$line"; else bad "$line"; fi
    done < <(grep -E '^(ok|bad)[|]' "$work/verify.out")
    if [ "$rc" = 0 ]; then ok "kill $kills ($1): the checks ran to the end"; else
        bad "kill $kills ($1): the checks ran to the end"
        grep -Ev '^(ok|bad)[|]' "$work/verify.out" | show
    fi
    local left
    left=$(tmp_files)
    check "kill $kills ($1): no temporary file left in the data dir${left:+: $left}" "[ -z '$left' ]"
}

daemon_or_exit --workers 2

# The job whose draws are downloaded, finished before the first kill.
post_job big "$work/big.json" >/dev/null
BIG=$(jget "$work/big.json" 'j["id"]')
check "the job of 600,000 draws ends succeeded ($BIG)" "[ -n '$BIG' ] && [ \"\$(wait_job '$BIG')\" = succeeded ]"

# --- the moments --------------------------------------------------------------
after_201() {
    local ms code
    ms=$(random_ms 0 100)
    code=$(post_job short "$work/a201.json")
    pause_ms "$ms"
    check "a job answered 201 ($code), killed $ms ms later" "[ '$code' = 201 ]"
    kill9 "right after a 201"
    round_checks "right after a 201"
}
mid_chain() {
    local pct id rc
    pct=$(random_ms 5 60)
    id=$(run_until mid "0.$(printf '%02d' "$pct")")
    rc=$?
    check "a MALA job ($id) is killed once $pct% of its iterations are done" "[ $rc = 0 ]"
    kill9 "mid-chain"
    round_checks "mid-chain"
}
mid_download() {
    local ms dl rc
    ms=$(random_ms 100 1500)
    curl -s -o "$work/dl.csv" --max-time 60 --limit-rate 2M \
        "$URL/v1/jobs/$BIG/draws?format=csv" &
    dl=$!
    for _ in $(seq 100); do [ -s "$work/dl.csv" ] && break; sleep 0.05; done
    pause_ms "$ms"
    kill9 "mid-download"
    wait "$dl"
    rc=$?
    echo "$BIG" >>"$work/recheck"
    check "the CSV download (about 62 MB at 2 MB/s) was cut short $ms ms in (curl $rc, $(stat -c %s "$work/dl.csv") bytes)" \
        "[ $rc != 0 ]"
    round_checks "mid-download"
}
# mid_upload LO HI: the CSV takes about 3.2 s to send; a kill between LO
# and HI ms in. The first round cuts the body short; the second lands
# around its end, while the daemon parses and stores it, or just after
# its 201 (then the dataset must be there after the restart).
uploads=0
mid_upload() {
    local ms up code
    ms=$(random_ms "$1" "$2")
    uploads=$((uploads + 1))
    curl -s -o "$work/up.json" -w '%{http_code}' --max-time 60 --limit-rate 1M -H 'Expect:' \
        -H 'Content-Type: text/csv' --data-binary "@$work/upload.csv" \
        "$URL/v1/datasets?name=kill9-$uploads" >"$work/up.code" &
    up=$!
    pause_ms "$ms"
    kill9 "mid-upload"
    wait "$up"
    code=$(cat "$work/up.code")
    [ "$code" = 201 ] && echo "dataset $(jget "$work/up.json" 'j["id"]')" >>"$work/accepted"
    if [ "$uploads" = 1 ]; then
        check "a 3 MB upload at 1 MB/s was cut short $ms ms in (status $code)" "[ '$code' != 201 ]"
    else
        echo "# a 3 MB upload at 1 MB/s killed $ms ms in: status $code"
    fi
    round_checks "mid-upload"
}
burst() {
    local ms pids=() i specs=(short rwm)
    ms=$(random_ms 0 400)
    for i in $(seq 16); do
        c -o "$work/burst.$i.json" -w '%{http_code}' -H 'Content-Type: application/json' \
            --data-binary "@$work/spec/${specs[i % 2]}.json" "$URL/v1/jobs" >"$work/burst.$i.code" &
        pids+=($!)
    done
    pause_ms "$ms"
    kill9 "in a burst"
    wait "${pids[@]}"
    local n=0
    for i in $(seq 16); do
        [ "$(cat "$work/burst.$i.code")" = 201 ] || continue
        echo "job $(jget "$work/burst.$i.json" 'j["id"]') ${specs[i % 2]}" >>"$work/accepted"
        n=$((n + 1))
    done
    echo "# $n of 16 concurrent submissions got a 201 before the kill, $ms ms in"
    round_checks "in a burst"
}
after_cancel() {
    local ms id code
    ms=$(random_ms 0 50)
    id=$(run_until long 0)
    code=$(c -o /dev/null -w '%{http_code}' -X POST "$URL/v1/jobs/$id/cancel")
    pause_ms "$ms"
    [ "$code" = 202 ] && echo "$id" >>"$work/cancelled"
    check "a running job's cancel answered 202 ($code), killed $ms ms later" "[ '$code' = 202 ]"
    kill9 "right after a cancel"
    round_checks "right after a cancel"
}

for r in 1 2; do
    after_201
    mid_chain
    mid_download
    if [ $r = 1 ]; then mid_upload 200 2000; else mid_upload 2800 3800; fi
    burst
    after_cancel
done

round_checks "every job's draws once more, at the end" all

# --- a clean stop ---------------------------------------------------------------
stop_daemon 30 # up to 30 s: an ASan build checks for leaks as it exits
rc=$stop_rc
check "after $kills kills, SIGTERM stops the daemon with status 0 ($rc)" "[ '$rc' = 0 ]"
ic=$(integrity 2>&1)
check "registry.db's integrity check after the clean stop says ok ($ic)" "[ '$ic' = ok ]"
check "no sanitizer or crash report on its stderr" \
    "! grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' '$work/daemon.err'"
finish
