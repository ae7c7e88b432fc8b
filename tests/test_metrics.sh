#!/usr/bin/env bash
# test_metrics.sh - GET /metrics: 401 without a token, 403 for a plain
# user, 200 for the admin and for a metrics-scope token (which gets 403
# everywhere else). The text is Prometheus exposition: every sample line is
# `name{labels} value` under a # TYPE of its family. Per-user gauges exist
# for each user (alice's stored bytes are her dataset's); requests are
# counted by route pattern, method and code, and a known set of requests
# moves those counters by exactly that much (a 404 without a route counts
# as "unmatched", never by its path; a 405 by the pattern it matched); every histogram's buckets are
# cumulative and its +Inf bucket equals its _count; a job that ran is in
# mcmcd_job_duration_seconds; mcmcd_build_info says what /v1/info says.
# Usage: test_metrics.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_metrics.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir metrics

daemon_or_exit

cli() { "$MCMCD" "$@" --data-dir "$work/data"; }
as() { # TOKEN curl-args...: a request with that token instead of the admin's
    local t=$1
    shift
    curl -q -s --max-time 20 -H "Authorization: Bearer $t" "$@"
}
status() { as "$1" -o /dev/null -w '%{http_code}' "$URL$2"; }

cli user add alice >/dev/null && cli user add bob >/dev/null
AT=$(cli token new alice 2>/dev/null)
BT=$(cli token new bob 2>/dev/null)
MT=$(cli token new alice --scope metrics --label prometheus 2>/dev/null)

# --- who may read it -----------------------------------------------------------------
code=$(curl -q -s -o /dev/null -w '%{http_code}' --max-time 20 "$URL/metrics")
check "no token: 401" "[ '$code' = 401 ]"
check "alice's token (a plain user): 403" "[ \"\$(status '$AT' /metrics)\" = 403 ]"
check "the admin: 200" "[ \"\$(status '$TOKEN' /metrics)\" = 200 ]"
check "alice's metrics-scope token: 200" "[ \"\$(status '$MT' /metrics)\" = 200 ]"
check "the metrics token on /v1/jobs and /v1/users/me: 403" \
    "[ \"\$(status '$MT' /v1/jobs)\" = 403 ] && [ \"\$(status '$MT' /v1/users/me)\" = 403 ]"

# --- some usage: alice stores a dataset, bob runs a job ---------------------------------
as "$AT" --json '{"synthetic": {"n": 200, "d": 3, "seed": 5}, "name": "d"}' \
    "$URL/v1/datasets" >"$work/ds.json"
ds_bytes=$(jget "$work/ds.json" 'j["bytes"]')
as "$BT" --json '{"data": {"synthetic": {"n": 100, "d": 2, "seed": 1}},
 "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200, "chains": 1}' \
    "$URL/v1/jobs" >"$work/job.json"
JOB=$(jget "$work/job.json" 'j["id"]')
t_job=$(date +%s%N)
state=$(wait_job "$JOB")
t_job=$((($(date +%s%N) - t_job) / 1000000))
check "alice's dataset is stored ($ds_bytes bytes) and bob's job succeeds" \
    "[ -n '$ds_bytes' ] && [ '$state' = succeeded ]"

# --- known requests between two scrapes --------------------------------------------------
c "$URL/metrics" >"$work/m1"
for _ in 1 2 3; do c -o /dev/null "$URL/healthz"; done
for _ in 1 2; do c -o /dev/null "$URL/v1/jobs/feedfacefeedfacefeedface"; done
c -o /dev/null "$URL/no/such/route"
curl -q -s -o /dev/null --max-time 20 "$URL/v1/jobs"
as "$MT" -o /dev/null "$URL/v1/jobs"
c -o /dev/null -X DELETE "$URL/healthz"
c -D "$work/m2.hdr" "$URL/metrics" >"$work/m2"
echo "# \$ curl -s $URL/metrics | grep -v '^#' (some of it)"
grep -E '^mcmcd_(user_|build_info|http_requests_total|job_duration_seconds_count)' "$work/m2" | show

check "Content-Type is text/plain; version=0.0.4" \
    "grep -qi '^Content-Type: text/plain; version=0.0.4' '$work/m2.hdr'"

cat >"$work/parse.py" <<'PY'
# parse(path) -> {family: type}, [(name, {label: value}, float)]
import re
NAME = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'(%s)(?:\{(%s(?:,%s)*)?\})? ([-+]?(?:[0-9.]+(?:[eE][-+]?[0-9]+)?|Inf|NaN))$'
                    % (NAME, LABEL, LABEL))
PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')

def parse(path):
    types, samples = {}, []
    for n, line in enumerate(open(path), 1):
        line = line.rstrip('\n')
        if line.startswith('# TYPE '):
            _, _, fam, typ = line.split(' ')
            assert fam not in types, ('two TYPE lines', fam)
            types[fam] = typ
            continue
        if line.startswith('#') or not line:
            continue
        m = SAMPLE.fullmatch(line)
        assert m, 'line %d is not name{labels} value: %r' % (n, line)
        labels = dict(PAIR.findall(m.group(2) or ''))
        samples.append((m.group(1), labels, float(m.group(3))))
    return types, samples

def family(name, types):
    for suffix in ('_bucket', '_sum', '_count'):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) == 'histogram':
            return name[:-len(suffix)]
    return name
PY

check "every sample line is name{labels} value, under a # TYPE of its family" \
    "$PY - '$work/m2' <<'PY'
import sys; sys.path.insert(0, '$work')
from parse import parse, family
types, samples = parse(sys.argv[1])
assert samples
for name, labels, v in samples:
    assert family(name, types) in types, ('no TYPE for', name)
print('# %d samples, %d families' % (len(samples), len(types)))
PY"

check "per-user gauges for alice, bob and admin; alice stores her dataset's bytes" \
    "$PY - '$work/m2' '$ds_bytes' <<'PY'
import sys; sys.path.insert(0, '$work')
from parse import parse
types, samples = parse(sys.argv[1])
v = {(n, l.get('user')): x for n, l, x in samples if n.startswith('mcmcd_user_')}
for fam in ('running_chains', 'queued_jobs', 'stored_bytes'):
    assert types.get('mcmcd_user_' + fam) == 'gauge', fam
    for user in ('alice', 'bob', 'admin'):
        assert ('mcmcd_user_' + fam, user) in v, (fam, user, v)
assert v[('mcmcd_user_stored_bytes', 'alice')] == float(sys.argv[2]), v
assert v[('mcmcd_user_queued_jobs', 'bob')] == 0, v  # his job has ended
PY"

check "requests counted by route pattern, method and code: exactly the ones made" \
    "$PY - '$work/m1' '$work/m2' <<'PY'
import sys; sys.path.insert(0, '$work')
from parse import parse
def counts(path):
    types, samples = parse(path)
    assert types['mcmcd_http_requests_total'] == 'counter'
    return {(l['route'], l['method'], l['code']): x for n, l, x in samples
            if n == 'mcmcd_http_requests_total'}
a, b = counts(sys.argv[1]), counts(sys.argv[2])
want = {('/healthz', 'GET', '200'): 3, ('/v1/jobs/{id}', 'GET', '404'): 2,
        ('unmatched', 'GET', '404'): 1, ('/v1/jobs', 'GET', '401'): 1,
        ('/v1/jobs', 'GET', '403'): 1, ('/healthz', 'DELETE', '405'): 1,
        ('/metrics', 'GET', '200'): 1}
delta = {k: b.get(k, 0) - a.get(k, 0) for k in set(a) | set(b)}
delta = {k: d for k, d in delta.items() if d}
assert delta == want, delta
routes = {k[0] for k in b}
assert not any('feedface' in r or 'no/such' in r for r in routes), routes
PY"

check "histograms: cumulative buckets, +Inf equals _count; the healthz latencies and bob's job are in" \
    "$PY - '$work/m1' '$work/m2' '$t_job' <<'PY'
import sys; sys.path.insert(0, '$work')
from parse import parse
def hists(path):
    types, samples = parse(path)
    h = {}
    for name, labels, v in samples:
        for suffix in ('_bucket', '_sum', '_count'):
            fam = name[:-len(suffix)] if name.endswith(suffix) else None
            if fam and types.get(fam) == 'histogram':
                key = (fam, tuple(sorted((k, x) for k, x in labels.items() if k != 'le')))
                e = h.setdefault(key, {'le': []})
                if suffix == '_bucket':
                    e['le'].append((float(labels['le']), v))
                else:
                    e[suffix] = v
    return types, h
types, h = hists(sys.argv[2])
assert types['mcmcd_http_request_duration_seconds'] == 'histogram'
assert types['mcmcd_job_duration_seconds'] == 'histogram'
for key, e in h.items():
    les = [le for le, _ in e['le']]
    cum = [v for _, v in e['le']]
    assert les == sorted(les) and les[-1] == float('inf'), (key, les)
    assert all(x <= y for x, y in zip(cum, cum[1:])), (key, cum)
    assert cum[-1] == e['_count'] and e['_sum'] >= 0, (key, e)
_, h1 = hists(sys.argv[1])
hz = ('mcmcd_http_request_duration_seconds', (('route', '/healthz'),))
assert h[hz]['_count'] - h1.get(hz, {'_count': 0})['_count'] == 4, h[hz]  # 3 GET, 1 DELETE
assert ('mcmcd_http_request_duration_seconds', (('route', 'unmatched'),)) in h
job = h[('mcmcd_job_duration_seconds', (('state', 'succeeded'),))]
assert job['_count'] == 1 and 0 < job['_sum'] <= float(sys.argv[3]) / 1000 + 1, job
for st in ('failed', 'cancelled'):
    assert h[('mcmcd_job_duration_seconds', (('state', st),))]['_count'] == 0
PY"

c "$URL/v1/info" >"$work/info.json"
check "mcmcd_build_info 1 with /v1/info's version and SIMD path" \
    "$PY - '$work/m2' '$work/info.json' <<'PY'
import json, sys; sys.path.insert(0, '$work')
from parse import parse
types, samples = parse(sys.argv[1])
info = json.load(open(sys.argv[2]))
b = [(l, v) for n, l, v in samples if n == 'mcmcd_build_info']
assert types.get('mcmcd_build_info') == 'gauge' and len(b) == 1, b
labels, v = b[0]
assert v == 1 and labels['version'] == info['version'] and labels['simd'] == info['simd'], b
assert all(labels.get(k) for k in ('compiler', 'libmicrohttpd', 'sqlite')), labels
PY"

stop_daemon
check "no sanitizer or crash report on the daemon's stderr" \
    "! grep -qE 'Sanitizer|runtime error|Segmentation' '$work/daemon.err'"

finish
