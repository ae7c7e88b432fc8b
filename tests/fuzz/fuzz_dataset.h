/* fuzz_dataset.h - what every dataset a parser accepts must hold, for the
 * CSV and JSON harnesses alike: n, d >= 1, finite X and y, and column
 * names (when given) that dataset_set_names accepts. */
#ifndef MCMCD_FUZZ_DATASET_H
#define MCMCD_FUZZ_DATASET_H

#include <math.h>

#include "dataset.h"
#include "errors.h"
#include "fuzz_util.h"

static inline void fuzz_check_dataset(const dataset *ds) {
    FUZZ_CHECK(ds->n >= 1 && ds->d >= 1, "n %zu d %zu", ds->n, ds->d);
    for (size_t i = 0; i < ds->n * ds->d; i++)
        FUZZ_CHECK(isfinite(ds->X[i]), "X[%zu] = %g", i, ds->X[i]);
    for (size_t i = 0; i < ds->n; i++)
        FUZZ_CHECK(isfinite(ds->y[i]), "y[%zu] = %g", i, ds->y[i]);
    if (!ds->names) return;
    dataset *copy = dataset_alloc(1, ds->d);
    FUZZ_CHECK(copy != NULL, "out of memory");
    char err[256];
    int rc = dataset_set_names(copy, (const char *const *)ds->names, err, sizeof err);
    FUZZ_CHECK(rc == MCMC_OK, "names that dataset_set_names refuses: %s", err);
    dataset_free(copy);
}

#endif
