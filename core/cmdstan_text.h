/* cmdstan_text.h - the comment blocks of a CmdStan CSV file, so that tools
 * that read CmdStan's output (rstan::read_stan_csv, cmdstanpy, ArviZ,
 * posterior with read.csv) read ours:
 *   - the prologue: CmdStan's argument tree (num_samples, num_warmup,
 *     save_warmup, thin, adapt, algorithm, engine, metric, stepsize, id,
 *     seed), then every parameter of our sampler by its own name;
 *   - the adaptation block that follows the warmup rows: "# Adaptation
 *     terminated", "# Step size = X" and the inverse metric (diagonal: one
 *     line "# v1, v2, ..."; dense: one line per row);
 *   - the timing block at the end: "#  Elapsed Time: X seconds (Warm-up)".
 * Each block is whole lines, every one starting with '#'. The header and
 * the rows between them are draws_format.h's.
 *
 * CmdStan's num_samples counts iterations, ours kept draws: the prologue
 * writes num_samples x thin, so that a reader's kept count (1 + (iter -
 * warmup - 1) / thin) is ours.
 */
#ifndef MCMCD_CMDSTAN_TEXT_H
#define MCMCD_CMDSTAN_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include "chain.h"
#include "metric.h"

/* A chain's step size and inverse metric once its warmup ended (or those
 * it ran with, when it did not adapt). */
typedef struct chain_adaptation {
    int known; /* 0: not yet (the chain is still in warmup) */
    double step_size;
    metric_kind kind; /* METRIC_UNIT: inv is NULL */
    size_t d;
    double *inv; /* DIAG: d values; DENSE: d x d row-major; owned */
} chain_adaptation;

/* Copies a block's adaptation (b->adapted must be set) into *out, which
 * owns a new inv. MCMC_OK or MCMC_ENOMEM. */
int chain_adaptation_from_block(chain_adaptation *out, const chain_block *b);
/* Values in inv: 0, d or d x d. */
size_t chain_adaptation_values(const chain_adaptation *a);
void chain_adaptation_clear(chain_adaptation *a);

/* Each returns a NUL-terminated malloc'd text, or NULL on ENOMEM. */

/* chain is 0-based; CmdStan's id is chain + 1. */
char *cmdstan_prologue(const chain_config *cfg, const char *model_name, uint32_t chain);
/* The adaptation block for a. */
char *cmdstan_adaptation(const chain_adaptation *a);
char *cmdstan_timing(double warmup_seconds, double sampling_seconds);

#endif
