# common.R - what the Stan runner and the mcmcd reader share: reading a
# benchmark CSV, and the statistics both sides report from their draws
# (posterior::ess_bulk per parameter, computed the same way for both).
suppressPackageStartupMessages({
  library(posterior)
  library(jsonlite)
})

# Named options --key value into a list (strings).
parse_args <- function(args) {
  keys <- args[c(TRUE, FALSE)]
  if (length(args) %% 2 != 0 || !all(startsWith(keys, "--")))
    stop("options are --key value pairs")
  setNames(as.list(args[c(FALSE, TRUE)]), sub("^--", "", keys))
}

read_bench_csv <- function(path) {
  m <- as.matrix(read.csv(path, header = TRUE, colClasses = "numeric"))
  list(X = m[, -ncol(m), drop = FALSE], y = m[, ncol(m)])
}

# draws: iterations x chains x parameters. The smallest bulk ESS over
# parameters, which parameter has it, and each parameter's mean and sd.
draw_stats <- function(draws) {
  ess <- apply(draws, 3, function(x) posterior::ess_bulk(x))
  list(min_ess_bulk = min(ess), min_ess_param = dimnames(draws)[[3]][which.min(ess)],
       ess_bulk = unname(ess), means = unname(apply(draws, 3, mean)),
       sds = unname(apply(draws, 3, sd)))
}

write_json_file <- function(x, path) {
  writeLines(jsonlite::toJSON(x, auto_unbox = TRUE, digits = NA, null = "null"), path)
}
