/* chain.c - the samplers' update loops (ULA, MALA, SGLD) and the pool of
 * threads that runs chains. One chain owns all its state; nothing in the
 * iteration loop allocates, locks or calls back. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "errors.h"
#include "simd.h"

/* Draw buffers are capped so that huge d or progress_every stay bounded. */
#define CHAIN_BUFFER_BYTES (4u << 20)

typedef struct chain_state {
    const model *m;
    const chain_config *cfg;
    size_t d, nb;
    model_work *w;
    double *theta, *grad, *prop, *prop_grad, *noise, lp;
    uint32_t *idx;
    double *buf;
    size_t buf_rows;
    uint64_t accepted, grad_evals;
} chain_state;

uint64_t chain_total_iterations(const chain_config *cfg) {
    return cfg->num_warmup + cfg->num_samples * cfg->thin;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void chain_state_free(chain_state *s) {
    model_work_free(s->w);
    free(s->theta);
    free(s->grad);
    free(s->prop);
    free(s->prop_grad);
    free(s->noise);
    free(s->idx);
    free(s->buf);
}

/* Row threads beyond the machine's cores would only take turns: the draws do
 * not depend on the count, so it is capped there. */
static unsigned chain_row_threads(const chain_config *cfg) {
    unsigned r = cfg->row_threads ? cfg->row_threads : 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && r > (unsigned long)cores ? (unsigned)cores : r;
}

static int chain_state_init(chain_state *s, const model *m, const chain_config *cfg) {
    size_t d = model_dim(m), n = model_num_data(m);
    memset(s, 0, sizeof *s);
    s->m = m;
    s->cfg = cfg;
    s->d = d;
    s->nb = cfg->sampler == SAMPLER_SGLD && cfg->batch_size && cfg->batch_size < n ? cfg->batch_size
                                                                                   : 0;
    uint64_t per_block = (cfg->progress_every + cfg->thin - 1) / cfg->thin + 1;
    uint64_t cap = CHAIN_BUFFER_BYTES / (d * sizeof(double));
    s->buf_rows = (size_t)(per_block < cap ? per_block : (cap ? cap : 1));
    s->w = model_work_create_split(m, s->nb, chain_row_threads(cfg));
    s->theta = malloc(d * sizeof(double));
    s->grad = malloc(d * sizeof(double));
    s->prop = malloc(d * sizeof(double));
    s->prop_grad = malloc(d * sizeof(double));
    s->noise = malloc(d * sizeof(double));
    s->idx = s->nb ? malloc(s->nb * sizeof(uint32_t)) : NULL;
    s->buf = malloc(s->buf_rows * d * sizeof(double));
    if (!s->w || !s->theta || !s->grad || !s->prop || !s->prop_grad || !s->noise || !s->buf ||
        (s->nb && !s->idx)) {
        chain_state_free(s);
        return MCMC_ENOMEM;
    }
    return MCMC_OK;
}

static void chain_init_point(chain_state *s, rng_key kc, uint32_t c) {
    const chain_config *cfg = s->cfg;
    const double *src = NULL;
    switch (cfg->init) {
    case INIT_ZEROS:
        memset(s->theta, 0, s->d * sizeof(double));
        return;
    case INIT_PRIOR:
        model_draw_prior(s->m, rng_fold_in(kc, 1), s->theta);
        return;
    case INIT_TRUE:
        src = model_theta_true(s->m);
        break;
    case INIT_VALUES:
        src = cfg->init_values + (cfg->init_per_chain ? (size_t)c * s->d : 0);
        break;
    }
    if (src)
        memcpy(s->theta, src, s->d * sizeof(double));
    else
        memset(s->theta, 0, s->d * sizeof(double));
}

/* theta <- theta + h g + sqrt(2h) xi, with g the (minibatch) gradient at
 * theta: ULA over all rows, SGLD over a fresh minibatch. */
static void step_langevin(chain_state *s, rng_key ks) {
    double h = s->cfg->step_size, sd = sqrt(2 * h);
    if (s->nb) {
        rng_index_fill(ks, 2ULL << 32, (uint32_t)model_num_data(s->m), s->idx, s->nb);
        model_logp_grad_batch(s->m, s->w, s->theta, s->idx, s->nb, s->grad, 0);
    } else {
        model_logp_grad(s->m, s->w, s->theta, s->grad, 0);
    }
    simd_ops_get()->normal_fill(ks, 0, s->noise, s->d);
    for (size_t j = 0; j < s->d; j++)
        s->theta[j] += h * s->grad[j] + sd * s->noise[j];
    s->grad_evals++;
    s->accepted++;
}

/* MALA: the Langevin proposal, then a Metropolis-Hastings correction with
 * the post's q terms. s->grad and s->lp always belong to s->theta. */
static void step_mala(chain_state *s, rng_key ks) {
    double h = s->cfg->step_size, sd = sqrt(2 * h), q_new = 0, q_cur = 0;
    size_t d = s->d;
    simd_ops_get()->normal_fill(ks, 0, s->noise, d);
    for (size_t j = 0; j < d; j++) {
        s->prop[j] = s->theta[j] + h * s->grad[j] + sd * s->noise[j];
        q_new += s->noise[j] * s->noise[j]; /* |prop - theta - h g|^2 / (2h) */
    }
    double lp_prop = model_logp_grad(s->m, s->w, s->prop, s->prop_grad, 1);
    s->grad_evals++;
    for (size_t j = 0; j < d; j++) {
        double r = s->theta[j] - s->prop[j] - h * s->prop_grad[j];
        q_cur += r * r;
    }
    double log_alpha = lp_prop - s->lp - q_cur / (4 * h) + 0.5 * q_new;
    double u = rng_uniform_f64(ks, 1ULL << 32);
    if (log(u) < log_alpha) { /* false for NaN: a diverged proposal is rejected */
        double *t = s->theta;
        s->theta = s->prop, s->prop = t;
        t = s->grad;
        s->grad = s->prop_grad, s->prop_grad = t;
        s->lp = lp_prop;
        s->accepted++;
    }
}

static int chain_emit(chain_state *s, chain_block *blk, chain_block_fn fn, void *ctx, double t0) {
    blk->accepted = s->accepted;
    blk->grad_evals = s->grad_evals;
    blk->elapsed = now_seconds() - t0;
    blk->draws = s->buf;
    int stop = fn ? fn(ctx, blk) : 0;
    blk->first_draw += blk->count;
    blk->count = 0;
    return stop;
}

static int chain_loop(chain_state *s, rng_key kc, uint32_t c, chain_block_fn fn, void *ctx,
                      atomic_int *cancel) {
    const chain_config *cfg = s->cfg;
    rng_key kstep = rng_fold_in(kc, 0);
    uint64_t total = chain_total_iterations(cfg), t = 0;
    chain_block blk = {.chain = c, .total = total, .d = s->d};
    double t0 = now_seconds();
    if (cfg->sampler == SAMPLER_MALA) {
        s->lp = model_logp_grad(s->m, s->w, s->theta, s->grad, 1);
        s->grad_evals++;
    }
    while (t < total) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) return MCMC_ECANCELLED;
        uint64_t end = total - t < cfg->progress_every ? total : t + cfg->progress_every;
        for (; t < end; t++) {
            rng_key ks = rng_fold_in(kstep, (uint32_t)t);
            if (cfg->sampler == SAMPLER_MALA)
                step_mala(s, ks);
            else
                step_langevin(s, ks);
            if (t < cfg->num_warmup || (t - cfg->num_warmup + 1) % cfg->thin) continue;
            memcpy(s->buf + blk.count * s->d, s->theta, s->d * sizeof(double));
            if (++blk.count == s->buf_rows && t + 1 < end) {
                blk.iter = t + 1;
                if (chain_emit(s, &blk, fn, ctx, t0)) return MCMC_ECANCELLED;
            }
        }
        blk.iter = t;
        blk.finished = t == total;
        if (chain_emit(s, &blk, fn, ctx, t0)) return MCMC_ECANCELLED;
    }
    return MCMC_OK;
}

int chain_run(const model *m, const chain_config *cfg, uint32_t c, chain_block_fn fn, void *ctx,
              atomic_int *cancel) {
    chain_state s;
    int rc = chain_state_init(&s, m, cfg);
    if (rc != MCMC_OK) return rc;
    rng_key kc = rng_fold_in(cfg->key, c);
    chain_init_point(&s, kc, c);
    rc = chain_loop(&s, kc, c, fn, ctx, cancel);
    chain_state_free(&s);
    return rc;
}

/* --- the pool -------------------------------------------------------- */

typedef struct chain_pool {
    const model *m;
    const chain_config *cfg;
    chain_block_fn fn;
    void *ctx;
    atomic_int *cancel;
    atomic_uint next;
    atomic_int status;
} chain_pool;

static void *chain_pool_worker(void *arg) {
    chain_pool *p = arg;
    uint32_t c;
    while ((c = atomic_fetch_add(&p->next, 1)) < p->cfg->chains) {
        int rc = chain_run(p->m, p->cfg, c, p->fn, p->ctx, p->cancel);
        int ok = MCMC_OK;
        if (rc != MCMC_OK) atomic_compare_exchange_strong(&p->status, &ok, rc);
    }
    return NULL;
}

int chains_run(const model *m, const chain_config *cfg, unsigned threads, chain_block_fn fn,
               void *ctx, atomic_int *cancel) {
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n : 1;
    }
    if (threads > cfg->chains) threads = cfg->chains;
    chain_pool pool = {.m = m, .cfg = cfg, .fn = fn, .ctx = ctx, .cancel = cancel};
    atomic_init(&pool.next, 0);
    atomic_init(&pool.status, MCMC_OK);
    pthread_t *tids = calloc(threads, sizeof *tids);
    if (!tids) return MCMC_ENOMEM;
    unsigned started = 0;
    for (; started + 1 < threads; started++)
        if (pthread_create(&tids[started], NULL, chain_pool_worker, &pool) != 0) break;
    chain_pool_worker(&pool); /* the calling thread works too */
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    free(tids);
    return atomic_load(&pool.status);
}
