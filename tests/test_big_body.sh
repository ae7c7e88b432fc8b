#!/usr/bin/env bash
# test_big_body.sh - a large job body does not stall other clients: its JSON
# is parsed on the thread pool while GET /healthz keeps answering; a job
# spec over 16 MiB (declared, or sent chunked) is refused with 413 without
# being parsed, and so is one whose commas say it may hold more than
# 2,000,000 values. A behaviour check, not a benchmark: the bound on
# /healthz (1 s, or half the parse) is far over what the loop takes and far
# under the parse of a body with ~1.9 million values (seconds).
# Usage: test_big_body.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_big_body.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir big-body
daemon_or_exit --workers 1

# --- over the limits: 413, not parsed ---------------------------------------
st=$(head -c 100000000 /dev/zero | tr '\0' ' ' |
    c -o "$work/declared.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @- "$URL/v1/jobs")
check "a 100 MB job body with its Content-Length: 413 body_too_large, limit 16777216" \
    "[ '$st' = 413 ] && [ \"\$(jget '$work/declared.json' 'j[\"error\"][\"code\"]')\" = body_too_large ] &&
     grep -q 16777216 '$work/declared.json'"

st=$(head -c 100000000 /dev/zero | tr '\0' ' ' |
    c -o "$work/chunked.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        -H 'Transfer-Encoding: chunked' --data-binary @- "$URL/v1/jobs")
check "a 100 MB chunked job body: 413 body_too_large once it passes 16 MiB" \
    "[ '$st' = 413 ] && [ \"\$(jget '$work/chunked.json' 'j[\"error\"][\"code\"]')\" = body_too_large ]"

# values: a spec with an unknown field "junk" holding n zeros
spec_with_values() {
    "$PY" -c "import sys; n = int(sys.argv[1]); sys.stdout.write('{\"data\": {\"synthetic\": \
{\"n\": 100, \"d\": 2, \"seed\": 1}}, \"sampler\": {\"type\": \"rwm\", \"step_size\": 0.1}, \
\"num_samples\": 100, \"junk\": [' + ','.join(['0'] * n) + ']}')" "$1"
}
spec_with_values 2100000 >"$work/many.json"
st=$(c -o "$work/many.out" -w '%{http_code}' --json @"$work/many.json" "$URL/v1/jobs")
check "a 4 MB job spec with 2,100,000 values: 413 body_too_large, not parsed" \
    "[ '$st' = 413 ] && grep -q 'at most 2000000 values' '$work/many.out'"

# --- a big body parsed off the loop ------------------------------------------
spec_with_values 1900000 >"$work/big.json"
"$PY" - "$URL" "$work/big.json" "$TOKEN" >"$work/timing.txt" 2>&1 <<'PY'
import json, sys, threading, time, urllib.request, urllib.error
url, path, token = sys.argv[1], sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
result = {}

def post():
    req = urllib.request.Request(url + "/v1/jobs", data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer " + token})
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            result["status"], result["body"] = r.status, r.read()
    except urllib.error.HTTPError as e:
        result["status"], result["body"] = e.code, e.read()
    result["seconds"] = time.monotonic() - t0

th = threading.Thread(target=post)
th.start()
lat = []
while th.is_alive():
    t0 = time.monotonic()
    with urllib.request.urlopen(url + "/healthz", timeout=60) as r:
        r.read()
    lat.append(time.monotonic() - t0)
    time.sleep(0.02)
th.join()
err = json.loads(result["body"])["error"]
print(result["status"], err["details"][0]["path"], "%.3f" % result["seconds"], len(lat),
      "%.3f" % max(lat))
PY
read -r status path post_s polls worst <"$work/timing.txt"
echo "# POST of 1.9M values: $status at '$path' after ${post_s}s; $polls /healthz during it, slowest ${worst}s"
check "the 3.8 MB spec is parsed: 422 at junk (an unknown field)" \
    "[ '$status' = 422 ] && [ '$path' = junk ]"
check "GET /healthz answered at least 5 times while it was parsed" "[ '${polls:-0}' -ge 5 ]"
check "every /healthz during the parse within 1 s and under half the parse (${worst}s of ${post_s}s)" \
    "$PY -c 'import sys; w, p = float(sys.argv[1]), float(sys.argv[2]); sys.exit(not (w < 1.0 and w < p / 2))' '$worst' '$post_s'"
show <"$work/timing.txt" | grep -v '^# [0-9]' || true

# --- the daemon still works -------------------------------------------------
st=$(c -o "$work/small.json" -w '%{http_code}' --json \
    '{"data": {"synthetic": {"n": 100, "d": 2, "seed": 1}}, "sampler": {"type": "rwm", "step_size": 0.1}, "num_samples": 100}' \
    "$URL/v1/jobs")
check "a small job after them: 201" "[ '$st' = 201 ]"
finish
