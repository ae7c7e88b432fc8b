# stan_run.R - one rstan NUTS run on a benchmark CSV, with what the report
# needs as JSON: per-chain warmup and sampling CPU seconds (rstan 2.21's own
# timers, which read clock(): process CPU time, not wall time),
# gradients (n_leapfrog__ summed over warmup and sampling), divergences,
# adapted step sizes, and the draw statistics of common.R. The compiled
# model is cached by the hash of its code; compile time is kept apart.
#
# Usage: Rscript stan_run.R --model M.stan --data D.csv --kind logistic|linear|poisson
#          --chains 4 --warmup 1000 --samples 1000 --seed S --adapt-delta 0.8
#          --max-treedepth 10 --cache DIR --out RUN.json
# Chains run one after the other in this process (cores = 1); pin it with
# taskset. Every chain starts at 0 on the unconstrained scale, as mcmcd's
# "init": "zeros" does.
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "common.R"))
suppressPackageStartupMessages(library(rstan))
o <- parse_args(commandArgs(trailingOnly = TRUE))

# The stanmodel for file, compiled once per code hash; its compile seconds.
cached_model <- function(file, cache) {
  code <- paste(readLines(file), collapse = "\n")
  key <- paste0(sub("\\.stan$", "", basename(file)), "-",
                substr(digest_md5(code), 1, 12), "-rstan", packageVersion("rstan"))
  rds <- file.path(cache, paste0(key, ".rds"))
  secs <- file.path(cache, paste0(key, ".seconds"))
  if (file.exists(rds) && file.exists(secs))
    return(list(sm = readRDS(rds), seconds = as.numeric(readLines(secs)), cached = TRUE))
  dir.create(cache, showWarnings = FALSE, recursive = TRUE)
  t0 <- proc.time()[["elapsed"]]
  sm <- stan_model(model_code = code, model_name = key, boost_lib = boost_include())
  seconds <- proc.time()[["elapsed"]] - t0
  saveRDS(sm, rds)
  writeLines(format(seconds), secs)
  list(sm = sm, seconds = seconds, cached = FALSE)
}

# Debian's r-cran-bh is empty and points at libboost-dev's headers, which
# rstan does not look for; hand them over when BH brings none.
boost_include <- function() {
  bh <- system.file("include", package = "BH")
  if (nzchar(bh)) NULL else "/usr/include"
}

digest_md5 <- function(text) {
  f <- tempfile()
  on.exit(unlink(f))
  writeLines(text, f)
  unname(tools::md5sum(f))
}

compiled <- cached_model(o$model, o$cache)
csv <- read_bench_csv(o$data)
y <- if (o$kind == "linear") csv$y else as.integer(round(csv$y))
data <- list(N = nrow(csv$X), D = ncol(csv$X), X = csv$X, y = y, prior_variance = 10)
chains <- as.integer(o$chains)
warmup <- as.integer(o$warmup)
t0 <- proc.time()
fit <- sampling(compiled$sm, data = data, chains = chains, cores = 1,
                warmup = warmup, iter = warmup + as.integer(o$samples),
                seed = as.integer(o$seed), init = 0, refresh = 0,
                control = list(adapt_delta = as.numeric(o[["adapt-delta"]]),
                               max_treedepth = as.integer(o[["max-treedepth"]])))

call <- proc.time() - t0
elapsed <- get_elapsed_time(fit)
sp <- get_sampler_params(fit, inc_warmup = TRUE)
in_sampling <- seq_len(as.integer(o$samples)) + warmup
per_chain <- lapply(seq_len(chains), function(c) list(
  warmup_cpu_seconds = unname(elapsed[c, "warmup"]),
  sampling_cpu_seconds = unname(elapsed[c, "sample"]),
  grad_evals = sum(sp[[c]][, "n_leapfrog__"]),
  step_size = unname(sp[[c]][in_sampling[1], "stepsize__"]),
  divergent = sum(sp[[c]][, "divergent__"]),
  warmup_divergent = sum(sp[[c]][seq_len(warmup), "divergent__"]),
  mean_treedepth = mean(sp[[c]][in_sampling, "treedepth__"])))
draws <- as.array(fit)
draws <- draws[, , dimnames(draws)[[3]] != "lp__", drop = FALSE]
write_json_file(c(list(impl = "stan", model_file = basename(o$model),
                       compile_seconds = compiled$seconds, compile_cached = compiled$cached,
                       rstan = as.character(packageVersion("rstan")),
                       stan_math = as.character(packageVersion("StanHeaders")),
                       chains = per_chain,
                       sampling_call_wall_seconds = unname(call[["elapsed"]]),
                       sampling_call_cpu_seconds = sum(call[c("user.self", "sys.self")])),
                  draw_stats(draws)), o$out)
