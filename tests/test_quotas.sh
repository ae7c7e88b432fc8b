#!/usr/bin/env bash
# test_quotas.sh - the per-user limits as a user meets them: a non-admin
# user (`mcmcd user add` + `mcmcd token new` while the daemon runs) hits
# each limit and gets quota_exceeded with the limit named (status, limit
# object, Retry-After on 429); `mcmcd user set` takes effect at the next
# request; GET /v1/users/me reports limits and usage. queued_jobs comes
# from the config file (user_queued_jobs), the rest from overrides.
# running_chains holds jobs in the queue (two 1-chain jobs never overlap
# with running_chains=1 on 2 workers, a 2-chain job runs in waves);
# stored_bytes counts datasets (an upload refused leaves no reference and
# no stored bytes) and draws (a job whose draws would pass it is refused);
# job_seconds stops a long job, failed with reason time_limit and its
# draws kept; a restart rebuilds the same usage.
# Usage: test_quotas.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_quotas.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir quotas

printf 'user_queued_jobs = 3\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 2 --config "$work/mcmcd.conf"

cli() { "$MCMCD" "$@" --data-dir "$work/data"; }
cli user add alice >/dev/null
ALICE=$(cli token new alice)
check "mcmcd user add alice, mcmcd token new alice (the daemon running)" "[ -n '$ALICE' ]"
# curl as alice (-q: without the admin's curlrc)
ac() { curl -q -s --max-time 20 -H "Authorization: Bearer $ALICE" "$@"; }
me() { ac "$URL/v1/users/me" >"$work/me.json"; }
usage() { me && jget "$work/me.json" "j['usage']['$1']"; }
# submit SPEC as alice: the status; the body in $work/sub.json, headers in $work/sub.hdr
submit() { ac -D "$work/sub.hdr" -o "$work/sub.json" -w '%{http_code}' --json "$1" "$URL/v1/jobs"; }
job_field() { ac "$URL/v1/jobs/$1" >"$work/st.json" && jget "$work/st.json" "$2"; }
alice_job_ended() { case "$(job_field "$1" 'j["state"]')" in succeeded | failed | cancelled) ;; *) return 1 ;; esac; }
wait_alice() { # polls alice's job until it ends (at most 60 s); prints its state
    wait_for 60 alice_job_ended "$1"
    job_field "$1" 'j["state"]'
}
# quota_answer STATUS WANT_STATUS NAME VALUE USAGE REQUESTED (REQUESTED '-': any)
quota_answer() {
    [ "$1" = "$2" ] && "$PY" - "$work/sub.json" "$3" "$4" "$5" "$6" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))['error']
name, value, usage, req = sys.argv[2:6]
assert e['code'] == 'quota_exceeded', e
l = e['limit']
assert l['name'] == name and l['value'] == int(value) and l['usage'] == int(usage), l
assert req == '-' or l['requested'] == int(req), l
assert name in e['message'], e
PY
}

me
check "GET /v1/users/me: alice, not admin, queued_jobs 3 from the config, usage 0" \
    "$PY - '$work/me.json' <<'PY'
import json, sys
u = json.load(open(sys.argv[1]))
assert u['name'] == 'alice' and u['admin'] is False, u
assert u['limits']['queued_jobs'] == 3 and u['limits']['running_chains'] == 0, u
assert u['usage'] == {'running_chains': 0, 'queued_jobs': 0, 'stored_bytes': 0}, u
PY"

# --- queued_jobs: 429 with Retry-After; an override takes effect at once ---------
LONG='{"data": {"synthetic": {"n": 2000, "d": 3, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 100000, "thin": 1000, "chains": 1, "progress_every": 100}'
cli user set alice running_chains=1 >/dev/null
ids=''
for _ in 1 2 3; do
    code=$(submit "$LONG")
    [ "$code" = 201 ] && ids="$ids $(jget "$work/sub.json" 'j["id"]')"
done
check "alice submits 3 long jobs: 201 each" "[ \$(echo $ids | wc -w) -eq 3 ]"
code=$(submit "$LONG")
check "the 4th: 429 quota_exceeded, limit {queued_jobs, 3, usage 3, requested 1}" \
    "quota_answer '$code' 429 queued_jobs 3 3 1"
check "... with Retry-After" "grep -qi '^Retry-After: [0-9]' '$work/sub.hdr'"
check "... message: 'queued_jobs limit of 3 reached (3 in use)'" \
    "grep -q 'queued_jobs limit of 3 reached (3 in use)' '$work/sub.json'"
me
check "users/me while they wait: queued_jobs 3, running_chains 1 (her limit)" \
    "[ \"\$(jget '$work/me.json' 'j[\"usage\"][\"queued_jobs\"], j[\"usage\"][\"running_chains\"], j[\"limits\"][\"running_chains\"]')\" = '3 1 1' ]"
cli user set alice queued_jobs=4 >/dev/null
code=$(submit "$LONG")
[ "$code" = 201 ] && ids="$ids $(jget "$work/sub.json" 'j["id"]')"
check "mcmcd user set alice queued_jobs=4: the next submit is 201" "[ '$code' = 201 ]"
check "users/me: limits.queued_jobs 4, usage.queued_jobs 4" \
    "[ \"\$(me; jget '$work/me.json' 'j[\"limits\"][\"queued_jobs\"], j[\"usage\"][\"queued_jobs\"]')\" = '4 4' ]"
for id in $ids; do ac -o /dev/null -X POST "$URL/v1/jobs/$id/cancel"; done
states=''
for id in $ids; do states="$states $(wait_alice "$id")"; done
check "cancelled all four ($states)" "[ \"\$(echo $states | tr ' ' '\n' | sort -u)\" = cancelled ]"
drawn=$(usage stored_bytes)
check "their draws count in stored_bytes while they are kept ($drawn bytes)" "[ '${drawn:-0}' -gt 0 ]"
for id in $ids; do ac -o /dev/null -X DELETE "$URL/v1/jobs/$id"; done
me
check "deleted: usage back to 0 (queued_jobs, running_chains, stored_bytes)" \
    "[ \"\$(jget '$work/me.json' 'sorted(j[\"usage\"].values())')\" = '[0, 0, 0]' ]"

# --- running_chains: jobs wait in the queue, never refused ----------------------
# each chain runs 31,000 iterations (about half a second), so that the
# polls below see the queue even on a loaded machine
SHORT='{"data": {"synthetic": {"n": 10000, "d": 3, "seed": 2}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 2000, "thin": 15, "chains": 1, "progress_every": 30}'
WAVES=${SHORT/'"chains": 1'/'"chains": 2'}
submit "$SHORT" >/dev/null && J1=$(jget "$work/sub.json" 'j["id"]')
submit "$SHORT" >/dev/null && J2=$(jget "$work/sub.json" 'j["id"]')
submit "$WAVES" >/dev/null && J3=$(jget "$work/sub.json" 'j["id"]')
max_running=0 seen_wait=no
for _ in $(seq 600); do
    me
    read -r r q <<<"$(jget "$work/me.json" 'j["usage"]["running_chains"], j["usage"]["queued_jobs"]')"
    [ "${r:-0}" -gt "$max_running" ] && max_running=$r
    [ "${r:-0}" = 1 ] && [ "${q:-0}" -ge 2 ] && seen_wait=yes
    [ "${q:-1}" = 0 ] && break
    sleep 0.02
done
s1=$(wait_alice "$J1") s2=$(wait_alice "$J2") s3=$(wait_alice "$J3")
check "running_chains=1 on 2 workers: all three jobs succeed ($s1 $s2 $s3)" \
    "[ '$s1 $s2 $s3' = 'succeeded succeeded succeeded' ]"
check "users/me never showed more than 1 running chain ($max_running), and 1 running with others queued ($seen_wait)" \
    "[ '$max_running' = 1 ] && [ '$seen_wait' = yes ]"
for j in $J1 $J2 $J3; do ac "$URL/v1/jobs/$j"; echo; done >"$work/three.ndjson"
check "the two 1-chain jobs never ran at once: one started after the other finished" \
    "$PY - '$work/three.ndjson' <<'PY'
import json, sys
from datetime import datetime
t = lambda s: datetime.fromisoformat(s.replace('Z', '+00:00'))
a, b, w = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
first, second = sorted([a, b], key=lambda j: t(j['started']))
assert t(second['started']) >= t(first['finished']), (first['finished'], second['started'])
assert [c['draws'] for c in w['chains']] == [2000, 2000], w['chains']  # ran in two waves
assert all(j['reason'] is None for j in (a, b, w)), [j['reason'] for j in (a, b, w)]
PY"

# --- draw_values_per_job: 413 ----------------------------------------------------
cli user set alice draw_values_per_job=1000 running_chains=default >/dev/null
SMALL='{"data": {"synthetic": {"n": 100, "d": 3, "seed": 3}}, "sampler": {"type": "ula", "step_size": 1e-3}, "num_samples": 1000, "chains": 2}'
code=$(submit "$SMALL")
check "2 chains x 1000 draws x d 3 over draw_values_per_job=1000: 413, limit {1000, usage 0, requested 6000}" \
    "quota_answer '$code' 413 draw_values_per_job 1000 0 6000"
cli user set alice draw_values_per_job=6000 >/dev/null
code=$(submit "$SMALL")
J4=$(jget "$work/sub.json" 'j["id"]')
check "draw_values_per_job=6000: the same job is accepted (201, $(wait_alice "$J4"))" "[ '$code' = 201 ]"

# --- stored_bytes: datasets and draws, 507 ---------------------------------------
csv() { "$PY" -c "
import random, sys
r = random.Random(int(sys.argv[1]))
print('y,x1,x2')
for _ in range(int(sys.argv[2])): print('%d,%.6f,%.6f' % (r.random() < .5, r.gauss(0, 1), r.gauss(0, 1)))
" "$1" "$2"; }
csv 1 200 >"$work/d1.csv"
csv 2 400 >"$work/d2.csv"
csv 3 300 >"$work/d3.csv"
upload() { ac -o "$work/sub.json" -w '%{http_code}' -H 'Content-Type: text/csv' --data-binary "@$1" "$URL/v1/datasets?name=$2"; }
base=$(usage stored_bytes)
code=$(upload "$work/d1.csv" d1)
B1=$(jget "$work/sub.json" 'j["bytes"]')
check "alice uploads d1 (201, $B1 bytes): stored_bytes grows by exactly that" \
    "[ '$code' = 201 ] && [ \"\$(usage stored_bytes)\" = \$(($base + $B1)) ]"
used=$((base + B1))
cli user set alice stored_bytes=$((used + 100)) >/dev/null
nfiles=$(find "$work/data/datasets" -type f | wc -l)
code=$(upload "$work/d2.csv" d2)
check "a new dataset past stored_bytes: 507, limit {value, usage $used, requested its bytes}" \
    "quota_answer '$code' 507 stored_bytes $((used + 100)) $used - &&
     [ \"\$(jget '$work/sub.json' 'j[\"error\"][\"limit\"][\"requested\"] > 100')\" = True ]"
check "... it leaves no reference (alice lists d1 alone) and no stored file" \
    "[ \"\$(ac '$URL/v1/datasets' | $PY -c 'import json,sys; print([d[\"name\"] for d in json.load(sys.stdin)[\"datasets\"]])')\" = \"['d1']\" ] &&
     [ \"\$(find '$work/data/datasets' -type f | wc -l)\" = '$nfiles' ]"
code=$(upload "$work/d1.csv" d1)
check "the dataset she already references, again: 200 (it costs nothing new)" "[ '$code' = 200 ]"
c -o "$work/admin_d3.json" -H 'Content-Type: text/csv' --data-binary "@$work/d3.csv" "$URL/v1/datasets?name=d3"
B3=$(jget "$work/admin_d3.json" 'j["bytes"]')
code=$(upload "$work/d3.csv" mine)
check "a dataset stored for the admin costs alice its bytes: 507, requested $B3" \
    "quota_answer '$code' 507 stored_bytes $((used + 100)) $used $B3"
check "... the admin's reference stays" \
    "c '$URL/v1/datasets' | grep -q '\"name\": *\"d3\"'"
code=$(submit "$SMALL")
req=$(jget "$work/sub.json" 'j["error"]["limit"]["requested"]')
check "a job whose draws would pass stored_bytes: 507, requested = its files' full size ($req >= 2 x 1000 x 3 x 8)" \
    "quota_answer '$code' 507 stored_bytes $((used + 100)) $used - && [ '${req:-0}' -ge 48000 ]"
cli user set alice stored_bytes=default >/dev/null
code=$(upload "$work/d3.csv" mine)
check "stored_bytes=default: alice's reference to d3 is made (201), stored_bytes + $B3" \
    "[ '$code' = 201 ] && [ \"\$(usage stored_bytes)\" = \$(($used + $B3)) ]"
used=$((used + B3))
code=$(submit "$SMALL")
J5=$(jget "$work/sub.json" 'j["id"]')
check "the refused job, now accepted, counts exactly the bytes it was refused for" \
    "[ '$code' = 201 ] && [ \"\$(usage stored_bytes)\" = \$(($used + ${req:-0})) ]"
wait_alice "$J5" >/dev/null

# --- job_seconds: a long job stops, failed with reason time_limit, draws kept ---
cli user set alice job_seconds=2 draw_values_per_job=default >/dev/null
# a draw every 100 iterations: under ThreadSanitizer the chain makes ~460
# iterations a second, and the job must have kept some draws in its 2 s
TL='{"data": {"synthetic": {"n": 20000, "d": 3, "seed": 4}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 100000, "thin": 100, "chains": 1, "progress_every": 10}'
submit "$TL" >/dev/null
TLJ=$(jget "$work/sub.json" 'j["id"]')
state=$(wait_alice "$TLJ")
cp "$work/st.json" "$work/tl.json"
check "a job past job_seconds=2 ends failed, reason time_limit, error 'time_limit: ... of 2 s' ($state)" \
    "$PY - '$work/tl.json' <<'PY'
import json, sys
from datetime import datetime
t = lambda s: datetime.fromisoformat(s.replace('Z', '+00:00'))
j = json.load(open(sys.argv[1]))
assert j['state'] == 'failed' and j['reason'] == 'time_limit', (j['state'], j['reason'])
assert j['error'] == 'time_limit: the job ran past the wall-time limit of 2 s', j['error']
took = (t(j['finished']) - t(j['started'])).total_seconds()
assert 2 <= took < 60, took  # 60: far short of its 1e7 iterations; not a speed check
assert j['chains'][0]['draws'] > 0, j['chains']
PY"
kept=$(jget "$work/tl.json" 'j["chains"][0]["draws"]')
rows=$(ac "$URL/v1/jobs/$TLJ/draws?format=csv" | tail -n +2 | wc -l)
check "its draws endpoint still returns the $kept rows it kept ($rows)" "[ '$rows' = '${kept:-x}' ] && [ '$rows' -gt 0 ]"

# --- a restart rebuilds the same usage --------------------------------------------
me
before=$(jget "$work/me.json" 'j["usage"]')
stop_daemon
start_daemon --workers 2 --config "$work/mcmcd.conf" || bad "the daemon starts again"
me
after=$(jget "$work/me.json" 'j["usage"]')
check "after a restart users/me shows the same usage ($after)" "[ \"$before\" = \"$after\" ]"
check "... and the stopped job's reason is still time_limit" \
    "[ \"\$(job_field '$TLJ' 'j[\"reason\"]')\" = time_limit ]"

stop_daemon
check "no sanitizer or crash report on the daemon's stderr" \
    "! grep -qE 'ERROR: (Address|Leak|Undefined)|runtime error|Segmentation' '$work/daemon.err'"
finish
