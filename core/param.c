/* param.c - helpers over a table entry's parameter list (param.h). */
#include <math.h>
#include <string.h>

#include "param.h"

int param_index(const param_def *defs, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(defs[i].name, name) == 0) return (int)i;
    return -1;
}

void param_defaults(const param_def *defs, size_t n, double *values) {
    for (size_t i = 0; i < n; i++)
        values[i] = defs[i].flags & (P_REQUIRED | P_OPTIONAL) ? NAN : defs[i].def;
}

const char *param_kind_name(param_kind kind) {
    switch (kind) {
    case P_REAL:
        return "number";
    case P_INT:
        return "integer";
    case P_BOOL:
        return "boolean";
    case P_CHOICE:
        return "string";
    case P_VECTOR:
        return "array";
    case P_MATRIX:
        return "matrix";
    }
    return "unknown";
}
