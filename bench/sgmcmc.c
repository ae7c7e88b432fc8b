/* sgmcmc.c - every stochastic-gradient sampler of the table on the post's
 * SGLD rows (issue 13).
 *
 * Rows: N = 1e3, 1e4, 1e5, 1e6 at d = 5 (minibatch 100, 1000, 1000, 1000;
 * step 5e-3 .. 5e-6, as the post) and d = 5, 500, 1000, 2000 at N = 1000
 * (minibatch 100, step 5e-3). Synthetic data (the post's generator, seed 0,
 * rho 0), one chain from theta_true, float64. For every sampler with
 * SAMPLER_MINIBATCH and every row: the median wall time of --runs runs of
 * --iters iterations (control-variate samplers: finding the centre, the
 * mode, is included and also timed alone), time per step, gradient
 * evaluations per second (the runner's count: minibatch gradients, plus
 * full ones for SVRG refreshes and the centre's L-BFGS), and the KSD of
 * --ksd-draws evenly thinned draws against the KSD of an exact run: MALA
 * from theta_true, its step size adapted in a warmup of half its length (at
 * the post's step MALA accepts 1% at d = 2000), min(iters, max(1000,
 * 4e9 / (N d))) kept iterations so that its cost stays a few seconds at
 * N = 1e6. Its accept rate and length are printed. The post's full-JAX
 * SGLD time (CPU, second run, scaled to --iters) stands beside each row.
 *
 * No JAX column: SGMCMCJax needs a JAX install, which this machine lacks
 * (DEVELOPERS.md); bench/jax/ has the post's own samplers only.
 *
 * Not a test: timings depend on the machine and on its load. Writes its
 * table as JSON lines under bench/results/. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "chain.h"
#include "dataset.h"
#include "ksd.h"
#include "model.h"
#include "optimize.h"

#ifndef BENCH_RESULTS_DIR
#define BENCH_RESULTS_DIR "bench/results"
#endif

typedef struct bench_row {
    const char *table; /* "data" or "dim" */
    size_t n, d, batch;
    double step;
    double post_sgld_s; /* the post's full JAX, 2nd run, CPU */
} bench_row;

static const bench_row rows[] = {
    {"data", 1000, 5, 100, 5e-3, 0.056},   {"data", 10000, 5, 1000, 5e-4, 0.9},
    {"data", 100000, 5, 1000, 5e-5, 0.40}, {"data", 1000000, 5, 1000, 5e-6, 0.69},
    {"dim", 1000, 500, 100, 5e-3, 0.56},   {"dim", 1000, 1000, 100, 5e-3, 0.98},
    {"dim", 1000, 2000, 100, 5e-3, 1.95},
};
#define NROWS (sizeof rows / sizeof rows[0])

typedef struct options {
    uint64_t iters;
    unsigned runs;
    size_t ksd_draws;
    const char *only; /* a sampler name, or NULL */
    const char *table;
} options;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The KSD subset of one chain's kept draws, as they come. */
typedef struct keep {
    size_t d, rows, per, next, taken;
    double *x;
    uint64_t grad_evals, accepted, iter;
} keep;

static int on_block(void *ctx, const chain_block *b) {
    keep *k = ctx;
    for (uint32_t i = 0; i < b->count && k->next < k->per; i++)
        if (b->first_draw + i == ksd_subset_row(k->rows, k->per, k->next)) {
            memcpy(k->x + k->taken * k->d, b->draws + (size_t)i * k->d, k->d * sizeof(double));
            k->taken++, k->next++;
        }
    k->grad_evals = b->grad_evals, k->accepted = b->accepted, k->iter = b->iter;
    return 0;
}

static chain_config config_for(const sampler_def *s, const bench_row *r, uint64_t iters) {
    chain_config c = {0};
    c.sampler = s;
    for (size_t i = 0; i < s->num_params; i++) {
        const param_def *p = &s->params[i];
        c.params[i] = isnan(p->def) && (p->flags & P_REQUIRED) ? 1.0 : p->def; /* gamma: 1 */
    }
    c.params[sampler_param_index(s, "step_size")] = r->step;
    int b = sampler_param_index(s, "batch_size");
    if (b >= 0) c.params[b] = (double)r->batch;
    c.num_samples = iters;
    c.thin = 1;
    c.chains = 1;
    c.key = rng_key_from_seed(0);
    c.init = INIT_TRUE;
    c.progress_every = 1000;
    c.row_threads = 1;
    return c;
}

typedef struct result {
    double seconds, grad_evals, ksd, accept;
    int rc;
} result;

/* Median time of o->runs runs; the KSD and counts of the first. */
static result run_sampler(const model *m, const chain_config *c, const options *o) {
    size_t d = model_dim(m);
    keep k = {.d = d, .rows = c->num_samples};
    k.per = ksd_subset_per_chain(1, c->num_samples, o->ksd_draws);
    k.x = malloc(k.per * d * sizeof(double));
    double t[16];
    result res = {.ksd = NAN, .accept = NAN};
    for (unsigned i = 0; i < o->runs; i++) {
        k.next = k.taken = 0;
        double t0 = now_s();
        res.rc = chain_run(m, c, 0, on_block, &k, NULL);
        t[i] = now_s() - t0;
        if (i == 0) {
            res.grad_evals = (double)k.grad_evals;
            res.accept = k.iter ? (double)k.accepted / (double)k.iter : NAN;
            if (res.rc == 0 && ksd_of_draws(m, k.x, k.taken, 2, &res.ksd) != 0) res.ksd = NAN;
        }
        if (res.rc != 0) break;
    }
    qsort(t, o->runs, sizeof t[0], cmp_double);
    res.seconds = t[o->runs / 2];
    free(k.x);
    return res;
}

/* The time to find the mode alone (the CV samplers' centre), as chain.c
 * does it. */
static double centre_seconds(const model *m) {
    optimize_options oo;
    optimize_options_default(&oo);
    optimize_result r;
    double *x = calloc(model_dim(m), sizeof(double)), t0 = now_s();
    optimize_mode(m, &oo, x, &r);
    double t = now_s() - t0;
    free(x);
    return t;
}

static void bench_row_all(const bench_row *r, const options *o, FILE *json) {
    synth_params sp = {.n = r->n, .d = r->d, .seed = 0, .theta_variance = 10, .rho = 0};
    dataset *ds = NULL;
    if (dataset_synthesize(&sp, &ds) != 0) return;
    model *m = model_logistic_create(ds, 10.0, DTYPE_F64);
    options ref_o = *o;
    ref_o.runs = 1;
    double cap = 4e9 / ((double)r->n * (double)r->d);
    uint64_t ref_iters = o->iters < cap ? o->iters : (uint64_t)(cap > 1000 ? cap : 1000);
    chain_config rc = config_for(sampler_find("mala"), r, ref_iters);
    rc.num_warmup = ref_iters / 2;
    result ref = run_sampler(m, &rc, &ref_o);
    double centre_s = centre_seconds(m);
    printf("\n%s N=%zu d=%zu batch=%zu step=%g   exact (adapted mala, %llu draws, accept "
           "%.2f): KSD %.3g   mode %.3f s   post's SGLD (JAX, CPU) %.3g s\n",
           r->table, r->n, r->d, r->batch, r->step, (unsigned long long)ref_iters, ref.accept,
           ref.ksd, centre_s, r->post_sgld_s * (double)o->iters / 20000);
    printf("  %-11s %9s %11s %13s %9s %9s\n", "sampler", "time s", "us/step", "grads/s", "KSD",
           "vs post");
    for (const sampler_def *const *s = sampler_table; *s; s++) {
        if (!((*s)->flags & SAMPLER_MINIBATCH) || (o->only && strcmp(o->only, (*s)->name)))
            continue;
        chain_config c = config_for(*s, r, o->iters);
        result x = run_sampler(m, &c, o);
        double post = r->post_sgld_s * (double)o->iters / 20000;
        printf("  %-11s %9.4f %11.2f %13.4g %9.3g %8.2fx%s\n", (*s)->name, x.seconds,
               1e6 * x.seconds / (double)o->iters, x.grad_evals / x.seconds, x.ksd,
               post / x.seconds, x.rc ? "  (went non-finite)" : "");
        fprintf(json,
                "{\"table\":\"%s\",\"n\":%zu,\"d\":%zu,\"batch\":%zu,\"step\":%g,\"iters\":%llu,"
                "\"sampler\":\"%s\",\"seconds\":%.6g,\"grad_evals\":%.0f,\"ksd\":%.6g,"
                "\"ksd_draws\":%zu,\"exact_ksd\":%.6g,\"exact_draws\":%llu,\"mode_seconds\":%.6g,"
                "\"post_sgld_s\":%g,"
                "\"nonfinite\":%s}\n",
                r->table, r->n, r->d, r->batch, r->step, (unsigned long long)o->iters, (*s)->name,
                x.seconds, x.grad_evals, isnan(x.ksd) ? -1 : x.ksd,
                ksd_subset_per_chain(1, o->iters, o->ksd_draws), isnan(ref.ksd) ? -1 : ref.ksd,
                (unsigned long long)ref_iters, centre_s, r->post_sgld_s * (double)o->iters / 20000,
                x.rc ? "true" : "false");
        fflush(stdout);
    }
    model_free(m);
    dataset_free(ds);
}

int main(int argc, char **argv) {
    options o = {.iters = 20000, .runs = 3, .ksd_draws = 500};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            o.iters = 2000, o.runs = 1, o.ksd_draws = 200;
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc)
            o.iters = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            o.runs = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ksd-draws") && i + 1 < argc)
            o.ksd_draws = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            o.only = argv[++i];
        else if (!strcmp(argv[i], "--table") && i + 1 < argc)
            o.table = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--quick] [--iters N] [--runs R] [--ksd-draws K] [--only SAMPLER] "
                    "[--table data|dim]\n",
                    argv[0]);
            return 2;
        }
    }
    if (o.runs < 1) o.runs = 1;
    if (o.runs > 16) o.runs = 16;
    char path[512], stamp[32];
    struct utsname u;
    uname(&u);
    time_t now = time(NULL);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&now));
    snprintf(path, sizeof path, "%s/sgmcmc-%s-%s.jsonl", BENCH_RESULTS_DIR, stamp, u.nodename);
    FILE *json = fopen(path, "w");
    if (!json) {
        perror(path);
        return 1;
    }
    printf("SG samplers, %llu iterations, median of %u runs, KSD of %zu draws; results: %s\n",
           (unsigned long long)o.iters, o.runs, o.ksd_draws, path);
    for (size_t i = 0; i < NROWS; i++)
        if (!o.table || !strcmp(o.table, rows[i].table)) bench_row_all(&rows[i], &o, json);
    fclose(json);
    return 0;
}
