#!/usr/bin/env bash
# test_chain_nice.sh - chains run at the configured nice value, and only
# chains: while a long job runs, the thread running its chain has nice
# chain_nice (10 by default; 3 when configured), the loop thread (the
# process's first) keeps the daemon's own 0, and with chain_nice = 0 the
# chain's thread keeps 0 too. With chain_sched = idle the chain's thread,
# and only it, is in Linux's idle class (SCHED_IDLE, 5) at nice 0, and
# goes back to SCHED_OTHER once the chain is cancelled (the test runs as
# root, or with RLIMIT_NICE: a thread without either stays idle, and this
# check says so). With service_nice = -5 every thread of the daemon starts
# at -5, the chain's thread runs at chain_nice (or idle) and takes -5 back
# after its chain; without CAP_SYS_NICE (setpriv drops it) the daemon
# says it was refused, and starts and serves at 0 all the same.
# With loop_rt_priority = 5 the loop thread, and only it, is in SCHED_FIFO
# at priority 5 with SCHED_RESET_ON_FORK, the others as without it, and
# jobs run (where the test itself may take SCHED_FIFO: else the daemon
# must say it was refused); without CAP_SYS_NICE and RLIMIT_RTPRIO it says
# it was refused and serves outside the real-time class.
# Read from /proc/PID/task/TID/stat (fields 19, 40 and 41).
# Usage: test_chain_nice.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_chain_nice.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir chain-nice

LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 1000000, "thin": 1000, "chains": 1, "progress_every": 100}'

# nice values and scheduling policies of the daemon's threads now:
# "TID NICE POLICY RT_PRIORITY" lines
thread_nices() {
    local t
    for t in /proc/"$daemon_pid"/task/*; do
        # the comm field may hold spaces: the fields after its ')' are fixed
        sed -E 's/^([0-9]+) \(.*\) (.*)$/\1 \2/' "$t/stat" | awk '{print $1, $18, $40, $39}'
    done
}
# the nice values seen while a long job runs, then the job is cancelled
# and has ended: a running job turns cancelled only once its chains have
# returned, and a chain's thread takes its old scheduling back before it
# returns (executor_local.c), so what is read after this is after the chain
nices_while_running() {
    local id
    id=$(c --json "$LONG" "$URL/v1/jobs" | jin 'j["id"]')
    wait_for 20 job_in_state "$id" running || return 1
    sleep 0.5 # past the chain's start
    thread_nices >"$work/nices"
    c -o /dev/null -X POST "$URL/v1/jobs/$id/cancel"
    wait_for 20 job_in_state "$id" cancelled || bad "the cancelled job $id did not end cancelled"
}

for setting in default 3 0; do
    opts=(--workers 1)
    if [ "$setting" != default ]; then
        printf 'chain_nice = %s\n' "$setting" >"$work/mcmcd.conf"
        opts+=(--config "$work/mcmcd.conf")
    fi
    daemon_or_exit "${opts[@]}"
    want=$setting
    [ "$setting" = default ] && want=10
    if nices_while_running; then
        loop=$(awk -v p="$daemon_pid" '$1 == p {print $2}' "$work/nices")
        at_want=$(awk -v w="$want" '$2 == w' "$work/nices" | wc -l)
        others=$(awk -v p="$daemon_pid" -v w="$want" '$1 != p && $2 != w && $2 != 0' "$work/nices" | wc -l)
        check "chain_nice $setting: the loop thread keeps nice 0 ($loop)" "[ '$loop' = 0 ]"
        if [ "$want" = 0 ]; then
            check "chain_nice 0: every thread keeps nice 0" \
                "[ \"\$(awk '\$2 != 0' '$work/nices' | wc -l)\" = 0 ]"
        else
            check "chain_nice $setting: one thread (the chain's) runs at nice $want ($at_want)" \
                "[ '$at_want' = 1 ]"
            check "chain_nice $setting: no thread at another value ($others)" "[ '$others' = 0 ]"
        fi
    else
        bad "chain_nice $setting: the long job runs"
    fi
    stop_daemon
done

# chain_sched = idle: the chain's thread in the idle class, then back
printf 'chain_sched = idle\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
if nices_while_running; then
    idle=$(awk '$3 == 5' "$work/nices" | wc -l)
    niced=$(awk '$2 != 0' "$work/nices" | wc -l)
    check "chain_sched idle: one thread (the chain's) in SCHED_IDLE ($idle)" "[ '$idle' = 1 ]"
    check "chain_sched idle: no thread niced ($niced)" "[ '$niced' = 0 ]"
    thread_nices >"$work/after"
    check "chain_sched idle: after the chain, no thread is left in SCHED_IDLE" \
        "[ \"\$(awk '\$3 == 5' '$work/after' | wc -l)\" = 0 ]"
else
    bad "chain_sched idle: the long job runs"
fi
stop_daemon

# service_nice = -5: every thread at -5 but the chain's, which takes -5
# back after its chain, in either chain_sched
for sched in nice idle; do
    printf 'service_nice = -5\nchain_sched = %s\n' "$sched" >"$work/mcmcd.conf"
    daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
    if nices_while_running; then
        loop=$(awk -v p="$daemon_pid" '$1 == p {print $2}' "$work/nices")
        chain=$(awk '$2 == 10 || $3 == 5' "$work/nices" | wc -l)
        rest=$(awk '$2 != -5 && $2 != 10 && $3 != 5' "$work/nices" | wc -l)
        check "service_nice -5, $sched: the loop thread at -5 ($loop)" "[ '$loop' = -5 ]"
        check "service_nice -5, $sched: one thread (the chain's) yields ($chain)" "[ '$chain' = 1 ]"
        check "service_nice -5, $sched: every other thread at -5 ($rest)" "[ '$rest' = 0 ]"
        thread_nices >"$work/after"
        check "service_nice -5, $sched: after the chain, every thread at -5 in SCHED_OTHER" \
            "[ \"\$(awk '\$2 != -5 || \$3 != 0' '$work/after' | wc -l)\" = 0 ]"
    else
        bad "service_nice -5, $sched: the long job runs"
    fi
    stop_daemon
done

# loop_rt_priority = 5: the loop thread alone in SCHED_FIFO, the pool's
# threads at service_nice, the chain's at chain_nice; a job runs through.
# Where this test's own process may not take SCHED_FIFO either (a cgroup
# without real-time time, say), the daemon must say it was refused.
printf 'loop_rt_priority = 5\nservice_nice = -5\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
if ! chrt -f 5 true 2>/dev/null; then
    check "loop_rt_priority 5: refused here (chrt -f 5 is too), and the daemon says so" \
        "grep -q 'loop_rt_priority 5 refused' '$work/daemon.err'"
elif nices_while_running; then
    loop=$(awk -v p="$daemon_pid" '$1 == p {print $3, $4}' "$work/nices")
    fifo=$(awk -v p="$daemon_pid" '$1 != p && $3 == 1' "$work/nices" | wc -l)
    chain=$(awk '$2 == 10 && $3 == 0' "$work/nices" | wc -l)
    rest=$(awk -v p="$daemon_pid" '$1 != p && $2 != -5 && $2 != 10' "$work/nices" | wc -l)
    check "loop_rt_priority 5: the loop thread in SCHED_FIFO at 5 ($loop)" "[ '$loop' = '1 5' ]"
    check "loop_rt_priority 5: with SCHED_RESET_ON_FORK" \
        "chrt -p $daemon_pid | grep -q 'SCHED_FIFO|SCHED_RESET_ON_FORK'"
    check "loop_rt_priority 5: no other thread real-time ($fifo)" "[ '$fifo' = 0 ]"
    check "loop_rt_priority 5: the chain's thread at nice 10 ($chain), the rest at -5 ($rest)" \
        "[ '$chain' = 1 ] && [ '$rest' = 0 ]"
else
    bad "loop_rt_priority 5: the long job runs"
fi
short=$(c --json '{"data": {"synthetic": {"n": 100, "d": 2, "seed": 2}}, "sampler": {"type": "mala", "step_size": 0.1}, "num_samples": 200, "chains": 2}' "$URL/v1/jobs" | jin 'j["id"]')
check "loop_rt_priority 5: a job runs to succeeded" "wait_for 30 job_in_state '$short' succeeded"
stop_daemon

# without the right to it: refused, said, and the daemon serves at 0
printf '#!/bin/sh\nexec prlimit --rtprio=0 setpriv --bounding-set=-sys_nice "%s" "$@"\n' "$MCMCD" >"$work/mcmcd-nocap"
chmod +x "$work/mcmcd-nocap"
real=$MCMCD
MCMCD=$work/mcmcd-nocap
printf 'service_nice = -5\nloop_rt_priority = 5\n' >"$work/mcmcd.conf"
daemon_or_exit --workers 1 --config "$work/mcmcd.conf"
check "service_nice refused: the daemon answers" "c -o /dev/null '$URL/healthz'"
check "service_nice refused: the loop thread keeps 0" \
    "[ \"\$(awk '{print \$19}' /proc/$daemon_pid/stat)\" = 0 ]"
check "loop_rt_priority refused: the loop thread in SCHED_OTHER" \
    "[ \"\$(awk '{print \$41}' /proc/$daemon_pid/stat)\" = 0 ]"
stop_daemon
check "service_nice refused: the daemon said so" "grep -q 'service_nice -5 refused' '$work/daemon.err'"
check "loop_rt_priority refused: the daemon said so" \
    "grep -q 'loop_rt_priority 5 refused' '$work/daemon.err'"
MCMCD=$real
finish
