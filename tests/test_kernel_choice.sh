#!/usr/bin/env bash
# test_kernel_choice.sh - the kernel path as `mcmcd run` and `mcmcd serve`
# choose it (core/calibrate.h): the first run measures and records the
# choice in $XDG_CACHE_HOME/mcmcd, the second reads it (the log says so
# and the file is untouched) and gives the same draws bit for bit; --report
# names the path that ran; MCMCD_SIMD forces a path and leaves the cache
# alone; a corrupt cache file is ignored and rewritten; the daemon keeps
# its choice in its data dir and /v1/info reports it.
# Usage: test_kernel_choice.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_kernel_choice.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir kernel_choice
unset MCMCD_SIMD
export XDG_CACHE_HOME=$work/cache

cat >"$work/spec.json" <<'SPEC'
{"data": {"synthetic": {"n": 300, "d": 5, "seed": 3}},
 "sampler": {"type": "mala", "step_size": 0.01},
 "num_samples": 200, "chains": 2, "key": 5, "progress_every": 100}
SPEC

run() { # run NAME: draws to $work/NAME.npy, stderr to NAME.err, report NAME.json
    "$MCMCD" run -t 1 --spec "$work/spec.json" --out "$work/$1.npy" \
        --report "$work/$1.json" >/dev/null 2>"$work/$1.err" || show <"$work/$1.err"
}
cache_file() { ls "$XDG_CACHE_HOME"/mcmcd/kernels-*.choice 2>/dev/null; }
stamp() { stat -c '%i %y' "$(cache_file)"; }
# the path the done line names, and the one the cache file records
ran() { sed -n 's/^done: .*, \([a-z0-9_]*\) kernels)$/\1/p' "$work/$1.err"; }
recorded() { sed -n 's/^path //p' "$(cache_file)"; }

run first
check "the first run measures and records its choice" \
    "grep -q '^mcmcd run: [a-z0-9_]* kernels (measured; recorded in $XDG_CACHE_HOME/mcmcd/kernels-' '$work/first.err'"
check "one cache file, naming a path" "[ \$(cache_file | wc -l) = 1 ] && [ -n \"\$(recorded)\" ]"
check "the path recorded is the path that ran" "[ \"\$(ran first)\" = \"\$(recorded)\" ]"
check "--report names it" "[ \"\$(jget '$work/first.json' 'j[\"simd\"]')\" = \"\$(recorded)\" ]"
grep '^mcmcd run:' "$work/first.err" | show
before=$(stamp)

run second
check "the second run reads the cache and measures nothing" \
    "grep -q '^mcmcd run: [a-z0-9_]* kernels (cached in ' '$work/second.err' && [ \"\$(stamp)\" = '$before' ]"
check "it runs the same path" "[ \"\$(ran second)\" = \"\$(recorded)\" ]"
check "and gives the same draws, bit for bit" "cmp -s '$work/first.npy' '$work/second.npy'"

MCMCD_SIMD=generic run forced
check "MCMCD_SIMD forces its path" \
    "grep -q '^mcmcd run: generic kernels (forced by MCMCD_SIMD)' '$work/forced.err' && [ \"\$(ran forced)\" = generic ]"
check "and leaves the cache alone" "[ \"\$(stamp)\" = '$before' ]"

printf 'machine someone else\npath generic\n' >"$(cache_file)"
run corrupt
check "a foreign cache file is ignored and measured again" \
    "grep -q 'measured; recorded in .*ignored .*another machine or build' '$work/corrupt.err'"
check "and rewritten for this machine" "grep -q '^machine cpu .*; kernels ' \"\$(cache_file)\""

daemon_or_exit
check "the daemon measures once and records in its data dir" \
    "grep -q '^mcmcd: [a-z0-9_]* kernels (measured; recorded in $work/data/kernels-' '$work/daemon.err'"
path=$(sed -n 's/^path //p' "$work"/data/kernels-*.choice)
check "/v1/info reports the path recorded" "[ \"\$(c '$URL/v1/info' | jin 'j[\"simd\"]')\" = '$path' ]"
stop_daemon
daemon_or_exit
check "a restart reads it" "grep -q '^mcmcd: $path kernels (cached in $work/data/kernels-' '$work/daemon.err'"
finish
