/* test_rng.c - Threefry known answers (Random123), JAX's published key
 * values, and the statistics of the uniform, normal and index streams. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "rng.h"
#include "simd.h"
#include "test_util.h"

static void test_threefry_kat(void **state) {
    (void)state;
    uint32_t o[2];
    threefry2x32((rng_key){0, 0}, 0, 0, o);
    assert_int_equal(o[0], 0x6b200159u);
    assert_int_equal(o[1], 0x99ba4efeu);
    threefry2x32((rng_key){0x13198a2eu, 0x03707344u}, 0x243f6a88u, 0x85a308d3u, o);
    assert_int_equal(o[0], 0xc4923a9cu);
    assert_int_equal(o[1], 0x483df7a0u);
}

static void test_jax_keys(void **state) {
    (void)state;
    rng_key k0 = rng_key_from_seed(0);
    rng_key f = rng_fold_in(k0, 4);
    assert_int_equal(f.hi, 2285895361u);
    assert_int_equal(f.lo, 433833334u);
    /* jax.random.split(PRNGKey(0), 4) before JAX 0.5 */
    static const uint32_t legacy[4][2] = {{2285895361u, 1501764800u},
                                          {1518642379u, 4090693311u},
                                          {433833334u, 4221794875u},
                                          {839183663u, 3740430601u}};
    for (uint32_t i = 0; i < 4; i++) {
        rng_key k = rng_split_legacy(k0, 4, i);
        assert_int_equal(k.hi, legacy[i][0]);
        assert_int_equal(k.lo, legacy[i][1]);
    }
    rng_key s = rng_key_from_seed(0x0000000500000007ULL);
    assert_int_equal(s.hi, 5);
    assert_int_equal(s.lo, 7);
    /* partitionable split is fold_in */
    rng_key a = rng_split(k0, 3), b = rng_fold_in(k0, 3);
    assert_true(a.hi == b.hi && a.lo == b.lo);
}

/* Legacy random_bits(PRNGKey(1701), (3,)): odd counts are padded with a 0,
 * hashed as pairs (j, n'/2 + j); exercises threefry on other counters. */
static void test_jax_legacy_bits(void **state) {
    (void)state;
    rng_key k = rng_key_from_seed(1701);
    uint32_t counts[4] = {0, 1, 2, 0}, out[4], o[2];
    for (int j = 0; j < 2; j++) {
        threefry2x32(k, counts[j], counts[2 + j], o);
        out[j] = o[0];
        out[2 + j] = o[1];
    }
    assert_int_equal(out[0], 56197195u);
    assert_int_equal(out[1], 4200222568u);
    assert_int_equal(out[2], 961309823u);
}

/* jax.random.uniform(key(0)) and uniform(split(key(0))[1]) with the
 * partitionable default, as printed in JAX's documentation (6 digits). */
static void test_jax_uniform(void **state) {
    (void)state;
    rng_key k0 = rng_key_from_seed(0);
    assert_true(fabs(rng_uniform_f32(k0, 0) - 0.947667f) < 5e-7);
    assert_true(fabs(rng_uniform_f32(rng_split(k0, 1), 0) - 0.00729382f) < 5e-9);
}

/* Mean, variance, skewness and kurtosis of 2^20 draws. With n draws the
 * standard errors are 1/sqrt(n), sqrt(2/n), sqrt(6/n), sqrt(24/n); every
 * bound below is 5 standard errors. */
static void test_normal_moments(void **state) {
    (void)state;
    size_t n = 1u << 20;
    double *z = malloc(n * sizeof *z), m1 = 0, m2 = 0, m3 = 0, m4 = 0;
    assert_non_null(z);
    rng_normal_fill(rng_key_from_seed(42), z, n);
    for (size_t i = 0; i < n; i++) {
        double x = z[i];
        m1 += x, m2 += x * x, m3 += x * x * x, m4 += x * x * x * x;
    }
    m1 /= n, m2 /= n, m3 /= n, m4 /= n;
    double sn = sqrt((double)n);
    assert_true(fabs(m1) < 5 / sn);
    assert_true(fabs(m2 - 1) < 5 * sqrt(2.0) / sn);
    assert_true(fabs(m3) < 5 * sqrt(6.0) / sn);
    assert_true(fabs(m4 - 3) < 5 * sqrt(96.0) / sn); /* var of x^4 is 96 */
    /* element i of the fill is rng_normal(key, i) */
    for (size_t i = 0; i < 1000; i += 37)
        assert_true(rng_normal(rng_key_from_seed(42), i) == z[i]);
    free(z);
}

/* A tail check: P(|z| > 3) = 0.0026998; with 2^20 draws its sd is 5.1e-5. */
static void test_normal_tails(void **state) {
    (void)state;
    size_t n = 1u << 20, hits = 0;
    double *z = malloc(n * sizeof *z);
    assert_non_null(z);
    rng_normal_fill(rng_key_from_seed(7), z, n);
    for (size_t i = 0; i < n; i++)
        hits += fabs(z[i]) > 3;
    double p = (double)hits / (double)n, sd = sqrt(0.0026998 * (1 - 0.0026998) / (double)n);
    assert_true(fabs(p - 0.0026998) < 5 * sd);
    free(z);
}

/* Indices: all in range; counts per value chi-square against uniform.
 * 64 cells, 2^20 draws: chi2 with 63 dof has mean 63, sd 11.2; bound 63 +
 * 5 sd. */
static void test_index_fill(void **state) {
    (void)state;
    size_t n = 1u << 20, cells = 64, counts[64] = {0};
    uint32_t *idx = malloc(n * sizeof *idx);
    assert_non_null(idx);
    rng_index_fill(rng_key_from_seed(3), 0, (uint32_t)cells, idx, n);
    for (size_t i = 0; i < n; i++) {
        assert_true(idx[i] < cells);
        counts[idx[i]]++;
    }
    double e = (double)n / (double)cells, chi2 = 0;
    for (size_t c = 0; c < cells; c++)
        chi2 += (counts[c] - e) * (counts[c] - e) / e;
    assert_true(chi2 < 63 + 5 * sqrt(2 * 63.0));
    rng_index_fill(rng_key_from_seed(3), 1000, 1, idx, 10);
    for (int i = 0; i < 10; i++)
        assert_int_equal(idx[i], 0);
    free(idx);
}

/* The vectorised fills equal the scalar definition element by element, for
 * every length up to 300 (every tail of the 16-lane blocks) and starting
 * where a counter's low word wraps past 2^32 inside a block. */
static void test_fills_match_scalar(void **state) {
    (void)state;
    static const uint64_t firsts[] = {0, 5, ((uint64_t)2 << 32) + 17, 0xFFFFFFFFULL - 40,
                                      ((uint64_t)3 << 32) - 70};
    rng_key key = rng_key_from_seed(11);
    uint32_t idx[300];
    double z[300];
    for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
        for (size_t n = 0; n <= 300; n += n < 70 ? 1 : 23) {
            rng_index_fill(key, firsts[f], 1000, idx, n);
            for (size_t i = 0; i < n; i++) {
                double u = (double)(rng_bits64(key, firsts[f] + i) >> 12) * 0x1p-52;
                assert_int_equal(idx[i], (uint32_t)(u * 1000.0));
            }
            if (firsts[f] == 0) {
                rng_normal_fill(key, z, n);
                for (size_t i = 0; i < n; i++)
                    assert_true(z[i] == rng_normal(key, i));
            }
        }
}

/* normal_fill_ahead is many steps' normal_fill at once: the same keys and
 * the same bits, for every d it serves (and two it does not, 17 and 40),
 * where the steps' counters wrap past 2^32 and where first + j carries
 * into the high word. */
static void test_normals_ahead(void **state) {
    (void)state;
    static const uint32_t t0s[] = {0, 9, UINT32_MAX - 5};
    static const uint64_t firsts[] = {0, 0xFFFFFFFFULL - 7};
    const simd_ops *ops = simd_ops_get();
    rng_key kstep = rng_key_from_seed(23), keys[SIMD_AHEAD];
    enum { DMAX = 40 }; /* past SIMD_AHEAD_MAX_D: one step at a time */
    double out[SIMD_AHEAD * DMAX], z[DMAX];
    for (size_t a = 0; a < sizeof t0s / sizeof t0s[0]; a++)
        for (size_t f = 0; f < sizeof firsts / sizeof firsts[0]; f++)
            for (size_t d = 1; d <= DMAX; d += d < SIMD_AHEAD_MAX_D + 1 ? 1 : 23) {
                ops->normal_fill_ahead(kstep, t0s[a], firsts[f], d, keys, out);
                for (uint32_t k = 0; k < SIMD_AHEAD; k++) {
                    rng_key want = rng_fold_in(kstep, t0s[a] + k);
                    assert_true(keys[k].hi == want.hi && keys[k].lo == want.lo);
                    ops->normal_fill(want, firsts[f], z, d);
                    assert_memory_equal(out + k * d, z, d * sizeof *z);
                }
            }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threefry_kat),    cmocka_unit_test(test_jax_keys),
        cmocka_unit_test(test_jax_legacy_bits), cmocka_unit_test(test_jax_uniform),
        cmocka_unit_test(test_normal_moments),  cmocka_unit_test(test_normal_tails),
        cmocka_unit_test(test_index_fill),      cmocka_unit_test(test_fills_match_scalar),
        cmocka_unit_test(test_normals_ahead),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
