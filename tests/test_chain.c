/* test_chain.c - the chain runner's contract: draws independent of the
 * thread count, blocks that tile each chain exactly, warmup and thinning
 * accounting, initial points, cancellation within one block, and SGLD
 * with a full batch being exactly ULA. */
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
#include "test_util.h"

/* Collects every chain's draws into one chains x samples x d array and
 * checks that blocks arrive in order and tile the chain. */
typedef struct collector {
    pthread_mutex_t lock;
    const chain_config *cfg;
    size_t d;
    double *draws;
    uint64_t *next;   /* per chain: the first_draw expected next */
    uint64_t *blocks; /* per chain */
    int *finished;
    atomic_int *cancel_after_first; /* when set: cancel at the first block */
    uint64_t last_iter;
} collector;

static int collect(void *ctx, const chain_block *b) {
    collector *c = ctx;
    pthread_mutex_lock(&c->lock);
    assert_int_equal(b->first_draw, c->next[b->chain]);
    assert_int_equal(b->total, chain_total_iterations(c->cfg));
    assert_false(c->finished[b->chain]);
    memcpy(c->draws + (b->chain * c->cfg->num_samples + b->first_draw) * c->d, b->draws,
           b->count * c->d * sizeof(double));
    c->next[b->chain] += b->count;
    c->blocks[b->chain]++;
    c->finished[b->chain] = b->finished;
    c->last_iter = b->iter;
    if (c->cancel_after_first) atomic_store(c->cancel_after_first, 1);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

static collector *collector_new(const chain_config *cfg, size_t d) {
    collector *c = calloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    c->cfg = cfg;
    c->d = d;
    c->draws = calloc(cfg->chains * cfg->num_samples * d, sizeof(double));
    c->next = calloc(cfg->chains, sizeof(uint64_t));
    c->blocks = calloc(cfg->chains, sizeof(uint64_t));
    c->finished = calloc(cfg->chains, sizeof(int));
    return c;
}

static void collector_free(collector *c) {
    free(c->draws), free(c->next), free(c->blocks), free(c->finished);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static dataset *test_data(void) {
    dataset *ds = NULL;
    synth_params p = {.n = 300, .d = 4, .seed = 1, .theta_variance = 10};
    assert_int_equal(dataset_synthesize(&p, &ds), 0);
    return ds;
}

/* Every sampler of the table, step size 2e-3 (SGLD and the other minibatch
 * samplers: batches of 30; NUTS and HMC: trajectories of at most 7 and 4
 * steps; SGHMC: 2 momentum steps). */
static chain_config base_config(const char *sampler) {
    chain_config cfg = {.num_samples = 250,
                        .num_warmup = 50,
                        .thin = 2,
                        .chains = 4,
                        .key = rng_key_from_seed(9),
                        .init = INIT_PRIOR,
                        .progress_every = 64};
    test_use_sampler(&cfg, sampler, 2e-3);
    if (cfg.sampler->flags & SAMPLER_MINIBATCH) test_set_param(&cfg, "batch_size", 30);
    /* short trajectories: these tests are about bits, not mixing */
    if (sampler_param_index(cfg.sampler, "max_tree_depth") >= 0)
        test_set_param(&cfg, "max_tree_depth", 3);
    if (sampler_param_index(cfg.sampler, "num_steps") >= 0) test_set_param(&cfg, "num_steps", 4);
    if (sampler_param_index(cfg.sampler, "leapfrog_steps") >= 0)
        test_set_param(&cfg, "leapfrog_steps", 2);
    return cfg;
}

static void test_threads_do_not_change_draws(void **state) {
    (void)state;
    dataset *ds = test_data();
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    for (const sampler_def *const *s = sampler_table; *s; s++) {
        chain_config cfg = base_config((*s)->name);
        collector *a = collector_new(&cfg, 4), *b = collector_new(&cfg, 4);
        assert_int_equal(chains_run(m, &cfg, 1, collect, a, NULL), MCMC_OK);
        assert_int_equal(chains_run(m, &cfg, 2, collect, b, NULL), MCMC_OK);
        size_t bytes = cfg.chains * cfg.num_samples * 4 * sizeof(double);
        assert_memory_equal(a->draws, b->draws, bytes);
        /* the chains differ from each other */
        assert_memory_not_equal(a->draws, a->draws + cfg.num_samples * 4, 4 * sizeof(double));
        for (uint32_t c = 0; c < cfg.chains; c++) {
            assert_int_equal(a->next[c], cfg.num_samples);
            assert_true(a->finished[c]);
            /* 50 + 500 iterations in blocks of 64: 9 blocks */
            assert_int_equal(a->blocks[c], 9);
        }
        collector_free(a), collector_free(b);
    }
    model_free(m), dataset_free(ds);
}

/* A chain that splits its rows over 1, 2 or 3 threads draws the same bits,
 * on the panel layout (N = 5000, d = 4: three segments) and the row-major
 * one (d = 100: ten blocks of rows), for every sampler. */
static void test_row_threads_do_not_change_draws(void **state) {
    (void)state;
    size_t shapes[2][2] = {{5000, 4}, {300, 100}};
    for (int k = 0; k < 2; k++) {
        size_t n = shapes[k][0], d = shapes[k][1];
        dataset *ds = NULL;
        synth_params p = {.n = n, .d = d, .seed = 3, .theta_variance = 1};
        assert_int_equal(dataset_synthesize(&p, &ds), 0);
        model *m = model_logistic_create(ds, 10, DTYPE_F32);
        for (const sampler_def *const *s = sampler_table; *s; s++) {
            chain_config cfg = base_config((*s)->name);
            cfg.chains = 2, cfg.num_samples = 40, cfg.num_warmup = 10;
            test_set_param(&cfg, "step_size", 1e-4);
            if ((*s)->flags & SAMPLER_MINIBATCH) test_set_param(&cfg, "batch_size", (double)n / 2);
            collector *a = collector_new(&cfg, d);
            assert_int_equal(chains_run(m, &cfg, 1, collect, a, NULL), MCMC_OK);
            for (uint32_t rt = 2; rt <= 3; rt++) {
                cfg.row_threads = rt;
                collector *b = collector_new(&cfg, d);
                assert_int_equal(chains_run(m, &cfg, 2, collect, b, NULL), MCMC_OK);
                assert_memory_equal(a->draws, b->draws, 2 * 40 * d * sizeof(double));
                collector_free(b);
            }
            collector_free(a);
        }
        model_free(m), dataset_free(ds);
    }
}

/* Draw buffers are capped at 4 MiB: with d = 20000 one block of 64
 * iterations is handed over in pieces, and the pieces still tile. */
static void test_buffer_cap_splits_blocks(void **state) {
    (void)state;
    size_t d = 20000;
    dataset *ds = NULL;
    synth_params p = {.n = 40, .d = d, .seed = 2, .theta_variance = 10};
    assert_int_equal(dataset_synthesize(&p, &ds), 0);
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    chain_config cfg = base_config("ula");
    cfg.chains = 1, cfg.num_warmup = 0, cfg.thin = 1, cfg.num_samples = 70;
    cfg.progress_every = 64;
    collector *c = collector_new(&cfg, d);
    assert_int_equal(chains_run(m, &cfg, 1, collect, c, NULL), MCMC_OK);
    /* 4 MiB / (8 * 20000) = 26 draws per buffer: 64 = 26 + 26 + 12, then 6 */
    assert_int_equal(c->blocks[0], 4);
    assert_int_equal(c->next[0], 70);
    collector_free(c), model_free(m), dataset_free(ds);
}

static void test_init_points(void **state) {
    (void)state;
    dataset *ds = test_data();
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    double init[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    chain_config cfg = base_config("mala");
    cfg.chains = 2, cfg.num_warmup = 0, cfg.thin = 1, cfg.num_samples = 1;
    test_set_param(&cfg, "step_size", 1e-12); /* tiny steps: the first draw sits at the start */
    cfg.init = INIT_VALUES, cfg.init_values = init, cfg.init_per_chain = 1;
    collector *c = collector_new(&cfg, 4);
    assert_int_equal(chains_run(m, &cfg, 1, collect, c, NULL), MCMC_OK);
    for (int k = 0; k < 8; k++)
        assert_true(fabs(c->draws[k] - init[k]) < 1e-4);
    collector_free(c);
    cfg.init = INIT_TRUE;
    c = collector_new(&cfg, 4);
    assert_int_equal(chains_run(m, &cfg, 1, collect, c, NULL), MCMC_OK);
    for (int k = 0; k < 4; k++)
        assert_true(fabs(c->draws[k] - ds->theta_true[k]) < 1e-4);
    assert_true(fabs(c->draws[4] - ds->theta_true[0]) < 1e-4);
    collector_free(c);
    model_free(m), dataset_free(ds);
}

/* Cancel from the first block: each chain stops before its next block, so
 * it ran exactly one block of progress_every iterations. */
static void test_cancel(void **state) {
    (void)state;
    dataset *ds = test_data();
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    chain_config cfg = base_config("ula");
    cfg.chains = 1, cfg.num_samples = 1000000, cfg.thin = 1, cfg.num_warmup = 0;
    cfg.progress_every = 100;
    atomic_int cancel = 0;
    collector *c = collector_new(&(chain_config){.chains = 1, .num_samples = 100}, 4);
    c->cfg = &cfg;
    free(c->draws);
    c->draws = calloc(cfg.num_samples * 4, sizeof(double));
    c->cancel_after_first = &cancel;
    assert_int_equal(chains_run(m, &cfg, 1, collect, c, &cancel), MCMC_ECANCELLED);
    assert_int_equal(c->blocks[0], 1);
    assert_int_equal(c->last_iter, 100);
    assert_int_equal(c->next[0], 100);
    assert_false(c->finished[0]);
    collector_free(c), model_free(m), dataset_free(ds);
}

/* SGLD whose batch covers the data uses the full gradient: ULA's draws. */
static void test_sgld_full_batch_is_ula(void **state) {
    (void)state;
    dataset *ds = test_data();
    model *m = model_logistic_create(ds, 10, DTYPE_F64);
    chain_config u = base_config("ula"), s = base_config("sgld");
    test_set_param(&s, "batch_size", 300);
    collector *a = collector_new(&u, 4), *b = collector_new(&s, 4);
    assert_int_equal(chains_run(m, &u, 2, collect, a, NULL), MCMC_OK);
    assert_int_equal(chains_run(m, &s, 2, collect, b, NULL), MCMC_OK);
    assert_memory_equal(a->draws, b->draws, u.chains * u.num_samples * 4 * sizeof(double));
    collector_free(a), collector_free(b), model_free(m), dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_do_not_change_draws),
        cmocka_unit_test(test_row_threads_do_not_change_draws),
        cmocka_unit_test(test_buffer_cap_splits_blocks),
        cmocka_unit_test(test_init_points),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_sgld_full_batch_is_ula),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
