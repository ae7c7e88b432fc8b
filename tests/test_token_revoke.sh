#!/usr/bin/env bash
# test_token_revoke.sh - tokens changed under a running daemon. alice
# watches the event stream of her queued job (one worker, busy with a long
# job of the admin); `mcmcd token revoke` writes the registry while the
# daemon runs, and the very next request with that token answers 401
# invalid_token, while her second token still works; `mcmcd user rm alice`
# ends that one too, and her job stays visible to the admin. Also:
# `mcmcd token list` prints ids, never a secret; admin.token is mode 0600;
# --auth none refuses a non-loopback bind (exit 2) and on loopback needs
# no token. Usage: test_token_revoke.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_token_revoke.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"

test_workdir revoke
# as TOKEN CURL_ARGS...: a request with that token alone (curl -q skips the
# admin's curlrc); prints the status, the body goes to $work/body and the
# headers to $work/hdr.
as() {
    local t=$1
    shift
    curl -q -s --max-time 20 -H "Authorization: Bearer $t" -D "$work/hdr" -o "$work/body" \
        -w '%{http_code}' "$@"
}
header() { tr -d '\r' <"$work/hdr" | sed -n "s/^$1: //Ip" | head -n 1; }
data=$work/data
LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "chains": 1, "progress_every": 100}'
QUICK='{"data": {"synthetic": {"n": 50, "d": 2, "seed": 1}}, "sampler": {"type": "ula", "step_size": 0.01}, "num_samples": 200, "chains": 1}'

# --- one worker, busy --------------------------------------------------------

daemon_or_exit --workers 1 # (it wrote admin.token: start_daemon took it)
ADMIN=$TOKEN
check "admin.token is mode 0600 and holds the token and a newline" \
    "[ \"\$(stat -c %a '$data/admin.token')\" = 600 ] && [ \"\$(wc -l <'$data/admin.token')\" = 1 ] &&
     grep -Eqx 'mcmcd_[0-9a-f]{16}_[0-9a-f]{64}' '$data/admin.token'"
c --json "$LONG" "$URL/v1/jobs" >"$work/long.json"
L=$(jget "$work/long.json" 'j["id"]')
job_state() { c "$URL/v1/jobs/$1" | jin 'j["state"]'; }
job_runs() { [ "$(job_state "$1")" = running ]; }
wait_for 30 job_runs "$L"
state=$(job_state "$L")
check "the admin's long job holds the one worker ($state)" "[ '$state' = running ]"

# --- alice, two tokens, a stream open on her queued job ------------------------

"$MCMCD" user add alice --data-dir "$data" >/dev/null
T1=$("$MCMCD" token new alice --label first --data-dir "$data" 2>/dev/null)
T2=$("$MCMCD" token new alice --label second --data-dir "$data" 2>/dev/null)
ID1=${T1:6:16} ID2=${T2:6:16} IDA=${ADMIN:6:16}
check "alice has two tokens made while the daemon runs" "[ -n '$T1' ] && [ -n '$T2' ] && [ '$T1' != '$T2' ]"
code=$(as "$T1" --json "$QUICK" "$URL/v1/jobs")
A=$(jget "$work/body" 'j["id"]')
check "alice submits a job with her first token: 201, queued behind the long job" \
    "[ '$code' = 201 ] && [ \"\$(jget '$work/body' 'j[\"state\"]')\" = queued ]"
curl -q -sN --max-time 60 -H "Authorization: Bearer $T1" "$URL/v1/jobs/$A/events" >"$work/events" &
stream_pid=$!
bg_pids="$bg_pids $stream_pid"
wait_for 30 test -s "$work/events"
check "alice's event stream on her queued job is open and has sent its first event" \
    "kill -0 $stream_pid 2>/dev/null && [ -s '$work/events' ]"

# --- mcmcd token list: ids, never a secret ---------------------------------------

"$MCMCD" token list --data-dir "$data" >"$work/list" 2>&1
rc=$?
show <"$work/list"
check "mcmcd token list: exit 0, every token's id" \
    "[ $rc = 0 ] && grep -q '$ID1' '$work/list' && grep -q '$ID2' '$work/list' && grep -q '$IDA' '$work/list'"
check "mcmcd token list prints no secret" \
    "! grep -qF -e '${T1##*_}' -e '${T2##*_}' -e '${ADMIN##*_}' '$work/list'"
"$MCMCD" token list alice --data-dir "$data" >"$work/list.alice" 2>&1
check "mcmcd token list alice: her two tokens, not the admin's, no secret" \
    "grep -q '$ID1' '$work/list.alice' && grep -q '$ID2' '$work/list.alice' && ! grep -q '$IDA' '$work/list.alice' &&
     ! grep -qF -e '${T1##*_}' -e '${T2##*_}' '$work/list.alice'"

# --- revoke the first token while its stream is open -----------------------------

code=$(as "$T1" "$URL/v1/users/me")
check "before: the first token works (/v1/users/me $code, alice)" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/body' 'j[\"name\"]')\" = alice ]"
"$MCMCD" token revoke "$ID1" --data-dir "$data" >"$work/revoke.out" 2>&1
rc=$?
check "mcmcd token revoke ID with the daemon running: exit 0" "[ $rc = 0 ]"
[ $rc = 0 ] || show <"$work/revoke.out"
# no pause: the next request must be refused, not one after a cache expires
code=$(as "$T1" "$URL/v1/jobs/$A")
check "the next request with the revoked token: 401 invalid_token, WWW-Authenticate with error=\"invalid_token\" ($code)" \
    "[ '$code' = 401 ] && [ \"\$(jget '$work/body' 'j[\"error\"][\"code\"]')\" = invalid_token ] &&
     [ \"\$(header WWW-Authenticate)\" = 'Bearer realm=\"mcmcd\", error=\"invalid_token\"' ]"
for path in /v1/users/me /v1/jobs "/v1/jobs/$A/events"; do
    code=$(as "$T1" "$URL$path") # (an accepted stream would stay open to the 20 s limit)
    check "the revoked token on GET $path: 401 ($code)" "[ '$code' = 401 ]"
done
code=$(as "$T1" --json "$QUICK" "$URL/v1/jobs")
check "the revoked token cannot submit: 401 ($code)" "[ '$code' = 401 ]"
code=$(as "$T2" "$URL/v1/jobs/$A")
check "alice's second token still works: her job, 200 ($code)" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/body' 'j[\"owner\"]')\" = alice ]"
"$MCMCD" token list alice --data-dir "$data" >"$work/list.after" 2>&1
check "mcmcd token list alice: the revoked token gone or marked revoked, the second one there" \
    "! grep '$ID1' '$work/list.after' | grep -qvi revoked && grep -q '$ID2' '$work/list.after'"
if kill -0 "$stream_pid" 2>/dev/null; then
    echo "# the stream opened with the revoked token is still open (the check is per request)"
else
    echo "# the stream opened with the revoked token has ended"
fi
code=$("$MCMCD" token revoke "$(printf '%016x' 0)" --data-dir "$data" >/dev/null 2>&1; echo $?)
check "mcmcd token revoke of an id that names no token fails (exit $code)" "[ '$code' != 0 ]"

# --- remove alice ----------------------------------------------------------------

"$MCMCD" user rm alice --data-dir "$data" >"$work/rm.out" 2>&1
rc=$?
check "mcmcd user rm alice with the daemon running: exit 0" "[ $rc = 0 ]"
[ $rc = 0 ] || show <"$work/rm.out"
code=$(as "$T2" "$URL/v1/users/me")
check "her second token now fails too: 401 invalid_token ($code)" \
    "[ '$code' = 401 ] && [ \"\$(jget '$work/body' 'j[\"error\"][\"code\"]')\" = invalid_token ]"
code=$(as "$T2" "$URL/v1/jobs/$A")
check "... on her job as well: 401 ($code)" "[ '$code' = 401 ]"
code=$(as "$ADMIN" "$URL/v1/jobs/$A")
check "her job is still there for the admin: 200 ($code)" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/body' 'j[\"id\"]')\" = '$A' ]"
echo "# its owner now reads: $(jget "$work/body" 'j["owner"]')"
code=$(as "$ADMIN" "$URL/v1/jobs")
check "and in the admin's job list ($code)" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/body' \"any(o['id'] == '$A' for o in j['jobs'])\")\" = True ]"
"$MCMCD" token list --data-dir "$data" >"$work/list.rm" 2>&1
check "mcmcd token list: none of alice's tokens left" "! grep -q '$ID2' '$work/list.rm' && grep -q '$IDA' '$work/list.rm'"
code=$(as "$ADMIN" "$URL/v1/users")
check "GET /v1/users no longer lists alice" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/body' \"any(u['name'] == 'alice' for u in j['users'])\")\" = False ]"

c -o /dev/null -X POST "$URL/v1/jobs/$L/cancel"
kill "$stream_pid" 2>/dev/null
wait "$stream_pid" 2>/dev/null
leaked=''
for t in "$T1" "$T2" "$ADMIN"; do grep -qF "${t##*_}" "$work/daemon.err" && leaked=yes; done
check "no token secret in the daemon's log" "[ -z '$leaked' ]"
stop_daemon

# --- auth = none ------------------------------------------------------------------

refused_daemon "$work/open" --auth none --bind 0.0.0.0
show <"$work/refused.err"
check "--auth none with --bind 0.0.0.0 refuses to start: exit 2 ($refused_rc), a message that names loopback" \
    "[ '$refused_rc' = 2 ] && grep -qi loopback '$work/refused.err' && ! grep -q listening '$work/refused.out'"
if other_daemon local --auth none --bind 127.0.0.1; then
    ok "--auth none with --bind 127.0.0.1 starts ($other_url)"
    code=$(curl -q -s --max-time 20 -o "$work/body" -w '%{http_code}' "$other_url/v1/users/me")
    check "... and needs no token: GET /v1/users/me 200, the built-in admin ($code)" \
        "[ '$code' = 200 ] && [ \"\$(jget '$work/body' 'j[\"admin\"]')\" = True ]"
    code=$(curl -q -s --max-time 20 -o "$work/body" -w '%{http_code}' --json "$QUICK" "$other_url/v1/jobs")
    check "... POST /v1/jobs without a token: 201 ($code)" "[ '$code' = 201 ]"
    stop_other_daemon
else
    bad "--auth none with --bind 127.0.0.1 starts"
fi
finish
