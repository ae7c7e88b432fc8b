#!/usr/bin/env bash
# test_tune.sh - the job kinds through the job API: the summary's kernel
# Stein discrepancy (value and subset size), a tuning job's table, best
# setting and result route, a mode job's mode (when the build has the mode
# finder), and bad kind specs refused with their field paths. On the
# 600-row synthetic logistic posterior; seconds in all.
# Usage: test_tune.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_tune.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir tune

get() { c "$URL$1"; }
post() { c -H 'Content-Type: application/json' -d "$1" "$URL/v1/jobs"; }
submit() { post "$1" | jin 'j["id"]'; }
ROWS='"data": {"synthetic": {"n": 600, "d": 5, "seed": 0}}'
DATA="$ROWS, \"init\": \"true\""

daemon_or_exit

# --- the summary's KSD ------------------------------------------------------
S=$(submit "{$DATA, \"sampler\": {\"type\": \"mala\", \"step_size\": 0.01}, \"num_samples\": 700, \"chains\": 2}")
check "a sampling job succeeds" "[ \"\$(wait_job '$S')\" = succeeded ]"
get "/v1/jobs/$S/summary" >"$work/summary.json"
jget "$work/summary.json" 'j["ksd"]' | show
# 2 chains x 700 draws, at most 1000 (ksd_draws' default): 500 from each
check "the summary has a finite KSD from 1000 draws, 500 per chain" \
    "[ \"\$(jget '$work/summary.json' 'j[\"ksd\"][\"draws\"], j[\"ksd\"][\"max_draws\"], j[\"ksd\"][\"value\"] > 0')\" = '1000 1000 True' ]"
get "/v1/jobs/$S/summary?ksd=0" >"$work/summary0.json"
check "?ksd=0 leaves it out" \
    "[ \"\$(jget '$work/summary0.json' 'j[\"ksd\"][\"computed\"], j[\"ksd\"][\"value\"], j[\"ksd\"][\"draws\"]')\" = 'False None 0' ]"
check "?ksd=2 is a 400 naming the parameter" \
    "[ \"\$(get /v1/jobs/$S/summary?ksd=2 | jin 'j[\"error\"][\"details\"][0][\"path\"]')\" = ksd ]"
check "a sampling job has no result (409)" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' $URL/v1/jobs/$S/result)\" = 409 ]"
check "and says it is of kind sample" "[ \"\$(get /v1/jobs/$S | jin 'j[\"kind\"]')\" = sample ]"

# --- tuning -------------------------------------------------------------------
T=$(submit "{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld\"}, \"num_samples\": 1500, \"chains\": 2, \"key\": 7,
             \"tune\": {\"step_sizes\": [1e-3, 1e-2, 100], \"batch_sizes\": [60, 600], \"ksd_draws\": 400}}")
check "a tuning job succeeds" "[ \"\$(wait_job '$T')\" = succeeded ]"
get "/v1/jobs/$T" >"$work/tune.json"
jget "$work/tune.json" 'json.dumps(j["result"], indent=1)' | show
check "its result has one row per setting, step sizes outer, batch sizes inner" \
    "[ \"\$(jget '$work/tune.json' '[(r[\"step_size\"], r[\"batch_size\"]) for r in j[\"result\"][\"table\"]]')\" = \
       '[(0.001, 60), (0.001, 600), (0.01, 60), (0.01, 600), (100.0, 60), (100.0, 600)]' ]"
check "each setting's KSD reads 400 draws (200 per chain), or it diverged" \
    "jget '$work/tune.json' 'all(r[\"ksd_draws\"] == 400 and r[\"ksd\"] > 0 or r[\"diverged\"] for r in j[\"result\"][\"table\"])' | grep -qx True"
check "the best setting is the one with the smallest KSD" \
    "jget '$work/tune.json' 'j[\"result\"][\"best\"] == min((r for r in j[\"result\"][\"table\"] if r[\"ksd\"] is not None), key=lambda r: r[\"ksd\"])' | grep -qx True"
# h = 100: the prior alone, theta (1 - h / 10) a step, grows 9-fold a step
check "a setting whose chains diverged says so, with a null KSD" \
    "jget '$work/tune.json' '[(r[\"diverged\"], r[\"ksd\"]) for r in j[\"result\"][\"table\"][4:]]' | grep -qx '\[(True, None), (True, None)\]'"
check "GET .../result returns the same result" \
    "[ \"\$(get /v1/jobs/$T/result | jin 'j[\"table\"]')\" = \"\$(jget '$work/tune.json' 'j[\"result\"][\"table\"]')\" ]"
check "the tuning job keeps no draws" "[ \"\$(jget '$work/tune.json' 'j[\"shape\"]')\" = '[2, 0, 5]' ]"
check "its spec says its kind and grid" \
    "jget '$work/tune.json' 'j[\"spec\"][\"kind\"] == \"tune\" and j[\"spec\"][\"tune\"][\"batch_sizes\"] == [60, 600]' | grep -qx True"

# a control-variate sampler without a centre: the grid finds the mode once
V=$(submit "{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld_cv\", \"batch_size\": 60}, \"num_samples\": 1000, \"tune\": {\"step_sizes\": [1e-3, 1e-2]}}")
check "a tuning job of sgld_cv succeeds, every setting with a KSD" \
    "[ \"\$(wait_job '$V')\" = succeeded ] && get /v1/jobs/$V/result | jin '[r[\"ksd\"] > 0 and r[\"batch_size\"] == 60 for r in j[\"table\"]]' | grep -qx '\[True, True\]'"

# --- the mode ---------------------------------------------------------------------
M=$(submit "{$DATA, \"kind\": \"mode\", \"mode\": {\"method\": \"lbfgs\"}}")
check "a mode job succeeds" "[ \"\$(wait_job '$M')\" = succeeded ]"
get "/v1/jobs/$M/result" >"$work/mode.json"
show <"$work/mode.json"
check "L-BFGS converges: the gradient's norm is under the default tolerance, 1e-6" \
    "jget '$work/mode.json' 'j[\"status\"] == \"converged\" and j[\"grad_norm\"] <= 1e-6 and len(j[\"theta\"]) == 5 and j[\"method\"] == \"lbfgs\"' | grep -qx True"
# the posterior is log-concave, so its mode is unique: Adam (then polished
# by L-BFGS: 600 rows) from a prior draw must find the same point. With
# |grad| <= 1e-6 and the Hessian's smallest eigenvalue ~ 1 / sd^2 >= 4
# (sds <= 0.5 above), each finds it to ~1e-6 / 4: they agree to 1e-5
A=$(submit "{$ROWS, \"init\": \"prior\", \"key\": 3, \"kind\": \"mode\", \"mode\": {\"method\": \"adam\"}}")
check "a mode job with Adam from a prior draw succeeds" "[ \"\$(wait_job '$A')\" = succeeded ]"
get "/v1/jobs/$A/result" >"$work/mode-adam.json"
show <"$work/mode-adam.json"
check "and finds the same mode (within 1e-5) and log density (within 1e-9)" \
    "$PY -c 'import json,sys; a, b = (json.load(open(f)) for f in sys.argv[1:]); sys.exit(not (all(abs(x - y) < 1e-5 for x, y in zip(a[\"theta\"], b[\"theta\"])) and abs(a[\"lp\"] - b[\"lp\"]) < 1e-9))' '$work/mode.json' '$work/mode-adam.json'"
check "the mode job keeps no draws and names its parameters" \
    "[ \"\$(jget '$work/mode.json' 'j[\"parameters\"][0]') \$(get /v1/jobs/$M | jin 'j[\"shape\"][1]')\" = 'theta.1 0' ]"

# --- mcmcd run: the result to --out -------------------------------------------------
echo "{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld\", \"batch_size\": 60}, \"num_samples\": 500, \"tune\": {\"step_sizes\": [1e-3, 1e-2]}}" >"$work/tune-spec.json"
"$MCMCD" run --quiet --spec "$work/tune-spec.json" --out "$work/run-tune.json" 2>"$work/run-tune.err"
show <"$work/run-tune.err"
check "mcmcd run writes a tuning spec's result to --out" \
    "jget '$work/run-tune.json' 'len(j[\"table\"]) == 2 and j[\"best\"][\"ksd\"] > 0' | grep -qx True"

# --- bad specs ------------------------------------------------------------------------
paths() { post "$1" | jin '" ".join(sorted(d["path"] for d in j["error"]["details"]))'; }
check "an unknown kind: kind" \
    "[ \"\$(paths '{$DATA, \"kind\": \"fit\", \"sampler\": {\"type\": \"ula\", \"step_size\": 0.1}}')\" = kind ]"
check "a tuning job without its grid: tune" \
    "[ \"\$(paths '{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld\"}}')\" = tune ]"
check "a bad step size and batch size: their paths" \
    "[ \"\$(paths '{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld\"}, \"tune\": {\"step_sizes\": [0.1, -1], \"batch_sizes\": [0, 10], \"ksd_draws\": 1}}')\" = \
       'tune.batch_sizes[0] tune.ksd_draws tune.step_sizes[1]' ]"
check "batch sizes for a sampler without one: tune.batch_sizes" \
    "[ \"\$(paths '{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"ula\"}, \"tune\": {\"step_sizes\": [0.1], \"batch_sizes\": [10]}}')\" = tune.batch_sizes ]"
check "a batch larger than the data: tune.batch_sizes[1]" \
    "[ \"\$(paths '{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"sgld\"}, \"tune\": {\"step_sizes\": [0.1], \"batch_sizes\": [10, 601]}}')\" = 'tune.batch_sizes[1]' ]"
check "a grid for a sampler that adapts, with a warmup: num_warmup" \
    "[ \"\$(paths '{$DATA, \"kind\": \"tune\", \"sampler\": {\"type\": \"mala\"}, \"num_warmup\": 100, \"tune\": {\"step_sizes\": [0.1]}}')\" = num_warmup ]"
check "a grid section on a sampling job: tune" \
    "[ \"\$(paths '{$DATA, \"sampler\": {\"type\": \"ula\", \"step_size\": 0.1}, \"tune\": {\"step_sizes\": [0.1]}}')\" = tune ]"
check "a bad mode method and unknown field: their paths" \
    "[ \"\$(paths '{$DATA, \"kind\": \"mode\", \"mode\": {\"method\": \"newton\", \"steps\": 3}}')\" = 'mode.method mode.steps' ]"
check "the daemon is still up" "[ \"\$(c -o /dev/null -w '%{http_code}' $URL/healthz)\" = 200 ]"

# --- a restart reads the kinds' specs back, results kept -----------------------------
stop_daemon
daemon_or_exit
check "after a restart the tuning job is still of kind tune, with its result" \
    "[ \"\$(get /v1/jobs/$T | jin 'j[\"kind\"], j[\"state\"], j[\"result\"][\"table\"] == json.load(open(\"$work/tune.json\"))[\"result\"][\"table\"]')\" = 'tune succeeded True' ]"
check "and the mode job's result is served" \
    "[ \"\$(c -o /dev/null -w '%{http_code}' $URL/v1/jobs/$M/result)\" = 200 ]"
finish
