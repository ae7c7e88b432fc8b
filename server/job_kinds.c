/* job_kinds.c - the job kinds that keep no draws (see job_kinds.h).
 *
 * "tune" (Coullon, South & Nemeth 2023, in its simplest form: a grid
 * rather than their bandit): for every setting of the grid (step sizes,
 * times batch sizes when given) the spec's chains run from the spec's
 * init with the spec's key, so settings differ only in the setting; of
 * each chain's kept draws ksd_draws / chains are kept, evenly spaced
 * (core/ksd.h), and the setting's KSD is computed from them and their
 * full-data scores. The best setting is the one with the smallest KSD; a
 * setting whose chain went non-finite is "diverged" with a null KSD.
 *
 * "mode": the mode finder (core/optimize.h) from chain 0's initial point.
 */
#include "job_kinds.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_util.h"
#include "errors.h"
#include "ksd.h"
#include "optimize.h"

/* One setting's chains, as their subset draws come in. */
typedef struct tune_run {
    size_t d, per_chain, rows; /* rows: kept draws per chain */
    double *x;                 /* chains x per_chain x d */
    size_t taken;              /* subset draws copied so far, all chains */
    size_t next;               /* the next subset index of the current chain */
    uint64_t grad_evals, accepted, iter;
    double elapsed;
} tune_run;

static int keep_subset(void *ctx, const chain_block *b) {
    tune_run *r = ctx;
    for (uint32_t i = 0; i < b->count && r->next < r->per_chain; i++)
        if (b->first_draw + i == ksd_subset_row(r->rows, r->per_chain, r->next)) {
            memcpy(r->x + r->taken * r->d, b->draws + (size_t)i * r->d, r->d * sizeof(double));
            r->taken++, r->next++;
        }
    if (b->finished) {
        r->grad_evals += b->grad_evals;
        r->accepted += b->accepted;
        r->iter += b->iter;
        r->elapsed += b->elapsed;
    }
    return 0;
}

/* The grid's setting k: its step size and batch size (0: the spec's). */
static void setting_of(const tune_spec *t, size_t k, double *step, double *batch) {
    size_t nb = t->num_batch_sizes ? t->num_batch_sizes : 1;
    *step = t->step_sizes[k / nb];
    *batch = t->num_batch_sizes ? t->batch_sizes[k % nb] : 0;
}

/* Runs one setting; its row of the table (NULL on ENOMEM), *ksd its KSD
 * (NaN when it diverged), or *rc MCMC_ECANCELLED. */
static json_t *tune_setting(const job_spec *spec, const chain_config *base, const model *m,
                            size_t k, atomic_int *cancel, double *ksd, int *rc) {
    chain_config cfg = *base;
    double step, batch;
    setting_of(&spec->tune, k, &step, &batch);
    int hi = sampler_param_index(cfg.sampler, "step_size"), bi;
    if (hi >= 0) cfg.params[hi] = step;
    if (batch > 0 && (bi = sampler_param_index(cfg.sampler, "batch_size")) >= 0)
        cfg.params[bi] = batch;
    cfg.save_warmup = 0;
    tune_run r = {.d = model_dim(m), .rows = cfg.num_samples};
    r.per_chain = ksd_subset_per_chain(cfg.chains, cfg.num_samples, spec->tune.ksd_draws);
    r.x = malloc(r.per_chain * cfg.chains * r.d * sizeof(double) + 1);
    if (!r.x) return NULL;
    int diverged = 0;
    *ksd = NAN;
    for (uint32_t c = 0; c < cfg.chains && *rc == MCMC_OK; c++) {
        r.next = 0;
        int status = chain_run(m, &cfg, c, keep_subset, &r, cancel);
        if (status == MCMC_ECANCELLED || status == MCMC_ENOMEM) *rc = status;
        if (status == MCMC_ENONFINITE || status == MCMC_EINVAL) diverged = 1;
    }
    if (*rc == MCMC_OK && !diverged && r.taken > 0)
        if (ksd_of_draws(m, r.x, r.taken, cfg.row_threads, ksd) != 0) *rc = MCMC_ENOMEM;
    free(r.x);
    json_t *row = json_pack(
        "{s:f, s:o, s:o, s:I, s:b, s:o, s:I, s:f}", "step_size", step, "batch_size",
        batch > 0 ? json_integer((json_int_t)batch)
                  : json_number_or_null(sampler_param(cfg.sampler, cfg.params, "batch_size", NAN)),
        "ksd", json_number_or_null(*ksd), "ksd_draws", (json_int_t)r.taken, "diverged", diverged,
        "accept_rate",
        json_number_or_null((cfg.sampler->flags & SAMPLER_ACCEPTS) && r.iter
                                ? (double)r.accepted / (double)r.iter
                                : NAN),
        "grad_evals", (json_int_t)r.grad_evals, "elapsed", r.elapsed);
    return row;
}

/* A control-variate sampler's centre when the spec gives none: found once
 * for the grid (whatever batch sizes it tries), by the search each chain
 * would make (chain_find_centre); NULL otherwise. */
static double *grid_centre(const chain_config *cfg, const model *m, atomic_int *cancel, int *rc) {
    if (!(cfg->sampler->flags & SAMPLER_CENTRE) || cfg->centre) return NULL;
    double *centre = malloc(model_dim(m) * sizeof(double));
    *rc = centre ? chain_find_centre(m, cfg, centre, cancel) : MCMC_ENOMEM;
    if (*rc != MCMC_OK) {
        free(centre);
        return NULL;
    }
    return centre;
}

json_t *job_kind_tune(const job_spec *spec, const model *m, atomic_int *cancel) {
    const tune_spec *t = &spec->tune;
    size_t settings = t->num_step_sizes * (t->num_batch_sizes ? t->num_batch_sizes : 1);
    json_t *table = json_array(), *best = json_null();
    double best_ksd = INFINITY;
    int rc = MCMC_OK;
    chain_config base = spec->chain;
    double *centre = grid_centre(&base, m, cancel, &rc);
    if (centre) base.centre = centre;
    for (size_t k = 0; table && k < settings && rc == MCMC_OK; k++) {
        double ksd;
        json_t *row = tune_setting(spec, &base, m, k, cancel, &ksd, &rc);
        if (!row || json_array_append_new(table, row) != 0) rc = MCMC_ENOMEM;
        if (row && ksd < best_ksd) {
            best_ksd = ksd;
            json_decref(best);
            best = json_incref(row);
        }
    }
    free(centre);
    if (rc != MCMC_OK || !table) {
        json_decref(table);
        json_decref(best);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:I, s:I, s:o, s:o}", "kind", "tune", "sampler",
                     spec->chain.sampler->name, "chains", (json_int_t)spec->chain.chains,
                     "num_samples", (json_int_t)spec->chain.num_samples, "best", best, "table",
                     table);
}

/* Chain 0's initial point, as chain.c sets it. */
static void mode_start(const job_spec *spec, const model *m, double *theta) {
    const chain_config *c = &spec->chain;
    size_t d = model_dim(m);
    const double *src = c->init == INIT_TRUE     ? model_theta_true(m)
                        : c->init == INIT_VALUES ? c->init_values
                                                 : NULL;
    if (c->init == INIT_PRIOR)
        model_draw_prior(m, rng_fold_in(rng_fold_in(c->key, 0), 1), theta);
    else if (src)
        memcpy(theta, src, d * sizeof(double));
    else
        memset(theta, 0, d * sizeof(double));
}

static json_t *job_kind_mode(const job_spec *spec, const model *m, atomic_int *cancel, int *rc) {
    size_t d = model_dim(m);
    double *theta = malloc(d * sizeof(double) + 1);
    const char **names = model_param_names(m);
    optimize_options o;
    optimize_options_default(&o);
    o.method = (optimize_method)spec->mode.method;
    if (spec->mode.max_iter) o.max_iter = spec->mode.max_iter;
    if (spec->mode.tolerance > 0) o.tolerance = spec->mode.tolerance;
    o.key = spec->chain.key;
    o.row_threads = spec->chain.row_threads;
    o.cancel = cancel;
    optimize_result res = {0};
    json_t *out = NULL;
    *rc = theta && names ? MCMC_OK : MCMC_ENOMEM;
    if (*rc == MCMC_OK) mode_start(spec, m, theta);
    if (*rc == MCMC_OK) *rc = optimize_mode(m, &o, theta, &res);
    if (*rc == MCMC_OK) {
        json_t *th = json_array(), *pn = json_array();
        for (size_t i = 0; i < d; i++) {
            json_array_append_new(th, json_number_or_null(theta[i]));
            json_array_append_new(pn, json_string(names[i]));
        }
        out =
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:I, s:I, s:s, s:s}", "kind", "mode", "parameters",
                      pn, "theta", th, "lp", json_number_or_null(res.lp), "grad_norm",
                      json_number_or_null(res.grad_norm), "iterations", (json_int_t)res.iterations,
                      "grad_evals", (json_int_t)res.grad_evals, "method",
                      optimize_method_name(res.method), "status", optimize_status_name(res.status));
        if (!out) *rc = MCMC_ENOMEM;
    }
    free(theta);
    free((void *)names);
    return out;
}

json_t *job_kind_result(const job_spec *spec, const model *m, atomic_int *cancel, int *rc) {
    json_t *result = NULL;
    *rc = MCMC_OK;
    if (spec->kind == JOB_KIND_TUNE) {
        result = job_kind_tune(spec, m, cancel);
        if (!result) *rc = cancel && atomic_load(cancel) ? MCMC_ECANCELLED : MCMC_ENOMEM;
    } else if (spec->kind == JOB_KIND_MODE) {
        result = job_kind_mode(spec, m, cancel, rc);
    } else {
        *rc = MCMC_EINVAL;
    }
    return result;
}

int job_kind_run(const job_spec *spec, const model *m, atomic_int *cancel,
                 const char *result_path) {
    int rc;
    json_t *result = job_kind_result(spec, m, cancel, &rc);
    if (rc == MCMC_OK) {
        char tmp[4700];
        snprintf(tmp, sizeof tmp, "%s.tmp", result_path);
        if (json_dump_file(result, tmp, JSON_COMPACT) != 0 || rename(tmp, result_path) != 0)
            rc = MCMC_EIO;
    }
    json_decref(result);
    return rc;
}
