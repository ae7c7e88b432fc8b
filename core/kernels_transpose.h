/* kernels_transpose.h - a minibatch's rows of X into a panel (simd.h's
 * layout) by transposes in registers: AVX-512 at 512 bits, included by
 * kernels.c's 512-bit build alone (KERNEL_ZMM), for rows of at most eight
 * columns (the post's d = 5 among them), in both dtypes.
 *
 * Row by row, a panel of d = 5 costs 32 rows x 6 scalar loads and stores.
 * Here, in float32, each 16 rows are 16 masked loads of 8 lanes, 8
 * inserts, a transpose of the 8 x 8 blocks in the two halves of 8 vectors
 * (at most 24 shuffles) and d stores; in float64 each 8 rows are 8 masked
 * loads and an 8 x 8 transpose. The padding rows are zeroed by a lane
 * mask. The panel holds the same values, so the draws keep every bit
 * (test_model's test_gather_panels, test_golden). SGLD's 100 rows at
 * N = 1e3, d = 5, the gather alone on this project's AMD VM: 160-163 ns
 * row by row, 71-82 ns here (float64: 232-241 ns, 125 ns);
 * bench/README.md, "The minibatch's gather in registers". */
#ifndef MCMCD_KERNELS_TRANSPOSE_H
#define MCMCD_KERNELS_TRANSPOSE_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

#include "simd.h"

/* Rows i0 and i1 of X: d columns each, in the two 256-bit halves. */
static inline __attribute__((always_inline)) __m512 rows_pair_f32(const float *X, size_t d,
                                                                  uint32_t i0, uint32_t i1) {
    __mmask8 cols = (__mmask8)((1u << d) - 1);
    __m256 lo = _mm256_maskz_loadu_ps(cols, X + (size_t)i0 * d);
    __m256 hi = _mm256_maskz_loadu_ps(cols, X + (size_t)i1 * d);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

/* Column j of rows ix[0..16) to out[j * SIMD_PANEL + r], j < d, rows
 * whose bit in keep is clear as zeros. */
static inline __attribute__((always_inline)) void
transpose_rows16_f32(float *out, const float *X, const uint32_t *ix, size_t d, __mmask16 keep) {
    __m512 a[8], t[8], u[8], c[8];
    for (int i = 0; i < 8; i++)
        a[i] = rows_pair_f32(X, d, ix[i], ix[i + 8]);
    /* within each 128-bit lane: t[2i], t[2i+1] interleave rows 2i, 2i+1 */
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]);
    }
    /* u[4h + k]: columns k and k + 4 of rows 4h..4h+3 (and of 8 more) */
    for (int h = 0; h < 2; h++) {
        const __m512 *th = t + 4 * h;
        u[4 * h] = _mm512_shuffle_ps(th[0], th[2], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * h + 1] = _mm512_shuffle_ps(th[0], th[2], _MM_SHUFFLE(3, 2, 3, 2));
        u[4 * h + 2] = _mm512_shuffle_ps(th[1], th[3], _MM_SHUFFLE(1, 0, 1, 0));
        u[4 * h + 3] = _mm512_shuffle_ps(th[1], th[3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    /* rows 0-3, 4-7, 8-11, 12-15 of one column, from the lanes of u[k], u[k + 4] */
    const __m512i low = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    const __m512i high =
        _mm512_setr_epi32(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    for (int k = 0; k < 4; k++) {
        c[k] = _mm512_permutex2var_ps(u[k], low, u[k + 4]);
        c[k + 4] = _mm512_permutex2var_ps(u[k], high, u[k + 4]);
    }
    for (size_t j = 0; j < d; j++)
        _mm512_storeu_ps(out + j * SIMD_PANEL, _mm512_maskz_mov_ps(keep, c[j]));
}

/* The rows of a panel of m <= SIMD_PANEL rows: a mask of the m, and, for
 * the last panel (m < SIMD_PANEL), *ix pointed at padded (SIMD_PANEL
 * entries, 64-byte aligned), where the missing rows name row ix[0], to be
 * read and masked. */
static inline __attribute__((always_inline)) uint32_t panel_rows(const uint32_t **ix, size_t m,
                                                                 uint32_t *padded) {
    _Static_assert(SIMD_PANEL == 32, "a panel's rows in two vectors of indices");
    uint32_t keep = m == SIMD_PANEL ? UINT32_MAX : (1u << m) - 1;
    if (m < SIMD_PANEL) {
        __m512i first = _mm512_set1_epi32((int)(*ix)[0]);
        _mm512_store_si512(padded, _mm512_mask_loadu_epi32(first, (__mmask16)keep, *ix));
        _mm512_store_si512(padded + 16,
                           _mm512_mask_loadu_epi32(first, (__mmask16)(keep >> 16), *ix + 16));
        *ix = padded;
    }
    return keep;
}

/* The panel at out (and its y at yout) from rows ix[0..m), m <= SIMD_PANEL;
 * past m, zeros. */
static inline __attribute__((always_inline)) void
gather_panel_zmm_f32(float *out, float *yout, const float *X, const float *ysrc, const uint32_t *ix,
                     size_t m, size_t d) {
    enum { P = SIMD_PANEL };
    _Static_assert(SIMD_PANEL == 32, "two transposes of 16 rows a panel");
    _Alignas(64) uint32_t padded[P];
    uint32_t keep = panel_rows(&ix, m, padded);
    transpose_rows16_f32(out, X, ix, d, (__mmask16)keep);
    if (m > 16)
        transpose_rows16_f32(out + 16, X, ix + 16, d, (__mmask16)(keep >> 16));
    else
        for (size_t j = 0; j < d; j++)
            _mm512_storeu_ps(out + j * P + 16, _mm512_setzero_ps());
    for (size_t r = 0; r < P; r++) /* the y of rows past m, zeroed after */
        yout[r] = ysrc[ix[r]];
    if (m < P)
        for (int h = 0; h < 2; h++) {
            __mmask16 rows = (__mmask16)(keep >> (16 * h)); /* a masked store measured slower */
            _mm512_storeu_ps(yout + 16 * h, _mm512_maskz_loadu_ps(rows, yout + 16 * h));
        }
}

/* Rows ix[0..8) of d <= 8 doubles: column j to out[j * SIMD_PANEL + r],
 * j < d, rows whose bit in keep is clear as zeros. */
static inline __attribute__((always_inline)) void
transpose_rows8_f64(double *out, const double *X, const uint32_t *ix, size_t d, __mmask8 keep) {
    __mmask8 cols = (__mmask8)((1u << d) - 1);
    __m512d a[8], t[8], u[8], c[8];
    for (int i = 0; i < 8; i++)
        a[i] = _mm512_maskz_loadu_pd(cols, X + (size_t)ix[i] * d);
    /* within each 128-bit lane: rows 2i and 2i + 1, even or odd columns */
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_pd(a[2 * i], a[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_pd(a[2 * i], a[2 * i + 1]);
    }
    /* u[4h + k]: columns k' and k' + 4 of rows 4h..4h+3, k' = 0, 2, 1, 3 */
    for (int h = 0; h < 2; h++) {
        const __m512d *th = t + 4 * h;
        u[4 * h] = _mm512_shuffle_f64x2(th[0], th[2], 0x88);
        u[4 * h + 1] = _mm512_shuffle_f64x2(th[0], th[2], 0xDD);
        u[4 * h + 2] = _mm512_shuffle_f64x2(th[1], th[3], 0x88);
        u[4 * h + 3] = _mm512_shuffle_f64x2(th[1], th[3], 0xDD);
    }
    static const int column_of[4] = {0, 2, 1, 3};
    for (int k = 0; k < 4; k++) {
        c[column_of[k]] = _mm512_shuffle_f64x2(u[k], u[k + 4], 0x88);
        c[column_of[k] + 4] = _mm512_shuffle_f64x2(u[k], u[k + 4], 0xDD);
    }
    for (size_t j = 0; j < d; j++)
        _mm512_storeu_pd(out + j * SIMD_PANEL, _mm512_maskz_mov_pd(keep, c[j]));
}

/* gather_panel_zmm_f32 for doubles: up to four transposes of 8 rows, the
 * blocks past m stored as zeros. */
static inline __attribute__((always_inline)) void
gather_panel_zmm_f64(double *out, double *yout, const double *X, const double *ysrc,
                     const uint32_t *ix, size_t m, size_t d) {
    enum { P = SIMD_PANEL };
    _Alignas(64) uint32_t padded[P];
    uint32_t keep = panel_rows(&ix, m, padded);
    for (size_t q = 0; q < P / 8; q++) {
        if (q * 8 < m)
            transpose_rows8_f64(out + 8 * q, X, ix + 8 * q, d, (__mmask8)(keep >> (8 * q)));
        else
            for (size_t j = 0; j < d; j++)
                _mm512_storeu_pd(out + j * P + 8 * q, _mm512_setzero_pd());
    }
    for (size_t r = 0; r < P; r++) /* the y of rows past m, zeroed after */
        yout[r] = ysrc[ix[r]];
    if (m < P)
        for (size_t q = 0; q < P / 8; q++) {
            __mmask8 rows = (__mmask8)(keep >> (8 * q));
            _mm512_storeu_pd(yout + 8 * q, _mm512_maskz_loadu_pd(rows, yout + 8 * q));
        }
}

#endif
