/* adapt_compare.c - bench_adapt_compare: the two ways warmup can estimate
 * a diagonal metric, Stan's (the variance of the draws) and nutpie's
 * ("grad": sqrt(var(draws) / var(gradients))), compared in effective draws
 * per gradient: min over parameters of bulk ESS, divided by every gradient
 * the chains evaluated (warmup included). Same sampler, same keys, same
 * warmup length; only `metric_adapt` differs. Medians over several keys.
 *
 *   build/bench/bench_adapt_compare [--sampler nuts] [--runs 5] [--warmup 1000]
 *                                   [--samples 1000] [--chains 4]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "diagnostics.h"
#include "errors.h"

typedef struct target {
    const char *name;
    model *m;
    dataset *ds;
} target;

typedef struct collector {
    size_t d;
    uint64_t samples;
    double *draws;        /* chains x samples x d */
    uint64_t *grad_evals; /* per chain */
} collector;

static int collect(void *ctx, const chain_block *b) {
    collector *c = ctx;
    memcpy(c->draws + ((size_t)b->chain * c->samples + b->first_draw) * c->d, b->draws,
           b->count * c->d * sizeof(double));
    c->grad_evals[b->chain] = b->grad_evals;
    return 0;
}

/* A d-dimensional Gaussian with independent coordinates whose standard
 * deviations run log-evenly from 1e-2 to 1e2: what a diagonal metric fixes. */
static model *scaled_gaussian(size_t d) {
    double *mean = calloc(d, sizeof *mean), *cov = calloc(d * d, sizeof *cov);
    for (size_t i = 0; i < d; i++) {
        double sd = pow(10.0, -2.0 + 4.0 * (double)i / (double)(d - 1));
        cov[i * d + i] = sd * sd;
    }
    model *m = model_gaussian_create(d, mean, cov);
    free(mean), free(cov);
    return m;
}

/* The 10-d AR(1) Gaussian, rho 0.9: correlations a diagonal metric cannot fix. */
static model *ar1_gaussian(size_t d, double rho) {
    double *mean = calloc(d, sizeof *mean), *cov = calloc(d * d, sizeof *cov);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            cov[i * d + j] = pow(rho, fabs((double)i - (double)j));
    model *m = model_gaussian_create(d, mean, cov);
    free(mean), free(cov);
    return m;
}

/* The post's logistic regression; rho > 0 correlates adjacent covariates. */
static model *logistic(size_t n, size_t d, double rho, dataset **ds) {
    synth_params p = {.n = n, .d = d, .seed = 0, .theta_variance = 10, .rho = rho};
    if (dataset_synthesize(&p, ds) != MCMC_OK) return NULL;
    return model_logistic_create(*ds, 10, DTYPE_F64);
}

typedef struct options {
    const char *sampler;
    int runs;
    uint64_t warmup, samples;
    uint32_t chains;
} options;

/* min bulk ESS / gradients for one key; NAN on failure. */
static double ess_per_grad(const model *m, const options *o, int estimator, uint64_t seed) {
    chain_config cfg = {.num_samples = o->samples,
                        .num_warmup = o->warmup,
                        .thin = 1,
                        .chains = o->chains,
                        .key = rng_key_from_seed(seed),
                        .init = INIT_ZEROS,
                        .progress_every = 1000,
                        .row_threads = 1};
    cfg.sampler = sampler_find(o->sampler);
    sampler_defaults(cfg.sampler, cfg.params);
    cfg.params[sampler_param_index(cfg.sampler, "metric_adapt")] = estimator;
    size_t d = model_dim(m);
    collector c = {.d = d, .samples = o->samples};
    c.draws = malloc(o->chains * o->samples * d * sizeof(double));
    c.grad_evals = calloc(o->chains, sizeof *c.grad_evals);
    double *work = malloc(diag_work_size(o->chains, o->samples) * sizeof(double));
    double result = NAN;
    if (chains_run(m, &cfg, 2, collect, &c, NULL) == MCMC_OK) {
        double min_ess = INFINITY, grads = 0;
        for (size_t j = 0; j < d; j++) {
            double e = diag_ess_bulk(c.draws + j, o->chains, o->samples, o->samples * d, d, work);
            if (!(e >= min_ess)) min_ess = e;
        }
        for (uint32_t k = 0; k < o->chains; k++)
            grads += (double)c.grad_evals[k];
        result = min_ess / grads;
    }
    free(c.draws), free(c.grad_evals), free(work);
    return result;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static int parse_options(int argc, char **argv, options *o) {
    *o = (options){.sampler = "nuts", .runs = 5, .warmup = 1000, .samples = 1000, .chains = 4};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return -1;
        if (!strcmp(a, "--sampler"))
            o->sampler = v;
        else if (!strcmp(a, "--runs"))
            o->runs = atoi(v);
        else if (!strcmp(a, "--warmup"))
            o->warmup = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--samples"))
            o->samples = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--chains"))
            o->chains = (uint32_t)atoi(v);
        else
            return -1;
        i++;
    }
    const sampler_def *def = sampler_find(o->sampler);
    if (!def || sampler_param_index(def, "metric_adapt") < 0) return -1;
    return o->runs > 0 && o->runs <= 64 && o->chains > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o) != 0) {
        fprintf(stderr, "usage: bench_adapt_compare [--sampler NAME with a metric] [--runs N] "
                        "[--warmup N] [--samples N] [--chains N]\n");
        return 2;
    }
    target t[4] = {{"gaussian d=50, sd 1e-2..1e2", scaled_gaussian(50), NULL},
                   {"AR(1) d=10, rho 0.9", ar1_gaussian(10, 0.9), NULL},
                   {"logistic N=1000 d=5 (post)", NULL, NULL},
                   {"logistic N=1000 d=5, rho 0.9", NULL, NULL}};
    t[2].m = logistic(1000, 5, 0, &t[2].ds);
    t[3].m = logistic(1000, 5, 0.9, &t[3].ds);
    printf("%s, %u chains, %llu warmup + %llu draws, median of %d keys; ESS = min bulk ESS,"
           " per gradient of warmup and sampling\n\n",
           o.sampler, o.chains, (unsigned long long)o.warmup, (unsigned long long)o.samples,
           o.runs);
    printf("| target | stan: ESS/grad | grad: ESS/grad | grad / stan |\n|---|---|---|---|\n");
    for (int k = 0; k < 4; k++) {
        double r[2][64];
        for (int e = 0; e < 2; e++)
            for (int i = 0; i < o.runs; i++)
                r[e][i] = ess_per_grad(t[k].m, &o, e, 1000 + (uint64_t)i);
        double s = median(r[0], o.runs), g = median(r[1], o.runs);
        printf("| %s | %.4g | %.4g | %.2fx |\n", t[k].name, s, g, g / s);
        fflush(stdout);
        model_free(t[k].m);
        dataset_free(t[k].ds);
    }
    return 0;
}
