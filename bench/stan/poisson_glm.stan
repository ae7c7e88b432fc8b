// poisson_glm.stan - the same posterior as poisson.stan through Stan's
// fused GLM likelihood (poisson_log_glm). Written as target += with the
// full lpmf: in Stan 2.21 (Debian's rstan) `y ~ poisson_log_glm(...)` drops
// the whole likelihood from the log density while its gradient stays, so
// NUTS's energy is wrong and every tree runs to the maximum depth. The full
// lpmf adds only the constant -sum(log y!).
data {
  int<lower=0> N;
  int<lower=1> D;
  matrix[N, D] X;
  int<lower=0> y[N];
  real<lower=0> prior_variance;
}
parameters {
  vector[D] beta;
}
model {
  beta ~ normal(0, sqrt(prior_variance));
  target += poisson_log_glm_lpmf(y | X, 0, beta);
}
