/* dataset.h - a regression dataset held in memory.
 *
 * X is n x d, row-major, float64; y holds n finite real numbers (which
 * models take them - 0/1 labels, counts, any real - is the model's check,
 * model_y_fits). Datasets come from CSV text (covariates, then y in the last
 * column, optional header naming the columns), from arrays, or from the
 * post's synthetic generator. */
#ifndef MCMCD_DATASET_H
#define MCMCD_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct dataset {
    size_t n, d;
    double *X;          /* n * d, owned */
    double *y;          /* n, owned */
    double *theta_true; /* d, owned; only for synthetic data, else NULL */
    char **names;       /* d covariate names, owned; from a CSV header, else NULL */
} dataset;

/* A column name holds 1 .. DATASET_NAME_MAX - 1 bytes. */
#define DATASET_NAME_MAX 64

typedef struct synth_params {
    size_t n, d;
    uint64_t seed;
    double theta_variance; /* theta_true ~ N(0, theta_variance I); the post: 10 */
    double rho;            /* 0: X ~ N(0, I). Else the post's first version:
                            * corr(x_j, x_k) = u^|j-k|, u ~ U(-rho, rho) */
} synth_params;

/* Allocates an n x d dataset with uninitialised X and y; NULL on ENOMEM. */
dataset *dataset_alloc(size_t n, size_t d);
void dataset_free(dataset *ds);

/* Copies names[0..d) into ds->names (replacing any). MCMC_EINVAL, with a
 * message naming the column, when a name is empty, too long, holds a
 * control character, '"' or ',', or repeats an earlier one; MCMC_ENOMEM. */
int dataset_set_names(dataset *ds, const char *const *names, char *err, size_t errlen);

/* The post's generator, driven by our Threefry streams of key(seed):
 * theta_true from fold_in(key, 1), X from fold_in(key, 3), y from
 * fold_in(key, 4): y_i = [u_i < sigmoid(x_i . theta_true)]. */
int dataset_synthesize(const synth_params *p, dataset **out);

/* Parses CSV text: rows of d covariates then y, all finite numbers, after
 * an optional header whose first d fields name the covariates. On error
 * returns MCMC_EPARSE and writes a message naming the line (and column)
 * into err. */
int dataset_parse_csv(const char *text, size_t len, dataset **out, char *err, size_t errlen);
int dataset_load_csv(const char *path, dataset **out, char *err, size_t errlen);

#endif
