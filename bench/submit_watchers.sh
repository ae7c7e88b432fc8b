#!/usr/bin/env bash
# submit_watchers.sh - issue 11's submission benchmark: 1,000 POST /v1/jobs
# from 8 client threads while 200 event streams of a running job are open,
# with GET status, GET list and a new event stream's first byte timed 100
# times a second during the run (bench_submit_watchers, libcurl). Each run gets a fresh daemon and
# data dir; the runs alternate between the daemon as it ships (registry
# syncs, and submissions' rows, on the sync thread, durable.h) and the
# reference, the same binary with MCMCD_SYNC_ON_LOOP=1 (synchronous=FULL,
# every write and its fsync on the loop thread, as before issue 11).
# Prints the CPU, every run, and the
# medians over runs; writes a table to bench/results/.
#
# A durable answer waits for at least one fdatasync of the registry's WAL,
# so the disk under the data dir sets a floor on POST latency: the script
# measures fdatasync on that file system first (200 syncs of a 4 KiB page
# rewritten, 200 of 44 KiB appended) and prints it beside the results. --tmpdir /dev/shm puts the data dir on
# tmpfs, where that floor is ~0: what is left is the daemon's own cost.
#
# Without --rate the clients send as fast as they are answered (a closed
# loop): accepted/s is the daemon's capacity, and the latencies are those
# of a saturated machine, whose mean is clients / throughput (Little's
# law). --rate R sends the POSTs on a schedule, R a second over all
# clients (an open loop, latencies counted from each one's due time):
# the latency the daemon gives at that load (bench_submit_watchers.c).
#
# --chain-sched idle runs the watched job's chain in Linux's idle class
# (the daemon's chain_sched key) instead of at nice 10. --service-nice N
# runs the daemon's own threads at nice N (its service_nice key; below 0
# needs root or CAP_SYS_NICE, as deploy/mcmcd.service grants with
# LimitNICE): the daemon ahead of the benchmark's client, which shares
# its two cores here but would be on another machine. --loop-rt N puts
# the loop thread in SCHED_FIFO at priority N (loop_rt_priority; needs
# root, CAP_SYS_NICE or RLIMIT_RTPRIO). --against DIR
# makes the reference another build's daemon, as it ships (an A/B of two
# commits: build the other one into DIR first).
#
# Usage: bench/submit_watchers.sh [--runs N] [--submissions N] [--clients N]
#                                 [--watchers N] [--rate R] [--build DIR] [--tmpdir DIR]
#                                 [--chain-sched nice|idle] [--service-nice N]
#                                 [--loop-rt N] [--against DIR]
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=5 SUBMISSIONS=1000 CLIENTS=8 WATCHERS=200 RATE=0 BUILD=$root/build CHAIN_SCHED=nice SERVICE_NICE=0 LOOP_RT=0 AGAINST=
while [ $# -gt 0 ]; do
    case "$1" in
    --runs) RUNS=$2 && shift 2 ;;
    --submissions) SUBMISSIONS=$2 && shift 2 ;;
    --clients) CLIENTS=$2 && shift 2 ;;
    --watchers) WATCHERS=$2 && shift 2 ;;
    --rate) RATE=$2 && shift 2 ;;
    --build) BUILD=$2 && shift 2 ;;
    --tmpdir) export TMPDIR=$2 && shift 2 ;;
    --chain-sched) CHAIN_SCHED=$2 && shift 2 ;;
    --service-nice) SERVICE_NICE=$2 && shift 2 ;;
    --loop-rt) LOOP_RT=$2 && shift 2 ;;
    --against) AGAINST=$2 && shift 2 ;;
    *) echo "submit_watchers.sh: unknown option $1" >&2 && exit 2 ;;
    esac
done
MCMCD=$BUILD/server/mcmcd
BENCH=$BUILD/bench/bench_submit_watchers
for f in "$MCMCD" "$BENCH" ${AGAINST:+"$AGAINST/server/mcmcd"}; do
    [ -x "$f" ] || { echo "submit_watchers.sh: no $f; build first (cmake --build $BUILD)" >&2 && exit 2; }
done
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh"
test_workdir submit-watchers

# fsync_floor DIR: "p50 p90 p99" in ms of fdatasync on DIR's file system,
# twice: after rewriting a 4 KiB page in place, then after appending 44 KiB
# to a growing file, as a submission's commit appends ~11 WAL frames to a
# WAL that a fresh daemon's registry grows (the file's new size is
# written with the data).
fsync_floor() {
    "$PY" - "$1" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
def probe(write):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    ts = []
    for i in range(200):
        write(fd, i)
        t = time.perf_counter()
        os.fdatasync(fd)
        ts.append((time.perf_counter() - t) * 1000)
    os.close(fd)
    os.unlink(path)
    ts.sort()
    return f"{ts[100]:.2f} {ts[180]:.2f} {ts[198]:.2f}"
in_place = probe(lambda fd, i: os.pwrite(fd, b"x" * 4096, (i % 16) * 4096))
append = probe(lambda fd, i: os.pwrite(fd, b"y" * 45056, i * 45056))
print(in_place, append)
PY
}
floor=$(fsync_floor "$work")

cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "$BUILD/CMakeCache.txt")
offered="as fast as answered"
[ "$RATE" = 0 ] || offered="$RATE a second, on a schedule"
echo "# CPU: $cpu, $(nproc) cores; build: ${build_type:-?}; $SUBMISSIONS submissions ($offered), $CLIENTS clients, $WATCHERS watchers, chain_sched $CHAIN_SCHED, service_nice $SERVICE_NICE, loop_rt_priority $LOOP_RT, $RUNS runs per mode"
printf 'workers = 1\nuser_queued_jobs = 100000\nmax_queued_jobs = 100000\n' >"$work/mcmcd.conf"
# the default written only when asked for: a build from before the key
# (--against) refuses a key it does not know
[ "$CHAIN_SCHED" = nice ] || printf 'chain_sched = %s\n' "$CHAIN_SCHED" >>"$work/mcmcd.conf"
[ "$SERVICE_NICE" = 0 ] || printf 'service_nice = %s\n' "$SERVICE_NICE" >>"$work/mcmcd.conf"
[ "$LOOP_RT" = 0 ] || printf 'loop_rt_priority = %s\n' "$LOOP_RT" >>"$work/mcmcd.conf"
# runs for the whole benchmark (1e8 iterations) but keeps 1e4 draws, so its
# files (taken whole at submit) stay small
LONG='{"data": {"synthetic": {"n": 200000, "d": 5, "seed": 1}}, "sampler": {"type": "mala", "step_size": 0.001}, "num_samples": 10000, "thin": 10000, "chains": 1, "progress_every": 100}'

# the daemon's CPU time, every thread, in clock ticks (utime + stime)
daemon_ticks() { awk '{print $14 + $15}' "/proc/$daemon_pid/stat"; }

# one_run MODE: a fresh daemon, the long job running, the benchmark; its
# JSON line goes to $work/MODE.jsonl.
one_run() {
    rm -rf "$work/data"
    if [ "$1" = reference ] && [ -n "$AGAINST" ]; then
        MCMCD=$AGAINST/server/mcmcd start_daemon --config "$work/mcmcd.conf" || return 1
    elif [ "$1" = reference ]; then
        MCMCD_SYNC_ON_LOOP=1 start_daemon --config "$work/mcmcd.conf" || return 1
    else
        start_daemon --config "$work/mcmcd.conf" || return 1
    fi
    local id state=''
    id=$(c --json "$LONG" "$URL/v1/jobs" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    for _ in $(seq 100); do
        state=$(c "$URL/v1/jobs/$id" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["state"])')
        [ "$state" = running ] && break
        sleep 0.1
    done
    # the loop thread's time on a CPU and waiting for one (ns), around the run
    local sched=/proc/$daemon_pid/task/$daemon_pid/schedstat before after
    before="$(cut -d' ' -f1-2 "$sched") $(daemon_ticks)"
    "$BENCH" "$URL" "$TOKEN" "$id" "$SUBMISSIONS" "$CLIENTS" "$WATCHERS" "$RATE" >"$work/run.json"
    local rc=$?
    after="$(cut -d' ' -f1-2 "$sched") $(daemon_ticks)"
    # the daemon's own clock: its request-duration histogram (/metrics)
    c "$URL/metrics" >"$work/metrics.txt"
    "$PY" - "$work/run.json" $before $after "$(getconf CLK_TCK)" "$work/metrics.txt" \
        >>"$work/$1.jsonl" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
cpu0, wait0, ticks0, cpu1, wait1, ticks1, hz = map(int, sys.argv[2:9])
r["loop_cpu_ms"] = round((cpu1 - cpu0) / 1e6, 1)
r["loop_wait_ms"] = round((wait1 - wait0) / 1e6, 1)
r["daemon_cpu_ms"] = round(1000 * (ticks1 - ticks0) / hz, 1)
# share of the requests to /v1/jobs (the POSTs, and the list's GETs) and
# to /v1/jobs/{id} that the daemon answered within 5 ms, from arrival
buckets = {}
for line in open(sys.argv[9]):
    m = re.match(r'mcmcd_http_request_duration_seconds_bucket\{route="([^"]*)",le="([^"]*)"\} (\d+)', line)
    if m: buckets[(m.group(1), m.group(2))] = int(m.group(3))
for route, key in (("/v1/jobs", "daemon_within_5ms_jobs"), ("/v1/jobs/{id}", "daemon_within_5ms_status")):
    total = buckets.get((route, "+Inf"), 0)
    r[key] = round(buckets.get((route, "0.005"), 0) / total, 4) if total else None
# the sync thread's fdatasyncs of the WAL (none on the reference, which
# syncs on the loop): how many, their mean, and how many took over 1 ms
sync = {}
for line in open(sys.argv[9]):
    m = re.match(r'mcmcd_registry_sync_seconds_(bucket\{le="([^"]*)"\}|sum|count) (\S+)', line)
    if m: sync[m.group(2) or m.group(1)] = float(m.group(3))
if sync.get("count"):
    r["syncs"] = int(sync["count"])
    r["sync_mean_ms"] = round(1000 * sync["sum"] / sync["count"], 3)
    r["syncs_over_1ms"] = int(sync["count"] - sync.get("0.001", 0))
print(json.dumps(r))
PY
    stop_daemon
    tail -n 1 "$work/$1.jsonl" | "$PY" -c '
import json, sys
r = json.loads(sys.stdin.read())
for route in ("get_status", "get_list", "events_first_byte"):
    r[route].pop("ms", None)
print(json.dumps(r))' | sed "s/^/# $1: /"
    return $rc
}

for i in $(seq "$RUNS"); do
    one_run durable || echo "# durable run $i: refused requests or no daemon" >&2
    one_run reference || echo "# reference run $i: refused requests or no daemon" >&2
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$root/bench/results"
tag=""
[ "$RATE" = 0 ] || tag="-rate$RATE"
[ "$CHAIN_SCHED" = nice ] || tag="$tag-$CHAIN_SCHED"
[ "$SERVICE_NICE" = 0 ] || tag="$tag-nice$SERVICE_NICE"
[ "$LOOP_RT" = 0 ] || tag="$tag-rt$LOOP_RT"
[ -z "$AGAINST" ] || tag="$tag-ab"
out="$root/bench/results/submit_watchers$tag-$(date -u +%Y%m%d-%H%M%S)-$(hostname -s).md"
"$PY" - "$work" "$cpu" "${build_type:-?}" "$SUBMISSIONS" "$CLIENTS" "$WATCHERS" "$RUNS" \
    "$(nproc)" "$load_before" "$load_after" "$floor" "$(df --output=fstype "$work" | tail -n 1)" "$RATE" \
    "$CHAIN_SCHED" "$SERVICE_NICE" "$AGAINST" "$LOOP_RT" >"$out" <<'PY'
import json, statistics, sys
work, cpu, build, subs, clients, watchers, runs, cores, load0, load1, floor, fstype, rate, chain_sched, service_nice, against, loop_rt = sys.argv[1:]
modes = {"durable": "sync thread (as shipped)", "reference": "writes and fsync on the loop (MCMCD_SYNC_ON_LOOP=1)"}
if against:
    modes = {"durable": "this build", "reference": f"the build in {against}"}
data = {m: [json.loads(l) for l in open(f"{work}/{m}.jsonl")] for m in modes}
med = lambda xs: statistics.median(xs) if xs else float("nan")
offered = "as fast as they are answered (closed loop: capacity)" if float(rate) == 0 else \
    f"on a schedule, {rate} a second (open loop: latencies from each POST's due time)"
print(f"# submit_watchers: {subs} POST /v1/jobs from {clients} clients, {watchers} event watchers\n")
print(f"POSTs sent {offered}. The watched job's chain runs with chain_sched = {chain_sched};")
print(f"the daemon's own threads run at service_nice = {service_nice}, "
      f"the loop thread at loop_rt_priority = {loop_rt} (0: not real-time).\n")
print(f"CPU: {cpu}, {cores} cores; load average before {load0}, after {load1}; build: {build};")
f = floor.split()
print(f"data dir on {fstype}; its fdatasync p50/p90/p99: {' / '.join(f[:3])} ms after a 4 KiB")
print(f"page rewritten in place, {' / '.join(f[3:6])} ms after 44 KiB appended (a submission's")
print("WAL frames): the floor under any durable answer's latency;")
print(f"medians over {runs} runs per mode, alternating (each run a fresh daemon);")
print("latencies in ms, p99 over each run's requests, then the median of those over runs;")
print("loop CPU and loop wait: the loop thread's time on a CPU and waiting in the run queue")
print("for one during the run (/proc schedstat), per accepted POST, in microseconds;")
print("daemon CPU and client CPU: all the daemon's threads (chains included) and the")
print("benchmark's own, which shares the cores, per accepted POST, in microseconds;")
print("GET status, GET list and events first byte: 100 probes a second, each route's p99")
print("over the samples of every run of the mode pooled (a run has ~100);")
print("daemon <= 5 ms: the share of requests to /v1/jobs (the POSTs and the list) and to")
print("/v1/jobs/ID the daemon answered within 5 ms of their arrival, by its own clock")
print("(/metrics); the latencies before it are the client's, scheduling included;")
print("syncs: the sync thread's fdatasyncs of the WAL in a run, their mean time and how")
print("many took over 1 ms (/metrics, mcmcd_registry_sync_seconds; the reference has none).\n")
print("| mode | accepted/s | POST p50 | POST p99 | GET status p99 | GET list p99 | events first byte p99 | watchers open | loop CPU/POST | loop wait/POST | daemon CPU/POST | client CPU/POST | daemon <= 5 ms, /v1/jobs | daemon <= 5 ms, /v1/jobs/ID | syncs | sync mean | syncs > 1 ms |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def pooled_p99(rs, route):
    ms = sorted(x for r in rs for x in r[route].get("ms", []))
    return ms[min(len(ms) - 1, int(0.99 * len(ms)))] if ms else float("nan")
for m, label in modes.items():
    rs = data[m]
    p = lambda route, q: med([r[route][q] for r in rs])
    print(f"| {label} | {med([r['accepted_per_s'] for r in rs]):.0f} | {p('post', 'p50'):.2f} | "
          f"{p('post', 'p99'):.2f} | {pooled_p99(rs, 'get_status'):.2f} | "
          f"{pooled_p99(rs, 'get_list'):.2f} | {pooled_p99(rs, 'events_first_byte'):.2f} | "
          f"{min(r['watching_at_end'] for r in rs)} | "
          f"{med([1000 * r['loop_cpu_ms'] / max(r['accepted'], 1) for r in rs]):.0f} | "
          f"{med([1000 * r['loop_wait_ms'] / max(r['accepted'], 1) for r in rs]):.0f} | "
          f"{med([1000 * r['daemon_cpu_ms'] / max(r['accepted'], 1) for r in rs]):.0f} | "
          f"{med([1000 * r['client_cpu_ms'] / max(r['accepted'], 1) for r in rs]):.0f} | "
          f"{100 * med([r.get('daemon_within_5ms_jobs') or 0 for r in rs]):.1f}% | "
          f"{100 * med([r.get('daemon_within_5ms_status') or 0 for r in rs]):.1f}% | "
          + " | ".join(f"{med(v):g}" if v else "-" for v in
                       ([r[k] for r in rs if k in r] for k in ("syncs", "sync_mean_ms", "syncs_over_1ms")))
          + " |")
d, r = data["durable"], data["reference"]
ratio = med([x["post"]["p99"] for x in r]) / med([x["post"]["p99"] for x in d])
print(f"\nPOST p99, reference over shipped: {ratio:.2f}x. Every run:\n")
for m in modes:
    for x in data[m]:
        for route in ("get_status", "get_list", "events_first_byte"):
            x[route].pop("ms", None)
        print(f"    {m}: {json.dumps(x)}")
PY
cat "$out"
echo "# written to $out"
