/* sampler_mala.c - the Metropolis-adjusted Langevin algorithm,
 * preconditioned by the inverse metric Minv:
 *   prop = theta + h Minv grad(theta) + sqrt(2h) Minv^(1/2) xi,
 * accepted with the Metropolis-Hastings ratio, whose proposal densities are
 * N(prop; theta + h Minv grad, 2h Minv). With the unit metric this is the
 * post's MALA. Warmup adapts h (target accept 0.574) and the metric. */
#include <math.h>

#include "chain.h"
#include "sampler.h"

enum { MALA_STEP_SIZE = 0 };

static const param_def mala_params[] = {
    {"step_size", P_REAL, 0.1, 0, 1e300, P_MIN_OPEN, NULL,
     "h: the step size (with warmup: where adaptation starts)"},
    SAMPLER_ADAPT_PARAMS(0.574),
    SAMPLER_METRIC_PARAMS,
};

/* Proposes from theta into buf[2] (its gradient into buf[3], its log
 * density into *lp_prop) and returns the log Metropolis-Hastings ratio (NaN
 * when the proposal diverged). */
static double mala_propose(sampler_state *s, rng_key ks, double *lp_prop) {
    size_t d = s->d;
    double h = s->step_size, sd = sqrt(2 * h), q_new = 0, q_cur;
    double *z = s->buf[0], *v = s->buf[1], *prop = s->buf[2], *prop_grad = s->buf[3];
    sampler_step_normals(s, ks, z);
    for (size_t j = 0; j < d; j++)
        q_new += z[j] * z[j]; /* |prop - theta - h Minv g|^2_M / (2h) */
    metric_noise(s->metric, z, z);
    metric_velocity(s->metric, s->grad, v);
    for (size_t j = 0; j < d; j++)
        prop[j] = s->theta[j] + h * v[j] + sd * z[j];
    *lp_prop = model_logp_grad(s->m, s->w, prop, prop_grad, 1);
    s->grad_evals++;
    metric_velocity(s->metric, prop_grad, v);
    for (size_t j = 0; j < d; j++)
        z[j] = s->theta[j] - prop[j] - h * v[j];
    q_cur = metric_mass_norm2(s->metric, z, v);
    return *lp_prop - s->lp - q_cur / (4 * h) + 0.5 * q_new;
}

static void mala_step(sampler_state *s, rng_key ks, double *stats) {
    double lp_prop, log_alpha = mala_propose(s, ks, &lp_prop);
    sampler_metropolis(s, ks, log_alpha, lp_prop, stats);
}

static double mala_probe(sampler_state *s, rng_key ks) {
    double lp_prop;
    return sampler_accept_probability(mala_propose(s, ks, &lp_prop));
}

const sampler_def sampler_mala = {
    .name = "mala",
    .help = "Metropolis-adjusted Langevin, preconditioned by the metric; adapts in warmup",
    .params = mala_params,
    .num_params = sizeof mala_params / sizeof mala_params[0],
    .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_STEPSIZE),
    .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS | SAMPLER_ACCEPTS,
    .default_delta = 0.574,
    .step = mala_step,
    .probe = mala_probe,
};
