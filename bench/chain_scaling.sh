#!/usr/bin/env bash
# chain_scaling.sh - do several chains in parallel scale with cores (issue 5)?
#
# On two of the post's rows, float64, init true, progress_every 1000,
#   ula  N = 1e5,  d = 5,   step 5e-5
#   mala N = 1000, d = 500, step 0.005
# it times `mcmcd run` with --samples draws per chain in these layouts:
#   chains 1, --threads 1                 the baseline: one chain, one core
#   chains 2, --threads 1                 two chains taking turns on one core
#   chains 2, --threads 2                 two chains in parallel
#   chains C, --threads C                 every core, when C = nproc > 2
#   chains 1, --threads 1, row_threads 2  one chain splitting its rows over
#                                         2 threads (the single-chain
#                                         alternative; also row_threads C
#                                         when C > 2)
# each --runs times (the layouts interleaved), and reports medians:
#   sample_s    the chains' time, from the "done: ... in X s" line of mcmcd
#               run (no data synthesis, no closing of the .npy);
#   wall_s      the whole process, for reference;
#   cores       threads the layout can keep busy:
#               min(chains, --threads) x row_threads;
#   it/s        throughput, chain-iterations per second:
#               chains x samples / sample_s;
#   speedup     it/s over the baseline's it/s (same row);
#   efficiency  speedup / cores (1.0 = perfect scaling; chains 2 on
#               --threads 1 uses one core and should be near 1.0 too).
# Prints a table and writes a JSON file. Draws go to a temporary directory
# removed at exit.
#
# Usage: bench/chain_scaling.sh [--mcmcd PATH] [--samples S] [--runs R]
#            [--quick] [--json FILE]
#   --mcmcd     the binary (default: build/server/mcmcd of the repo)
#   --samples   draws per chain (default 5000)
#   --runs      runs per layout; the median is reported (default 3)
#   --quick     smoke run: 200 draws, 1 run
#   --json      where to write the results (default:
#               bench/results/chain_scaling-DATE-HOST.json)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh" # PY, test_workdir
MCMCD="$root/build/server/mcmcd"
SAMPLES=5000
RUNS=3
JSON=''
while [ $# -gt 0 ]; do
    case "$1" in
    --mcmcd) MCMCD=$2; shift ;;
    --samples) SAMPLES=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --quick) SAMPLES=200 RUNS=1 ;;
    --json) JSON=$2; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "chain_scaling.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
for v in "$SAMPLES" "$RUNS"; do
    case "$v" in
    '' | *[!0-9]* | 0) echo "chain_scaling.sh: --samples and --runs take counts >= 1, not '$v'" >&2; exit 2 ;;
    esac
done
[ -x "$MCMCD" ] || { echo "chain_scaling.sh: no mcmcd binary at $MCMCD; pass --mcmcd PATH" >&2; exit 2; }

C=$(nproc)
test_workdir bench-scaling # $work, removed at exit

# the rows: name sampler N d step
rows="ula-1e5x5 ula 100000 5 5e-5
mala-1e3x500 mala 1000 500 0.005"
# the layouts: chains --threads row_threads
layouts="1 1 1
2 1 1
2 2 1"
[ "$C" -gt 2 ] && layouts="$layouts
$C $C 1"
layouts="$layouts
1 1 2"
[ "$C" -gt 2 ] && layouts="$layouts
1 1 $C"

spec_for() { # sampler n d step chains row_threads -> spec JSON on stdout
    cat <<JSON
{"model": {"type": "logistic_regression", "prior_variance": 10.0},
 "data": {"synthetic": {"n": $2, "d": $3, "seed": 0}},
 "sampler": {"type": "$1", "step_size": $4},
 "num_samples": $SAMPLES, "chains": $5, "key": 0, "init": "true",
 "dtype": "float64", "progress_every": 1000, "row_threads": $6}
JSON
}

now_ns() { date +%s%N; }

cpu=$(awk -F: '/^model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
echo "# chain_scaling: ${cpu:-unknown cpu}, $C cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mcmcd $MCMCD run; float64, init true, $SAMPLES draws per chain, median of $RUNS runs"
echo "# sample_s = the chains ('done: ... in X s'); wall_s = the whole process;"
echo "# cores = min(chains, threads) x row_threads; it/s = chains x draws / sample_s;"
echo "# speedup = it/s / it/s of 1 chain on 1 thread (same row); efficiency = speedup / cores"
printf "%-13s %6s %7s %11s %5s %9s %9s %11s %8s %10s\n" \
    row chains threads row_threads cores sample_s wall_s it/s speedup efficiency
results="$work/results.txt"
: >"$results"
status=0
while read -r name smp n d step; do
    : >"$work/row.txt"
    for r in $(seq "$RUNS"); do
        while read -r ch th rt; do
            spec_for "$smp" "$n" "$d" "$step" "$ch" "$rt" >"$work/spec.json"
            t0=$(now_ns)
            if ! "$MCMCD" run -q --threads "$th" --spec "$work/spec.json" --out "$work/draws.npy" </dev/null \
                >/dev/null 2>"$work/run.err"; then
                echo "chain_scaling.sh: mcmcd run failed for $name, chains $ch, threads $th, row_threads $rt:" >&2
                cat "$work/run.err" >&2
                status=1
                continue
            fi
            t1=$(now_ns)
            samp=$(sed -n "s/^done: $ch chains x $SAMPLES draws x .* in \([0-9.]*\) s .*/\1/p" "$work/run.err")
            if [ -z "$samp" ]; then
                echo "chain_scaling.sh: no 'done: $ch chains x $SAMPLES draws ...' line from mcmcd run:" >&2
                cat "$work/run.err" >&2
                status=1
                continue
            fi
            echo "$name $smp $n $d $step $ch $th $rt $r $samp $(((t1 - t0) / 1000))" >>"$work/row.txt"
        done <<<"$layouts"
    done
    cat "$work/row.txt" >>"$results"
    "$PY" - "$work/row.txt" "$SAMPLES" <<'PY'
import statistics, sys
runs, samples = {}, int(sys.argv[2])
for line in open(sys.argv[1]):
    name, smp, n, d, step, ch, th, rt, r, samp, wall_us = line.split()
    runs.setdefault((int(ch), int(th), int(rt)), []).append((float(samp), int(wall_us) / 1e6))
base = runs.get((1, 1, 1))
base_ips = samples / statistics.median(s for s, _ in base) if base else float("nan")
for (ch, th, rt), v in runs.items():
    s = statistics.median(x for x, _ in v)
    w = statistics.median(x for _, x in v)
    cores = min(ch, th) * rt
    ips = ch * samples / s
    print("%-13s %6d %7d %11d %5d %9.4f %9.4f %11.4g %8.3f %10.3f" % (
        name, ch, th, rt, cores, s, w, ips, ips / base_ips, ips / base_ips / cores))
PY
done <<<"$rows"

# --- JSON -------------------------------------------------------------------------
if [ -z "$JSON" ]; then
    mkdir -p "$here/results"
    JSON="$here/results/chain_scaling-$(date +%Y%m%d-%H%M%S)-$(hostname).json"
fi
"$PY" - "$results" "$JSON" "$MCMCD" "$SAMPLES" "$RUNS" <<'PY'
import datetime, json, os, socket, statistics, sys
res, path, mcmcd, samples, runs_n = sys.argv[1:6]
samples = int(samples)
groups, order = {}, []
for line in open(res):
    name, smp, n, d, step, ch, th, rt, r, samp, wall_us = line.split()
    k = (name, smp, int(n), int(d), float(step), int(ch), int(th), int(rt))
    if k not in groups:
        groups[k] = []
        order.append(k)
    groups[k].append((float(samp), int(wall_us) / 1e6))
rows = []
for k in order:
    name, smp, n, d, step, ch, th, rt = k
    v = groups[k]
    s = statistics.median(x for x, _ in v)
    base = groups.get((name, smp, n, d, step, 1, 1, 1))
    base_ips = samples / statistics.median(x for x, _ in base) if base else None
    cores = min(ch, th) * rt
    ips = ch * samples / s
    rows.append({"row": name, "sampler": smp, "n": n, "d": d, "step_size": step,
                 "chains": ch, "threads": th, "row_threads": rt, "cores": cores,
                 "sample_s": [x for x, _ in v], "wall_s": [x for _, x in v],
                 "median_sample_s": s, "median_wall_s": statistics.median(x for _, x in v),
                 "chain_iterations_per_s": ips,
                 "speedup": ips / base_ips if base_ips else None,
                 "efficiency": ips / base_ips / cores if base_ips else None})
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
doc = {"benchmark": "chain_scaling",
       "started": datetime.datetime.now().astimezone().isoformat(),
       "machine": {"host": socket.gethostname(), "cpu_model": cpu[0] if cpu else "unknown",
                   "cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3]},
       "settings": {"mcmcd": mcmcd, "samples_per_chain": samples, "runs": int(runs_n),
                    "dtype": "float64", "init": "true", "progress_every": 1000,
                    "definitions": {
                        "sample_s": "the chains' time, from mcmcd run's 'done: ... in X s' line",
                        "wall_s": "the whole mcmcd run process",
                        "cores": "min(chains, threads) * row_threads",
                        "chain_iterations_per_s": "chains * samples_per_chain / median sample_s",
                        "speedup": "chain_iterations_per_s / that of chains 1, threads 1, row_threads 1 on the same row",
                        "efficiency": "speedup / cores"}},
       "rows": rows}
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
print("# wrote " + path)
PY
exit $status
