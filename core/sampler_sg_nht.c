/* sampler_sg_nht.c - the stochastic-gradient Nose-Hoover thermostat (Ding
 * et al. 2014), as SGMCMCJax writes it: state (x, v, alpha), with
 * h = h_t from the schedule, xi ~ N(0, I), D the dimension:
 *
 *   at the first iteration: v = sqrt(h) xi', alpha = a
 *   g = the gradient estimate at x
 *   v <- v - alpha v + h g + sqrt(2 a h) xi
 *   x <- x + v
 *   alpha <- alpha + v'v / D - h
 *
 * The thermostat alpha adapts the friction to the gradient noise it sees.
 * Default a = 0.01.
 *   sgnht      minibatch estimate
 *   sgnht_cv   control variates around the centre
 * The first iteration's v takes the noise stream's elements d..2d, every
 * step's xi 0..d. One gradient estimate per iteration; no accept step.
 */
#include <math.h>

#include "sg_gradient.h"

#define SGNHT_PARAMS                                                                               \
    {                                                                                              \
        "a", P_REAL, 0.01, 0, 1e300, 0, NULL,                                                      \
            "the thermostat's start and the injected noise's scale sqrt(2 a h)"                    \
    }

static const param_def sgnht_params[] = {SG_COMMON_PARAMS, SGNHT_PARAMS};
static const param_def sgnht_cv_params[] = {SG_COMMON_PARAMS, SG_CENTRE_PARAM, SGNHT_PARAMS};

/* vec[0] = v; the thermostat alpha sits in vec[1][0]. */
static size_t sgnht_scratch(size_t d, const double *params) {
    (void)params;
    return sg_scratch_size(d, 2);
}

static void sgnht_step(sampler_state *s, rng_key ks, double *stats, sg_estimator est) {
    int first_iteration = !((sg_state *)s->priv)->started;
    sg_state *g = sg_state_get(s, est, 2);
    size_t d = s->d;
    double a = s->params[est == SG_MINIBATCH ? SG_P_COMMON : SG_P_COMMON + 1];
    double h = sg_step_size(g), *v = g->vec[0], *alpha = g->vec[1], *xi = s->buf[0];
    if (first_iteration) {
        sg_noise(ks, d, v, d);
        for (size_t j = 0; j < d; j++)
            v[j] *= sqrt(h);
        *alpha = a;
    }
    sg_gradient(g, s, ks, 0, s->theta, s->grad);
    sampler_step_normals(s, ks, xi);
    double sd = sqrt(2 * a * h), vv = 0;
    for (size_t j = 0; j < d; j++) {
        v[j] += -*alpha * v[j] + h * s->grad[j] + sd * xi[j];
        s->theta[j] += v[j];
        vv += v[j] * v[j];
    }
    *alpha += vv / (double)d - h;
    g->t++;
    s->lp = NAN;
    s->step_size = h;
    stats[STAT_STEPSIZE] = h;
}

static void sgnht_mb_step(sampler_state *s, rng_key ks, double *stats) {
    sgnht_step(s, ks, stats, SG_MINIBATCH);
}
static void sgnht_cv_step(sampler_state *s, rng_key ks, double *stats) {
    sgnht_step(s, ks, stats, SG_CV);
}

const sampler_def sampler_sgnht =
    SG_ENTRY("sgnht", "stochastic-gradient Nose-Hoover thermostat: SGHMC with adaptive friction",
             sgnht_params, 0, sgnht_scratch, sgnht_mb_step);
const sampler_def sampler_sgnht_cv =
    SG_ENTRY("sgnht_cv", "SGNHT with control variates around a centre (the mode unless given)",
             sgnht_cv_params, SAMPLER_CENTRE, sgnht_scratch, sgnht_cv_step);
