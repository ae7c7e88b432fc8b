/* chain.c - the chain runner: one chain's loop over the sampler table's
 * step, warmup adaptation (adapt.c) and Stan's step-size heuristic, the
 * kept draws and statistics handed over in blocks, and the pool of threads
 * that runs chains. One chain owns all its state; nothing in the iteration
 * loop allocates, locks or calls back between blocks. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "adapt.h"
#include "chain.h"
#include "errors.h"
#include "optimize.h"
#include "simd.h"

/* Draw buffers are capped so that huge d or progress_every stay bounded. */
#define CHAIN_BUFFER_BYTES (4u << 20)
/* Stan's heuristic doubles or halves the step size at most this often. */
#define STEPSIZE_SEARCH_MAX 100

typedef struct chain_run_state {
    const chain_config *cfg;
    sampler_state s;
    metric *metric;
    adapter *adapt;
    double *vectors; /* theta, grad and buf[0..3]: 6 x d */
    double *draws, *stats, step_stats[STAT_COUNT];
    size_t buf_rows;
    unsigned stat_mask, nstats;
    int adapting;
    /* Steps ahead_t0 .. ahead_t0 + ahead_n - 1: their keys and, d at a time,
     * their noise (d <= SIMD_AHEAD_MAX_D; see step_key). */
    uint64_t ahead_t0;
    size_t ahead_n;
    rng_key ahead_keys[SIMD_AHEAD];
    double ahead_noise[SIMD_AHEAD * SIMD_AHEAD_MAX_D];
} chain_run_state;

uint64_t chain_total_iterations(const chain_config *cfg) {
    return cfg->num_warmup + cfg->num_samples * cfg->thin;
}

uint64_t chain_kept_warmup(const chain_config *cfg) {
    return cfg->save_warmup ? (cfg->num_warmup + cfg->thin - 1) / cfg->thin : 0;
}

uint64_t chain_kept_draws(const chain_config *cfg) {
    return chain_kept_warmup(cfg) + cfg->num_samples;
}

unsigned chain_config_stats(const chain_config *cfg) {
    return cfg->sampler->stats;
}

metric_kind chain_metric_kind(const chain_config *cfg) {
    if (!(cfg->sampler->flags & SAMPLER_USES_METRIC)) return METRIC_UNIT;
    return (metric_kind)sampler_param(cfg->sampler, cfg->params, "metric", METRIC_UNIT);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int chain_adapts(const chain_config *cfg) {
    const sampler_def *def = cfg->sampler;
    return (def->flags & SAMPLER_ADAPTS) && cfg->num_warmup > 0 &&
           sampler_param(def, cfg->params, "adapt_engaged", 0) != 0;
}

static void chain_state_free(chain_run_state *r) {
    model_work_free(r->s.w);
    free(r->vectors);
    free(r->s.idx);
    free(r->s.priv);
    free(r->draws);
    free(r->stats);
    metric_free(r->metric);
    adapt_free(r->adapt);
}

/* Row threads beyond the machine's cores would only take turns: the draws do
 * not depend on the count, so it is capped there. */
static unsigned chain_row_threads(const chain_config *cfg) {
    unsigned r = cfg->row_threads ? cfg->row_threads : 1;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 && r > (unsigned long)cores ? (unsigned)cores : r;
}

static adapter *chain_adapter_create(const chain_config *cfg, metric_kind kind, size_t d) {
    const sampler_def *def = cfg->sampler;
    const double *p = cfg->params;
    adapt_config ac = {
        .num_warmup = cfg->num_warmup,
        .delta = sampler_param(def, p, "adapt_delta", def->default_delta),
        .gamma = sampler_param(def, p, "adapt_gamma", 0.05),
        .kappa = sampler_param(def, p, "adapt_kappa", 0.75),
        .t0 = sampler_param(def, p, "adapt_t0", 10),
        .init_buffer = (uint64_t)sampler_param(def, p, "adapt_init_buffer", 75),
        .term_buffer = (uint64_t)sampler_param(def, p, "adapt_term_buffer", 50),
        .window = (uint64_t)sampler_param(def, p, "adapt_window", 25),
        .adapt_metric = kind != METRIC_UNIT,
        .estimator = (metric_estimator)sampler_param(def, p, "metric_adapt", ESTIMATE_STAN),
    };
    return adapt_create(&ac, kind, d);
}

/* The sampler's scratch, 64-byte aligned and zeroed; 0 or -1 on ENOMEM. */
static int chain_scratch(chain_run_state *r, size_t d) {
    const sampler_def *def = r->cfg->sampler;
    size_t bytes = def->scratch_size ? def->scratch_size(d, r->cfg->params) : 0;
    if (!bytes) return 0;
    bytes = (bytes + 63) / 64 * 64;
    if (posix_memalign(&r->s.priv, 64, bytes) != 0) return -1;
    memset(r->s.priv, 0, bytes);
    return 0;
}

static int chain_state_init(chain_run_state *r, const model *m, const chain_config *cfg) {
    const sampler_def *def = cfg->sampler;
    size_t d = model_dim(m), n = model_num_data(m);
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    r->stat_mask = def->stats;
    r->nstats = chain_stat_count(def->stats);
    r->adapting = chain_adapts(cfg);
    uint32_t batch = (uint32_t)sampler_param(def, cfg->params, "batch_size", 0);
    sampler_state *s = &r->s;
    *s = (sampler_state){.def = def, .m = m, .d = d, .n = n, .params = cfg->params};
    s->batch = (def->flags & SAMPLER_MINIBATCH) && batch && batch < n ? batch : 0;
    s->centre = cfg->centre;
    uint64_t per_block = (cfg->progress_every + cfg->thin - 1) / cfg->thin + 1;
    uint64_t cap = CHAIN_BUFFER_BYTES / ((d + r->nstats) * sizeof(double));
    r->buf_rows = (size_t)(per_block < cap ? per_block : (cap ? cap : 1));
    s->w = model_work_create_split(m, s->batch, chain_row_threads(cfg));
    r->vectors = calloc(6 * d, sizeof(double));
    s->idx = s->batch ? malloc(s->batch * sizeof(uint32_t)) : NULL;
    r->draws = malloc(r->buf_rows * d * sizeof(double));
    r->stats = malloc(r->buf_rows * (r->nstats ? r->nstats : 1) * sizeof(double));
    r->metric = metric_create(chain_metric_kind(cfg), d);
    if (r->adapting) r->adapt = chain_adapter_create(cfg, r->metric ? r->metric->kind : 0, d);
    if (!s->w || !r->vectors || (s->batch && !s->idx) || !r->draws || !r->stats || !r->metric ||
        (r->adapting && !r->adapt) || chain_scratch(r, d) != 0) {
        chain_state_free(r);
        return MCMC_ENOMEM;
    }
    s->theta = r->vectors;
    s->grad = r->vectors + d;
    for (int i = 0; i < 4; i++)
        s->buf[i] = r->vectors + (size_t)(2 + i) * d;
    s->metric = r->metric;
    if (cfg->inv_metric && metric_set(r->metric, cfg->inv_metric) != 0) {
        chain_state_free(r);
        return MCMC_EINVAL;
    }
    return MCMC_OK;
}

static void chain_init_point(chain_run_state *r, rng_key kc, uint32_t c) {
    const chain_config *cfg = r->cfg;
    sampler_state *s = &r->s;
    const double *src = NULL;
    switch (cfg->init) {
    case INIT_ZEROS:
        break;
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

static void chain_sampler_init(sampler_state *s) {
    if (s->def->init) {
        s->def->init(s);
        return;
    }
    s->lp = model_logp_grad(s->m, s->w, s->theta, s->grad, 1);
    s->grad_evals++;
}

/* Stan's init_stepsize: from the current point, double the step size while
 * one proposal's accept probability stays above 0.8, or halve it while it
 * stays below, each probe with fresh randomness from fold_in(kw, k). */
static void find_step_size(sampler_state *s, rng_key kw) {
    const double threshold = 0.8;
    double eps = s->step_size;
    if (!s->def->probe || !(eps > 0) || eps > 1e7) return;
    double a = s->def->probe(s, rng_fold_in(kw, 0));
    int up = a > threshold;
    for (uint32_t k = 1; k <= STEPSIZE_SEARCH_MAX; k++) {
        a = s->def->probe(s, rng_fold_in(kw, k));
        if (up ? !(a > threshold) : !(a < threshold)) break;
        double next = up ? 2 * eps : 0.5 * eps;
        if (!(next > 0) || next > 1e7) break; /* improper or degenerate: keep the last */
        s->step_size = eps = next;
    }
}

/* After warmup iteration t: adapts the step size, and at a window's end the
 * metric, then searches the step size again (window w's randomness). */
static void chain_adapt(chain_run_state *r, rng_key kc, uint64_t t, double *eps, uint32_t *w) {
    sampler_state *s = &r->s;
    unsigned ev =
        adapt_step(r->adapt, t, r->step_stats[STAT_ACCEPT], s->theta, s->grad, r->metric, eps);
    if (ev & ADAPT_METRIC_UPDATED && !(ev & ADAPT_FINISHED)) {
        s->step_size = *eps;
        find_step_size(s, rng_fold_in(rng_fold_in(kc, 2), ++*w));
        *eps = s->step_size;
        adapt_restart(r->adapt, *eps);
    }
}

static int point_is_finite(const chain_run_state *r) {
    const sampler_state *s = &r->s;
    for (size_t j = 0; j < s->d; j++)
        if (!isfinite(s->theta[j])) return 0;
    return !(r->stat_mask & STAT_BIT(STAT_LP)) || isfinite(s->lp);
}

/* Copies the kept point and its statistics into the block's buffers. */
static void chain_keep(chain_run_state *r, chain_block *blk) {
    const sampler_state *s = &r->s;
    memcpy(r->draws + blk->count * s->d, s->theta, s->d * sizeof(double));
    double *st = r->stats + blk->count * r->nstats;
    for (unsigned k = 0, i = 0; k < STAT_COUNT; k++)
        if (r->stat_mask & STAT_BIT(k)) st[i++] = r->step_stats[k];
    blk->count++;
}

static int chain_emit(chain_run_state *r, chain_block *blk, chain_block_fn fn, void *ctx,
                      double t0) {
    blk->accepted = r->s.accepted;
    blk->grad_evals = r->s.grad_evals;
    blk->elapsed = now_seconds() - t0;
    blk->draws = r->draws;
    blk->stats = r->stats;
    int stop = fn ? fn(ctx, blk) : 0;
    blk->first_draw += blk->count;
    blk->count = 0;
    return stop;
}

static int kept(const chain_config *cfg, uint64_t t) {
    if (t < cfg->num_warmup) return cfg->save_warmup && t % cfg->thin == 0;
    return (t - cfg->num_warmup + 1) % cfg->thin == 0;
}

/* Step t's key, rng_fold_in(kstep, t). For a small d its noise is drawn
 * with the next steps' in whole vectors (simd.h's normal_fill_ahead) and
 * handed to the step as s->step_noise: the same bits, without a pass
 * through the random-number kernels per step. */
static rng_key step_key(chain_run_state *r, rng_key kstep, uint64_t t) {
    sampler_state *s = &r->s;
    if (s->d > SIMD_AHEAD_MAX_D) return rng_fold_in(kstep, (uint32_t)t);
    if (t < r->ahead_t0 || t - r->ahead_t0 >= r->ahead_n) {
        simd_ops_get()->normal_fill_ahead(kstep, (uint32_t)t, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0),
                                          s->d, r->ahead_keys, r->ahead_noise);
        r->ahead_t0 = t, r->ahead_n = SIMD_AHEAD;
    }
    s->step_noise = r->ahead_noise + (t - r->ahead_t0) * s->d;
    s->step_noise_key = r->ahead_keys[t - r->ahead_t0];
    return s->step_noise_key;
}

/* One iteration: the step, adaptation in warmup, the divergence count. */
static void chain_iterate(chain_run_state *r, rng_key kc, rng_key kstep, uint64_t t,
                          chain_block *blk, double *eps, uint32_t *window) {
    sampler_state *s = &r->s;
    for (unsigned k = 0; k < STAT_COUNT; k++)
        r->step_stats[k] = NAN;
    s->step_size = *eps;
    s->def->step(s, step_key(r, kstep, t), r->step_stats);
    s->step_noise = NULL; /* only for that step: probes draw their own */
    if (r->step_stats[STAT_DIVERGENT] == 1) blk->divergent++;
    if (r->adapting && t < r->cfg->num_warmup) {
        chain_adapt(r, kc, t, eps, window);
        if (t + 1 == r->cfg->num_warmup) {
            blk->adapted = 1;
            blk->adapted_step_size = *eps;
            blk->adapted_metric = r->metric;
        }
    }
}

static int chain_loop(chain_run_state *r, rng_key kc, uint32_t c, chain_block_fn fn, void *ctx,
                      atomic_int *cancel) {
    const chain_config *cfg = r->cfg;
    sampler_state *s = &r->s;
    rng_key kstep = rng_fold_in(kc, 0);
    uint64_t total = chain_total_iterations(cfg), t = 0;
    chain_block blk = {
        .chain = c, .total = total, .d = s->d, .nstats = r->nstats, .nonfinite_at = UINT64_MAX};
    double t0 = now_seconds(), eps = sampler_param(cfg->sampler, cfg->params, "step_size", 0);
    uint32_t window = 0;
    chain_sampler_init(s);
    if (r->adapting) {
        s->step_size = eps;
        find_step_size(s, rng_fold_in(rng_fold_in(kc, 2), 0));
        eps = s->step_size;
        adapt_restart(r->adapt, eps);
    }
    while (t < total) {
        if (cancel && atomic_load_explicit(cancel, memory_order_relaxed)) return MCMC_ECANCELLED;
        uint64_t end = total - t < cfg->progress_every ? total : t + cfg->progress_every;
        for (; t < end; t++) {
            chain_iterate(r, kc, kstep, t, &blk, &eps, &window);
            if (t + 1 == cfg->num_warmup) blk.warmup_elapsed = now_seconds() - t0;
            int finite = point_is_finite(r), keep = kept(cfg, t);
            if (keep) chain_keep(r, &blk);
            if (!finite) {
                blk.nonfinite_at = blk.first_draw + blk.count - (keep ? 1 : 0);
                end = ++t;
                break;
            }
            if (keep && blk.count == r->buf_rows && t + 1 < end) {
                blk.iter = t + 1;
                blk.warmup = t + 1 < cfg->num_warmup;
                blk.step_size = s->step_size;
                if (chain_emit(r, &blk, fn, ctx, t0)) return MCMC_ECANCELLED;
            }
        }
        blk.iter = t;
        blk.warmup = t < cfg->num_warmup;
        blk.step_size = s->step_size;
        blk.finished = t == total || blk.nonfinite_at != UINT64_MAX;
        if (chain_emit(r, &blk, fn, ctx, t0)) return MCMC_ECANCELLED;
        if (blk.nonfinite_at != UINT64_MAX) return MCMC_ENONFINITE;
    }
    return MCMC_OK;
}

/* Whether cfg's sampler needs a centre that the spec did not give: only
 * with a minibatch (over all rows the estimate is the full gradient). */
static int chain_needs_centre(const model *m, const chain_config *cfg) {
    double batch = sampler_param(cfg->sampler, cfg->params, "batch_size", 0);
    return (cfg->sampler->flags & SAMPLER_CENTRE) && !cfg->centre && batch > 0 &&
           batch < (double)model_num_data(m);
}

/* L-BFGS, or Adam for large N with its minibatches from
 * fold_in(key, 2^32 - 1) (chain.h). */
int chain_find_centre(const model *m, const chain_config *cfg, double *centre, atomic_int *cancel) {
    optimize_options o;
    optimize_options_default(&o);
    o.key = rng_fold_in(cfg->key, UINT32_MAX);
    o.row_threads = chain_row_threads(cfg);
    o.cancel = cancel;
    optimize_result res;
    memset(centre, 0, model_dim(m) * sizeof(double));
    int rc = optimize_mode(m, &o, centre, &res);
    if (rc == MCMC_OK && res.status == OPTIMIZE_NONFINITE) rc = MCMC_ENONFINITE;
    return rc;
}

/* Runs fn(m, cfg') where cfg' is cfg with the centre found, when it needs
 * one and has none. */
typedef int (*chain_with_centre_fn)(const model *m, const chain_config *cfg, void *arg);
static int with_centre(const model *m, const chain_config *cfg, atomic_int *cancel,
                       chain_with_centre_fn fn, void *arg) {
    if (!chain_needs_centre(m, cfg)) return fn(m, cfg, arg);
    double *centre = malloc(model_dim(m) * sizeof(double));
    if (!centre) return MCMC_ENOMEM;
    int rc = chain_find_centre(m, cfg, centre, cancel);
    if (rc == MCMC_OK) {
        chain_config local = *cfg;
        local.centre = centre;
        rc = fn(m, &local, arg);
    }
    free(centre);
    return rc;
}

typedef struct chain_run_args {
    uint32_t c;
    chain_block_fn fn;
    void *ctx;
    atomic_int *cancel;
} chain_run_args;

static int chain_run_one(const model *m, const chain_config *cfg, uint32_t c, chain_block_fn fn,
                         void *ctx, atomic_int *cancel) {
    chain_run_state r;
    int rc = chain_state_init(&r, m, cfg);
    if (rc != MCMC_OK) return rc;
    rng_key kc = rng_fold_in(cfg->key, c);
    chain_init_point(&r, kc, c);
    rc = chain_loop(&r, kc, c, fn, ctx, cancel);
    chain_state_free(&r);
    return rc;
}

static int chain_run_centred(const model *m, const chain_config *cfg, void *arg) {
    const chain_run_args *a = arg;
    return chain_run_one(m, cfg, a->c, a->fn, a->ctx, a->cancel);
}

int chain_run(const model *m, const chain_config *cfg, uint32_t c, chain_block_fn fn, void *ctx,
              atomic_int *cancel) {
    chain_run_args a = {.c = c, .fn = fn, .ctx = ctx, .cancel = cancel};
    return with_centre(m, cfg, cancel, chain_run_centred, &a);
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

static int chains_run_pool(const model *m, const chain_config *cfg, unsigned threads,
                           chain_block_fn fn, void *ctx, atomic_int *cancel) {
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

typedef struct chains_run_args {
    unsigned threads;
    chain_block_fn fn;
    void *ctx;
    atomic_int *cancel;
} chains_run_args;

static int chains_run_centred(const model *m, const chain_config *cfg, void *arg) {
    const chains_run_args *a = arg;
    return chains_run_pool(m, cfg, a->threads, a->fn, a->ctx, a->cancel);
}

/* The centre, when the chains need one, is found once for all of them. */
int chains_run(const model *m, const chain_config *cfg, unsigned threads, chain_block_fn fn,
               void *ctx, atomic_int *cancel) {
    chains_run_args a = {.threads = threads, .fn = fn, .ctx = ctx, .cancel = cancel};
    return with_centre(m, cfg, cancel, chains_run_centred, &a);
}
