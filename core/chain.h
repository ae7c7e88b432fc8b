/* chain.h - runs Markov chains: the samplers' update loops and the pool of
 * threads that runs several chains at once.
 *
 * Randomness: chain c uses kc = fold_in(key, c). Iteration t (warmup
 * included) uses ks = fold_in(fold_in(kc, 0), t), with elements
 * (CHAIN_STREAM_NOISE << 32) + j for the noise or momentum, (1 << 32) + k
 * for Metropolis and multinomial uniforms, (2 << 32) + i for minibatch
 * indices, (3 << 32) + k for NUTS's directions and (4 << 32) for the step
 * size jitter. The initial point "prior" draws from fold_in(kc, 1); Stan's
 * step-size heuristic before warmup and after each metric window uses
 * fold_in(fold_in(kc, 2), w) for window w. The mode that centres the
 * control variates of SG samplers (when the spec gives no centre) is found
 * once per job, Adam's minibatches from fold_in(key, 2^32 - 1). So a
 * chain's draws depend on (spec, data, c) only: not on the thread count,
 * nor on who watches.
 *
 * The sampler is an entry of the sampler table (sampler.h); its parameters
 * travel as an array of doubles in the order of the entry's parameters.
 */
#ifndef MCMCD_CHAIN_H
#define MCMCD_CHAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"
#include "sampler.h"

/* The element streams of an iteration's key (see above). */
enum chain_stream {
    CHAIN_STREAM_NOISE = 0,
    CHAIN_STREAM_UNIFORM = 1,
    CHAIN_STREAM_INDEX = 2,
    CHAIN_STREAM_DIRECTION = 3,
    CHAIN_STREAM_JITTER = 4
};
#define CHAIN_COUNTER(stream, k) (((uint64_t)(stream) << 32) + (uint64_t)(k))

typedef enum init_kind { INIT_ZEROS = 0, INIT_PRIOR, INIT_TRUE, INIT_VALUES } init_kind;

/* The largest iteration count: step counters are 32-bit fold_in data. */
#define CHAIN_MAX_ITERATIONS 4294967295ULL

typedef struct chain_config {
    const sampler_def *sampler;
    double params[SAMPLER_MAX_PARAMS]; /* in the order of sampler->params */
    /* Warm start (samplers with a metric): the inverse metric, d values for
     * "diag" or d x d for "dense"; NULL: the unit metric. */
    const double *inv_metric;
    /* Samplers with SAMPLER_CENTRE: the control variates' centre, d values;
     * NULL: the runner finds the mode first (optimize.h, from zeros). */
    const double *centre;
    uint64_t num_samples; /* draws kept per chain, after thinning */
    uint64_t num_warmup;  /* iterations run first (adapting, when the sampler does) */
    uint64_t thin;        /* keep every thin-th iteration */
    int save_warmup;      /* keep the warmup's draws too (thinned alike), first */
    uint32_t chains;
    rng_key key;
    init_kind init;
    const double *init_values; /* INIT_VALUES: d values, or chains x d */
    int init_per_chain;
    uint32_t progress_every; /* iterations per block handed to the callback */
    uint32_t row_threads;    /* threads one chain splits its data rows over (0, 1: none;
                                at most the online CPUs); draws do not depend on it */
} chain_config;

/* What a chain hands over at the end of each block. */
typedef struct chain_block {
    uint32_t chain;
    uint64_t iter;         /* iterations done, warmup included */
    uint64_t total;        /* num_warmup + num_samples * thin */
    uint64_t accepted;     /* Metropolis accepts (samplers without an accept step: 0) */
    uint64_t grad_evals;   /* gradient evaluations so far */
    uint64_t divergent;    /* divergent iterations so far */
    double elapsed;        /* seconds since the chain started */
    double warmup_elapsed; /* seconds the warmup took (so far, while in it) */
    double step_size;      /* the step size of the block's last iteration */
    int warmup;            /* 1 while the block's last iteration was a warmup one */
    const double *draws;   /* count x d, row-major; valid during the call only */
    const double *stats;   /* count x nstats: the sampler's statistics (chain_config_stats) */
    unsigned nstats;
    uint64_t first_draw; /* index of draws[0] among the chain's kept draws (saved
                            warmup draws first) */
    uint32_t count;
    size_t d;
    /* The first kept draw whose point or lp is not finite (NaN or inf), or
     * UINT64_MAX. The chain stops after it. */
    uint64_t nonfinite_at;
    /* Set on the block that ends warmup (and every later one): the adapted
     * step size and inverse metric (d values for diag, d x d for dense, NULL
     * for unit). */
    int adapted;
    double adapted_step_size;
    const metric *adapted_metric;
    int finished; /* 1 on the chain's last block */
} chain_block;

/* Called once per block; for different chains possibly at the same time
 * from different threads. A nonzero return stops that chain. */
typedef int (*chain_block_fn)(void *ctx, const chain_block *blk);

uint64_t chain_total_iterations(const chain_config *cfg);
/* Draws kept per chain: num_samples, plus ceil(num_warmup / thin) when the
 * warmup is saved. */
uint64_t chain_kept_draws(const chain_config *cfg);
/* Of those, the warmup's (0 unless save_warmup). */
uint64_t chain_kept_warmup(const chain_config *cfg);
/* The STAT_BIT mask of statistics each kept draw carries. */
unsigned chain_config_stats(const chain_config *cfg);
/* The metric kind of cfg (METRIC_UNIT for samplers without one). */
metric_kind chain_metric_kind(const chain_config *cfg);

/* A control-variates centre (SAMPLER_CENTRE) the spec did not give: the mode, found from zeros with
 * the optimiser's defaults, into centre (model_dim values). A pure function of (model, cfg), so
 * every chain, executor and tuning grid finds the same bits. MCMC_OK, MCMC_ENONFINITE,
 * MCMC_ECANCELLED or MCMC_ENOMEM. */
int chain_find_centre(const model *m, const chain_config *cfg, double *centre, atomic_int *cancel);

/* Runs chain c to the end; checks *cancel (may be NULL) between blocks.
 * Returns MCMC_OK, MCMC_ECANCELLED, MCMC_ENOMEM, MCMC_ENONFINITE (the chain
 * went non-finite: its draws up to there were handed over) or MCMC_EINVAL
 * (an inverse metric that is not positive definite). */
int chain_run(const model *m, const chain_config *cfg, uint32_t c, chain_block_fn fn, void *ctx,
              atomic_int *cancel);

/* Runs every chain of cfg on `threads` threads (0: one per core). Returns
 * the first non-OK status of any chain. */
int chains_run(const model *m, const chain_config *cfg, unsigned threads, chain_block_fn fn,
               void *ctx, atomic_int *cancel);

#endif
