/* test_sg_util.h - what test_sg.c and test_sg_stat.c share: a linear
 * regression with a fixed sigma (its posterior is Gaussian, so its mean and
 * covariance are known exactly), and a runner that keeps every draw. */
#ifndef MCMCD_SG_TEST_UTIL_H
#define MCMCD_SG_TEST_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "dataset.h"
#include "errors.h"

typedef struct sg_problem {
    dataset *ds;
    model *m;
    size_t d;
    double mean[2], cov[2][2]; /* the exact posterior (d = 2) */
} sg_problem;

/* y = X (1, -0.5) + N(0, 1) noise, X ~ N(0, I), n rows, d = 2, sigma 1,
 * prior N(0, 10 I): posterior precision P = X'X + I / 10, mean P^-1 X'y. */
static inline void sg_problem_make(sg_problem *p, size_t n, uint64_t seed) {
    const size_t d = 2;
    const double beta[2] = {1.0, -0.5};
    memset(p, 0, sizeof *p);
    p->d = d;
    p->ds = dataset_alloc(n, d);
    rng_key k = rng_key_from_seed(seed);
    double P[2][2] = {{0.1, 0}, {0, 0.1}}, b[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        double *x = p->ds->X + i * d;
        x[0] = rng_normal(k, 3 * i), x[1] = rng_normal(k, 3 * i + 1);
        p->ds->y[i] = x[0] * beta[0] + x[1] * beta[1] + rng_normal(k, 3 * i + 2);
        for (size_t a = 0; a < d; a++) {
            b[a] += x[a] * p->ds->y[i];
            for (size_t c = 0; c < d; c++)
                P[a][c] += x[a] * x[c];
        }
    }
    double det = P[0][0] * P[1][1] - P[0][1] * P[1][0];
    p->cov[0][0] = P[1][1] / det, p->cov[1][1] = P[0][0] / det;
    p->cov[0][1] = p->cov[1][0] = -P[0][1] / det;
    for (size_t a = 0; a < d; a++)
        p->mean[a] = p->cov[a][0] * b[0] + p->cov[a][1] * b[1];
    const model_def *def = model_find("linear_regression");
    model_args args;
    model_args_defaults(def, &args);
    args.values[0] = 10; /* prior_variance */
    args.values[3] = 1;  /* sigma, fixed */
    char err[128];
    p->m = def->create(p->ds, &args, DTYPE_F64, err, sizeof err);
}

static inline void sg_problem_free(sg_problem *p) {
    model_free(p->m);
    dataset_free(p->ds);
}

/* Every kept draw, chains x num_samples x d. */
typedef struct sg_draws {
    const chain_config *cfg;
    size_t d;
    double *x;
    double *stepsize; /* chains x num_samples: stepsize__ */
} sg_draws;

static inline int sg_keep(void *ctx, const chain_block *b) {
    sg_draws *r = ctx;
    size_t at = b->chain * r->cfg->num_samples + b->first_draw;
    memcpy(r->x + at * r->d, b->draws, b->count * r->d * sizeof(double));
    for (uint32_t i = 0; i < b->count; i++)
        r->stepsize[at + i] = b->stats[i * b->nstats]; /* stepsize__ is the SG samplers' only */
    return 0;
}

static inline sg_draws *sg_run(const model *m, const chain_config *cfg, int *rc) {
    sg_draws *r = calloc(1, sizeof *r);
    r->cfg = cfg;
    r->d = model_dim(m);
    r->x = malloc(cfg->chains * cfg->num_samples * r->d * sizeof(double));
    r->stepsize = malloc(cfg->chains * cfg->num_samples * sizeof(double));
    *rc = chains_run(m, cfg, 2, sg_keep, r, NULL);
    return r;
}

static inline void sg_draws_free(sg_draws *r) {
    free(r->x), free(r->stepsize), free(r);
}

#endif
