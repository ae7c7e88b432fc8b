#!/usr/bin/env bash
# run_all.sh - builds bench_post_tables and runs, in one invocation on this
# machine: the NumPy versions (numpy_loop.py), the post's tables on our core
# with one chain on one core (bench_post_tables, f64 and f32), the float32
# tables again with the chain's rows split over threads (bench_post_tables
# --dtype f32 --threads N, for T2, where the chain may use every core) and,
# with --service, the service overhead; then report.py joins them (our
# speedup over NumPy and the post's JAX, the targets) and writes the report
# next to the JSON files under bench/results/ (post_tables-STAMP.json, one
# core; post_tables-STAMP-tN.json, threaded).
#
# Usage: bench/run_all.sh [--quick] [--service] [--threads N] [--build DIR]
#            [--cpus LIST] [-- ARGS FOR bench_post_tables]
#   --quick     smoke run: fewer iterations and runs everywhere
#   --service   also run service_overhead.sh
#   --threads   threads for the second, float32 run (default 2); 1 skips it
#   --build     the CMake build directory (default: build/ of the repo)
#   --cpus      pin everything to these CPUs with taskset (e.g. 0-1; give
#               the threaded run at least --threads CPUs)
#   ARGS after -- go to both bench_post_tables runs (e.g. --runs 3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
BUILD="$root/build"
QUICK=0 SERVICE=0 CPUS='' THREADS=2
extra=()
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --service) SERVICE=1 ;;
    --threads) THREADS=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --cpus) CPUS=$2; shift ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
case "$THREADS" in
'' | *[!0-9]* | 0) echo "run_all.sh: --threads takes a count >= 1, not '$THREADS'" >&2; exit 2 ;;
esac
pin=()
[ -n "$CPUS" ] && pin=(taskset -c "$CPUS")

cmake -S "$root" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j2 --target bench_post_tables mcmcd >/dev/null

stamp=$(date +%Y%m%d-%H%M%S)-$(hostname)
res="$here/results"
mkdir -p "$res"
q=()
[ "$QUICK" = 1 ] && q=(--quick)

echo "== NumPy (the post's Python loop and a vectorised kernel), N = 1e3, d = 5"
# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE may be set on this machine and slow
# numpy: unset both for this command only. One BLAS thread, as one chain.
env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    "${pin[@]}" /usr/bin/python3 "$here/numpy_loop.py" "${q[@]}" --json "$res/numpy_loop-$stamp.json"

echo
echo "== ours: bench_post_tables, one chain on one core"
"${pin[@]}" "$BUILD/bench/bench_post_tables" "${q[@]}" --json "$res/post_tables-$stamp.json" "${extra[@]}"

thr=()
if [ "$THREADS" -gt 1 ]; then
    echo
    echo "== ours: bench_post_tables --dtype f32 --threads $THREADS (one chain's rows over $THREADS threads)"
    # extra comes last, as in the run above: an explicit --dtype there wins.
    "${pin[@]}" "$BUILD/bench/bench_post_tables" "${q[@]}" --dtype f32 --threads "$THREADS" \
        --json "$res/post_tables-$stamp-t$THREADS.json" "${extra[@]}"
    thr=(--ours-threads "$res/post_tables-$stamp-t$THREADS.json")
fi

if [ "$SERVICE" = 1 ]; then
    echo
    echo "== service overhead"
    "${pin[@]}" bash "$here/service_overhead.sh" --mcmcd "$BUILD/server/mcmcd" "${q[@]}" \
        --json "$res/service_overhead-$stamp.json"
fi

echo
echo "== report"
/usr/bin/python3 "$here/report.py" --ours "$res/post_tables-$stamp.json" "${thr[@]}" \
    --numpy "$res/numpy_loop-$stamp.json" --markdown "$res/report-$stamp.md"
