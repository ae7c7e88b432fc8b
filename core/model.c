/* model.c - the models' log densities and gradients, on top of the
 * per-ISA kernels in kernels.c.
 *
 * Logistic regression keeps the data twice when d is small: row-major (the
 * dataset's own array, or a float32 copy) for minibatch gathers, and packed
 * in panels of SIMD_PANEL rows stored column by column, so that the
 * full-data pass vectorises across rows whatever d is. For d above
 * PANEL_MAX_D the row-major kernel is as fast and no panel copy is made.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "row_team.h"
#include "simd.h"

#define PANEL_MAX_D SIMD_PANEL_MAX_D

/* A pass over the data is cut into at most MAX_SEGMENTS segments of whole
 * units of SIMD_PANEL rows (a panel, or a block of the row-major kernel),
 * none under SEGMENT_MIN_ELEMS elements of X. Each segment sums into its own
 * accumulator and the segments are added in order, so the result does not
 * depend on which thread ran which segment, nor on how many threads there
 * are: the cut depends on (n, d) alone. */
#define MAX_SEGMENTS 8
#define SEGMENT_MIN_ELEMS 8192

typedef enum model_kind { KIND_LOGISTIC, KIND_GAUSSIAN } model_kind;

struct model {
    model_kind kind;
    size_t d, n;
    /* logistic regression */
    const dataset *ds;
    double prior_variance;
    model_dtype dtype;
    void *rows; /* n rows of ld in dtype; ds->X itself when owns_rows is 0 */
    size_t ld;  /* row stride of rows: d, or d rounded up to 64 bytes */
    int owns_rows;
    void *y;      /* n (padded to panels) in dtype */
    void *panels; /* packed panels in dtype, or NULL */
    /* gaussian */
    double *mean, *prec, *chol; /* chol: lower factor of the covariance */
};

struct model_work {
    double *acc; /* MAX_SEGMENTS accumulators of acc_stride doubles */
    size_t acc_stride;
    row_team *team; /* NULL: the chain's own thread does every segment */
    float *theta32; /* d */
    void *batch;    /* packed panels of a gathered minibatch */
    void *batch_y;  /* its labels */
    double *diff;   /* gaussian: theta - mean */
    size_t max_batch;
};

static size_t elem_size(model_dtype t) {
    return t == DTYPE_F32 ? sizeof(float) : sizeof(double);
}
static size_t round_up_panel(size_t n) {
    return (n + SIMD_PANEL - 1) / SIMD_PANEL * SIMD_PANEL;
}

static void store(void *base, model_dtype t, size_t i, double v) {
    if (t == DTYPE_F32)
        ((float *)base)[i] = (float)v;
    else
        ((double *)base)[i] = v;
}

/* Copies the n rows of row-major X into panels at dst, zeroing the padding
 * of the last panel. (Minibatches are gathered by the kernels.) */
#define DEFINE_PACK(name, DT, ST)                                                                  \
    static void name(DT *dst, const ST *X, size_t n, size_t d) {                                   \
        enum { P = SIMD_PANEL };                                                                   \
        size_t tail = n % P;                                                                       \
        if (tail) memset(dst + (n - tail) * d, 0, P * d * sizeof(DT));                             \
        for (size_t r = 0; r < n; r++) {                                                           \
            DT *out = dst + (r / P) * P * d + r % P;                                               \
            for (size_t j = 0; j < d; j++)                                                         \
                out[j * P] = (DT)X[r * d + j];                                                     \
        }                                                                                          \
    }
DEFINE_PACK(pack_f64_from_f64, double, double)
DEFINE_PACK(pack_f32_from_f64, float, double)

/* Row-major X for the kernels. Past PANEL_MAX_D the row kernel makes the
 * full passes, and rows that start on 64-byte lines load without splits:
 * a padded, aligned copy (float64 too). Otherwise the dataset's own array
 * serves float64, and float32 gets a plain copy for minibatch gathers. */
static int logistic_copy_rows(model *m) {
    const dataset *ds = m->ds;
    size_t n = ds->n, d = ds->d, es = elem_size(m->dtype), per_line = 64 / es;
    m->ld = d > PANEL_MAX_D ? (d + per_line - 1) / per_line * per_line : d;
    if (m->dtype == DTYPE_F64 && m->ld == d) {
        m->rows = ds->X;
        return 0;
    }
    void *r = NULL;
    if (posix_memalign(&r, 64, n * m->ld * es) != 0) return -1;
    memset(r, 0, n * m->ld * es);
    m->rows = r;
    m->owns_rows = 1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            store(r, m->dtype, i * m->ld + j, ds->X[i * d + j]);
    return 0;
}

static int logistic_build(model *m) {
    const dataset *ds = m->ds;
    size_t n = ds->n, d = ds->d, es = elem_size(m->dtype);
    m->y = calloc(round_up_panel(n), es);
    if (!m->y) return -1;
    for (size_t i = 0; i < n; i++)
        store(m->y, m->dtype, i, ds->y[i]);
    if (logistic_copy_rows(m) != 0) return -1;
    if (d <= PANEL_MAX_D) {
        if (!(m->panels = malloc(round_up_panel(n) * d * es))) return -1;
        if (m->dtype == DTYPE_F64)
            pack_f64_from_f64(m->panels, ds->X, n, d);
        else
            pack_f32_from_f64(m->panels, ds->X, n, d);
    }
    return 0;
}

model *model_logistic_create(const dataset *ds, double prior_variance, model_dtype dtype) {
    model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    *m = (model){.kind = KIND_LOGISTIC,
                 .d = ds->d,
                 .n = ds->n,
                 .ds = ds,
                 .prior_variance = prior_variance,
                 .dtype = dtype};
    if (logistic_build(m) != 0) {
        model_free(m);
        return NULL;
    }
    return m;
}

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

model *model_gaussian_create(size_t d, const double *mean, const double *cov) {
    model *m = calloc(1, sizeof *m);
    double *col = malloc(d * sizeof *col);
    if (!m || !col) goto fail;
    *m = (model){.kind = KIND_GAUSSIAN, .d = d};
    m->mean = malloc(d * sizeof *m->mean);
    m->prec = malloc(d * d * sizeof *m->prec);
    m->chol = malloc(d * d * sizeof *m->chol);
    if (!m->mean || !m->prec || !m->chol || cholesky(cov, m->chol, d) != 0) goto fail;
    memcpy(m->mean, mean, d * sizeof *mean);
    invert_from_cholesky(m->chol, m->prec, d, col);
    free(col);
    return m;
fail:
    free(col);
    model_free(m);
    return NULL;
}

void model_free(model *m) {
    if (!m) return;
    if (m->owns_rows) free(m->rows);
    free(m->y);
    free(m->panels);
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
const double *model_theta_true(const model *m) {
    return m->kind == KIND_LOGISTIC ? m->ds->theta_true : NULL;
}

void model_draw_prior(const model *m, rng_key key, double *theta) {
    size_t d = m->d;
    rng_normal_fill(key, theta, d);
    if (m->kind == KIND_LOGISTIC) {
        double s = sqrt(m->prior_variance);
        for (size_t j = 0; j < d; j++)
            theta[j] *= s;
        return;
    }
    for (size_t i = d; i-- > 0;) { /* mean + L z, in place from the bottom */
        double s = 0;
        for (size_t k = 0; k <= i; k++)
            s += m->chol[i * d + k] * theta[k];
        theta[i] = m->mean[i] + s;
    }
}

static size_t segment_count(size_t n, size_t d) {
    size_t units = (n + SIMD_PANEL - 1) / SIMD_PANEL, unit_elems = SIMD_PANEL * (d ? d : 1);
    size_t min_units = (SEGMENT_MIN_ELEMS + unit_elems - 1) / unit_elems;
    size_t s = units / min_units;
    return s < 1 ? 1 : s > MAX_SEGMENTS ? MAX_SEGMENTS : s;
}

size_t model_row_segments(const model *m, size_t n) {
    return m->kind == KIND_LOGISTIC ? segment_count(n, m->d) : 1;
}

/* A team only when some pass of this model has more than one segment. */
static int work_start_team(model_work *w, const model *m, size_t max_batch, unsigned row_threads) {
    if (m->kind != KIND_LOGISTIC || row_threads < 2) return 0;
    size_t most = segment_count(m->n, m->d), batch = segment_count(max_batch, m->d);
    if (batch > most) most = batch;
    if (most < 2) return 0;
    w->team = row_team_create(row_threads < most ? row_threads : (unsigned)most);
    return w->team ? 0 : -1;
}

model_work *model_work_create(const model *m, size_t max_batch) {
    return model_work_create_split(m, max_batch, 1);
}

model_work *model_work_create_split(const model *m, size_t max_batch, unsigned row_threads) {
    model_work *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    size_t d = m->d, es = elem_size(m->dtype), nb = round_up_panel(max_batch ? max_batch : 1);
    /* d x SIMD_ACC (panels) or d (rows), the log-likelihood, to whole lines */
    w->acc_stride = (d * (m->panels ? SIMD_ACC : 1) + 1 + 7) / 8 * 8;
    int ok = (w->acc = calloc(MAX_SEGMENTS * w->acc_stride, sizeof *w->acc)) &&
             (w->theta32 = malloc(d * sizeof *w->theta32)) &&
             (w->diff = malloc(d * sizeof *w->diff));
    if (ok && m->kind == KIND_LOGISTIC && d <= PANEL_MAX_D && max_batch)
        ok = (w->batch = malloc(nb * d * es)) && (w->batch_y = calloc(nb, es));
    if (ok) ok = work_start_team(w, m, max_batch, row_threads) == 0;
    w->max_batch = max_batch;
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
    free(w->theta32);
    free(w->batch);
    free(w->batch_y);
    free(w->diff);
    free(w);
}

/* One pass over rows [0, n) of a panel-packed (panels) or row-major array,
 * rows idx[0..n) of it when idx is given. */
typedef struct data_pass {
    const model *m;
    model_work *w;
    const void *X, *y, *theta; /* theta: double, or float for float32 */
    const uint32_t *idx;
    size_t n, segments;
    int panels, want_logp;
} data_pass;

/* Rows r0 .. r0 + rows of the pass into acc; returns their log-likelihood.
 * Panels (the model's, or a packed minibatch) start at row r0 of p->X; a
 * row-major pass over idx indexes X itself. */
static double data_pass_rows(const data_pass *p, size_t r0, size_t rows, double *acc) {
    const simd_ops *ops = simd_ops_get();
    const model *m = p->m;
    size_t es = elem_size(m->dtype), ld = m->ld, d = m->d;
    const char *X = p->X, *y = p->y;
    const uint32_t *idx = p->idx ? p->idx + r0 : NULL; /* set for row-major passes only */
    if (!idx) X += r0 * (p->panels ? d : ld) * es, y += r0 * es;
    if (p->panels)
        return m->dtype == DTYPE_F32 ? ops->lr_panels_f32((const void *)X, (const void *)y, rows, d,
                                                          p->theta, acc, p->want_logp)
                                     : ops->lr_panels_f64((const void *)X, (const void *)y, rows, d,
                                                          p->theta, acc, p->want_logp);
    return m->dtype == DTYPE_F32 ? ops->lr_rows_f32((const void *)X, ld, (const void *)y, idx, rows,
                                                    d, p->theta, acc, p->want_logp)
                                 : ops->lr_rows_f64((const void *)X, ld, (const void *)y, idx, rows,
                                                    d, p->theta, acc, p->want_logp);
}

/* Segment s into accumulator s: the gradient's sum and, after it, the
 * log-likelihood. */
static void data_pass_segment(const data_pass *p, size_t s) {
    size_t d = p->m->d, units = (p->n + SIMD_PANEL - 1) / SIMD_PANEL;
    size_t r0 = units * s / p->segments * SIMD_PANEL;
    size_t r1 = units * (s + 1) / p->segments * SIMD_PANEL;
    if (r1 > p->n) r1 = p->n;
    size_t acc_len = p->panels ? d * SIMD_ACC : d;
    double *acc = p->w->acc + s * p->w->acc_stride;
    memset(acc, 0, acc_len * sizeof *acc);
    acc[acc_len] = data_pass_rows(p, r0, r1 - r0, acc);
}

static void data_pass_member(void *arg, unsigned member, unsigned members) {
    const data_pass *p = arg;
    for (size_t s = p->segments * member / members; s < p->segments * (member + 1) / members; s++)
        data_pass_segment(p, s);
}

/* g = the segments' sums added in order; returns the log-likelihood. */
static double data_pass_reduce(const data_pass *p, double *g) {
    size_t d = p->m->d, lanes = p->panels ? SIMD_ACC : 1, stride = p->w->acc_stride;
    const double *acc = p->w->acc;
    double ll = 0;
    memset(g, 0, d * sizeof *g);
    for (size_t s = 0; s < p->segments; s++, acc += stride) {
        for (size_t j = 0; j < d; j++) {
            double t = 0;
            for (size_t v = 0; v < lanes; v++)
                t += acc[j * lanes + v];
            g[j] += t;
        }
        ll += acc[d * lanes];
    }
    return ll;
}

/* sum_i log p(y_i | x_i . theta) over rows idx[0..n) (all rows when idx is
 * NULL), and its gradient into g (d doubles, overwritten). */
static double logistic_data_term(const model *m, model_work *w, const double *theta,
                                 const uint32_t *idx, size_t n, double *g, int want_logp) {
    size_t d = m->d;
    int f32 = m->dtype == DTYPE_F32;
    if (f32)
        for (size_t j = 0; j < d; j++)
            w->theta32[j] = (float)theta[j];
    data_pass p = {.m = m,
                   .w = w,
                   .X = m->panels ? m->panels : m->rows,
                   .y = m->y,
                   .theta = f32 ? (const void *)w->theta32 : (const void *)theta,
                   .idx = m->panels ? NULL : idx,
                   .n = n,
                   .segments = segment_count(n, d),
                   .panels = m->panels != NULL,
                   .want_logp = want_logp};
    if (m->panels && idx) {
        const simd_ops *ops = simd_ops_get();
        if (f32)
            ops->gather_panels_f32(w->batch, w->batch_y, m->rows, m->ds->y, idx, n, d, m->n);
        else
            ops->gather_panels_f64(w->batch, w->batch_y, m->rows, m->ds->y, idx, n, d, m->n);
        p.X = w->batch;
        p.y = w->batch_y;
    }
    if (w->team && p.segments > 1)
        row_team_run(w->team, data_pass_member, &p);
    else
        data_pass_member(&p, 0, 1);
    return data_pass_reduce(&p, g);
}

static double logistic_eval(const model *m, model_work *w, const double *theta, const uint32_t *idx,
                            size_t n, double *grad, int want_logp) {
    double ll = logistic_data_term(m, w, theta, idx, n, grad, want_logp);
    double scale = idx ? (double)m->n / (double)n : 1.0, inv_v = 1.0 / m->prior_variance;
    double sq = 0;
    for (size_t j = 0; j < m->d; j++) {
        sq += theta[j] * theta[j];
        grad[j] = scale * grad[j] - inv_v * theta[j];
    }
    return want_logp ? scale * ll - 0.5 * inv_v * sq : 0.0;
}

static double gaussian_eval(const model *m, model_work *w, const double *theta, double *grad,
                            int want_logp) {
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

double model_logp_grad(const model *m, model_work *w, const double *theta, double *grad,
                       int want_logp) {
    if (m->kind == KIND_GAUSSIAN) return gaussian_eval(m, w, theta, grad, want_logp);
    return logistic_eval(m, w, theta, NULL, m->n, grad, want_logp);
}

double model_logp_grad_batch(const model *m, model_work *w, const double *theta,
                             const uint32_t *idx, size_t n, double *grad, int want_logp) {
    if (m->kind == KIND_GAUSSIAN || !idx) return model_logp_grad(m, w, theta, grad, want_logp);
    return logistic_eval(m, w, theta, idx, n, grad, want_logp);
}
