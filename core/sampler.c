/* sampler.c - the table of samplers and the helpers that read entries.
 * Each sampler lives in its own file; this is the one list of them. */
#include <math.h>
#include <string.h>

#include "chain.h"
#include "sampler.h"
#include "simd.h"

const sampler_def *const sampler_table[] = {
    &sampler_nuts,
    &sampler_hmc,
    &sampler_mala,
    &sampler_rwm,
    &sampler_ula,
    &sampler_sgld,
    /* the rest of the stochastic-gradient family (sampler_sg_*.c) */
    &sampler_sgld_cv,
    &sampler_sgld_svrg,
    &sampler_psgld,
    &sampler_sghmc,
    &sampler_sghmc_cv,
    &sampler_sghmc_svrg,
    &sampler_sgnht,
    &sampler_sgnht_cv,
    &sampler_baoab,
    &sampler_badodab,
    &sampler_badodab_cv,
    NULL,
};

const char *const sampler_metric_choices[] = {"unit", "diag", "dense", NULL};
const char *const sampler_metric_estimators[] = {"stan", "grad", NULL};

static const char *const stat_names[STAT_COUNT] = {
    "lp__",         "accept_stat__", "stepsize__", "treedepth__",
    "n_leapfrog__", "divergent__",   "energy__",   "int_time__",
};

const char *chain_stat_name(unsigned stat) {
    return stat < STAT_COUNT ? stat_names[stat] : NULL;
}

unsigned chain_stat_count(unsigned mask) {
    unsigned n = 0;
    for (unsigned s = 0; s < STAT_COUNT; s++)
        n += (mask >> s) & 1u;
    return n;
}

const sampler_def *sampler_find(const char *name) {
    for (const sampler_def *const *d = sampler_table; *d; d++)
        if (strcmp((*d)->name, name) == 0) return *d;
    return NULL;
}

int sampler_param_index(const sampler_def *def, const char *name) {
    return param_index(def->params, def->num_params, name);
}

void sampler_defaults(const sampler_def *def, double *params) {
    param_defaults(def->params, def->num_params, params);
}

double sampler_param(const sampler_def *def, const double *params, const char *name,
                     double fallback) {
    int i = sampler_param_index(def, name);
    return i < 0 ? fallback : params[i];
}

void sampler_step_normals(const sampler_state *s, rng_key ks, double *out) {
    if (s->step_noise && s->step_noise_key.hi == ks.hi && s->step_noise_key.lo == ks.lo)
        memcpy(out, s->step_noise, s->d * sizeof *out);
    else
        simd_ops_get()->normal_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0), out, s->d);
}

double sampler_accept_probability(double log_ratio) {
    return log_ratio >= 0 ? 1.0 : log_ratio < 0 ? exp(log_ratio) : 0.0; /* NaN: 0 */
}

void sampler_metropolis(sampler_state *s, rng_key ks, double log_alpha, double lp_prop,
                        double *stats) {
    double u = rng_uniform_f64(ks, CHAIN_COUNTER(CHAIN_STREAM_UNIFORM, 0));
    if (log(u) < log_alpha) { /* false for NaN: a diverged proposal is rejected */
        double *t = s->theta;
        s->theta = s->buf[2], s->buf[2] = t;
        t = s->grad;
        s->grad = s->buf[3], s->buf[3] = t;
        s->lp = lp_prop;
        s->accepted++;
    }
    stats[STAT_LP] = s->lp;
    stats[STAT_ACCEPT] = sampler_accept_probability(log_alpha);
    stats[STAT_STEPSIZE] = s->step_size;
}
