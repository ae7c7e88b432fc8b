#!/usr/bin/env bash
# test_dashboard.sh - the web dashboard in a real browser: Debian's
# Chromium, headless, driven by tests/browser/dashboard.cjs through
# puppeteer-core (tools/web, installed by ./dev). A daemon with two plain
# users: bob has a job, alice signs in on the page, does not see it, submits
# a job through the form (a bad value first: the server's error shows next
# to its field), watches the progress bars and trace plots grow while it
# runs, cancels it, checks the summary table against GET /summary, deletes
# it from the list, uploads and deletes a dataset; the admin then sees
# bob's job. A screenshot of the job page mid-run is kept in
# test_dashboard.out/ beside where ctest runs it. A missing Chromium, Node
# or puppeteer-core fails the test with why.
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

daemon_or_exit --workers 2
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

rm -rf "$OUT" && mkdir -p "$OUT"
URL=$URL ALICE_TOKEN=$ALICE ADMIN_TOKEN=$TOKEN BOB_JOB=$BOB_JOB OUT=$OUT CHROMIUM=$CHROMIUM \
    timeout 300 node "$here/browser/dashboard.cjs" >"$work/browser.out" 2>&1
rc=$?
cat "$work/browser.out"
passed=$((passed + $(grep -c '^ok - ' "$work/browser.out")))
failed=$((failed + $(grep -c '^not ok - ' "$work/browser.out")))
check "the browser session ends by itself and reports (exit status $rc)" \
    "[ $rc -eq 0 ] || grep -q '^not ok - ' '$work/browser.out'"
check "the daemon is still up" "kill -0 $daemon_pid"
finish
