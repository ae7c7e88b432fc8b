/* executor_wire.h - the record of one block as a Slurm task reports it and
 * the daemon reads it, the same JSON in DIR/chain-N.progress and in the
 * body of POST /v1/jobs/{id}/blocks:
 *
 *   {"chain": 0, "iter": 2000, "accepted": 1800, "draws": 1000, ...counters,
 *    "adapt": {"step_size": 0.1, "kind": 1, "inv": BASE64} (once warmup ended),
 *    "first_draw": 900, "count": 100, "rows": BASE64, "stats": BASE64}
 *
 * rows and stats (the post only) are the block's float64 values in the
 * machine's byte order, base64: the daemon and the nodes share one. */
#ifndef MCMCD_EXECUTOR_WIRE_H
#define MCMCD_EXECUTOR_WIRE_H

#include <jansson.h>

#include "app.h"

/* The counters of chain c (and its adaptation, when ad is not NULL). */
json_t *wire_counts_json(uint32_t c, const chain_counts *k, const chain_adaptation *ad);
/* Adds the block's rows to rec: 0 or -1 (out of memory). */
int wire_add_rows(json_t *rec, const chain_block *b);
/* Reads the counters (and an adaptation, for d parameters, into *ad when
 * there is one: ad->known); 0, or -1 with why naming the field. */
int wire_counts_parse(const json_t *rec, size_t d, chain_counts *k, chain_adaptation *ad, char *why,
                      size_t cap);
/* Reads the rows of a post: first, count, and count x d values into
 * *rows, count x nstats into *stats (the caller frees both); 0, or -1 with
 * why. A record without rows gives count 0. */
int wire_rows_parse(const json_t *rec, size_t d, unsigned nstats, uint64_t *first, uint32_t *count,
                    double **rows, double **stats, char *why, size_t cap);

#endif
