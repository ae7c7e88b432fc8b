/* model_targets.c - the test targets of the model table, which take no
 * data: a Gaussian with a given mean and covariance, and Neal's funnel.
 * Both have closed-form log densities and gradients, and their "prior"
 * draws are exact draws from the target.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

/* ---- Gaussian ------------------------------------------------------------ */

enum { ARG_MEAN = 0, ARG_COV = 1 };

static const param_def gaussian_params[] = {
    {"mean", P_VECTOR, 0, -INFINITY, INFINITY, P_REQUIRED, NULL, "the mean, d numbers"},
    {"cov", P_MATRIX, 0, -INFINITY, INFINITY, P_REQUIRED, NULL,
     "the covariance, d x d, symmetric positive definite"},
};

/* Lower Cholesky factor of a (d x d) into l; -1 unless positive definite. */
static int cholesky(const double *a, double *l, size_t d) {
    memset(l, 0, d * d * sizeof *l);
    for (size_t j = 0; j < d; j++) {
        double s = a[j * d + j];
        for (size_t k = 0; k < j; k++)
            s -= l[j * d + k] * l[j * d + k];
        if (!(s > 0)) return -1;
        l[j * d + j] = sqrt(s);
        for (size_t i = j + 1; i < d; i++) {
            double t = a[i * d + j];
            for (size_t k = 0; k < j; k++)
                t -= l[i * d + k] * l[j * d + k];
            l[i * d + j] = t / l[j * d + j];
        }
    }
    return 0;
}

/* prec = (L L^T)^-1, column by column through two triangular solves. */
static void invert_from_cholesky(const double *l, double *prec, size_t d, double *col) {
    for (size_t c = 0; c < d; c++) {
        for (size_t i = 0; i < d; i++) {
            double s = i == c;
            for (size_t k = 0; k < i; k++)
                s -= l[i * d + k] * col[k];
            col[i] = s / l[i * d + i];
        }
        for (size_t i = d; i-- > 0;) {
            double s = col[i];
            for (size_t k = i + 1; k < d; k++)
                s -= l[k * d + i] * col[k];
            col[i] = s / l[i * d + i];
        }
        for (size_t i = 0; i < d; i++)
            prec[i * d + c] = col[i];
    }
}

static double gaussian_eval(const model *m, model_work *w, const double *theta, const uint32_t *idx,
                            size_t n, double *grad, int want_logp) {
    size_t d = m->d;
    double q = 0;
    for (size_t j = 0; j < d; j++)
        w->diff[j] = theta[j] - m->mean[j];
    for (size_t i = 0; i < d; i++) {
        double s = 0;
        for (size_t k = 0; k < d; k++)
            s += m->prec[i * d + k] * w->diff[k];
        grad[i] = -s;
        q += w->diff[i] * s;
    }
    return want_logp ? -0.5 * q : 0.0;
}

static void gaussian_draw(const model *m, rng_key key, double *theta) {
    size_t d = m->d;
    rng_normal_fill(key, theta, d);
    for (size_t i = d; i-- > 0;) { /* mean + L z, in place from the bottom */
        double s = 0;
        for (size_t k = 0; k <= i; k++)
            s += m->chol[i * d + k] * theta[k];
        theta[i] = m->mean[i] + s;
    }
}

static const model_vtable gaussian_vt = {gaussian_eval, gaussian_draw};

static size_t gaussian_dim(const model_args *a, size_t d) {
    (void)d;
    if (!a->arrays[ARG_MEAN] || !a->arrays[ARG_COV] || a->lens[ARG_MEAN] != a->lens[ARG_COV])
        return 0;
    return a->lens[ARG_MEAN];
}

static model *gaussian_create(const dataset *ds, const model_args *a, model_dtype dtype, char *err,
                              size_t errlen) {
    (void)ds, (void)dtype;
    size_t d = gaussian_dim(a, 0);
    if (model_args_valid(&model_gaussian_def, a, err, errlen) != 0) return NULL;
    if (d == 0) {
        snprintf(err, errlen, "cov must be d x d for the d numbers of mean");
        return NULL;
    }
    model *m = calloc(1, sizeof *m);
    double *col = malloc(d * sizeof *col);
    if (!m || !col) goto fail;
    *m = (model){.def = &model_gaussian_def, .vt = &gaussian_vt, .d = d};
    m->mean = malloc(d * sizeof *m->mean);
    m->prec = malloc(d * d * sizeof *m->prec);
    m->chol = malloc(d * d * sizeof *m->chol);
    if (!m->mean || !m->prec || !m->chol) goto fail;
    if (cholesky(a->arrays[ARG_COV], m->chol, d) != 0) {
        snprintf(err, errlen, "cov is not positive definite");
        free(col);
        model_free(m);
        return NULL;
    }
    memcpy(m->mean, a->arrays[ARG_MEAN], d * sizeof *m->mean);
    invert_from_cholesky(m->chol, m->prec, d, col);
    free(col);
    return m;
fail:
    snprintf(err, errlen, "out of memory");
    free(col);
    model_free(m);
    return NULL;
}

const model_def model_gaussian_def = {
    .name = "gaussian",
    .help = "a test target: N(mean, cov), no data",
    .params = gaussian_params,
    .num_params = 2,
    .y = Y_NONE,
    .dim = gaussian_dim,
    .create = gaussian_create,
};

/* ---- Neal's funnel ------------------------------------------------------- */

/* v = theta[0] ~ N(0, FUNNEL_V_SD^2), x_i | v ~ N(0, e^v) for the rest. */
#define FUNNEL_V_SD 3.0

static const param_def funnel_params[] = {
    {"dim", P_INT, 10, 2, 100000, 0, NULL, "the dimension: v and dim - 1 coordinates x_i"},
};

/* log p = -v^2 / 18 - sum_i x_i^2 / (2 e^v) - (d - 1) v / 2 */
static double funnel_eval(const model *m, model_work *w, const double *theta, const uint32_t *idx,
                          size_t n, double *grad, int want_logp) {
    size_t d = m->d;
    double v = theta[0], inv_ev = exp(-v), sq = 0, k = (double)(d - 1);
    for (size_t i = 1; i < d; i++) {
        sq += theta[i] * theta[i];
        grad[i] = -theta[i] * inv_ev;
    }
    double inv_var_v = 1.0 / (FUNNEL_V_SD * FUNNEL_V_SD);
    grad[0] = -v * inv_var_v + 0.5 * inv_ev * sq - 0.5 * k;
    return want_logp ? -0.5 * v * v * inv_var_v - 0.5 * inv_ev * sq - 0.5 * k * v : 0.0;
}

static void funnel_draw(const model *m, rng_key key, double *theta) {
    rng_normal_fill(key, theta, m->d);
    theta[0] *= FUNNEL_V_SD;
    double sd = exp(0.5 * theta[0]);
    for (size_t i = 1; i < m->d; i++)
        theta[i] *= sd;
}

static const model_vtable funnel_vt = {funnel_eval, funnel_draw};

static size_t funnel_dim(const model_args *a, size_t d) {
    (void)d;
    double k = a->values[0];
    return k >= 2 && k <= 100000 && k == floor(k) ? (size_t)k : 0;
}

static model *funnel_create(const dataset *ds, const model_args *a, model_dtype dtype, char *err,
                            size_t errlen) {
    (void)ds, (void)dtype;
    if (model_args_valid(&model_funnel_def, a, err, errlen) != 0) return NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    *m = (model){.def = &model_funnel_def, .vt = &funnel_vt, .d = funnel_dim(a, 0)};
    return m;
}

const model_def model_funnel_def = {
    .name = "funnel",
    .help = "a test target: Neal's funnel, v ~ N(0, 9), x_i | v ~ N(0, e^v), no data",
    .params = funnel_params,
    .num_params = 1,
    .y = Y_NONE,
    .dim = funnel_dim,
    .create = funnel_create,
};
