// poisson_glm.stan - the same posterior as poisson.stan through Stan's
// fused GLM likelihood (poisson_log_glm).
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
  y ~ poisson_log_glm(X, 0, beta);
}
