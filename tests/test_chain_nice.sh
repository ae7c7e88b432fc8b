#!/usr/bin/env bash
# test_chain_nice.sh - chains run at the configured nice value, and only
# chains: while a long job runs, the thread running its chain has nice
# chain_nice (10 by default; 3 when configured), the loop thread (the
# process's first) keeps the daemon's own 0, and with chain_nice = 0 the
# chain's thread keeps 0 too. Read from /proc/PID/task/TID/stat (field 19).
# Usage: test_chain_nice.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_chain_nice.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir chain-nice

LONG='{"data": {"synthetic": {"n": 20000, "d": 5, "seed": 1}}, "sampler": {"type": "ula", "step_size": 1e-4}, "num_samples": 1000000, "thin": 1000, "chains": 1, "progress_every": 100}'

# nice values of the daemon's threads now: "TID NICE" lines
thread_nices() {
    local t
    for t in /proc/"$daemon_pid"/task/*; do
        # the comm field may hold spaces: the fields after its ')' are fixed
        sed -E 's/^([0-9]+) \(.*\) (.*)$/\1 \2/' "$t/stat" | awk '{print $1, $18}'
    done
}
running() { [ "$(c "$URL/v1/jobs/$1" | jin 'j["state"]')" = running ]; }
# the nice values seen while a long job runs, then the job is cancelled
nices_while_running() {
    local id
    id=$(c --json "$LONG" "$URL/v1/jobs" | jin 'j["id"]')
    wait_for 20 running "$id" || return 1
    sleep 0.5 # past the chain's start
    thread_nices >"$work/nices"
    c -o /dev/null -X POST "$URL/v1/jobs/$id/cancel"
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
finish
