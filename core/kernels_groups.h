/* kernels_groups.h - the row pass over row groups (simd.h's glm_groups_f32
 * and _f64), a template included by kernels.c in its 512-bit AVX-512 build
 * alone, once per element type after kernels_lr.h's copy for that type,
 * whose row link and flush it uses: define GT (float or double), GSFX (f32, f64) and
 * GSUF (ps, pd), the suffix of the AVX-512 intrinsics for GT.
 *
 * In the row-major pass each group of rows is read from memory by its dot
 * products, then read again from L1 by the gradient's update; while the
 * update runs, nothing is loading the next rows, and the four or eight
 * rows' streams, each a row long, are short for the prefetcher. Here rows
 * are packed in groups of SIMD_GROUP, each group stored as 64-byte chunks
 * of its rows' columns in turn (chunk c: row 0's 64 bytes of columns from
 * c, then row 1's, ...), so that a group is one sequential stream; and the
 * update of group g runs in the same loop as the dot products of group
 * g + 1, whose loads the update's arithmetic then hides. Both groups (2 x 4 rows
 * of at most SIMD_GROUPS_MAX_ROW_BYTES) stay in L1.
 *
 * Each dot product sums in the lanes of one vector, chunk after chunk,
 * and the lanes are added by _mm512_reduce_add_ps (or _pd); t (the group's
 * gradient, in GT) takes the four rows in one rounding step per chunk
 * and is added into grad in double every SIMD_PANEL rows, as the row pass
 * does. The sums' order differs from the row pass's, so the draws differ
 * from it in the last bits; they are the same on every run of this path. */
#include <immintrin.h>

#define GCAT2(a, b) a##_##b
#define GCAT(a, b) GCAT2(a, b)
#define GFN(name) GCAT(name, GSFX)
#define GI(op) GCAT(GCAT(_mm512, op), GSUF) /* GI(load): _mm512_load_ps */
#define GL (64 / (int)sizeof(GT))           /* lanes, and columns in a chunk */
#define GV __typeof__(GI(setzero)())

_Static_assert(SIMD_GROUP == 4, "groups_update and groups_link add four rows");

static inline __attribute__((always_inline)) void GFN(groups_update)(const GT *cur, const GV *s,
                                                                     GT *t, size_t c) {
    const GT *q = cur + c * SIMD_GROUP * GL;
    GV u = GI(fmadd)(s[0], GI(load)(q), GI(mul)(s[1], GI(load)(q + GL)));
    GV v = GI(fmadd)(s[2], GI(load)(q + 2 * GL), GI(mul)(s[3], GI(load)(q + 3 * GL)));
    GI(store)(t + GL * c, GI(add)(GI(load)(t + GL * c), GI(add)(u, v)));
}

/* a[r] += the next group's row r times theta, chunk c. */
static inline __attribute__((always_inline)) void GFN(groups_dots)(const GT *next, const GT *theta,
                                                                   GV *a, size_t c) {
    const GT *q = next + c * SIMD_GROUP * GL;
    GV th = GI(load)(theta + GL * c);
    for (int r = 0; r < SIMD_GROUP; r++)
        a[r] = GI(fmadd)(GI(load)(q + r * GL), th, a[r]);
}

static inline __attribute__((always_inline)) void
GFN(groups_link_lanes)(const int link, const GT *e, const GT *y, GT prec, size_t m, GT *t, GT *s,
                       GT *l, int want_logp) {
#pragma omp simd aligned(e, t, s : 16)
    for (size_t r = 0; r < SIMD_GROUP; r++) {
        t[r] = GFN(glm_t)(link, e[r]);
        s[r] = r < m ? GFN(glm_s)(link, e[r], y[r], prec, t[r]) : (GT)0;
    }
    if (want_logp) {
#pragma omp simd aligned(e, t, l : 16)
        for (size_t r = 0; r < SIMD_GROUP; r++)
            l[r] = GFN(glm_l)(link, e[r], y[r], prec, t[r]);
    }
}

/* The group's s (zero past row m), its log-likelihood when asked, and the
 * intercept's sum; a[] reset for the next group's dot products. */
static inline __attribute__((always_inline)) double
GFN(groups_link)(const simd_glm *g, const GT *y, size_t m, GV *a, GV *s, GT *ts, int want_logp) {
    const GT offset = g->intercept ? (GT)g->offset : (GT)0, prec = (GT)g->prec;
    _Alignas(32) GT e[SIMD_GROUP], t[SIMD_GROUP], sr[SIMD_GROUP], l[SIMD_GROUP];
    double ll = 0;
    for (size_t r = 0; r < SIMD_GROUP; r++)
        e[r] = GI(reduce_add)(a[r]) + offset;
    switch (g->link) { /* the rows' link in the lanes of one vector */
    case SIMD_LINK_LOGISTIC:
        GFN(groups_link_lanes)(SIMD_LINK_LOGISTIC, e, y, prec, m, t, sr, l, want_logp);
        break;
    case SIMD_LINK_POISSON:
        GFN(groups_link_lanes)(SIMD_LINK_POISSON, e, y, prec, m, t, sr, l, want_logp);
        break;
    default:
        GFN(groups_link_lanes)(SIMD_LINK_LINEAR, e, y, prec, m, t, sr, l, want_logp);
    }
    for (size_t r = 0; want_logp && r < m; r++)
        ll += (double)l[r];
    for (size_t r = 0; r < SIMD_GROUP; r++) {
        s[r] = GI(set1)(sr[r]);
        a[r] = GI(setzero)();
    }
    *ts += (sr[0] + sr[1]) + (sr[2] + sr[3]);
    return ll;
}

/* Rows 0..n of G, which starts at a group; theta holds ld elements, zero
 * past d, 64-byte aligned. */
static double GFN(glm_groups)(const simd_glm *g, const GT *G, size_t ld, const GT *y, size_t n,
                              size_t d, const GT *theta, double *grad, int want_logp) {
    enum { R = SIMD_GROUP };
    _Alignas(64) GT t[SIMD_GROUPS_MAX_ROW_BYTES / sizeof(GT)];
    GV a[R], s[R];
    size_t chunks = ld / GL;
    GT ts = 0;
    double ll = 0;
    if (ld * sizeof(GT) > SIMD_GROUPS_MAX_ROW_BYTES || ld % GL) return NAN;
    for (size_t j = 0; j < ld; j++)
        t[j] = 0;
    for (size_t r = 0; r < R; r++)
        a[r] = GI(setzero)();
    for (size_t c = 0; c < chunks; c++)
        GFN(groups_dots)(G, theta, a, c);
    for (size_t b = 0; b < n; b += R) {
        const GT *cur = G + b * ld, *next = cur + R * ld;
        ll += GFN(groups_link)(g, y + b, n - b < R ? n - b : R, a, s, &ts, want_logp);
        if (b + R < n)
            for (size_t c = 0; c < chunks; c++) {
                GFN(groups_dots)(next, theta, a, c);
                GFN(groups_update)(cur, s, t, c);
            }
        else
            for (size_t c = 0; c < chunks; c++)
                GFN(groups_update)(cur, s, t, c);
        if ((b + R) % SIMD_PANEL == 0 || b + R >= n) /* kernels_lr.h's, as the row pass */
            GFN(rows_flush)(g->intercept != 0, t, &ts, d, grad);
    }
    return ll;
}

#undef GV
#undef GL
#undef GI
#undef GFN
#undef GCAT
#undef GCAT2
