/* metric.c - the inverse metric: unit, diagonal or dense, and the products
 * the samplers take with it (see metric.h for the conventions). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metric.h"

metric *metric_create(metric_kind kind, size_t d) {
    metric *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->kind = kind;
    m->d = d;
    size_t n = kind == METRIC_DENSE ? d * d : d;
    m->inv = calloc(n ? n : 1, sizeof *m->inv);
    m->chol = kind == METRIC_DENSE ? calloc(n ? n : 1, sizeof *m->chol) : NULL;
    m->work = kind == METRIC_DENSE ? calloc(n ? n : 1, sizeof *m->work) : NULL;
    m->sqrt_inv = calloc(d ? d : 1, sizeof *m->sqrt_inv);
    if (!m->inv || !m->sqrt_inv || (kind == METRIC_DENSE && (!m->chol || !m->work))) {
        metric_free(m);
        return NULL;
    }
    for (size_t i = 0; i < d; i++) {
        m->sqrt_inv[i] = 1.0;
        m->inv[kind == METRIC_DENSE ? i * d + i : i] = 1.0;
        if (m->chol) m->chol[i * d + i] = 1.0;
    }
    return m;
}

void metric_free(metric *m) {
    if (!m) return;
    free(m->inv);
    free(m->chol);
    free(m->work);
    free(m->sqrt_inv);
    free(m);
}

/* Lower Cholesky factor of the d x d matrix a into l; -1 unless a is
 * positive definite (and finite). */
static int cholesky_lower(const double *a, double *l, size_t d) {
    memset(l, 0, d * d * sizeof *l);
    for (size_t j = 0; j < d; j++) {
        double s = a[j * d + j];
        for (size_t k = 0; k < j; k++)
            s -= l[j * d + k] * l[j * d + k];
        if (!(s > 0) || !isfinite(s)) return -1;
        double ljj = sqrt(s);
        l[j * d + j] = ljj;
        for (size_t i = j + 1; i < d; i++) {
            double t = a[i * d + j];
            for (size_t k = 0; k < j; k++)
                t -= l[i * d + k] * l[j * d + k];
            l[i * d + j] = t / ljj;
        }
    }
    return 0;
}

/* Factors inv into the work buffer first, so a matrix that is not
 * positive definite leaves the metric as it was. */
static int metric_set_dense(metric *m, const double *inv) {
    size_t d = m->d;
    if (cholesky_lower(inv, m->work, d) != 0) return -1;
    memcpy(m->chol, m->work, d * d * sizeof *m->chol);
    memcpy(m->inv, inv, d * d * sizeof *inv);
    return 0;
}

int metric_set(metric *m, const double *inv) {
    if (m->kind == METRIC_UNIT) return 0;
    if (m->kind == METRIC_DENSE) return metric_set_dense(m, inv);
    for (size_t i = 0; i < m->d; i++)
        if (!(inv[i] > 0) || !isfinite(inv[i])) return -1;
    for (size_t i = 0; i < m->d; i++) {
        m->inv[i] = inv[i];
        m->sqrt_inv[i] = sqrt(inv[i]);
    }
    return 0;
}

void metric_velocity(const metric *m, const double *p, double *out) {
    size_t d = m->d;
    switch (m->kind) {
    case METRIC_UNIT:
        memcpy(out, p, d * sizeof *out);
        return;
    case METRIC_DIAG:
        for (size_t i = 0; i < d; i++)
            out[i] = m->inv[i] * p[i];
        return;
    case METRIC_DENSE:
        for (size_t i = 0; i < d; i++) {
            const double *row = m->inv + i * d;
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += row[k] * p[k];
            out[i] = s;
        }
        return;
    }
}

double metric_kinetic(const metric *m, const double *p, const double *v) {
    double s = 0;
    for (size_t i = 0; i < m->d; i++)
        s += p[i] * v[i];
    return 0.5 * s;
}

/* p = L^-T z: back substitution with the transpose of the lower factor. */
static void solve_upper_transpose(const double *l, size_t d, const double *z, double *p) {
    for (size_t i = d; i-- > 0;) {
        double s = z[i];
        for (size_t k = i + 1; k < d; k++)
            s -= l[k * d + i] * p[k];
        p[i] = s / l[i * d + i];
    }
}

void metric_momentum(const metric *m, const double *z, double *p) {
    size_t d = m->d;
    switch (m->kind) {
    case METRIC_UNIT:
        memmove(p, z, d * sizeof *p);
        return;
    case METRIC_DIAG:
        for (size_t i = 0; i < d; i++)
            p[i] = z[i] / m->sqrt_inv[i];
        return;
    case METRIC_DENSE:
        solve_upper_transpose(m->chol, d, z, p);
        return;
    }
}

void metric_noise(const metric *m, const double *z, double *out) {
    size_t d = m->d;
    switch (m->kind) {
    case METRIC_UNIT:
        memmove(out, z, d * sizeof *out);
        return;
    case METRIC_DIAG:
        for (size_t i = 0; i < d; i++)
            out[i] = m->sqrt_inv[i] * z[i];
        return;
    case METRIC_DENSE:
        for (size_t i = d; i-- > 0;) { /* from the bottom, so z may alias out */
            const double *row = m->chol + i * d;
            double s = 0;
            for (size_t k = 0; k <= i; k++)
                s += row[k] * z[k];
            out[i] = s;
        }
        return;
    }
}

double metric_mass_norm2(const metric *m, const double *r, double *scratch) {
    size_t d = m->d;
    double s = 0;
    switch (m->kind) {
    case METRIC_UNIT:
        for (size_t i = 0; i < d; i++)
            s += r[i] * r[i];
        return s;
    case METRIC_DIAG:
        for (size_t i = 0; i < d; i++)
            s += r[i] * r[i] / m->inv[i];
        return s;
    case METRIC_DENSE: /* |L^-1 r|^2 by forward substitution */
        for (size_t i = 0; i < d; i++) {
            double t = r[i];
            for (size_t k = 0; k < i; k++)
                t -= m->chol[i * d + k] * scratch[k];
            scratch[i] = t / m->chol[i * d + i];
            s += scratch[i] * scratch[i];
        }
        return s;
    }
    return s;
}
