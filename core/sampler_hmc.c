/* sampler_hmc.c - static HMC: a fixed number of leapfrog steps (or a fixed
 * integration time) from a fresh momentum, then a Metropolis accept of the
 * final point, as Stan's static_hmc does.
 *
 * The step count is num_steps when given, else max(1, round(path_length /
 * eps)) with eps the nominal (unjittered) step size, capped at
 * HMC_MAX_STEPS so that a tiny warmup step size cannot stall the chain. A
 * trajectory whose energy error passes 1000 stops there, is divergent and
 * is rejected. Scratch: one phase-space point and the momentum normals.
 */
#include <math.h>
#include <string.h>

#include "chain.h"
#include "hamiltonian.h"
#include "sampler.h"

#define HMC_MAX_STEPS 1048576
#define TWO_PI 6.283185307179586

enum { HMC_STEP_SIZE = 0, HMC_NUM_STEPS, HMC_PATH_LENGTH, HMC_JITTER };

static const param_def hmc_params[] = {
    {"step_size", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL,
     "leapfrog step size (the initial one when adapting)"},
    {"num_steps", P_INT, 0, 0, HMC_MAX_STEPS, 0, NULL,
     "leapfrog steps per iteration; 0: path_length / step_size of them"},
    {"path_length", P_REAL, TWO_PI, 0, 1e300, P_MIN_OPEN, NULL,
     "integration time per iteration when num_steps is 0 (at most 2^20 steps)"},
    {"jitter", P_REAL, 0, 0, 1, 0, NULL,
     "each iteration's step size is step_size (1 + jitter U(-1, 1))"},
    SAMPLER_ADAPT_PARAMS(0.8),
    SAMPLER_METRIC_PARAMS,
};

static size_t hmc_scratch_size(size_t d, const double *params) {
    (void)params;
    return 5 * d * sizeof(double);
}

static size_t hmc_num_steps(const sampler_state *s) {
    double fixed = s->params[HMC_NUM_STEPS];
    if (fixed >= 1) return (size_t)fixed;
    double steps = round(s->params[HMC_PATH_LENGTH] / s->step_size);
    if (!(steps >= 1)) return 1;
    return steps > HMC_MAX_STEPS ? HMC_MAX_STEPS : (size_t)steps;
}

/* Integrates z for up to n steps of eps; returns the steps taken (fewer
 * when the energy error passed HAM_MAX_DELTA_H) and sets *h to H at the end. */
static size_t hmc_integrate(sampler_state *s, ham_point *z, double eps, size_t n, double h0,
                            double *h) {
    for (size_t i = 0; i < n; i++) {
        ham_leapfrog(s, z, eps);
        *h = ham_energy(s, z);
        if (*h - h0 > HAM_MAX_DELTA_H) return i + 1;
    }
    return n;
}

static void hmc_step(sampler_state *s, rng_key ks, double *stats) {
    size_t d = s->d, n = hmc_num_steps(s);
    double *mem = s->priv;
    ham_point z = ham_point_at(mem, d);
    double eps = ham_step_size(s, ks, s->params[HMC_JITTER]);
    memcpy(z.theta, s->theta, d * sizeof(double));
    memcpy(z.grad, s->grad, d * sizeof(double));
    z.lp = s->lp;
    ham_draw_momentum(s, ks, &z, mem + 4 * d);
    double h0 = ham_energy(s, &z), h = h0;
    size_t taken = hmc_integrate(s, &z, eps, n, h0, &h);
    int divergent = h - h0 > HAM_MAX_DELTA_H;
    double accept = divergent ? 0 : ham_accept_prob(h0, h);
    double u = rng_uniform_f64(ks, CHAIN_COUNTER(CHAIN_STREAM_UNIFORM, 0));
    if (!divergent && u < accept) {
        memcpy(s->theta, z.theta, d * sizeof(double));
        memcpy(s->grad, z.grad, d * sizeof(double));
        s->lp = z.lp;
        s->accepted++;
    } else {
        h = h0;
    }
    stats[STAT_LP] = s->lp;
    stats[STAT_ACCEPT] = accept;
    stats[STAT_STEPSIZE] = eps;
    stats[STAT_NLEAPFROG] = (double)taken;
    stats[STAT_DIVERGENT] = divergent;
    stats[STAT_ENERGY] = h;
    stats[STAT_INT_TIME] = eps * (double)taken;
}

const sampler_def sampler_hmc = {
    .name = "hmc",
    .help = "static Hamiltonian Monte Carlo: num_steps leapfrog steps or a path_length",
    .params = hmc_params,
    .num_params = sizeof hmc_params / sizeof hmc_params[0],
    .stats = STAT_BIT(STAT_LP) | STAT_BIT(STAT_ACCEPT) | STAT_BIT(STAT_STEPSIZE) |
             STAT_BIT(STAT_NLEAPFROG) | STAT_BIT(STAT_DIVERGENT) | STAT_BIT(STAT_ENERGY) |
             STAT_BIT(STAT_INT_TIME),
    .flags = SAMPLER_USES_METRIC | SAMPLER_ADAPTS | SAMPLER_ACCEPTS,
    .default_delta = 0.8,
    .scratch_size = hmc_scratch_size,
    .init = NULL,
    .step = hmc_step,
    .probe = ham_sampler_probe,
};
