/* model_internal.h - what the model files share and nothing else includes:
 * the model and work structs, the data layout and pass of the regressions
 * (model_data.c), and the entries' own functions (model_regression.c,
 * model_targets.c) that model.c's table and dispatch call. */
#ifndef MCMCD_MODEL_INTERNAL_H
#define MCMCD_MODEL_INTERNAL_H

#include "model.h"
#include "row_team.h"
#include "simd.h"

/* How the regressions' parameters sit in theta: [intercept] beta[0..p)
 * [log_sigma]. */
typedef struct glm_layout {
    simd_link link;
    size_t p;           /* data columns: beta's length */
    int intercept;      /* theta[0] is the intercept */
    int log_sigma;      /* linear: theta[d - 1] is log sigma, sampled */
    double sigma;       /* linear with fixed sigma; NAN when sampled */
    double sigma_scale; /* linear: sigma ~ half-normal(sigma_scale) */
} glm_layout;

typedef struct model_vtable {
    /* log p and its gradient over rows idx[0..n), or all rows when idx is
     * NULL (the minibatch estimate scales the rows' sum by N / n). */
    double (*eval)(const model *m, model_work *w, const double *theta, const uint32_t *idx,
                   size_t n, double *grad, int want_logp);
    void (*draw_prior)(const model *m, rng_key key, double *theta);
} model_vtable;

struct model {
    const model_def *def;
    const model_vtable *vt;
    size_t d, n; /* dimension; data rows (0: no data) */
    /* regressions */
    const dataset *ds;
    double prior_variance;
    glm_layout glm;
    model_dtype dtype;
    void *rows; /* n rows of ld in dtype; ds->X itself when owns_rows is 0 */
    size_t ld;  /* row stride of rows: p, or p rounded up to 64 bytes */
    int owns_rows;
    void *y;      /* n (padded to panels) in dtype */
    void *panels; /* packed panels in dtype, or NULL */
    void *groups; /* row groups in dtype (simd.h), or NULL */
    /* gaussian */
    double *mean, *prec, *chol; /* chol: lower factor of the covariance */
};

struct model_work {
    double *acc; /* MAX_SEGMENTS accumulators of acc_stride doubles */
    size_t acc_stride;
    row_team *team; /* NULL: the chain's own thread does every segment */
    void *theta_ld; /* theta in the model's dtype: ld elements, zero past p,
                       64-byte aligned, for float32 passes and row groups */
    double *gdata;  /* p + 1: the data term's gradient, intercept last */
    void *batch;    /* packed panels of a gathered minibatch */
    void *batch_y;  /* its y */
    double *diff;   /* gaussian: theta - mean */
    size_t max_batch;
};

/* model_data.c: the regressions' copies of X and y, and their pass. */
int model_data_build(model *m);
size_t model_data_segments(const model *m, size_t n);
/* Work buffers for a regression; 0 or -1 (ENOMEM, no thread). */
int model_data_work_init(model_work *w, const model *m, size_t max_batch, unsigned row_threads);
/* sum_i l_i over rows idx[0..n) (all rows when idx is NULL) and its
 * gradient into g (p doubles, plus g[p] = sum_i s_i with an intercept),
 * for the parameters beta (p doubles) and the pass constants of glm. */
double model_data_pass(const model *m, model_work *w, const simd_glm *glm, const double *beta,
                       const uint32_t *idx, size_t n, double *g, int want_logp);

/* model.c: 0 when every scalar of a is within its parameter's kind and
 * bounds and every array parameter is given, else -1 with a message. */
int model_args_valid(const model_def *def, const model_args *a, char *err, size_t errlen);

/* model_regression.c and model_targets.c: the entries. */
extern const model_def model_logistic_def, model_linear_def, model_poisson_def;
extern const model_def model_gaussian_def, model_funnel_def;

#endif
