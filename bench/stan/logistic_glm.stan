// logistic_glm.stan - the same posterior as logistic.stan through Stan's
// fused GLM likelihood (bernoulli_logit_glm), Stan at its fastest.
data {
  int<lower=0> N;
  int<lower=1> D;
  matrix[N, D] X;
  int<lower=0, upper=1> y[N];
  real<lower=0> prior_variance;
}
parameters {
  vector[D] beta;
}
model {
  beta ~ normal(0, sqrt(prior_variance));
  y ~ bernoulli_logit_glm(X, 0, beta);
}
