/* sampler_sg_hmc.c - stochastic-gradient Hamiltonian Monte Carlo (Chen, Fox
 * and Guestrin 2014), in SGMCMCJax's parametrisation (their appendix G:
 * v = h p, friction alpha, noise estimate beta = 0). Each iteration, with
 * h = h_t from the schedule and xi ~ N(0, I):
 *
 *   v <- sqrt(h) xi                                 (momentum resampled)
 *   L times:  x <- x + v,
 *             g = the gradient estimate at the new x,
 *             v <- v + h g - alpha v + sqrt(2 (alpha - beta) h) xi
 *
 * The gradient is taken at the moved x, as the paper's eq. (15) and
 * SGMCMCJax's docs write it. SGMCMCJax's code (at cb90097) uses the
 * gradient from before the move: that is explicit Euler, whose energy grows
 * by a factor 1 + h lambda per step on a curvature lambda, which friction
 * alpha = 0.01 cannot hold once h lambda > 0.02 (at h lambda = 0.1 every
 * chain diverged here); the paper's form is stable to h lambda < 4.
 * Defaults: alpha 0.01, leapfrog_steps L 10 (SGMCMCJax requires L).
 *   sghmc       minibatch estimate
 *   sghmc_cv    control variates around the centre
 *   sghmc_svrg  SVRG, the centre refreshed every update_rate iterations
 * Gradient l of an iteration takes the minibatch of index slot l, the
 * momentum the noise stream's elements 0..d and leapfrog l's noise
 * (l + 1) d.. . L gradient estimates per iteration; no accept step.
 */
#include <math.h>

#include "sg_gradient.h"

#define SGHMC_PARAMS                                                                               \
    {"leapfrog_steps", P_INT, 10, 1, 1e6, 0, NULL, "L: momentum updates per iteration"}, {         \
        "alpha", P_REAL, 0.01, 0, 1e300, 0, NULL, "friction per step (v = h p units)"              \
    }

static const param_def sghmc_params[] = {SG_COMMON_PARAMS, SGHMC_PARAMS};
static const param_def sghmc_cv_params[] = {SG_COMMON_PARAMS, SG_CENTRE_PARAM, SGHMC_PARAMS};
static const param_def sghmc_svrg_params[] = {SG_COMMON_PARAMS, SG_SVRG_PARAM, SGHMC_PARAMS};

static size_t sghmc_scratch(size_t d, const double *params) {
    (void)params;
    return sg_scratch_size(d, 1);
}

static void sghmc_step(sampler_state *s, rng_key ks, double *stats, sg_estimator est) {
    sg_state *g = sg_state_get(s, est, 1);
    size_t d = s->d, first = est == SG_MINIBATCH ? SG_P_COMMON : SG_P_COMMON + 1;
    uint32_t L = (uint32_t)s->params[first];
    double alpha = s->params[first + 1], h = sg_step_size(g), *v = g->vec[0], *xi = s->buf[0];
    double sd = sqrt(2 * alpha * h);
    sampler_step_normals(s, ks, v);
    for (size_t j = 0; j < d; j++)
        v[j] *= sqrt(h);
    for (uint32_t l = 0; l < L; l++) {
        for (size_t j = 0; j < d; j++)
            s->theta[j] += v[j];
        sg_gradient(g, s, ks, l, s->theta, s->grad);
        sg_noise(ks, (uint64_t)(l + 1) * d, xi, d);
        for (size_t j = 0; j < d; j++)
            v[j] += h * s->grad[j] - alpha * v[j] + sd * xi[j];
    }
    g->t++;
    s->lp = NAN;
    s->step_size = h;
    stats[STAT_STEPSIZE] = h;
}

static void sghmc_mb_step(sampler_state *s, rng_key ks, double *stats) {
    sghmc_step(s, ks, stats, SG_MINIBATCH);
}
static void sghmc_cv_step(sampler_state *s, rng_key ks, double *stats) {
    sghmc_step(s, ks, stats, SG_CV);
}
static void sghmc_svrg_step(sampler_state *s, rng_key ks, double *stats) {
    sghmc_step(s, ks, stats, SG_SVRG);
}

const sampler_def sampler_sghmc =
    SG_ENTRY("sghmc", "stochastic-gradient HMC: L friction-damped momentum steps per iteration",
             sghmc_params, 0, sghmc_scratch, sghmc_mb_step);
const sampler_def sampler_sghmc_cv =
    SG_ENTRY("sghmc_cv", "SGHMC with control variates around a centre (the mode unless given)",
             sghmc_cv_params, SAMPLER_CENTRE, sghmc_scratch, sghmc_cv_step);
const sampler_def sampler_sghmc_svrg =
    SG_ENTRY("sghmc_svrg", "SGHMC with the SVRG estimate: a centre refreshed every update_rate",
             sghmc_svrg_params, 0, sghmc_scratch, sghmc_svrg_step);
