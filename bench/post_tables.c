/* post_tables.c - the post's 24 benchmark configurations on our core.
 *
 * ULA, MALA and SGLD on Bayesian logistic regression, 20 000 iterations, one
 * chain started at theta_true, synthetic data (theta_variance 10, rho 0), in
 * float64 and float32. For every row it prints the median time of several
 * runs and sets it against two lower bounds measured in the same invocation
 * on this machine:
 *
 *  - memory: the time to read an array of the same size as the X the
 *    gradient reads (N*d*elem bytes; SGLD: batch*d*elem) once, with a
 *    vectorised sum, repeated as the chain repeats it (so an X that fits a
 *    cache is read at that cache's speed); median of several passes;
 *  - arithmetic: per row 2d flops for the dot and 2d for the gradient axpy
 *    at the measured FMA peak of this core, plus the per-row cost of the
 *    link's sigmoid measured through simd_ops_get()->vmath_apply over an
 *    array in L1; MALA and NUTS, which also need the log-likelihood, 4
 *    flops more a row (y eta - max(eta, 0), and one FMA into the product
 *    of (1 + t) whose log the panel kernel takes once a lane: no softplus
 *    a row, kernels_lr.h).
 *
 * The bound is the larger of the two; the ratio is our time / bound. It also
 * prints the post's full-JAX CPU time (second run) and our speedup over it,
 * and writes every number as JSON under bench/results/.
 *
 * Not a test: timings depend on the machine and on its load. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "dataset.h"
#include "errors.h"
#include "model.h"
#include "rng.h"
#include "simd.h"

#if defined(__x86_64__)
#include <x86intrin.h>
#define BENCH_TICKS() __rdtsc()
#else
#define BENCH_TICKS() ((uint64_t)(now() * 1e9))
#endif

#ifndef BENCH_RESULTS_DIR
#define BENCH_RESULTS_DIR "bench/results"
#endif

/* The log-likelihood's arithmetic a row beyond the gradient's, for MALA
 * and NUTS (see the arithmetic bound above). */
#define LOGLIK_FLOPS 4.0

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define BENCH_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BENCH_CLONES
#endif

/* --- the post's configurations --------------------------------------- */

typedef struct post_row {
    const char *sampler; /* a name in the sampler table: ula, mala or sgld */
    const char *table;   /* "data" (d = 5) or "dim" (N = 1000) */
    size_t n, d;
    double step;
    uint32_t batch; /* SGLD minibatch */
    /* The post's CPU times in seconds: Python loop, JAX kernel + Python
     * loop, full JAX second run (post-workloads.md, section 1). */
    double post_py, post_kernel, post_full2;
} post_row;

static const post_row ROWS[] = {
    {"ula", "data", 1000, 5, 5e-3, 0, 11, 3.4, 0.18},
    {"ula", "data", 10000, 5, 5e-4, 0, 11, 4.6, 1.6},
    {"ula", "data", 100000, 5, 5e-5, 0, 32, 32, 24},
    {"ula", "data", 1000000, 5, 5e-6, 0, 280, 280, 250},
    {"ula", "dim", 1000, 5, 5e-3, 0, 11, 3.4, 0.19},
    {"ula", "dim", 1000, 500, 5e-3, 0, 12, 5.0, 1.6},
    {"ula", "dim", 1000, 1000, 5e-3, 0, 13, 7.7, 3.4},
    {"ula", "dim", 1000, 2000, 5e-3, 0, 13, 16, 13},
    {"mala", "data", 1000, 5, 5e-3, 0, 38, 7, 0.19},
    {"mala", "data", 10000, 5, 5e-4, 0, 38, 7, 1.9},
    {"mala", "data", 100000, 5, 5e-5, 0, 56, 35, 26},
    {"mala", "data", 1000000, 5, 5e-6, 0, 330, 310, 272},
    {"mala", "dim", 1000, 5, 5e-3, 0, 39, 7.2, 0.20},
    {"mala", "dim", 1000, 500, 5e-3, 0, 40, 7.2, 1.5},
    {"mala", "dim", 1000, 1000, 5e-3, 0, 41, 8.0, 3.4},
    {"mala", "dim", 1000, 2000, 5e-3, 0, 43, 15, 13},
    {"sgld", "data", 1000, 5, 5e-3, 100, 59, 4.2, 0.056},
    {"sgld", "data", 10000, 5, 5e-4, 1000, 60, 4.4, 0.9},
    {"sgld", "data", 100000, 5, 5e-5, 1000, 73, 3.9, 0.40},
    {"sgld", "data", 1000000, 5, 5e-6, 1000, 65, 4.0, 0.69},
    {"sgld", "dim", 1000, 5, 5e-3, 100, 61, 4.2, 0.055},
    {"sgld", "dim", 1000, 500, 5e-3, 100, 62, 4.2, 0.56},
    {"sgld", "dim", 1000, 1000, 5e-3, 100, 62, 5.0, 0.98},
    {"sgld", "dim", 1000, 2000, 5e-3, 100, 68, 6.4, 1.95},
};
enum { NROWS = sizeof ROWS / sizeof ROWS[0], MAX_RUNS = 64 };

/* --- options ------------------------------------------------------------ */

typedef struct options {
    int runs, runs_large; /* runs per row; for the N = 1e6 rows */
    uint64_t iters;
    int quick;
    const char *only;  /* NULL: every sampler */
    const char *table; /* NULL, "data" or "dim" */
    int f64, f32;
    unsigned threads;
    const char *cpus; /* a CPU list to pin to, e.g. "0" or "0-1" */
    const char *json; /* output file; NULL: a dated name under out_dir */
    const char *out_dir;
    const char *label;
    int no_json;
    int nuts;            /* --nuts: also gradient evaluations per second inside NUTS */
    size_t max_n, max_d; /* --max-n, --max-d: leave out larger rows (0: none) */
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_post_tables [options]\n"
            "\n"
            "Runs the post's 24 configurations (ULA, MALA, SGLD; N = 1e3..1e6 at d = 5 and\n"
            "d = 5..2000 at N = 1000) on one chain and compares each with the memory or\n"
            "arithmetic bound of this machine and with the post's full-JAX CPU time.\n"
            "\n"
            "  --runs N        timed runs per row, the median is reported (5)\n"
            "  --runs-large N  runs for the N = 1e6 rows (min(runs, 3))\n"
            "  --iters N       iterations per run (20000, the post's)\n"
            "  --quick         a smoke run: 1000 iterations, 2 runs\n"
            "  --only S        ula, mala or sgld only\n"
            "  --table T       data (d = 5) or dim (N = 1000) rows only\n"
            "  --dtype T       f64, f32 or both (both)\n"
            "  --threads N     threads one chain splits its rows over (row_threads, 1)\n"
            "  --cpus LIST     pin to these CPUs (e.g. 0 or 0-1 or 0,2), like taskset\n"
            "  --json FILE     write the results here\n"
            "  --out-dir DIR   else write DIR/post_tables-DATE-HOST.json (%s)\n"
            "  --label TEXT    a free-form label stored in the JSON\n"
            "  --no-json       write no file\n"
            "  --max-n N, --max-d D  leave out rows with more rows or columns\n"
            "  --nuts          also time NUTS (N = 1e3, 1e4 at d = 5; d = 500): gradients per\n"
            "                  second inside its trajectories against the same bounds\n",
            BENCH_RESULTS_DIR);
}

static int parse_cpus(const char *s, cpu_set_t *set) {
    CPU_ZERO(set);
    while (*s) {
        char *e;
        long a = strtol(s, &e, 10), b = a;
        if (e == s || a < 0) return -1;
        if (*e == '-') {
            s = e + 1;
            b = strtol(s, &e, 10);
            if (e == s || b < a) return -1;
        }
        for (long c = a; c <= b && c < CPU_SETSIZE; c++)
            CPU_SET((int)c, set);
        s = e;
        if (*s == ',')
            s++;
        else if (*s)
            return -1;
    }
    return 0;
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.runs = 5,
                   .runs_large = -1,
                   .iters = 20000,
                   .only = NULL,
                   .f64 = 1,
                   .f32 = 1,
                   .threads = 1,
                   .out_dir = BENCH_RESULTS_DIR};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                                                                    \
    do {                                                                                           \
        if (!v) {                                                                                  \
            fprintf(stderr, "bench_post_tables: %s needs a value\n", a);                           \
            return -1;                                                                             \
        }                                                                                          \
        i++;                                                                                       \
    } while (0)
        if (!strcmp(a, "--runs")) {
            NEEDV();
            o->runs = atoi(v);
        } else if (!strcmp(a, "--runs-large")) {
            NEEDV();
            o->runs_large = atoi(v);
        } else if (!strcmp(a, "--iters")) {
            NEEDV();
            o->iters = strtoull(v, NULL, 10);
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--only")) {
            NEEDV();
            o->only = v;
            if (strcmp(v, "ula") && strcmp(v, "mala") && strcmp(v, "sgld")) {
                fprintf(stderr, "bench_post_tables: --only takes ula, mala or sgld\n");
                return -1;
            }
        } else if (!strcmp(a, "--table")) {
            NEEDV();
            if (strcmp(v, "data") && strcmp(v, "dim")) {
                fprintf(stderr, "bench_post_tables: --table takes data or dim\n");
                return -1;
            }
            o->table = v;
        } else if (!strcmp(a, "--dtype")) {
            NEEDV();
            o->f64 = !strcmp(v, "f64") || !strcmp(v, "both");
            o->f32 = !strcmp(v, "f32") || !strcmp(v, "both");
            if (!o->f64 && !o->f32) {
                fprintf(stderr, "bench_post_tables: --dtype takes f64, f32 or both\n");
                return -1;
            }
        } else if (!strcmp(a, "--threads")) {
            NEEDV();
            o->threads = (unsigned)atoi(v);
        } else if (!strcmp(a, "--cpus")) {
            NEEDV();
            o->cpus = v;
        } else if (!strcmp(a, "--json")) {
            NEEDV();
            o->json = v;
        } else if (!strcmp(a, "--out-dir")) {
            NEEDV();
            o->out_dir = v;
        } else if (!strcmp(a, "--label")) {
            NEEDV();
            o->label = v;
        } else if (!strcmp(a, "--no-json")) {
            o->no_json = 1;
        } else if (!strcmp(a, "--nuts")) {
            o->nuts = 1;
        } else if (!strcmp(a, "--max-n") || !strcmp(a, "--max-d")) {
            NEEDV();
            *(a[6] == 'n' ? &o->max_n : &o->max_d) = (size_t)strtoull(v, NULL, 10);
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else {
            fprintf(stderr, "bench_post_tables: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
#undef NEEDV
    }
    if (o->quick) {
        if (o->iters == 20000) o->iters = 1000;
        if (o->runs == 5) o->runs = 2;
    }
    if (o->runs_large < 0) o->runs_large = o->runs < 3 ? o->runs : 3;
    if (o->runs < 1 || o->runs > MAX_RUNS || o->runs_large < 1 || o->runs_large > MAX_RUNS ||
        o->iters < 1 || o->threads < 1 || o->threads > 64) {
        fprintf(stderr, "bench_post_tables: runs must be 1..%d, iters >= 1, threads 1..64\n",
                MAX_RUNS);
        return -1;
    }
    return 0;
}

/* --- clocks and statistics ----------------------------------------------- */

static double clock_s(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static double now(void) {
    return clock_s(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}
static double median(const double *v, int n) {
    double t[MAX_RUNS * 4];
    memcpy(t, v, (size_t)n * sizeof *t);
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}
static double minimum(const double *v, int n) {
    double m = v[0];
    for (int i = 1; i < n; i++)
        m = v[i] < m ? v[i] : m;
    return m;
}

/* A sink the compiler cannot see through, so that timed loops stay. */
static volatile double bench_sink;

/* --- the memory bound: a STREAM-style read ------------------------------- */

BENCH_CLONES
static double sum_f64(const double *x, size_t n) {
    double acc[64] = {0};
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        for (int k = 0; k < 64; k++)
            acc[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 64; k++)
        s += acc[k];
    return s;
}

BENCH_CLONES
static double sum_f32(const float *x, size_t n) {
    float acc[128] = {0};
    size_t i = 0;
    for (; i + 128 <= n; i += 128)
        for (int k = 0; k < 128; k++)
            acc[k] += x[i + k];
    double s = 0;
    for (; i < n; i++)
        s += x[i];
    for (int k = 0; k < 128; k++)
        s += acc[k];
    return s;
}

static double sum_any(const void *x, size_t n, size_t elem) {
    return elem == 4 ? sum_f32(x, n) : sum_f64(x, n);
}

/* Reader k of `threads` sums its slice of the array `reps` times per
 * sample; the samples start together behind a barrier. */
typedef struct stream_job {
    const char *x;
    size_t n, elem;
    unsigned threads;
    long reps;
    pthread_barrier_t start, done;
} stream_job;

static void stream_slice(stream_job *j, unsigned k) {
    size_t per = (j->n / j->threads + 15) / 16 * 16, a = per * k;
    size_t b = a + per < j->n ? a + per : j->n;
    double s = 0;
    for (long r = 0; a < b && r < j->reps; r++)
        s += sum_any(j->x + a * j->elem, b - a, j->elem);
    bench_sink += s;
}

enum { STREAM_SAMPLES = 9 };

typedef struct stream_reader_arg {
    pthread_t tid;
    stream_job *job;
    unsigned k;
} stream_reader_arg;

static void *stream_reader(void *arg) {
    const stream_reader_arg *a = arg;
    for (int i = 0; i < STREAM_SAMPLES + 1; i++) {
        pthread_barrier_wait(&a->job->start);
        stream_slice(a->job, a->k);
        pthread_barrier_wait(&a->job->done);
    }
    return NULL;
}

/* Median seconds for `threads` threads to read `bytes` once between them
 * (elements of `elem` bytes), the array read over and over as a chain reads
 * its X, each thread its own slice as row threads do. */
static double stream_read_seconds(size_t bytes, size_t elem, unsigned threads, double *best) {
    size_t n = bytes / elem;
    if (n < 1) n = 1;
    void *x = NULL;
    if (posix_memalign(&x, 64, n * elem) != 0) return NAN;
    for (size_t i = 0; i < n; i++) {
        if (elem == 4)
            ((float *)x)[i] = (float)(i % 7) * 0.25f;
        else
            ((double *)x)[i] = (double)(i % 7) * 0.25;
    }
    /* Calibrate on one thread: enough passes per sample for about 2 ms. */
    double t0 = now();
    int passes = 0;
    do {
        bench_sink += sum_any(x, n, elem);
        passes++;
    } while (now() - t0 < 2e-3);
    double per = (now() - t0) / passes;
    stream_job j = {.x = x, .n = n, .elem = elem, .threads = threads};
    j.reps = (long)(2e-3 / per) * (long)threads + 1;
    pthread_barrier_init(&j.start, NULL, threads);
    pthread_barrier_init(&j.done, NULL, threads);
    stream_reader_arg readers[64];
    for (unsigned k = 1; k < threads; k++) {
        readers[k] = (stream_reader_arg){.job = &j, .k = k};
        pthread_create(&readers[k].tid, NULL, stream_reader, &readers[k]);
    }
    double s[STREAM_SAMPLES];
    for (int i = 0; i < STREAM_SAMPLES + 1; i++) { /* the first warms up */
        pthread_barrier_wait(&j.start);
        double a = now();
        stream_slice(&j, 0);
        pthread_barrier_wait(&j.done);
        if (i) s[i - 1] = (now() - a) / (double)j.reps;
    }
    for (unsigned k = 1; k < threads; k++)
        pthread_join(readers[k].tid, NULL);
    pthread_barrier_destroy(&j.start);
    pthread_barrier_destroy(&j.done);
    free(x);
    *best = minimum(s, STREAM_SAMPLES);
    return median(s, STREAM_SAMPLES);
}

/* --- the arithmetic bound ------------------------------------------------ */

typedef double v8d __attribute__((vector_size(64)));
typedef float v16f __attribute__((vector_size(64)));

/* 16 independent chains of vector FMAs: the core's peak FMA throughput.
 * Returns flops per second (an FMA is 2 flops). */
#define FMA_PEAK(name, vt, lanes, scalar)                                                          \
    BENCH_CLONES                                                                                   \
    static double name(long iters) {                                                               \
        vt a[16], m, c;                                                                            \
        for (int k = 0; k < 16; k++)                                                               \
            for (int l = 0; l < (lanes); l++)                                                      \
                a[k][l] = (scalar)(k + l) * (scalar)1e-3;                                          \
        for (int l = 0; l < (lanes); l++) {                                                        \
            m[l] = (scalar)0.999999;                                                               \
            c[l] = (scalar)1e-7;                                                                   \
        }                                                                                          \
        double t0 = now();                                                                         \
        for (long i = 0; i < iters; i++) {                                                         \
            for (int k = 0; k < 16; k++)                                                           \
                a[k] = a[k] * m + c;                                                               \
        }                                                                                          \
        double t = now() - t0;                                                                     \
        scalar s = 0;                                                                              \
        for (int k = 0; k < 16; k++)                                                               \
            for (int l = 0; l < (lanes); l++)                                                      \
                s += a[k][l];                                                                      \
        bench_sink += (double)s;                                                                   \
        return 2.0 * 16 * (lanes) * (double)iters / t;                                             \
    }
FMA_PEAK(fma_peak_f64, v8d, 8, double)
FMA_PEAK(fma_peak_f32, v16f, 16, float)

/* The best of several short samples: a peak is what the core can do, and on
 * a shared machine the median mostly measures the neighbours. */
static double peak_flops(int f32) {
    enum { SAMPLES = 15 };
    double s[SAMPLES], best = 0;
    (void)(f32 ? fma_peak_f32(100000) : fma_peak_f64(100000));
    for (int k = 0; k < SAMPLES; k++) {
        s[k] = f32 ? fma_peak_f32(300000) : fma_peak_f64(300000);
        best = s[k] > best ? s[k] : best;
    }
    return best;
}

/* Seconds per element of a vmath function through the running SIMD path,
 * in double or (f32) float, over an array that stays in L1; the best of
 * several samples, as above. */
static double vmath_seconds(simd_vmath_fn fn, int f32) {
    enum { NX = 2048, SAMPLES = 15 };
    static double x[NX], y[NX];
    static float xf[NX], yf[NX];
    for (int i = 0; i < NX; i++)
        xf[i] = (float)(x[i] = -20.0 + 40.0 * i / NX);
    const simd_ops *ops = simd_ops_get();
    double t0 = now();
    long passes = 0;
    do {
        f32 ? ops->vmathf_apply(fn, xf, yf, NX) : ops->vmath_apply(fn, x, y, NX);
        passes++;
    } while (now() - t0 < 2e-3);
    double s[SAMPLES];
    for (int k = 0; k < SAMPLES; k++) {
        double a = now();
        for (long r = 0; r < passes; r++)
            f32 ? ops->vmathf_apply(fn, xf, yf, NX) : ops->vmath_apply(fn, x, y, NX);
        s[k] = (now() - a) / (double)(passes * NX);
        bench_sink += y[NX / 3] + yf[NX / 3];
    }
    return minimum(s, SAMPLES);
}

static double random_rows_seconds(size_t n, size_t d, size_t elem, size_t batch);

/* --- running chains ------------------------------------------------------- */

typedef struct counter {
    uint64_t blocks, draws, grad_evals, accepted;
} counter;

static int count_block(void *ctx, const chain_block *blk) {
    counter *c = ctx;
    c->blocks++;
    c->draws += blk->count;
    c->grad_evals = blk->grad_evals;
    c->accepted = blk->accepted;
    return 0;
}

/* The phases of an iteration that fixed_costs times (phase_names). */
enum { PH_NOISE, PH_INDEX, PH_GATHER, PH_KERNEL, PH_MODEL, PH_COUNT };

typedef struct result {
    const post_row *row;
    model_dtype dtype;
    size_t elem;
    int runs;
    uint64_t iters;
    double wall[MAX_RUNS], cpu[MAX_RUNS];
    double median_s, min_s, median_cpu_s;
    uint64_t grad_evals, accepted, blocks;
    double x_bytes_per_grad, stream_s, stream_best_s, arith_s, bound_s;
    const char *bound_kind;
    unsigned threads; /* threads that share one pass over X */
    int status;
    /* N = 1e3, d = 5 rows of the data table: ns per iteration of each phase
     * (fixed_costs); has_fixed 0 elsewhere. SGLD rows: gather_s is the
     * random-row read of a minibatch, counted in the bound. */
    int has_fixed;
    double fixed_ns[PH_COUNT];
    double gather_s;
} result;

static model_dtype dtypes[2] = {DTYPE_F64, DTYPE_F32};

typedef struct machine {
    char cpu_model[256];
    long cores;
    const char *simd;
    char host[256];
    char kernel[256];
    double peak_f64, peak_f32;
    double t_exp[2], t_sigmoid[2], t_softplus[2]; /* [0] double, [1] float32 links */
    double load_before[3], load_after[3];
} machine;

static void read_loadavg(double l[3]) {
    l[0] = l[1] = l[2] = NAN;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) l[0] = l[1] = l[2] = NAN;
    fclose(f);
}

static void machine_info(machine *m) {
    memset(m, 0, sizeof *m);
    snprintf(m->cpu_model, sizeof m->cpu_model, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10)) continue;
            char *p = strchr(line, ':');
            if (!p) continue;
            p++;
            while (*p == ' ' || *p == '\t')
                p++;
            p[strcspn(p, "\n")] = 0;
            snprintf(m->cpu_model, sizeof m->cpu_model, "%s", p);
            break;
        }
        fclose(f);
    }
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->simd = simd_ops_get()->name;
    if (gethostname(m->host, sizeof m->host) != 0) snprintf(m->host, sizeof m->host, "host");
    m->host[sizeof m->host - 1] = 0;
    struct utsname u;
    if (uname(&u) == 0) snprintf(m->kernel, sizeof m->kernel, "%s %s", u.sysname, u.release);
}

static double stream_cache_lookup(size_t bytes, size_t elem, unsigned threads, double *best) {
    /* Rows of the same size share one measurement. */
    typedef struct cached {
        size_t bytes, elem;
        unsigned threads;
        double s, best;
    } cached;
    static cached cache[64];
    static int nc;
    for (int i = 0; i < nc; i++)
        if (cache[i].bytes == bytes && cache[i].elem == elem && cache[i].threads == threads) {
            *best = cache[i].best;
            return cache[i].s;
        }
    double s = stream_read_seconds(bytes, elem, threads, best);
    if (nc < 64) cache[nc++] = (cached){bytes, elem, threads, s, *best};
    return s;
}

static void run_row(const options *o, const machine *mc, const model *m, result *r) {
    const post_row *row = r->row;
    int f32 = r->dtype == DTYPE_F32;
    size_t rows = !strcmp(row->sampler, "sgld") ? row->batch : row->n;
    r->elem = f32 ? sizeof(float) : sizeof(double);
    r->x_bytes_per_grad = (double)rows * (double)row->d * (double)r->elem;
    /* Threads that can work on one pass: the chain's row threads, at most
     * one per segment of the pass (SGLD's small batches do not split) and,
     * as chain_run caps them, one per core. */
    size_t segs = model_row_segments(m, rows);
    unsigned thr = mc->cores > 0 && (long)o->threads > mc->cores ? (unsigned)mc->cores : o->threads;
    r->threads = thr < segs ? thr : (unsigned)segs;
    r->stream_s =
        stream_cache_lookup((size_t)r->x_bytes_per_grad, r->elem, r->threads, &r->stream_best_s);
    double link = mc->t_sigmoid[f32];
    double flops = 4.0 * (double)row->d + (!strcmp(row->sampler, "mala") ? LOGLIK_FLOPS : 0.0);
    r->arith_s =
        (double)rows * (flops / (f32 ? mc->peak_f32 : mc->peak_f64) + link) / (double)r->threads;
    r->bound_s = r->stream_s > r->arith_s ? r->stream_s : r->arith_s;
    r->bound_kind = r->stream_s > r->arith_s ? "memory" : "arith";
    if (!strcmp(row->sampler, "sgld")) {
        /* The minibatch's rows come from anywhere in X: their random read,
         * then the gradient's arithmetic on them. */
        r->gather_s = random_rows_seconds(row->n, row->d, r->elem, row->batch);
        r->bound_s = r->gather_s + r->arith_s;
        r->bound_kind = "gather";
    }

    chain_config cfg = {.sampler = sampler_find(row->sampler),
                        .num_samples = o->iters,
                        .num_warmup = 0,
                        .thin = 1,
                        .chains = 1,
                        .key = rng_key_from_seed(0),
                        .init = INIT_TRUE,
                        .progress_every = 1000,
                        .row_threads = o->threads};
    sampler_defaults(cfg.sampler, cfg.params);
    cfg.params[sampler_param_index(cfg.sampler, "step_size")] = row->step;
    if (!strcmp(row->sampler, "sgld"))
        cfg.params[sampler_param_index(cfg.sampler, "batch_size")] = row->batch;
    r->iters = o->iters;
    r->runs = row->n >= 1000000 ? o->runs_large : o->runs;
    r->status = MCMC_OK;
    for (int k = 0; k < r->runs; k++) {
        counter c = {0};
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = now();
        int rc = chain_run(m, &cfg, 0, count_block, &c, NULL);
        r->wall[k] = now() - t0;
        r->cpu[k] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (rc != MCMC_OK || c.draws != o->iters) {
            r->status = rc != MCMC_OK ? rc : MCMC_EINVAL;
            r->runs = k + 1;
            break;
        }
        r->grad_evals = c.grad_evals;
        r->accepted = c.accepted;
        r->blocks = c.blocks;
    }
    r->median_s = median(r->wall, r->runs);
    r->min_s = minimum(r->wall, r->runs);
    r->median_cpu_s = median(r->cpu, r->runs);
}

/* --- per-iteration fixed costs -------------------------------------------- */

/* Nanoseconds per TSC tick, from 20 ms of both clocks. */
static double ns_per_tick(void) {
    static double r;
    if (r > 0) return r;
    double t0 = now();
    uint64_t c0 = BENCH_TICKS();
    while (now() - t0 < 0.02) {
    }
    r = (now() - t0) * 1e9 / (double)(BENCH_TICKS() - c0);
    return r;
}

/* The median over 7 samples of ns per call of stmt, each sample `reps`
 * calls timed by the TSC; t is the call's number, for keys. */
#define PHASE_NS(out, reps, stmt)                                                                  \
    do {                                                                                           \
        double smp_[7];                                                                            \
        for (int k_ = 0; k_ < 7; k_++) {                                                           \
            uint64_t c0_ = BENCH_TICKS();                                                          \
            for (uint32_t t = 0; t < (reps); t++) {                                                \
                stmt;                                                                              \
            }                                                                                      \
            smp_[k_] = (double)(BENCH_TICKS() - c0_) * ns_per_tick() / (double)(reps);             \
        }                                                                                          \
        (out) = median(smp_, 7);                                                                   \
    } while (0)

static const char *const phase_names[PH_COUNT] = {"noise", "indices", "gather", "kernel", "model"};

/* What an iteration of r's chain spends in each phase, each timed alone in
 * a loop of the same calls the step makes: the iteration's key and noise
 * (for the d <= 8 this times, drawn SIMD_AHEAD steps at once, so "noise"
 * counts both), SGLD's indices and gather into panels, the
 * kernel's pass over the rows, and the model layer around it (model_logp_grad less the gather
 * and the kernel: theta to float, segments, reduction, prior). What the
 * chain's time per iteration has beyond their sum is the sampler's update
 * and the chain loop's bookkeeping (printed as "rest"). */
static void fixed_costs(const model *m, const dataset *ds, result *r) {
    const post_row *row = r->row;
    const simd_ops *ops = simd_ops_get();
    int f32 = r->dtype == DTYPE_F32, sgld = !strcmp(row->sampler, "sgld");
    size_t n = ds->n, d = ds->d, rows = sgld ? row->batch : n,
           np = (n + SIMD_PANEL - 1) / SIMD_PANEL;
    static const simd_glm logistic = {.link = SIMD_LINK_LOGISTIC};
    double *acc = calloc((d + 1) * SIMD_ACC, sizeof *acc);
    double *theta = malloc(d * sizeof *theta), *grad = malloc(d * sizeof *grad);
    uint32_t *idx = malloc(n * sizeof *idx), *all = malloc(n * sizeof *all);
    size_t pe = np * SIMD_PANEL * d;
    double *P64 = malloc(pe * sizeof *P64), *Y64 = malloc(np * SIMD_PANEL * sizeof *Y64);
    float *P32 = malloc(pe * sizeof *P32), *Y32 = malloc(np * SIMD_PANEL * sizeof *Y32);
    float *X32 = malloc(n * d * sizeof *X32), *y32 = malloc(n * sizeof *y32), th32[8];
    model_work *w = model_work_create(m, sgld ? row->batch : 0);
    if (!acc || !theta || !grad || !idx || !all || !P64 || !Y64 || !P32 || !Y32 || !X32 || !y32 ||
        !w || d > 8)
        goto out;
    for (size_t i = 0; i < n * d; i++)
        X32[i] = (float)ds->X[i];
    for (size_t i = 0; i < n; i++)
        y32[i] = (float)ds->y[i], all[i] = (uint32_t)i;
    for (size_t j = 0; j < d; j++)
        th32[j] = (float)(theta[j] = ds->theta_true[j]);
    ops->index_fill(rng_key_from_seed(1), 0, (uint32_t)n, idx, rows);
    /* The kernel's input: all rows (ULA, MALA) or a gathered minibatch. */
    ops->gather_panels_f64(P64, Y64, ds->X, ds->y, sgld ? idx : all, rows, d, n);
    ops->gather_panels_f32(P32, Y32, X32, y32, sgld ? idx : all, rows, d, n);
    rng_key kstep = rng_key_from_seed(2), ks = kstep;
    int logp = !strcmp(row->sampler, "mala");
    uint32_t reps = sgld ? 20000 : 4000;
    double *ph = r->fixed_ns;
    /* At d <= SIMD_AHEAD_MAX_D the chain draws keys and noise for
     * SIMD_AHEAD steps at once (chain.c): both are counted as noise. */
    rng_key keys[SIMD_AHEAD];
    double ahead[SIMD_AHEAD * SIMD_AHEAD_MAX_D];
    PHASE_NS(ph[PH_NOISE], reps / SIMD_AHEAD,
             ops->normal_fill_ahead(kstep, t * SIMD_AHEAD, 0, d, keys, ahead));
    ph[PH_NOISE] /= SIMD_AHEAD;
    ks = keys[0];
    ph[PH_INDEX] = ph[PH_GATHER] = 0;
    if (sgld) {
        PHASE_NS(ph[PH_INDEX], reps, ops->index_fill(ks, t, (uint32_t)n, idx, rows));
        if (f32)
            PHASE_NS(ph[PH_GATHER], reps,
                     ops->gather_panels_f32(P32, Y32, X32, y32, idx, rows, d, n));
        else
            PHASE_NS(ph[PH_GATHER], reps,
                     ops->gather_panels_f64(P64, Y64, ds->X, ds->y, idx, rows, d, n));
    }
    if (f32)
        PHASE_NS(ph[PH_KERNEL], reps,
                 ops->glm_panels_f32(&logistic, P32, Y32, rows, d, th32, acc, logp));
    else
        PHASE_NS(ph[PH_KERNEL], reps,
                 ops->glm_panels_f64(&logistic, P64, Y64, rows, d, theta, acc, logp));
    double whole;
    if (sgld)
        PHASE_NS(whole, reps, model_logp_grad_batch(m, w, theta, idx, rows, grad, logp));
    else
        PHASE_NS(whole, reps, model_logp_grad(m, w, theta, grad, logp));
    ph[PH_MODEL] = whole - ph[PH_KERNEL] - ph[PH_GATHER];
    bench_sink += acc[0] + grad[0] + ahead[0] + idx[0];
    r->has_fixed = 1;
out:
    model_work_free(w);
    free(acc), free(theta), free(grad), free(idx), free(all);
    free(P64), free(Y64), free(P32), free(Y32), free(X32), free(y32);
}

/* Rows idx[0..batch) of row-major X (d elements each) added into acc:
 * the loads a gather makes; all prefetched first where X is beyond L2
 * (prefetch set), as the chain's gather does, so that their misses
 * overlap. Rows of at most 8 elements are one 8-lane vector load each
 * (X is allocated with 8 elements to spare) into four sums in turn, so
 * that many rows are in flight: the chain's transposes load 16 rows at a
 * time, and a scalar sum here (the bound until 2026-12-07) ran slower
 * than the chain it was to bound. */
#define ROWS_SUM(T, name)                                                                          \
    BENCH_CLONES static void name(const T *X, const uint32_t *idx, size_t batch, size_t d,         \
                                  int prefetch, double *acc) {                                     \
        typedef T row8 __attribute__((vector_size(8 * sizeof(T))));                                \
        row8 v[4] = {{0}};                                                                         \
        T w[64] = {0}; /* w: 64 lanes, rows past 8 elements */                                     \
        for (size_t r = 0; prefetch && r < batch; r++)                                             \
            __builtin_prefetch(X + (size_t)idx[r] * d, 0, 2);                                      \
        if (d <= 8) {                                                                              \
            for (size_t r = 0; r < batch; r++) {                                                   \
                row8 x;                                                                            \
                memcpy(&x, X + (size_t)idx[r] * d, sizeof x);                                      \
                v[r & 3] += x;                                                                     \
            }                                                                                      \
            for (int k = 0; k < 4; k++)                                                            \
                for (size_t j = 0; j < d; j++)                                                     \
                    w[j] += v[k][j];                                                               \
        } else { /* every row into the same 64 lanes, summed once at the end */                    \
            for (size_t r = 0; r < batch; r++) {                                                   \
                const T *x = X + (size_t)idx[r] * d;                                               \
                size_t j = 0;                                                                      \
                for (; j + 64 <= d; j += 64)                                                       \
                    for (int k = 0; k < 64; k++)                                                   \
                        w[k] += x[j + k];                                                          \
                for (; j < d; j++)                                                                 \
                    w[j & 63] += x[j];                                                             \
            }                                                                                      \
        }                                                                                          \
        for (int j = 0; j < 64; j++)                                                               \
            *acc += (double)w[j];                                                                  \
    }
ROWS_SUM(double, rows_sum_f64)
ROWS_SUM(float, rows_sum_f32)

/* SGLD's gather bound: seconds to read `batch` rows of d elements of an
 * n x d row-major array at random (a fresh set of rows each time, as the
 * chain draws them); median of 9 samples. The sets together name about
 * every row, and at least 64 sets: a chain's minibatches reach all of X
 * over its run, where 64 sets of 1,000 rows out of 1e6 touch 4 MB and
 * stay in L3 (a bound that moved 5.5-20 us with the cache's neighbours). */
static double random_rows_seconds(size_t n, size_t d, size_t elem, size_t batch) {
    enum { SAMPLES = 9 };
    const size_t SETS = n / batch > 64 ? n / batch : 64;
    const int prefetch = n * d * elem > ((size_t)512 << 10);
    void *X = malloc((n * d + 8) * elem); /* 8 to spare: ROWS_SUM's row loads */
    uint32_t *idx = malloc(SETS * batch * sizeof *idx);
    if (!X || !idx) {
        free(X), free(idx);
        return NAN;
    }
    memset(X, 0, (n * d + 8) * elem);
    uint64_t z = 88172645463325252ULL;
    for (size_t i = 0; i < SETS * batch; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        idx[i] = (uint32_t)(z % n);
    }
    double s[SAMPLES], acc = 0;
    long passes = 1;
    for (int k = -1; k < SAMPLES; k++) {
        double t0 = now();
        for (long p = 0; p < passes; p++)
            for (size_t b = 0; b < SETS; b++) {
                if (elem == 4)
                    rows_sum_f32(X, idx + b * batch, batch, d, prefetch, &acc);
                else
                    rows_sum_f64(X, idx + b * batch, batch, d, prefetch, &acc);
            }
        double t = now() - t0;
        if (k < 0) { /* warm up, and size a sample to about 5 ms */
            passes = t > 5e-3 ? 1 : (long)(5e-3 / (t > 1e-7 ? t : 1e-7)) + 1;
            continue;
        }
        s[k] = t / (double)(passes * SETS);
    }
    bench_sink += acc;
    free(X), free(idx);
    return median(s, SAMPLES);
}

/* --- printing ----------------------------------------------------------- */

static void print_header(void) {
    printf("%-4s %-4s %7s %4s %5s %4s %3s %9s %9s %9s %9s %7s %9s %-6s %6s %6s %7s %8s\n", "smp",
           "tab", "N", "d", "batch", "type", "thr", "median_s", "cpu_s", "us/it", "grad/s",
           "X_GB/s", "bound_us", "kind", "ratio", "r_mem", "jax_s", "speedup");
}

static void print_row(const result *r) {
    const post_row *row = r->row;
    double per = r->median_s / (double)r->iters;
    double gps = (double)r->grad_evals / r->median_s;
    double gbs = gps * r->x_bytes_per_grad / 1e9;
    /* The post ran 20 000 iterations: scale ours when --iters differs. */
    double ours_20k = per * 20000.0;
    printf("%-4s %-4s %7zu %4zu %5u %4s %3u %9.4f %9.4f %9.3f %9.3g %7.2f %9.3f %-6s %6.2f %6.2f "
           "%7.3g %8.1f%s\n",
           row->sampler, row->table, row->n, row->d, row->batch,
           r->dtype == DTYPE_F32 ? "f32" : "f64", r->threads, r->median_s, r->median_cpu_s,
           per * 1e6, gps, gbs, r->bound_s * 1e6, r->bound_kind, per / r->bound_s,
           per / r->stream_s, row->post_full2, row->post_full2 / ours_20k,
           r->status == MCMC_OK ? "" : "  FAILED");
    fflush(stdout);
}

/* Each phase of an iteration at N = 1e3, d = 5 (fixed_costs), and the
 * rest: the sampler's update and the chain's bookkeeping. */
static void print_fixed_costs(const result *res, int nres) {
    int any = 0;
    for (int k = 0; k < nres; k++) {
        const result *r = &res[k];
        if (!r->has_fixed) continue;
        if (!any++) {
            printf("# per iteration at N = 1e3, d = 5, ns (each phase timed alone by the TSC; "
                   "rest = us/it - their sum):\n#   %-4s %-3s %8s",
                   "smp", "dt", "total");
            for (int p = 0; p < PH_COUNT; p++)
                printf(" %7s", phase_names[p]);
            printf(" %7s\n", "rest");
        }
        double total = r->median_s / (double)r->iters * 1e9, sum = 0;
        for (int p = 0; p < PH_COUNT; p++)
            sum += r->fixed_ns[p];
        printf("#   %-4s %-3s %8.1f", r->row->sampler, r->dtype == DTYPE_F32 ? "f32" : "f64",
               total);
        for (int p = 0; p < PH_COUNT; p++)
            printf(" %7.1f", r->fixed_ns[p]);
        printf(" %7.1f\n", total - sum);
    }
}

/* --- JSON --------------------------------------------------------------- */

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}
static void json_num(FILE *f, double v) {
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

static int mkdir_p(const char *path) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static void json_nuts(FILE *f);

static int write_json(const options *o, const machine *mc, const result *res, int nres,
                      const char *started, double total_s, char *path, size_t pathlen) {
    if (o->json) {
        snprintf(path, pathlen, "%s", o->json);
    } else {
        if (mkdir_p(o->out_dir) != 0) return -1;
        char stamp[32];
        time_t t = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", localtime(&t));
        snprintf(path, pathlen, "%s/post_tables-%s-%s.json", o->out_dir, stamp, mc->host);
    }
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "{\n  \"benchmark\": \"post_tables\",\n  \"started\": ");
    json_str(f, started);
    fprintf(f, ",\n  \"label\": ");
    if (o->label)
        json_str(f, o->label);
    else
        fputs("null", f);
    fprintf(f, ",\n  \"machine\": {\"host\": ");
    json_str(f, mc->host);
    fprintf(f, ", \"cpu_model\": ");
    json_str(f, mc->cpu_model);
    fprintf(f, ", \"cores\": %ld, \"simd_path\": ", mc->cores);
    json_str(f, mc->simd);
    fprintf(f, ", \"kernel\": ");
    json_str(f, mc->kernel);
    fprintf(f, ", \"compiler\": ");
    json_str(f, __VERSION__);
    fprintf(f, ",\n    \"loadavg_before\": [");
    for (int i = 0; i < 3; i++) {
        json_num(f, mc->load_before[i]);
        fputs(i < 2 ? ", " : "", f);
    }
    fprintf(f, "], \"loadavg_after\": [");
    for (int i = 0; i < 3; i++) {
        json_num(f, mc->load_after[i]);
        fputs(i < 2 ? ", " : "", f);
    }
    fprintf(f, "],\n    \"peak_flops_f64\": ");
    json_num(f, mc->peak_f64);
    fprintf(f, ", \"peak_flops_f32\": ");
    json_num(f, mc->peak_f32);
    const char *names[2] = {"", "_f32"};
    for (int k = 0; k < 2; k++) {
        fprintf(f, ", \"exp%s_s_per_elem\": ", names[k]);
        json_num(f, mc->t_exp[k]);
        fprintf(f, ", \"sigmoid%s_s_per_elem\": ", names[k]);
        json_num(f, mc->t_sigmoid[k]);
        fprintf(f, ", \"softplus%s_s_per_elem\": ", names[k]);
        json_num(f, mc->t_softplus[k]);
    }
    fprintf(f,
            "},\n  \"settings\": {\"iterations\": %llu, \"runs\": %d, \"runs_large\": %d, "
            "\"threads\": %u, \"row_threads\": %u, \"cpus\": ",
            (unsigned long long)o->iters, o->runs, o->runs_large, o->threads, o->threads);
    if (o->cpus)
        json_str(f, o->cpus);
    else
        fputs("null", f);
    fprintf(f, ", \"chains\": 1, \"init\": \"true\", \"key\": 0, \"data_seed\": 0, "
               "\"theta_variance\": 10, \"rho\": 0, \"progress_every\": 1000},\n");
    fprintf(f, "  \"total_seconds\": ");
    json_num(f, total_s);
    fprintf(f, ",\n  \"rows\": [\n");
    for (int i = 0; i < nres; i++) {
        const result *r = &res[i];
        const post_row *row = r->row;
        double per = r->median_s / (double)r->iters;
        fprintf(f, "    {\"sampler\": \"%s\", \"table\": \"%s\", \"n\": %zu, \"d\": %zu, ",
                row->sampler, row->table, row->n, row->d);
        fprintf(f, "\"step_size\": %.9g, \"batch_size\": %u, \"dtype\": \"%s\", ", row->step,
                row->batch, r->dtype == DTYPE_F32 ? "float32" : "float64");
        fprintf(f, "\"status\": \"%s\", \"iterations\": %llu, \"runs\": %d,\n      \"wall_s\": [",
                mcmc_status_str(r->status), (unsigned long long)r->iters, r->runs);
        for (int k = 0; k < r->runs; k++) {
            json_num(f, r->wall[k]);
            fputs(k + 1 < r->runs ? ", " : "", f);
        }
        fprintf(f, "], \"cpu_s\": [");
        for (int k = 0; k < r->runs; k++) {
            json_num(f, r->cpu[k]);
            fputs(k + 1 < r->runs ? ", " : "", f);
        }
        fprintf(f, "],\n      \"median_s\": ");
        json_num(f, r->median_s);
        fprintf(f, ", \"min_s\": ");
        json_num(f, r->min_s);
        fprintf(f, ", \"median_cpu_s\": ");
        json_num(f, r->median_cpu_s);
        fprintf(f, ", \"s_per_iter\": ");
        json_num(f, per);
        fprintf(f, ", \"grad_evals\": %llu, \"accepted\": %llu, \"blocks\": %llu, ",
                (unsigned long long)r->grad_evals, (unsigned long long)r->accepted,
                (unsigned long long)r->blocks);
        fprintf(f, "\"grad_evals_per_s\": ");
        json_num(f, (double)r->grad_evals / r->median_s);
        fprintf(f, ",\n      \"x_bytes_per_grad\": ");
        json_num(f, r->x_bytes_per_grad);
        fprintf(f, ", \"x_bytes_per_s\": ");
        json_num(f, (double)r->grad_evals * r->x_bytes_per_grad / r->median_s);
        fprintf(f, ", \"threads_per_pass\": %u", r->threads);
        fprintf(f, ", \"stream_s_per_iter\": ");
        json_num(f, r->stream_s);
        fprintf(f, ", \"stream_bytes_per_s\": ");
        json_num(f, r->x_bytes_per_grad / r->stream_s);
        fprintf(f, ", \"stream_best_s_per_iter\": ");
        json_num(f, r->stream_best_s);
        fprintf(f, ", \"arith_s_per_iter\": ");
        json_num(f, r->arith_s);
        fprintf(f, ", \"bound_s_per_iter\": ");
        json_num(f, r->bound_s);
        fprintf(f, ", \"bound_kind\": \"%s\", \"ratio_to_bound\": ", r->bound_kind);
        json_num(f, per / r->bound_s);
        fprintf(f, ", \"ratio_to_memory_bound\": ");
        json_num(f, per / r->stream_s);
        fprintf(f, ", \"ratio_to_arith_bound\": ");
        json_num(f, per / r->arith_s);
        fprintf(f, ",\n      \"post_python_s\": ");
        json_num(f, row->post_py);
        fprintf(f, ", \"post_jax_kernel_s\": ");
        json_num(f, row->post_kernel);
        fprintf(f, ", \"post_full_jax_2nd_s\": ");
        json_num(f, row->post_full2);
        fprintf(f, ", \"speedup_vs_post_full_jax\": ");
        json_num(f, row->post_full2 / (per * 20000.0));
        if (!strcmp(row->sampler, "sgld")) {
            fprintf(f, ", \"gather_random_rows_s_per_iter\": ");
            json_num(f, r->gather_s);
        }
        if (r->has_fixed) {
            fprintf(f, ",\n      \"fixed_ns_per_iter\": {");
            for (int p = 0; p < PH_COUNT; p++) {
                fprintf(f, "\"%s\": ", phase_names[p]);
                json_num(f, r->fixed_ns[p]);
                fputs(", ", f);
            }
            double sum = 0;
            for (int p = 0; p < PH_COUNT; p++)
                sum += r->fixed_ns[p];
            fprintf(f, "\"rest\": ");
            json_num(f, per * 1e9 - sum);
            fputs("}", f);
        }
        fprintf(f, "}%s\n", i + 1 < nres ? "," : "");
    }
    fprintf(f, "  ]");
    json_nuts(f);
    fprintf(f, "\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* --- NUTS: gradients per second inside a trajectory ---------------------- */

typedef struct nuts_result {
    size_t n, d;
    model_dtype dtype;
    uint64_t iters, grad_evals;
    double median_s, bound_s; /* per gradient: max(memory, arithmetic) */
    const char *bound_kind;
} nuts_result;
static nuts_result nuts_res[8];
static int nuts_count;

/* NUTS from theta_true with a fixed step size (no warmup: the step only
 * sets the tree depths; what is measured is the cost of a gradient, which
 * like MALA's needs the log density too), 500 iterations (50 at d = 500,
 * whose trees run 9 deep), median of o->runs runs. */
static void run_nuts(const options *o, const machine *mc, const model *m, size_t n, size_t d,
                     model_dtype dtype) {
    if (nuts_count >= 8) return;
    nuts_result *r = &nuts_res[nuts_count++];
    int f32 = dtype == DTYPE_F32;
    size_t elem = f32 ? sizeof(float) : sizeof(double);
    unsigned thr = (unsigned)model_row_segments(m, n) < o->threads
                       ? (unsigned)model_row_segments(m, n)
                       : o->threads;
    double best, mem = stream_cache_lookup(n * d * elem, elem, thr, &best);
    double link = mc->t_sigmoid[f32];
    double arith = (double)n *
                   ((4.0 * (double)d + LOGLIK_FLOPS) / (f32 ? mc->peak_f32 : mc->peak_f64) + link) /
                   (double)thr;
    *r = (nuts_result){.n = n,
                       .d = d,
                       .dtype = dtype,
                       .iters = (o->quick ? 50 : 500) / (d > 100 ? 10 : 1), /* deep trees */
                       .bound_s = mem > arith ? mem : arith,
                       .bound_kind = mem > arith ? "memory" : "arith"};
    chain_config cfg = {.sampler = sampler_find("nuts"),
                        .num_samples = r->iters,
                        .thin = 1,
                        .chains = 1,
                        .key = rng_key_from_seed(0),
                        .init = INIT_TRUE,
                        .progress_every = 100,
                        .row_threads = o->threads};
    sampler_defaults(cfg.sampler, cfg.params);
    cfg.params[sampler_param_index(cfg.sampler, "step_size")] = 0.5 / sqrt((double)n);
    double wall[MAX_RUNS];
    for (int k = 0; k < o->runs; k++) {
        counter c = {0};
        double t0 = now();
        int rc = chain_run(m, &cfg, 0, count_block, &c, NULL);
        wall[k] = now() - t0;
        r->grad_evals = rc == MCMC_OK ? c.grad_evals : 0;
    }
    r->median_s = median(wall, o->runs);
}

static void print_nuts(void) {
    if (!nuts_count) return;
    printf("# NUTS inside its trajectories (fixed step 0.5/sqrt(N), from theta_true):\n"
           "#   %7s %4s %4s %9s %9s %9s %9s %-6s %6s\n",
           "N", "d", "type", "grads", "grad/s", "us/grad", "bound_us", "kind", "ratio");
    for (int i = 0; i < nuts_count; i++) {
        const nuts_result *r = &nuts_res[i];
        double per = r->median_s / (double)r->grad_evals;
        printf("#   %7zu %4zu %4s %9llu %9.3g %9.3f %9.3f %-6s %6.2f\n", r->n, r->d,
               r->dtype == DTYPE_F32 ? "f32" : "f64", (unsigned long long)r->grad_evals, 1.0 / per,
               per * 1e6, r->bound_s * 1e6, r->bound_kind, per / r->bound_s);
    }
}

static void json_nuts(FILE *f) {
    fprintf(f, ",\n  \"nuts\": [");
    for (int i = 0; i < nuts_count; i++) {
        const nuts_result *r = &nuts_res[i];
        fprintf(f, "%s\n    {\"n\": %zu, \"d\": %zu, \"dtype\": \"%s\", \"iterations\": %llu, ",
                i ? "," : "", r->n, r->d, r->dtype == DTYPE_F32 ? "float32" : "float64",
                (unsigned long long)r->iters);
        fprintf(f, "\"grad_evals\": %llu, \"median_s\": ", (unsigned long long)r->grad_evals);
        json_num(f, r->median_s);
        fprintf(f, ", \"s_per_grad\": ");
        json_num(f, r->median_s / (double)r->grad_evals);
        fprintf(f, ", \"bound_s_per_grad\": ");
        json_num(f, r->bound_s);
        fprintf(f, ", \"bound_kind\": \"%s\"}", r->bound_kind);
    }
    fprintf(f, "\n  ]");
}

/* --- main --------------------------------------------------------------- */

static int row_selected(const options *o, const post_row *row) {
    if (o->only && strcmp(o->only, row->sampler)) return 0;
    if (o->table && strcmp(o->table, row->table)) return 0;
    if ((o->max_n && row->n > o->max_n) || (o->max_d && row->d > o->max_d)) return 0;
    return 1;
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) return 2;
    if (o.cpus) {
        cpu_set_t set;
        if (parse_cpus(o.cpus, &set) != 0 || sched_setaffinity(0, sizeof set, &set) != 0) {
            fprintf(stderr, "bench_post_tables: cannot pin to CPUs %s: %s\n", o.cpus,
                    strerror(errno));
            return 2;
        }
    }

    machine mc;
    machine_info(&mc);
    read_loadavg(mc.load_before);
    char started[64];
    time_t t = time(NULL);
    strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%S%z", localtime(&t));
    double t_start = now();

    mc.peak_f64 = peak_flops(0);
    mc.peak_f32 = peak_flops(1);
    for (int k = 0; k < 2; k++) {
        mc.t_exp[k] = vmath_seconds(VMATH_EXP, k);
        mc.t_sigmoid[k] = vmath_seconds(VMATH_SIGMOID, k);
        mc.t_softplus[k] = vmath_seconds(VMATH_SOFTPLUS, k);
    }

    printf("# bench_post_tables: %s, %ld cores, SIMD path %s, host %s\n", mc.cpu_model, mc.cores,
           mc.simd, mc.host);
    printf("# %llu iterations, median of %d runs (%d for N = 1e6), one chain, "
           "row_threads %u, init theta_true, load average %.2f\n",
           (unsigned long long)o.iters, o.runs, o.runs_large, o.threads, mc.load_before[0]);
    printf("# peak FMA: %.1f Gflop/s f64, %.1f Gflop/s f32; per element (f64/f32): exp %.2f/%.2f "
           "ns, sigmoid %.2f/%.2f ns, softplus %.2f/%.2f ns\n",
           mc.peak_f64 / 1e9, mc.peak_f32 / 1e9, mc.t_exp[0] * 1e9, mc.t_exp[1] * 1e9,
           mc.t_sigmoid[0] * 1e9, mc.t_sigmoid[1] * 1e9, mc.t_softplus[0] * 1e9,
           mc.t_softplus[1] * 1e9);
    printf(
        "# columns: median_s = median wall time of a run; us/it = per iteration; grad/s = "
        "gradient evaluations per second;\n"
        "#   X_GB/s = bytes of X read per second (N*d*elem per gradient, SGLD batch*d*elem); "
        "bound_us = max(memory, arith) lower bound per iteration;\n"
        "#   ratio = us/it / bound_us; r_mem = us/it / memory bound alone; cpu_s = median process "
        "CPU time of a run;\n"
        "#   jax_s = the post's full-JAX CPU time, 2nd run; speedup = jax_s / (our time for "
        "20000 iterations)\n");
    fflush(stdout);

    result *res = calloc(NROWS * 2, sizeof *res);
    if (!res) return 1;
    int nres = 0;
    int done[NROWS] = {0};
    /* One dataset per (N, d), shared by every sampler and dtype. */
    for (int i = 0; i < NROWS; i++) {
        if (done[i] || !row_selected(&o, &ROWS[i])) continue;
        synth_params sp = {
            .n = ROWS[i].n, .d = ROWS[i].d, .seed = 0, .theta_variance = 10.0, .rho = 0.0};
        dataset *ds = NULL;
        int rc = dataset_synthesize(&sp, &ds);
        if (rc != MCMC_OK) {
            fprintf(stderr, "bench_post_tables: dataset N=%zu d=%zu: %s\n", sp.n, sp.d,
                    mcmc_status_str(rc));
            return 1;
        }
        for (int di = 0; di < 2; di++) {
            if ((dtypes[di] == DTYPE_F64 && !o.f64) || (dtypes[di] == DTYPE_F32 && !o.f32))
                continue;
            model *m = model_logistic_create(ds, 10.0, dtypes[di]);
            if (!m) {
                fprintf(stderr, "bench_post_tables: out of memory building the model\n");
                return 1;
            }
            if (o.nuts && !strcmp(ROWS[i].sampler, "ula") &&
                ((sp.d == 5 && sp.n <= 10000 && !strcmp(ROWS[i].table, "data")) || sp.d == 500)) {
                fprintf(stderr, "  running nuts N=%zu d=%zu %s ...\n", sp.n, sp.d,
                        dtypes[di] == DTYPE_F32 ? "f32" : "f64");
                run_nuts(&o, &mc, m, sp.n, sp.d, dtypes[di]);
            }
            for (int j = i; j < NROWS; j++) {
                if (!row_selected(&o, &ROWS[j]) || ROWS[j].n != sp.n || ROWS[j].d != sp.d) continue;
                result *r = &res[nres++];
                r->row = &ROWS[j];
                r->dtype = dtypes[di];
                fprintf(stderr, "  running %s %s N=%zu d=%zu %s ...\n", ROWS[j].sampler,
                        ROWS[j].table, sp.n, sp.d, dtypes[di] == DTYPE_F32 ? "f32" : "f64");
                run_row(&o, &mc, m, r);
                if (sp.n == 1000 && sp.d == 5 && !strcmp(ROWS[j].table, "data"))
                    fixed_costs(m, ds, r);
            }
            model_free(m);
        }
        for (int j = i; j < NROWS; j++)
            if (ROWS[j].n == sp.n && ROWS[j].d == sp.d) done[j] = 1;
        dataset_free(ds);
    }

    /* Print in the post's order: sampler, table, row; f64 then f32. */
    print_header();
    int status = 0;
    for (int i = 0; i < NROWS; i++)
        for (int di = 0; di < 2; di++)
            for (int k = 0; k < nres; k++)
                if (res[k].row == &ROWS[i] && res[k].dtype == dtypes[di]) {
                    print_row(&res[k]);
                    status |= res[k].status != MCMC_OK;
                }

    print_fixed_costs(res, nres);
    print_nuts();

    read_loadavg(mc.load_after);
    double total = now() - t_start;
    printf("# total %.1f s; load average after %.2f\n", total, mc.load_after[0]);
    if (!o.no_json) {
        /* Keep the JSON in the same order as the table. */
        result *sorted = calloc((size_t)nres + 1, sizeof *sorted);
        int ns = 0;
        for (int i = 0; i < NROWS && sorted; i++)
            for (int di = 0; di < 2; di++)
                for (int k = 0; k < nres; k++)
                    if (res[k].row == &ROWS[i] && res[k].dtype == dtypes[di]) sorted[ns++] = res[k];
        char path[1100];
        if (!sorted || write_json(&o, &mc, sorted, ns, started, total, path, sizeof path) != 0) {
            fprintf(stderr, "bench_post_tables: cannot write the JSON results\n");
            status = 1;
        } else {
            printf("# wrote %s\n", path);
        }
        free(sorted);
    }
    free(res);
    return status;
}
