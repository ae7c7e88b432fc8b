/* footprint.h - how much memory a dataset and a job hold, reckoned from
 * their shapes before anything is allocated, so that a server can refuse
 * or hold back what would not fit. One place for the arithmetic: each
 * figure follows the allocations of the file named beside it, and
 * tests/test_footprint.c checks them against what malloc really hands out.
 *
 * Every figure is in bytes and saturates at UINT64_MAX instead of
 * wrapping, so a spec with absurd sizes reads as "too large", never as
 * small. Thread stacks and the allocator's own overhead are not counted. */
#ifndef MCMCD_FOOTPRINT_H
#define MCMCD_FOOTPRINT_H

#include <stdint.h>

#include "chain.h"
#include "model.h"

/* A dataset of n rows and d columns in memory (dataset.c): X and y as
 * float64, theta_true, and room for column names. */
uint64_t footprint_dataset(uint64_t n, uint64_t d);

/* What a model built on such data adds (model_data.c, model_targets.c):
 * for the regressions y in dtype, a row-major copy of X when dtype is
 * float32 or the rows are padded, and X packed in panels when d is small;
 * for the models without data, copies of their vector and matrix
 * parameters. */
uint64_t footprint_model(const model_def *def, const model_args *args, model_dtype dtype,
                         uint64_t n, uint64_t d);

/* One running chain of cfg (chain.c, model.c): the model's work buffers
 * (minibatch copies included), the state vectors, the draw and statistics
 * buffers of one block, the metric, the adapter and the sampler's
 * scratch. dim is the model's dimension; n and d the data's shape. */
uint64_t footprint_chain(const chain_config *cfg, const model_def *def, model_dtype dtype,
                         uint64_t dim, uint64_t n, uint64_t d);

/* A job's figures, and which part is the largest. */
typedef struct footprint_job {
    uint64_t data;    /* the dataset (0 for the models without data) */
    uint64_t model;   /* footprint_model */
    uint64_t chain;   /* footprint_chain: one chain */
    uint32_t at_once; /* chains running at the same time: min(chains, workers) */
    uint64_t kept;    /* per chain, once its warmup ends: the adapted metric; names */
    uint64_t total;   /* data + model + at_once * chain + chains * kept + a fixed part */
} footprint_job;

/* The job that runs cfg with model def on n x d data (ignored for models
 * without data) on at most `workers` chains at once. */
void footprint_of_job(const model_def *def, const model_args *args, model_dtype dtype,
                      const chain_config *cfg, uint64_t n, uint64_t d, unsigned workers,
                      footprint_job *out);

/* a + b and a * b, saturating at UINT64_MAX. */
uint64_t footprint_add(uint64_t a, uint64_t b);
uint64_t footprint_mul(uint64_t a, uint64_t b);

#endif
