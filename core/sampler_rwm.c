/* sampler_rwm.c - random-walk Metropolis with a Gaussian proposal scaled
 * by the metric: prop = theta + eps Minv^(1/2) xi, accepted with
 * min(1, p(prop) / p(theta)). Warmup adapts eps (target accept 0.234, the
 * optimum for high-dimensional Gaussian targets) and the metric. The
 * gradient comes with each evaluation of the fused kernels; the runner
 * keeps it for the "grad" metric estimator. */
#include <math.h>

#include "chain.h"
#include "sampler.h"

static const param_def rwm_params[] = {
    {"step_size", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL,
     "eps: the proposal's scale in units of the metric (with warmup: where adaptation starts)"},
    SAMPLER_ADAPT_PARAMS(0.234),
    SAMPLER_METRIC_PARAMS,
};

/* Proposes into buf[2] (gradient buf[3], log density *lp_prop); returns
 * the log Metropolis ratio. */
static double rwm_propose(sampler_state *s, rng_key ks, double *lp_prop) {
    double *z = s->buf[0], *prop = s->buf[2];
    sampler_step_normals(s, ks, z);
    metric_noise(s->metric, z, z);
    for (size_t j = 0; j < s->d; j++)
        prop[j] = s->theta[j] + s->step_size * z[j];
    *lp_prop = model_logp_grad(s->m, s->w, prop, s->buf[3], 1);
    s->grad_evals++;
    return *lp_prop - s->lp;
}

static void rwm_step(sampler_state *s, rng_key ks, double *stats) {
    double lp_prop, log_alpha = rwm_propose(s, ks, &lp_prop);
    sampler_metropolis(s, ks, log_alpha, lp_prop, stats);
}

static double rwm_probe(sampler_state *s, rng_key ks) {
    double lp_prop;
    return sampler_accept_probability(rwm_propose(s, ks, &lp_prop));
}

const sampler_def sampler_rwm = {
    .name = "rwm",
    .help = "random-walk Metropolis, Gaussian proposals shaped by the metric; adapts in warmup",
    .params = rwm_params,
    .num_params = sizeof rwm_params / sizeof rwm_params[0],
    .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_STEPSIZE),
    .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS | SAMPLER_ACCEPTS,
    .default_delta = 0.234,
    .step = rwm_step,
    .probe = rwm_probe,
};
