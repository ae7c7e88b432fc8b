/* sampler_sg_baoab.c - the splitting integrators of underdamped Langevin
 * dynamics with a stochastic gradient g (unit mass, momentum v, h = h_t
 * from the schedule, xi ~ N(0, I), D the dimension). One gradient estimate
 * per iteration: the last B's gradient is the next iteration's first B's
 * (the first iteration estimates one more, from index slot 1).
 *
 * baoab (Leimkuhler and Matthews 2013; gamma 1 (SGMCMCJax requires it), tau 1,
 * v starts at 0):
 *   B  v += (h/2) g;   A  x += (h/2) v;
 *   O  v <- c1 v + tau c2 xi,  c1 = exp(-gamma h), c2 = sqrt(1 - c1^2);
 *   A  x += (h/2) v;   g = the estimate at x;   B  v += (h/2) g
 *
 * badodab (Leimkuhler and Shang 2016, "Adaptive thermostats for noisy
 * gradient systems", SIAM J. Sci. Comput. 38(2); the adaptive-Langevin
 * thermostat alpha, mass mu = 1, noise sigma = 1, alpha starts at a = 0.01,
 * v at 0):
 *   B; A;  D  alpha += (h/2) (v'v - D) / mu;
 *   O  v <- c1 v + sigma c2 xi,  c1 = exp(-alpha h),
 *      c2 = sqrt((1 - exp(-2 alpha h)) / (2 alpha))  (sqrt(h) as alpha -> 0);
 *   D; A; g = the estimate at x; B
 * The thermostat: the paper's dxi = mu^-1 (p'M^-1 p - N_d k_B T) dt, a
 * squared norm, is what holds the kinetic energy at D/2, so D uses v'v - D.
 * SGMCMCJax (at cb90097) writes ||v|| - D, the norm itself, which would hold
 * ||v|| near D, that is v'v near D^2: a temperature D times too high for
 * D > 1. We follow the paper.
 *   badodab_cv  badodab with control variates around the centre. (SGMCMCJax's
 *               BADODAB-CV binds both half-updates to the final B, so its x
 *               never moves; ours runs the whole splitting.)
 * Noise: O takes the noise stream's elements 0..d. No accept step.
 */
#include <math.h>

#include "sg_gradient.h"

static const param_def baoab_params[] = {
    SG_COMMON_PARAMS,
    {"gamma", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL, "friction: c1 = exp(-gamma h)"},
    {"tau", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL, "scale of the O step's noise"},
};
#define BADODAB_PARAMS                                                                             \
    { "a", P_REAL, 0.01, 0, 1e300, 0, NULL, "the thermostat alpha's start" }
static const param_def badodab_params[] = {SG_COMMON_PARAMS, BADODAB_PARAMS};
static const param_def badodab_cv_params[] = {SG_COMMON_PARAMS, SG_CENTRE_PARAM, BADODAB_PARAMS};

/* vec[0] = v; the thermostat alpha sits in vec[1][0]. */
static size_t baoab_scratch(size_t d, const double *params) {
    (void)params;
    return sg_scratch_size(d, 2);
}

/* The first iteration's gradient at the start point (index slot 1). */
static sg_state *splitting_start(sampler_state *s, rng_key ks, sg_estimator est) {
    int first_iteration = !((sg_state *)s->priv)->started;
    sg_state *g = sg_state_get(s, est, 2);
    if (first_iteration) sg_gradient(g, s, ks, 1, s->theta, s->grad);
    return g;
}

static void kick(sampler_state *s, double *v, double dt) {
    for (size_t j = 0; j < s->d; j++)
        v[j] += dt * s->grad[j];
}

static void drift(sampler_state *s, const double *v, double dt) {
    for (size_t j = 0; j < s->d; j++)
        s->theta[j] += dt * v[j];
}

/* O: v <- c1 v + c2 xi. */
static void ou(sampler_state *s, rng_key ks, double *v, double c1, double c2) {
    double *xi = s->buf[0];
    sampler_step_normals(s, ks, xi);
    for (size_t j = 0; j < s->d; j++)
        v[j] = c1 * v[j] + c2 * xi[j];
}

static void finish(sampler_state *s, sg_state *g, double h, double *stats) {
    g->t++;
    s->lp = NAN;
    s->step_size = h;
    stats[STAT_STEPSIZE] = h;
}

static void baoab_step(sampler_state *s, rng_key ks, double *stats) {
    sg_state *g = splitting_start(s, ks, SG_MINIBATCH);
    double h = sg_step_size(g), *v = g->vec[0];
    double gamma = s->params[SG_P_COMMON], tau = s->params[SG_P_COMMON + 1];
    double c1 = exp(-gamma * h), c2 = sqrt(-expm1(-2 * gamma * h));
    kick(s, v, 0.5 * h);
    drift(s, v, 0.5 * h);
    ou(s, ks, v, c1, tau * c2);
    drift(s, v, 0.5 * h);
    sg_gradient(g, s, ks, 0, s->theta, s->grad);
    kick(s, v, 0.5 * h);
    finish(s, g, h, stats);
}

/* D: alpha += (h/2) (v'v - D). */
static void thermostat(const sampler_state *s, const double *v, double *alpha, double dt) {
    double vv = 0;
    for (size_t j = 0; j < s->d; j++)
        vv += v[j] * v[j];
    *alpha += dt * (vv - (double)s->d);
}

/* sqrt((1 - exp(-2 alpha h)) / (2 alpha)), h's square root as alpha -> 0. */
static double badodab_c2(double alpha, double h) {
    double x = 2 * alpha * h;
    if (fabs(x) < 1e-12) return sqrt(h);
    return sqrt(fabs(-expm1(-x) / (2 * alpha)));
}

static void badodab_step(sampler_state *s, rng_key ks, double *stats, sg_estimator est) {
    int first_iteration = !((sg_state *)s->priv)->started;
    sg_state *g = splitting_start(s, ks, est);
    double h = sg_step_size(g), *v = g->vec[0], *alpha = g->vec[1];
    if (first_iteration) *alpha = s->params[est == SG_MINIBATCH ? SG_P_COMMON : SG_P_COMMON + 1];
    kick(s, v, 0.5 * h);
    drift(s, v, 0.5 * h);
    thermostat(s, v, alpha, 0.5 * h);
    ou(s, ks, v, exp(-*alpha * h), badodab_c2(*alpha, h));
    thermostat(s, v, alpha, 0.5 * h);
    drift(s, v, 0.5 * h);
    sg_gradient(g, s, ks, 0, s->theta, s->grad);
    kick(s, v, 0.5 * h);
    finish(s, g, h, stats);
}

static void badodab_mb_step(sampler_state *s, rng_key ks, double *stats) {
    badodab_step(s, ks, stats, SG_MINIBATCH);
}
static void badodab_cv_step(sampler_state *s, rng_key ks, double *stats) {
    badodab_step(s, ks, stats, SG_CV);
}

const sampler_def sampler_baoab =
    SG_ENTRY("baoab", "BAOAB splitting of underdamped Langevin dynamics with a minibatch gradient",
             baoab_params, 0, baoab_scratch, baoab_step);
const sampler_def sampler_badodab = SG_ENTRY(
    "badodab", "BADODAB: BAOAB with the adaptive (Nose-Hoover) thermostat for noisy gradients",
    badodab_params, 0, baoab_scratch, badodab_mb_step);
const sampler_def sampler_badodab_cv =
    SG_ENTRY("badodab_cv", "BADODAB with control variates around a centre (the mode unless given)",
             badodab_cv_params, SAMPLER_CENTRE, baoab_scratch, badodab_cv_step);
