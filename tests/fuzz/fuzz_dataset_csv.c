/* fuzz_dataset_csv.c - libFuzzer harness of the CSV dataset parser
 * (dataset_parse_csv). A dataset that parses has n, d >= 1, finite X and
 * y, and column names (when a header gave them) that dataset_set_names
 * accepts; one that fails has a message. Either way nothing leaks or
 * reads past the input (it carries no NUL). */
#include <math.h>

#include "dataset.h"
#include "errors.h"
#include "fuzz_util.h"

static void check_dataset(const dataset *ds) {
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
    FUZZ_CHECK(rc == MCMC_OK, "the header's names are not valid names: %s", err);
    dataset_free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_bytes(data, size);
    dataset *ds = NULL;
    char err[256];
    err[0] = '\0';
    if (dataset_parse_csv(text, size, &ds, err, sizeof err) == MCMC_OK) {
        FUZZ_CHECK(ds != NULL, "MCMC_OK without a dataset");
        check_dataset(ds);
        dataset_free(ds);
    } else {
        FUZZ_CHECK(fuzz_message_ok(err, sizeof err) && err[0], "no error message");
    }
    free(text);
    return 0;
}
