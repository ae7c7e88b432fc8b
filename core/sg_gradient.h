/* sg_gradient.h - what every stochastic-gradient sampler shares: the
 * gradient estimators, the step-size schedules, and the parameters that
 * choose them (first in each SG sampler's list, in this order).
 *
 * Estimators of grad log p(theta), on a minibatch of `batch_size` rows drawn
 * with replacement (likelihood scaled by N/n, model_logp_grad_batch):
 *   minibatch: g_B(theta);
 *   control variates: grad log p(c) (all rows, once) + g_B(theta) - g_B(c),
 *     the same rows B twice, around the centre c (SAMPLER_CENTRE);
 *   SVRG: the same, where c <- theta and its full gradient are refreshed on
 *     iterations t with t % update_rate == 0 (that iteration's estimate is
 *     then the full gradient itself).
 * Without a minibatch (batch_size 0 or >= N) each is the full gradient.
 * Gradient k of iteration t draws its rows from elements k * batch.. of the
 * index stream, so k = 0 is today's SGLD minibatch.
 *
 * Step size at iteration t (0-based), a = step_size:
 *   constant a; polynomial a (b + t)^(-gamma) (Welling and Teh, gamma 0.55);
 *   cyclical (a / 2) (cos(pi (t mod L) / L) + 1) with L = cycle_length
 *   (Zhang et al. 2020, arXiv:1902.03932).
 *
 * The state lives at the start of the sampler's scratch (s->priv):
 * sg_scratch_size(d, k) bytes hold it, the estimator's vectors and k more
 * d-vectors for the sampler. Nothing allocates after the chain starts.
 */
#ifndef MCMCD_SG_GRADIENT_H
#define MCMCD_SG_GRADIENT_H

#include <stddef.h>
#include <stdint.h>

#include "sampler.h"

typedef enum sg_estimator { SG_MINIBATCH = 0, SG_CV, SG_SVRG } sg_estimator;
typedef enum sg_schedule { SG_CONSTANT = 0, SG_POLYNOMIAL, SG_CYCLICAL } sg_schedule;

extern const char *const sg_schedule_names[]; /* constant, polynomial, cyclical */

/* Indices of the shared parameters in every SG sampler's list. */
enum { SG_P_STEP = 0, SG_P_BATCH, SG_P_SCHEDULE, SG_P_B, SG_P_GAMMA, SG_P_CYCLE, SG_P_COMMON };

/* The shared parameters (SG_P_*), then the estimator's own (centre for
 * control variates, update_rate for SVRG), then the sampler's. */
#define SG_COMMON_PARAMS                                                                           \
    {"step_size", P_REAL,                                                                          \
     NAN,         0,                                                                               \
     1e300,       P_MIN_OPEN | P_REQUIRED,                                                         \
     NULL,        "a: the step size, or the schedule's scale"},                                    \
        {"batch_size", P_INT, 0,    0,                                                             \
         4294967295.0, 0,     NULL, "rows per minibatch, drawn with replacement (0: all rows)"},   \
        {"schedule",                                                                               \
         P_CHOICE,                                                                                 \
         0,                                                                                        \
         0,                                                                                        \
         2,                                                                                        \
         0,                                                                                        \
         sg_schedule_names,                                                                        \
         "step sizes: constant a, polynomial a (b + t)^-gamma, or cyclical"},                      \
        {"schedule_b", P_REAL, 1, 0, 1e300, P_MIN_OPEN, NULL, "b of the polynomial schedule"},     \
        {"schedule_gamma", P_REAL, 0.55, 0, 1e300, 0, NULL, "gamma of the polynomial schedule"}, { \
        "cycle_length", P_INT, 1000, 1, 4294967295.0, 0, NULL,                                     \
            "iterations per cycle of the cyclical schedule"                                        \
    }
#define SG_CENTRE_PARAM                                                                            \
    {                                                                                              \
        "centre", P_VECTOR, 0, 0, 0, P_OPTIONAL, NULL,                                             \
            "the control variates' centre, d numbers (absent: the mode, found first)"              \
    }
#define SG_SVRG_PARAM                                                                              \
    {                                                                                              \
        "update_rate", P_INT, 100, 1, 4294967295.0, 0, NULL,                                       \
            "iterations between refreshes of the centre and its full gradient"                     \
    }

/* One SG sampler's table entry: no accept step, step size reported. */
#define SG_ENTRY(NAME, HELP, PARAMS, FLAGS, SCRATCH, STEP)                                         \
    {                                                                                              \
        .name = NAME, .help = HELP, .params = PARAMS,                                              \
        .num_params = sizeof PARAMS / sizeof PARAMS[0], .stats = STAT_BIT(STAT_STEPSIZE),          \
        .flags = SAMPLER_MINIBATCH | (FLAGS), .scratch_size = SCRATCH, .init = sg_init,            \
        .step = STEP,                                                                              \
    }

typedef struct sg_state {
    sg_estimator estimator;
    sg_schedule schedule;
    double a, b, gamma;
    uint64_t cycle, update_rate;
    uint64_t t;       /* iterations done */
    int started;      /* the sampler's first iteration has run */
    int centre_ready; /* centre_grad holds grad log p(centre) */
    const double *centre;
    double *centre_grad, *centre_own, *tmp; /* d each */
    double *vec[4];                         /* the sampler's own d-vectors */
} sg_state;

/* Bytes of scratch for dimension d and k <= 4 sampler vectors. */
size_t sg_scratch_size(size_t d, unsigned k);
/* The state in s->priv, set up on its first call (the step's). */
sg_state *sg_state_get(sampler_state *s, sg_estimator estimator, unsigned k);
/* The step size of the current iteration. */
double sg_step_size(const sg_state *g);
/* The step size the schedule gives iteration t. */
double sg_schedule_at(const sg_state *g, uint64_t t);
/* out = the estimate of grad log p(theta), gradient k of this iteration;
 * counts its evaluations in s->grad_evals. */
void sg_gradient(sg_state *g, sampler_state *s, rng_key ks, uint32_t k, const double *theta,
                 double *out);

/* An SG sampler's init: the runner computes nothing at the start (the
 * first step estimates what it needs). */
void sg_init(sampler_state *s);
/* n(0, 1) draws into out[0..n) from elements offset.. of ks's noise stream. */
void sg_noise(rng_key ks, uint64_t offset, double *out, size_t n);

#endif
