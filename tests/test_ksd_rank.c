/* test_ksd_rank.c - the KSD sees SGLD's bias: on the 600-row synthetic
 * logistic posterior (the post's generator, n = 600, d = 5, seed 0, started
 * at theta_true), SGLD with a 10% minibatch at step sizes 1e-3, 4e-3 and
 * 1e-2 is ranked by its KSD (1000 evenly thinned draws) in the same order
 * as by its distance from a long MALA run.
 *
 * Distance: sum over coordinates of ((mean - M)^2 + (sd - S)^2) / S^2, with
 * M, S the MALA run's mean and sd. Keys are fixed. The premise is checked
 * too: each distance exceeds the next smaller step's by more than 4 times
 * their Monte Carlo floors, 1.5 d (1 / ESS + 1 / ESS_MALA) each (a mean's
 * squared error is S^2 / ESS, an sd's about half that; ESS is the smallest
 * bulk ESS over the coordinates). Measured: distances 0.017, 0.21, 1.6
 * (floors 0.019, 0.007, 0.005); KSD 0.40, 1.13, 2.43 (MALA's own: 0.44).
 * Statistical (label "stat"): about 1.5 s of CPU.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "dataset.h"
#include "diagnostics.h"
#include "ksd.h"
#include "model.h"

#define D 5
#define KSD_DRAWS 1000

typedef struct run {
    size_t n, d, cap;
    double *x; /* all kept draws */
} run;

static int keep_all(void *ctx, const chain_block *b) {
    run *r = ctx;
    if (r->n + b->count > r->cap) return 1;
    memcpy(r->x + r->n * r->d, b->draws, (size_t)b->count * b->d * sizeof(double));
    r->n += b->count;
    return 0;
}

static run run_chain(const model *m, const char *sampler, double step, double batch,
                     uint64_t samples, uint64_t thin, uint64_t seed) {
    chain_config cfg = {0};
    cfg.sampler = sampler_find(sampler);
    assert_non_null(cfg.sampler);
    for (size_t i = 0; i < cfg.sampler->num_params; i++)
        cfg.params[i] = cfg.sampler->params[i].def;
    cfg.params[sampler_param_index(cfg.sampler, "step_size")] = step;
    if (batch > 0) cfg.params[sampler_param_index(cfg.sampler, "batch_size")] = batch;
    cfg.num_samples = samples;
    cfg.thin = thin;
    cfg.chains = 1;
    cfg.key = rng_key_from_seed(seed);
    cfg.init = INIT_TRUE;
    cfg.progress_every = 1000;
    run r = {.d = D, .cap = samples, .x = malloc(samples * D * sizeof(double))};
    assert_int_equal(chain_run(m, &cfg, 0, keep_all, &r, NULL), 0);
    assert_int_equal(r.n, samples);
    return r;
}

static void moments(const run *r, double *mean, double *sd) {
    for (size_t j = 0; j < D; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < r->n; i++)
            s += r->x[i * D + j];
        mean[j] = s / (double)r->n;
        for (size_t i = 0; i < r->n; i++)
            s2 += (r->x[i * D + j] - mean[j]) * (r->x[i * D + j] - mean[j]);
        sd[j] = sqrt(s2 / (double)(r->n - 1));
    }
}

/* The smallest bulk ESS over the coordinates. */
static double min_ess(const run *r) {
    double *work = malloc(diag_work_size(1, r->n) * sizeof(double)), least = INFINITY;
    for (size_t j = 0; j < D; j++) {
        diag_summary s;
        assert_int_equal(diag_summarize(r->x + j, 1, r->n, r->n * D, D, work, &s), 0);
        if (s.ess_bulk < least) least = s.ess_bulk;
    }
    free(work);
    return least;
}

static double run_ksd(const model *m, const run *r) {
    size_t per = ksd_subset_per_chain(1, r->n, KSD_DRAWS);
    double *x = malloc(per * D * sizeof(double)), ksd = NAN;
    for (size_t k = 0; k < per; k++)
        memcpy(x + k * D, r->x + ksd_subset_row(r->n, per, k) * D, D * sizeof(double));
    assert_int_equal(ksd_of_draws(m, x, per, 2, &ksd), 0);
    free(x);
    return ksd;
}

static void test_ksd_ranks_sgld_step_sizes(void **state) {
    (void)state;
    synth_params sp = {.n = 600, .d = D, .seed = 0, .theta_variance = 10, .rho = 0};
    dataset *ds = NULL;
    assert_int_equal(dataset_synthesize(&sp, &ds), 0);
    model *m = model_logistic_create(ds, 10.0, DTYPE_F64);
    assert_non_null(m);
    /* the reference: MALA, 200 000 iterations kept every 10th; SGLD: 500 000
     * iterations kept every 25th, so that each run's ESS is in the thousands */
    run ref = run_chain(m, "mala", 0.01, 0, 20000, 10, 1);
    double M[D], S[D];
    moments(&ref, M, S);
    const double steps[] = {1e-3, 4e-3, 1e-2};
    double dist[3], ksd[3], floor_[3], ref_ess = min_ess(&ref);
    for (size_t k = 0; k < 3; k++) {
        run r = run_chain(m, "sgld", steps[k], 60, 20000, 25, 2 + k);
        double mean[D], sd[D];
        moments(&r, mean, sd);
        dist[k] = 0;
        for (size_t j = 0; j < D; j++)
            dist[k] += ((mean[j] - M[j]) * (mean[j] - M[j]) + (sd[j] - S[j]) * (sd[j] - S[j])) /
                       (S[j] * S[j]);
        ksd[k] = run_ksd(m, &r);
        /* the distance's Monte Carlo part: E[(mean - M)^2] / S^2 ~ 1/ESS of
         * each run, the sd's about half that */
        floor_[k] = 1.5 * D * (1 / min_ess(&r) + 1 / ref_ess);
        print_message("# sgld h=%g: distance from MALA %.4f (MC floor %.4f), KSD %.4f\n", steps[k],
                      dist[k], floor_[k], ksd[k]);
        free(r.x);
    }
    double ref_ksd = run_ksd(m, &ref); /* for scale */
    print_message("# mala: KSD %.4f, ESS %.0f\n", ref_ksd, ref_ess);
    for (size_t k = 0; k + 1 < 3; k++) {
        /* the premise: bias grows with h, beyond the distances' MC error */
        assert_true(dist[k + 1] - dist[k] > 4 * (floor_[k] + floor_[k + 1]));
        assert_true(ksd[k] < ksd[k + 1]); /* and the KSD sees it */
    }
    /* (MALA's own KSD is printed for scale, not compared: at h = 1e-3 SGLD's
     * distance is within its MC floor of MALA's, and so is its KSD) */
    free(ref.x);
    model_free(m);
    dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ksd_ranks_sgld_step_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
