# make_data.R - writes one benchmark dataset as CSV (x.1..x.D, then y), the
# file both mcmcd (--data) and Stan read, so both sample the same posterior.
#
# Usage: Rscript make_data.R KIND N D SEED OUT.csv
#   logistic: the post's generator: theta ~ N(0, 10 I), X ~ N(0, I),
#             y ~ Bernoulli(sigmoid(X theta))
#   linear:   theta ~ N(0, I), X ~ N(0, I), y = X theta + N(0, 1) noise
#   poisson:  theta ~ N(0, I / D), X ~ N(0, I), y ~ Poisson(exp(X theta))
# Numbers are written with 17 significant digits, so both readers get the
# same doubles. R's default generator (Mersenne-Twister, Inversion) with
# set.seed(SEED) fixes the rows.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 5) stop("usage: Rscript make_data.R KIND N D SEED OUT.csv")
kind <- args[1]
n <- as.integer(as.numeric(args[2]))
d <- as.integer(args[3])
set.seed(as.integer(args[4]), kind = "Mersenne-Twister", normal.kind = "Inversion")
theta_sd <- switch(kind, logistic = sqrt(10), linear = 1, poisson = 1 / sqrt(d),
                   stop("KIND must be logistic, linear or poisson"))
theta <- rnorm(d, sd = theta_sd)
X <- matrix(rnorm(n * d), n, d)
eta <- drop(X %*% theta)
y <- switch(kind,
            logistic = rbinom(n, 1, plogis(eta)),
            linear = eta + rnorm(n),
            poisson = rpois(n, exp(eta)))
fmt <- function(v) sprintf("%.17g", v)
cols <- c(lapply(seq_len(d), function(j) fmt(X[, j])),
          list(if (kind == "linear") fmt(y) else as.character(y)))
out <- file(args[5], "w")
writeLines(paste(c(sprintf("x.%d", seq_len(d)), "y"), collapse = ","), out)
writeLines(do.call(paste, c(cols, sep = ",")), out)
close(out)
