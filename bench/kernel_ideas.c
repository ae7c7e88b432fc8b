/* kernel_ideas.c - prototypes of faster logistic-regression gradient
 * kernels, timed against the core's kernels on the same data, so that the
 * suggestions in bench/README.md come with numbers. Not used by the core.
 *
 *  rows:   the core's lr_rows (d > 64) computes each row's dot product as one
 *          SIMD reduction with a single accumulator (latency-bound: one FMA
 *          every 4 cycles) and then streams grad (d doubles) in and out once
 *          per row. The prototype takes R = 8 rows at a time: 8 independent
 *          dot products share each load of theta, and one pass over grad adds
 *          all 8 rows (grad traffic / 8), while the 8 rows are still in L1/L2.
 *  rows as panels: the same rows (d > 64) packed in panels as for d <= 64,
 *          so that the pass over X is one sequential stream, timed with the
 *          prototype panel kernel below against the core's lr_rows.
 *  panels: the core's lr_panels (d <= 64) adds each panel's per-column
 *          partial sums into acc with 8 scalar convert+add+store; the
 *          prototype keeps acc in vector form and adds with one vector op,
 *          and computes the link once per panel as the core does.
 *
 * Usage: bench_kernel_ideas [--iters N]   (prints a table, checks agreement)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dataset.h"
#include "simd.h"
#include "vmath.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define CLONES
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --- rows: R rows at a time -------------------------------------------------- */

enum { R = 8 };

#define ROWS_KERNEL(name, KT)                                                                      \
    CLONES static void name(const KT *X, const KT *y, size_t n, size_t d, const KT *theta,         \
                            double *grad) {                                                        \
        size_t b = 0;                                                                              \
        for (; b + R <= n; b += R) {                                                               \
            const KT *r0 = X + b * d, *r1 = r0 + d, *r2 = r1 + d, *r3 = r2 + d, *r4 = r3 + d,      \
                     *r5 = r4 + d, *r6 = r5 + d, *r7 = r6 + d;                                     \
            KT e0 = 0, e1 = 0, e2 = 0, e3 = 0, e4 = 0, e5 = 0, e6 = 0, e7 = 0;                     \
            _Pragma("omp simd reduction(+ : e0, e1, e2, e3, e4, e5, e6, e7)") for (size_t j = 0;   \
                                                                                   j < d; j++) {   \
                KT t = theta[j];                                                                   \
                e0 += r0[j] * t;                                                                   \
                e1 += r1[j] * t;                                                                   \
                e2 += r2[j] * t;                                                                   \
                e3 += r3[j] * t;                                                                   \
                e4 += r4[j] * t;                                                                   \
                e5 += r5[j] * t;                                                                   \
                e6 += r6[j] * t;                                                                   \
                e7 += r7[j] * t;                                                                   \
            }                                                                                      \
            double eta[R] = {e0, e1, e2, e3, e4, e5, e6, e7}, s[R];                                \
            _Pragma("omp simd") for (int r = 0; r < R; r++) {                                      \
                double e = eta[r];                                                                 \
                s[r] = (double)y[b + r] - vm_sigmoid_t(e, vm_exp(-fabs(e)));                       \
            }                                                                                      \
            KT s0 = (KT)s[0], s1 = (KT)s[1], s2 = (KT)s[2], s3 = (KT)s[3], s4 = (KT)s[4],          \
               s5 = (KT)s[5], s6 = (KT)s[6], s7 = (KT)s[7];                                        \
            _Pragma("omp simd") for (size_t j = 0; j < d; j++) grad[j] +=                          \
                (double)(s0 * r0[j] + s1 * r1[j] + s2 * r2[j] + s3 * r3[j] + s4 * r4[j] +          \
                         s5 * r5[j] + s6 * r6[j] + s7 * r7[j]);                                    \
        }                                                                                          \
        for (; b < n; b++) {                                                                       \
            const KT *row = X + b * d;                                                             \
            KT e = 0;                                                                              \
            _Pragma("omp simd reduction(+ : e)") for (size_t j = 0; j < d; j++) e +=               \
                row[j] * theta[j];                                                                 \
            double ed = e, sr = (double)y[b] - vm_sigmoid_t(ed, vm_exp(-fabs(ed)));                \
            _Pragma("omp simd") for (size_t j = 0; j < d; j++) grad[j] += sr * (double)row[j];     \
        }                                                                                          \
    }
ROWS_KERNEL(rows8_f64, double)
ROWS_KERNEL(rows8_f32, float)

/* --- panels: vector accumulation of the partial sums ------------------------- */

enum { P = SIMD_PANEL, V = SIMD_ACC };

#define PANELS_KERNEL(name, KT)                                                                    \
    CLONES static void name(const KT *Xp, const KT *yp, size_t n, size_t d, const KT *theta,       \
                            double *acc) {                                                         \
        size_t np = (n + P - 1) / P;                                                               \
        for (size_t p = 0; p < np; p++) {                                                          \
            const KT *X = Xp + p * P * d;                                                          \
            _Alignas(64) KT eta[P] = {0};                                                          \
            _Alignas(64) KT sk[P];                                                                 \
            for (size_t j = 0; j < d; j++) {                                                       \
                const KT *col = X + j * P, th = theta[j];                                          \
                _Pragma("omp simd aligned(eta : 64)") for (size_t r = 0; r < P; r++) eta[r] +=     \
                    col[r] * th;                                                                   \
            }                                                                                      \
            const KT *yy = yp + p * P;                                                             \
            _Pragma("omp simd") for (size_t r = 0; r < P; r++) {                                   \
                double e = eta[r];                                                                 \
                sk[r] = (KT)((double)yy[r] - vm_sigmoid_t(e, vm_exp(-fabs(e))));                   \
            }                                                                                      \
            for (size_t j = 0; j < d; j++) {                                                       \
                const KT *col = X + j * P;                                                         \
                KT t[V] = {0};                                                                     \
                for (size_t k = 0; k < P; k += V) {                                                \
                    _Pragma("omp simd") for (size_t v = 0; v < V; v++) t[v] +=                     \
                        sk[k + v] * col[k + v];                                                    \
                }                                                                                  \
                double *a = acc + j * V;                                                           \
                _Pragma("omp simd") for (size_t v = 0; v < V; v++) a[v] += (double)t[v];           \
            }                                                                                      \
        }                                                                                          \
    }
PANELS_KERNEL(panels_f64, double)
PANELS_KERNEL(panels_f32, float)

/* --- harness --------------------------------------------------------------- */

typedef void (*timed_fn)(void *ctx);

static double median_time(timed_fn f, void *ctx, int iters) {
    enum { S = 7 };
    double s[S];
    f(ctx);
    for (int k = 0; k < S; k++) {
        double t0 = now();
        for (int i = 0; i < iters; i++)
            f(ctx);
        s[k] = (now() - t0) / iters;
    }
    qsort(s, S, sizeof *s, cmp_double);
    return s[S / 2];
}

typedef struct rows_ctx {
    int f32, proto;
    size_t n, d;
    const void *X, *y, *theta;
    double *grad;
} rows_ctx;

static void rows_call(void *p) {
    rows_ctx *c = p;
    const simd_ops *ops = simd_ops_get();
    memset(c->grad, 0, c->d * sizeof(double));
    if (c->proto) {
        if (c->f32)
            rows8_f32(c->X, c->y, c->n, c->d, c->theta, c->grad);
        else
            rows8_f64(c->X, c->y, c->n, c->d, c->theta, c->grad);
    } else if (c->f32) {
        ops->lr_rows_f32(c->X, c->d, c->y, NULL, c->n, c->d, c->theta, c->grad, 0);
    } else {
        ops->lr_rows_f64(c->X, c->d, c->y, NULL, c->n, c->d, c->theta, c->grad, 0);
    }
}

typedef struct panels_ctx {
    int f32, proto;
    size_t n, d;
    const void *Xp, *yp, *theta;
    double *acc;
} panels_ctx;

static void panels_call(void *p) {
    panels_ctx *c = p;
    const simd_ops *ops = simd_ops_get();
    memset(c->acc, 0, c->d * V * sizeof(double));
    if (c->proto) {
        if (c->f32)
            panels_f32(c->Xp, c->yp, c->n, c->d, c->theta, c->acc);
        else
            panels_f64(c->Xp, c->yp, c->n, c->d, c->theta, c->acc);
    } else if (c->f32) {
        ops->lr_panels_f32(c->Xp, c->yp, c->n, c->d, c->theta, c->acc, 0);
    } else {
        ops->lr_panels_f64(c->Xp, c->yp, c->n, c->d, c->theta, c->acc, 0);
    }
}

static double max_rel_diff(const double *a, const double *b, size_t n) {
    double m = 0, scale = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(a[i]));
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / (scale > 0 ? scale : 1));
    return m;
}

/* Packs rows into panels of P rows stored column by column (simd.h). */
static void *pack(const dataset *ds, int f32, void **yp) {
    size_t n = ds->n, d = ds->d, np = (n + P - 1) / P * P, es = f32 ? 4 : 8;
    char *X = calloc(np * d, es), *y = calloc(np, es);
    for (size_t i = 0; i < n; i++) {
        size_t p = i / P, q = i % P;
        for (size_t j = 0; j < d; j++) {
            size_t k = (p * d + j) * P + q;
            if (f32)
                ((float *)X)[k] = (float)ds->X[i * d + j];
            else
                ((double *)X)[k] = ds->X[i * d + j];
        }
        if (f32)
            ((float *)y)[i] = ds->y[i];
        else
            ((double *)y)[i] = ds->y[i];
    }
    *yp = y;
    return X;
}

int main(int argc, char **argv) {
    double budget = 0.2; /* seconds per sample, roughly */
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--budget") && i + 1 < argc) budget = atof(argv[++i]);
    printf("# kernel_ideas: SIMD path %s; one gradient pass, median of 7 samples\n",
           simd_ops_get()->name);
    printf("%-7s %7s %5s %4s %11s %11s %8s %10s\n", "kernel", "N", "d", "type", "core_us",
           "proto_us", "speedup", "max_rel");
    /* kind 0: rows (core) vs rows8; 1: panels (core) vs panels; 2: rows (core) vs panels */
    static const struct {
        int panels;
        size_t n, d;
    } cases[] = {{0, 1000, 500},  {0, 1000, 1000}, {0, 1000, 2000}, {2, 1000, 500}, {2, 1000, 1000},
                 {2, 1000, 2000}, {1, 1000, 5},    {1, 100000, 5},  {1, 1000000, 5}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        synth_params sp = {.n = cases[c].n, .d = cases[c].d, .theta_variance = 10.0};
        dataset *ds = NULL;
        if (dataset_synthesize(&sp, &ds) != 0) return 1;
        size_t n = ds->n, d = ds->d;
        for (int f32 = 0; f32 < 2; f32++) {
            double *g0 = calloc(d * V, sizeof *g0), *g1 = calloc(d * V, sizeof *g1);
            double t_core, t_proto, diff;
            void *th = f32 ? (void *)calloc(d, 4) : (void *)calloc(d, 8);
            for (size_t j = 0; j < d; j++) {
                if (f32)
                    ((float *)th)[j] = (float)ds->theta_true[j];
                else
                    ((double *)th)[j] = ds->theta_true[j];
            }
            double per_pass = (double)n * (double)d * 1e-9 + 1e-7; /* a guess: 1 ns / element */
            int iters = (int)(budget / 7 / per_pass) + 1;
            if (cases[c].panels == 2) {
                void *X = ds->X, *y = malloc(n * (f32 ? 4 : 8));
                if (f32) {
                    float *Xf = malloc(n * d * 4);
                    for (size_t k = 0; k < n * d; k++)
                        Xf[k] = (float)ds->X[k];
                    X = Xf;
                }
                for (size_t i = 0; i < n; i++) {
                    if (f32)
                        ((float *)y)[i] = ds->y[i];
                    else
                        ((double *)y)[i] = ds->y[i];
                }
                void *yp, *Xp = pack(ds, f32, &yp);
                rows_ctx a = {f32, 0, n, d, X, y, th, g0};
                panels_ctx b = {f32, 1, n, d, Xp, yp, th, g1};
                t_core = median_time(rows_call, &a, iters);
                t_proto = median_time(panels_call, &b, iters);
                for (size_t j = 0; j < d; j++) { /* fold the panel lanes */
                    double t = 0;
                    for (size_t v = 0; v < V; v++)
                        t += g1[j * V + v];
                    g1[j] = t;
                }
                diff = max_rel_diff(g0, g1, d);
                if (f32) free(X);
                free(y);
                free(Xp);
                free(yp);
            } else if (!cases[c].panels) {
                void *X = ds->X, *y = malloc(n * (f32 ? 4 : 8));
                if (f32) {
                    float *Xf = malloc(n * d * 4);
                    for (size_t k = 0; k < n * d; k++)
                        Xf[k] = (float)ds->X[k];
                    X = Xf;
                }
                for (size_t i = 0; i < n; i++) {
                    if (f32)
                        ((float *)y)[i] = ds->y[i];
                    else
                        ((double *)y)[i] = ds->y[i];
                }
                rows_ctx a = {f32, 0, n, d, X, y, th, g0}, b = {f32, 1, n, d, X, y, th, g1};
                t_core = median_time(rows_call, &a, iters);
                t_proto = median_time(rows_call, &b, iters);
                diff = max_rel_diff(g0, g1, d);
                if (f32) free(X);
                free(y);
            } else {
                void *yp, *Xp = pack(ds, f32, &yp);
                panels_ctx a = {f32, 0, n, d, Xp, yp, th, g0}, b = {f32, 1, n, d, Xp, yp, th, g1};
                t_core = median_time(panels_call, &a, iters);
                t_proto = median_time(panels_call, &b, iters);
                diff = max_rel_diff(g0, g1, d * V);
                free(Xp);
                free(yp);
            }
            printf("%-7s %7zu %5zu %4s %11.2f %11.2f %8.2f %10.2e\n",
                   cases[c].panels == 2 ? "rows>pn"
                   : cases[c].panels    ? "panels"
                                        : "rows",
                   n, d, f32 ? "f32" : "f64", t_core * 1e6, t_proto * 1e6, t_core / t_proto, diff);
            fflush(stdout);
            free(g0);
            free(g1);
            free(th);
        }
        dataset_free(ds);
    }
    return 0;
}
