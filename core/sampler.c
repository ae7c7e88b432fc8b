/* sampler.c - the table of samplers and the helpers that read entries.
 * Each sampler lives in its own file; this is the one list of them. */
#include <string.h>

#include "sampler.h"

const sampler_def *const sampler_table[] = {
    &sampler_nuts, &sampler_hmc, &sampler_mala, &sampler_rwm, &sampler_ula, &sampler_sgld, NULL,
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
