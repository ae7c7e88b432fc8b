/* test_model.c - the models' log densities and gradients: against a direct
 * two-pass long-double formula, against central finite differences, for
 * both dtypes and every data layout (panels for d <= 64, rows above, and
 * row groups of rows up to 4 KB where the path has them), and
 * the minibatch estimate against its definition; the minibatch's gather
 * into panels, on this run's SIMD path, against the layout's definition;
 * the 512-bit path's panels in pairs against the 256-bit build's bits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model.h"
#include "rng.h"
#include "simd.h"
#include "test_util.h"

/* log prior + sum of log-likelihoods over rows idx (or all), computed the
 * obvious way: eta first, then the stable softplus, in long double. */
static long double direct_logp(const dataset *ds, double v, const double *theta,
                               const uint32_t *idx, size_t n) {
    long double lp = 0, prior = 0;
    for (size_t j = 0; j < ds->d; j++)
        prior += (long double)theta[j] * theta[j];
    for (size_t r = 0; r < n; r++) {
        size_t i = idx ? idx[r] : r;
        long double eta = 0;
        for (size_t j = 0; j < ds->d; j++)
            eta += (long double)ds->X[i * ds->d + j] * theta[j];
        long double sp = (eta > 0 ? eta : 0) + log1pl(expl(-fabsl(eta)));
        lp += ds->y[i] * eta - sp;
    }
    long double scale = idx ? (long double)ds->n / n : 1;
    return scale * lp - prior / (2 * v);
}

static dataset *make_data(size_t n, size_t d, uint64_t seed) {
    dataset *ds = NULL;
    synth_params p = {.n = n, .d = d, .seed = seed, .theta_variance = 10};
    assert_int_equal(dataset_synthesize(&p, &ds), 0);
    return ds;
}

static void random_theta(double *theta, size_t d, uint64_t seed, double scale) {
    rng_normal_fill(rng_key_from_seed(seed), theta, d);
    for (size_t j = 0; j < d; j++)
        theta[j] *= scale;
}

/* Relative agreement of the model's log density with the direct formula:
 * float64 to 1e-12 (sums of n terms reassociated), float32 to 1e-5 (X and
 * eta rounded to 24 bits). */
static void check_logp(size_t n, size_t d, model_dtype dt, double tol) {
    dataset *ds = make_data(n, d, 11);
    model *m = model_logistic_create(ds, 10.0, dt);
    model_work *w = model_work_create(m, 64);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g);
    assert_non_null(m), assert_non_null(w);
    for (uint64_t trial = 0; trial < 5; trial++) {
        random_theta(theta, d, 100 + trial, 1.0 / sqrt((double)d));
        double lp = model_logp_grad(m, w, theta, g, 1);
        long double ref = direct_logp(ds, 10.0, theta, NULL, n);
        assert_true(fabsl(lp - ref) <= tol * fabsl(ref));
    }
    free(theta), free(g);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_logp_direct(void **state) {
    (void)state;
    check_logp(1000, 5, DTYPE_F64, 1e-12);  /* panels, full panel multiple */
    check_logp(1001, 7, DTYPE_F64, 1e-12);  /* panels with a ragged last panel */
    check_logp(333, 130, DTYPE_F64, 1e-12); /* row-major kernel */
    check_logp(1001, 7, DTYPE_F32, 1e-5);
    check_logp(333, 130, DTYPE_F32, 1e-5);
    check_logp(50, 4100, DTYPE_F64, 1e-12); /* past the fused row kernel's d */
    check_logp(50, 4100, DTYPE_F32, 1e-5);
    check_logp(20011, 5, DTYPE_F64, 1e-12); /* eight segments of panels */
    check_logp(20011, 5, DTYPE_F32, 1e-5);
}

/* One evaluation (full data, or the minibatch idx) with row_threads
 * threads: its log density and gradient. */
static double eval_split(const model *m, unsigned row_threads, const double *theta,
                         const uint32_t *idx, size_t nb, double *g) {
    model_work *w = model_work_create_split(m, nb, row_threads);
    assert_non_null(w);
    double lp = idx ? model_logp_grad_batch(m, w, theta, idx, nb, g, 1)
                    : model_logp_grad(m, w, theta, g, 1);
    model_work_free(w);
    return lp;
}

/* Splitting rows over threads changes nothing, to the bit: the segments are
 * fixed by (n, d) and added in order, whoever computes them. */
static void check_split(size_t n, size_t d, model_dtype dt, size_t nb) {
    dataset *ds = make_data(n, d, 13);
    model *m = model_logistic_create(ds, 10.0, dt);
    double *theta = malloc(d * sizeof *theta), *g1 = malloc(d * sizeof *g1),
           *gk = malloc(d * sizeof *gk);
    uint32_t *idx = nb ? malloc(nb * sizeof *idx) : NULL;
    for (size_t i = 0; i < nb; i++)
        idx[i] = (uint32_t)((i * 7919) % n);
    random_theta(theta, d, 21, 1.0 / sqrt((double)d));
    double lp1 = eval_split(m, 1, theta, idx, nb, g1);
    long double ref = direct_logp(ds, 10.0, theta, idx, nb ? nb : n);
    assert_true(fabsl(lp1 - ref) <= (dt == DTYPE_F32 ? 1e-5 : 1e-12) * fabsl(ref));
    for (unsigned k = 2; k <= 9; k += 3) {
        double lpk = eval_split(m, k, theta, idx, nb, gk);
        assert_memory_equal(&lp1, &lpk, sizeof lp1);
        assert_memory_equal(g1, gk, d * sizeof *g1);
    }
    free(theta), free(g1), free(gk), free(idx);
    model_free(m), dataset_free(ds);
}

static void test_row_threads_same_bits(void **state) {
    (void)state;
    check_split(20011, 5, DTYPE_F64, 0); /* panels, 8 segments, ragged end */
    check_split(20011, 5, DTYPE_F32, 0);
    check_split(20011, 5, DTYPE_F64, 4000); /* a packed minibatch */
    check_split(1000, 130, DTYPE_F64, 0);   /* row-major kernel */
    check_split(1000, 130, DTYPE_F32, 0);
    check_split(1000, 130, DTYPE_F32, 300); /* gathered rows */
}

/* Central differences with step 1e-5 have truncation error ~ h^2 f''' and
 * rounding ~ eps |f| / h; with |f| ~ 1e3 that is ~1e-8 absolute. */
static void check_gradient(size_t n, size_t d, model_dtype dt, double tol) {
    dataset *ds = make_data(n, d, 12);
    model *m = model_logistic_create(ds, 10.0, dt);
    model_work *w = model_work_create(m, 0);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g),
           *tmp = malloc(d * sizeof *tmp);
    random_theta(theta, d, 5, 0.5);
    model_logp_grad(m, w, theta, g, 0);
    for (size_t j = 0; j < d; j++) {
        double h = 1e-5, save = theta[j];
        theta[j] = save + h;
        double fp = (double)direct_logp(ds, 10.0, theta, NULL, n);
        theta[j] = save - h;
        double fm = (double)direct_logp(ds, 10.0, theta, NULL, n);
        theta[j] = save;
        double fd = (fp - fm) / (2 * h);
        assert_true(fabs(g[j] - fd) <= tol * (1 + fabs(fd)));
    }
    /* want_logp = 0 and 1 give the same gradient */
    model_logp_grad(m, w, theta, tmp, 1);
    for (size_t j = 0; j < d; j++)
        assert_true(tmp[j] == g[j]);
    free(theta), free(g), free(tmp);
    model_work_free(w), model_free(m), dataset_free(ds);
}

/* The gradient against its formula, sum_i (y_i - sigmoid(eta_i)) x_i -
 * theta / v, in long double: for shapes where finite differences over every
 * coordinate would be slow. Tolerance relative to the sum of |terms|, so
 * that cancellation does not matter: 1e-12 (f64); f32 rounds x and eta to
 * 24 bits, and an eta error of ~6e-8 sqrt(d) |x . theta| moves s by a
 * quarter of it: 1e-4, as in the finite-difference check. */
static void check_gradient_direct(size_t n, size_t d, model_dtype dt, double tol) {
    dataset *ds = make_data(n, d, 14);
    model *m = model_logistic_create(ds, 10.0, dt);
    model_work *w = model_work_create(m, 0);
    double *theta = malloc(d * sizeof *theta), *g = malloc(d * sizeof *g);
    long double *ref = calloc(d, sizeof *ref), *mag = calloc(d, sizeof *mag);
    random_theta(theta, d, 6, 1.0 / sqrt((double)d));
    model_logp_grad(m, w, theta, g, 0);
    for (size_t i = 0; i < n; i++) {
        long double eta = 0;
        for (size_t j = 0; j < d; j++)
            eta += (long double)ds->X[i * d + j] * theta[j];
        long double s = ds->y[i] - 1 / (1 + expl(-eta));
        for (size_t j = 0; j < d; j++) {
            ref[j] += s * ds->X[i * d + j];
            mag[j] += fabsl(s * ds->X[i * d + j]);
        }
    }
    for (size_t j = 0; j < d; j++) {
        long double want = ref[j] - theta[j] / 10.0L;
        assert_true(fabsl(g[j] - want) <= tol * (mag[j] + fabsl(theta[j]) / 10 + 1e-300L));
    }
    free(theta), free(g), free(ref), free(mag);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_gradient_direct(void **state) {
    (void)state;
    check_gradient_direct(70, 4100, DTYPE_F64, 1e-12); /* block row kernel, d > 4096 */
    check_gradient_direct(70, 4100, DTYPE_F32, 1e-4);
    check_gradient_direct(1001, 130, DTYPE_F64, 1e-12); /* avx512: row groups, ragged end */
    check_gradient_direct(201, 512, DTYPE_F64, 1e-12);  /* the widest groups */
    check_gradient_direct(1001, 130, DTYPE_F32, 1e-4);  /* avx512: row groups */
    check_gradient_direct(201, 1024, DTYPE_F32, 1e-4);  /* the widest groups */
    check_gradient_direct(20011, 7, DTYPE_F64, 1e-12);  /* panels, eight segments */
    check_gradient_direct(20011, 7, DTYPE_F32, 1e-4);
}

static void test_gradient_fd(void **state) {
    (void)state;
    check_gradient(500, 5, DTYPE_F64, 1e-6);
    check_gradient(300, 100, DTYPE_F64, 1e-6);
    /* float32: x and eta carry relative error ~6e-8, times sums of ~300
     * terms of size ~1: 1e-4 relative. */
    check_gradient(500, 5, DTYPE_F32, 1e-4);
    check_gradient(300, 100, DTYPE_F32, 1e-4);
}

/* |theta . x| up to ~1e3 and beyond: finite, and equal to the direct
 * formula (which is exact there: softplus(eta) = eta or e^-|eta|). */
static void test_extreme_eta(void **state) {
    (void)state;
    dataset *ds = make_data(200, 4, 13);
    model *m = model_logistic_create(ds, 10.0, DTYPE_F64);
    model_work *w = model_work_create(m, 0);
    double theta[4] = {600, -500, 400, -700}, g[4];
    double lp = model_logp_grad(m, w, theta, g, 1);
    long double ref = direct_logp(ds, 10.0, theta, NULL, 200);
    assert_true(isfinite(lp));
    assert_true(fabsl(lp - ref) <= 1e-12 * fabsl(ref));
    for (int j = 0; j < 4; j++)
        assert_true(isfinite(g[j]));
    model_work_free(w), model_free(m), dataset_free(ds);
}

/* The minibatch estimate equals log prior + (N/n) sum over the batch, and
 * its gradient averaged over many batches approaches the full gradient:
 * each coordinate within 5 standard errors of the batch mean. */
static void check_batch(size_t d) {
    size_t n = 1000, nb = 50, reps = 4000;
    dataset *ds = make_data(n, d, 14);
    model *m = model_logistic_create(ds, 10.0, DTYPE_F64);
    model_work *w = model_work_create(m, nb);
    double *theta = calloc(d, sizeof *theta), *g = malloc(d * sizeof *g),
           *full = malloc(d * sizeof *full), *s1 = calloc(d, sizeof *s1),
           *s2 = calloc(d, sizeof *s2);
    uint32_t idx[50];
    random_theta(theta, d, 6, 0.3);
    model_logp_grad(m, w, theta, full, 0);
    for (size_t r = 0; r < reps; r++) {
        rng_index_fill(rng_key_from_seed(r), 0, (uint32_t)n, idx, nb);
        double lp = model_logp_grad_batch(m, w, theta, idx, nb, g, 1);
        if (r < 5) {
            long double ref = direct_logp(ds, 10.0, theta, idx, nb);
            assert_true(fabsl(lp - ref) <= 1e-12 * fabsl(ref));
        }
        for (size_t j = 0; j < d; j++)
            s1[j] += g[j], s2[j] += g[j] * g[j];
    }
    for (size_t j = 0; j < d; j++) {
        double mean = s1[j] / reps, var = s2[j] / reps - mean * mean;
        assert_true(fabs(mean - full[j]) <= 5 * sqrt(var / reps));
    }
    free(theta), free(g), free(full), free(s1), free(s2);
    model_work_free(w), model_free(m), dataset_free(ds);
}

static void test_minibatch(void **state) {
    (void)state;
    check_batch(5);  /* gathered into panels */
    check_batch(80); /* row-major gather */
}

/* Panels of rows idx[0..n) of X as simd.h defines them, the padding zero. */
#define EXPECT_PANELS(T, want, wanty, X, y, idx, n, d)                                             \
    for (size_t r = 0; r < ((n) + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL; r++) {                \
        size_t p = r / SIMD_PANEL, i = r % SIMD_PANEL;                                             \
        for (size_t j = 0; j < (d); j++)                                                           \
            (want)[(p * (d) + j) * SIMD_PANEL + i] = r < (n) ? (X)[(idx)[r] * (d) + j] : (T)0;     \
        (wanty)[r] = r < (n) ? (y)[(idx)[r]] : (T)0;                                               \
    }

/* bytes that end where an unreadable page begins, so that a read past
 * their end faults rather than reading what malloc left there. */
typedef struct {
    char *map;
    size_t len;
} guarded;

static void *guarded_alloc(guarded *g, size_t bytes) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE), body = (bytes + page - 1) / page * page;
    g->len = body + page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g->map != MAP_FAILED);
    assert_int_equal(mprotect(g->map + body, page, PROT_NONE), 0);
    return g->map + body - bytes;
}

enum { GATHER_NX = 97, GATHER_MAXN = 100, GATHER_MAXP = 128, GATHER_TAIL = 16 };

typedef struct { /* the rows gathered, in both dtypes, each at the end of its buffer */
    double *X, *y;
    float *Xf, *yf;
} gather_rows;

/* The panels of idx[0..n) at width d, both dtypes, against the definition;
 * past what a panel holds, the outputs must be untouched. */
static void check_gather(const gather_rows *g, const uint32_t *idx, size_t n, size_t d) {
    enum { MAXE = GATHER_MAXP * 9 + GATHER_TAIL };
    const simd_ops *ops = simd_ops_get();
    size_t np = (n + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL;
    double got[MAXE], want[MAXE], goty[GATHER_MAXP + GATHER_TAIL], wanty[GATHER_MAXP + GATHER_TAIL];
    float gotf[MAXE], wantf[MAXE], gotyf[GATHER_MAXP + GATHER_TAIL],
        wantyf[GATHER_MAXP + GATHER_TAIL];
    memset(got, 0x5A, sizeof got), memset(gotf, 0x5A, sizeof gotf);
    memset(goty, 0x5A, sizeof goty), memset(gotyf, 0x5A, sizeof gotyf);
    memcpy(want, got, sizeof got), memcpy(wantf, gotf, sizeof gotf);
    memcpy(wanty, goty, sizeof goty), memcpy(wantyf, gotyf, sizeof gotyf);
    ops->gather_panels_f64(got, goty, g->X, g->y, idx, n, d, GATHER_NX);
    ops->gather_panels_f32(gotf, gotyf, g->Xf, g->yf, idx, n, d, GATHER_NX);
    EXPECT_PANELS(double, want, wanty, g->X, g->y, idx, n, d);
    EXPECT_PANELS(float, wantf, wantyf, g->Xf, g->yf, idx, n, d);
    assert_memory_equal(got, want, (np * d + GATHER_TAIL) * sizeof *got);
    assert_memory_equal(goty, wanty, (np + GATHER_TAIL) * sizeof *goty);
    assert_memory_equal(gotf, wantf, (np * d + GATHER_TAIL) * sizeof *gotf);
    assert_memory_equal(gotyf, wantyf, (np + GATHER_TAIL) * sizeof *gotyf);
}

/* The gather copies values, so each dtype's panels must equal the
 * definition exactly, for every d up to 9 (past the transposes' 8) and
 * counts that end a panel's first or second half, or fill it. X and y end
 * at an unreadable page and the last row of X is among the indices;
 * entries of idx past n name no row, and every y is distinct and nonzero,
 * so that reading past any of them, or a y left unzeroed, shows. */
static void test_gather_panels(void **state) {
    (void)state;
    static const size_t counts[] = {1, 4, 15, 16, 17, 31, 32, 33, 63, 100};
    uint32_t idx[GATHER_MAXN];
    for (size_t d = 1; d <= 9; d++) {
        guarded gx, gy, gxf, gyf;
        gather_rows g = {.X = guarded_alloc(&gx, GATHER_NX * d * sizeof(double)),
                         .y = guarded_alloc(&gy, GATHER_NX * sizeof(double)),
                         .Xf = guarded_alloc(&gxf, GATHER_NX * d * sizeof(float)),
                         .yf = guarded_alloc(&gyf, GATHER_NX * sizeof(float))};
        for (size_t i = 0; i < GATHER_NX * d; i++)
            g.Xf[i] = (float)(g.X[i] = 1.0 + (double)i / 8);
        for (size_t i = 0; i < GATHER_NX; i++)
            g.yf[i] = (float)(g.y[i] = 0.5 + (double)i);
        for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
            size_t n = counts[c];
            for (size_t i = 0; i < GATHER_MAXN; i++)
                idx[i] = UINT32_MAX;
            rng_index_fill(rng_key_from_seed(40 + c), 0, GATHER_NX, idx, n);
            idx[n - 1] = GATHER_NX - 1;
            check_gather(&g, idx, n, d);
        }
        munmap(gx.map, gx.len), munmap(gy.map, gy.len);
        munmap(gxf.map, gxf.len), munmap(gyf.map, gyf.len);
    }
}

/* One glm_panels call of each dtype on ops, into acc[0..PANELS_ACC) and
 * the returned log-likelihood after it. */
#define PANELS_ACC ((9 + 1) * SIMD_ACC)
static void panels_call(const simd_ops *ops, const simd_glm *g, const double *X, const double *y,
                        const float *Xf, const float *yf, size_t n, size_t d, int want_logp,
                        double out[2][PANELS_ACC + 1]) {
    double th[9];
    float thf[9];
    for (size_t j = 0; j < d; j++)
        thf[j] = (float)(th[j] = 0.3 * (double)(j % 3) - 0.3 + 0.05 * (double)j);
    memset(out, 0, 2 * sizeof *out);
    out[0][PANELS_ACC] = ops->glm_panels_f64(g, X, y, n, d, th, out[0], want_logp);
    out[1][PANELS_ACC] = ops->glm_panels_f32(g, Xf, yf, n, d, thf, out[1], want_logp);
}

/* The 512-bit path takes float32 panels two at a time (kernels_lr.h's
 * glm_panels_turn), the 256-bit build of the same source one at a time: a
 * reordering of independent work, so their sums must agree to the bit,
 * for every link, with and without the intercept and the log-likelihood,
 * odd and even panel counts and short last panels, d = 1 to 9. Pairs are
 * taken by the float32 calls without the log-likelihood; the others
 * compare the two builds' one-panel code. Whatever this run's path;
 * skipped where the CPU lacks AVX-512 or the build the 256-bit path (the
 * sanitizer build, clang builds, other CPUs than x86-64). */
static void test_panel_pairs_same_bits(void **state) {
    (void)state;
    const simd_ops *ops = simd_ops_named("avx512"), *ref = simd_ops_named("avx512_256");
    if (!ops || !ref) skip();
    static const size_t counts[] = {1, 31, 32, 33, 64, 65, 95, 100, 257, 300};
    enum { NMAX = 320 };
    static double rows[NMAX * 9], rowy[NMAX], X[NMAX * 9], y[NMAX];
    static float rowsf[NMAX * 9], rowyf[NMAX], Xf[NMAX * 9], yf[NMAX];
    static uint32_t every[NMAX];
    for (size_t i = 0; i < NMAX; i++) {
        every[i] = (uint32_t)i;
        rowyf[i] = (float)(rowy[i] = (double)(i % 5));
    }
    static const simd_link links[] = {SIMD_LINK_LOGISTIC, SIMD_LINK_POISSON, SIMD_LINK_LINEAR};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++)
        for (size_t d = 1; d <= 9; d++) {
            size_t n = counts[c];
            for (size_t i = 0; i < n * d; i++) /* row-major, then packed, the padding 0 */
                rowsf[i] = (float)(rows[i] = (double)((i * 7919) % 1000) / 500 - 1);
            EXPECT_PANELS(double, X, y, rows, rowy, every, n, d);
            EXPECT_PANELS(float, Xf, yf, rowsf, rowyf, every, n, d);
            for (size_t l = 0; l < 3; l++)
                for (int icpt = 0; icpt < 2; icpt++)
                    for (int lp = 0; lp < 2; lp++) {
                        simd_glm g = {
                            .link = links[l], .intercept = icpt, .offset = 0.25, .prec = 2};
                        double got[2][PANELS_ACC + 1], want[2][PANELS_ACC + 1];
                        panels_call(ops, &g, X, y, Xf, yf, n, d, lp, got);
                        panels_call(ref, &g, X, y, Xf, yf, n, d, lp, want);
                        assert_memory_equal(got, want, sizeof got);
                    }
        }
}
#undef EXPECT_PANELS

static void test_gaussian(void **state) {
    (void)state;
    double mean[2] = {1, -2}, cov[4] = {2, 0.6, 0.6, 1}, theta[2] = {0.5, 0.5}, g[2];
    model *m = model_gaussian_create(2, mean, cov);
    model_work *w = model_work_create(m, 0);
    assert_non_null(m);
    double lp = model_logp_grad(m, w, theta, g, 1);
    /* inverse of cov: [1, -0.6; -0.6, 2] / 1.64 */
    double dx = -0.5, dy = 2.5, q = (dx * dx - 1.2 * dx * dy + 2 * dy * dy) / 1.64;
    assert_true(fabs(lp + 0.5 * q) < 1e-12);
    assert_true(fabs(g[0] + (dx - 0.6 * dy) / 1.64) < 1e-12);
    assert_true(fabs(g[1] + (-0.6 * dx + 2 * dy) / 1.64) < 1e-12);
    double bad[4] = {1, 2, 2, 1}; /* not positive definite */
    assert_null(model_gaussian_create(2, mean, bad));
    model_work_free(w), model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_logp_direct),
        cmocka_unit_test(test_gradient_fd),
        cmocka_unit_test(test_gradient_direct),
        cmocka_unit_test(test_extreme_eta),
        cmocka_unit_test(test_minibatch),
        cmocka_unit_test(test_gather_panels),
        cmocka_unit_test(test_gaussian),
        cmocka_unit_test(test_row_threads_same_bits),
        cmocka_unit_test(test_panel_pairs_same_bits),
    };
    test_require_simd_path();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
