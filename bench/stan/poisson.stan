// poisson.stan - Poisson regression with a log link: beta ~ N(0, v I),
// y ~ Poisson(exp(X beta)), no intercept.
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
  y ~ poisson_log(X * beta);
}
