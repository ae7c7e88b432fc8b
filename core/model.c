/* model.c - the table of models and the model interface: look-up,
 * arguments, parameter names, building, scratch, and evaluation, each
 * handed to the entry's own functions (model_regression.c for the
 * regressions and their data pass in model_data.c, model_targets.c for the
 * test targets without data).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

const model_def *const model_table[] = {
    &model_logistic_def, &model_linear_def, &model_poisson_def,
    &model_gaussian_def, &model_funnel_def, NULL,
};

const model_def *model_find(const char *name) {
    for (const model_def *const *d = model_table; *d; d++)
        if (strcmp((*d)->name, name) == 0) return *d;
    return NULL;
}

void model_args_defaults(const model_def *def, model_args *args) {
    memset(args, 0, sizeof *args);
    param_defaults(def->params, def->num_params, args->values);
}

int model_y_fits(y_kind kind, double y) {
    switch (kind) {
    case Y_BINARY:
        return y == 0.0 || y == 1.0;
    case Y_COUNTS: /* whole numbers that a double holds exactly */
        return y >= 0.0 && y <= 0x1p53 && y == floor(y);
    case Y_REAL:
        return isfinite(y);
    case Y_NONE:
        break;
    }
    return 0;
}

const char *y_kind_name(y_kind kind) {
    switch (kind) {
    case Y_BINARY:
        return "binary";
    case Y_COUNTS:
        return "counts";
    case Y_REAL:
        return "real";
    case Y_NONE:
        break;
    }
    return "none";
}

/* Why value v does not fit def (NULL when it does), into buf. */
static const char *scalar_problem(const param_def *def, double v, char *buf, size_t cap) {
    if (isnan(v)) return def->flags & P_OPTIONAL ? NULL : "is required";
    if (!isfinite(v)) return "must be finite";
    if ((def->kind == P_INT || def->kind == P_CHOICE) && v != floor(v)) return "must be an integer";
    if (def->kind == P_BOOL && v != 0 && v != 1) return "must be true or false";
    int below = def->flags & P_MIN_OPEN ? !(v > def->min) : !(v >= def->min);
    if (below)
        snprintf(buf, cap, "must be %s %.17g", def->flags & P_MIN_OPEN ? ">" : ">=", def->min);
    if (!below && v > def->max) snprintf(buf, cap, "must be <= %.17g", def->max);
    return below || v > def->max ? buf : NULL;
}

int model_args_valid(const model_def *def, const model_args *a, char *err, size_t errlen) {
    for (size_t i = 0; i < def->num_params; i++) {
        const param_def *p = &def->params[i];
        char buf[64];
        const char *why = NULL;
        if (p->kind == P_VECTOR || p->kind == P_MATRIX)
            why =
                (a->arrays[i] && a->lens[i] > 0) || (p->flags & P_OPTIONAL) ? NULL : "is required";
        else
            why = scalar_problem(p, a->values[i], buf, sizeof buf);
        if (why) {
            snprintf(err, errlen, "%s: %s %s", def->name, p->name, why);
            return -1;
        }
    }
    return 0;
}

const model_def *model_definition(const model *m) {
    return m->def;
}

void model_param_name(const model *m, size_t j, char *buf, size_t cap) {
    const glm_layout *L = &m->glm;
    if (!m->ds) {
        snprintf(buf, cap, "theta.%zu", j + 1);
    } else if (L->intercept && j == 0) {
        snprintf(buf, cap, "intercept");
    } else if (L->log_sigma && j == m->d - 1) {
        snprintf(buf, cap, "log_sigma");
    } else {
        size_t k = j - (size_t)L->intercept;
        if (m->ds->names)
            snprintf(buf, cap, "theta.%s", m->ds->names[k]);
        else
            snprintf(buf, cap, "theta.%zu", k + 1);
    }
}

/* The thin wrappers that predate the table. */
model *model_logistic_create(const dataset *ds, double prior_variance, model_dtype dtype) {
    model_args a;
    char err[160];
    model_args_defaults(&model_logistic_def, &a);
    a.values[0] = prior_variance;
    return model_logistic_def.create(ds, &a, dtype, err, sizeof err);
}

model *model_gaussian_create(size_t d, const double *mean, const double *cov) {
    model_args a;
    char err[160];
    model_args_defaults(&model_gaussian_def, &a);
    a.arrays[0] = mean, a.lens[0] = d;
    a.arrays[1] = cov, a.lens[1] = d;
    return model_gaussian_def.create(NULL, &a, DTYPE_F64, err, sizeof err);
}

void model_free(model *m) {
    if (!m) return;
    if (m->owns_rows) free(m->rows);
    free(m->y);
    free(m->panels);
    free(m->groups);
    free(m->mean);
    free(m->prec);
    free(m->chol);
    free(m);
}

size_t model_dim(const model *m) {
    return m->d;
}
size_t model_num_data(const model *m) {
    return m->n;
}
/* The synthetic data's theta, where it is the model's whole parameter. */
const double *model_theta_true(const model *m) {
    return m->ds && m->d == m->ds->d ? m->ds->theta_true : NULL;
}

void model_draw_prior(const model *m, rng_key key, double *theta) {
    m->vt->draw_prior(m, key, theta);
}

size_t model_row_segments(const model *m, size_t n) {
    return m->ds ? model_data_segments(m, n) : 1;
}

model_work *model_work_create(const model *m, size_t max_batch) {
    return model_work_create_split(m, max_batch, 1);
}

model_work *model_work_create_split(const model *m, size_t max_batch, unsigned row_threads) {
    model_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->max_batch = max_batch;
    int ok = m->ds ? model_data_work_init(w, m, max_batch, row_threads) == 0
                   : (w->diff = malloc(m->d * sizeof *w->diff)) != NULL;
    if (!ok) {
        model_work_free(w);
        return NULL;
    }
    return w;
}

void model_work_free(model_work *w) {
    if (!w) return;
    row_team_free(w->team);
    free(w->acc);
    free(w->theta_ld);
    free(w->gdata);
    free(w->batch);
    free(w->batch_y);
    free(w->diff);
    free(w);
}

double model_logp_grad(const model *m, model_work *w, const double *theta, double *grad,
                       int want_logp) {
    return m->vt->eval(m, w, theta, NULL, m->n, grad, want_logp);
}

double model_logp_grad_batch(const model *m, model_work *w, const double *theta,
                             const uint32_t *idx, size_t n, double *grad, int want_logp) {
    if (!m->ds || !idx) return model_logp_grad(m, w, theta, grad, want_logp);
    return m->vt->eval(m, w, theta, idx, n, grad, want_logp);
}

const char **model_param_names(const model *m) {
    size_t d = model_dim(m), bytes = d * sizeof(char *);
    char buf[128];
    for (size_t k = 0; k < d; k++) {
        model_param_name(m, k, buf, sizeof buf);
        bytes += strlen(buf) + 1;
    }
    const char **names = malloc(bytes ? bytes : 1);
    if (!names) return NULL;
    char *text = (char *)(names + d);
    for (size_t k = 0; k < d; k++) {
        model_param_name(m, k, buf, sizeof buf);
        size_t len = strlen(buf) + 1;
        memcpy(text, buf, len);
        names[k] = text;
        text += len;
    }
    return names;
}
