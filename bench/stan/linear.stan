// linear.stan - linear regression: beta ~ N(0, v I), sigma ~ half-normal(1),
// y ~ N(X beta, sigma^2), no intercept. Stan samples log(sigma) (the
// <lower=0> transform, with its Jacobian), as mcmcd does.
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
  y ~ normal(X * beta, sigma);
}
