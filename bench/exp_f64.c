/* exp_f64.c - candidate float64 exps timed against the old one in the same
 * invocation (issue 15), and their accuracy against long-double libm.
 *
 * Every candidate reduces x = (k/N) ln2 + r, N = 2^m, |r| <= ln2/(2N), takes
 * 2^(j/N), j = k mod N, from a table (m = 0: no table; m = 1, 2: selects
 * between constants; m >= 3: a gather) and e^r from 1 + r + r^2 q(r), q
 * minimax for the relative error (bench/exp_coeffs.py derives every
 * coefficient and table entry below). The old exp, core/vmath.h's degree-13
 * Taylor series before issue 15, is kept here as `taylor13`.
 *
 * Each candidate runs as the kernels run it: an `omp simd` loop compiled for
 * AVX-512 (512-bit vectors, as core/CMakeLists.txt builds the avx512
 * kernels) and for AVX2, over 2048 doubles in L1, alone (exp) and inside the
 * logistic link (sigmoid of e^-|x|). Times are thread CPU time per element,
 * the candidates interleaved round by round so that load drifts hit all of
 * them alike; printed: the median over rounds, and the median of the
 * per-round ratio to taylor13.
 *
 * Usage: taskset -c 1 build/bench/bench_exp_f64 [--rounds 31] [--isa avx512|avx2|sse2]
 * Not a test: timings depend on the machine and on its load. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmath.h"

#if !defined(__x86_64__) || !defined(__GNUC__) || defined(__clang__)
int main(void) {
    puts("bench_exp_f64: x86-64 with GCC only");
    return 0;
}
#else

#define ISA_AVX512                                                                                 \
    __attribute__((noinline, target("avx512f,avx512dq,avx512vl,avx512bw,avx2,fma,"                 \
                                    "prefer-vector-width=512")))
#define ISA_AVX2 __attribute__((noinline, target("avx2,fma")))
#define ISA_SSE2 __attribute__((noinline))

static inline double bx_from_bits(uint64_t u) {
    return vm_from_bits(u);
}

/* --- the old exp: degree-13 Taylor, 2^k built in two factors ------------ */
static inline __attribute__((always_inline)) double exp_taylor13(double x) {
    const double log2e = 1.4426950408889634074, shifter = 0x1.8p52;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    double xc = x < -708.39 ? -708.39 : (x > 709.78 ? 709.78 : x);
    double kd = xc * log2e + shifter;
    uint64_t ki = vm_bits(kd);
    kd -= shifter;
    double r = (xc - kd * ln2hi) - kd * ln2lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r * r + r;
    uint64_t pos = xc > 0.0;
    uint64_t sb = (ki + 1023 - pos) << 52;
    double y = (1.0 + p) * bx_from_bits(sb) * (pos ? 2.0 : 1.0);
    y = x < -708.39 ? 0.0 : y;
    y = x > 709.78 ? (double)INFINITY : y;
    return y;
}

/* --- the candidates' shared shape ---------------------------------------- */

/* Tables (for j < N, tab[2j] = the bits of the double nearest 2^(j/N),
 * tab[2j + 1] = the bits of (2^(j/N) - that) / that) and coefficients, as
 * `bench/exp_coeffs.py --bench-header` writes them. */
#include "exp_f64_candidates.h"

/* e^x with N = 2^m table entries (m = 0: none), q's nc coefficients c[]
 * (c[0] multiplies r^2), the table read by selects (sel) or by a gather.
 * 2^e is added into the exponent bits of the result, which is normal for
 * x in [-708.39, 709.78], so that no clamp and no second factor is needed. */
static inline __attribute__((always_inline)) double
exp_tab(double x, const int m, const uint64_t *tab, const double *c, const int nc, const int sel) {
    const double N = (double)(1 << m), shifter = 0x1.8p52;
    const double ln2hi = 6.93147180369123816490e-01, ln2lo = 1.90821492927058770002e-10;
    double kd = x * (N * 1.4426950408889634074) + shifter;
    uint64_t ki = vm_bits(kd);
    kd -= shifter;
    double r = (x - kd * (ln2hi / N)) - kd * (ln2lo / N);
    double t = 1.0, tail = 0.0;
    if (m > 0) {
        uint64_t j = ki & (uint64_t)((1 << m) - 1), tb, lb;
        if (sel && m == 1) {
            tb = j ? tab[2] : tab[0];
            lb = j ? tab[3] : tab[1];
        } else if (sel && m == 2) {
            tb = j & 2 ? (j & 1 ? tab[6] : tab[4]) : (j & 1 ? tab[2] : tab[0]);
            lb = j & 2 ? (j & 1 ? tab[7] : tab[5]) : (j & 1 ? tab[3] : tab[1]);
        } else {
            tb = tab[2 * j];
            lb = tab[2 * j + 1];
        }
        t = bx_from_bits(tb), tail = bx_from_bits(lb);
    }
    double q = c[nc - 1];
#pragma GCC unroll 16
    for (int i = nc - 2; i >= 0; i--)
        q = q * r + c[i];
    double p = (r + tail) + (r * r) * q;
    double y0 = t + t * p;
    double y = bx_from_bits(vm_bits(y0) + ((ki >> m) << 52));
    y = x < -708.39 ? 0.0 : y;
    y = x > 709.78 ? (double)INFINITY : y;
    return y;
}

#define CANDIDATES(X)                                                                              \
    X(taylor13, exp_taylor13(v))                                                                   \
    X(m0d11, exp_tab(v, 0, NULL, exp_m0d11, 10, 0))                                                \
    X(m1d9, exp_tab(v, 1, exp_tab1, exp_m1d9, 8, 1))                                               \
    X(m1d10, exp_tab(v, 1, exp_tab1, exp_m1d10, 9, 1))                                             \
    X(m2d8, exp_tab(v, 2, exp_tab2, exp_m2d8, 7, 1))                                               \
    X(m2d8g, exp_tab(v, 2, exp_tab2, exp_m2d8, 7, 0))                                              \
    X(m3d7, exp_tab(v, 3, exp_tab3, exp_m3d7, 6, 0))                                               \
    X(m4d6, exp_tab(v, 4, exp_tab4, exp_m4d6, 5, 0))                                               \
    X(m6d5, exp_tab(v, 6, exp_tab6, exp_m6d5, 4, 0))

#define APPLY(isa, ATTR, name, expr)                                                               \
    ATTR static void name##_exp_##isa(const double *x, double *y, size_t n) {                      \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                       \
            double v = x[i];                                                                       \
            y[i] = (expr);                                                                         \
        }                                                                                          \
    }                                                                                              \
    ATTR static void name##_sig_##isa(const double *x, double *y, size_t n) {                      \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++) {                                       \
            double u = x[i], v = -fabs(u);                                                         \
            y[i] = vm_sigmoid_t(u, (expr));                                                        \
        }                                                                                          \
    }
#define APPLY512(name, expr) APPLY(avx512, ISA_AVX512, name, expr)
#define APPLY256(name, expr) APPLY(avx2, ISA_AVX2, name, expr)
#define APPLY128(name, expr) APPLY(sse2, ISA_SSE2, name, expr)
CANDIDATES(APPLY512)
CANDIDATES(APPLY256)
CANDIDATES(APPLY128)

typedef void (*apply_fn)(const double *, double *, size_t);
typedef struct candidate {
    const char *name;
    apply_fn exp[3], sig[3]; /* [0] avx512, [1] avx2, [2] sse2 (no FMA: the generic kernels) */
} candidate;

#define ENTRY(name, expr)                                                                          \
    {#name,                                                                                        \
     {name##_exp_avx512, name##_exp_avx2, name##_exp_sse2},                                        \
     {name##_sig_avx512, name##_sig_avx2, name##_sig_sse2}},
static const candidate candidates[] = {CANDIDATES(ENTRY)};
enum { NCAND = sizeof candidates / sizeof candidates[0] };

static double thread_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Largest error in ulps of the double nearest e^x, over n points evenly
 * spread on [lo, hi] and each candidate's own reduction boundaries. */
static double max_ulp(apply_fn fn, double lo, double hi, size_t n) {
    enum { B = 4096 };
    static double x[B], y[B];
    double worst = 0;
    for (size_t b = 0; b < n; b += B) {
        size_t m = n - b < B ? n - b : B;
        for (size_t i = 0; i < m; i++)
            x[i] = lo + (hi - lo) * (double)(b + i) / (double)(n - 1);
        fn(x, y, m);
        for (size_t i = 0; i < m; i++) {
            long double ref = expl((long double)x[i]);
            double rd = (double)ref;
            double ulp = nextafter(rd, INFINITY) - rd;
            double e = (double)(fabsl((long double)y[i] - ref) / ulp);
            if (e > worst) worst = e;
        }
    }
    return worst;
}

static volatile double sink;

int main(int argc, char **argv) {
    int rounds = 31, isa = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) {
            i++;
            isa = !strcmp(argv[i], "avx2") ? 1 : !strcmp(argv[i], "sse2") ? 2 : 0;
        } else {
            fprintf(stderr, "usage: %s [--rounds N] [--isa avx512|avx2|sse2]\n", argv[0]);
            return 2;
        }
    }
    __builtin_cpu_init();
    if (isa == 0 && !__builtin_cpu_supports("avx512f")) {
        puts("no AVX-512 on this CPU: use --isa avx2");
        return 0;
    }
    if (isa == 1 && (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))) {
        puts("no AVX2 + FMA on this CPU");
        return 0;
    }
    enum { NX = 2048, REPS = 400 };
    static double x[NX], y[NX];
    for (int i = 0; i < NX; i++)
        x[i] = -20.0 + 40.0 * i / NX;
    if (rounds < 1 || rounds > 1001) rounds = 31;
    double *t = calloc((size_t)rounds * NCAND * 2, sizeof *t);
    if (!t) return 1;
    for (int r = -2; r < rounds; r++) /* two rounds of warm-up */
        for (int c = 0; c < NCAND; c++)
            for (int k = 0; k < 2; k++) {
                apply_fn fn = k ? candidates[c].sig[isa] : candidates[c].exp[isa];
                double a = thread_seconds();
                for (int rep = 0; rep < REPS; rep++)
                    fn(x, y, NX);
                double s = (thread_seconds() - a) / (REPS * NX);
                sink += y[NX / 3];
                if (r >= 0) t[((size_t)r * NCAND + c) * 2 + k] = s;
            }
    static const char *const isa_names[] = {"avx512", "avx2", "sse2"};
    printf("# %s, %d rounds of %d x %d elements, thread CPU time\n", isa_names[isa], rounds, REPS,
           NX);
    printf("%-10s %9s %9s %9s %9s %9s %9s\n", "candidate", "exp_ns", "ratio", "sig_ns", "ratio",
           "ulp_exp", "ulp_neg");
    double *v = malloc((size_t)rounds * sizeof *v);
    if (!v) return 1;
    for (int c = 0; c < NCAND; c++) {
        double med[2], ratio[2];
        for (int k = 0; k < 2; k++) {
            for (int r = 0; r < rounds; r++)
                v[r] = t[((size_t)r * NCAND + c) * 2 + k];
            med[k] = median(v, rounds) * 1e9;
            for (int r = 0; r < rounds; r++)
                v[r] = t[((size_t)r * NCAND + c) * 2 + k] / t[((size_t)r * NCAND + 0) * 2 + k];
            ratio[k] = median(v, rounds);
        }
        double u_all = max_ulp(candidates[c].exp[isa], -708.0, 709.7, 2000003);
        double u_neg = max_ulp(candidates[c].exp[isa], -40.0, 0.0, 2000003);
        printf("%-10s %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", candidates[c].name, med[0], ratio[0],
               med[1], ratio[1], u_all, u_neg);
    }
    free(v);
    free(t);
    return 0;
}
#endif
