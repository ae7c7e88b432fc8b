#!/usr/bin/env bash
# test_run_cli.sh - `mcmcd run` as a user drives it: outputs numpy can load,
# byte-identical draws for any --threads, CSV datasets via --data, clear
# errors with their spec paths, bounded memory for long wide chains, and
# Ctrl-C. Usage: test_run_cli.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_run_cli.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir run-cli

cat >"$work/spec.json" <<'JSON'
{"data": {"synthetic": {"n": 500, "d": 3, "seed": 4}},
 "sampler": {"type": "mala", "step_size": 0.01},
 "num_samples": 2000, "num_warmup": 100, "chains": 4, "key": [0, 42],
 "init": "prior", "progress_every": 250}
JSON

# 1. every format, thread counts 1 and 2: identical bytes
for ext in npy csv json; do
    "$MCMCD" run -q -t 1 --spec "$work/spec.json" --out "$work/t1.$ext" 2>"$work/err1" &&
        "$MCMCD" run -q -t 2 --spec "$work/spec.json" --out "$work/t2.$ext" 2>"$work/err2"
    check "threads 1 and 2 give identical .$ext" "cmp -s '$work/t1.$ext' '$work/t2.$ext'"
done

# 2. the files read back as chains x samples x d, and agree with each other
check "numpy loads the .npy, CSV and JSON hold the same numbers" "$PY - '$work' <<'PY'
import sys, json, csv, numpy as np
w = sys.argv[1]
a = np.load(w + '/t1.npy')
assert a.shape == (4, 2000, 3) and a.dtype == np.float64, a.shape
j = np.array(json.load(open(w + '/t1.json'))['draws'])
assert (j == a).all()
rows = list(csv.reader(open(w + '/t1.csv')))
assert rows[0] == ['chain', 'draw', 'theta.1', 'theta.2', 'theta.3']
c = np.array([[float(x) for x in r[2:]] for r in rows[1:]]).reshape(4, 2000, 3)
assert (c == a).all()
assert not np.array_equal(a[0], a[1])
PY"

# 3. a spec with no data, rows from --data
"$PY" - "$work" <<'PY'
import sys, numpy as np
rng = np.random.default_rng(1)
X = rng.normal(size=(300, 2)); y = (rng.uniform(size=300) < 1 / (1 + np.exp(-X @ [1.5, -1]))).astype(int)
with open(sys.argv[1] + '/data.csv', 'w') as f:
    f.write('x1,x2,y\n')
    for r, t in zip(X, y): f.write('%r,%r,%d\n' % (r[0], r[1], t))
PY
cat >"$work/nodata.json" <<'JSON'
{"sampler": {"type": "ula", "step_size": 0.001}, "num_samples": 500, "chains": 2}
JSON
"$MCMCD" run -q --spec "$work/nodata.json" --data "$work/data.csv" --out "$work/d.npy" 2>"$work/err"
check "--data CSV runs a spec with no data" \
    "$PY -c 'import numpy as np; assert np.load(\"$work/d.npy\").shape == (2, 500, 2)'"
"$MCMCD" run -q --spec "$work/nodata.json" --out "$work/x.npy" 2>"$work/err"
check "no data and no --data: exit 2 with a hint" "[ \$? -eq 2 ] && grep -q -- '--data' '$work/err'"

# 4. spec errors name their paths; usage errors exit 2
cat >"$work/bad.json" <<'JSON'
{"data": {"synthetic": {"n": 100, "d": 2}}, "sampler": {"type": "ula", "step_size": -1},
 "chains": 0, "bogus": 1}
JSON
"$MCMCD" run -q --spec "$work/bad.json" --out "$work/x.npy" 2>"$work/err"
rc=$?
check "invalid spec: exit 2" "[ $rc -eq 2 ]"
for p in sampler.step_size chains bogus; do
    check "invalid spec: error names $p" "grep -q 'at $p:' '$work/err'"
done
check "invalid spec: no output file" "[ ! -e '$work/x.npy' ]"
"$MCMCD" run --spec "$work/spec.json" --out "$work/x.txt" 2>/dev/null
check "unknown output extension: exit 2" "[ \$? -eq 2 ]"
"$MCMCD" run --spec "$work/spec.json" 2>/dev/null
check "missing --out: exit 2" "[ \$? -eq 2 ]"

# 5. 20000 draws at d = 2000 (320 MB of float64) in bounded memory
cat >"$work/wide.json" <<'JSON'
{"data": {"synthetic": {"n": 100, "d": 2000, "seed": 1}},
 "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 20000, "chains": 1}
JSON
/usr/bin/time -f '%M' -o "$work/rss" "$MCMCD" run -q --spec "$work/wide.json" \
    --out "$work/wide.npy" 2>/dev/null
rss_kb=$(tail -n 1 "$work/rss")
size=$(stat -c %s "$work/wide.npy" 2>/dev/null || echo 0)
echo "# d = 2000: output $size bytes, peak RSS ${rss_kb} KiB"
check "d = 2000 x 20000 draws written ($size bytes)" "[ $size -ge 320000000 ]"
check "peak memory under 64 MiB while writing 320 MB" "[ ${rss_kb:-999999} -lt 65536 ]"
rm -f "$work/wide.npy"

# 6. Ctrl-C cancels between blocks, exits 130, leaves no partial file
cat >"$work/long.json" <<'JSON'
{"data": {"synthetic": {"n": 20000, "d": 5}}, "sampler": {"type": "ula", "step_size": 1e-4},
 "num_samples": 100000000, "chains": 2, "progress_every": 100}
JSON
# Not -q: its first progress line says the chains run, so the handler is
# set. (A background job of a script starts with SIGINT ignored: a signal
# sent before the handler is set would be lost, as a fixed sleep allowed
# under ASan on a busy machine.)
"$MCMCD" run --spec "$work/long.json" --out "$work/long.npy" 2>"$work/long.err" &
pid=$!
wait_for 60 grep -q 'it/s' "$work/long.err"
kill -INT $pid
start=$(date +%s%N)
wait $pid
rc=$?
took_ms=$((($(date +%s%N) - start) / 1000000))
check "SIGINT: exit 130" "[ $rc -eq 130 ]"
check "SIGINT: stopped within 2 s (took $took_ms ms)" "[ $took_ms -lt 2000 ]"
check "SIGINT: no partial output" "[ ! -e '$work/long.npy' ]"

# 7. --report: each chain's timings and gradients (ULA: one gradient per
# iteration, the fixed step), chains that ran one after the other on one
# thread fit in the run's wall time, and a thread's CPU time cannot pass its
# wall time (50 ms of slack for the chain's setup before its clock starts)
cat >"$work/report.json" <<'JSON'
{"data": {"synthetic": {"n": 200, "d": 2, "seed": 3}}, "sampler": {"type": "ula", "step_size": 0.001},
 "num_warmup": 100, "num_samples": 300, "chains": 3, "progress_every": 100}
JSON
"$MCMCD" run -q -t 1 --spec "$work/report.json" --out "$work/r.npy" --report "$work/r.report.json" \
    2>/dev/null
check "--report: per-chain gradients, step, timings that add up" "$PY - '$work/r.report.json' <<'PY'
import sys, json
r = json.load(open(sys.argv[1]))
cs = r['chains']
assert [c['chain'] for c in cs] == [0, 1, 2], cs
for c in cs:
    assert c['grad_evals'] == 400 and c['step_size'] == 0.001, c
    assert c['divergent'] == 0 and c['warmup_divergent'] == 0, c
    wall, cpu = c['warmup_seconds'] + c['sampling_seconds'], c['warmup_cpu_seconds'] + c['sampling_cpu_seconds']
    assert min(c['warmup_seconds'], c['sampling_seconds'], c['warmup_cpu_seconds'], c['sampling_cpu_seconds']) >= 0, c
    assert 0 < cpu <= wall + 0.05, c
assert sum(c['warmup_seconds'] + c['sampling_seconds'] for c in cs) <= r['total_seconds'], r
PY"
"$MCMCD" run -q --spec "$work/report.json" --out "$work/r2.npy" --report "$work/no/such/dir.json" \
    2>"$work/err"
check "--report to a path that cannot be written: exit 1, says so" \
    "[ \$? -eq 1 ] && grep -q 'cannot write' '$work/err'"

finish
