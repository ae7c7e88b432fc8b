/* param.h - how a table entry (a sampler, a model) declares its parameters,
 * so that the spec parser, /v1/info, the client and the docs read one list.
 *
 * Scalar values travel as doubles in the order of the entry's list; an
 * array parameter (P_VECTOR, P_MATRIX) travels beside them as a pointer
 * and a length (see model_args in model.h).
 */
#ifndef MCMCD_PARAM_H
#define MCMCD_PARAM_H

#include <stddef.h>

typedef enum param_kind {
    P_REAL = 0, /* a finite number */
    P_INT,      /* an integer (still carried as a double) */
    P_BOOL,     /* true or false: 1 or 0 */
    P_CHOICE,   /* one of choices[]: carried as its index */
    P_VECTOR,   /* a non-empty array of numbers */
    P_MATRIX    /* a square array of arrays of numbers */
} param_kind;

enum param_flags {
    P_MIN_OPEN = 1, /* min < v instead of min <= v */
    P_REQUIRED = 2, /* no default: a spec must give it */
    P_OPTIONAL = 4, /* no default, and may be left out: NAN when absent */
};

typedef struct param_def {
    const char *name;
    param_kind kind;
    double def;      /* default (P_CHOICE: the default's index) */
    double min, max; /* bounds, min <= v <= max (see P_MIN_OPEN) */
    unsigned flags;
    const char *const *choices; /* P_CHOICE: NULL-terminated names */
    const char *help;           /* one line */
} param_def;

/* The index of the named parameter in defs[0..n), or -1. */
int param_index(const param_def *defs, size_t n, const char *name);
/* values[i] = defs[i].def (NAN where P_REQUIRED or P_OPTIONAL). */
void param_defaults(const param_def *defs, size_t n, double *values);
/* The name of kind ("number", "integer", "boolean", "string", "array",
 * "matrix"), as the OpenAPI document and /v1/info write it. */
const char *param_kind_name(param_kind kind);

#endif
