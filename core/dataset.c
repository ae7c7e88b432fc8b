/* dataset.c - datasets in memory: allocation, column names, CSV parsing,
 * the post's synthetic generator. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataset.h"
#include "errors.h"
#include "rng.h"
#include "utf8.h"

static void dataset_drop_names(dataset *ds) {
    for (size_t j = 0; ds->names && j < ds->d; j++)
        free(ds->names[j]);
    free(ds->names);
    ds->names = NULL;
}

static int name_fail(char *err, size_t errlen, size_t j, const char *why) {
    if (errlen) snprintf(err, errlen, "column %zu: the name %s", j + 1, why);
    return MCMC_EINVAL;
}

/* Why names[j] cannot name a column (NULL when it can). */
static const char *name_problem(const char *const *names, size_t j) {
    size_t len = strlen(names[j]);
    if (len == 0) return "is empty";
    if (len >= DATASET_NAME_MAX) return "is too long";
    if (!utf8_valid(names[j])) return "is not valid UTF-8";
    for (const unsigned char *c = (const unsigned char *)names[j]; *c; c++)
        if (*c < 0x20 || *c == 0x7f || *c == '"' || *c == ',')
            return "holds a control character, '\"' or ','";
    for (size_t k = 0; k < j; k++)
        if (strcmp(names[k], names[j]) == 0) return "repeats an earlier column's";
    return NULL;
}

int dataset_set_names(dataset *ds, const char *const *names, char *err, size_t errlen) {
    for (size_t j = 0; j < ds->d; j++) {
        const char *why = name_problem(names, j);
        if (why) return name_fail(err, errlen, j, why);
    }
    char **copy = calloc(ds->d, sizeof *copy);
    for (size_t j = 0; copy && j < ds->d; j++)
        if (!(copy[j] = strdup(names[j]))) {
            for (size_t k = 0; k < j; k++)
                free(copy[k]);
            free(copy);
            copy = NULL;
        }
    if (!copy) return MCMC_ENOMEM;
    dataset_drop_names(ds);
    ds->names = copy;
    return MCMC_OK;
}

dataset *dataset_alloc(size_t n, size_t d) {
    if (n == 0 || d == 0 || n > SIZE_MAX / sizeof(double) / d) return NULL;
    dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->n = n;
    ds->d = d;
    ds->X = malloc(n * d * sizeof *ds->X);
    ds->y = malloc(n * sizeof *ds->y);
    if (!ds->X || !ds->y) {
        dataset_free(ds);
        return NULL;
    }
    return ds;
}

void dataset_free(dataset *ds) {
    if (!ds) return;
    free(ds->X);
    free(ds->y);
    free(ds->theta_true);
    dataset_drop_names(ds);
    free(ds);
}

/* Rows get correlation u^|j-k| through the AR(1) recursion along j. */
static void correlate_rows(double *X, size_t n, size_t d, double u) {
    double c = sqrt(1.0 - u * u);
    for (size_t i = 0; i < n; i++) {
        double *row = X + i * d;
        for (size_t j = 1; j < d; j++)
            row[j] = u * row[j - 1] + c * row[j];
    }
}

int dataset_synthesize(const synth_params *p, dataset **out) {
    *out = NULL;
    if (p->n == 0 || p->d == 0 || !(p->rho >= 0 && p->rho < 1) || !(p->theta_variance > 0))
        return MCMC_EINVAL;
    dataset *ds = dataset_alloc(p->n, p->d);
    if (!ds || !(ds->theta_true = malloc(p->d * sizeof(double)))) {
        dataset_free(ds);
        return MCMC_ENOMEM;
    }
    rng_key key = rng_key_from_seed(p->seed);
    rng_normal_fill(rng_fold_in(key, 1), ds->theta_true, p->d);
    for (size_t j = 0; j < p->d; j++)
        ds->theta_true[j] *= sqrt(p->theta_variance);
    rng_normal_fill(rng_fold_in(key, 3), ds->X, p->n * p->d);
    if (p->rho > 0) {
        double u = rng_uniform_f64(rng_fold_in(key, 2), 0) * 2 * p->rho - p->rho;
        correlate_rows(ds->X, p->n, p->d, u);
    }
    rng_key ky = rng_fold_in(key, 4);
    for (size_t i = 0; i < p->n; i++) {
        const double *row = ds->X + i * p->d;
        double eta = 0;
        for (size_t j = 0; j < p->d; j++)
            eta += row[j] * ds->theta_true[j];
        double prob = 1.0 / (1.0 + exp(-eta));
        ds->y[i] = rng_uniform_f64(ky, i) < prob;
    }
    *out = ds;
    return MCMC_OK;
}

/* --- CSV ------------------------------------------------------------- */

typedef struct csv_cursor {
    const char *p, *end;
    size_t line;
    char *err;
    size_t errlen;
} csv_cursor;

static int csv_fail(csv_cursor *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int k = snprintf(c->err, c->errlen, "line %zu: ", c->line);
    if (k >= 0 && (size_t)k < c->errlen) vsnprintf(c->err + k, c->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    return MCMC_EPARSE;
}

/* The next line as [*ls, *le), without its line terminator; 0 at the end. */
static int csv_next_line(csv_cursor *c, const char **ls, const char **le) {
    while (c->p < c->end) {
        const char *s = c->p, *e = memchr(s, '\n', (size_t)(c->end - s));
        c->p = e ? e + 1 : c->end;
        if (!e) e = c->end;
        c->line++;
        if (e > s && e[-1] == '\r') e--;
        const char *t = s;
        while (t < e && (*t == ' ' || *t == '\t'))
            t++;
        if (t == e) continue; /* blank line */
        *ls = s;
        *le = e;
        return 1;
    }
    return 0;
}

static size_t csv_count_fields(const char *s, const char *e) {
    size_t k = 1;
    for (; s < e; s++)
        k += *s == ',';
    return k;
}

/* Parses up to `want` comma-separated numbers from [s, e) into out. Returns
 * the number of fields found, or -1 (with the column) on a non-number. */
static long csv_parse_numbers(const char *s, const char *e, double *out, size_t want,
                              size_t *bad_col) {
    size_t k = 0;
    while (s <= e) {
        const char *fe = memchr(s, ',', (size_t)(e - s));
        if (!fe) fe = e;
        if (k < want) {
            char buf[64];
            const char *a = s, *b = fe;
            while (a < b && (*a == ' ' || *a == '\t' || *a == '"'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '"'))
                b--;
            size_t len = (size_t)(b - a);
            char *endp;
            if (len == 0 || len >= sizeof buf) goto bad;
            memcpy(buf, a, len);
            buf[len] = 0;
            errno = 0;
            out[k] = strtod(buf, &endp);
            if (*endp || !isfinite(out[k])) goto bad;
        }
        k++;
        s = fe + 1;
        continue;
    bad:
        *bad_col = k + 1;
        return -1;
    }
    return (long)k;
}

/* A first line is a header when its first field is not number-shaped text
 * at all; "inf" or "1e999" are numbers (and rejected later as non-finite). */
static int csv_is_header(const char *s, const char *e) {
    const char *fe = memchr(s, ',', (size_t)(e - s));
    if (!fe) fe = e;
    while (s < fe && (*s == ' ' || *s == '\t' || *s == '"'))
        s++;
    while (fe > s && (fe[-1] == ' ' || fe[-1] == '\t' || fe[-1] == '"'))
        fe--;
    char buf[64], *endp;
    size_t len = (size_t)(fe - s);
    if (len == 0 || len >= sizeof buf) return len != 0;
    memcpy(buf, s, len);
    buf[len] = 0;
    strtod(buf, &endp);
    return endp == buf || *endp != 0;
}

/* Growable storage for rows while their count is unknown. */
typedef struct row_buf {
    double *X, *y;
    size_t n, cap, d;
} row_buf;

static int row_buf_push(row_buf *b, const double *vals) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 1024;
        double *X = realloc(b->X, cap * b->d * sizeof *X);
        if (!X) return MCMC_ENOMEM;
        b->X = X;
        double *y = realloc(b->y, cap * sizeof *y);
        if (!y) return MCMC_ENOMEM;
        b->y = y;
        b->cap = cap;
    }
    memcpy(b->X + b->n * b->d, vals, b->d * sizeof *vals);
    b->y[b->n++] = vals[b->d];
    return MCMC_OK;
}

static int csv_parse_rows(csv_cursor *c, const char *ls, const char *le, row_buf *b, double *vals) {
    size_t fields = b->d + 1;
    do {
        size_t col = 0, got = csv_count_fields(ls, le);
        if (got != fields)
            return csv_fail(c, "expected %zu fields (%zu covariates and y), got %zu", fields, b->d,
                            got);
        if (csv_parse_numbers(ls, le, vals, fields, &col) < 0)
            return csv_fail(c, "column %zu is not a finite number", col);
        if (row_buf_push(b, vals) != MCMC_OK) return MCMC_ENOMEM;
    } while (csv_next_line(c, &ls, &le));
    return MCMC_OK;
}

/* The header's first d fields, unquoted and trimmed, as ds's names. */
static int csv_take_names(csv_cursor *c, const char *s, const char *e, dataset *ds) {
    size_t fields = csv_count_fields(s, e);
    if (fields != ds->d + 1)
        return csv_fail(c, "the header has %zu fields, the rows %zu", fields, ds->d + 1);
    char **names = calloc(ds->d, sizeof *names);
    int rc = names ? MCMC_OK : MCMC_ENOMEM;
    for (size_t j = 0; rc == MCMC_OK && j < ds->d; j++) {
        const char *fe = memchr(s, ',', (size_t)(e - s)), *a = s, *b = fe;
        while (a < b && (*a == ' ' || *a == '\t' || *a == '"'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t' || b[-1] == '"'))
            b--;
        if (!(names[j] = strndup(a, (size_t)(b - a)))) rc = MCMC_ENOMEM;
        s = fe + 1;
    }
    char why[128];
    if (rc == MCMC_OK) rc = dataset_set_names(ds, (const char *const *)names, why, sizeof why);
    for (size_t j = 0; names && j < ds->d; j++)
        free(names[j]);
    free(names);
    if (rc == MCMC_EINVAL) return csv_fail(c, "header: %s", why);
    return rc;
}

int dataset_parse_csv(const char *text, size_t len, dataset **out, char *err, size_t errlen) {
    csv_cursor c = {.p = text, .end = text + len, .err = err, .errlen = errlen};
    const char *ls, *le, *hs = NULL, *he = NULL;
    size_t header_line = 0;
    *out = NULL;
    if (errlen) err[0] = 0;
    if (!csv_next_line(&c, &ls, &le)) return csv_fail(&c, "no data rows");
    if (csv_is_header(ls, le)) {
        hs = ls, he = le, header_line = c.line;
        if (!csv_next_line(&c, &ls, &le)) return csv_fail(&c, "a header but no data rows");
    }
    size_t fields = csv_count_fields(ls, le);
    if (fields < 2) return csv_fail(&c, "need at least one covariate and y, got 1 field");
    row_buf b = {.d = fields - 1};
    double *vals = malloc(fields * sizeof *vals);
    int rc = vals ? csv_parse_rows(&c, ls, le, &b, vals) : MCMC_ENOMEM;
    free(vals);
    dataset *ds = rc == MCMC_OK ? calloc(1, sizeof *ds) : NULL;
    if (!ds) {
        free(b.X);
        free(b.y);
        return rc == MCMC_OK ? MCMC_ENOMEM : rc;
    }
    ds->n = b.n;
    ds->d = b.d;
    ds->X = b.X;
    ds->y = b.y;
    if (hs) {
        c.line = header_line;
        rc = csv_take_names(&c, hs, he, ds);
    }
    if (rc != MCMC_OK) {
        dataset_free(ds);
        return rc;
    }
    *out = ds;
    return MCMC_OK;
}

int dataset_load_csv(const char *path, dataset **out, char *err, size_t errlen) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return MCMC_EIO;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, got;
    int rc = MCMC_OK;
    do {
        if (cap - len < 65536) {
            char *t = realloc(text, cap = cap * 2 + 65536);
            if (!t) {
                rc = MCMC_ENOMEM;
                break;
            }
            text = t;
        }
        got = fread(text + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    if (rc == MCMC_OK && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        rc = MCMC_EIO;
    }
    fclose(f);
    if (rc == MCMC_OK) rc = dataset_parse_csv(text, len, out, err, errlen);
    free(text);
    return rc;
}
