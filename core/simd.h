/* simd.h - the kernels that are compiled once per instruction set, and the
 * table of those paths.
 *
 * kernels.c is built four times (generic x86-64, AVX2+FMA, AVX-512 at
 * 512-bit width, AVX-512 at 256-bit width) and each build fills one
 * simd_ops table; simd.c lists them, in the order preferred when nothing
 * was measured. Which path a process runs is chosen once, at start:
 * calibrate.c measures the paths this CPU runs and caches the fastest per
 * machine (simd_ops_use); the environment variable MCMCD_SIMD ("generic",
 * "avx2", "avx512", "avx512_256") forces one, so that tests can run every
 * path. Without either (unit tests, benchmarks) simd_ops_get() takes the
 * first path of the table that the CPU runs.
 * Draws are bit-identical for a given path; different paths may differ in
 * the last bits (FMA contraction, vector width), never in distribution.
 */
#ifndef MCMCD_SIMD_H
#define MCMCD_SIMD_H

#include <stddef.h>
#include <stdint.h>

#include "rng.h"

/* Rows per panel in the packed layout: panel p holds rows [pP, pP+P) stored
 * column by column, X[(p*d + j)*P + r], zero-padded past the last row. */
#define SIMD_PANEL 32
/* The widest d that the panel kernels take (model.c packs panels up to it). */
#define SIMD_PANEL_MAX_D 64
/* Lanes of the gradient accumulator acc[j*SIMD_ACC + v] used by panels. */
#define SIMD_ACC 8
/* Row groups (glm_groups_*, kernels_groups.h): rows of more than
 * SIMD_PANEL_MAX_D columns, padded to ld (whole 64-byte lines, at most
 * SIMD_GROUPS_MAX_ROW_BYTES), in groups of SIMD_GROUP rows; with L the
 * elements in 64 bytes, group k holds rows [kG, kG+G) as chunks of L
 * columns, row r's columns cL..cL+L-1 at (k*ld*G + c*L*G + r*L),
 * zero-padded. Made while the copy takes at most SIMD_GROUPS_MAX_BYTES
 * (simd_groups_bytes): ULA chains at d = 500 with X of 2 to 16 MB ran
 * 13-30% faster in groups than in rows, at 32 MB 2-7%, on this project's
 * AMD VM (bench/README.md, "Row groups"); past that, where X streams from
 * DRAM, nothing was measured to pay for a second copy. */
#define SIMD_GROUP 4
#define SIMD_GROUPS_MAX_ROW_BYTES 4096
#define SIMD_GROUPS_MAX_BYTES ((uint64_t)32 << 20)

/* The row stride, in elements of elem_size bytes, of a regression's
 * row-major rows (and row groups) of d columns: d, or past
 * SIMD_PANEL_MAX_D whole 64-byte lines. */
static inline uint64_t simd_rows_ld(uint64_t d, uint64_t elem_size) {
    uint64_t per_line = 64 / elem_size;
    return d > SIMD_PANEL_MAX_D ? (d + per_line - 1) / per_line * per_line : d;
}

/* The bytes of a model's row groups for n rows of d columns of elem_size
 * bytes each, or 0 when it has none (the sizes above; rows padded to
 * whole panels). */
static inline uint64_t simd_groups_bytes(uint64_t n, uint64_t d, uint64_t elem_size) {
    uint64_t row_bytes = simd_rows_ld(d, elem_size) * elem_size;
    if (d <= SIMD_PANEL_MAX_D || row_bytes > SIMD_GROUPS_MAX_ROW_BYTES) return 0;
    if (n > SIMD_GROUPS_MAX_BYTES / row_bytes) return 0; /* and no product overflows */
    uint64_t rows = (n + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL;
    return rows * row_bytes <= SIMD_GROUPS_MAX_BYTES ? rows * row_bytes : 0;
}

/* Steps whose keys and noise normal_fill_ahead draws at once, and the
 * largest d it serves (SIMD_AHEAD x SIMD_AHEAD_MAX_D normals). */
#define SIMD_AHEAD 16
#define SIMD_AHEAD_MAX_D 16

typedef enum simd_vmath_fn {
    VMATH_EXP = 0,
    VMATH_LOG, /* double only */
    VMATH_LOG1P,
    VMATH_SOFTPLUS, /* log(1 + e^x) */
    VMATH_SIGMOID,  /* 1 / (1 + e^-x) */
    VMATH_NORMAL_QUANTILE
} simd_vmath_fn;

/* The per-row link of a generalised linear model's pass (see simd_glm). */
typedef enum simd_link { SIMD_LINK_LOGISTIC = 0, SIMD_LINK_POISSON, SIMD_LINK_LINEAR } simd_link;

/* The Poisson mean is e^eta up to this eta and continues linearly past it,
 * e^M (1 + eta - M), with slope e^M: lp and its gradient stay finite and
 * consistent for any theta (very negative lp, a gradient pointing back)
 * where e^eta would overflow (float32: e^88) into inf and NaN. No count
 * data has means near e^M, so the model is unchanged where it matters. */
#define SIMD_POISSON_ETA_MAX_F64 200.0
#define SIMD_POISSON_ETA_MAX_F32 60.0f

/* What one pass of a regression computes for each row i. With
 * eta_i = x_i . theta + offset, the link gives s_i = dl_i/deta_i and the
 * log-likelihood l_i, additive constants dropped:
 *   logistic: s = y - sigmoid(eta),  l = y eta - softplus(eta)
 *   poisson:  s = y - mu'(eta),      l = y eta - mu(eta)  (mu: e^eta, as above)
 *   linear:   s = prec (y - eta),    l = -prec (y - eta)^2 / 2
 * The pass adds sum_i s_i x_i into its gradient and returns sum_i l_i;
 * with intercept it adds sum_i s_i into slot d as well (a column of ones
 * that is not stored). */
typedef struct simd_glm {
    simd_link link;
    int intercept;
    double offset; /* the intercept's value, added to every eta (0 without one) */
    double prec;   /* linear: 1 / sigma^2; unused by the others */
} simd_glm;

typedef struct simd_ops {
    const char *name;
    /* A regression's pass over n rows in panel layout: adds sum_i s_i x_i
     * into acc (d * SIMD_ACC doubles; with g->intercept, (d + 1) *
     * SIMD_ACC, the last SIMD_ACC for sum_i s_i); returns sum_i l_i when
     * want_logp, else 0. */
    double (*glm_panels_f64)(const simd_glm *g, const double *Xp, const double *yp, size_t n,
                             size_t d, const double *theta, double *acc, int want_logp);
    double (*glm_panels_f32)(const simd_glm *g, const float *Xp, const float *yp, size_t n,
                             size_t d, const float *theta, double *acc, int want_logp);
    /* The same over row-major rows X[i*ld + j] (ld >= d; rows whose starts
     * are 64-byte aligned load fastest), rows idx[0..n) (or 0..n when idx
     * is NULL); adds the gradient straight into grad (d doubles, and
     * grad[d] += sum_i s_i with g->intercept). */
    double (*glm_rows_f64)(const simd_glm *g, const double *X, size_t ld, const double *y,
                           const uint32_t *idx, size_t n, size_t d, const double *theta,
                           double *grad, int want_logp);
    double (*glm_rows_f32)(const simd_glm *g, const float *X, size_t ld, const float *y,
                           const uint32_t *idx, size_t n, size_t d, const float *theta,
                           double *grad, int want_logp);
    /* The same over rows 0..n of row groups G (SIMD_GROUP above), G at a
     * group's start and theta ld elements, zero past d, 64-byte aligned;
     * NULL on the paths that have none (all but avx512). */
    double (*glm_groups_f64)(const simd_glm *g, const double *G, size_t ld, const double *y,
                             size_t n, size_t d, const double *theta, double *grad, int want_logp);
    double (*glm_groups_f32)(const simd_glm *g, const float *G, size_t ld, const float *y, size_t n,
                             size_t d, const float *theta, double *grad, int want_logp);
    /* The logistic link without intercept, as above (for benchmarks). */
    double (*lr_panels_f64)(const double *Xp, const double *yp, size_t n, size_t d,
                            const double *theta, double *acc, int want_logp);
    double (*lr_panels_f32)(const float *Xp, const float *yp, size_t n, size_t d,
                            const float *theta, double *acc, int want_logp);
    double (*lr_rows_f64)(const double *X, size_t ld, const double *y, const uint32_t *idx,
                          size_t n, size_t d, const double *theta, double *grad, int want_logp);
    double (*lr_rows_f32)(const float *X, size_t ld, const float *y, const uint32_t *idx, size_t n,
                          size_t d, const float *theta, double *grad, int want_logp);
    /* Minibatch rows idx[0..n) of row-major X (nx x d, d <= SIMD_PANEL_MAX_D)
     * packed into panels at dst, zero-padded, and their y[idx[r]] into
     * ydst, for glm_panels. */
    void (*gather_panels_f64)(double *dst, double *ydst, const double *X, const double *y,
                              const uint32_t *idx, size_t n, size_t d, size_t nx);
    void (*gather_panels_f32)(float *dst, float *ydst, const float *X, const float *y,
                              const uint32_t *idx, size_t n, size_t d, size_t nx);
    /* out[i] = index on [0, range) from rng_bits64(key, first + i), i < n,
     * as (int)(u * range) with u = (bits >> 12) / 2^52; range < 2^31. */
    void (*index_fill)(rng_key key, uint64_t first, uint32_t range, uint32_t *out, size_t n);
    /* out[i] = standard normal from rng_bits64(key, first + i), i < n. */
    void (*normal_fill)(rng_key key, uint64_t first, double *out, size_t n);
    /* The same for SIMD_AHEAD steps at once: keys[k] = rng_fold_in(kstep,
     * t0 + k) and out[k d + j] (SIMD_AHEAD d of them) the normal_fill of
     * keys[k] at first + j, j < d: for d <= SIMD_AHEAD_MAX_D, a small d's
     * noise for many steps in whole vectors, the same bits as one step at
     * a time (larger d: one step at a time). */
    void (*normal_fill_ahead)(rng_key kstep, uint32_t t0, uint64_t first, size_t d, rng_key *keys,
                              double *out);
    /* y[i] = f(x[i]) for the functions of vmath.h, as this path compiles
     * them; for accuracy tests and benchmarks. */
    void (*vmath_apply)(simd_vmath_fn fn, const double *x, double *y, size_t n);
    /* The float32 versions (exp for x <= 0 and log1p for 0 <= x <= 1 only;
     * no log or normal quantile: NaN). */
    void (*vmathf_apply)(simd_vmath_fn fn, const float *x, float *y, size_t n);
} simd_ops;

/* The process's path: MCMCD_SIMD when it names one the CPU runs, else the
 * one given to simd_ops_use, else simd_ops_default(). */
const simd_ops *simd_ops_get(void);
/* The table for one path, or NULL when the CPU or the build lacks it. */
const simd_ops *simd_ops_named(const char *name);
/* The first path of the table that this CPU runs. */
const simd_ops *simd_ops_default(void);
/* Makes ops the process's path (unless MCMCD_SIMD forces one). Called once
 * at start, before any chain runs: draws must not change paths midway. */
void simd_ops_use(const simd_ops *ops);

/* The paths of this build, i < simd_path_count(), in the table's order. */
#define SIMD_PATHS_MAX 8
size_t simd_path_count(void);
const char *simd_path_name(size_t i);
/* The CPU features path i needs, as text ("avx2 fma"; "" for none). */
const char *simd_path_features(size_t i);
/* Whether this CPU runs path i. */
int simd_path_runs(size_t i);

#endif
