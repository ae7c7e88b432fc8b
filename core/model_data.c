/* model_data.c - the regressions' data in the kernels' layouts and the
 * fused pass over it, shared by every regression (the link is the pass's
 * argument, simd.h).
 *
 * The data are kept twice when p (the columns) is small: row-major (the
 * dataset's own array, or a float32 copy) for minibatch gathers, and packed
 * in panels of SIMD_PANEL rows stored column by column, so that the
 * full-data pass vectorises across rows whatever p is. For p above
 * PANEL_MAX_D the row-major kernel is as fast and no panel copy is made;
 * rows of up to SIMD_GROUPS_MAX_ROW_BYTES get one in row groups instead
 * (simd.h), for the full-data passes of the paths that have a kernel for
 * them (kernels_groups.h).
 */
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define PANEL_MAX_D SIMD_PANEL_MAX_D

/* A pass over the data is cut into at most MAX_SEGMENTS segments of whole
 * units of SIMD_PANEL rows (a panel, or a block of the row-major kernel),
 * none under SEGMENT_MIN_ELEMS elements of X. Each segment sums into its own
 * accumulator and the segments are added in order, so the result does not
 * depend on which thread ran which segment, nor on how many threads there
 * are: the cut depends on (n, p) alone. */
#define MAX_SEGMENTS 8
#define SEGMENT_MIN_ELEMS 8192

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
static int copy_rows(model *m) {
    const dataset *ds = m->ds;
    size_t n = ds->n, d = ds->d, es = elem_size(m->dtype);
    m->ld = simd_rows_ld(d, es);
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

/* The rows in groups of SIMD_GROUP, when simd_groups_bytes says so (also
 * footprint.c's count, which counts them even where the environment
 * turns them off) and MCMCD_ROW_GROUPS is not "0": 0 or -1. */
static int copy_groups(model *m) {
    const dataset *ds = m->ds;
    size_t n = ds->n, d = ds->d, ld = m->ld, es = elem_size(m->dtype), per_line = 64 / es;
    size_t bytes = simd_groups_bytes(n, d, es);
    const char *off = getenv("MCMCD_ROW_GROUPS");
    if (bytes == 0 || (off && !strcmp(off, "0"))) return 0;
    if (posix_memalign(&m->groups, 64, bytes) != 0) return -1;
    memset(m->groups, 0, bytes);
    for (size_t i = 0; i < n; i++) {
        size_t row = i / SIMD_GROUP * SIMD_GROUP * ld + i % SIMD_GROUP * per_line;
        for (size_t j = 0; j < d; j++)
            store(m->groups, m->dtype, row + j / per_line * per_line * SIMD_GROUP + j % per_line,
                  ds->X[i * d + j]);
    }
    return 0;
}

int model_data_build(model *m) {
    const dataset *ds = m->ds;
    size_t n = ds->n, d = ds->d, es = elem_size(m->dtype);
    m->y = calloc(round_up_panel(n), es);
    if (!m->y) return -1;
    for (size_t i = 0; i < n; i++)
        store(m->y, m->dtype, i, ds->y[i]);
    if (copy_rows(m) != 0 || copy_groups(m) != 0) return -1;
    if (d <= PANEL_MAX_D) {
        if (!(m->panels = malloc(round_up_panel(n) * d * es))) return -1;
        if (m->dtype == DTYPE_F64)
            pack_f64_from_f64(m->panels, ds->X, n, d);
        else
            pack_f32_from_f64(m->panels, ds->X, n, d);
    }
    return 0;
}

static size_t segment_count(size_t n, size_t d) {
    size_t units = (n + SIMD_PANEL - 1) / SIMD_PANEL, unit_elems = SIMD_PANEL * (d ? d : 1);
    size_t min_units = (SEGMENT_MIN_ELEMS + unit_elems - 1) / unit_elems;
    size_t s = units / min_units;
    return s < 1 ? 1 : s > MAX_SEGMENTS ? MAX_SEGMENTS : s;
}

size_t model_data_segments(const model *m, size_t n) {
    return segment_count(n, m->glm.p);
}

/* A team only when some pass of this model has more than one segment. */
static int work_start_team(model_work *w, const model *m, size_t max_batch, unsigned row_threads) {
    if (row_threads < 2) return 0;
    size_t most = segment_count(m->n, m->glm.p), batch = segment_count(max_batch, m->glm.p);
    if (batch > most) most = batch;
    if (most < 2) return 0;
    w->team = row_team_create(row_threads < most ? row_threads : (unsigned)most);
    return w->team ? 0 : -1;
}

int model_data_work_init(model_work *w, const model *m, size_t max_batch, unsigned row_threads) {
    size_t p = m->glm.p, es = elem_size(m->dtype), nb = round_up_panel(max_batch ? max_batch : 1);
    size_t cols = p + 1; /* and the intercept's */
    /* cols x SIMD_ACC (panels) or cols (rows), the log-likelihood, to whole lines */
    w->acc_stride = (cols * (m->panels ? SIMD_ACC : 1) + 1 + 7) / 8 * 8;
    if (posix_memalign(&w->theta_ld, 64, m->ld * es) != 0) return -1;
    memset(w->theta_ld, 0, m->ld * es);
    int ok = (w->acc = calloc(MAX_SEGMENTS * w->acc_stride, sizeof *w->acc)) &&
             (w->gdata = malloc(cols * sizeof *w->gdata));
    if (ok && m->panels && max_batch)
        ok = (w->batch = malloc(nb * p * es)) && (w->batch_y = calloc(nb, es));
    return ok && work_start_team(w, m, max_batch, row_threads) == 0 ? 0 : -1;
}

/* One pass over rows [0, n) of a panel-packed (panels), grouped (groups) or
 * row-major array, rows idx[0..n) of it when idx is given (row-major). */
typedef struct data_pass {
    const model *m;
    model_work *w;
    const simd_glm *glm;
    const void *X, *y, *theta; /* theta: double, or float for float32 */
    const uint32_t *idx;
    size_t n, segments, cols;      /* cols: p, and the intercept's */
    int panels, groups, want_logp; /* groups: X is m->groups */
} data_pass;

/* Rows r0 .. r0 + rows of the pass into acc; returns their log-likelihood.
 * Panels (the model's, or a packed minibatch) start at row r0 of p->X; a
 * row-major pass over idx indexes X itself. */
static double data_pass_rows(const data_pass *p, size_t r0, size_t rows, double *acc) {
    const simd_ops *ops = simd_ops_get();
    const model *m = p->m;
    size_t es = elem_size(m->dtype), ld = m->ld, d = m->glm.p;
    const char *X = p->X, *y = p->y;
    const uint32_t *idx = p->idx ? p->idx + r0 : NULL; /* set for row-major passes only */
    if (!idx) X += r0 * (p->panels ? d : ld) * es, y += r0 * es;
    if (p->groups) /* a group's rows take ld elements each, as rows do */
        return m->dtype == DTYPE_F32
                   ? ops->glm_groups_f32(p->glm, (const void *)X, ld, (const void *)y, rows, d,
                                         p->theta, acc, p->want_logp)
                   : ops->glm_groups_f64(p->glm, (const void *)X, ld, (const void *)y, rows, d,
                                         p->theta, acc, p->want_logp);
    if (p->panels)
        return m->dtype == DTYPE_F32 ? ops->glm_panels_f32(p->glm, (const void *)X, (const void *)y,
                                                           rows, d, p->theta, acc, p->want_logp)
                                     : ops->glm_panels_f64(p->glm, (const void *)X, (const void *)y,
                                                           rows, d, p->theta, acc, p->want_logp);
    return m->dtype == DTYPE_F32 ? ops->glm_rows_f32(p->glm, (const void *)X, ld, (const void *)y,
                                                     idx, rows, d, p->theta, acc, p->want_logp)
                                 : ops->glm_rows_f64(p->glm, (const void *)X, ld, (const void *)y,
                                                     idx, rows, d, p->theta, acc, p->want_logp);
}

/* Segment s into accumulator s: the gradient's sums and, after them, the
 * log-likelihood. */
static void data_pass_segment(const data_pass *p, size_t s) {
    size_t units = (p->n + SIMD_PANEL - 1) / SIMD_PANEL;
    size_t r0 = units * s / p->segments * SIMD_PANEL;
    size_t r1 = units * (s + 1) / p->segments * SIMD_PANEL;
    if (r1 > p->n) r1 = p->n;
    size_t acc_len = p->panels ? p->cols * SIMD_ACC : p->cols;
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
    size_t cols = p->cols, lanes = p->panels ? SIMD_ACC : 1, stride = p->w->acc_stride;
    const double *acc = p->w->acc;
    double ll = 0;
    memset(g, 0, cols * sizeof *g);
    for (size_t s = 0; s < p->segments; s++, acc += stride) {
        for (size_t j = 0; j < cols; j++) {
            double t = 0;
            for (size_t v = 0; v < lanes; v++)
                t += acc[j * lanes + v];
            g[j] += t;
        }
        ll += acc[cols * lanes];
    }
    return ll;
}

double model_data_pass(const model *m, model_work *w, const simd_glm *glm, const double *beta,
                       const uint32_t *idx, size_t n, double *g, int want_logp) {
    size_t d = m->glm.p;
    int f32 = m->dtype == DTYPE_F32;
    const simd_ops *ops = simd_ops_get();
    int groups =
        !idx && m->groups && (f32 ? ops->glm_groups_f32 != NULL : ops->glm_groups_f64 != NULL);
    if (f32)
        for (size_t j = 0; j < d; j++)
            ((float *)w->theta_ld)[j] = (float)beta[j];
    else if (groups)
        memcpy(w->theta_ld, beta, d * sizeof *beta);
    data_pass p = {.m = m,
                   .w = w,
                   .glm = glm,
                   .X = m->panels ? m->panels
                        : groups  ? m->groups
                                  : m->rows,
                   .y = m->y,
                   .theta = f32 || groups ? (const void *)w->theta_ld : (const void *)beta,
                   .idx = m->panels ? NULL : idx,
                   .n = n,
                   .segments = segment_count(n, d),
                   .cols = d + (glm->intercept != 0),
                   .panels = m->panels != NULL,
                   .groups = groups,
                   .want_logp = want_logp};
    if (m->panels && idx) {
        if (f32)
            ops->gather_panels_f32(w->batch, w->batch_y, m->rows, m->y, idx, n, d, m->n);
        else
            ops->gather_panels_f64(w->batch, w->batch_y, m->rows, m->y, idx, n, d, m->n);
        p.X = w->batch;
        p.y = w->batch_y;
    }
    if (w->team && p.segments > 1)
        row_team_run(w->team, data_pass_member, &p);
    else
        data_pass_member(&p, 0, 1);
    return data_pass_reduce(&p, g);
}
