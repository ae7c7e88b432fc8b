#!/usr/bin/env bash
# run_both.sh - ours and the post's JAX versions on the same machine, pinned
# to the same cores, one after the other; both tables and a joined report go
# under bench/results/.
#
# Usage: bench/jax/run_both.sh [--cpus LIST] [--python PY] [--build DIR]
#            [--jax-versions full|all] [--quick] [--single-thread]
#   --cpus LIST       cores for both (taskset -c; default: every online core)
#   --python PY       a Python with jax installed (default: python3)
#   --build DIR       CMake build directory (default: build/ of the repo)
#   --jax-versions    full (default: the compiled lax.scan version, the one the
#                     targets compare with) or all (also the two Python loops,
#                     which take as long as the post's: ~40 minutes)
#   --quick           2000 iterations, 1 run: a smoke run
#   --single-thread   XLA on one thread (XLA_FLAGS), to compare one core
#                     with one core; ours runs one chain on one thread anyway
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bench=$(cd "$here/.." && pwd)
root=$(cd "$bench/.." && pwd)
CPUS="0-$(($(nproc) - 1))"
PY=python3
BUILD="$root/build"
VERSIONS=full
QUICK=0 SINGLE=0
while [ $# -gt 0 ]; do
    case "$1" in
    --cpus) CPUS=$2; shift ;;
    --python) PY=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --jax-versions) VERSIONS=$2; shift ;;
    --quick) QUICK=1 ;;
    --single-thread) SINGLE=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "run_both.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
"$PY" -c 'import jax' 2>/dev/null || { echo "run_both.sh: $PY cannot import jax; pass --python" >&2; exit 2; }

cmake -S "$root" -B "$BUILD" >/dev/null
cmake --build "$BUILD" -j2 --target bench_post_tables >/dev/null

stamp=$(date +%Y%m%d-%H%M%S)-$(hostname)
res="$bench/results"
mkdir -p "$res"
q=()
[ "$QUICK" = 1 ] && q=(--quick)
threads=$(taskset -c "$CPUS" nproc)

echo "== ours on CPUs $CPUS"
taskset -c "$CPUS" "$BUILD/bench/bench_post_tables" "${q[@]}" --threads "$threads" \
    --label "run_both cpus=$CPUS" --json "$res/both-$stamp-ours.json"

echo
echo "== JAX on CPUs $CPUS"
export JAX_PLATFORMS=cpu
if [ "$SINGLE" = 1 ]; then
    export XLA_FLAGS="${XLA_FLAGS:-} --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
fi
taskset -c "$CPUS" "$PY" "$here/post_jax.py" "${q[@]}" --versions "$VERSIONS" \
    --json "$res/both-$stamp-jax.json"

echo
echo "== report"
/usr/bin/python3 "$bench/report.py" --ours "$res/both-$stamp-ours.json" --jax "$res/both-$stamp-jax.json" \
    --markdown "$res/both-$stamp-report.md"
