#!/usr/bin/env bash
# test_daemon_curl.sh - the curl session a new user of `mcmcd serve` types,
# checked step by step: /healthz and /v1/info, upload a CSV dataset, submit
# a MALA job, watch its events (NDJSON, then Server-Sent Events, and resume
# with ?after= and Last-Event-ID), fetch the draws as .npy, CSV and JSON
# (and a slice), read the summary, a bad spec, cancel a long job, /metrics,
# then SIGTERM with a job running (exit 0, not killed). Then what a user
# meets the next morning: a restart on the same data dir (finished jobs and
# their draws kept, the interrupted job runs again, resuming streams go on),
# and a restart after SIGKILL (event numbers must not be reused). Lines
# starting with '#' show the commands and the daemon's answers, so the log
# reads as a walk-through. Usage: test_daemon_curl.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_daemon_curl.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir curl
t0=$(date +%s%N)
show_cut() { { head -c "${1:-600}"; echo; } | sed '/^$/d; s/^/# /'; } # the start of an answer

# --- start the daemon: ephemeral port, temporary data dir ---------------------
start_daemon
echo "# \$ mcmcd serve --port 0 --data-dir DIR"
echo "# mcmcd listening on $URL"
case "$URL" in
http://127.0.0.1:[0-9]*) ok "daemon listens on an ephemeral loopback port ($URL)" ;;
*)
    bad "daemon did not print 'mcmcd listening on http://127.0.0.1:PORT'"
    finish
    exit 1
    ;;
esac

# --- liveness and info -----------------------------------------------------
echo "# \$ curl -s $URL/healthz"
code=$(c -o "$work/healthz" -w '%{http_code}' "$URL/healthz")
show_cut <"$work/healthz"
check "/healthz answers 200 {\"status\": \"ok\"}" \
    "[ '$code' = 200 ] && [ \"\$(jget '$work/healthz' 'j[\"status\"]')\" = ok ]"

echo "# \$ curl -s $URL/v1/info"
c "$URL/v1/info" >"$work/info"
show_cut 800 <"$work/info"
check "/v1/info names mcmcd, its samplers, models, formats and limits" "$PY - '$work/info' <<'PY'
import json, sys
i = json.load(open(sys.argv[1]))
assert i['name'] == 'mcmcd' and i['version'], i
assert {'ula', 'mala', 'sgld', 'rwm'} <= {s['name'] for s in i['samplers']}, i['samplers']
assert {'logistic_regression', 'linear_regression', 'poisson_regression'} <= {m['name'] for m in i['models']}, i['models']
assert {'npy', 'csv', 'json'} <= set(i['draw_formats']), i['draw_formats']
assert i['workers'] >= 1 and i['limits']['max_chains_per_job'] >= 4, i
PY"

# --- upload a CSV dataset --------------------------------------------------
"$PY" - "$work/data.csv" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(2024)
theta = np.array([1.0, -2.0, 0.5])
X = rng.normal(size=(500, 3))
y = (rng.uniform(size=500) < 1 / (1 + np.exp(-X @ theta))).astype(int)
with open(sys.argv[1], 'w') as f:
    f.write('x1,x2,x3,y\n')
    for r, t in zip(X, y):
        f.write('%r,%r,%r,%d\n' % (r[0], r[1], r[2], t))
PY
cd "$work" || exit 1
echo "# \$ head -3 data.csv   (500 rows: x1,x2,x3 ~ N(0,1), y ~ Bernoulli(sigmoid(x.[1,-2,0.5])))"
head -3 data.csv | show
echo "# \$ curl -s -X POST --data-binary @data.csv -H 'Content-Type: text/csv' '$URL/v1/datasets?name=demo'"
c -D "$work/ds.hdr" -X POST --data-binary @data.csv -H 'Content-Type: text/csv' \
    "$URL/v1/datasets?name=demo" >"$work/ds.json"
show_cut <"$work/ds.json"
DS=$(jget "$work/ds.json" 'j["id"]')
check "dataset upload answers 201 with its id" \
    "head -n 1 '$work/ds.hdr' | grep -q ' 201' && [ -n '$DS' ]"
check "dataset metadata: name demo, n = 500, d = 3, a content hash" "$PY - '$work/ds.json' <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
assert m['name'] == 'demo' and m['n'] == 500 and m['d'] == 3, m
assert len(m['hash']) >= 16, m
PY"

# --- submit a MALA job -----------------------------------------------------
cat >spec.json <<JSON
{"model": {"type": "logistic_regression", "prior_variance": 10.0},
 "data": {"dataset": "$DS"},
 "sampler": {"type": "mala", "step_size": 0.01},
 "num_samples": 2000, "num_warmup": 200, "chains": 4, "key": 42,
 "init": "prior", "progress_every": 250}
JSON
echo "# \$ cat spec.json"
show <spec.json
echo "# \$ curl -s --json @spec.json $URL/v1/jobs"
c -D "$work/job.hdr" --json @spec.json "$URL/v1/jobs" >"$work/job.json"
show_cut 400 <"$work/job.json"
JOB=$(jget "$work/job.json" 'j["id"]')
check "job submit answers 201, a Location header and the job's id" \
    "head -n 1 '$work/job.hdr' | grep -q ' 201' && [ -n '$JOB' ] &&
     grep -qi '^Location: /v1/jobs/$JOB' '$work/job.hdr'"
check "new job: state queued or running, shape [4, 2000, 3], links" "$PY - '$work/job.json' <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j['state'] in ('queued', 'running'), j['state']
assert j['shape'] == [4, 2000, 3], j['shape']
assert j['links']['events'] == '/v1/jobs/%s/events' % j['id'], j['links']
PY"

# --- watch its events until done -------------------------------------------
echo "# \$ curl -sN $URL/v1/jobs/$JOB/events"
timeout 60 curl -sN "$URL/v1/jobs/$JOB/events" >"$work/events.ndjson"
rc=$?
head -n 3 "$work/events.ndjson" | show
echo "# ..."
tail -n 2 "$work/events.ndjson" | show
check "events stream ends by itself after the done event (curl rc $rc)" "[ $rc -eq 0 ]"
check "events: valid JSON lines, seq 1, 2, 3, ..., progress per chain to 2200, done succeeded" \
    "$PY - '$work/events.ndjson' '$JOB' <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split('\n')
assert lines[-1] == '', 'no newline after the last event'
evs = [json.loads(l) for l in lines[:-1]]
evs = [e for e in evs if e['type'] != 'heartbeat']
seqs = [e['seq'] for e in evs]
assert seqs == list(range(1, len(evs) + 1)), seqs
assert all(e['job'] == sys.argv[2] for e in evs)
assert {e['type'] for e in evs} <= {'state', 'progress', 'done'}, {e['type'] for e in evs}
assert evs[0]['type'] == 'state' and evs[0]['state'] == 'queued', evs[0]
assert [e['type'] for e in evs].count('done') == 1
last = evs[-1]
assert last['type'] == 'done' and last['state'] == 'succeeded', last
assert last['draws_per_chain'] == [2000] * 4, last
top = {}
for e in evs:
    if e['type'] == 'progress':
        assert e['iter'] >= top.get(e['chain'], 0), e
        top[e['chain']] = e['iter']
        assert e['total'] == 2200 and 0 <= e['accept_rate'] <= 1, e
assert top == {c: 2200 for c in range(4)}, top
PY"
c "$URL/v1/jobs/$JOB" >"$work/status.json"
echo "# \$ curl -s $URL/v1/jobs/$JOB"
show_cut 500 <"$work/status.json"
check "job status: succeeded, 4 x 2200 iterations, created <= started <= finished" \
    "$PY - '$work/status.json' <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
assert j['state'] == 'succeeded' and j['error'] is None, j
assert j['progress'] == {'iter': 8800, 'total': 8800}, j['progress']
assert j['created'] <= j['started'] <= j['finished'], j
assert 0 < j['accept_rate'] <= 1
assert [c['draws'] for c in j['chains']] == [2000] * 4
PY"

# --- Server-Sent Events framing, and resuming ------------------------------
echo "# \$ curl -sN -H 'Accept: text/event-stream' $URL/v1/jobs/$JOB/events"
timeout 30 curl -sN -D "$work/sse.hdr" -H 'Accept: text/event-stream' \
    "$URL/v1/jobs/$JOB/events" >"$work/events.sse"
head -n 8 "$work/events.sse" | show
check "SSE: Content-Type text/event-stream" "grep -qi '^Content-Type: text/event-stream' '$work/sse.hdr'"
check "SSE: retry, then id:/event:/data: blocks matching the NDJSON events" \
    "$PY - '$work/events.sse' '$work/events.ndjson' <<'PY'
import json, sys
text = open(sys.argv[1]).read()
nd = [json.loads(l) for l in open(sys.argv[2]) if json.loads(l)['type'] != 'heartbeat']
assert text.endswith('\n\n'), repr(text[-20:])
blocks = text[:-2].split('\n\n')
assert blocks[0].startswith('retry: ') and blocks[0][7:].isdigit(), blocks[0]
evs = []
for b in blocks[1:]:
    lines = b.split('\n')
    if all(l.startswith(':') for l in lines):
        continue  # a comment (heartbeat)
    assert len(lines) == 3, lines
    assert lines[0].startswith('id: ') and lines[1].startswith('event: ') and lines[2].startswith('data: '), lines
    d = json.loads(lines[2][6:])
    assert d['seq'] == int(lines[0][4:]) and d['type'] == lines[1][7:], lines
    evs.append(d)
strip = lambda es: [(e['seq'], e['type'], e.get('state'), e.get('iter')) for e in es]
assert strip(evs) == strip(nd), (len(evs), len(nd))
PY"
curl -sN --max-time 30 -H 'Accept: text/event-stream' -H 'Last-Event-ID: 10' \
    "$URL/v1/jobs/$JOB/events" >"$work/resume.sse"
curl -sN --max-time 30 "$URL/v1/jobs/$JOB/events?after=10" >"$work/resume.ndjson"
echo "# \$ curl -sN '$URL/v1/jobs/$JOB/events?after=10' | head -n 1"
head -n 1 "$work/resume.ndjson" | show
check "resume: Last-Event-ID: 10 and ?after=10 both start at seq 11" "$PY - '$work' <<'PY'
import json, sys
w = sys.argv[1]
nd = [json.loads(l) for l in open(w + '/resume.ndjson')]
ids = [int(l[4:]) for l in open(w + '/resume.sse').read().split('\n') if l.startswith('id: ')]
full = [json.loads(l)['seq'] for l in open(w + '/events.ndjson') if 'seq' in json.loads(l)]
assert [e['seq'] for e in nd if 'seq' in e] == full[10:], nd[:2]
assert ids == full[10:], ids[:3]
PY"

# --- draws: .npy, CSV, JSON -------------------------------------------------
echo "# \$ curl -s -o draws.npy '$URL/v1/jobs/$JOB/draws?format=npy'"
c -D "$work/npy.hdr" -o draws.npy "$URL/v1/jobs/$JOB/draws?format=npy"
"$PY" -c "
import numpy as np
a = np.load('draws.npy')
print('\$ python3 -c \"import numpy as np; a = np.load(\'draws.npy\'); print(a.shape, a.mean(axis=(0, 1)))\"')
print(a.shape, a.mean(axis=(0, 1)))" 2>&1 | show
check "draws.npy: Content-Type application/x-npy" "grep -qi '^Content-Type: application/x-npy' '$work/npy.hdr'"
check "draws.npy: float64, shape (4, 2000, 3), finite, chains differ, posterior near [1, -2, 0.5]" \
    "$PY - <<'PY'
import numpy as np
a = np.load('draws.npy')
assert a.dtype == np.float64 and a.shape == (4, 2000, 3), (a.dtype, a.shape)
assert np.isfinite(a).all()
assert not (a == 0).all(axis=2).any(), 'a row of exact zeros'
assert not np.array_equal(a[0], a[1])
m = a.mean(axis=(0, 1))
assert (abs(m - [1.0, -2.0, 0.5]) < 0.6).all(), m
PY"
echo "# \$ curl -s '$URL/v1/jobs/$JOB/draws?format=csv' | head -n 3"
c -D "$work/csv.hdr" -o draws.csv "$URL/v1/jobs/$JOB/draws?format=csv"
head -n 3 draws.csv | show
echo "# \$ curl -s '$URL/v1/jobs/$JOB/draws?format=json' | head -c 120"
c -D "$work/json.hdr" -o draws.json "$URL/v1/jobs/$JOB/draws?format=json"
head -c 120 draws.json | show
echo
check "draws: CSV (text/csv) and JSON hold exactly the numbers of the .npy" \
    "grep -qi '^Content-Type: text/csv' '$work/csv.hdr' &&
     grep -qi '^Content-Type: application/json' '$work/json.hdr' && $PY - <<'PY'
import csv, json, numpy as np
a = np.load('draws.npy')
rows = list(csv.reader(open('draws.csv')))
assert rows[0] == ['chain', 'draw', 'theta.x1', 'theta.x2', 'theta.x3'], rows[0]  # the CSV header's names
assert len(rows) == 1 + 4 * 2000, len(rows)
idx = np.array([[int(r[0]), int(r[1])] for r in rows[1:]])
assert (idx[:, 0] == np.repeat(np.arange(4), 2000)).all()
assert (idx[:, 1] == np.tile(np.arange(2000), 4)).all()
c = np.array([[float(x) for x in r[2:]] for r in rows[1:]]).reshape(4, 2000, 3)
assert (c == a).all()
j = json.load(open('draws.json'))
assert j['shape'] == [4, 2000, 3], j['shape']
assert (np.array(j['draws']) == a).all()
PY"
echo "# \$ curl -s -o part.npy '$URL/v1/jobs/$JOB/draws?format=npy&chain=2&start=100&stop=150'"
c -o part.npy "$URL/v1/jobs/$JOB/draws?format=npy&chain=2&start=100&stop=150"
check "draws selection chain=2&start=100&stop=150: shape (1, 50, 3), the same numbers" \
    "$PY -c 'import numpy as np; p = np.load(\"part.npy\"); a = np.load(\"draws.npy\");
assert p.shape == (1, 50, 3), p.shape; assert (p[0] == a[2, 100:150]).all()'"

# --- summary ----------------------------------------------------------------
echo "# \$ curl -s $URL/v1/jobs/$JOB/summary"
c "$URL/v1/jobs/$JOB/summary" >"$work/summary.json"
show_cut 700 <"$work/summary.json"
check "summary: theta.x1..x3 (the CSV header's names) with the draws' means and sds, ESS, R-hat near 1, accept rates" \
    "$PY - '$work/summary.json' <<'PY'
import json, sys, numpy as np
s = json.load(open(sys.argv[1]))
a = np.load('draws.npy')
ps = s['parameters']
assert [p['name'] for p in ps] == ['theta.x1', 'theta.x2', 'theta.x3'], ps
for k, p in enumerate(ps):
    x = a[:, :, k].ravel()
    assert abs(p['mean'] - x.mean()) <= 1e-9 * (1 + abs(x.mean())), (p['mean'], x.mean())
    assert abs(p['sd'] - x.std(ddof=1)) <= 1e-6 * x.std(), (p['sd'], x.std(ddof=1))
    assert p['q05'] < p['q50'] < p['q95'], p
    assert 50 < p['ess_bulk'] and 50 < p['ess_tail'] and 0 < p['mcse_mean'] < p['sd'], p
    assert 0.98 < p['rhat'] < 1.05, p
assert len(s['chains']) == 4 and all(0 < c['accept_rate'] <= 1 for c in s['chains']), s['chains']
PY"

# --- a spec error ------------------------------------------------------------
echo "# \$ curl -s --json '{\"data\": {\"dataset\": \"$DS\"}, \"sampler\": {\"type\": \"mala\", \"step_size\": -1}}' $URL/v1/jobs"
code=$(c -o "$work/err.json" -w '%{http_code}' \
    --json "{\"data\": {\"dataset\": \"$DS\"}, \"sampler\": {\"type\": \"mala\", \"step_size\": -1}}" \
    "$URL/v1/jobs")
show_cut <"$work/err.json"
check "a bad spec: 422 invalid_spec naming sampler.step_size" "[ '$code' = 422 ] && $PY - '$work/err.json' <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))['error']
assert e['code'] == 'invalid_spec', e
assert 'sampler.step_size' in [d['path'] for d in e['details']], e
PY"

# --- cancel a long job -----------------------------------------------------------
long_spec='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}},
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 100000, "thin": 100, "chains": 2,
 "progress_every": 100}'
c --json "$long_spec" "$URL/v1/jobs" >"$work/long.json"
LONG=$(jget "$work/long.json" 'j["id"]')
timeout 60 curl -sN "$URL/v1/jobs/$LONG/events" >"$work/long.events" &
watcher=$!
bg_pids="$bg_pids $watcher"
long_running() { # sets state: running, and each chain has kept a draw
    state=$(c "$URL/v1/jobs/$LONG" | jin 'j["state"], j["progress"]["iter"], min(k["draws"] for k in j["chains"])')
    case "$state" in "running "[1-9]*" "[1-9]*) true ;; *) false ;; esac
}
wait_for 60 long_running # the first blocks (60 s: a hang guard)
check "a long job (2 chains x 1e7 iterations, 1e5 draws kept) is running ($state)" "case '$state' in 'running '[1-9]*) true;; *) false;; esac"
echo "# \$ curl -s -X POST $URL/v1/jobs/$LONG/cancel"
t_cancel=$(date +%s%N)
code=$(c -o "$work/cancel.json" -w '%{http_code}' -X POST "$URL/v1/jobs/$LONG/cancel")
show_cut 200 <"$work/cancel.json"
check "cancel answers 202" "[ '$code' = 202 ]"
# the watcher ends with the done event (its own limit, 60 s: a hang guard)
wait_for 60 pid_gone "$watcher"
wait "$watcher" 2>/dev/null
took=$((($(date +%s%N) - t_cancel) / 1000000))
tail -n 1 "$work/long.events" | show
# (how long the cancel took is shown, not checked: speed goes in bench/)
check "cancelled job: its event stream ends with done, state cancelled, short of the 1e5 draws it asked for (after $took ms)" \
    "$PY - '$work/long.events' <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
last = evs[-1]
assert last['type'] == 'done' and last['state'] == 'cancelled', last
assert len(last['draws_per_chain']) == 2 and max(last['draws_per_chain']) < 100000, last
seqs = [e['seq'] for e in evs if 'seq' in e]
assert seqs == sorted(set(seqs)), seqs
PY"
check "GET /v1/jobs/ID says cancelled" \
    "[ \"\$(c '$URL/v1/jobs/$LONG' | $PY -c 'import json,sys; print(json.load(sys.stdin)[\"state\"])')\" = cancelled ]"
code=$(c -o "$work/cancel2.json" -w '%{http_code}' -X POST "$URL/v1/jobs/$LONG/cancel")
check "cancelling it again: 409 conflict" \
    "[ '$code' = 409 ] && [ \"\$(jget '$work/cancel2.json' 'j[\"error\"][\"code\"]')\" = conflict ]"
echo "# \$ curl -s -o cancelled.npy '$URL/v1/jobs/$LONG/draws?format=npy'"
c -o cancelled.npy "$URL/v1/jobs/$LONG/draws?format=npy"
check "a cancelled job's draws: the draws every chain kept, none left at zero" \
    "$PY - '$work/long.events' <<'PY'
import json, sys, numpy as np
done = [json.loads(l) for l in open(sys.argv[1])][-1]
a = np.load('cancelled.npy')
print('# shape %s, draws per chain %s' % (a.shape, done['draws_per_chain']))
assert a.shape == (2, min(done['draws_per_chain']), 5), (a.shape, done)
assert a.shape[1] > 0 and np.isfinite(a).all()
assert not (a == 0).all(axis=2).any(), 'a row of exact zeros'
PY"

# --- metrics -----------------------------------------------------------------------
echo "# \$ curl -s $URL/metrics | grep -v '^#'"
c -D "$work/metrics.hdr" "$URL/metrics" >"$work/metrics"
grep -v '^#' "$work/metrics" | show
check "/metrics: Prometheus text, 1 succeeded, 1 cancelled, nothing queued, no open streams, registry syncs and their times" \
    "grep -qi '^Content-Type: text/plain' '$work/metrics.hdr' && $PY - '$work/metrics' <<'PY'
import re, sys
m = {}
for l in open(sys.argv[1]):
    l = l.rstrip('\n')
    if not l or l.startswith('#'):
        continue
    g = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{(?:[^\"}]|\"(?:[^\"\\\\]|\\\\.)*\")*\})?) (\S+)', l)
    assert g, l
    m[g.group(1)] = float(g.group(2))
assert m['mcmcd_jobs{state=\"succeeded\"}'] == 1, m
assert m['mcmcd_jobs{state=\"cancelled\"}'] == 1, m
assert m['mcmcd_jobs{state=\"running\"}'] == 0 and m['mcmcd_jobs{state=\"queued\"}'] == 0, m
assert m['mcmcd_queue_length'] == 0 and m['mcmcd_open_streams'] == 0, m
assert m['mcmcd_busy_workers'] == 0, m
requests = sum(v for k, v in m.items() if k.startswith('mcmcd_http_requests_total{'))
assert m['mcmcd_draws_total'] >= 4 * 2000 and requests > 10, m
# every answer to a write waited for a sync, and one sync may serve several
# asks; the sync thread wrote both jobs' rows (in at most as many batches),
# and syncs after each batch besides
batches = m['mcmcd_registry_write_batches_total']
assert 2 <= m['mcmcd_registry_batched_writes_total'], m
assert 1 <= batches <= m['mcmcd_registry_batched_writes_total'], m
assert 1 <= m['mcmcd_registry_syncs_total'] <= m['mcmcd_registry_sync_asks_total'] + batches, m
assert m['mcmcd_registry_checkpoints_total'] >= 0, m
# the WAL starts over at most once a checkpoint (each needs one first)
assert 0 <= m['mcmcd_registry_wal_restarts_total'] <= m['mcmcd_registry_checkpoints_total'], m
# and each sync timed once: the histogram's count is the syncs, its buckets
# are cumulative and end at +Inf, and its sum is a positive time
le = sorted((float(k.split('le=\"')[1].split('\"')[0]), v)
            for k, v in m.items() if k.startswith('mcmcd_registry_sync_seconds_bucket{'))
assert len(le) == 10 and le[-1] == (float('inf'), m['mcmcd_registry_syncs_total']), le
assert all(a[1] <= b[1] for a, b in zip(le, le[1:])), le
assert m['mcmcd_registry_sync_seconds_count'] == m['mcmcd_registry_syncs_total'], m
assert 0 < m['mcmcd_registry_sync_seconds_sum'] < 10 * m['mcmcd_registry_syncs_total'], m
PY"

# --- SIGTERM with a job running and a watcher attached: exit 0 ---------------------
c --json "$long_spec" "$URL/v1/jobs" >"$work/long2.json"
LONG2=$(jget "$work/long2.json" 'j["id"]')
timeout 60 curl -sN "$URL/v1/jobs/$LONG2/events" >"$work/long2.events" &
watcher=$!
bg_pids="$bg_pids $watcher"
wait_for 60 grep -q '"progress"' "$work/long2.events"
echo "# \$ kill -TERM \$(pidof mcmcd)   (a job running, a watcher attached)"
stop_daemon 60 # SIGKILL only after 60 s: a hang guard
tail -n 2 "$work/daemon.err" | show
check "SIGTERM: exit status 0, not killed (got $stop_rc; took $stop_ms ms)" "[ '$stop_rc' = 0 ]"
wait_for 20 pid_gone "$watcher"
check "SIGTERM: the watcher's stream was closed too" "! kill -0 $watcher 2>/dev/null"
check "SIGTERM: every line the watcher got is valid JSON" \
    "$PY -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' '$work/long2.events'"

# --- restart on the same data dir: finished jobs kept, the interrupted one resumes ----
start_daemon
echo "# \$ mcmcd serve --port 0 --data-dir DIR   (the same DIR again)"
echo "# mcmcd listening on $URL"
check "restart on the same data dir" "[ -n '$URL' ]"
c "$URL/v1/jobs/$JOB" >"$work/status2.json"
c -o draws2.npy "$URL/v1/jobs/$JOB/draws?format=npy"
check "after the restart: the MALA job is still succeeded, same times, byte-identical draws" \
    "cmp -s draws.npy draws2.npy && $PY - '$work/status.json' '$work/status2.json' <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ('state', 'created', 'started', 'finished', 'shape', 'progress'):
    assert a[k] == b[k], (k, a[k], b[k])
PY"
timeout 30 curl -sN "$URL/v1/jobs/$JOB/events" >"$work/events2.ndjson"
check "after the restart: its events are the same bytes as before it (kept at the stop), ending with done succeeded" \
    "cmp -s '$work/events.ndjson' '$work/events2.ndjson' && $PY - '$work/events2.ndjson' <<'PY'
import json, sys
new = [json.loads(l) for l in open(sys.argv[1])]
seqs = [e['seq'] for e in new]
assert seqs and all(a < b for a, b in zip(seqs, seqs[1:])), seqs
assert new[-1]['type'] == 'done' and new[-1]['state'] == 'succeeded', new[-1]
assert new[-1]['draws_per_chain'] == [2000] * 4, new[-1]
PY"
# the job that SIGTERM interrupted runs again; a client resumes from its last seq
last=$("$PY" -c 'import json,sys; print([json.loads(l) for l in open(sys.argv[1])][-1]["seq"])' "$work/long2.events" 2>/dev/null)
echo "# \$ curl -sN -H 'Last-Event-ID: $last' $URL/v1/jobs/$LONG2/events   (the last seq seen before SIGTERM)"
timeout 60 curl -sN -H "Last-Event-ID: ${last:-0}" "$URL/v1/jobs/$LONG2/events" >"$work/long2b.events" &
watcher=$!
bg_pids="$bg_pids $watcher"
wait_for 60 grep -q '"progress"' "$work/long2b.events"
head -n 2 "$work/long2b.events" | cut -c 1-150 | show
c -o /dev/null -X POST "$URL/v1/jobs/$LONG2/cancel"
wait_for 60 pid_gone "$watcher"
wait "$watcher" 2>/dev/null
tail -n 1 "$work/long2b.events" | show
check "the interrupted job runs again; resuming after seq $last gives only later events, then done cancelled" \
    "$PY - '$work/long2b.events' '${last:-0}' <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
seqs = [e['seq'] for e in evs if 'seq' in e]
assert seqs and seqs[0] > int(sys.argv[2]), (seqs[:3], sys.argv[2])
assert all(a < b for a, b in zip(seqs, seqs[1:])), seqs
assert any(e['type'] == 'state' and e['state'] == 'running' for e in evs), evs[:3]
assert any(e['type'] == 'progress' for e in evs)
assert evs[-1]['type'] == 'done' and evs[-1]['state'] == 'cancelled', evs[-1]
PY"
stop_daemon 60
check "SIGTERM again: exit 0, not killed (got $stop_rc; took $stop_ms ms)" "[ '$stop_rc' = 0 ]"

# --- a crash: SIGKILL while a job runs, then restart ---------------------------------
# The job runs again from the start; its event numbers must go on after every
# seq a client has already seen, or a client resuming with Last-Event-ID (as a
# browser's EventSource does by itself) skips the rerun's first events.
start_daemon
c --json "$long_spec" "$URL/v1/jobs" >"$work/long3.json"
LONG3=$(jget "$work/long3.json" 'j["id"]')
timeout 60 curl -sN "$URL/v1/jobs/$LONG3/events" >"$work/long3.events" &
watcher=$!
bg_pids="$bg_pids $watcher"
# progress for 1.5 s: past the daemon's periodic save of its counters
wait_for 60 grep -q '"progress"' "$work/long3.events"
sleep 1.5
echo "# \$ kill -KILL \$(pidof mcmcd)   (a job running, a watcher attached)"
crash_daemon
wait_for 20 pid_gone "$watcher"
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
seen=$("$PY" -c '
import json, sys
seqs = []
for l in open(sys.argv[1]):
    try: seqs.append(json.loads(l)["seq"])
    except Exception: pass
print(max(seqs) if seqs else 0)' "$work/long3.events" 2>/dev/null)
start_daemon
check "restart after SIGKILL" "[ -n '$URL' ]"
timeout 60 curl -sN "$URL/v1/jobs/$LONG3/events?after=0" >"$work/long3b.events" &
watcher=$!
bg_pids="$bg_pids $watcher"
wait_for 60 grep -q '"progress"' "$work/long3b.events"
c -o /dev/null -X POST "$URL/v1/jobs/$LONG3/cancel"
wait_for 60 pid_gone "$watcher"
wait "$watcher" 2>/dev/null
echo "# before the crash the watcher saw seq up to $seen; after the restart the job's events are:"
head -n 2 "$work/long3b.events" | cut -c 1-150 | show
check "after SIGKILL and restart: the rerun's events are numbered after seq $seen, the last one seen" \
    "$PY - '$work/long3b.events' '${seen:-0}' <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
seqs = [e['seq'] for e in evs if 'seq' in e]
assert seqs, 'no events'
assert all(a < b for a, b in zip(seqs, seqs[1:])), seqs
assert seqs[0] > int(sys.argv[2]), 'seq %d..%d reused: the first event after the restart is %s' % (seqs[0], int(sys.argv[2]), evs[0])
PY"
stop_daemon 60
check "SIGTERM after the crash recovery: exit 0, not killed (got $stop_rc; took $stop_ms ms)" "[ '$stop_rc' = 0 ]"

# --- sanitizers ------------------------------------------------------------------
check "daemon stderr: no AddressSanitizer, LeakSanitizer or UBSan report" \
    "! grep -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$work/daemon.err'"
if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/daemon.err"; then
    grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/daemon.err" | head -n 60 | show
fi

echo "# session took $((($(date +%s%N) - t0) / 1000000)) ms"
finish
