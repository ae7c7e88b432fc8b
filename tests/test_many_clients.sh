#!/usr/bin/env bash
# test_many_clients.sh - a shared daemon (--workers 2) under a burst of
# users: 200 small jobs posted by 5 concurrent curl processes, then 120 event
# watchers (curl -N, 3 on each of 10 jobs) on queued and running jobs.
# Checks: every POST answers 201; every job succeeds; jobs start in
# submission order (first in first out); every job's .npy has its full shape
# with finite draws and no row of exact zeros; every watcher's stream is
# valid NDJSON, seq strictly increasing, each chain's last progress at the
# end, closed by a done event with state succeeded (10 jobs overflow the
# event log's ring); >= 50 watchers attached before their job finished and
# >= 50 streams open at once; /metrics ends with 0 queued, 0 busy, 0 open
# streams; the daemon's RSS stays bounded; SIGTERM exits 0; no sanitizer
# report on stderr. Usage: test_many_clients.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_many_clients.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir many

N_JOBS=200      # jobs in all
SUBMITTERS=5    # concurrent submitting processes, 40 jobs each
TIME_LIMIT=75   # seconds for the whole burst: submit, run, watch
# RSS bound. Measured: ~7 MiB at start, ~19 MiB after 200 jobs with 120
# streams open. The daemon keeps every job in memory while it runs: spec,
# counters and an event log whose ring holds 256 progress events of 80 B
# (20 KiB), ~60 KiB a job in all here; 120 connections' buffers and the
# SQLite cache add a few MiB. 64 MiB is 3x what 200 jobs need: a leak of
# ~200 KiB per job, or of ~70 KiB per request (~600 requests), crosses it.
# Smaller leaks are the ASan build's business (LeakSanitizer at exit). Under
# ASan, shadow memory, redzones and the 256 MiB quarantine of freed memory
# come on top (~180 MiB measured): 640 MiB there.
RSS_LIMIT_KB=$((64 * 1024))
if grep -aq '__asan_init' "$MCMCD" 2>/dev/null; then
    RSS_LIMIT_KB=$((640 * 1024))
    SANITIZED=1
else
    SANITIZED=0
fi

mkdir -p "$work/sub" "$work/w" "$work/draws"
now_ms() { date +%s%3N; }
metric() { # metric NAME: its value in the file $work/metrics
    awk -v n="$1" '$1 == n { print $2 }' "$work/metrics"
}

# --- the daemon ---------------------------------------------------------------
daemon_or_exit --workers 2
check "it listens on loopback" "case '$URL' in http://127.0.0.1:[0-9]*) true ;; *) false ;; esac"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$daemon_pid/status" 2>/dev/null; }
rss_start=$(rss_kb)
echo "# RSS at start: $rss_start KiB (limit $RSS_LIMIT_KB KiB, sanitized build: $SANITIZED)"

# --- a monitor: RSS, queue length and open streams every 0.25 s ---------------
# (bash builtins only, apart from curl: forks are what this machine lacks)
(
    for _ in $(seq $((TIME_LIMIT * 4 + 40))); do
        [ -e "$work/stop-monitor" ] && break
        r=0 s=0 q=0
        while read -r key val _; do
            if [ "$key" = VmRSS: ]; then r=$val; fi
        done <"/proc/$daemon_pid/status"
        while read -r key val; do
            case "$key" in mcmcd_open_streams) s=$val ;; mcmcd_queue_length) q=$val ;; esac
        done < <(curl -s --max-time 2 "$URL/metrics")
        echo "${EPOCHREALTIME/./} $r $s $q"
        sleep 0.25
    done >"$work/monitor"
) &
monitor_pid=$!
bg_pids="$bg_pids $monitor_pid"

# --- 200 jobs from 5 concurrent curl processes --------------------------------
# Job i: ula or mala (i % 4 < 2 or not), 1 or 2 chains (2 when 3 | i), 500..2000
# draws of d = 3 on n = 200 rows after WARMUP iterations: ~10-40 ms of a core
# (WARMUP is 5x smaller under ASan, whose kernels run ~8x slower). Each
# submitter is one curl process that posts its 40 jobs one after another on
# a kept-alive connection, so all 200 arrive within a second or two and
# most of them wait in the queue while the watchers attach.
if [ "$SANITIZED" = 1 ]; then WARMUP=1000; else WARMUP=5000; fi
# The 10 jobs with three watchers each (i % 20 == 2) run 30000 warmup
# iterations: 300+ progress events, more than the 256 the event log keeps in
# its ring, so late watchers read through the ring's wrap-around.
LONG_WARMUP=30000
spec_of() { # sets SPEC
    local i=$1 sampler=ula step=0.01 chains=1 warmup=$WARMUP
    if [ $((i % 4)) -ge 2 ]; then sampler=mala step=0.05; fi
    if [ $((i % 20)) -eq 2 ]; then warmup=$LONG_WARMUP; fi
    if [ $((i % 3)) -eq 0 ]; then chains=2; fi
    printf -v SPEC '{"data": {"synthetic": {"n": 200, "d": 3, "seed": %d}}, "sampler": {"type": "%s", "step_size": %s}, "num_samples": %d, "num_warmup": %d, "chains": %d, "key": %d, "init": "prior", "progress_every": 100}' \
        "$i" "$sampler" "$step" $((500 + (i * 373) % 1501)) "$warmup" "$chains" "$i"
}
# watchers on job i: three on every 20th job (from 2), one on the other even ones
watchers_of() { # sets NW
    NW=0
    if [ $(($1 % 20)) -eq 2 ]; then NW=3; elif [ $(($1 % 2)) -eq 0 ]; then NW=1; fi
}
ms() { # sets MS to the time in ms, without a fork
    MS=${EPOCHREALTIME/./}
    MS=${MS:0:13}
}
mkdir -p "$work/spec"
for ((k = 0; k < SUBMITTERS; k++)); do
    for ((i = k; i < N_JOBS; i += SUBMITTERS)); do
        spec_of "$i"
        echo "$SPEC" >"$work/spec/$i.json"
        [ "$i" -ne "$k" ] && echo next
        printf 'header = "Authorization: Bearer %s"\n' "$TOKEN" # options end at each next
        printf 'url = "%s/v1/jobs"\njson = "@%s"\noutput = "%s"\nmax-time = 30\nwrite-out = "%d %%{http_code} %%{time_total}\\n"\n' \
            "$URL" "$work/spec/$i.json" "$work/sub/$i.json" "$i"
    done >"$work/sub/curl.$k.conf"
done
echo "# each submitter: curl -s -K FILE, FILE holding 40 of: url = \"$URL/v1/jobs\", json = \"@spec.I.json\", next"
ms
t_start=$MS
for ((k = 0; k < SUBMITTERS; k++)); do
    timeout "$TIME_LIMIT" curl -s -K "$work/sub/curl.$k.conf" >"$work/sub/wo.$k" 2>/dev/null &
    echo $! >"$work/sub/submitter.pid.$k"
    bg_pids="$bg_pids $!"
done
for ((k = 0; k < SUBMITTERS; k++)); do wait "$(cat "$work/sub/submitter.pid.$k")"; done
ms
t_sub=$MS
# the list: i, submitter, HTTP status, job id, seconds the POST took
for ((k = 0; k < SUBMITTERS; k++)); do
    while read -r i code took; do
        id='' line=''
        [ -f "$work/sub/$i.json" ] && read -r line <"$work/sub/$i.json"
        if [[ $line =~ ^\{\"id\":\"([0-9a-f]+)\" ]]; then id=${BASH_REMATCH[1]}; fi
        echo "$i $k $code ${id:-none} $took"
    done <"$work/sub/wo.$k"
done >"$work/list"

# --- watchers: curl -N on the events of queued and running jobs ------------------
# 4 launchers, each from the last job submitted back to the first: the queue
# drains from the front, so most watchers find their job still queued
LAUNCHERS=4
launcher() { # launcher L: the jobs i with (i / 2) % LAUNCHERS == L
    local l=$1 i w line id
    for ((i = N_JOBS - 1; i >= 0; i--)); do
        [ $((i / 2 % LAUNCHERS)) -eq "$l" ] || continue
        watchers_of "$i"
        [ "$NW" -gt 0 ] || continue
        line='' id=''
        [ -f "$work/sub/$i.json" ] && read -r line <"$work/sub/$i.json"
        if [[ $line =~ ^\{\"id\":\"([0-9a-f]+)\" ]]; then id=${BASH_REMATCH[1]}; else continue; fi
        for ((w = 0; w < NW; w++)); do
            ms
            echo "$i $id $MS" >"$work/w/$i.$w.meta"
            curl -sN --max-time "$TIME_LIMIT" "$URL/v1/jobs/$id/events" >"$work/w/$i.$w.out" 2>/dev/null &
            echo $! >>"$work/bg.pids.watchers.$l"
        done
    done
    ms
    echo "$MS" >"$work/sub/launched.$l"
    wait # for this launcher's watchers
}
for ((l = 0; l < LAUNCHERS; l++)); do
    launcher "$l" &
    echo $! >"$work/sub/submitter.pid.launcher.$l"
    bg_pids="$bg_pids $!"
done

# --- wait, bounded, for every job to end and every watcher to finish -------------
n_final=0
for _ in $(seq $((TIME_LIMIT * 4))); do
    curl -s --max-time 5 "$URL/metrics" >"$work/metrics"
    n_final=$(awk '$1 ~ /^mcmcd_jobs\{state="(succeeded|failed|cancelled)"\}$/ { s += $2 } END { print s + 0 }' "$work/metrics")
    [ "$n_final" -ge "$N_JOBS" ] && break
    sleep 0.25
done
ms
t_jobs=$MS
for ((l = 0; l < LAUNCHERS; l++)); do wait "$(cat "$work/sub/submitter.pid.launcher.$l")"; done
ms
t_end=$MS
t_watch=$(cat "$work"/sub/launched.* 2>/dev/null | sort -n | tail -n 1)
n_watchers=$(ls "$work"/w/*.meta 2>/dev/null | wc -l)
secs() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }
echo "# $N_JOBS jobs, $n_watchers watchers: $(secs $((t_end - t_start)))" \
    "(submitted in $(secs $((t_sub - t_start))), watchers attached by $(secs $((${t_watch:-$t_end} - t_start)))," \
    "jobs all ended by $(secs $((t_jobs - t_start))))"
lat=$(awk '{ print $5 }' "$work/list" | sort -n |
    awk '{ v[NR] = $1 } END { if (NR) printf "p50 %.0f ms, p90 %.0f ms, max %.0f ms", 1000 * v[int(NR / 2) + 1], 1000 * v[int(NR * 0.9)], 1000 * v[NR] }')
cpu=$(awk '{ print ($14 + $15) / 100 }' "/proc/$daemon_pid/stat" 2>/dev/null)
echo "# POST /v1/jobs took $lat; daemon CPU time ${cpu} s"
n_submitted=$(wc -l <"$work/list")
check "$N_JOBS jobs submitted by $SUBMITTERS concurrent curl processes, all 201" \
    "[ $n_submitted -eq $N_JOBS ] && [ \$(awk '\$3 != 201' '$work/list' | wc -l) -eq 0 ]"
check "all $N_JOBS jobs ended within $TIME_LIMIT s ($n_final ended)" "[ $n_final -ge $N_JOBS ]"
check "at least 50 watchers were attached ($n_watchers)" "[ $n_watchers -ge 50 ]"

# --- the jobs: all succeeded, served first in first out -------------------------------
curl -s --max-time 10 "$URL/v1/jobs?page_size=1000" >"$work/jobs.json"
check "every job succeeded" "$PY - '$work' <<'PY'
import json, sys
w = sys.argv[1]
jobs = {j['id']: j for j in json.load(open(w + '/jobs.json'))['jobs']}
ids = [l.split()[3] for l in open(w + '/list') if len(l.split()) == 5]
assert len(ids) == 200, len(ids)
bad = [(i, jobs[i]['state'] if i in jobs else 'missing') for i in ids
       if i not in jobs or jobs[i]['state'] != 'succeeded']
assert not bad, bad[:10]
PY"
check "first in first out: started times follow submission order" "$PY - '$work' <<'PY'
import json, sys
from datetime import datetime
w = sys.argv[1]
jobs = {j['id']: j for j in json.load(open(w + '/jobs.json'))['jobs']}
t = lambda s: datetime.strptime(s, '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
rows = [l.split() for l in open(w + '/list')]
by_sub = {}
for i, k, code, jid, lat in rows:
    by_sub.setdefault(k, []).append((int(i), jid))
bad = []
# each submitter sends one job after another: its jobs start in that order
for k, js in by_sub.items():
    js.sort()
    st = [t(jobs[jid]['started']) for _, jid in js]
    bad += [(k, js[n][0], js[n + 1][0]) for n in range(len(st) - 1) if st[n] > st[n + 1]]
# across submitters the daemon's 'created' gives the order (ties: same ms)
allj = sorted((t(j['created']), t(j['started']), jid) for jid, j in jobs.items())
for a in range(len(allj)):
    for b in range(a + 1, len(allj)):
        if allj[a][0] < allj[b][0] and allj[a][1] > allj[b][1]:
            bad.append((allj[a][2], allj[b][2]))
assert not bad, (len(bad), bad[:5])
assert all(t(j['created']) <= t(j['started']) <= t(j['finished']) for j in jobs.values())
PY"

# --- the draws: full shape, no row left at zero --------------------------------------
# one curl process fetches them all, on one kept-alive connection
awk -v u="$URL" -v t="$TOKEN" -v d="$work/draws" 'NF == 5 {
    if (n++) print "next"
    printf "header = \"Authorization: Bearer %s\"\n", t
    printf "url = \"%s/v1/jobs/%s/draws?format=npy\"\noutput = \"%s/%s.npy\"\nmax-time = 20\n", u, $4, d, $4
}' "$work/list" >"$work/draws.conf"
timeout 60 curl -s -K "$work/draws.conf"
check "every job's draws (?format=npy): shape (chains, samples, 3), finite, no all-zero row" \
    "$PY - '$work' <<'PY'
import json, sys, numpy as np
w = sys.argv[1]
bad = []
for l in open(w + '/list'):
    i, k, code, jid, lat = l.split()
    i = int(i)
    want = (2 if i % 3 == 0 else 1, 500 + (i * 373) % 1501, 3)
    try:
        a = np.load('%s/draws/%s.npy' % (w, jid))
    except Exception as e:
        bad.append((i, 'unreadable: %s' % e)); continue
    if a.shape != want or a.dtype != np.float64:
        bad.append((i, a.shape, want)); continue
    if not np.isfinite(a).all():
        bad.append((i, 'non-finite')); continue
    z = (a == 0).all(axis=2)
    if z.any():
        c, s = np.argwhere(z)[0]
        bad.append((i, 'all-zero rows: %d, first chain %d draw %d' % (z.sum(), c, s)))
assert not bad, (len(bad), bad[:10])
PY"

# --- the watchers ------------------------------------------------------------------------
check "every watcher: valid JSON lines, seq strictly increasing, each chain's progress to the end, done succeeded" \
    "$PY - '$work' $WARMUP $LONG_WARMUP <<'PY'
import glob, json, sys
w = sys.argv[1]
warmup, long_warmup = int(sys.argv[2]), int(sys.argv[3])
bad = []
metas = sorted(glob.glob(w + '/w/*.meta'))
for m in metas:
    i, jid, t0 = open(m).read().split()
    out = m[:-5] + '.out'
    try:
        text = open(out).read()
        assert text.endswith('\n'), 'ends mid-line: %r' % text[-80:]
        evs = [json.loads(l) for l in text.split('\n')[:-1]]
        evs = [e for e in evs if e.get('type') != 'heartbeat']
        seqs = [e['seq'] for e in evs]
        assert all(a < b for a, b in zip(seqs, seqs[1:])), 'seq not increasing: %s' % seqs
        assert seqs and seqs[0] == 1, 'first seq %s' % seqs[:1]
        assert all(e['job'] == jid for e in evs)
        last = evs[-1]
        assert last['type'] == 'done' and last['state'] == 'succeeded', last
        i = int(i)
        chains, samples = (2 if i % 3 == 0 else 1), 500 + (i * 373) % 1501
        total = samples + (long_warmup if i % 20 == 2 else warmup)
        assert last['draws_per_chain'] == [samples] * chains, (last, samples, chains)
        top = {}
        for e in evs:
            if e['type'] == 'progress':
                top[e['chain']] = (e['iter'], e['total'], e['draws'])
        assert top == {c: (total, total, samples) for c in range(chains)}, ('last progress', top)
        if i % 20 == 2:
            n = sum(e['type'] == 'progress' for e in evs)
            assert n >= 256, 'a long job only had %d progress events' % n
    except Exception as e:
        bad.append((out.rsplit('/', 1)[1], str(e)[:200]))
assert len(metas) >= 50
assert not bad, (len(bad), bad[:5])
PY"
# attached while the job was queued or running: the watcher started before 'finished'
live=$("$PY" - "$work" <<'PY'
import glob, json, sys
from datetime import datetime
w = sys.argv[1]
jobs = {j['id']: j for j in json.load(open(w + '/jobs.json'))['jobs']}
n = 0
for m in glob.glob(w + '/w/*.meta'):
    i, jid, t0 = open(m).read().split()
    fin = datetime.strptime(jobs[jid]['finished'], '%Y-%m-%dT%H:%M:%S.%fZ').timestamp()
    n += int(t0) / 1000 < fin
print(n)
PY
)
peak=$(awk '$3 > p { p = $3 } END { print p + 0 }' "$work/monitor" 2>/dev/null)
qpeak=$(awk '$4 > p { p = $4 } END { print p + 0 }' "$work/monitor" 2>/dev/null)
echo "# watchers attached before their job finished: $live; peak open streams $peak; peak queue $qpeak"
check "at least 50 watchers attached to queued or running jobs ($live)" "[ ${live:-0} -ge 50 ]"
check "at least 50 event streams open at once (peak $peak)" "[ ${peak:-0} -ge 50 ]"

# --- at the end: nothing queued, no stream open, memory bounded ----------------------------
streams_closed() {
    curl -s --max-time 5 "$URL/metrics" >"$work/metrics"
    [ "$(metric mcmcd_open_streams)" = 0 ]
}
wait_for 3 streams_closed # streams close as the server notices
echo "# metrics at the end:" $(grep -E '^mcmcd_(jobs|queue_length|open_streams|busy_workers|http_requests_total)' "$work/metrics")
check "/metrics: queue length 0, open streams 0, busy workers 0, 200 succeeded" \
    "[ '$(metric mcmcd_queue_length)' = 0 ] && [ '$(metric mcmcd_open_streams)' = 0 ] &&
     [ '$(metric mcmcd_busy_workers)' = 0 ] && [ '$(metric 'mcmcd_jobs{state="succeeded"}')' = $N_JOBS ]"
touch "$work/stop-monitor"
wait "$monitor_pid" 2>/dev/null
monitor_pid=''
rss_end=$(rss_kb)
rss_max=$(awk -v e="${rss_end:-0}" '$2 > p { p = $2 } END { print (p > e ? p : e) + 0 }' "$work/monitor")
echo "# RSS: peak $rss_max KiB while serving (samples: $(wc -l <"$work/monitor")), $rss_end KiB at the end," \
    "$(((${rss_end:-0} - ${rss_start:-0}) / N_JOBS)) KiB more per job than at the start"
check "daemon RSS stayed under $((RSS_LIMIT_KB / 1024)) MiB (peak $((rss_max / 1024)) MiB)" \
    "[ $rss_max -gt 0 ] && [ $rss_max -lt $RSS_LIMIT_KB ]"

# --- a clean stop -----------------------------------------------------------------------
stop_daemon 5
check "SIGTERM after the burst: exit 0 within 5 s (rc $stop_rc)" "[ '$stop_rc' = 0 ]"
check "daemon stderr: no AddressSanitizer, LeakSanitizer or UBSan report" \
    "! grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' '$work/daemon.err'"
grep -E -A 30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/daemon.err" |
    head -n 60 | sed 's/^/# /'

echo "# whole script: $((($(now_ms) - t_start) / 1000)) s after the first submit"
finish
