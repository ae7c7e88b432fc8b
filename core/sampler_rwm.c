/* sampler_rwm.c - random-walk Metropolis with a Gaussian proposal scaled
 * by the metric: prop = theta + eps Minv^(1/2) xi, accepted with
 * min(1, p(prop) / p(theta)). Warmup adapts eps (target accept 0.234, the
 * optimum for high-dimensional Gaussian targets) and the metric. The
 * gradient comes with each evaluation of the fused kernels; the runner
 * keeps it for the "grad" metric estimator. */
#include <math.h>

#include "chain.h"
#include "sampler.h"
#include "simd.h"

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
    simd_ops_get()->normal_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_NOISE, 0), z, s->d);
    metric_noise(s->metric, z, z);
    for (size_t j = 0; j < s->d; j++)
        prop[j] = s->theta[j] + s->step_size * z[j];
    *lp_prop = model_logp_grad(s->m, s->w, prop, s->buf[3], 1);
    s->grad_evals++;
    return *lp_prop - s->lp;
}

static double accept_probability(double log_ratio) {
    return log_ratio >= 0 ? 1.0 : log_ratio < 0 ? exp(log_ratio) : 0.0;
}

static void rwm_step(sampler_state *s, rng_key ks, double *stats) {
    double lp_prop, log_alpha = rwm_propose(s, ks, &lp_prop);
    double u = rng_uniform_f64(ks, CHAIN_COUNTER(CHAIN_STREAM_UNIFORM, 0));
    if (log(u) < log_alpha) {
        double *t = s->theta;
        s->theta = s->buf[2], s->buf[2] = t;
        t = s->grad;
        s->grad = s->buf[3], s->buf[3] = t;
        s->lp = lp_prop;
        s->accepted++;
    }
    stats[STAT_LP] = s->lp;
    stats[STAT_ACCEPT] = accept_probability(log_alpha);
    stats[STAT_STEPSIZE] = s->step_size;
}

static double rwm_probe(sampler_state *s, rng_key ks) {
    double lp_prop;
    return accept_probability(rwm_propose(s, ks, &lp_prop));
}

const sampler_def sampler_rwm = {
    .name = "rwm",
    .help = "random-walk Metropolis, Gaussian proposals shaped by the metric; adapts in warmup",
    .params = rwm_params,
    .num_params = sizeof rwm_params / sizeof rwm_params[0],
    .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_STEPSIZE),
    .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS,
    .default_delta = 0.234,
    .step = rwm_step,
    .probe = rwm_probe,
};
