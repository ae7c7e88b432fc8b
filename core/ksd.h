/* ksd.h - the kernel Stein discrepancy (Gorham & Mackey 2017) with the
 * inverse multiquadric kernel k(x, y) = (c^2 + |x - y|^2)^beta, c = 1,
 * beta = -1/2: a measure of how far draws x_1..x_n are from the target,
 * read from the draws and the target's score s(x) = grad log p(x) alone,
 * so it sees the bias of a sampler without an exact reference run.
 *
 *   KSD = sqrt(sum_{i,j} k0(x_i, x_j)) / n   (the V-statistic, as SGMCMCJax)
 *   k0(x, y) = s(x).s(y) k + s(x).grad_y k + s(y).grad_x k + tr(grad_x grad_y k)
 *
 * It is quadratic in n, so callers thin the draws first (ksd_subset_*): at
 * most max_draws draws, the same number from every chain, evenly spaced
 * through each. The sum runs on a team of threads; every row's partial sum
 * is added in a fixed order, so the value does not depend on the thread
 * count.
 */
#ifndef MCMCD_KSD_H
#define MCMCD_KSD_H

#include <stddef.h>

#include "model.h"

/* The default bound on the draws a KSD is computed from. */
#define KSD_DEFAULT_MAX_DRAWS 1000
/* The largest bound accepted (4000^2 / 2 kernel evaluations). */
#define KSD_MAX_DRAWS 4000

/* Draws taken from each of `chains` chains of `rows` draws so that the
 * subset holds at most max_draws: min(rows, max(1, max_draws / chains)). */
size_t ksd_subset_per_chain(size_t chains, size_t rows, size_t max_draws);
/* The row of a chain's k-th subset draw, 0 <= k < per_chain: the middle of
 * the k-th of per_chain equal stretches, floor((2k + 1) rows / (2 per_chain)). */
size_t ksd_subset_row(size_t rows, size_t per_chain, size_t k);

/* The V-statistic KSD of n draws x (n x d, row-major) with scores s (n x d),
 * on `threads` threads (0 or 1: the caller's alone). NaN when n == 0, when
 * a value is not finite, or when threads cannot be had. */
double ksd_imq(const double *x, const double *s, size_t n, size_t d, unsigned threads);

/* The scores of n draws under m (its full-data gradient), into s (n x d).
 * Returns 0, or -1 when memory or threads cannot be had. */
int ksd_scores(const model *m, const double *x, size_t n, double *s, unsigned threads);

/* ksd_scores then ksd_imq, into *out. Returns 0 or -1 (ENOMEM). */
int ksd_of_draws(const model *m, const double *x, size_t n, unsigned threads, double *out);

#endif
