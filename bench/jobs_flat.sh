#!/usr/bin/env bash
# jobs_flat.sh - the daemon's memory and lookup time as jobs pile up: runs
# JOBS_FLAT_N (100000) small jobs (ula, 20 x 2 synthetic rows, 10 draws, one
# chain) through a release build of `mcmcd serve` and prints, every tenth
# of the way, its RSS and the median and p99 latency of GET /v1/jobs/ID (a
# random earlier job), GET /v1/jobs?page_size=50 and POST /v1/jobs
# (bench_jobs_flat does the requests). The table also goes to
# bench/results/jobs_flat-DATE-HOST.txt, with the CPU model on top.
#
# Usage: bench/jobs_flat.sh          (JOBS_FLAT_N, JOBS_FLAT_STEP,
#        JOBS_FLAT_SAMPLES, JOBS_FLAT_WORKERS and BUILD override defaults)
# JOBS_FLAT_TMPFS=DIR puts the data dir under DIR (e.g. /dev/shm: then no
# fsync reaches a disk, and the run is bound by the CPU; 100 000 jobs take
# about 2 GB there, most of it the 4 KiB blocks of their small files).
# BUILD (build-release) is configured and built with CMAKE_BUILD_TYPE=Release.
# JOBS_FLAT_MCMCD=PATH runs that daemon instead (a reference build, e.g. of
# an older commit), still with BUILD's bench_jobs_flat.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
N=${JOBS_FLAT_N:-100000}
STEP=${JOBS_FLAT_STEP:-$((N / 10 > 0 ? N / 10 : 1))}
SAMPLES=${JOBS_FLAT_SAMPLES:-400}
WORKERS=${JOBS_FLAT_WORKERS:-2}
BUILD=${BUILD:-$root/build-release}

cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$BUILD" -j2 --target mcmcd bench_jobs_flat >/dev/null || exit 1
MCMCD=${JOBS_FLAT_MCMCD:-$BUILD/server/mcmcd}
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
test_workdir jobs-flat
if [ -n "${JOBS_FLAT_TMPFS:-}" ]; then
    shm=$(mktemp -d "$JOBS_FLAT_TMPFS/mcmcd-jobs-flat.XXXXXX") || exit 1
    ln -s "$shm" "$work/data"
    trap 'stop_daemon; rm -rf "$work" "$shm"' EXIT
fi
cat >"$work/mcmcd.conf" <<CONF
workers = $WORKERS
max_queued_jobs = 10000000
user_queued_jobs = 0
CONF
start_daemon --config "$work/mcmcd.conf" || exit 1

mkdir -p "$here/results"
out=$here/results/jobs_flat-$(date -u +%Y%m%d-%H%M%S)-$(hostname -s).txt
{
    echo "# bench/jobs_flat.sh: $N jobs, a row every $STEP, $SAMPLES GETs of each kind per row"
    echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) cores"
    if [ -n "${JOBS_FLAT_MCMCD:-}" ]; then
        echo "# mcmcd: $JOBS_FLAT_MCMCD, workers = $WORKERS"
    else
        echo "# mcmcd $(git -C "$root" rev-parse --short HEAD 2>/dev/null), Release, workers = $WORKERS, job_cache = 256 (default)"
    fi
    echo "# data dir on: $(df --output=fstype "$work/data/" 2>/dev/null | tail -n 1)"
    echo "# latencies in ms; rss of the daemon once every job so far has ended"
    "$BUILD/bench/bench_jobs_flat" "$URL" "$TOKEN" "$daemon_pid" "$N" "$STEP" "$SAMPLES"
} | tee "$out"
rc=${PIPESTATUS[0]}
echo "# data dir: $(du -sh "$work/data/" | cut -f1)" | tee -a "$out"
stop_daemon
exit "$rc"
