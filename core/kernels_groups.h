/* kernels_groups.h - the float32 row pass over row groups (simd.h's
 * glm_groups_f32), included by kernels.c in its 512-bit AVX-512 build
 * alone, after kernels_lr.h's float32 copy, whose row link it uses.
 *
 * In the row-major pass each group of rows is read from memory by its dot
 * products, then read again from L1 by the gradient's update; while the
 * update runs, nothing is loading the next rows, and the four or eight
 * rows' streams, each a row long, are short for the prefetcher. Here rows
 * are packed in groups of SIMD_GROUP, each group stored as 64-byte chunks
 * of its rows' columns in turn (chunk c: row 0's columns 16c..16c+15, then
 * row 1's, ...), so that a group is one sequential stream; and the update
 * of group g runs in the same loop as the dot products of group g + 1,
 * whose loads the update's arithmetic then hides. Both groups (2 x 4 rows
 * of at most SIMD_GROUPS_MAX_LD floats) stay in L1.
 *
 * Each dot product sums in the 16 lanes of one vector, chunk after chunk,
 * and the lanes are added by _mm512_reduce_add_ps; t (the group's
 * gradient, in float) takes the four rows in one rounding step per chunk
 * and is added into grad in double every SIMD_PANEL rows, as the row pass
 * does. The sums' order differs from the row pass's, so the draws differ
 * from it in the last bits; they are the same on every run of this path. */
#include <immintrin.h>

static inline __attribute__((always_inline)) void
groups_update_f32(const float *cur, const __m512 *s, float *t, size_t c) {
    const float *q = cur + c * SIMD_GROUP * 16;
    __m512 u =
        _mm512_fmadd_ps(s[0], _mm512_load_ps(q), _mm512_mul_ps(s[1], _mm512_load_ps(q + 16)));
    __m512 v =
        _mm512_fmadd_ps(s[2], _mm512_load_ps(q + 32), _mm512_mul_ps(s[3], _mm512_load_ps(q + 48)));
    _mm512_store_ps(t + 16 * c, _mm512_add_ps(_mm512_load_ps(t + 16 * c), _mm512_add_ps(u, v)));
}

/* a[r] += the next group's row r times theta, chunk c. */
static inline __attribute__((always_inline)) void
groups_dots_f32(const float *next, const float *theta, __m512 *a, size_t c) {
    const float *q = next + c * SIMD_GROUP * 16;
    __m512 th = _mm512_load_ps(theta + 16 * c);
    a[0] = _mm512_fmadd_ps(_mm512_load_ps(q), th, a[0]);
    a[1] = _mm512_fmadd_ps(_mm512_load_ps(q + 16), th, a[1]);
    a[2] = _mm512_fmadd_ps(_mm512_load_ps(q + 32), th, a[2]);
    a[3] = _mm512_fmadd_ps(_mm512_load_ps(q + 48), th, a[3]);
}

static inline __attribute__((always_inline)) void
groups_link_lanes_f32(const int link, const float *e, const float *y, float prec, size_t m,
                      float *t, float *s, float *l, int want_logp) {
#pragma omp simd aligned(e, t, s : 16)
    for (size_t r = 0; r < SIMD_GROUP; r++) {
        t[r] = glm_t_f32(link, e[r]);
        s[r] = r < m ? glm_s_f32(link, e[r], y[r], prec, t[r]) : 0.0f;
    }
    if (want_logp) {
#pragma omp simd aligned(e, t, l : 16)
        for (size_t r = 0; r < SIMD_GROUP; r++)
            l[r] = glm_l_f32(link, e[r], y[r], prec, t[r]);
    }
}

/* The group's s (zero past row m), its log-likelihood when asked, and the
 * intercept's sum; a[] reset for the next group's dot products. */
static inline __attribute__((always_inline)) double groups_link_f32(const simd_glm *g,
                                                                    const float *y, size_t m,
                                                                    __m512 *a, __m512 *s, float *ts,
                                                                    int want_logp) {
    const float offset = g->intercept ? (float)g->offset : 0.0f, prec = (float)g->prec;
    _Alignas(16) float e[SIMD_GROUP], t[SIMD_GROUP], sr[SIMD_GROUP], l[SIMD_GROUP];
    double ll = 0;
    for (size_t r = 0; r < SIMD_GROUP; r++)
        e[r] = _mm512_reduce_add_ps(a[r]) + offset;
    switch (g->link) { /* the rows' link in the lanes of one vector */
    case SIMD_LINK_LOGISTIC:
        groups_link_lanes_f32(SIMD_LINK_LOGISTIC, e, y, prec, m, t, sr, l, want_logp);
        break;
    case SIMD_LINK_POISSON:
        groups_link_lanes_f32(SIMD_LINK_POISSON, e, y, prec, m, t, sr, l, want_logp);
        break;
    default:
        groups_link_lanes_f32(SIMD_LINK_LINEAR, e, y, prec, m, t, sr, l, want_logp);
    }
    for (size_t r = 0; want_logp && r < m; r++)
        ll += (double)l[r];
    for (size_t r = 0; r < SIMD_GROUP; r++) {
        s[r] = _mm512_set1_ps(sr[r]);
        a[r] = _mm512_setzero_ps();
    }
    *ts += (sr[0] + sr[1]) + (sr[2] + sr[3]);
    return ll;
}

static void groups_flush_f32(const simd_glm *g, float *t, float *ts, size_t d, size_t ld,
                             double *grad) {
    for (size_t j = 0; j < d; j++)
        grad[j] += (double)t[j];
    for (size_t j = 0; j < ld; j++)
        t[j] = 0;
    if (g->intercept) grad[d] += (double)*ts;
    *ts = 0;
}

/* Rows 0..n of G, which starts at a group; theta holds ld floats, zero
 * past d. */
static double glm_groups_f32(const simd_glm *g, const float *G, size_t ld, const float *y, size_t n,
                             size_t d, const float *theta, double *grad, int want_logp) {
    enum { R = SIMD_GROUP };
    _Alignas(64) float t[SIMD_GROUPS_MAX_LD];
    __m512 a[R], s[R];
    size_t chunks = ld / 16;
    float ts = 0;
    double ll = 0;
    if (ld > SIMD_GROUPS_MAX_LD || ld % 16) return NAN;
    for (size_t j = 0; j < ld; j++)
        t[j] = 0;
    for (size_t r = 0; r < R; r++)
        a[r] = _mm512_setzero_ps();
    for (size_t c = 0; c < chunks; c++)
        groups_dots_f32(G, theta, a, c);
    for (size_t b = 0; b < n; b += R) {
        const float *cur = G + b * ld, *next = cur + R * ld;
        ll += groups_link_f32(g, y + b, n - b < R ? n - b : R, a, s, &ts, want_logp);
        if (b + R < n)
            for (size_t c = 0; c < chunks; c++) {
                groups_dots_f32(next, theta, a, c);
                groups_update_f32(cur, s, t, c);
            }
        else
            for (size_t c = 0; c < chunks; c++)
                groups_update_f32(cur, s, t, c);
        if ((b + R) % SIMD_PANEL == 0 || b + R >= n) groups_flush_f32(g, t, &ts, d, ld, grad);
    }
    return ll;
}
