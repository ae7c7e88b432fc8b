/* metric.h - the inverse metric (inverse mass matrix) of HMC-family
 * samplers: unit, diagonal or dense, with the factors the samplers need.
 *
 * With M the mass matrix and Minv = M^-1 the inverse metric that warmup
 * estimates (the posterior's covariance, roughly):
 *   - momenta are drawn p ~ N(0, M);
 *   - the kinetic energy is p . Minv p / 2 and the velocity Minv p;
 *   - random-walk and Langevin proposals draw noise ~ N(0, Minv).
 * A dense metric keeps Minv, its lower Cholesky factor L (L L^T = Minv),
 * from which p = L^-T z and noise = L z follow by triangular solves. Set
 * once per adaptation window; nothing here allocates after metric_create.
 */
#ifndef MCMCD_METRIC_H
#define MCMCD_METRIC_H

#include <stddef.h>

typedef enum metric_kind { METRIC_UNIT = 0, METRIC_DIAG, METRIC_DENSE } metric_kind;

typedef struct metric {
    metric_kind kind;
    size_t d;
    double *inv;      /* DIAG: d values; DENSE: d x d row-major; UNIT: unused */
    double *chol;     /* DENSE: lower factor of inv, row-major */
    double *sqrt_inv; /* DIAG: sqrt of inv */
    double *work;     /* DENSE: d x d, where metric_set factors a candidate */
} metric;

/* A unit metric of the given kind, its buffers allocated; NULL on ENOMEM. */
metric *metric_create(metric_kind kind, size_t d);
void metric_free(metric *m);

/* Sets the inverse metric: d values (DIAG) or d x d (DENSE; symmetric
 * positive definite). Returns 0, or -1 (the metric unchanged) when a value
 * is not finite and positive or the matrix is not positive definite. */
int metric_set(metric *m, const double *inv);

/* out = Minv p */
void metric_velocity(const metric *m, const double *p, double *out);
/* p . Minv p / 2, with v = Minv p already computed */
double metric_kinetic(const metric *m, const double *p, const double *v);
/* p = M^(1/2) z for z ~ N(0, I): a momentum draw */
void metric_momentum(const metric *m, const double *z, double *p);
/* r . M r, the squared length of r in the mass metric (Langevin proposals'
 * densities); scratch: d doubles (DENSE only). */
double metric_mass_norm2(const metric *m, const double *r, double *scratch);
/* out = Minv^(1/2) z: noise ~ N(0, Minv) for random-walk and Langevin
 * proposals */
void metric_noise(const metric *m, const double *z, double *out);

#endif
