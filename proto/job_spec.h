/* job_spec.h - the job spec: JSON to a C struct and back, validated, with
 * every error found in one pass and reported with its JSON path.
 *
 * The spec (see ../shared/DESIGN.md and proto/openapi.yaml):
 *   {"model": {"type": "logistic_regression", "prior_variance": 10.0},
 *    "data": {"dataset": "<id>"} | {"synthetic": {"n":..,"d":..,"seed":..,
 *             "rho": 0.0, "theta_variance": 10.0}},
 *    "sampler": {"type": <a name in core's sampler table>, <its parameters>,
 *                "inv_metric": [d numbers] | [[d x d]] (samplers with a metric)},
 *    "num_samples": 1000, "num_warmup": 0, "thin": 1, "chains": 1,
 *    "key": 0 | "18446744073709551615" | [hi, lo],
 *    "init": "zeros"|"prior"|"true"|[d numbers]|[[d numbers] x chains],
 *    "dtype": "float64"|"float32", "progress_every": 1000,
 *    "row_threads": 1 (1..64: threads each chain splits its data rows over;
 *                      draws are the same whatever it is),
 *    "save_warmup": false, "schema": 2,
 *    "kind": "sample" | "tune" | "mode",
 *    "tune": {"step_sizes": [..], "batch_sizes": [..], "ksd_draws": 500} (kind "tune"),
 *    "mode": {"method": "auto"|"lbfgs"|"adam", "max_iter": 0, "tolerance": 0} (kind "mode")}
 * Kinds: "sample" (the default) runs the chains and keeps their draws;
 * "tune" runs the spec's chains (num_samples, num_warmup, thin, chains,
 * key) once per setting of a grid of step sizes (and batch sizes, for a
 * sampler that takes one) and ranks the settings by their draws' kernel
 * Stein discrepancy (Coullon, South & Nemeth 2023); "mode" finds the mode
 * of the model's log density from the spec's init (its sampler may be left
 * out). The kinds are the table kind_table in job_spec.c.
 * Sampler parameters are read against core's sampler table (sampler.h),
 * and model parameters against its model table (model.h): their names,
 * kinds, defaults and bounds come from there alone. The model section is
 * {"type": <a name in the model table>, <its parameters>}, e.g.
 * {"type": "linear_regression", "intercept": true, "sigma_scale": 2}; the
 * test targets (gaussian: "mean", "cov"; funnel: "dim") take no "data".
 */
#ifndef MCMCD_JOB_SPEC_H
#define MCMCD_JOB_SPEC_H

#include <jansson.h>
#include <stddef.h>

#include "../core/chain.h"
#include "../core/dataset.h"
#include "../core/model.h"

typedef enum spec_data { SPEC_DATA_NONE = 0, SPEC_DATA_DATASET, SPEC_DATA_SYNTHETIC } spec_data;

#define SPEC_DATASET_ID_MAX 128

/* The version of the spec's meaning that this build writes. A spec without
 * "schema" is read as this version when it comes from a client, and as
 * version 1 when it was stored by an older mcmcd (see
 * job_spec_parse_stored). Version 1 (before adaptive samplers): MALA did
 * not adapt during warmup. */
#define SPEC_SCHEMA_VERSION 2
#define SPEC_NAME_MAX 128 /* bytes */
#define SPEC_PARTITION_MAX 63
#define SPEC_TAGS_MAX 16
#define SPEC_TAG_MAX 64 /* bytes; letters, digits and . _ - : = + / */
#define SPEC_PRIORITY_MIN (-100)
#define SPEC_PRIORITY_MAX 100

typedef enum job_kind { JOB_KIND_SAMPLE = 0, JOB_KIND_TUNE, JOB_KIND_MODE } job_kind;
#define TUNE_VALUES_MAX 32   /* step sizes, and batch sizes, in a grid */
#define TUNE_SETTINGS_MAX 64 /* settings in a grid: step sizes x batch sizes */
#define TUNE_DEFAULT_KSD_DRAWS 500

/* A tuning grid: every step size with every batch size (none: the
 * sampler's own batch_size). */
typedef struct tune_spec {
    double step_sizes[TUNE_VALUES_MAX];
    size_t num_step_sizes;
    double batch_sizes[TUNE_VALUES_MAX];
    size_t num_batch_sizes;
    uint32_t ksd_draws; /* draws per setting the KSD reads at most */
} tune_spec;

/* The mode finder's settings (core/optimize.h); 0: its default. */
typedef struct mode_spec {
    int method; /* optimize_method: 0 auto, 1 lbfgs, 2 adam */
    uint64_t max_iter;
    double tolerance;
} mode_spec;

/* "sample", "tune", "mode". */
const char *job_kind_name(job_kind kind);

typedef struct job_spec {
    const model_def *model; /* an entry of core's model table; logistic_regression by default */
    model_args model_args;  /* its parameters; array parameters point into model_arrays */
    double *model_arrays[MODEL_MAX_PARAMS]; /* owned copies of the array parameters */

    spec_data data;
    char dataset_id[SPEC_DATASET_ID_MAX]; /* SPEC_DATA_DATASET */
    synth_params synthetic;               /* SPEC_DATA_SYNTHETIC */

    chain_config chain;    /* init_values, inv_metric and centre, when set, are owned by the spec */
    size_t init_dim;       /* length of each init vector (INIT_VALUES) */
    size_t inv_metric_len; /* values in chain.inv_metric: d (diag) or d * d (dense) */
    size_t centre_len;     /* values in chain.centre (a sampler's P_VECTOR "centre") */
    int schema;            /* the version the spec was read as */
    /* labels, which change no draw: a name, tags, and the job's priority
     * among its owner's queued jobs (higher first) */
    char name[SPEC_NAME_MAX + 1]; /* "" when none */
    char tags[SPEC_TAGS_MAX][SPEC_TAG_MAX + 1];
    size_t ntags;
    int priority; /* SPEC_PRIORITY_MIN..MAX, default 0 */
    model_dtype dtype;
    /* "slurm": what each chain's task asks of Slurm under the slurm
     * executor, over the config's defaults (0 and "": the default); the
     * daemon checks them against its admin's limits; changes no draw */
    struct {
        char partition[SPEC_PARTITION_MAX + 1];
        uint32_t time_limit; /* minutes */
        uint32_t cpus_per_task;
        uint64_t mem_mb;
    } slurm;
    job_kind kind;
    tune_spec tune; /* JOB_KIND_TUNE */
    mode_spec mode; /* JOB_KIND_MODE */
} job_spec;

#define SPEC_PATH_MAX 96
#define SPEC_MESSAGE_MAX 256
#define SPEC_ERRORS_MAX 32

typedef struct spec_error {
    char path[SPEC_PATH_MAX];       /* e.g. "sampler.step_size", "init[2][0]" */
    char message[SPEC_MESSAGE_MAX]; /* e.g. "must be > 0" */
} spec_error;

typedef struct spec_errors {
    size_t count;   /* entries in items */
    size_t dropped; /* errors beyond SPEC_ERRORS_MAX, counted only */
    spec_error items[SPEC_ERRORS_MAX];
} spec_errors;

/* Fills *out from root, defaults applied. Returns 0, or -1 with every error
 * in errs (which the call resets first). On -1, *out holds nothing owned. */
int job_spec_parse(const json_t *root, job_spec *out, spec_errors *errs);
/* The same from JSON text; a syntax error is one error with path "" and a
 * message naming the line, column and byte offset. */
int job_spec_parse_text(const char *text, size_t len, job_spec *out, spec_errors *errs);
/* A spec a registry stored: without "schema" it is version 1. */
int job_spec_parse_stored(const char *text, size_t len, job_spec *out, spec_errors *errs);

/* Checks that need the data's shape, n rows of d columns (n = d = 0 for
 * the models without data): a regression has rows (n > 0; a spec may leave
 * "data" out when the rows come from elsewhere, as with `mcmcd run
 * --data`), init vectors and inv_metric have the model's dimension
 * (job_spec_model_dim), batch_size <= n, init "true" only with synthetic
 * data and a model whose parameters are its coefficients. Whether y fits
 * the model is checked when the model is built (job_spec_build_model).
 * Returns 0 or -1 (appending to errs). */
int job_spec_check_shape(const job_spec *spec, size_t n, size_t d, spec_errors *errs);
/* The model's dimension for data with d columns (models without data
 * ignore d): the coefficients, and the intercept and log_sigma when the
 * model has them. */
size_t job_spec_model_dim(const job_spec *spec, size_t d);
/* The spec's model on ds (which must outlive it; ignored by the models
 * without data). NULL with a message in err: y that the model does not
 * take (naming the first such row), cov not positive definite, ENOMEM. */
model *job_spec_build_model(const job_spec *spec, const dataset *ds, char *err, size_t errlen);

/* The spec with every default filled in, as JSON (new reference). */
json_t *job_spec_to_json(const job_spec *spec);
/* The errors as the API's error envelope:
 * {"error": {"code": code, "message": message, "details": [{"path", "message"}]}} */
json_t *spec_errors_to_json(const spec_errors *errs, const char *code, const char *message);

void job_spec_free(job_spec *spec); /* frees owned arrays, not spec itself */

/* Records an error at path (a printf format), or only counts it once
 * SPEC_ERRORS_MAX are held. For callers adding checks of their own. */
void spec_errors_add(spec_errors *errs, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "object", "array", "string", "number", "boolean" or "null". */
const char *json_type_name(const json_t *v);

#endif
