/* adapt.c - Stan's warmup: dual averaging of the log step size, and the
 * inverse metric estimated over windows that double (75 / 25.. / 50), with
 * Stan's regularisation, or nutpie's sqrt(var(x) / var(grad)) diagonal.
 *
 * Dual averaging (Nesterov; Hoffman and Gelman 2014), per iteration k:
 *   s_bar <- (1 - 1/(k + t0)) s_bar + (delta - a_k) / (k + t0)
 *   x_k = mu - s_bar sqrt(k) / gamma,  x_bar <- (1 - k^-kappa) x_bar + k^-kappa x_k
 * with mu = log(10 eps0); the step size is exp(x_k) during warmup and
 * exp(x_bar) after it. Welford's running mean and (co)variance feed the
 * metric; at a window's end var <- n/(n+5) var + 1e-3 * 5/(n+5), and the
 * estimator starts over.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapt.h"

/* Welford's running mean and second moment of d-vectors: M2 is d values
 * (diagonal) or d x d (dense). */
typedef struct welford {
    size_t d, n;
    int dense;
    double *mean, *m2, *delta;
} welford;

struct adapter {
    adapt_config cfg;
    size_t d;
    metric_kind kind;
    /* dual averaging */
    double mu, s_bar, x_bar, counter;
    /* windows (Stan's counters) */
    uint64_t init_buffer, term_buffer, base_window, window_size, next_window;
    int metric_windows; /* 0: the warmup is too short to adapt the metric */
    welford draws, grads;
    double *estimate; /* the new inverse metric, d or d x d */
};

static int welford_init(welford *w, size_t d, int dense) {
    size_t n2 = dense ? d * d : d;
    w->d = d;
    w->dense = dense;
    w->n = 0;
    w->mean = calloc(d ? d : 1, sizeof *w->mean);
    w->m2 = calloc(n2 ? n2 : 1, sizeof *w->m2);
    w->delta = calloc(d ? d : 1, sizeof *w->delta);
    return w->mean && w->m2 && w->delta ? 0 : -1;
}

static void welford_free(welford *w) {
    free(w->mean);
    free(w->m2);
    free(w->delta);
}

static void welford_restart(welford *w) {
    w->n = 0;
    memset(w->mean, 0, w->d * sizeof *w->mean);
    memset(w->m2, 0, (w->dense ? w->d * w->d : w->d) * sizeof *w->m2);
}

static void welford_add(welford *w, const double *x) {
    size_t d = w->d;
    w->n++;
    for (size_t i = 0; i < d; i++) {
        w->delta[i] = x[i] - w->mean[i];
        w->mean[i] += w->delta[i] / (double)w->n;
    }
    if (!w->dense) {
        for (size_t i = 0; i < d; i++)
            w->m2[i] += w->delta[i] * (x[i] - w->mean[i]);
        return;
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            w->m2[i * d + j] += w->delta[i] * (x[j] - w->mean[j]);
}

/* The sample (co)variance, M2 / (n - 1), into out. */
static void welford_variance(const welford *w, double *out) {
    size_t len = w->dense ? w->d * w->d : w->d;
    double div = w->n > 1 ? (double)(w->n - 1) : 1.0;
    for (size_t i = 0; i < len; i++)
        out[i] = w->m2[i] / div;
}

/* Stan's window parameters, with its fallback for short warmups. */
static void set_windows(adapter *a) {
    const adapt_config *c = &a->cfg;
    uint64_t n = c->num_warmup;
    a->init_buffer = c->init_buffer;
    a->term_buffer = c->term_buffer;
    a->base_window = c->window;
    a->metric_windows = c->adapt_metric && n >= 20;
    if (a->metric_windows && c->init_buffer + c->window + c->term_buffer > n) {
        a->init_buffer = (uint64_t)(0.15 * (double)n);
        a->term_buffer = (uint64_t)(0.1 * (double)n);
        a->base_window = n - (a->init_buffer + a->term_buffer);
    }
    a->window_size = a->base_window;
    a->next_window = a->init_buffer + a->window_size - 1;
}

adapter *adapt_create(const adapt_config *cfg, metric_kind kind, size_t d) {
    adapter *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->cfg = *cfg;
    a->d = d;
    a->kind = kind;
    if (kind == METRIC_UNIT) a->cfg.adapt_metric = 0;
    int dense = kind == METRIC_DENSE;
    int ok = welford_init(&a->draws, d, dense) == 0 && welford_init(&a->grads, d, 0) == 0 &&
             (a->estimate = calloc(dense ? d * d : (d ? d : 1), sizeof *a->estimate));
    if (!ok) {
        adapt_free(a);
        return NULL;
    }
    set_windows(a);
    return a;
}

void adapt_free(adapter *a) {
    if (!a) return;
    welford_free(&a->draws);
    welford_free(&a->grads);
    free(a->estimate);
    free(a);
}

void adapt_restart(adapter *a, double step_size) {
    a->mu = log(10 * step_size);
    a->s_bar = a->x_bar = a->counter = 0;
}

/* One dual-averaging update; returns the next step size exp(x_k). */
static double learn_step_size(adapter *a, double accept_stat) {
    const adapt_config *c = &a->cfg;
    if (!(accept_stat <= 1)) accept_stat = accept_stat > 1 ? 1 : 0; /* NaN: a failed step */
    a->counter += 1;
    double eta = 1.0 / (a->counter + c->t0);
    a->s_bar = (1 - eta) * a->s_bar + eta * (c->delta - accept_stat);
    double x = a->mu - a->s_bar * sqrt(a->counter) / c->gamma;
    double w = pow(a->counter, -c->kappa);
    a->x_bar = (1 - w) * a->x_bar + w * x;
    return exp(x);
}

static int in_window(const adapter *a, uint64_t t) {
    uint64_t n = a->cfg.num_warmup;
    return a->metric_windows && t >= a->init_buffer && t + a->term_buffer < n;
}

static int window_ends(const adapter *a, uint64_t t) {
    return a->metric_windows && t == a->next_window && t != a->cfg.num_warmup;
}

static void compute_next_window(adapter *a, uint64_t t) {
    uint64_t n = a->cfg.num_warmup, last = n - a->term_buffer - 1;
    if (a->next_window == last) return;
    a->window_size *= 2;
    a->next_window = t + a->window_size;
    if (a->next_window != last && a->next_window + 2 * a->window_size >= n - a->term_buffer)
        a->next_window = last;
}

/* The window's estimate into a->estimate: Stan's regularised (co)variance,
 * or nutpie's sqrt(var(x) / var(grad)) per coordinate. */
static void estimate_metric(adapter *a) {
    size_t d = a->d;
    double n = (double)a->draws.n, shrink = n / (n + 5.0), floor = 1e-3 * 5.0 / (n + 5.0);
    welford_variance(&a->draws, a->estimate);
    if (a->kind == METRIC_DENSE) {
        for (size_t i = 0; i < d * d; i++)
            a->estimate[i] *= shrink;
        for (size_t i = 0; i < d; i++)
            a->estimate[i * d + i] += floor;
        return;
    }
    if (a->cfg.estimator == ESTIMATE_GRAD) {
        double gvar;
        for (size_t i = 0; i < d; i++) {
            gvar = a->grads.n > 1 ? a->grads.m2[i] / (double)(a->grads.n - 1) : 0;
            double r = sqrt(a->estimate[i] / gvar);
            a->estimate[i] = isfinite(r) && r > 0 ? r : shrink * a->estimate[i] + floor;
        }
        return;
    }
    for (size_t i = 0; i < d; i++)
        a->estimate[i] = shrink * a->estimate[i] + floor;
}

unsigned adapt_step(adapter *a, uint64_t t, double accept_stat, const double *theta,
                    const double *grad, metric *m, double *step_size) {
    unsigned ev = ADAPT_NONE;
    *step_size = learn_step_size(a, accept_stat);
    if (in_window(a, t)) {
        welford_add(&a->draws, theta);
        if (a->cfg.estimator == ESTIMATE_GRAD) welford_add(&a->grads, grad);
    }
    if (window_ends(a, t)) {
        compute_next_window(a, t);
        estimate_metric(a);
        if (metric_set(m, a->estimate) == 0) ev |= ADAPT_METRIC_UPDATED;
        welford_restart(&a->draws);
        welford_restart(&a->grads);
    }
    if (t + 1 == a->cfg.num_warmup) {
        *step_size = exp(a->x_bar);
        ev |= ADAPT_FINISHED;
    }
    return ev;
}

size_t adapt_windows(const adapt_config *cfg, uint64_t *first, uint64_t *ends, size_t cap) {
    adapter a = {.cfg = *cfg};
    size_t count = 0;
    set_windows(&a);
    *first = a.init_buffer;
    for (uint64_t t = 0; t < cfg->num_warmup && a.metric_windows; t++)
        if (window_ends(&a, t)) {
            if (count < cap) ends[count] = t + 1;
            count++;
            compute_next_window(&a, t);
        }
    return count;
}
