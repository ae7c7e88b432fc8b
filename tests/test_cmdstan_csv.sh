#!/usr/bin/env bash
# test_cmdstan_csv.sh - a job's CmdStan CSV reads into R with the same
# numbers: mcmcd serves a NUTS job (MALA while the table has no NUTS) with
# saved warmup draws, each chain's ?format=cmdstan file is read by
# rstan::read_stan_csv (Debian's r-cran-rstan, a CmdStan CSV reader that
# parses the comment blocks too) and summarised by posterior (Debian's
# r-cran-posterior); mean, bulk ESS and R-hat of every parameter must equal
# our /summary to 1e-6 relative, the warmup must be recognised as such,
# the adapted step size and the timing must be read from the comments, and
# the per-iteration statistics must be the ones our draws endpoint gives.
# A daemon that cannot start, or R that cannot read the files, fails.
# Usage: test_cmdstan_csv.sh PATH/TO/mcmcd
set -u
MCMCD=${1:?usage: test_cmdstan_csv.sh PATH/TO/mcmcd}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=tests/lib.sh
. "$here/lib.sh"
test_workdir cmdstan
daemon_or_exit

sampler=nuts

C=4 W=300 S=500
cat >"$work/spec.json" <<SPEC
{"model": {"type": "logistic_regression", "prior_variance": 10},
 "data": {"synthetic": {"n": 300, "d": 3, "seed": 7}},
 "sampler": {"type": "$sampler", "step_size": 0.1},
 "num_samples": $S, "num_warmup": $W, "save_warmup": true,
 "chains": $C, "key": 11, "progress_every": 100}
SPEC
code=$(c -o "$work/job.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary @"$work/spec.json" "$URL/v1/jobs")
id=$(jget "$work/job.json" 'j["id"]')
check "the $sampler job is accepted (201)" "[ '$code' = 201 ] && [ -n '$id' ]"
[ "$code" = 201 ] || show <"$work/job.json"
state=$(wait_job "$id")
check "the job succeeds" "[ '$state' = succeeded ]"

for k in $(seq 0 $((C - 1))); do
    c -o "$work/out_$((k + 1)).csv" "$URL/v1/jobs/$id/draws?format=cmdstan&chain=$k"
done
c "$URL/v1/jobs/$id/summary" >"$work/summary.json"
c "$URL/v1/jobs/$id/draws?format=csv&stats=1" >"$work/draws.csv"
c "$URL/v1/jobs/$id" >"$work/status.json"
echo "# \$ curl -s '$URL/v1/jobs/$id/draws?format=cmdstan&chain=0' (the start)"
head -n 4 "$work/out_1.csv" | show
grep -A 3 'Adaptation terminated' "$work/out_1.csv" | show

# R reads the files as CmdStan CSV and summarises them with posterior.
cat >"$work/read.R" <<'RSCRIPT'
suppressPackageStartupMessages({ library(rstan); library(posterior) })
args <- commandArgs(TRUE)
dir <- args[1]; chains <- as.integer(args[2])
files <- file.path(dir, sprintf("out_%d.csv", seq_len(chains)))
fit <- withCallingHandlers(read_stan_csv(files), warning = function(w) {
    message("read_stan_csv warned: ", conditionMessage(w)); quit(status = 3)
})
arr <- as.array(fit) # post-warmup iterations x chains x (parameters, lp__)
s <- summarise_draws(as_draws_array(arr), "mean", "ess_bulk", "rhat")
s <- data.frame(variable = s$variable, mean = as.numeric(s$mean),
                ess_bulk = as.numeric(s$ess_bulk), rhat = as.numeric(s$rhat))
write.csv(s, file.path(dir, "r_summary.csv"), row.names = FALSE)
sp <- get_sampler_params(fit, inc_warmup = FALSE)
acc <- sapply(sp, function(m) mean(m[, "accept_stat__"]))
steps <- sapply(get_adaptation_info(fit), function(a)
    as.numeric(sub(".*Step size = ([^\n]*).*", "\\1", a)))
times <- get_elapsed_time(fit)
first <- read.csv(files[1], comment.char = "#")
out <- data.frame(chain = seq_len(chains), accept = acc, step = steps,
                  warmup_time = times[, "warmup"], sample_time = times[, "sample"],
                  warmup_kept = fit@sim$warmup2, kept = dim(arr)[1])
write.csv(out, file.path(dir, "r_chains.csv"), row.names = FALSE)
writeLines(names(first), file.path(dir, "r_columns.txt"))
RSCRIPT
if Rscript "$work/read.R" "$work" "$C" 2>"$work/r.err"; then
    ok "rstan::read_stan_csv reads the $C files without a warning"
else
    bad "rstan::read_stan_csv reads the $C files without a warning"
    show <"$work/r.err"
fi

"$PY" - "$work" "$C" "$W" "$S" <<'PYCHECK' >"$work/py.out"
import csv, json, sys
work, C, W, S = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
summary = json.load(open(f"{work}/summary.json"))
status = json.load(open(f"{work}/status.json"))
def close(a, b, rel):
    return abs(a - b) <= rel * max(abs(a), abs(b))
try:
    rows = {r["variable"]: r for r in csv.DictReader(open(f"{work}/r_summary.csv"))}
    chains = list(csv.DictReader(open(f"{work}/r_chains.csv")))
    columns = open(f"{work}/r_columns.txt").read().split()
except OSError as e:
    print(f"fail R wrote no results: {e}")
    sys.exit(0)
ours = {p["name"]: p for p in summary["parameters"]}
for name, p in ours.items():
    r = rows.get(name.replace(".", "[", 1) + "]")
    good = r is not None and all(close(float(r[k]), p[k], 1e-6) for k in ("mean", "ess_bulk", "rhat"))
    print(("ok" if good else "fail"), f"{name}: posterior's mean, ess_bulk, rhat equal /summary's",
          "" if good else f"(R {r}, ours {p})")
stat_names = [c for c in open(f"{work}/draws.csv").readline().strip().split(",")
              if c.endswith("__")]
want = stat_names + [p for p in ours]
print("ok" if columns == want else "fail", "the header is CmdStan's:", ",".join(columns))
kept = all(int(ch["kept"]) == S and int(ch["warmup_kept"]) == W for ch in chains)
print("ok" if kept else "fail", f"rstan sees {W} warmup and {S} post-warmup draws per chain")
for ch, mine, ad in zip(chains, summary["chains"], status["adaptation"]):
    k = int(ch["chain"]) - 1
    step = ad is not None and close(float(ch["step"]), ad["step_size"], 1e-15)
    acc = close(float(ch["accept"]), mine["mean_accept_stat"], 1e-9)
    times = float(ch["warmup_time"]) >= 0 and float(ch["sample_time"]) >= 0
    print("ok" if step and acc and times else "fail",
          f"chain {k}: rstan's step size, accept_stat__ mean and times are ours")
PYCHECK
while read -r verdict msg; do
    if [ "$verdict" = ok ]; then ok "$msg"; else bad "$msg"; fi
done <"$work/py.out"
check "the comparison ran" "[ -s '$work/py.out' ]"
finish
