/* model.h - log densities and their gradients.
 *
 * Two models: Bayesian logistic regression (prior N(0, v I), the post's
 * model) and a multivariate Gaussian target (for checking samplers against
 * a known answer). Log densities drop additive constants, as the post does.
 * A model is read-only once built and shared by every chain; each chain
 * brings its own model_work scratch, so evaluation never allocates.
 */
#ifndef MCMCD_MODEL_H
#define MCMCD_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "rng.h"

typedef enum model_dtype { DTYPE_F64 = 0, DTYPE_F32 = 1 } model_dtype;

typedef struct model model;
typedef struct model_work model_work;

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
