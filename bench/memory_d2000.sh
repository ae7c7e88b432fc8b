#!/usr/bin/env bash
# memory_d2000.sh - peak resident memory of `mcmcd run` on the post's d = 2000
# row, to show it is bounded by the dataset plus a fixed buffer, not by the
# number of draws (issue 5).
#
# For each sampler (ula, mala, sgld with batch 100) and dtype (float64,
# float32) it runs the row (N = 1000, d = 2000, step 0.005, init true, one
# chain, --threads 1) twice, with --samples draws and with a tenth of them,
# each under GNU time (/usr/bin/time -f '%M %e'; the Debian package `time`),
# writing the .npy into a temporary directory removed at exit. It prints a
# table (sampler, dtype, draws, .npy bytes, dataset bytes, peak RSS, wall
# time) and, per sampler and dtype, the peak RSS difference between the two
# runs: the .npy grows tenfold, the RSS should not ("bounded: yes" when the
# difference is at most 8 MiB). Dataset bytes are X as the model holds it:
# N*d*8, plus the float32 copy N*d*4 for float32. MiB = 2^20 bytes. Each
# chain holds a draw buffer of up to 4 MiB (CHAIN_BUFFER_BYTES, core/chain.c):
# when the short run's draws are fewer than that (--quick: 20 x 2000 x 8 B),
# the difference includes the buffer filling up, and says little.
#
# Usage: bench/memory_d2000.sh [--mcmcd PATH] [--samples N] [--quick]
#            [--json FILE]
#   --mcmcd     the binary (default: build/server/mcmcd of the repo)
#   --samples   draws of the long run (default 20000, the post's); the short
#               run has N/10
#   --quick     smoke run: 200 and 20 draws
#   --json      where to write the results (default:
#               bench/results/memory_d2000-DATE-HOST.json)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh" # PY, test_workdir
MCMCD="$root/build/server/mcmcd"
SAMPLES=20000
SMALL=''
JSON=''
N=1000 D=2000 STEP=0.005 BATCH=100 THRESH_MIB=8
while [ $# -gt 0 ]; do
    case "$1" in
    --mcmcd) MCMCD=$2; shift ;;
    --samples) SAMPLES=$2; shift ;;
    --quick) SAMPLES=200 SMALL=20 ;;
    --json) JSON=$2; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "memory_d2000.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$SAMPLES" in
'' | *[!0-9]*) echo "memory_d2000.sh: --samples takes a count >= 10, not '$SAMPLES'" >&2; exit 2 ;;
esac
[ "$SAMPLES" -ge 10 ] || { echo "memory_d2000.sh: --samples takes a count >= 10, not '$SAMPLES'" >&2; exit 2; }
[ -n "$SMALL" ] || SMALL=$((SAMPLES / 10))
[ -x "$MCMCD" ] || { echo "memory_d2000.sh: no mcmcd binary at $MCMCD; pass --mcmcd PATH" >&2; exit 2; }
if ! [ -x /usr/bin/time ] || ! /usr/bin/time --version 2>&1 | grep -q GNU; then
    echo "memory_d2000.sh: needs GNU time at /usr/bin/time (Debian/Ubuntu: apt-get install time);" \
        "the shell's time keyword cannot report peak RSS" >&2
    exit 2
fi

test_workdir bench-mem # $work, removed at exit

spec_for() { # sampler dtype samples -> spec JSON on stdout
    local batch=''
    [ "$1" = sgld ] && batch=", \"batch_size\": $BATCH"
    cat <<JSON
{"model": {"type": "logistic_regression", "prior_variance": 10.0},
 "data": {"synthetic": {"n": $N, "d": $D, "seed": 0}},
 "sampler": {"type": "$1", "step_size": $STEP$batch},
 "num_samples": $3, "chains": 1, "key": 0, "init": "true",
 "dtype": "$2", "progress_every": 1000, "row_threads": 1}
JSON
}

cpu=$(awk -F: '/^model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo)
echo "# memory_d2000: ${cpu:-unknown cpu}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# mcmcd $MCMCD run --threads 1; N = $N, d = $D, step $STEP, sgld batch $BATCH, 1 chain, init true"
echo "# draws $SAMPLES and $SMALL; peak RSS by GNU time (%M); MiB = 2^20 bytes; extra = RSS - dataset"
echo "# wall = the whole process (data synthesis, chain, .npy); sample = the chain ('done: ... in X s')"
printf "%-7s %-7s %7s %12s %12s %9s %9s %8s %8s\n" \
    sampler dtype draws npy_bytes data_bytes rss_MiB extra_MiB wall_s sample_s
results="$work/results.txt"
: >"$results"
status=0
for smp in ula mala sgld; do
    for dt in float64 float32; do
        data=$((N * D * 8))
        [ "$dt" = float32 ] && data=$((data + N * D * 4))
        for ns in "$SAMPLES" "$SMALL"; do
            spec_for "$smp" "$dt" "$ns" >"$work/spec.json"
            rm -f "$work/draws.npy"
            if ! /usr/bin/time -f '%M %e' -o "$work/time.txt" \
                "$MCMCD" run -q --threads 1 --spec "$work/spec.json" --out "$work/draws.npy" \
                >/dev/null 2>"$work/run.err"; then
                echo "memory_d2000.sh: mcmcd run failed for $smp $dt $ns draws:" >&2
                cat "$work/run.err" >&2
                status=1
                continue
            fi
            read -r rss_kb wall <<<"$(tail -n 1 "$work/time.txt")"
            npy=$(stat -c %s "$work/draws.npy")
            samp=$(sed -n 's/^done: .* in \([0-9.]*\) s .*/\1/p' "$work/run.err" | tail -n 1)
            [ -n "$samp" ] || samp=nan
            echo "$smp $dt $ns $npy $data $rss_kb $wall $samp" >>"$results"
            awk -v s="$smp" -v t="$dt" -v n="$ns" -v b="$npy" -v x="$data" -v r="$rss_kb" \
                -v w="$wall" -v p="$samp" 'BEGIN {
                printf "%-7s %-7s %7d %12d %12d %9.1f %9.1f %8.2f %8s\n",
                    s, t, n, b, x, r / 1024, r / 1024 - x / 1048576, w, p }'
        done
    done
done

echo
echo "# peak RSS at $SAMPLES draws minus at $SMALL draws; bounded: yes when at most $THRESH_MIB MiB"
printf "%-7s %-7s %10s %10s %10s\n" sampler dtype npy_ratio rss_MiB rss_diff
awk -v big="$SAMPLES" -v small="$SMALL" -v th="$THRESH_MIB" '
    { k = $1 " " $2; if ($3 == big) { bb[k] = $4; rb[k] = $6 } else { bs[k] = $4; rs[k] = $6 }
      if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
    END { for (i = 1; i <= n; i++) { k = order[i]; split(k, f, " ")
            if (!(k in rb) || !(k in rs)) { printf "%-7s %-7s %10s %10s %10s  bounded: unknown (a run failed)\n", f[1], f[2], "-", "-", "-"; continue }
            d = (rb[k] - rs[k]) / 1024
            printf "%-7s %-7s %10.1f %10.1f %10.1f  bounded: %s\n", f[1], f[2],
                bs[k] ? bb[k] / bs[k] : 0, rb[k] / 1024, d, d <= th ? "yes" : "no" } }' "$results"

if [ $((SMALL * D * 8)) -lt $((4 << 20)) ]; then
    echo "# note: the short run's draws ($((SMALL * D * 8)) bytes) are fewer than a chain's draw buffer"
    echo "# (up to 4 MiB, core/chain.c), so these differences include the buffer filling up"
fi

# --- JSON -------------------------------------------------------------------------
if [ -z "$JSON" ]; then
    mkdir -p "$here/results"
    JSON="$here/results/memory_d2000-$(date +%Y%m%d-%H%M%S)-$(hostname).json"
fi
"$PY" - "$results" "$JSON" "$MCMCD" "$SAMPLES" "$SMALL" "$N" "$D" "$STEP" "$BATCH" "$THRESH_MIB" <<'PY'
import datetime, json, os, socket, sys
res, path, mcmcd, big, small, n, d, step, batch, th = sys.argv[1:11]
big, small, th = int(big), int(small), float(th)
runs = []
for line in open(res):
    smp, dt, ns, npy, data, rss_kb, wall, samp = line.split()
    runs.append({"sampler": smp, "dtype": dt, "draws": int(ns), "npy_bytes": int(npy),
                 "dataset_bytes": int(data), "peak_rss_kib": int(rss_kb),
                 "peak_rss_mib": int(rss_kb) / 1024,
                 "rss_minus_dataset_mib": int(rss_kb) / 1024 - int(data) / 2**20,
                 "wall_s": float(wall), "sample_s": float(samp)})
bounded = []
for smp in ("ula", "mala", "sgld"):
    for dt in ("float64", "float32"):
        b = [r for r in runs if (r["sampler"], r["dtype"], r["draws"]) == (smp, dt, big)]
        s = [r for r in runs if (r["sampler"], r["dtype"], r["draws"]) == (smp, dt, small)]
        if not b or not s:
            bounded.append({"sampler": smp, "dtype": dt, "bounded": None})
            continue
        diff = (b[0]["peak_rss_kib"] - s[0]["peak_rss_kib"]) / 1024
        bounded.append({"sampler": smp, "dtype": dt, "rss_diff_mib": diff,
                        "npy_ratio": b[0]["npy_bytes"] / s[0]["npy_bytes"],
                        "bounded": diff <= th})
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
doc = {"benchmark": "memory_d2000",
       "started": datetime.datetime.now().astimezone().isoformat(),
       "machine": {"host": socket.gethostname(), "cpu_model": cpu[0] if cpu else "unknown",
                   "cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3]},
       "settings": {"mcmcd": mcmcd, "n": int(n), "d": int(d), "step_size": float(step),
                    "sgld_batch_size": int(batch), "draws": [big, small], "chains": 1,
                    "threads": 1, "row_threads": 1, "init": "true",
                    "bounded_threshold_mib": th,
                    "peak_rss": "GNU time %M (KiB)", "wall": "GNU time %e, the whole process",
                    "sample": "the chain, from mcmcd run's 'done: ... in X s' line"},
       "runs": runs, "bounded": bounded}
with open(path, "w") as f:
    json.dump(doc, f, indent=1)
print("# wrote " + path)
PY
exit $status
