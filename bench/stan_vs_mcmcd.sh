#!/usr/bin/env bash
# stan_vs_mcmcd.sh - our NUTS and MALA (mcmcd run) against Stan's NUTS
# (rstan) on the same posteriors: the same CSV file for both, the same core,
# 4 chains of 1000 warmup + 1000 draws, started at 0, run one after the
# other on one pinned core by both. The minimum bulk ESS comes from
# posterior::ess_bulk on both sides' draws; the report step prints a
# markdown table and writes bench/results/stan_vs_mcmcd-STAMP-HOST.json
# (and .md). Issue 9; not part of CI.
#
# Usage: bench/stan_vs_mcmcd.sh [--cpu N] [--runs N] [--runs-large N]
#            [--rows LIST] [--stan FORM] [--stan-large FORM] [--samplers LIST]
#            [--mala-sampler JSON] [--build DIR] [--mcmcd BIN] [--add-index FILE]
#            [--quick]
#   --cpu N            the one core every run is pinned to (taskset -c;
#                      default: the last online core)
#   --runs N           runs per row, medians reported (3)
#   --runs-large N     runs for the slow rows, N = 1e5 and d = 500 (1)
#   --rows LIST        comma-separated row names, or all (default); rows:
#                      logistic-n1e3-d5 logistic-n1e4-d5 logistic-n1e5-d5
#                      logistic-n1e3-d100 logistic-n1e3-d500
#                      linear-n1e4-d10 poisson-n1e4-d10
#   --stan FORM        plain: y ~ bernoulli_logit(X * beta) and its kin;
#                      glm: Stan's fused *_glm likelihoods; both (default)
#   --stan-large FORM  the same for the slow rows (default glm: Stan at its
#                      fastest; plain there adds 20-30 minutes on one core);
#                      none runs no Stan (for --add-index)
#   --add-index FILE   fold an earlier run's runs-*/index.tsv into the report
#                      (repeatable): rows run apart, or ours beside its Stan
#   --samplers LIST    ours to run: nuts,mala (default); nuts_f32 adds our
#                      NUTS with "dtype": "float32" (X rounded to float32,
#                      sums in double: a what-if, not the same posterior bits)
#   --mala-sampler J   the MALA sampler object (default {"type": "mala"}:
#                      adapted in warmup; an older mcmcd needs a step_size)
#   --build DIR        CMake build directory (default: build/ of the repo);
#                      the work files go under DIR/stan_vs_mcmcd/
#   --mcmcd BIN        use this mcmcd instead of building one
#   --quick            smoke run: 1 run per row, rows logistic-n1e3-d5 and
#                      linear-n1e4-d10 unless --rows says otherwise
# Needs R with rstan, posterior and jsonlite (Debian's r-cran-*, installed
# here with apt-get when missing) and python3 for the report.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CPU=$(($(nproc) - 1))
RUNS=3 RUNS_LARGE=1 ROWS=all STAN=both STAN_LARGE=glm SAMPLERS=nuts,mala QUICK=0
MALA_SAMPLER='{"type": "mala"}'
BUILD="$root/build"
MCMCD=
ADD_INDEX=()
CHAINS=4 WARMUP=1000 SAMPLES=1000 ADAPT_DELTA=0.8 MAX_DEPTH=10
ALL_ROWS="logistic-n1e3-d5 logistic-n1e4-d5 logistic-n1e5-d5 logistic-n1e3-d100"
ALL_ROWS+=" logistic-n1e3-d500 linear-n1e4-d10 poisson-n1e4-d10"
while [ $# -gt 0 ]; do
    case "$1" in
    --cpu) CPU=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --runs-large) RUNS_LARGE=$2; shift ;;
    --rows) ROWS=$2; shift ;;
    --stan) STAN=$2; shift ;;
    --stan-large) STAN_LARGE=$2; shift ;;
    --samplers) SAMPLERS=$2; shift ;;
    --mala-sampler) MALA_SAMPLER=$2; shift ;;
    --build) BUILD=$2; shift ;;
    --mcmcd) MCMCD=$2; shift ;;
    --add-index) ADD_INDEX+=(--index "$(realpath "$2")"); shift ;;
    --quick) QUICK=1 ;;
    -h | --help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
    *) echo "stan_vs_mcmcd.sh: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$QUICK" = 1 ]; then
    RUNS=1 RUNS_LARGE=1
    [ "$ROWS" = all ] && ROWS=logistic-n1e3-d5,linear-n1e4-d10
fi
[ "$ROWS" = all ] && ROWS=${ALL_ROWS// /,}
forms_of() {
    case "$1" in plain) echo plain ;; glm) echo glm ;; both) echo "plain glm" ;; none) echo ;;
    *) echo "stan_vs_mcmcd.sh: --stan and --stan-large take plain, glm, both or none" >&2
        exit 2 ;;
    esac
}
FORMS=$(forms_of "$STAN")
FORMS_LARGE=$(forms_of "$STAN_LARGE")

# R packages: Debian's, installed once; wait for another apt run's lock.
need_r_packages() {
    local p missing=()
    for p in r-cran-rstan r-cran-posterior r-cran-jsonlite; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} = 0 ] && return 0
    echo "== installing ${missing[*]} (apt-get)"
    apt-get -o DPkg::Lock::Timeout=1800 install -y -qq "${missing[@]}" ||
        { apt-get -o DPkg::Lock::Timeout=1800 update -qq &&
            apt-get -o DPkg::Lock::Timeout=1800 install -y -qq "${missing[@]}"; }
}
need_r_packages

if [ -z "$MCMCD" ]; then
    cmake -S "$root" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    cmake --build "$BUILD" -j2 --target mcmcd >/dev/null
    MCMCD="$BUILD/server/mcmcd"
fi
"$MCMCD" run --help | grep -q -- --report ||
    { echo "stan_vs_mcmcd.sh: $MCMCD run has no --report" >&2; exit 2; }

stamp=$(date +%Y%m%d-%H%M%S)-$(hostname)
work="$BUILD/stan_vs_mcmcd"
runs="$work/runs-$stamp"
mkdir -p "$work/data" "$work/stan-cache" "$runs" "$root/bench/results"
index="$runs/index.tsv"
printf 'row\timpl\trun\tseed\tload1\twall_s\tfile\n' >"$index"

# row name -> kind, n, d
row_kind() { echo "${1%%-*}"; }
row_n() { local n=${1#*-n}; n=${n%%-*}; python3 -c "print(int(float('$n')))"; }
row_d() { echo "${1##*-d}"; }
row_large() { case "$1" in *-n1e5-* | *-d500) return 0 ;; *) return 1 ;; esac; }
row_runs() { if row_large "$1"; then echo "$RUNS_LARGE"; else echo "$RUNS"; fi; }
row_forms() { if row_large "$1"; then echo "$FORMS_LARGE"; else echo "$FORMS"; fi; }
mcmcd_model() { case "$1" in logistic) echo logistic_regression ;; linear) echo linear_regression ;;
    poisson) echo poisson_regression ;; esac; }

# One mcmcd run of sampler JSON $4 on row $1, run $2 (key $3), as impl $5,
# with dtype $7 (default float64).
run_ours() {
    local row=$1 r=$2 seed=$3 sampler=$4 impl=$5 data=$6 dtype=${7:-float64} t0 rc=0
    local base="$runs/$row-$impl-$r"
    cat >"$base.spec.json" <<EOF
{"model": {"type": "$(mcmcd_model "$(row_kind "$row")")", "prior_variance": 10},
 "sampler": $sampler,
 "num_warmup": $WARMUP, "num_samples": $SAMPLES, "chains": $CHAINS,
 "key": $seed, "init": "zeros", "dtype": "$dtype", "progress_every": 100}
EOF
    local load1; load1=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    taskset -c "$CPU" "$MCMCD" run --spec "$base.spec.json" --data "$data" --out "$base.csv" \
        --report "$base.report.json" --threads 1 -q 2>"$base.log" || rc=$?
    local wall; wall=$(awk "BEGIN {print $(date +%s.%N) - $t0}")
    if [ "$rc" != 0 ]; then
        echo "   $impl run $r: mcmcd exited $rc ($(tail -1 "$base.log"))" >&2
        return 0
    fi
    local log_sigma=0
    [ "$(row_kind "$row")" = linear ] && log_sigma=1
    Rscript "$here/stan/mcmcd_stats.R" --draws "$base.csv" --report "$base.report.json" \
        --impl "$impl" --out "$base.json" --log-sigma-last "$log_sigma"
    rm -f "$base.csv"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "$impl" "$r" "$seed" "$load1" "$wall" \
        "$base.json" >>"$index"
}

# One rstan run of form $4 (plain, glm) on row $1.
run_stan() {
    local row=$1 r=$2 seed=$3 form=$4 data=$5 kind model t0
    kind=$(row_kind "$row")
    model="$here/stan/$kind.stan"
    [ "$form" = glm ] && model="$here/stan/${kind}_glm.stan"
    local base="$runs/$row-stan_$form-$r" load1
    load1=$(cut -d' ' -f1 /proc/loadavg)
    t0=$(date +%s.%N)
    taskset -c "$CPU" Rscript "$here/stan/stan_run.R" --model "$model" --data "$data" \
        --kind "$kind" --chains "$CHAINS" --warmup "$WARMUP" --samples "$SAMPLES" \
        --seed "$seed" --adapt-delta "$ADAPT_DELTA" --max-treedepth "$MAX_DEPTH" \
        --cache "$work/stan-cache" --out "$base.json" >"$base.log" 2>&1 ||
        { echo "   stan_$form run $r failed: $(tail -3 "$base.log")" >&2; return 0; }
    local wall; wall=$(awk "BEGIN {print $(date +%s.%N) - $t0}")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$row" "stan_$form" "$r" "$seed" "$load1" "$wall" \
        "$base.json" >>"$index"
}

# Compile every Stan model the rows need before timing anything.
echo "== Stan models (compiled once, cached in $work/stan-cache)"
for row in ${ROWS//,/ }; do
    kind=$(row_kind "$row")
    for form in $(row_forms "$row"); do echo "$kind $form"; done
done | sort -u | while read -r kind form; do
    model="$here/stan/$kind.stan"
    [ "$form" = glm ] && model="$here/stan/${kind}_glm.stan"
    echo "   $(basename "$model")"
    tiny="$work/data/compile-$kind.csv"
    [ -f "$tiny" ] || Rscript "$here/stan/make_data.R" "$kind" 20 2 0 "$tiny"
    Rscript "$here/stan/stan_run.R" --model "$model" --data "$tiny" --kind "$kind" --chains 1 \
        --warmup 20 --samples 20 --seed 1 --adapt-delta 0.8 --max-treedepth 10 \
        --cache "$work/stan-cache" --out "$work/compile-$kind-$form.json" >/dev/null 2>&1 ||
        { echo "stan_vs_mcmcd.sh: compiling $model failed" >&2; exit 1; }
done

load_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== rows on CPU $CPU (all chains one after the other), load average $load_start"
for row in ${ROWS//,/ }; do
    case " $ALL_ROWS " in *" $row "*) ;; *) echo "unknown row $row" >&2; exit 2 ;; esac
    kind=$(row_kind "$row") n=$(row_n "$row") d=$(row_d "$row")
    data="$work/data/$kind-n$n-d$d-seed0.csv"
    [ -f "$data" ] || Rscript "$here/stan/make_data.R" "$kind" "$n" "$d" 0 "$data"
    nruns=$(row_runs "$row")
    echo "-- $row ($nruns run(s))"
    for r in $(seq 1 "$nruns"); do
        # The implementations take turns within a run, so drifting load
        # from the neighbours falls on all of them alike.
        for s in ${SAMPLERS//,/ }; do
            case "$s" in
            nuts) run_ours "$row" "$r" "$r" "{\"type\": \"nuts\", \"adapt_delta\": $ADAPT_DELTA, \
\"max_tree_depth\": $MAX_DEPTH, \"metric\": \"diag\"}" mcmcd_nuts "$data" ;;
            nuts_f32) run_ours "$row" "$r" "$r" "{\"type\": \"nuts\", \"adapt_delta\": \
$ADAPT_DELTA, \"max_tree_depth\": $MAX_DEPTH, \"metric\": \"diag\"}" mcmcd_nuts_f32 "$data" float32 ;;
            mala) run_ours "$row" "$r" "$r" "$MALA_SAMPLER" mcmcd_mala "$data" ;;
            *) echo "unknown sampler $s" >&2; exit 2 ;;
            esac
        done
        for form in $(row_forms "$row"); do run_stan "$row" "$r" "$r" "$form" "$data"; done
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

out="$root/bench/results/stan_vs_mcmcd-$stamp"
python3 "$here/stan/report.py" "${ADD_INDEX[@]}" --index "$index" --json "$out.json" --markdown "$out.md" \
    --meta cpu="$CPU" chains="$CHAINS" warmup="$WARMUP" samples="$SAMPLES" \
    adapt_delta="$ADAPT_DELTA" max_tree_depth="$MAX_DEPTH" runs="$RUNS" \
    runs_large="$RUNS_LARGE" stan_forms="$FORMS" stan_forms_large="$FORMS_LARGE" load_start="$load_start" load_end="$load_end" \
    mala_sampler="$MALA_SAMPLER" commit="$(git -C "$root" rev-parse --short HEAD)" \
    kernels="$(grep -ho '[a-z0-9]* kernels' "$runs"/*.log 2>/dev/null | head -1)" \
    model_name="$(lscpu | sed -n 's/^Model name: *//p' | head -1)" \
    compiler="$(${CC:-cc} --version | head -1)"
echo "wrote $out.json and $out.md"
