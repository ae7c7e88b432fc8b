#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS_TOTAL] - builds the libFuzzer harnesses
# (clang, ASan + UBSan) in build-fuzz/ and runs each on its seed corpus
# (tests/fuzz/corpus/<harness>/) for its share of SECONDS_TOTAL (60).
# A crash fails the run (exit 1) and leaves its reproducer in
# build-fuzz/crashes/<harness>/; the last line is "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
total=${1:-60}
harnesses=(fuzz_job_spec fuzz_dataset_csv fuzz_dataset_json fuzz_accept fuzz_last_event_id
           fuzz_draws_query)
jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DMCMCD_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build build-fuzz -j "$jobs" --target fuzz >/dev/null || exit 1
each=$((total / ${#harnesses[@]}))
[ "$each" -ge 1 ] || each=1
passed=0 failed=0
for h in "${harnesses[@]}"; do
    crashes=build-fuzz/crashes/$h work=build-fuzz/corpus/$h
    mkdir -p "$crashes" "$work"
    # new inputs go to the scratch corpus; the seeds are only read
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
        "build-fuzz/tests/fuzz/$h" -max_total_time="$each" -error_exitcode=77 \
        -timeout=10 -print_final_stats=1 -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$crashes/" \
        "$work" "tests/fuzz/corpus/$h" >"build-fuzz/$h.log" 2>&1; then
        echo "fuzz: $h passed ($each s, $(grep -o 'stat::number_of_executed_units: [0-9]*' \
            "build-fuzz/$h.log" | grep -o '[0-9]*$' || echo '?') runs)"
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        tail -n 40 "build-fuzz/$h.log"
        for r in "$crashes"/*; do
            [ -e "$r" ] || continue
            echo "fuzz: $h FAILED: reproducer $r"
            echo "fuzz:   rerun: build-fuzz/tests/fuzz/$h $r"
        done
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
