/* sampler_langevin.c - the unadjusted Langevin sampler of the post: ULA,
 * theta <- theta + h grad log p(theta) + sqrt(2h) xi over all rows. (SGLD,
 * the same step on a minibatch, lives with its family in
 * sampler_sg_langevin.c.) No accept step, so no accept statistic, and a
 * fixed step size: it does not adapt. */
#include <math.h>

#include "chain.h"
#include "sampler.h"

static const param_def ula_params[] = {
    {"step_size", P_REAL, NAN, 0, 1e300, P_MIN_OPEN | P_REQUIRED, NULL,
     "h in theta + h grad log p + sqrt(2h) xi"},
};

/* The runner computes nothing at the start: the first step does. */
static void langevin_init(sampler_state *s) {
    (void)s;
}

static void langevin_step(sampler_state *s, rng_key ks, double *stats) {
    double h = s->step_size, sd = sqrt(2 * h), *noise = s->buf[0];
    if (s->batch) {
        rng_index_fill(ks, CHAIN_COUNTER(CHAIN_STREAM_INDEX, 0), (uint32_t)s->n, s->idx, s->batch);
        model_logp_grad_batch(s->m, s->w, s->theta, s->idx, s->batch, s->grad, 0);
    } else {
        model_logp_grad(s->m, s->w, s->theta, s->grad, 0);
    }
    sampler_step_normals(s, ks, noise);
    for (size_t j = 0; j < s->d; j++)
        s->theta[j] += h * s->grad[j] + sd * noise[j];
    s->grad_evals++;
    s->lp = NAN; /* not computed: the step needs only the gradient */
    stats[STAT_STEPSIZE] = h;
}

const sampler_def sampler_ula = {
    .name = "ula",
    .help = "unadjusted Langevin: the post's fixed-step Langevin update over all rows",
    .params = ula_params,
    .num_params = sizeof ula_params / sizeof ula_params[0],
    .stats = STAT_BIT(STAT_STEPSIZE),
    .init = langevin_init,
    .step = langevin_step,
};
