/* chain.h - runs Markov chains: the samplers' update loops and the pool of
 * threads that runs several chains at once.
 *
 * Randomness: chain c uses kc = fold_in(key, c). Iteration t (warmup
 * included) uses ks = fold_in(fold_in(kc, 0), t), with elements
 * (0 << 32) + j for the noise, (1 << 32) for the Metropolis uniform and
 * (2 << 32) + i for minibatch indices. The initial point "prior" draws from
 * fold_in(kc, 1). So a chain's draws depend on (spec, data, c) only: not on
 * the thread count, nor on who watches.
 */
#ifndef MCMCD_CHAIN_H
#define MCMCD_CHAIN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"

typedef enum sampler_type { SAMPLER_ULA = 0, SAMPLER_MALA, SAMPLER_SGLD } sampler_type;
typedef enum init_kind { INIT_ZEROS = 0, INIT_PRIOR, INIT_TRUE, INIT_VALUES } init_kind;

/* The largest iteration count: step counters are 32-bit fold_in data. */
#define CHAIN_MAX_ITERATIONS 4294967295ULL

typedef struct chain_config {
    sampler_type sampler;
    double step_size;     /* h in theta + h grad + sqrt(2h) xi */
    uint32_t batch_size;  /* SGLD minibatch (with replacement); 0: all rows */
    uint64_t num_samples; /* draws kept per chain, after thinning */
    uint64_t num_warmup;  /* iterations run first and discarded */
    uint64_t thin;        /* keep every thin-th iteration after warmup */
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
    uint64_t iter;       /* iterations done, warmup included */
    uint64_t total;      /* num_warmup + num_samples * thin */
    uint64_t accepted;   /* Metropolis accepts (unadjusted samplers: iter) */
    uint64_t grad_evals; /* gradient evaluations so far */
    double elapsed;      /* seconds since the chain started */
    const double *draws; /* count x d, row-major; valid during the call only */
    uint64_t first_draw; /* index of draws[0] among the chain's kept draws */
    uint32_t count;
    size_t d;
    int finished; /* 1 on the chain's last block */
} chain_block;

/* Called once per block; for different chains possibly at the same time
 * from different threads. A nonzero return stops that chain. */
typedef int (*chain_block_fn)(void *ctx, const chain_block *blk);

uint64_t chain_total_iterations(const chain_config *cfg);

/* Runs chain c to the end; checks *cancel (may be NULL) between blocks.
 * Returns MCMC_OK, MCMC_ECANCELLED or MCMC_ENOMEM. */
int chain_run(const model *m, const chain_config *cfg, uint32_t c, chain_block_fn fn, void *ctx,
              atomic_int *cancel);

/* Runs every chain of cfg on `threads` threads (0: one per core). Returns
 * the first non-OK status of any chain. */
int chains_run(const model *m, const chain_config *cfg, unsigned threads, chain_block_fn fn,
               void *ctx, atomic_int *cancel);

#endif
