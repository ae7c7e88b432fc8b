// logistic.stan - logistic regression as the issue writes it:
// beta ~ N(0, v I), y ~ Bernoulli(logit^-1(X beta)), no intercept.
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
  y ~ bernoulli_logit(X * beta);
}
