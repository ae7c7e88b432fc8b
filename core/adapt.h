/* adapt.h - warmup as Stan does it: the step size by dual averaging and the
 * metric estimated in windows (75, then 25 doubling, then 50 iterations),
 * regularised as Stan regularises it, with Stan's fallback for short
 * warmups. Also nutpie's diagonal estimate from draws and gradients,
 * sqrt(var(x) / var(grad)), as "grad".
 *
 * The chain runner calls adapt_step after every warmup iteration with the
 * accept statistic and the current point; the adapter updates the step size
 * and, at a window's end, the metric. One adapter per chain; it allocates
 * only in adapt_create.
 */
#ifndef MCMCD_ADAPT_H
#define MCMCD_ADAPT_H

#include <stddef.h>
#include <stdint.h>

#include "metric.h"

typedef enum metric_estimator { ESTIMATE_STAN = 0, ESTIMATE_GRAD } metric_estimator;

typedef struct adapt_config {
    uint64_t num_warmup;
    double delta, gamma, kappa, t0;            /* dual averaging: target, 0.05, 0.75, 10 */
    uint64_t init_buffer, term_buffer, window; /* 75, 50, 25 */
    int adapt_metric;                          /* 0: step size only */
    metric_estimator estimator;
} adapt_config;

typedef struct adapter adapter;

/* NULL on ENOMEM. The metric's kind decides what is estimated. */
adapter *adapt_create(const adapt_config *cfg, metric_kind kind, size_t d);
void adapt_free(adapter *a);

/* Restarts dual averaging around a step size (mu = log(10 eps)). */
void adapt_restart(adapter *a, double step_size);

/* What adapt_step asks of the runner. */
enum adapt_event {
    ADAPT_NONE = 0,
    ADAPT_METRIC_UPDATED = 1, /* a window ended: the metric was set; rerun
                                 the step-size heuristic, then adapt_restart */
    ADAPT_FINISHED = 2        /* the last warmup iteration: the step size is final */
};

/* After warmup iteration t (0-based): learns from accept_stat, records theta
 * (and grad, for ESTIMATE_GRAD) in a window, and at a window's end writes
 * the new inverse metric into m. *step_size becomes the next iteration's
 * step size. Returns a mask of adapt_event. */
unsigned adapt_step(adapter *a, uint64_t t, double accept_stat, const double *theta,
                    const double *grad, metric *m, double *step_size);

/* Stan's windows for num_warmup iterations (with the 15/75/10% fallback,
 * none below 20): writes the end (exclusive) of each slow window into ends
 * (up to cap) and returns their number, and *first the first window's start.
 * For tests and documentation. */
size_t adapt_windows(const adapt_config *cfg, uint64_t *first, uint64_t *ends, size_t cap);

#endif
