/* job_spec.c - the job spec: JSON in, a validated job_spec out, and back.
 *
 * Parsing never stops at the first problem: every check that can run does,
 * and each failure is recorded with the JSON path of the offending value
 * ("sampler.step_size", "init[1][3]") so a client can fix them all at once.
 * Checks that depend on another field (init per chain vs chains, the
 * iteration limit, data vs model) run only when that field was valid, so
 * one mistake is reported once. This file owns the spec's arrays (Gaussian
 * mean and covariance, initial values) and the error envelope's shape.
 */
#include "job_spec.h"

#include "../core/ksd.h"

#include "../core/adapt.h"
#include "tables.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MODEL "logistic_regression"
#define DEFAULT_THETA_VARIANCE 10.0
#define DEFAULT_NUM_SAMPLES 1000
#define DEFAULT_PROGRESS_EVERY 1000
#define MAX_CHAINS 1024
#define MAX_ROW_THREADS 64                   /* threads one chain splits its data rows over */
#define MAX_SYNTH_VALUES (UINT64_C(1) << 31) /* n * d of a synthetic dataset */
/* At most this many bytes of a client's string are quoted in a message. */
#define ECHO_MAX 40
#define SYMMETRY_TOL 1e-12

static const char *const init_names[] = {"zeros", "prior", "true"};
static const char *const dtype_names[] = {"float64", "float32"};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *const top_fields[] = {
    "model",    "data",  "sampler",        "num_samples", "num_warmup",  "thin",   "chains", "key",
    "init",     "dtype", "progress_every", "row_threads", "save_warmup", "schema", "name",   "tags",
    "priority", "kind",  "tune",           "mode",        "slurm",       NULL};
static const char *const slurm_fields[] = {"partition", "time_limit", "cpus_per_task", "mem_mb",
                                           NULL};
static const char *const data_fields[] = {"dataset", "synthetic", NULL};
static const char *const synthetic_fields[] = {"n", "d", "seed", "rho", "theta_variance", NULL};

/* ---- Errors ------------------------------------------------------------ */

/* Length of the valid UTF-8 character at s, or 0 if it is not one. */
static size_t utf8_char_length(const unsigned char *s) {
    unsigned c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c < 0xE0)
        n = 2;
    else if (c >= 0xE0 && c < 0xF0)
        n = 3;
    else if (c >= 0xF0 && c < 0xF5)
        n = 4;
    else
        return 0;
    cp = c & (0x7Fu >> n); /* the lead byte's payload bits */
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0; /* also stops at the terminator */
        cp = (cp << 6) | (s[i] & 0x3Fu);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp > 0x10FFFF)
        return 0;
    return n;
}

/* Replaces every byte that is not part of valid UTF-8 with '?', so that a
 * message cut mid-character, or quoting a bad input, is still a JSON string. */
static void utf8_sanitize(char *s) {
    unsigned char *p = (unsigned char *)s;
    while (*p) {
        size_t n = utf8_char_length(p);
        if (n == 0)
            *p++ = '?';
        else
            p += n;
    }
}

/* Records an error at path, or counts it once SPEC_ERRORS_MAX are held. */
void spec_errors_add(spec_errors *errs, const char *path, const char *fmt, ...) {
    if (errs->count == SPEC_ERRORS_MAX) {
        errs->dropped++;
        return;
    }
    spec_error *e = &errs->items[errs->count++];
    snprintf(e->path, sizeof e->path, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    utf8_sanitize(e->path);
    utf8_sanitize(e->message);
}

static size_t error_total(const spec_errors *errs) {
    return errs->count + errs->dropped;
}

static void reset_errors(spec_errors *errs) {
    errs->count = errs->dropped = 0;
}

/* ---- Paths and fields ---------------------------------------------------- */

static void path_field(char *buf, const char *parent, const char *key) {
    snprintf(buf, SPEC_PATH_MAX, "%s%s%s", parent, *parent ? "." : "", key);
}

static void path_index(char *buf, const char *parent, size_t i) {
    snprintf(buf, SPEC_PATH_MAX, "%s[%zu]", parent, i);
}

/* obj[key], with its path written into path; NULL when absent. */
static const json_t *field(const json_t *obj, const char *parent, const char *key, char *path) {
    path_field(path, parent, key);
    return json_object_get(obj, key);
}

/* obj[key], or NULL after reporting it as required. */
static const json_t *required_field(const json_t *obj, const char *parent, const char *key,
                                    char *path, spec_errors *errs) {
    const json_t *v = field(obj, parent, key, path);
    if (!v) spec_errors_add(errs, path, "required");
    return v;
}

const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static int is_one_of(const char *key, const char *const *names) {
    for (; *names; names++)
        if (strcmp(key, *names) == 0) return 1;
    return 0;
}

static void reject_unknown_fields(const json_t *obj, const char *parent, const char *const *known,
                                  spec_errors *errs) {
    json_t *o = (json_t *)obj; /* jansson's iterators are not const-correct */
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        if (is_one_of(key, known)) continue;
        char path[SPEC_PATH_MAX];
        path_field(path, parent, key);
        spec_errors_add(errs, path, "unknown field");
    }
}

/* Reports v unless it is an object. */
static int expect_object(const json_t *v, const char *path, spec_errors *errs) {
    if (json_is_object(v)) return 0;
    spec_errors_add(errs, path, "expected an object, got %s", json_type_name(v));
    return -1;
}

/* ---- Scalars ------------------------------------------------------------- */

static int integer_out_of_range(int below, const char *path, uint64_t min, uint64_t max,
                                spec_errors *errs) {
    if (below)
        spec_errors_add(errs, path, "must be >= %" PRIu64, min);
    else
        spec_errors_add(errs, path, "must be <= %" PRIu64, max);
    return -1;
}

/* Reads v as an integer in [min, max]. A JSON real counts when integral
 * (1000.0, 1e4), so clients that only have doubles can still say 1000. */
static int read_uint(const json_t *v, const char *path, uint64_t min, uint64_t max, uint64_t *out,
                     spec_errors *errs) {
    uint64_t u;
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 0) return integer_out_of_range(1, path, min, max, errs);
        u = (uint64_t)i;
    } else if (json_is_real(v)) {
        double r = json_real_value(v);
        if (!isfinite(r) || r != floor(r)) {
            spec_errors_add(errs, path, "must be an integer");
            return -1;
        }
        if (r < 0 || r >= 0x1p64) return integer_out_of_range(r < 0, path, min, max, errs);
        u = (uint64_t)r;
    } else {
        spec_errors_add(errs, path, "expected an integer, got %s", json_type_name(v));
        return -1;
    }
    if (u < min || u > max) return integer_out_of_range(u < min, path, min, max, errs);
    *out = u;
    return 0;
}

/* The same for a uint32_t destination. */
static int read_uint32(const json_t *v, const char *path, uint32_t min, uint32_t max, uint32_t *out,
                       spec_errors *errs) {
    uint64_t u;
    if (read_uint(v, path, min, max, &u, errs) != 0) return -1;
    *out = (uint32_t)u;
    return 0;
}

/* Parses all of s[0..len) as a decimal uint64: 0, or -1 when it is not
 * digits, -2 when it is too large. */
static int parse_decimal_u64(const char *s, size_t len, uint64_t *out) {
    uint64_t v = 0;
    if (len == 0) return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned digit = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) return -2;
        v = v * 10 + digit;
    }
    *out = v;
    return 0;
}

/* Reads a 64-bit seed: a JSON integer, or a decimal string for values
 * beyond what JSON integers carry ("18446744073709551615"). */
static int read_seed(const json_t *v, const char *path, uint64_t *out, spec_errors *errs) {
    if (!json_is_string(v)) return read_uint(v, path, 0, UINT64_MAX, out, errs);
    const char *s = json_string_value(v);
    int rc = parse_decimal_u64(s, json_string_length(v), out);
    if (rc == -1)
        spec_errors_add(errs, path, "expected a decimal integer like \"42\", got \"%.*s\"",
                        ECHO_MAX, s);
    else if (rc == -2)
        spec_errors_add(errs, path, "must be <= %" PRIu64, UINT64_MAX);
    return rc == 0 ? 0 : -1;
}

/* Reads v as a finite number. */
static int read_number(const json_t *v, const char *path, double *out, spec_errors *errs) {
    if (!json_is_number(v)) {
        spec_errors_add(errs, path, "expected a number, got %s", json_type_name(v));
        return -1;
    }
    double x = json_number_value(v);
    if (!isfinite(x)) {
        spec_errors_add(errs, path, "must be finite");
        return -1;
    }
    *out = x;
    return 0;
}

static int read_positive(const json_t *v, const char *path, double *out, spec_errors *errs) {
    double x;
    if (read_number(v, path, &x, errs) != 0) return -1;
    if (!(x > 0)) {
        spec_errors_add(errs, path, "must be > 0");
        return -1;
    }
    *out = x;
    return 0;
}

static void join_names(char *buf, size_t size, const char *const *names, size_t n) {
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i) strncat(buf, ", ", size - strlen(buf) - 1);
        strncat(buf, names[i], size - strlen(buf) - 1);
    }
}

/* Reads v as one of names[0..n) and returns its index, or -1. */
static int read_name(const json_t *v, const char *path, const char *what, const char *const *names,
                     size_t n, spec_errors *errs) {
    if (!json_is_string(v)) {
        spec_errors_add(errs, path, "expected a string, got %s", json_type_name(v));
        return -1;
    }
    const char *s = json_string_value(v);
    for (size_t i = 0; i < n; i++)
        if (json_string_length(v) == strlen(names[i]) && strcmp(s, names[i]) == 0) return (int)i;
    char list[SPEC_MESSAGE_MAX];
    join_names(list, sizeof list, names, n);
    spec_errors_add(errs, path, "unknown %s \"%.*s\"; expected one of %s", what, ECHO_MAX, s, list);
    return -1;
}

/* ---- Number arrays ------------------------------------------------------- */

/* Checks that every element of the array arr is a finite number, each
 * error at path[i]; copies them into dst unless dst is NULL. */
static int read_numbers(const json_t *arr, const char *path, double *dst, spec_errors *errs) {
    int rc = 0;
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
        char p[SPEC_PATH_MAX];
        double x;
        path_index(p, path, i);
        if (read_number(v, p, &x, errs) != 0)
            rc = -1;
        else if (dst)
            dst[i] = x;
    }
    return rc;
}

/* Reads a non-empty array of numbers into a new array of *n doubles. */
static double *read_vector(const json_t *v, const char *path, size_t *n, spec_errors *errs) {
    if (!json_is_array(v)) {
        spec_errors_add(errs, path, "expected an array of numbers, got %s", json_type_name(v));
        return NULL;
    }
    if (json_array_size(v) == 0) {
        spec_errors_add(errs, path, "must not be empty");
        return NULL;
    }
    if (read_numbers(v, path, NULL, errs) != 0) return NULL;
    double *x = malloc(json_array_size(v) * sizeof *x);
    if (!x) {
        spec_errors_add(errs, path, "out of memory");
        return NULL;
    }
    read_numbers(v, path, x, errs);
    *n = json_array_size(v);
    return x;
}

/* Checks that rows is a non-empty array of arrays of numbers, each of
 * length cols (0: the length of rows[0]); *cols gets that length. */
static int check_rows(const json_t *rows, const char *path, size_t *cols, const char *like,
                      spec_errors *errs) {
    size_t k;
    const json_t *row;
    int rc = 0;
    if (*cols == 0) *cols = json_array_size(json_array_get(rows, 0));
    json_array_foreach(rows, k, row) {
        char p[SPEC_PATH_MAX];
        path_index(p, path, k);
        if (!json_is_array(row)) {
            spec_errors_add(errs, p, "expected an array of numbers, got %s", json_type_name(row));
            rc = -1;
        } else if (json_array_size(row) == 0) {
            spec_errors_add(errs, p, "must not be empty");
            rc = -1;
        } else if (*cols && json_array_size(row) != *cols) {
            spec_errors_add(errs, p, "expected %zu numbers%s, got %zu", *cols, like,
                            json_array_size(row));
            rc = -1;
        } else if (read_numbers(row, p, NULL, errs) != 0) {
            rc = -1;
        }
    }
    return rc;
}

/* Copies checked rows (see check_rows) into a new rows x cols array. */
static double *copy_rows(const json_t *rows, size_t cols, const char *path, spec_errors *errs) {
    size_t k;
    const json_t *row;
    double *x = malloc(json_array_size(rows) * cols * sizeof *x);
    if (!x) {
        spec_errors_add(errs, path, "out of memory");
        return NULL;
    }
    json_array_foreach(rows, k, row) read_numbers(row, path, x + k * cols, errs);
    return x;
}

/* ---- Sections ------------------------------------------------------------ */

typedef struct spec_parse {
    job_spec *spec;
    spec_errors *errs;
    int model_known;  /* spec->model is what the client asked for */
    int data_known;   /* spec->data is the kind of data the client gave */
    int chains_known; /* spec->chain.chains is valid */
} spec_parse;

static void set_defaults(job_spec *s, int schema) {
    memset(s, 0, sizeof *s);
    s->schema = schema;
    s->model = model_find(DEFAULT_MODEL);
    model_args_defaults(s->model, &s->model_args);
    s->chain.num_samples = DEFAULT_NUM_SAMPLES;
    s->chain.thin = 1;
    s->chain.chains = 1;
    s->chain.key = rng_key_from_seed(0);
    s->chain.init = INIT_ZEROS;
    s->chain.progress_every = DEFAULT_PROGRESS_EVERY;
    s->chain.row_threads = 1;
    s->dtype = DTYPE_F64;
}

/* ---- The model: read against core's model table ---------------------------- */

static int read_param(const param_def *pd, const json_t *v, const char *path, double *out,
                      spec_errors *errs);

/* The table's model names, for "unknown model" messages. */
static void model_names_list(char *buf, size_t size) {
    buf[0] = '\0';
    for (const model_def *const *d = model_table; *d; d++) {
        if (d != model_table) strncat(buf, ", ", size - strlen(buf) - 1);
        strncat(buf, (*d)->name, size - strlen(buf) - 1);
    }
}

static const model_def *read_model_type(const json_t *v, const char *path, spec_errors *errs) {
    if (!json_is_string(v)) {
        spec_errors_add(errs, path, "expected a string, got %s", json_type_name(v));
        return NULL;
    }
    const model_def *def = model_find(json_string_value(v));
    if (!def || strlen(def->name) != json_string_length(v)) {
        char list[SPEC_MESSAGE_MAX];
        model_names_list(list, sizeof list);
        spec_errors_add(errs, path, "unknown model \"%.*s\"; expected one of %s", ECHO_MAX,
                        json_string_value(v), list);
        return NULL;
    }
    return def;
}

/* A field that is not def's: "only <models> take <field>" when other
 * models of the table take it, else "unknown field". */
static void reject_unknown_model_fields(const json_t *m, const model_def *def, spec_errors *errs) {
    json_t *o = (json_t *)m;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        if (!strcmp(key, "type") || param_index(def->params, def->num_params, key) >= 0) continue;
        char path[SPEC_PATH_MAX], takers[SPEC_MESSAGE_MAX / 2] = "";
        size_t count = 0;
        for (const model_def *const *d = model_table; *d; d++)
            if (param_index((*d)->params, (*d)->num_params, key) >= 0) {
                if (count++) strncat(takers, ", ", sizeof takers - strlen(takers) - 1);
                strncat(takers, (*d)->name, sizeof takers - strlen(takers) - 1);
            }
        path_field(path, "model", key);
        if (count)
            spec_errors_add(errs, path, "only %s take%s %s", takers, count > 1 ? "" : "s", key);
        else
            spec_errors_add(errs, path,
                            "unknown field for model %s (GET /v1/info lists its "
                            "parameters)",
                            def->name);
    }
}

/* A P_MATRIX parameter: a non-empty square array of rows of numbers. */
static double *read_square(const json_t *v, const char *path, size_t *side, spec_errors *errs) {
    if (!json_is_array(v)) {
        spec_errors_add(errs, path, "expected an array of rows, got %s", json_type_name(v));
        return NULL;
    }
    size_t n = json_array_size(v), cols = n;
    if (n == 0) {
        spec_errors_add(errs, path, "must not be empty");
        return NULL;
    }
    if (check_rows(v, path, &cols, " (a square matrix)", errs) != 0) return NULL;
    *side = n;
    return copy_rows(v, n, path, errs);
}

/* Parameter i of the spec's model from its JSON value v. */
static void parse_model_param(spec_parse *p, size_t i, const json_t *v, const char *path) {
    job_spec *s = p->spec;
    const param_def *pd = &s->model->params[i];
    if (pd->kind == P_VECTOR)
        s->model_arrays[i] = read_vector(v, path, &s->model_args.lens[i], p->errs);
    else if (pd->kind == P_MATRIX)
        s->model_arrays[i] = read_square(v, path, &s->model_args.lens[i], p->errs);
    else
        read_param(pd, v, path, &s->model_args.values[i], p->errs);
    s->model_args.arrays[i] = s->model_arrays[i];
}

/* The Gaussian's cov has the side of mean and is symmetric. */
static void check_gaussian(spec_parse *p) {
    const model_args *a = &p->spec->model_args;
    size_t d = a->lens[0];
    const double *cov = a->arrays[1];
    if (!a->arrays[0] || !cov) return;
    if (a->lens[1] != d) {
        spec_errors_add(p->errs, "model.cov", "expected %zu rows (the length of mean), got %zu", d,
                        a->lens[1]);
        return;
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = i + 1; j < d; j++) {
            double x = cov[i * d + j], y = cov[j * d + i];
            double scale = fmax(fmax(fabs(x), fabs(y)), 1.0);
            if (fabs(x - y) <= SYMMETRY_TOL * scale) continue;
            char path[SPEC_PATH_MAX];
            snprintf(path, sizeof path, "model.cov[%zu][%zu]", i, j);
            spec_errors_add(p->errs, path, "must equal model.cov[%zu][%zu] (cov must be symmetric)",
                            j, i);
        }
}

static void parse_model(spec_parse *p, const json_t *root) {
    job_spec *s = p->spec;
    const json_t *m = json_object_get(root, "model"), *type;
    p->model_known = 1; /* absent: the default model with its defaults */
    if (!m) return;
    if (expect_object(m, "model", p->errs) != 0) {
        p->model_known = 0;
        return;
    }
    if ((type = json_object_get(m, "type"))) {
        const model_def *def = read_model_type(type, "model.type", p->errs);
        if (!def) {
            p->model_known = 0;
            return;
        }
        s->model = def;
        model_args_defaults(def, &s->model_args);
    }
    reject_unknown_model_fields(m, s->model, p->errs);
    for (size_t i = 0; i < s->model->num_params; i++) {
        char path[SPEC_PATH_MAX];
        const json_t *v = field(m, "model", s->model->params[i].name, path);
        if (v)
            parse_model_param(p, i, v, path);
        else if (s->model->params[i].flags & P_REQUIRED)
            spec_errors_add(p->errs, path, "required");
    }
    if (!strcmp(s->model->name, "gaussian")) check_gaussian(p);
}

static void parse_dataset_id(spec_parse *p, const json_t *v) {
    const char *path = "data.dataset";
    if (!json_is_string(v)) {
        spec_errors_add(p->errs, path, "expected a string, got %s", json_type_name(v));
        return;
    }
    const char *id = json_string_value(v);
    size_t len = json_string_length(v);
    if (len == 0) {
        spec_errors_add(p->errs, path, "must not be empty");
        return;
    }
    if (len >= SPEC_DATASET_ID_MAX) {
        spec_errors_add(p->errs, path, "must be at most %d characters", SPEC_DATASET_ID_MAX - 1);
        return;
    }
    if (strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") != len) {
        spec_errors_add(p->errs, path, "may contain only letters, digits, '_', '.' and '-'");
        return;
    }
    if (!isalnum((unsigned char)id[0])) { /* ids name files: no ".", "..", "-x" */
        spec_errors_add(p->errs, path, "must start with a letter or a digit");
        return;
    }
    memcpy(p->spec->dataset_id, id, len + 1);
}

static void check_synthetic_size(spec_parse *p, uint64_t n, uint64_t d) {
    if (n > MAX_SYNTH_VALUES / d)
        spec_errors_add(p->errs, "data.synthetic", "n*d too large (at most %" PRIu64 " values)",
                        MAX_SYNTH_VALUES);
}

static void parse_synthetic(spec_parse *p, const json_t *syn) {
    const char *parent = "data.synthetic";
    char path[SPEC_PATH_MAX];
    synth_params *sp = &p->spec->synthetic;
    const json_t *v;
    uint64_t n = 0, d = 0;
    sp->theta_variance = DEFAULT_THETA_VARIANCE;
    if (expect_object(syn, parent, p->errs) != 0) return;
    reject_unknown_fields(syn, parent, synthetic_fields, p->errs);
    int n_ok = (v = required_field(syn, parent, "n", path, p->errs)) &&
               read_uint(v, path, 1, UINT64_MAX, &n, p->errs) == 0;
    int d_ok = (v = required_field(syn, parent, "d", path, p->errs)) &&
               read_uint(v, path, 1, UINT64_MAX, &d, p->errs) == 0;
    if (n_ok && d_ok) check_synthetic_size(p, n, d);
    sp->n = (size_t)n;
    sp->d = (size_t)d;
    if ((v = field(syn, parent, "seed", path))) read_seed(v, path, &sp->seed, p->errs);
    if ((v = field(syn, parent, "rho", path)) && read_number(v, path, &sp->rho, p->errs) == 0 &&
        !(sp->rho >= 0 && sp->rho < 1))
        spec_errors_add(p->errs, path, "must be >= 0 and < 1");
    if ((v = field(syn, parent, "theta_variance", path)))
        read_positive(v, path, &sp->theta_variance, p->errs);
}

static void parse_data(spec_parse *p, const json_t *root) {
    const json_t *data = json_object_get(root, "data");
    if (p->model_known && p->spec->model->y == Y_NONE) {
        if (data)
            spec_errors_add(p->errs, "data", "the %s model takes no data", p->spec->model->name);
        p->data_known = 1; /* SPEC_DATA_NONE */
        return;
    }
    if (!data) { /* SPEC_DATA_NONE: rows come later (mcmcd run --data) */
        p->data_known = 1;
        return;
    }
    if (expect_object(data, "data", p->errs) != 0) return;
    reject_unknown_fields(data, "data", data_fields, p->errs);
    const json_t *id = json_object_get(data, "dataset");
    const json_t *syn = json_object_get(data, "synthetic");
    if (id && syn) {
        spec_errors_add(p->errs, "data", "give either dataset or synthetic, not both");
    } else if (!id && !syn) {
        spec_errors_add(p->errs, "data", "expected {\"dataset\": id} or {\"synthetic\": {...}}");
    } else if (id) {
        p->spec->data = SPEC_DATA_DATASET;
        p->data_known = 1;
        parse_dataset_id(p, id);
    } else {
        p->spec->data = SPEC_DATA_SYNTHETIC;
        p->data_known = 1;
        parse_synthetic(p, syn);
    }
}

/* The table's sampler names, for "unknown sampler" messages. */
static void sampler_names_list(char *buf, size_t size) {
    buf[0] = '\0';
    for (const sampler_def *const *d = sampler_table; *d; d++) {
        if (d != sampler_table) strncat(buf, ", ", size - strlen(buf) - 1);
        strncat(buf, (*d)->name, size - strlen(buf) - 1);
    }
}

static const sampler_def *read_sampler_type(const json_t *v, const char *path, spec_errors *errs) {
    if (!json_is_string(v)) {
        spec_errors_add(errs, path, "expected a string, got %s", json_type_name(v));
        return NULL;
    }
    const sampler_def *def = sampler_find(json_string_value(v));
    if (!def || strlen(def->name) != json_string_length(v)) {
        char list[SPEC_MESSAGE_MAX];
        sampler_names_list(list, sizeof list);
        spec_errors_add(errs, path, "unknown sampler \"%.*s\"; expected one of %s", ECHO_MAX,
                        json_string_value(v), list);
        return NULL;
    }
    return def;
}

static int choice_count(const char *const *choices) {
    int n = 0;
    while (choices[n])
        n++;
    return n;
}

/* Reads v as the table parameter pd into *out, checking kind and bounds. */
static int read_param(const param_def *pd, const json_t *v, const char *path, double *out,
                      spec_errors *errs) {
    switch (pd->kind) {
    case P_BOOL:
        if (!json_is_boolean(v)) {
            spec_errors_add(errs, path, "expected true or false, got %s", json_type_name(v));
            return -1;
        }
        *out = json_is_true(v);
        return 0;
    case P_CHOICE: {
        int k = read_name(v, path, pd->name, pd->choices, (size_t)choice_count(pd->choices), errs);
        if (k < 0) return -1;
        *out = k;
        return 0;
    }
    case P_INT: {
        uint64_t u;
        if (read_uint(v, path, (uint64_t)pd->min, (uint64_t)pd->max, &u, errs) != 0) return -1;
        *out = (double)u;
        return 0;
    }
    default:
        break;
    }
    double x;
    if (read_number(v, path, &x, errs) != 0) return -1;
    int low = pd->flags & P_MIN_OPEN ? !(x > pd->min) : !(x >= pd->min);
    if (low) {
        spec_errors_add(errs, path, "must be %s %g", pd->flags & P_MIN_OPEN ? ">" : ">=", pd->min);
        return -1;
    }
    if (!(x <= pd->max)) {
        spec_errors_add(errs, path, "must be <= %g", pd->max);
        return -1;
    }
    *out = x;
    return 0;
}

/* "unknown field", naming the sampler whose parameters it is not. */
static void reject_unknown_sampler_fields(const json_t *smp, const sampler_def *def,
                                          spec_errors *errs) {
    json_t *o = (json_t *)smp;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *key = json_object_iter_key(it);
        if (!strcmp(key, "type") || sampler_param_index(def, key) >= 0) continue;
        if (!strcmp(key, "inv_metric") && def->flags & SAMPLER_USES_METRIC) continue;
        char path[SPEC_PATH_MAX];
        path_field(path, "sampler", key);
        spec_errors_add(errs, path,
                        "unknown field for sampler %s (GET /v1/info lists its parameters)",
                        def->name);
    }
}

/* inv_metric: d numbers (diag) or d rows of d (dense); its length against
 * the model's dimension is checked in job_spec_check_shape. */
static void parse_inv_metric(spec_parse *p, const json_t *v) {
    job_spec *s = p->spec;
    const char *path = "sampler.inv_metric";
    metric_kind kind = chain_metric_kind(&s->chain);
    if (kind == METRIC_UNIT) {
        spec_errors_add(p->errs, path, "the unit metric takes no inv_metric");
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) {
        spec_errors_add(p->errs, path, "expected a non-empty array, got %s", json_type_name(v));
        return;
    }
    int rows = json_is_array(json_array_get(v, 0));
    if (rows != (kind == METRIC_DENSE)) {
        spec_errors_add(p->errs, path, "the %s metric takes %s", sampler_metric_choices[kind],
                        kind == METRIC_DENSE ? "d rows of d numbers" : "d numbers");
        return;
    }
    size_t n = json_array_size(v), cols = n;
    if (kind == METRIC_DENSE) {
        if (check_rows(v, path, &cols, " (a square matrix)", p->errs) != 0) return;
        s->chain.inv_metric = copy_rows(v, n, path, p->errs);
        s->inv_metric_len = n * n;
        return;
    }
    s->chain.inv_metric = read_vector(v, path, &n, p->errs);
    s->inv_metric_len = s->chain.inv_metric ? n : 0;
}

/* Reads each of the table's parameters present in smp; the required ones
 * must be. */
static void parse_sampler_params(spec_parse *p, const json_t *smp, const sampler_def *def) {
    chain_config *c = &p->spec->chain;
    sampler_defaults(def, c->params);
    for (size_t i = 0; i < def->num_params; i++) {
        const param_def *pd = &def->params[i];
        char path[SPEC_PATH_MAX];
        const json_t *v = field(smp, "sampler", pd->name, path);
        if (v && pd->kind == P_VECTOR) /* the SG samplers' centre, the one array */
            c->centre = read_vector(v, path, &p->spec->centre_len, p->errs);
        else if (v)
            read_param(pd, v, path, &c->params[i], p->errs);
        else if (pd->flags & P_REQUIRED)
            spec_errors_add(p->errs, path, "required");
    }
    if (p->spec->schema < 2 && def == &sampler_mala) /* version 1: MALA did not adapt */
        c->params[sampler_param_index(def, "adapt_engaged")] = 0;
    if (chain_metric_kind(c) != METRIC_DIAG &&
        sampler_param(def, c->params, "metric_adapt", ESTIMATE_STAN) == ESTIMATE_GRAD)
        spec_errors_add(p->errs, "sampler.metric_adapt", "\"grad\" needs the diag metric");
}

static void parse_sampler(spec_parse *p, const json_t *root) {
    char path[SPEC_PATH_MAX];
    chain_config *c = &p->spec->chain;
    const json_t *smp = required_field(root, "", "sampler", path, p->errs), *v;
    if (!smp || expect_object(smp, "sampler", p->errs) != 0) return;
    if (!(v = required_field(smp, "sampler", "type", path, p->errs))) return;
    if (!(c->sampler = read_sampler_type(v, path, p->errs))) return;
    reject_unknown_sampler_fields(smp, c->sampler, p->errs);
    parse_sampler_params(p, smp, c->sampler);
    if ((v = json_object_get(smp, "inv_metric"))) parse_inv_metric(p, v);
}

static void parse_schema(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "schema");
    uint64_t version;
    if (v && read_uint(v, "schema", 1, SPEC_SCHEMA_VERSION, &version, p->errs) == 0)
        p->spec->schema = (int)version;
}

static int text_has_control(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return 1;
    return 0;
}

static void parse_name(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "name");
    if (!v || json_is_null(v)) return;
    if (!json_is_string(v)) {
        spec_errors_add(p->errs, "name", "expected a string, got %s", json_type_name(v));
        return;
    }
    const char *name = json_string_value(v);
    if (json_string_length(v) > SPEC_NAME_MAX || strlen(name) != json_string_length(v) ||
        text_has_control(name)) {
        spec_errors_add(p->errs, "name", "must be at most %d bytes without control characters",
                        SPEC_NAME_MAX);
        return;
    }
    memcpy(p->spec->name, name, strlen(name) + 1);
}

static void parse_tag(spec_parse *p, const json_t *v, size_t i) {
    char path[32];
    snprintf(path, sizeof path, "tags[%zu]", i);
    static const char ok[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:=+/";
    const char *t = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = t ? json_string_length(v) : 0;
    if (!t || n == 0 || n > SPEC_TAG_MAX || strspn(t, ok) != n) {
        spec_errors_add(p->errs, path, "a tag is 1-%d letters, digits or . _ - : = + /",
                        SPEC_TAG_MAX);
        return;
    }
    for (size_t k = 0; k < p->spec->ntags; k++)
        if (!strcmp(p->spec->tags[k], t)) {
            spec_errors_add(p->errs, path, "'%s' is given twice", t);
            return;
        }
    memcpy(p->spec->tags[p->spec->ntags++], t, n + 1);
}

static void parse_tags(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "tags");
    if (!v || json_is_null(v)) return;
    if (!json_is_array(v) || json_array_size(v) > SPEC_TAGS_MAX) {
        spec_errors_add(p->errs, "tags", "expected an array of at most %d strings", SPEC_TAGS_MAX);
        return;
    }
    for (size_t i = 0; i < json_array_size(v); i++)
        parse_tag(p, json_array_get(v, i), i);
}

static void parse_priority(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "priority");
    if (!v) return;
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : SPEC_PRIORITY_MAX + 1;
    if (x < SPEC_PRIORITY_MIN || x > SPEC_PRIORITY_MAX) {
        spec_errors_add(p->errs, "priority", "expected an integer from %d to %d", SPEC_PRIORITY_MIN,
                        SPEC_PRIORITY_MAX);
        return;
    }
    p->spec->priority = (int)x;
}

/* slurm.NAME: an integer 1..max, or absent. */
static uint64_t slurm_count(spec_parse *p, const json_t *o, const char *name, uint64_t max) {
    const json_t *v = json_object_get(o, name);
    if (!v) return 0;
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : 0;
    if (x < 1 || (uint64_t)x > max) {
        char path[40];
        snprintf(path, sizeof path, "slurm.%s", name);
        spec_errors_add(p->errs, path, "expected an integer from 1 to %llu",
                        (unsigned long long)max);
        return 0;
    }
    return (uint64_t)x;
}

static void parse_slurm(spec_parse *p, const json_t *root) {
    const json_t *o = json_object_get(root, "slurm"), *part;
    if (!o) return;
    if (!json_is_object(o)) {
        spec_errors_add(p->errs, "slurm", "expected an object, got %s", json_type_name(o));
        return;
    }
    reject_unknown_fields(o, "slurm", slurm_fields, p->errs);
    static const char ok[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";
    if ((part = json_object_get(o, "partition"))) {
        const char *t = json_is_string(part) ? json_string_value(part) : NULL;
        size_t n = t ? json_string_length(part) : 0;
        if (!t || n == 0 || n > SPEC_PARTITION_MAX || strspn(t, ok) != n)
            spec_errors_add(p->errs, "slurm.partition",
                            "a partition name is 1-%d letters, digits or . _ -",
                            SPEC_PARTITION_MAX);
        else
            memcpy(p->spec->slurm.partition, t, n + 1);
    }
    p->spec->slurm.time_limit = (uint32_t)slurm_count(p, o, "time_limit", 1000000);
    p->spec->slurm.cpus_per_task = (uint32_t)slurm_count(p, o, "cpus_per_task", 1024);
    p->spec->slurm.mem_mb = slurm_count(p, o, "mem_mb", UINT64_C(1) << 30);
}

static void parse_save_warmup(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "save_warmup");
    if (!v) return;
    if (!json_is_boolean(v))
        spec_errors_add(p->errs, "save_warmup", "expected true or false, got %s",
                        json_type_name(v));
    else
        p->spec->chain.save_warmup = json_is_true(v);
}

/* root[key] into *out when present; 1 when *out is valid (set or default). */
static int count_field(spec_parse *p, const json_t *root, const char *key, uint64_t min,
                       uint64_t max, uint64_t *out) {
    const json_t *v = json_object_get(root, key);
    return !v || read_uint(v, key, min, max, out, p->errs) == 0;
}

static int iterations_fit(uint64_t warmup, uint64_t samples, uint64_t thin) {
    if (warmup > CHAIN_MAX_ITERATIONS) return 0;
    return samples <= (CHAIN_MAX_ITERATIONS - warmup) / thin; /* no overflow */
}

static void parse_counts(spec_parse *p, const json_t *root) {
    chain_config *c = &p->spec->chain;
    uint64_t chains = c->chains, every = c->progress_every, row_threads = c->row_threads;
    int ok = count_field(p, root, "num_samples", 1, UINT64_MAX, &c->num_samples);
    ok &= count_field(p, root, "num_warmup", 0, UINT64_MAX, &c->num_warmup);
    ok &= count_field(p, root, "thin", 1, UINT64_MAX, &c->thin);
    if (ok && !iterations_fit(c->num_warmup, c->num_samples, c->thin))
        spec_errors_add(p->errs, "num_samples",
                        "num_warmup + num_samples * thin must be <= %llu (the iteration limit)",
                        CHAIN_MAX_ITERATIONS);
    p->chains_known = count_field(p, root, "chains", 1, MAX_CHAINS, &chains);
    c->chains = (uint32_t)chains;
    if (count_field(p, root, "progress_every", 1, UINT32_MAX, &every))
        c->progress_every = (uint32_t)every;
    /* Draws do not depend on it: the core sums fixed row segments in a
     * fixed order whatever the thread count. */
    if (count_field(p, root, "row_threads", 1, MAX_ROW_THREADS, &row_threads))
        c->row_threads = (uint32_t)row_threads;
}

static void parse_key_pair(spec_parse *p, const json_t *v) {
    uint32_t half[2];
    int ok = 1;
    if (json_array_size(v) != 2) {
        spec_errors_add(p->errs, "key", "expected [hi, lo], a pair of integers, got %zu elements",
                        json_array_size(v));
        return;
    }
    for (size_t i = 0; i < 2; i++) {
        char path[SPEC_PATH_MAX];
        path_index(path, "key", i);
        if (read_uint32(json_array_get(v, i), path, 0, UINT32_MAX, &half[i], p->errs) != 0) ok = 0;
    }
    if (ok) p->spec->chain.key = (rng_key){.hi = half[0], .lo = half[1]};
}

static void parse_key(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "key");
    uint64_t seed;
    if (!v) return;
    if (json_is_array(v)) {
        parse_key_pair(p, v);
    } else if (json_is_number(v) || json_is_string(v)) {
        if (read_seed(v, "key", &seed, p->errs) == 0) p->spec->chain.key = rng_key_from_seed(seed);
    } else {
        spec_errors_add(p->errs, "key", "expected an integer, a decimal string or [hi, lo], got %s",
                        json_type_name(v));
    }
}

static void parse_init_per_chain(spec_parse *p, const json_t *v) {
    job_spec *s = p->spec;
    size_t dim = 0, rows = json_array_size(v);
    int rc = check_rows(v, "init", &dim, " like init[0]", p->errs);
    if (p->chains_known && rows != s->chain.chains) {
        spec_errors_add(p->errs, "init", "expected %" PRIu32 " vectors (one per chain), got %zu",
                        s->chain.chains, rows);
        rc = -1;
    }
    if (rc != 0) return;
    s->chain.init_values = copy_rows(v, dim, "init", p->errs);
    s->chain.init_per_chain = 1;
    s->init_dim = dim;
}

static void parse_init_values(spec_parse *p, const json_t *v) {
    job_spec *s = p->spec;
    s->chain.init = INIT_VALUES;
    if (json_array_size(v) > 0 && json_is_array(json_array_get(v, 0))) {
        parse_init_per_chain(p, v);
        return;
    }
    size_t dim = 0;
    s->chain.init_values = read_vector(v, "init", &dim, p->errs);
    s->init_dim = dim;
}

static void parse_init(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "init");
    if (!v) return;
    if (json_is_array(v)) {
        parse_init_values(p, v);
    } else if (json_is_string(v)) {
        int k = read_name(v, "init", "init", init_names, COUNT(init_names), p->errs);
        if (k >= 0) p->spec->chain.init = (init_kind)k;
    } else {
        spec_errors_add(p->errs, "init", "expected a string or an array of numbers, got %s",
                        json_type_name(v));
    }
}

static void parse_dtype(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "dtype");
    if (!v) return;
    int k = read_name(v, "dtype", "dtype", dtype_names, COUNT(dtype_names), p->errs);
    if (k >= 0) p->spec->dtype = (model_dtype)k;
}

static void check_init_true(spec_parse *p) {
    const job_spec *s = p->spec;
    if (s->chain.init == INIT_TRUE && p->data_known && s->data != SPEC_DATA_SYNTHETIC)
        spec_errors_add(p->errs, "init", "\"true\" needs synthetic data");
}

/* ---- Kinds: what a job does with its spec (the one table of them) -------- */

static const char *const tune_fields[] = {"step_sizes", "batch_sizes", "ksd_draws", NULL};
static const char *const mode_fields[] = {"method", "max_iter", "tolerance", NULL};
static const char *const mode_methods[] = {"auto", "lbfgs", "adam"}; /* optimize_method order */
#define MODE_MAX_ITER 100000000ull

/* Reads a grid's values: 1..TUNE_VALUES_MAX numbers > 0, whole numbers
 * >= 1 when `whole`. */
static void read_grid(spec_parse *p, const json_t *v, const char *path, int whole, double *dst,
                      size_t *n) {
    if (!json_is_array(v)) {
        spec_errors_add(p->errs, path, "expected an array, got %s", json_type_name(v));
        return;
    }
    if (json_array_size(v) == 0 || json_array_size(v) > TUNE_VALUES_MAX) {
        spec_errors_add(p->errs, path, "expected 1 to %d values, got %zu", TUNE_VALUES_MAX,
                        json_array_size(v));
        return;
    }
    size_t ok = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        char at[SPEC_PATH_MAX];
        path_index(at, path, i);
        uint64_t u;
        if (whole ? read_uint(json_array_get(v, i), at, 1, UINT32_MAX, &u, p->errs) == 0
                  : read_positive(json_array_get(v, i), at, &dst[i], p->errs) == 0) {
            if (whole) dst[i] = (double)u;
            ok++;
        }
    }
    if (ok == json_array_size(v)) *n = ok;
}

static void parse_tune(spec_parse *p, const json_t *sec) {
    tune_spec *t = &p->spec->tune;
    t->ksd_draws = TUNE_DEFAULT_KSD_DRAWS;
    if (!sec) {
        spec_errors_add(p->errs, "tune", "required with kind \"tune\": {\"step_sizes\": [..]}");
        return;
    }
    reject_unknown_fields(sec, "tune", tune_fields, p->errs);
    const json_t *v = json_object_get(sec, "step_sizes");
    if (v)
        read_grid(p, v, "tune.step_sizes", 0, t->step_sizes, &t->num_step_sizes);
    else
        spec_errors_add(p->errs, "tune.step_sizes", "required");
    if ((v = json_object_get(sec, "batch_sizes")))
        read_grid(p, v, "tune.batch_sizes", 1, t->batch_sizes, &t->num_batch_sizes);
    if ((v = json_object_get(sec, "ksd_draws")))
        read_uint32(v, "tune.ksd_draws", 2, KSD_MAX_DRAWS, &t->ksd_draws, p->errs);
    size_t settings = t->num_step_sizes * (t->num_batch_sizes ? t->num_batch_sizes : 1);
    if (settings > TUNE_SETTINGS_MAX)
        spec_errors_add(p->errs, "tune", "a grid of %zu settings; at most %d", settings,
                        TUNE_SETTINGS_MAX);
}

static void parse_mode(spec_parse *p, const json_t *sec) {
    mode_spec *m = &p->spec->mode;
    if (!sec) return; /* every setting has a default */
    if (expect_object(sec, "mode", p->errs) != 0) return;
    reject_unknown_fields(sec, "mode", mode_fields, p->errs);
    const json_t *v;
    int i;
    if ((v = json_object_get(sec, "method")) &&
        (i = read_name(v, "mode.method", "method", mode_methods, COUNT(mode_methods), p->errs)) >=
            0)
        m->method = i;
    if ((v = json_object_get(sec, "max_iter")))
        read_uint(v, "mode.max_iter", 1, MODE_MAX_ITER, &m->max_iter, p->errs);
    if ((v = json_object_get(sec, "tolerance")))
        read_positive(v, "mode.tolerance", &m->tolerance, p->errs);
}

static json_t *grid_to_json(const double *x, size_t n, int whole) {
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, whole ? json_integer((json_int_t)x[i]) : json_real(x[i]));
    return a;
}

static json_t *tune_to_json(const job_spec *s) {
    const tune_spec *t = &s->tune;
    json_t *o = json_object();
    int bad =
        json_object_set_new(o, "step_sizes", grid_to_json(t->step_sizes, t->num_step_sizes, 0));
    if (t->num_batch_sizes)
        bad |= json_object_set_new(o, "batch_sizes",
                                   grid_to_json(t->batch_sizes, t->num_batch_sizes, 1));
    bad |= json_object_set_new(o, "ksd_draws", json_integer(t->ksd_draws));
    if (!bad) return o;
    json_decref(o);
    return NULL;
}

static json_t *mode_to_json(const job_spec *s) {
    const mode_spec *m = &s->mode;
    json_t *o = json_pack("{s:s}", "method", mode_methods[m->method]);
    if (o && m->max_iter) json_object_set_new(o, "max_iter", json_integer((json_int_t)m->max_iter));
    if (o && m->tolerance > 0) json_object_set_new(o, "tolerance", json_real(m->tolerance));
    return o;
}

typedef struct kind_def {
    const char *name;
    const char *section;                             /* its own top-level section, or NULL */
    void (*parse)(spec_parse *p, const json_t *sec); /* sec: NULL when not given */
    json_t *(*to_json)(const job_spec *s);
    int sampler_optional; /* the kind runs no chains */
} kind_def;

/* Indexed by job_kind. */
static const kind_def kind_table[] = {
    {"sample", NULL, NULL, NULL, 0},
    {"tune", "tune", parse_tune, tune_to_json, 0},
    {"mode", "mode", parse_mode, mode_to_json, 1},
};

const char *job_kind_name(job_kind kind) {
    return (size_t)kind < COUNT(kind_table) ? kind_table[kind].name : "unknown";
}

/* "kind" and the kinds' sections: a section goes only with its kind. */
static void parse_kind(spec_parse *p, const json_t *root) {
    const json_t *v = json_object_get(root, "kind");
    if (v) {
        const char *names[COUNT(kind_table)];
        for (size_t i = 0; i < COUNT(kind_table); i++)
            names[i] = kind_table[i].name;
        int k = read_name(v, "kind", "kind", names, COUNT(kind_table), p->errs);
        if (k < 0) return;
        p->spec->kind = (job_kind)k;
    }
    const kind_def *kd = &kind_table[p->spec->kind];
    for (size_t i = 0; i < COUNT(kind_table); i++) {
        const char *sec = kind_table[i].section;
        if (sec && &kind_table[i] != kd && json_object_get(root, sec))
            spec_errors_add(p->errs, sec, "only with \"kind\": \"%s\"", kind_table[i].name);
    }
    if (kd->parse) kd->parse(p, kd->section ? json_object_get(root, kd->section) : NULL);
}

/* The root whose "sampler" parse_sampler reads (a new reference): a tuning
 * job's sampler may leave out the step size (the grid gives it: the first
 * one is filled in), and a kind that runs no chains may leave out the
 * sampler (it reads as {"type": "rwm"}, all defaults). */
static json_t *sampler_root(const spec_parse *p, const json_t *root) {
    const json_t *smp = json_object_get(root, "sampler");
    json_t *copy = NULL;
    if (p->spec->kind == JOB_KIND_TUNE && json_is_object(smp) &&
        !json_object_get(smp, "step_size")) {
        copy = json_copy((json_t *)root);
        json_t *s2 = json_copy((json_t *)smp);
        double h = p->spec->tune.num_step_sizes ? p->spec->tune.step_sizes[0] : 1;
        json_object_set_new(s2, "step_size", json_real(h));
        json_object_set_new(copy, "sampler", s2);
    } else if (kind_table[p->spec->kind].sampler_optional && !smp) {
        copy = json_copy((json_t *)root);
        json_object_set_new(copy, "sampler", json_pack("{s:s}", "type", "rwm"));
    }
    return copy ? copy : json_incref((json_t *)root);
}

/* A grid's batch sizes need a sampler that takes one, and its step sizes a
 * sampler that does not adapt them away in a warmup. */
static void check_tune_sampler(spec_parse *p) {
    const job_spec *s = p->spec;
    if (s->kind == JOB_KIND_TUNE && s->chain.sampler &&
        (s->chain.sampler->flags & SAMPLER_ADAPTS) && s->chain.num_warmup > 0)
        spec_errors_add(p->errs, "num_warmup",
                        "must be 0 for a tuning grid: \"%s\" would adapt the grid's step sizes "
                        "away in its warmup",
                        s->chain.sampler->name);
    if (s->kind == JOB_KIND_TUNE && s->tune.num_batch_sizes && s->chain.sampler &&
        sampler_param_index(s->chain.sampler, "batch_size") < 0)
        spec_errors_add(p->errs, "tune.batch_sizes", "sampler \"%s\" takes no batch_size",
                        s->chain.sampler->name);
}

/* ---- Public: parsing ----------------------------------------------------- */

static int parse_versioned(const json_t *root, int schema, job_spec *out, spec_errors *errs) {
    spec_parse p = {.spec = out, .errs = errs};
    reset_errors(errs);
    set_defaults(out, schema);
    if (!json_is_object(root)) {
        spec_errors_add(errs, "", "expected a JSON object");
        return -1;
    }
    reject_unknown_fields(root, "", top_fields, errs);
    parse_schema(&p, root);
    parse_model(&p, root);
    parse_data(&p, root);
    parse_kind(&p, root);
    json_t *with_sampler = sampler_root(&p, root);
    parse_sampler(&p, with_sampler);
    json_decref(with_sampler);
    parse_counts(&p, root);
    check_tune_sampler(&p);
    parse_key(&p, root);
    parse_init(&p, root);
    parse_dtype(&p, root);
    parse_save_warmup(&p, root);
    parse_name(&p, root);
    parse_tags(&p, root);
    parse_priority(&p, root);
    parse_slurm(&p, root);
    check_init_true(&p);
    if (error_total(errs) == 0) return 0;
    job_spec_free(out);
    memset(out, 0, sizeof *out);
    return -1;
}

int job_spec_parse(const json_t *root, job_spec *out, spec_errors *errs) {
    return parse_versioned(root, SPEC_SCHEMA_VERSION, out, errs);
}

static int parse_text_versioned(const char *text, size_t len, int schema, job_spec *out,
                                spec_errors *errs) {
    json_error_t jerr;
    json_t *root = json_loadb(text ? text : "", text ? len : 0,
                              JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!root) {
        reset_errors(errs);
        memset(out, 0, sizeof *out);
        spec_errors_add(errs, "", "invalid JSON at line %d, column %d (byte %d): %s", jerr.line,
                        jerr.column, jerr.position, jerr.text);
        return -1;
    }
    int rc = parse_versioned(root, schema, out, errs);
    json_decref(root);
    return rc;
}

int job_spec_parse_text(const char *text, size_t len, job_spec *out, spec_errors *errs) {
    return parse_text_versioned(text, len, SPEC_SCHEMA_VERSION, out, errs);
}

int job_spec_parse_stored(const char *text, size_t len, job_spec *out, spec_errors *errs) {
    return parse_text_versioned(text, len, 1, out, errs);
}

size_t job_spec_model_dim(const job_spec *spec, size_t d) {
    return spec->model->dim(&spec->model_args, d);
}

model *job_spec_build_model(const job_spec *spec, const dataset *ds, char *err, size_t errlen) {
    return spec->model->create(spec->model->y == Y_NONE ? NULL : ds, &spec->model_args, spec->dtype,
                               err, errlen);
}

/* The model's part of the shape check: its data, and init "true", which
 * needs the synthetic theta to be the whole parameter. */
static void check_model_shape(const job_spec *spec, size_t n, size_t d, spec_errors *errs) {
    if (spec->model->y != Y_NONE && n == 0)
        spec_errors_add(errs, "data", "required: a dataset id or synthetic data");
    if (spec->chain.init == INIT_TRUE && spec->model->y != Y_NONE &&
        job_spec_model_dim(spec, d) != d)
        spec_errors_add(errs, "init",
                        "\"true\" needs a model whose parameters are the data's coefficients "
                        "alone (no intercept, no log_sigma)");
}

int job_spec_check_shape(const job_spec *spec, size_t n, size_t data_d, spec_errors *errs) {
    size_t before = error_total(errs);
    const chain_config *c = &spec->chain;
    size_t d = job_spec_model_dim(spec, data_d);
    check_model_shape(spec, n, data_d, errs);
    if (c->init == INIT_VALUES && spec->init_dim != d) {
        size_t vectors = c->init_per_chain ? c->chains : 1;
        for (size_t k = 0; k < vectors; k++) {
            char path[SPEC_PATH_MAX] = "init";
            if (c->init_per_chain) path_index(path, "init", k);
            spec_errors_add(errs, path, "expected %zu numbers (the model's dimension), got %zu", d,
                            spec->init_dim);
        }
    }
    double batch = c->sampler ? sampler_param(c->sampler, c->params, "batch_size", 0) : 0;
    if (n > 0 && batch > (double)n)
        spec_errors_add(errs, "sampler.batch_size", "must be <= %zu, the number of rows", n);
    for (size_t i = 0; spec->kind == JOB_KIND_TUNE && n > 0 && i < spec->tune.num_batch_sizes; i++)
        if (spec->tune.batch_sizes[i] > (double)n) {
            char at[SPEC_PATH_MAX];
            path_index(at, "tune.batch_sizes", i);
            spec_errors_add(errs, at, "must be <= %zu, the number of rows", n);
        }
    size_t want = chain_metric_kind(c) == METRIC_DENSE ? d * d : d;
    if (c->inv_metric && spec->inv_metric_len != want)
        spec_errors_add(
            errs, "sampler.inv_metric", "expected %s %zu (the model's dimension), got %zu values",
            chain_metric_kind(c) == METRIC_DENSE ? "a square matrix of side" : "numbers:", d,
            spec->inv_metric_len);
    if (c->centre && spec->centre_len != d)
        spec_errors_add(errs, "sampler.centre",
                        "expected %zu numbers (the model's dimension), got %zu", d,
                        spec->centre_len);
    if (c->init == INIT_TRUE && spec->data != SPEC_DATA_SYNTHETIC)
        spec_errors_add(errs, "init", "\"true\" needs synthetic data");
    return error_total(errs) == before ? 0 : -1;
}

void job_spec_free(job_spec *spec) {
    for (size_t i = 0; i < MODEL_MAX_PARAMS; i++) {
        free(spec->model_arrays[i]);
        spec->model_arrays[i] = NULL;
        spec->model_args.arrays[i] = NULL;
    }
    free((void *)spec->chain.init_values); /* owned by the spec, const for chains */
    free((void *)spec->chain.inv_metric);
    free((void *)spec->chain.centre);
    spec->chain.init_values = NULL;
    spec->chain.inv_metric = NULL;
    spec->chain.centre = NULL;
}

/* ---- Public: to JSON ----------------------------------------------------- */

/* Builders below track allocation failure in `bad` and return NULL then;
 * jansson's setters take (and on failure release) the value passed in, and
 * accept a NULL value or container by failing, so the calls chain safely. */

/* obj[key] = v, taking v; nonzero when v is NULL or the set fails. */
static int put(json_t *obj, const char *key, json_t *v) {
    return json_object_set_new(obj, key, v) != 0;
}

static int append(json_t *arr, json_t *v) {
    return json_array_append_new(arr, v) != 0;
}

/* v, or NULL after releasing v when building it failed. */
static json_t *unless_bad(json_t *v, int bad) {
    if (!bad) return v;
    json_decref(v);
    return NULL;
}

static json_t *numbers_to_json(const double *x, size_t n) {
    json_t *a = json_array();
    int bad = !a;
    for (size_t i = 0; !bad && i < n; i++)
        bad = append(a, json_real(x[i]));
    return unless_bad(a, bad);
}

static json_t *rows_to_json(const double *x, size_t rows, size_t cols) {
    json_t *a = json_array();
    int bad = !a;
    for (size_t k = 0; !bad && k < rows; k++)
        bad = append(a, numbers_to_json(x + k * cols, cols));
    return unless_bad(a, bad);
}

/* An unsigned 64-bit value: a JSON integer when it fits, else a string. */
static json_t *u64_to_json(uint64_t v) {
    if (v <= INT64_MAX) return json_integer((json_int_t)v);
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return json_string(buf);
}

static json_t *synthetic_to_json(const synth_params *sp) {
    json_t *o = json_object();
    int bad = put(o, "n", u64_to_json(sp->n));
    bad |= put(o, "d", u64_to_json(sp->d));
    bad |= put(o, "seed", u64_to_json(sp->seed));
    bad |= put(o, "rho", json_real(sp->rho));
    bad |= put(o, "theta_variance", json_real(sp->theta_variance));
    return unless_bad(o, bad);
}

static json_t *data_to_json(const job_spec *s) {
    json_t *o = json_object();
    int bad = s->data == SPEC_DATA_DATASET ? put(o, "dataset", json_string(s->dataset_id))
                                           : put(o, "synthetic", synthetic_to_json(&s->synthetic));
    return unless_bad(o, bad);
}

/* The model's type and every parameter (optional ones only when given). */
static json_t *model_to_json(const job_spec *s) {
    const model_def *def = s->model;
    const model_args *a = &s->model_args;
    json_t *m = json_object();
    int bad = put(m, "type", json_string(def->name));
    for (size_t i = 0; !bad && i < def->num_params; i++) {
        const param_def *pd = &def->params[i];
        if (pd->kind == P_VECTOR)
            bad |= put(m, pd->name, numbers_to_json(a->arrays[i], a->lens[i]));
        else if (pd->kind == P_MATRIX)
            bad |= put(m, pd->name, rows_to_json(a->arrays[i], a->lens[i], a->lens[i]));
        else if (!isnan(a->values[i]))
            bad |= put(m, pd->name, param_value_to_json(pd, a->values[i]));
    }
    return unless_bad(m, bad);
}

static json_t *inv_metric_to_json(const job_spec *s) {
    const chain_config *c = &s->chain;
    if (chain_metric_kind(c) != METRIC_DENSE)
        return numbers_to_json(c->inv_metric, s->inv_metric_len);
    size_t d = (size_t)sqrt((double)s->inv_metric_len);
    return rows_to_json(c->inv_metric, d, d);
}

/* Every parameter of the sampler, defaults filled in (optional ones only
 * when given). */
static json_t *sampler_to_json(const job_spec *s) {
    const chain_config *c = &s->chain;
    const sampler_def *def = c->sampler;
    json_t *o = json_object();
    int bad = put(o, "type", json_string(def->name));
    for (size_t i = 0; i < def->num_params; i++)
        if (def->params[i].kind == P_VECTOR && c->centre)
            bad |= put(o, def->params[i].name, numbers_to_json(c->centre, s->centre_len));
        else if (!isnan(c->params[i]))
            bad |= put(o, def->params[i].name, param_value_to_json(&def->params[i], c->params[i]));
    if (c->inv_metric) bad |= put(o, "inv_metric", inv_metric_to_json(s));
    return unless_bad(o, bad);
}

static json_t *init_to_json(const job_spec *s) {
    const chain_config *c = &s->chain;
    if (c->init != INIT_VALUES) return json_string(init_names[c->init]);
    if (c->init_per_chain) return rows_to_json(c->init_values, c->chains, s->init_dim);
    return numbers_to_json(c->init_values, s->init_dim);
}

static json_t *key_to_json(rng_key key) {
    json_t *a = json_array();
    int bad = append(a, json_integer(key.hi));
    bad |= append(a, json_integer(key.lo));
    return unless_bad(a, bad);
}

json_t *job_spec_to_json(const job_spec *spec) {
    const chain_config *c = &spec->chain;
    json_t *o = json_object();
    int bad = put(o, "model", model_to_json(spec));
    if (spec->data != SPEC_DATA_NONE) bad |= put(o, "data", data_to_json(spec));
    bad |= put(o, "schema", json_integer(SPEC_SCHEMA_VERSION));
    bad |= put(o, "sampler", sampler_to_json(spec));
    bad |= put(o, "num_samples", u64_to_json(c->num_samples));
    bad |= put(o, "num_warmup", u64_to_json(c->num_warmup));
    bad |= put(o, "thin", u64_to_json(c->thin));
    bad |= put(o, "chains", json_integer(c->chains));
    bad |= put(o, "key", key_to_json(c->key));
    bad |= put(o, "init", init_to_json(spec));
    bad |= put(o, "dtype", json_string(dtype_names[spec->dtype]));
    bad |= put(o, "progress_every", json_integer(c->progress_every));
    bad |= put(o, "row_threads", json_integer(c->row_threads));
    bad |= put(o, "save_warmup", json_boolean(c->save_warmup));
    if (spec->name[0]) bad |= put(o, "name", json_string(spec->name));
    if (spec->ntags) {
        json_t *tags = json_array();
        for (size_t i = 0; i < spec->ntags; i++)
            bad |= append(tags, json_string(spec->tags[i]));
        bad |= put(o, "tags", tags);
    }
    if (spec->priority) bad |= put(o, "priority", json_integer(spec->priority));
    if (spec->slurm.partition[0] || spec->slurm.time_limit || spec->slurm.cpus_per_task ||
        spec->slurm.mem_mb) {
        json_t *r = json_object();
        if (spec->slurm.partition[0])
            bad |= put(r, "partition", json_string(spec->slurm.partition));
        if (spec->slurm.time_limit)
            bad |= put(r, "time_limit", json_integer(spec->slurm.time_limit));
        if (spec->slurm.cpus_per_task)
            bad |= put(r, "cpus_per_task", json_integer(spec->slurm.cpus_per_task));
        if (spec->slurm.mem_mb)
            bad |= put(r, "mem_mb", json_integer((json_int_t)spec->slurm.mem_mb));
        bad |= put(o, "slurm", r);
    }
    if (spec->kind != JOB_KIND_SAMPLE) {
        const kind_def *kd = &kind_table[spec->kind];
        bad |= put(o, "kind", json_string(kd->name));
        if (kd->to_json) bad |= put(o, kd->section, kd->to_json(spec));
    }
    return unless_bad(o, bad);
}

static json_t *error_detail(const char *path, const char *message) {
    json_t *o = json_object();
    int bad = put(o, "path", json_string(path));
    bad |= put(o, "message", json_string(message));
    return unless_bad(o, bad);
}

static json_t *details_to_json(const spec_errors *errs) {
    json_t *a = json_array();
    int bad = 0;
    for (size_t i = 0; i < errs->count; i++)
        bad |= append(a, error_detail(errs->items[i].path, errs->items[i].message));
    if (errs->dropped > 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "%zu more errors not shown", errs->dropped);
        bad |= append(a, error_detail("", msg));
    }
    return unless_bad(a, bad);
}

json_t *spec_errors_to_json(const spec_errors *errs, const char *code, const char *message) {
    json_t *body = json_object(), *env = json_object();
    int bad = put(body, "code", json_string(code));
    bad |= put(body, "message", json_string(message));
    bad |= put(body, "details", details_to_json(errs));
    bad |= put(env, "error", body);
    return unless_bad(env, bad);
}
