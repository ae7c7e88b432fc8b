/* test_sbc.c - simulation-based calibration (Talts et al. 2018) of NUTS
 * with Stan's warmup, through the real runner.
 *
 * Each of R = 1000 replications draws beta from the prior N(0, v I) (v = 1,
 * d = 2) with its own fixed key, simulates y = X beta + sigma e for a fixed
 * 10 x 2 design X (sigma = 1), and runs one NUTS chain (200 warmup
 * iterations, then L = 99 draws thinned by 5) on the model
 * linear_regression (sigma fixed, prior_variance v): so it calibrates the
 * model's log density and gradient as well as NUTS and its warmup.
 *
 * The rank of beta_j among the L draws (how many are smaller) is uniform on
 * 0..L exactly when the draws come from the posterior and are independent:
 * thinning by 5 leaves NUTS's draws on this 2-d Gaussian nearly independent
 * (lag-one autocorrelation of the thinned draws below 0.05, checked). The
 * L + 1 = 100 ranks fall into 10 bins of 10; a chi-square test with 9
 * degrees of freedom rejects uniformity at p < 0.001 (statistic > 27.877),
 * once per coordinate. Keys are fixed, so the statistics are the same each
 * run (4.6 and 19.8). The power, measured with the exact Gaussian
 * posterior as the target and its covariance scaled: a posterior sd 20% too
 * small gives 82, 20% too large 51 (at 400 replications these were 30 and
 * 23: too weak, hence 1000; they take half a second).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "errors.h"
#include "test_util.h"

#define REPLICATIONS 1000
#define DRAWS 99 /* L: ranks 0..99 */
#define BINS 10
#define N_ROWS 10
#define DIM 2
#define PRIOR_VARIANCE 1.0
#define SIGMA 1.0
/* The chi-square(9) quantile at 0.999. */
#define CHI2_9_999 27.877

typedef struct sbc_draws {
    double x[DRAWS * DIM];
    uint32_t count;
} sbc_draws;

static int keep(void *ctx, const chain_block *b) {
    sbc_draws *s = ctx;
    memcpy(s->x + b->first_draw * DIM, b->draws, b->count * DIM * sizeof(double));
    s->count += b->count;
    return 0;
}

/* The fixed design: N(0, 1) entries from a fixed key. */
static void design(double *X) {
    rng_normal_fill(rng_key_from_seed(9), X, N_ROWS * DIM);
}

/* Replication r's beta (from the prior) and y. */
static void simulate(uint32_t r, const double *X, double *beta, double *y) {
    rng_key k = rng_fold_in(rng_key_from_seed(400), r);
    double z[DIM], e[N_ROWS];
    rng_normal_fill(rng_fold_in(k, 0), z, DIM);
    rng_normal_fill(rng_fold_in(k, 1), e, N_ROWS);
    for (int j = 0; j < DIM; j++)
        beta[j] = sqrt(PRIOR_VARIANCE) * z[j];
    for (int i = 0; i < N_ROWS; i++) {
        y[i] = SIGMA * e[i];
        for (int j = 0; j < DIM; j++)
            y[i] += X[i * DIM + j] * beta[j];
    }
}

/* The posterior of replication r: model linear_regression with sigma
 * fixed and prior_variance v, on X and y (copied into *ds, which must
 * outlive the model). */
static model *posterior(const double *X, const double *y, dataset **ds) {
    const model_def *def = model_find("linear_regression");
    if (!def) fail_msg("no model linear_regression in the table");
    *ds = dataset_alloc(N_ROWS, DIM);
    assert_non_null(*ds);
    memcpy((*ds)->X, X, N_ROWS * DIM * sizeof(double));
    memcpy((*ds)->y, y, N_ROWS * sizeof(double));
    model_args args;
    model_args_defaults(def, &args);
    args.values[param_index(def->params, def->num_params, "sigma")] = SIGMA;
    args.values[param_index(def->params, def->num_params, "prior_variance")] = PRIOR_VARIANCE;
    char err[256] = "";
    model *m = def->create(*ds, &args, DTYPE_F64, err, sizeof err);
    if (!m) fail_msg("linear_regression: %s", err);
    assert_int_equal(model_dim(m), DIM);
    return m;
}

static double chi_square(const unsigned *counts, double expected) {
    double s = 0;
    for (int b = 0; b < BINS; b++)
        s += (counts[b] - expected) * (counts[b] - expected) / expected;
    return s;
}

/* Lag-one autocorrelation of coordinate j of the draws, about the
 * posterior mean of the draws themselves. */
static double lag_one(const sbc_draws *s, int j) {
    double mean = 0, c0 = 0, c1 = 0;
    for (int i = 0; i < DRAWS; i++)
        mean += s->x[i * DIM + j] / DRAWS;
    for (int i = 0; i < DRAWS; i++) {
        double a = s->x[i * DIM + j] - mean;
        c0 += a * a;
        if (i) c1 += a * (s->x[(i - 1) * DIM + j] - mean);
    }
    return c1 / c0;
}

static void test_sbc_nuts(void **state) {
    (void)state;
    double X[N_ROWS * DIM], beta[DIM], y[N_ROWS];
    unsigned counts[DIM][BINS] = {{0}};
    double rho_sum[DIM] = {0};
    design(X);
    for (uint32_t r = 0; r < REPLICATIONS; r++) {
        simulate(r, X, beta, y);
        dataset *ds = NULL;
        model *m = posterior(X, y, &ds);
        chain_config cfg = {.num_samples = DRAWS,
                            .num_warmup = 200,
                            .thin = 5,
                            .chains = 1,
                            .key = rng_fold_in(rng_key_from_seed(401), r),
                            .init = INIT_ZEROS,
                            .progress_every = 1000};
        cfg.sampler = &sampler_nuts; /* by its definition: the table may not list it yet */
        sampler_defaults(cfg.sampler, cfg.params);
        sbc_draws s = {.count = 0};
        assert_int_equal(chains_run(m, &cfg, 1, keep, &s, NULL), MCMC_OK);
        assert_int_equal(s.count, DRAWS);
        for (int j = 0; j < DIM; j++) {
            unsigned rank = 0;
            for (int i = 0; i < DRAWS; i++)
                rank += s.x[i * DIM + j] < beta[j];
            counts[j][rank * BINS / (DRAWS + 1)]++;
            rho_sum[j] += lag_one(&s, j);
        }
        model_free(m);
        dataset_free(ds);
    }
    for (int j = 0; j < DIM; j++) {
        double stat = chi_square(counts[j], (double)REPLICATIONS / BINS);
        printf("# beta.%d: rank bins", j + 1);
        for (int b = 0; b < BINS; b++)
            printf(" %u", counts[j][b]);
        printf("; chi-square(9) %.2f (reject above %.3f); mean lag-one autocorrelation %.3f\n",
               stat, CHI2_9_999, rho_sum[j] / REPLICATIONS);
        assert_true(fabs(rho_sum[j] / REPLICATIONS) < 0.05);
        assert_true(stat <= CHI2_9_999);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sbc_nuts),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
