/* test_diagnostics.c - R-hat, ESS, MCSE and quantiles (core/diagnostics.c).
 *
 * Three kinds of checks:
 *  - exact values: hand-computed quantiles, moments and ranks, and values
 *    printed by the R package posterior 1.4.0 (Debian r-cran-posterior) on
 *    small chains that R and C generate bit for bit alike;
 *  - Monte Carlo behaviour on chains with known properties (independent
 *    normals, AR(1), shifted or stretched chains), from a generator kept in
 *    this file and fixed seeds. Each tolerance was set from the spread of
 *    the statistic over 300-400 seeds (1000, 1001, ...) of this very
 *    generator, run once outside the suite; the comments give the mean and
 *    sd found there, and every bound sits at least 4 sd from the mean;
 *  - layout, degenerate input and argument errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "diagnostics.h"
#include "test_random.h"
#include "errors.h"
#include "rng.h"

/* ------------------------------------------------------------- helpers */

/* chains x n draws of stationary AR(1) y_t = rho y_{t-1} + sqrt(1-rho^2) e_t
 * (rho = 0: independent N(0,1)), chain c then scaled by scale[c] and shifted
 * by shift[c] (NULL: 1 and 0). */
static double *ar1_chains(size_t chains, size_t n, double rho, const double *scale,
                          const double *shift, uint64_t seed) {
    double *x = malloc(chains * n * sizeof *x), k = sqrt(1.0 - rho * rho);
    assert_non_null(x);
    for (size_t c = 0; c < chains; c++) {
        double y = std_normal(&seed);
        for (size_t i = 0; i < n; i++) {
            if (i > 0) y = rho * y + k * std_normal(&seed);
            x[c * n + i] = (scale ? scale[c] : 1.0) * y + (shift ? shift[c] : 0.0);
        }
    }
    return x;
}

/* Chains that R rebuilds exactly (every step is one IEEE operation):
 * s <- 75 s mod 65537 from 12345 + c, y <- 0.5 y + (s/65537 - 0.5), and
 * mode 0: y; mode 1: floor(4y)/4 (many ties); mode 2: y + 0.1 c. */
static double *lcg_chains(size_t chains, size_t n, int mode) {
    double *x = malloc(chains * n * sizeof *x);
    assert_non_null(x);
    for (size_t c = 0; c < chains; c++) {
        double s = 12345.0 + (double)c, y = 0.0;
        for (size_t i = 0; i < n; i++) {
            s = fmod(75.0 * s, 65537.0);
            y = 0.5 * y + (s / 65537.0 - 0.5);
            x[c * n + i] = mode == 1 ? floor(y * 4.0) / 4.0 : mode == 2 ? y + 0.1 * (double)c : y;
        }
    }
    return x;
}

static double *work_for(size_t chains, size_t n) {
    size_t k = diag_work_size(chains, n);
    assert_true(k > 0);
    double *w = malloc(k * sizeof *w);
    assert_non_null(w);
    return w;
}

static diag_summary summarize(const double *x, size_t chains, size_t n) {
    double *w = work_for(chains, n);
    diag_summary s;
    assert_int_equal(diag_summarize(x, chains, n, n, 1, w, &s), MCMC_OK);
    free(w);
    return s;
}

#define assert_rel(got, want, tol)                                                                 \
    do {                                                                                           \
        double g_ = (got), w_ = (want);                                                            \
        if (!(fabs(g_ - w_) <= (tol)*fabs(w_)))                                                    \
            fail_msg("%s = %.17g, want %.17g within %g relative", #got, g_, w_, (double)(tol));    \
    } while (0)

#define assert_between(got, lo, hi)                                                                \
    do {                                                                                           \
        double g_ = (got);                                                                         \
        if (!(g_ >= (lo) && g_ <= (hi)))                                                           \
            fail_msg("%s = %.17g, want in [%g, %g]", #got, g_, (double)(lo), (double)(hi));        \
    } while (0)

/* ------------------------------------------------------- exact values */

static void test_quantile7_by_hand(void **state) {
    (void)state;
    /* h = (n-1)p on {1,2,3,4,10}; R's quantile(type = 7) agrees. */
    const double v[] = {1, 2, 3, 4, 10};
    assert_true(diag_quantile7(v, 5, 0.0) == 1.0);
    assert_rel(diag_quantile7(v, 5, 0.1), 1.4, 1e-15);  /* h = 0.4 */
    assert_true(diag_quantile7(v, 5, 0.25) == 2.0);     /* h = 1 */
    assert_true(diag_quantile7(v, 5, 0.5) == 3.0);      /* h = 2 */
    assert_rel(diag_quantile7(v, 5, 0.95), 8.8, 1e-15); /* h = 3.8: 4 + 0.8 * 6 */
    assert_true(diag_quantile7(v, 5, 1.0) == 10.0);
    assert_true(diag_quantile7(v, 1, 0.7) == 1.0);
    assert_true(isnan(diag_quantile7(v, 0, 0.5)));
    assert_true(isnan(diag_quantile7(v, 5, -0.1)));
    assert_true(isnan(diag_quantile7(v, 5, 1.1)));
    const double inf[] = {1, INFINITY, INFINITY};
    assert_true(diag_quantile7(inf, 3, 0.75) == INFINITY); /* not inf - inf */
}

static void test_moments_and_quantiles_exact(void **state) {
    (void)state;
    /* 1..8 as two chains: mean 4.5, var 42/7 = 6; q = 1 + 7p. */
    const double x[] = {1, 2, 3, 4, 5, 6, 7, 8};
    diag_summary s = summarize(x, 2, 4);
    assert_true(s.mean == 4.5);
    assert_rel(s.sd, sqrt(6.0), 1e-15);
    assert_rel(s.q05, 1.35, 1e-15);
    assert_true(s.q50 == 4.5);
    assert_rel(s.q95, 7.65, 1e-15);
    assert_true(isnan(s.ess_bulk));                /* 2 draws a split chain: no ESS */
    assert_true(isfinite(s.rhat) && s.rhat > 1.5); /* but R-hat, and far apart */
}

static void test_rank_normalize_ties(void **state) {
    (void)state;
    /* Sorted: 0 1 2 3 3 3, so the ranks are 5 2 5 3 5 1 (the 3s share
     * (4 + 5 + 6) / 3); z = Phi^-1((r - 3/8) / (6 + 1/4)). */
    const double x[] = {3, 1, 3, 2, 3, 0};
    const double rank[] = {5, 2, 5, 3, 5, 1};
    double z[6], work[24];
    diag_rank_normalize(x, 6, z, work);
    for (int i = 0; i < 6; i++)
        assert_true(z[i] == normal_quantile((rank[i] - 0.375) / 6.25));
    assert_true(z[0] > 0.0 && z[5] < 0.0 && z[1] < z[3]);

    /* All tied: average rank 2.5, p = 2.125 / 4.25 = 1/2, z = 0; in place. */
    double t[] = {7, 7, 7, 7};
    diag_rank_normalize(t, 4, t, work);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(t[i]) < 1e-15);

    /* -0.0 and +0.0 are one value: average rank 1.5 each. */
    const double zeros[] = {0.0, -0.0, 5.0};
    diag_rank_normalize(zeros, 3, z, work);
    assert_true(z[0] == z[1] && z[0] == normal_quantile((1.5 - 0.375) / 3.25));
}

/* Values from posterior 1.4.0 on the same draws, e.g. for mode 0:
 *   x <- (the chains of lcg_chains as an iterations x chains matrix)
 *   rhat(x); ess_bulk(x); ess_tail(x); mcse_mean(x); ess_mean(x)
 *   .rhat(z_scale(.split_chains(x))); .rhat(z_scale(.split_chains(fold_draws(x))))
 * Only summation order and FFT rounding (~1e-13) may differ, so 1e-9 is a
 * loose bound that any change of algorithm would still break. */
static void test_matches_posterior_mixed(void **state) {
    (void)state;
    double *x = lcg_chains(4, 100, 0);
    diag_summary s = summarize(x, 4, 100);
    assert_rel(s.mean, -0.026996972834893676, 1e-12);
    assert_rel(s.sd, 0.31567459545523946, 1e-12);
    assert_rel(s.q05, -0.56001583262197008, 1e-12);
    assert_rel(s.q50, -0.016709836116753224, 1e-12);
    assert_rel(s.q95, 0.47717018318757309, 1e-12);
    assert_rel(s.rhat, 1.0176852293725964, 1e-9);
    assert_rel(s.rhat_bulk, 1.0176852293725964, 1e-9);
    assert_rel(s.rhat_tail, 1.0038098815560441, 1e-9);
    assert_rel(s.ess_bulk, 130.24337807617093, 1e-9);
    assert_rel(s.ess_tail, 159.38435472894179, 1e-9);
    assert_rel(s.mcse_mean, 0.027031221729286181, 1e-9);
    double *w = work_for(4, 100);
    assert_rel(diag_ess_basic(x, 4, 100, 100, 1, w), 136.37912989185668, 1e-9);
    free(w);
    free(x);
}

/* Odd n (the middle draw leaves the split chains but not the moments or
 * quantiles) and only 6 distinct values, so ranks are mostly ties. The
 * tail ESS is the reference's (quantiles of the split draws, >= for the
 * upper tail); posterior 1.4.0 gives 54.674211129239396 here too. */
static void test_matches_posterior_ties_odd(void **state) {
    (void)state;
    double *x = lcg_chains(3, 51, 1);
    diag_summary s = summarize(x, 3, 51);
    assert_rel(s.mean, -0.16993464052287582, 1e-12);
    assert_rel(s.sd, 0.3162974464762604, 1e-12);
    assert_true(s.q05 == -0.75 && s.q50 == -0.25 && s.q95 == 0.25);
    assert_rel(s.rhat, 1.0019947493617805, 1e-9);
    assert_rel(s.rhat_bulk, 1.0019947493617805, 1e-9);
    assert_rel(s.rhat_tail, 1.0001260444461779, 1e-9);
    assert_rel(s.ess_bulk, 57.545510019906985, 1e-9);
    assert_rel(s.ess_tail, 54.674211129239438, 1e-9);
    assert_rel(s.mcse_mean, 0.041387109346357163, 1e-9);
    free(x);
}

/* Chains offset by 0.1 c have not mixed: every autocorrelation pair stays
 * positive up to lag N - 4. There Stan's ess.hpp (which the reference and
 * this code follow) and posterior 1.4.0 differ in how the last pair
 * counts: posterior gives ESS bulk 27.324689238943602 and basic
 * 27.559332106338086. The values below are Stan's loop run in R on
 * posterior's autocovariances; R-hat is posterior's own. */
static void test_matches_stan_unmixed(void **state) {
    (void)state;
    double *x = lcg_chains(4, 100, 2);
    diag_summary s = summarize(x, 4, 100);
    assert_rel(s.rhat, 1.1442177620593488, 1e-9);
    assert_rel(s.rhat_tail, 1.0026143413561455, 1e-9);
    assert_rel(s.ess_bulk, 26.903549564015673, 1e-9);
    assert_rel(s.ess_tail, 90.421381657414713, 1e-9);
    double *w = work_for(4, 100);
    assert_rel(diag_ess_basic(x, 4, 100, 100, 1, w), 27.133618503125739, 1e-9);
    free(w);
    free(x);
}

/* ---------------------------------------------------- Monte Carlo cases */

static void test_iid_normal(void **state) {
    (void)state;
    /* 4 x 2000 independent N(0,1), S = 8000. Over 400 seeds: R-hat mean
     * 1.0001, sd 0.00026 (so +-0.005 is ~19 sd); ESS_bulk / S mean 0.986,
     * sd 0.030, and ESS_tail / S mean 0.972, sd 0.030 with a longer lower
     * tail (min 0.81), hence [0.85, 1.15] for bulk (4.5 sd below) and
     * [0.80, 1.15] for tail (5.7 sd below); a missing split or a wrong
     * chain count moves these by factors of 2. MCSE / (sd / sqrt(S)) mean
     * 1.007, sd 0.016: +-10% is 6 sd. */
    double *x = ar1_chains(4, 2000, 0.0, NULL, NULL, 1);
    diag_summary s = summarize(x, 4, 2000);
    assert_between(s.rhat, 0.995, 1.005);
    assert_between(s.rhat_bulk, 0.995, 1.005);
    assert_between(s.rhat_tail, 0.995, 1.005);
    assert_between(s.ess_bulk / 8000.0, 0.85, 1.15);
    assert_between(s.ess_tail / 8000.0, 0.80, 1.15);
    assert_between(s.mcse_mean / (s.sd / sqrt(8000.0)), 0.90, 1.10);
    /* Mean 0 and sd 1 within 5 standard errors: 5/sqrt(8000) = 0.056, and
     * sd's standard error is about 1/sqrt(2 * 8000) = 0.0079. */
    assert_between(s.mean, -0.056, 0.056);
    assert_between(s.sd, 1.0 - 0.04, 1.0 + 0.04);
    free(x);
}

static void test_ar1_bulk_ess(void **state) {
    (void)state;
    /* rho = 0.9: the integrated autocorrelation time is (1+rho)/(1-rho) =
     * 19, so ESS = 4 * 50000 / 19 = 10526.3 for the mean, and the same for
     * the ranks of a Gaussian chain. Over 300 seeds of 4 x 50000:
     * ESS_bulk / theory mean 0.996, sd 0.032, so +-15% is 4.6 sd. (At
     * 4 x 4000 the sd is 0.10: too wide to test against; the reference saw
     * 390 vs 421 at 4 x 2000.) ESS_basic behaves the same, and MCSE /
     * (sd / sqrt(theory)) has mean 1.002 and sd 0.016: +-10% is 6 sd. */
    const size_t n = 50000;
    const double theory = 4.0 * (double)n * (1.0 - 0.9) / (1.0 + 0.9);
    double *x = ar1_chains(4, n, 0.9, NULL, NULL, 2);
    double *w = work_for(4, n);
    diag_summary s = summarize(x, 4, n);
    assert_between(s.ess_bulk / theory, 0.85, 1.15);
    assert_between(diag_ess_basic(x, 4, n, n, 1, w) / theory, 0.85, 1.15);
    assert_between(s.mcse_mean / (s.sd / sqrt(theory)), 0.90, 1.10);
    /* Mixed chains: R-hat mean 1.0004, sd 0.0002. */
    assert_true(s.rhat < 1.01);
    free(w);
    free(x);
}

static void test_shifted_chain_rhat(void **state) {
    (void)state;
    /* One of four chains of 1000 N(0,1) draws shifted by 1 sd. Over 400
     * seeds R-hat has mean 1.100 and sd 0.008: 1.05 is 6 sd below. The
     * bulk ESS collapses too (mean 26 of 4000 draws). */
    const double shift[] = {1.0, 0.0, 0.0, 0.0};
    double *x = ar1_chains(4, 1000, 0.0, NULL, shift, 3);
    diag_summary s = summarize(x, 4, 1000);
    assert_true(s.rhat > 1.05);
    assert_true(s.rhat_bulk > 1.05);
    assert_true(s.ess_bulk < 400.0); /* max over 400 seeds: 34 */
    free(x);
}

static void test_tail_problem_needs_folding(void **state) {
    (void)state;
    /* Equal means, but one chain has sd 3: only |x - median| tells. Over
     * 400 seeds of 4 x 1000: bulk R-hat mean 0.99998, sd 0.0007 (so < 1.01
     * is 15 sd away); folded R-hat mean 1.145, sd 0.010 (> 1.05 is 9 sd).
     * The tail ESS sees it as well: mean 34 of 4000, bulk mean 3900. */
    const double scale[] = {3.0, 1.0, 1.0, 1.0};
    double *x = ar1_chains(4, 1000, 0.0, scale, NULL, 4);
    diag_summary s = summarize(x, 4, 1000);
    assert_true(s.rhat_bulk < 1.01);
    assert_true(s.rhat_tail > 1.05);
    assert_true(s.rhat == s.rhat_tail);
    assert_true(s.ess_tail < 0.1 * s.ess_bulk);
    double *w = work_for(4, 1000);
    assert_true(diag_rhat_bulk(x, 4, 1000, 1000, 1, w) == s.rhat_bulk);
    assert_true(diag_rhat_tail(x, 4, 1000, 1000, 1, w) == s.rhat_tail);
    free(w);
    free(x);
}

static void test_ess_cap_antithetic(void **state) {
    (void)state;
    /* rho = -0.95 is so antithetic that tau = 0.05/1.95 would give ESS =
     * 39 S; the floor tau >= 1/log10(S) caps it at exactly S log10 S
     * (every one of 400 seeds hit the cap). */
    double *x = ar1_chains(4, 2000, -0.95, NULL, NULL, 5);
    double *w = work_for(4, 2000);
    const double cap = 8000.0 * log10(8000.0);
    diag_summary s = summarize(x, 4, 2000);
    assert_rel(s.ess_bulk, cap, 1e-12);
    assert_rel(diag_ess_basic(x, 4, 2000, 2000, 1, w), cap, 1e-12);
    free(w);
    free(x);
}

/* ------------------------------------------------- layout and edge cases */

static void assert_same_summary(const diag_summary *a, const diag_summary *b) {
    const double *p = &a->mean, *q = &b->mean;
    for (size_t i = 0; i < sizeof *a / sizeof(double); i++)
        assert_true(p[i] == q[i] || (isnan(p[i]) && isnan(q[i])));
}

static void test_stride_matches_contiguous(void **state) {
    (void)state;
    /* The daemon's layout: chains x n x d, parameter j at (x + j, n d, d).
     * An odd n exercises the dropped middle draw. */
    enum { C = 3, N = 301, D = 4 };
    double *src = ar1_chains(C * D, N, 0.7, NULL, NULL, 6); /* (C D) x N */
    double *x = malloc(C * N * D * sizeof *x), *flat = malloc(C * N * sizeof *flat);
    assert_non_null(x);
    assert_non_null(flat);
    for (size_t c = 0; c < C; c++)
        for (size_t i = 0; i < N; i++)
            for (size_t j = 0; j < D; j++)
                x[(c * N + i) * D + j] = src[(c * D + j) * N + i];
    double *w = work_for(C, N);
    for (size_t j = 0; j < D; j += 3) { /* first and last parameter */
        for (size_t c = 0; c < C; c++)
            for (size_t i = 0; i < N; i++)
                flat[c * N + i] = x[(c * N + i) * D + j];
        diag_summary a, b;
        assert_int_equal(diag_summarize(x + j, C, N, N * D, D, w, &a), MCMC_OK);
        assert_int_equal(diag_summarize(flat, C, N, N, 1, w, &b), MCMC_OK);
        assert_same_summary(&a, &b);
        assert_true(isfinite(a.rhat) && isfinite(a.ess_bulk) && isfinite(a.ess_tail));
        /* The single functions agree with the summary. */
        assert_true(diag_rhat(x + j, C, N, N * D, D, w) == a.rhat);
        assert_true(diag_ess_bulk(x + j, C, N, N * D, D, w) == a.ess_bulk);
        assert_true(diag_ess_tail(x + j, C, N, N * D, D, w) == a.ess_tail);
        assert_true(a.mcse_mean == a.sd / sqrt(diag_ess_basic(x + j, C, N, N * D, D, w)));
    }
    /* Parameter 1 is a different quantity from parameter 0. */
    diag_summary p0, p1;
    assert_int_equal(diag_summarize(x, C, N, N * D, D, w, &p0), MCMC_OK);
    assert_int_equal(diag_summarize(x + 1, C, N, N * D, D, w, &p1), MCMC_OK);
    assert_true(p0.mean != p1.mean);
    free(w);
    free(flat);
    free(x);
    free(src);
}

static void test_nonfinite_input(void **state) {
    (void)state;
    double *x = ar1_chains(4, 100, 0.0, NULL, NULL, 7);
    double *w = work_for(4, 100);
    diag_summary s;
    x[137] = NAN;
    assert_int_equal(diag_summarize(x, 4, 100, 100, 1, w, &s), MCMC_OK);
    assert_true(isnan(s.mean) && isnan(s.q50) && isnan(s.mcse_mean));
    assert_true(isnan(s.rhat) && isnan(s.rhat_bulk) && isnan(s.rhat_tail));
    assert_true(isnan(s.ess_bulk) && isnan(s.ess_tail));
    assert_true(isnan(diag_rhat(x, 4, 100, 100, 1, w)));
    assert_true(isnan(diag_ess_basic(x, 4, 100, 100, 1, w)));

    x[137] = INFINITY; /* quantiles are still defined; R-hat and ESS not */
    assert_int_equal(diag_summarize(x, 4, 100, 100, 1, w, &s), MCMC_OK);
    assert_true(s.mean == INFINITY && isfinite(s.q50) && s.q95 < INFINITY);
    assert_true(isnan(s.rhat) && isnan(s.ess_bulk) && isnan(s.ess_tail));
    free(w);
    free(x);
}

static void test_degenerate_input(void **state) {
    (void)state;
    double x[4 * 20], *w = work_for(1, 80); /* the largest shape used below */
    diag_summary s;
    for (size_t i = 0; i < 80; i++)
        x[i] = 2.5;
    assert_int_equal(diag_summarize(x, 4, 20, 20, 1, w, &s), MCMC_OK);
    assert_true(s.mean == 2.5 && s.sd == 0.0 && s.q05 == 2.5 && s.q95 == 2.5);
    assert_true(isnan(s.rhat) && isnan(s.ess_bulk) && isnan(s.ess_tail) && isnan(s.mcse_mean));

    /* Each chain constant, the chains different: no mixing at all. W is 0
     * up to the rounding of the chain means, so R-hat is huge or inf. */
    for (size_t i = 0; i < 80; i++)
        x[i] = (double)(i / 20);
    assert_int_equal(diag_summarize(x, 4, 20, 20, 1, w, &s), MCMC_OK);
    if (!(s.rhat > 1e6 && s.rhat_bulk > 1e6)) fail_msg("rhat %g, bulk %g", s.rhat, s.rhat_bulk);
    assert_true(s.ess_bulk < 8.0); /* tau ~ 2N: about one draw per split chain */

    /* n = 6: split chains of 3 draws give R-hat but no ESS; n = 3: neither. */
    for (size_t i = 0; i < 80; i++)
        x[i] = sin((double)i);
    assert_int_equal(diag_summarize(x, 4, 6, 6, 1, w, &s), MCMC_OK);
    assert_true(isfinite(s.rhat) && isnan(s.ess_bulk) && isnan(s.ess_tail));
    assert_int_equal(diag_summarize(x, 4, 3, 3, 1, w, &s), MCMC_OK);
    assert_true(isnan(s.rhat) && isfinite(s.mean) && isfinite(s.q50));
    /* One chain still splits in two. */
    assert_int_equal(diag_summarize(x, 1, 80, 80, 1, w, &s), MCMC_OK);
    assert_true(isfinite(s.rhat) && isfinite(s.ess_bulk));
    free(w);
}

static void test_invalid_arguments(void **state) {
    (void)state;
    double x[8] = {1, 2, 3, 4, 5, 6, 7, 8}, w[256];
    diag_summary s;
    assert_true(diag_work_size(2, 4) <= 256);
    assert_int_equal(diag_summarize(NULL, 2, 4, 4, 1, w, &s), MCMC_EINVAL);
    assert_int_equal(diag_summarize(x, 0, 4, 4, 1, w, &s), MCMC_EINVAL);
    assert_int_equal(diag_summarize(x, 2, 0, 4, 1, w, &s), MCMC_EINVAL);
    assert_int_equal(diag_summarize(x, 2, 4, 4, 1, NULL, &s), MCMC_EINVAL);
    assert_int_equal(diag_summarize(x, 2, 4, 4, 1, w, NULL), MCMC_EINVAL);
    assert_true(isnan(diag_rhat(NULL, 2, 4, 4, 1, w)));
    /* Sizes that overflow are refused before any draw is read. */
    assert_int_equal(diag_work_size(SIZE_MAX / 2, 4), 0);
    assert_int_equal(diag_work_size(4, SIZE_MAX / 8), 0);
    assert_int_equal(diag_summarize(x, SIZE_MAX / 2, 4, 4, 1, w, &s), MCMC_EINVAL);
    assert_true(isnan(diag_ess_bulk(x, SIZE_MAX / 2, 4, 4, 1, w)));
}

/* E-BFMI: a hand-computed case, strides, degenerate input, and AR(1)
 * energies, whose E-BFMI tends to 2 (1 - rho): at rho = 0 and 0.9 over
 * 1e5 draws the standard error is about 0.011 and 0.002, so 0.06 and
 * 0.012 are five of them. */
static void test_ebfmi(void **state) {
    (void)state;
    const double e[] = {1, 3, 2, 4}; /* steps 4 + 1 + 4 = 9; deviations 5 */
    assert_float_equal(diag_ebfmi(e, 4, 1), 1.8, 1e-15);
    const double strided[] = {1, -7, 3, -7, 2, -7, 4, -7};
    assert_float_equal(diag_ebfmi(strided, 4, 2), 1.8, 1e-15);
    const double flat[] = {2, 2, 2}, bad[] = {1, NAN, 2};
    assert_true(isnan(diag_ebfmi(flat, 3, 1)));
    assert_true(isnan(diag_ebfmi(bad, 3, 1)));
    assert_true(isnan(diag_ebfmi(e, 1, 1)));
    assert_true(isnan(diag_ebfmi(NULL, 4, 1)));
    const size_t n = 100000;
    double *iid = ar1_chains(1, n, 0.0, NULL, NULL, 21),
           *sticky = ar1_chains(1, n, 0.9, NULL, NULL, 22);
    assert_float_equal(diag_ebfmi(iid, n, 1), 2.0, 0.06);
    assert_float_equal(diag_ebfmi(sticky, n, 1), 0.2, 0.012);
    free(iid);
    free(sticky);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quantile7_by_hand),
        cmocka_unit_test(test_moments_and_quantiles_exact),
        cmocka_unit_test(test_rank_normalize_ties),
        cmocka_unit_test(test_matches_posterior_mixed),
        cmocka_unit_test(test_matches_posterior_ties_odd),
        cmocka_unit_test(test_matches_stan_unmixed),
        cmocka_unit_test(test_iid_normal),
        cmocka_unit_test(test_ar1_bulk_ess),
        cmocka_unit_test(test_shifted_chain_rhat),
        cmocka_unit_test(test_tail_problem_needs_folding),
        cmocka_unit_test(test_ess_cap_antithetic),
        cmocka_unit_test(test_stride_matches_contiguous),
        cmocka_unit_test(test_nonfinite_input),
        cmocka_unit_test(test_degenerate_input),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_ebfmi),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
