#!/usr/bin/env bash
# service_overhead.sh - what the daemon costs on top of the chain.
#
# For each workload (one chain of the post's configurations), it measures
#   offline   `mcmcd run --spec S --out x.npy --threads 1`, wall time of the
#             whole process (synthesising the data, the chain, the .npy);
#   service   submit-to-last-draw through `mcmcd serve`: POST /v1/jobs with
#             curl, wait for the done event on GET /v1/jobs/ID/events,
#             fetch the last draw with ?format=npy&start=S-1; the draw must
#             equal the offline run's last draw, bit for bit;
#   watched   the same with W more `curl -sN .../events` watchers attached
#             for the whole run (10 by default);
# each the median of --runs runs, and prints a table and a JSON file under
# bench/results/. Both sides synthesise the data and write every draw, so
# the difference is the service: HTTP, the queue, the registry, the event
# log and its streams, and the draw fetch.
#
# Usage: bench/service_overhead.sh [--mcmcd PATH] [--runs N] [--watchers W]
#            [--rows headline|all] [--dtype float64|float32]
#            [--progress-every K] [--iters N] [--quick] [--json FILE]
# The daemon runs with --workers 2 on a port the OS picks, in a temporary
# data directory, and is stopped at the end. Loopback only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
# shellcheck source=tests/lib.sh
. "$root/tests/lib.sh" # PY, c, test_workdir, start_daemon, stop_daemon
MCMCD=''
RUNS=5
WATCHERS=10
ROWS=headline
DTYPE=float64
EVERY=1000
ITERS=20000
JSON=''
while [ $# -gt 0 ]; do
    case "$1" in
    --mcmcd) MCMCD=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --watchers) WATCHERS=$2; shift ;;
    --rows) ROWS=$2; shift ;;
    --dtype) DTYPE=$2; shift ;;
    --progress-every) EVERY=$2; shift ;;
    --iters) ITERS=$2; shift ;;
    --quick) RUNS=2; ITERS=2000 ;;
    --json) JSON=$2; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "service_overhead.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "$MCMCD" ]; then
    for c in "$root/build/server/mcmcd" /tmp/build-bench/server/mcmcd; do
        [ -x "$c" ] && MCMCD=$c && break
    done
fi
[ -x "$MCMCD" ] || { echo "service_overhead.sh: no mcmcd binary; pass --mcmcd PATH" >&2; exit 2; }

# the daemon and the watchers are stopped at exit, $work removed
test_workdir bench-service

now_ns() { date +%s%N; }

# --- the workloads: sampler N d step batch ------------------------------------
if [ "$ROWS" = all ]; then
    workloads="ula 1000 5 5e-3 0
ula 10000 5 5e-4 0
ula 100000 5 5e-5 0
ula 1000000 5 5e-6 0
ula 1000 500 5e-3 0
ula 1000 1000 5e-3 0
ula 1000 2000 5e-3 0
mala 1000 5 5e-3 0
mala 10000 5 5e-4 0
mala 100000 5 5e-5 0
mala 1000000 5 5e-6 0
mala 1000 500 5e-3 0
mala 1000 1000 5e-3 0
mala 1000 2000 5e-3 0
sgld 1000 5 5e-3 100
sgld 10000 5 5e-4 1000
sgld 100000 5 5e-5 1000
sgld 1000000 5 5e-6 1000
sgld 1000 500 5e-3 100
sgld 1000 1000 5e-3 100
sgld 1000 2000 5e-3 100"
else
    # the post's headline rows, where bookkeeping would show most, and two
    # where the chain dominates
    workloads="ula 1000 5 5e-3 0
mala 1000 5 5e-3 0
sgld 1000 5 5e-3 100
ula 100000 5 5e-5 0
ula 1000 500 5e-3 0"
fi

spec_for() { # sampler n d step batch -> spec JSON on stdout
    local batch=''
    [ "$1" = sgld ] && batch=", \"batch_size\": $5"
    cat <<JSON
{"model": {"type": "logistic_regression", "prior_variance": 10.0},
 "data": {"synthetic": {"n": $2, "d": $3, "seed": 0}},
 "sampler": {"type": "$1", "step_size": $4$batch},
 "num_samples": $ITERS, "num_warmup": 0, "thin": 1, "chains": 1, "key": 0,
 "init": "true", "dtype": "$DTYPE", "progress_every": $EVERY}
JSON
}

# --- start the daemon -----------------------------------------------------------
start_daemon --workers 2 || { echo "service_overhead.sh: the daemon did not start" >&2; exit 1; }
case "$URL" in
http://127.0.0.1:[0-9]*) ;;
*) echo "service_overhead.sh: the daemon listens at $URL, not on loopback" >&2; exit 1 ;;
esac

# One job through the daemon with W watchers; prints "CLIENT_S SERVER_S
# CHAIN_S EVENTS_PER_WATCHER": submit-to-last-draw as the client sees it, from
# the queued to the done event by the daemon's clock, and the chain's own
# elapsed time (its last progress event). Nothing but curl runs in the timed
# part. Fails (returns 1) when the last draw differs from $work/offline.npy's.
service_once() { # spec W tag
    local spec=$1 w=$2 tag=$3 t0 t1 job i
    t0=$(now_ns)
    c --json @"$spec" "$URL/v1/jobs" >"$work/job.json"
    job=$(<"$work/job.json")
    job=${job#*\"id\":\"}
    job=${job%%\"*}
    case "$job" in *[!0-9a-f]* | '') job='' ;; esac
    [ -n "$job" ] || { echo "submit failed: $(cat "$work/job.json")" >&2; return 1; }
    bg_pids=''
    for i in $(seq "$w"); do
        curl -sN --max-time 900 "$URL/v1/jobs/$job/events" >"$work/w$i.ndjson" &
        bg_pids="$bg_pids $!"
    done
    curl -sN --max-time 900 "$URL/v1/jobs/$job/events" >"$work/events.ndjson"
    c -o "$work/last.npy" "$URL/v1/jobs/$job/draws?format=npy&start=$((ITERS - 1))"
    t1=$(now_ns)
    for p in $bg_pids; do wait "$p" 2>/dev/null; done
    bg_pids=''
    local ev=0 times
    if [ "$w" -gt 0 ]; then ev=$(wc -l <"$work/w1.ndjson"); fi
    times=$("$PY" - "$work/events.ndjson" "$w" "$work" <<'PY'
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
evs = [e for e in evs if e["type"] != "heartbeat"]
done = [e for e in evs if e["type"] == "done"]
if not done or done[0]["state"] != "succeeded":
    sys.exit("the job did not succeed: %r" % (done[:1],))
prog = [e for e in evs if e["type"] == "progress"]
for i in range(1, int(sys.argv[2]) + 1):  # every watcher saw the whole stream
    w = [json.loads(l) for l in open("%s/w%d.ndjson" % (sys.argv[3], i)) if l.strip()]
    if not w or w[-1]["type"] != "done":
        sys.exit("watcher %d did not see the done event" % i)
print("%.6f %.6f" % (done[0]["time"] - evs[0]["time"], prog[-1]["elapsed"] if prog else float("nan")))
PY
) || return 1
    "$PY" - "$work/last.npy" "$work/offline.npy" <<'PY' || return 1
import sys, numpy as np
last = np.load(sys.argv[1]); off = np.load(sys.argv[2])
if last.shape != (1, 1, off.shape[2]) or not np.array_equal(last[0, 0], off[0, -1]):
    sys.exit("the daemon's last draw differs from mcmcd run's: %r vs %r" % (last.ravel()[:4], off[0, -1][:4]))
PY
    c -X DELETE "$URL/v1/jobs/$job" >/dev/null
    echo "$t0 $t1 $times $ev" | awk '{printf "%.6f %s %s %d\n", ($2 - $1) / 1e9, $3, $4, $5}'
}

echo "# service_overhead: $("$PY" -c "print([l.split(':',1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')][0])"), $(nproc) cores"
echo "# mcmcd $MCMCD, $ITERS iterations, 1 chain, $DTYPE, progress_every $EVERY, median of $RUNS runs, $WATCHERS watchers"
echo "# offline = mcmcd run (whole process); service = submit -> done event -> last draw fetched, as curl sees it;"
echo "# daemon = queued -> done event by the daemon's clock; chain = the chain's own time (last progress event);"
echo "# watched, w_daemon, w_chain = the same three with $WATCHERS event watchers attached"
echo "# overhead_ms = service - offline; watch_ms = watched - service; events = lines each watcher received"
printf "%-4s %7s %4s %5s %9s %9s %9s %9s %9s %9s %9s %11s %7s %9s %6s\n" smp N d batch offline_s service_s daemon_s chain_s watched_s w_daemon w_chain overhead_ms ratio watch_ms events
results="$work/results.txt"
: >"$results"
status=0
while read -r smp n d step batch; do
    spec="$work/spec-$smp-$n-$d.json"
    spec_for "$smp" "$n" "$d" "$step" "$batch" >"$spec"
    off='' svc='' srv='' chn='' wat='' wsrv='' wchn='' evs=0
    for r in $(seq "$RUNS"); do
        t0=$(now_ns)
        "$MCMCD" run -q --threads 1 --spec "$spec" --out "$work/offline.npy" >/dev/null 2>"$work/run.err" ||
            { echo "mcmcd run failed:" >&2; cat "$work/run.err" >&2; status=1; continue 2; }
        t1=$(now_ns)
        off="$off $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.6f", (b - a) / 1e9}')"
        out=$(service_once "$spec" 0 plain) || { status=1; continue 2; }
        read -r a b c2 _ <<<"$out"
        svc="$svc $a" srv="$srv $b" chn="$chn $c2"
        out=$(service_once "$spec" "$WATCHERS" watched) || { status=1; continue 2; }
        read -r a b c2 evs <<<"$out"
        wat="$wat $a" wsrv="$wsrv $b" wchn="$wchn $c2"
    done
    echo "$smp $n $d $batch|$off|$svc|$srv|$chn|$wat|$wsrv|$wchn|$evs" >>"$results"
    "$PY" - "$smp" "$n" "$d" "$batch" "$off" "$svc" "$srv" "$chn" "$wat" "$wsrv" "$wchn" "$evs" <<'PY'
import statistics, sys
smp, n, d, b = sys.argv[1:5]
off, svc, srv, chn, wat, wsrv, wchn = ([float(x) for x in a.split()] for a in sys.argv[5:12])
med = statistics.median
mo, ms, mw = med(off), med(svc), med(wat)
print("%-4s %7s %4s %5s %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %9.4f %11.1f %7.3f %9.1f %6s" % (
    smp, n, d, b, mo, ms, med(srv), med(chn), mw, med(wsrv), med(wchn), (ms - mo) * 1e3,
    ms / mo, (mw - ms) * 1e3, sys.argv[12]))
PY
done <<<"$workloads"

# --- JSON -------------------------------------------------------------------------
if [ -z "$JSON" ]; then
    mkdir -p "$here/results"
    JSON="$here/results/service_overhead-$(date +%Y%m%d-%H%M%S)-$(hostname).json"
fi
"$PY" - "$results" "$JSON" "$MCMCD" "$RUNS" "$WATCHERS" "$DTYPE" "$EVERY" "$ITERS" <<'PY'
import datetime, json, os, socket, statistics, sys
res, path, mcmcd, runs, watchers, dtype, every, iters = sys.argv[1:9]
rows = []
for line in open(res):
    head, off, svc, srv, chn, wat, wsrv, wchn, evs = line.rstrip("\n").split("|")
    smp, n, d, b = head.split()
    off, svc, srv, chn, wat, wsrv, wchn = ([float(x) for x in a.split()]
                                           for a in (off, svc, srv, chn, wat, wsrv, wchn))
    mo, ms, mw = statistics.median(off), statistics.median(svc), statistics.median(wat)
    rows.append({"sampler": smp, "n": int(n), "d": int(d), "batch_size": int(b),
                 "offline_s": off, "service_s": svc, "daemon_s": srv, "chain_s": chn,
                 "watched_s": wat, "watched_daemon_s": wsrv, "watched_chain_s": wchn,
                 "median_watched_daemon_s": statistics.median(wsrv),
                 "median_watched_chain_s": statistics.median(wchn),
                 "median_offline_s": mo, "median_service_s": ms, "median_watched_s": mw,
                 "median_daemon_s": statistics.median(srv), "median_chain_s": statistics.median(chn),
                 "service_overhead_s": ms - mo, "service_ratio": ms / mo,
                 "watchers_overhead_s": mw - ms, "events_per_watcher": int(evs)})
cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")]
doc = {"benchmark": "service_overhead",
       "started": datetime.datetime.now().astimezone().isoformat(),
       "machine": {"host": socket.gethostname(), "cpu_model": cpu[0] if cpu else "unknown",
                   "cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3]},
       "settings": {"mcmcd": mcmcd, "runs": int(runs), "watchers": int(watchers), "dtype": dtype,
                    "progress_every": int(every), "iterations": int(iters), "chains": 1,
                    "daemon_workers": 2, "offline_threads": 1},
       "rows": rows}
json.dump(doc, open(path, "w"), indent=1)
print("# wrote " + path)
PY
stop_daemon 5
exit $status
