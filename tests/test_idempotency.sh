#!/usr/bin/env bash
# test_idempotency.sh - Idempotency-Key on POST /v1/jobs and POST
# /v1/datasets: a retry with the same key and request gets the first answer
# again (status, body, Location) with Idempotent-Replayed: true and makes
# nothing new; the same key with another request is 422; keys are per user;
# a malformed key is 400; an error answer is not kept, so a fixed retry with
# the same key runs; two uploads at once with one key make one dataset (the
# other gets 409 while the first is parsed, or the replay after it); a key
# older than 24 h is swept (its created time is moved back in the registry).
# Usage: test_idempotency.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_idempotency.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir idem

# post NAME KEY CTYPE BODYFILE PATH [curl args]: POSTs as admin (as bob when
# $who is bob), keeps NAME.hdr and NAME.body in $work, prints the status.
post() {
    local name=$1 key=$2 ctype=$3 body=$4 path=$5
    shift 5
    local args=(-o "$work/$name.body" -D "$work/$name.hdr" -w '%{http_code}' -X POST
        -H "Content-Type: $ctype" --data-binary "@$body")
    [ -n "$key" ] && args+=(-H "Idempotency-Key: $key")
    if [ "${who:-admin}" = bob ]; then
        curl -q -s --max-time 60 -H "Authorization: Bearer $BOB" "${args[@]}" "$@" "$URL$path"
    else
        curl -s --max-time 60 "${args[@]}" "$@" "$URL$path"
    fi
}
# hdr NAME HEADER: the header's value in NAME.hdr ("" when absent)
hdr() { grep -i "^$2:" "$work/$1.hdr" | head -n 1 | cut -d' ' -f2- | tr -d '\r'; }
code() { jget "$work/$1.body" 'j["error"]["code"]'; }
field() { jget "$work/$1.body" "j[\"$2\"]"; }
count() { c "$URL$1" >"$work/count.json" && jget "$work/count.json" "len(j[\"$2\"])"; }
# sql QUERY: runs it on the registry (the daemon runs: WAL allows it)
sql() { "$PY" -c 'import sqlite3,sys; d=sqlite3.connect(sys.argv[1], timeout=10); r=d.execute(sys.argv[2]).fetchall(); d.commit(); print(r[0][0] if r else "")' "$work/data/registry.db" "$1"; }

printf 'sweep_seconds = 0.2\n' >"$work/mcmcd.conf"
if ! start_daemon --config "$work/mcmcd.conf"; then
    bad "the daemon starts"
    finish
    exit 1
fi
"$MCMCD" user add bob --data-dir "$work/data" >/dev/null
BOB=$("$MCMCD" token new bob --data-dir "$work/data" 2>/dev/null)
check "a second user, bob, has a token" '[ -n "$BOB" ]'

# --- POST /v1/jobs --------------------------------------------------------------
spec='{"model": {"type": "gaussian", "mean": [0, 1], "cov": [[1, 0], [0, 1]]},
       "sampler": {"type": "mala", "step_size": 0.5}, "num_samples": 200, "chains": 1}'
echo "$spec" >"$work/spec.json"
echo "${spec/200/201}" >"$work/spec2.json"
echo "${spec/0.5/-1}" >"$work/badspec.json"

s1=$(post j1 job-1 application/json "$work/spec.json" /v1/jobs)
check "a job submitted with an Idempotency-Key: 201" '[ "$s1" = 201 ]'
check "the first answer is not marked replayed" '[ -z "$(hdr j1 Idempotent-Replayed)" ]'
s2=$(post j2 job-1 application/json "$work/spec.json" /v1/jobs)
check "the same submission retried: 201 again" '[ "$s2" = 201 ]'
check "the retry is marked Idempotent-Replayed: true" '[ "$(hdr j2 Idempotent-Replayed)" = true ]'
check "the retry has the first answer's body, byte for byte" 'cmp -s "$work/j1.body" "$work/j2.body"'
check "and its Location" '[ -n "$(hdr j1 Location)" ] && [ "$(hdr j1 Location)" = "$(hdr j2 Location)" ]'
job1=$(field j1 id)
check "GET /v1/jobs shows one job" '[ "$(count /v1/jobs jobs)" = 1 ]'

s3=$(post j3 job-1 application/json "$work/spec2.json" /v1/jobs)
check "the same key with another spec: 422 idempotency_key_reused" \
    '[ "$s3" = 422 ] && [ "$(code j3)" = idempotency_key_reused ]'
check "which made no job" '[ "$(count /v1/jobs jobs)" = 1 ]'

s4=$(who=bob post j4 job-1 application/json "$work/spec.json" /v1/jobs)
check "bob's request with the same key is his own: 201, a new job, not replayed" \
    '[ "$s4" = 201 ] && [ "$(field j4 id)" != "$job1" ] && [ -z "$(hdr j4 Idempotent-Replayed)" ]'
check "admin sees two jobs now" '[ "$(count /v1/jobs jobs)" = 2 ]'

long=$(printf 'k%.0s' $(seq 129))
s5=$(post j5 "$long" application/json "$work/spec.json" /v1/jobs)
check "a 129-character key: 400 naming the header" \
    '[ "$s5" = 400 ] && [ "$(jget "$work/j5.body" "j[\"error\"][\"details\"][0][\"path\"]")" = Idempotency-Key ]'
s6=$(post j6 $'caf\xc3\xa9' application/json "$work/spec.json" /v1/jobs)
check "a key that is not printable ASCII: 400" '[ "$s6" = 400 ]'
s7=$(post j7 "$(printf 'k%.0s' $(seq 128))" application/json "$work/spec.json" /v1/jobs)
check "a 128-character key is fine: 201" '[ "$s7" = 201 ]'

# an error answer is not kept: the fixed request with the same key runs
s8=$(post j8 job-fix application/json "$work/badspec.json" /v1/jobs)
check "a bad spec with a key: 422 invalid_spec" '[ "$s8" = 422 ] && [ "$(code j8)" = invalid_spec ]'
s9=$(post j9 job-fix application/json "$work/spec.json" /v1/jobs)
check "the fixed spec with the same key: 201, not a replay" \
    '[ "$s9" = 201 ] && [ -z "$(hdr j9 Idempotent-Replayed)" ]'
s10=$(post j10 job-fix application/json "$work/spec.json" /v1/jobs)
check "and its retry replays it" \
    '[ "$s10" = 201 ] && [ "$(hdr j10 Idempotent-Replayed)" = true ] && [ "$(field j10 id)" = "$(field j9 id)" ]'

# a key older than 24 h is swept (every 0.2 s here); the request then runs anew
sql "UPDATE idempotency SET created = created - 25 * 3600 * 1000 WHERE key = 'job-1'" >/dev/null
key_gone() { [ "$(sql "SELECT count(*) FROM idempotency WHERE key = '$1'")" = 0 ]; }
check "keys older than 24 h are swept" 'wait_for 30 key_gone job-1' # 30 s: a hang guard
check "the daemon logged it" 'grep -Eq "sweep: deleted .* 2 idempotency keys" "$work/daemon.err"'
s12=$(post j12 job-1 application/json "$work/spec.json" /v1/jobs)
check "the old key's request runs again: 201, a new job, not replayed" \
    '[ "$s12" = 201 ] && [ "$(field j12 id)" != "$job1" ] && [ -z "$(hdr j12 Idempotent-Replayed)" ]'

# --- POST /v1/datasets ----------------------------------------------------------
printf 'x1,x2,y\n1,2,0\n3,4,1\n0.5,-1,1\n' >"$work/small.csv"
d1=$(post d1 ds-1 text/csv "$work/small.csv" '/v1/datasets?name=small')
check "a CSV upload with a key: 201" '[ "$d1" = 201 ]'
d2=$(post d2 ds-1 text/csv "$work/small.csv" '/v1/datasets?name=small')
check "the upload retried: 201 again, Idempotent-Replayed: true" \
    '[ "$d2" = 201 ] && [ "$(hdr d2 Idempotent-Replayed)" = true ]'
check "the same body and Location" \
    'cmp -s "$work/d1.body" "$work/d2.body" && [ "$(hdr d1 Location)" = "$(hdr d2 Location)" ]'
d3=$(post d3 ds-1 text/csv "$work/small.csv" '/v1/datasets?name=other')
check "the same key and body under another ?name=: 422" \
    '[ "$d3" = 422 ] && [ "$(code d3)" = idempotency_key_reused ]'
check "one dataset reference" '[ "$(count /v1/datasets datasets)" = 1 ]'

printf 'x1,x2,y\n1,2,0\n3,4\n' >"$work/bad.csv"
printf 'x1,x2,y\n1,2,0\n3,4,1\n' >"$work/fixed.csv"
d4=$(post d4 ds-fix text/csv "$work/bad.csv" /v1/datasets)
check "a bad CSV with a key: 400 invalid_csv" '[ "$d4" = 400 ] && [ "$(code d4)" = invalid_csv ]'
d5=$(post d5 ds-fix text/csv "$work/fixed.csv" /v1/datasets)
check "the fixed CSV with the same key: 201, not a replay" \
    '[ "$d5" = 201 ] && [ -z "$(hdr d5 Idempotent-Replayed)" ]'

# two uploads at once with one key: the first is parsed on the thread pool
# while the second arrives (409), or has been answered (the replay)
"$PY" - "$work/big.csv" <<'PY'
import random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    f.write("x1,x2,x3,x4,y\n")
    for _ in range(300000):
        f.write("%.6f,%.6f,%.6f,%.6f,%d\n" % (random.gauss(0, 1), random.gauss(0, 1),
                random.gauss(0, 1), random.gauss(0, 1), random.random() < 0.5))
PY
post b1 ds-big text/csv "$work/big.csv" '/v1/datasets?name=big' >"$work/b1.status" &
p1=$!
post b2 ds-big text/csv "$work/big.csv" '/v1/datasets?name=big' >"$work/b2.status" &
p2=$!
wait $p1 $p2
b1=$(cat "$work/b1.status") b2=$(cat "$work/b2.status")
echo "# concurrent uploads answered $b1 (replayed: $(hdr b1 Idempotent-Replayed)) and $b2 (replayed: $(hdr b2 Idempotent-Replayed))"
# first: the one that ran (201, not replayed); other: the other answer
first='' other=''
for n in b1 b2; do
    if [ "$(cat "$work/$n.status")" = 201 ] && [ -z "$(hdr $n Idempotent-Replayed)" ]; then
        [ -z "$first" ] && first=$n || other=$n
    else
        other=$n
    fi
done
check "one of the two concurrent uploads ran: 201, not replayed" '[ -n "$first" ] && [ -n "$other" ]'
ostatus=$(cat "$work/$other.status" 2>/dev/null)
check "the other got 409 idempotency_key_in_flight or the replay" \
    '{ [ "$ostatus" = 409 ] && [ "$(code "$other")" = idempotency_key_in_flight ]; } ||
     { [ "$ostatus" = 201 ] && [ "$(hdr "$other" Idempotent-Replayed)" = true ] &&
       cmp -s "$work/$first.body" "$work/$other.body"; }'
b3=$(post b3 ds-big text/csv "$work/big.csv" '/v1/datasets?name=big')
check "a later retry replays the first answer" \
    '[ "$b3" = 201 ] && [ "$(hdr b3 Idempotent-Replayed)" = true ] && cmp -s "$work/$first.body" "$work/b3.body"'
check "three dataset references in all (small, fixed, big): the concurrent pair made one" \
    '[ "$(count /v1/datasets datasets)" = 3 ]'

s11=$(who=bob post b4 ds-big text/csv "$work/small.csv" /v1/datasets)
check "bob's upload under admin's key is his own: 201, not replayed" \
    '[ "$s11" = 201 ] && [ -z "$(hdr b4 Idempotent-Replayed)" ]'

finish
