/* test_samplers.c - the samplers against known answers.
 *
 * Monte Carlo standard errors come from batch means: each chain is cut into
 * 50 batches (each far longer than the autocorrelation time at these step
 * sizes), and MCSE = sd(batch means) / sqrt(#batches). Every statistical
 * assertion allows 4 MCSE, so with fixed keys a correct sampler passes and
 * a wrong mean, variance or acceptance rule fails by many MCSE. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "errors.h"
#include "sampler.h"
#include "simd.h"
#include "test_util.h"

#define BATCHES 50

typedef struct run_draws {
    const chain_config *cfg;
    size_t d;
    double *x; /* chains x samples x d */
    uint64_t *accepted, *iters;
} run_draws;

static int keep(void *ctx, const chain_block *b) {
    run_draws *r = ctx;
    memcpy(r->x + (b->chain * r->cfg->num_samples + b->first_draw) * r->d, b->draws,
           b->count * r->d * sizeof(double));
    r->accepted[b->chain] = b->accepted;
    r->iters[b->chain] = b->iter;
    return 0;
}

static run_draws *run(const model *m, const chain_config *cfg) {
    run_draws *r = calloc(1, sizeof *r);
    r->cfg = cfg;
    r->d = model_dim(m);
    r->x = malloc(cfg->chains * cfg->num_samples * r->d * sizeof(double));
    r->accepted = calloc(cfg->chains, sizeof(uint64_t));
    r->iters = calloc(cfg->chains, sizeof(uint64_t));
    assert_int_equal(chains_run(m, cfg, 2, keep, r, NULL), MCMC_OK);
    return r;
}

static void run_free(run_draws *r) {
    free(r->x), free(r->accepted), free(r->iters), free(r);
}

static double accept_rate(const run_draws *r) {
    uint64_t a = 0, n = 0;
    for (uint32_t c = 0; c < r->cfg->chains; c++)
        a += r->accepted[c], n += r->iters[c];
    return (double)a / (double)n;
}

/* Mean of f(draw) over all chains, and its batch-means MCSE. f picks a
 * coordinate j (k < 0), or the centred product (x_j - mj)(x_k - mk). */
typedef struct estimate {
    double mean, mcse;
} estimate;

static estimate estimate_of(const run_draws *r, int j, int k, double mj, double mk) {
    size_t S = r->cfg->num_samples, len = S / BATCHES, nb = 0;
    double bm[BATCHES * 64], sum = 0;
    assert_true(r->cfg->chains * BATCHES <= 64 * BATCHES);
    for (uint32_t c = 0; c < r->cfg->chains; c++)
        for (size_t b = 0; b < BATCHES; b++) {
            double s = 0;
            for (size_t i = b * len; i < (b + 1) * len; i++) {
                const double *x = r->x + (c * S + i) * r->d;
                s += k < 0 ? x[j] : (x[j] - mj) * (x[k] - mk);
            }
            bm[nb++] = s / (double)len;
            sum += s / (double)len;
        }
    double mean = sum / (double)nb, ss = 0;
    for (size_t b = 0; b < nb; b++)
        ss += (bm[b] - mean) * (bm[b] - mean);
    return (estimate){mean, sqrt(ss / (double)(nb - 1) / (double)nb)};
}

static void assert_within(estimate e, double truth, double k_mcse) {
    if (fabs(e.mean - truth) > k_mcse * e.mcse)
        fail_msg("estimate %.6g (mcse %.3g) vs %.6g: %.1f mcse apart", e.mean, e.mcse, truth,
                 fabs(e.mean - truth) / e.mcse);
}

/* MALA on a correlated 2-d Gaussian recovers the mean, both variances and
 * the covariance within 4 MCSE. */
static void test_mala_gaussian(void **state) {
    (void)state;
    double mean[2] = {1, -2}, cov[4] = {1, 0.8, 0.8, 2};
    model *m = model_gaussian_create(2, mean, cov);
    chain_config cfg = {.num_samples = 100000,
                        .num_warmup = 1000,
                        .thin = 1,
                        .chains = 4,
                        .key = rng_key_from_seed(2026),
                        .init = INIT_ZEROS,
                        .progress_every = 10000};
    test_use_sampler(&cfg, "mala", 0.5);
    test_set_param(&cfg, "adapt_engaged", 0); /* the fixed step of the post */
    run_draws *r = run(m, &cfg);
    double acc = accept_rate(r);
    printf("# MALA on the Gaussian: accept rate %.3f\n", acc);
    assert_true(acc > 0.3 && acc < 0.95);
    assert_within(estimate_of(r, 0, -1, 0, 0), 1.0, 4);
    assert_within(estimate_of(r, 1, -1, 0, 0), -2.0, 4);
    assert_within(estimate_of(r, 0, 0, 1, 1), 1.0, 4);
    assert_within(estimate_of(r, 1, 1, -2, -2), 2.0, 4);
    assert_within(estimate_of(r, 0, 1, 1, -2), 0.8, 4);
    run_free(r), model_free(m);
}

/* ULA on N(0, 1): x' = (1 - h) x + sqrt(2h) xi has stationary variance
 * 1 / (1 - h/2), so the bias is h/(2 - h): present at h = 0.5 (1/3),
 * smaller at h = 0.05 (0.0256). Both match the closed form within 4 MCSE
 * and the large-step bias is far outside 4 MCSE of 1. */
static void test_ula_bias_shrinks(void **state) {
    (void)state;
    double mean[1] = {0}, cov[1] = {1};
    model *m = model_gaussian_create(1, mean, cov);
    double steps[2] = {0.5, 0.05};
    double bias[2];
    for (int s = 0; s < 2; s++) {
        chain_config cfg = {.num_samples = 200000,
                            .num_warmup = 1000,
                            .thin = 1,
                            .chains = 4,
                            .key = rng_key_from_seed(77),
                            .init = INIT_ZEROS,
                            .progress_every = 50000};
        test_use_sampler(&cfg, "ula", steps[s]);
        run_draws *r = run(m, &cfg);
        estimate v = estimate_of(r, 0, 0, 0, 0);
        double h = steps[s];
        assert_within(v, 1.0 / (1.0 - h / 2), 4);
        bias[s] = v.mean - 1.0;
        if (s == 0) assert_true(bias[0] > 10 * v.mcse);
        run_free(r);
    }
    assert_true(fabs(bias[1]) < bias[0] / 4);
    model_free(m);
}

/* A random-walk Metropolis chain written here, independent of chain.c,
 * on the same posterior: the reference that MALA must agree with. */
static void rwm_run(const model *m, double sd, uint64_t seed, double *out, size_t n) {
    size_t d = model_dim(m);
    model_work *w = model_work_create(m, 0);
    double x[8] = {0}, y[8], g[8];
    double lp = model_logp_grad(m, w, x, g, 1);
    rng_key k = rng_key_from_seed(seed);
    for (size_t t = 0; t < n + 2000; t++) {
        rng_key kt = rng_fold_in(k, (uint32_t)t);
        for (size_t j = 0; j < d; j++)
            y[j] = x[j] + sd * rng_normal(kt, j);
        double lq = model_logp_grad(m, w, y, g, 1);
        if (log(rng_uniform_f64(kt, 100)) < lq - lp) memcpy(x, y, sizeof x), lp = lq;
        if (t >= 2000) memcpy(out + (t - 2000) * d, x, d * sizeof(double));
    }
    model_work_free(w);
}

static void test_mala_matches_rwm_logistic(void **state) {
    (void)state;
    dataset *ds = NULL;
    synth_params p = {.n = 200, .d = 3, .seed = 5, .theta_variance = 10};
    assert_int_equal(dataset_synthesize(&p, &ds), 0);
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    chain_config cfg = {.num_samples = 100000,
                        .num_warmup = 2000,
                        .thin = 1,
                        .chains = 4,
                        .key = rng_key_from_seed(31),
                        .init = INIT_ZEROS,
                        .progress_every = 10000};
    test_use_sampler(&cfg, "mala", 0.02);
    test_set_param(&cfg, "adapt_engaged", 0); /* the fixed step of the post */
    run_draws *mala = run(m, &cfg);
    double acc = accept_rate(mala);
    assert_true(acc > 0.3 && acc < 0.95);
    run_draws *rwm = calloc(1, sizeof *rwm);
    rwm->cfg = &cfg;
    rwm->d = 3;
    rwm->x = malloc(cfg.chains * cfg.num_samples * 3 * sizeof(double));
    for (uint32_t c = 0; c < cfg.chains; c++)
        rwm_run(m, 0.35, 1000 + c, rwm->x + c * cfg.num_samples * 3, cfg.num_samples);
    for (int j = 0; j < 3; j++) {
        estimate a = estimate_of(mala, j, -1, 0, 0), b = estimate_of(rwm, j, -1, 0, 0);
        double se = sqrt(a.mcse * a.mcse + b.mcse * b.mcse);
        if (fabs(a.mean - b.mean) > 4 * se)
            fail_msg("theta.%d: MALA %.5f vs RWM %.5f (se %.3g)", j + 1, a.mean, b.mean, se);
    }
    free(rwm->x), free(rwm);
    run_free(mala), model_free(m), dataset_free(ds);
}

/* A step's normals come from the runner's block only for the key they
 * were drawn for: any other key (a second draw inside a step, a probe)
 * gets its own, as normal_fill gives them. */
static void test_step_normals_follow_the_key(void **state) {
    (void)state;
    double ahead[3] = {1, 2, 3}, out[3], want[3];
    rng_key mine = rng_key_from_seed(5), other = rng_key_from_seed(6);
    sampler_state s = {.d = 3, .step_noise = ahead, .step_noise_key = mine};
    sampler_step_normals(&s, mine, out);
    assert_memory_equal(out, ahead, sizeof ahead);
    sampler_step_normals(&s, other, out);
    simd_ops_get()->normal_fill(other, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0), want, 3);
    assert_memory_equal(out, want, sizeof want);
    s.step_noise = NULL;
    sampler_step_normals(&s, mine, out);
    simd_ops_get()->normal_fill(mine, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0), want, 3);
    assert_memory_equal(out, want, sizeof want);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mala_gaussian),
        cmocka_unit_test(test_ula_bias_shrinks),
        cmocka_unit_test(test_mala_matches_rwm_logistic),
        cmocka_unit_test(test_step_normals_follow_the_key),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
