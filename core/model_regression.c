/* model_regression.c - the regressions of the model table: logistic,
 * linear and Poisson. Each is its link in the kernels (simd.h) plus, here,
 * its parameters, its prior and the mapping of theta onto the data pass
 * (model_data.c): an optional intercept first (a column of ones that is not
 * stored, handled by the kernels), the coefficients, and linear
 * regression's log sigma last. Every coefficient and the intercept take
 * the N(0, prior_variance) prior.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "model_internal.h"

/* Indices shared by the regressions' parameter lists. */
enum { ARG_PRIOR_VARIANCE = 0, ARG_INTERCEPT = 1, ARG_SIGMA_SCALE = 2, ARG_SIGMA = 3 };

#define PRIOR_VARIANCE_PARAM                                                                       \
    {                                                                                              \
        "prior_variance", P_REAL, 10.0, 0.0, 1e300, P_MIN_OPEN, NULL,                              \
            "variance v of the N(0, v) prior on each coefficient and the intercept"                \
    }
#define INTERCEPT_PARAM                                                                            \
    {                                                                                              \
        "intercept", P_BOOL, 0.0, 0.0, 1.0, 0, NULL,                                               \
            "adds an intercept (a column of ones, not stored) as the first parameter"              \
    }

static const param_def logistic_params[] = {PRIOR_VARIANCE_PARAM, INTERCEPT_PARAM};
static const param_def poisson_params[] = {PRIOR_VARIANCE_PARAM, INTERCEPT_PARAM};
static const param_def linear_params[] = {
    PRIOR_VARIANCE_PARAM,
    INTERCEPT_PARAM,
    {"sigma_scale", P_REAL, 1.0, 0.0, 1e300, P_MIN_OPEN, NULL,
     "scale s of the half-normal(s) prior on sigma"},
    {"sigma", P_REAL, 0.0, 0.0, 1e300, P_MIN_OPEN | P_OPTIONAL, NULL,
     "fixes sigma instead of sampling log_sigma (the posterior is then Gaussian)"},
};

static int has_intercept(const model_args *a) {
    return a->values[ARG_INTERCEPT] != 0;
}

/* With sigma fixed the parameters are the coefficients alone. */
static int samples_sigma(const model_def *def, const model_args *a) {
    return def == &model_linear_def && isnan(a->values[ARG_SIGMA]);
}

static size_t regression_dim(const model_def *def, const model_args *a, size_t d) {
    return d + (size_t)has_intercept(a) + (size_t)samples_sigma(def, a);
}
static size_t logistic_dim(const model_args *a, size_t d) {
    return regression_dim(&model_logistic_def, a, d);
}
static size_t linear_dim(const model_args *a, size_t d) {
    return regression_dim(&model_linear_def, a, d);
}
static size_t poisson_dim(const model_args *a, size_t d) {
    return regression_dim(&model_poisson_def, a, d);
}

static double regression_eval(const model *m, model_work *w, const double *theta,
                              const uint32_t *idx, size_t n, double *grad, int want_logp) {
    const glm_layout *L = &m->glm;
    size_t p = L->p, ic = (size_t)L->intercept;
    const double *beta = theta + ic;
    double u = L->log_sigma ? theta[m->d - 1] : 0.0;
    double prec = L->link != SIMD_LINK_LINEAR ? 0.0
                  : L->log_sigma              ? exp(-2.0 * u)
                                              : 1.0 / (L->sigma * L->sigma);
    simd_glm g = {
        .link = L->link, .intercept = L->intercept, .offset = ic ? theta[0] : 0.0, .prec = prec};
    /* Without an intercept the data's gradient lands in grad itself. Log
     * sigma's gradient needs the sum of squares, which is -2 sigma^2 ll. */
    double *gd = ic ? w->gdata : grad;
    double ll = model_data_pass(m, w, &g, beta, idx, n, gd, want_logp || L->log_sigma);
    double scale = idx ? (double)m->n / (double)n : 1.0, inv_v = 1.0 / m->prior_variance;
    double sq = 0;
    for (size_t j = 0; j < p; j++) {
        sq += beta[j] * beta[j];
        grad[ic + j] = scale * gd[j] - inv_v * beta[j];
    }
    if (ic) {
        sq += theta[0] * theta[0];
        grad[0] = scale * gd[p] - inv_v * theta[0];
    }
    double lp = scale * ll - 0.5 * inv_v * sq;
    if (L->log_sigma) { /* -N log sigma, the half-normal prior, the Jacobian (+u) */
        double rows = (double)m->n, s2 = L->sigma_scale * L->sigma_scale, e2u = exp(2.0 * u);
        grad[m->d - 1] = -2.0 * scale * ll - rows - e2u / s2 + 1.0;
        lp += -rows * u - 0.5 * e2u / s2 + u;
    }
    return want_logp ? lp : 0.0;
}

/* Coefficients and intercept from N(0, v); log sigma as the log of a
 * half-normal draw. */
static void regression_draw_prior(const model *m, rng_key key, double *theta) {
    size_t d = m->d, k = d - (size_t)m->glm.log_sigma;
    rng_normal_fill(key, theta, d);
    double s = sqrt(m->prior_variance);
    for (size_t j = 0; j < k; j++)
        theta[j] *= s;
    if (m->glm.log_sigma) theta[d - 1] = log(m->glm.sigma_scale * fmax(fabs(theta[d - 1]), 1e-300));
}

static const model_vtable regression_vt = {regression_eval, regression_draw_prior};

/* The first row whose y the model cannot take, as a message. */
static int check_y(const model_def *def, const dataset *ds, char *err, size_t errlen) {
    for (size_t i = 0; i < ds->n; i++)
        if (!model_y_fits(def->y, ds->y[i])) {
            snprintf(err, errlen, "y[%zu] is %.17g, but %s takes %s y (%s)", i, ds->y[i], def->name,
                     y_kind_name(def->y),
                     def->y == Y_BINARY   ? "0 or 1"
                     : def->y == Y_COUNTS ? "whole numbers >= 0"
                                          : "finite numbers");
            return -1;
        }
    return 0;
}

static model *regression_create(const model_def *def, simd_link link, const dataset *ds,
                                const model_args *a, model_dtype dtype, char *err, size_t errlen) {
    if (!ds || ds->n == 0 || ds->d == 0) {
        snprintf(err, errlen, "%s needs data: a dataset with rows", def->name);
        return NULL;
    }
    if (model_args_valid(def, a, err, errlen) != 0 || check_y(def, ds, err, errlen) != 0)
        return NULL;
    model *m = calloc(1, sizeof *m);
    if (!m) goto nomem;
    int sampled = samples_sigma(def, a);
    *m = (model){.def = def,
                 .vt = &regression_vt,
                 .d = regression_dim(def, a, ds->d),
                 .n = ds->n,
                 .ds = ds,
                 .prior_variance = a->values[ARG_PRIOR_VARIANCE],
                 .glm = {.link = link,
                         .p = ds->d,
                         .intercept = has_intercept(a),
                         .log_sigma = sampled,
                         .sigma = link == SIMD_LINK_LINEAR ? a->values[ARG_SIGMA] : NAN,
                         .sigma_scale = link == SIMD_LINK_LINEAR ? a->values[ARG_SIGMA_SCALE] : 0},
                 .dtype = dtype};
    if (model_data_build(m) == 0) return m;
    model_free(m);
nomem:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static model *logistic_create(const dataset *ds, const model_args *a, model_dtype dtype, char *err,
                              size_t errlen) {
    return regression_create(&model_logistic_def, SIMD_LINK_LOGISTIC, ds, a, dtype, err, errlen);
}
static model *linear_create(const dataset *ds, const model_args *a, model_dtype dtype, char *err,
                            size_t errlen) {
    return regression_create(&model_linear_def, SIMD_LINK_LINEAR, ds, a, dtype, err, errlen);
}
static model *poisson_create(const dataset *ds, const model_args *a, model_dtype dtype, char *err,
                             size_t errlen) {
    return regression_create(&model_poisson_def, SIMD_LINK_POISSON, ds, a, dtype, err, errlen);
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const model_def model_logistic_def = {
    .name = "logistic_regression",
    .help = "y in {0, 1} ~ Bernoulli(sigmoid(x . beta)), beta ~ N(0, v I)",
    .params = logistic_params,
    .num_params = COUNT(logistic_params),
    .y = Y_BINARY,
    .dim = logistic_dim,
    .create = logistic_create,
};

const model_def model_linear_def = {
    .name = "linear_regression",
    .help = "y ~ N(x . beta, sigma^2), beta ~ N(0, v I), sigma ~ half-normal(s); samples "
            "log_sigma (last) unless sigma is given",
    .params = linear_params,
    .num_params = COUNT(linear_params),
    .y = Y_REAL,
    .dim = linear_dim,
    .create = linear_create,
};

const model_def model_poisson_def = {
    .name = "poisson_regression",
    .help = "y counts ~ Poisson(exp(x . beta)), beta ~ N(0, v I)",
    .params = poisson_params,
    .num_params = COUNT(poisson_params),
    .y = Y_COUNTS,
    .dim = poisson_dim,
    .create = poisson_create,
};
