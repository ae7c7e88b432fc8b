/* optimize.c - the mode finder (optimize.h): full-batch L-BFGS on -log p,
 * and minibatch Adam followed by an L-BFGS polish. Owns nothing beyond one
 * call: every buffer is allocated at the start and freed at the end. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "optimize.h"

/* Armijo's sufficient-decrease constant, and the line search's halvings. */
#define ARMIJO_C 1e-4
#define LINE_SEARCH_MAX 60
#define CANCEL_EVERY 16

typedef struct optimizer {
    const model *m;
    const optimize_options *o;
    model_work *w;
    size_t d, mem;
    double *g, *x_new, *g_new, *dir, *alpha, *rho, *s, *y; /* s, y: mem x d each */
    uint32_t *idx;
    optimize_result *res;
} optimizer;

void optimize_options_default(optimize_options *o) {
    memset(o, 0, sizeof *o);
    o->method = OPTIMIZE_AUTO;
    o->max_iter = 1000;
    o->adam_iter = 2000;
    o->tolerance = 1e-6;
    o->history = 10;
    o->learning_rate = 1e-2;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->auto_rows = 1000000;
}

const char *optimize_status_name(optimize_status status) {
    static const char *const names[] = {"converged", "stalled", "max_iter", "nonfinite"};
    return (unsigned)status < 4 ? names[status] : "unknown";
}

const char *optimize_method_name(optimize_method method) {
    static const char *const names[] = {"auto", "lbfgs", "adam"};
    return (unsigned)method < 3 ? names[method] : "unknown";
}

static double dot(const double *a, const double *b, size_t d) {
    double t = 0;
    for (size_t j = 0; j < d; j++)
        t += a[j] * b[j];
    return t;
}

static int all_finite(const double *a, size_t d) {
    for (size_t j = 0; j < d; j++)
        if (!isfinite(a[j])) return 0;
    return 1;
}

static int cancelled(const optimizer *op, uint64_t it) {
    return op->o->cancel && it % CANCEL_EVERY == 0 &&
           atomic_load_explicit(op->o->cancel, memory_order_relaxed);
}

/* log p and its gradient over all rows. */
static double full_eval(optimizer *op, const double *x, double *g) {
    op->res->grad_evals++;
    return model_logp_grad(op->m, op->w, x, g, 1);
}

/* dir = H g by the two-loop recursion over the k newest pairs (ring buffer
 * ending at slot `last`); H0 = (s'y / y'y) I from the newest pair. Ascent on
 * log p, so dir points uphill. */
static void lbfgs_direction(optimizer *op, size_t k, size_t last) {
    size_t d = op->d, mem = op->mem;
    memcpy(op->dir, op->g, d * sizeof(double));
    for (size_t i = 0; i < k; i++) {
        size_t slot = (last + mem - i) % mem;
        op->alpha[slot] = op->rho[slot] * dot(op->s + slot * d, op->dir, d);
        for (size_t j = 0; j < d; j++)
            op->dir[j] -= op->alpha[slot] * op->y[slot * d + j];
    }
    double gamma = 1;
    if (k) {
        const double *yl = op->y + last * d;
        gamma = 1 / (op->rho[last] * dot(yl, yl, d));
    }
    for (size_t j = 0; j < d; j++)
        op->dir[j] *= gamma;
    for (size_t i = k; i-- > 0;) {
        size_t slot = (last + mem - i) % mem;
        double b = op->rho[slot] * dot(op->y + slot * d, op->dir, d);
        for (size_t j = 0; j < d; j++)
            op->dir[j] += (op->alpha[slot] - b) * op->s[slot * d + j];
    }
}

/* Backtracks from step t0 along dir until log p rises by Armijo's fraction;
 * on success x_new, g_new and *lp_new hold the new point. */
static int line_search(optimizer *op, const double *x, double lp, double t0, double *lp_new) {
    double slope = dot(op->g, op->dir, op->d), t = t0;
    if (!(slope > 0)) return -1;
    for (int i = 0; i < LINE_SEARCH_MAX; i++, t *= 0.5) {
        for (size_t j = 0; j < op->d; j++)
            op->x_new[j] = x[j] + t * op->dir[j];
        double f = full_eval(op, op->x_new, op->g_new);
        if (isfinite(f) && all_finite(op->g_new, op->d) && f >= lp + ARMIJO_C * t * slope) {
            *lp_new = f;
            return 0;
        }
    }
    return -1;
}

/* Stores s = x_new - x and y = g - g_new (the curvature of -log p) when
 * s'y > 0; returns how many pairs are kept and moves *last. */
static size_t lbfgs_remember(optimizer *op, const double *x, size_t k, size_t *last) {
    size_t d = op->d, slot = (*last + 1) % op->mem;
    double *s = op->s + slot * d, *y = op->y + slot * d;
    for (size_t j = 0; j < d; j++)
        s[j] = op->x_new[j] - x[j], y[j] = op->g[j] - op->g_new[j];
    double sy = dot(s, y, d);
    if (!(sy > 1e-12 * sqrt(dot(s, s, d) * dot(y, y, d)))) return k;
    op->rho[slot] = 1 / sy;
    *last = slot;
    return k < op->mem ? k + 1 : k;
}

static int lbfgs_run(optimizer *op, double *x, uint64_t max_iter) {
    optimize_result *res = op->res;
    size_t d = op->d, k = 0, last = op->mem - 1;
    double lp = full_eval(op, x, op->g);
    res->status = OPTIMIZE_MAX_ITER;
    if (!isfinite(lp) || !all_finite(op->g, d)) {
        res->status = OPTIMIZE_NONFINITE;
        return MCMC_OK;
    }
    for (uint64_t it = 0;; it++) {
        double gnorm = sqrt(dot(op->g, op->g, d));
        res->lp = lp, res->grad_norm = gnorm;
        if (gnorm <= op->o->tolerance) {
            res->status = OPTIMIZE_CONVERGED;
            break;
        }
        if (it == max_iter) break;
        if (cancelled(op, it)) return MCMC_ECANCELLED;
        lbfgs_direction(op, k, last);
        double lp_new, t0 = k ? 1 : 1 / fmax(gnorm, 1);
        if (line_search(op, x, lp, t0, &lp_new) != 0) {
            if (k == 0) {
                res->status = OPTIMIZE_STALLED;
                break;
            }
            k = 0; /* a stale curvature: restart from the gradient */
            continue;
        }
        k = lbfgs_remember(op, x, k, &last);
        res->iterations++;
        int still = !(lp_new > lp);
        memcpy(x, op->x_new, d * sizeof(double));
        memcpy(op->g, op->g_new, d * sizeof(double));
        lp = lp_new;
        if (still) {
            res->lp = lp, res->grad_norm = sqrt(dot(op->g, op->g, d));
            res->status = OPTIMIZE_STALLED;
            break;
        }
    }
    return MCMC_OK;
}

/* Adam on minibatch estimates of log p; x becomes the mean of the last half
 * of its iterates. Scratch: dir (m), x_new (v), g_new (running mean). */
static int adam_run(optimizer *op, double *x, size_t batch) {
    const optimize_options *o = op->o;
    size_t d = op->d;
    uint64_t iters = o->adam_iter, half = iters / 2;
    double *mom = op->dir, *var = op->x_new, *avg = op->g_new, b1t = 1, b2t = 1;
    memset(mom, 0, d * sizeof(double));
    memset(var, 0, d * sizeof(double));
    memset(avg, 0, d * sizeof(double));
    for (uint64_t t = 0; t < iters; t++) {
        if (cancelled(op, t)) return MCMC_ECANCELLED;
        rng_index_fill(rng_fold_in(o->key, (uint32_t)t), 0, (uint32_t)model_num_data(op->m),
                       op->idx, batch);
        model_logp_grad_batch(op->m, op->w, x, op->idx, batch, op->g, 0);
        op->res->grad_evals++;
        b1t *= o->beta1, b2t *= o->beta2;
        double lr = o->learning_rate / sqrt(1 + (double)t / 1000);
        for (size_t j = 0; j < d; j++) {
            mom[j] = o->beta1 * mom[j] + (1 - o->beta1) * op->g[j];
            var[j] = o->beta2 * var[j] + (1 - o->beta2) * op->g[j] * op->g[j];
            x[j] += lr * (mom[j] / (1 - b1t)) / (sqrt(var[j] / (1 - b2t)) + o->eps);
        }
        if (t >= half) {
            double wgt = 1.0 / (double)(t - half + 1);
            for (size_t j = 0; j < d; j++)
                avg[j] += wgt * (x[j] - avg[j]);
        }
        op->res->iterations++;
    }
    if (iters) memcpy(x, avg, d * sizeof(double));
    return MCMC_OK;
}

static void optimizer_free(optimizer *op) {
    model_work_free(op->w);
    free(op->g);
    free(op->idx);
}

static size_t adam_batch(const optimize_options *o, size_t n) {
    size_t b = o->batch_size ? o->batch_size : n / 1000;
    if (b < 100) b = 100;
    return b < n ? b : n;
}

static int optimizer_init(optimizer *op, const model *m, const optimize_options *o, size_t batch,
                          optimize_result *res) {
    size_t d = model_dim(m), mem = o->history ? o->history : 1;
    *op = (optimizer){.m = m, .o = o, .d = d, .mem = mem, .res = res};
    op->w = model_work_create_split(m, batch, o->row_threads ? o->row_threads : 1);
    op->g = calloc((4 + 2 * mem) * d + 2 * mem, sizeof(double));
    op->idx = batch ? malloc(batch * sizeof(uint32_t)) : NULL;
    if (!op->w || !op->g || (batch && !op->idx)) {
        optimizer_free(op);
        return MCMC_ENOMEM;
    }
    op->x_new = op->g + d, op->g_new = op->g + 2 * d, op->dir = op->g + 3 * d;
    op->s = op->g + 4 * d, op->y = op->s + mem * d;
    op->alpha = op->y + mem * d, op->rho = op->alpha + mem;
    return MCMC_OK;
}

int optimize_mode(const model *m, const optimize_options *o, double *theta, optimize_result *res) {
    memset(res, 0, sizeof *res);
    if (!(o->tolerance >= 0) || (unsigned)o->method > OPTIMIZE_ADAM || !(o->learning_rate > 0) ||
        !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) || !(o->eps > 0))
        return MCMC_EINVAL;
    size_t n = model_num_data(m);
    optimize_method method = o->method;
    if (method == OPTIMIZE_AUTO) method = n > o->auto_rows ? OPTIMIZE_ADAM : OPTIMIZE_LBFGS;
    if (method == OPTIMIZE_ADAM && n == 0) method = OPTIMIZE_LBFGS; /* no rows to sample */
    res->method = method;
    size_t batch = method == OPTIMIZE_ADAM ? adam_batch(o, n) : 0;
    optimizer op;
    int rc = optimizer_init(&op, m, o, batch, res);
    if (rc != MCMC_OK) return rc;
    if (method == OPTIMIZE_ADAM) rc = adam_run(&op, theta, batch);
    if (rc == MCMC_OK) rc = lbfgs_run(&op, theta, o->max_iter);
    optimizer_free(&op);
    return rc;
}
