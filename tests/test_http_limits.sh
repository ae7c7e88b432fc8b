#!/usr/bin/env bash
# test_http_limits.sh - no request stalls the daemon or gets a non-JSON
# answer where the daemon has a say: each limit of server/http.h answered
# at once with a JSON 4xx (500 query arguments, a long target, ambiguous
# framing, non-UTF-8 bytes in path, query and Content-Type), a chunk size
# of 0xffffffffffffffff closed after idle_timeout_seconds, 1,100 idle TCP
# connections that do not shut out a normal request, a stream over
# max_streams answered 503 JSON while open streams outlive the idle
# timeout, the Host check (DNS rebinding), HEAD with GET's headers, file
# modes (0700 data dir, 0600 registry and draws) and a leftover temporary
# file swept at start-up.
# Usage: test_http_limits.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_http_limits.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir http-limits

# A leftover of an upload cut short, there before the first start.
mkdir -p "$work/data/datasets" "$work/data/jobs/0123456789abcdef01234567"
head -c 4096 /dev/zero >"$work/data/datasets/.0123456789abcdef.tmp.Ab12Cd"
echo '{}' >"$work/data/jobs/0123456789abcdef01234567/status.json.tmp"
printf 'idle_timeout_seconds = 3\nheartbeat_seconds = 1\nmax_streams = 2\n' >"$work/mcmcd.conf"
daemon_or_exit --config "$work/mcmcd.conf" --workers 1
PORT=${URL##*:}

check "a leftover datasets/.ID.tmp.* and a job's *.tmp are swept at start, and logged" \
    "[ ! -e '$work/data/datasets/.0123456789abcdef.tmp.Ab12Cd' ] &&
     [ ! -e '$work/data/jobs/0123456789abcdef01234567/status.json.tmp' ] &&
     grep -q 'removed 2 temporary files' '$work/daemon.err'"

# raw REQUEST [SECONDS]: sends REQUEST (Python bytes literal syntax) on a
# fresh connection, prints the seconds until the server closed it (or
# 'timeout' after SECONDS, 20: a hang guard, not a speed check), then what
# it answered. For what curl will not send.
raw() {
    "$PY" - "$PORT" "$1" "${2:-20}" <<'PY'
import ast, socket, sys, time
s = socket.create_connection(('127.0.0.1', int(sys.argv[1])))
s.settimeout(float(sys.argv[3]))
t = time.time()
s.sendall(ast.literal_eval('b"' + sys.argv[2] + '"'))
data, how = b'', 'timeout'
try:
    while True:
        b = s.recv(65536)
        if not b:
            how = '%.2f' % (time.time() - t)
            break
        data += b
except socket.timeout:
    pass
except ConnectionResetError:
    how = '%.2f' % (time.time() - t)
sys.stdout.buffer.write(how.encode() + b'\n' + data)
PY
}
# json_error FILE STATUS CODE: FILE (from raw) is a prompt answer with
# STATUS and a JSON error of CODE whose message is valid UTF-8.
json_error() {
    "$PY" - "$@" <<'PY'
import json, sys
text = open(sys.argv[1], 'rb').read()
head, _, body = text.partition(b'\r\n\r\n')
lines = head.split(b'\n')
assert lines[0] != b'timeout', 'no answer'
status = lines[1].split()[1].decode()
assert status == sys.argv[2], (status, head)
assert b'content-type: application/json' in head.lower(), head
e = json.loads(body.decode('utf-8'))['error']
assert e['code'] == sys.argv[3] and e['message'], e
PY
}

AUTH="Authorization: Bearer $TOKEN"
HOST="Host: 127.0.0.1:$PORT"
# --- limits answered at once --------------------------------------------------
q=$("$PY" -c "print('&'.join(['a=1'] * 500))")
raw "GET /healthz?$q HTTP/1.1\\r\\n$HOST\\r\\n\\r\\n" >"$work/args"
check "500 query arguments: 400 invalid_query at once, not a hang" \
    "json_error '$work/args' 400 invalid_query && grep -q 'limit is 100' '$work/args'"
long=$("$PY" -c "print('x' * 9000)")
raw "GET /healthz?q=$long HTTP/1.1\\r\\n$HOST\\r\\n\\r\\n" >"$work/long"
check "a 9000-byte request target: 414 uri_too_long JSON" "json_error '$work/long' 414 uri_too_long"
raw "POST /v1/jobs HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nContent-Type: application/json\\r\\nContent-Length: 2\\r\\nContent-Length: 2\\r\\n\\r\\n{}" >"$work/cl2"
check "two Content-Lengths: 400 bad_request JSON" "json_error '$work/cl2' 400 bad_request"
raw "POST /v1/jobs HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nContent-Type: application/json\\r\\nContent-Length: 5\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\n2\\r\\n{}\\r\\n0\\r\\n\\r\\n" >"$work/clte"
check "Content-Length with Transfer-Encoding: 400 bad_request JSON" \
    "json_error '$work/clte' 400 bad_request"
raw "GET /v1/jobs/\\xff\\xfe%ff HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nConnection: close\\r\\n\\r\\n" >"$work/path"
check "non-UTF-8 bytes in a path: 404 JSON, the path repaired to U+FFFD" \
    "json_error '$work/path' 404 not_found && grep -q \$'\\xef\\xbf\\xbd' '$work/path'"
raw "GET /v1/jobs?state=%e2%82 HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\n\\r\\n" >"$work/query"
check "a query value with a split UTF-8 character: 400 invalid_query naming it" \
    "json_error '$work/query' 400 invalid_query && grep -q '\"path\":\"state\"' '$work/query'"
raw "POST /v1/datasets?name=%ff%fe HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nContent-Type: text/csv\\r\\nContent-Length: 8\\r\\n\\r\\n1,2\\n3,4\\n" >"$work/name"
check "a dataset upload with a non-UTF-8 ?name=: 400 with path name, nothing stored" \
    "json_error '$work/name' 400 invalid_query && grep -q '\"path\":\"name\"' '$work/name' &&
     [ \"\$(c '$URL/v1/datasets' | '$PY' -c 'import json,sys; print(len(json.load(sys.stdin)[\"datasets\"]))')\" = 0 ]"
raw "POST /v1/jobs HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nContent-Type: text/\\xe2\\x82\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\n{}" >"$work/ctype"
check "a non-UTF-8 Content-Type: 415 JSON with valid UTF-8" \
    "json_error '$work/ctype' 415 unsupported_media_type"
raw "BR\\xc3EW / HTTP/1.1\\r\\n$HOST\\r\\nConnection: close\\r\\n\\r\\n" >"$work/method"
check "a non-UTF-8 method: answered (4xx), never 500" \
    "[ \"\$(sed -n 1p '$work/method')\" != timeout ] && sed -n 2p '$work/method' | grep -q ' 4[0-9][0-9] '"
raw "POST /v1/jobs HTTP/1.1\\r\\n$HOST\\r\\n$AUTH\\r\\nContent-Type: application/json\\r\\nTransfer-Encoding: chunked\\r\\n\\r\\nffffffffffffffff\\r\\nabc" 60 >"$work/chunk"
check "a chunk size of 0xffffffffffffffff: closed by idle_timeout_seconds (3), not left open 300 s (after $(sed -n 1p "$work/chunk") s)" \
    "[ \"\$(sed -n 1p '$work/chunk')\" != timeout ]"

# --- HEAD, errors -----------------------------------------------------------
c -D "$work/get.h" -o /dev/null "$URL/v1/info"
c -I -o "$work/head.h" "$URL/v1/info"
check "HEAD /v1/info: GET's status, Content-Type and Content-Length, no body" \
    "[ \"\$(grep -i -e '^HTTP' -e '^content-type' -e '^content-length' '$work/get.h')\" = \
       \"\$(grep -i -e '^HTTP' -e '^content-type' -e '^content-length' '$work/head.h')\" ] &&
     grep -qi '^content-length: [1-9]' '$work/head.h'"

# --- the Host check -----------------------------------------------------------
code=$(c -o "$work/evil" -w '%{http_code}' -H 'Host: evil.example' "$URL/healthz")
check "Host: evil.example (DNS rebinding) is refused: 421 misdirected_request JSON" \
    "[ '$code' = 421 ] && [ \"\$(jget '$work/evil' 'j[\"error\"][\"code\"]')\" = misdirected_request ]"
ok_hosts=1
for h in "127.0.0.1:$PORT" "localhost:$PORT" "LOCALHOST" "127.0.0.1"; do
    [ "$(c -o /dev/null -w '%{http_code}' -H "Host: $h" "$URL/healthz")" = 200 ] || ok_hosts=0
done
check "Host: 127.0.0.1:PORT, localhost:PORT, LOCALHOST, 127.0.0.1 are served" "[ $ok_hosts = 1 ]"

# --- connections --------------------------------------------------------------
# 1,100 idle connections; once $work/idle.go exists (after the /healthz
# below), it says how many of them the daemon still held open, then waits
# (60 s at most: a hang guard) for the first to be closed by the idle timeout.
"$PY" - "$PORT" "$work/idle.go" >"$work/idle" <<'PY' &
import os, resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
socks = [socket.create_connection(('127.0.0.1', int(sys.argv[1]))) for _ in range(1100)]
print('open', len(socks), flush=True)
for _ in range(1200):
    if os.path.exists(sys.argv[2]):
        break
    time.sleep(0.05)
def held(s):
    try:
        return s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b''
    except BlockingIOError:
        return True
    except OSError:
        return False
print('held', sum(held(s) for s in socks), flush=True)
socks[0].settimeout(60)
t = time.time()
closed = socks[0].recv(1) == b''
print('closed', closed, '%.1f' % (time.time() - t), flush=True)
PY
idle_pid=$!
bg_pids="$bg_pids $idle_pid"
wait_for 30 grep -q '^open' "$work/idle"
code=$(c -o /dev/null -w '%{http_code}' "$URL/healthz")
touch "$work/idle.go"
wait_for 10 grep -q '^held' "$work/idle"
# served beside them, not once the idle timeout had closed some to make room
check "with 1,100 idle TCP connections open, GET /healthz answers 200 while all are held ($code, $(grep '^held' "$work/idle"))" \
    "grep -q '^open 1100' '$work/idle' && grep -qx 'held 1100' '$work/idle' && [ '$code' = 200 ]"
wait "$idle_pid"
check "an idle connection is closed after idle_timeout_seconds ($(cat "$work/idle" | tr '\n' ' '))" \
    "grep -q '^closed True' '$work/idle'"

# Streams: two open (one worker, a long job first, the short one queued),
# a third is 503 JSON with Retry-After; the open ones outlive the idle
# timeout on their heartbeats.
c --json '{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "chains": 1,
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "progress_every": 100}' \
    "$URL/v1/jobs" >"$work/long.json"
c --json '{"data": {"synthetic": {"n": 200, "d": 3, "seed": 2}}, "chains": 1,
 "sampler": {"type": "mala", "step_size": 0.05}, "num_samples": 300, "num_warmup": 50}' \
    "$URL/v1/jobs" >"$work/short.json"
LONG=$(jget "$work/long.json" 'j["id"]') JOB=$(jget "$work/short.json" 'j["id"]')
curl -sN --max-time 6 "$URL/v1/jobs/$JOB/draws?follow=1" >"$work/s1" &
s1=$!
curl -sN --max-time 6 "$URL/v1/jobs/$JOB/events" >"$work/s2" &
s2=$!
wait_for 5 test -s "$work/s1" -a -s "$work/s2"
code=$(c -D "$work/s3.h" -o "$work/s3" -w '%{http_code}' "$URL/v1/jobs/$JOB/events")
check "a third stream over max_streams = 2: 503 unavailable JSON with Retry-After" \
    "[ '$code' = 503 ] && [ \"\$(jget '$work/s3' 'j[\"error\"][\"code\"]')\" = unavailable ] &&
     grep -qi '^retry-after: ' '$work/s3.h'"
wait "$s1"
rc1=$?
wait "$s2"
rc2=$?
check "both streams stayed open 6 s, past the 3 s idle timeout (curl exit 28: its own limit)" \
    "[ $rc1 = 28 ] && [ $rc2 = 28 ] && [ \$(grep -c heartbeat '$work/s1') -ge 4 ]"
c -X POST "$URL/v1/jobs/$LONG/cancel" >/dev/null
state=$(wait_job "$JOB")
check "the short job runs once the long one is cancelled ($state)" "[ '$state' = succeeded ]"

# --- file modes ---------------------------------------------------------------
mode() { stat -c '%a' "$1"; }
check "the data dir is 0700 ($(mode "$work/data"))" "[ \"\$(mode '$work/data')\" = 700 ]"
check "registry.db is 0600 ($(mode "$work/data/registry.db"))" \
    "[ \"\$(mode '$work/data/registry.db')\" = 600 ]"
check "registry.db-wal, if there, is 0600" \
    "[ ! -e '$work/data/registry.db-wal' ] || [ \"\$(mode '$work/data/registry.db-wal')\" = 600 ]"
check "the job's dir is 0700, its draws and stats 0600" \
    "[ \"\$(mode '$work/data/jobs/$JOB')\" = 700 ] &&
     [ \"\$(mode '$work/data/jobs/$JOB/draws.f64')\" = 600 ] &&
     [ \"\$(mode '$work/data/jobs/$JOB/stats.f64')\" = 600 ]"
printf 'x,y\n1,2\n3,4\n' | c --data-binary @- -H 'Content-Type: text/csv' \
    "$URL/v1/datasets?name=modes" >"$work/ds.json"
DS=$(jget "$work/ds.json" 'j["id"]')
check "a dataset's file is 0600" \
    "[ -n '$DS' ] && [ \"\$(mode \"\$(ls '$work/data/datasets/'*.ds | head -n 1)\")\" = 600 ]"
check "the daemon is alive after all of it" "c '$URL/healthz' | grep -q ok"
check "no sanitizer or crash report on its stderr" \
    "! grep -Eq 'AddressSanitizer|runtime error|LeakSanitizer' '$work/daemon.err'"
finish
