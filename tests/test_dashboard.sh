#!/usr/bin/env bash
# test_dashboard.sh - the web dashboard in a real browser: Debian's
# Chromium, headless, driven by tests/browser/dashboard.cjs through
# puppeteer-core (tools/web, installed by ./dev). A daemon with two plain
# users: bob has a job; a wrong token is refused; alice signs in on the
# page, does not see bob's job, submits a job through the form (a bad value
# first: the server's error shows next to its field), watches the progress
# bars, the summary and the trace plots grow while it runs (the traces'
# thin doubling as they pass 2000 points a chain), cancels it (its draws
# then plotted at the least thin that fits), checks the summary table
# against GET /summary, deletes it from the list (each action after a
# confirmation), uploads and deletes a dataset; the admin then sees
# bob's job, and on a NUTS job on Neal's funnel the divergent draws marked
# and the downloads (.npy, CSV, JSON, spec) equal to the API's bytes. Then the
# page again through deploy/nginx.conf with TLS, on a job of 16 chains x 5
# parameters, every chain streaming at once. A screenshot of the job page
# mid-run is kept in test_dashboard.out/ beside where ctest runs it. A
# missing Chromium, Node or puppeteer-core fails the test with why.
# Usage: test_dashboard.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_dashboard.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir dashboard
OUT=${MCMCD_TEST_OUT:-$PWD/test_dashboard.out}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

need() { # need WHAT TEST HOW-TO-GET-IT
    if ! eval "$2"; then
        bad "$1 is installed ($3)"
        finish
        exit 1
    fi
}
need "Chromium ($CHROMIUM)" "[ -x '$CHROMIUM' ]" "./dev installs Debian's chromium"
need "Node" "command -v node >/dev/null" "./dev installs nodejs"
need "puppeteer-core" "[ -f '$here/../tools/web/node_modules/puppeteer-core/package.json' ]" \
    "./dev build, or npm ci --prefix tools/web"

# 16 workers: the 16 chains of the job seen through nginx all run (and
# stream) at once, sharing the CPUs with the browser
daemon_or_exit --workers 16

# --- the files, as any client gets them (no token) ---------------------------
c -q -D "$work/index.hdr" -o "$work/index.html" "$URL/"
hdr() { sed -n "s/^$1: //Ip" "$2" | tr -d '\r'; }
etag=$(hdr ETag "$work/index.hdr")
check "GET / without a token: 200 text/html with an ETag, no-cache, nosniff and DENY framing" \
    "head -n 1 '$work/index.hdr' | grep -q ' 200' && hdr Content-Type '$work/index.hdr' | grep -q '^text/html' &&
     [ -n '$etag' ] && [ \"\$(hdr Cache-Control '$work/index.hdr')\" = no-cache ] &&
     [ \"\$(hdr X-Content-Type-Options '$work/index.hdr')\" = nosniff ] &&
     [ \"\$(hdr X-Frame-Options '$work/index.hdr')\" = DENY ]"
csp=$(hdr Content-Security-Policy "$work/index.hdr")
check "its CSP: scripts, styles and API calls from this origin only, nothing inline, no framing" \
    "echo \"\$csp\" | grep -q \"default-src 'none'\" && echo \"\$csp\" | grep -q \"script-src 'self';\" &&
     echo \"\$csp\" | grep -q \"style-src 'self';\" && echo \"\$csp\" | grep -q \"connect-src 'self';\" &&
     echo \"\$csp\" | grep -q \"frame-ancestors 'none'\" && ! echo \"\$csp\" | grep -q unsafe"
check "the page has no inline script or style" \
    "! grep -Eiq '<script>|<script [^>]*>[^<]|<style|style=' '$work/index.html'"
code=$(c -q -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$URL/")
check "If-None-Match with its ETag: 304" "[ '$code' = 304 ]"
c -q -D "$work/uplot.hdr" -o "$work/uplot.js" "$URL/ui/uPlot.iife.min.js"
check "/ui/uPlot.iife.min.js is tools/web's uplot, byte for byte, as text/javascript" \
    "cmp -s '$work/uplot.js' '$here/../tools/web/node_modules/uplot/dist/uPlot.iife.min.js' &&
     hdr Content-Type '$work/uplot.hdr' | grep -q '^text/javascript'"
for f in app.js app.css uPlot.min.css; do
    check "/ui/$f is web/'s file (or uplot's css), byte for byte" \
        "c -q '$URL/ui/$f' | cmp -s - '$here/../web/$f' ||
         c -q '$URL/ui/$f' | cmp -s - '$here/../tools/web/node_modules/uplot/dist/$f'"
done
code=$(c -q -o "$work/nope.json" -w '%{http_code}' "$URL/ui/nope.js")
check "an unknown /ui/ file: 404 not_found (JSON)" \
    "[ '$code' = 404 ] && [ \"\$(jget '$work/nope.json' 'j[\"error\"][\"code\"]')\" = not_found ]"
cli() { "$MCMCD" "$@" --data-dir "$work/data"; }
cli user add alice >/dev/null && cli user add bob >/dev/null
ALICE=$(cli token new alice 2>/dev/null)
BOB=$(cli token new bob 2>/dev/null)
check "alice and bob, plain users, have tokens" "[ \${#ALICE} -eq 87 ] && [ \${#BOB} -eq 87 ]"

bobs='{"data": {"synthetic": {"n": 200, "d": 2, "seed": 3}}, "name": "bobs-job",
 "sampler": {"type": "mala", "step_size": 0.05}, "num_samples": 200}'
c -q -H "Authorization: Bearer $BOB" --json "$bobs" "$URL/v1/jobs" >"$work/bob.json"
BOB_JOB=$(jget "$work/bob.json" 'j["id"]')
check "bob has a job ($BOB_JOB)" "[ \${#BOB_JOB} -eq 24 ]"

funnel='{"model": {"type": "funnel", "dim": 4}, "name": "funnel", "chains": 2,
 "sampler": {"type": "nuts"}, "num_samples": 400, "num_warmup": 200, "key": 3}'
c --json "$funnel" "$URL/v1/jobs" >"$work/funnel.json"
FUNNEL=$(jget "$work/funnel.json" 'j["id"]')
check "the admin's NUTS job on Neal's funnel ends (${FUNNEL:-none})" \
    "[ \${#FUNNEL} -eq 24 ] && [ \"\$(wait_job '$FUNNEL')\" = succeeded ]"

rm -rf "$OUT" && mkdir -p "$OUT"
URL=$URL ALICE_TOKEN=$ALICE ADMIN_TOKEN=$TOKEN BOB_JOB=$BOB_JOB FUNNEL=$FUNNEL OUT=$OUT CHROMIUM=$CHROMIUM \
    timeout 300 node "$here/browser/dashboard.cjs" >"$work/browser.out" 2>&1
rc=$?
cat "$work/browser.out"
passed=$((passed + $(grep -c '^ok - ' "$work/browser.out")))
failed=$((failed + $(grep -c '^not ok - ' "$work/browser.out")))
check "the browser session ends by itself and reports (exit status $rc)" \
    "[ $rc -eq 0 ] || grep -q '^not ok - ' '$work/browser.out'"
check "the daemon is still up" "kill -0 $daemon_pid"

# --- through the shipped nginx config, with TLS -------------------------------
# deploy/nginx.conf with its root paths under $work, its TLS lines on (a
# throwaway self-signed certificate) listening on a free port, proxying to
# this daemon; the admin's job of 16 chains x 5 parameters streams through.
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
need "nginx" "[ -x '$NGINX' ]" "./dev installs Debian's nginx"
ng="$work/ng"
mkdir -p "$ng/run" "$ng/log" "$ng/lib"
chmod 755 "$work" # nginx's workers (www-data when run as root) use its temp dirs
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 \
    -keyout "$ng/key.pem" -out "$ng/cert.pem" >/dev/null 2>&1
port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s#/run/#$ng/run/#; s#/var/log/nginx/#$ng/log/#; s#/var/lib/nginx/#$ng/lib/#" \
    -e "/^ *listen 80;/d; s/^\( *\)# listen 443 ssl\(.*\)/\1listen 127.0.0.1:$port ssl\2/" \
    -e 's/^\( *\)# \(ssl_[a-z_]* \)/\1\2/' \
    -e "s#/etc/ssl/certs/mcmc.example.org.pem#$ng/cert.pem#; s#/etc/ssl/private/mcmc.example.org.key#$ng/key.pem#" \
    -e "s#server 127.0.0.1:8470;#server ${URL#http://};#" "$here/../deploy/nginx.conf" >"$ng/tls.conf"
"$NGINX" -p "$ng/" -e "$ng/log/startup.log" -c "$ng/tls.conf" -g 'daemon off;' 2>>"$work/nginx.err" &
nginx_pid=$!
trap '[ -n "${nginx_pid:-}" ] && kill -QUIT "$nginx_pid" 2>/dev/null; stop_daemon; rm -rf "$work"' EXIT
P="https://127.0.0.1:$port"
code=''
for _ in $(seq 100); do # up to 10 s
    code=$(c -k -o /dev/null -w '%{http_code}' "$P/")
    [ "$code" = 200 ] && break
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
done
check "nginx with TLS serves the page ($P/: $code)" "[ '$code' = 200 ]"
[ "$code" = 200 ] || { show <"$work/nginx.err"; show <"$ng/log/error.log" 2>/dev/null; }

# the session submits the admin's job of 16 chains x 5 parameters once the
# browser is up (16 busy chains slow its start) and cancels it at its end
MODE=proxy URL=$URL PAGE_URL=$P ADMIN_TOKEN=$TOKEN OUT=$OUT CHROMIUM=$CHROMIUM \
    timeout 200 node "$here/browser/dashboard.cjs" >"$work/proxy.out" 2>&1
rc=$?
cat "$work/proxy.out"
passed=$((passed + $(grep -c '^ok - ' "$work/proxy.out")))
failed=$((failed + $(grep -c '^not ok - ' "$work/proxy.out")))
check "the proxied browser session ends by itself and reports (exit status $rc)" \
    "[ $rc -eq 0 ] || grep -q '^not ok - ' '$work/proxy.out'"
kill -QUIT "$nginx_pid" 2>/dev/null
stop_daemon
check "no sanitizer or crash report in the daemon's stderr" \
    "! grep -Eq 'Sanitizer|runtime error|SUMMARY:' '$work/daemon.err'"
grep -E 'Sanitizer|runtime error' "$work/daemon.err" | head -5 | show
finish
