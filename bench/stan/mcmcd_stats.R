# mcmcd_stats.R - one mcmcd run as the same JSON stan_run.R writes: the
# per-chain timings, gradients, step sizes and divergences from the file
# `mcmcd run --report` wrote, and the draw statistics of common.R computed
# from its CSV draws.
#
# Usage: Rscript mcmcd_stats.R --draws DRAWS.csv --report REPORT.json --impl NAME --out RUN.json
#          [--log-sigma-last 1]
# The draws CSV has chain and draw columns, then the parameters; columns
# ending in "__" (CmdStan's sampler statistics) are not parameters.
here <- dirname(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE)))
source(file.path(here, "common.R"))
o <- parse_args(commandArgs(trailingOnly = TRUE))

csv <- read.csv(o$draws, check.names = FALSE)
pars <- setdiff(names(csv)[!endsWith(names(csv), "__")], c("chain", "draw"))
chains <- sort(unique(csv$chain))
per_chain <- lapply(chains, function(c) as.matrix(csv[csv$chain == c, pars, drop = FALSE]))
iters <- unique(vapply(per_chain, nrow, 0L))
if (length(iters) != 1) stop("chains have different numbers of draws")
draws <- array(NA_real_, c(iters, length(chains), length(pars)),
               dimnames = list(NULL, NULL, pars))
for (k in seq_along(chains)) draws[, k, ] <- per_chain[[k]]

# mcmcd samples the linear model's log_sigma, its last parameter (the CSV
# may call it theta.<d+1>: --log-sigma-last); Stan reports sigma. The bulk
# ESS is rank-based, so the same either way; the means compare as sigma.
ls <- which(dimnames(draws)[[3]] == "log_sigma")
if (!length(ls) && identical(o[["log-sigma-last"]], "1")) ls <- dim(draws)[3]
if (length(ls)) {
  draws[, , ls] <- exp(draws[, , ls])
  dimnames(draws)[[3]][ls] <- "sigma"
}

report <- jsonlite::fromJSON(o$report, simplifyDataFrame = FALSE)
write_json_file(c(list(impl = o$impl, chains = report$chains,
                       total_seconds = report$total_seconds),
                  draw_stats(draws)), o$out)
