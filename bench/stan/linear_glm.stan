// linear_glm.stan - the same posterior as linear.stan through Stan's fused
// GLM likelihood (normal_id_glm).
data {
  int<lower=0> N;
  int<lower=1> D;
  matrix[N, D] X;
  vector[N] y;
  real<lower=0> prior_variance;
}
parameters {
  vector[D] beta;
  real<lower=0> sigma;
}
model {
  beta ~ normal(0, sqrt(prior_variance));
  sigma ~ normal(0, 1);
  y ~ normal_id_glm(X, 0, beta, sigma);
}
