/* optimize.h - the mode finder: the maximum of a model's log density.
 *
 * Two methods on the model's own log density and gradient (model.h):
 * full-batch L-BFGS (two-loop recursion, backtracking line search with the
 * Armijo condition, curvature pairs kept only when s'y > 0), and minibatch
 * Adam (minibatches drawn with replacement, likelihood scaled by N/n, as
 * SGLD's; the learning rate decays as lr / sqrt(1 + t / 1000) and Adam's
 * answer is the average of its last half of iterates), which L-BFGS then
 * polishes for at most max_iter full-data iterations (few, from so close).
 * OPTIMIZE_AUTO picks L-BFGS unless the data have more than auto_rows rows.
 *
 * The stochastic-gradient samplers' control variates centre on this mode
 * when a spec gives none; the "mode" job kind returns it on its own.
 * Everything is a pure function of (model, options, start): Adam's
 * minibatch at iteration t uses fold_in(key, t).
 */
#ifndef MCMCD_OPTIMIZE_H
#define MCMCD_OPTIMIZE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "rng.h"

typedef enum optimize_method {
    OPTIMIZE_AUTO = 0, /* L-BFGS, or Adam when the data have more than auto_rows rows */
    OPTIMIZE_LBFGS,
    OPTIMIZE_ADAM
} optimize_method;

typedef enum optimize_status {
    OPTIMIZE_CONVERGED = 0, /* the gradient's norm reached the tolerance */
    OPTIMIZE_STALLED,       /* no step improved log p any more (within rounding) */
    OPTIMIZE_MAX_ITER,      /* the iterations ran out first (Adam without polish: always) */
    OPTIMIZE_NONFINITE      /* log p or its gradient was not finite at the start */
} optimize_status;

typedef struct optimize_options {
    optimize_method method;
    uint64_t max_iter;        /* L-BFGS iterations (default 1000); after Adam, 0: no polish */
    uint64_t adam_iter;       /* Adam iterations (default 2000) */
    double tolerance;         /* stop when ||grad log p||_2 <= tolerance (default 1e-6) */
    unsigned history;         /* L-BFGS: curvature pairs kept (default 10) */
    size_t batch_size;        /* Adam: rows per minibatch (0: N / 1000, at least 100) */
    double learning_rate;     /* Adam: the initial step (default 1e-2) */
    double beta1, beta2, eps; /* Adam: 0.9, 0.999, 1e-8 */
    rng_key key;              /* Adam's minibatches */
    size_t auto_rows;         /* OPTIMIZE_AUTO: Adam above this many rows (default 1e6) */
    unsigned row_threads;     /* threads one gradient splits its rows over (0, 1: none) */
    atomic_int *cancel;       /* checked every few iterations; may be NULL */
} optimize_options;

typedef struct optimize_result {
    double lp;              /* log p at the mode (full data, constants dropped) */
    double grad_norm;       /* ||grad log p||_2 there (full data) */
    uint64_t iterations;    /* iterations run, Adam's and L-BFGS's together */
    uint64_t grad_evals;    /* gradient evaluations, full-data and minibatch alike */
    optimize_method method; /* the method AUTO chose (the first one run) */
    optimize_status status;
} optimize_result;

/* Fills o with the defaults above. */
void optimize_options_default(optimize_options *o);

/* From theta (d = model_dim(m) values) to the mode, written back into
 * theta; fills *res. Returns MCMC_OK (see res->status for how it ended),
 * MCMC_ENOMEM, MCMC_ECANCELLED, or MCMC_EINVAL for bad options. Allocates
 * its own scratch; safe to call from any thread on a shared model. */
int optimize_mode(const model *m, const optimize_options *o, double *theta, optimize_result *res);

/* "converged", "stalled", "max_iter", "nonfinite". */
const char *optimize_status_name(optimize_status status);
/* "auto", "lbfgs", "adam". */
const char *optimize_method_name(optimize_method method);

#endif
