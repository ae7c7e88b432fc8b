/* diagnostics.h - convergence diagnostics for MCMC draws: rank-normalized
 * split R-hat (bulk and folded/tail), bulk and tail ESS, MCSE of the mean
 * and type-7 quantiles, as in Vehtari, Gelman, Simpson, Carpenter and
 * Buerkner (2021), Stan and the R package posterior.
 *
 * Input is one scalar quantity over `chains` chains of `n` draws each; draw
 * i of chain c is x[c * stride_chain + i * stride_draw]. For draws held as a
 * chains x n x d array, parameter j is (x + j, chains, n, n * d, d).
 *
 * Nothing here allocates and there is no global state: every call takes a
 * scratch buffer of diag_work_size(chains, n) doubles (about 7 chains * n
 * plus 4 FFT lengths, a power of two >= n), owned by the caller, one per
 * thread. A summary of 4 x 20000 draws takes about 20 ms on one core.
 *
 * Splitting: each chain gives two chains of floor(n/2) draws; when n is odd
 * the middle draw is left out of R-hat and ESS (as posterior does), while
 * mean, sd and the reported quantiles use every draw.
 *
 * ESS is Stan's (stan/analyze/mcmc/ess.hpp): Geyer's initial positive and
 * monotone sequence, tau >= 1/log10(S). posterior 1.4 agrees except for
 * chains that have not mixed at all (autocorrelations positive up to lag
 * N - 4), where it counts the last pair differently (a few percent of
 * ESS). Tail ESS uses type-7 q05 and q95 of the pooled split draws,
 * 1[x <= q05] and 1[x >= q95]; a side that is NaN (constant indicator) is
 * ignored, and so is a NaN side in R-hat = max(bulk, tail).
 *
 * Degenerate input is not an error; it gives NaN:
 *  - any NaN or infinite draw: R-hat, ESS and MCSE are NaN; mean and sd are
 *    the plain arithmetic results (NaN or inf); quantiles are NaN if a draw
 *    is NaN and are taken on the extended real line if draws are only inf;
 *  - all draws equal: R-hat, ESS and MCSE are NaN (sd is 0);
 *  - fewer than 2 draws per split chain (n < 4): R-hat is NaN;
 *  - fewer than 4 draws per split chain (n < 8): ESS and MCSE are NaN.
 * Every chain constant but the chains not all equal gives a huge or infinite
 * R-hat (W is 0 up to rounding).
 */
#ifndef MCMCD_DIAGNOSTICS_H
#define MCMCD_DIAGNOSTICS_H

#include <stddef.h>

typedef struct diag_summary {
    double mean, sd;      /* over all draws; sd with the n-1 divisor */
    double q05, q50, q95; /* type-7 quantiles over all draws */
    double mcse_mean;     /* sd / sqrt(ESS of the split raw draws) */
    double ess_bulk;      /* ESS of the rank-normalized split draws */
    double ess_tail;      /* min ESS of the 5% and 95% indicators */
    double rhat;          /* max(rhat_bulk, rhat_tail) */
    double rhat_bulk;     /* split R-hat of the rank-normalized draws */
    double rhat_tail;     /* the same on |x - median|: the folded R-hat */
} diag_summary;

/* Doubles of scratch every function below needs; 0 if that count would
 * overflow size_t (the functions then return MCMC_EINVAL or NaN). */
size_t diag_work_size(size_t chains, size_t n);

/* Fills *out. Returns MCMC_OK, or MCMC_EINVAL when a pointer is NULL,
 * chains or n is 0, or the sizes overflow. NaN results are not errors. */
int diag_summarize(const double *x, size_t chains, size_t n, size_t stride_chain,
                   size_t stride_draw, double *work, diag_summary *out);

/* Single diagnostics, same arguments and rules as diag_summarize; NaN for
 * invalid arguments. Each costs about as much as its part of the summary. */
double diag_rhat(const double *x, size_t chains, size_t n, size_t stride_chain, size_t stride_draw,
                 double *work);
double diag_rhat_bulk(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work);
double diag_rhat_tail(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work);
double diag_ess_bulk(const double *x, size_t chains, size_t n, size_t stride_chain,
                     size_t stride_draw, double *work);
double diag_ess_tail(const double *x, size_t chains, size_t n, size_t stride_chain,
                     size_t stride_draw, double *work);
/* ESS of the split raw draws (no ranks): the one MCSE of the mean uses. */
double diag_ess_basic(const double *x, size_t chains, size_t n, size_t stride_chain,
                      size_t stride_draw, double *work);

/* Type-7 (R's default) quantile of sorted[0..n): with h = (n-1)p,
 * sorted[floor h] + (h - floor h)(sorted[ceil h] - sorted[floor h]).
 * NaN when n is 0 or p is outside [0, 1]. */
double diag_quantile7(const double *sorted, size_t n, double p);

/* z[i] = Phi^-1((r_i - 3/8) / (s + 1/4)) where r_i is the 1-based rank of
 * x[i] among x[0..s), ties getting their average rank (Blom's offset, as
 * Stan and posterior). work holds 4s doubles; z may be x. The values must
 * not be NaN. */
void diag_rank_normalize(const double *x, size_t s, double *z, double *work);

/* E-BFMI of one chain's energies x[0], x[stride], ... (n values), as
 * Betancourt (2016) and Stan: sum_{i>=1} (E_i - E_{i-1})^2 / sum_i (E_i -
 * mean E)^2. Below 0.3 the momentum resampling explores the energy poorly.
 * NaN when n < 2, a value is not finite, or every energy is the same. No
 * scratch needed. */
double diag_ebfmi(const double *x, size_t n, size_t stride);

#endif
