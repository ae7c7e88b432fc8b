#!/usr/bin/env bash
# test_nginx.sh - deploy/nginx.conf as shipped, checked and run in front of
# a real mcmcd. A copy with only its root paths (pid, logs, temp dirs) moved
# under a temporary dir passes `nginx -t`, and so does the same copy with its
# TLS lines uncommented (a throwaway self-signed certificate). Then nginx runs
# (in the foreground, on a free port) proxying to a mcmcd started with one
# worker and heartbeat_seconds = 1, its stream locations' proxy_read_timeout
# cut to 3 s, and through it: /healthz answers 200; GET /v1/jobs answers 401
# without a token, 401 invalid_token (with WWW-Authenticate) with a wrong
# one and 200 with the admin's (<data_dir>/admin.token), so Authorization
# reaches mcmcd; and the quiet minute: with a long job holding the worker,
# the followed draws and the events of a job queued behind it stay open
# through nginx for 8 s (past its 3 s read timeout) on heartbeats that come
# through as they are sent, then, once the long job is cancelled, the queued job
# runs and its draws come through whole and the stream ends. The shipped
# stream location must not buffer and must wait a minute or more for a read,
# and client_max_body_size must equal max_body_bytes in deploy/mcmcd.conf.
# nginx missing, or a daemon that cannot start, fails.
# Usage: test_nginx.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_nginx.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
deploy="$here/../deploy"
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir nginx
chmod 755 "$work" # nginx's workers (www-data when run as root) use its temp dirs

NGINX=$(command -v nginx || echo /usr/sbin/nginx)
if [ ! -x "$NGINX" ]; then
    bad "nginx is installed (./dev installs the Debian package nginx)"
    finish
    exit 1
fi

# --- the shipped file, its root paths under $work --------------------------
ng="$work/ng"
mkdir -p "$ng/run" "$ng/log" "$ng/lib"
relocate() { # FILE -> stdout: the shipped paths moved under $ng
    sed -e "s#/run/#$ng/run/#; s#/var/log/nginx/#$ng/log/#; s#/var/lib/nginx/#$ng/lib/#" "$1"
}
relocate "$deploy/nginx.conf" >"$ng/checked.conf"
changed=$(diff "$deploy/nginx.conf" "$ng/checked.conf" | grep -c '^>')
# every absolute path left in a directive is one the copy moved
stray=$(sed 's/#.*//' "$ng/checked.conf" | grep -o ' /[A-Za-z][^ ;]*' | grep -vc "^ $ng/")
check "the copy differs from deploy/nginx.conf in its 8 root paths alone ($changed lines; $stray other absolute paths)" \
    "[ '$changed' = 8 ] && [ '$stray' = 0 ]"
"$NGINX" -t -p "$ng/" -e "$ng/log/startup.log" -c "$ng/checked.conf" >"$work/t.out" 2>&1
rc=$?
show <"$work/t.out"
check "nginx -t accepts deploy/nginx.conf" "[ $rc -eq 0 ]"

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=mcmc.example.org \
    -keyout "$ng/key.pem" -out "$ng/cert.pem" >/dev/null 2>&1
sed -e 's/^\( *\)# \(listen 443 ssl\)/\1\2/; s/^\( *\)# \(ssl_[a-z_]* \)/\1\2/' \
    -e "s#/etc/ssl/certs/mcmc.example.org.pem#$ng/cert.pem#; s#/etc/ssl/private/mcmc.example.org.key#$ng/key.pem#" \
    "$ng/checked.conf" >"$ng/tls.conf"
tls_lines=$(diff "$ng/checked.conf" "$ng/tls.conf" | grep -c '^>')
"$NGINX" -t -p "$ng/" -e "$ng/log/startup.log" -c "$ng/tls.conf" >"$work/t.out" 2>&1
rc=$?
show <"$work/t.out"
check "its TLS lines, uncommented with a certificate, pass nginx -t too ($tls_lines lines)" \
    "[ $rc -eq 0 ] && [ '$tls_lines' = 4 ]"

streams=$(sed -n '/location ~ \^\/v1\/jobs\/\[^\/\]+\/(events|draws)\$ {/,/}/p' "$deploy/nginx.conf")
timeout=$(echo "$streams" | sed -n 's/^ *proxy_read_timeout \([0-9]*[sm]\);/\1/p')
check "the events and draws location: proxy_buffering off, proxy_read_timeout $timeout (>= 60 s)" \
    "echo '$streams' | grep -q '^ *proxy_buffering off;' &&
     case '$timeout' in [6-9][0-9]s | [1-9][0-9][0-9]*s | [1-9]*m) true ;; *) false ;; esac"
nginx_body=$(sed -n 's/^ *client_max_body_size \([0-9]*[kmg]\);.*/\1/p' "$deploy/nginx.conf")
mcmcd_body=$(sed -n 's/^max_body_bytes = \([0-9]*[kMG]\).*/\1/p' "$deploy/mcmcd.conf")
check "client_max_body_size ($nginx_body) = mcmcd.conf's max_body_bytes ($mcmcd_body)" \
    "[ -n '$nginx_body' ] && [ \"\$(echo '$nginx_body' | tr a-z A-Z)\" = '$mcmcd_body' ]"

# --- mcmcd behind it --------------------------------------------------------
printf 'heartbeat_seconds = 1\n' >"$work/mcmcd.conf"
daemon_or_exit --config "$work/mcmcd.conf" --workers 1
# (start_daemon made every curl here send the admin's token: curl -q does not)

port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# the streams' read timeout cut to 3 s, listening on $port, proxying to $URL
sed -e "s/^\( *\)listen 80;/\1listen 127.0.0.1:$port;/; s/proxy_read_timeout [0-9a-z]*;/proxy_read_timeout 3s;/" \
    -e "s#server 127.0.0.1:8470;#server ${URL#http://};#" "$ng/checked.conf" >"$ng/run.conf"
"$NGINX" -p "$ng/" -e "$ng/log/startup.log" -c "$ng/run.conf" -g 'daemon off;' 2>>"$work/nginx.err" &
nginx_pid=$!
bg_pids="$bg_pids $nginx_pid" # (SIGTERM at exit: nginx's fast shutdown)
P="http://127.0.0.1:$port"
code=''
# true once nginx answers /healthz with 200, or has exited
nginx_answers() {
    code=$(c -o "$work/healthz" -w '%{http_code}' "$P/healthz")
    [ "$code" = 200 ] || pid_gone "$nginx_pid"
}
wait_for 20 nginx_answers
check "through nginx: /healthz answers 200" "[ '$code' = 200 ]"
if [ "$code" != 200 ]; then
    show <"$work/nginx.err"
    show <"$ng/log/error.log"
fi

# --- Authorization reaches mcmcd --------------------------------------------
code=$(curl -q -s --max-time 20 -o "$work/none.json" -w '%{http_code}' "$P/v1/jobs")
check "through nginx: GET /v1/jobs without a token answers 401 unauthorized" \
    "[ '$code' = 401 ] && [ \"\$(jget '$work/none.json' 'j[\"error\"][\"code\"]')\" = unauthorized ]"
code=$(curl -q -s --max-time 20 -D "$work/bad.hdr" -o "$work/bad.json" -w '%{http_code}' \
    -H 'Authorization: Bearer mcmcd_0000000000000000_x' "$P/v1/jobs")
check "through nginx: a wrong token answers 401 invalid_token with WWW-Authenticate" \
    "[ '$code' = 401 ] && [ \"\$(jget '$work/bad.json' 'j[\"error\"][\"code\"]')\" = invalid_token ] &&
     grep -qi '^WWW-Authenticate: Bearer' '$work/bad.hdr'"
code=$(c -o "$work/jobs.json" -w '%{http_code}' "$P/v1/jobs")
check "through nginx: the admin's token answers 200" "[ -n '$TOKEN' ] && [ '$code' = 200 ]"

# --- the quiet minute ---------------------------------------------------------
long='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "chains": 1,
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 10000, "thin": 10000, "progress_every": 100}'
short='{"data": {"synthetic": {"n": 200, "d": 3, "seed": 2}}, "chains": 1,
 "sampler": {"type": "mala", "step_size": 0.05}, "num_samples": 200, "num_warmup": 50, "key": 5}'
c --json "$long" "$P/v1/jobs" >"$work/long.json"
LONG=$(jget "$work/long.json" 'j["id"]')
c --json "$short" "$P/v1/jobs" >"$work/short.json"
JOB=$(jget "$work/short.json" 'j["id"]')
state=$(c "$P/v1/jobs/$JOB" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])' 2>/dev/null)
check "through nginx: a job waits behind a long one (state '$state')" "[ -n '$LONG' ] && [ '$state' = queued ]"

# Reads a stream through nginx for up to $2 s: each line with its arrival
# time (seconds since the start) in $1.lines, curl's exit status in $1.rc
# (28: still open at the end, 0: ended, other: cut).
stamped() {
    local out=$1 secs=$2 url=$3
    {
        curl -sN --max-time "$secs" "$url"
        echo $? >"$out.rc"
    } | "$PY" -u -c '
import sys, time
t0 = time.monotonic()
for line in iter(sys.stdin.buffer.readline, b""):
    sys.stdout.write("%.3f\t%s" % (time.monotonic() - t0, line.decode()))
' >"$out.lines"
}
stamped "$work/draws" 8 "$P/v1/jobs/$JOB/draws?follow=1" &
readers=$!
stamped "$work/events" 8 "$P/v1/jobs/$JOB/events" &
readers="$readers $!"
bg_pids="$bg_pids $readers"
wait $readers
head -n 3 "$work/draws.lines" | show
for s in draws events; do
    check "through nginx: the queued job's $s stream is open after 8 s (curl $(cat "$work/$s.rc" 2>/dev/null))" \
        "[ \"\$(cat '$work/$s.rc' 2>/dev/null)\" = 28 ]"
    # a buffering proxy would hold these small lines until the stream ends
    check "through nginx: its $s heartbeats come through while the stream is open (not buffered): >= 2" \
        "$PY - '$work/$s.lines' $s <<'PY'
import json, sys
rows = [l.split('\t', 1) for l in open(sys.argv[1])]
beats = [float(t) for t, l in rows if ('heartbeat' in json.loads(l) if sys.argv[2] == 'draws'
                                       else json.loads(l).get('type') == 'heartbeat')]
assert len(beats) >= 2, rows
PY"
done
check "through nginx: the draw heartbeats say the job is queued" "$PY - '$work/draws.lines' <<'PY'
import json, sys
rows = [json.loads(l.split('\t', 1)[1]) for l in open(sys.argv[1])]
assert rows and all(set(r) == {'heartbeat', 'state'} and r['state'] == 'queued' for r in rows), rows
PY"

# it runs: its draws come through whole, and the stream ends with the job
curl -sN --max-time 60 "$P/v1/jobs/$JOB/draws?follow=1" >"$work/follow.ndjson" &
follower=$!
bg_pids="$bg_pids $follower"
wait_for 30 test -s "$work/follow.ndjson" # its first heartbeat came through
c -X POST "$P/v1/jobs/$LONG/cancel" >/dev/null
wait "$follower"
rc=$?
check "through nginx: once it runs, its 200 draws follow and the stream ends (curl $rc)" \
    "[ $rc -eq 0 ] && $PY - '$work/follow.ndjson' <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
draws = [r for r in rows if 'heartbeat' not in r]
assert [(d['chain'], d['draw']) for d in draws] == [(0, k) for k in range(200)], rows[:3]
assert any('heartbeat' in r for r in rows), rows[:3]
PY"

kill -QUIT "$nginx_pid" 2>/dev/null # graceful, before the work dir goes
wait "$nginx_pid" 2>/dev/null
finish
