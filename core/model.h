/* model.h - the table of models: log densities and their gradients.
 *
 * Each model is one entry of model_table (model.c): its name, its
 * parameters (param.h), the kind of y it takes, and how to build it. The
 * regressions (logistic, linear, Poisson) run one fused SIMD pass over the
 * data per gradient; test targets (a Gaussian, Neal's funnel) take no data.
 * Log densities drop additive constants, as the post does.
 * A model is read-only once built and shared by every chain; each chain
 * brings its own model_work scratch, so evaluation never allocates.
 */
#ifndef MCMCD_MODEL_H
#define MCMCD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "param.h"
#include "rng.h"

typedef enum model_dtype { DTYPE_F64 = 0, DTYPE_F32 = 1 } model_dtype;

typedef struct model model;
typedef struct model_work model_work;

/* What a model's rows hold in y. */
typedef enum y_kind { Y_NONE = 0, Y_BINARY, Y_COUNTS, Y_REAL } y_kind;

#define MODEL_MAX_PARAMS 8

/* A model's parameter values: scalars in table order, and array
 * parameters (P_VECTOR: lens[i] numbers; P_MATRIX: lens[i] x lens[i],
 * row-major) by pointer, borrowed for the call that builds the model. */
typedef struct model_args {
    double values[MODEL_MAX_PARAMS];
    const double *arrays[MODEL_MAX_PARAMS];
    size_t lens[MODEL_MAX_PARAMS];
} model_args;

typedef struct model_def {
    const char *name;
    const char *help; /* one line */
    const param_def *params;
    size_t num_params;
    y_kind y; /* Y_NONE: takes no data */
    /* The dimension the model will have for data with d columns (ignored
     * for Y_NONE), or 0 when args are inconsistent. */
    size_t (*dim)(const model_args *args, size_t d);
    /* Builds it (ds is NULL for Y_NONE and must otherwise outlive the
     * model); NULL on ENOMEM or invalid args, with a message in err. */
    model *(*create)(const dataset *ds, const model_args *args, model_dtype dtype, char *err,
                     size_t errlen);
} model_def;

/* The table, NULL-terminated, in the order /v1/info lists it. */
extern const model_def *const model_table[];
const model_def *model_find(const char *name);
/* Fills args->values with each parameter's default (NAN: required or
 * optional) and clears the arrays. */
void model_args_defaults(const model_def *def, model_args *args);
/* Whether a dataset's y values fit the kind: 0/1 for Y_BINARY, whole
 * numbers >= 0 for Y_COUNTS, any finite number for Y_REAL. */
int model_y_fits(y_kind kind, double y);
const char *y_kind_name(y_kind kind); /* "binary", "counts", "real", "none" */

/* The name of parameter j < model_dim(m): "theta.age" from a dataset's CSV
 * header, "theta.1".."theta.d" otherwise, and the model's own names for
 * parameters it adds (intercept, log_sigma). Written into buf. */
void model_param_name(const model *m, size_t j, char *buf, size_t cap);
const model_def *model_definition(const model *m);
/* Every parameter's name in one block (model_dim pointers, then the
 * text) that the caller frees with free(); NULL on ENOMEM. */
const char **model_param_names(const model *m);

/* Borrows ds, which must outlive the model; packs a copy of X in the chosen
 * dtype when that makes the kernels faster. NULL on ENOMEM. */
model *model_logistic_create(const dataset *ds, double prior_variance, model_dtype dtype);
/* Copies mean (d) and cov (d x d, row-major); NULL unless cov is symmetric
 * positive definite. */
model *model_gaussian_create(size_t d, const double *mean, const double *cov);
void model_free(model *m);

size_t model_dim(const model *m);
size_t model_num_data(const model *m);          /* rows of data; 0 for the Gaussian */
const double *model_theta_true(const model *m); /* NULL unless synthetic */
/* theta = a draw from the prior (the Gaussian: from the target). */
void model_draw_prior(const model *m, rng_key key, double *theta);

/* Scratch for one chain; max_batch bounds model_logp_grad_batch's n. */
model_work *model_work_create(const model *m, size_t max_batch);
/* The same, with row_threads threads (1: none) that split each pass over
 * the data rows; results are bit-identical for every row_threads. NULL on
 * ENOMEM or when a thread cannot be started. */
model_work *model_work_create_split(const model *m, size_t max_batch, unsigned row_threads);
void model_work_free(model_work *w);

/* log p(theta) into the return value (0 unless want_logp) and its
 * gradient into grad[0..d). One fused pass over the data. */
double model_logp_grad(const model *m, model_work *w, const double *theta, double *grad,
                       int want_logp);
/* How many fixed segments a pass over n rows is cut into: at most this many
 * row threads work on it at once (1 for the Gaussian). */
size_t model_row_segments(const model *m, size_t n);

/* The minibatch estimate: log prior + (N / n) sum over rows idx[0..n).
 * Equals model_logp_grad for a model without data. */
double model_logp_grad_batch(const model *m, model_work *w, const double *theta,
                             const uint32_t *idx, size_t n, double *grad, int want_logp);

#endif
