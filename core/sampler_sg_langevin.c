/* sampler_sg_langevin.c - the overdamped stochastic-gradient samplers
 * (SGMCMCJax's diffusions, h = h_t from the schedule, xi ~ N(0, I), g the
 * gradient estimate of sg_gradient.h at the current point):
 *
 *   sgld       x <- x + h g + sqrt(2h) xi                 (Welling and Teh 2011)
 *   sgld_cv    the same with the control-variate estimate around the centre
 *   sgld_svrg  the same with the SVRG estimate (centre refreshed every
 *              update_rate iterations)
 *   psgld      V <- alpha V + (1 - alpha) g^2,  G = 1 / (sqrt(V) + eps),
 *              x <- x + (h/2) G g + sqrt(h G) xi          (Li et al. 2016;
 *              alpha 0.99, eps 1e-5, V starts at 0; the Gamma term is dropped
 *              as SGMCMCJax drops it, and its h/2 convention is kept;
 *              without it pSGLD needs minibatch noise to floor V: on an
 *              exact-gradient target V -> 0 near the mode, G -> 1/eps and
 *              the draws' variance came out 9 to 18 times N(0, I)'s)
 *
 * One gradient estimate per iteration (two minibatch passes for the control
 * variates, plus a full pass at each SVRG refresh). With the constant
 * schedule and the minibatch estimator, sgld takes the same bits as the
 * SGLD step mcmcd had before this family: its minibatch is gradient 0's
 * rows and its noise the noise stream's first d elements. No accept step.
 */
#include <math.h>

#include "sg_gradient.h"

static const param_def sgld_params[] = {SG_COMMON_PARAMS};
static const param_def sgld_cv_params[] = {SG_COMMON_PARAMS, SG_CENTRE_PARAM};
static const param_def sgld_svrg_params[] = {SG_COMMON_PARAMS, SG_SVRG_PARAM};
static const param_def psgld_params[] = {
    SG_COMMON_PARAMS,
    {"alpha", P_REAL, 0.99, 0, 1, P_MIN_OPEN, NULL, "decay of the running mean of g^2"},
    {"eps", P_REAL, 1e-5, 0, 1e300, P_MIN_OPEN, NULL, "G = 1 / (sqrt(V) + eps)"},
};

static size_t sgld_scratch(size_t d, const double *params) {
    (void)params;
    return sg_scratch_size(d, 0);
}

static size_t psgld_scratch(size_t d, const double *params) {
    (void)params;
    return sg_scratch_size(d, 1);
}

static void sgld_step(sampler_state *s, rng_key ks, double *stats, sg_estimator est) {
    sg_state *g = sg_state_get(s, est, 0);
    double h = sg_step_size(g), sd = sqrt(2 * h), *noise = s->buf[0];
    sg_gradient(g, s, ks, 0, s->theta, s->grad);
    sampler_step_normals(s, ks, noise);
    for (size_t j = 0; j < s->d; j++)
        s->theta[j] += h * s->grad[j] + sd * noise[j];
    g->t++;
    s->lp = NAN; /* not computed: the step needs only the gradient */
    s->step_size = h;
    stats[STAT_STEPSIZE] = h;
}

static void sgld_mb_step(sampler_state *s, rng_key ks, double *stats) {
    sgld_step(s, ks, stats, SG_MINIBATCH);
}
static void sgld_cv_step(sampler_state *s, rng_key ks, double *stats) {
    sgld_step(s, ks, stats, SG_CV);
}
static void sgld_svrg_step(sampler_state *s, rng_key ks, double *stats) {
    sgld_step(s, ks, stats, SG_SVRG);
}

static void psgld_step(sampler_state *s, rng_key ks, double *stats) {
    sg_state *g = sg_state_get(s, SG_MINIBATCH, 1);
    double h = sg_step_size(g), *noise = s->buf[0], *v = g->vec[0];
    double alpha = s->params[SG_P_COMMON], eps = s->params[SG_P_COMMON + 1];
    sg_gradient(g, s, ks, 0, s->theta, s->grad);
    sampler_step_normals(s, ks, noise);
    for (size_t j = 0; j < s->d; j++) {
        double gj = s->grad[j];
        v[j] = alpha * v[j] + (1 - alpha) * gj * gj;
        double G = 1 / (sqrt(v[j]) + eps);
        s->theta[j] += 0.5 * h * G * gj + sqrt(h * G) * noise[j];
    }
    g->t++;
    s->lp = NAN;
    s->step_size = h;
    stats[STAT_STEPSIZE] = h;
}

const sampler_def sampler_sgld =
    SG_ENTRY("sgld", "stochastic-gradient Langevin dynamics: ULA with a minibatch gradient",
             sgld_params, 0, sgld_scratch, sgld_mb_step);
const sampler_def sampler_sgld_cv =
    SG_ENTRY("sgld_cv", "SGLD with control variates around a centre (the mode unless given)",
             sgld_cv_params, SAMPLER_CENTRE, sgld_scratch, sgld_cv_step);
const sampler_def sampler_sgld_svrg =
    SG_ENTRY("sgld_svrg", "SGLD with the SVRG estimate: a centre refreshed every update_rate steps",
             sgld_svrg_params, 0, sgld_scratch, sgld_svrg_step);
const sampler_def sampler_psgld =
    SG_ENTRY("psgld", "preconditioned SGLD: RMSprop's diagonal scaling of step and noise",
             psgld_params, 0, psgld_scratch, psgld_step);
