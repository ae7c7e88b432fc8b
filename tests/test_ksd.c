/* test_ksd.c - the IMQ kernel Stein discrepancy (core/ksd.c).
 *
 *  - against a direct double loop on small inputs, whose Stein kernel is
 *    built from finite differences of k(x, y) = (1 + |x - y|^2)^-1/2, so it
 *    shares no algebra with ksd.c;
 *  - the same bits on any thread count;
 *  - a known answer: for the target N(0, I) the KSD^2 of draws from
 *    N(mu, I) is |mu|^2 E[k(x, y)], x - y ~ N(0, 2I) (the score difference
 *    s_p - s_q = -mu is constant), and the V-statistic of n draws adds
 *    E[k0(x, x)] / n = (2d + |mu|^2) / n. Exact draws (mu = 0) are checked
 *    against 2d / n, shifted ones against the formula, each within 4
 *    standard errors of the U-statistic estimated from the draws
 *    themselves (Hoeffding: var = 4 var(h1) / n + 2 E[k0^2] / n^2);
 *  - the thinning rule.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ksd.h"
#include "test_random.h"
#include "model.h"

/* ---------------------------------------------- the reference double loop */

static double imq(const double *x, const double *y, size_t d) {
    double r2 = 0;
    for (size_t a = 0; a < d; a++)
        r2 += (x[a] - y[a]) * (x[a] - y[a]);
    return 1 / sqrt(1 + r2);
}

/* k evaluated with x[a] += hx and y[b] += hy. */
static double imq_moved(const double *x, const double *y, size_t d, size_t a, double hx, size_t b,
                        double hy) {
    double xs[8], ys[8];
    memcpy(xs, x, d * sizeof(double));
    memcpy(ys, y, d * sizeof(double));
    xs[a] += hx;
    ys[b] += hy;
    return imq(xs, ys, d);
}

/* k0 from central differences: gradients step h, the mixed trace step h. */
static double stein_numeric(const double *x, const double *sx, const double *y, const double *sy,
                            size_t d) {
    const double h = 1e-4;
    double k = imq(x, y, d), ss = 0, gx = 0, gy = 0, tr = 0;
    for (size_t a = 0; a < d; a++) {
        ss += sx[a] * sy[a];
        double dkx = (imq_moved(x, y, d, a, h, a, 0) - imq_moved(x, y, d, a, -h, a, 0)) / (2 * h);
        double dky = (imq_moved(x, y, d, a, 0, a, h) - imq_moved(x, y, d, a, 0, a, -h)) / (2 * h);
        gx += sy[a] * dkx; /* s(y) . grad_x k */
        gy += sx[a] * dky; /* s(x) . grad_y k */
        tr += (imq_moved(x, y, d, a, h, a, h) - imq_moved(x, y, d, a, h, a, -h) -
               imq_moved(x, y, d, a, -h, a, h) + imq_moved(x, y, d, a, -h, a, -h)) /
              (4 * h * h);
    }
    return ss * k + gx + gy + tr;
}

static double ksd_reference(const double *x, const double *s, size_t n, size_t d) {
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            sum += stein_numeric(x + i * d, s + i * d, x + j * d, s + j * d, d);
    return sqrt(sum) / (double)n;
}

static void test_matches_double_loop(void **state) {
    (void)state;
    uint64_t seed = 11;
    for (size_t d = 1; d <= 4; d++) {
        const size_t n = 9;
        double x[9 * 4], s[9 * 4];
        for (size_t i = 0; i < n * d; i++) {
            x[i] = 1.5 * std_normal(&seed);
            s[i] = std_normal(&seed); /* any vector field: the formula is the same */
        }
        double want = ksd_reference(x, s, n, d), got = ksd_imq(x, s, n, d, 1);
        /* finite differences: truncation ~h^2 = 1e-8, rounding ~1e-16 / h^2 = 1e-8 */
        assert_true(fabs(got - want) <= 1e-6 * want);
    }
}

static void test_same_bits_on_any_thread_count(void **state) {
    (void)state;
    uint64_t seed = 5;
    const size_t n = 301, d = 3;
    double *x = malloc(n * d * sizeof *x), *s = malloc(n * d * sizeof *s);
    for (size_t i = 0; i < n * d; i++)
        x[i] = std_normal(&seed), s[i] = -x[i];
    double one = ksd_imq(x, s, n, d, 1);
    assert_true(isfinite(one) && one > 0);
    for (unsigned t = 2; t <= 4; t++)
        assert_memory_equal(&one, &(double){ksd_imq(x, s, n, d, t)}, sizeof one);
    x[7] = NAN;
    assert_true(isnan(ksd_imq(x, s, n, d, 2)));
    assert_true(isnan(ksd_imq(x, s, 0, d, 1)));
    free(x);
    free(s);
}

/* ------------------------------------------------------ the known answer */

/* E[(1 + 2W)^-1/2] for W ~ chi^2_2 (density e^{-w/2} / 2): Simpson's rule on
 * [0, 80] (the tail beyond holds e^-40 of the mass). */
static double expected_imq_d2(void) {
    const int m = 200000;
    const double b = 80, h = b / m;
    double sum = 0;
    for (int i = 0; i <= m; i++) {
        double w = i * h, f = exp(-w / 2) / 2 / sqrt(1 + 2 * w);
        sum += f * (i == 0 || i == m ? 1 : i % 2 ? 4 : 2);
    }
    return sum * h / 3;
}

/* The U-statistic's standard error from the draws: Hoeffding's variance
 * with var(h1) and E[k0^2] estimated by the exact pair sum. */
static double u_stat_se(const double *x, const double *s, size_t n, size_t d) {
    double *h1 = calloc(n, sizeof *h1), k2 = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            if (i == j) continue;
            const double *xi = x + i * d, *xj = x + j * d, *si = s + i * d, *sj = s + j * d;
            double r2 = 0, ss = 0, t = 0;
            for (size_t a = 0; a < d; a++) {
                r2 += (xi[a] - xj[a]) * (xi[a] - xj[a]);
                ss += si[a] * sj[a];
                t += (sj[a] - si[a]) * (xi[a] - xj[a]);
            }
            double u = 1 + r2;
            double k =
                ss / sqrt(u) - t / pow(u, 1.5) + (double)d / pow(u, 1.5) - 3 * r2 / pow(u, 2.5);
            h1[i] += k / (double)(n - 1);
            k2 += k * k;
        }
    k2 /= (double)n * (double)(n - 1);
    double mean = 0, var = 0;
    for (size_t i = 0; i < n; i++)
        mean += h1[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        var += (h1[i] - mean) * (h1[i] - mean) / (double)(n - 1);
    free(h1);
    return sqrt(4 * var / (double)n + 2 * k2 / ((double)n * (double)n));
}

static void test_known_answer_gaussian_shift(void **state) {
    (void)state;
    const size_t n = 1000, d = 2;
    const double mean[2] = {0, 0}, cov[4] = {1, 0, 0, 1}, mu[2] = {0.5, 0};
    model *m = model_gaussian_create(d, mean, cov);
    assert_non_null(m);
    double *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y);
    double *sx = malloc(n * d * sizeof *sx), *sy = malloc(n * d * sizeof *sy);
    uint64_t seed = 2023;
    for (size_t i = 0; i < n * d; i++) {
        x[i] = std_normal(&seed);
        y[i] = x[i] + mu[i % d]; /* the same noise, shifted */
    }
    assert_int_equal(ksd_scores(m, x, n, sx, 2), 0);
    assert_int_equal(ksd_scores(m, y, n, sy, 2), 0);
    for (size_t i = 0; i < n * d; i++)
        assert_true(fabs(sx[i] + x[i]) < 1e-12); /* the score of N(0, I) is -x */
    double exact = ksd_imq(x, sx, n, d, 2), shifted = ksd_imq(y, sy, n, d, 2);
    double via = NAN;
    assert_int_equal(ksd_of_draws(m, y, n, 2, &via), 0);
    assert_memory_equal(&via, &shifted, sizeof via);

    double mu2 = mu[0] * mu[0] + mu[1] * mu[1], ek = expected_imq_d2();
    double want_exact = 2.0 * (double)d / (double)n;
    double want_shifted =
        (double)(n - 1) / (double)n * mu2 * ek + (2.0 * (double)d + mu2) / (double)n;
    double se_exact = u_stat_se(x, sx, n, d), se_shifted = u_stat_se(y, sy, n, d);
    print_message(
        "# KSD^2 exact %.5f (theory %.5f, se %.5f), shifted %.5f (theory %.5f, se %.5f)\n",
        exact * exact, want_exact, se_exact, shifted * shifted, want_shifted, se_shifted);
    assert_true(fabs(exact * exact - want_exact) < 4 * se_exact);
    assert_true(fabs(shifted * shifted - want_shifted) < 4 * se_shifted);
    /* the margin: the shifted draws' KSD^2 exceeds the exact draws' by the
     * population value |mu|^2 E[k] (about 0.13), less 4 joint se */
    assert_true(shifted * shifted - exact * exact >
                mu2 * ek - 4 * sqrt(se_exact * se_exact + se_shifted * se_shifted));
    free(x), free(y), free(sx), free(sy);
    model_free(m);
}

/* ------------------------------------------------------------ thinning */

static void test_subset_is_even_and_bounded(void **state) {
    (void)state;
    assert_int_equal(ksd_subset_per_chain(4, 10000, 1000), 250);
    assert_int_equal(ksd_subset_per_chain(4, 100, 1000), 100); /* all of a short chain */
    assert_int_equal(ksd_subset_per_chain(3000, 10, 1000), 1); /* one per chain at least */
    assert_int_equal(ksd_subset_per_chain(4, 0, 1000), 0);
    /* 4 of 10 rows: the middles of [0,2.5) [2.5,5) [5,7.5) [7.5,10) */
    size_t want[4] = {1, 3, 6, 8};
    for (size_t k = 0; k < 4; k++)
        assert_int_equal(ksd_subset_row(10, 4, k), want[k]);
    for (size_t k = 0; k < 10; k++) /* all rows when per_chain == rows */
        assert_int_equal(ksd_subset_row(10, 10, k), k);
    assert_int_equal(ksd_subset_row(1000000, 250, 249), 998000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_double_loop),
        cmocka_unit_test(test_same_bits_on_any_thread_count),
        cmocka_unit_test(test_known_answer_gaussian_shift),
        cmocka_unit_test(test_subset_is_even_and_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
